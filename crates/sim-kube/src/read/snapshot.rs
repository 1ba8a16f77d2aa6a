//! The objects of a type as they were at an earlier resourceVersion, rebuilt from the history
//! of changes (as etcd serves a list at a revision until it is compacted).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::store::Inner;

/// Objects by `(namespace, name)`.
pub type Objects = BTreeMap<(String, String), Value>;

/// The store key of a stored object.
fn key_of(object: &Value) -> (String, String) {
    let text = |p: &str| {
        object
            .pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    (text("/metadata/namespace"), text("/metadata/name"))
}

/// The objects stored under `storage` at resourceVersion `rv`; `None` when the history no
/// longer reaches back to it (the list has expired).
pub fn at(st: &Inner, storage: &str, rv: u64) -> Option<Objects> {
    let mut objects = st.objects.get(storage).cloned().unwrap_or_default();
    if rv >= st.rv {
        return Some(objects);
    }
    st.changes_since(rv)?;
    let history = st.changes_since(st.oldest).unwrap_or_default();
    let ours: Vec<_> = history.iter().filter(|c| c.storage == storage).collect();
    // Undo the changes after `rv`, newest first: an object added is removed, one modified or
    // deleted takes back its state before (its last recorded change, or for a deletion the
    // state it was deleted in).
    for (i, change) in ours.iter().enumerate().rev() {
        if change.rv <= rv {
            break;
        }
        let key = key_of(&change.object);
        if change.kind == "ADDED" {
            objects.remove(&key);
            continue;
        }
        let before = ours[..i]
            .iter()
            .rev()
            .find(|c| key_of(&c.object) == key)
            .map(|c| (c.kind, c.object.clone()));
        match before {
            Some(("DELETED", _)) => {
                objects.remove(&key);
            }
            Some((_, object)) => {
                objects.insert(key, object);
            }
            None => {
                objects.insert(key, change.object.clone());
            }
        }
    }
    Some(objects)
}
