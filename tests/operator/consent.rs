//! Consent and sign-in: application consent, device code with selected users, revoked grants
//! and consent with their notifications (Event, e-mail, webhook), an expired then rotated
//! secret, a missing permission, and a restart mid-sign-in.

use std::time::Duration;

use exo_operator::controller::service_account::decide::READY_MESSAGE;
use exo_sim_m365::tenants::DEMO_CLIENT_ID;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use serde_json::json;

use super::env::{self, Env, consent_url, is, list_is, settled, user_code};
use super::{events_once_arrived, set_secret, smtp, webhook};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_consent_then_directory_sync_then_nothing_to_write() {
    let env = Env::start(Env::fast()).await;
    env.apply_example("api-all-users.yaml").await;

    // Before consent: the consent URL and what is missing, Stalled for GitOps.
    let esa = env
        .wait_reason("contoso", "Authorized", "ConsentRequired")
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
    let esa = env.wait_ready("contoso").await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_code_selected_users_then_revoked_grant_notifies_once_and_recovers() {
    // Over 80 lines on purpose: one scenario, whose steps depend on one another, read top to bottom.
    let smtp = smtp::SmtpServer::start();
    let env = Env::start(Env::short_tokens(4)).await;
    env.apply_example("api-selected-users.yaml").await;
    set_secret(&env, "fabrikam-smtp-relay", json!({"host": "127.0.0.1", "port": smtp.port.to_string(), "from": "exo-operator@example.com", "tls": "none"})).await;

    // The device-code prompt is in status and in an Event.
    let esa = env
        .wait_reason("fabrikam", "Authorized", "AwaitingSignIn")
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
    env.approve(&code).await;
    let esa = env.wait_ready("fabrikam").await;
    let sync = esa.status.as_ref().unwrap().sync.clone().unwrap();
    assert_eq!((sync.users, sync.groups), (4, 2));
    let secrets: Api<Secret> = Api::default_namespaced(env.client.clone());
    let grant = secrets.get("fabrikam-device-grant").await.unwrap();
    assert!(grant.data.unwrap().contains_key("refresh-token"));
    assert_eq!(grant.metadata.owner_references.unwrap()[0].name, "fabrikam");
    let stl = env
        .wait_for(env.lists(), "fabrikam-vip", "Ready", |l| {
            list_is(l, "Ready")
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
        .wait_reason("fabrikam", "TokenValid", "RefreshTokenRevoked")
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
    let new_code = user_code(&esa);
    env.approve(&new_code).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_consent_shows_the_url_again_and_a_webhook_fires_once_per_transition() {
    let (hook, received) = webhook().await;
    let env = Env::start(Env::short_tokens(3)).await;
    env.consent("contoso.com").await;
    env.apply_example("api-all-users.yaml").await;
    set_secret(
        &env,
        "contoso-alert-webhook",
        json!({"url": format!("{hook}?token=hook-secret")}),
    )
    .await;
    env.wait_ready("contoso").await;

    let esa = super::revoke_contoso_consent(&env).await;
    let url = consent_url(&esa);
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
    env.open(&url).await;
    env.wait_account("contoso", "Ready again", |e| is(e, "Ready"))
        .await;
    // The notification is sent once the status is written: allow it a moment to arrive.
    let got = settled(
        50,
        Duration::from_millis(100),
        async || received.lock().unwrap().clone(),
        |got| got.len() >= 2,
    )
    .await;
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[1]["kind"], "TokenRecovered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_client_secret_is_reported_and_a_rotated_secret_is_picked_up_at_once() {
    let env = Env::start(Env::short_tokens(3)).await;
    env.consent("contoso.com").await;
    env.apply_example("api-all-users.yaml").await;
    env.wait_ready("contoso").await;
    env.control(&format!("/apps/{DEMO_CLIENT_ID}/secrets/expire"), json!({}))
        .await;
    let esa = env
        .wait_reason("contoso", "TokenValid", "CredentialExpired")
        .await;
    let (_, message) = env::condition(&esa, "Ready").unwrap();
    assert_eq!(message, "CredentialExpired");
    let rotated = env
        .control(&format!("/apps/{DEMO_CLIENT_ID}/secrets/rotate"), json!({}))
        .await;
    let value = rotated["value"].as_str().unwrap().to_string();
    set_secret(
        &env,
        "email-security-app-credentials",
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
        json!({"clientId": DEMO_CLIENT_ID, "permissions": ["User.Read.All", "Group.Read.All", "Domain.Read.All", "Application.Read.All", "ActivityFeed.Read"]}),
    )
    .await;
    env.apply_example("api-all-users.yaml").await;
    let esa = env
        .wait_reason("contoso", "Authorized", "ConsentRequired")
        .await;
    let consent = esa.status.as_ref().unwrap().consent.clone().unwrap();
    assert_eq!(consent.missing_permissions, ["Mail.ReadWrite"]);
    assert!(is(&esa, "TokenValid"), "the token itself is fine");
    env.open(&consent.admin_consent_url.unwrap()).await;
    env.wait_ready("contoso").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_operator_resumes_the_sign_in_without_a_second_prompt() {
    let mut env = Env::start(Env::fast()).await;
    env.apply_example("api-selected-users.yaml").await;
    let esa = env
        .wait_reason("fabrikam", "Authorized", "AwaitingSignIn")
        .await;
    let code = user_code(&esa);
    env.stop_operator().await;
    env.approve(&code).await;
    env.start_operator().await;
    env.wait_ready("fabrikam").await;
    let prompts = env.m365.with_world(|w| w.device_codes.len());
    assert_eq!(prompts, 1, "no duplicate prompt");
    // A second restart keeps the refresh token: no new prompt, still Ready.
    env.stop_operator().await;
    env.start_operator().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let esa = env.wait_ready("fabrikam").await;
    assert!(esa.status.unwrap().consent.is_none());
    assert_eq!(env.m365.with_world(|w| w.device_codes.len()), 1);
}
