//! Admission-time handling of a custom resource against its CRD's structural schema, in the
//! order and with the error shapes of the Kubernetes API server: unknown fields pruned, nulls
//! in non-nullable fields dropped, defaults applied, then OpenAPI validation (types, enums,
//! patterns, bounds, list types) and the CEL `x-kubernetes-validations` rules.
//!
//! Used by `exo-operator validate` (offline checks of manifests), by the Kubernetes API
//! emulator, and by the tests of every rule in our CRDs.
//!
//! One module per stage: `prune` (pruning and defaults), `validate` (OpenAPI) and `cel`
//! (rules); `error` holds the field errors and `schema` reads schema keywords and paths.

mod cel;
mod error;
mod prune;
mod schema;
#[cfg(test)]
mod tests;
mod validate;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube_core::cel::{CompiledSchema, compile_schema};
use regex::Regex;
use serde_json::Value;

pub use error::{FieldError, FieldErrorKind};

/// The admission schema of one served version of a CRD, with its CEL rules compiled once.
pub struct SchemaValidator {
    schema: Value,
    compiled: CompiledSchema,
    /// Whether the schema has `x-kubernetes-validations` rules anywhere.
    has_rules: bool,
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
        let has_rules = schema.to_string().contains("\"x-kubernetes-validations\"");
        Self {
            schema,
            compiled,
            has_rules,
            patterns: Mutex::new(HashMap::new()),
        }
    }

    /// The fields of `object` the schema does not know (`spec.foo`, `spec.list[0].bar`), in
    /// order: rejected with `fieldValidation=Strict`, pruned otherwise.
    pub fn unknown_fields(&self, object: &Value) -> Vec<String> {
        let mut out = Vec::new();
        prune::unknown_fields(&self.schema, object, "", true, &mut out);
        out
    }

    /// Admits `object` (a whole custom resource) as the API server would on create (`old` is
    /// `None`) or update: returns the pruned and defaulted object, or every field error.
    pub fn admit(&self, object: &Value, old: Option<&Value>) -> Result<Value, Vec<FieldError>> {
        let pruned = |object: &Value| {
            let mut object = object.clone();
            prune::prune_and_default(&self.schema, &mut object, true);
            object
        };
        let object = pruned(object);
        let mut errors = Vec::new();
        self.check(&self.schema, &object, "", &mut errors);
        // The API server checks list types (duplicates in sets and list maps) after the schema.
        let (mut errors, duplicates): (Vec<FieldError>, Vec<FieldError>) = errors
            .into_iter()
            .partition(|e| e.kind != FieldErrorKind::Duplicate);
        errors.extend(duplicates);
        if errors.is_empty() {
            // The rules see a null field as absent (`has()` is false), as the API server's do.
            let old = old.map(|o| without_nulls(&pruned(o)));
            errors = cel::rule_errors(&self.compiled, &without_nulls(&object), old.as_ref());
        } else if self.has_rules {
            // The rules run only on a structurally valid object; the API server says so.
            errors.push(FieldError {
                field: "<nil>".into(),
                kind: FieldErrorKind::Invalid,
                detail: "null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation".into(),
            });
        }
        if errors.is_empty() {
            Ok(object)
        } else {
            Err(errors)
        }
    }
}

/// `value` without null members of objects, at every depth.
fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}
