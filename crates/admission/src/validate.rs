//! The OpenAPI stage: types, enums, string patterns and lengths, number bounds, list sizes and
//! list types, required and bounded object fields, with the API server's messages.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::sync::Arc;

use regex::Regex;
use serde_json::{Map, Number, Value};

use crate::SchemaValidator;
use crate::error::{FieldError, FieldErrorKind};
use crate::schema::{ObjectSchema, display_path, flag, is_server_field, join, type_of};

impl SchemaValidator {
    /// Checks `value` at `path` against `schema`, and everything below it.
    pub(crate) fn check(
        &self,
        schema: &Value,
        value: &Value,
        path: &str,
        errors: &mut Vec<FieldError>,
    ) {
        let mut fail = |kind, detail: String| {
            errors.push(FieldError {
                field: display_path(path),
                kind,
                detail,
            })
        };
        if value.is_null() {
            if !flag(schema, "nullable") {
                fail(
                    FieldErrorKind::TypeInvalid,
                    format!(
                        "\"null\": {} in body must be of type {}",
                        display_path(path),
                        type_of(schema)
                    ),
                );
            }
            return;
        }
        if flag(schema, "x-kubernetes-int-or-string") {
            if !(value.is_string() || value.is_i64() || value.is_u64()) {
                fail(
                    FieldErrorKind::TypeInvalid,
                    format!("{}: must be an integer or a string", json_type(value)),
                );
            }
            return;
        }
        let expected = type_of(schema);
        if !expected.is_empty() && !type_matches(expected, value) {
            fail(
                FieldErrorKind::TypeInvalid,
                format!(
                    "\"{}\": {} in body must be of type {expected}: \"{}\"",
                    json_type(value),
                    display_path(path),
                    json_type(value)
                ),
            );
            return;
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            let supported: Vec<String> = allowed.iter().map(Value::to_string).collect();
            fail(
                FieldErrorKind::NotSupported,
                format!("{value}: supported values: {}", supported.join(", ")),
            );
        }
        match value {
            Value::String(s) => self.check_string(schema, s, path, errors),
            Value::Number(n) => check_number(schema, n, path, errors),
            Value::Array(items) => self.check_array(schema, items, path, errors),
            Value::Object(map) => self.check_object(schema, map, path, errors),
            _ => {}
        }
    }

    fn check_string(&self, schema: &Value, s: &str, path: &str, errors: &mut Vec<FieldError>) {
        let field = display_path(path);
        let mut fail = |kind, detail: String| {
            errors.push(FieldError {
                field: field.clone(),
                kind,
                detail,
            })
        };
        let chars = s.chars().count() as u64;
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
            && chars > max
        {
            fail(
                FieldErrorKind::TooLong,
                format!("may not be more than {max} bytes"),
            );
        }
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
            && chars < min
        {
            fail(
                FieldErrorKind::Invalid,
                format!("\"{s}\": {field} in body should be at least {min} chars long"),
            );
        }
        if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
            && let Some(re) = self.pattern(pattern)
            && !re.is_match(s)
        {
            fail(
                FieldErrorKind::Invalid,
                format!("\"{s}\": {field} in body should match '{pattern}'"),
            );
        }
        if schema.get("format").and_then(Value::as_str) == Some("date-time") && !is_rfc3339(s) {
            fail(
                FieldErrorKind::Invalid,
                format!("\"{s}\": {field} in body must be of type date-time: \"{s}\""),
            );
        }
    }

    /// The compiled `pattern`, compiled once per validator; `None` when it is not a valid
    /// regular expression (the value then passes, as nothing can be said about it).
    fn pattern(&self, pattern: &str) -> Option<Arc<Regex>> {
        let mut cache = self.patterns.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(re) = cache.get(pattern) {
            return Some(re.clone());
        }
        let re = Arc::new(Regex::new(pattern).ok()?);
        cache.insert(pattern.to_string(), re.clone());
        Some(re)
    }

    fn check_array(
        &self,
        schema: &Value,
        items: &[Value],
        path: &str,
        errors: &mut Vec<FieldError>,
    ) {
        let field = display_path(path);
        if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
            && items.len() as u64 > max
        {
            errors.push(FieldError {
                field: field.clone(),
                kind: FieldErrorKind::TooMany,
                detail: format!("{}: must have at most {max} items", items.len()),
            });
        }
        if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
            && (items.len() as u64) < min
        {
            errors.push(FieldError {
                field: field.clone(),
                kind: FieldErrorKind::Invalid,
                detail: format!("{field} in body should have at least {min} items"),
            });
        }
        check_list_type(schema, items, &field, errors);
        if let Some(item_schema) = schema.get("items") {
            for (i, item) in items.iter().enumerate() {
                self.check(item_schema, item, &format!("{path}[{i}]"), errors);
            }
        }
    }

    fn check_object(
        &self,
        schema: &Value,
        map: &Map<String, Value>,
        path: &str,
        errors: &mut Vec<FieldError>,
    ) {
        if let Some(max) = schema.get("maxProperties").and_then(Value::as_u64)
            && map.len() as u64 > max
        {
            errors.push(FieldError {
                field: display_path(path),
                kind: FieldErrorKind::TooMany,
                detail: format!("{}: must have at most {max} items", map.len()),
            });
        }
        let object = ObjectSchema::of(schema);
        for (name, child) in map {
            if is_server_field(path.is_empty(), name) {
                continue;
            }
            if let Some(child_schema) = object.field(name) {
                self.check(child_schema, child, &join(path, name), errors);
            }
        }
        // The API server reports missing fields after what is wrong in the present ones.
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for name in required.iter().filter_map(Value::as_str) {
                if !map.contains_key(name) {
                    errors.push(FieldError {
                        field: join(path, name),
                        kind: FieldErrorKind::Required,
                        detail: String::new(),
                    });
                }
            }
        }
    }
}

/// `x-kubernetes-list-type: set` (items unique) and `map` (the `x-kubernetes-list-map-keys` of
/// items unique): every repeat is a `Duplicate` at its index.
fn check_list_type(schema: &Value, items: &[Value], field: &str, errors: &mut Vec<FieldError>) {
    // `None` for a set (the whole item identifies it), the key names for a map.
    let map_keys: Option<Vec<&str>> =
        match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("set") => None,
            Some("map") => Some(
                schema
                    .get("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|k| k.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default(),
            ),
            _ => return,
        };
    let mut seen = BTreeSet::new();
    for (i, item) in items.iter().enumerate() {
        let (key, detail) = match &map_keys {
            None => (vec![item.to_string()], item.to_string()),
            Some(keys) => {
                let key: Vec<String> = keys
                    .iter()
                    .map(|k| item.get(*k).map(Value::to_string).unwrap_or_default())
                    .collect();
                let detail = format!("map[{}]", key.join(" "));
                (key, detail)
            }
        };
        if !seen.insert(key) {
            errors.push(FieldError {
                field: format!("{field}[{i}]"),
                kind: FieldErrorKind::Duplicate,
                detail,
            });
        }
    }
}

/// A bound on numbers: its keyword, the flag that makes it exclusive, the side a value must
/// not pass, and the API server's words for it.
struct NumberBound {
    keyword: &'static str,
    exclusive_flag: &'static str,
    beyond: Ordering,
    inclusive_words: &'static str,
    exclusive_words: &'static str,
}

const NUMBER_BOUNDS: [NumberBound; 2] = [
    NumberBound {
        keyword: "maximum",
        exclusive_flag: "exclusiveMaximum",
        beyond: Ordering::Greater,
        inclusive_words: "less than or equal to",
        exclusive_words: "less than",
    },
    NumberBound {
        keyword: "minimum",
        exclusive_flag: "exclusiveMinimum",
        beyond: Ordering::Less,
        inclusive_words: "greater than or equal to",
        exclusive_words: "greater than",
    },
];

fn check_number(schema: &Value, n: &Number, path: &str, errors: &mut Vec<FieldError>) {
    let Some(v) = n.as_f64() else { return };
    let field = display_path(path);
    for bound in &NUMBER_BOUNDS {
        let Some(limit) = schema.get(bound.keyword).and_then(Value::as_f64) else {
            continue;
        };
        let exclusive = flag(schema, bound.exclusive_flag);
        if v.partial_cmp(&limit) == Some(bound.beyond) || (exclusive && v == limit) {
            let words = if exclusive {
                bound.exclusive_words
            } else {
                bound.inclusive_words
            };
            errors.push(FieldError {
                field: field.clone(),
                kind: FieldErrorKind::Invalid,
                detail: format!("{n}: {field} in body should be {words} {limit}"),
            });
        }
    }
}

fn type_matches(expected: &str, value: &Value) -> bool {
    match expected {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    }
}

/// The JSON type of `value`, as the API server names it.
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn is_rfc3339(s: &str) -> bool {
    s.parse::<jiff::Timestamp>().is_ok()
}
