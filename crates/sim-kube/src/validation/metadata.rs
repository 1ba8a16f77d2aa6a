//! `ValidateObjectMeta`: the name (or generateName), labels and annotations every object has.

use serde_json::{Map, Value};

use super::field::FieldError;
use super::names::{self, NameRule};

/// Largest total size of an object's annotations (keys and values).
const ANNOTATIONS_MAX_BYTES: usize = 256 * 1024;

/// The problems of `object`'s metadata, names checked by `rule`.
pub fn check(object: &Value, rule: NameRule) -> Vec<FieldError> {
    let empty = Map::new();
    let meta = object
        .get("metadata")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let text = |k: &str| meta.get(k).and_then(Value::as_str).unwrap_or("");
    let mut errors = Vec::new();
    let generate_name = text("generateName");
    if !generate_name.is_empty() {
        for msg in rule.check(generate_name, true) {
            errors.push(FieldError::invalid(
                "metadata.generateName",
                generate_name,
                &msg,
            ));
        }
    }
    let name = text("name");
    if name.is_empty() {
        errors.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else {
        for msg in rule.check(name, false) {
            errors.push(FieldError::invalid("metadata.name", name, &msg));
        }
    }
    errors.extend(labels(meta.get("labels")));
    errors.extend(annotations(meta.get("annotations")));
    errors
}

/// `ValidateLabels`: every key a qualified name, every value a label value.
pub fn labels(labels: Option<&Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (k, v) in labels.and_then(Value::as_object).into_iter().flatten() {
        for msg in names::qualified_name(k) {
            errors.push(FieldError::invalid("metadata.labels", k.as_str(), &msg));
        }
        let v = v.as_str().unwrap_or("");
        for msg in names::label_value(v) {
            errors.push(FieldError::invalid("metadata.labels", v, &msg));
        }
    }
    errors
}

/// `ValidateAnnotations`: keys qualified names (of any case), 256 KiB in all.
pub fn annotations(annotations: Option<&Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut size = 0;
    for (k, v) in annotations.and_then(Value::as_object).into_iter().flatten() {
        for msg in names::qualified_name(&k.to_lowercase()) {
            errors.push(FieldError::invalid(
                "metadata.annotations",
                k.as_str(),
                &msg,
            ));
        }
        size += k.len() + v.as_str().map_or(0, str::len);
    }
    if size > ANNOTATIONS_MAX_BYTES {
        errors.push(FieldError::too_long(
            "metadata.annotations",
            ANNOTATIONS_MAX_BYTES,
        ));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn metadata_problems_are_found_in_the_api_servers_order() {
        for (object, rule, fields) in [
            (
                json!({"metadata": {"name": "ok"}}),
                NameRule::Subdomain,
                vec![],
            ),
            (
                json!({"metadata": {}}),
                NameRule::Subdomain,
                vec!["metadata.name"],
            ),
            (
                json!({"metadata": {"name": "has.dots"}}),
                NameRule::Label,
                vec!["metadata.name"],
            ),
            (
                json!({"metadata": {"name": "Bad_x", "generateName": "Bad_"}}),
                NameRule::Subdomain,
                vec!["metadata.generateName", "metadata.name"],
            ),
            (
                json!({"metadata": {"name": "l", "labels": {"bad key": "x", "ok": "a".repeat(70)}}}),
                NameRule::Subdomain,
                vec!["metadata.labels", "metadata.labels"],
            ),
            (
                json!({"metadata": {"name": "a", "annotations": {"A/b": "v", "Bad Key": "v"}}}),
                NameRule::Subdomain,
                vec!["metadata.annotations"],
            ),
            (
                json!({"metadata": {"name": "a", "annotations": {"a": "v".repeat(262_200)}}}),
                NameRule::Subdomain,
                vec!["metadata.annotations"],
            ),
        ] {
            let found: Vec<String> = check(&object, rule).into_iter().map(|e| e.field).collect();
            assert_eq!(found, fields, "{object}");
        }
    }
}
