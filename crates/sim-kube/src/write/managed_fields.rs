//! `metadata.managedFields`: which manager owns which fields, kept as the API server keeps it
//! for updates (`Update` entries) and server-side apply (`Apply` entries).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::http::response::now;
use crate::http::routes::Target;
use crate::patch::{self, FieldPath};

/// The operation a managedFields entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Server-side apply.
    Apply,
    /// Any other write.
    Update,
}

impl Operation {
    /// The name in managedFields.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Apply => "Apply",
            Self::Update => "Update",
        }
    }
}

/// The manager of an entry.
pub fn manager_of(entry: &Value) -> Option<&str> {
    entry.get("manager").and_then(Value::as_str)
}

/// Whether `entry` is `manager`'s entry for `operation`.
pub fn is_entry_of(entry: &Value, manager: &str, operation: Operation) -> bool {
    manager_of(entry) == Some(manager)
        && entry.get("operation").and_then(Value::as_str) == Some(operation.as_str())
}

/// The fields an entry owns, `None` when it has no `fieldsV1`.
pub fn fields_of(entry: &Value) -> Option<BTreeSet<FieldPath>> {
    entry.get("fieldsV1").map(patch::from_fields_v1)
}

/// Records that `manager` owns `fields` of `obj` through `operation` on `t` (replacing its
/// previous entry for the same operation and subresource).
pub fn set_managed(
    obj: &mut Value,
    t: &Target,
    manager: &str,
    operation: Operation,
    fields: &BTreeSet<FieldPath>,
) {
    let subresource = t.sub.as_deref();
    let entries = obj
        .pointer_mut("/metadata")
        .and_then(Value::as_object_mut)
        .map(|m| m.entry("managedFields").or_insert_with(|| json!([])));
    let Some(Value::Array(entries)) = entries else {
        return;
    };
    entries.retain(|e| {
        !(is_entry_of(e, manager, operation)
            && e.get("subresource").and_then(Value::as_str) == subresource)
    });
    let mut entry = json!({
        "manager": manager,
        "operation": operation.as_str(),
        "apiVersion": t.rt.api_version(),
        "time": now(),
        "fieldsType": "FieldsV1",
        "fieldsV1": patch::fields_v1(fields),
    });
    if let Some(s) = subresource {
        entry["subresource"] = json!(s);
    }
    entries.push(entry);
}

/// Ownership after a non-apply write by `manager` that turned `old` into `next`, as the API
/// server keeps it: fields that no longer exist are owned by nobody, and fields whose value
/// this write changed move to `manager` (other managers lose them). Returns the fields of
/// `touched` that exist, for the writer's own `Update` entry.
pub fn transfer_ownership(
    next: &mut Value,
    old: &Value,
    manager: &str,
    touched: &BTreeSet<FieldPath>,
) -> BTreeSet<FieldPath> {
    let present = patch::field_set(next);
    let changed: BTreeSet<FieldPath> = present
        .iter()
        .filter(|f| patch::value_at(next, f) != patch::value_at(old, f))
        .cloned()
        .collect();
    if let Some(Value::Array(entries)) = next.pointer_mut("/metadata/managedFields") {
        entries.retain_mut(|e| {
            if is_entry_of(e, manager, Operation::Update) {
                return true;
            }
            let Some(fields) = fields_of(e) else {
                return true;
            };
            let kept: BTreeSet<FieldPath> = fields
                .into_iter()
                .filter(|f| present.contains(f) && !changed.contains(f))
                .collect();
            if kept.is_empty() {
                return false;
            }
            e["fieldsV1"] = patch::fields_v1(&kept);
            true
        });
    }
    touched
        .iter()
        .filter(|f| present.contains(*f))
        .cloned()
        .collect()
}
