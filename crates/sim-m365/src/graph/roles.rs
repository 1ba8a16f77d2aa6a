//! Directory roles: role definitions, role assignments (read, create, delete), and PIM
//! assignment schedule requests and instances.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::json::{self, created, role_definition};
use super::odata::filter_eq;
use super::routes::Call;
use crate::ids::ROLES;
use crate::random::guid;
use crate::state::PimRequest;

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
        Some((r, n)) => json::ok(role_definition(r, n)),
        None => call.req.not_found(id),
    }
}

/// `GET /roleManagement/directory/roleAssignments` (`$filter` on principalId,
/// roleDefinitionId).
pub(super) fn assignments(call: &mut Call) -> Response {
    let filter = call.req.filter();
    let principal = filter_eq(filter, "principalId");
    let role = filter_eq(filter, "roleDefinitionId");
    let items: Vec<Value> = call
        .tenant
        .role_assignments
        .iter()
        .filter(|a| {
            principal.as_ref().is_none_or(|p| *p == a.principal_id)
                && role.as_ref().is_none_or(|r| *r == a.role_id)
        })
        .map(json::role_assignment)
        .collect();
    call.req.paged_list(&items)
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
    let principal = filter_eq(call.req.filter(), "principalId");
    let items: Vec<Value> = call
        .tenant
        .pim_requests
        .iter()
        .filter(|r| principal.as_ref().is_none_or(|p| *p == r.principal_id))
        .map(json::pim_request)
        .collect();
    call.req.paged_list(&items)
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
        id: guid(),
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
    let principal = filter_eq(call.req.filter(), "principalId");
    let items: Vec<Value> = call
        .tenant
        .role_assignments
        .iter()
        .filter(|a| principal.as_ref().is_none_or(|p| *p == a.principal_id))
        .map(|a| json!({"id": a.id, "principalId": a.principal_id, "roleDefinitionId": a.role_id, "directoryScopeId": "/", "assignmentType": "Assigned", "memberType": "Direct"}))
        .collect();
    call.req.paged_list(&items)
}
