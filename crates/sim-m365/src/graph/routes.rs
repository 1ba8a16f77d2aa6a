//! The route table of Graph: method, path pattern, the permissions any one of which the token
//! must carry, and the handler. The first route whose method and pattern match answers.
//!
//! Patterns are `/`-separated segments: a literal, `{name}` (any one segment, captured), `{*}`
//! (the remaining segments, zero or more, captured one by one) or `prefix*` (a segment that
//! starts with `prefix`, captured whole).

use axum::http::Method;
use axum::response::Response;

use self::permissions::*;
use super::{Req, delta, directory, groups, roles, service_principals, users};
use crate::state::{Tenant, World};

/// What a handler gets: the request, the world (locked), a snapshot of the token's tenant, and
/// the segments its pattern captured.
pub(super) struct Call<'a> {
    pub req: &'a Req,
    pub world: &'a mut World,
    pub tenant: Tenant,
    pub params: Vec<&'a str>,
}

type Handler = fn(&mut Call) -> Response;

/// One row of the table.
struct Route {
    method: Method,
    pattern: &'static str,
    permissions: &'static [&'static str],
    handler: Handler,
}

/// The permission sets of the routes: application roles or delegated scopes, any one will do.
#[rustfmt::skip]
mod permissions {
    pub const READ_USERS: &[&str] = &["User.Read.All", "User.ReadBasic.All", "Directory.Read.All", "Directory.ReadWrite.All"];
    pub const READ_GROUPS: &[&str] = &["Group.Read.All", "GroupMember.Read.All", "Directory.Read.All", "Directory.ReadWrite.All"];
    pub const READ_DOMAINS: &[&str] = &["Domain.Read.All", "Directory.Read.All"];
    pub const READ_ORGANIZATION: &[&str] = &["Organization.Read.All", "Directory.Read.All", "User.Read.All"];
    pub const READ_APPS: &[&str] = &["Application.Read.All", "Directory.Read.All", "Application.ReadWrite.All"];
    pub const READ_GRANTS: &[&str] = &["Directory.Read.All", "DelegatedPermissionGrant.Read.All"];
    pub const READ_ROLES: &[&str] = &["RoleManagement.Read.Directory", "RoleManagement.ReadWrite.Directory", "Directory.Read.All"];
    pub const WRITE_ROLES: &[&str] = &["RoleManagement.ReadWrite.Directory"];
}

const fn get(
    pattern: &'static str,
    permissions: &'static [&'static str],
    handler: Handler,
) -> Route {
    Route {
        method: Method::GET,
        pattern,
        permissions,
        handler,
    }
}

const fn post(pattern: &'static str, handler: Handler) -> Route {
    Route {
        method: Method::POST,
        pattern,
        permissions: WRITE_ROLES,
        handler,
    }
}

const fn delete(pattern: &'static str, handler: Handler) -> Route {
    Route {
        method: Method::DELETE,
        pattern,
        permissions: WRITE_ROLES,
        handler,
    }
}

/// Every Graph route, in matching order.
#[rustfmt::skip]
const ROUTES: &[Route] = &[
    get("users", READ_USERS, users::list),
    get("users/delta", READ_USERS, delta::users),
    get("users/delta()", READ_USERS, delta::users),
    get("users/microsoft.graph.delta()", READ_USERS, delta::users),
    get("users/{key}", READ_USERS, users::get),
    get("groups", READ_GROUPS, groups::list),
    get("groups/delta", READ_GROUPS, delta::groups),
    get("groups/delta()", READ_GROUPS, delta::groups),
    get("groups/microsoft.graph.delta()", READ_GROUPS, delta::groups),
    get("groups/{id}", READ_GROUPS, groups::get),
    get("groups/{id}/members/{*}", READ_GROUPS, groups::members),
    get("groups/{id}/transitiveMembers/{*}", READ_GROUPS, groups::transitive_members),
    get("domains", READ_DOMAINS, directory::domains),
    get("domains/{name}", READ_DOMAINS, directory::domain),
    get("organization", READ_ORGANIZATION, directory::organization),
    get("servicePrincipals", READ_APPS, service_principals::list),
    get("servicePrincipals(*", READ_APPS, service_principals::by_app_id),
    get("servicePrincipals/{id}", READ_APPS, service_principals::get),
    get("servicePrincipals/{id}/appRoleAssignments", READ_APPS, service_principals::app_role_assignments),
    get("oauth2PermissionGrants", READ_GRANTS, service_principals::permission_grants),
    get("roleManagement/directory/roleDefinitions", READ_ROLES, roles::definitions),
    get("roleManagement/directory/roleDefinitions/{id}", READ_ROLES, roles::definition),
    get("roleManagement/directory/roleAssignments", READ_ROLES, roles::assignments),
    post("roleManagement/directory/roleAssignments", roles::assign),
    delete("roleManagement/directory/roleAssignments/{id}", roles::unassign),
    get("roleManagement/directory/roleAssignmentScheduleRequests", READ_ROLES, roles::schedule_requests),
    post("roleManagement/directory/roleAssignmentScheduleRequests", roles::request_schedule),
    get("roleManagement/directory/roleAssignmentScheduleInstances", READ_ROLES, roles::schedule_instances),
];

/// The captured segments if `segments` match `pattern`.
fn matches<'a>(pattern: &str, segments: &[&'a str]) -> Option<Vec<&'a str>> {
    let mut params = Vec::new();
    let mut rest = segments.iter();
    for part in pattern.split('/') {
        if part == "{*}" {
            params.extend(rest.by_ref());
            return Some(params);
        }
        let segment = *rest.next()?;
        if part.starts_with('{') {
            params.push(segment);
        } else if let Some(prefix) = part.strip_suffix('*') {
            if !segment.starts_with(prefix) {
                return None;
            }
            params.push(segment);
        } else if part != segment {
            return None;
        }
    }
    rest.next().is_none().then_some(params)
}

/// Answers a request with the first matching route (403 without its permissions; 400 for a
/// `/$count` segment without `ConsistencyLevel: eventual`), or Graph's 400 for an unknown
/// segment.
pub(super) fn dispatch(req: &Req, world: &mut World, tenant: Tenant) -> Response {
    let segments: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    for route in ROUTES.iter().filter(|r| r.method == req.method) {
        let Some(params) = matches(route.pattern, &segments) else {
            continue;
        };
        if !req.may(route.permissions) {
            return req.denied();
        }
        if req.count_only && !req.eventual() {
            // Learn (aad-advanced-queries): counting directory objects needs the header.
            return req.err(
                400,
                "Request_BadRequest",
                "$count is not currently supported.",
            );
        }
        let mut call = Call {
            req,
            world,
            tenant,
            params,
        };
        return (route.handler)(&mut call);
    }
    req.err(
        400,
        "BadRequest",
        &format!(
            "Resource not found for the segment '{}'.",
            segments.first().unwrap_or(&"")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_capture_segments() {
        assert_eq!(matches("users/{key}", &["users", "a@b"]), Some(vec!["a@b"]));
        assert_eq!(matches("users/{key}", &["users"]), None);
        assert_eq!(matches("users", &["users", "x"]), None);
        assert_eq!(
            matches("groups/{id}/members/{*}", &["groups", "g", "members"]),
            Some(vec!["g"])
        );
        assert_eq!(
            matches(
                "groups/{id}/members/{*}",
                &["groups", "g", "members", "microsoft.graph.user"]
            ),
            Some(vec!["g", "microsoft.graph.user"])
        );
        assert_eq!(
            matches("servicePrincipals(*", &["servicePrincipals(appId='x')"]),
            Some(vec!["servicePrincipals(appId='x')"])
        );
    }
}
