//! Reading what the service holds, and asking for a resynchronisation.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::{key, unknown_tenant};
use crate::problem::Problem;
use crate::service::Shared;
use crate::tenant::TenantRecord;

type Reply = Result<Json<Value>, Problem>;

/// Runs `f` on the tenant's record, or 404.
async fn with_tenant(
    shared: &Shared,
    tenant: &str,
    f: impl FnOnce(&TenantRecord) -> Value,
) -> Reply {
    let store = shared.store.lock().await;
    let record = store.tenants.get(&key(tenant)).ok_or_else(unknown_tenant)?;
    Ok(Json(f(record)))
}

/// `GET /_sim/tenants`: every tenant in brief.
pub async fn tenants(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let store = shared.store.lock().await;
    let tenants: Vec<Value> = store
        .tenants
        .iter()
        .map(|(id, r)| {
            json!({
                "tenantId": id,
                "mode": r.registration.mode,
                "scope": r.registration.scope,
                "watermark": r.watermark,
                "users": r.directory.users.len(),
                "groups": r.directory.groups.len(),
                "protected": r.protected.len(),
                "resyncRequested": r.resync_requested,
                "snapshotComplete": r.snapshot_complete,
            })
        })
        .collect();
    Json(json!({ "tenants": tenants }))
}

/// `GET /_sim/tenants/{tenantId}`: the registration, the stream's position, sizes, the last
/// token health and delivery, and the counters.
pub async fn tenant(State(shared): State<Arc<Shared>>, Path(tenant): Path<String>) -> Reply {
    let counters = tenant_counters_value(&shared, &tenant);
    with_tenant(&shared, &tenant, |r| {
        json!({
            "registration": r.registration,
            "acceptedPolicies": r.accepted_policies,
            "unknownPolicies": r.unknown_policies,
            "watermark": r.watermark,
            "resyncRequested": r.resync_requested,
            "snapshotComplete": r.snapshot_complete,
            "openSnapshot": r.open_snapshot.as_ref().map(|o| json!({
                "snapshotId": o.snapshot_id,
                "users": o.directory.users.len(),
                "groups": o.directory.groups.len(),
            })),
            "users": r.directory.users.len(),
            "groups": r.directory.groups.len(),
            "protected": r.protected.len(),
            "tokenHealth": r.token_health.back(),
            "lastDelivery": r.last_delivery,
            "catchUps": r.catch_ups.requests,
            "counters": counters,
        })
    })
    .await
}

/// `GET /_sim/tenants/{tenantId}/users`.
pub async fn users(State(shared): State<Arc<Shared>>, Path(tenant): Path<String>) -> Reply {
    with_tenant(
        &shared,
        &tenant,
        |r| json!({ "users": r.directory.users.values().collect::<Vec<_>>() }),
    )
    .await
}

/// `GET /_sim/tenants/{tenantId}/groups`.
pub async fn groups(State(shared): State<Arc<Shared>>, Path(tenant): Path<String>) -> Reply {
    with_tenant(
        &shared,
        &tenant,
        |r| json!({ "groups": r.directory.groups.values().collect::<Vec<_>>() }),
    )
    .await
}

/// `GET /_sim/tenants/{tenantId}/protected`.
pub async fn protected(State(shared): State<Arc<Shared>>, Path(tenant): Path<String>) -> Reply {
    with_tenant(&shared, &tenant, |r| json!({ "protected": r.protected })).await
}

/// `GET /_sim/tenants/{tenantId}/policies`: asked, accepted, unknown, and what is offered.
pub async fn policies(State(shared): State<Arc<Shared>>, Path(tenant): Path<String>) -> Reply {
    let offered = shared.policies.clone();
    with_tenant(&shared, &tenant, |r| {
        json!({
            "requested": r.registration.policies,
            "accepted": r.accepted_policies,
            "unknown": r.unknown_policies,
            "offered": offered,
        })
    })
    .await
}

/// `GET /_sim/tenants/{tenantId}/token-health`: the current state and the history.
pub async fn token_health(State(shared): State<Arc<Shared>>, Path(tenant): Path<String>) -> Reply {
    with_tenant(
        &shared,
        &tenant,
        |r| json!({ "current": r.token_health.back(), "history": r.token_health }),
    )
    .await
}

/// `GET /_sim/tenants/{tenantId}/notifications`: the Graph notifications received for the
/// tenant (counts, and the last accepted, oldest first). Zeros for a tenant never heard of,
/// registered or not: notifications can come before the registration.
pub async fn notifications(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
) -> Json<Value> {
    let counters = shared.counters.lock().unwrap_or_else(|e| e.into_inner());
    let n = counters
        .tenants
        .get(&key(&tenant))
        .map(|t| t.notifications.clone())
        .unwrap_or_default();
    Json(json!({
        "accepted": n.accepted,
        "rejected": n.rejected,
        "duplicates": n.duplicates,
        "lifecycle": n.lifecycle,
        "byChangeType": n.by_change_type,
        "recent": n.recent,
    }))
}

/// `GET /_sim/tenants/{tenantId}/catch-ups`: the `mailboxCatchUp` deliveries applied, and the
/// latest per user id.
pub async fn catch_ups(State(shared): State<Arc<Shared>>, Path(tenant): Path<String>) -> Reply {
    with_tenant(
        &shared,
        &tenant,
        |r| json!({ "requests": r.catch_ups.requests, "users": r.catch_ups.users }),
    )
    .await
}

/// `GET /_sim/tenants/{tenantId}/counters`.
pub async fn tenant_counters(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
) -> Reply {
    let counters = tenant_counters_value(&shared, &tenant);
    with_tenant(&shared, &tenant, |_| counters).await
}

fn tenant_counters_value(shared: &Shared, tenant: &str) -> Value {
    let counters = shared.counters.lock().unwrap_or_else(|e| e.into_inner());
    let mine = counters
        .tenants
        .get(&key(tenant))
        .cloned()
        .unwrap_or_default();
    serde_json::to_value(mine).unwrap_or_default()
}

/// `GET /_sim/counters`: the service's counters.
pub async fn counters(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let counters = shared
        .counters
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    Json(serde_json::to_value(counters).unwrap_or_default())
}

/// `POST /_sim/tenants/{tenantId}/resync`: the service asks for a full snapshot; every
/// answer about the tenant says `resyncRequested: true` until a snapshotEnd is acknowledged.
pub async fn resync(State(shared): State<Arc<Shared>>, Path(tenant): Path<String>) -> Reply {
    let mut store = shared.store.lock().await;
    let record = store
        .tenants
        .get_mut(&key(&tenant))
        .ok_or_else(unknown_tenant)?;
    let before = record.resync_requested;
    record.resync_requested = true;
    if let Err(problem) = shared.persist(&store).await {
        if let Some(record) = store.tenants.get_mut(&key(&tenant)) {
            record.resync_requested = before;
        }
        return Err(problem);
    }
    Ok(Json(json!({ "resyncRequested": true })))
}
