//! Delta queries on users and groups: a first round pages through the whole collection and
//! ends with a `@odata.deltaLink`; later rounds page through the change journal since the
//! token's sequence number (deleted objects as `@removed`, group member changes as
//! `members@delta`). Served as `/users/delta`, `/users/delta()` and
//! `/users/microsoft.graph.delta()` alike (the SDKs call the function with parentheses). Tokens expire after [`DELTA_TOKEN_LIFETIME`] (410 with a fresh link).

use std::collections::BTreeMap;

use axum::http::{HeaderValue, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::Req;
use super::json::{self, ok};
use super::odata::select;

use super::paging::{DEFAULT_PAGE, MAX_PAGE, decode_token, encode_token};
use super::routes::Call;
use crate::paging::Page;
use crate::state::{Group, Tenant};

/// Delta tokens expire after this long.
pub const DELTA_TOKEN_LIFETIME: jiff::SignedDuration = jiff::SignedDuration::from_hours(24 * 7);

/// `GET /users/delta`.
pub(super) fn users(call: &mut Call) -> Response {
    delta(call, "user")
}

/// `GET /groups/delta`.
pub(super) fn groups(call: &mut Call) -> Response {
    delta(call, "group")
}

/// One delta request on `kind` (`user` or `group`).
struct Round<'a> {
    req: &'a Req,
    tenant: &'a Tenant,
    kind: &'static str,
    now: jiff::Timestamp,
    size: usize,
}

/// A delta request: a `$deltatoken` round, a further page of either round (`$skiptoken`: `p`
/// is `c` for changes, else initial), or a new first round.
fn delta(call: &mut Call, kind: &'static str) -> Response {
    let req = call.req;
    let latest = call.world.seq;
    let round = Round {
        req,
        tenant: &call.tenant,
        kind,
        now: call.world.now(),
        size: req.page_size().unwrap_or(DEFAULT_PAGE).min(MAX_PAGE),
    };
    if let Some(token) = req.q("deltatoken") {
        return round.changes_since_token(token, latest);
    }
    let Some(skip) = req.q("skiptoken") else {
        return round.initial_page(0, latest);
    };
    let Some(t) = decode_token(skip) else {
        return req.err(400, "Request_BadRequest", "Invalid $skiptoken.");
    };
    let offset = t["o"].as_u64().unwrap_or(0) as usize;
    let seq = t["s"].as_u64().unwrap_or(latest);
    if t["p"] == "c" {
        let to = t["e"].as_u64().unwrap_or(latest);
        return round.changes_page(seq, to, offset);
    }
    round.initial_page(offset, seq)
}

impl Round<'_> {
    fn context(&self) -> String {
        self.req.context()
    }

    /// The `@odata.deltaLink` for changes after `seq`.
    fn delta_link(&self, seq: u64) -> String {
        let state = json!({"s": seq, "t": self.now.as_second(), "k": self.kind});
        self.req.link(("$deltatoken", encode_token(&state)))
    }

    /// `latest` with an empty page; else the changes since the token's sequence number, or
    /// 400/410 for a foreign or expired token.
    fn changes_since_token(&self, token: &str, latest: u64) -> Response {
        let req = self.req;
        if token == "latest" {
            return ok(
                json!({"@odata.context": self.context(), "value": [], "@odata.deltaLink": self.delta_link(latest)}),
            );
        }
        let Some(t) = decode_token(token).filter(|t| t["k"] == self.kind) else {
            return req.err(
                400,
                "syncStateNotFound",
                "The sync state of the delta token was not found.",
            );
        };
        let issued = jiff::Timestamp::from_second(t["t"].as_i64().unwrap_or(0)).unwrap_or_default();
        if self.now.duration_since(issued) > DELTA_TOKEN_LIFETIME {
            let mut r = req.err(410, "resyncRequired", "Resync required: the delta token has expired. Replace the token with the one in the Location header.");
            let fresh = format!("{}/v1.0/{}s/delta?$deltatoken=", req.base, self.kind);
            if let Ok(v) = HeaderValue::from_str(&fresh) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            return r;
        }
        self.changes_page(t["s"].as_u64().unwrap_or(0), latest, 0)
    }

    /// A page `value` with the link to the next page (`skip_state`) or, on the last page, the
    /// delta link for changes after `seq`.
    fn reply(&self, value: Vec<Value>, page: Page, skip_state: Value, seq: u64) -> Response {
        let mut body = json!({"@odata.context": self.context(), "value": value});
        if page.next().is_some() {
            body["@odata.nextLink"] = self.req.next_link(skip_state);
        } else {
            body["@odata.deltaLink"] = json!(self.delta_link(seq));
        }
        ok(body)
    }

    /// A page of the first round: every object as of journal sequence `seq`.
    fn initial_page(&self, offset: usize, seq: u64) -> Response {
        let tenant = self.tenant;
        let users = self.kind == "user";
        let total = if users {
            tenant.user_count()
        } else {
            tenant.group_count()
        } as usize;
        let page = Page::new(offset, self.size, total);
        let value: Vec<Value> = page
            .range()
            .filter_map(|i| {
                if users {
                    tenant.user_at(i as u64).map(|u| json::user(&u))
                } else {
                    tenant
                        .group_at(i as u64)
                        .map(|g| group_with_members(tenant, &g, None))
                }
            })
            .map(|v| select_with_id(v, self.req))
            .collect();
        let end = page.range().end;
        self.reply(value, page, json!({"p": "i", "o": end, "s": seq}), seq)
    }

    /// A page of the objects changed in `(from, to]`, each once in journal order, with the
    /// group member changes.
    fn changes_page(&self, from: u64, to: u64, offset: usize) -> Response {
        let mut order: Vec<String> = Vec::new();
        let mut members: BTreeMap<String, Vec<(String, bool)>> = BTreeMap::new();
        for c in self
            .tenant
            .journal
            .iter()
            .filter(|c| c.kind == self.kind && c.seq > from && c.seq <= to)
        {
            if !order.contains(&c.id) {
                order.push(c.id.clone());
            }
            if let Some(m) = &c.member {
                members.entry(c.id.clone()).or_default().push(m.clone());
            }
        }
        let page = Page::new(offset, self.size, order.len());
        let value: Vec<Value> = order[page.range()]
            .iter()
            .map(|id| self.changed(id, members.get(id).map(Vec::as_slice).unwrap_or(&[])))
            .collect();
        let end = page.range().end;
        self.reply(
            value,
            page,
            json!({"p": "c", "o": end, "s": from, "e": to}),
            to,
        )
    }

    /// A changed object as it is now, or `@removed` when it is gone: a deleted user is
    /// `changed` (Entra soft-deletes users: restorable for 30 days, Learn's "Get incremental
    /// changes for users"); an object gone for good is `deleted`.
    fn changed(&self, id: &str, member_changes: &[(String, bool)]) -> Value {
        let removed = |reason: &str| json!({"id": id, "@removed": {"reason": reason}});
        if self.tenant.deleted.contains(id) {
            return removed(if self.kind == "user" {
                "changed"
            } else {
                "deleted"
            });
        }
        let current = if self.kind == "user" {
            self.tenant.find_user(id).map(|u| json::user(&u))
        } else {
            self.tenant
                .find_group(id)
                .map(|g| group_with_members(self.tenant, &g, Some(member_changes)))
        };
        current
            .map(|v| select_with_id(v, self.req))
            .unwrap_or_else(|| removed("deleted"))
    }
}

/// A group with `members@delta`: all members (first round) or the member `changes` (added,
/// or `@removed`).
fn group_with_members(tenant: &Tenant, g: &Group, changes: Option<&[(String, bool)]>) -> Value {
    let reference =
        |id: &str, kind: &str| json!({"@odata.type": format!("#microsoft.graph.{kind}"), "id": id});
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
                reference(m, kind)
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
                let mut r = reference(m, kind);
                if !added {
                    r["@removed"] = json!({"reason": "deleted"});
                }
                r
            })
            .collect(),
    };
    let mut v = json::group(g);
    v["members@delta"] = Value::Array(refs);
    v
}

/// The `$select`ed properties of `v`, and always its `id` (Learn: "user: delta").
fn select_with_id(v: Value, req: &Req) -> Value {
    let id = v["id"].clone();
    let mut out = select(v, req);
    out["id"] = id;
    out
}
