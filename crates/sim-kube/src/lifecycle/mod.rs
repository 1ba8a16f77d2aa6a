//! What the API server does around writes, beyond the object written: deletion with
//! finalizers, and what follows a deletion (a CRD's types and objects go, a namespace's
//! objects go, dependents are garbage-collected); CRD registration; the seeded namespaces.

pub mod crds;
pub mod garbage;
pub mod namespaces;

use serde_json::{Value, json};

use crate::http::response::now;
use crate::store::Inner;
use crate::types::ResourceType;

/// Deletes a stored object: marks it when it has finalizers, removes it otherwise. Returns
/// the object as deleted (with the resourceVersion the deletion took), `None` when absent.
pub fn delete_stored(st: &mut Inner, rt: &ResourceType, key: &(String, String)) -> Option<Value> {
    let mut obj = st.object(rt, key).cloned()?;
    let has_finalizers = obj
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty());
    let rv = st.stamp(&mut obj);
    if has_finalizers {
        if obj.pointer("/metadata/deletionTimestamp").is_none() {
            obj["metadata"]["deletionTimestamp"] = json!(now());
            obj["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            st.put(&rt.storage, key.clone(), obj.clone(), "MODIFIED", rv);
        }
        return Some(obj);
    }
    remove_stored(st, rt, key, obj.clone(), rv);
    Some(obj)
}

/// Removes the object at `key` for good, recording `gone` (its last state) at `rv`, and does
/// what follows its deletion.
pub fn remove_stored(
    st: &mut Inner,
    rt: &ResourceType,
    key: &(String, String),
    gone: Value,
    rv: u64,
) {
    st.objects_of(&rt.storage).remove(key);
    st.record(&rt.storage, "DELETED", gone.clone(), rv);
    after_delete(st, rt, &gone);
}

/// What happens after an object is gone: a CRD's objects and a namespace's objects go with
/// it, and its dependents are collected.
fn after_delete(st: &mut Inner, rt: &ResourceType, gone: &Value) {
    if rt.is_crd() {
        crds::unregister(st, gone);
    }
    if rt.is_core("namespaces") {
        namespaces::remove_contents(st, gone);
    }
    garbage::collect_dependents(st, gone);
}

/// The string at `pointer` in `value`, or empty.
pub fn text_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}
