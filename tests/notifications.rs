//! Notifications through real servers on loopback: e-mail through an SMTP server process,
//! webhooks through an HTTP listener.

#[path = "support/smtp.rs"]
mod smtp;

use std::time::Duration;

use exo_operator::microsoft::http::{HttpClient, RetryPolicy};
use exo_operator::notify::{Notice, NoticeKind, Notifier, SmtpSettings, SmtpTls};

fn notice(kind: NoticeKind) -> Notice {
    Notice {
        kind,
        account: "tenants/contoso".into(),
        tenant: "contoso.com".into(),
        reason: "RefreshTokenRevoked".into(),
        message: "A Global Administrator must sign in again.".into(),
        time: "2026-11-22T10:00:00Z".into(),
    }
}

fn notifier() -> Notifier {
    Notifier::new(HttpClient::new(None, RetryPolicy::default()).unwrap())
}

#[tokio::test]
async fn e_mail_reaches_every_recipient_through_a_real_smtp_server() {
    let server = smtp::SmtpServer::start();
    let settings = SmtpSettings {
        host: "127.0.0.1".into(),
        port: server.port,
        username: None,
        password: None,
        from: "exo-operator@example.com".into(),
        tls: SmtpTls::None,
    };
    let recipients = vec![
        "admin1@contoso.com".to_string(),
        "admin2@contoso.com".to_string(),
    ];
    notifier()
        .email(&settings, &recipients, &notice(NoticeKind::TokenInvalid))
        .await
        .unwrap();
    let messages = server.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(messages.len(), 1, "one message for both recipients");
    let m = &messages[0];
    assert!(
        m.contains("admin1@contoso.com") && m.contains("admin2@contoso.com"),
        "{m}"
    );
    assert!(
        m.contains("Subject: [exo-operator] Access to tenant contoso.com is no longer valid"),
        "{m}"
    );
    assert!(m.contains("tenants/contoso"), "{m}");
}

#[tokio::test]
async fn an_unreachable_relay_is_reported_without_panicking() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let settings = SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        username: None,
        password: None,
        from: "exo-operator@example.com".into(),
        tls: SmtpTls::None,
    };
    let err = notifier()
        .email(
            &settings,
            &["a@contoso.com".to_string()],
            &notice(NoticeKind::TokenRecovered),
        )
        .await
        .unwrap_err();
    assert!(err.contains(&port.to_string()), "{err}");
}

#[tokio::test]
async fn webhooks_receive_the_notice_as_json_without_secrets() {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<serde_json::Value>(4);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(body): axum::Json<serde_json::Value>| {
            let tx = tx.clone();
            async move {
                tx.send(body).await.unwrap();
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/hook?token=s3cr3t",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    notifier()
        .webhook(&url, &notice(NoticeKind::TokenInvalid))
        .await
        .unwrap();
    let body = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(body["kind"], "TokenInvalid");
    assert_eq!(body["reason"], "RefreshTokenRevoked");
    assert!(!body.to_string().contains("s3cr3t"));
}
