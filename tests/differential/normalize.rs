//! What may differ between two correct API servers is taken out before answers are compared:
//! uids, times, resource versions, continue tokens, generated name suffixes, and the `.`
//! markers of `fieldsV1` (see README, "Deliberate differences"). Everything else a client can
//! observe stays: status codes, Status bodies, objects, managed fields, warnings.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

static UID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").unwrap()
});
static TIME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)").unwrap()
});
/// Resource versions quoted in messages (`too old resource version: 12 (15)`).
static RV_IN_MESSAGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"resource ?[vV]ersion:? \d+( \(\d+\))?|ResourceVersion in record \(\d+\)").unwrap()
});
/// A resource version given in a `k8s.io/...` precondition message.
static PRECONDITION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(Precondition failed: (UID|ResourceVersion) in precondition: )[^,]+, (UID|ResourceVersion) in object meta: \S+").unwrap()
});

/// Wordings that differ between kube-apiserver releases only (Go's quoting of invalid values
/// changed after 1.31), written as the newest release writes them.
const RELEASE_WORDINGS: [(&str, &str); 3] = [
    ("Invalid value: \"null\": ", "Invalid value: null: "),
    ("Invalid value: 0x0: ", "Invalid value: 0: "),
    ("Invalid value: \"object\": ", "Invalid value: "),
];
/// Go's `%#v` of a string list, which later releases print as JSON (`[]string{"a"}`).
static GO_STRING_LIST: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"\[\]string\{([^}]*)\}"#).unwrap());

/// Normalises a text (a message, kubectl's output).
pub fn text(s: &str) -> String {
    let mut s = s.to_string();
    for (old, new) in RELEASE_WORDINGS {
        s = s.replace(old, new);
    }
    let s = GO_STRING_LIST.replace_all(&s, "[$1]").to_string();
    let s = UID.replace_all(&s, "<uid>");
    let s = TIME.replace_all(&s, "<time>");
    let s = RV_IN_MESSAGE.replace_all(&s, "resource version <rv>");
    PRECONDITION
        .replace_all(&s, "${1}<x>, ${3} in object meta: <y>")
        .to_string()
}

/// Normalises a JSON answer in place.
pub fn value(v: &mut Value) {
    match v {
        Value::String(s) => *s = text(s),
        Value::Array(a) => a.iter_mut().for_each(value),
        Value::Object(m) => {
            object(m);
            // Keys hold uids too (`k:{"uid":...}` in fieldsV1).
            let entries: Vec<(String, Value)> = std::mem::take(m)
                .into_iter()
                .map(|(k, mut v)| {
                    value(&mut v);
                    (text(&k), v)
                })
                .collect();
            m.extend(entries);
        }
        _ => {}
    }
}

/// Object-level rules: resource versions, continue tokens, generated names, fieldsV1 markers,
/// the order of a Status's causes.
fn object(m: &mut Map<String, Value>) {
    sort_causes(m);
    // Keys are plain names, or the paths a step selects with `only` (`/metadata/continue`).
    for (key, v) in m.iter_mut() {
        let last = key.rsplit('/').next().unwrap_or(key);
        if let ("resourceVersion" | "continue", Value::String(s)) = (last, v)
            && !s.is_empty()
        {
            *s = format!("<{last}>");
        }
    }
    if let Some(Value::String(prefix)) = m.get("generateName").cloned()
        && let Some(Value::String(name)) = m.get_mut("name")
        && name.starts_with(&prefix)
    {
        *name = format!("{prefix}<generated>");
    }
    if let Some(f) = m.get_mut("fieldsV1") {
        drop_dot_markers(f);
    }
    // Entries are ordered by time first, to the second: entries written in different seconds
    // may come in either order, so they are compared in the order of everything but time.
    if let Some(Value::Array(entries)) = m.get_mut("managedFields") {
        let key = |e: &Value| {
            ["operation", "manager", "apiVersion", "subresource"]
                .map(|k| e.get(k).and_then(Value::as_str).unwrap_or("").to_string())
        };
        entries.sort_by_key(key);
    }
}

/// kube-apiserver checks the properties of an object in no fixed order (a Go map), so the
/// causes of one Status, and the list of them in its message, come in any order: both are put
/// in the order of their field and message.
fn sort_causes(m: &mut Map<String, Value>) {
    let Some(Value::Array(causes)) = m.get_mut("details").and_then(|d| d.get_mut("causes")) else {
        return;
    };
    let line = |c: &Value| {
        format!(
            "{}: {}",
            c["field"].as_str().unwrap_or(""),
            c["message"].as_str().unwrap_or("")
        )
    };
    let listed: Vec<String> = causes.iter().map(line).collect();
    causes.sort_by_key(line);
    let sorted: Vec<String> = causes.iter().map(line).collect();
    if let Some(Value::String(message)) = m.get_mut("message")
        && listed.len() > 1
    {
        let joined = format!("[{}]", listed.join(", "));
        if let Some(prefix) = message.strip_suffix(&joined) {
            *message = format!("{prefix}[{}]", sorted.join(", "));
        }
    }
}

/// Removes the `.` entries of a `fieldsV1` tree, and the maps left empty by that (the map
/// itself owned, besides its members).
fn drop_dot_markers(v: &mut Value) {
    if let Value::Object(m) = v {
        m.remove(".");
        m.retain(|_, child| {
            let marked = child.get(".").is_some();
            drop_dot_markers(child);
            !(marked && child.as_object().is_some_and(|c| c.is_empty()))
        });
    }
}

/// The segments of a path: split at `/` outside `[...]` filters (whose values may hold `/`).
fn segments(path: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in path.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            '/' if depth == 0 => {
                out.push(&path[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&path[start..]);
    out.into_iter().filter(|s| !s.is_empty()).collect()
}

/// Whether the array element `e` has `value` at the dotted `key` (`metadata.name`).
fn has(e: &Value, key: &str, value: &str) -> bool {
    key.split('.')
        .try_fold(e, |cur, k| cur.get(k))
        .and_then(Value::as_str)
        == Some(value)
}

/// The value at `path` in `v`: `/`-separated keys, array indexes, or `[key=value]` filters
/// picking the first array element whose `key` (dotted for nested keys) is `value`
/// (`/resources[name=secrets]/verbs`, `/items[metadata.name=apps]`).
pub fn select<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = v;
    for seg in segments(path) {
        let (key, filter) = match seg.split_once('[') {
            Some((k, f)) => (k, Some(f.trim_end_matches(']'))),
            None => (seg, None),
        };
        if !key.is_empty() {
            cur = match cur {
                Value::Array(a) => a.get(key.parse::<usize>().ok()?)?,
                other => other.get(key)?,
            };
        }
        if let Some(f) = filter {
            let (fk, fv) = f.split_once('=')?;
            cur = cur.as_array()?.iter().find(|e| has(e, fk, fv))?;
        }
    }
    Some(cur)
}

/// Removes the value at `path` (same syntax as [`select`]; the last segment a plain key).
pub fn remove(v: &mut Value, path: &str) {
    let mut segs = segments(path);
    let Some(last) = segs.pop() else { return };
    // Walk to the parent by position so it can be mutated.
    let mut cur = v;
    for seg in segs {
        let (key, filter) = match seg.split_once('[') {
            Some((k, f)) => (k, Some(f.trim_end_matches(']'))),
            None => (seg, None),
        };
        if !key.is_empty() {
            let next = match cur {
                Value::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
                other => other.get_mut(key),
            };
            let Some(next) = next else { return };
            cur = next;
        }
        if let Some(f) = filter {
            let Some((fk, fv)) = f.split_once('=') else {
                return;
            };
            let Some(found) = cur
                .as_array_mut()
                .and_then(|a| a.iter_mut().find(|e| has(e, fk, fv)))
            else {
                return;
            };
            cur = found;
        }
    }
    if let Some(m) = cur.as_object_mut() {
        m.remove(last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn volatile_values_are_replaced_and_the_rest_kept() {
        let mut v = json!({
            "metadata": {"name": "x-ab12c", "generateName": "x-", "uid": "252f5c0b-35c2-4563-af13-82fdd69ec6a9",
                "resourceVersion": "216", "creationTimestamp": "2026-12-02T08:28:11Z",
                "managedFields": [{"time": "2026-12-02T08:28:11Z", "fieldsV1": {"f:data": {".": {}, "f:k": {}}, "f:labels": {".": {}}, "f:x": {}}}]},
            "message": "too old resource version: 5 (10)",
            "data": {"k": "v"}
        });
        value(&mut v);
        assert_eq!(
            v,
            json!({
                "metadata": {"name": "x-<generated>", "generateName": "x-", "uid": "<uid>",
                    "resourceVersion": "<resourceVersion>", "creationTimestamp": "<time>",
                    "managedFields": [{"time": "<time>", "fieldsV1": {"f:data": {"f:k": {}}, "f:x": {}}}]},
                "message": "too old resource version <rv>",
                "data": {"k": "v"}
            })
        );
    }

    #[test]
    fn causes_and_their_list_in_the_message_are_put_in_one_order() {
        let mut v = json!({"kind": "Status", "message": "W \"w\" is invalid: [b: x, a: y]",
            "details": {"causes": [{"field": "b", "message": "x"}, {"field": "a", "message": "y"}]}});
        value(&mut v);
        assert_eq!(v["message"], "W \"w\" is invalid: [a: y, b: x]");
        assert_eq!(v["details"]["causes"][0]["field"], "a");
    }

    #[test]
    fn paths_select_by_key_index_and_filter() {
        let v = json!({"resources": [{"name": "a", "verbs": ["get"]}, {"name": "b", "verbs": ["list"]}]});
        assert_eq!(
            select(&v, "/resources[name=b]/verbs/0"),
            Some(&json!("list"))
        );
        assert_eq!(select(&v, "/resources[name=c]"), None);
        let nested = json!({"items": [{"metadata": {"name": "a/b"}, "n": 1}]});
        assert_eq!(
            select(&nested, "/items[metadata.name=a/b]/n"),
            Some(&json!(1))
        );
        let mut w = v.clone();
        remove(&mut w, "/resources[name=a]/verbs");
        assert_eq!(w["resources"][0], json!({"name": "a"}));
    }
}
