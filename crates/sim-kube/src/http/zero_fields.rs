//! The fields Go always writes: kube-apiserver encodes objects from Go structs, so the fields
//! without `omitempty` appear even when empty (an Event's `source: {}`, a Namespace's
//! `spec: {}`), in every object served and in the empty object of a watch BOOKMARK.

use serde_json::{Value, json};

use crate::types::ResourceType;

/// `object` (of type `rt`, in its served shape) with the fields Go always writes added where
/// absent.
pub fn with_zero_fields(rt: &ResourceType, mut object: Value) -> Value {
    if let (Value::Object(zero), Some(m)) = (empty_object(rt), object.as_object_mut()) {
        for (k, v) in zero {
            m.entry(k).or_insert(v);
        }
    }
    object
}

/// The empty object of `rt` (without apiVersion, kind and metadata).
pub fn empty_object(rt: &ResourceType) -> Value {
    let names = json!({"plural": "", "kind": ""});
    match (rt.group.as_str(), rt.plural.as_str()) {
        ("", "namespaces") => json!({"spec": {}, "status": {}}),
        ("", "events") => json!({
            "involvedObject": {}, "source": {}, "firstTimestamp": null, "lastTimestamp": null,
            "eventTime": null, "reportingComponent": "", "reportingInstance": "",
        }),
        ("events.k8s.io", "events") => json!({
            "eventTime": null, "regarding": {}, "deprecatedSource": {},
            "deprecatedFirstTimestamp": null, "deprecatedLastTimestamp": null,
        }),
        ("coordination.k8s.io", "leases") => json!({"spec": {}}),
        ("apiextensions.k8s.io", "customresourcedefinitions") => json!({
            "spec": {"group": "", "names": names, "scope": "", "versions": null},
            "status": {"conditions": null, "acceptedNames": names, "storedVersions": null},
        }),
        _ => json!({}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn served_objects_gain_the_fields_go_always_writes_and_keep_their_own() {
        let builtin = |group: &str, plural: &str| {
            ResourceType::builtins()
                .into_iter()
                .find(|t| t.group == group && t.plural == plural)
                .unwrap()
        };
        let ns = with_zero_fields(
            &builtin("", "namespaces"),
            json!({"spec": {"finalizers": ["kubernetes"]}}),
        );
        assert_eq!(
            ns,
            json!({"spec": {"finalizers": ["kubernetes"]}, "status": {}})
        );
        let ev = with_zero_fields(
            &builtin("", "events"),
            json!({"reason": "R", "reportingComponent": "exo"}),
        );
        assert_eq!(ev["source"], json!({}));
        assert_eq!(ev["reportingComponent"], "exo");
        assert_eq!(ev["reportingInstance"], "");
        let cm = with_zero_fields(&builtin("", "configmaps"), json!({"data": {}}));
        assert_eq!(cm, json!({"data": {}}));
    }

    #[test]
    fn bookmarks_carry_the_fields_go_always_writes() {
        for (group, plural, keys) in [
            ("", "secrets", vec![]),
            ("", "namespaces", vec!["spec", "status"]),
            ("coordination.k8s.io", "leases", vec!["spec"]),
            (
                "events.k8s.io",
                "events",
                vec![
                    "deprecatedFirstTimestamp",
                    "deprecatedLastTimestamp",
                    "deprecatedSource",
                    "eventTime",
                    "regarding",
                ],
            ),
        ] {
            let rt = ResourceType::builtins()
                .into_iter()
                .find(|t| t.group == group && t.plural == plural)
                .unwrap();
            let empty = empty_object(&rt);
            let got: Vec<&String> = empty.as_object().unwrap().keys().collect();
            assert_eq!(got, keys, "{plural}");
        }
    }
}
