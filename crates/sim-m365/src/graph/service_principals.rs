//! Service principals (the Microsoft resource APIs and the consented applications), their app
//! role assignments, and delegated permission grants (none).

use axum::response::Response;
use serde_json::{Value, json};

use super::json::{self, resource_sp_id};
use super::query::SERVICE_PRINCIPALS;
use super::routes::Call;
use crate::ids;

/// `GET /servicePrincipals` (`$filter` on appId, displayName, ...).
pub(super) fn list(call: &mut Call) -> Response {
    call.req
        .query(&SERVICE_PRINCIPALS, json::service_principals(&call.tenant))
}

/// `GET /servicePrincipals(appId='…')`.
pub(super) fn by_app_id(call: &mut Call) -> Response {
    let app_id = call.params[0]
        .trim_start_matches("servicePrincipals(appId=")
        .trim_end_matches(')')
        .trim_matches('\'');
    let found = json::service_principals(&call.tenant)
        .into_iter()
        .find(|sp| {
            sp["appId"]
                .as_str()
                .is_some_and(|a| a.eq_ignore_ascii_case(app_id))
        });
    match found {
        Some(sp) => call.req.entity(sp),
        None => call.req.not_found(app_id),
    }
}

/// `GET /servicePrincipals/{id}`.
pub(super) fn get(call: &mut Call) -> Response {
    let id = call.params[0];
    match json::service_principals(&call.tenant)
        .into_iter()
        .find(|sp| sp["id"] == id)
    {
        Some(sp) => call.req.entity(sp),
        None => call.req.not_found(id),
    }
}

/// `GET /servicePrincipals/{id}/appRoleAssignments`: the app roles granted by consent.
pub(super) fn app_role_assignments(call: &mut Call) -> Response {
    let (id, tenant) = (call.params[0], &call.tenant);
    let Some(sp) = tenant.service_principals.iter().find(|s| s.id == id) else {
        return call.req.not_found(id);
    };
    let items: Vec<Value> = sp
        .grants
        .iter()
        .map(|g| json!({
            "id": g.id, "appRoleId": g.role_id, "principalId": sp.id, "principalType": "ServicePrincipal",
            "principalDisplayName": sp.display_name, "resourceId": resource_sp_id(&tenant.id, &g.resource_app),
            "resourceDisplayName": ids::resource_name(&g.resource_app).unwrap_or("Unknown"), "createdDateTime": "2024-01-01T00:00:00Z",
        }))
        .collect();
    call.req.paged_list(&items)
}

/// `GET /oauth2PermissionGrants`: always empty (the simulator grants application permissions).
pub(super) fn permission_grants(call: &mut Call) -> Response {
    call.req.paged_list(&[])
}
