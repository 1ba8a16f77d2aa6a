//! Notification channels: each failure is its own Warning Event (`WebhookFailed`,
//! `EmailFailed`) naming the class of the failure, never a URL's secret; a plain-http webhook
//! off loopback is refused, naming the Secret and key.

use serde_json::json;

use super::env::Env;
use super::{events_once_arrived, set_secret};

/// A loopback webhook that answers HTTP 500 to every POST; its URL.
async fn failing_webhook() -> String {
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(|| async { (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "no") }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// contoso Ready with its webhook URL `hook` and, with `smtp_port`, e-mail through a relay on
/// loopback at that port; then consent is revoked, so the token turns invalid and both
/// channels are used.
async fn notify_with(hook: &str, smtp_port: Option<u16>) -> Env {
    let env = Env::start(Env::short_tokens(3)).await;
    env.consent("contoso.com").await;
    env.apply_example("api-all-users.yaml").await;
    set_secret(&env, "contoso-alert-webhook", json!({"url": hook})).await;
    if let Some(port) = smtp_port {
        env.create(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "relay"},
            "stringData": {"host": "127.0.0.1", "port": port.to_string(), "from": "exo@example.com", "tls": "none"}}))
            .await;
        env.merge_account(
            "contoso",
            json!({"spec": {"notifications": {"email": {"recipients": ["ops@contoso.com"], "smtpSecretName": "relay"}}}}),
        )
        .await;
    }
    env.wait_ready("contoso").await;
    super::revoke_contoso_consent(&env).await;
    env
}

/// The notes of contoso's Events with `reason`.
async fn notes(env: &Env, reason: &str) -> Vec<String> {
    env.event_messages("contoso", reason).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_failing_channel_has_its_own_event_naming_its_failure() {
    let hook = failing_webhook().await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let env = notify_with(&format!("{hook}?token=hook-secret"), Some(closed)).await;
    assert_eq!(
        events_once_arrived(&env, "contoso", "WebhookFailed", 1).await,
        1
    );
    assert_eq!(
        events_once_arrived(&env, "contoso", "EmailFailed", 1).await,
        1
    );
    let webhook = notes(&env, "WebhookFailed").await.join("\n");
    assert!(webhook.contains("HTTP 500"), "{webhook}");
    assert!(
        !webhook.contains("hook-secret") && !webhook.contains("/hook"),
        "{webhook}"
    );
    let email = notes(&env, "EmailFailed").await.join("\n");
    assert!(email.contains("connection refused"), "{email}");
    assert_eq!(
        super::count_events(&env, "contoso", "NotificationFailed").await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_http_webhook_off_loopback_is_refused_naming_the_secret_and_key() {
    let env = notify_with(
        "http://hooks.example.com/services/T0/B0/s3cr3t?token=x",
        None,
    )
    .await;
    assert_eq!(
        events_once_arrived(&env, "contoso", "WebhookFailed", 1).await,
        1
    );
    let note = notes(&env, "WebhookFailed").await.join("\n");
    assert!(
        note.contains("contoso-alert-webhook")
            && note.contains("\"url\"")
            && note.contains("https"),
        "{note}"
    );
    assert!(
        !note.contains("s3cr3t") && !note.contains("hooks.example.com"),
        "{note}"
    );
}
