//! Graph's JSON shapes of the simulator's objects.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::ids::{self, EXCHANGE_APP_ID, GRAPH_APP_ID, MANAGEMENT_APP_ID};
use crate::state::{Domain, Group, PimRequest, RoleAssignment, Tenant, User};
use exo_sim_http::ids::format_uuid_v4;

/// 200 with `v`.
pub(super) fn ok(v: Value) -> Response {
    (StatusCode::OK, axum::Json(v)).into_response()
}

/// 201 with `v`.
pub(super) fn created(v: Value) -> Response {
    (StatusCode::CREATED, axum::Json(v)).into_response()
}

pub(super) fn user(u: &User) -> Value {
    json!({
        "id": u.id, "userPrincipalName": u.upn, "displayName": u.display_name, "mail": u.mail,
        "accountEnabled": u.enabled, "userType": "Member", "createdDateTime": u.created,
        "proxyAddresses": [format!("SMTP:{}", u.mail)],
    })
}

pub(super) fn group(g: &Group) -> Value {
    json!({
        "id": g.id, "displayName": g.display_name, "mailEnabled": false, "securityEnabled": true,
        "groupTypes": [], "createdDateTime": g.created,
    })
}

/// `v` annotated with `@odata.type` `#microsoft.graph.{kind}` (in mixed collections).
pub(super) fn typed(mut v: Value, kind: &str) -> Value {
    v["@odata.type"] = json!(format!("#microsoft.graph.{kind}"));
    v
}

pub(super) fn domain(d: &Domain) -> Value {
    json!({
        "id": d.name, "authenticationType": "Managed", "isDefault": d.default, "isInitial": d.initial,
        "isVerified": d.verified, "supportedServices": if d.email { vec!["Email", "OfficeCommunicationsOnline"] } else { vec!["OfficeCommunicationsOnline"] },
    })
}

pub(super) fn role_definition(id: &str, name: &str) -> Value {
    json!({"id": id, "templateId": id, "displayName": name, "isBuiltIn": true, "isEnabled": true})
}

pub(super) fn role_assignment(a: &RoleAssignment) -> Value {
    json!({"id": a.id, "principalId": a.principal_id, "roleDefinitionId": a.role_id, "directoryScopeId": "/"})
}

pub(super) fn schedule_instance(a: &RoleAssignment) -> Value {
    json!({"id": a.id, "principalId": a.principal_id, "roleDefinitionId": a.role_id, "directoryScopeId": "/", "assignmentType": "Assigned", "memberType": "Direct"})
}

pub(super) fn pim_request(r: &PimRequest) -> Value {
    json!({"id": r.id, "status": r.status, "action": "adminAssign", "principalId": r.principal_id, "roleDefinitionId": r.role_id, "directoryScopeId": "/", "justification": r.justification})
}

/// The id under which the simulator lists a resource's service principal in a tenant.
pub(super) fn resource_sp_id(tenant: &str, resource_app: &str) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{tenant}/{resource_app}").as_bytes(),
    );
    let mut bytes: [u8; 16] = digest.as_ref()[..16].try_into().expect("16 bytes");
    bytes[8] = (bytes[8] & 0x0f) | 0x80;
    format_uuid_v4(bytes)
}

/// Service principals as Graph lists them: the Microsoft resource APIs, then the consented
/// applications.
pub(super) fn service_principals(tenant: &Tenant) -> Vec<Value> {
    let mut out: Vec<Value> = [GRAPH_APP_ID, EXCHANGE_APP_ID, MANAGEMENT_APP_ID]
    .iter()
    .map(|app| json!({"id": resource_sp_id(&tenant.id, app), "appId": app, "displayName": ids::resource_name(app).unwrap_or("Unknown"), "servicePrincipalType": "Application"}))
    .collect();
    out.extend(tenant.service_principals.iter().map(|s| json!({"id": s.id, "appId": s.app_id, "displayName": s.display_name, "servicePrincipalType": "Application", "accountEnabled": true})));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_service_principal_ids_are_stable_guids() {
        let a = resource_sp_id("t", GRAPH_APP_ID);
        assert_eq!(a, resource_sp_id("t", GRAPH_APP_ID));
        assert_eq!(a.len(), 36);
        assert_ne!(a, resource_sp_id("u", GRAPH_APP_ID));
        assert_eq!((&a[14..15], &a[19..20]), ("4", "8"));
    }
}
