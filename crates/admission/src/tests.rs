//! The stages together, on a small schema with one of each keyword.

use serde_json::{Value, json};

use crate::{FieldErrorKind, SchemaValidator};

fn validator() -> SchemaValidator {
    SchemaValidator::new(json!({
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "maxLength": 5, "pattern": "^[a-z]+$"},
                    "mode": {"type": "string", "enum": ["A", "B"], "default": "A"},
                    "count": {"type": "integer", "minimum": 1, "maximum": 3},
                    "tags": {"type": "array", "maxItems": 2, "x-kubernetes-list-type": "set",
                             "items": {"type": "string"}},
                    "opt": {"type": "string", "nullable": true}
                },
                "x-kubernetes-validations": [
                    {"rule": "self.mode != 'B' || has(self.count)", "message": "count is needed with B",
                     "fieldPath": ".count", "reason": "FieldValueRequired"}
                ]
            }
        }
    }))
}

#[test]
fn prunes_unknown_fields_and_applies_defaults() {
    let out = validator()
        .admit(
            &json!({"metadata": {"name": "x"}, "spec": {"name": "abc", "junk": 1}, "extra": true}),
            None,
        )
        .unwrap();
    assert_eq!(
        out,
        json!({"metadata": {"name": "x"}, "spec": {"name": "abc", "mode": "A"}})
    );
}

#[test]
fn reports_each_structural_error_with_its_path() {
    let errors = validator()
        .admit(
            &json!({"spec": {"name": "ABCDEFG", "mode": "C", "count": 9, "tags": ["a", "a", "b"]}}),
            None,
        )
        .unwrap_err();
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(
        text.contains(&"spec.name: Too long: may not be more than 5 bytes".to_string()),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|t| t.starts_with("spec.name: Invalid value: \"ABCDEFG\"")),
        "{text:?}"
    );
    assert!(text.contains(
        &"spec.mode: Unsupported value: \"C\": supported values: \"A\", \"B\"".to_string()
    ));
    assert!(
        text.iter()
            .any(|t| t.starts_with("spec.count: Invalid value: 9"))
    );
    assert!(text.contains(&"spec.tags: Too many: 3: must have at most 2 items".to_string()));
    assert!(text.contains(&"spec.tags[1]: Duplicate value: \"a\"".to_string()));
}

#[test]
fn reports_missing_required_fields_and_wrong_types() {
    let errors = validator()
        .admit(&json!({"spec": {"count": "two"}}), None)
        .unwrap_err();
    assert!(
        errors
            .iter()
            .any(|e| e.field == "spec.name" && e.kind == FieldErrorKind::Required)
    );
    assert!(
        errors
            .iter()
            .any(|e| e.field == "spec.count" && e.kind == FieldErrorKind::TypeInvalid)
    );
}

#[test]
fn drops_null_in_non_nullable_fields_and_keeps_nullable_nulls() {
    let out = validator()
        .admit(
            &json!({"spec": {"name": "a", "count": null, "opt": null}}),
            None,
        )
        .unwrap();
    assert_eq!(out["spec"].get("count"), None);
    assert_eq!(out["spec"]["opt"], Value::Null);
}

#[test]
fn runs_cel_rules_after_structural_checks() {
    let errors = validator()
        .admit(&json!({"spec": {"name": "a", "mode": "B"}}), None)
        .unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].field, "spec.count");
    assert_eq!(errors[0].kind, FieldErrorKind::Required);
    assert_eq!(
        errors[0].to_string(),
        "spec.count: Required value: count is needed with B"
    );
    assert!(
        validator()
            .admit(
                &json!({"spec": {"name": "a", "mode": "B", "count": 2}}),
                None
            )
            .is_ok()
    );
}
