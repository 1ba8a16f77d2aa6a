//! Error bodies in Microsoft's exact shapes: the identity platform's OAuth errors with AADSTS
//! codes, and Graph's `{"error":{"code","message","innerError"}}` with request ids.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::random::guid;

fn timestamp() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%d %H:%M:%SZ")
        .to_string()
}

/// An identity-platform error.
pub fn aad(status: u16, error: &str, code: u64, description: &str) -> Response {
    aad_with(status, error, code, None, description)
}

/// An identity-platform error with a `suberror` (`consent_required`, `bad_token`, ...).
pub fn aad_sub(status: u16, error: &str, code: u64, suberror: &str, description: &str) -> Response {
    aad_with(status, error, code, Some(suberror), description)
}

fn aad_with(
    status: u16,
    error: &str,
    code: u64,
    suberror: Option<&str>,
    description: &str,
) -> Response {
    let trace = guid();
    let correlation = guid();
    let mut body = json!({
        "error": error,
        "error_description": format!("AADSTS{code}: {description} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {}", timestamp()),
        "error_codes": [code],
        "timestamp": timestamp(),
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
    });
    if let Some(sub) = suberror {
        body["suberror"] = json!(sub);
    }
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

/// A Graph error.
pub fn graph(status: u16, code: &str, message: &str, client_request_id: Option<&str>) -> Response {
    let request_id = guid();
    let client = client_request_id.map(String::from).unwrap_or_else(guid);
    let body = json!({"error": {
        "code": code,
        "message": message,
        "innerError": {
            "date": jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S").to_string(),
            "request-id": request_id,
            "client-request-id": client,
        }
    }});
    let mut response = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("request-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(&client) {
        response.headers_mut().insert("client-request-id", v);
    }
    response
}

/// A Management Activity API error.
pub fn activity(status: u16, code: &str, message: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        [(header::CONTENT_TYPE, "application/json")],
        json!({"error": {"code": code, "message": message}}).to_string(),
    )
        .into_response()
}
