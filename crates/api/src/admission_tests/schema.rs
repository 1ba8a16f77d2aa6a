//! Properties of the generated schemas as a whole, and the admission table shared with the
//! real API server.

use serde_json::Value;

use super::{Cess, Esa, Ess, Stl, rejected, render};

/// The `openAPIV3Schema` of every CRD, by kind.
fn schemas() -> Vec<(String, Value)> {
    crate::crds()
        .into_iter()
        .map(|crd| {
            let schema = &crd.spec.versions[0]
                .schema
                .as_ref()
                .unwrap()
                .open_api_v3_schema;
            (crd.spec.names.kind, serde_json::to_value(schema).unwrap())
        })
        .collect()
}

/// A schema met on a walk: its path, the schema, and whether it is an object's property (as
/// opposed to the root or a list's items).
struct Node<'a> {
    path: &'a str,
    schema: &'a Value,
    is_property: bool,
}

/// Calls `visit` on `schema` and on every schema below it: properties as `path.name`, list
/// items as `path[]`.
fn walk(schema: &Value, path: &str, is_property: bool, visit: &mut dyn FnMut(Node)) {
    visit(Node {
        path,
        schema,
        is_property,
    });
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, child) in props {
            walk(child, &format!("{path}.{name}"), true, visit);
        }
    }
    if let Some(items) = schema.get("items") {
        walk(items, &format!("{path}[]"), false, visit);
    }
}

#[test]
fn every_spec_string_and_list_is_bounded() {
    for (kind, schema) in schemas() {
        let mut unbounded = Vec::new();
        walk(&schema["properties"]["spec"], "spec", false, &mut |node| {
            let has = |keyword: &str| node.schema.get(keyword).is_some();
            let bounded = match node.schema.get("type").and_then(Value::as_str) {
                Some("string") => has("maxLength") || has("enum"),
                Some("array") => has("maxItems"),
                _ => true,
            };
            if !bounded {
                unbounded.push(node.path.to_string());
            }
        });
        assert!(unbounded.is_empty(), "{kind}: unbounded {unbounded:?}");
    }
}

#[test]
fn every_schema_property_has_a_description() {
    for (kind, schema) in schemas() {
        let mut undocumented = Vec::new();
        walk(&schema, "", false, &mut |node| {
            let name = node.path.rsplit('.').next().unwrap_or_default();
            if node.is_property
                && node.schema.get("description").is_none()
                && !matches!(name, "apiVersion" | "kind" | "metadata")
            {
                undocumented.push(node.path.to_string());
            }
        });
        assert!(
            undocumented.is_empty(),
            "{kind}: undocumented {undocumented:?}"
        );
    }
}

/// The table that `tests/admission.rs` also puts to the real API server and to
/// `exo-operator validate` (three judges, one table): the validator agrees with every case.
#[test]
fn the_shared_admission_table_agrees_with_the_validator() {
    let table: Vec<Value> =
        serde_json::from_str(include_str!("../../../../tests/admission/cases.json")).unwrap();
    assert!(table.len() > 100);
    let (esa, stl) = (Esa.validator(), Stl.validator());
    let (ess, cess) = (Ess.validator(), Cess.validator());
    for case in &table {
        let object = &case["object"];
        let validator = match object["kind"].as_str() {
            Some("ExchangeServiceAccount") => &esa,
            Some("SyncTargetList") => &stl,
            Some("EmailSecurityService") => &ess,
            Some("ClusterEmailSecurityService") => &cess,
            other => panic!("{}: kind {other:?}", case["case"]),
        };
        let verdict = validator.admit(object, case.get("old"));
        match case["field"].as_str() {
            None => assert!(
                verdict.is_ok(),
                "{}: {}",
                case["case"],
                render(&verdict.unwrap_err())
            ),
            Some(field) => {
                rejected(verdict, field);
            }
        }
    }
}

#[test]
fn descriptions_are_not_wrapped_mid_sentence() {
    for crd in crate::crds() {
        let text = serde_json::to_string(&crd).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        let mut wrapped = Vec::new();
        find_wrapped(&value, &mut wrapped);
        assert!(wrapped.is_empty(), "{}: {wrapped:?}", crd.spec.names.kind);
    }
    assert_eq!(
        crate::unwrap_paragraphs("One sentence\nwrapped.\n\nA paragraph:\n- item\n- item"),
        "One sentence wrapped.\n\nA paragraph:\n- item\n- item"
    );
}

fn find_wrapped(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match v {
                    Value::String(text) if key == "description" => {
                        let lines: Vec<&str> = text.lines().collect();
                        let mid_sentence = lines.windows(2).any(|w| {
                            !w[0].trim().is_empty()
                                && !w[1].trim().is_empty()
                                && !w[1].starts_with("- ")
                        });
                        if mid_sentence {
                            out.push(text.clone());
                        }
                    }
                    _ => find_wrapped(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| find_wrapped(v, out)),
        _ => {}
    }
}
