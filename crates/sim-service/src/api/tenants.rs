//! Registration (`PUT`), deregistration (`DELETE`) and the cursor (`GET .../cursor`).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::tenant_key;
use crate::problem::Problem;
use crate::protocol::{Registration, validate};
use crate::service::Shared;
use crate::store::MAX_TENANTS;
use crate::tenant::TenantRecord;

/// `PUT /v1/tenants/{tenantId}`: registers or updates the registration; the watermark, the
/// directory and everything delivered stay.
pub async fn register(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, Problem> {
    let key = tenant_key(&tenant)?;
    let mut registration: Registration =
        serde_json::from_slice(&body).map_err(|e| Problem::malformed(e.to_string()))?;
    validate::registration(&key, &registration).map_err(Problem::malformed)?;
    registration.tenant_id = key.clone();
    let mut store = shared.store.lock().await;
    let previous = store.tenants.get(&key).cloned();
    let record = match previous.clone() {
        Some(mut record) => {
            record.register(registration, &shared.policies);
            record
        }
        None if store.tenants.len() >= MAX_TENANTS => {
            return Err(Problem::rejected(format!(
                "the service registers at most {MAX_TENANTS} tenants"
            )));
        }
        None => TenantRecord::new(registration, &shared.policies),
    };
    store.tenants.insert(key.clone(), record.clone());
    if let Err(problem) = shared.persist(&store).await {
        match previous {
            Some(p) => store.tenants.insert(key, p),
            None => store.tenants.remove(&key),
        };
        return Err(problem);
    }
    shared.count_tenant(&key, |c| c.registrations += 1);
    Ok(Json(json!({
        "registered": true,
        "tenantId": key,
        "acceptedPolicies": record.accepted_policies,
        "unknownPolicies": record.unknown_policies,
        "watermark": record.watermark,
        "resyncRequested": record.resync_requested,
        "snapshotComplete": record.snapshot_complete,
    })))
}

/// `DELETE /v1/tenants/{tenantId}`: forgets the tenant and all it delivered. Always 200
/// (`wasRegistered` tells whether there was anything to forget).
pub async fn deregister(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, Problem> {
    let key = tenant_key(&tenant)?;
    let mut store = shared.store.lock().await;
    let removed = store.tenants.remove(&key);
    if removed.is_some()
        && let Err(problem) = shared.persist(&store).await
    {
        if let Some(record) = removed {
            store.tenants.insert(key, record);
        }
        return Err(problem);
    }
    Ok(Json(
        json!({"deregistered": true, "wasRegistered": removed.is_some()}),
    ))
}

/// `GET /v1/tenants/{tenantId}/cursor`: where the tenant's stream stands.
pub async fn cursor(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, Problem> {
    let key = tenant_key(&tenant)?;
    let store = shared.store.lock().await;
    let record = store
        .tenants
        .get(&key)
        .ok_or_else(Problem::not_registered)?;
    Ok(Json(json!({
        "watermark": record.watermark,
        "resyncRequested": record.resync_requested,
        "snapshotComplete": record.snapshot_complete,
        "openSnapshotId": record.open_snapshot.as_ref().map(|o| o.snapshot_id.clone()),
    })))
}
