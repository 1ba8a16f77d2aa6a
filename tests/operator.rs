//! The real controller against the Kubernetes API emulator and the Microsoft 365 simulator,
//! over loopback: API-mode grants end to end.

#[path = "support/env.rs"]
mod env;
#[path = "support/smtp.rs"]
mod smtp;

use std::time::Duration;

use env::{Env, is, reason};
use exo_operator::controller::service_account::decide::READY_MESSAGE;
use exo_operator::sim::m365::SimOptions;
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

    // Steady state: nothing changes, nothing is written, Microsoft is not called.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let writes = env.writes();
    let calls = env.m365.counters().values().sum::<u64>();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        env.writes(),
        writes,
        "a reconcile that changes nothing writes nothing: {:?}",
        &env.kube.stats().audit[writes..]
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
    assert_eq!(count_events(&env, "fabrikam", "DeviceCodeIssued").await, 1);

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
    assert_eq!(count_events(&env, "fabrikam", "TokenInvalid").await, 1);

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
    assert_eq!(count_events(&env, "fabrikam", "TokenRecovered").await, 1);
    assert_eq!(count_events(&env, "fabrikam", "TokenInvalid").await, 1);
}
