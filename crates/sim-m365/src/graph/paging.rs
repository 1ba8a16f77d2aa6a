//! Graph paging: the page size (`$top` or `Prefer: odata.maxpagesize`), opaque `$skiptoken`s,
//! `@odata.nextLink`s that keep the rest of the query, and `$count`.

use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::Req;
use super::json::ok;
use super::odata::select;
use crate::paging::{Page, preferred_page_size};

/// Default page size.
pub const DEFAULT_PAGE: usize = 100;
/// Largest page.
pub const MAX_PAGE: usize = 999;

/// Encodes the state of a paging or delta link as an opaque token.
pub(super) fn encode_token(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// Decodes a token of [`encode_token`].
pub(super) fn decode_token(s: &str) -> Option<Value> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(s).ok()?).ok()
}

/// The answer to a `/$count` segment: the number as `text/plain`.
fn count_text(total: usize) -> Response {
    (
        axum::http::StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "text/plain")],
        total.to_string(),
    )
        .into_response()
}

impl Req {
    /// The page size: `$top` (1 to [`MAX_PAGE`], else 400), else the preferred one (clamped),
    /// else [`DEFAULT_PAGE`].
    pub(super) fn page_size(&self) -> Result<usize, Response> {
        if let Some(top) = self.q("top") {
            return match top.parse::<usize>() {
                Ok(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
                _ => Err(self.err(400, "Request_UnsupportedQuery", &format!("Invalid page size specified: '{top}'. Must be between 1 and {MAX_PAGE} inclusive."))),
            };
        }
        Ok(preferred_page_size(&self.headers)
            .map(|n| n.clamp(1, MAX_PAGE))
            .unwrap_or(DEFAULT_PAGE))
    }

    /// This request's URL with `$skiptoken` and `$deltatoken` replaced by `token`.
    pub(super) fn link(&self, token: (&str, String)) -> String {
        let mut q: Vec<(String, String)> = self
            .query
            .iter()
            .filter(|(k, _)| {
                !k.eq_ignore_ascii_case("$skiptoken") && !k.eq_ignore_ascii_case("$deltatoken")
            })
            .cloned()
            .collect();
        q.push((token.0.to_string(), token.1));
        format!(
            "{}/v1.0/{}?{}",
            self.base,
            self.path.trim_matches('/'),
            serde_urlencoded::to_string(&q).unwrap_or_default()
        )
    }

    /// An `@odata.nextLink` carrying `state` as its `$skiptoken`.
    pub(super) fn next_link(&self, state: Value) -> Value {
        json!(self.link(("$skiptoken", encode_token(&state))))
    }

    /// A page of a collection of `total` items, `item(i)` each, with `$top`, `$skiptoken`,
    /// `$select` and `$count`; or, for a `/$count` segment, `total` as text.
    pub(super) fn paged(&self, total: usize, item: impl Fn(usize) -> Option<Value>) -> Response {
        if self.count_only {
            return count_text(total);
        }
        let size = match self.page_size() {
            Ok(s) => s,
            Err(r) => return r,
        };
        let offset = match self.q("skiptoken") {
            None => 0,
            Some(t) => match decode_token(t).and_then(|v| v["o"].as_u64()) {
                Some(o) => o as usize,
                None => return self.err(400, "Request_BadRequest", "Invalid $skiptoken."),
            },
        };
        let page = Page::new(offset, size, total);
        let value: Vec<Value> = page
            .range()
            .filter_map(&item)
            .map(|v| select(v, self))
            .collect();
        let mut body = Map::new();
        body.insert("@odata.context".into(), json!(self.context()));
        let count = self
            .q("count")
            .is_some_and(|c| c.eq_ignore_ascii_case("true"));
        if count && self.eventual() && offset == 0 {
            body.insert("@odata.count".into(), json!(total));
        }
        body.insert("value".into(), Value::Array(value));
        if let Some(end) = page.next() {
            body.insert("@odata.nextLink".into(), self.next_link(json!({"o": end})));
        }
        ok(Value::Object(body))
    }

    /// A page of a collection already in memory.
    pub(super) fn paged_list(&self, items: &[Value]) -> Response {
        self.paged(items.len(), |i| items.get(i).cloned())
    }
}
