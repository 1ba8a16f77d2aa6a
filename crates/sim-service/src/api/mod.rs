//! The protocol's routes under `/v1` (`docs/protocol/delivery-v1.openapi.yaml`): signed
//! routes behind [`auth::verify`], the health probe beside them, all behind fault injection;
//! and Graph's notification URL (unsigned, behind its own fault injection).

pub mod auth;
mod deliveries;
mod health;
mod notifications;
mod tenants;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post, put};

use crate::problem::Problem;
use crate::service::Shared;

/// The path of the notification URL this service serves (the EmailSecurityService's
/// `spec.notificationUrl` points here; any query string).
pub const NOTIFICATION_PATH: &str = "/graph/notifications";

/// Every protocol route as `(METHOD, path template)`, as the OpenAPI document names them.
pub const ROUTES: [(&str, &str); 6] = [
    ("GET", "/v1/health"),
    ("PUT", "/v1/tenants/{tenantId}"),
    ("DELETE", "/v1/tenants/{tenantId}"),
    ("GET", "/v1/tenants/{tenantId}/cursor"),
    ("POST", "/v1/tenants/{tenantId}/deliveries"),
    ("POST", NOTIFICATION_PATH),
];

/// The protocol's routes.
pub fn routes(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/v1/tenants/{tenantId}",
            put(tenants::register).delete(tenants::deregister),
        )
        .route("/v1/tenants/{tenantId}/cursor", get(tenants::cursor))
        .route(
            "/v1/tenants/{tenantId}/deliveries",
            post(deliveries::deliver),
        )
        .route_layer(from_fn_with_state(shared.clone(), auth::verify))
        .route("/v1/health", get(health::health))
        .route_layer(from_fn_with_state(shared.clone(), crate::faults::inject))
        .merge(
            Router::new()
                .route(NOTIFICATION_PATH, post(notifications::receive))
                .route_layer(from_fn_with_state(
                    shared,
                    crate::faults::inject_notifications,
                )),
        )
}

/// The tenant id of a path, lowercase, or 400.
fn tenant_key(tenant: &str) -> Result<String, Problem> {
    if crate::protocol::validate::is_guid(tenant) {
        Ok(tenant.to_ascii_lowercase())
    } else {
        Err(Problem::malformed("tenantId must be a GUID"))
    }
}

/// 404 for a path the protocol does not have.
pub async fn not_found() -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        "no such route",
    )
}

/// 405 for a method a path does not have.
pub async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        "this path does not take this method",
    )
}
