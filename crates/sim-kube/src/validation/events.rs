//! `ValidateEventCreate` and `ValidateEventUpdate`: the legacy rules every Event passes, and
//! the strict ones of Events written through `events.k8s.io`. Events are checked in their
//! stored (core) shape, so fields are named as the core API names them, except the reporting
//! controller, named as the request's API names it.

use serde_json::Value;

use super::field::FieldError;
use super::metadata;
use super::names::{self, NameRule};

/// Longest `reportingInstance`, `action` and `reason`.
const SHORT_LIMIT: usize = 128;
/// Longest `message` (`note`).
const NOTE_LIMIT: usize = 1024;

fn text<'a>(event: &'a Value, pointer: &str) -> &'a str {
    event.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// Whether the time at `pointer` is set.
fn is_set(event: &Value, pointer: &str) -> bool {
    !text(event, pointer).is_empty()
}

/// The problems of the Event `new` (replacing `old`, if any), written through `events.k8s.io`
/// when `strict`, else through the core API.
pub fn check(new: &Value, old: Option<&Value>, strict: bool) -> Vec<FieldError> {
    let mut errors = legacy(new, strict);
    if !strict {
        return errors;
    }
    match old {
        None => errors.extend(strict_create(new)),
        Some(o) => errors.extend(strict_update(new, o)),
    }
    errors
}

/// `legacyValidateEvent`.
fn legacy(event: &Value, strict: bool) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let namespace = text(event, "/metadata/namespace");
    let involved_ns = text(event, "/involvedObject/namespace");
    let mismatch = || {
        FieldError::invalid(
            "involvedObject.namespace",
            involved_ns,
            "does not match event.namespace",
        )
    };
    if !is_set(event, "/eventTime") {
        let agrees = if involved_ns.is_empty() {
            namespace.is_empty() || namespace == "default"
        } else {
            namespace == involved_ns
        };
        if !agrees {
            errors.push(mismatch());
        }
    } else {
        if involved_ns.is_empty() && namespace != "default" && namespace != "kube-system" {
            errors.push(mismatch());
        }
        let controller_field = if strict {
            "reportingController"
        } else {
            "reportingComponent"
        };
        let controller = text(event, "/reportingComponent");
        if controller.is_empty() {
            errors.push(FieldError::required(controller_field, ""));
        }
        for msg in names::qualified_name(controller) {
            errors.push(FieldError::invalid(controller_field, controller, &msg));
        }
        for (field, limit) in [
            ("reportingInstance", Some(SHORT_LIMIT)),
            ("action", Some(SHORT_LIMIT)),
            ("reason", Some(SHORT_LIMIT)),
            ("message", None),
        ] {
            let value = text(event, &format!("/{field}"));
            if value.is_empty() && limit.is_some() {
                errors.push(FieldError::required(field, ""));
            }
            let limit = limit.unwrap_or(NOTE_LIMIT);
            if value.len() > limit {
                errors.push(FieldError::invalid(
                    field,
                    "",
                    &format!("can have at most {limit} characters"),
                ));
            }
        }
    }
    for msg in names::dns1123_subdomain(namespace) {
        errors.push(FieldError::invalid("namespace", namespace, &msg));
    }
    errors
}

/// The strict rules of a new Event.
fn strict_create(event: &Value) -> Vec<FieldError> {
    let mut errors = metadata::check(event, NameRule::Subdomain);
    errors.extend(series(event));
    if !is_set(event, "/eventTime") {
        errors.push(FieldError::required("eventTime", ""));
    }
    let ty = text(event, "/type");
    if ty != "Normal" && ty != "Warning" {
        errors.push(FieldError::invalid(
            "type",
            "",
            &format!("has invalid value: {ty}"),
        ));
    }
    for field in ["firstTimestamp", "lastTimestamp"] {
        if is_set(event, &format!("/{field}")) {
            errors.push(FieldError::invalid(field, "", "needs to be unset"));
        }
    }
    if event.get("count").and_then(Value::as_i64).unwrap_or(0) != 0 {
        errors.push(FieldError::invalid("count", "", "needs to be unset"));
    }
    if is_set(event, "/source/component") || is_set(event, "/source/host") {
        errors.push(FieldError::invalid("source", "", "needs to be unset"));
    }
    errors
}

/// `validateV1EventSeries`.
fn series(event: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(s) = event.get("series").filter(|s| !s.is_null()) {
        if s.get("count").and_then(Value::as_i64).unwrap_or(0) < 2 {
            errors.push(FieldError::invalid(
                "series.count",
                "",
                "should be at least 2",
            ));
        }
        if !is_set(s, "/lastObservedTime") {
            errors.push(FieldError::required("series.lastObservedTime", ""));
        }
    }
    errors
}

/// The strict rules of an update: what an Event says cannot change.
fn strict_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if new.get("series") != old.get("series") {
        errors.extend(series(new));
    }
    for (field, shown) in [
        ("involvedObject", "involvedObject"),
        ("reason", "reason"),
        ("message", "message"),
        ("source", "source"),
        ("firstTimestamp", "firstTimestamp"),
        ("lastTimestamp", "lastTimestamp"),
        ("count", "count"),
        ("type", "type"),
        ("eventTime", "eventTime"),
        ("action", "action"),
        ("reportingComponent", "reportingController"),
        ("reportingInstance", "reportingInstance"),
    ] {
        let (n, o) = (new.get(field), old.get(field));
        if n.filter(|v| !v.is_null()) != o.filter(|v| !v.is_null()) {
            errors.push(FieldError::invalid(
                shown,
                n.cloned().unwrap_or(Value::Null),
                "field is immutable",
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event_v1() -> Value {
        json!({
            "metadata": {"name": "contoso.1", "namespace": "t"},
            "involvedObject": {"kind": "ExchangeServiceAccount", "name": "contoso", "namespace": "t"},
            "eventTime": "2026-01-01T00:00:00.000000Z", "reportingComponent": "exo-operator",
            "reportingInstance": "exo-operator-0", "action": "Reconcile", "reason": "Ready",
            "type": "Normal", "message": "ready",
        })
    }

    #[test]
    fn events_are_checked_as_their_api_checks_them() {
        let mut no_action = event_v1();
        no_action["action"] = json!("");
        let old_style = json!({"metadata": {"name": "Upper.Case", "namespace": "t"}, "involvedObject": {"namespace": "t"}, "reason": "R", "message": "m", "type": "Normal", "firstTimestamp": "2026-01-01T00:00:00Z"});
        let mut elsewhere = old_style.clone();
        elsewhere["involvedObject"]["namespace"] = json!("u");
        let mut bad_type = event_v1();
        bad_type["type"] = json!("Odd");
        for (event, strict, fields) in [
            (event_v1(), true, vec![]),
            (event_v1(), false, vec![]),
            (no_action.clone(), true, vec!["action"]),
            (old_style.clone(), false, vec![]),
            (elsewhere, false, vec!["involvedObject.namespace"]),
            (bad_type, true, vec!["type"]),
        ] {
            let found: Vec<String> = check(&event, None, strict)
                .into_iter()
                .map(|e| e.field)
                .collect();
            assert_eq!(found, fields, "{event}");
        }
        let mut changed = event_v1();
        changed["reason"] = json!("Other");
        let found: Vec<String> = check(&changed, Some(&event_v1()), true)
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(found, vec!["reason"]);
    }
}
