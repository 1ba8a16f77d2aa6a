//! The handoff to the email-security service: the example service delivers to the service
//! simulator (`exo-sim service`, loopback HTTPS), whose read API says what it received. The
//! directory arrives whole, then each change once; outages, lost answers, kills, resync
//! requests, deletion, unknown policies and a wrong credential are survived or reported.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::env::{Env, SERVICE_SECRET, is, reason};

const TENANT: &str = "contoso.onmicrosoft.com";

/// The example account of scope All, consented and Ready: the tenant's id at the service.
async fn ready(env: &Env) -> String {
    env.apply_example("api-all-users.yaml").await;
    env.consent(TENANT).await;
    let esa = env.wait_ready("contoso").await;
    assert!(is(&esa, "ServiceRegistered"), "{:?}", esa.status);
    let tenants = env.service_read("/tenants").await;
    let tenants = tenants["tenants"].as_array().unwrap();
    assert_eq!(tenants.len(), 1, "{tenants:?}");
    tenants[0]["tenantId"].as_str().unwrap().to_string()
}

/// The users the service holds: (user principal name, enabled), sorted.
async fn received(env: &Env, tenant: &str) -> Vec<(String, bool)> {
    let users = env.service_read(&format!("/tenants/{tenant}/users")).await;
    let mut out: Vec<_> = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["userPrincipalName"].as_str().unwrap().to_string(),
                u["accountEnabled"].as_bool().unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// How many users the simulated tenant has.
async fn tenant_users(env: &Env) -> usize {
    env.sim_tenant(TENANT).await["users"].as_u64().unwrap() as usize
}

/// Deliveries the service acknowledged for the tenant, by type.
async fn acknowledged(env: &Env, tenant: &str, type_: &str) -> u64 {
    let c = env
        .service_read(&format!("/tenants/{tenant}/counters"))
        .await;
    c["acknowledged"][type_].as_u64().unwrap_or(0)
}

/// Four changes in the tenant whose users the service holds as `before`: two users added,
/// one disabled, one removed. Returns what the service should then hold.
async fn change_users(env: &Env, before: &[(String, bool)]) -> Vec<(String, bool)> {
    let path = format!("/tenants/{TENANT}/users");
    let mut after = before.to_vec();
    for upn in [
        "new.one@contoso.onmicrosoft.com",
        "new.two@contoso.onmicrosoft.com",
    ] {
        env.control(&path, json!({"upn": upn, "displayName": upn}))
            .await;
        after.push((upn.to_string(), true));
    }
    let (first, second) = (before[0].0.clone(), before[1].0.clone());
    env.control_with(
        Method::PATCH,
        &format!("{path}/{first}"),
        json!({"accountEnabled": false}),
    )
    .await;
    env.control_delete(&format!("{path}/{second}"), json!({}))
        .await;
    after.retain(|(upn, _)| *upn != second);
    for (upn, enabled) in after.iter_mut() {
        if *upn == first {
            *enabled = false;
        }
    }
    after.sort();
    after
}

/// The message of condition `type_`.
fn message_of(esa: &exo_api::ExchangeServiceAccount, type_: &str) -> String {
    let conditions = &esa.status.as_ref().unwrap().conditions;
    conditions
        .iter()
        .find(|c| c.type_ == type_)
        .unwrap()
        .message
        .clone()
}

/// Asks the account for a synchronisation now.
async fn request_sync(env: &Env) {
    let now = jiff::Timestamp::now().to_string();
    env.merge_account(
        "contoso",
        json!({"metadata": {"annotations": {"exo-operator.io/sync-requested-at": now}}}),
    )
    .await;
}

/// Waits until the service holds exactly `want`.
async fn wait_for_users(env: &Env, tenant: &str, want: &[(String, bool)]) {
    crate::env::until(
        crate::env::TIMEOUT,
        Duration::from_millis(200),
        async || {
            let got = received(env, tenant).await;
            match got == want {
                true => Ok(()),
                false => Err(format!("the service to hold {want:?}; it holds {got:?}")),
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_arrives_whole_then_each_change_once() {
    let env = Env::start(Env::fast()).await;
    let tenant = ready(&env).await;
    let before = received(&env, &tenant).await;
    assert_eq!(before.len(), tenant_users(&env).await);
    let esa = env.wait_ready("contoso").await;
    let delivery = esa.status.as_ref().unwrap().delivery.clone().unwrap();
    assert_eq!(delivery.users as usize, before.len());
    assert_eq!(delivery.service, "EmailSecurityService/email-security");
    assert_eq!(delivery.accepted_policies, ["Default ATP policy"]);
    let registration = env.service_read(&format!("/tenants/{tenant}")).await;
    assert_eq!(registration["registration"]["mode"], "Api");
    assert_eq!(registration["registration"]["scope"], "All");
    assert!(is(&esa, "PolicyEnabled"));

    let after = change_users(&env, &before).await;
    request_sync(&env).await;
    wait_for_users(&env, &tenant, &after).await;
    assert_eq!(acknowledged(&env, &tenant, "snapshotBegin").await, 1);
    assert_eq!(acknowledged(&env, &tenant, "changes").await, 1);
    let counters = env
        .service_read(&format!("/tenants/{tenant}/counters"))
        .await;
    assert_eq!(counters["duplicates"], json!({}), "{counters}");
    // Exactly the four changes: two users added, one disabled, one removed.
    assert_eq!(counters["acknowledgedItems"]["changes"], 4, "{counters}");
    // A round without changes delivers nothing.
    request_sync(&env).await;
    env.settle().await;
    assert_eq!(acknowledged(&env, &tenant, "changes").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_down_for_a_while_then_back_loses_and_repeats_nothing() {
    let env = Env::start(Env::fast()).await;
    let tenant = ready(&env).await;
    env.service_call(
        Method::POST,
        "/faults",
        json!({"status": 503, "path": "^POST /v1/tenants/.*/deliveries$"}),
    )
    .await;
    let after = change_users(&env, &received(&env, &tenant).await).await;
    request_sync(&env).await;
    let esa = env
        .wait_reason("contoso", "DirectorySynced", "ServiceUnavailable")
        .await;
    // The tenant-side work goes on: the token and the grant stay true.
    assert!(is(&esa, "TokenValid") && is(&esa, "Authorized"));
    assert!(!is(&esa, "Ready") && !is(&esa, "Stalled"));
    env.service_call(Method::DELETE, "/faults", json!({})).await;
    wait_for_users(&env, &tenant, &after).await;
    env.wait_ready("contoso").await;
    // Visible in Events and metrics too.
    let failing = env.event_messages("contoso", "DeliveryFailing").await;
    assert!(
        failing.iter().any(|m| m.starts_with("ServiceUnavailable")),
        "{failing:?}"
    );
    let registered = env.event_messages("contoso", "ServiceRegistered").await;
    assert!(!registered.is_empty());
    let line = format!(
        "exo_service_registered{{namespace=\"{}\",name=\"contoso\"}} 1",
        env.ns()
    );
    env.wait_metrics(&[line]).await;
    assert_eq!(acknowledged(&env, &tenant, "snapshotBegin").await, 1);
    assert_eq!(acknowledged(&env, &tenant, "changes").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_acknowledgements_and_a_kill_mid_delivery_lose_and_repeat_nothing() {
    let mut env = Env::start(Env::fast()).await;
    let tenant = ready(&env).await;
    // The service applies the first delivery but its answer is lost: the retry is a duplicate.
    env.service_call(
        Method::POST,
        "/faults",
        json!({"status": 503, "afterApply": true, "count": 1,
               "path": "^POST /v1/tenants/.*/deliveries$"}),
    )
    .await;
    let mut after = change_users(&env, &received(&env, &tenant).await).await;
    request_sync(&env).await;
    wait_for_users(&env, &tenant, &after).await;
    assert_eq!(acknowledged(&env, &tenant, "changes").await, 1);
    // A slow service, and the operator killed while a delivery is under way.
    env.service_call(
        Method::POST,
        "/faults",
        json!({"latencyMs": 3000, "count": 1, "path": "^POST /v1/tenants/.*/deliveries$"}),
    )
    .await;
    let path = format!("/tenants/{TENANT}/users");
    env.control(&path, json!({"upn": "late@contoso.onmicrosoft.com"}))
        .await;
    request_sync(&env).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    env.kill_operator().await;
    env.start_operator().await;
    after.push(("late@contoso.onmicrosoft.com".to_string(), true));
    after.sort();
    wait_for_users(&env, &tenant, &after).await;
    env.wait_ready("contoso").await;
    assert_eq!(acknowledged(&env, &tenant, "snapshotBegin").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resync_request_brings_a_full_snapshot() {
    let env = Env::start(Env::fast()).await;
    let tenant = ready(&env).await;
    let before = received(&env, &tenant).await;
    env.service_call(
        Method::POST,
        &format!("/tenants/{tenant}/resync"),
        json!({}),
    )
    .await;
    // Any look at the account reads the service's cursor.
    env.merge_account("contoso", json!({"metadata": {"labels": {"looked": "at"}}}))
        .await;
    crate::env::until(
        crate::env::TIMEOUT,
        Duration::from_millis(200),
        async || match acknowledged(&env, &tenant, "snapshotEnd").await {
            2 => Ok(()),
            n => Err(format!("a second snapshot; {n} so far")),
        },
    )
    .await;
    assert_eq!(received(&env, &tenant).await, before);
    env.wait_ready("contoso").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_account_is_deregistered() {
    let env = Env::start(Env::fast()).await;
    ready(&env).await;
    env.delete_account("contoso").await;
    let tenants = env.service_read("/tenants").await;
    assert_eq!(tenants["tenants"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_the_service_does_not_offer_are_listed() {
    let env = Env::start(Env::fast()).await;
    env.apply_example("api-all-users.yaml").await;
    env.consent(TENANT).await;
    env.merge_account(
        "contoso",
        json!({"spec": {"policies": ["Default ATP policy", "Quarantine everything"]}}),
    )
    .await;
    // Not in the service object's offer: refused before anything is sent.
    let esa = env
        .wait_reason("contoso", "PolicyEnabled", "UnknownPolicies")
        .await;
    let message = message_of(&esa, "PolicyEnabled");
    assert!(message.contains("Quarantine everything"), "{message}");
    assert!(is(&esa, "Stalled"));
    // Listed by the service object but not offered by the service itself: its answer tells.
    let services: kube::Api<exo_api::email_security_service::EmailSecurityService> =
        kube::Api::default_namespaced(env.client.clone());
    let patch = json!({"spec": {"policies": [
        {"name": "Default ATP policy"}, {"name": "Quarantine everything"}]}});
    services
        .patch(
            "email-security",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .unwrap();
    let esa = env
        .wait_account("contoso", "the service's unknown policies", |e| {
            e.status
                .as_ref()
                .and_then(|s| s.delivery.as_ref())
                .is_some_and(|d| d.unknown_policies == ["Quarantine everything"])
        })
        .await;
    assert!(reason(&esa, "PolicyEnabled", "UnknownPolicies"));
    assert!(!is(&esa, "Ready"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_service_credential_is_reported_and_the_tenant_work_goes_on() {
    let env = Env::start(Env::fast()).await;
    env.apply_example("api-all-users.yaml").await;
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::default_namespaced(env.client.clone());
    let set = async |value: &str| {
        let patch = json!({"stringData": {"signing-secret": value}});
        secrets
            .patch(
                "email-security-ingestion",
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(&patch),
            )
            .await
            .unwrap();
    };
    set("whsec_d3Jvbmctc2VjcmV0").await;
    env.consent(TENANT).await;
    let esa = env
        .wait_reason("contoso", "ServiceRegistered", "ServiceRefusedSignature")
        .await;
    assert!(is(&esa, "Stalled") && is(&esa, "TokenValid") && is(&esa, "Authorized"));
    let message = message_of(&esa, "ServiceRegistered");
    assert!(message.contains("credentialsSecretRef"), "{message}");
    assert!(!message.contains("d3Jvbmctc2VjcmV0"), "{message}");
    let tenants: Value = env.service_read("/tenants").await;
    assert_eq!(tenants["tenants"], json!([]));
    // The service's status says so too: its ingestion refuses the probe's signature.
    let services: kube::Api<exo_api::email_security_service::EmailSecurityService> =
        kube::Api::default_namespaced(env.client.clone());
    let reachable = |reason: &'static str| {
        move |s: &exo_api::email_security_service::EmailSecurityService| {
            s.status.as_ref().is_some_and(|st| {
                st.conditions
                    .iter()
                    .any(|c| c.type_ == "IngestionReachable" && c.reason == reason)
            })
        }
    };
    env.wait_for(
        services.clone(),
        "email-security",
        "ingestion refused",
        reachable("ServiceRefusedSignature"),
    )
    .await;
    set(SERVICE_SECRET).await;
    env.wait_ready("contoso").await;
    env.wait_for(
        services,
        "email-security",
        "ingestion answers",
        reachable("Answered"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selected_users_are_the_directory_and_the_protected_set() {
    let env = Env::start(Env::fast()).await;
    let tenant = ready(&env).await;
    // Ada by name, and the Research group: Alan, and through Engineering Ada and Grace.
    super::contoso_list(
        &env,
        "few",
        json!({"users": ["ada@contoso.com"], "groups": [{"namePrefix": "Research"}]}),
    )
    .await;
    super::select(&env, "few").await;
    let protected = async || {
        let p = env
            .service_read(&format!("/tenants/{tenant}/protected"))
            .await;
        p["protected"].as_array().map_or(0, Vec::len)
    };
    let wait_for_set = async |upns: &[&str]| {
        crate::env::until(
            crate::env::TIMEOUT,
            Duration::from_millis(200),
            async || {
                let got: Vec<String> = received(&env, &tenant)
                    .await
                    .into_iter()
                    .map(|u| u.0)
                    .collect();
                let n = protected().await;
                match got == upns && n == upns.len() {
                    true => Ok(()),
                    false => Err(format!(
                        "the service to hold {upns:?}; it holds {got:?}, {n} protected"
                    )),
                }
            },
        )
        .await;
    };
    wait_for_set(&["ada@contoso.com", "alan@contoso.com", "grace@contoso.com"]).await;
    let esa = env.wait_ready("contoso").await;
    assert_eq!(esa.status.unwrap().delivery.unwrap().users, 3);
    // The group that brought users in, with its members.
    let groups = env.service_read(&format!("/tenants/{tenant}/groups")).await;
    let groups = groups["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(groups[0]["displayName"], "Research");
    assert_eq!(
        groups[0]["members"].as_array().unwrap().len(),
        3,
        "{groups:?}"
    );
    // A narrower list: the service follows.
    env.merge_list("few", json!({"spec": {"groups": null}}))
        .await;
    wait_for_set(&["ada@contoso.com"]).await;
    let registration = env.service_read(&format!("/tenants/{tenant}")).await;
    assert_eq!(registration["registration"]["scope"], "Selected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_of_the_access_reaches_the_service_when_it_changes() {
    // Tokens of 3 s: a revoked consent shows at the next token.
    let env = Env::start(Env::short_tokens(3)).await;
    let tenant = ready(&env).await;
    let health = async || {
        let h = env
            .service_read(&format!("/tenants/{tenant}/token-health"))
            .await;
        let history: Vec<String> = h["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["state"].as_str().unwrap_or_default().to_string())
            .collect();
        history
    };
    let wait_for = async |want: &[&str]| {
        crate::env::until(
            crate::env::TIMEOUT,
            Duration::from_millis(200),
            async || {
                let got = health().await;
                match got == want {
                    true => Ok(()),
                    false => Err(format!("token health {want:?}; the service has {got:?}")),
                }
            },
        )
        .await;
    };
    wait_for(&["Valid"]).await;
    // The Global Administrator revokes consent: reported once, then again once restored.
    super::revoke_contoso_consent(&env).await;
    wait_for(&["Valid", "ConsentMissing"]).await;
    env.settle().await;
    assert_eq!(health().await, ["Valid", "ConsentMissing"]);
    env.consent(TENANT).await;
    env.wait_ready("contoso").await;
    wait_for(&["Valid", "ConsentMissing", "Valid"]).await;
}
