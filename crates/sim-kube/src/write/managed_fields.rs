//! `metadata.managedFields`: which manager owns which fields, kept as the API server keeps it
//! for updates (`Update` entries) and server-side apply (`Apply` entries).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::fields::{self, FieldPath};
use crate::http::response::now;
use crate::http::routes::Target;

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
    entry.get("fieldsV1").map(fields::from_fields_v1)
}

/// Records that `manager` owns `fields` of `obj` through `operation` on `t` (replacing its
/// previous entry for the same operation and subresource; an Update that owns nothing has no
/// entry).
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
    if fields.is_empty() && operation == Operation::Update {
        return;
    }
    let mut entry = json!({
        "manager": manager,
        "operation": operation.as_str(),
        "apiVersion": t.rt.api_version(),
        "time": now(),
        "fieldsType": "FieldsV1",
        "fieldsV1": fields::fields_v1(fields),
    });
    if let Some(s) = subresource {
        entry["subresource"] = json!(s);
    }
    entries.push(entry);
    sort_entries(entries);
}

/// Orders entries as the API server does: by operation (`Apply` first), time, manager,
/// apiVersion and subresource.
fn sort_entries(entries: &mut [Value]) {
    let key = |e: &Value| {
        ["operation", "time", "manager", "apiVersion", "subresource"]
            .map(|k| e.get(k).and_then(Value::as_str).unwrap_or("").to_string())
    };
    entries.sort_by_key(key);
}

/// The fields of `set` a write to `t` can own: the status alone through the status
/// subresource, all but the status through the main resource of a kind that has one.
pub fn in_scope(t: &Target, mut set: BTreeSet<FieldPath>) -> BTreeSet<FieldPath> {
    if t.rt.status_subresource {
        let status_write = t.sub.as_deref() == Some("status");
        set.retain(|p| (p.first().map(String::as_str) == Some("f:status")) == status_write);
    }
    set
}

/// Ownership after a non-apply write by `manager` that turned `old` (none for a create) into
/// `next`, as the API server keeps it: the writer owns what it added or changed (see
/// [`fields::changed_fields`]), besides what its Update entry owned and still exists; other managers lose what changed and what no
/// longer exists, and a manager left with nothing has no entry.
pub fn record_update(next: &mut Value, old: Option<&Value>, t: &Target, manager: &str) {
    let changed = in_scope(
        t,
        fields::changed_fields(old, next, t.rt.lists(), t.rt.validator.is_some()),
    );
    let subresource = t.sub.as_deref();
    let mut mine = changed.clone();
    let taken = next.pointer_mut("/metadata/managedFields").map(Value::take);
    if let Some(Value::Array(mut entries)) = taken {
        entries.retain_mut(|e| {
            let Some(owned) = fields_of(e) else {
                return true;
            };
            if is_entry_of(e, manager, Operation::Update)
                && e.get("subresource").and_then(Value::as_str) == subresource
            {
                mine.extend(
                    owned
                        .into_iter()
                        .filter(|f| fields::value_at(next, f).is_some()),
                );
                return true;
            }
            let kept: BTreeSet<FieldPath> = owned
                .into_iter()
                .filter(|f| !changed.contains(f) && fields::value_at(next, f).is_some())
                .collect();
            if kept.is_empty() {
                return false;
            }
            e["fieldsV1"] = fields::fields_v1(&kept);
            true
        });
        next["metadata"]["managedFields"] = Value::Array(entries);
    }
    set_managed(next, t, manager, Operation::Update, &mine);
    if let Some(m) = next.get_mut("metadata").and_then(Value::as_object_mut)
        && m.get("managedFields")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
    {
        m.remove("managedFields");
    }
}
