//! The Microsoft 365 simulator's Graph change-notification subscriptions on Outlook messages
//! (Learn: "Create subscription", "Receive change notifications through webhooks", "Reduce
//! missing subscriptions and change notifications", "Outlook change notifications overview"):
//! creation with the validation handshake against a subscriber served on loopback, every
//! validation error, paging, renewal, reauthorization, deletion, expiry on the simulated clock,
//! the per-mailbox limit, throttling, consent revoked, messages notifying their subscriptions,
//! lifecycle events on demand, and the counters. Only 127.0.0.1, with bounded waits.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use exo_sim_m365::tenants::{DEMO_CLIENT_ID, DEMO_SECRET};
use exo_sim_m365::{SimOptions, Simulator};
use serde_json::{Value, json};

const CONTOSO: &str = "contoso.onmicrosoft.com";
const CONTOSO_ID: &str = "5b1c6e8a-2f4d-4a7b-9c3e-1d2f3a4b5c6d";
const WOODGROVE: &str = "woodgrove.onmicrosoft.com";
const GRAPH: &str = "https://graph.microsoft.com/.default";
const HANDSHAKE_FAILED: &str = "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.";

/// How a subscriber answers validation requests.
#[derive(Clone, Copy, PartialEq)]
enum Validation {
    /// 200 with the decoded token.
    Echo,
    /// 200 with another body.
    Wrong,
}

/// What a subscriber received and how it answers.
struct HookState {
    validation: Validation,
    /// The status of its answers to notifications.
    status: u16,
    /// Validation requests: (path and query, content type, decoded token, body).
    validations: Vec<(String, String, String, String)>,
    /// Notifications: (path and query, content type, body).
    notifications: Vec<(String, String, Value)>,
}

/// A subscriber's endpoint on 127.0.0.1 (any path).
#[derive(Clone)]
struct Hook {
    url: String,
    state: Arc<Mutex<HookState>>,
}

async fn hook_handler(
    State(state): State<Arc<Mutex<HookState>>>,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let target = uri.to_string();
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(uri.query().unwrap_or("")).unwrap_or_default();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut s = state.lock().unwrap();
    if let Some((_, token)) = query.iter().find(|(k, _)| k == "validationToken") {
        s.validations
            .push((target, content_type, token.clone(), body));
        let answer = match s.validation {
            Validation::Echo => token.clone(),
            Validation::Wrong => "not the token".to_string(),
        };
        return (StatusCode::OK, [("content-type", "text/plain")], answer).into_response();
    }
    let value = serde_json::from_str(&body).unwrap_or(Value::Null);
    s.notifications.push((target, content_type, value));
    StatusCode::from_u16(s.status).unwrap().into_response()
}

impl Hook {
    /// A subscriber that echoes validation tokens and acknowledges with 202.
    async fn start() -> Hook {
        let state = Arc::new(Mutex::new(HookState {
            validation: Validation::Echo,
            status: 202,
            validations: Vec::new(),
            notifications: Vec::new(),
        }));
        let app = axum::Router::new()
            .fallback(hook_handler)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Hook { url, state }
    }

    fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    fn set(&self, f: impl FnOnce(&mut HookState)) {
        f(&mut self.state.lock().unwrap())
    }

    fn notifications(&self) -> Vec<(String, String, Value)> {
        self.state.lock().unwrap().notifications.clone()
    }

    fn validations(&self) -> Vec<(String, String, String, String)> {
        self.state.lock().unwrap().validations.clone()
    }

    /// Waits (at most 10 s) until `n` notifications have arrived; all of them.
    async fn wait_for(&self, n: usize) -> Vec<(String, String, Value)> {
        for _ in 0..500 {
            let got = self.notifications();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "{n} notifications did not arrive: {:?}",
            self.notifications()
        );
    }
}

/// A simulator of the demo world and a client.
struct Env {
    sim: Simulator,
    http: reqwest::Client,
}

impl Env {
    async fn start() -> Env {
        Env {
            sim: Simulator::start(SimOptions::default()).await.unwrap(),
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.url())
    }

    /// A control request: (status, body).
    async fn control(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = self
            .http
            .request(method, self.url(&format!("/_sim{path}")))
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// A control request that must succeed.
    async fn ok(&self, method: &str, path: &str, body: Value) -> Value {
        let (status, answer) = self.control(method, path, body).await;
        assert_eq!(status, 200, "{path}: {answer}");
        answer
    }

    /// Consents in `tenant` (all the demo app's permissions), then its Graph token.
    async fn token(&self, tenant: &str) -> String {
        self.ok(
            "POST",
            &format!("/tenants/{tenant}/consent"),
            json!({"clientId": DEMO_CLIENT_ID}),
        )
        .await;
        let r = self
            .http
            .post(self.url(&format!("/{tenant}/oauth2/v2.0/token")))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", DEMO_CLIENT_ID),
                ("client_secret", DEMO_SECRET),
                ("scope", GRAPH),
            ])
            .send()
            .await
            .unwrap();
        let body: Value = r.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_string()
    }

    /// A Graph request under `/v1.0`: (status, Retry-After, body or null).
    async fn graph_full(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Option<String>, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            self.url(&format!("/v1.0{path}"))
        };
        let mut r = self.http.request(method, url).bearer_auth(token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        let retry_after = r
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        (
            r.status().as_u16(),
            retry_after,
            r.json().await.unwrap_or(Value::Null),
        )
    }

    async fn graph(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let (status, _, body) = self.graph_full(token, method, path, body).await;
        (status, body)
    }

    /// The simulator's time, `minutes` ahead, RFC 3339.
    async fn in_minutes(&self, minutes: i64) -> String {
        let state = self.ok("GET", "/state", json!({})).await;
        let now: jiff::Timestamp = state["now"].as_str().unwrap().parse().unwrap();
        (now + jiff::SignedDuration::from_mins(minutes)).to_string()
    }

    /// POSTs a subscription: (status, body).
    async fn subscribe(&self, token: &str, body: Value) -> (u16, Value) {
        self.graph(token, "POST", "/subscriptions", Some(body))
            .await
    }

    /// A valid subscription body on `resource` notifying `hook`.
    async fn body(&self, hook: &Hook, resource: &str) -> Value {
        json!({
            "changeType": "created",
            "notificationUrl": hook.at("/notify?tenant=contoso"),
            "resource": resource,
            "expirationDateTime": self.in_minutes(60 * 24).await,
            "clientState": "secret-state",
        })
    }

    /// Creates a subscription that must succeed; its id.
    async fn create(&self, token: &str, body: Value) -> String {
        let (status, answer) = self.subscribe(token, body).await;
        assert_eq!(status, 201, "{answer}");
        answer["id"].as_str().unwrap().to_string()
    }

    /// The tenant's subscriptions as the control API shows them.
    async fn all(&self, tenant: &str) -> Vec<Value> {
        let v = self
            .ok(
                "GET",
                &format!("/tenants/{tenant}/subscriptions"),
                json!({}),
            )
            .await;
        v["value"].as_array().unwrap().clone()
    }

    /// A message arriving in `upn`'s `folder`: the control answer.
    async fn message(&self, upn: &str, folder: &str) -> Value {
        self.ok(
            "POST",
            &format!("/tenants/{CONTOSO}/users/{upn}/messages"),
            json!({"folder": folder, "subject": "hello"}),
        )
        .await
    }

    /// The counter `name` exactly (0 when absent).
    fn counter(&self, name: &str) -> u64 {
        self.sim.counters().get(name).copied().unwrap_or(0)
    }
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

fn message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or("")
}

#[tokio::test]
async fn creation_validates_and_handshakes() {
    let env = Env::start().await;
    let hook = Hook::start().await;
    let token = env.token(CONTOSO).await;
    let inbox = "users/ada@contoso.com/mailFolders('Inbox')/messages";
    let mut body = env.body(&hook, inbox).await;
    body["lifecycleNotificationUrl"] = json!(hook.at("/lifecycle"));
    // Asked for 10 minutes: raised to 45.
    body["expirationDateTime"] = json!(env.in_minutes(10).await);
    let (status, s) = env.subscribe(&token, body).await;
    assert_eq!(status, 201, "{s}");
    assert_eq!(s["resource"], inbox, "stored as given");
    assert_eq!(s["applicationId"], DEMO_CLIENT_ID);
    assert_eq!(s["clientState"], "secret-state");
    assert_eq!(s["includeResourceData"], false);
    assert_eq!(s["latestSupportedTlsVersion"], "v1_2");
    for null in [
        "encryptionCertificate",
        "encryptionCertificateId",
        "notificationUrlAppId",
        "notificationQueryOptions",
    ] {
        assert_eq!(s[null], Value::Null, "{null}");
    }
    assert!(s["creatorId"].as_str().is_some_and(|c| c.len() == 36));
    assert!(
        s["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("/v1.0/$metadata#subscriptions/$entity")
    );
    let expires: jiff::Timestamp = s["expirationDateTime"].as_str().unwrap().parse().unwrap();
    let floor: jiff::Timestamp = env.in_minutes(44).await.parse().unwrap();
    assert!(expires > floor, "raised to 45 minutes: {expires}");
    // Both URLs were validated: POST, text/plain, empty body, the URL's query kept.
    let v = hook.validations();
    assert_eq!(v.len(), 2);
    assert!(
        v[0].0
            .starts_with("/notify?tenant=contoso&validationToken=")
    );
    assert!(
        v[0].0.contains("%20"),
        "the token is URL-encoded: {}",
        v[0].0
    );
    assert!(v[0].2.contains(' '), "and decoded by the subscriber");
    assert_eq!((v[0].1.as_str(), v[0].3.as_str()), ("text/plain", ""));
    assert!(v[1].0.starts_with("/lifecycle?validationToken="));
    assert_eq!(env.counter("subscriptions handshakes"), 2);

    // A subscriber that does not echo the token: 400, nothing created.
    hook.set(|h| h.validation = Validation::Wrong);
    let (status, e) = env.subscribe(&token, env.body(&hook, inbox).await).await;
    assert_eq!(
        (status, code(&e), message(&e)),
        (400, "ValidationError", HANDSHAKE_FAILED)
    );
    let unreachable = json!({"changeType": "created", "resource": inbox,
        "notificationUrl": "http://127.0.0.1:9/closed", "expirationDateTime": env.in_minutes(60).await});
    let (status, e) = env.subscribe(&token, unreachable).await;
    assert_eq!((status, code(&e)), (400, "ValidationError"));
    assert_eq!(env.all(CONTOSO).await.len(), 1);
    assert_eq!(env.counter("subscriptions handshakes failed"), 2);
    hook.set(|h| h.validation = Validation::Echo);

    // Every property is checked, and the message names what is wrong.
    let base = env.body(&hook, inbox).await;
    let with = |key: &str, value: Value| {
        let mut b = base.clone();
        b[key] = value;
        b
    };
    let without = |key: &str| {
        let mut b = base.clone();
        b.as_object_mut().unwrap().remove(key);
        b
    };
    let cases = [
        (
            with("resource", json!("users/ada@contoso.com/events")),
            "resource",
        ),
        (
            with(
                "resource",
                json!("users/ada@contoso.com/mailFolders('drafts')/messages"),
            ),
            "resource",
        ),
        (without("resource"), "resource"),
        (with("changeType", json!("created,created")), "changeType"),
        (with("changeType", json!("moved")), "changeType"),
        (with("changeType", json!("")), "changeType"),
        (without("notificationUrl"), "notificationUrl"),
        (
            with("notificationUrl", json!("http://hooks.example.com/n")),
            "notificationUrl",
        ),
        (
            with("lifecycleNotificationUrl", json!("ftp://127.0.0.1/x")),
            "lifecycleNotificationUrl",
        ),
        (with("clientState", json!("x".repeat(129))), "clientState"),
        (without("expirationDateTime"), "expirationDateTime"),
        (
            with("expirationDateTime", json!("next week")),
            "expirationDateTime",
        ),
        (
            with("expirationDateTime", json!(env.in_minutes(-5).await)),
            "past",
        ),
        (
            with("includeResourceData", json!(true)),
            "encryptionCertificate",
        ),
    ];
    for (body, named) in cases {
        let (status, e) = env.subscribe(&token, body.clone()).await;
        assert_eq!(status, 400, "{body}: {e}");
        assert!(message(&e).contains(named), "{named}: {e}");
    }
    let (status, e) = env
        .subscribe(
            &token,
            with("expirationDateTime", json!(env.in_minutes(10_081).await)),
        )
        .await;
    assert_eq!(
        (status, code(&e), message(&e)),
        (
            400,
            "ExtensionError",
            "Subscription expiration can only be 10080 minutes in the future."
        )
    );
    let (status, e) = env
        .subscribe(
            &token,
            with("resource", json!("/users/nobody@contoso.com/messages")),
        )
        .await;
    assert_eq!(status, 404, "{e}");
    // A user without a mailbox (added, then one changed, through the control API).
    env.ok(
        "POST",
        &format!("/tenants/{CONTOSO}/users"),
        json!({"upn": "kiosk@contoso.com", "mailbox": false}),
    )
    .await;
    env.ok(
        "PATCH",
        &format!("/tenants/{CONTOSO}/users/grace@contoso.com"),
        json!({"mailbox": false}),
    )
    .await;
    for upn in ["kiosk@contoso.com", "grace@contoso.com"] {
        let (status, e) = env
            .subscribe(
                &token,
                with("resource", json!(format!("users/{upn}/messages"))),
            )
            .await;
        assert_eq!(
            (status, code(&e)),
            (404, "MailboxNotEnabledForRESTAPI"),
            "{e}"
        );
        assert!(message(&e).contains("inactive, soft-deleted, or is hosted on-premise"));
    }
    // The maximum lifetime is a knob.
    env.ok(
        "PUT",
        "/subscriptions/settings",
        json!({"maxExpirationMinutes": 4230}),
    )
    .await;
    let (status, e) = env
        .subscribe(
            &token,
            with("expirationDateTime", json!(env.in_minutes(4300).await)),
        )
        .await;
    assert_eq!(
        (status, message(&e)),
        (
            400,
            "Subscription expiration can only be 4230 minutes in the future."
        )
    );
    // Only the failed handshakes reached a subscriber.
    assert_eq!(hook.validations().len(), 3);
    assert_eq!(env.all(CONTOSO).await.len(), 1);

    // Without a mail permission: 403.
    env.ok(
        "DELETE",
        &format!("/tenants/{CONTOSO}/consent"),
        json!({"clientId": DEMO_CLIENT_ID, "permissions": ["Mail.ReadWrite"]}),
    )
    .await;
    let (status, e) = env.subscribe(&token, base.clone()).await;
    assert_eq!((status, code(&e)), (403, "Authorization_RequestDenied"));
    // Unknown knobs are refused by name.
    let (status, e) = env
        .control("PUT", "/subscriptions/settings", json!({"pageSze": 3}))
        .await;
    assert_eq!(status, 400);
    assert!(e["error"].as_str().unwrap().contains("pageSze"), "{e}");
}

#[tokio::test]
async fn list_get_renew_reauthorize_delete_and_expiry() {
    let env = Env::start().await;
    let hook = Hook::start().await;
    let token = env.token(CONTOSO).await;
    env.ok("PUT", "/subscriptions/settings", json!({"pageSize": 2}))
        .await;
    let mut ids = Vec::new();
    for upn in ["ada", "alan", "edsger", "ada", "alan"] {
        let body = env
            .body(&hook, &format!("users/{upn}@contoso.com/messages"))
            .await;
        ids.push(env.create(&token, body).await);
    }
    // Another app's view: none of these (another tenant's token).
    let other = env.token(WOODGROVE).await;
    // Three pages of 2, 2 and 1; clientState never shown.
    let (status, page) = env.graph(&token, "GET", "/subscriptions", None).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("$metadata#subscriptions")
    );
    let mut seen = Vec::new();
    let mut page = page;
    loop {
        for s in page["value"].as_array().unwrap() {
            assert_eq!(s["clientState"], Value::Null);
            seen.push(s["id"].as_str().unwrap().to_string());
        }
        let Some(next) = page["@odata.nextLink"].as_str().map(String::from) else {
            break;
        };
        let (status, next_page) = env.graph(&token, "GET", &next, None).await;
        assert_eq!(status, 200);
        page = next_page;
    }
    assert_eq!(seen, ids);
    assert_eq!(env.counter("subscriptions GET /v1.0/subscriptions"), 3);
    assert_eq!(env.counter("subscriptions POST /v1.0/subscriptions"), 5);
    // The control API shows everything.
    let all = env.all(CONTOSO).await;
    assert_eq!(all.len(), 5);
    assert_eq!(all[0]["clientState"], "secret-state");
    assert_eq!(all[0]["state"], "active");
    assert_eq!(all[0]["folder"], Value::Null);
    assert!(all[0]["userId"].as_str().unwrap().len() == 36);
    assert_eq!(all[0]["applicationId"], DEMO_CLIENT_ID);

    let id = &ids[0];
    let path = format!("/subscriptions/{id}");
    let (status, s) = env.graph(&token, "GET", &path, None).await;
    assert_eq!((status, &s["clientState"]), (200, &Value::Null));
    assert!(
        s["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("#subscriptions/$entity")
    );
    let (status, e) = env.graph(&other, "GET", &path, None).await;
    assert_eq!((status, code(&e)), (404, "ResourceNotFound"));
    // Renewal: the new time, validated as at creation.
    let later = env.in_minutes(60 * 48).await;
    let (status, s) = env
        .graph(
            &token,
            "PATCH",
            &path,
            Some(json!({"expirationDateTime": later})),
        )
        .await;
    assert_eq!(status, 200, "{s}");
    let renewed: jiff::Timestamp = s["expirationDateTime"].as_str().unwrap().parse().unwrap();
    let asked: jiff::Timestamp = later.parse().unwrap();
    assert!(
        renewed.duration_since(asked).abs() < jiff::SignedDuration::from_micros(1),
        "{renewed} {asked}"
    );
    let too_far = env.in_minutes(20_000).await;
    let (status, e) = env
        .graph(
            &token,
            "PATCH",
            &path,
            Some(json!({"expirationDateTime": too_far})),
        )
        .await;
    assert_eq!((status, code(&e)), (400, "ExtensionError"));
    let (status, _) = env
        .graph(
            &other,
            "PATCH",
            &path,
            Some(json!({"expirationDateTime": later})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = env
        .graph(&token, "POST", &format!("{path}/reauthorize"), None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = env.graph(&other, "DELETE", &path, None).await;
    assert_eq!(status, 404);
    let (status, _) = env.graph(&token, "DELETE", &path, None).await;
    assert_eq!(status, 204);
    let (status, _) = env.graph(&token, "GET", &path, None).await;
    assert_eq!(status, 404);
    assert_eq!(
        env.counter("subscriptions DELETE /v1.0/subscriptions/{id}"),
        2
    );
    assert_eq!(
        env.counter("subscriptions PATCH /v1.0/subscriptions/{id}"),
        3
    );

    // Past their expiration (a day), the others are gone; the renewed one (two days) is not.
    let renewed_id = ids[1].clone();
    env.graph(
        &token,
        "PATCH",
        &format!("/subscriptions/{renewed_id}"),
        Some(json!({"expirationDateTime": later})),
    )
    .await;
    env.ok("POST", "/clock/advance", json!({"seconds": 24 * 3600 + 60}))
        .await;
    let token = env.token(CONTOSO).await;
    let (status, page) = env.graph(&token, "GET", "/subscriptions", None).await;
    assert_eq!(status, 200);
    let left: Vec<&str> = page["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(left, vec![renewed_id.as_str()]);
    let (status, _) = env
        .graph(&token, "GET", &format!("/subscriptions/{}", ids[2]), None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(env.all(CONTOSO).await.len(), 1);
}

#[tokio::test]
async fn per_mailbox_limit_and_throttling() {
    let env = Env::start().await;
    let hook = Hook::start().await;
    let token = env.token(CONTOSO).await;
    env.ok(
        "PUT",
        "/subscriptions/settings",
        json!({"perMailboxLimit": 2}),
    )
    .await;
    let ada = "users/ada@contoso.com/mailFolders('inbox')/messages";
    env.create(&token, env.body(&hook, ada).await).await;
    env.create(
        &token,
        env.body(&hook, "users/ada@contoso.com/messages").await,
    )
    .await;
    let (status, e) = env.subscribe(&token, env.body(&hook, ada).await).await;
    assert_eq!(status, 403, "{e}");
    assert!(message(&e).contains("limit of 2 subscriptions"), "{e}");
    // Another mailbox has room.
    env.create(
        &token,
        env.body(&hook, "users/alan@contoso.com/messages").await,
    )
    .await;
}

#[tokio::test]
async fn throttling() {
    let env = Env::start().await;
    let hook = Hook::start().await;
    let token = env.token(CONTOSO).await;
    // Three writes per 20 s: the fourth is throttled, reads still pass.
    let settings = env
        .ok(
            "PUT",
            "/subscriptions/settings",
            json!({"writesPer20s": 3, "requestsPer20s": 6}),
        )
        .await;
    assert_eq!(settings["writesPer20s"], 3);
    assert_eq!(settings["perMailboxLimit"], 1000, "other knobs kept");
    let edsger = "users/edsger@contoso.com/messages";
    for _ in 0..3 {
        env.create(&token, env.body(&hook, edsger).await).await;
    }
    let (status, retry_after, e) = env
        .graph_full(
            &token,
            "POST",
            "/subscriptions",
            Some(env.body(&hook, edsger).await),
        )
        .await;
    assert_eq!((status, code(&e)), (429, "TooManyRequests"), "{e}");
    let seconds: u64 = retry_after.expect("Retry-After").parse().unwrap();
    assert!((1..=20).contains(&seconds), "{seconds}");
    let (status, _) = env.graph(&token, "GET", "/subscriptions", None).await;
    assert_eq!(status, 200);
    // Six requests of any kind: 3 writes, 1 throttled (not counted), 1 read; two more reads.
    for _ in 0..2 {
        let (status, _) = env.graph(&token, "GET", "/subscriptions", None).await;
        assert_eq!(status, 200);
    }
    let (status, retry_after, _) = env.graph_full(&token, "GET", "/subscriptions", None).await;
    assert_eq!(status, 429);
    assert!(retry_after.is_some());
    assert_eq!(env.counter("subscriptions throttled"), 2);
}

#[tokio::test]
async fn messages_notify_and_lifecycle_events_on_demand() {
    let env = Env::start().await;
    let hook = Hook::start().await;
    let token = env.token(CONTOSO).await;
    let inbox = env
        .create(
            &token,
            env.body(&hook, "users/ada@contoso.com/mailFolders('inbox')/messages")
                .await,
        )
        .await;
    let mut sent_body = env
        .body(
            &hook,
            "users/ada@contoso.com/mailFolders('SentItems')/messages",
        )
        .await;
    sent_body.as_object_mut().unwrap().remove("clientState");
    sent_body["lifecycleNotificationUrl"] = json!(hook.at("/lifecycle"));
    let sent = env.create(&token, sent_body).await;
    let ada_id = env.all(CONTOSO).await[0]["userId"]
        .as_str()
        .unwrap()
        .to_string();
    let everything = env
        .create(
            &token,
            env.body(&hook, &format!("/users/{ada_id}/messages")).await,
        )
        .await;
    // Only created changes are notified.
    let mut updates = env.body(&hook, "users/ada@contoso.com/messages").await;
    updates["changeType"] = json!("updated,deleted");
    env.create(&token, updates).await;

    let arrived = env.message("ada@contoso.com", "inbox").await;
    let message_id = arrived["messageId"].as_str().unwrap();
    let statuses: Vec<(&str, &str)> = arrived["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["subscriptionId"].as_str().unwrap(),
                n["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        vec![
            (inbox.as_str(), "delivered"),
            (everything.as_str(), "delivered")
        ]
    );
    let got = hook.wait_for(2).await;
    let of = |got: &[(String, String, Value)], id: &str| {
        got.iter()
            .find(|(_, _, b)| b["value"][0]["subscriptionId"] == id)
            .cloned()
            .unwrap()
    };
    let (target, content_type, body) = &of(&got, &inbox);
    assert_eq!(target, "/notify?tenant=contoso", "the URL's query kept");
    assert_eq!(content_type, "application/json");
    let n = &body["value"][0];
    assert_eq!(n["subscriptionId"], inbox.as_str());
    assert_eq!(n["changeType"], "created");
    assert_eq!(n["clientState"], "secret-state");
    assert_eq!(n["tenantId"], CONTOSO_ID);
    let resource = format!("Users/{ada_id}/Messages/{message_id}");
    assert_eq!(n["resource"], resource.as_str());
    assert_eq!(n["resourceData"]["@odata.type"], "#Microsoft.Graph.Message");
    assert_eq!(n["resourceData"]["@odata.id"], resource.as_str());
    assert_eq!(n["resourceData"]["id"], message_id);
    assert!(
        n["resourceData"]["@odata.etag"]
            .as_str()
            .unwrap()
            .starts_with("W/\"")
    );
    assert!(n["subscriptionExpirationDateTime"].is_string());

    // Sent items: its own subscription (no clientState: none sent) and the mailbox-wide one.
    let out = env.message(&ada_id, "sentitems").await;
    assert_eq!(out["notifications"].as_array().unwrap().len(), 2);
    let got = hook.wait_for(4).await;
    let n = &of(&got[2..], &sent).2["value"][0];
    assert_eq!(n["subscriptionId"], sent.as_str());
    assert!(n.get("clientState").is_none(), "{n}");
    assert_eq!(env.counter("subscriptions notifications delivered"), 4);
    // Another mailbox: nobody notified.
    let none = env.message("alan@contoso.com", "inbox").await;
    assert_eq!(none["notifications"], json!([]));

    // A failing subscriber: failed now, retried until the horizon, then dropped.
    env.ok(
        "PUT",
        "/subscriptions/settings",
        json!({"notificationRetryHorizonSeconds": 2}),
    )
    .await;
    hook.set(|h| h.status = 500);
    let failed = env.message("ada@contoso.com", "inbox").await;
    assert!(
        failed["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["status"] == "failed")
    );
    for _ in 0..200 {
        if env.counter("subscriptions notifications dropped") == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(env.counter("subscriptions notifications dropped"), 2);
    assert!(
        env.counter("subscriptions notifications failed") > 2,
        "retried"
    );
    hook.set(|h| h.status = 202);

    // Lifecycle events on demand.
    let before = hook.notifications().len();
    let lifecycle = |id: &str| format!("/tenants/{CONTOSO}/subscriptions/{id}/lifecycle");
    let answer = env
        .ok(
            "POST",
            &lifecycle(&sent),
            json!({"lifecycleEvent": "missed"}),
        )
        .await;
    assert_eq!(answer, json!({"delivered": true, "status": 202}));
    let got = hook.wait_for(before + 1).await;
    let (target, _, body) = got.last().unwrap();
    assert_eq!(target, "/lifecycle");
    let l = &body["value"][0];
    assert_eq!(
        (l["lifecycleEvent"].as_str(), l["subscriptionId"].as_str()),
        (Some("missed"), Some(sent.as_str()))
    );
    assert_eq!(l["tenantId"], CONTOSO_ID);
    assert!(l.get("clientState").is_some() && l["subscriptionExpirationDateTime"].is_string());
    // reauthorizationRequired pauses it until reauthorized.
    env.ok(
        "POST",
        &lifecycle(&sent),
        json!({"lifecycleEvent": "reauthorizationRequired"}),
    )
    .await;
    let paused = env.message("ada@contoso.com", "sentitems").await;
    let status_of = |v: &Value, id: &str| {
        v["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["subscriptionId"] == id)
            .map(|n| n["status"].as_str().unwrap().to_string())
    };
    assert_eq!(status_of(&paused, &sent).as_deref(), Some("paused"));
    env.graph(
        &token,
        "POST",
        &format!("/subscriptions/{sent}/reauthorize"),
        None,
    )
    .await;
    let resumed = env.message("ada@contoso.com", "sentitems").await;
    assert_eq!(status_of(&resumed, &sent).as_deref(), Some("delivered"));
    // subscriptionRemoved deletes it first.
    env.ok(
        "POST",
        &lifecycle(&sent),
        json!({"lifecycleEvent": "subscriptionRemoved"}),
    )
    .await;
    let (status, _) = env
        .graph(&token, "GET", &format!("/subscriptions/{sent}"), None)
        .await;
    assert_eq!(status, 404);
    // Without a lifecycle URL, or an unknown event: 400.
    let (status, _) = env
        .control(
            "POST",
            &lifecycle(&inbox),
            json!({"lifecycleEvent": "missed"}),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = env
        .control(
            "POST",
            &lifecycle(&everything),
            json!({"lifecycleEvent": "renamed"}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(env.counter("subscriptions lifecycle sent"), 3);
}

#[tokio::test]
async fn revoked_consent_requires_reauthorization() {
    let env = Env::start().await;
    let hook = Hook::start().await;
    let token = env.token(CONTOSO).await;
    let mut body = env.body(&hook, "users/ada@contoso.com/messages").await;
    body["lifecycleNotificationUrl"] = json!(hook.at("/lifecycle"));
    let id = env.create(&token, body).await;
    let path = format!("/subscriptions/{id}");
    let revoke = json!({"clientId": DEMO_CLIENT_ID, "permissions": ["Mail.ReadWrite"]});
    let answer = env
        .ok("DELETE", &format!("/tenants/{CONTOSO}/consent"), revoke)
        .await;
    assert_eq!(answer["lifecycleNotifications"], 1);
    let got = hook.wait_for(1).await;
    let l = &got[0].2["value"][0];
    assert_eq!(
        (got[0].0.as_str(), l["lifecycleEvent"].as_str()),
        ("/lifecycle", Some("reauthorizationRequired"))
    );
    assert_eq!(l["clientState"], "secret-state");
    assert_eq!(
        env.all(CONTOSO).await[0]["state"],
        "reauthorizationRequired"
    );
    // The token still carries Mail.ReadWrite, but the tenant no longer grants it.
    let later = json!({"expirationDateTime": env.in_minutes(600).await});
    let (status, e) = env.graph(&token, "PATCH", &path, Some(later.clone())).await;
    assert_eq!((status, code(&e)), (403, "Authorization_RequestDenied"));
    let (status, _) = env
        .graph(&token, "POST", &format!("{path}/reauthorize"), None)
        .await;
    assert_eq!(status, 403);
    let paused = env.message("ada@contoso.com", "inbox").await;
    assert_eq!(paused["notifications"][0]["status"], "paused");
    assert_eq!(env.counter("subscriptions notifications dropped"), 1);
    // Consent back: still paused until reauthorized (here by a renewal).
    env.ok(
        "POST",
        &format!("/tenants/{CONTOSO}/consent"),
        json!({"clientId": DEMO_CLIENT_ID}),
    )
    .await;
    let still = env.message("ada@contoso.com", "inbox").await;
    assert_eq!(still["notifications"][0]["status"], "paused");
    let (status, s) = env.graph(&token, "PATCH", &path, Some(later)).await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(env.all(CONTOSO).await[0]["state"], "active");
    let resumed = env.message("ada@contoso.com", "inbox").await;
    assert_eq!(resumed["notifications"][0]["status"], "delivered");
    hook.wait_for(2).await;
    assert_eq!(env.counter("subscriptions lifecycle sent"), 1);
    assert_eq!(env.counter("subscriptions notifications delivered"), 1);
    // Read routes and deletion stay open without the permission.
    env.ok(
        "DELETE",
        &format!("/tenants/{CONTOSO}/consent"),
        json!({"clientId": DEMO_CLIENT_ID}),
    )
    .await;
    let (status, _) = env.graph(&token, "GET", "/subscriptions", None).await;
    assert_eq!(status, 200);
    let (status, _) = env.graph(&token, "DELETE", &path, None).await;
    assert_eq!(status, 204);
}
