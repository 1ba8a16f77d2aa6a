//! Reads: get and list (whole objects, metadata only, or Tables) and the selectors they share
//! with watch and delete-collection.

mod continue_token;
mod list_options;
mod paging;
mod snapshot;
pub mod watch;

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use self::paging::read_page;
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
    /// The selection of `call` on `t`; 400 when a selector does not parse or names a field
    /// the type cannot be selected by.
    pub fn from(call: &Call, t: &Target) -> Result<Self, ApiError> {
        Ok(Self {
            namespace: t.namespace.clone(),
            labels: LabelSelector::parse(call.q("labelSelector").unwrap_or(""))
                .map_err(ApiError::bad_request)?,
            fields: FieldSelector::parse(call.q("fieldSelector").unwrap_or(""))
                .and_then(|f| f.for_type(&t.rt))
                .map_err(ApiError::bad_request)?,
        })
    }

    /// Whether the request selects by labels or fields (lists then leave out
    /// `remainingItemCount`, which would count what is not selected).
    fn selects(&self) -> bool {
        self.labels != LabelSelector::default() || self.fields != FieldSelector::default()
    }

    /// Whether the stored object `stored` of type `_rt` is selected (the selector's fields
    /// are already named as stored, whichever API the request came through).
    pub fn matches(&self, _rt: &ResourceType, stored: &Value) -> bool {
        if let Some(ns) = &self.namespace
            && stored
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                != Some(ns.as_str())
        {
            return false;
        }
        self.labels.matches(stored) && self.fields.matches(stored)
    }
}

/// GET of a collection, paged by `limit` and `continue`, at the latest state or at the
/// `resourceVersion` asked for.
pub fn list(server: &ServerState, call: &Call, t: &Target) -> Result<Response, ApiError> {
    list_options::check(call, false)?;
    let filter = Filter::from(call, t)?;
    let page = match read_page(server, call, t, &filter) {
        Ok(page) => page,
        Err(refusal) => return Ok(*refusal),
    };
    let rv = page.resource_version;
    if call.wants("Table") {
        let wire: Vec<Value> = page.items.iter().map(|o| to_wire(&t.rt, o)).collect();
        return Ok(json_response(
            StatusCode::OK,
            &table::table(&t.rt, &wire, &rv, page.next.as_deref()),
        ));
    }
    let shape = Shape::metadata_only(call.wants("PartialObjectMetadataList"));
    // The items of a built-in kind's list carry no apiVersion and kind (the list's type says
    // them); those of custom kinds and of metadata lists do.
    let typed = shape == Shape::Full && !t.rt.custom;
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|o| {
            let mut item = shape.object(&t.rt, o);
            if typed && let Some(m) = item.as_object_mut() {
                m.remove("apiVersion");
                m.remove("kind");
            }
            item
        })
        .collect();
    let mut meta = json!({"resourceVersion": rv});
    // Lists of custom kinds always say `continue`, empty on the last page.
    if let Some(n) = page.next {
        meta["continue"] = json!(n);
    } else if t.rt.custom {
        meta["continue"] = json!("");
    }
    if let Some(r) = page.remaining {
        meta["remainingItemCount"] = json!(r);
    }
    let (api_version, kind) = shape.type_meta(&t.rt);
    Ok(json_response(
        StatusCode::OK,
        &json!({"apiVersion": api_version, "kind": format!("{kind}List"), "metadata": meta, "items": items}),
    ))
}
