//! `/users`: the list (with `$filter`, `$search` and `$orderby`) and one user.

use axum::response::Response;
use serde_json::Value;

use super::json;
use super::query::USERS;
use super::routes::Call;
use crate::urlencoding;

/// `GET /users` (and `/users/$count`).
pub(super) fn list(call: &mut Call) -> Response {
    let (req, tenant) = (call.req, &call.tenant);
    if req.plain() {
        return req.paged(tenant.user_count() as usize, |i| {
            tenant.user_at(i as u64).map(|u| json::user(&u))
        });
    }
    let all: Vec<Value> = (0..tenant.user_count())
        .filter_map(|i| tenant.user_at(i))
        .map(|u| json::user(&u))
        .collect();
    req.query(&USERS, all)
}

/// `GET /users/{id or UPN}`.
pub(super) fn get(call: &mut Call) -> Response {
    let key = call.params[0];
    let decoded = urlencoding::decode(key).unwrap_or_else(|| key.to_string());
    match call.tenant.find_user(&decoded) {
        Some(u) => call.req.entity(json::user(&u)),
        None => call.req.not_found(key),
    }
}
