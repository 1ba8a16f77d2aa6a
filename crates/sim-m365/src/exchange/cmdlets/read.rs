//! `Get-*` cmdlets: objects (one by `Identity`, or all, paged by re-POSTing to the
//! `@odata.nextLink`) and a group's members.

use axum::response::Response;
use serde_json::{Value, json};

use super::super::Invocation;
use super::super::objects::{find, not_found};
use crate::paging::{Page, preferred_page_size};

/// Most objects on one page.
const MAX_PAGE: usize = 1000;

/// `Get-InboundConnector`, `Get-TransportRule`, …: transport rules in priority order.
pub(super) fn objects(inv: &mut Invocation) -> Response {
    let mut list: Vec<Value> = match inv.args.get("Identity").and_then(Value::as_str) {
        Some(id) => match find(inv.objects, id) {
            Some(k) => vec![inv.objects[k].clone()],
            None => return not_found(id, &inv.snapshot),
        },
        None => inv.objects.values().cloned().collect(),
    };
    if inv.kind == "TransportRule" {
        list.sort_by_key(|r| r["Priority"].as_i64().unwrap_or(0));
    }
    let size = preferred_page_size(inv.headers)
        .unwrap_or(MAX_PAGE)
        .clamp(1, MAX_PAGE);
    let offset: usize = inv
        .raw_query
        .and_then(|q| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix("$skiptoken=")?.parse().ok())
        })
        .unwrap_or(0);
    let page = Page::new(offset, size, list.len());
    let next = page.next().map(|end| {
        format!(
            "{}/adminapi/beta/{}/InvokeCommand?$skiptoken={end}",
            inv.base, inv.tenant_name
        )
    });
    inv.reply(list[page.range()].to_vec(), next)
}

/// `Get-DistributionGroupMember`.
pub(super) fn members(inv: &mut Invocation) -> Response {
    let key = match inv.find_identity() {
        Ok(key) => key,
        Err(refusal) => return refusal,
    };
    let members: Vec<Value> = inv.objects[&key]["Members"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|m| json!({"Identity": m, "Name": m, "PrimarySmtpAddress": m, "RecipientType": "UserMailbox"}))
        .collect();
    inv.reply(members, None)
}
