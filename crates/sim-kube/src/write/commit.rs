//! The last step of every write but delete: server-owned metadata, admission of custom
//! resources, `generation`, and storing the object (or removing it, once deleted and free of
//! finalizers), with what follows for CRDs.

use serde_json::{Map, Value, json};

use super::{Write, Written, managed_fields};
use crate::http::response::now;
use crate::lifecycle::{self, crds};
use crate::status::ApiError;
use crate::store::Inner;
use crate::types::ResourceType;

/// Metadata kept from the stored object through every write.
const KEPT_METADATA: [&str; 5] = [
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
];

/// Metadata a client cannot set on create.
const CLEARED_ON_CREATE: [&str; 3] = [
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "resourceVersion",
];

/// Validates, stamps and stores `new` (replacing `old`, if any), recording watch events and
/// running deletion and garbage collection.
pub fn commit(
    st: &mut Inner,
    w: &Write,
    old: Option<&Value>,
    mut new: Value,
) -> Result<Written, ApiError> {
    new = crate::validation::admit(w, old, new)?;
    let rt = &w.target.rt;
    let name = lifecycle::text_at(&new, "/metadata/name").to_string();
    set_type_meta(rt, &mut new);
    set_server_metadata(w, old, &mut new)?;
    if let Some(o) = old {
        no_new_finalizers_while_deleting(rt, o, &new, &name)?;
    }
    if rt.is_core("secrets") {
        normalize_secret(&mut new);
    }
    if let Some(validator) = &rt.validator {
        new = admit(w, validator, old, new, &name)?;
    }
    // Server-side apply records its own ownership; every other write owns what it changed
    // (defaults included, pruned fields not).
    if !w.is_apply() {
        if old.is_none()
            && let Some(m) = new.get_mut("metadata").and_then(Value::as_object_mut)
        {
            m.remove("managedFields");
        }
        managed_fields::record_update(&mut new, old, w.target, &w.call.manager());
    }
    if rt.is_crd() {
        crds::check(&new, &name)?;
    }
    if let Some(o) = old {
        if rt.generation && spec_part(o) != spec_part(&new) {
            let g = o
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                + 1;
            new["metadata"]["generation"] = json!(g);
        }
        if without_volatile(o) == without_volatile(&new) {
            return Ok(written(o.clone(), false, old));
        }
    }
    if w.call.dry_run() {
        return Ok(written(new, true, old));
    }
    Ok(written(store(st, w, old, new, &name), true, old))
}

fn written(object: Value, changed: bool, old: Option<&Value>) -> Written {
    Written {
        object,
        changed,
        created: old.is_none(),
    }
}

/// Stores `new` at a new resourceVersion; an object deleted and free of finalizers is
/// removed instead. Returns the object as stored (a CRD as registered).
fn store(st: &mut Inner, w: &Write, old: Option<&Value>, mut new: Value, name: &str) -> Value {
    let t = w.target;
    let rv = st.stamp(&mut new);
    let key = t.key_of(name);
    let deleting = new.pointer("/metadata/deletionTimestamp").is_some()
        && new.pointer("/metadata/finalizers").is_none();
    if deleting {
        lifecycle::remove_stored(st, &t.rt, &key, new.clone(), rv);
        return new;
    }
    let kind = if old.is_some() { "MODIFIED" } else { "ADDED" };
    st.put(&t.rt.storage, key, new.clone(), kind, rv);
    if t.rt.is_crd()
        && t.sub.is_none()
        && let Some(established) = crds::register(st, &new)
    {
        return established;
    }
    new
}

/// 422 when `new` adds finalizers to an object being deleted.
fn no_new_finalizers_while_deleting(
    rt: &ResourceType,
    old: &Value,
    new: &Value,
    name: &str,
) -> Result<(), ApiError> {
    if old.pointer("/metadata/deletionTimestamp").is_none() {
        return Ok(());
    }
    let finalizers = |v: &Value| -> Vec<String> {
        v.pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect()
    };
    let before = finalizers(old);
    let added: Vec<String> = finalizers(new)
        .into_iter()
        .filter(|f| !before.contains(f))
        .collect();
    if added.is_empty() {
        return Ok(());
    }
    let quoted: Vec<String> = added.iter().map(|f| format!("{f:?}")).collect();
    let detail = format!(
        "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
        quoted.join(", ")
    );
    let cause =
        json!({"reason": "FieldValueForbidden", "message": detail, "field": "metadata.finalizers"});
    // kube-apiserver checks the metadata of custom resources twice, and says so twice.
    let causes = if rt.validator.is_some() {
        json!([cause, cause])
    } else {
        json!([cause])
    };
    let mut details = json!({"causes": causes, "kind": rt.kind, "name": name});
    if !rt.group.is_empty() {
        details["group"] = json!(rt.group);
    }
    Err(ApiError::new(
        422,
        "Invalid",
        format!(
            "{} \"{name}\" is invalid: metadata.finalizers: {detail}",
            rt.qualified_kind()
        ),
    )
    .with_details(details))
}

/// Sets apiVersion and kind as stored (events always in their core `v1` shape).
fn set_type_meta(rt: &ResourceType, new: &mut Value) {
    new["apiVersion"] = json!(rt.api_version());
    new["kind"] = json!(rt.kind);
    if rt.is_events_v1() || rt.is_core("events") {
        new["apiVersion"] = json!("v1");
    }
}

/// Sets the metadata the server owns: namespace from the path, uid, timestamps and generation
/// kept from `old` or given to a new object; empty finalizers dropped.
fn set_server_metadata(w: &Write, old: Option<&Value>, new: &mut Value) -> Result<(), ApiError> {
    let meta = super::metadata_entry(new)?
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("metadata is not an object"))?;
    match &w.target.namespace {
        Some(ns) => meta.insert("namespace".into(), json!(ns)),
        None => meta.remove("namespace"),
    };
    match old {
        Some(o) => {
            for k in KEPT_METADATA {
                match o.pointer(&format!("/metadata/{k}")) {
                    Some(v) => meta.insert(k.into(), v.clone()),
                    None => meta.remove(k),
                };
            }
        }
        None => stamp_new_metadata(&w.target.rt, meta),
    }
    if meta
        .get("finalizers")
        .is_some_and(|f| f.as_array().is_some_and(Vec::is_empty))
    {
        meta.remove("finalizers");
    }
    Ok(())
}

/// The metadata of an object being created: a uid, the creation time, generation 1.
fn stamp_new_metadata(rt: &ResourceType, meta: &mut Map<String, Value>) {
    meta.insert("uid".into(), json!(exo_sim_http::ids::uuid_v4()));
    meta.insert("creationTimestamp".into(), json!(now()));
    for k in CLEARED_ON_CREATE {
        meta.remove(k);
    }
    if rt.generation {
        meta.insert("generation".into(), json!(1));
    }
}

/// Admission of a custom resource against its CRD: unknown fields refused with
/// `fieldValidation=Strict`, then the schema (defaults applied) and CEL rules.
fn admit(
    w: &Write,
    validator: &exo_admission::SchemaValidator,
    old: Option<&Value>,
    new: Value,
    name: &str,
) -> Result<Value, ApiError> {
    let rt = &w.target.rt;
    // Unknown fields: refused under `Strict`, ignored under `Ignore`, and otherwise pruned with
    // a warning each.
    match w.call.q("fieldValidation") {
        Some("Ignore") => {}
        Some("Strict") => {
            let unknown = validator.unknown_fields(&new);
            if !unknown.is_empty() {
                return Err(strict_decoding_error(rt, &unknown));
            }
        }
        _ => {
            for field in validator.unknown_fields(&new) {
                w.call.warn(format!("unknown field \"{field}\""));
            }
        }
    }
    let mut checked = validator
        .admit(&new, old)
        .map_err(|errors| invalid(rt, name, &errors))?;
    if let Some(m) = new.get("metadata") {
        checked["metadata"] = m.clone();
    }
    Ok(checked)
}

/// 400 for fields the schema does not know, worded as the API server words it.
fn strict_decoding_error(rt: &ResourceType, unknown: &[String]) -> ApiError {
    let fields: Vec<String> = unknown
        .iter()
        .map(|f| format!("unknown field \"{f}\""))
        .collect();
    ApiError::new(
        400,
        "BadRequest",
        format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: strict decoding error: {}",
            fields.join(", "),
            kind = rt.kind,
            version = rt.version,
        ),
    )
}

/// 422 Invalid listing the admission errors as causes.
fn invalid(rt: &ResourceType, name: &str, errors: &[exo_admission::FieldError]) -> ApiError {
    let causes: Vec<Value> = errors
        .iter()
        .map(|e| json!({"reason": e.kind.cause_type(), "message": e.to_string().split_once(": ").map(|(_, m)| m.to_string()).unwrap_or_default(), "field": e.field}))
        .collect();
    let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let message = if list.len() == 1 {
        format!("{} \"{name}\" is invalid: {}", rt.qualified_kind(), list[0])
    } else {
        format!(
            "{} \"{name}\" is invalid: [{}]",
            rt.qualified_kind(),
            list.join(", ")
        )
    };
    ApiError::new(422, "Invalid", message).with_details(json!({
        "name": name, "group": rt.group, "kind": rt.kind, "causes": causes
    }))
}

/// Everything of `v` except metadata and status (what bumps `generation`).
fn spec_part(v: &Value) -> Value {
    let mut m = v.as_object().cloned().unwrap_or_default();
    for k in ["metadata", "status", "apiVersion", "kind"] {
        m.remove(k);
    }
    Value::Object(m)
}

/// `v` without what every write changes (resourceVersion, managedFields): equal means the
/// write changes nothing.
fn without_volatile(v: &Value) -> Value {
    let mut c = v.clone();
    if let Some(m) = c.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
        m.remove("managedFields");
    }
    c
}

/// Folds `stringData` into base64 `data` and defaults the type, as the API server does.
fn normalize_secret(secret: &mut Value) {
    use base64::Engine;
    if let Some(Value::Object(string_data)) =
        secret.as_object_mut().and_then(|m| m.remove("stringData"))
    {
        let data = secret
            .as_object_mut()
            .expect("an object")
            .entry("data")
            .or_insert_with(|| json!({}));
        if let Some(d) = data.as_object_mut() {
            for (k, v) in string_data {
                let text = v
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| v.to_string());
                d.insert(
                    k,
                    json!(base64::engine::general_purpose::STANDARD.encode(text)),
                );
            }
        }
    }
    if secret.get("type").is_none() {
        secret["type"] = json!("Opaque");
    }
}
