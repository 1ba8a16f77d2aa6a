//! Field paths in `fieldsV1` form and the field set of an object.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::list_type::{ListType, Lists};

/// A field path: `fieldsV1` elements from the root (`["f:spec", "f:ports",
/// "k:{\"name\":\"http\"}", "f:port"]`).
pub type FieldPath = Vec<String>;

/// Metadata fields a writer can own (the rest is the server's).
const OWNED_METADATA: [&str; 5] = [
    "labels",
    "annotations",
    "finalizers",
    "ownerReferences",
    "generateName",
];

/// The `k:` element of a list-map item: its key fields, as a JSON object with sorted keys.
pub(super) fn map_element(item: &Value, keys: &[String]) -> String {
    let mut m = Map::new();
    for k in keys {
        if let Some(v) = item.get(k) {
            m.insert(k.clone(), v.clone());
        }
    }
    format!("k:{}", Value::Object(m))
}

/// The fields of `value` a writer can own, each with its value: the top-level fields but
/// apiVersion and kind, and the metadata a writer sets (labels, annotations, ...).
pub(super) fn writable_roots(value: &Value) -> Vec<(FieldPath, &Value)> {
    let mut out = Vec::new();
    for (k, child) in value.as_object().into_iter().flatten() {
        match k.as_str() {
            "apiVersion" | "kind" => {}
            "metadata" => {
                for (mk, mv) in child.as_object().into_iter().flatten() {
                    if OWNED_METADATA.contains(&mk.as_str()) {
                        out.push((vec!["f:metadata".to_string(), format!("f:{mk}")], mv));
                    }
                }
            }
            _ => out.push((vec![format!("f:{k}")], child)),
        }
    }
    out
}

/// The leaf fields `value` sets (server-owned metadata, apiVersion and kind left out).
pub fn field_set(value: &Value, lists: Lists) -> BTreeSet<FieldPath> {
    let mut out = BTreeSet::new();
    for (mut path, child) in writable_roots(value) {
        walk(child, lists, &mut path, &mut out);
    }
    out
}

fn walk(v: &Value, lists: Lists, path: &mut FieldPath, out: &mut BTreeSet<FieldPath>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, child) in m {
                path.push(format!("f:{k}"));
                walk(child, lists, path, out);
                path.pop();
            }
        }
        Value::Array(items) if !items.is_empty() => match lists.at(path) {
            ListType::Atomic => {
                out.insert(path.clone());
            }
            ListType::Set => {
                for item in items {
                    path.push(format!("v:{item}"));
                    out.insert(path.clone());
                    path.pop();
                }
            }
            ListType::Map(keys) => {
                for item in items {
                    path.push(map_element(item, &keys));
                    let before = out.len();
                    walk(item, lists, path, out);
                    if out.len() == before {
                        out.insert(path.clone());
                    }
                    path.pop();
                }
            }
        },
        _ => {
            out.insert(path.clone());
        }
    }
}

/// Whether list item `item` is the one element segment `seg` names.
fn is_element(item: &Value, seg: &str) -> bool {
    if let Some(v) = seg.strip_prefix("v:") {
        return serde_json::from_str::<Value>(v).is_ok_and(|v| &v == item);
    }
    if let Some(k) = seg.strip_prefix("k:") {
        let Ok(Value::Object(keys)) = serde_json::from_str::<Value>(k) else {
            return false;
        };
        return keys.iter().all(|(k, v)| item.get(k) == Some(v));
    }
    false
}

/// The value at `path`.
pub fn value_at<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter()
        .try_fold(value, |v, seg| match seg.strip_prefix("f:") {
            Some(k) => v.get(k),
            None => v.as_array()?.iter().find(|i| is_element(i, seg)),
        })
}

/// Removes the field (or list member) at `path`, and objects left empty by that.
pub fn remove_field(value: &mut Value, path: &[String]) {
    let Some((last, init)) = path.split_last() else {
        return;
    };
    let parent = init
        .iter()
        .try_fold(&mut *value, |v, seg| match seg.strip_prefix("f:") {
            Some(k) => v.get_mut(k),
            None => v.as_array_mut()?.iter_mut().find(|i| is_element(i, seg)),
        });
    match (parent, last.strip_prefix("f:")) {
        (Some(Value::Object(m)), Some(k)) => {
            m.remove(k);
        }
        (Some(Value::Array(items)), None) => items.retain(|i| !is_element(i, last)),
        _ => return,
    }
    if !init.is_empty()
        && value_at(value, init).is_some_and(|v| v.as_object().is_some_and(Map::is_empty))
    {
        remove_field(value, init);
    }
}

/// `fieldsV1` encoding of a field set (`{"f:spec":{"f:tenant":{}}}`); a member that has
/// members of its own is marked with `.`.
pub fn fields_v1(fields: &BTreeSet<FieldPath>) -> Value {
    let mut root = Map::new();
    for path in fields {
        let mut cur = &mut root;
        for seg in path {
            cur = cur
                .entry(seg.clone())
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .expect("an object");
        }
    }
    for path in fields {
        let node = path.iter().try_fold(&mut root, |m, seg| {
            m.get_mut(seg).and_then(Value::as_object_mut)
        });
        if let Some(node) = node
            && !node.is_empty()
        {
            node.insert(".".into(), Value::Object(Map::new()));
        }
    }
    Value::Object(root)
}

/// Decodes `fieldsV1` into a field set (a `.` entry makes its parent a member too).
pub fn from_fields_v1(value: &Value) -> BTreeSet<FieldPath> {
    fn walk(v: &Value, path: &mut FieldPath, out: &mut BTreeSet<FieldPath>) {
        if v.get(".").is_some() && !path.is_empty() {
            out.insert(path.clone());
        }
        let children: Vec<(&String, &Value)> = v
            .as_object()
            .map(|m| m.iter().filter(|(k, _)| k.as_str() != ".").collect())
            .unwrap_or_default();
        if children.is_empty() {
            if !path.is_empty() {
                out.insert(path.clone());
            }
            return;
        }
        for (k, child) in children {
            path.push(k.clone());
            walk(child, path, out);
            path.pop();
        }
    }
    let mut out = BTreeSet::new();
    walk(value, &mut Vec::new(), &mut out);
    out
}

/// A field path as the API server prints it: `.spec.ports[name="http"].port`, `[="x"]` for a
/// set member.
pub fn display(path: &[String]) -> String {
    path.iter()
        .map(|seg| {
            if let Some(name) = seg.strip_prefix("f:") {
                format!(".{name}")
            } else if let Some(v) = seg.strip_prefix("v:") {
                format!("[={v}]")
            } else if let Some(Ok(Value::Object(keys))) =
                seg.strip_prefix("k:").map(serde_json::from_str::<Value>)
            {
                let pairs: Vec<String> = keys.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("[{}]", pairs.join(","))
            } else {
                format!("[{seg}]")
            }
        })
        .collect()
}

/// The first list member `value` gives twice (a set's value or a list map's key), with the
/// path of its list.
pub fn duplicate(value: &Value, lists: Lists) -> Option<(FieldPath, String)> {
    fn walk(v: &Value, lists: Lists, path: &mut FieldPath) -> Option<(FieldPath, String)> {
        match v {
            Value::Object(m) => m.iter().find_map(|(k, child)| {
                path.push(format!("f:{k}"));
                let found = walk(child, lists, path);
                path.pop();
                found
            }),
            Value::Array(items) => {
                let members: Vec<String> = match lists.at(path) {
                    ListType::Atomic => return None,
                    ListType::Set => items.iter().map(|i| format!("v:{i}")).collect(),
                    ListType::Map(keys) => items.iter().map(|i| map_element(i, &keys)).collect(),
                };
                for (i, m) in members.iter().enumerate() {
                    if members[..i].contains(m) {
                        return Some((path.clone(), m.clone()));
                    }
                }
                items.iter().zip(&members).find_map(|(item, m)| {
                    path.push(m.clone());
                    let found = walk(item, lists, path);
                    path.pop();
                    found
                })
            }
            _ => None,
        }
    }
    walk(value, lists, &mut Vec::new())
}
