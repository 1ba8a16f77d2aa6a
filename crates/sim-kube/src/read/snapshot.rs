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
    // A compacted revision cannot be read (a watch from it may still start after it).
    if rv < st.compacted {
        return None;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use serde_json::json;

    fn obj(name: &str, v: &str) -> Value {
        json!({"metadata": {"namespace": "n", "name": name}, "v": v})
    }

    #[test]
    fn earlier_states_are_rebuilt_from_the_history() {
        let store = Store::new(Vec::new(), 100);
        let mut st = store.lock();
        let key = |n: &str| ("n".to_string(), n.to_string());
        let rv = st.next_rv();
        st.put("s", key("a"), obj("a", "1"), "ADDED", rv);
        let rv = st.next_rv();
        st.put("s", key("b"), obj("b", "1"), "ADDED", rv);
        let first = st.rv;
        let rv = st.next_rv();
        st.put("s", key("a"), obj("a", "2"), "MODIFIED", rv);
        let gone = st.objects_of("s").remove(&key("b")).unwrap();
        st.record_removed("s", gone);
        let rv = st.next_rv();
        st.put("s", key("c"), obj("c", "1"), "ADDED", rv);
        for (at_rv, expected) in [
            (first, vec![("a", "1"), ("b", "1")]),
            (first + 1, vec![("a", "2"), ("b", "1")]),
            (st.rv, vec![("a", "2"), ("c", "1")]),
        ] {
            let got: Vec<(String, String)> = at(&st, "s", at_rv)
                .unwrap()
                .into_iter()
                .map(|((_, n), o)| (n, o["v"].as_str().unwrap().to_string()))
                .collect();
            let expected: Vec<(String, String)> = expected
                .into_iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect();
            assert_eq!(got, expected, "at {at_rv}");
        }
    }

    #[test]
    fn states_older_than_the_history_are_gone() {
        let store = Store::new(Vec::new(), 1);
        let mut st = store.lock();
        for name in ["a", "b", "c"] {
            let rv = st.next_rv();
            st.put("s", ("n".into(), name.into()), obj(name, "1"), "ADDED", rv);
        }
        assert!(at(&st, "s", 2).is_none());
        assert_eq!(at(&st, "s", st.rv).map(|o| o.len()), Some(3));
    }
}
