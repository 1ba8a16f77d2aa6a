//! The Swagger 2.0 document of the served types, converted from the OpenAPI v3 document the
//! emulator serves per group-version (the same schemas, with their
//! `x-kubernetes-group-version-kind`): components become `definitions`, request bodies
//! `body` parameters, typed parameters plain ones, response contents response schemas.

use serde_json::{Map, Value, json};

/// The Swagger 2.0 document of the OpenAPI v3 document `v3`.
pub fn swagger(v3: &Value) -> Value {
    let mut definitions = Map::new();
    for (name, schema) in v3
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let mut schema = retarget_refs(schema);
        if is_custom(&schema) {
            as_v2_of_a_crd(&mut schema);
        }
        definitions.insert(name.clone(), schema);
    }
    let mut paths = Map::new();
    for (path, item) in v3
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let mut out = Map::new();
        for (method, op) in item.as_object().into_iter().flatten() {
            out.insert(method.clone(), operation(method, op));
        }
        paths.insert(path.clone(), Value::Object(out));
    }
    json!({
        "swagger": "2.0",
        "info": v3.get("info").cloned().unwrap_or(json!({"title": "Kubernetes"})),
        "paths": paths,
        "definitions": definitions,
    })
}

/// One operation: its parameters in Swagger's form (a `body` parameter for writes), its 200
/// answer's schema, its extensions.
fn operation(method: &str, op: &Value) -> Value {
    let mut out = Map::new();
    for (key, v) in op.as_object().into_iter().flatten() {
        if key.starts_with("x-") || key == "operationId" || key == "description" {
            out.insert(key.clone(), v.clone());
        }
    }
    let answer = op
        .pointer("/responses/200/content/application~1json/schema")
        .map(retarget_refs);
    let mut parameters: Vec<Value> = op
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| {
            let mut p = p.clone();
            if let Some(Value::Object(schema)) = p.as_object_mut().and_then(|m| m.remove("schema"))
            {
                for (k, v) in schema {
                    p[k] = v;
                }
            }
            p
        })
        .collect();
    if matches!(method, "post" | "put" | "patch") {
        let schema = if method == "patch" {
            json!({"type": "object"})
        } else {
            answer.clone().unwrap_or(json!({"type": "object"}))
        };
        parameters.insert(
            0,
            json!({"name": "body", "in": "body", "required": true, "schema": schema}),
        );
    }
    out.insert("parameters".into(), Value::Array(parameters));
    let mut ok = json!({"description": "OK"});
    if let Some(schema) = answer {
        ok["schema"] = schema;
    }
    out.insert("responses".into(), json!({"200": ok}));
    out.insert("consumes".into(), json!(["application/json"]));
    out.insert(
        "produces".into(),
        json!(["application/json", "application/yaml"]),
    );
    Value::Object(out)
}

/// The API groups of the built-in kinds the emulator serves.
const BUILT_IN_GROUPS: [&str; 4] = [
    "",
    "coordination.k8s.io",
    "events.k8s.io",
    "apiextensions.k8s.io",
];

/// Whether `schema` is a custom kind's (its group-version-kind names no built-in group).
fn is_custom(schema: &Value) -> bool {
    schema
        .get("x-kubernetes-group-version-kind")
        .and_then(Value::as_array)
        .and_then(|g| g.first())
        .and_then(|g| g.get("group"))
        .and_then(Value::as_str)
        .is_some_and(|g| !BUILT_IN_GROUPS.contains(&g))
}

/// A CRD's schema as kube-apiserver publishes it in OpenAPI v2, which cannot say `nullable`
/// and does not carry defaults: defaults dropped, nullable fields left without a type.
fn as_v2_of_a_crd(schema: &mut Value) {
    let Some(m) = schema.as_object_mut() else {
        return;
    };
    m.remove("default");
    if m.remove("nullable") == Some(Value::Bool(true)) {
        m.remove("type");
    }
    // Only subschemas are schemas: the keys of `properties` are field names.
    for (key, sub) in m.iter_mut() {
        match (key.as_str(), sub) {
            ("properties" | "patternProperties", Value::Object(fields)) => {
                fields.values_mut().for_each(as_v2_of_a_crd)
            }
            ("items" | "additionalProperties" | "not", sub) => as_v2_of_a_crd(sub),
            ("allOf" | "anyOf" | "oneOf", Value::Array(subs)) => {
                subs.iter_mut().for_each(as_v2_of_a_crd)
            }
            _ => {}
        }
    }
}

/// `schema` with its `#/components/schemas/` references pointed at `#/definitions/`.
fn retarget_refs(schema: &Value) -> Value {
    match schema {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("$ref", Value::String(r)) => {
                            json!(r.replace("#/components/schemas/", "#/definitions/"))
                        }
                        _ => retarget_refs(v),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(retarget_refs).collect()),
        other => other.clone(),
    }
}
