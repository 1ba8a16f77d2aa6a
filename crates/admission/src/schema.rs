//! Reading a structural schema: its keywords, the schema of an object's fields, and field
//! paths as the API server prints them.

use serde_json::{Map, Value};

/// A boolean keyword of `schema` (`nullable`, `x-kubernetes-preserve-unknown-fields`, ...),
/// false when absent.
pub(crate) fn flag(schema: &Value, name: &str) -> bool {
    schema.get(name).and_then(Value::as_bool).unwrap_or(false)
}

/// The `type` of `schema`, empty when it has none.
pub(crate) fn type_of(schema: &Value) -> &str {
    schema.get("type").and_then(Value::as_str).unwrap_or("")
}

/// How an object schema treats the fields of a value.
pub(crate) struct ObjectSchema<'a> {
    properties: Option<&'a Map<String, Value>>,
    additional: Option<&'a Value>,
    /// `x-kubernetes-preserve-unknown-fields`: fields without a schema are kept.
    pub(crate) preserve_unknown: bool,
}

impl<'a> ObjectSchema<'a> {
    /// The object part of `schema`.
    pub(crate) fn of(schema: &'a Value) -> Self {
        Self {
            properties: schema.get("properties").and_then(Value::as_object),
            additional: schema.get("additionalProperties").filter(|a| a.is_object()),
            preserve_unknown: flag(schema, "x-kubernetes-preserve-unknown-fields"),
        }
    }

    /// The declared properties, if any.
    pub(crate) fn properties(&self) -> Option<&'a Map<String, Value>> {
        self.properties
    }

    /// `additionalProperties`, when it is a schema.
    pub(crate) fn additional(&self) -> Option<&'a Value> {
        self.additional
    }

    /// The schema of field `name`: its property, or else `additionalProperties`.
    pub(crate) fn field(&self, name: &str) -> Option<&'a Value> {
        self.properties
            .and_then(|p| p.get(name))
            .or(self.additional)
    }
}

/// Fields of a resource's root that the API server handles itself, not the CRD schema.
pub(crate) fn is_server_field(root: bool, name: &str) -> bool {
    root && matches!(name, "metadata" | "apiVersion" | "kind")
}

/// The path of field `name` of the object at `path`.
pub(crate) fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// `path` as error messages print it (`<root>` for the object itself).
pub(crate) fn display_path(path: &str) -> String {
    if path.is_empty() {
        "<root>".into()
    } else {
        path.to_string()
    }
}
