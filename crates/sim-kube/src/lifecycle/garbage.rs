//! Garbage collection, done at once where the real collector works in the background: when
//! an object is deleted its dependents lose their reference to it and those left without
//! owners are deleted; an owner deleted in the foreground waits for its blocking dependents,
//! one deleted with orphaning leaves its dependents without the reference.

use serde_json::{Value, json};

use super::{delete_stored, remove_stored, text_at};
use crate::store::Inner;
use crate::types::ResourceType;

/// The finalizer of a foreground deletion.
pub const FOREGROUND: &str = "foregroundDeletion";
/// The finalizer of a deletion that orphans the dependents.
pub const ORPHAN: &str = "orphan";

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
        if let Some(rt) = type_of(st, &storage) {
            delete_stored(st, &rt, &key);
        }
    }
}

/// Does the collector's part for an object being deleted with its `orphan` or
/// `foregroundDeletion` finalizer, removing that finalizer (and the object, when no other
/// holds it) once done.
pub fn finalize(st: &mut Inner, rt: &ResourceType, key: &(String, String)) {
    let Some(obj) = st.object(rt, key).cloned() else {
        return;
    };
    let uid = text_at(&obj, "/metadata/uid").to_string();
    if has_finalizer(&obj, ORPHAN) {
        for (storage, dkey) in dependents_of(st, &uid) {
            let Some(mut d) = st.objects_of(&storage).get(&dkey).cloned() else {
                continue;
            };
            if let Some(m) = d.get_mut("metadata").and_then(Value::as_object_mut) {
                let refs: Vec<Value> = m
                    .get("ownerReferences")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter(|r| r.get("uid").and_then(Value::as_str) != Some(uid.as_str()))
                    .cloned()
                    .collect();
                if refs.is_empty() {
                    m.remove("ownerReferences");
                } else {
                    m.insert("ownerReferences".into(), json!(refs));
                }
            }
            let rv = st.stamp(&mut d);
            st.put(&storage, dkey, d, "MODIFIED", rv);
        }
        drop_finalizer(st, rt, key, ORPHAN);
    } else if has_finalizer(&obj, FOREGROUND) {
        let dependents = dependents_of(st, &uid);
        for (storage, dkey) in &dependents {
            if let Some(dt) = type_of(st, storage) {
                delete_stored(st, &dt, dkey);
            }
        }
        let blocking = dependents_of(st, &uid).into_iter().any(|(storage, dkey)| {
            st.objects_of(&storage)
                .get(&dkey)
                .is_some_and(|d| blocks(d, &uid))
        });
        if !blocking {
            drop_finalizer(st, rt, key, FOREGROUND);
        }
    }
}

/// After `gone` is removed: owners waiting for it in a foreground deletion are looked at again.
pub fn release_owners(st: &mut Inner, gone: &Value) {
    let owners: Vec<String> = gone
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("uid").and_then(Value::as_str).map(String::from))
        .collect();
    for uid in owners {
        let found = st.objects.iter().find_map(|(storage, objects)| {
            objects
                .iter()
                .find(|(_, o)| text_at(o, "/metadata/uid") == uid)
                .filter(|(_, o)| has_finalizer(o, FOREGROUND))
                .map(|(k, _)| (storage.clone(), k.clone()))
        });
        if let Some((storage, key)) = found
            && let Some(rt) = type_of(st, &storage)
        {
            finalize(st, &rt, &key);
        }
    }
}

/// Removes `finalizer` from the object at `key`; the object goes when none is left.
fn drop_finalizer(st: &mut Inner, rt: &ResourceType, key: &(String, String), finalizer: &str) {
    let Some(mut obj) = st.object(rt, key).cloned() else {
        return;
    };
    let left: Vec<Value> = obj
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|f| f.as_str() != Some(finalizer))
        .cloned()
        .collect();
    let rv = st.stamp(&mut obj);
    if left.is_empty() {
        if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("finalizers");
        }
        remove_stored(st, rt, key, obj, rv);
    } else {
        obj["metadata"]["finalizers"] = json!(left);
        st.put(&rt.storage, key.clone(), obj, "MODIFIED", rv);
    }
}

fn has_finalizer(obj: &Value, finalizer: &str) -> bool {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| f.iter().any(|x| x.as_str() == Some(finalizer)))
}

/// Whether `dependent` blocks the foreground deletion of its owner `uid`.
fn blocks(dependent: &Value, uid: &str) -> bool {
    dependent
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| {
            refs.iter().any(|r| {
                r.get("uid").and_then(Value::as_str) == Some(uid)
                    && r.get("blockOwnerDeletion").and_then(Value::as_bool) == Some(true)
            })
        })
}

fn type_of(st: &Inner, storage: &str) -> Option<ResourceType> {
    st.types.iter().find(|t| t.storage == storage).cloned()
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
