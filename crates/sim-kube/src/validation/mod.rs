//! Validation of built-in objects before they are stored, as kube-apiserver validates them:
//! decoding into the Go type (JSON types, base64, unknown fields, with `fieldValidation`), then
//! the kind's rules (names, labels, annotations, ConfigMap and Secret keys, Secret types,
//! `immutable`), each refusal worded as the API server words it.

pub mod configmaps;
pub mod decode;
pub mod events;
pub mod field;
pub mod go_base64;
pub mod go_json;
pub mod go_order;
pub mod key_order;
pub mod leases;
pub mod metadata;
pub mod names;
pub mod namespaces;
pub mod options;
pub mod secrets;

use std::sync::{Arc, LazyLock};

use serde_json::Value;

use self::field::FieldError;
use self::names::NameRule;
use self::options::FieldValidation;
use crate::http::request::Call;
use crate::status::ApiError;
use crate::types::ResourceType;
use crate::write::Write;

/// Admits `new` (replacing `old`, if any) written by `w`: the `fieldValidation` option is
/// checked for every kind; a built-in object is decoded (unknown fields dropped, warned about
/// or refused) and validated. Custom resources are left to their schema's admission.
pub fn admit(w: &Write, old: Option<&Value>, mut new: Value) -> Result<Value, ApiError> {
    let rt = &w.target.rt;
    if rt.custom {
        FieldValidation::of(w.call, w.verb)?;
        return Ok(new);
    }
    if let Some(schema) = stored_schema(rt) {
        let before = new.clone();
        decode_checked(w.call, w.verb, rt, &schema, &mut new, None).map_err(|e| {
            if is_patch(w) {
                patch_cannot_be_decoded(before, old, &e)
            } else {
                e
            }
        })?;
    }
    if rt.is_core("namespaces") && w.target.sub.is_none() {
        namespaces::prepare(&mut new, old);
    }
    // The object is validated in the namespace of the path (as it is stored).
    if let Some(ns) = &w.target.namespace
        && let Some(meta) = new.get_mut("metadata").and_then(Value::as_object_mut)
    {
        meta.insert("namespace".into(), Value::String(ns.clone()));
    }
    let errors = field_errors(rt, old, &new);
    if !errors.is_empty() {
        let name = new
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        // Events of both APIs are validated as core Events, and named so.
        let group = if rt.is_events_v1() { "" } else { &rt.group };
        return Err(field::invalid(group, &rt.kind, name, &errors));
    }
    Ok(new)
}

/// The body of a create or update (`verb`) of a built-in `rt`, decoded as the API server
/// decodes it before anything else reads it: fields the type does not have are dropped (with
/// warnings) or refused, values of the wrong type refused.
pub fn decoded_body(call: &Call, rt: &ResourceType, verb: &str) -> Result<Value, ApiError> {
    let mut body = call.object_body(&rt.kind)?;
    match (rt.custom, &rt.schema) {
        (false, Some(schema)) => {
            let order = (!call.is_protobuf())
                .then(|| key_order::scan(call.body()))
                .flatten()
                .map(|(as_go_reads_it, order)| {
                    body = as_go_reads_it;
                    order
                });
            decode_checked(call, verb, rt, schema, &mut body, order.as_ref())?;
        }
        _ => {
            FieldValidation::of(call, verb)?;
        }
    }
    Ok(body)
}

/// Decodes `object` against `schema` under the `fieldValidation` of `call`; with the key
/// `order` of the body it was read from, repeated fields are reported too, and all in the
/// body's order.
fn decode_checked(
    call: &Call,
    verb: &str,
    rt: &ResourceType,
    schema: &Value,
    object: &mut Value,
    order: Option<&key_order::KeyOrder>,
) -> Result<(), ApiError> {
    let directive = FieldValidation::of(call, verb)?;
    let unknown =
        decode::decode(schema, &rt.kind, object).map_err(|e| cannot_be_handled(rt, &e))?;
    let mut problems: Vec<(usize, String)> = unknown
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let at = order
                .and_then(|o| o.position.get(f).copied())
                .unwrap_or(usize::MAX - unknown.len() + i);
            (at, format!("unknown field {}", field::go_quote(f)))
        })
        .collect();
    for (at, path) in order.map(|o| o.duplicates.as_slice()).unwrap_or_default() {
        problems.push((*at, format!("duplicate field {}", field::go_quote(path))));
    }
    problems.sort_by_key(|(at, _)| *at);
    if problems.is_empty() {
        return Ok(());
    }
    match directive {
        FieldValidation::Strict => {
            let listed: Vec<String> = problems.into_iter().map(|(_, p)| p).collect();
            let why = format!("strict decoding error: {}", listed.join(", "));
            Err(cannot_be_handled(rt, &why))
        }
        FieldValidation::Warn => {
            for (_, p) in problems {
                call.warn(p);
            }
            Ok(())
        }
        FieldValidation::Ignore => Ok(()),
    }
}

/// The problems of the built-in object `new` of type `rt`, replacing `old` if any.
fn field_errors(rt: &ResourceType, old: Option<&Value>, new: &Value) -> Vec<FieldError> {
    let rule = if rt.is_core("namespaces") {
        NameRule::Label
    } else {
        NameRule::Subdomain
    };
    let mut errors = Vec::new();
    if rt.is_core("configmaps") {
        if let Some(o) = old {
            errors.extend(configmaps::immutability(new, o, &["data", "binaryData"]));
        }
        errors.extend(metadata::check(new, rule));
        errors.extend(configmaps::check(new));
    } else if rt.is_core("secrets") {
        // An update's own checks come first, then those of any Secret.
        if let Some(o) = old {
            errors.extend(secrets::check_update(new, o));
        }
        errors.extend(metadata::check(new, rule));
        errors.extend(secrets::check(new));
    } else if rt.group == "coordination.k8s.io" && rt.plural == "leases" {
        errors.extend(metadata::check(new, rule));
        errors.extend(leases::check(new));
    } else if rt.is_core("events") || rt.is_events_v1() {
        errors.extend(events::check(new, old, rt.is_events_v1()));
    } else {
        errors.extend(metadata::check(new, rule));
    }
    errors
}

/// Whether `w` patches an object (server-side apply aside).
fn is_patch(w: &Write) -> bool {
    w.verb == "patch" && !w.call.content_type.contains("apply-patch")
}

/// 422 for a patch whose result does not decode (`decoding`, the 400 a body would get), as
/// kube-apiserver words it: the patched object (with the managed fields it had) quoted.
fn patch_cannot_be_decoded(
    mut patched: Value,
    old: Option<&Value>,
    decoding: &ApiError,
) -> ApiError {
    if decoding.code != 400 {
        return decoding.clone();
    }
    let why = decoding
        .message
        .split_once(": ")
        .map(|(_, why)| why)
        .unwrap_or(&decoding.message);
    if let Some(meta) = patched.get_mut("metadata").and_then(Value::as_object_mut) {
        match old.and_then(|o| o.pointer("/metadata/managedFields")) {
            Some(m) => meta.insert("managedFields".into(), m.clone()),
            None => meta.remove("managedFields"),
        };
    }
    let error = FieldError::invalid("patch", go_order::to_string(&patched), why);
    field::invalid("", "", "", &[error])
}

/// 400 for a body that does not decode into the kind's Go type.
fn cannot_be_handled(rt: &ResourceType, why: &str) -> ApiError {
    ApiError::bad_request(format!(
        "{kind} in version \"{version}\" cannot be handled as a {kind}: {why}",
        kind = rt.kind,
        version = rt.version,
    ))
}

/// The schema objects of `rt` are decoded with when stored: their stored shape's (Events of
/// both APIs are stored as core Events).
fn stored_schema(rt: &ResourceType) -> Option<Arc<Value>> {
    static CORE_EVENT: LazyLock<Arc<Value>> = LazyLock::new(|| {
        Arc::new(
            serde_json::to_value(schemars::schema_for!(k8s_openapi::api::core::v1::Event))
                .unwrap_or_default(),
        )
    });
    if rt.is_events_v1() {
        return Some(CORE_EVENT.clone());
    }
    rt.schema.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_patch_that_does_not_decode_quotes_the_patched_object() {
        let old = json!({"metadata": {"name": "p", "managedFields": [{"manager": "curl"}]}});
        let patched = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": 1}, "metadata": {"name": "p", "managedFields": [{"manager": "x"}]}});
        let decoding = ApiError::bad_request(
            "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: json: cannot unmarshal number into Go struct field ConfigMap.data of type string",
        );
        let e = patch_cannot_be_decoded(patched, Some(&old), &decoding);
        assert_eq!(e.code, 422);
        assert_eq!(
            e.message,
            r#" "" is invalid: patch: Invalid value: "{\"apiVersion\":\"v1\",\"data\":{\"k\":1},\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"p\",\"managedFields\":[{\"manager\":\"curl\"}]}}": json: cannot unmarshal number into Go struct field ConfigMap.data of type string"#
        );
        assert_eq!(e.details.unwrap()["causes"][0]["field"], "patch");
    }
}
