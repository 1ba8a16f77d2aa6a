//! Playing the administrator: answer device-code prompts, grant or revoke consent, revoke
//! refresh tokens, answer PIM requests, and assign or remove directory roles by hand.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Held, Reply, Route, done, not_found, refuse};
use crate::Sim;
use crate::graph::subscriptions;
use crate::ids::{EXCHANGE_ADMINISTRATOR, permission};
use crate::state::{Tenant, World, grant_consent};

/// `GET /_sim/devicecodes`.
pub(super) async fn device_codes(State(sim): State<Arc<Sim>>) -> Reply {
    let w = sim.world.lock().unwrap();
    let list: Vec<Value> = w
        .device_codes
        .iter()
        .map(|d| json!({"userCode": d.user_code, "tenant": d.tenant, "clientId": d.client_id, "state": d.state, "expires": d.expires.to_string()}))
        .collect();
    done(Value::Array(list))
}

#[derive(Deserialize, Default)]
pub(super) struct Approve {
    #[serde(default)]
    upn: Option<String>,
}

/// `POST /_sim/devicecodes/{code}/{approve|decline|expire}`: approving signs in `upn` (the
/// tenant's first Global Administrator by default), which consents for the organization. A
/// prompt opened through `common` or `organizations` is approved by a named `upn`, whose
/// domain's tenant becomes the prompt's.
pub(super) async fn device_code_action(
    State(sim): State<Arc<Sim>>,
    Path((code, action)): Path<(String, String)>,
    body: Option<axum::Json<Approve>>,
) -> Reply {
    let mut w = sim.world.lock().unwrap();
    let Some(i) = w
        .device_codes
        .iter()
        .position(|d| d.user_code.eq_ignore_ascii_case(&code))
    else {
        return Err(not_found("device code"));
    };
    let upn = body.and_then(|b| b.0.upn);
    let tenant_id = match (w.device_codes[i].tenant.clone(), &upn) {
        (t, _) if !t.is_empty() => t,
        (_, Some(upn)) => home_tenant_id(&w, upn)?,
        (_, None) if action == "approve" => {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "a prompt opened through common or organizations is approved by a named upn",
            ));
        }
        (_, None) => String::new(),
    };
    let admin = w
        .tenant(&tenant_id)
        .and_then(|t| t.admins.first().cloned())
        .unwrap_or_default();
    let upn = upn.unwrap_or(admin);
    let client = w.device_codes[i].client_id.clone();
    w.device_codes[i].state = match action.as_str() {
        "approve" => format!("approved:{upn}"),
        "decline" => "declined".into(),
        "expire" => "expired".into(),
        _ => return Err(not_found("action")),
    };
    if action == "approve" {
        w.device_codes[i].tenant = tenant_id.clone();
    }
    if action == "approve"
        && let Some(app) = w.app(&client).cloned()
        && let Some(t) = w.tenant_mut(&tenant_id)
    {
        grant_consent(t, &app, &app.permissions);
    }
    done(json!({"userCode": code, "state": action}))
}

/// The id of the tenant of `upn`'s domain, or 404.
fn home_tenant_id(world: &World, upn: &str) -> Result<String, Response> {
    upn.rsplit_once('@')
        .and_then(|(_, domain)| world.tenant(domain))
        .map(|t| t.id.clone())
        .ok_or_else(|| not_found("tenant of the upn"))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Consent {
    client_id: String,
    #[serde(default)]
    permissions: Option<Vec<String>>,
}

/// `POST /_sim/tenants/{tenant}/consent`: the listed permissions, or all the app asks for.
pub(super) async fn grant(route: Route, axum::Json(c): axum::Json<Consent>) -> Reply {
    let world = route.world();
    let Some(app) = world.app(&c.client_id).cloned() else {
        return Err(not_found("app"));
    };
    let mut held = Held::find(world, route.param("tenant"))?;
    let permissions = c.permissions.unwrap_or_else(|| app.permissions.clone());
    grant_consent(held.tenant(), &app, &permissions);
    done(json!({"granted": true}))
}

/// `DELETE /_sim/tenants/{tenant}/consent`: the listed permissions, or the whole service
/// principal. Graph mail subscriptions of an app left without a mail permission are marked
/// `reauthorizationRequired` and their lifecycle URLs told so (best effort, the world
/// unlocked); the answer says how many were marked.
pub(super) async fn revoke(route: Route, axum::Json(c): axum::Json<Consent>) -> Reply {
    let pending = {
        let mut held = route.tenant()?;
        let t = held.tenant();
        let tenant_id = t.id.clone();
        let of_app = |app_id: &str| app_id.eq_ignore_ascii_case(&c.client_id);
        match &c.permissions {
            None => t.service_principals.retain(|s| !of_app(&s.app_id)),
            Some(perms) => {
                let ids: Vec<&str> = perms
                    .iter()
                    .filter_map(|p| permission(p).map(|(_, id)| id))
                    .collect();
                if let Some(sp) = t.service_principals.iter_mut().find(|s| of_app(&s.app_id)) {
                    sp.grants.retain(|g| !ids.contains(&g.role_id.as_str()));
                }
            }
        }
        subscriptions::require_reauthorization(&mut held.world, &tenant_id)
    };
    let marked = pending.len();
    subscriptions::send_lifecycle(&route.sim, pending).await;
    done(json!({"revoked": true, "lifecycleNotifications": marked}))
}

/// `POST /_sim/tenants/{tenant}/refresh-tokens/revoke`: every refresh token of the tenant.
pub(super) async fn revoke_refresh_tokens(route: Route) -> Reply {
    let mut held = route.tenant()?;
    let tid = held.tenant().id.clone();
    let mut n = 0;
    for rt in held
        .world
        .refresh_tokens
        .values_mut()
        .filter(|r| r.tenant == tid)
    {
        rt.revoked = true;
        n += 1;
    }
    done(json!({"revoked": n}))
}

/// `POST /_sim/tenants/{tenant}/pim-requests/{approve|deny}`: an approver answers every
/// pending Privileged Identity Management request of the tenant.
pub(super) async fn pim_action(route: Route) -> Reply {
    let mut held = route.tenant()?;
    let now = held.world.now();
    let status = match route.param("action") {
        "approve" => "Provisioned",
        "deny" => "Denied",
        _ => return Err(not_found("action")),
    };
    let t = held.tenant();
    let mut answered = 0;
    let mut granted = Vec::new();
    for r in t
        .pim_requests
        .iter_mut()
        .filter(|r| r.status == "PendingApproval")
    {
        r.status = status.into();
        answered += 1;
        if status == "Provisioned" {
            granted.push((r.principal_id.clone(), r.role_id.clone()));
        }
    }
    for (principal_id, role_id) in granted {
        t.assign_role(principal_id, role_id, now);
    }
    done(json!({"answered": answered, "status": status}))
}

/// Body of the role-assignment control routes.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RoleBody {
    /// The application whose service principal gets (or loses) the role.
    app_id: String,
    /// Role template id; Exchange Administrator when absent.
    #[serde(default)]
    role: Option<String>,
}

/// The service principal's object id and the role template id a role body names, or 404.
fn role_target(t: &Tenant, body: RoleBody) -> Result<(String, String), Response> {
    let Some(sp) = t
        .service_principals
        .iter()
        .find(|s| s.app_id == body.app_id)
    else {
        return Err(not_found("service principal"));
    };
    let role = body
        .role
        .unwrap_or_else(|| EXCHANGE_ADMINISTRATOR.to_string());
    Ok((sp.id.clone(), role))
}

/// `POST /_sim/tenants/{tenant}/role-assignments`: an administrator assigns a role to an
/// application's service principal in the admin center (the manual path).
pub(super) async fn assign_role(route: Route, axum::Json(body): axum::Json<RoleBody>) -> Reply {
    let mut held = route.tenant()?;
    let now = held.world.now();
    let t = held.tenant();
    let (principal_id, role) = role_target(t, body)?;
    if !t.has_role_assignment(&principal_id, &role) {
        t.assign_role(principal_id, role, now);
    }
    done(json!({"assigned": true}))
}

/// `DELETE /_sim/tenants/{tenant}/role-assignments`: the role is taken away out of band.
pub(super) async fn unassign_role(route: Route, axum::Json(body): axum::Json<RoleBody>) -> Reply {
    let mut held = route.tenant()?;
    let t = held.tenant();
    let (principal_id, role) = role_target(t, body)?;
    let before = t.role_assignments.len();
    t.role_assignments
        .retain(|a| !(a.principal_id == principal_id && a.role_id == role));
    done(json!({"removed": before - t.role_assignments.len()}))
}
