//! `ValidateConfigMap` and `ValidateConfigMapUpdate`: keys, size, and `immutable`.

use serde_json::Value;

use super::field::FieldError;
use super::names;

/// Largest total size of a ConfigMap's or Secret's data.
pub const MAX_DATA_BYTES: usize = 1024 * 1024;

/// The problems of a ConfigMap.
pub fn check(new: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut size = 0;
    let binary = new.get("binaryData").and_then(Value::as_object);
    for (key, value) in new
        .get("data")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        for msg in names::config_key(key) {
            errors.push(FieldError::invalid(
                format!("data[{key}]"),
                key.as_str(),
                &msg,
            ));
        }
        if binary.is_some_and(|b| b.contains_key(key)) {
            errors.push(FieldError::invalid(
                format!("data[{key}]"),
                key.as_str(),
                "duplicate of key present in binaryData",
            ));
        }
        size += value.as_str().map_or(0, str::len);
    }
    for (key, value) in binary.into_iter().flatten() {
        for msg in names::config_key(key) {
            errors.push(FieldError::invalid(
                format!("binaryData[{key}]"),
                key.as_str(),
                &msg,
            ));
        }
        size += value.as_str().map_or(0, |v| v.len() / 4 * 3);
    }
    if size > MAX_DATA_BYTES {
        errors.push(FieldError::too_long("", MAX_DATA_BYTES));
    }
    errors
}

/// The problems of changing an object that was `immutable: true`: it must stay so, and the
/// `fields` must not change.
pub fn immutability(new: &Value, old: &Value, fields: &[&str]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if old.get("immutable") != Some(&Value::Bool(true)) {
        return errors;
    }
    const WHY: &str = "field is immutable when `immutable` is set";
    if new.get("immutable") != Some(&Value::Bool(true)) {
        errors.push(FieldError::forbidden("immutable", WHY));
    }
    for f in fields {
        if empty_as_absent(new.get(*f)) != empty_as_absent(old.get(*f)) {
            errors.push(FieldError::forbidden(*f, WHY));
        }
    }
    errors
}

/// A map field, an empty one counting as absent (as Go's nil and empty maps compare equal
/// after a round trip through JSON).
fn empty_as_absent(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null() && v.as_object().is_none_or(|m| !m.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_and_immutability_are_checked() {
        let frozen = json!({"data": {"k": "v"}, "immutable": true});
        for (new, old, fields) in [
            (json!({"data": {"k": "v"}}), None, vec![]),
            (json!({"data": {"a/b": "v"}}), None, vec!["data[a/b]"]),
            (
                json!({"data": {"k": "v"}, "binaryData": {"k": "dg=="}}),
                None,
                vec!["data[k]"],
            ),
            (
                json!({"data": {"k": "v2"}, "immutable": true}),
                Some(&frozen),
                vec!["data"],
            ),
            (
                json!({"data": {"k": "v"}}),
                Some(&frozen),
                vec!["immutable"],
            ),
            (
                json!({"data": {"k": "v"}, "immutable": true}),
                Some(&frozen),
                vec![],
            ),
        ] {
            let mut found: Vec<String> = Vec::new();
            if let Some(o) = old {
                found.extend(
                    immutability(&new, o, &["data", "binaryData"])
                        .into_iter()
                        .map(|e| e.field),
                );
            }
            found.extend(check(&new).into_iter().map(|e| e.field));
            assert_eq!(found, fields, "{new}");
        }
    }
}
