//! JSON merge patches (RFC 7386) computed from the old and the new state, so that a status
//! write carries only what changed, removes what disappeared, and is skipped when nothing did.

use serde_json::{Map, Value};

/// The merge patch that turns `old` into `new`; `None` when they are equal.
pub fn merge_diff(old: &Value, new: &Value) -> Option<Value> {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let mut patch = Map::new();
            for (key, old_value) in a {
                match b.get(key) {
                    None => {
                        patch.insert(key.clone(), Value::Null);
                    }
                    Some(new_value) => {
                        if let Some(d) = merge_diff(old_value, new_value) {
                            patch.insert(key.clone(), d);
                        }
                    }
                }
            }
            for (key, new_value) in b {
                if !a.contains_key(key) && !new_value.is_null() {
                    patch.insert(key.clone(), strip_nulls(new_value));
                }
            }
            (!patch.is_empty()).then_some(Value::Object(patch))
        }
        (a, b) if a == b => None,
        (_, b) => Some(strip_nulls(b)),
    }
}

/// Removes null members of objects (a merge patch would read them as deletions).
fn strip_nulls(value: &Value) -> Value {
    match value {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn apply(target: &mut Value, patch: &Value) {
        match (target, patch) {
            (Value::Object(t), Value::Object(p)) => {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        apply(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
            (t, p) => *t = p.clone(),
        }
    }

    #[test]
    fn equal_documents_need_no_patch() {
        let v = json!({"a": 1, "b": {"c": [1, 2]}});
        assert_eq!(merge_diff(&v, &v), None);
    }

    #[test]
    fn changes_removals_and_additions() {
        let old =
            json!({"consent": {"userCode": "X", "verificationUri": "u"}, "message": "m", "n": 1});
        let new = json!({"consent": {"verificationUri": "u"}, "message": "m2", "extra": {"k": null, "j": 2}});
        let patch = merge_diff(&old, &new).unwrap();
        assert_eq!(
            patch,
            json!({"consent": {"userCode": null}, "message": "m2", "n": null, "extra": {"j": 2}})
        );
        let mut applied = old.clone();
        apply(&mut applied, &patch);
        assert_eq!(
            applied,
            json!({"consent": {"verificationUri": "u"}, "message": "m2", "extra": {"j": 2}})
        );
    }

    #[test]
    fn arrays_are_replaced_whole() {
        let patch = merge_diff(&json!({"c": [1, 2]}), &json!({"c": [1]})).unwrap();
        assert_eq!(patch, json!({"c": [1]}));
    }
}
