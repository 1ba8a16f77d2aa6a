//! Events are stored once, in the core `v1` shape, and served through both `v1` and
//! `events.k8s.io/v1`, converting field names as the API server does.

use serde_json::{Map, Value};

/// `(events.k8s.io name, core name)` of the renamed fields.
const RENAMES: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

fn rename(value: &Value, api_version: &str, to_core: bool) -> Value {
    let Some(obj) = value.as_object() else {
        return value.clone();
    };
    let mut out = Map::new();
    for (k, v) in obj {
        let key = RENAMES
            .iter()
            .find(|(new, old)| if to_core { new == k } else { old == k })
            .map(|(new, old)| if to_core { *old } else { *new })
            .unwrap_or(k.as_str());
        out.insert(key.to_string(), v.clone());
    }
    out.insert("apiVersion".into(), Value::String(api_version.into()));
    out.insert("kind".into(), Value::String("Event".into()));
    Value::Object(out)
}

/// An `events.k8s.io/v1` Event in the stored (core) shape.
pub fn to_core(event: &Value) -> Value {
    rename(event, "v1", true)
}

/// A stored Event in the `events.k8s.io/v1` shape.
pub fn to_events_v1(core: &Value) -> Value {
    rename(core, "events.k8s.io/v1", false)
}

/// Converts a merge patch written against `events.k8s.io/v1` field names.
pub fn patch_to_core(patch: &Value) -> Value {
    let mut p = rename(patch, "v1", true);
    if let Some(m) = p.as_object_mut() {
        if patch.get("apiVersion").is_none() {
            m.remove("apiVersion");
        }
        if patch.get("kind").is_none() {
            m.remove("kind");
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_convert_both_ways() {
        let e = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "x"}, "regarding": {"name": "contoso"}, "note": "hello", "reason": "Ready", "reportingController": "exo-operator", "type": "Normal"});
        let core = to_core(&e);
        assert_eq!(core["involvedObject"]["name"], "contoso");
        assert_eq!(core["message"], "hello");
        assert_eq!(core["reportingComponent"], "exo-operator");
        assert!(core.get("source").is_none());
        let back = to_events_v1(&core);
        assert_eq!(back["regarding"]["name"], "contoso");
        assert_eq!(back["note"], "hello");
        assert_eq!(back["apiVersion"], "events.k8s.io/v1");
    }
}
