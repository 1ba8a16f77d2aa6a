//! The protocol document: well-formed OpenAPI 3.1, every reference resolving, and the same
//! routes as the simulator serves (by its route table and by how it answers each route).

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::Value;

use super::*;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

/// The document, parsed.
fn document() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/protocol/delivery-v1.openapi.yaml"
    );
    let text = std::fs::read_to_string(path).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

/// `(METHOD, path)` of every operation of the document.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (key, _) in item.as_object().unwrap() {
            if METHODS.contains(&key.as_str()) {
                ops.insert((key.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

/// Every `$ref` (and discriminator mapping) under `v`, with where it was found.
fn references(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let here = format!("{at}/{k}");
                if k == "$ref" {
                    out.push((here.clone(), child.as_str().unwrap().to_string()));
                } else if k == "mapping" {
                    for (name, target) in child.as_object().unwrap() {
                        out.push((
                            format!("{here}/{name}"),
                            target.as_str().unwrap().to_string(),
                        ));
                    }
                    continue;
                }
                references(child, &here, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                references(child, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn the_document_is_well_formed_and_every_reference_resolves() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["version"], "1.0.0");
    assert!(doc["info"]["title"].is_string());
    let mut refs = vec![];
    references(&doc, "", &mut refs);
    assert!(refs.len() > 40, "{} references", refs.len());
    for (at, target) in &refs {
        let pointer = target
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{at}: {target} is not local"));
        assert!(
            doc.pointer(pointer).is_some(),
            "{at}: {target} does not exist"
        );
    }
    // Every schema defined is used.
    let used: BTreeSet<&str> = refs.iter().map(|(_, t)| t.as_str()).collect();
    for name in doc["components"]["schemas"].as_object().unwrap().keys() {
        let target = format!("#/components/schemas/{name}");
        assert!(used.contains(target.as_str()), "{name} is never used");
    }
    for (path, item) in doc["paths"].as_object().unwrap() {
        assert!(path.starts_with("/v1/"), "{path} is not versioned");
        for (method, op) in item.as_object().unwrap() {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            assert!(op["operationId"].is_string(), "{method} {path}");
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.contains_key("200"), "{method} {path}");
            for (status, _) in responses {
                let problem = !status.starts_with('2');
                if problem && status != "5XX" {
                    assert!(status.parse::<u16>().is_ok(), "{method} {path}: {status}");
                }
            }
        }
        // Each `{parameter}` of the path is declared as a path parameter.
        for segment in path.split('/').filter(|s| s.starts_with('{')) {
            let name = segment.trim_matches(|c| c == '{' || c == '}');
            let declared = item["parameters"].as_array().unwrap().iter().any(|p| {
                let p = doc
                    .pointer(p["$ref"].as_str().unwrap().trim_start_matches('#'))
                    .unwrap();
                p["in"] == "path" && p["name"] == name && p["required"] == true
            });
            assert!(declared, "{path}: {name}");
        }
    }
}

#[test]
fn the_simulator_routes_are_the_documents() {
    let documented = operations(&document());
    let served: BTreeSet<(String, String)> = exo_sim_service::api::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, served);
}

#[tokio::test]
async fn the_simulator_answers_every_documented_route_and_only_those() {
    let h = start().await;
    let documented = operations(&document());
    for (path, _) in documented
        .iter()
        .map(|(m, p)| (p.clone(), m.clone()))
        .collect::<BTreeSet<_>>()
    {
        let concrete = path.replace("{tenantId}", CONTOSO);
        for method in ["GET", "PUT", "POST", "DELETE", "PATCH"] {
            let unsigned = h
                .http
                .request(
                    Method::from_bytes(method.as_bytes()).unwrap(),
                    h.url(&concrete),
                )
                .send()
                .await
                .unwrap()
                .status()
                .as_u16();
            let expected = if !documented.contains(&(method.to_string(), path.clone())) {
                405
            } else if path == "/v1/health" {
                200
            } else {
                401
            };
            assert_eq!(unsigned, expected, "{method} {path}");
        }
    }
}
