//! PUT of an object (or its status): replace it, then the ownership bookkeeping update and
//! patch share.

use axum::response::Response;
use serde_json::Value;

use super::{Write, Written, commit::commit, next_state};
use crate::events;
use crate::http::ServerState;
use crate::http::request::Call;
use crate::http::routes::Target;
use crate::status::ApiError;
use crate::store::Inner;

/// PUT: replaces the object with the body.
pub fn update(server: &ServerState, call: &Call, t: &Target) -> Result<Response, ApiError> {
    let mut body = crate::validation::decoded_body(call, &t.rt, "update")?;
    if t.rt.is_events_v1() {
        body = events::to_core(&body);
    }
    let name = t.name();
    if let Some(other) = body
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .filter(|n| *n != name)
    {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({other}) does not match the name on the URL ({name})"
        )));
    }
    let w = Write::new(server, call, t, "update");
    w.perform(&name, |st| {
        // Custom kinds are not updated unconditionally: the client must say which version it
        // replaces.
        if t.rt.validator.is_some() && super::resource_version(&body).is_none_or(str::is_empty) {
            w.existing(st, &name)?;
            return Err(resource_version_required(t, &name));
        }
        let old = w.existing(st, &name)?;
        let replaced = Replacement {
            old,
            request: &body,
            requested: body.clone(),
            keeps_managed_fields: true,
        };
        replaced.commit(st, &w, &name)
    })
}

/// A non-apply write over an existing object: what it was, the request's body and the state
/// the request asks for.
pub(super) struct Replacement<'a> {
    /// The stored object.
    pub old: Value,
    /// The request body (its fields are the writer's).
    pub request: &'a Value,
    /// The object as the request would have it.
    pub requested: Value,
    /// Whether the stored managedFields stand whatever the request says (a PUT).
    pub keeps_managed_fields: bool,
}

impl Replacement<'_> {
    /// Checks the resourceVersion precondition, keeps what the write may not change (status,
    /// or all but status on the subresource) and commits (which records ownership).
    pub fn commit(self, st: &mut Inner, w: &Write, name: &str) -> Result<Written, ApiError> {
        let t = w.target;
        let old = &self.old;
        w.check_resource_version(self.request, old, name)?;
        let mut next = next_state(t, old, self.requested);
        if t.sub.is_some() {
            next["metadata"] = old["metadata"].clone();
        } else if self.keeps_managed_fields
            && let Some(m) = old.pointer("/metadata/managedFields")
        {
            next["metadata"]["managedFields"] = m.clone();
        }
        commit(st, w, Some(old), next)
    }
}

/// 422 for an update of a custom resource without `metadata.resourceVersion`.
fn resource_version_required(t: &Target, name: &str) -> ApiError {
    let detail = "Invalid value: 0: must be specified for an update";
    ApiError::new(
        422,
        "Invalid",
        format!(
            "{} \"{name}\" is invalid: metadata.resourceVersion: {detail}",
            t.rt.qualified()
        ),
    )
    .with_details(serde_json::json!({
        "causes": [{"reason": "FieldValueInvalid", "message": detail, "field": "metadata.resourceVersion"}],
        "group": t.rt.group, "kind": t.rt.plural, "name": name,
    }))
}
