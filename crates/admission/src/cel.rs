//! The last stage: the CEL `x-kubernetes-validations` rules, evaluated by kube's local CEL
//! engine on the pruned and defaulted object (and the old object on update).

use kube_core::cel::{CompiledSchema, validate_compiled};
use serde_json::Value;

use crate::error::{FieldError, FieldErrorKind};

/// The rules of `compiled` that `object` breaks, as field errors at each rule's `fieldPath`
/// with its `reason` and `message`.
pub(crate) fn rule_errors(
    compiled: &CompiledSchema,
    object: &Value,
    old: Option<&Value>,
) -> Vec<FieldError> {
    let Err(failures) = validate_compiled(compiled, object, old) else {
        return Vec::new();
    };
    failures
        .iter()
        .map(|e| {
            let field = e.field_path.trim_start_matches('.').to_string();
            let kind = e
                .reason
                .as_deref()
                .map_or(FieldErrorKind::Invalid, FieldErrorKind::from_cause_type);
            // An invalid scalar is quoted before the message (an object or a list is not), as
            // the API server words it.
            let detail = match (kind, value_at(object, &field)) {
                (FieldErrorKind::Invalid, Some(v)) if !v.is_object() && !v.is_array() => {
                    format!("{v}: {}", e.message)
                }
                _ => e.message.clone(),
            };
            // A rule of the root object names no field: the API server prints the empty path
            // as Go prints a nil one.
            let field = match field.is_empty() {
                true => "<nil>".to_string(),
                false => field,
            };
            FieldError {
                field,
                kind,
                detail,
            }
        })
        .collect()
}

/// The value at a field path such as `spec.users[2].name`.
fn value_at<'a>(object: &'a Value, field: &str) -> Option<&'a Value> {
    let mut cur = object;
    for part in field.split('.').filter(|p| !p.is_empty()) {
        let (name, indexes) = part.split_once('[').unwrap_or((part, ""));
        if !name.is_empty() {
            cur = cur.get(name)?;
        }
        for index in indexes.split('[').filter(|i| !i.is_empty()) {
            cur = cur.get(index.trim_end_matches(']').parse::<usize>().ok()?)?;
        }
    }
    Some(cur)
}
