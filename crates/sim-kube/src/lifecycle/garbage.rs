//! Garbage collection: when an object is deleted, the objects it owned lose their reference
//! to it, and those left without owners are deleted in turn.

use serde_json::Value;

use super::{delete_stored, text_at};
use crate::store::Inner;

/// Deletes the dependents of `gone` (objects whose ownerReferences name its uid) that have no
/// other owner; the others keep living without the dangling reference.
pub fn collect_dependents(st: &mut Inner, gone: &Value) {
    let uid = text_at(gone, "/metadata/uid").to_string();
    for (storage, key) in dependents_of(st, &uid) {
        let Some(mut o) = st.objects_of(&storage).get(&key).cloned() else {
            continue;
        };
        if let Some(refs) = o
            .pointer_mut("/metadata/ownerReferences")
            .and_then(Value::as_array_mut)
        {
            refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(uid.as_str()));
            if !refs.is_empty() {
                // Other owners remain: keep the object, without the dangling reference.
                let rv = st.stamp(&mut o);
                st.put(&storage, key, o, "MODIFIED", rv);
                continue;
            }
        }
        let dependent_type = st.types.iter().find(|t| t.storage == storage).cloned();
        if let Some(rt) = dependent_type {
            delete_stored(st, &rt, &key);
        }
    }
}

/// `(storage, key)` of every object with an owner reference to `uid`.
fn dependents_of(st: &Inner, uid: &str) -> Vec<(String, (String, String))> {
    let mut dependents = Vec::new();
    for (storage, objects) in &st.objects {
        for (key, o) in objects {
            let owners = o
                .pointer("/metadata/ownerReferences")
                .and_then(Value::as_array);
            if owners.is_some_and(|refs| {
                refs.iter()
                    .any(|r| r.get("uid").and_then(Value::as_str) == Some(uid))
            }) {
                dependents.push((storage.clone(), key.clone()));
            }
        }
    }
    dependents
}
