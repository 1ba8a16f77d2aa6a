//! Admission-time handling of a custom resource against its CRD's structural schema, in the
//! order and with the error shapes of the Kubernetes API server: unknown fields pruned, nulls
//! in non-nullable fields dropped, defaults applied, then OpenAPI validation (types, enums,
//! patterns, bounds, list types) and the CEL `x-kubernetes-validations` rules.
//!
//! Used by `exo-operator validate` (offline checks of manifests), by the Kubernetes API
//! emulator, and by the tests of every rule in our CRDs.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube_core::cel::{CompiledSchema, compile_schema, validate_compiled};
use regex::Regex;
use serde_json::{Map, Value};

/// The kind of a field error, named as the API server names its status causes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldErrorKind {
    /// `FieldValueRequired`: a required field is missing.
    Required,
    /// `FieldValueInvalid`: the value breaks a pattern, a bound or a rule.
    Invalid,
    /// `FieldValueNotSupported`: the value is not one of the enumerated values.
    NotSupported,
    /// `FieldValueTooLong`: a string is longer than `maxLength`.
    TooLong,
    /// `FieldValueTooMany`: a list has more items than `maxItems`.
    TooMany,
    /// `FieldValueDuplicate`: a set or map list repeats an item or key.
    Duplicate,
    /// `FieldValueForbidden`: a rule forbids the value.
    Forbidden,
    /// `FieldValueTypeInvalid`: the value has the wrong JSON type.
    TypeInvalid,
}

impl FieldErrorKind {
    /// The `reason` of the status cause (`FieldValueRequired`, ...).
    pub fn cause_type(self) -> &'static str {
        match self {
            Self::Required => "FieldValueRequired",
            Self::Invalid => "FieldValueInvalid",
            Self::NotSupported => "FieldValueNotSupported",
            Self::TooLong => "FieldValueTooLong",
            Self::TooMany => "FieldValueTooMany",
            Self::Duplicate => "FieldValueDuplicate",
            Self::Forbidden => "FieldValueForbidden",
            Self::TypeInvalid => "FieldValueTypeInvalid",
        }
    }

    fn from_cause_type(reason: &str) -> Self {
        match reason {
            "FieldValueRequired" => Self::Required,
            "FieldValueForbidden" => Self::Forbidden,
            "FieldValueDuplicate" => Self::Duplicate,
            _ => Self::Invalid,
        }
    }
}

/// One rejected field, as a cause of a 422 `Invalid` response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Path of the field, such as `spec.sync.targetListRef` or `spec.users[3]`.
    pub field: String,
    /// What is wrong.
    pub kind: FieldErrorKind,
    /// The text after the kind, as the API server writes it.
    pub detail: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lead = match self.kind {
            FieldErrorKind::Required => "Required value",
            FieldErrorKind::Invalid | FieldErrorKind::TypeInvalid => "Invalid value",
            FieldErrorKind::NotSupported => "Unsupported value",
            FieldErrorKind::TooLong => "Too long",
            FieldErrorKind::TooMany => "Too many",
            FieldErrorKind::Duplicate => "Duplicate value",
            FieldErrorKind::Forbidden => "Forbidden",
        };
        if self.detail.is_empty() {
            write!(f, "{}: {lead}", self.field)
        } else {
            write!(f, "{}: {lead}: {}", self.field, self.detail)
        }
    }
}

/// The admission schema of one served version of a CRD, with its CEL rules compiled once.
pub struct SchemaValidator {
    schema: Value,
    compiled: CompiledSchema,
    patterns: Mutex<HashMap<String, Arc<Regex>>>,
}

impl fmt::Debug for SchemaValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchemaValidator").finish_non_exhaustive()
    }
}

impl SchemaValidator {
    /// The validator of `version` of `crd`, or `None` when that version is not served or has
    /// no schema.
    pub fn for_crd(crd: &CustomResourceDefinition, version: &str) -> Option<Self> {
        let schema = crd
            .spec
            .versions
            .iter()
            .find(|v| v.name == version && v.served)?
            .schema
            .as_ref()?
            .open_api_v3_schema
            .as_ref()?;
        Some(Self::new(serde_json::to_value(schema).ok()?))
    }

    /// A validator of an `openAPIV3Schema` given as JSON.
    pub fn new(schema: Value) -> Self {
        let compiled = compile_schema(&schema);
        Self {
            schema,
            compiled,
            patterns: Mutex::new(HashMap::new()),
        }
    }

    /// The fields of `object` the schema does not know (`spec.foo`, `spec.list[0].bar`), in
    /// order: rejected with `fieldValidation=Strict`, pruned otherwise.
    pub fn unknown_fields(&self, object: &Value) -> Vec<String> {
        let mut out = Vec::new();
        unknown_fields(&self.schema, object, "", true, &mut out);
        out
    }

    /// Admits `object` (a whole custom resource) as the API server would on create (`old` is
    /// `None`) or update: returns the pruned and defaulted object, or every field error.
    pub fn admit(&self, object: &Value, old: Option<&Value>) -> Result<Value, Vec<FieldError>> {
        let mut object = object.clone();
        prune_and_default(&self.schema, &mut object, true);
        let mut errors = Vec::new();
        self.check(&self.schema, &object, "", &mut errors);
        if errors.is_empty() {
            let old = old.map(|o| {
                let mut o = o.clone();
                prune_and_default(&self.schema, &mut o, true);
                o
            });
            if let Err(failures) = validate_compiled(&self.compiled, &object, old.as_ref()) {
                errors.extend(failures.iter().map(|e| {
                    FieldError {
                        field: e.field_path.trim_start_matches('.').to_string(),
                        kind: e
                            .reason
                            .as_deref()
                            .map_or(FieldErrorKind::Invalid, FieldErrorKind::from_cause_type),
                        detail: e.message.clone(),
                    }
                }));
            }
        }
        if errors.is_empty() {
            Ok(object)
        } else {
            Err(errors)
        }
    }

    fn pattern(&self, pattern: &str) -> Option<Arc<Regex>> {
        let mut cache = self.patterns.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(re) = cache.get(pattern) {
            return Some(re.clone());
        }
        let re = Arc::new(Regex::new(pattern).ok()?);
        cache.insert(pattern.to_string(), re.clone());
        Some(re)
    }

    fn check(&self, schema: &Value, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
        let err = |kind, detail: String| FieldError {
            field: display_path(path),
            kind,
            detail,
        };
        if value.is_null() {
            if !flag(schema, "nullable") {
                errors.push(err(
                    FieldErrorKind::TypeInvalid,
                    format!(
                        "\"null\": {} in body must be of type {}",
                        display_path(path),
                        type_of(schema)
                    ),
                ));
            }
            return;
        }
        if flag(schema, "x-kubernetes-int-or-string") {
            if !(value.is_string() || value.is_i64() || value.is_u64()) {
                errors.push(err(
                    FieldErrorKind::TypeInvalid,
                    format!("{}: must be an integer or a string", json_type(value)),
                ));
            }
            return;
        }
        let expected = type_of(schema);
        if !expected.is_empty() && !type_matches(expected, value) {
            errors.push(err(
                FieldErrorKind::TypeInvalid,
                format!(
                    "\"{}\": {} in body must be of type {expected}: \"{}\"",
                    json_type(value),
                    display_path(path),
                    json_type(value)
                ),
            ));
            return;
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            let supported: Vec<String> = allowed.iter().map(Value::to_string).collect();
            errors.push(err(
                FieldErrorKind::NotSupported,
                format!("{value}: supported values: {}", supported.join(", ")),
            ));
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
        let chars = s.chars().count() as u64;
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
            && chars > max
        {
            errors.push(FieldError {
                field: field.clone(),
                kind: FieldErrorKind::TooLong,
                detail: format!("may not be more than {max} bytes"),
            });
        }
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
            && chars < min
        {
            errors.push(FieldError {
                field: field.clone(),
                kind: FieldErrorKind::Invalid,
                detail: format!("\"{s}\": {field} in body should be at least {min} chars long"),
            });
        }
        if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
            && let Some(re) = self.pattern(pattern)
            && !re.is_match(s)
        {
            errors.push(FieldError {
                field: field.clone(),
                kind: FieldErrorKind::Invalid,
                detail: format!("\"{s}\": {field} in body should match '{pattern}'"),
            });
        }
        if schema.get("format").and_then(Value::as_str) == Some("date-time") && !is_rfc3339(s) {
            errors.push(FieldError {
                field: field.clone(),
                kind: FieldErrorKind::Invalid,
                detail: format!("\"{s}\": {field} in body must be of type date-time: \"{s}\""),
            });
        }
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
        match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("set") => {
                let mut seen = BTreeSet::new();
                for (i, item) in items.iter().enumerate() {
                    if !seen.insert(item.to_string()) {
                        errors.push(FieldError {
                            field: format!("{field}[{i}]"),
                            kind: FieldErrorKind::Duplicate,
                            detail: item.to_string(),
                        });
                    }
                }
            }
            Some("map") => {
                let keys: Vec<&str> = schema
                    .get("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|k| k.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let mut seen = BTreeSet::new();
                for (i, item) in items.iter().enumerate() {
                    let key: Vec<String> = keys
                        .iter()
                        .map(|k| item.get(*k).map(Value::to_string).unwrap_or_default())
                        .collect();
                    if !seen.insert(key.clone()) {
                        errors.push(FieldError {
                            field: format!("{field}[{i}]"),
                            kind: FieldErrorKind::Duplicate,
                            detail: format!("map[{}]", key.join(" ")),
                        });
                    }
                }
            }
            _ => {}
        }
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
        if let Some(max) = schema.get("maxProperties").and_then(Value::as_u64)
            && map.len() as u64 > max
        {
            errors.push(FieldError {
                field: display_path(path),
                kind: FieldErrorKind::TooMany,
                detail: format!("{}: must have at most {max} items", map.len()),
            });
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties").filter(|a| a.is_object());
        for (name, child) in map {
            // The API server validates metadata itself, not against the CRD schema.
            if path.is_empty() && matches!(name.as_str(), "metadata" | "apiVersion" | "kind") {
                continue;
            }
            let child_schema = properties.and_then(|p| p.get(name)).or(additional);
            if let Some(child_schema) = child_schema {
                self.check(child_schema, child, &join(path, name), errors);
            }
        }
    }
}

fn check_number(schema: &Value, n: &serde_json::Number, path: &str, errors: &mut Vec<FieldError>) {
    let Some(v) = n.as_f64() else { return };
    let field = display_path(path);
    if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
        let exclusive = flag(schema, "exclusiveMaximum");
        if v > max || (exclusive && v == max) {
            let op = if exclusive {
                "less than"
            } else {
                "less than or equal to"
            };
            errors.push(FieldError {
                field: field.clone(),
                kind: FieldErrorKind::Invalid,
                detail: format!("{n}: {field} in body should be {op} {max}"),
            });
        }
    }
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
        let exclusive = flag(schema, "exclusiveMinimum");
        if v < min || (exclusive && v == min) {
            let op = if exclusive {
                "greater than"
            } else {
                "greater than or equal to"
            };
            errors.push(FieldError {
                field: field.clone(),
                kind: FieldErrorKind::Invalid,
                detail: format!("{n}: {field} in body should be {op} {min}"),
            });
        }
    }
}

/// Paths (`spec.foo`) of the fields of `value` that pruning would drop: what the API server
/// names with `fieldValidation=Strict`.
fn unknown_fields(schema: &Value, value: &Value, path: &str, root: bool, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            let preserve = flag(schema, "x-kubernetes-preserve-unknown-fields");
            for (name, child) in map {
                if root && matches!(name.as_str(), "metadata" | "apiVersion" | "kind") {
                    continue;
                }
                match properties.and_then(|p| p.get(name)).or(additional) {
                    Some(s) => unknown_fields(s, child, &join(path, name), false, out),
                    None if !preserve => out.push(join(path, name)),
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
fn prune_and_default(schema: &Value, value: &mut Value, root: bool) {
    match value {
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            let preserve = flag(schema, "x-kubernetes-preserve-unknown-fields");
            map.retain(|name, child| {
                if root && matches!(name.as_str(), "metadata" | "apiVersion" | "kind") {
                    return true;
                }
                match properties.and_then(|p| p.get(name)).or(additional) {
                    Some(s) => !child.is_null() || flag(s, "nullable"),
                    None => preserve,
                }
            });
            if let Some(properties) = properties {
                for (name, child_schema) in properties {
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
            }
            if let Some(additional) = additional {
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

fn flag(schema: &Value, name: &str) -> bool {
    schema.get(name).and_then(Value::as_bool).unwrap_or(false)
}

fn type_of(schema: &Value) -> &str {
    schema.get("type").and_then(Value::as_str).unwrap_or("")
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

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn display_path(path: &str) -> String {
    if path.is_empty() {
        "<root>".into()
    } else {
        path.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
            .admit(&json!({"metadata": {"name": "x"}, "spec": {"name": "abc", "junk": 1}, "extra": true}), None)
            .unwrap();
        assert_eq!(
            out,
            json!({"metadata": {"name": "x"}, "spec": {"name": "abc", "mode": "A"}})
        );
    }

    #[test]
    fn reports_each_structural_error_with_its_path() {
        let errors = validator()
            .admit(&json!({"spec": {"name": "ABCDEFG", "mode": "C", "count": 9, "tags": ["a", "a", "b"]}}), None)
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
}
