//! The HTTP face of the emulator: the shared state, authentication, and the hand-over of each
//! request to the route table.

pub mod negotiate;
pub mod request;
pub mod response;
pub mod routes;
pub mod zero_fields;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use self::request::Call;
use crate::status::ApiError;
use crate::store::Store;

/// State shared by every request: the store, the token clients must present, watch timing.
pub struct ServerState {
    /// Objects and history.
    pub store: Store,
    /// The bearer token clients must present.
    pub token: String,
    /// Interval between watch bookmarks.
    pub bookmark_interval: Duration,
    /// Delay of every watch event after its write.
    pub watch_delay: Duration,
}

/// The API router: every path goes through authentication, then the route table.
pub fn router(server: Arc<ServerState>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(server)
}

/// Largest request body accepted.
const MAX_BODY: usize = 64 << 20;

async fn handle(State(server): State<Arc<ServerState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let authorized = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| same_secret(t.as_bytes(), server.token.as_bytes()));
    if !authorized {
        return ApiError::unauthorized().into_response();
    }
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return ApiError::bad_request("the request body is too large").into_response();
    };
    let call = Call::new(&parts, body);
    let path = parts.uri.path().trim_end_matches('/');
    let mut response =
        routes::route(&server, &call, path).unwrap_or_else(IntoResponse::into_response);
    for text in call.warnings() {
        if let Ok(value) = header::HeaderValue::from_str(&warning_header(&text)) {
            response.headers_mut().append(header::WARNING, value);
        }
    }
    // Watches stream JSON events whatever the client asked for.
    if negotiate::protobuf_only(call.accept()) && !call.flag("watch") {
        negotiate::to_protobuf(response).await
    } else {
        response
    }
}

/// A `Warning` header value as kube-apiserver writes it (`299 - "text"`, quotes escaped).
fn warning_header(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('"', "\\\"");
    format!("299 - \"{escaped}\"")
}

/// Compares two secrets in time independent of where they differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn warnings_are_quoted_as_kube_apiserver_quotes_them() {
        assert_eq!(
            super::warning_header("unknown field \"extra\""),
            "299 - \"unknown field \\\"extra\\\"\""
        );
    }
}
