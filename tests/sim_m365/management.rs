//! The Office 365 Management Activity API (subscriptions: audience, role and tenant checks)
//! and the control API's fault injection and counters.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use super::{CONTOSO, CONTOSO_ID, GRAPH, sim};

#[tokio::test]
async fn activity_subscriptions_check_audience_role_and_tenant() {
    let s = sim().await;
    s.consent(CONTOSO).await;
    let token = s
        .access_token(CONTOSO, "https://manage.office.com/.default")
        .await;
    let graph = s.access_token(CONTOSO, GRAPH).await;
    let call = async |method: Method, tenant: &str, what: &str, token: &str| {
        let r = s
            .http
            .request(
                method,
                s.url(&format!(
                    "/api/v1.0/{tenant}/activity/feed/subscriptions/{what}"
                )),
            )
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    let start = "start?contentType=Audit.Exchange";
    let (st, _) = call(Method::POST, CONTOSO_ID, start, &token).await;
    assert_eq!(st, 200);
    let (_, body) = call(Method::GET, CONTOSO_ID, "list", &token).await;
    assert!(body.contains("Audit.Exchange") && body.contains("enabled"));
    // Refusals, each with its code: the tenant by name, another tenant, a Graph token, a
    // content type never started.
    for (method, tenant, what, token, status, code) in [
        (Method::POST, CONTOSO, start, &token, 400, "AF20013"),
        (
            Method::POST,
            "9188040d-6c67-4c5b-b112-36a304b66dad",
            start,
            &token,
            403,
            "AF20010",
        ),
        (Method::GET, CONTOSO_ID, "list", &graph, 401, ""),
        (
            Method::POST,
            CONTOSO_ID,
            "stop?contentType=Audit.General",
            &token,
            400,
            "AF20022",
        ),
    ] {
        let (st, body) = call(method, tenant, what, token).await;
        assert!(st == status && body.contains(code), "{what}: {st} {body}");
    }
}

#[tokio::test]
async fn faults_are_injected_per_path_and_counted() {
    let s = sim().await;
    let token = s.consented_token(CONTOSO).await;
    s.control(
        "/faults",
        json!({"path": "GET /v1.0/domains", "status": 429, "retryAfter": 7, "count": 1}),
    )
    .await;
    let get = |path: &str| s.http.get(s.url(path)).bearer_auth(&token).send();
    let r = get("/v1.0/domains").await.unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    let (st, _) = s.graph(&token, "/domains", &[]).await;
    assert_eq!(st, 200, "the fault applied once");
    s.control(
        "/faults",
        json!({"path": "/v1.0/users", "drop": true, "count": 1}),
    )
    .await;
    let dropped = match get("/v1.0/users").await {
        Err(_) => true,
        Ok(r) => r.text().await.is_err(),
    };
    assert!(dropped, "the connection was dropped");
    s.control(
        "/faults",
        json!({"path": "/v1.0/organization", "latencyMs": 200}),
    )
    .await;
    let started = std::time::Instant::now();
    s.graph(&token, "/organization", &[]).await;
    assert!(started.elapsed() >= Duration::from_millis(200));
    let counters = s.get_json(&s.url("/_sim/counters")).await;
    assert_eq!(counters["GET /v1.0/domains"], 2);
    assert!(s.sim.count("/oauth2/v2.0/token") >= 1);
    // A misspelt key is refused, naming it, instead of giving another fault than the one meant.
    let r = s
        .http
        .post(s.url("/_sim/faults"))
        .json(&json!({"path": "GET /v1.0/domains", "status": 429, "retry_after": 7}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    let body = r.text().await.unwrap();
    assert!(body.contains("retry_after"), "{body}");
    let (st, _) = s.graph(&token, "/domains", &[]).await;
    assert_eq!(st, 200, "nothing was injected");
}
