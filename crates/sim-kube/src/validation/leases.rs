//! `ValidateLease`: a Lease's duration is positive and its transitions are not negative.

use serde_json::Value;

use super::field::FieldError;

/// The problems of a Lease's spec.
pub fn check(lease: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let number = |field: &str| {
        lease
            .pointer(&format!("/spec/{field}"))
            .and_then(Value::as_i64)
    };
    if let Some(d) = number("leaseDurationSeconds").filter(|d| *d <= 0) {
        errors.push(FieldError::invalid(
            "spec.leaseDurationSeconds",
            d,
            "must be greater than 0",
        ));
    }
    if let Some(t) = number("leaseTransitions").filter(|t| *t < 0) {
        errors.push(FieldError::invalid(
            "spec.leaseTransitions",
            t,
            "must be greater than or equal to 0",
        ));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations_and_transitions_are_checked() {
        for (spec, messages) in [
            (
                json!({"leaseDurationSeconds": 15, "leaseTransitions": 0}),
                vec![],
            ),
            (
                json!({"leaseDurationSeconds": 0, "leaseTransitions": -1}),
                vec![
                    "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
                    "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0",
                ],
            ),
        ] {
            let found: Vec<String> = check(&json!({"spec": spec}))
                .iter()
                .map(FieldError::message)
                .collect();
            assert_eq!(found, messages);
        }
    }
}
