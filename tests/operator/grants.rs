//! The administrator's device-code grant: kept through problems on the application's side
//! (disabled app, expired client secret) and restarts, ended (with an audit) only when the
//! identity platform reports the refresh token invalid; declined and expired sign-ins reported
//! with their own reasons, and one Event per prompt.

use std::time::Duration;

use exo_sim_m365::tenants::DEMO_CLIENT_ID;
use k8s_openapi::api::core::v1::{Event, Secret};
use kube::api::{Api, ListParams};
use serde_json::json;

use super::env::{Env, reason, user_code};
use super::{events_once_arrived, set_secret};

/// The device-grant Secret of fabrikam.
async fn grant_secret(env: &Env) -> Secret {
    let secrets: Api<Secret> = Api::default_namespaced(env.client.clone());
    secrets.get("fabrikam-device-grant").await.unwrap()
}

/// Whether the grant Secret holds a refresh token.
async fn holds_refresh_token(env: &Env) -> bool {
    grant_secret(env)
        .await
        .data
        .unwrap_or_default()
        .contains_key("refresh-token")
}

/// How many device-code prompts the simulator issued.
fn prompts(env: &Env) -> usize {
    env.m365.with_world(|w| w.device_codes.len())
}

/// fabrikam (DeviceCode, Selected users) with `regrant`, signed in and Ready.
async fn signed_in(regrant: &str) -> Env {
    let env = Env::start(Env::fast()).await;
    env.apply_example("api-selected-users.yaml").await;
    env.merge_account(
        "fabrikam",
        json!({"spec": {"authorization": {"regrant": regrant}}}),
    )
    .await;
    sign_in(&env).await;
    assert!(holds_refresh_token(&env).await);
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_app_or_an_expired_secret_never_throws_the_grant_away() {
    let mut env = signed_in("Automatic").await;
    let app = format!("/apps/{DEMO_CLIENT_ID}");

    // The application is disabled; a restart drops the cached token, so the refresh fails.
    env.stop_operator().await;
    env.control(&format!("{app}/disable"), json!({})).await;
    env.start_operator().await;
    let esa = env
        .wait_reason("fabrikam", "TokenValid", "AppDisabled")
        .await;
    assert!(!super::env::is(&esa, "Ready"));
    env.stop_operator().await;
    env.start_operator().await;
    env.wait_reason("fabrikam", "TokenValid", "AppDisabled")
        .await;
    assert!(holds_refresh_token(&env).await, "the grant is kept");

    // Enabled again: Ready with the same grant, no new sign-in.
    env.control(&format!("{app}/enable"), json!({})).await;
    env.wait_ready("fabrikam").await;

    // The client secret expires: reported, the grant kept; a rotated secret brings it back.
    env.stop_operator().await;
    env.control(&format!("{app}/secrets/expire"), json!({}))
        .await;
    env.start_operator().await;
    env.wait_reason("fabrikam", "TokenValid", "CredentialExpired")
        .await;
    assert!(holds_refresh_token(&env).await, "the grant is kept");
    let rotated = env
        .control(&format!("{app}/secrets/rotate"), json!({}))
        .await;
    let value = rotated["value"].as_str().unwrap().to_string();
    set_secret(
        &env,
        "email-security-app-credentials",
        json!({"client-secret": value}),
    )
    .await;
    let esa = env.wait_ready("fabrikam").await;
    assert!(esa.status.unwrap().consent.is_none());
    assert_eq!(prompts(&env), 1, "no new device-code prompt");
    let secret = grant_secret(&env).await;
    assert!(secret.data.unwrap().contains_key("refresh-token"));
    let annotations = secret.metadata.annotations.unwrap_or_default();
    assert!(
        !annotations.contains_key("exo-operator.io/grant-ended-at"),
        "{annotations:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_refresh_token_ends_the_grant_with_an_audit_and_waits_for_the_annotation() {
    let mut env = signed_in("OnAnnotation").await;
    env.stop_operator().await;
    env.control("/tenants/fabrikam.com/refresh-tokens/revoke", json!({}))
        .await;
    env.start_operator().await;
    env.wait_reason("fabrikam", "Authorized", "RegrantRequired")
        .await;

    // The grant ended: the token is gone, the audit says when and why (never the token).
    let secret = grant_secret(&env).await;
    assert!(
        !secret
            .data
            .unwrap_or_default()
            .contains_key("refresh-token")
    );
    let annotations = secret.metadata.annotations.unwrap_or_default();
    let why = annotations
        .get("exo-operator.io/grant-ended-reason")
        .cloned()
        .unwrap_or_default();
    assert!(
        why.starts_with("RefreshToken") && why.contains("AADSTS"),
        "{why}"
    );
    let at = annotations.get("exo-operator.io/grant-ended-at").unwrap();
    assert!(at.parse::<jiff::Timestamp>().is_ok(), "{at}");

    // OnAnnotation: no new prompt by itself, across looks and restarts.
    env.stop_operator().await;
    env.start_operator().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let esa = env
        .wait_reason("fabrikam", "Authorized", "RegrantRequired")
        .await;
    assert!(super::env::is(&esa, "Stalled"));
    assert_eq!(prompts(&env), 1);
    assert_eq!(
        events_once_arrived(&env, "fabrikam", "RegrantRequired", 1).await,
        1
    );

    // The annotation opens a new sign-in; the audit stays after it.
    env.merge_account(
        "fabrikam",
        json!({"metadata": {"annotations": {"exo-operator.io/regrant": "1"}}}),
    )
    .await;
    sign_in(&env).await;
    let secret = grant_secret(&env).await;
    assert!(secret.data.unwrap().contains_key("refresh-token"));
    let annotations = secret.metadata.annotations.unwrap_or_default();
    assert_eq!(
        annotations.get("exo-operator.io/grant-ended-reason"),
        Some(&why)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declined_and_expired_sign_ins_keep_their_reasons_and_each_prompt_has_its_event() {
    let env = Env::start(Env::fast()).await;
    env.apply_example("api-selected-users.yaml").await;
    let esa = env
        .wait_reason("fabrikam", "Authorized", "AwaitingSignIn")
        .await;
    let first = user_code(&esa);

    // Declined: reported as such (Automatic regrant reopens only after its delay).
    env.control(&format!("/devicecodes/{first}/decline"), json!({}))
        .await;
    env.wait_reason("fabrikam", "Authorized", "SignInDeclined")
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let esa = env
        .wait_reason("fabrikam", "Authorized", "SignInDeclined")
        .await;
    assert!(super::env::is(&esa, "Stalled"));
    assert_eq!(prompts(&env), 1, "no new prompt in silence");
    assert_eq!(
        events_once_arrived(&env, "fabrikam", "SignInDeclined", 1).await,
        1
    );

    // The annotation opens a new prompt, with its own Event naming its own code.
    let regrant = |v: &str| json!({"metadata": {"annotations": {"exo-operator.io/regrant": v}}});
    env.merge_account("fabrikam", regrant("1")).await;
    let esa = env
        .wait_account("fabrikam", "a second prompt", |e| {
            reason(e, "Authorized", "AwaitingSignIn") && user_code(e) != first
        })
        .await;
    let second = user_code(&esa);
    assert_eq!(
        events_once_arrived(&env, "fabrikam", "DeviceCodeIssued", 2).await,
        2
    );
    let events: Api<Event> = Api::default_namespaced(env.client.clone());
    let notes: Vec<String> = events
        .list(&ListParams::default().fields("involvedObject.name=fabrikam"))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some("DeviceCodeIssued"))
        .filter_map(|e| e.message)
        .collect();
    assert!(notes.iter().any(|n| n.contains(&second)), "{notes:?}");

    // Expired: reported as such, no new prompt by itself.
    env.control(&format!("/devicecodes/{second}/expire"), json!({}))
        .await;
    env.wait_reason("fabrikam", "Authorized", "SignInExpired")
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    env.wait_reason("fabrikam", "Authorized", "SignInExpired")
        .await;
    assert_eq!(prompts(&env), 2);

    // A third prompt on the annotation, and the sign-in completes.
    env.merge_account("fabrikam", regrant("2")).await;
    let esa = env
        .wait_account("fabrikam", "a third prompt", |e| {
            reason(e, "Authorized", "AwaitingSignIn") && user_code(e) != second
        })
        .await;
    env.approve(&user_code(&esa)).await;
    env.wait_ready("fabrikam").await;
    assert_eq!(prompts(&env), 3);
}

/// Waits for fabrikam's device-code prompt and signs in, as the administrator would.
async fn sign_in(env: &Env) {
    let esa = env
        .wait_reason("fabrikam", "Authorized", "AwaitingSignIn")
        .await;
    env.approve(&user_code(&esa)).await;
    env.wait_ready("fabrikam").await;
}
