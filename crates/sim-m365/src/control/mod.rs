//! The control API under `/_sim`, for tests and demos: play the administrator (approve,
//! decline or expire device codes; grant or revoke consent), break things (revoke refresh
//! tokens, expire or rotate secrets, disable the app, inject faults), change the directory
//! (visible through delta), move the clock, read counters and state, and drive Graph mail
//! subscriptions (knobs, messages arriving, lifecycle events).

mod admin;
mod apps;
mod directory;
mod simulator;
mod subscriptions;

use std::collections::HashMap;
use std::sync::{Arc, MutexGuard};

use axum::Router;
use axum::extract::{FromRequestParts, Path};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde_json::{Value, json};

use crate::Sim;
use crate::state::{App, Tenant, World};

/// What a control route answers: 200 with JSON, or an error.
type Reply = Result<axum::Json<Value>, Response>;

/// The control routes.
#[rustfmt::skip]
pub fn routes() -> Router<Arc<Sim>> {
    use self::{admin::*, apps::*, directory::*, simulator::*};
    Router::new()
        .route("/_sim/state", get(state))
        .route("/_sim/counters", get(counters).delete(reset_counters))
        .route("/_sim/clock/advance", post(advance))
        .route("/_sim/faults", post(add_fault).delete(clear_faults))
        .route("/_sim/devicecodes", get(device_codes))
        .route("/_sim/devicecodes/{code}/{action}", post(device_code_action))
        .route("/_sim/tenants/{tenant}/consent", post(grant).delete(revoke))
        .route("/_sim/tenants/{tenant}/refresh-tokens/revoke", post(revoke_refresh_tokens))
        .route("/_sim/tenants/{tenant}/pim-requests/{action}", post(pim_action))
        .route("/_sim/tenants/{tenant}/role-assignments", post(assign_role).delete(unassign_role))
        .route("/_sim/tenants/{tenant}/users", post(add_user))
        .route("/_sim/tenants/{tenant}/users/{upn}", delete(remove_user).patch(change_user))
        .route("/_sim/tenants/{tenant}/groups/{group}/members", post(add_member))
        .route("/_sim/tenants/{tenant}/groups/{group}/members/{upn}", delete(remove_member))
        .route("/_sim/tenants/{tenant}/exchange/{kind}/{name}", post(set_exchange).delete(delete_exchange))
        .route("/_sim/apps/{client}/secrets/expire", post(expire_secrets))
        .route("/_sim/apps/{client}/secrets/rotate", post(rotate_secret))
        .route("/_sim/apps/{client}/redirect-uris", post(add_redirect_uri))
        .route("/_sim/apps/{client}/{action}", post(app_action))
        .route("/_sim/subscriptions/settings", get(subscriptions::settings).put(subscriptions::set_settings))
        .route("/_sim/tenants/{tenant}/subscriptions", get(subscriptions::list))
        .route("/_sim/tenants/{tenant}/subscriptions/{id}/lifecycle", post(subscriptions::lifecycle))
        .route("/_sim/tenants/{tenant}/users/{upn}/messages", post(subscriptions::message))
}

/// 200 with `v`.
fn done(v: Value) -> Reply {
    Ok(axum::Json(v))
}

/// `status` with `{"error": message}`.
fn refuse(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"error": message}))).into_response()
}

/// 404 `{"error": "<what> not found"}`.
fn not_found(what: &str) -> Response {
    refuse(StatusCode::NOT_FOUND, &format!("{what} not found"))
}

/// The application `client_id`, or 404.
fn app<'w>(world: &'w mut World, client_id: &str) -> Result<&'w mut App, Response> {
    world.app_mut(client_id).ok_or_else(|| not_found("app"))
}

/// A control request on what its path names (`{tenant}`, `{client}`, ...): the simulator and
/// the path's parameters by name.
struct Route {
    sim: Arc<Sim>,
    params: HashMap<String, String>,
}

impl FromRequestParts<Arc<Sim>> for Route {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, sim: &Arc<Sim>) -> Result<Self, Response> {
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, sim)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Route {
            sim: sim.clone(),
            params,
        })
    }
}

impl Route {
    /// The path parameter `name` (empty when the route has none).
    fn param(&self, name: &str) -> &str {
        self.params.get(name).map_or("", String::as_str)
    }

    /// The world, locked.
    fn world(&self) -> MutexGuard<'_, World> {
        self.sim.world.lock().unwrap()
    }

    /// The world, locked, with the tenant the path names found (404 without it).
    fn tenant(&self) -> Result<Held<'_>, Response> {
        Held::find(self.world(), self.param("tenant"))
    }
}

/// The world locked for a control request, with the tenant the request is about.
struct Held<'w> {
    world: MutexGuard<'w, World>,
    index: usize,
}

impl<'w> Held<'w> {
    /// The tenant named `name` (GUID or domain) in `world`, or 404.
    fn find(world: MutexGuard<'w, World>, name: &str) -> Result<Self, Response> {
        let index = world
            .tenants
            .iter()
            .position(|t| t.is(name))
            .ok_or_else(|| not_found("tenant"))?;
        Ok(Held { world, index })
    }

    /// The tenant.
    fn tenant(&mut self) -> &mut Tenant {
        &mut self.world.tenants[self.index]
    }
}
