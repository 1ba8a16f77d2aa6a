//! The empty object of a type, as a watch BOOKMARK carries it: kube-apiserver encodes the Go
//! zero value, so the fields without `omitempty` appear empty.

use serde_json::{Value, json};

use crate::types::ResourceType;

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
