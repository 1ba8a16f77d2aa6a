//! Reads: get and list (whole objects, metadata only, or Tables) and the selectors they share
//! with watch and delete-collection.

pub mod watch;

use std::ops::Bound;

use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::events;
use crate::http::ServerState;
use crate::http::request::Call;
use crate::http::response::{Shape, json_response, to_wire};
use crate::http::routes::Target;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::table;
use crate::types::ResourceType;

/// GET of one object.
pub fn get(server: &ServerState, call: &Call, t: &Target) -> Result<Response, ApiError> {
    let st = server.store.lock();
    let name = t.name();
    let obj = st
        .object(&t.rt, &t.key_of(&name))
        .cloned()
        .ok_or_else(|| ApiError::not_found(&t.rt.qualified(), &name))?;
    let rv = st.rv.to_string();
    drop(st);
    if call.wants("Table") {
        return Ok(json_response(
            StatusCode::OK,
            &table::table(&t.rt, &[to_wire(&t.rt, &obj)], &rv, None),
        ));
    }
    let shape = Shape::metadata_only(call.wants("PartialObjectMetadata"));
    Ok(json_response(StatusCode::OK, &shape.object(&t.rt, &obj)))
}

/// Which objects of a collection a request selects: its namespace, label and field selectors.
pub struct Filter {
    namespace: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    /// The selection of `call` on `t`; 400 when a selector does not parse.
    pub fn from(call: &Call, t: &Target) -> Result<Self, ApiError> {
        Ok(Self {
            namespace: t.namespace.clone(),
            labels: LabelSelector::parse(call.q("labelSelector").unwrap_or(""))
                .map_err(ApiError::bad_request)?,
            fields: FieldSelector::parse(call.q("fieldSelector").unwrap_or(""))
                .map_err(ApiError::bad_request)?,
        })
    }

    /// Whether the stored object `stored`, served through `rt`, is selected.
    pub fn matches(&self, rt: &ResourceType, stored: &Value) -> bool {
        if let Some(ns) = &self.namespace
            && stored
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                != Some(ns.as_str())
        {
            return false;
        }
        if !self.labels.matches(stored) {
            return false;
        }
        // Field selectors use the names of the API they came through.
        if rt.is_events_v1() {
            self.fields.matches(&events::to_events_v1(stored))
        } else {
            self.fields.matches(stored)
        }
    }
}

/// One page of a list: the objects and the token of the next page, if any.
struct Page {
    items: Vec<Value>,
    next: Option<String>,
    resource_version: String,
}

/// GET of a collection, paged by `limit` and `continue`.
pub fn list(server: &ServerState, call: &Call, t: &Target) -> Result<Response, ApiError> {
    let filter = Filter::from(call, t)?;
    let page = read_page(server, call, t, &filter);
    let rv = page.resource_version;
    if call.wants("Table") {
        let wire: Vec<Value> = page.items.iter().map(|o| to_wire(&t.rt, o)).collect();
        return Ok(json_response(
            StatusCode::OK,
            &table::table(&t.rt, &wire, &rv, page.next.as_deref()),
        ));
    }
    let shape = Shape::metadata_only(call.wants("PartialObjectMetadataList"));
    let items: Vec<Value> = page.items.iter().map(|o| shape.object(&t.rt, o)).collect();
    let mut meta = json!({"resourceVersion": rv});
    if let Some(n) = page.next {
        meta["continue"] = json!(n);
    }
    let (api_version, kind) = shape.type_meta(&t.rt);
    Ok(json_response(
        StatusCode::OK,
        &json!({"apiVersion": api_version, "kind": format!("{kind}List"), "metadata": meta, "items": items}),
    ))
}

/// The selected objects after the `continue` token, at most `limit` of them (0: all).
fn read_page(server: &ServerState, call: &Call, t: &Target, filter: &Filter) -> Page {
    let limit = call.number("limit").unwrap_or(0) as usize;
    let after = call.q("continue").and_then(decode_continue);
    let st = server.store.lock();
    let mut page = Page {
        items: Vec::new(),
        next: None,
        resource_version: st.rv.to_string(),
    };
    let Some(objects) = st.objects.get(&t.rt.storage) else {
        return page;
    };
    let range = match after {
        Some(k) => objects.range((Bound::Excluded(k), Bound::Unbounded)),
        None => objects.range::<(String, String), _>(..),
    };
    let mut last_key = None;
    for (k, obj) in range.filter(|(_, o)| filter.matches(&t.rt, o)) {
        if limit > 0 && page.items.len() == limit {
            page.next = last_key.map(encode_continue);
            break;
        }
        page.items.push(obj.clone());
        last_key = Some(k);
    }
    page
}

/// The `continue` token of a page ending at store key `last`.
fn encode_continue(last: &(String, String)) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(last).unwrap_or_default())
}

/// The store key a `continue` token resumes after, if it is one.
fn decode_continue(token: &str) -> Option<(String, String)> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip_and_reject_garbage() {
        let key = ("default".to_string(), "contoso".to_string());
        assert_eq!(decode_continue(&encode_continue(&key)), Some(key));
        assert_eq!(decode_continue("not a token"), None);
    }
}
