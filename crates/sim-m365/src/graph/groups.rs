//! `/groups`: the list (with `$filter` on the display name and `$search`), one group, and its
//! direct or transitive members (optionally cast to users).

use axum::response::Response;
use serde_json::Value;

use super::json::{self, typed};
use super::odata::{filter_eq, filter_startswith, search_term, select};
use super::routes::Call;
use crate::state::{Group, Tenant};

/// `GET /groups`.
pub(super) fn list(call: &mut Call) -> Response {
    let (req, tenant) = (call.req, &call.tenant);
    if let Some(refusal) = req.search_needs_eventual() {
        return refusal;
    }
    let filter = req.filter();
    let wanted: Box<dyn Fn(&Group) -> bool> = if let Some(prefix) =
        filter_startswith(filter, "displayName")
    {
        let p = prefix.to_lowercase();
        Box::new(move |g| g.display_name.to_lowercase().starts_with(&p))
    } else if let Some(name) = filter_eq(filter, "displayName") {
        Box::new(move |g| g.display_name.eq_ignore_ascii_case(&name))
    } else if let Some(search) = req.q("search") {
        let term = search_term(search);
        Box::new(move |g| g.display_name.to_lowercase().contains(&term))
    } else if !filter.is_empty() {
        return req.err(400, "Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for property of resource 'Group'.");
    } else {
        return req.paged(tenant.group_count() as usize, |i| {
            tenant.group_at(i as u64).map(|g| json::group(&g))
        });
    };
    let found: Vec<Group> = (0..tenant.group_count())
        .filter_map(|i| tenant.group_at(i))
        .filter(|g| wanted(g))
        .collect();
    req.paged(found.len(), |i| found.get(i).map(json::group))
}

/// `GET /groups/{id}`.
pub(super) fn get(call: &mut Call) -> Response {
    let id = call.params[0];
    match call.tenant.find_group(id) {
        Some(g) => json::ok(select(json::group(&g), call.req)),
        None => call.req.not_found(id),
    }
}

/// `GET /groups/{id}/members[/microsoft.graph.user]`.
pub(super) fn members(call: &mut Call) -> Response {
    list_members(call, |tenant, group, users_only| {
        tenant
            .members(group)
            .iter()
            .filter_map(|m| {
                tenant
                    .find_user(m)
                    .map(|u| typed(json::user(&u), "user"))
                    .or_else(|| {
                        (!users_only)
                            .then(|| {
                                tenant
                                    .find_group(m)
                                    .map(|g| typed(json::group(&g), "group"))
                            })
                            .flatten()
                    })
            })
            .collect()
    })
}

/// `GET /groups/{id}/transitiveMembers[/microsoft.graph.user]`.
pub(super) fn transitive_members(call: &mut Call) -> Response {
    list_members(call, |tenant, group, users_only| {
        let (users, groups) = tenant.transitive_users(group);
        let mut v: Vec<Value> = users.iter().map(|u| typed(json::user(u), "user")).collect();
        if !users_only {
            v.extend(groups.iter().map(|g| typed(json::group(g), "group")));
        }
        v
    })
}

/// The members `collect(tenant, group, users_only)` lists, paged; a type cast needs
/// `ConsistencyLevel: eventual`.
fn list_members(call: &mut Call, collect: fn(&Tenant, &Group, bool) -> Vec<Value>) -> Response {
    let (req, tenant) = (call.req, &call.tenant);
    let (id, cast) = (call.params[0], &call.params[1..]);
    let Some(group) = tenant.find_group(id) else {
        return req.not_found(id);
    };
    if !cast.is_empty() && !req.eventual() {
        return req.err(400, "Request_UnsupportedQuery", "The specified type cast is only supported with the ConsistencyLevel:eventual header and $count=true.");
    }
    let users_only = cast.first() == Some(&"microsoft.graph.user");
    req.paged_list(&collect(tenant, &group, users_only))
}
