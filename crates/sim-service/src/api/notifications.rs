//! `POST /graph/notifications` (any query string): the service's notification URL, where
//! Microsoft Graph validates a subscription (`?validationToken=`: the decoded token echoed
//! as `text/plain`) and then delivers change and lifecycle notifications (202 at once; each
//! item counted per tenant as accepted, duplicate, lifecycle or rejected by its
//! `clientState`). Unsigned: Graph does not sign with the service's key.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::notifications::{Item, classify, validation_token};
use crate::problem::Problem;
use crate::service::{Counters, Shared, TenantCounters};
use crate::store::MAX_TENANTS;

/// The handshake, or a batch of notifications.
pub async fn receive(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    body: Body,
) -> Response {
    if let Some(token) = validation_token(query.as_deref()) {
        shared.count(|c| c.notifications.validations += 1);
        let mut response = (StatusCode::OK, token).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        return response;
    }
    let bytes = match super::auth::read_body(body).await {
        Ok(b) => b,
        Err(too_large) => return too_large,
    };
    let items = match batch(&bytes) {
        Ok(items) => items,
        Err(detail) => {
            shared.count(|c| c.notifications.malformed += 1);
            return Problem::malformed(detail).into_response();
        }
    };
    let verdicts: Vec<Item> = items.iter().map(|i| classify(&shared.key, i)).collect();
    shared.count(|c| verdicts.into_iter().for_each(|v| record(c, v)));
    StatusCode::ACCEPTED.into_response()
}

/// The items of `{"value": [...]}`, or why the body is not a batch.
fn batch(bytes: &[u8]) -> Result<Vec<Value>, String> {
    let mut body: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("a notification batch is JSON: {e}"))?;
    match body.get_mut("value").map(Value::take) {
        Some(Value::Array(items)) => Ok(items),
        _ => Err("a notification batch is an object whose `value` is an array".into()),
    }
}

/// Counts one item, service-wide and for its tenant.
fn record(c: &mut Counters, item: Item) {
    match item {
        Item::Change { tenant, change } => {
            // A tenant beyond the counted ones cannot be deduplicated: accepted.
            let fresh = tenant_of(c, &tenant).is_none_or(|t| t.notifications.record(change));
            if fresh {
                c.notifications.accepted += 1;
            } else {
                c.notifications.duplicates += 1;
            }
        }
        Item::Lifecycle { tenant } => {
            if let Some(t) = tenant_of(c, &tenant) {
                t.notifications.lifecycle += 1;
            }
            c.notifications.lifecycle += 1;
        }
        Item::Rejected { tenant } => {
            if let Some(t) = tenant.and_then(|t| tenant_of(c, &t)) {
                t.notifications.rejected += 1;
            }
            c.notifications.rejected += 1;
        }
    }
}

/// The tenant's counters (at most [`MAX_TENANTS`] tenants are counted).
fn tenant_of<'a>(c: &'a mut Counters, tenant: &str) -> Option<&'a mut TenantCounters> {
    if c.tenants.len() < MAX_TENANTS || c.tenants.contains_key(tenant) {
        Some(c.tenants.entry(tenant.to_string()).or_default())
    } else {
        None
    }
}
