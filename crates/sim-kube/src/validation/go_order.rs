//! JSON written as Go writes a patched object back: maps with sorted keys, but object
//! metadata, managed fields entries and owner references in their Go struct's field order
//! (kube-apiserver quotes a patched object so in the errors of patches it cannot decode).

use serde_json::Value;

/// `ObjectMeta`'s fields, in struct order.
const OBJECT_META: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// `ManagedFieldsEntry`'s fields, in struct order.
const MANAGED_FIELDS_ENTRY: &[&str] = &[
    "manager",
    "operation",
    "apiVersion",
    "time",
    "fieldsType",
    "fieldsV1",
    "subresource",
];

/// `OwnerReference`'s fields, in struct order.
const OWNER_REFERENCE: &[&str] = &[
    "apiVersion",
    "kind",
    "name",
    "uid",
    "controller",
    "blockOwnerDeletion",
];

/// `object` as Go writes it (see the module documentation).
pub fn to_string(object: &Value) -> String {
    let mut out = String::new();
    write(object, None, &mut out);
    out
}

fn write(v: &Value, order: Option<&[&str]>, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            if let Some(order) = order {
                keys.sort_by_key(|k| order.iter().position(|o| o == k).unwrap_or(order.len()));
            }
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                let inner = match k.as_str() {
                    "metadata" if order.is_none() => Some(OBJECT_META),
                    _ => None,
                };
                match (k.as_str(), &m[k]) {
                    ("managedFields", Value::Array(a)) if order == Some(OBJECT_META) => {
                        write_list(a, MANAGED_FIELDS_ENTRY, out)
                    }
                    ("ownerReferences", Value::Array(a)) if order == Some(OBJECT_META) => {
                        write_list(a, OWNER_REFERENCE, out)
                    }
                    (_, child) => write(child, inner, out),
                }
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, None, out);
            }
            out.push(']');
        }
        Value::String(s) => write_string(s, out),
        other => out.push_str(&other.to_string()),
    }
}

fn write_list(items: &[Value], order: &[&str], out: &mut String) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write(item, Some(order), out);
    }
    out.push(']');
}

/// A JSON string as Go escapes it (`<`, `>` and `&` too).
fn write_string(s: &str, out: &mut String) {
    let quoted = serde_json::to_string(s).unwrap_or_default();
    out.push_str(
        &quoted
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn metadata_keeps_its_struct_order_and_maps_are_sorted() {
        let object = json!({
            "kind": "ConfigMap", "apiVersion": "v1", "data": {"z": "1", "a": "<2>"},
            "metadata": {"uid": "u", "name": "n", "labels": {"b": "1", "a": "2"},
                "managedFields": [{"time": "t", "manager": "m"}]},
        });
        assert_eq!(
            to_string(&object),
            r#"{"apiVersion":"v1","data":{"a":"\u003c2\u003e","z":"1"},"kind":"ConfigMap","metadata":{"name":"n","uid":"u","labels":{"a":"2","b":"1"},"managedFields":[{"manager":"m","time":"t"}]}}"#
        );
    }
}
