//! `GET /v1/health`: reachability without a signature; with one, it is verified too (401 if
//! wrong), so a probe can also check the shared secret.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::auth;
use crate::problem::Problem;
use crate::service::Shared;

/// The protocol's version.
pub const VERSION: &str = "1.0.0";

/// 200 `{status: "ok", version, authenticated}`.
pub async fn health(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> Result<Json<Value>, Problem> {
    let signed = ["webhook-id", "webhook-timestamp", "webhook-signature"]
        .iter()
        .any(|h| headers.contains_key(*h));
    if signed {
        auth::check(&shared, &headers, b"")?;
    }
    Ok(Json(
        json!({"status": "ok", "version": VERSION, "authenticated": signed}),
    ))
}
