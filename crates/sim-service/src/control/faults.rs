//! Faults and the simulated restart.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::faults::FaultSpec;
use crate::problem::Problem;
use crate::service::Shared;

/// `GET /_sim/faults`: the faults in force.
pub async fn list_faults(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let list = shared
        .faults
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .list(Instant::now());
    Json(json!({ "faults": list }))
}

/// `POST /_sim/faults`: adds one (400 naming an unknown key or a value out of bounds).
pub async fn add_fault(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> Result<Json<Value>, Problem> {
    let value: Value =
        serde_json::from_slice(&body).map_err(|e| Problem::malformed(e.to_string()))?;
    let spec = FaultSpec::parse(&value).map_err(Problem::malformed)?;
    let mut faults = shared.faults.lock().unwrap_or_else(|e| e.into_inner());
    faults
        .add(spec, Instant::now())
        .map_err(Problem::malformed)?;
    Ok(Json(json!({ "faults": faults.list(Instant::now()).len() })))
}

/// `DELETE /_sim/faults`: clears them.
pub async fn clear_faults(State(shared): State<Arc<Shared>>) -> Json<Value> {
    shared
        .faults
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clear();
    Json(json!({ "faults": 0 }))
}

/// `POST /_sim/restart`: drops what is in memory and reloads the state file (memory only:
/// everything is lost, as a real restart would lose it).
pub async fn restart(State(shared): State<Arc<Shared>>) -> Result<Json<Value>, Problem> {
    match shared.restart().await {
        Ok(tenants) => Ok(Json(json!({ "restarted": true, "tenants": tenants }))),
        Err(e) => Err(Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Restart failed",
            e.to_string(),
        )),
    }
}
