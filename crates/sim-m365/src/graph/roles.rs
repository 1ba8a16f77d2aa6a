//! Directory roles: role definitions, role assignments (read, create, delete), and PIM
//! assignment schedule requests and instances.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::json::{self, created, role_definition};
use super::odata::filter_eq;
use super::routes::Call;
use crate::ids::ROLES;
use crate::state::{PimRequest, RoleAssignment};
use exo_sim_http::ids::uuid_v4;

/// Whether `role` is the template id of a directory role the simulator knows.
fn known_role(role: &str) -> bool {
    ROLES.iter().any(|(r, _)| *r == role)
}

/// The body of a create request and its `principalId` and `roleDefinitionId`.
fn principal_and_role(call: &Call) -> (Value, String, String) {
    let body: Value = serde_json::from_str(&call.req.body).unwrap_or_default();
    let principal = body["principalId"].as_str().unwrap_or("").to_string();
    let role = body["roleDefinitionId"].as_str().unwrap_or("").to_string();
    (body, principal, role)
}

/// `GET /roleManagement/directory/roleDefinitions` (`$filter` on templateId, id, displayName).
pub(super) fn definitions(call: &mut Call) -> Response {
    let filter = call.req.filter();
    let template = filter_eq(filter, "templateId").or(filter_eq(filter, "id"));
    let name = filter_eq(filter, "displayName");
    let items: Vec<Value> = ROLES
        .iter()
        .filter(|(id, n)| {
            template.as_ref().is_none_or(|t| t == id) && name.as_ref().is_none_or(|x| x == n)
        })
        .map(|(id, n)| role_definition(id, n))
        .collect();
    call.req.paged_list(&items)
}

/// `GET /roleManagement/directory/roleDefinitions/{id}`.
pub(super) fn definition(call: &mut Call) -> Response {
    let id = call.params[0];
    match ROLES.iter().find(|(r, _)| *r == id) {
        Some((r, n)) => call.req.entity(role_definition(r, n)),
        None => call.req.not_found(id),
    }
}

/// Whether a value passes the request's `$filter=field eq '…'` (all do without one).
fn filter_matches(call: &Call, field: &str) -> impl Fn(&str) -> bool + use<> {
    let wanted = filter_eq(call.req.filter(), field);
    move |value| wanted.as_deref().is_none_or(|w| w == value)
}

/// A page of the `items` that `keep`, as `to_json` shows them.
fn page_of<T>(
    call: &Call,
    items: &[T],
    keep: impl Fn(&T) -> bool,
    to_json: impl Fn(&T) -> Value,
) -> Response {
    let kept: Vec<Value> = items.iter().filter(|i| keep(i)).map(to_json).collect();
    call.req.paged_list(&kept)
}

/// `GET /roleManagement/directory/roleAssignments` (`$filter` on principalId,
/// roleDefinitionId).
pub(super) fn assignments(call: &mut Call) -> Response {
    let of_principal = filter_matches(call, "principalId");
    let of_role = filter_matches(call, "roleDefinitionId");
    let keep = |a: &RoleAssignment| of_principal(&a.principal_id) && of_role(&a.role_id);
    page_of(
        call,
        &call.tenant.role_assignments,
        keep,
        json::role_assignment,
    )
}

/// `POST /roleManagement/directory/roleAssignments`: effective after the tenant's role
/// propagation delay.
pub(super) fn assign(call: &mut Call) -> Response {
    let (_, principal, role) = principal_and_role(call);
    if !known_role(&role) || principal.is_empty() {
        return call.req.err(400, "Request_BadRequest", "Invalid value specified for property 'roleDefinitionId' of resource 'UnifiedRoleAssignment'.");
    }
    if call.tenant.has_role_assignment(&principal, &role) {
        return call.req.err(400, "Request_BadRequest", "A conflicting object with one or more of the specified property values is present in the directory.");
    }
    let now = call.world.now();
    let tenant = call.world.tenant_mut(&call.tenant.id).expect("checked");
    let assignment = tenant.assign_role(principal, role, now);
    created(json::role_assignment(&assignment))
}

/// `DELETE /roleManagement/directory/roleAssignments/{id}`.
pub(super) fn unassign(call: &mut Call) -> Response {
    let id = call.params[0];
    let tenant = call.world.tenant_mut(&call.tenant.id).expect("checked");
    let before = tenant.role_assignments.len();
    tenant.role_assignments.retain(|a| a.id != id);
    if tenant.role_assignments.len() == before {
        return call.req.not_found(id);
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /roleManagement/directory/roleAssignmentScheduleRequests` (`$filter` on principalId).
pub(super) fn schedule_requests(call: &mut Call) -> Response {
    let of_principal = filter_matches(call, "principalId");
    let keep = |r: &PimRequest| of_principal(&r.principal_id);
    page_of(call, &call.tenant.pim_requests, keep, json::pim_request)
}

/// `POST /roleManagement/directory/roleAssignmentScheduleRequests`: a PIM `adminAssign` with a
/// justification; provisioned at once, or pending when the tenant wants approval.
pub(super) fn request_schedule(call: &mut Call) -> Response {
    let (body, principal, role) = principal_and_role(call);
    let req = call.req;
    if body["action"].as_str().unwrap_or("") != "adminAssign" || !known_role(&role) {
        return req.err(400, "InvalidRequest", "The request is invalid: action must be adminAssign and roleDefinitionId a directory role.");
    }
    let justification = body["justification"].as_str().unwrap_or("").to_string();
    if justification.trim().is_empty() {
        return req.err(
            400,
            "JustificationRule",
            "Justification is required by the role management policy.",
        );
    }
    if call.tenant.has_role_assignment(&principal, &role) {
        return req.err(
            400,
            "RoleAssignmentExists",
            "The Role assignment already exists.",
        );
    }
    let pending =
        call.tenant.pim_requests.iter().any(|r| {
            r.principal_id == principal && r.role_id == role && r.status == "PendingApproval"
        });
    if pending {
        return req.err(
            400,
            "PendingRoleAssignmentRequest",
            "There is already an existing pending Role assignment request.",
        );
    }
    let now = call.world.now();
    let tenant = call.world.tenant_mut(&call.tenant.id).expect("checked");
    let status = if tenant.pim_approval {
        "PendingApproval"
    } else {
        "Provisioned"
    };
    let request = PimRequest {
        id: uuid_v4(),
        principal_id: principal.clone(),
        role_id: role.clone(),
        status: status.into(),
        justification,
    };
    if status == "Provisioned" {
        tenant.assign_role(principal, role, now);
    }
    tenant.pim_requests.push(request.clone());
    created(json::pim_request(&request))
}

/// `GET /roleManagement/directory/roleAssignmentScheduleInstances` (`$filter` on principalId).
pub(super) fn schedule_instances(call: &mut Call) -> Response {
    let of_principal = filter_matches(call, "principalId");
    let keep = |a: &RoleAssignment| of_principal(&a.principal_id);
    page_of(
        call,
        &call.tenant.role_assignments,
        keep,
        json::schedule_instance,
    )
}
