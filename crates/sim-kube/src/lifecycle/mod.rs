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

/// What a deletion does to the dependents of the object deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagation {
    /// The object goes at once; the garbage collector deletes its dependents after it.
    Background,
    /// The object waits (finalizer `foregroundDeletion`) until its blocking dependents are gone.
    Foreground,
    /// The dependents stay, without their reference to it (finalizer `orphan` meanwhile).
    Orphan,
}

impl Propagation {
    /// The finalizer that holds the object while the garbage collector works, if any.
    pub fn finalizer(self) -> Option<&'static str> {
        match self {
            Self::Background => None,
            Self::Foreground => Some(garbage::FOREGROUND),
            Self::Orphan => Some(garbage::ORPHAN),
        }
    }
}

/// `obj` as a deletion with `policy` leaves it while finalizers hold it: marked with the
/// deletion time, the policy's finalizer added, its generation bumped (kinds that keep one).
/// `None` when nothing holds it (it goes at once).
pub fn marked_for_deletion(rt: &ResourceType, obj: &Value, policy: Propagation) -> Option<Value> {
    let mut marked = obj.clone();
    let mut finalizers: Vec<Value> = marked
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(f) = policy.finalizer()
        && !finalizers.contains(&json!(f))
    {
        finalizers.push(json!(f));
    }
    if finalizers.is_empty() {
        return None;
    }
    marked["metadata"]["finalizers"] = json!(finalizers);
    marked["metadata"]["deletionTimestamp"] = json!(now());
    marked["metadata"]["deletionGracePeriodSeconds"] = json!(0);
    if rt.generation {
        let g = marked
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        marked["metadata"]["generation"] = json!(g + 1);
    }
    Some(marked)
}

/// Deletes a stored object in the background (the garbage collector's own deletions).
pub fn delete_stored(st: &mut Inner, rt: &ResourceType, key: &(String, String)) -> Option<Value> {
    delete_with(st, rt, key, Propagation::Background)
}

/// Deletes a stored object with `policy`: marks it when finalizers hold it (and lets the
/// garbage collector do its part at once), removes it otherwise. An object already being
/// deleted is left as it is. Returns the object as deleted, `None` when absent.
pub fn delete_with(
    st: &mut Inner,
    rt: &ResourceType,
    key: &(String, String),
    policy: Propagation,
) -> Option<Value> {
    let obj = st.object(rt, key).cloned()?;
    if obj.pointer("/metadata/deletionTimestamp").is_some() {
        return Some(obj);
    }
    match marked_for_deletion(rt, &obj, policy) {
        Some(mut marked) => {
            let rv = st.stamp(&mut marked);
            st.put(&rt.storage, key.clone(), marked.clone(), "MODIFIED", rv);
            garbage::finalize(st, rt, key);
            Some(marked)
        }
        None => {
            let mut gone = obj;
            let rv = st.stamp(&mut gone);
            remove_stored(st, rt, key, gone.clone(), rv);
            Some(gone)
        }
    }
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
    garbage::release_owners(st, gone);
}

/// The string at `pointer` in `value`, or empty.
pub fn text_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deletion_marks_what_finalizers_hold_and_bumps_the_generation() {
        let types = ResourceType::builtins();
        let crds = types.iter().find(|t| t.is_crd()).unwrap();
        let secrets = types.iter().find(|t| t.is_core("secrets")).unwrap();
        let free = json!({"metadata": {"name": "a"}});
        let held = json!({"metadata": {"name": "a", "finalizers": ["x/y"], "generation": 3}});
        assert_eq!(
            marked_for_deletion(secrets, &free, Propagation::Background),
            None
        );
        let orphaned = marked_for_deletion(secrets, &free, Propagation::Orphan).unwrap();
        assert_eq!(orphaned["metadata"]["finalizers"], json!(["orphan"]));
        assert!(orphaned.pointer("/metadata/generation").is_none());
        let foreground = marked_for_deletion(crds, &held, Propagation::Foreground).unwrap();
        assert_eq!(
            foreground["metadata"]["finalizers"],
            json!(["x/y", "foregroundDeletion"])
        );
        assert_eq!(foreground["metadata"]["generation"], json!(4));
        assert!(foreground.pointer("/metadata/deletionTimestamp").is_some());
    }
}
