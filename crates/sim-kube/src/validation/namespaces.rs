//! What the API server sets on a Namespace before validating it: the label with its name, and
//! on create the `Active` phase and the `kubernetes` finalizer (an update keeps both as they
//! were: they change through the namespace controller only).

use serde_json::{Value, json};

/// The label every Namespace carries with its own name.
const NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// The finalizer of the namespace controller.
const FINALIZER: &str = "kubernetes";

/// Sets what the API server sets on the Namespace `new` (replacing `old`, if any).
pub fn prepare(new: &mut Value, old: Option<&Value>) {
    let name = new.pointer("/metadata/name").cloned().unwrap_or(json!(""));
    if let Some(meta) = new.get_mut("metadata").and_then(Value::as_object_mut) {
        let labels = meta.entry("labels").or_insert_with(|| json!({}));
        if labels.is_object() {
            labels[NAME_LABEL] = name;
        }
    }
    let Some(object) = new.as_object_mut() else {
        return;
    };
    match old {
        None => {
            object.insert("status".into(), json!({"phase": "Active"}));
            let spec = object.entry("spec").or_insert_with(|| json!({}));
            if !spec.is_object() {
                return;
            }
            let finalizers = spec
                .as_object_mut()
                .and_then(|s| s.get_mut("finalizers"))
                .and_then(Value::as_array_mut);
            match finalizers {
                Some(list) if !list.contains(&json!(FINALIZER)) => list.push(json!(FINALIZER)),
                Some(_) => {}
                None => spec["finalizers"] = json!([FINALIZER]),
            }
        }
        Some(o) => {
            for (k, v) in [("status", o.get("status")), ("spec", o.get("spec"))] {
                match v {
                    Some(v) if k == "status" => {
                        object.insert(k.into(), v.clone());
                    }
                    Some(v) => {
                        let finalizers = v.get("finalizers").cloned().unwrap_or(json!(null));
                        let spec = object.entry(k).or_insert_with(|| json!({}));
                        if spec.is_object() {
                            spec["finalizers"] = finalizers;
                        }
                    }
                    None => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_active_with_the_kubernetes_finalizer_and_their_name_label() {
        let mut ns = json!({"metadata": {"name": "t"}});
        prepare(&mut ns, None);
        assert_eq!(
            ns,
            json!({"metadata": {"name": "t", "labels": {NAME_LABEL: "t"}}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
        );
        let mut other = json!({"metadata": {"name": "t"}, "spec": {"finalizers": ["x"]}});
        prepare(&mut other, None);
        assert_eq!(other["spec"]["finalizers"], json!(["x", "kubernetes"]));
        let mut update = json!({"metadata": {"name": "t"}, "spec": {"finalizers": []}, "status": {"phase": "Terminating"}});
        prepare(&mut update, Some(&ns));
        assert_eq!(update["spec"]["finalizers"], json!(["kubernetes"]));
        assert_eq!(update["status"]["phase"], "Active");
    }
}
