//! Writes: create, update, patch, server-side apply, delete and delete-collection. Each runs
//! under the store lock through [`Write::perform`], which records it in the audit log;
//! [`commit`] stamps, admits and stores the object written.

pub mod apply;
pub mod commit;
pub mod create;
pub mod delete;
pub mod delete_options;
pub mod managed_fields;
pub mod patch;
pub mod undeclared;
pub mod update;

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use crate::http::ServerState;
use crate::http::request::Call;
use crate::http::response::{json_response, now, to_wire};
use crate::http::routes::Target;
use crate::status::ApiError;
use crate::store::{AuditEntry, Inner};

/// One write request: the request, where it points and the verb it is audited as.
pub struct Write<'a> {
    /// The emulator.
    pub server: &'a ServerState,
    /// The request.
    pub call: &'a Call,
    /// Where it points.
    pub target: &'a Target,
    /// `create`, `update`, `patch` or `delete`.
    pub verb: &'static str,
}

/// A write's outcome: the object as stored (or as it would be, in a dry run).
pub struct Written {
    /// The object, in its stored shape.
    pub object: Value,
    /// Whether the write changed anything.
    pub changed: bool,
    /// Whether the object is new (the answer is then 201 Created).
    pub created: bool,
}

impl Written {
    /// The HTTP status the write answers with.
    fn status(&self) -> StatusCode {
        if self.created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        }
    }
}

impl<'a> Write<'a> {
    /// A write of `verb` by `call` to `target`.
    pub fn new(
        server: &'a ServerState,
        call: &'a Call,
        target: &'a Target,
        verb: &'static str,
    ) -> Self {
        Self {
            server,
            call,
            target,
            verb,
        }
    }

    /// Runs `write` under the store lock, audits it (on object `name`) with the status it
    /// answers, and answers with the object written, as served.
    pub fn perform(
        &self,
        name: &str,
        write: impl FnOnce(&mut Inner) -> Result<Written, ApiError>,
    ) -> Result<Response, ApiError> {
        let outcome = {
            let mut st = self.server.store.lock();
            let outcome = write(&mut st);
            let code = match &outcome {
                Ok(written) => written.status().as_u16(),
                Err(e) => e.code,
            };
            let changed = outcome.as_ref().is_ok_and(|w| w.changed);
            self.audit(&mut st, name, code, changed);
            outcome
        };
        let written = outcome?;
        Ok(json_response(
            written.status(),
            &to_wire(&self.target.rt, &written.object),
        ))
    }

    /// Whether this write is a server-side apply.
    pub fn is_apply(&self) -> bool {
        self.verb == "patch"
            && self
                .call
                .content_type
                .starts_with("application/apply-patch")
    }

    /// Records the write to object `name` in the audit log.
    pub fn audit(&self, st: &mut Inner, name: &str, code: u16, changed: bool) {
        let t = self.target;
        st.stats.audit.push(AuditEntry {
            time: now(),
            verb: self.verb.to_string(),
            resource: t.rt.resource_name(),
            namespace: t.namespace.clone(),
            name: name.to_string(),
            subresource: t.sub.clone(),
            field_manager: self.call.field_manager(),
            user_agent: self.call.user_agent.clone(),
            code,
            changed,
        });
    }

    /// The stored object this write replaces; 404 when there is none.
    fn existing(&self, st: &Inner, name: &str) -> Result<Value, ApiError> {
        let t = self.target;
        st.object(&t.rt, &t.key_of(name))
            .cloned()
            .ok_or_else(|| ApiError::not_found(&t.rt.qualified(), name))
    }

    /// 409 when `requested` names a resourceVersion other than `old`'s.
    fn check_resource_version(
        &self,
        requested: &Value,
        old: &Value,
        name: &str,
    ) -> Result<(), ApiError> {
        if let Some(rv) = resource_version(requested)
            && resource_version(old) != Some(rv)
        {
            return Err(ApiError::conflict(&self.target.rt.qualified(), name));
        }
        Ok(())
    }
}

/// The object's `metadata.resourceVersion`, if set.
fn resource_version(object: &Value) -> Option<&str> {
    object
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
}

/// The object's metadata (an empty one added when absent); 400 when the object is not a
/// JSON object.
fn metadata_entry(object: &mut Value) -> Result<&mut Value, ApiError> {
    Ok(object
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("the object is not a JSON object"))?
        .entry("metadata")
        .or_insert_with(|| serde_json::json!({})))
}

/// Drops `status` from an object written to a custom resource with a status subresource
/// (status is set through the subresource only).
fn drop_status_of_custom_resource(t: &Target, object: &mut Value) {
    if t.rt.status_subresource
        && t.rt.validator.is_some()
        && let Some(m) = object.as_object_mut()
    {
        m.remove("status");
    }
}

/// The new state of a write to `t` that asked for `requested`: a write to the status
/// subresource changes only the status, any other write keeps the status it had.
fn next_state(t: &Target, old: &Value, mut requested: Value) -> Value {
    if !t.rt.status_subresource {
        return requested;
    }
    if t.sub.as_deref() == Some("status") {
        let mut next = old.clone();
        copy_status(requested.get("status"), &mut next);
        next
    } else {
        copy_status(old.get("status"), &mut requested);
        requested
    }
}

/// Sets `into`'s status to `status`, or removes it when `None`.
fn copy_status(status: Option<&Value>, into: &mut Value) {
    match status {
        Some(s) => into["status"] = s.clone(),
        None => {
            if let Some(m) = into.as_object_mut() {
                m.remove("status");
            }
        }
    }
}
