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
            // As kube-apiserver orders them: the members only the live list has, in their
            // order, then the applied ones in the applied order.
            ListType::Set => {
                let mut merged: Vec<Value> = l.iter().filter(|i| !a.contains(i)).cloned().collect();
                merged.extend(a.iter().cloned());
                *l = merged;
            }
            ListType::Map(keys) => {
                let same = |x: &Value, y: &Value| keys.iter().all(|k| x.get(k) == y.get(k));
                let mut merged: Vec<Value> = l
                    .iter()
                    .filter(|i| !a.iter().any(|x| same(x, i)))
                    .cloned()
                    .collect();
                for item in a {
                    let mut next = item.clone();
                    if let Some(existing) = l.iter().find(|x| same(x, item)) {
                        next = existing.clone();
                        path.push("k:".into());
                        merge_at(&mut next, item, lists, path);
                        path.pop();
                    }
                    merged.push(next);
                }
                *l = merged;
            }
        },
        (live, applied) => *live = applied.clone(),
    }
}
