//! The real controller against the Kubernetes API emulator and the Microsoft 365 simulator,
//! over loopback: API-mode grants end to end.

#[path = "support/env.rs"]
mod env;
#[path = "support/smtp.rs"]
mod smtp;

use std::time::Duration;

use env::{Env, is, reason};
use exo_operator::controller::service_account::decide::READY_MESSAGE;
use exo_sim_m365::SimOptions;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_consent_then_directory_sync_then_nothing_to_write() {
    let env = Env::start(Env::fast()).await;
    env.apply_example("api-all-users.yaml").await;

    // Before consent: the consent URL and what is missing, Stalled for GitOps.
    let esa = env
        .wait_account("contoso", "the consent prompt", |e| {
            reason(e, "Authorized", "ConsentRequired")
        })
        .await;
    assert!(is(&esa, "Stalled"));
    let consent = esa.status.as_ref().unwrap().consent.clone().unwrap();
    let url = consent.admin_consent_url.unwrap();
    assert!(
        url.starts_with(&env.m365.url())
            && url.contains("/adminconsent?client_id=3f1c2a4e-8b7d-4c6e-9a2b-1d0e5f6a7b8c"),
        "{url}"
    );
    assert!(
        consent
            .missing_permissions
            .contains(&"Mail.ReadWrite".to_string())
    );

    // A Global Administrator consents.
    assert_eq!(env.open(&url).await, 200);
    let esa = env
        .wait_account("contoso", "Ready", |e| is(e, "Ready"))
        .await;
    let status = esa.status.clone().unwrap();
    assert_eq!(status.message.as_deref(), Some(READY_MESSAGE));
    assert!(is(&esa, "TokenValid") && is(&esa, "Authorized") && is(&esa, "DirectorySynced"));
    assert!(is(&esa, "PolicyEnabled") && is(&esa, "ActivityDataAuthorized"));
    assert!(!is(&esa, "Stalled") && !is(&esa, "Reconciling"));
    let sync = status.sync.unwrap();
    assert_eq!((sync.users, sync.groups, sync.domains), (4, 2, 2));
    assert!(status.token.unwrap().expires_at.is_some());
    let sp = status.service_principal.unwrap();
    assert_eq!(
        sp.tenant_id.as_deref(),
        Some("5b1c6e8a-2f4d-4a7b-9c3e-1d2f3a4b5c6d")
    );
    assert!(sp.object_id.is_some());
    assert!(status.consent.is_none());
    assert_eq!(
        esa.status.as_ref().unwrap().observed_generation,
        esa.metadata.generation
    );

    // Delta links are kept for the next, incremental round.
    let maps: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::default_namespaced(env.client.clone());
    let state = maps.get("contoso-sync-state").await.unwrap();
    assert!(
        state
            .data
            .unwrap()
            .get("users-delta-link")
            .is_some_and(|l| l.contains("deltatoken"))
    );

    // Activity subscriptions were started.
    let subscribed = env
        .m365
        .with_world(|w| w.tenant("contoso.com").unwrap().subscriptions.clone());
    assert!(
        subscribed.get("Audit.Exchange") == Some(&true),
        "{subscribed:?}"
    );

    // Steady state: nothing changes, nothing is written, Microsoft is not called. The Events
    // of the last transition follow the status write: let them land first.
    env.settle().await;
    let writes = env.writes();
    let calls = env.m365.counters().values().sum::<u64>();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        env.writes(),
        writes,
        "a reconcile that changes nothing writes nothing: {:?}",
        &env.audit()[writes..]
    );
    assert_eq!(env.m365.counters().values().sum::<u64>(), calls);
}

/// Replaces a Secret's data.
async fn set_secret(env: &Env, name: &str, data: serde_json::Value) {
    let secrets: Api<Secret> = Api::default_namespaced(env.client.clone());
    secrets
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"data": null, "stringData": data})),
        )
        .await
        .unwrap();
}

async fn count_events(env: &Env, name: &str, reason: &str) -> usize {
    let events: Api<k8s_openapi::api::core::v1::Event> =
        Api::default_namespaced(env.client.clone());
    events
        .list(&ListParams::default().fields(&format!("involvedObject.name={name}")))
        .await
        .unwrap()
        .items
        .iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .count()
}

/// The number of Events `reason` of `name` once at least `expected` have arrived (an Event
/// follows the status write that a test waits for, later on a busy real server), or after the
/// deadline.
async fn events_once_arrived(env: &Env, name: &str, reason: &str, expected: usize) -> usize {
    let deadline = tokio::time::Instant::now() + env::TIMEOUT;
    loop {
        let count = count_events(env, name, reason).await;
        if count >= expected || tokio::time::Instant::now() > deadline {
            return count;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_code_selected_users_then_revoked_grant_notifies_once_and_recovers() {
    let smtp = smtp::SmtpServer::start();
    let env = Env::start(SimOptions {
        token_lifetime: Duration::from_secs(4),
        ..Env::fast()
    })
    .await;
    env.apply_example("api-selected-users.yaml").await;
    set_secret(&env, "fabrikam-smtp-relay", json!({"host": "127.0.0.1", "port": smtp.port.to_string(), "from": "exo-operator@example.com", "tls": "none"})).await;

    // The device-code prompt is in status and in an Event.
    let esa = env
        .wait_account("fabrikam", "a device code", |e| {
            reason(e, "Authorized", "AwaitingSignIn")
        })
        .await;
    let consent = esa.status.unwrap().consent.unwrap();
    let code = consent.user_code.unwrap();
    assert!(consent.verification_uri.unwrap().ends_with("/devicelogin"));
    assert!(consent.expires_at.is_some());
    assert_eq!(
        events_once_arrived(&env, "fabrikam", "DeviceCodeIssued", 1).await,
        1
    );

    // The administrator signs in; the refresh token is kept in an owned Secret.
    env.control(&format!("/devicecodes/{code}/approve"), json!({}))
        .await;
    let esa = env
        .wait_account("fabrikam", "Ready", |e| is(e, "Ready"))
        .await;
    let sync = esa.status.as_ref().unwrap().sync.clone().unwrap();
    assert_eq!((sync.users, sync.groups), (4, 2));
    let secrets: Api<Secret> = Api::default_namespaced(env.client.clone());
    let grant = secrets.get("fabrikam-device-grant").await.unwrap();
    assert!(grant.data.unwrap().contains_key("refresh-token"));
    assert_eq!(grant.metadata.owner_references.unwrap()[0].name, "fabrikam");
    let stl = env
        .wait_list("fabrikam-vip", "Ready", |l| {
            l.status.as_ref().is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
            })
        })
        .await;
    let status = stl.status.unwrap();
    let mut upns: Vec<String> = status
        .resolved_users
        .iter()
        .map(|u| u.user_principal_name.clone())
        .collect();
    upns.sort();
    assert_eq!(
        upns,
        [
            "analyst@fabrikam.com",
            "ceo@fabrikam.com",
            "cfo@fabrikam.com",
            "controller@fabrikam.com"
        ]
    );
    assert_eq!(status.user_count, 4);
    let cfo = status
        .resolved_users
        .iter()
        .find(|u| u.user_principal_name == "cfo@fabrikam.com")
        .unwrap();
    assert_eq!(cfo.via, ["cfo@fabrikam.com", "group:Finance"]);

    // The grant is revoked: TokenValid turns False once, one e-mail, and a new sign-in opens.
    env.control("/tenants/fabrikam.com/refresh-tokens/revoke", json!({}))
        .await;
    let esa = env
        .wait_account("fabrikam", "the revoked grant", |e| {
            reason(e, "TokenValid", "RefreshTokenRevoked")
        })
        .await;
    assert!(!is(&esa, "Ready") && is(&esa, "Stalled"));
    let esa = env
        .wait_account("fabrikam", "a new device code", |e| {
            e.status
                .as_ref()
                .and_then(|s| s.consent.as_ref())
                .and_then(|c| c.user_code.clone())
                .is_some_and(|c| c != code)
        })
        .await;
    let messages = smtp.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(messages.len(), 1, "one e-mail per transition");
    assert!(
        messages[0].contains("it-admins@fabrikam.com")
            && messages[0].contains("RefreshTokenRevoked")
    );
    assert_eq!(
        events_once_arrived(&env, "fabrikam", "TokenInvalid", 1).await,
        1
    );

    // Re-granted without recreating the account: Ready again, and the recovery is announced.
    let new_code = esa.status.unwrap().consent.unwrap().user_code.unwrap();
    env.control(&format!("/devicecodes/{new_code}/approve"), json!({}))
        .await;
    env.wait_account("fabrikam", "Ready again", |e| {
        is(e, "Ready") && is(e, "TokenValid")
    })
    .await;
    let messages = smtp.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(messages.len(), 2);
    assert!(messages.iter().any(|m| m.contains("is valid again")));
    assert_eq!(
        events_once_arrived(&env, "fabrikam", "TokenRecovered", 1).await,
        1
    );
    assert_eq!(
        events_once_arrived(&env, "fabrikam", "TokenInvalid", 1).await,
        1
    );
}

/// A webhook receiver: every JSON body posted to it.
async fn webhook() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
) {
    let seen: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>> = Default::default();
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(v): axum::Json<serde_json::Value>| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push(v);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

async fn consent_all(env: &Env, tenant: &str) {
    env.control(
        &format!("/tenants/{tenant}/consent"),
        json!({"clientId": "3f1c2a4e-8b7d-4c6e-9a2b-1d0e5f6a7b8c"}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_consent_shows_the_url_again_and_a_webhook_fires_once_per_transition() {
    let (hook, received) = webhook().await;
    let env = Env::start(SimOptions {
        token_lifetime: Duration::from_secs(3),
        ..Env::fast()
    })
    .await;
    consent_all(&env, "contoso.com").await;
    env.apply_example("api-all-users.yaml").await;
    set_secret(
        &env,
        "contoso-alert-webhook",
        json!({"url": format!("{hook}?token=hook-secret")}),
    )
    .await;
    env.wait_account("contoso", "Ready", |e| is(e, "Ready"))
        .await;

    env.control_delete(
        "/tenants/contoso.com/consent",
        json!({"clientId": "3f1c2a4e-8b7d-4c6e-9a2b-1d0e5f6a7b8c"}),
    )
    .await;
    let esa = env
        .wait_account("contoso", "consent required again", |e| {
            reason(e, "TokenValid", "ConsentRequired")
        })
        .await;
    assert!(
        esa.status
            .as_ref()
            .unwrap()
            .consent
            .as_ref()
            .unwrap()
            .admin_consent_url
            .is_some()
    );
    assert!(is(&esa, "Stalled"));
    tokio::time::sleep(Duration::from_secs(1)).await;
    {
        let got = received.lock().unwrap();
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0]["kind"], "TokenInvalid");
        assert_eq!(got[0]["reason"], "ConsentRequired");
        assert_eq!(got[0]["account"], format!("{}/contoso", env.ns()));
        assert!(!got[0].to_string().contains("hook-secret"));
    }
    let url = esa
        .status
        .unwrap()
        .consent
        .unwrap()
        .admin_consent_url
        .unwrap();
    env.open(&url).await;
    env.wait_account("contoso", "Ready again", |e| is(e, "Ready"))
        .await;
    // The notification is sent once the status is written: allow it a moment to arrive.
    for _ in 0..50 {
        if received.lock().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let got = received.lock().unwrap();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[1]["kind"], "TokenRecovered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_client_secret_is_reported_and_a_rotated_secret_is_picked_up_at_once() {
    let env = Env::start(SimOptions {
        token_lifetime: Duration::from_secs(3),
        ..Env::fast()
    })
    .await;
    consent_all(&env, "contoso.com").await;
    env.apply_example("api-all-users.yaml").await;
    env.wait_account("contoso", "Ready", |e| is(e, "Ready"))
        .await;
    env.control(
        "/apps/3f1c2a4e-8b7d-4c6e-9a2b-1d0e5f6a7b8c/secrets/expire",
        json!({}),
    )
    .await;
    let esa = env
        .wait_account("contoso", "CredentialExpired", |e| {
            reason(e, "TokenValid", "CredentialExpired")
        })
        .await;
    let (_, message) = env::condition(&esa, "Ready").unwrap();
    assert_eq!(message, "CredentialExpired");
    let rotated = env
        .control(
            "/apps/3f1c2a4e-8b7d-4c6e-9a2b-1d0e5f6a7b8c/secrets/rotate",
            json!({}),
        )
        .await;
    let value = rotated["value"].as_str().unwrap().to_string();
    set_secret(
        &env,
        "contoso-app-credentials",
        json!({"client-secret": value}),
    )
    .await;
    env.wait_account("contoso", "Ready after rotation", |e| is(e, "Ready"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_missing_one_permission_is_named() {
    let env = Env::start(Env::fast()).await;
    env.control(
        "/tenants/contoso.com/consent",
        json!({"clientId": "3f1c2a4e-8b7d-4c6e-9a2b-1d0e5f6a7b8c", "permissions": ["User.Read.All", "Group.Read.All", "Domain.Read.All", "Application.Read.All", "ActivityFeed.Read"]}),
    )
    .await;
    env.apply_example("api-all-users.yaml").await;
    let esa = env
        .wait_account("contoso", "the missing permission", |e| {
            reason(e, "Authorized", "ConsentRequired")
        })
        .await;
    let consent = esa.status.as_ref().unwrap().consent.clone().unwrap();
    assert_eq!(consent.missing_permissions, ["Mail.ReadWrite"]);
    assert!(is(&esa, "TokenValid"), "the token itself is fine");
    env.open(&consent.admin_consent_url.unwrap()).await;
    env.wait_account("contoso", "Ready", |e| is(e, "Ready"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_5xx_bursts_are_retried() {
    let env = Env::start(Env::fast()).await;
    consent_all(&env, "contoso.com").await;
    env.control(
        "/faults",
        json!({"path": "GET /v1.0/users/delta", "status": 429, "retryAfter": 1, "count": 1}),
    )
    .await;
    env.control(
        "/faults",
        json!({"path": "GET /v1.0/domains", "status": 503, "count": 2}),
    )
    .await;
    env.control(
        "/faults",
        json!({"path": "/oauth2/v2.0/token", "status": 503, "count": 1}),
    )
    .await;
    let started = std::time::Instant::now();
    env.apply_example("api-all-users.yaml").await;
    env.wait_account("contoso", "Ready", |e| is(e, "Ready"))
        .await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
    assert_eq!(
        env.m365.count("GET /v1.0/users/delta"),
        2,
        "one throttled, one served"
    );
    assert!(env.m365.count("GET /v1.0/domains") >= 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selected_to_all_and_back_without_a_new_grant() {
    let env = Env::start(Env::fast()).await;
    consent_all(&env, "contoso.com").await;
    env.apply_example("api-all-users.yaml").await;
    env.wait_account("contoso", "Ready", |e| {
        is(e, "Ready") && e.status.as_ref().unwrap().sync.as_ref().unwrap().users == 4
    })
    .await;
    env.create(json!({"apiVersion": "exo-operator.io/v1alpha1", "kind": "SyncTargetList", "metadata": {"name": "contoso-few"}, "spec": {"serviceAccountRef": {"name": "contoso"}, "users": ["ada@contoso.com", "nobody@contoso.com"], "groups": [{"namePrefix": "Research"}]}})).await;
    let calls = env.m365.count("/oauth2/v2.0/token");
    // Research → alan and, nested (a cycle), Engineering → ada and grace; ada is also listed.
    env.merge_account(
        "contoso",
        json!({"spec": {"sync": {"scope": "Selected", "targetListRef": {"name": "contoso-few"}}}}),
    )
    .await;
    let esa = env
        .wait_account("contoso", "Selected", |e| {
            e.status
                .as_ref()
                .and_then(|s| s.sync.as_ref())
                .is_some_and(|s| s.users == 3)
                && is(e, "Ready")
                && e.status.as_ref().unwrap().observed_generation == Some(2)
        })
        .await;
    assert_eq!(esa.status.unwrap().sync.unwrap().groups, 1);
    let stl = env
        .wait_list("contoso-few", "resolved", |l| {
            l.status.as_ref().is_some_and(|s| !s.unresolved.is_empty())
        })
        .await;
    let st = stl.status.unwrap();
    assert_eq!(st.unresolved[0].entry, "nobody@contoso.com");
    assert_eq!(st.unresolved[0].reason, "UserNotFound");
    assert!(
        st.conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.reason == "EntriesUnresolved")
    );
    env.merge_account(
        "contoso",
        json!({"spec": {"sync": {"scope": "All", "targetListRef": null}}}),
    )
    .await;
    env.wait_account("contoso", "All again", |e| {
        e.status.as_ref().unwrap().observed_generation == Some(3)
            && e.status
                .as_ref()
                .and_then(|s| s.sync.as_ref())
                .is_some_and(|s| s.users == 4)
            && is(e, "Ready")
    })
    .await;
    assert!(
        env.m365.count("/oauth2/v2.0/token") <= calls + 1,
        "no new grant was needed"
    );
}

/// The reason of a list's `Ready` condition.
fn list_ready_reason(stl: &exo_api::sync_target_list::SyncTargetList) -> String {
    stl.status
        .iter()
        .flat_map(|s| &s.conditions)
        .find(|c| c.type_ == "Ready")
        .map(|c| format!("{}:{}", c.status, c.reason))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_applied_before_its_account_waits_a_grace_then_follows_the_account() {
    let env = Env::start(Env::fast()).await;
    consent_all(&env, "contoso.com").await;
    env.create(json!({"apiVersion": "exo-operator.io/v1alpha1", "kind": "SyncTargetList", "metadata": {"name": "early"}, "spec": {"serviceAccountRef": {"name": "contoso"}, "users": ["ada@contoso.com"]}})).await;

    // Within the grace (5 s) nothing is written: the account usually follows at once.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(env.lists().get("early").await.unwrap().status.is_none());
    let stl = env
        .wait_list("early", "the missing account", |l| {
            list_ready_reason(l) == "False:ServiceAccountNotFound"
        })
        .await;
    let ready = stl.status.unwrap().conditions;
    assert!(
        ready
            .iter()
            .any(|c| c.type_ == "Stalled" && c.status == "True")
    );

    // The account appears, selecting everyone: the list says it is not selected.
    env.apply_example("api-all-users.yaml").await;
    env.wait_list("early", "not selected", |l| {
        list_ready_reason(l) == "False:NotSelected"
    })
    .await;

    // The account selects it: resolved and Ready.
    env.merge_account(
        "contoso",
        json!({"spec": {"sync": {"scope": "Selected", "targetListRef": {"name": "early"}}}}),
    )
    .await;
    let stl = env
        .wait_list("early", "resolved", |l| {
            list_ready_reason(l) == "True:Resolved"
        })
        .await;
    assert_eq!(stl.status.unwrap().user_count, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_resolved_while_grants_are_confirmed_is_written_only_once_they_hold() {
    let env = Env::start(Env::fast()).await;
    consent_all(&env, "contoso.com").await;
    // The token carries every role, but the tenant refuses to show the app's assignments.
    env.control(
        "/faults",
        json!({"path": "/appRoleAssignments", "status": 403}),
    )
    .await;
    env.create(json!({"apiVersion": "exo-operator.io/v1alpha1", "kind": "SyncTargetList", "metadata": {"name": "few"}, "spec": {"serviceAccountRef": {"name": "contoso"}, "users": ["ada@contoso.com"]}})).await;
    env.apply_example("api-all-users.yaml").await;
    env.merge_account(
        "contoso",
        json!({"spec": {"sync": {"scope": "Selected", "targetListRef": {"name": "few"}}}}),
    )
    .await;
    // Refused for the Selected spec (a first reconcile may have refused the All spec already).
    env.wait_account("contoso", "the grant refused", |e| {
        reason(e, "Authorized", "ConsentRequired")
            && e.status.as_ref().and_then(|s| s.observed_generation) == e.metadata.generation
    })
    .await;
    // The list was looked up in the tenant at the same time, but nothing it found was kept.
    assert!(env.m365.count("GET /v1.0/users/ada@contoso.com") >= 1);
    let stl = env
        .wait_list("few", "waiting for the grant", |l| {
            list_ready_reason(l) == "False:WaitingForGrant"
        })
        .await;
    let status = stl.status.unwrap();
    assert_eq!((status.user_count, status.resolved_users.len()), (0, 0));
    assert!(status.last_resolved_time.is_none());

    reqwest::Client::new()
        .delete(format!("{}/_sim/faults", env.m365.url()))
        .send()
        .await
        .unwrap();
    let stl = env
        .wait_list("few", "resolved", |l| {
            list_ready_reason(l) == "True:Resolved"
        })
        .await;
    assert_eq!(stl.status.unwrap().user_count, 1);
    env.wait_account("contoso", "Ready", |e| is(e, "Ready"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_watch_cache_does_not_make_the_operator_redo_its_work() {
    // Every watch event arrives 400 ms after its write: reconciles queued behind the first
    // one read a cache without its status.
    let env = Env::start_with(
        Env::fast(),
        exo_sim_kube::EmulatorOptions {
            watch_delay: Duration::from_millis(400),
            ..Default::default()
        },
    )
    .await;
    consent_all(&env, "contoso.com").await;
    env.create(json!({"apiVersion": "exo-operator.io/v1alpha1", "kind": "SyncTargetList", "metadata": {"name": "few"}, "spec": {"serviceAccountRef": {"name": "contoso"}, "users": ["ada@contoso.com", "grace@contoso.com"]}})).await;
    env.create(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "contoso-app"}, "stringData": {"client-secret": exo_sim_m365::tenants::DEMO_SECRET}})).await;
    env.create(env.point_at_simulator(json!({"apiVersion": "exo-operator.io/v1alpha1", "kind": "ExchangeServiceAccount", "metadata": {"name": "contoso"}, "spec": {
        "tenant": "contoso.onmicrosoft.com", "mode": "Api",
        "application": {"clientId": exo_sim_m365::tenants::DEMO_CLIENT_ID, "credentials": {"secretName": "contoso-app"}},
        "sync": {"scope": "Selected", "targetListRef": {"name": "few"}}}}))).await;
    env.wait_account("contoso", "Ready", |e| is(e, "Ready"))
        .await;
    env.settle().await;

    assert_eq!(env.m365.count("GET /v1.0/users/ada@contoso.com"), 1);
    assert_eq!(env.m365.count("/appRoleAssignments"), 1);
    assert_eq!(events_once_arrived(&env, "contoso", "Ready", 1).await, 1);
    let audit = env.audit();
    let status_writes = |resource: &str| {
        audit
            .iter()
            .filter(|a| {
                a.resource.ends_with(resource) && a.subresource.as_deref() == Some("status")
            })
            .count()
    };
    assert_eq!(status_writes("/exchangeserviceaccounts"), 1, "{audit:?}");
    assert_eq!(status_writes("/synctargetlists"), 1, "{audit:?}");
    assert!(
        !audit
            .iter()
            .any(|a| a.resource.ends_with("/events") && a.verb == "patch"),
        "no Event was published twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_100_users_is_refused_and_the_last_good_list_is_kept() {
    let mut world = exo_sim_m365::tenants::demo();
    world.tenants[0].generate = Some(exo_sim_m365::Generate {
        users: 150,
        groups: 1,
        seed: 9,
    });
    let env = Env::start(SimOptions {
        tenants: world,
        ..Env::fast()
    })
    .await;
    consent_all(&env, "contoso.com").await;
    env.apply_example("api-all-users.yaml").await;
    env.create(json!({"apiVersion": "exo-operator.io/v1alpha1", "kind": "SyncTargetList", "metadata": {"name": "big"}, "spec": {"serviceAccountRef": {"name": "contoso"}, "users": ["ada@contoso.com"]}})).await;
    env.merge_account(
        "contoso",
        json!({"spec": {"sync": {"scope": "Selected", "targetListRef": {"name": "big"}}}}),
    )
    .await;
    env.wait_account("contoso", "1 user", |e| {
        is(e, "Ready")
            && e.status
                .as_ref()
                .and_then(|s| s.sync.as_ref())
                .is_some_and(|s| s.users == 1)
    })
    .await;
    let lists = env.lists();
    lists
        .patch(
            "big",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"groups": [{"namePrefix": "Generated"}]}})),
        )
        .await
        .unwrap();
    let esa = env
        .wait_account("contoso", "LimitExceeded", |e| {
            reason(e, "DirectorySynced", "LimitExceeded")
        })
        .await;
    assert!(is(&esa, "Stalled"));
    assert_eq!(
        esa.status.unwrap().sync.unwrap().users,
        1,
        "the last good list is kept"
    );
    let stl = lists.get("big").await.unwrap().status.unwrap();
    assert_eq!(stl.user_count, 1);
    assert!(
        stl.conditions
            .iter()
            .any(|c| c.type_ == "Resolved" && c.reason == "LimitExceeded")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_stops_what_was_started_or_leaves_the_tenant_alone() {
    let env = Env::start(Env::fast()).await;
    consent_all(&env, "contoso.com").await;
    env.apply_example("api-all-users.yaml").await;
    env.wait_account("contoso", "Ready", |e| is(e, "Ready"))
        .await;
    let subs = || {
        env.m365.with_world(|w| {
            w.tenant("contoso.com")
                .unwrap()
                .subscriptions
                .values()
                .filter(|v| **v)
                .count()
        })
    };
    assert_eq!(subs(), 3);
    env.accounts()
        .delete("contoso", &Default::default())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + env::TIMEOUT;
    while env.accounts().get_opt("contoso").await.unwrap().is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the finalizer was not removed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(subs(), 0, "deletionPolicy Delete stops the subscriptions");
    let maps: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::default_namespaced(env.client.clone());
    assert!(maps.get_opt("contoso-sync-state").await.unwrap().is_none());

    // Orphan: the tenant keeps what was started.
    let mut esa: serde_json::Value = serde_saphyr::from_str(
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/api-all-users.yaml"
        ))
        .unwrap()
        .split("\n---")
        .find(|d| d.contains("kind: ExchangeServiceAccount"))
        .unwrap(),
    )
    .unwrap();
    esa["spec"]["deletionPolicy"] = json!("Orphan");
    env.create(env.point_at_simulator(esa)).await;
    env.wait_account("contoso", "Ready", |e| is(e, "Ready"))
        .await;
    assert_eq!(subs(), 3);
    env.accounts()
        .delete("contoso", &Default::default())
        .await
        .unwrap();
    while env.accounts().get_opt("contoso").await.unwrap().is_some() {
        assert!(tokio::time::Instant::now() < deadline + env::TIMEOUT);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        subs(),
        3,
        "deletionPolicy Orphan leaves the tenant as it is"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_operator_resumes_the_sign_in_without_a_second_prompt() {
    let mut env = Env::start(Env::fast()).await;
    env.apply_example("api-selected-users.yaml").await;
    let esa = env
        .wait_account("fabrikam", "a device code", |e| {
            reason(e, "Authorized", "AwaitingSignIn")
        })
        .await;
    let code = esa.status.unwrap().consent.unwrap().user_code.unwrap();
    env.stop_operator().await;
    env.control(&format!("/devicecodes/{code}/approve"), json!({}))
        .await;
    env.start_operator().await;
    env.wait_account("fabrikam", "Ready", |e| is(e, "Ready"))
        .await;
    let prompts = env.m365.with_world(|w| w.device_codes.len());
    assert_eq!(prompts, 1, "no duplicate prompt");
    // A second restart keeps the refresh token: no new prompt, still Ready.
    env.stop_operator().await;
    env.start_operator().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let esa = env
        .wait_account("fabrikam", "Ready", |e| is(e, "Ready"))
        .await;
    assert!(esa.status.unwrap().consent.is_none());
    assert_eq!(env.m365.with_world(|w| w.device_codes.len()), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_secret_or_refresh_token_reaches_logs_events_or_status() {
    let env = Env::start(SimOptions {
        token_lifetime: Duration::from_secs(3),
        ..Env::fast()
    })
    .await;
    env.apply_example("api-all-users.yaml").await;
    env.apply_example("api-selected-users.yaml").await;
    let esa = env
        .wait_account("contoso", "consent", |e| {
            reason(e, "Authorized", "ConsentRequired")
        })
        .await;
    env.open(
        &esa.status
            .unwrap()
            .consent
            .unwrap()
            .admin_consent_url
            .unwrap(),
    )
    .await;
    let esa = env
        .wait_account("fabrikam", "a device code", |e| {
            reason(e, "Authorized", "AwaitingSignIn")
        })
        .await;
    env.control(
        &format!(
            "/devicecodes/{}/approve",
            esa.status.unwrap().consent.unwrap().user_code.unwrap()
        ),
        json!({}),
    )
    .await;
    env.wait_account("contoso", "Ready", |e| is(e, "Ready"))
        .await;
    env.wait_account("fabrikam", "Ready", |e| is(e, "Ready"))
        .await;
    // Refreshes happen (3 s tokens), then a failure path: revoked refresh tokens.
    tokio::time::sleep(Duration::from_secs(4)).await;
    env.control("/tenants/fabrikam.com/refresh-tokens/revoke", json!({}))
        .await;
    env.wait_account("fabrikam", "revoked", |e| {
        reason(e, "TokenValid", "RefreshTokenRevoked") || reason(e, "Authorized", "AwaitingSignIn")
    })
    .await;

    let secrets: Api<Secret> = Api::default_namespaced(env.client.clone());
    let mut forbidden: Vec<String> = vec![exo_sim_m365::tenants::DEMO_SECRET.to_string()];
    let refresh_tokens = env
        .m365
        .with_world(|w| w.refresh_tokens.keys().cloned().collect::<Vec<_>>());
    assert!(!refresh_tokens.is_empty());
    forbidden.extend(refresh_tokens);
    let device_codes = env.m365.with_world(|w| {
        w.device_codes
            .iter()
            .map(|d| d.device_code.clone())
            .collect::<Vec<_>>()
    });
    forbidden.extend(device_codes);
    if let Some(grant) = secrets.get_opt("fabrikam-device-grant").await.unwrap() {
        for v in grant.data.unwrap_or_default().values() {
            forbidden.push(String::from_utf8_lossy(&v.0).into_owned());
        }
    }
    forbidden.retain(|f| f.len() >= 16);

    let events: Api<k8s_openapi::api::core::v1::Event> =
        Api::default_namespaced(env.client.clone());
    let mut seen =
        serde_json::to_string(&events.list(&Default::default()).await.unwrap().items).unwrap();
    seen.push_str(
        &serde_json::to_string(
            &env.accounts()
                .list(&Default::default())
                .await
                .unwrap()
                .items,
        )
        .unwrap(),
    );
    seen.push_str(
        &serde_json::to_string(&env.lists().list(&Default::default()).await.unwrap().items)
            .unwrap(),
    );
    let logs = String::from_utf8_lossy(&env::LOGS.lock().unwrap()).into_owned();
    assert!(logs.contains("reconcile"), "logs were captured");
    for (what, text) in [("logs", &logs), ("events and status", &seen)] {
        for secret in &forbidden {
            assert!(
                !text.contains(secret.as_str()),
                "a secret value appears in {what}"
            );
        }
        assert!(
            !text.contains("eyJ0eXAiOiJKV1Qi"),
            "an access token appears in {what}"
        );
        assert!(
            !text.contains("Bearer "),
            "an authorization header appears in {what}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_port_serves_health_metrics_and_the_consent_callback() {
    let mut env = Env::start(Env::fast()).await;
    // Consent is checked only every 10 minutes: the callback must wake the account.
    env.stop_operator().await;
    env.start_operator_with(Duration::from_secs(600)).await;
    let base = env.operator_url();
    assert_eq!(env.get(&format!("{base}/healthz")).await.0, 200);
    let mut ready = 0;
    for _ in 0..50 {
        ready = env.get(&format!("{base}/readyz")).await.0;
        if ready == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ready, 200, "/readyz after the caches filled");
    env.apply_example("api-all-users.yaml").await;
    let esa = env
        .wait_account("contoso", "the consent prompt", |e| {
            reason(e, "Authorized", "ConsentRequired")
        })
        .await;
    // The administrator consents; the identity platform redirects to the callback with the state.
    env.open(
        &esa.status
            .unwrap()
            .consent
            .unwrap()
            .admin_consent_url
            .unwrap(),
    )
    .await;
    let (status, page) = env.get(&format!("{base}/consent/callback?admin_consent=True&tenant=5b1c6e8a-2f4d-4a7b-9c3e-1d2f3a4b5c6d&state={}/contoso", env.ns())).await;
    assert_eq!(status, 200);
    assert!(page.contains("recorded"), "{page}");
    env.wait_account("contoso", "Ready after the callback", |e| is(e, "Ready"))
        .await;
    let (status, _) = env
        .get(&format!("{base}/consent/callback?state=nonsense"))
        .await;
    assert_eq!(status, 400);
    let (status, metrics) = env.get(&format!("{base}/metrics")).await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains("exo_reconciles_total{controller=\"exchangeserviceaccount\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("exo_external_requests_total{api=\"graph\",class=\"2xx\"}"),
        "{metrics}"
    );
    // Other tests in this process share the registry, so only the series' presence is
    // checked here; its value is checked by the unit tests.
    assert!(
        metrics.contains(&format!(
            "exo_token_valid{{namespace=\"{}\",name=\"contoso\"}} ",
            env.ns()
        )),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_watched_namespaces_are_reconciled() {
    use exo_api::exchange_service_account::ExchangeServiceAccount;
    use exo_operator::controller::run::Scope;
    let mut env = Env::start(Env::fast()).await;
    env.stop_operator().await;
    // Namespaces of their own on a shared server: the test's name with a suffix.
    let [a, b, c] = ["a", "b", "c"].map(|team| format!("{}-team-{team}", env.ns()));
    env.start_operator_in(
        Duration::from_millis(300),
        Scope {
            namespaces: vec![a.clone(), b.clone()],
        },
    )
    .await;
    for ns in [&a, &b, &c] {
        env.cluster.create_namespace(ns).await;
        env.create(json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "app", "namespace": ns},
            "stringData": {"client-secret": exo_sim_m365::tenants::DEMO_SECRET}}))
            .await;
        env.create(env.point_at_simulator(json!({
            "apiVersion": "exo-operator.io/v1alpha1", "kind": "ExchangeServiceAccount",
            "metadata": {"name": "contoso", "namespace": ns},
            "spec": {"tenant": "contoso.com", "mode": "Api",
                "application": {"clientId": "3f1c2a4e-8b7d-4c6e-9a2b-1d0e5f6a7b8c", "credentials": {"secretName": "app"}}},
        })))
        .await;
    }
    let status_of = |ns: &str| {
        let api: Api<ExchangeServiceAccount> = Api::namespaced(env.client.clone(), ns);
        async move { api.get("contoso").await.unwrap().status }
    };
    let deadline = tokio::time::Instant::now() + env::TIMEOUT;
    while status_of(&a).await.is_none() || status_of(&b).await.is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "watched namespaces not reconciled"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        status_of(&c).await.is_none(),
        "an unwatched namespace was reconciled"
    );
}
