//! The fields an update (any write but server-side apply) adds or changes, as kube-apiserver
//! records them for the writer: changed values, new list members (the member itself, not its
//! fields), and maps that did not exist before (the map itself as well as its members).

use std::collections::BTreeSet;

use serde_json::Value;

use super::list_type::{ListType, Lists};
use super::path::{FieldPath, map_element, value_at, writable_roots};

/// Top-level fields of built-in kinds that are maps (every other one is a struct that exists
/// in the kind's empty value, so it is never added as a whole).
const BUILT_IN_MAPS: [&str; 3] = ["data", "binaryData", "stringData"];

/// The fields of `new` that a write turning `old` (none for a create) into `new` added or
/// changed; `custom` for a custom kind (whose empty value has no fields at all).
pub fn changed_fields(
    old: Option<&Value>,
    new: &Value,
    lists: Lists,
    custom: bool,
) -> BTreeSet<FieldPath> {
    let mut out = BTreeSet::new();
    for (mut path, child) in writable_roots(new) {
        let before = old.and_then(|o| value_at(o, &path));
        let top = path[0].trim_start_matches("f:");
        if !custom && path.len() == 1 && !BUILT_IN_MAPS.contains(&top) {
            // A struct of the kind's empty value: never added as a whole.
            descend(before, child, (lists, custom), &mut path, &mut out);
        } else {
            walk(before, child, (lists, custom), &mut path, &mut out);
        }
    }
    out
}

/// The list types, and whether the kind is a custom one.
type Kind<'a> = (Lists<'a>, bool);

fn walk(
    old: Option<&Value>,
    new: &Value,
    kind: Kind,
    path: &mut FieldPath,
    out: &mut BTreeSet<FieldPath>,
) {
    let (lists, custom) = kind;
    match new {
        Value::Object(m) if !m.is_empty() => {
            if !old.is_some_and(Value::is_object) {
                out.insert(path.clone());
            }
            descend(old, new, kind, path, out);
        }
        Value::Array(items) if !items.is_empty() => match lists.at(path) {
            ListType::Atomic => {
                if old != Some(new) {
                    out.insert(path.clone());
                }
            }
            ListType::Set => {
                let before = old.and_then(Value::as_array);
                for item in items {
                    if !before.is_some_and(|b| b.contains(item)) {
                        path.push(format!("v:{item}"));
                        out.insert(path.clone());
                        path.pop();
                    }
                }
            }
            ListType::Map(keys) => {
                let before = old.and_then(Value::as_array);
                for item in items {
                    let same = |x: &&Value| keys.iter().all(|k| x.get(k) == item.get(k));
                    path.push(map_element(item, &keys));
                    match before.and_then(|b| b.iter().find(same)) {
                        Some(o) => descend(Some(o), item, kind, path, out),
                        // A member of a list a custom kind did not have is recorded with its
                        // fields; any other new member as a whole.
                        None if custom && old.is_none() => {
                            out.insert(path.clone());
                            descend(None, item, kind, path, out);
                        }
                        None => {
                            out.insert(path.clone());
                        }
                    }
                    path.pop();
                }
            }
        },
        _ => {
            if old != Some(new) {
                out.insert(path.clone());
            }
        }
    }
}

/// The changes below an object node (the node itself not counted).
fn descend(
    old: Option<&Value>,
    new: &Value,
    kind: Kind,
    path: &mut FieldPath,
    out: &mut BTreeSet<FieldPath>,
) {
    match new.as_object() {
        Some(m) if !m.is_empty() => {
            for (k, child) in m {
                path.push(format!("f:{k}"));
                walk(old.and_then(|o| o.get(k)), child, kind, path, out);
                path.pop();
            }
        }
        _ => walk(old, new, kind, path, out),
    }
}
