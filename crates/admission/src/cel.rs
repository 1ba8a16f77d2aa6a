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
        .map(|e| FieldError {
            field: e.field_path.trim_start_matches('.').to_string(),
            kind: e
                .reason
                .as_deref()
                .map_or(FieldErrorKind::Invalid, FieldErrorKind::from_cause_type),
            detail: e.message.clone(),
        })
        .collect()
}
