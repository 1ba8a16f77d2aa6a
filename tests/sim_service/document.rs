//! The protocol document: well-formed OpenAPI 3.1, every reference resolving, and the same
//! routes as the simulator serves (by its route table and by how it answers each route); the
//! same delivery types in the schema, the README's stream table and the simulator; the
//! clientState derivation the same in the README and the schema.

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
        // The notification URL is Graph's to call and the service's to name: not under /v1.
        assert!(
            path.starts_with("/v1/") || path == exo_sim_service::api::NOTIFICATION_PATH,
            "{path} is not versioned"
        );
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
            } else if path == exo_sim_service::api::NOTIFICATION_PATH {
                // Unsigned; without a body it is no batch.
                400
            } else {
                401
            };
            assert_eq!(unsigned, expected, "{method} {path}");
        }
    }
}

/// The README beside the document.
fn readme() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/protocol/README.md");
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn the_delivery_types_are_the_same_in_the_schema_the_readme_and_the_simulator() {
    let doc = document();
    let delivery = &doc["components"]["schemas"]["Delivery"];
    let mapping: BTreeSet<String> = delivery["discriminator"]["mapping"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let one_of: BTreeSet<String> = delivery["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["$ref"].as_str().unwrap().to_string())
        .collect();
    let targets: BTreeSet<String> = delivery["discriminator"]["mapping"]
        .as_object()
        .unwrap()
        .values()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    assert_eq!(one_of, targets);
    // Each schema's `type` is the constant it is mapped from.
    for (name, target) in delivery["discriminator"]["mapping"].as_object().unwrap() {
        let schema = doc
            .pointer(target.as_str().unwrap().trim_start_matches('#'))
            .unwrap();
        assert_eq!(schema["properties"]["type"]["const"], *name, "{target}");
        let required = schema["required"].as_array().unwrap();
        assert!(required.contains(&"sequence".into()) && required.contains(&"type".into()));
    }
    let simulator: BTreeSet<String> = exo_sim_service::protocol::TYPES
        .iter()
        .map(|t| t.to_string())
        .collect();
    assert_eq!(mapping, simulator);
    // The README's stream table: a row per type, first column.
    let readme = readme();
    let table: BTreeSet<String> = readme
        .split("## The stream")
        .nth(1)
        .unwrap()
        .lines()
        .skip_while(|l| !l.starts_with("| `type`"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.split('`').nth(1).unwrap().to_string())
        .collect();
    assert_eq!(table, simulator);
}

#[tokio::test]
async fn the_simulator_takes_the_catch_up_reasons_of_the_document_and_only_those() {
    let doc = document();
    let schema = &doc["components"]["schemas"]["MailboxCatchUp"];
    let required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(required, ["sequence", "type", "userIds", "since", "reason"]);
    assert_eq!(schema["properties"]["userIds"]["maxItems"], 1000);
    assert_eq!(schema["properties"]["userIds"]["minItems"], 1);
    let h = start().await;
    h.register(CONTOSO, &[]).await;
    let mut sequence = 0;
    let reasons = schema["properties"]["reason"]["enum"].as_array().unwrap();
    assert_eq!(reasons.len(), 4);
    for reason in reasons.iter().chain([&Value::from("Unknown")]) {
        let delivery = serde_json::json!({"sequence": sequence + 1, "type": "mailboxCatchUp",
            "userIds": ["7d3e9f4a-1b2c-4d5e-8f6a-0b1c2d3e4f5a"], "since": "2025-01-01T00:00:00Z",
            "reason": reason});
        let a = h.deliver(CONTOSO, delivery).await;
        if reason == "Unknown" {
            assert_problem(&a, 400, "malformed");
        } else {
            assert_eq!(a.status, 200, "{reason}: {}", a.body);
            sequence += 1;
        }
    }
}

#[test]
fn the_client_state_derivation_is_the_same_in_the_readme_and_the_schema() {
    let formula = "clientState = base64url without padding of HMAC-SHA256(key, \"exo-graph-client-state.v1.\" + tenantId in lowercase)";
    let readme = readme();
    assert!(readme.contains(formula), "the README states: {formula}");
    assert!(readme.contains("## Graph change notifications"));
    let doc = document();
    let schema = &doc["components"]["schemas"]["ClientState"];
    assert_eq!(schema["pattern"], "^[A-Za-z0-9_-]{43}$");
    let description = schema["description"].as_str().unwrap().replace('\n', " ");
    assert!(
        description.contains(
            "base64url without padding of HMAC-SHA256(key, \"exo-graph-client-state.v1.\" + tenantId in lowercase)"
        ),
        "{description}"
    );
    // The notification URL is unsigned, and answers the handshake in plain text.
    let op = &doc["paths"][exo_sim_service::api::NOTIFICATION_PATH]["post"];
    assert_eq!(op["security"], serde_json::json!([{}]));
    assert!(op["responses"]["200"]["content"]["text/plain"].is_object());
    assert!(op["responses"]["202"].is_object());
}
