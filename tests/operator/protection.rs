//! Live protection in API mode: the example account of scope All (its service has a
//! notification URL, the service simulator's) gets a Graph subscription per mailbox from the
//! Microsoft 365 simulator, which validates the service's URL and the operator's lifecycle URL,
//! and then notifies the service of each message delivered. Protected-set changes, a restart,
//! lifecycle events, throttling and a revoked consent are followed, and the status says so.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::env::{Env, TIMEOUT, is, reason, until};

const TENANT: &str = "contoso.onmicrosoft.com";
const CREATES: &str = "subscriptions POST /v1.0/subscriptions";
const LIST_PAGES: &str = "subscriptions GET /v1.0/subscriptions";

/// The tenant's subscriptions as the simulator holds them.
async fn subscriptions(env: &Env) -> Vec<Value> {
    let all = env
        .control_with(
            Method::GET,
            &format!("/tenants/{TENANT}/subscriptions"),
            json!({}),
        )
        .await;
    all["value"].as_array().cloned().unwrap_or_default()
}

/// The ids of the users whose inbox has a subscription.
async fn subscribed_users(env: &Env) -> Vec<String> {
    let mut out: Vec<String> = subscriptions(env)
        .await
        .iter()
        .filter(|s| s["folder"] == "inbox")
        .map(|s| s["userId"].as_str().unwrap_or_default().to_string())
        .collect();
    out.sort();
    out
}

/// Adds a user to the tenant; its id.
async fn add_user(env: &Env, upn: &str, mailbox: bool) -> String {
    let path = format!("/tenants/{TENANT}/users");
    let added = env
        .control(
            &path,
            json!({"upn": upn, "displayName": upn, "mailbox": mailbox}),
        )
        .await;
    added["id"].as_str().unwrap().to_string()
}

/// Has the simulator send lifecycle notification `event` for subscription `id`.
async fn lifecycle(env: &Env, id: &str, event: &str) -> Value {
    let path = format!("/tenants/{TENANT}/subscriptions/{id}/lifecycle");
    env.control(&path, json!({"lifecycleEvent": event})).await
}

/// A counter of the Microsoft 365 simulator.
fn counter(env: &Env, key: &str) -> u64 {
    env.m365.counters().get(key).copied().unwrap_or(0)
}

/// The example account of scope All, consented and Ready; its tenant id.
async fn protected(env: &Env) -> String {
    env.apply_example("api-all-users.yaml").await;
    env.consent(TENANT).await;
    let esa = env.wait_ready("contoso").await;
    assert!(is(&esa, "ProtectionActive"), "{:?}", esa.status);
    esa.status
        .as_ref()
        .and_then(|s| s.service_principal.as_ref())
        .and_then(|sp| sp.tenant_id.clone())
        .expect("the tenant id is known")
}

/// Waits until the account's status.protection says `subscribed` of `protected`.
async fn wait_counts(
    env: &Env,
    protected: i64,
    subscribed: i64,
) -> exo_api::ExchangeServiceAccount {
    env.wait_account(
        "contoso",
        &format!("{subscribed} of {protected} subscribed"),
        |e| {
            e.status
                .as_ref()
                .and_then(|s| s.protection.as_ref())
                .is_some_and(|p| p.protected == protected && p.subscribed == subscribed)
        },
    )
    .await
}

#[tokio::test]
async fn every_mailbox_is_subscribed_and_the_service_hears_of_its_mail() {
    let env = Env::start(Env::fast()).await;
    let tenant = protected(&env).await;
    let users = env.sim_tenant(TENANT).await["users"].as_u64().unwrap() as i64;
    let esa = wait_counts(&env, users, users).await;
    let protection = esa.status.as_ref().unwrap().protection.clone().unwrap();
    assert_eq!(protection.failed, 0);
    assert!(protection.next_renewal_time.is_some(), "{protection:?}");
    let subs = subscriptions(&env).await;
    assert_eq!(
        subs.len() as i64,
        users,
        "one subscription per mailbox: {subs:?}"
    );
    assert_eq!(
        counter(&env, CREATES),
        users as u64,
        "creates equal the mailboxes"
    );
    for s in &subs {
        assert_eq!(s["folder"], "inbox");
        assert_eq!(s["changeType"], "created");
        assert!(
            s["notificationUrl"].as_str().unwrap().contains(&format!(
                "exoAccount={}&exoKey=",
                esa.metadata.uid.as_deref().unwrap()
            )),
            "the ownership marker names the account: {s}"
        );
        assert!(
            s["lifecycleNotificationUrl"]
                .as_str()
                .unwrap()
                .contains("/graph/lifecycle/"),
            "{s}"
        );
    }
    // A message arrives: the service hears of it, with a clientState it verified.
    let delivered = env
        .control(
            &format!("/tenants/{TENANT}/users/ada@contoso.com/messages"),
            json!({"subject": "hello"}),
        )
        .await;
    assert_eq!(
        delivered["notifications"][0]["status"], "delivered",
        "{delivered}"
    );
    let heard = env
        .service_read(&format!("/tenants/{tenant}/notifications"))
        .await;
    assert_eq!(heard["accepted"], 1, "{heard}");
    assert_eq!(heard["rejected"], 0, "{heard}");
    assert_eq!(heard["byChangeType"]["created"], 1, "{heard}");
    // Nothing more to do: no request while nothing is due.
    let before = env.m365.counters();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = env.m365.counters();
    let subscription_requests = |c: &std::collections::BTreeMap<String, u64>| -> u64 {
        c.iter()
            .filter(|(k, _)| k.starts_with("subscriptions ") && k.contains("/v1.0/"))
            .map(|(_, v)| v)
            .sum()
    };
    assert_eq!(
        subscription_requests(&before),
        subscription_requests(&after)
    );
    // The same figures as metrics.
    let ns = env.ns();
    let lines = [
        ("exo_protected_mailboxes", users),
        ("exo_subscribed_mailboxes", users),
        ("exo_failed_mailboxes", 0),
    ]
    .map(|(metric, value)| format!("{metric}{{namespace=\"{ns}\",name=\"contoso\"}} {value}"));
    env.wait_metrics(&lines).await;
}

#[tokio::test]
async fn the_subscriptions_follow_the_directory_and_a_restart_recreates_nothing() {
    let mut env = Env::start(Env::fast()).await;
    let leaving = add_user(&env, "leaving@contoso.com", true).await;
    protected(&env).await;
    let users = env.sim_tenant(TENANT).await["users"].as_u64().unwrap() as i64;
    wait_counts(&env, users, users).await;
    assert!(subscribed_users(&env).await.contains(&leaving));
    // A new user with a mailbox, one without, and one who leaves.
    let new = add_user(&env, "new@contoso.com", true).await;
    add_user(&env, "nomail@contoso.com", false).await;
    env.control_delete(
        &format!("/tenants/{TENANT}/users/leaving@contoso.com"),
        json!({}),
    )
    .await;
    let now = jiff::Timestamp::now().to_string();
    env.merge_account(
        "contoso",
        json!({"metadata": {"annotations": {"exo-operator.io/sync-requested-at": now}}}),
    )
    .await;
    let esa = wait_counts(&env, users + 1, users).await;
    let protection = esa.status.as_ref().unwrap().protection.clone().unwrap();
    assert_eq!(protection.failed, 1, "{protection:?}");
    assert_eq!(protection.failures[0].reason, "MailboxNotEnabled");
    assert!(
        is(&esa, "ProtectionActive"),
        "a user without a mailbox does not hold it back"
    );
    let subscribed = subscribed_users(&env).await;
    assert!(subscribed.contains(&new), "{subscribed:?}");
    assert!(!subscribed.contains(&leaving), "{subscribed:?}");
    // A restart lists the subscriptions and creates none of them again; a while later it
    // reads the directory once, which finds the user without a mailbox again (and one more
    // added while the operator was down, so that the status cannot be the one from before).
    let (creates, pages) = (counter(&env, CREATES), counter(&env, LIST_PAGES));
    env.stop_operator().await;
    add_user(&env, "nomail2@contoso.com", false).await;
    env.users_check_after = Some(Duration::from_secs(2));
    env.start_operator().await;
    until(TIMEOUT, Duration::from_millis(100), async || {
        match counter(&env, LIST_PAGES) > pages {
            true => Ok(()),
            false => Err("the restarted operator to list the subscriptions"),
        }
    })
    .await;
    env.wait_ready("contoso").await;
    let esa = env
        .wait_account("contoso", "both users without a mailbox found", |e| {
            let p = e.status.as_ref().and_then(|s| s.protection.as_ref());
            p.is_some_and(|p| p.protected == users + 2 && p.failed == 2)
        })
        .await;
    let protection = esa.status.as_ref().unwrap().protection.clone().unwrap();
    assert_eq!(protection.failures[0].reason, "MailboxNotEnabled");
    assert_eq!(protection.failures[0].count, 2);
    assert_eq!(protection.subscribed, users, "{protection:?}");
    assert_eq!(
        counter(&env, CREATES),
        creates + 2,
        "a restart creates nothing that exists (it tries the two mailboxes without one)"
    );
    assert_eq!(
        counter(&env, LIST_PAGES),
        pages + 1,
        "one page of subscriptions"
    );
    assert_eq!(subscriptions(&env).await.len() as i64, users);
}

#[tokio::test]
async fn a_restart_before_anything_was_subscribed_subscribes_without_waiting_for_a_snapshot() {
    let mut env = Env::start(Env::fast()).await;
    // Graph refuses every subscription: the directory is synchronised, nothing is subscribed.
    env.fault(json!({"path": "^POST /v1.0/subscriptions$", "status": 503}))
        .await;
    env.apply_example("api-all-users.yaml").await;
    env.consent(TENANT).await;
    env.wait_account("contoso", "DirectorySynced and a create tried", |e| {
        is(e, "DirectorySynced") && counter(&env, "POST /v1.0/subscriptions") > 0
    })
    .await;
    env.stop_operator().await;
    env.control_delete("/faults", json!({})).await;
    let users = env.sim_tenant(TENANT).await["users"].as_u64().unwrap() as i64;
    // Restarted: no snapshot is due and nothing is subscribed, so no one says who is
    // protected; the task reads the users itself at once (within TIMEOUT, well under the
    // minute it gives a snapshot that is coming).
    let snapshots = counter(&env, "GET /v1.0/users/delta");
    env.start_operator().await;
    let esa = wait_counts(&env, users, users).await;
    assert!(is(&esa, "ProtectionActive"), "{:?}", esa.status);
    assert_eq!(
        counter(&env, "GET /v1.0/users/delta"),
        snapshots,
        "no directory round was due"
    );
    assert_eq!(subscriptions(&env).await.len() as i64, users);
}

#[tokio::test]
async fn a_selection_restarted_before_anything_was_subscribed_subscribes_only_the_selected() {
    let mut env = Env::start(Env::fast()).await;
    env.fault(json!({"path": "^POST /v1.0/subscriptions$", "status": 503}))
        .await;
    env.apply_example("api-selected-users.yaml").await;
    let esa = env
        .wait_reason("fabrikam", "Authorized", "AwaitingSignIn")
        .await;
    env.approve(&crate::env::user_code(&esa)).await;
    env.wait_account("fabrikam", "DirectorySynced and a create tried", |e| {
        is(e, "DirectorySynced") && counter(&env, "POST /v1.0/subscriptions") > 0
    })
    .await;
    env.stop_operator().await;
    env.control_delete("/faults", json!({})).await;
    // Restarted with the list's resolution not due: the reconcile resolves it once for the
    // task, which never takes the whole directory for the selection.
    env.start_operator().await;
    let esa = env
        .wait_account("fabrikam", "every selected mailbox subscribed", |e| {
            e.status
                .as_ref()
                .and_then(|s| s.protection.as_ref())
                .is_some_and(|p| p.protected > 0 && p.subscribed == p.protected)
        })
        .await;
    let status = esa.status.unwrap();
    let (protection, sync) = (status.protection.unwrap(), status.sync.unwrap());
    assert_eq!(protection.protected, sync.users, "{protection:?}");
    let tenant = "fabrikam.onmicrosoft.com";
    let subscribed = env
        .control_with(
            Method::GET,
            &format!("/tenants/{tenant}/subscriptions"),
            json!({}),
        )
        .await["value"]
        .as_array()
        .map(Vec::len)
        .unwrap_or_default();
    let users = env.sim_tenant(tenant).await["users"].as_u64().unwrap();
    assert_eq!(subscribed as i64, sync.users);
    assert!(subscribed < users as usize, "{subscribed} of {users}");
}

#[tokio::test]
async fn lifecycle_events_are_followed_and_the_service_catches_up() {
    let env = Env::start(Env::fast()).await;
    let tenant = protected(&env).await;
    let users = env.sim_tenant(TENANT).await["users"].as_u64().unwrap() as i64;
    wait_counts(&env, users, users).await;
    let subs = subscriptions(&env).await;
    let (first, second) = (&subs[0], &subs[1]);
    // Removed: created again, and the service catches up on the mailbox.
    let removed_id = first["id"].as_str().unwrap().to_string();
    let removed_user = first["userId"].as_str().unwrap().to_string();
    let sent = lifecycle(&env, &removed_id, "subscriptionRemoved").await;
    assert_eq!(sent["delivered"], true, "{sent}");
    until(TIMEOUT, Duration::from_millis(100), async || {
        let subs = subscriptions(&env).await;
        let again = subs
            .iter()
            .any(|s| s["userId"] == removed_user.as_str() && s["id"] != removed_id.as_str());
        match again {
            true => Ok(()),
            false => Err("the removed subscription to be created again"),
        }
    })
    .await;
    // Missed: the service catches up on that mailbox too.
    let missed_user = second["userId"].as_str().unwrap().to_string();
    lifecycle(&env, second["id"].as_str().unwrap(), "missed").await;
    until(TIMEOUT, Duration::from_millis(200), async || {
        let c = env
            .service_read(&format!("/tenants/{tenant}/catch-ups"))
            .await;
        let users = &c["users"];
        match (
            users[removed_user.as_str()]["reason"].as_str(),
            users[missed_user.as_str()]["reason"].as_str(),
        ) {
            (Some("SubscriptionRemoved"), Some("Missed")) => Ok(()),
            _ => Err(format!("the service to be told to catch up: {c}")),
        }
    })
    .await;
    // Reauthorization required: reauthorized, active again.
    let third = subscriptions(&env).await[2].clone();
    let reauthorizations = counter(
        &env,
        "subscriptions POST /v1.0/subscriptions/{id}/reauthorize",
    );
    lifecycle(
        &env,
        third["id"].as_str().unwrap(),
        "reauthorizationRequired",
    )
    .await;
    until(TIMEOUT, Duration::from_millis(100), async || {
        let subs = subscriptions(&env).await;
        let state = subs
            .iter()
            .find(|s| s["id"] == third["id"])
            .map(|s| s["state"].clone());
        let done = counter(
            &env,
            "subscriptions POST /v1.0/subscriptions/{id}/reauthorize",
        ) > reauthorizations;
        match (state.as_ref().and_then(Value::as_str), done) {
            (Some("active"), true) => Ok(()),
            _ => Err(format!("the subscription to be reauthorized: {state:?}")),
        }
    })
    .await;
    // A lifecycle notification with another clientState is ignored.
    let forged = env
        .http_post_json(
            &format!("{}/graph/lifecycle/{}", env.operator_url(), "whoever"),
            json!({"value": [{"subscriptionId": removed_id, "tenantId": tenant,
                "clientState": "forged", "lifecycleEvent": "subscriptionRemoved"}]}),
        )
        .await;
    assert_eq!(forged, 202);
    assert_eq!(subscriptions(&env).await.len() as i64, users);
}

#[tokio::test]
async fn throttling_spreads_the_creations_and_nothing_is_created_twice() {
    let env = Env::start(Env::fast()).await;
    env.control_with(
        Method::PUT,
        "/subscriptions/settings",
        json!({"writesPer20s": 2}),
    )
    .await;
    // Ten more mailboxes than Graph lets through in one window.
    for i in 0..6 {
        add_user(&env, &format!("u{i}@contoso.com"), true).await;
    }
    env.apply_example("api-all-users.yaml").await;
    env.consent(TENANT).await;
    let users = env.sim_tenant(TENANT).await["users"].as_u64().unwrap() as i64;
    env.wait_reason("contoso", "ProtectionActive", "Throttled")
        .await;
    // Relief: the rest is created after Retry-After, each mailbox once.
    env.control_with(
        Method::PUT,
        "/subscriptions/settings",
        json!({"writesPer20s": 1000}),
    )
    .await;
    let esa = tokio::time::timeout(Duration::from_secs(60), wait_counts(&env, users, users))
        .await
        .expect("subscribed once Graph lets the writes through");
    assert!(is(&esa, "ProtectionActive"));
    assert_eq!(
        counter(&env, CREATES) - counter(&env, "subscriptions throttled"),
        users as u64
    );
    // At most the requests in flight when the first 429 came, once per window.
    let throttled = counter(&env, "subscriptions throttled");
    assert!(throttled <= 16, "throttled requests are few: {throttled}");
}

#[tokio::test]
async fn a_revoked_consent_fails_the_subscriptions_until_it_is_granted_again() {
    let env = Env::start(Env::fast()).await;
    protected(&env).await;
    let users = env.sim_tenant(TENANT).await["users"].as_u64().unwrap() as i64;
    wait_counts(&env, users, users).await;
    let client = json!({"clientId": exo_sim_m365::tenants::DEMO_CLIENT_ID});
    env.control_delete(&format!("/tenants/{TENANT}/consent"), client)
        .await;
    let esa = env
        .wait_account("contoso", "ProtectionActive False", |e| {
            crate::env::condition(e, "ProtectionActive").is_some_and(|(s, _)| s == "False")
        })
        .await;
    assert!(!is(&esa, "Ready"), "{:?}", esa.status);
    env.consent(TENANT).await;
    let esa = env
        .wait_account("contoso", "ProtectionActive Subscribed", |e| {
            reason(e, "ProtectionActive", "Subscribed") && is(e, "ProtectionActive")
        })
        .await;
    assert!(is(&esa, "ProtectionActive"));
    env.wait_ready("contoso").await;
    let active = subscriptions(&env)
        .await
        .iter()
        .all(|s| s["state"] == "active");
    assert!(active, "every subscription was reauthorized");
}

#[tokio::test]
async fn subscriptions_are_renewed_before_they_expire_and_outbound_watches_the_sent_items() {
    let mut env = Env::start(Env::fast()).await;
    // Fifty minutes asked for (Graph's minimum is 45), renewed once less than 49 min 55 s
    // remain: the first renewal falls due five seconds after each creation.
    env.subscription_lifetime = Some(exo_operator::protection::plan::Lifetime {
        requested: 50 * 60,
        margin: 49 * 60 + 55,
        spread: 0,
    });
    env.stop_operator().await;
    env.start_operator().await;
    protected(&env).await;
    let users = env.sim_tenant(TENANT).await["users"].as_u64().unwrap() as i64;
    wait_counts(&env, users, users).await;
    let first: Vec<(String, String)> = subscriptions(&env)
        .await
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_string(),
                s["expirationDateTime"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let renewals = "subscriptions PATCH /v1.0/subscriptions/{id}";
    until(TIMEOUT, Duration::from_millis(200), async || {
        match counter(&env, renewals) >= users as u64 {
            true => Ok(()),
            false => Err(format!(
                "each subscription renewed: {}",
                counter(&env, renewals)
            )),
        }
    })
    .await;
    let later = subscriptions(&env).await;
    for (id, expiry) in &first {
        let now = later
            .iter()
            .find(|s| s["id"] == id.as_str())
            .expect("the same subscription, renewed");
        assert!(
            now["expirationDateTime"].as_str().unwrap() > expiry.as_str(),
            "{now}"
        );
    }
    assert_eq!(
        counter(&env, CREATES),
        users as u64,
        "renewed, not created again"
    );
    // Outbound too: each mailbox's sent items get a subscription of their own.
    env.merge_account(
        "contoso",
        json!({"spec": {"api": {"direction": "InboundOutbound"}}}),
    )
    .await;
    until(TIMEOUT, Duration::from_millis(200), async || {
        let sent = subscriptions(&env)
            .await
            .iter()
            .filter(|s| s["folder"] == "sentitems")
            .count() as i64;
        match sent == users {
            true => Ok(()),
            false => Err(format!("every mailbox's sent items subscribed: {sent}")),
        }
    })
    .await;
    let sent = env
        .control(
            &format!("/tenants/{TENANT}/users/grace@contoso.com/messages"),
            json!({"folder": "sentitems", "subject": "outbound"}),
        )
        .await;
    assert_eq!(sent["notifications"][0]["status"], "delivered", "{sent}");
}

#[tokio::test]
async fn a_rotated_ingestion_credential_replaces_the_subscriptions_client_state() {
    let env = Env::start(Env::fast()).await;
    protected(&env).await;
    let users = env.sim_tenant(TENANT).await["users"].as_u64().unwrap() as i64;
    wait_counts(&env, users, users).await;
    let states = |subs: &[Value]| -> Vec<String> {
        let mut v: Vec<String> = subs
            .iter()
            .map(|s| s["clientState"].as_str().unwrap_or_default().to_string())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let before = subscriptions(&env).await;
    assert_eq!(states(&before).len(), 1, "one clientState per tenant");
    // The service's shared secret is rotated: each subscription is made again with the new
    // clientState (Graph never returns it, nor lets it change), the old ones deleted.
    super::set_secret(
        &env,
        "email-security-ingestion",
        json!({"signing-secret": "whsec_cm90YXRlZC1zaGFyZWQtc2lnbmluZy1zZWNyZXQ="}),
    )
    .await;
    until(TIMEOUT, Duration::from_millis(200), async || {
        let now = subscriptions(&env).await;
        let renewed = states(&now);
        let ids_changed = now
            .iter()
            .all(|s| !before.iter().any(|b| b["id"] == s["id"]));
        match (
            now.len() as i64 == users,
            renewed.len() == 1,
            renewed != states(&before),
            ids_changed,
        ) {
            (true, true, true, true) => Ok(()),
            _ => Err(format!(
                "every subscription replaced with the new clientState: {renewed:?}"
            )),
        }
    })
    .await;
}

#[tokio::test]
async fn mailboxes_at_their_subscription_limit_are_reported_by_reason() {
    let env = Env::start(Env::fast()).await;
    // Other applications hold every subscription these mailboxes may have.
    env.control_with(
        Method::PUT,
        "/subscriptions/settings",
        json!({"perMailboxLimit": 0}),
    )
    .await;
    env.apply_example("api-all-users.yaml").await;
    env.consent(TENANT).await;
    let users = env.sim_tenant(TENANT).await["users"].as_u64().unwrap() as i64;
    let esa = env
        .wait_reason("contoso", "ProtectionActive", "SubscriptionsFailed")
        .await;
    assert!(!is(&esa, "Ready"), "{:?}", esa.status);
    let protection = esa.status.as_ref().unwrap().protection.clone().unwrap();
    assert_eq!((protection.protected, protection.subscribed), (users, 0));
    assert_eq!(protection.failures.len(), 1, "{protection:?}");
    assert_eq!(protection.failures[0].reason, "MailboxSubscriptionLimit");
    assert_eq!(protection.failures[0].count, users);
    assert!(!protection.failures[0].examples.is_empty());
    // Each mailbox was tried once: it is not retried before its time.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(counter(&env, CREATES), users as u64);
}

#[tokio::test]
async fn a_service_that_stops_receiving_notifications_has_its_subscriptions_deleted() {
    let env = Env::start(Env::fast()).await;
    protected(&env).await;
    let users = env.sim_tenant(TENANT).await["users"].as_u64().unwrap() as i64;
    wait_counts(&env, users, users).await;
    let services: kube::Api<exo_api::email_security_service::EmailSecurityService> =
        kube::Api::default_namespaced(env.client.clone());
    services
        .patch(
            "email-security",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"spec": {"notificationUrl": null}})),
        )
        .await
        .unwrap();
    let esa = env
        .wait_account("contoso", "no ProtectionActive condition", |e| {
            crate::env::condition(e, "ProtectionActive").is_none()
                && e.status.as_ref().is_some_and(|s| s.protection.is_none())
        })
        .await;
    assert!(is(&esa, "Ready"), "{:?}", esa.status);
    until(TIMEOUT, Duration::from_millis(200), async || {
        let left = subscriptions(&env).await.len();
        match left {
            0 => Ok(()),
            n => Err(format!("the account's subscriptions deleted: {n} left")),
        }
    })
    .await;
}
