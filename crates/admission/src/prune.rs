//! The first stages: unknown fields pruned (or listed, for `fieldValidation=Strict`), nulls in
//! non-nullable fields dropped, then `default`s applied, recursively.

use serde_json::Value;

use crate::schema::{ObjectSchema, flag, is_server_field, join};

/// Paths (`spec.foo`) of the fields of `value` that pruning would drop: what the API server
/// names with `fieldValidation=Strict`.
pub(crate) fn unknown_fields(
    schema: &Value,
    value: &Value,
    path: &str,
    root: bool,
    out: &mut Vec<String>,
) {
    match value {
        Value::Object(map) => {
            let object = ObjectSchema::of(schema);
            for (name, child) in map {
                if is_server_field(root, name) {
                    continue;
                }
                match object.field(name) {
                    Some(s) => unknown_fields(s, child, &join(path, name), false, out),
                    None if !object.preserve_unknown => out.push(join(path, name)),
                    None => {}
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    unknown_fields(item_schema, item, &format!("{path}[{i}]"), false, out);
                }
            }
        }
        _ => {}
    }
}

/// Drops fields the schema does not know (unless it preserves unknown fields) and nulls in
/// non-nullable fields, then applies `default`s, recursively, as the API server does before
/// validation.
pub(crate) fn prune_and_default(schema: &Value, value: &mut Value, root: bool) {
    match value {
        Value::Object(map) => {
            let object = ObjectSchema::of(schema);
            map.retain(|name, child| {
                if is_server_field(root, name) {
                    return true;
                }
                match object.field(name) {
                    Some(s) => !child.is_null() || flag(s, "nullable"),
                    None => object.preserve_unknown,
                }
            });
            let properties = object.properties();
            for (name, child_schema) in properties.into_iter().flatten() {
                if root && name == "metadata" {
                    continue;
                }
                if !map.contains_key(name)
                    && let Some(default) = child_schema.get("default")
                {
                    map.insert(name.clone(), default.clone());
                }
                if let Some(child) = map.get_mut(name) {
                    prune_and_default(child_schema, child, false);
                }
            }
            if let Some(additional) = object.additional() {
                for (name, child) in map.iter_mut() {
                    if properties.is_none_or(|p| !p.contains_key(name)) {
                        prune_and_default(additional, child, false);
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items {
                    prune_and_default(item_schema, item, false);
                }
            }
        }
        _ => {}
    }
}
