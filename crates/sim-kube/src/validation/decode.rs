//! Decoding a built-in object as kube-apiserver decodes it into its Go type: a value of the
//! wrong JSON type is refused as Go's `encoding/json` words it, `[]byte` fields must be base64,
//! and fields the type does not have are reported (then dropped, as the Go type has no room
//! for them).

use serde_json::Value;

use super::go_base64;
use super::go_json::value_kind;

/// The outcome of decoding: the unknown fields found (dotted paths, `[i]` for list items).
pub type Unknown = Vec<String>;

/// Checks `object` against the JSON schema `root` (a schemars schema with `$defs`) of the Go
/// type named `type_name`, removing the fields the type does not have. `Err` holds the first
/// decoding error as Go words it.
pub fn decode(root: &Value, type_name: &str, object: &mut Value) -> Result<Unknown, String> {
    let mut walk = Walk {
        root,
        unknown: Vec::new(),
    };
    let at = Place {
        go_struct: type_name.to_string(),
        fields: Vec::new(),
        shown: String::new(),
    };
    walk.value(root, object, &at)?;
    Ok(walk.unknown)
}

/// Where in the object the walk is: the Go struct whose field holds the value, the JSON names
/// of the struct fields from the root (as Go's errors name them), and the path as strict
/// decoding shows it.
#[derive(Clone)]
struct Place {
    go_struct: String,
    fields: Vec<String>,
    shown: String,
}

impl Place {
    fn field(&self, name: &str) -> Place {
        let mut fields = self.fields.clone();
        fields.push(name.to_string());
        Place {
            go_struct: self.go_struct.clone(),
            fields,
            shown: if self.shown.is_empty() {
                name.to_string()
            } else {
                format!("{}.{name}", self.shown)
            },
        }
    }

    fn item(&self, index: usize) -> Place {
        Place {
            shown: format!("{}[{index}]", self.shown),
            ..self.clone()
        }
    }
}

struct Walk<'a> {
    root: &'a Value,
    unknown: Unknown,
}

impl<'a> Walk<'a> {
    /// `schema` with its `$ref` followed, and the definition's name if it had one.
    fn resolve(&self, schema: &'a Value) -> (&'a Value, Option<&'a str>) {
        let mut s = schema;
        let mut name = None;
        for _ in 0..8 {
            let Some(r) = s.get("$ref").and_then(Value::as_str) else {
                break;
            };
            let Some(def) = r.strip_prefix("#/$defs/") else {
                break;
            };
            match self.root.pointer(&format!(
                "/$defs/{}",
                def.replace('~', "~0").replace('/', "~1")
            )) {
                Some(d) => {
                    s = d;
                    name = Some(def);
                }
                None => break,
            }
        }
        (s, name)
    }

    /// The Go type of `schema`, as Go's errors print it (`string`, `[]uint8`, `v1.ObjectMeta`).
    fn go_type(&self, schema: &'a Value) -> String {
        let (s, name) = self.resolve(schema);
        let ty = s.get("type").and_then(Value::as_str).unwrap_or("");
        let format = s.get("format").and_then(Value::as_str).unwrap_or("");
        match (ty, format) {
            ("string", "byte") => "[]uint8".into(),
            ("integer", "int32") => "int32".into(),
            ("integer", "int64") => "int64".into(),
            ("integer", _) => "int".into(),
            ("number", _) => "float64".into(),
            ("boolean", _) => "bool".into(),
            ("array", _) => format!(
                "[]{}",
                s.get("items").map(|i| self.go_type(i)).unwrap_or_default()
            ),
            ("object", _) if s.get("properties").is_none() => match s.get("additionalProperties") {
                Some(v) if v.is_object() => format!("map[string]{}", self.go_type(v)),
                _ => "map[string]interface {}".into(),
            },
            _ => match name {
                Some(n) if ty != "string" => go_named_type(n),
                _ => "string".into(),
            },
        }
    }

    fn mismatch(&self, what: String, at: &Place, schema: &'a Value) -> String {
        format!(
            "json: cannot unmarshal {what} into Go struct field {}.{} of type {}",
            at.go_struct,
            at.fields.join("."),
            self.go_type(schema)
        )
    }

    fn value(&mut self, schema: &'a Value, v: &mut Value, at: &Place) -> Result<(), String> {
        if v.is_null() {
            return Ok(());
        }
        let (s, name) = self.resolve(schema);
        if s.get("x-kubernetes-int-or-string").is_some() {
            return match v {
                Value::String(_) | Value::Number(_) => Ok(()),
                other => Err(self.mismatch(value_kind(other).into(), at, schema)),
            };
        }
        let Some(ty) = s.get("type").and_then(Value::as_str) else {
            return Ok(());
        };
        // An object without fields or map values (RawExtension, JSON, FieldsV1) holds anything.
        if ty == "object"
            && s.get("properties").is_none()
            && s.get("additionalProperties").is_none()
        {
            return Ok(());
        }
        let format = s.get("format").and_then(Value::as_str).unwrap_or("");
        match (ty, &mut *v) {
            ("string", Value::String(text)) => {
                if format == "byte" {
                    go_base64::decode_std(text)?;
                }
                Ok(())
            }
            ("integer", Value::Number(n)) => {
                let fits = match format {
                    "int32" => n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()),
                    _ => n.as_i64().is_some() || n.as_u64().is_some(),
                };
                if fits {
                    Ok(())
                } else {
                    Err(self.mismatch(format!("number {n}"), at, schema))
                }
            }
            ("number", Value::Number(_)) | ("boolean", Value::Bool(_)) => Ok(()),
            ("array", Value::Array(items)) => {
                let Some(item_schema) = s.get("items") else {
                    return Ok(());
                };
                for (i, item) in items.iter_mut().enumerate() {
                    self.value(item_schema, item, &at.item(i))?;
                }
                Ok(())
            }
            ("object", Value::Object(map)) => {
                if let Some(props) = s.get("properties").and_then(Value::as_object) {
                    let inner = Place {
                        go_struct: name
                            .map(go_struct_name)
                            .unwrap_or(&at.go_struct)
                            .to_string(),
                        ..at.clone()
                    };
                    let mut unknown = Vec::new();
                    for (k, child) in map.iter_mut() {
                        match props.get(k) {
                            Some(p) => self.value(p, child, &inner.field(k))?,
                            None => {
                                self.unknown.push(inner.field(k).shown);
                                unknown.push(k.clone());
                            }
                        }
                    }
                    for k in unknown {
                        map.remove(&k);
                    }
                } else if let Some(elem) = s.get("additionalProperties").filter(|a| a.is_object()) {
                    for child in map.values_mut() {
                        self.value(elem, child, at)?;
                    }
                }
                Ok(())
            }
            (_, other) => Err(self.mismatch(value_kind(other).into(), at, schema)),
        }
    }
}

/// The Go struct name of a definition (`io.k8s.api.core.v1.ConfigMap` → `ConfigMap`).
fn go_struct_name(def: &str) -> &str {
    def.rsplit('.').next().unwrap_or(def)
}

/// The Go type of a definition, with its package (`v1.ObjectMeta`).
fn go_named_type(def: &str) -> String {
    let mut parts = def.rsplit('.');
    let name = parts.next().unwrap_or(def);
    match parts.next() {
        Some(package) => format!("{package}.{name}"),
        None => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema<T: schemars::JsonSchema>() -> Value {
        serde_json::to_value(schemars::schema_for!(T)).unwrap()
    }

    #[test]
    fn type_mismatches_are_worded_as_go_words_them() {
        use k8s_openapi::api::core::v1::{ConfigMap, Secret};
        let cm = schema::<ConfigMap>();
        let secret = schema::<Secret>();
        for (root, kind, body, expected) in [
            (
                &cm,
                "ConfigMap",
                json!({"data": {"k": 1}}),
                "json: cannot unmarshal number into Go struct field ConfigMap.data of type string",
            ),
            (
                &cm,
                "ConfigMap",
                json!({"metadata": {"labels": 5}}),
                "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type map[string]string",
            ),
            (
                &cm,
                "ConfigMap",
                json!({"metadata": {"ownerReferences": [{"name": 5}]}}),
                "json: cannot unmarshal number into Go struct field OwnerReference.metadata.ownerReferences.name of type string",
            ),
            (
                &cm,
                "ConfigMap",
                json!({"metadata": {"generation": 1.5}}),
                "json: cannot unmarshal number 1.5 into Go struct field ObjectMeta.metadata.generation of type int64",
            ),
            (
                &cm,
                "ConfigMap",
                json!({"metadata": "x"}),
                "json: cannot unmarshal string into Go struct field ConfigMap.metadata of type v1.ObjectMeta",
            ),
            (
                &secret,
                "Secret",
                json!({"data": {"a": 5}}),
                "json: cannot unmarshal number into Go struct field Secret.data of type []uint8",
            ),
            (
                &secret,
                "Secret",
                json!({"data": {"a": "YQ"}}),
                "illegal base64 data at input byte 0",
            ),
            (
                &secret,
                "Secret",
                json!({"stringData": {"x": true}}),
                "json: cannot unmarshal bool into Go struct field Secret.stringData of type string",
            ),
        ] {
            let mut body = body;
            assert_eq!(decode(root, kind, &mut body), Err(expected.to_string()));
        }
    }

    #[test]
    fn unknown_fields_are_listed_and_dropped() {
        let cm = schema::<k8s_openapi::api::core::v1::ConfigMap>();
        let mut body = json!({"metadata": {"name": "y", "foo": 1, "ownerReferences": [{"bar": 1}]}, "x": {"y": 1}, "data": {"a": "b"}, "zz": 1});
        let unknown = decode(&cm, "ConfigMap", &mut body).unwrap();
        assert_eq!(
            unknown,
            vec!["metadata.foo", "metadata.ownerReferences[0].bar", "x", "zz"]
        );
        assert_eq!(
            body,
            json!({"metadata": {"name": "y", "ownerReferences": [{}]}, "data": {"a": "b"}})
        );
    }
}
