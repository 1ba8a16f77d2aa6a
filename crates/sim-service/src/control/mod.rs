//! The control API under `/_sim`, for tests and demos: read what the service holds (tenants,
//! their registration, directory, protected set, policies, token health, last delivery,
//! counters, Graph notifications received, mailbox catch-ups), ask for a resynchronisation, inject faults, and restart the service from its
//! state file. Unsigned, like every stand-in's control API: it listens on loopback.

mod faults;
mod read;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::problem::Problem;
use crate::service::Shared;

/// The control routes.
#[rustfmt::skip]
pub fn routes() -> Router<Arc<Shared>> {
    use self::{faults::*, read::*};
    Router::new()
        .route("/_sim/tenants", get(tenants))
        .route("/_sim/tenants/{tenantId}", get(tenant))
        .route("/_sim/tenants/{tenantId}/users", get(users))
        .route("/_sim/tenants/{tenantId}/groups", get(groups))
        .route("/_sim/tenants/{tenantId}/protected", get(protected))
        .route("/_sim/tenants/{tenantId}/policies", get(policies))
        .route("/_sim/tenants/{tenantId}/token-health", get(token_health))
        .route("/_sim/tenants/{tenantId}/counters", get(tenant_counters))
        .route("/_sim/tenants/{tenantId}/notifications", get(notifications))
        .route("/_sim/tenants/{tenantId}/catch-ups", get(catch_ups))
        .route("/_sim/tenants/{tenantId}/resync", post(resync))
        .route("/_sim/counters", get(counters))
        .route("/_sim/faults", get(list_faults).post(add_fault).delete(clear_faults))
        .route("/_sim/restart", post(restart))
}

/// The lowercase tenant id of a control path.
fn key(tenant: &str) -> String {
    tenant.to_ascii_lowercase()
}

/// 404 for a tenant the service does not hold.
fn unknown_tenant() -> Problem {
    Problem::not_registered()
}
