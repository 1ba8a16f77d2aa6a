//! The email-security service simulator over loopback HTTPS, driven by a client written here
//! from the protocol document (`docs/protocol/`): its own Standard Webhooks signing, its own
//! JSON. The protocol's flows (`protocol`), signatures (`signatures`), durability and faults
//! (`durability`), the control API (`control`), Graph's notifications at the notification
//! URL (`notifications`), mailbox catch-ups (`catch_ups`) and the document itself
//! (`document`).

mod catch_ups;
mod control;
mod document;
mod durability;
mod notifications;
mod protocol;
mod signatures;

use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use exo_sim_service::{Service, ServiceOptions};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

/// The shared secret of most tests.
const SECRET: &str = "s3cret-ingestion-credential";
/// Contoso's tenant id.
const CONTOSO: &str = "5b1c6e8a-2f4d-4a7b-9c3e-1d2f3a4b5c6d";
/// Another tenant.
const FABRIKAM: &str = "0c9a7f3e-1b2d-4e5f-8a6b-7c8d9e0f1a2b";

/// A running service and a client that trusts its CA.
struct Harness {
    service: Service,
    http: reqwest::Client,
    /// The key the client signs with.
    key: Vec<u8>,
}

/// The answer: status, headers, JSON body (`Null` when not JSON).
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    /// The header `name`, as text.
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The key of a secret as Standard Webhooks derives it (written here, not borrowed).
fn key_of(secret: &str) -> Vec<u8> {
    match secret.strip_prefix("whsec_") {
        Some(rest) => STANDARD.decode(rest).unwrap(),
        None => secret.as_bytes().to_vec(),
    }
}

/// `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.
fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let mut content = format!("{id}.{timestamp}.").into_bytes();
    content.extend_from_slice(body);
    format!(
        "v1,{}",
        STANDARD.encode(ring::hmac::sign(&key, &content).as_ref())
    )
}

/// Unix seconds now.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A new message id.
fn new_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "msg_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A service over TLS with `opts` (the secret `SECRET` unless set).
async fn start_with(opts: ServiceOptions) -> Harness {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let key = key_of(&opts.secret);
    let service = Service::start(ServiceOptions { tls: true, ..opts })
        .await
        .unwrap();
    assert!(service.url().starts_with("https://127.0.0.1:"));
    let ca = service.ca_pem().unwrap();
    let http = reqwest::Client::builder()
        .tls_certs_merge(reqwest::Certificate::from_pem_bundle(ca.as_bytes()).unwrap())
        .build()
        .unwrap();
    Harness { service, http, key }
}

/// A memory-only service with `SECRET`.
async fn start() -> Harness {
    start_with(ServiceOptions::new(SECRET)).await
}

/// A request as sent, for tests that tamper with it.
struct Outgoing<'a> {
    method: Method,
    path: &'a str,
    body: Vec<u8>,
    id: String,
    timestamp: i64,
    signature: Option<String>,
}

impl Harness {
    /// The service's URL of `path`.
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.service.url())
    }

    /// A request of `method` to `path` with a JSON `body` (none: empty), signed now with a
    /// new id.
    fn outgoing<'a>(&self, method: Method, path: &'a str, body: Option<&Value>) -> Outgoing<'a> {
        let body = body
            .map(|b| serde_json::to_vec(b).unwrap())
            .unwrap_or_default();
        let (id, timestamp) = (new_id(), now());
        let signature = Some(sign(&self.key, &id, timestamp, &body));
        Outgoing {
            method,
            path,
            body,
            id,
            timestamp,
            signature,
        }
    }

    /// Sends a request as it is.
    async fn send_raw(&self, out: Outgoing<'_>) -> Answer {
        let mut request = self
            .http
            .request(out.method, self.url(out.path))
            .header("webhook-id", &out.id)
            .header("webhook-timestamp", out.timestamp.to_string());
        if let Some(signature) = &out.signature {
            request = request.header("webhook-signature", signature);
        }
        if !out.body.is_empty() {
            request = request
                .header("content-type", "application/json")
                .body(out.body);
        }
        answer(request.send().await.unwrap()).await
    }

    /// Sends a signed request.
    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let out = self.outgoing(method, path, body.as_ref());
        self.send_raw(out).await
    }

    /// Registers `tenant` in Api mode, scope All, with `policies`.
    async fn register(&self, tenant: &str, policies: &[&str]) -> Answer {
        let body = json!({
            "tenantId": tenant, "cloud": "Global", "mode": "Api", "scope": "All",
            "verifiedDomains": ["contoso.com"], "policies": policies,
        });
        self.send(Method::PUT, &format!("/v1/tenants/{tenant}"), Some(body))
            .await
    }

    /// Delivers `delivery` for `tenant` under a new id.
    async fn deliver(&self, tenant: &str, delivery: Value) -> Answer {
        self.send(
            Method::POST,
            &format!("/v1/tenants/{tenant}/deliveries"),
            Some(delivery),
        )
        .await
    }

    /// Delivers `delivery` for `tenant` under the id `id`.
    async fn deliver_as(&self, tenant: &str, id: &str, delivery: Value) -> Answer {
        let path = format!("/v1/tenants/{tenant}/deliveries");
        let mut out = self.outgoing(Method::POST, &path, Some(&delivery));
        out.id = id.to_string();
        out.signature = Some(sign(&self.key, id, out.timestamp, &out.body));
        self.send_raw(out).await
    }

    /// The cursor of `tenant`.
    async fn cursor(&self, tenant: &str) -> Answer {
        self.send(Method::GET, &format!("/v1/tenants/{tenant}/cursor"), None)
            .await
    }

    /// A control request (unsigned).
    async fn control(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = self.http.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request.send().await.unwrap()).await
    }

    /// `GET` a control path, expecting 200.
    async fn read(&self, path: &str) -> Value {
        let a = self.control(Method::GET, path, None).await;
        assert_eq!(a.status, 200, "{path}: {}", a.body);
        a.body
    }
}

/// Reads a response.
async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

/// A user of the directory.
fn user(id: &str) -> Value {
    json!({"id": id, "userPrincipalName": format!("{id}@contoso.com"), "mail": format!("{id}@contoso.com"),
           "displayName": id.to_uppercase(), "accountEnabled": true})
}

/// The ids of a list of objects.
fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect()
}

/// Asserts a problem answer: status, content type and the `type`'s last segment.
fn assert_problem(a: &Answer, status: u16, kind: &str) {
    assert_eq!(a.status, status, "{}", a.body);
    assert_eq!(a.header("content-type"), Some("application/problem+json"));
    assert_eq!(
        a.body["type"],
        format!("https://exo-operator.io/problems/delivery/{kind}"),
        "{}",
        a.body
    );
    assert_eq!(a.body["status"], status);
    assert!(a.body["title"].is_string() && a.body["detail"].is_string());
}
