//! The Swagger document of the built-in types, and its protobuf form against
//! kube-apiserver's.

use serde_json::{Value, json};

use super::{Format, captured, gnostic, negotiate, swagger};
use crate::protobuf::wire::{Reader, WireValue};
use crate::types::ResourceType;

/// The length-delimited values of field `number` in `message`.
fn field(message: &[u8], number: u32) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut r = Reader::new(message);
    while let Some((n, v)) = r.next_field().unwrap() {
        if let (true, WireValue::Bytes(b)) = (n == number, v) {
            out.push(b);
        }
    }
    out
}

#[test]
fn clients_get_the_format_they_ask_for_first() {
    assert_eq!(
        negotiate("application/com.github.proto-openapi.spec.v2@v1.0+protobuf"),
        Some(Format::Protobuf)
    );
    assert_eq!(
        negotiate("application/com.github.proto-openapi.spec.v2.v1.0+protobuf, application/json"),
        Some(Format::Protobuf)
    );
    assert_eq!(negotiate("application/json, */*"), Some(Format::Json));
    assert_eq!(negotiate(""), Some(Format::Json));
    assert_eq!(negotiate("text/html"), None);
}

#[test]
fn the_swagger_document_defines_every_served_kind_with_its_group_version_kind() {
    let doc = swagger(&ResourceType::builtins());
    assert_eq!(doc["swagger"], "2.0");
    let defs = doc["definitions"].as_object().unwrap();
    for (group, version, kind) in [
        ("", "v1", "Namespace"),
        ("", "v1", "Secret"),
        ("", "v1", "ConfigMap"),
        ("", "v1", "Event"),
        ("coordination.k8s.io", "v1", "Lease"),
        ("events.k8s.io", "v1", "Event"),
        ("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
    ] {
        let gvk = json!([{"group": group, "version": version, "kind": kind}]);
        assert!(
            defs.values()
                .any(|d| d["x-kubernetes-group-version-kind"] == gvk),
            "{gvk}"
        );
    }
    let text = doc.to_string();
    assert!(!text.contains("#/components/"), "references are retargeted");
    // kubectl looks for the fieldValidation parameter on the PATCH of a kind.
    let patch = &doc["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]["patch"];
    let params = patch["parameters"].as_array().unwrap();
    assert!(
        params
            .iter()
            .any(|p| p["name"] == "fieldValidation" && p["in"] == "query" && p["type"] == "string")
    );
    assert!(params.iter().any(|p| p["in"] == "body"));
}

#[test]
fn a_definition_is_written_byte_for_byte_as_kube_apiserver_writes_it() {
    let definition: Value = serde_json::from_str(captured::KEY_TO_PATH_JSON).unwrap();
    let doc = json!({"definitions": {"io.k8s.api.core.v1.KeyToPath": definition}});
    let bytes = gnostic::document(&doc);
    let definitions = field(&bytes, 9);
    let entry = field(definitions[0], 1)[0];
    let hex: String = entry.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, captured::KEY_TO_PATH_PROTOBUF_HEX);
}

#[test]
fn the_protobuf_document_carries_definitions_paths_and_extensions() {
    let doc = swagger(&ResourceType::builtins());
    let bytes = gnostic::document(&doc);
    assert_eq!(field(&bytes, 1), vec![b"2.0".as_slice()]);
    let definitions = field(&bytes, 9)[0];
    let config_map = field(definitions, 1)
        .into_iter()
        .find(|named| field(named, 1)[0].ends_with(b".ConfigMap"))
        .expect("a ConfigMap definition");
    let schema = field(config_map, 2)[0];
    let extension = field(schema, 31)[0];
    assert_eq!(field(extension, 1)[0], b"x-kubernetes-group-version-kind");
    let yaml = field(field(extension, 2)[0], 2)[0];
    let gvk: Value = serde_json::from_slice(yaml).unwrap();
    assert_eq!(
        gvk,
        json!([{"group": "", "kind": "ConfigMap", "version": "v1"}])
    );
    let paths = field(&bytes, 8)[0];
    assert!(field(paths, 2).len() >= 2 * 7, "two paths per served type");
}

#[test]
fn a_crd_schema_in_v2_has_no_defaults_and_no_nullable() {
    let v3 = serde_json::json!({"components": {"schemas": {"io.example.v1.W": {
        "x-kubernetes-group-version-kind": [{"group": "example.io", "kind": "W", "version": "v1"}],
        "type": "object",
        "properties": {"default": {"type": "integer", "default": 1}, "note": {"type": "string", "nullable": true}}
    }}}, "paths": {}});
    let v2 = super::from_v3::swagger(&v3);
    let w = &v2["definitions"]["io.example.v1.W"];
    assert_eq!(
        w["properties"]["default"],
        serde_json::json!({"type": "integer"})
    );
    assert_eq!(w["properties"]["note"], serde_json::json!({}));
}
