//! The organization and its domains.

use axum::response::Response;
use serde_json::{Value, json};

use super::json;
use super::routes::Call;

/// `GET /domains`.
pub(super) fn domains(call: &mut Call) -> Response {
    let items: Vec<Value> = call.tenant.domains.iter().map(json::domain).collect();
    call.req.paged_list(&items)
}

/// `GET /domains/{name}`.
pub(super) fn domain(call: &mut Call) -> Response {
    let name = call.params[0];
    match call
        .tenant
        .domains
        .iter()
        .find(|d| d.name.eq_ignore_ascii_case(name))
    {
        Some(d) => call.req.entity(json::domain(d)),
        None => call.req.not_found(name),
    }
}

/// `GET /organization`: the tenant, with its verified domains.
pub(super) fn organization(call: &mut Call) -> Response {
    let tenant = &call.tenant;
    let org = json!({
        "id": tenant.id, "displayName": tenant.display_name,
        "verifiedDomains": tenant.domains.iter().filter(|d| d.verified).map(|d| json!({"name": d.name, "isDefault": d.default, "isInitial": d.initial, "type": "Managed", "capabilities": if d.email { "Email" } else { "None" }})).collect::<Vec<_>>(),
    });
    call.req.paged_list(&[org])
}
