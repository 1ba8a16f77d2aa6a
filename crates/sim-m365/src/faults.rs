//! Fault injection: every request is counted by `METHOD /path`, and the first injected fault
//! whose pattern matches adds latency, drops the connection or answers an error in the shape
//! of the API asked (Graph, the identity platform, or a bare status elsewhere).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::{Sim, errors};

/// An injected fault. An unknown key (`retry_after` for `retryAfter`) is refused, naming it,
/// rather than silently giving a fault other than the one meant.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fault {
    /// Regular expression matched against `METHOD /path`.
    pub path: String,
    /// HTTP status to answer (none: no status fault).
    #[serde(default)]
    pub status: Option<u16>,
    /// `Retry-After` seconds with the status.
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// Latency added, milliseconds.
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// Drop the connection instead of answering.
    #[serde(default)]
    pub drop: bool,
    /// How many requests it applies to (always when absent).
    #[serde(default)]
    pub count: Option<u64>,
}

/// Middleware: counts requests (except the control API's) and applies injected faults.
pub async fn inject(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    let key = format!("{} {}", request.method(), request.uri().path());
    if key.contains(" /_sim/") {
        return next.run(request).await;
    }
    let Some(fault) = count_and_match(&sim, &key) else {
        return next.run(request).await;
    };
    if let Some(ms) = fault.latency_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if fault.drop {
        return dropped_connection();
    }
    let client_request_id = request
        .headers()
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    match fault.status {
        Some(status) => status_response(&key, status, fault.retry_after, client_request_id),
        None => next.run(request).await,
    }
}

/// Counts the request and takes one use of the first fault that matches it.
fn count_and_match(sim: &Sim, key: &str) -> Option<Fault> {
    let mut w = sim.world.lock().unwrap();
    *w.counters.entry(key.to_string()).or_default() += 1;
    let fault = w
        .faults
        .iter_mut()
        .filter(|f| f.count != Some(0))
        .find(|f| regex::Regex::new(&f.path).is_ok_and(|r| r.is_match(key)))?;
    if let Some(c) = fault.count.as_mut() {
        *c -= 1;
    }
    Some(fault.clone())
}

/// Graph's error code and message for an injected status (Learn: "Microsoft Graph error
/// responses and resource types", "Microsoft Graph throttling guidance").
fn graph_fault(status: u16) -> (&'static str, &'static str) {
    match status {
        429 => ("TooManyRequests", "Please retry again later."),
        503 => (
            "serviceNotAvailable",
            "The service is temporarily unavailable. Try the request again after a delay.",
        ),
        504 => ("gatewayTimeout", "The gateway timed out."),
        403 => (
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        ),
        500 => ("generalException", "An unspecified error has occurred."),
        _ => ("UnknownError", "Injected by the simulator."),
    }
}

/// A response whose body fails mid-stream: the client sees the connection drop.
fn dropped_connection() -> Response {
    let stream = futures::stream::once(async {
        Err::<axum::body::Bytes, _>(std::io::Error::other("connection dropped by the simulator"))
    });
    Response::new(axum::body::Body::from_stream(stream))
}

/// The injected error status, in the shape of the API at `key`, with `Retry-After` (a Graph
/// error echoes the client's `client-request-id`).
fn status_response(
    key: &str,
    status: u16,
    retry_after: Option<u64>,
    client_request_id: Option<String>,
) -> Response {
    let mut response = if key.contains(" /v1.0/") {
        let (code, message) = graph_fault(status);
        errors::graph(status, code, message, client_request_id.as_deref())
    } else if key.contains("/oauth2/") {
        if status == 429 {
            errors::aad(
                429,
                "temporarily_unavailable",
                50196,
                "The server terminated an operation because it encountered a client request loop.",
            )
        } else {
            errors::aad(
                status,
                "temporarily_unavailable",
                50053,
                "The service is temporarily unavailable.",
            )
        }
    } else {
        (
            StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            "",
        )
            .into_response()
    };
    if let Some(s) = retry_after
        && let Ok(v) = HeaderValue::from_str(&s.to_string())
    {
        response.headers_mut().insert("retry-after", v);
    }
    response
}
