//! Namespaces: the four every cluster has, the check that a namespace exists before objects
//! are created in it, and the deletion of its objects with it.

use serde_json::{Value, json};

use crate::http::response::now;
use crate::http::routes::Target;
use crate::status::ApiError;
use crate::store::{Inner, Store};

/// Where namespaces are stored.
const STORAGE: &str = "/namespaces";

/// Seeds the namespaces every cluster has.
pub fn seed(store: &Store) {
    let mut st = store.lock();
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let rv = st.next_rv();
        let obj = json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": ns, "uid": exo_sim_http::ids::uuid_v4(), "creationTimestamp": now(), "resourceVersion": rv.to_string(), "labels": {"kubernetes.io/metadata.name": ns}},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        });
        st.put(STORAGE, (String::new(), ns.to_string()), obj, "ADDED", rv);
    }
}

/// 404 unless the namespace `t` points into (if any) exists.
pub fn require(st: &Inner, t: &Target) -> Result<(), ApiError> {
    if let Some(ns) = &t.namespace
        && !st
            .objects
            .get(STORAGE)
            .is_some_and(|m| m.contains_key(&(String::new(), ns.clone())))
    {
        return Err(ApiError::not_found("namespaces", ns));
    }
    Ok(())
}

/// After the namespace `gone` is deleted: every object in it is deleted (without finalizers
/// or garbage collection, as the namespace controller leaves them).
pub fn remove_contents(st: &mut Inner, gone: &Value) {
    let ns = super::text_at(gone, "/metadata/name").to_string();
    let storages: Vec<String> = st.objects.keys().cloned().collect();
    for storage in storages {
        let keys: Vec<(String, String)> = st
            .objects_of(&storage)
            .keys()
            .filter(|(n, _)| *n == ns)
            .cloned()
            .collect();
        for key in keys {
            if let Some(object) = st.objects_of(&storage).remove(&key) {
                st.record_removed(&storage, object);
            }
        }
    }
}
