//! The simulator itself: a state summary, request counters, the clock and injected faults.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Reply, done, refuse};
use crate::Sim;
use crate::faults::Fault;
use crate::ids::permission_name;

/// `GET /_sim/state`: tenants (with principals, roles, subscriptions, Exchange objects), apps,
/// faults and the number of refresh tokens.
pub(super) async fn state(State(sim): State<Arc<Sim>>) -> Reply {
    let w = sim.world.lock().unwrap();
    let tenants: Vec<Value> = w
        .tenants
        .iter()
        .map(|t| json!({
            "id": t.id, "displayName": t.display_name,
            "domains": t.domains.iter().map(|d| d.name.clone()).collect::<Vec<_>>(),
            "users": t.user_count(), "groups": t.group_count(),
            "servicePrincipals": t.service_principals.iter().map(|s| json!({"appId": s.app_id, "id": s.id, "roles": s.grants.iter().filter_map(|g| permission_name(&g.role_id)).collect::<Vec<_>>()})).collect::<Vec<_>>(),
            "roleAssignments": t.role_assignments.iter().map(|a| json!({"principalId": a.principal_id, "roleDefinitionId": a.role_id})).collect::<Vec<_>>(),
            "pimRequests": t.pim_requests.iter().map(|r| json!({"id": r.id, "principalId": r.principal_id, "roleDefinitionId": r.role_id, "status": r.status})).collect::<Vec<_>>(),
            "subscriptions": t.subscriptions,
            "exchange": t.exchange,
        }))
        .collect();
    let apps: Vec<Value> = w.apps.iter().map(|a| json!({"clientId": a.client_id, "enabled": a.enabled, "secrets": a.secrets.len(), "certificates": a.certificates.len()})).collect();
    done(
        json!({"now": w.now().to_string(), "tenants": tenants, "apps": apps, "faults": w.faults, "refreshTokens": w.refresh_tokens.len()}),
    )
}

/// `GET /_sim/counters`.
pub(super) async fn counters(State(sim): State<Arc<Sim>>) -> Reply {
    done(json!(sim.world.lock().unwrap().counters))
}

/// `DELETE /_sim/counters`.
pub(super) async fn reset_counters(State(sim): State<Arc<Sim>>) -> Reply {
    sim.world.lock().unwrap().counters.clear();
    done(json!({}))
}

#[derive(Deserialize)]
pub(super) struct Advance {
    seconds: i64,
}

/// `POST /_sim/clock/advance`.
pub(super) async fn advance(
    State(sim): State<Arc<Sim>>,
    axum::Json(a): axum::Json<Advance>,
) -> Reply {
    let mut w = sim.world.lock().unwrap();
    w.clock_offset += a.seconds;
    done(json!({"now": w.now().to_string()}))
}

/// `POST /_sim/faults`: 400 unless `path` is a regular expression.
pub(super) async fn add_fault(
    State(sim): State<Arc<Sim>>,
    axum::Json(f): axum::Json<Fault>,
) -> Reply {
    if regex::Regex::new(&f.path).is_err() {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "path is not a regular expression",
        ));
    }
    sim.world.lock().unwrap().faults.push(f);
    done(json!({}))
}

/// `DELETE /_sim/faults`.
pub(super) async fn clear_faults(State(sim): State<Arc<Sim>>) -> Reply {
    sim.world.lock().unwrap().faults.clear();
    done(json!({}))
}
