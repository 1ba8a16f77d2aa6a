//! The control API's own refusals: unknown fault keys named, values out of bounds, unknown
//! tenants and routes.

use reqwest::Method;
use serde_json::json;

use super::*;

#[tokio::test]
async fn fault_requests_with_unknown_keys_are_refused_naming_the_key() {
    let h = start().await;
    let a = h
        .control(
            Method::POST,
            "/_sim/faults",
            Some(json!({"status": 503, "retry_after": 5})),
        )
        .await;
    assert_problem(&a, 400, "malformed");
    assert!(
        a.body["detail"].as_str().unwrap().contains("`retry_after`"),
        "{}",
        a.body
    );
    for bad in [
        json!({"status": 200}),
        json!({"count": 3}),
        json!({"status": 503, "path": "("}),
        json!("503"),
    ] {
        let a = h
            .control(Method::POST, "/_sim/faults", Some(bad.clone()))
            .await;
        assert_eq!(a.status, 400, "{bad}: {}", a.body);
    }
    assert_eq!(h.read("/_sim/faults").await["faults"], json!([]));
}

#[tokio::test]
async fn reads_of_an_unknown_tenant_and_unknown_routes_are_problems() {
    let h = start().await;
    for path in [
        "",
        "/users",
        "/groups",
        "/protected",
        "/policies",
        "/token-health",
        "/counters",
        "/catch-ups",
    ] {
        let a = h
            .control(Method::GET, &format!("/_sim/tenants/{CONTOSO}{path}"), None)
            .await;
        assert_problem(&a, 404, "not-registered");
    }
    assert_problem(
        &h.control(Method::GET, "/v2/health", None).await,
        404,
        "not-found",
    );
    assert_problem(
        &h.control(Method::PATCH, "/_sim/faults", None).await,
        405,
        "method-not-allowed",
    );
}
