//! PATCH of an object (or its status): JSON merge patch, JSON patch, strategic merge patch,
//! or server-side apply, told apart by the content type.

use axum::response::Response;

use super::update::Replacement;
use super::{Write, apply};
use crate::events;
use crate::http::ServerState;
use crate::http::request::Call;
use crate::http::routes::Target;
use crate::lifecycle::namespaces;
use crate::patch;
use crate::status::ApiError;

/// The patch formats, by content type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Merge,
    Json,
    StrategicMerge,
    Apply,
}

impl Format {
    fn of(content_type: &str) -> Option<Self> {
        Some(match content_type {
            "application/merge-patch+json" => Self::Merge,
            "application/json-patch+json" => Self::Json,
            "application/strategic-merge-patch+json" => Self::StrategicMerge,
            "application/apply-patch+yaml" => Self::Apply,
            _ => return None,
        })
    }
}

/// PATCH: patches the object, or applies it (creating it if need be).
pub fn patch(server: &ServerState, call: &Call, t: &Target) -> Result<Response, ApiError> {
    let content_type = call.content_type.split(';').next().unwrap_or("").trim();
    let format = Format::of(content_type).ok_or_else(ApiError::unsupported_media_type)?;
    // Custom resources have no strategic merge patch.
    if format == Format::StrategicMerge && t.rt.validator.is_some() {
        return Err(ApiError::patch_type_not_accepted(&[
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/apply-patch+yaml",
        ]));
    }
    if format == Format::Apply && call.field_manager().is_none() {
        return Err(ApiError::new(
            422,
            "Invalid",
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch".into(),
        )
        .with_details(serde_json::json!({
            "causes": [{"reason": "FieldValueRequired", "message": "Required value: is required for apply patch", "field": "fieldManager"}],
            "group": "meta.k8s.io", "kind": "PatchOptions",
        })));
    }
    let mut body = call.json_body()?;
    if t.rt.is_events_v1() && format != Format::Json {
        body = events::patch_to_core(&body);
    }
    let name = t.name();
    let w = Write::new(server, call, t, "patch");
    w.perform(&name, |st| {
        if format == Format::Apply {
            namespaces::require(st, t)?;
            let existing = st.object(&t.rt, &t.key_of(&name)).cloned();
            return apply::apply(st, &w, existing, body);
        }
        let old = w.existing(st, &name)?;
        let mut patched = old.clone();
        match format {
            Format::Json => patch::json_patch(&mut patched, &body).map_err(|e| {
                // A failed `test` is answered without a message of its own, as
                // kube-apiserver answers it.
                let message = if e.starts_with("test failed") {
                    "the server rejected our request due to an error in our request".into()
                } else {
                    format!("the JSON patch could not be applied: {e}")
                };
                ApiError::new(422, "Invalid", message).with_details(serde_json::json!({}))
            })?,
            Format::StrategicMerge => patch::strategic_merge(&mut patched, &body),
            Format::Merge | Format::Apply => patch::merge(&mut patched, &body),
        }
        let replaced = Replacement {
            old,
            request: &body,
            requested: patched,
            keeps_managed_fields: false,
        };
        replaced.commit(st, &w, &name)
    })
}
