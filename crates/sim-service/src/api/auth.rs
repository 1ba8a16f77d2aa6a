//! Middleware of the signed routes: reads the body (bounded), verifies its signature and
//! hands the `webhook-id` on; a refusal is a 401 problem naming the reason.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::problem::Problem;
use crate::service::Shared;
use crate::signature::{self, Refusal, SignatureHeaders};

/// Largest request body, bytes.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// The verified `webhook-id` of a request.
#[derive(Clone, Debug)]
pub struct WebhookId(pub String);

/// The signature headers of `headers`.
pub fn signature_headers(headers: &HeaderMap) -> SignatureHeaders<'_> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    SignatureHeaders {
        id: get("webhook-id"),
        timestamp: get("webhook-timestamp"),
        signature: get("webhook-signature"),
    }
}

/// Checks the request's signature over its body, now.
pub fn check(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<String, Problem> {
    let now = jiff::Timestamp::now().as_second();
    signature::verify(
        &shared.key,
        signature_headers(headers),
        body,
        now,
        shared.tolerance_seconds,
    )
    .map(str::to_string)
    .map_err(|refusal| {
        shared.count(|c| c.signature_refused += 1);
        refused(refusal, shared.tolerance_seconds)
    })
}

/// The 401 of a refusal.
pub fn refused(refusal: Refusal, tolerance_seconds: i64) -> Problem {
    Problem::new(
        StatusCode::UNAUTHORIZED,
        "signature",
        "Signature refused",
        refusal.detail(tolerance_seconds),
    )
    .with("reason", refusal.reason())
}

/// The body, at most [`MAX_BODY`] bytes; a 413 problem when larger.
pub async fn read_body(body: axum::body::Body) -> Result<axum::body::Bytes, Response> {
    axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "Body too large",
            format!("a request body holds at most {MAX_BODY} bytes"),
        )
        .into_response()
    })
}

/// Middleware: 413 over [`MAX_BODY`], 401 without a valid signature, else on with the body
/// and the [`WebhookId`].
pub async fn verify(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let bytes = match read_body(body).await {
        Ok(b) => b,
        Err(too_large) => return too_large,
    };
    match check(&shared, &parts.headers, &bytes) {
        Ok(id) => {
            parts.extensions.insert(WebhookId(id));
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(problem) => problem.into_response(),
    }
}
