//! Merging an applied configuration into the live object, list by list as the schema says:
//! atomic lists replaced, sets united, list maps merged item by item.

use serde_json::Value;

use super::list_type::{ListType, Lists};
use super::path::FieldPath;

/// Merges `applied` (nulls already removed) into `live`.
pub fn merge_applied(live: &mut Value, applied: &Value, lists: Lists) {
    merge_at(live, applied, lists, &mut Vec::new());
}

fn merge_at(live: &mut Value, applied: &Value, lists: Lists, path: &mut FieldPath) {
    match (live, applied) {
        (Value::Object(l), Value::Object(a)) => {
            for (k, av) in a {
                path.push(format!("f:{k}"));
                match l.get_mut(k) {
                    Some(lv) => merge_at(lv, av, lists, path),
                    None => {
                        l.insert(k.clone(), av.clone());
                    }
                }
                path.pop();
            }
        }
        (Value::Array(l), Value::Array(a)) => match lists.at(path) {
            ListType::Atomic => *l = a.clone(),
            ListType::Set => {
                for item in a {
                    if !l.contains(item) {
                        l.push(item.clone());
                    }
                }
            }
            ListType::Map(keys) => {
                for item in a {
                    let same = |x: &Value| keys.iter().all(|k| x.get(k) == item.get(k));
                    match l.iter_mut().find(|x| same(x)) {
                        Some(existing) => {
                            path.push("k:".into());
                            merge_at(existing, item, lists, path);
                            path.pop();
                        }
                        None => l.push(item.clone()),
                    }
                }
            }
        },
        (live, applied) => *live = applied.clone(),
    }
}
