//! Microsoft Graph v1.0: users, groups and members, domains, organization, service principals
//! and their grants, directory roles and PIM, and delta queries; with token validation, OData
//! `$select`/`$top`/`$filter`/`$search`/`$count`, opaque `$skiptoken` paging and Graph's
//! error shape.

// Early answers are whole HTTP responses, as axum handlers return them.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::Sim;
use super::errors::graph as error;
use super::state::{Group, PimRequest, RoleAssignment, Tenant, User, World};
use crate::ids::ROLES;
use crate::ids::{self, GRAPH_APP_ID};
use crate::random::guid;

/// Default page size.
pub const DEFAULT_PAGE: usize = 100;
/// Largest page.
pub const MAX_PAGE: usize = 999;
/// Delta tokens expire after this long.
pub const DELTA_TOKEN_LIFETIME: jiff::SignedDuration = jiff::SignedDuration::from_hours(24 * 7);

/// The parsed request.
struct Req {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    body: String,
    claims: Value,
}

impl Req {
    fn q(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| {
                k.eq_ignore_ascii_case(key) || k.eq_ignore_ascii_case(&format!("${key}"))
            })
            .map(|(_, v)| v.as_str())
    }

    fn eventual(&self) -> bool {
        self.headers
            .get("consistencylevel")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("eventual"))
    }

    fn client_request_id(&self) -> Option<&str> {
        self.headers
            .get("client-request-id")
            .and_then(|v| v.to_str().ok())
    }

    fn err(&self, status: u16, code: &str, message: &str) -> Response {
        error(status, code, message, self.client_request_id())
    }

    fn may(&self, any_of: &[&str]) -> bool {
        let roles: Vec<&str> = self
            .claims
            .get("roles")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let scopes: Vec<&str> = self
            .claims
            .get("scp")
            .and_then(Value::as_str)
            .map(|s| s.split_whitespace().collect())
            .unwrap_or_default();
        any_of
            .iter()
            .any(|p| roles.contains(p) || scopes.contains(p))
    }

    fn denied(&self) -> Response {
        self.err(
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )
    }

    fn page_size(&self) -> Result<usize, Response> {
        if let Some(top) = self.q("top") {
            return match top.parse::<usize>() {
                Ok(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
                _ => Err(self.err(400, "Request_UnsupportedQuery", &format!("Invalid page size specified: '{top}'. Must be between 1 and {MAX_PAGE} inclusive."))),
            };
        }
        let preferred = self
            .headers
            .get("prefer")
            .and_then(|v| v.to_str().ok())
            .and_then(|p| {
                p.split(',').find_map(|x| {
                    x.trim()
                        .strip_prefix("odata.maxpagesize=")?
                        .parse::<usize>()
                        .ok()
                })
            });
        Ok(preferred
            .map(|n| n.clamp(1, MAX_PAGE))
            .unwrap_or(DEFAULT_PAGE))
    }
}

/// The Graph entry point (`/v1.0/{*path}`).
pub async fn handle(
    State(sim): State<Arc<Sim>>,
    method: Method,
    Path(path): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: String,
) -> Response {
    let query: Vec<(String, String)> = raw
        .as_deref()
        .map(|q| serde_urlencoded::from_str(q).unwrap_or_default())
        .unwrap_or_default();
    let client_request_id = headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return error(
            401,
            "InvalidAuthenticationToken",
            "Access token is empty.",
            client_request_id.as_deref(),
        );
    };
    let Some(claims) = sim.signer.verify(token) else {
        return error(
            401,
            "InvalidAuthenticationToken",
            "IDX14100: JWT is not well formed, there are no dots (.).",
            client_request_id.as_deref(),
        );
    };
    let mut world = sim.world.lock().unwrap();
    let now = world.now().as_second();
    if claims.get("exp").and_then(Value::as_i64).unwrap_or(0) <= now {
        return error(
            401,
            "InvalidAuthenticationToken",
            "Lifetime validation failed, the token is expired.",
            client_request_id.as_deref(),
        );
    }
    let aud = claims.get("aud").and_then(Value::as_str).unwrap_or("");
    if ids::resource_of(aud) != Some(GRAPH_APP_ID) {
        return error(
            401,
            "InvalidAuthenticationToken",
            "Invalid audience.",
            client_request_id.as_deref(),
        );
    }
    let tid = claims
        .get("tid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if world.tenant(&tid).is_none() {
        return error(
            401,
            "InvalidAuthenticationToken",
            "The tenant of the token does not exist.",
            client_request_id.as_deref(),
        );
    }
    let req = Req {
        method,
        path,
        query,
        headers,
        body,
        claims,
    };
    route(&sim.base_url, &mut world, &tid, &req)
}

fn route(base: &str, world: &mut World, tid: &str, req: &Req) -> Response {
    let segs: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    let read_users = [
        "User.Read.All",
        "User.ReadBasic.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ];
    let read_groups = [
        "Group.Read.All",
        "GroupMember.Read.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ];
    let read_apps = [
        "Application.Read.All",
        "Directory.Read.All",
        "Application.ReadWrite.All",
    ];
    let read_roles = [
        "RoleManagement.Read.Directory",
        "RoleManagement.ReadWrite.Directory",
        "Directory.Read.All",
    ];
    let write_roles = ["RoleManagement.ReadWrite.Directory"];
    let get = req.method == Method::GET;
    let tenant = world.tenant(tid).cloned().expect("checked");
    let guard = |ok: bool, f: &dyn Fn() -> Response| if ok { f() } else { req.denied() };
    match segs.as_slice() {
        ["users"] if get => guard(req.may(&read_users), &|| list_users(base, &tenant, req)),
        ["users", "delta"] if get => guard(req.may(&read_users), &|| {
            delta(base, world, &tenant, req, "user")
        }),
        ["users", key] if get => guard(req.may(&read_users), &|| {
            match tenant.find_user(&percent_decode(key)) {
            Some(u) => ok(select(user_json(&u), req)),
            None => req.err(404, "Request_ResourceNotFound", &format!("Resource '{key}' does not exist or one of its queried reference-property objects are not present.")),
        }
        }),
        ["groups"] if get => guard(req.may(&read_groups), &|| list_groups(base, &tenant, req)),
        ["groups", "delta"] if get => guard(req.may(&read_groups), &|| {
            delta(base, world, &tenant, req, "group")
        }),
        ["groups", id] if get => guard(req.may(&read_groups), &|| {
            match tenant.find_group(id) {
            Some(g) => ok(select(group_json(&g), req)),
            None => req.err(404, "Request_ResourceNotFound", &format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present.")),
        }
        }),
        [
            "groups",
            id,
            rel @ ("members" | "transitiveMembers"),
            cast @ ..,
        ] if get => guard(req.may(&read_groups), &|| {
            let Some(g) = tenant.find_group(id) else {
                return req.err(404, "Request_ResourceNotFound", &format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."));
            };
            if !cast.is_empty() && !req.eventual() {
                return req.err(400, "Request_UnsupportedQuery", "The specified type cast is only supported with the ConsistencyLevel:eventual header and $count=true.");
            }
            let users_only = cast.first() == Some(&"microsoft.graph.user");
            let items: Vec<Value> = if *rel == "members" {
                tenant
                    .members(&g)
                    .iter()
                    .filter_map(|m| {
                        tenant
                            .find_user(m)
                            .map(|u| typed(user_json(&u), "user"))
                            .or_else(|| {
                                (!users_only)
                                    .then(|| {
                                        tenant.find_group(m).map(|g| typed(group_json(&g), "group"))
                                    })
                                    .flatten()
                            })
                    })
                    .collect()
            } else {
                let (users, groups) = tenant.transitive_users(&g);
                let mut v: Vec<Value> = users.iter().map(|u| typed(user_json(u), "user")).collect();
                if !users_only {
                    v.extend(groups.iter().map(|g| typed(group_json(g), "group")));
                }
                v
            };
            paged(base, req, items.len(), |i| items.get(i).cloned())
        }),
        ["domains"] if get => guard(req.may(&["Domain.Read.All", "Directory.Read.All"]), &|| {
            let items: Vec<Value> = tenant.domains.iter().map(domain_json).collect();
            paged(base, req, items.len(), |i| items.get(i).cloned())
        }),
        ["domains", name] if get => {
            guard(req.may(&["Domain.Read.All", "Directory.Read.All"]), &|| {
                match tenant.domains.iter().find(|d| d.name.eq_ignore_ascii_case(name)) {
            Some(d) => ok(domain_json(d)),
            None => req.err(404, "Request_ResourceNotFound", &format!("Resource '{name}' does not exist or one of its queried reference-property objects are not present.")),
        }
            })
        }
        ["organization"] if get => guard(
            req.may(&[
                "Organization.Read.All",
                "Directory.Read.All",
                "User.Read.All",
            ]),
            &|| {
                let org = json!({
                    "id": tenant.id, "displayName": tenant.display_name,
                    "verifiedDomains": tenant.domains.iter().filter(|d| d.verified).map(|d| json!({"name": d.name, "isDefault": d.default, "isInitial": d.initial, "type": "Managed", "capabilities": if d.email { "Email" } else { "None" }})).collect::<Vec<_>>(),
                });
                ok(
                    json!({"@odata.context": format!("{base}/v1.0/$metadata#organization"), "value": [org]}),
                )
            },
        ),
        ["servicePrincipals"] if get => guard(req.may(&read_apps), &|| {
            let filter = req.q("filter").unwrap_or("");
            let wanted = filter_eq(filter, "appId");
            let items: Vec<Value> = tenant_sps(&tenant, world)
                .into_iter()
                .filter(|sp| {
                    wanted.as_ref().is_none_or(|w| {
                        sp["appId"]
                            .as_str()
                            .is_some_and(|a| a.eq_ignore_ascii_case(w))
                    })
                })
                .collect();
            paged(base, req, items.len(), |i| items.get(i).cloned())
        }),
        [sp_path] if get && sp_path.starts_with("servicePrincipals(") => {
            guard(req.may(&read_apps), &|| {
                let app_id = sp_path
                    .trim_start_matches("servicePrincipals(appId=")
                    .trim_end_matches(')')
                    .trim_matches('\'');
                match tenant_sps(&tenant, world).into_iter().find(|sp| sp["appId"].as_str().is_some_and(|a| a.eq_ignore_ascii_case(app_id))) {
                Some(sp) => ok(select(sp, req)),
                None => req.err(404, "Request_ResourceNotFound", &format!("Resource '{app_id}' does not exist or one of its queried reference-property objects are not present.")),
            }
            })
        }
        ["servicePrincipals", id] if get => guard(req.may(&read_apps), &|| {
            match tenant_sps(&tenant, world).into_iter().find(|sp| sp["id"] == *id) {
            Some(sp) => ok(select(sp, req)),
            None => req.err(404, "Request_ResourceNotFound", &format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present.")),
        }
        }),
        ["servicePrincipals", id, "appRoleAssignments"] if get => {
            guard(req.may(&read_apps), &|| {
                let Some(sp) = tenant.service_principals.iter().find(|s| s.id == *id) else {
                    return req.err(404, "Request_ResourceNotFound", &format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."));
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
                paged(base, req, items.len(), |i| items.get(i).cloned())
            })
        }
        ["oauth2PermissionGrants"] if get => guard(
            req.may(&["Directory.Read.All", "DelegatedPermissionGrant.Read.All"]),
            &|| ok(json!({"value": []})),
        ),
        ["roleManagement", "directory", "roleDefinitions"] if get => {
            guard(req.may(&read_roles), &|| {
                let filter = req.q("filter").unwrap_or("");
                let template = filter_eq(filter, "templateId").or(filter_eq(filter, "id"));
                let name = filter_eq(filter, "displayName");
                let items: Vec<Value> = ROLES
                    .iter()
                    .filter(|(id, n)| {
                        template.as_ref().is_none_or(|t| t == id)
                            && name.as_ref().is_none_or(|x| x == n)
                    })
                    .map(|(id, n)| role_definition(id, n))
                    .collect();
                paged(base, req, items.len(), |i| items.get(i).cloned())
            })
        }
        ["roleManagement", "directory", "roleDefinitions", id] if get => {
            guard(req.may(&read_roles), &|| {
                match ROLES.iter().find(|(r, _)| r == id) {
            Some((r, n)) => ok(role_definition(r, n)),
            None => req.err(404, "Request_ResourceNotFound", &format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present.")),
        }
            })
        }
        ["roleManagement", "directory", "roleAssignments"] if get => {
            guard(req.may(&read_roles), &|| {
                let filter = req.q("filter").unwrap_or("");
                let principal = filter_eq(filter, "principalId");
                let role = filter_eq(filter, "roleDefinitionId");
                let items: Vec<Value> = tenant
                .role_assignments
                .iter()
                .filter(|a| principal.as_ref().is_none_or(|p| *p == a.principal_id) && role.as_ref().is_none_or(|r| *r == a.role_id))
                .map(|a| json!({"id": a.id, "principalId": a.principal_id, "roleDefinitionId": a.role_id, "directoryScopeId": "/"}))
                .collect();
                paged(base, req, items.len(), |i| items.get(i).cloned())
            })
        }
        ["roleManagement", "directory", "roleAssignments"] if req.method == Method::POST => {
            if !req.may(&write_roles) {
                return req.denied();
            }
            let body: Value = serde_json::from_str(&req.body).unwrap_or_default();
            let principal = body["principalId"].as_str().unwrap_or("").to_string();
            let role = body["roleDefinitionId"].as_str().unwrap_or("").to_string();
            if !ROLES.iter().any(|(r, _)| *r == role) || principal.is_empty() {
                return req.err(400, "Request_BadRequest", "Invalid value specified for property 'roleDefinitionId' of resource 'UnifiedRoleAssignment'.");
            }
            if tenant
                .role_assignments
                .iter()
                .any(|a| a.principal_id == principal && a.role_id == role)
            {
                return req.err(400, "Request_BadRequest", "A conflicting object with one or more of the specified property values is present in the directory.");
            }
            let now = world.now();
            let t = world.tenant_mut(tid).expect("checked");
            let a = RoleAssignment {
                id: guid(),
                principal_id: principal,
                role_id: role,
                effective: now + t.role_propagation,
            };
            t.role_assignments.push(a.clone());
            (StatusCode::CREATED, axum::Json(json!({"id": a.id, "principalId": a.principal_id, "roleDefinitionId": a.role_id, "directoryScopeId": "/"}))).into_response()
        }
        ["roleManagement", "directory", "roleAssignments", id] if req.method == Method::DELETE => {
            if !req.may(&write_roles) {
                return req.denied();
            }
            let t = world.tenant_mut(tid).expect("checked");
            let before = t.role_assignments.len();
            t.role_assignments.retain(|a| a.id != *id);
            if t.role_assignments.len() == before {
                return req.err(404, "Request_ResourceNotFound", &format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."));
            }
            StatusCode::NO_CONTENT.into_response()
        }
        [
            "roleManagement",
            "directory",
            "roleAssignmentScheduleRequests",
        ] if get => guard(req.may(&read_roles), &|| {
            let filter = req.q("filter").unwrap_or("");
            let principal = filter_eq(filter, "principalId");
            let items: Vec<Value> = tenant
                .pim_requests
                .iter()
                .filter(|r| principal.as_ref().is_none_or(|p| *p == r.principal_id))
                .map(|r| json!({"id": r.id, "status": r.status, "action": "adminAssign", "principalId": r.principal_id, "roleDefinitionId": r.role_id, "directoryScopeId": "/", "justification": r.justification}))
                .collect();
            paged(base, req, items.len(), |i| items.get(i).cloned())
        }),
        [
            "roleManagement",
            "directory",
            "roleAssignmentScheduleRequests",
        ] if req.method == Method::POST => {
            if !req.may(&write_roles) {
                return req.denied();
            }
            let body: Value = serde_json::from_str(&req.body).unwrap_or_default();
            let principal = body["principalId"].as_str().unwrap_or("").to_string();
            let role = body["roleDefinitionId"].as_str().unwrap_or("").to_string();
            let action = body["action"].as_str().unwrap_or("");
            if action != "adminAssign" || !ROLES.iter().any(|(r, _)| *r == role) {
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
            if tenant
                .role_assignments
                .iter()
                .any(|a| a.principal_id == principal && a.role_id == role)
            {
                return req.err(
                    400,
                    "RoleAssignmentExists",
                    "The Role assignment already exists.",
                );
            }
            if tenant.pim_requests.iter().any(|r| {
                r.principal_id == principal && r.role_id == role && r.status == "PendingApproval"
            }) {
                return req.err(
                    400,
                    "PendingRoleAssignmentRequest",
                    "There is already an existing pending Role assignment request.",
                );
            }
            let now = world.now();
            let t = world.tenant_mut(tid).expect("checked");
            let status = if t.pim_approval {
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
                t.role_assignments.push(RoleAssignment {
                    id: guid(),
                    principal_id: principal,
                    role_id: role,
                    effective: now + t.role_propagation,
                });
            }
            t.pim_requests.push(request.clone());
            (StatusCode::CREATED, axum::Json(json!({"id": request.id, "status": request.status, "action": "adminAssign", "principalId": request.principal_id, "roleDefinitionId": request.role_id, "directoryScopeId": "/", "justification": request.justification}))).into_response()
        }
        [
            "roleManagement",
            "directory",
            "roleAssignmentScheduleInstances",
        ] if get => guard(req.may(&read_roles), &|| {
            let filter = req.q("filter").unwrap_or("");
            let principal = filter_eq(filter, "principalId");
            let items: Vec<Value> = tenant
                .role_assignments
                .iter()
                .filter(|a| principal.as_ref().is_none_or(|p| *p == a.principal_id))
                .map(|a| json!({"id": a.id, "principalId": a.principal_id, "roleDefinitionId": a.role_id, "directoryScopeId": "/", "assignmentType": "Assigned", "memberType": "Direct"}))
                .collect();
            paged(base, req, items.len(), |i| items.get(i).cloned())
        }),
        _ => req.err(
            400,
            "BadRequest",
            &format!(
                "Resource not found for the segment '{}'.",
                segs.first().unwrap_or(&"")
            ),
        ),
    }
}

fn ok(v: Value) -> Response {
    (StatusCode::OK, axum::Json(v)).into_response()
}

fn percent_decode(s: &str) -> String {
    serde_urlencoded::from_str::<HashMap<String, String>>(&format!("v={s}"))
        .ok()
        .and_then(|mut m| m.remove("v"))
        .unwrap_or_else(|| s.to_string())
}

/// The id under which the simulator lists a resource's service principal in a tenant.
fn resource_sp_id(tenant: &str, resource_app: &str) -> String {
    let d = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{tenant}/{resource_app}").as_bytes(),
    );
    let h: String = d.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "{}-{}-4{}-8{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// Service principals as Graph lists them: the consented applications and the Microsoft
/// resource APIs.
fn tenant_sps(tenant: &Tenant, _world: &World) -> Vec<Value> {
    let mut out: Vec<Value> = [
        ids::GRAPH_APP_ID,
        ids::EXCHANGE_APP_ID,
        ids::MANAGEMENT_APP_ID,
    ]
    .iter()
    .map(|app| json!({"id": resource_sp_id(&tenant.id, app), "appId": app, "displayName": ids::resource_name(app).unwrap_or("Unknown"), "servicePrincipalType": "Application"}))
    .collect();
    out.extend(tenant.service_principals.iter().map(|s| json!({"id": s.id, "appId": s.app_id, "displayName": s.display_name, "servicePrincipalType": "Application", "accountEnabled": true})));
    out
}

fn role_definition(id: &str, name: &str) -> Value {
    json!({"id": id, "templateId": id, "displayName": name, "isBuiltIn": true, "isEnabled": true})
}

/// `field eq 'value'` in a `$filter`.
fn filter_eq(filter: &str, field: &str) -> Option<String> {
    let lower = filter.to_lowercase();
    let at = lower.find(&format!("{} eq ", field.to_lowercase()))?;
    let rest = &filter[at + field.len() + 4..];
    let rest = rest.trim_start();
    let value = rest.strip_prefix('\'')?;
    let mut out = String::new();
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            if chars.peek() == Some(&'\'') {
                chars.next();
                out.push('\'');
            } else {
                return Some(out);
            }
        } else {
            out.push(c);
        }
    }
    None
}

/// `startswith(field,'value')` in a `$filter`.
fn filter_startswith(filter: &str, field: &str) -> Option<String> {
    let lower = filter.to_lowercase();
    let at = lower.find(&format!("startswith({},", field.to_lowercase()))?;
    let rest = filter[at + field.len() + 12..].trim_start();
    filter_eq(&format!("x eq {rest}"), "x")
}

fn user_json(u: &User) -> Value {
    json!({
        "id": u.id, "userPrincipalName": u.upn, "displayName": u.display_name, "mail": u.mail,
        "accountEnabled": true, "userType": "Member", "createdDateTime": u.created,
        "proxyAddresses": [format!("SMTP:{}", u.mail)],
    })
}

fn group_json(g: &Group) -> Value {
    json!({
        "id": g.id, "displayName": g.display_name, "mailEnabled": false, "securityEnabled": true,
        "groupTypes": [], "createdDateTime": g.created,
    })
}

fn typed(mut v: Value, kind: &str) -> Value {
    v["@odata.type"] = json!(format!("#microsoft.graph.{kind}"));
    v
}

fn domain_json(d: &super::state::Domain) -> Value {
    json!({
        "id": d.name, "authenticationType": "Managed", "isDefault": d.default, "isInitial": d.initial,
        "isVerified": d.verified, "supportedServices": if d.email { vec!["Email", "OfficeCommunicationsOnline"] } else { vec!["OfficeCommunicationsOnline"] },
    })
}

/// Keeps only the `$select`ed properties (and annotations).
fn select(v: Value, req: &Req) -> Value {
    let Some(sel) = req.q("select") else { return v };
    let wanted: Vec<&str> = sel.split(',').map(str::trim).collect();
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(k, _)| {
                    k.starts_with('@')
                        || k.contains("@delta")
                        || wanted.iter().any(|w| w.eq_ignore_ascii_case(k))
                })
                .collect(),
        ),
        other => other,
    }
}

/// The query without `$skiptoken` (to rebuild next links that preserve the query).
fn query_without_skiptoken(req: &Req) -> Vec<(String, String)> {
    req.query
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("$skiptoken"))
        .cloned()
        .collect()
}

fn link(base: &str, req: &Req, extra: (&str, String)) -> String {
    let mut q = query_without_skiptoken(req);
    q.retain(|(k, _)| !k.eq_ignore_ascii_case("$deltatoken"));
    q.push((extra.0.to_string(), extra.1));
    format!(
        "{base}/v1.0/{}?{}",
        req.path.trim_matches('/'),
        serde_urlencoded::to_string(&q).unwrap_or_default()
    )
}

fn encode_token(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

fn decode_token(s: &str) -> Option<Value> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(s).ok()?).ok()
}

/// A page of a collection of `total` items, `item(i)` each, with `$top`, `$skiptoken` and `$count`.
fn paged(base: &str, req: &Req, total: usize, item: impl Fn(usize) -> Option<Value>) -> Response {
    let size = match req.page_size() {
        Ok(s) => s,
        Err(r) => return r,
    };
    let offset = match req.q("skiptoken") {
        None => 0,
        Some(t) => match decode_token(t).and_then(|v| v["o"].as_u64()) {
            Some(o) => o as usize,
            None => return req.err(400, "Request_BadRequest", "Invalid $skiptoken."),
        },
    };
    let end = (offset + size).min(total);
    let value: Vec<Value> = (offset..end)
        .filter_map(&item)
        .map(|v| select(v, req))
        .collect();
    let mut body = Map::new();
    body.insert(
        "@odata.context".into(),
        json!(format!(
            "{base}/v1.0/$metadata#{}",
            req.path.trim_matches('/')
        )),
    );
    if req
        .q("count")
        .is_some_and(|c| c.eq_ignore_ascii_case("true"))
        && req.eventual()
        && offset == 0
    {
        body.insert("@odata.count".into(), json!(total));
    }
    body.insert("value".into(), Value::Array(value));
    if end < total {
        body.insert(
            "@odata.nextLink".into(),
            json!(link(
                base,
                req,
                ("$skiptoken", encode_token(&json!({"o": end})))
            )),
        );
    }
    ok(Value::Object(body))
}

fn list_users(base: &str, tenant: &Tenant, req: &Req) -> Response {
    if req.q("search").is_some() && !req.eventual() {
        return req.err(400, "Request_UnsupportedQuery", "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'");
    }
    let filter = req.q("filter").unwrap_or("");
    if !filter.is_empty() {
        let key = filter_eq(filter, "userPrincipalName")
            .or(filter_eq(filter, "mail"))
            .or(filter_eq(filter, "id"));
        let Some(key) = key else {
            return req.err(400, "Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for property of resource 'User'.");
        };
        let found: Vec<Value> = tenant
            .find_user(&key)
            .map(|u| user_json(&u))
            .into_iter()
            .collect();
        return paged(base, req, found.len(), |i| found.get(i).cloned());
    }
    if let Some(search) = req.q("search") {
        let term = search
            .trim_matches('"')
            .split_once(':')
            .map(|(_, t)| t)
            .unwrap_or(search)
            .to_lowercase();
        let found: Vec<Value> = tenant
            .users
            .iter()
            .filter(|u| {
                u.display_name.to_lowercase().contains(&term)
                    || u.upn.to_lowercase().contains(&term)
            })
            .map(user_json)
            .collect();
        return paged(base, req, found.len(), |i| found.get(i).cloned());
    }
    paged(base, req, tenant.user_count() as usize, |i| {
        tenant.user_at(i as u64).map(|u| user_json(&u))
    })
}

fn list_groups(base: &str, tenant: &Tenant, req: &Req) -> Response {
    if req.q("search").is_some() && !req.eventual() {
        return req.err(400, "Request_UnsupportedQuery", "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'");
    }
    let all: Box<dyn Fn(u64) -> Option<Group>> = Box::new(|i| tenant.group_at(i));
    let filter = req.q("filter").unwrap_or("");
    let matches: Option<Vec<Group>> = if let Some(prefix) = filter_startswith(filter, "displayName")
    {
        let p = prefix.to_lowercase();
        Some(
            (0..tenant.group_count())
                .filter_map(&all)
                .filter(|g| g.display_name.to_lowercase().starts_with(&p))
                .collect(),
        )
    } else if let Some(name) = filter_eq(filter, "displayName") {
        Some(
            (0..tenant.group_count())
                .filter_map(&all)
                .filter(|g| g.display_name.eq_ignore_ascii_case(&name))
                .collect(),
        )
    } else if let Some(search) = req.q("search") {
        let term = search
            .trim_matches('"')
            .split_once(':')
            .map(|(_, t)| t)
            .unwrap_or(search)
            .to_lowercase();
        Some(
            (0..tenant.group_count())
                .filter_map(&all)
                .filter(|g| g.display_name.to_lowercase().contains(&term))
                .collect(),
        )
    } else if !filter.is_empty() {
        return req.err(400, "Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for property of resource 'Group'.");
    } else {
        None
    };
    match matches {
        Some(list) => paged(base, req, list.len(), |i| list.get(i).map(group_json)),
        None => paged(base, req, tenant.group_count() as usize, |i| {
            tenant.group_at(i as u64).map(|g| group_json(&g))
        }),
    }
}

fn group_with_members(tenant: &Tenant, g: &Group, changes: Option<&[(String, bool)]>) -> Value {
    let mut v = group_json(g);
    let refs: Vec<Value> = match changes {
        None => tenant
            .members(g)
            .iter()
            .map(|m| {
                let kind = if tenant.find_user(m).is_some() {
                    "user"
                } else {
                    "group"
                };
                json!({"@odata.type": format!("#microsoft.graph.{kind}"), "id": m})
            })
            .collect(),
        Some(list) => list
            .iter()
            .map(|(m, added)| {
                let kind = if tenant.find_group(m).is_some() {
                    "group"
                } else {
                    "user"
                };
                let mut r = json!({"@odata.type": format!("#microsoft.graph.{kind}"), "id": m});
                if !added {
                    r["@removed"] = json!({"reason": "deleted"});
                }
                r
            })
            .collect(),
    };
    v["members@delta"] = Value::Array(refs);
    v
}

/// A delta round of `kind` (`user` or `group`).
fn delta(base: &str, world: &World, tenant: &Tenant, req: &Req, kind: &'static str) -> Response {
    let size = req.page_size().unwrap_or(DEFAULT_PAGE).min(MAX_PAGE);
    let now = world.now();
    let delta_link = |seq: u64| {
        link(
            base,
            req,
            (
                "$deltatoken",
                encode_token(&json!({"s": seq, "t": now.as_second(), "k": kind})),
            ),
        )
    };
    let context = format!("{base}/v1.0/$metadata#{}s(id)", kind);
    if let Some(token) = req.q("deltatoken") {
        if token == "latest" {
            return ok(
                json!({"@odata.context": context, "value": [], "@odata.deltaLink": delta_link(world.seq)}),
            );
        }
        let Some(t) = decode_token(token).filter(|t| t["k"] == kind) else {
            return req.err(
                400,
                "syncStateNotFound",
                "The sync state of the delta token was not found.",
            );
        };
        let issued = jiff::Timestamp::from_second(t["t"].as_i64().unwrap_or(0)).unwrap_or_default();
        if now.duration_since(issued) > DELTA_TOKEN_LIFETIME {
            let mut r = req.err(410, "resyncRequired", "Resync required: the delta token has expired. Replace the token with the one in the Location header.");
            if let Ok(v) = axum::http::HeaderValue::from_str(&format!(
                "{base}/v1.0/{}s/delta?$deltatoken=",
                kind
            )) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            return r;
        }
        let from = t["s"].as_u64().unwrap_or(0);
        return changes_page(
            base,
            tenant,
            req,
            kind,
            from,
            world.seq,
            0,
            size,
            &delta_link,
            &context,
        );
    }
    if let Some(skip) = req.q("skiptoken") {
        let Some(t) = decode_token(skip) else {
            return req.err(400, "Request_BadRequest", "Invalid $skiptoken.");
        };
        let offset = t["o"].as_u64().unwrap_or(0) as usize;
        let seq = t["s"].as_u64().unwrap_or(world.seq);
        if t["p"] == "c" {
            let to = t["e"].as_u64().unwrap_or(world.seq);
            return changes_page(
                base,
                tenant,
                req,
                kind,
                seq,
                to,
                offset,
                size,
                &delta_link,
                &context,
            );
        }
        return initial_page(
            base,
            tenant,
            req,
            kind,
            offset,
            size,
            seq,
            &delta_link,
            &context,
        );
    }
    initial_page(
        base,
        tenant,
        req,
        kind,
        0,
        size,
        world.seq,
        &delta_link,
        &context,
    )
}

#[allow(clippy::too_many_arguments)]
fn initial_page(
    base: &str,
    tenant: &Tenant,
    req: &Req,
    kind: &str,
    offset: usize,
    size: usize,
    seq: u64,
    delta_link: &dyn Fn(u64) -> String,
    context: &str,
) -> Response {
    let total = if kind == "user" {
        tenant.user_count()
    } else {
        tenant.group_count()
    } as usize;
    let end = (offset + size).min(total);
    let value: Vec<Value> = (offset..end)
        .filter_map(|i| {
            if kind == "user" {
                tenant.user_at(i as u64).map(|u| user_json(&u))
            } else {
                tenant
                    .group_at(i as u64)
                    .map(|g| group_with_members(tenant, &g, None))
            }
        })
        .map(|v| select(v, req))
        .collect();
    let mut body = json!({"@odata.context": context, "value": value});
    if end < total {
        body["@odata.nextLink"] = json!(link(
            base,
            req,
            (
                "$skiptoken",
                encode_token(&json!({"p": "i", "o": end, "s": seq}))
            )
        ));
    } else {
        body["@odata.deltaLink"] = json!(delta_link(seq));
    }
    ok(body)
}

#[allow(clippy::too_many_arguments)]
fn changes_page(
    base: &str,
    tenant: &Tenant,
    req: &Req,
    kind: &str,
    from: u64,
    to: u64,
    offset: usize,
    size: usize,
    delta_link: &dyn Fn(u64) -> String,
    context: &str,
) -> Response {
    // Latest change per object, in journal order.
    let mut order: Vec<String> = Vec::new();
    let mut members: BTreeMap<String, Vec<(String, bool)>> = BTreeMap::new();
    for c in tenant
        .journal
        .iter()
        .filter(|c| c.kind == kind && c.seq > from && c.seq <= to)
    {
        if !order.contains(&c.id) {
            order.push(c.id.clone());
        }
        if let Some(m) = &c.member {
            members.entry(c.id.clone()).or_default().push(m.clone());
        }
    }
    let end = (offset + size).min(order.len());
    let value: Vec<Value> = order[offset.min(order.len())..end]
        .iter()
        .map(|id| {
            if tenant.deleted.contains(id) {
                return json!({"id": id, "@removed": {"reason": "deleted"}});
            }
            let v = if kind == "user" {
                tenant.find_user(id).map(|u| user_json(&u))
            } else {
                tenant.find_group(id).map(|g| {
                    group_with_members(
                        tenant,
                        &g,
                        Some(members.get(id).map(Vec::as_slice).unwrap_or(&[])),
                    )
                })
            };
            v.map(|v| select(v, req))
                .unwrap_or_else(|| json!({"id": id, "@removed": {"reason": "deleted"}}))
        })
        .collect();
    let mut body = json!({"@odata.context": context, "value": value});
    if end < order.len() {
        body["@odata.nextLink"] = json!(link(
            base,
            req,
            (
                "$skiptoken",
                encode_token(&json!({"p": "c", "o": end, "s": from, "e": to}))
            )
        ));
    } else {
        body["@odata.deltaLink"] = json!(delta_link(to));
    }
    ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_odata_literals() {
        assert_eq!(
            filter_eq("appId eq '3f1c'", "appId").as_deref(),
            Some("3f1c")
        );
        assert_eq!(
            filter_eq("userPrincipalName eq 'o''neil@x.com'", "userPrincipalName").as_deref(),
            Some("o'neil@x.com")
        );
        assert_eq!(
            filter_startswith("startswith(displayName,'Fin')", "displayName").as_deref(),
            Some("Fin")
        );
        assert_eq!(
            filter_startswith("startswith(displayName, 'Fin ance')", "displayName").as_deref(),
            Some("Fin ance")
        );
        assert!(filter_eq("appId ne 'x'", "appId").is_none());
    }

    #[test]
    fn resource_service_principal_ids_are_stable_guids() {
        let a = resource_sp_id("t", GRAPH_APP_ID);
        assert_eq!(a, resource_sp_id("t", GRAPH_APP_ID));
        assert_eq!(a.len(), 36);
        assert_ne!(a, resource_sp_id("u", GRAPH_APP_ID));
    }
}
