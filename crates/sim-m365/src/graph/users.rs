//! `/users`: the list (with `$filter` on UPN, mail or id, and `$search`) and one user.

use axum::response::Response;
use serde_json::Value;

use super::json;
use super::odata::{filter_eq, search_term, select};
use super::routes::Call;
use crate::urlencoding;

/// `GET /users`.
pub(super) fn list(call: &mut Call) -> Response {
    let (req, tenant) = (call.req, &call.tenant);
    if let Some(refusal) = req.search_needs_eventual() {
        return refusal;
    }
    let filter = req.filter();
    if !filter.is_empty() {
        let key = filter_eq(filter, "userPrincipalName")
            .or(filter_eq(filter, "mail"))
            .or(filter_eq(filter, "id"));
        let Some(key) = key else {
            return req.err(400, "Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for property of resource 'User'.");
        };
        let found: Vec<Value> = tenant
            .find_user(&key)
            .map(|u| json::user(&u))
            .into_iter()
            .collect();
        return req.paged_list(&found);
    }
    if let Some(search) = req.q("search") {
        let term = search_term(search);
        let found: Vec<Value> = tenant
            .users
            .iter()
            .filter(|u| {
                u.display_name.to_lowercase().contains(&term)
                    || u.upn.to_lowercase().contains(&term)
            })
            .map(json::user)
            .collect();
        return req.paged_list(&found);
    }
    req.paged(tenant.user_count() as usize, |i| {
        tenant.user_at(i as u64).map(|u| json::user(&u))
    })
}

/// `GET /users/{id or UPN}`.
pub(super) fn get(call: &mut Call) -> Response {
    let key = call.params[0];
    let decoded = urlencoding::decode(key).unwrap_or_else(|| key.to_string());
    match call.tenant.find_user(&decoded) {
        Some(u) => json::ok(select(json::user(&u), call.req)),
        None => call.req.not_found(key),
    }
}
