//! The control API under `/_sim`, for tests and demos: play the administrator (approve,
//! decline or expire device codes; grant or revoke consent), break things (revoke refresh
//! tokens, expire or rotate secrets, disable the app, inject faults), change the directory
//! (visible through delta), move the clock, and read counters and state.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Sim;
use super::faults::Fault;
use super::state::{User, grant_consent};
use crate::random::{guid, opaque};

fn not_found(what: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"error": format!("{what} not found")})),
    )
        .into_response()
}

fn done(v: Value) -> Response {
    (StatusCode::OK, axum::Json(v)).into_response()
}

/// The control routes.
pub fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/_sim/state", get(state))
        .route("/_sim/counters", get(counters).delete(reset_counters))
        .route("/_sim/clock/advance", post(advance))
        .route("/_sim/faults", post(add_fault).delete(clear_faults))
        .route("/_sim/devicecodes", get(device_codes))
        .route(
            "/_sim/devicecodes/{code}/{action}",
            post(device_code_action),
        )
        .route("/_sim/tenants/{tenant}/consent", post(grant).delete(revoke))
        .route(
            "/_sim/tenants/{tenant}/refresh-tokens/revoke",
            post(revoke_refresh_tokens),
        )
        .route(
            "/_sim/tenants/{tenant}/pim-requests/{action}",
            post(pim_action),
        )
        .route(
            "/_sim/tenants/{tenant}/role-assignments",
            post(assign_role).delete(unassign_role),
        )
        .route("/_sim/tenants/{tenant}/users", post(add_user))
        .route("/_sim/tenants/{tenant}/users/{upn}", delete(remove_user))
        .route(
            "/_sim/tenants/{tenant}/groups/{group}/members",
            post(add_member),
        )
        .route(
            "/_sim/tenants/{tenant}/groups/{group}/members/{upn}",
            delete(remove_member),
        )
        .route(
            "/_sim/tenants/{tenant}/exchange/{kind}/{name}",
            post(set_exchange).delete(delete_exchange),
        )
        .route("/_sim/apps/{client}/secrets/expire", post(expire_secrets))
        .route("/_sim/apps/{client}/secrets/rotate", post(rotate_secret))
        .route("/_sim/apps/{client}/{action}", post(app_action))
}

async fn state(State(sim): State<Arc<Sim>>) -> Response {
    let w = sim.world.lock().unwrap();
    let tenants: Vec<Value> = w
        .tenants
        .iter()
        .map(|t| json!({
            "id": t.id, "displayName": t.display_name,
            "domains": t.domains.iter().map(|d| d.name.clone()).collect::<Vec<_>>(),
            "users": t.user_count(), "groups": t.group_count(),
            "servicePrincipals": t.service_principals.iter().map(|s| json!({"appId": s.app_id, "id": s.id, "roles": s.grants.iter().filter_map(|g| crate::ids::permission_name(&g.role_id)).collect::<Vec<_>>()})).collect::<Vec<_>>(),
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

async fn counters(State(sim): State<Arc<Sim>>) -> Response {
    done(json!(sim.world.lock().unwrap().counters))
}

async fn reset_counters(State(sim): State<Arc<Sim>>) -> Response {
    sim.world.lock().unwrap().counters.clear();
    done(json!({}))
}

#[derive(Deserialize)]
struct Advance {
    seconds: i64,
}

async fn advance(State(sim): State<Arc<Sim>>, axum::Json(a): axum::Json<Advance>) -> Response {
    let mut w = sim.world.lock().unwrap();
    w.clock_offset += a.seconds;
    done(json!({"now": w.now().to_string()}))
}

async fn add_fault(State(sim): State<Arc<Sim>>, axum::Json(f): axum::Json<Fault>) -> Response {
    if regex::Regex::new(&f.path).is_err() {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "path is not a regular expression"})),
        )
            .into_response();
    }
    sim.world.lock().unwrap().faults.push(f);
    done(json!({}))
}

async fn clear_faults(State(sim): State<Arc<Sim>>) -> Response {
    sim.world.lock().unwrap().faults.clear();
    done(json!({}))
}

async fn device_codes(State(sim): State<Arc<Sim>>) -> Response {
    let w = sim.world.lock().unwrap();
    let list: Vec<Value> = w
        .device_codes
        .iter()
        .map(|d| json!({"userCode": d.user_code, "tenant": d.tenant, "clientId": d.client_id, "state": d.state, "expires": d.expires.to_string()}))
        .collect();
    done(Value::Array(list))
}

#[derive(Deserialize, Default)]
struct Approve {
    #[serde(default)]
    upn: Option<String>,
}

async fn device_code_action(
    State(sim): State<Arc<Sim>>,
    Path((code, action)): Path<(String, String)>,
    body: Option<axum::Json<Approve>>,
) -> Response {
    let mut w = sim.world.lock().unwrap();
    let Some(i) = w
        .device_codes
        .iter()
        .position(|d| d.user_code.eq_ignore_ascii_case(&code))
    else {
        return not_found("device code");
    };
    let tenant_id = w.device_codes[i].tenant.clone();
    let admin = w
        .tenant(&tenant_id)
        .and_then(|t| t.admins.first().cloned())
        .unwrap_or_default();
    let upn = body.and_then(|b| b.0.upn).unwrap_or(admin);
    let client = w.device_codes[i].client_id.clone();
    let d = &mut w.device_codes[i];
    d.state = match action.as_str() {
        "approve" => format!("approved:{upn}"),
        "decline" => "declined".into(),
        "expire" => "expired".into(),
        _ => return not_found("action"),
    };
    // Signing in as a Global Administrator consents for the organization.
    if action == "approve"
        && let Some(app) = w.app(&client).cloned()
        && let Some(t) = w.tenant_mut(&tenant_id)
    {
        grant_consent(t, &app, &app.permissions);
    }
    done(json!({"userCode": code, "state": action}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Consent {
    client_id: String,
    #[serde(default)]
    permissions: Option<Vec<String>>,
}

async fn grant(
    State(sim): State<Arc<Sim>>,
    Path(tenant): Path<String>,
    axum::Json(c): axum::Json<Consent>,
) -> Response {
    let mut w = sim.world.lock().unwrap();
    let Some(app) = w.app(&c.client_id).cloned() else {
        return not_found("app");
    };
    let Some(t) = w.tenant_mut(&tenant) else {
        return not_found("tenant");
    };
    grant_consent(
        t,
        &app,
        &c.permissions.unwrap_or_else(|| app.permissions.clone()),
    );
    done(json!({"granted": true}))
}

async fn revoke(
    State(sim): State<Arc<Sim>>,
    Path(tenant): Path<String>,
    axum::Json(c): axum::Json<Consent>,
) -> Response {
    let mut w = sim.world.lock().unwrap();
    let Some(t) = w.tenant_mut(&tenant) else {
        return not_found("tenant");
    };
    match c.permissions {
        None => t
            .service_principals
            .retain(|s| !s.app_id.eq_ignore_ascii_case(&c.client_id)),
        Some(perms) => {
            let ids: Vec<&str> = perms
                .iter()
                .filter_map(|p| crate::ids::permission(p).map(|(_, id)| id))
                .collect();
            if let Some(sp) = t
                .service_principals
                .iter_mut()
                .find(|s| s.app_id.eq_ignore_ascii_case(&c.client_id))
            {
                sp.grants.retain(|g| !ids.contains(&g.role_id.as_str()));
            }
        }
    }
    done(json!({"revoked": true}))
}

async fn revoke_refresh_tokens(
    State(sim): State<Arc<Sim>>,
    Path(tenant): Path<String>,
) -> Response {
    let mut w = sim.world.lock().unwrap();
    let Some(tid) = w.tenant(&tenant).map(|t| t.id.clone()) else {
        return not_found("tenant");
    };
    let mut n = 0;
    for rt in w.refresh_tokens.values_mut().filter(|r| r.tenant == tid) {
        rt.revoked = true;
        n += 1;
    }
    done(json!({"revoked": n}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewUser {
    upn: String,
    #[serde(default)]
    display_name: Option<String>,
}

async fn add_user(
    State(sim): State<Arc<Sim>>,
    Path(tenant): Path<String>,
    axum::Json(u): axum::Json<NewUser>,
) -> Response {
    let mut w = sim.world.lock().unwrap();
    let seq = w.next_seq();
    let now = w.now();
    let Some(t) = w.tenant_mut(&tenant) else {
        return not_found("tenant");
    };
    if t.find_user(&u.upn).is_some() {
        return (
            StatusCode::CONFLICT,
            axum::Json(json!({"error": "user exists"})),
        )
            .into_response();
    }
    let user = User {
        id: guid(),
        display_name: u.display_name.unwrap_or_else(|| u.upn.clone()),
        mail: u.upn.clone(),
        upn: u.upn,
        created: now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    };
    let id = user.id.clone();
    t.users.push(user);
    t.journal(seq, "user", &id, None);
    done(json!({"id": id}))
}

async fn remove_user(
    State(sim): State<Arc<Sim>>,
    Path((tenant, upn)): Path<(String, String)>,
) -> Response {
    let mut w = sim.world.lock().unwrap();
    let seq = w.next_seq();
    let Some(t) = w.tenant_mut(&tenant) else {
        return not_found("tenant");
    };
    let Some(i) = t
        .users
        .iter()
        .position(|u| u.upn.eq_ignore_ascii_case(&upn))
    else {
        return not_found("user");
    };
    let user = t.users.remove(i);
    t.deleted.insert(user.id.clone());
    t.journal(seq, "user", &user.id, None);
    let groups: Vec<String> = t
        .groups
        .iter()
        .filter(|g| g.members.contains(&user.id))
        .map(|g| g.id.clone())
        .collect();
    for g in t.groups.iter_mut() {
        g.members.retain(|m| *m != user.id);
    }
    for g in groups {
        t.journal(seq, "group", &g, Some((user.id.clone(), false)));
    }
    done(json!({"id": user.id}))
}

#[derive(Deserialize)]
struct Member {
    upn: String,
}

fn group_index(t: &super::state::Tenant, key: &str) -> Option<usize> {
    t.groups
        .iter()
        .position(|g| g.id.eq_ignore_ascii_case(key) || g.display_name.eq_ignore_ascii_case(key))
}

async fn add_member(
    State(sim): State<Arc<Sim>>,
    Path((tenant, group)): Path<(String, String)>,
    axum::Json(m): axum::Json<Member>,
) -> Response {
    let mut w = sim.world.lock().unwrap();
    let seq = w.next_seq();
    let Some(t) = w.tenant_mut(&tenant) else {
        return not_found("tenant");
    };
    let Some(gi) = group_index(t, &group) else {
        return not_found("group");
    };
    let Some(user) = t.find_user(&m.upn) else {
        return not_found("user");
    };
    if !t.groups[gi].members.contains(&user.id) {
        t.groups[gi].members.push(user.id.clone());
        let gid = t.groups[gi].id.clone();
        t.journal(seq, "group", &gid, Some((user.id.clone(), true)));
    }
    done(json!({"member": user.id}))
}

async fn remove_member(
    State(sim): State<Arc<Sim>>,
    Path((tenant, group, upn)): Path<(String, String, String)>,
) -> Response {
    let mut w = sim.world.lock().unwrap();
    let seq = w.next_seq();
    let Some(t) = w.tenant_mut(&tenant) else {
        return not_found("tenant");
    };
    let Some(gi) = group_index(t, &group) else {
        return not_found("group");
    };
    let Some(user) = t.find_user(&upn) else {
        return not_found("user");
    };
    t.groups[gi].members.retain(|m| *m != user.id);
    let gid = t.groups[gi].id.clone();
    t.journal(seq, "group", &gid, Some((user.id.clone(), false)));
    done(json!({"member": user.id}))
}

async fn set_exchange(
    State(sim): State<Arc<Sim>>,
    Path((tenant, kind, name)): Path<(String, String, String)>,
    axum::Json(v): axum::Json<Value>,
) -> Response {
    let mut w = sim.world.lock().unwrap();
    let Some(t) = w.tenant_mut(&tenant) else {
        return not_found("tenant");
    };
    let objects = t.exchange.entry(kind).or_default();
    let entry = objects.entry(name).or_insert_with(|| json!({}));
    if let (Some(e), Some(p)) = (entry.as_object_mut(), v.as_object()) {
        for (k, val) in p {
            e.insert(k.clone(), val.clone());
        }
    }
    done(entry.clone())
}

async fn delete_exchange(
    State(sim): State<Arc<Sim>>,
    Path((tenant, kind, name)): Path<(String, String, String)>,
) -> Response {
    let mut w = sim.world.lock().unwrap();
    let Some(t) = w.tenant_mut(&tenant) else {
        return not_found("tenant");
    };
    match t.exchange.get_mut(&kind).and_then(|o| o.remove(&name)) {
        Some(_) => done(json!({"deleted": name})),
        None => not_found("object"),
    }
}

async fn expire_secrets(State(sim): State<Arc<Sim>>, Path(client): Path<String>) -> Response {
    let mut w = sim.world.lock().unwrap();
    let past = w.now() - jiff::SignedDuration::from_secs(1);
    let Some(app) = w.app_mut(&client) else {
        return not_found("app");
    };
    for s in app.secrets.iter_mut() {
        s.expires = Some(past);
    }
    done(json!({"expired": app.secrets.len()}))
}

async fn rotate_secret(State(sim): State<Arc<Sim>>, Path(client): Path<String>) -> Response {
    let mut w = sim.world.lock().unwrap();
    let expires = w.now() + jiff::SignedDuration::from_hours(24 * 365);
    let Some(app) = w.app_mut(&client) else {
        return not_found("app");
    };
    let value = format!("sim~{}", opaque(30));
    app.secrets.push(super::state::Secret {
        value: value.clone(),
        expires: Some(expires),
    });
    done(json!({"value": value}))
}

async fn app_action(
    State(sim): State<Arc<Sim>>,
    Path((client, action)): Path<(String, String)>,
) -> Response {
    let mut w = sim.world.lock().unwrap();
    let Some(app) = w.app_mut(&client) else {
        return not_found("app");
    };
    match action.as_str() {
        "disable" => app.enabled = false,
        "enable" => app.enabled = true,
        _ => return not_found("action"),
    }
    done(json!({"enabled": app.enabled}))
}

/// `POST /_sim/tenants/{tenant}/pim-requests/{approve|deny}`: an approver answers every
/// pending Privileged Identity Management request of the tenant.
async fn pim_action(
    State(sim): State<Arc<Sim>>,
    Path((tenant, action)): Path<(String, String)>,
) -> Response {
    let mut world = sim.world.lock().unwrap();
    let now = world.now();
    let Some(t) = world.tenant_mut(&tenant) else {
        return not_found("tenant");
    };
    let status = match action.as_str() {
        "approve" => "Provisioned",
        "deny" => "Denied",
        _ => return not_found("action"),
    };
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
        let effective = now + t.role_propagation;
        t.role_assignments.push(super::state::RoleAssignment {
            id: guid(),
            principal_id,
            role_id,
            effective,
        });
    }
    done(json!({"answered": answered, "status": status}))
}

/// Body of the role-assignment control routes.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoleBody {
    /// The application whose service principal gets (or loses) the role.
    app_id: String,
    /// Role template id; Exchange Administrator when absent.
    #[serde(default)]
    role: Option<String>,
}

/// `POST /_sim/tenants/{tenant}/role-assignments`: an administrator assigns a role to an
/// application's service principal in the admin center (the manual path).
async fn assign_role(
    State(sim): State<Arc<Sim>>,
    Path(tenant): Path<String>,
    axum::Json(body): axum::Json<RoleBody>,
) -> Response {
    let mut world = sim.world.lock().unwrap();
    let now = world.now();
    let Some(t) = world.tenant_mut(&tenant) else {
        return not_found("tenant");
    };
    let Some(sp) = t
        .service_principals
        .iter()
        .find(|s| s.app_id == body.app_id)
    else {
        return not_found("service principal");
    };
    let role = body
        .role
        .unwrap_or_else(|| crate::ids::EXCHANGE_ADMINISTRATOR.to_string());
    let principal_id = sp.id.clone();
    if !t
        .role_assignments
        .iter()
        .any(|a| a.principal_id == principal_id && a.role_id == role)
    {
        let effective = now + t.role_propagation;
        t.role_assignments.push(super::state::RoleAssignment {
            id: guid(),
            principal_id,
            role_id: role,
            effective,
        });
    }
    done(json!({"assigned": true}))
}

/// `DELETE /_sim/tenants/{tenant}/role-assignments`: the role is taken away out of band.
async fn unassign_role(
    State(sim): State<Arc<Sim>>,
    Path(tenant): Path<String>,
    axum::Json(body): axum::Json<RoleBody>,
) -> Response {
    let mut world = sim.world.lock().unwrap();
    let Some(t) = world.tenant_mut(&tenant) else {
        return not_found("tenant");
    };
    let Some(sp) = t
        .service_principals
        .iter()
        .find(|s| s.app_id == body.app_id)
    else {
        return not_found("service principal");
    };
    let principal_id = sp.id.clone();
    let role = body
        .role
        .unwrap_or_else(|| crate::ids::EXCHANGE_ADMINISTRATOR.to_string());
    let before = t.role_assignments.len();
    t.role_assignments
        .retain(|a| !(a.principal_id == principal_id && a.role_id == role));
    done(json!({"removed": before - t.role_assignments.len()}))
}
