//! The codec against bodies captured from real kubectl and kube-apiserver, and round trips of
//! every kind it knows.

use serde_json::{Value, json};

use super::captured;
use super::{DecodeError, decode, encode, is_protobuf};

/// Decodes `bytes`, checks that encoding the JSON gives the same bytes back (the codec writes
/// what Go writes), and returns the JSON.
fn decode_exactly(bytes: &[u8]) -> Value {
    let value = decode(bytes).unwrap();
    assert_eq!(
        encode(&value).as_deref(),
        Some(bytes),
        "re-encoding {value:#}"
    );
    value
}

#[test]
fn kubectl_create_namespace_decodes_to_its_json() {
    let ns = decode_exactly(captured::NAMESPACE);
    assert_eq!(
        ns,
        json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "demo-cap2"}, "spec": {}, "status": {}})
    );
}

#[test]
fn kubectl_create_secret_generic_decodes_data_as_base64() {
    let secret = decode_exactly(captured::SECRET);
    assert_eq!(
        secret,
        json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "namespace": "proto-cap"},
            "data": {"a": "Yg==", "password": "cEBzcyB3MHJk"}})
    );
}

#[test]
fn kubectl_create_configmap_keeps_empty_values() {
    let cm = decode_exactly(captured::CONFIG_MAP);
    assert_eq!(
        cm,
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "proto-cap"},
            "data": {"a": "b", "empty": ""}})
    );
}

#[test]
fn kubectl_create_secret_docker_registry_decodes_type_and_data() {
    let secret = decode_exactly(captured::DOCKER_SECRET);
    assert_eq!(secret["type"], "kubernetes.io/dockerconfigjson");
    let config = secret["data"][".dockerconfigjson"].as_str().unwrap();
    use base64::Engine;
    let config = base64::engine::general_purpose::STANDARD
        .decode(config)
        .unwrap();
    let config: Value = serde_json::from_slice(&config).unwrap();
    assert_eq!(config["auths"]["r.example"]["username"], "u");
}

#[test]
fn a_served_config_map_decodes_times_and_managed_fields() {
    let cm = decode_exactly(captured::SERVED_CONFIG_MAP);
    let meta = &cm["metadata"];
    assert_eq!(meta["resourceVersion"], "449");
    assert_eq!(meta["creationTimestamp"], "2026-12-02T08:36:19Z");
    assert_eq!(
        meta["managedFields"][0],
        json!({"manager": "kubectl-create", "operation": "Update", "apiVersion": "v1",
            "time": "2026-12-02T08:36:19Z", "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {".": {}, "f:a": {}, "f:empty": {}}}})
    );
}

#[test]
fn a_served_status_decodes_and_the_emulator_writes_the_same_bytes() {
    let status = decode_exactly(captured::SERVED_NOT_FOUND);
    assert_eq!(
        status,
        json!({"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Failure",
            "message": "configmaps \"nope\" not found", "reason": "NotFound",
            "details": {"name": "nope", "kind": "configmaps"}, "code": 404})
    );
}

#[test]
fn every_known_kind_round_trips_through_json() {
    let meta = json!({"name": "x", "namespace": "ns", "uid": "u-1", "resourceVersion": "7",
        "generation": 2, "creationTimestamp": "2026-01-02T03:04:05Z",
        "deletionTimestamp": "2026-01-02T03:04:06Z", "deletionGracePeriodSeconds": 0,
        "labels": {"a": "1", "b": ""}, "annotations": {"note": "n"},
        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": "u-0",
            "controller": true, "blockOwnerDeletion": false}],
        "finalizers": ["kubernetes"]});
    let objects = [
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": meta,
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Terminating", "conditions": [{"type": "NamespaceDeletionContentFailure",
                "status": "False", "lastTransitionTime": "2026-01-02T03:04:05Z", "reason": "R", "message": "m"}]}}),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque",
            "immutable": false, "data": {"k": "AAEC/w=="}, "stringData": {"s": "t"}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "immutable": true,
            "data": {"k": "v"}, "binaryData": {"b": "AP8="}}),
        json!({"apiVersion": "v1", "kind": "Event", "metadata": meta,
            "involvedObject": {"kind": "ConfigMap", "namespace": "ns", "name": "o", "uid": "u-0",
                "apiVersion": "v1", "resourceVersion": "3", "fieldPath": "data"},
            "reason": "Ready", "message": "ok", "source": {"component": "c", "host": "h"},
            "firstTimestamp": "2026-01-02T03:04:05Z", "lastTimestamp": "2026-01-02T03:04:07Z",
            "count": 3, "type": "Normal", "eventTime": "2026-01-02T03:04:05.123456Z",
            "series": {"count": 2, "lastObservedTime": "2026-01-02T03:04:07.000001Z"},
            "action": "Sync", "related": {"kind": "Secret", "name": "s"},
            "reportingComponent": "exo", "reportingInstance": "exo-1"}),
        json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": meta,
            "eventTime": "2026-01-02T03:04:05.123456Z", "reportingController": "exo",
            "reportingInstance": "exo-1", "action": "Sync", "reason": "Ready",
            "regarding": {"kind": "ConfigMap", "name": "o"}, "note": "ok", "type": "Warning",
            "deprecatedSource": {}, "deprecatedCount": -1}),
        json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
            "spec": {"holderIdentity": "me", "leaseDurationSeconds": 15,
                "acquireTime": "2026-01-02T03:04:05.000000Z", "renewTime": "2026-01-02T03:04:05.500000Z",
                "leaseTransitions": 0, "strategy": "OldestEmulationVersion", "preferredHolder": ""}}),
        json!({"apiVersion": "v1", "kind": "ConfigMapList",
            "metadata": {"resourceVersion": "9", "continue": "c", "remainingItemCount": 0},
            "items": [{"metadata": {"name": "a"}, "data": {"k": "v"}}, {"metadata": {"name": "b"}}]}),
        json!({"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Failure",
            "message": "m", "reason": "Invalid", "code": 422,
            "details": {"name": "x", "kind": "ConfigMap", "retryAfterSeconds": 1,
                "causes": [{"reason": "FieldValueInvalid", "message": "bad", "field": "data"}]}}),
        json!({"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
            "preconditions": {"uid": "u", "resourceVersion": "1"}, "propagationPolicy": "Foreground",
            "dryRun": ["All"]}),
    ];
    for object in objects {
        let bytes = encode(&object).unwrap_or_else(|| panic!("encoding {object:#}"));
        assert_eq!(decode(&bytes).unwrap(), object);
    }
}

#[test]
fn custom_resources_have_no_protobuf_form() {
    let body = super::envelope::seal("exo-operator.io/v1alpha1", "SyncTargetList", &[]);
    assert_eq!(
        decode(&body),
        Err(DecodeError::UnknownKind {
            api_version: "exo-operator.io/v1alpha1".into(),
            kind: "SyncTargetList".into()
        })
    );
    assert_eq!(
        encode(&json!({"apiVersion": "exo-operator.io/v1alpha1", "kind": "SyncTargetList"})),
        None
    );
}

#[test]
fn malformed_bodies_are_errors_not_panics() {
    assert!(matches!(decode(b"{}"), Err(DecodeError::Malformed(_))));
    let mut truncated = captured::SECRET.to_vec();
    truncated.truncate(truncated.len() - 12);
    assert!(matches!(decode(&truncated), Err(DecodeError::Malformed(_))));
    // A string field holding a varint.
    let body = super::envelope::seal("v1", "ConfigMap", &[0x0a, 0x02, 0x08, 0x01]);
    assert!(matches!(decode(&body), Err(DecodeError::Malformed(_))));
}

#[test]
fn the_media_type_is_recognized_with_parameters() {
    assert!(is_protobuf("application/vnd.kubernetes.protobuf"));
    assert!(is_protobuf(
        "application/vnd.kubernetes.protobuf; charset=binary"
    ));
    assert!(is_protobuf("Application/Vnd.Kubernetes.Protobuf"));
    assert!(!is_protobuf("application/json"));
    assert!(!is_protobuf(""));
}
