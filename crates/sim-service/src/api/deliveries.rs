//! `POST /v1/tenants/{tenantId}/deliveries`: one delivery, applied at most once, in
//! sequence, and on disk before it is acknowledged.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde_json::{Value, json};

use super::auth::WebhookId;
use super::tenant_key;
use crate::problem::Problem;
use crate::protocol::{Delivery, validate};
use crate::sequence::{Decision, decide};
use crate::service::Shared;

/// Decides, applies and acknowledges one delivery.
pub async fn deliver(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    Extension(WebhookId(webhook_id)): Extension<WebhookId>,
    body: Bytes,
) -> Result<Json<Value>, Problem> {
    let key = tenant_key(&tenant)?;
    let delivery: Delivery = match serde_json::from_slice(&body) {
        Ok(d) => d,
        Err(e) => {
            shared.count_tenant(&key, |c| c.rejected += 1);
            return Err(Problem::malformed(e.to_string()));
        }
    };
    if let Err(detail) = validate::delivery(&delivery) {
        shared.count_tenant(&key, |c| c.rejected += 1);
        return Err(Problem::malformed(detail));
    }
    let kind = delivery.body.kind();
    let mut store = shared.store.lock().await;
    let record = store
        .tenants
        .get(&key)
        .ok_or_else(Problem::not_registered)?;
    let (watermark, resync) = (record.watermark, record.resync_requested);
    match decide(
        watermark,
        delivery.sequence,
        record.acknowledged_as(&webhook_id),
    ) {
        Decision::Duplicate => {
            shared.count_tenant(&key, |c| *c.duplicates.entry(kind.into()).or_default() += 1);
            return Ok(ack(delivery.sequence, watermark, true, resync));
        }
        Decision::Gap { expected } => {
            shared.count_tenant(&key, |c| c.gaps += 1);
            return Err(Problem::new(
                StatusCode::CONFLICT,
                "sequence-gap",
                "Sequence gap",
                format!("the next sequence is {expected}"),
            )
            .with("expected", expected)
            .with("watermark", watermark)
            .with("resyncRequested", resync));
        }
        Decision::IdReused { previous } => {
            shared.count_tenant(&key, |c| c.rejected += 1);
            return Err(Problem::rejected(format!(
                "this webhook-id was acknowledged with sequence {previous}; a new message needs a new id"
            )));
        }
        Decision::Apply => {}
    }
    let mut next = record.clone();
    let now = jiff::Timestamp::now().to_string();
    if let Err(refused) = next.apply(&delivery, &webhook_id, &now) {
        shared.count_tenant(&key, |c| c.rejected += 1);
        return Err(Problem::rejected(refused.0));
    }
    let resync = next.resync_requested;
    let previous = store.tenants.insert(key.clone(), next);
    if let Err(problem) = shared.persist(&store).await {
        if let Some(p) = previous {
            store.tenants.insert(key, p);
        }
        return Err(problem);
    }
    let items = delivery.body.items();
    shared.count_tenant(&key, |c| {
        *c.acknowledged.entry(kind.into()).or_default() += 1;
        *c.acknowledged_items.entry(kind.into()).or_default() += items;
    });
    Ok(ack(delivery.sequence, delivery.sequence, false, resync))
}

/// The 200 answer.
fn ack(sequence: u64, watermark: u64, duplicate: bool, resync: bool) -> Json<Value> {
    Json(json!({
        "acknowledged": sequence,
        "watermark": watermark,
        "duplicate": duplicate,
        "resyncRequested": resync,
    }))
}
