//! Error bodies in Microsoft's exact shapes: the identity platform's OAuth errors with AADSTS
//! codes, Graph's `{"error":{"code","message","innerError"}}` with request ids, the Exchange
//! admin API's OData exception, and the Management Activity API's `AF` errors.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use exo_sim_http::ids::uuid_v4;

/// `body` as a JSON response with `status` (400 if that is no HTTP status).
fn json_body(status: u16, content_type: &'static str, body: &Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        [(header::CONTENT_TYPE, content_type)],
        body.to_string(),
    )
        .into_response()
}

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
    let trace = uuid_v4();
    let correlation = uuid_v4();
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
    json_body(status, "application/json; charset=utf-8", &body)
}

/// A Graph error.
pub fn graph(status: u16, code: &str, message: &str, client_request_id: Option<&str>) -> Response {
    let request_id = uuid_v4();
    let client = client_request_id.map(String::from).unwrap_or_else(uuid_v4);
    let body = json!({"error": {
        "code": code,
        "message": message,
        "innerError": {
            "date": jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S").to_string(),
            "request-id": request_id,
            "client-request-id": client,
        }
    }});
    let mut response = json_body(status, "application/json", &body);
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("request-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(&client) {
        response.headers_mut().insert("client-request-id", v);
    }
    response
}

/// An Exchange admin API error: the PowerShell exception `exception` (with Exchange's error
/// id `id`) wrapped in an OData error.
pub fn exchange(status: u16, code: &str, id: &str, exception: &str, message: &str) -> Response {
    let body = json!({"error": {
        "code": code,
        "message": "Invalid Operation",
        "details": [{"code": "Client", "target": "", "message": format!("{id}|{exception}|{message}")}],
        "innererror": {
            "message": "Invalid Operation",
            "type": "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
            "stacktrace": "",
            "internalexception": {"message": message, "type": exception, "stacktrace": ""},
        }
    }});
    json_body(status, "application/json", &body)
}

/// A Management Activity API error.
pub fn activity(status: u16, code: &str, message: &str) -> Response {
    json_body(
        status,
        "application/json",
        &json!({"error": {"code": code, "message": message}}),
    )
}
