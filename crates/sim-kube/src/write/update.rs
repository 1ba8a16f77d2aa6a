//! PUT of an object (or its status): replace it, then the ownership bookkeeping update and
//! patch share.

use axum::response::Response;
use serde_json::Value;

use super::managed_fields::{Operation, set_managed, transfer_ownership};
use super::{Write, Written, commit::commit, next_state};
use crate::events;
use crate::http::ServerState;
use crate::http::request::Call;
use crate::http::routes::Target;
use crate::patch;
use crate::status::ApiError;
use crate::store::Inner;

/// PUT: replaces the object with the body.
pub fn update(server: &ServerState, call: &Call, t: &Target) -> Result<Response, ApiError> {
    let mut body = crate::validation::decoded_body(call, &t.rt, "update")?;
    if t.rt.is_events_v1() {
        body = events::to_core(&body);
    }
    let name = t.name();
    if body
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .is_some_and(|n| n != name)
    {
        return Err(ApiError::bad_request(
            "the name of the object does not match the name on the URL",
        ));
    }
    let w = Write::new(server, call, t, "update");
    w.perform(&name, |st| {
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
    /// or all but status on the subresource), moves ownership of the changed fields to the
    /// writer's `Update` entry and commits.
    pub fn commit(self, st: &mut Inner, w: &Write, name: &str) -> Result<Written, ApiError> {
        let t = w.target;
        let old = &self.old;
        w.check_resource_version(self.request, old, name)?;
        let fields = patch::field_set(self.request);
        let mut next = next_state(t, old, self.requested);
        if t.sub.is_some() {
            next["metadata"] = old["metadata"].clone();
        } else if self.keeps_managed_fields
            && let Some(m) = old.pointer("/metadata/managedFields")
        {
            next["metadata"]["managedFields"] = m.clone();
        }
        let manager = w.call.manager();
        let fields = transfer_ownership(&mut next, old, &manager, &fields);
        set_managed(&mut next, t, &manager, Operation::Update, &fields);
        commit(st, w, Some(old), next)
    }
}
