//! The notification URL (`POST /graph/notifications`, README "Graph change notifications"):
//! Graph's validation handshake, notifications judged by a `clientState` derived here from
//! the document (not by the simulator's function), duplicates, lifecycle notifications,
//! malformed batches and injected faults.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde_json::json;

use super::*;

/// A tenant never registered.
const NORTHWIND: &str = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a";
/// The operator's ownership marker on the notification URL.
const MARKER: &str = "exoAccount=2a6c1f0e-3d4b-4c5a-9e8f-7a6b5c4d3e2f";

/// `clientState = base64url without padding of HMAC-SHA256(key, "exo-graph-client-state.v1."
/// + tenantId in lowercase)`, as the README says.
fn client_state(key: &[u8], tenant: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let message = format!("exo-graph-client-state.v1.{}", tenant.to_lowercase());
    URL_SAFE_NO_PAD.encode(ring::hmac::sign(&key, message.as_bytes()).as_ref())
}

/// A change notification for the message `message` of user u1 in `tenant`.
fn change(tenant: &str, client_state: Option<&str>, kind: &str, message: &str) -> Value {
    let mut n = json!({
        "id": format!("n-{message}"),
        "subscriptionId": "sub-1",
        "subscriptionExpirationDateTime": "2030-01-07T10:00:00Z",
        "changeType": kind,
        "resource": format!("Users/u1/Messages/{message}"),
        "tenantId": tenant,
        "resourceData": {
            "@odata.type": "#Microsoft.Graph.Message",
            "@odata.id": format!("Users/u1/Messages/{message}"),
            "@odata.etag": "W/\"CQAAABYAAAD\"",
            "id": message,
        },
    });
    if let Some(cs) = client_state {
        n["clientState"] = cs.into();
    }
    n
}

/// A lifecycle notification.
fn lifecycle(tenant: &str, client_state: &str, event: &str) -> Value {
    json!({"subscriptionId": "sub-1", "subscriptionExpirationDateTime": "2030-01-07T10:00:00Z",
           "tenantId": tenant, "clientState": client_state, "lifecycleEvent": event})
}

/// A raw answer: status, content type, body text.
struct Raw {
    status: u16,
    content_type: Option<String>,
    text: String,
}

/// POSTs `body` (with `content_type`) to `path_and_query` of `base`, unsigned, as Graph does.
async fn post(
    http: &reqwest::Client,
    base: &str,
    path_and_query: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Raw {
    let response = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        http.post(format!("{base}{path_and_query}"))
            .header("content-type", content_type)
            .body(body)
            .send(),
    )
    .await
    .expect("answered within 10 seconds")
    .unwrap();
    Raw {
        status: response.status().as_u16(),
        content_type: response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        text: response.text().await.unwrap(),
    }
}

impl Harness {
    /// Delivers a batch of notifications to the notification URL (with the operator's marker).
    async fn notify(&self, items: Vec<Value>) -> Raw {
        let body = serde_json::to_vec(&json!({ "value": items })).unwrap();
        post(
            &self.http,
            &self.service.url(),
            &format!("/graph/notifications?{MARKER}"),
            "application/json; charset=utf-8",
            body,
        )
        .await
    }

    /// What the service recorded of `tenant`'s notifications.
    async fn notifications(&self, tenant: &str) -> Value {
        self.read(&format!("/_sim/tenants/{tenant}/notifications"))
            .await
    }
}

/// Form-encodes a value (letters, digits and `-._~` as they are, a space as `+`, the rest
/// as `%XX`).
fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn the_handshake_echoes_the_decoded_token_as_plain_text() {
    let h = start().await;
    let token = "Validation: Testing client application reachability for subscription \
                 Request-Id: 6d1f+ab/cd=e%f&g";
    let cases = [
        (
            format!(
                "/graph/notifications?validationToken={}",
                form_encode(token)
            ),
            token.to_string(),
        ),
        // The operator's marker before it; `+` and `%20` are spaces, `%2B` a plus, `%2F` a
        // slash.
        (
            format!("/graph/notifications?{MARKER}&validationToken=a%2Fb+c%20d%2Be"),
            "a/b c d+e".to_string(),
        ),
        ("/graph/notifications?validationToken=".into(), "".into()),
    ];
    for (path, expected) in &cases {
        let a = post(&h.http, &h.service.url(), path, "text/plain", vec![]).await;
        assert_eq!(a.status, 200, "{path}: {}", a.text);
        assert_eq!(a.content_type.as_deref(), Some("text/plain"), "{path}");
        assert_eq!(&a.text, expected, "{path}");
    }
    let counters = h.read("/_sim/counters").await;
    assert_eq!(counters["notifications"]["validations"], 3);
    assert_eq!(counters["notifications"]["requests"], 3);
    assert_eq!(counters["requests"], 0, "{counters}");

    // Over plain HTTP too, as a service without TLS serves it.
    let plain = Service::start(ServiceOptions::new(SECRET)).await.unwrap();
    assert!(plain.url().starts_with("http://127.0.0.1:"));
    let a = post(
        &reqwest::Client::new(),
        &plain.url(),
        "/graph/notifications?validationToken=plain+text%21",
        "text/plain",
        vec![],
    )
    .await;
    assert_eq!((a.status, a.text.as_str()), (200, "plain text!"));
    plain.shutdown().await;
}

#[tokio::test]
async fn notifications_are_accepted_by_their_client_state_only() {
    let h = start().await;
    h.register(CONTOSO, &[]).await;
    let contoso = client_state(&h.key, CONTOSO);
    let fabrikam = client_state(&h.key, FABRIKAM);
    assert_eq!(contoso.len(), 43);
    let other_secret = client_state(b"another secret", CONTOSO);
    let a = h
        .notify(vec![
            change(CONTOSO, Some(&contoso), "created", "m1"),
            // The tenant's id in capitals: the clientState is of its lowercase form.
            change(&CONTOSO.to_uppercase(), Some(&contoso), "created", "m2"),
            change(CONTOSO, Some(&contoso), "deleted", "m3"),
            change(CONTOSO, Some(&fabrikam), "created", "m4"),
            change(CONTOSO, Some(&other_secret), "created", "m5"),
            change(CONTOSO, None, "created", "m6"),
            change(CONTOSO, Some(&format!("{contoso}=")), "created", "m7"),
            // Fabrikam is not registered: its notifications count all the same.
            change(FABRIKAM, Some(&fabrikam), "updated", "m8"),
            change("not-a-guid", Some(&contoso), "created", "m9"),
        ])
        .await;
    assert_eq!(a.status, 202);
    assert_eq!(a.text, "");

    let n = h.notifications(CONTOSO).await;
    assert_eq!(
        (
            &n["accepted"],
            &n["rejected"],
            &n["duplicates"],
            &n["lifecycle"]
        ),
        (&json!(3), &json!(4), &json!(0), &json!(0)),
        "{n}"
    );
    assert_eq!(n["byChangeType"], json!({"created": 2, "deleted": 1}));
    assert_eq!(
        n["recent"],
        json!([
            {"subscriptionId": "sub-1", "changeType": "created", "resource": "Users/u1/Messages/m1", "messageId": "m1"},
            {"subscriptionId": "sub-1", "changeType": "created", "resource": "Users/u1/Messages/m2", "messageId": "m2"},
            {"subscriptionId": "sub-1", "changeType": "deleted", "resource": "Users/u1/Messages/m3", "messageId": "m3"},
        ])
    );
    let f = h.notifications(&FABRIKAM.to_uppercase()).await;
    assert_eq!(f["accepted"], 1);
    assert_eq!(f["byChangeType"], json!({"updated": 1}));
    // A tenant never heard of: zeros, not 404.
    assert_eq!(
        h.notifications(NORTHWIND).await,
        json!({"accepted": 0, "rejected": 0, "duplicates": 0, "lifecycle": 0,
               "byChangeType": {}, "recent": []})
    );

    // The counters: per tenant (registered) and service-wide.
    let mine = h.read(&format!("/_sim/tenants/{CONTOSO}/counters")).await;
    assert_eq!(
        mine["notifications"],
        json!({"accepted": 3, "rejected": 4, "duplicates": 0, "lifecycle": 0,
               "byChangeType": {"created": 2, "deleted": 1}})
    );
    let all = h.read("/_sim/counters").await;
    assert_eq!(
        all["notifications"],
        json!({"requests": 1, "validations": 0, "malformed": 0, "accepted": 4,
               "rejected": 5, "duplicates": 0, "lifecycle": 0})
    );
    assert_eq!(all["tenants"][FABRIKAM]["notifications"]["accepted"], 1);
    // Nothing of the stream moved, and no signature was asked for.
    assert_eq!(all["signatureRefused"], 0);
    assert_eq!(h.cursor(CONTOSO).await.body["watermark"], 0);
}

#[tokio::test]
async fn repeats_are_duplicates_and_lifecycle_notifications_are_counted() {
    let h = start().await;
    let cs = client_state(&h.key, CONTOSO);
    let batch = vec![
        change(CONTOSO, Some(&cs), "created", "m1"),
        change(CONTOSO, Some(&cs), "created", "m1"),
        change(CONTOSO, Some(&cs), "updated", "m1"),
        lifecycle(CONTOSO, &cs, "missed"),
        lifecycle(CONTOSO, &cs, "reauthorizationRequired"),
        lifecycle(CONTOSO, "wrong", "subscriptionRemoved"),
    ];
    assert_eq!(h.notify(batch.clone()).await.status, 202);
    // Graph retries the whole batch (its answer was lost).
    assert_eq!(h.notify(batch[..3].to_vec()).await.status, 202);
    let n = h.notifications(CONTOSO).await;
    assert_eq!(n["accepted"], 2, "{n}");
    assert_eq!(n["duplicates"], 4, "{n}");
    assert_eq!(n["lifecycle"], 2, "{n}");
    assert_eq!(n["rejected"], 1, "{n}");
    assert_eq!(n["byChangeType"], json!({"created": 1, "updated": 1}));
    assert_eq!(n["recent"].as_array().unwrap().len(), 2);

    // A restart forgets them (memory only).
    h.control(Method::POST, "/_sim/restart", None).await;
    assert_eq!(h.notifications(CONTOSO).await["accepted"], 0);
}

#[tokio::test]
async fn a_body_that_is_not_a_batch_is_400() {
    let h = start().await;
    for body in [
        &b"{not json"[..],
        b"",
        br#"{"value": 3}"#,
        br#"{"values": []}"#,
        br#"[]"#,
    ] {
        let a = post(
            &h.http,
            &h.service.url(),
            "/graph/notifications",
            "application/json",
            body.to_vec(),
        )
        .await;
        assert_eq!(a.status, 400, "{}", String::from_utf8_lossy(body));
        assert_eq!(a.content_type.as_deref(), Some("application/problem+json"));
        let problem: Value = serde_json::from_str(&a.text).unwrap();
        assert_eq!(
            problem["type"],
            "https://exo-operator.io/problems/delivery/malformed"
        );
    }
    // An empty batch, and items that are not notifications, are still 202.
    assert_eq!(h.notify(vec![]).await.status, 202);
    assert_eq!(h.notify(vec![json!(1), json!("x")]).await.status, 202);
    let counters = h.read("/_sim/counters").await;
    assert_eq!(counters["notifications"]["malformed"], 5);
    assert_eq!(counters["notifications"]["rejected"], 2);
    // Only POST.
    let a = h
        .control(Method::GET, "/graph/notifications?validationToken=x", None)
        .await;
    assert_problem(&a, 405, "method-not-allowed");
}

#[tokio::test]
async fn faults_reach_the_notification_url_only_by_its_path() {
    let h = start().await;
    let cs = client_state(&h.key, CONTOSO);
    let add = |fault: Value| h.control(Method::POST, "/_sim/faults", Some(fault));
    // A fault without a path fails the stream's routes, not Graph's notifications.
    assert_eq!(add(json!({"status": 500})).await.status, 200);
    assert_eq!(
        h.notify(vec![change(CONTOSO, Some(&cs), "created", "m0")])
            .await
            .status,
        202
    );
    assert_eq!(h.cursor(CONTOSO).await.status, 500);
    h.control(Method::DELETE, "/_sim/faults", None).await;

    // The next two notification requests answer 503 (nothing recorded), then 202 again.
    let fault =
        json!({"status": 503, "retryAfter": 1, "count": 2, "path": "^POST /graph/notifications$"});
    assert_eq!(add(fault).await.status, 200);
    for _ in 0..2 {
        let a = h
            .notify(vec![change(CONTOSO, Some(&cs), "created", "m1")])
            .await;
        assert_eq!(a.status, 503);
    }
    assert_eq!(h.notifications(CONTOSO).await["accepted"], 1);
    let a = h
        .notify(vec![change(CONTOSO, Some(&cs), "created", "m1")])
        .await;
    assert_eq!(a.status, 202);
    assert_eq!(h.notifications(CONTOSO).await["accepted"], 2);
    // The handshake fails the same way while a fault is in force.
    add(json!({"status": 503, "count": 1, "path": "/graph/notifications"})).await;
    let path = "/graph/notifications?validationToken=t";
    let a = post(&h.http, &h.service.url(), path, "text/plain", vec![]).await;
    assert_eq!(a.status, 503);
    let a = post(&h.http, &h.service.url(), path, "text/plain", vec![]).await;
    assert_eq!((a.status, a.text.as_str()), (200, "t"));
    let counters = h.read("/_sim/counters").await;
    assert_eq!(counters["faultsInjected"], 4, "{counters}");
    assert_eq!(counters["notifications"]["requests"], 6, "{counters}");
}
