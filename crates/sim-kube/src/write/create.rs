//! POST to a collection: create an object, named or with a generated name.

use axum::response::Response;
use serde_json::{Value, json};

use super::{Write, commit::commit, drop_status_of_custom_resource};
use crate::events;
use crate::http::ServerState;
use crate::http::request::Call;
use crate::http::routes::Target;
use crate::lifecycle::namespaces;
use crate::status::ApiError;
use crate::validation::field::{self, FieldError};

/// Characters of random suffix `generateName` adds.
const GENERATED_SUFFIX_LEN: usize = 5;

/// POST: creates the object in the body.
pub fn create(server: &ServerState, call: &Call, t: &Target) -> Result<Response, ApiError> {
    if t.sub.is_some() {
        return Err(ApiError::method_not_allowed());
    }
    let mut body = crate::validation::decoded_body(call, &t.rt, "create")?;
    if t.rt.is_events_v1() {
        body = events::to_core(&body);
    }
    if let Some(ns) = body.pointer("/metadata/namespace").and_then(Value::as_str)
        && t.namespace.as_deref().is_some_and(|n| n != ns)
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    let name = name_or_generate(t, &mut body)?;
    drop_status_of_custom_resource(t, &mut body);
    let w = Write::new(server, call, t, "create");
    w.perform(&name, |st| {
        namespaces::require(st, t)?;
        // kube-apiserver's storage refuses this before it looks for the name, as an
        // internal error without a reason.
        if super::resource_version(&body).is_some_and(|rv| !rv.is_empty()) {
            return Err(ApiError::new(
                500,
                "",
                "resourceVersion should not be set on objects to be created".into(),
            ));
        }
        if st.object(&t.rt, &t.key_of(&name)).is_some() {
            return Err(ApiError::already_exists(&t.rt.qualified(), &name));
        }
        commit(st, &w, None, body)
    })
}

/// The name of the object to create: `metadata.name`, else `generateName` plus a random
/// suffix (written into the object); 422 with neither.
fn name_or_generate(t: &Target, body: &mut Value) -> Result<String, ApiError> {
    let meta = super::metadata_entry(body)?;
    if let Some(n) = meta.get("name").and_then(Value::as_str)
        && !n.is_empty()
    {
        return Ok(n.to_string());
    }
    let Some(prefix) = meta.get("generateName").and_then(Value::as_str) else {
        return Err(field::invalid(
            &t.rt.group,
            &t.rt.kind,
            "",
            &[FieldError::required(
                "metadata.name",
                "name or generateName is required",
            )],
        ));
    };
    let name = format!("{prefix}{}", random_suffix());
    meta["name"] = json!(name);
    Ok(name)
}

/// The random suffix of a generated name (lowercase hex).
fn random_suffix() -> String {
    exo_sim_http::ids::uuid_v4()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(GENERATED_SUFFIX_LEN)
        .collect()
}
