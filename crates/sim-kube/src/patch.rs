//! Patches: JSON merge patch (RFC 7386), JSON patch (RFC 6902), strategic merge patch (as a
//! merge patch that also merges lists with a known merge key).

use serde_json::{Map, Value};

/// Applies a JSON merge patch.
pub fn merge(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            let t = target.as_object_mut().expect("an object");
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// Merge keys of the lists the built-in types merge by key in a strategic merge patch.
const MERGE_KEYS: &[(&str, &str)] = &[
    ("conditions", "type"),
    ("ownerReferences", "uid"),
    ("containers", "name"),
    ("env", "name"),
    ("ports", "containerPort"),
    ("volumes", "name"),
];

/// Lists of scalars a strategic merge patch merges instead of replacing.
const MERGED_PRIMITIVE_LISTS: &[&str] = &["finalizers"];

/// Applies a strategic merge patch: a merge patch in which lists with a known merge key are
/// merged item by item, `$patch: delete` removes an item, and other directives are ignored.
pub fn strategic_merge(target: &mut Value, patch: &Value) {
    strategic(target, patch, None);
}

fn strategic(target: &mut Value, patch: &Value, key: Option<&str>) {
    match (target, patch) {
        (Value::Array(t), Value::Array(p)) if key.is_some() => {
            let k = key.expect("checked");
            for item in p {
                let id = item.get(k);
                let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
                match t.iter().position(|x| x.get(k) == id && id.is_some()) {
                    Some(i) if delete => {
                        t.remove(i);
                    }
                    Some(i) => strategic(&mut t[i], item, None),
                    None if !delete => {
                        let mut clean = item.clone();
                        strip_directives(&mut clean);
                        t.push(clean);
                    }
                    None => {}
                }
            }
        }
        (t @ Value::Object(_), Value::Object(p)) => {
            let obj = t.as_object_mut().expect("an object");
            for (k, v) in p {
                if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/")
                    && let (Some(Value::Array(items)), Some(gone)) =
                        (obj.get_mut(field), v.as_array())
                {
                    items.retain(|i| !gone.contains(i));
                }
                if k.starts_with('$') {
                    continue;
                }
                // Lists of scalars merged by the strategy `merge` (ObjectMeta's finalizers):
                // the patch's members first, then the others.
                if MERGED_PRIMITIVE_LISTS.contains(&k.as_str())
                    && let (Some(Value::Array(items)), Value::Array(added)) = (obj.get_mut(k), v)
                {
                    let mut merged = added.clone();
                    merged.extend(items.iter().filter(|i| !added.contains(i)).cloned());
                    *items = merged;
                    continue;
                }
                if v.is_null() {
                    obj.remove(k);
                    continue;
                }
                let merge_key = MERGE_KEYS.iter().find(|(f, _)| f == k).map(|(_, m)| *m);
                match obj.get_mut(k) {
                    Some(existing) => strategic(existing, v, merge_key),
                    None => {
                        let mut clean = v.clone();
                        strip_directives(&mut clean);
                        obj.insert(k.clone(), clean);
                    }
                }
            }
        }
        (t, p) => {
            let mut clean = p.clone();
            strip_directives(&mut clean);
            *t = clean;
        }
    }
}

fn strip_directives(value: &mut Value) {
    match value {
        Value::Object(m) => {
            m.retain(|k, _| !k.starts_with('$'));
            m.values_mut().for_each(strip_directives);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_directives),
        _ => {}
    }
}

fn pointer_parts(path: &str) -> Result<Vec<String>, String> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| format!("invalid JSON pointer {path:?}"))?;
    Ok(rest
        .split('/')
        .map(|p| p.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn parent<'a>(doc: &'a mut Value, parts: &[String]) -> Result<&'a mut Value, String> {
    let mut cur = doc;
    for p in parts {
        cur = match cur {
            Value::Object(m) => m
                .get_mut(p)
                .ok_or_else(|| format!("path /{} not found", parts.join("/")))?,
            Value::Array(a) => {
                let i: usize = p.parse().map_err(|_| format!("invalid index {p:?}"))?;
                a.get_mut(i)
                    .ok_or_else(|| format!("index {i} out of range"))?
            }
            _ => return Err(format!("path /{} not found", parts.join("/"))),
        };
    }
    Ok(cur)
}

fn get_at(doc: &Value, parts: &[String]) -> Option<Value> {
    let pointer: String = parts
        .iter()
        .map(|p| format!("/{}", p.replace('~', "~0").replace('/', "~1")))
        .collect();
    doc.pointer(&pointer).cloned()
}

fn add_at(doc: &mut Value, parts: &[String], value: Value) -> Result<(), String> {
    let Some((last, init)) = parts.split_last() else {
        *doc = value;
        return Ok(());
    };
    match parent(doc, init)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(a) => {
            if last == "-" {
                a.push(value);
                return Ok(());
            }
            let i: usize = last
                .parse()
                .map_err(|_| format!("invalid index {last:?}"))?;
            if i > a.len() {
                return Err(format!("index {i} out of range"));
            }
            a.insert(i, value);
            Ok(())
        }
        _ => Err("cannot add to a scalar".into()),
    }
}

fn remove_at(doc: &mut Value, parts: &[String]) -> Result<Value, String> {
    let (last, init) = parts.split_last().ok_or("cannot remove the root")?;
    match parent(doc, init)? {
        Value::Object(m) => m
            .remove(last)
            .ok_or_else(|| format!("path /{} not found", parts.join("/"))),
        Value::Array(a) => {
            let i: usize = last
                .parse()
                .map_err(|_| format!("invalid index {last:?}"))?;
            if i >= a.len() {
                return Err(format!("index {i} out of range"));
            }
            Ok(a.remove(i))
        }
        _ => Err("cannot remove from a scalar".into()),
    }
}

/// Applies a JSON patch; an error (a failed `test` among them) leaves `doc` unchanged.
pub fn json_patch(doc: &mut Value, ops: &Value) -> Result<(), String> {
    let ops = ops
        .as_array()
        .ok_or("a JSON patch is an array of operations")?;
    let mut work = doc.clone();
    for op in ops {
        let kind = op
            .get("op")
            .and_then(Value::as_str)
            .ok_or("operation without op")?;
        let path = pointer_parts(
            op.get("path")
                .and_then(Value::as_str)
                .ok_or("operation without path")?,
        )?;
        let value = || {
            op.get("value")
                .cloned()
                .ok_or_else(|| format!("{kind} without value"))
        };
        match kind {
            "add" => add_at(&mut work, &path, value()?)?,
            "remove" => {
                remove_at(&mut work, &path)?;
            }
            "replace" => {
                remove_at(&mut work, &path)?;
                add_at(&mut work, &path, value()?)?;
            }
            "test" => {
                // As the API server does, a missing path tests equal to null.
                let actual = get_at(&work, &path).unwrap_or(Value::Null);
                if actual != value()? {
                    return Err(format!("test failed at /{}", path.join("/")));
                }
            }
            "move" | "copy" => {
                let from = pointer_parts(
                    op.get("from")
                        .and_then(Value::as_str)
                        .ok_or("operation without from")?,
                )?;
                let v = if kind == "move" {
                    remove_at(&mut work, &from)?
                } else {
                    get_at(&work, &from).ok_or("from path not found")?
                };
                add_at(&mut work, &path, v)?;
            }
            other => return Err(format!("unknown operation {other:?}")),
        }
    }
    *doc = work;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_sets_and_removes() {
        let mut doc = json!({"a": 1, "b": {"c": 2, "d": 3}});
        merge(&mut doc, &json!({"a": null, "b": {"c": 5}, "e": [1]}));
        assert_eq!(doc, json!({"b": {"c": 5, "d": 3}, "e": [1]}));
    }

    #[test]
    fn json_patch_with_test_is_atomic() {
        let mut doc = json!({"metadata": {"finalizers": ["a"]}});
        json_patch(&mut doc, &json!([{"op": "test", "path": "/metadata/finalizers", "value": ["a"]}, {"op": "add", "path": "/metadata/finalizers/-", "value": "b"}])).unwrap();
        assert_eq!(doc["metadata"]["finalizers"], json!(["a", "b"]));
        let before = doc.clone();
        let err = json_patch(
            &mut doc,
            &json!([{"op": "remove", "path": "/metadata/finalizers/0"}, {"op": "test", "path": "/x", "value": 1}]),
        );
        assert!(err.is_err());
        assert_eq!(doc, before);
    }

    #[test]
    fn strategic_merge_merges_conditions_by_type() {
        let mut doc = json!({"status": {"conditions": [{"type": "A", "status": "True"}, {"type": "B", "status": "False"}]}});
        strategic_merge(
            &mut doc,
            &json!({"status": {"conditions": [{"type": "B", "status": "True"}, {"type": "C", "status": "True"}]}, "$retainKeys": []}),
        );
        assert_eq!(doc["status"]["conditions"].as_array().unwrap().len(), 3);
        assert_eq!(doc["status"]["conditions"][1]["status"], "True");
    }
}
