//! The identity client against a stand-in token endpoint: the forms it sends, how failures
//! are classified, and the device-code flow.

use super::*;
use crate::microsoft::http::RetryPolicy;
use crate::microsoft::retry::Backoff;
use exo_api::exchange_service_account::Cloud;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use axum::response::IntoResponse;

type Seen = Arc<Mutex<Vec<HashMap<String, String>>>>;
type Reply = (u16, Vec<(&'static str, &'static str)>, String);
type Respond = fn(usize, &HashMap<String, String>) -> Reply;

/// A token endpoint that records each form and answers with `respond(n, form)`.
async fn endpoint(respond: Respond) -> (Endpoints, Seen) {
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().fallback(move |body: String| {
        let log = log.clone();
        async move {
            let form: HashMap<String, String> = serde_urlencoded::from_str(&body).unwrap();
            let n = {
                let mut l = log.lock().unwrap();
                l.push(form.clone());
                l.len()
            };
            let (status, headers, body) = respond(n, &form);
            let mut response = (StatusCode::from_u16(status).unwrap(), body).into_response();
            response
                .headers_mut()
                .insert("content-type", "application/json".parse().unwrap());
            for (k, v) in headers {
                response.headers_mut().insert(k, v.parse().unwrap());
            }
            response
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let mut e = Endpoints::resolve(Cloud::Global, None);
    e.login = url;
    (e, seen)
}

fn client(e: &Endpoints) -> IdentityClient {
    let policy = RetryPolicy {
        max_attempts: 2,
        backoff: Backoff {
            base: Duration::from_millis(1),
            max: Duration::from_millis(2),
        },
        max_wait: Duration::from_millis(50),
        ..RetryPolicy::default()
    };
    IdentityClient::new(
        HttpClient::new(None, policy).unwrap(),
        e,
        "contoso.com",
        "app-id",
    )
    .unwrap()
}

fn secret() -> ClientCredential {
    ClientCredential::Secret(SecretString::from("s3cr3t".to_string()))
}

fn token_json(claims: &str, refresh: Option<&str>) -> String {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let jwt = format!("{}.{}.sig", b64(r#"{"alg":"RS256"}"#), b64(claims));
    let mut v =
        serde_json::json!({"token_type": "Bearer", "expires_in": 3599, "access_token": jwt});
    if let Some(r) = refresh {
        v["refresh_token"] = r.into();
    }
    v.to_string()
}

const GRAPH: &str = "https://graph.microsoft.com/.default";

#[tokio::test]
async fn client_secret_grant_sends_the_form_microsoft_expects() {
    let (e, seen) = endpoint(|_, _| {
        (
            200,
            vec![],
            token_json(r#"{"roles":["User.Read.All"],"tid":"t"}"#, None),
        )
    })
    .await;
    let token = client(&e).app_token(&secret(), GRAPH).await.unwrap();
    assert_eq!(token.claims.roles, ["User.Read.All"]);
    let form = &seen.lock().unwrap()[0];
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["client_id"], "app-id");
    assert_eq!(form["client_secret"], "s3cr3t");
    assert_eq!(form["scope"], GRAPH);
}

#[tokio::test]
async fn certificate_grant_sends_a_client_assertion_for_the_token_url() {
    let (e, seen) = endpoint(|_, _| (200, vec![], token_json("{}", None))).await;
    let cert = credential::CertificateCredential::from_pem(
        include_bytes!("../../../tests/fixtures/app-cert.pem"),
        include_bytes!("../../../tests/fixtures/app-key.pem"),
    )
    .unwrap();
    let c = client(&e);
    c.app_token(&ClientCredential::Certificate(cert), GRAPH)
        .await
        .unwrap();
    let form = &seen.lock().unwrap()[0];
    assert!(!form.contains_key("client_secret"));
    assert_eq!(form["client_assertion_type"], assertion::ASSERTION_TYPE);
    let claims = token::TokenClaims::decode_unverified(&form["client_assertion"]);
    assert!(claims.is_some());
    assert!(c.token_url().ends_with("/contoso.com/oauth2/v2.0/token"));
}

#[tokio::test]
async fn identity_errors_are_classified_without_microsofts_text() {
    let (e, _) = endpoint(|_, _| {
        (
            401,
            vec![],
            r#"{"error":"invalid_client","error_description":"AADSTS7000222: The provided client secret keys for app 'x' are expired. Trace ID: 1","error_codes":[7000222],"trace_id":"tr-1"}"#.into(),
        )
    })
    .await;
    let err = client(&e).app_token(&secret(), GRAPH).await.unwrap_err();
    assert_eq!(err.failure, TokenFailure::CredentialExpired);
    assert_eq!(err.code, Some(7000222));
    assert_eq!(err.trace_id.as_deref(), Some("tr-1"));
    let text = err.to_string();
    assert!(
        text.contains("AADSTS7000222") && !text.contains("provided client secret keys"),
        "{text}"
    );
}

#[tokio::test]
async fn persistent_throttling_keeps_the_retry_after() {
    let (e, seen) = endpoint(|_, _| (429, vec![("retry-after", "120")], "{}".into())).await;
    let err = client(&e).app_token(&secret(), GRAPH).await.unwrap_err();
    assert_eq!(err.failure, TokenFailure::Throttled);
    assert_eq!(err.retry_after, Some(Duration::from_secs(120)));
    // A Retry-After longer than the client may wait is left to the caller at once.
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn refresh_returns_the_rotated_refresh_token() {
    let (e, seen) = endpoint(|_, _| (200, vec![], token_json("{}", Some("rt-2")))).await;
    let tokens = client(&e)
        .refresh(None, &SecretString::from("rt-1".to_string()), GRAPH)
        .await
        .unwrap();
    assert_eq!(tokens.refresh_token.unwrap().expose_secret(), "rt-2");
    let form = &seen.lock().unwrap()[0];
    assert_eq!(form["grant_type"], "refresh_token");
    assert_eq!(form["refresh_token"], "rt-1");
    assert_eq!(form["scope"], format!("{GRAPH} offline_access"));
}

#[tokio::test]
async fn device_code_prompt_then_pending_then_granted() {
    let (e, seen) = endpoint(|n, form| match n {
        1 => (
            200,
            vec![],
            serde_json::json!({
                "device_code": "dc-1", "user_code": "ABCD-EFGH",
                "verification_uri": "https://microsoft.com/devicelogin",
                "expires_in": 900, "interval": 5, "message": "To sign in..."
            })
            .to_string(),
        ),
        2 => (
            400,
            vec![],
            r#"{"error":"authorization_pending","error_codes":[70016]}"#.into(),
        ),
        _ => {
            assert_eq!(form["device_code"], "dc-1");
            (
                200,
                vec![],
                token_json(r#"{"scp":"User.Read.All"}"#, Some("rt-1")),
            )
        }
    })
    .await;
    let c = client(&e);
    let prompt = c.start_device_code(None, GRAPH).await.unwrap();
    assert_eq!(prompt.user_code, "ABCD-EFGH");
    assert_eq!(prompt.interval(), Duration::from_secs(5));
    assert!(matches!(
        c.poll_device_code(None, &prompt).await,
        PollOutcome::Pending
    ));
    match c.poll_device_code(None, &prompt).await {
        PollOutcome::Granted(t) => {
            assert_eq!(t.access.claims.scopes(), ["User.Read.All"]);
            assert!(t.refresh_token.is_some());
        }
        other => panic!("{other:?}"),
    }
    let forms = seen.lock().unwrap();
    assert_eq!(forms[0]["scope"], format!("{GRAPH} offline_access"));
    assert_eq!(forms[1]["grant_type"], device_code::GRANT_TYPE);
}
