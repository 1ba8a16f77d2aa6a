//! Server-side apply: merges the applied configuration, refuses (or with `force`, takes over)
//! fields other managers own with other values, and removes fields this manager applied
//! before but no longer does.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::managed_fields::{Operation, fields_of, in_scope, is_entry_of, manager_of, set_managed};
use super::{Write, Written, commit::commit, drop_status_of_custom_resource, next_state};
use crate::fields::{self, FieldPath};
use crate::http::routes::Target;
use crate::status::ApiError;
use crate::store::Inner;

/// A field another manager owns with another value than the one applied.
struct Conflict {
    manager: String,
    path: FieldPath,
}

/// Applies `applied` over `existing` (creating the object when there is none) and commits.
pub fn apply(
    st: &mut Inner,
    w: &Write,
    existing: Option<Value>,
    applied: Value,
) -> Result<Written, ApiError> {
    let manager = w.call.manager();
    // The apply configuration is made a typed object of the kind's schema first: duplicates
    // and undeclared fields are refused there (500, whatever `fieldValidation` says).
    let rt = &w.target.rt;
    let typed_patch_error = |what: String| {
        ApiError::new(
            500,
            "",
            format!(
                "failed to create typed patch object ({}/{}; {}/{}, Kind={}): {what}",
                crate::lifecycle::text_at(&applied, "/metadata/namespace"),
                w.target.name(),
                rt.group,
                rt.version,
                rt.kind,
            ),
        )
    };
    if let Some((list, member)) = fields::duplicate(&applied, rt.lists()) {
        return Err(typed_patch_error(format!(
            "{}: duplicate entries for key {}",
            fields::display(&list),
            fields::display(std::slice::from_ref(&member)),
        )));
    }
    if let Some(path) = super::undeclared::first_undeclared(rt, &applied) {
        return Err(typed_patch_error(format!(
            "{path}: field not declared in schema"
        )));
    }
    let next = match &existing {
        None => applied_as_new(w.target, applied, &manager),
        Some(old) => apply_over(w, old, applied, &manager)?,
    };
    commit(st, w, existing.as_ref(), next)
}

/// The object an apply creates: the applied configuration, named from the path.
fn applied_as_new(t: &Target, applied: Value, manager: &str) -> Value {
    let fields = in_scope(t, fields::field_set(&applied, t.rt.lists()));
    let mut obj = applied;
    obj["metadata"]["name"] = json!(t.name());
    if t.sub.is_none() {
        drop_status_of_custom_resource(t, &mut obj);
    }
    set_managed(&mut obj, t, manager, Operation::Apply, &fields);
    obj
}

/// The object after `manager` applies `applied` over `old`: 409 on conflicts unless forced.
fn apply_over(w: &Write, old: &Value, applied: Value, manager: &str) -> Result<Value, ApiError> {
    let t = w.target;
    // A resourceVersion in the apply configuration is a precondition, as for an update.
    w.check_resource_version(&applied, old, &t.name())?;
    let applied_fields = in_scope(t, fields::field_set(&applied, t.rt.lists()));
    let mut managed: Vec<Value> = old
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let conflicts = conflicts(&managed, manager, old, &applied, &applied_fields);
    if !conflicts.is_empty() && !w.call.flag("force") {
        return Err(conflict_error(&conflicts));
    }
    take_over(&mut managed, manager, &conflicts);
    let previous = owned_fields(&managed, |e| is_entry_of(e, manager, Operation::Apply));
    let others = owned_fields(&managed, |e| manager_of(e) != Some(manager));
    // A field this manager applied before and no longer does is removed, unless another
    // manager owns it or it is the parent of what is applied now (a map applied empty before
    // and with members now). Then what is applied is merged in, so a map emptied by a removal
    // stays when it is applied.
    // A list member no longer applied goes whole (its key fields included) when no other
    // manager owns anything in it: removing its fields one by one would leave an empty member.
    let mut next = old.clone();
    let mut removals: BTreeSet<FieldPath> = BTreeSet::new();
    for path in previous.difference(&applied_fields) {
        let parent_of_applied = applied_fields
            .iter()
            .any(|a| a.len() > path.len() && a.starts_with(path));
        if others.contains(path) || parent_of_applied {
            continue;
        }
        let member = (1..=path.len()).map(|n| &path[..n]).find(|p| {
            p.last()
                .is_some_and(|s| s.starts_with("k:") || s.starts_with("v:"))
        });
        let whole = member.filter(|m| {
            !applied_fields.iter().any(|a| a.starts_with(m))
                && !others.iter().any(|o| o.starts_with(m))
        });
        removals.insert(whole.map_or_else(|| path.clone(), <[String]>::to_vec));
    }
    // Shorter paths first: a member removed whole takes its fields with it.
    for path in &removals {
        fields::remove_field(&mut next, path);
    }
    let mut overlay = applied;
    strip_nulls(&mut overlay);
    fields::merge_applied(&mut next, &overlay, t.rt.lists());
    // The subresource's part is taken first (a status apply keeps the stored metadata), then
    // the ownership this apply leaves is recorded on what is stored.
    let mut next = next_state(t, old, next);
    next["metadata"]["managedFields"] = Value::Array(managed);
    set_managed(&mut next, t, manager, Operation::Apply, &applied_fields);
    Ok(next)
}

/// The applied fields other managers own with another value in `old`.
fn conflicts(
    managed: &[Value],
    manager: &str,
    old: &Value,
    applied: &Value,
    applied_fields: &BTreeSet<FieldPath>,
) -> Vec<Conflict> {
    let mut conflicts = Vec::new();
    for entry in managed {
        let other = manager_of(entry).unwrap_or("");
        if other == manager {
            continue;
        }
        let theirs = fields_of(entry).unwrap_or_default();
        for path in applied_fields.intersection(&theirs) {
            if fields::value_at(old, path) != fields::value_at(applied, path) {
                conflicts.push(Conflict {
                    manager: other.to_string(),
                    path: path.clone(),
                });
            }
        }
    }
    conflicts
}

/// 409 listing the conflicts, as the API server words them.
fn conflict_error(conflicts: &[Conflict]) -> ApiError {
    let field = |c: &Conflict| fields::display(&c.path);
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|c| json!({"reason": "FieldManagerConflict", "message": format!("conflict with \"{}\"", c.manager), "field": field(c)}))
        .collect();
    let listed: Vec<String> = conflicts
        .iter()
        .map(|c| format!("conflict with \"{}\": {}", c.manager, field(c)))
        .collect();
    ApiError::new(
        409,
        "Conflict",
        format!(
            "Apply failed with {} conflict{}: {}",
            conflicts.len(),
            if conflicts.len() == 1 { "" } else { "s" },
            listed.join("\n")
        ),
    )
    .with_details(json!({"causes": causes}))
}

/// Forced apply: the other managers lose the conflicting fields; a manager left with no
/// field is no manager.
fn take_over(managed: &mut Vec<Value>, manager: &str, conflicts: &[Conflict]) {
    for entry in managed.iter_mut() {
        if manager_of(entry) == Some(manager) {
            continue;
        }
        let mut theirs = fields_of(entry).unwrap_or_default();
        theirs.retain(|p| !conflicts.iter().any(|c| &c.path == p));
        entry["fieldsV1"] = fields::fields_v1(&theirs);
    }
    managed.retain(|e| {
        e.get("fieldsV1")
            .is_some_and(|f| f.as_object().is_none_or(|m| !m.is_empty()))
    });
}

/// The fields owned by the entries `select` picks.
fn owned_fields(managed: &[Value], select: impl Fn(&Value) -> bool) -> BTreeSet<FieldPath> {
    managed
        .iter()
        .filter(|e| select(e))
        .filter_map(fields_of)
        .flatten()
        .collect()
}

/// Removes null fields of objects, at every depth (in an apply, null means "not applied").
fn strip_nulls(v: &mut Value) {
    if let Value::Object(m) = v {
        m.retain(|_, x| !x.is_null());
        m.values_mut().for_each(strip_nulls);
    }
}
