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
            ListType::Set => *l = interleave(l, a, |x, y| x == y, |_, applied| applied.clone()),
            ListType::Map(keys) => {
                let same = |x: &Value, y: &Value| keys.iter().all(|k| x.get(k) == y.get(k));
                *l = interleave(l, a, same, |existing, item| {
                    let mut next = existing.clone();
                    path.push("k:".into());
                    merge_at(&mut next, item, lists, path);
                    path.pop();
                    next
                });
            }
        },
        (live, applied) => *live = applied.clone(),
    }
}

/// The members of `live` and `applied` in the order structured-merge-diff gives them: both
/// lists walked together; a member both have is merged where the applied list puts it among
/// the shared ones, a member only the live list has stays where it is, and a member only the
/// applied list has comes where the applied list puts it.
fn interleave(
    live: &[Value],
    applied: &[Value],
    same: impl Fn(&Value, &Value) -> bool,
    mut merge: impl FnMut(&Value, &Value) -> Value,
) -> Vec<Value> {
    let in_applied = |x: &Value| applied.iter().any(|a| same(a, x));
    let in_live = |x: &Value| live.iter().find(|l| same(l, x));
    // The members both lists have, in the applied order.
    let mut shared = applied.iter().filter(|a| in_live(a).is_some());
    let mut next_shared = shared.next();
    let mut out: Vec<Value> = Vec::with_capacity(live.len() + applied.len());
    let mut merged: Vec<&Value> = Vec::new();
    let (mut li, mut ri) = (0, 0);
    while li < live.len() || ri < applied.len() {
        if li < live.len() && ri < applied.len() {
            let l = &live[li];
            if same(l, &applied[ri]) {
                out.push(merge(l, &applied[ri]));
                merged.push(&applied[ri]);
                li += 1;
                ri += 1;
                next_shared = shared.next();
                continue;
            }
            if in_applied(l) && next_shared.is_some_and(|n| !same(n, l)) {
                // Shared, but not the one the applied order wants now.
                li += 1;
                continue;
            }
        }
        if li < live.len() {
            let l = &live[li];
            if !in_applied(l) {
                out.push(l.clone());
                li += 1;
                continue;
            }
            if merged.iter().any(|m| same(m, l)) {
                li += 1;
                continue;
            }
        }
        if ri < applied.len() {
            let a = &applied[ri];
            out.push(match in_live(a) {
                Some(existing) => merge(existing, a),
                None => a.clone(),
            });
            merged.push(a);
            ri += 1;
            if next_shared.is_some_and(|n| same(n, a)) {
                next_shared = shared.next();
            }
        } else {
            // Only shared live members are left, all merged already.
            li += 1;
        }
    }
    out
}

#[cfg(test)]
mod order_tests {
    use super::*;
    use serde_json::json;

    fn order(live: Value, applied: Value) -> Value {
        let (l, a) = (live.as_array().unwrap(), applied.as_array().unwrap());
        Value::Array(interleave(l, a, |x, y| x == y, |_, a| a.clone()))
    }

    #[test]
    fn members_are_ordered_as_structured_merge_diff_orders_them() {
        let cases = [
            (json!(["a", "b"]), json!(["a", "c"]), json!(["a", "b", "c"])),
            (json!(["alice"]), json!(["bob"]), json!(["alice", "bob"])),
            (json!(["a", "b"]), json!(["b"]), json!(["a", "b"])),
            (json!(["a", "b"]), json!(["b", "a"]), json!(["b", "a"])),
            (
                json!(["a", "b", "c"]),
                json!(["c", "d"]),
                json!(["a", "b", "c", "d"]),
            ),
            (json!([]), json!(["x", "y"]), json!(["x", "y"])),
            (json!(["x", "y"]), json!([]), json!(["x", "y"])),
        ];
        for (live, applied, want) in cases {
            assert_eq!(
                order(live.clone(), applied.clone()),
                want,
                "{live} + {applied}"
            );
        }
    }
}
