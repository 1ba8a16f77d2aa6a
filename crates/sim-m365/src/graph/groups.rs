//! `/groups`: the list (with `$filter`, `$search` and `$orderby`), one group, and its direct or
//! transitive members, optionally cast to users or groups (`graph.user` or
//! `microsoft.graph.user`).

use axum::response::Response;
use serde_json::Value;

use super::json::{self, typed};
use super::query::GROUPS;
use super::routes::Call;
use crate::state::{Group, Tenant};

/// `GET /groups` (and `/groups/$count`).
pub(super) fn list(call: &mut Call) -> Response {
    let (req, tenant) = (call.req, &call.tenant);
    if req.plain() {
        return req.paged(tenant.group_count() as usize, |i| {
            tenant.group_at(i as u64).map(|g| json::group(&g))
        });
    }
    let all: Vec<Value> = (0..tenant.group_count())
        .filter_map(|i| tenant.group_at(i))
        .map(|g| json::group(&g))
        .collect();
    req.query(&GROUPS, all)
}

/// `GET /groups/{id}`.
pub(super) fn get(call: &mut Call) -> Response {
    let id = call.params[0];
    match call.tenant.find_group(id) {
        Some(g) => call.req.entity(json::group(&g)),
        None => call.req.not_found(id),
    }
}

/// `GET /groups/{id}/members[/{cast}]`.
pub(super) fn members(call: &mut Call) -> Response {
    list_members(call, |tenant, group| {
        tenant
            .members(group)
            .iter()
            .filter_map(|m| {
                tenant
                    .find_user(m)
                    .map(|u| typed(json::user(&u), "user"))
                    .or_else(|| {
                        tenant
                            .find_group(m)
                            .map(|g| typed(json::group(&g), "group"))
                    })
            })
            .collect()
    })
}

/// `GET /groups/{id}/transitiveMembers[/{cast}]`.
pub(super) fn transitive_members(call: &mut Call) -> Response {
    list_members(call, |tenant, group| {
        let (users, groups) = tenant.transitive_users(group);
        let mut v: Vec<Value> = users.iter().map(|u| typed(json::user(u), "user")).collect();
        v.extend(groups.iter().map(|g| typed(json::group(g), "group")));
        v
    })
}

/// The `@odata.type` an OData cast segment keeps (`graph.user` and `microsoft.graph.user`
/// alike), if it names a directory object type.
fn cast_type(segment: &str) -> Option<&'static str> {
    match segment.trim_start_matches("microsoft.") {
        "graph.user" => Some("#microsoft.graph.user"),
        "graph.group" => Some("#microsoft.graph.group"),
        _ => None,
    }
}

/// The members `collect(tenant, group)` lists, kept to a cast's type if any, paged; a type
/// cast needs `ConsistencyLevel: eventual`.
fn list_members(call: &mut Call, collect: fn(&Tenant, &Group) -> Vec<Value>) -> Response {
    let (req, tenant) = (call.req, &call.tenant);
    let (id, cast) = (call.params[0], &call.params[1..]);
    let Some(group) = tenant.find_group(id) else {
        return req.not_found(id);
    };
    let kind = match cast {
        [] => None,
        [segment] => match cast_type(segment) {
            Some(kind) => Some(kind),
            None => {
                return req.err(
                    400,
                    "BadRequest",
                    &format!("Resource not found for the segment '{segment}'."),
                );
            }
        },
        [_, segment, ..] => {
            return req.err(
                400,
                "BadRequest",
                &format!("Resource not found for the segment '{segment}'."),
            );
        }
    };
    if kind.is_some() && !req.eventual() {
        return req.err(400, "Request_UnsupportedQuery", "The specified type cast is only supported with the ConsistencyLevel:eventual header and $count=true.");
    }
    let mut members = collect(tenant, &group);
    if let Some(kind) = kind {
        members.retain(|m| m["@odata.type"] == kind);
    }
    req.paged_list(&members)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casts_are_spelled_either_way() {
        for (segment, expected) in [
            ("graph.user", Some("#microsoft.graph.user")),
            ("microsoft.graph.user", Some("#microsoft.graph.user")),
            ("microsoft.graph.group", Some("#microsoft.graph.group")),
            ("graph.device", None),
            ("user", None),
        ] {
            assert_eq!(cast_type(segment), expected, "{segment}");
        }
    }
}
