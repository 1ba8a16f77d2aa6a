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

/// Whether `id` is the object id of a user, group or service principal of the tenant.
fn known_principal(call: &Call, id: &str) -> bool {
    let t = &call.tenant;
    t.service_principals.iter().any(|s| s.id == id)
        || t.find_user(id)
            .is_some_and(|u| u.id.eq_ignore_ascii_case(id))
        || t.find_group(id).is_some()
}

/// The longest active assignment the default role management policy of a directory role
/// allows an administrator to make (its `Expiration_Admin_Assignment` rule: expiry not
/// required, at most 180 days when given).
const MAX_ASSIGNMENT_SECONDS: i64 = 180 * 24 * 3600;

/// Seconds in an ISO 8601 duration of days, hours, minutes and seconds (`P180D`, `PT8H`,
/// `P1DT12H`); `None` for anything else (years and months have no fixed length).
fn duration_seconds(iso: &str) -> Option<i64> {
    let rest = iso.strip_prefix('P')?;
    let (date, time) = rest.split_once('T').unwrap_or((rest, ""));
    let mut total = 0i64;
    for (part, units) in [
        (date, &[('W', 604_800), ('D', 86_400)][..]),
        (time, &[('H', 3600), ('M', 60), ('S', 1)][..]),
    ] {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let &(_, scale) = units.iter().find(|(u, _)| *u == c)?;
            total += number.parse::<i64>().ok()? * scale;
            number.clear();
        }
        if !number.is_empty() {
            return None;
        }
    }
    (!rest.is_empty() && rest != "T").then_some(total)
}

/// The rules of the role's default management policy that a PIM `adminAssign` request
/// breaks (`JustificationRule`, `ExpirationRule`), as Graph names them in
/// `RoleAssignmentRequestPolicyValidationFailed`.
fn broken_policy_rules(body: &Value, now: jiff::Timestamp) -> Vec<&'static str> {
    let mut broken = Vec::new();
    if body["justification"]
        .as_str()
        .unwrap_or("")
        .trim()
        .is_empty()
    {
        broken.push("JustificationRule");
    }
    let schedule = &body["scheduleInfo"];
    let expiration = &schedule["expiration"];
    let start = schedule["startDateTime"]
        .as_str()
        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
        .unwrap_or(now);
    let seconds = match expiration["type"]
        .as_str()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("afterduration") => expiration["duration"].as_str().and_then(duration_seconds),
        Some("afterdatetime") => expiration["endDateTime"]
            .as_str()
            .and_then(|s| s.parse::<jiff::Timestamp>().ok())
            .map(|end| end.as_second() - start.as_second()),
        // noExpiration (or none given): a permanent assignment, which the policy allows.
        _ => return broken,
    };
    if seconds.is_none_or(|s| s <= 0 || s > MAX_ASSIGNMENT_SECONDS) {
        broken.push("ExpirationRule");
    }
    broken
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
/// propagation delay. A role definition or principal that does not exist is the directory's
/// 404 `Request_ResourceNotFound`.
pub(super) fn assign(call: &mut Call) -> Response {
    let (body, principal, role) = principal_and_role(call);
    if body["directoryScopeId"].is_null() && body["appScopeId"].is_null() {
        return call.req.err(
            400,
            "Request_BadRequest",
            "Either appScopeId or directoryScopeId must be specified.",
        );
    }
    if !known_role(&role) {
        return call.req.not_found(&role);
    }
    if !known_principal(call, &principal) {
        return call.req.not_found(&principal);
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

/// `POST /roleManagement/directory/roleAssignmentScheduleRequests`: a PIM `adminAssign`
/// checked against the role's default policy (a justification, at most 180 days when an
/// expiry is given); provisioned at once, or pending when the tenant wants approval.
pub(super) fn request_schedule(call: &mut Call) -> Response {
    let (body, principal, role) = principal_and_role(call);
    let req = call.req;
    if !body["action"]
        .as_str()
        .is_some_and(|a| a.eq_ignore_ascii_case("adminAssign"))
    {
        return req.err(
            400,
            "InvalidRequest",
            "The request is invalid: the simulator serves action adminAssign only.",
        );
    }
    if !known_role(&role) {
        return req.err(
            400,
            "RoleNotFound",
            "The roleDefinitionId provided in the request body cannot be found.",
        );
    }
    if !known_principal(call, &principal) {
        return req.err(
            400,
            "SubjectNotFound",
            "The principalId provided in the request body cannot be found.",
        );
    }
    let broken = broken_policy_rules(&body, call.world.now());
    if !broken.is_empty() {
        return req.err(
            400,
            "RoleAssignmentRequestPolicyValidationFailed",
            &format!(
                "The following policy rules failed: [{}]",
                broken
                    .iter()
                    .map(|r| format!("\"{r}\""))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        );
    }
    let justification = body["justification"].as_str().unwrap_or("").to_string();
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn durations_of_days_and_time() {
        let cases = [
            ("P180D", Some(180 * 86_400)),
            ("PT8H", Some(8 * 3600)),
            ("P1DT12H30M", Some(86_400 + 12 * 3600 + 1800)),
            ("P2W", Some(2 * 604_800)),
            ("P1Y", None),
            ("P", None),
            ("8H", None),
        ];
        for (iso, seconds) in cases {
            assert_eq!(duration_seconds(iso), seconds, "{iso}");
        }
    }

    #[test]
    fn requests_are_held_to_the_default_policy() {
        let now: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let request = |justification: &str, expiration: Value| json!({"justification": justification, "scheduleInfo": {"startDateTime": "2026-01-01T00:00:00Z", "expiration": expiration}});
        let cases: [(Value, &[&str]); 7] = [
            (request("why", json!({"type": "noExpiration"})), &[]),
            (
                request("why", json!({"type": "AfterDuration", "duration": "P180D"})),
                &[],
            ),
            (
                request("why", json!({"type": "afterDuration", "duration": "P181D"})),
                &["ExpirationRule"],
            ),
            (
                request("why", json!({"type": "afterDuration"})),
                &["ExpirationRule"],
            ),
            (
                request(
                    "why",
                    json!({"type": "afterDateTime", "endDateTime": "2027-01-01T00:00:00Z"}),
                ),
                &["ExpirationRule"],
            ),
            (
                request(" ", json!({"type": "noExpiration"})),
                &["JustificationRule"],
            ),
            (
                request("", json!({"type": "afterDuration", "duration": "P1Y"})),
                &["JustificationRule", "ExpirationRule"],
            ),
        ];
        for (body, broken) in cases {
            assert_eq!(broken_policy_rules(&body, now), broken, "{body}");
        }
    }
}
