//! Server-side printing: `Table` responses built from a CRD's additionalPrinterColumns (or
//! Name and Age), with the simple JSONPath the columns use.

use serde_json::{Value, json};

use super::types::ResourceType;

/// One step of a JSONPath.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    Field(String),
    Index(usize),
    Filter(String, String),
}

/// The steps of a simple JSONPath, `None` when it is not one.
fn parse(path: &str) -> Option<Vec<Step>> {
    let mut steps = Vec::new();
    let mut rest = path.trim().trim_start_matches('{').trim_end_matches('}');
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end > 0 {
                steps.push(Step::Field(r[..end].to_string()));
            }
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix("[?(@.") {
            let close = r.find(")]")?;
            let expr = &r[..close];
            let (k, v) = expr.split_once("==")?;
            let v = v.trim().trim_matches('"').trim_matches('\'');
            steps.push(Step::Filter(k.trim().to_string(), v.to_string()));
            rest = &r[close + 2..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let close = r.find(']')?;
            let inner = r[..close].trim_matches('\'').trim_matches('"');
            match inner.parse() {
                Ok(i) => steps.push(Step::Index(i)),
                Err(_) => steps.push(Step::Field(inner.to_string())),
            }
            rest = &r[close + 1..];
        } else {
            return None;
        }
    }
    Some(steps)
}

/// Evaluates a simple JSONPath (`.a.b`, `[0]`, `[?(@.type=="Ready")]`) to its first match.
pub fn eval<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = value;
    for step in parse(path)? {
        cur = match step {
            Step::Field(f) => cur.get(&f)?,
            Step::Index(i) => cur.get(i)?,
            Step::Filter(k, v) => cur
                .as_array()?
                .iter()
                .find(|item| item.get(&k).and_then(Value::as_str) == Some(v.as_str()))?,
        };
    }
    Some(cur)
}

/// `kubectl`'s short human duration (`45s`, `3m20s`, `47m`, `5h3m`, `26h`, `3d5h`, `45d`).
pub fn human_duration(seconds: i64) -> String {
    let s = seconds.max(0);
    let (m, h, d) = (s / 60, s / 3600, s / 86400);
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        two_units(m, 'm', s % 60, 's')
    } else if h < 3 {
        format!("{m}m")
    } else if h < 8 {
        two_units(h, 'h', m % 60, 'm')
    } else if h < 48 {
        format!("{h}h")
    } else if d < 8 {
        two_units(d, 'd', h % 24, 'h')
    } else if d < 365 * 2 {
        format!("{d}d")
    } else {
        format!("{}y", d / 365)
    }
}

/// `3m20s`, or `3m` when the smaller unit is zero.
fn two_units(large: i64, large_unit: char, small: i64, small_unit: char) -> String {
    if small == 0 {
        format!("{large}{large_unit}")
    } else {
        format!("{large}{large_unit}{small}{small_unit}")
    }
}

/// The age of the timestamp `value` at `now`, as kubectl prints it.
fn age(value: Option<&Value>, now: jiff::Timestamp) -> Value {
    match value.and_then(Value::as_str) {
        None => Value::Null,
        Some(s) => match s.parse::<jiff::Timestamp>() {
            Ok(t) => Value::String(human_duration(now.duration_since(t).as_secs())),
            Err(_) => Value::String("<invalid>".into()),
        },
    }
}

/// A `Table` of `objects` of type `rt`.
pub fn table(
    rt: &ResourceType,
    objects: &[Value],
    resource_version: &str,
    continue_token: Option<&str>,
) -> Value {
    let now = jiff::Timestamp::now();
    let mut columns = vec![
        json!({"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0}),
    ];
    let has_columns = !rt.columns.is_empty();
    if has_columns {
        for c in &rt.columns {
            columns.push(json!({"name": c.name, "type": c.type_, "format": "", "description": c.description, "priority": c.priority}));
        }
    } else {
        columns.push(json!({"name": "Age", "type": "string", "format": "", "description": "Time since creation.", "priority": 0}));
    }
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let mut cells = vec![o.pointer("/metadata/name").cloned().unwrap_or(Value::Null)];
            if has_columns {
                for c in &rt.columns {
                    let v = eval(o, &c.json_path);
                    cells.push(match (c.type_.as_str(), v) {
                        ("date", v) => age(v, now),
                        (_, Some(Value::Array(a))) => Value::String(
                            a.iter()
                                .map(|x| {
                                    x.as_str()
                                        .map(String::from)
                                        .unwrap_or_else(|| x.to_string())
                                })
                                .collect::<Vec<_>>()
                                .join(","),
                        ),
                        (_, Some(v)) => v.clone(),
                        (_, None) => Value::Null,
                    });
                }
            } else {
                cells.push(age(o.pointer("/metadata/creationTimestamp"), now));
            }
            json!({
                "cells": cells,
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": o.get("metadata").cloned().unwrap_or(json!({})),
                }
            })
        })
        .collect();
    let mut metadata = json!({"resourceVersion": resource_version});
    if let Some(c) = continue_token {
        metadata["continue"] = json!(c);
    }
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": columns,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonpath_reads_fields_indexes_and_filters() {
        let o = json!({"status": {"conditions": [{"type": "Stalled", "status": "False"}, {"type": "Ready", "status": "True", "reason": "Ready"}], "sync": {"users": 7}}, "spec": {"l": ["a", "b"]}});
        assert_eq!(
            eval(&o, r#".status.conditions[?(@.type=="Ready")].status"#),
            Some(&json!("True"))
        );
        assert_eq!(
            eval(&o, ".status.conditions[?(@.type=='Ready')].reason"),
            Some(&json!("Ready"))
        );
        assert_eq!(eval(&o, ".status.sync.users"), Some(&json!(7)));
        assert_eq!(eval(&o, ".spec.l[1]"), Some(&json!("b")));
        assert_eq!(eval(&o, ".status.missing"), None);
    }

    #[test]
    fn durations_print_like_kubectl() {
        assert_eq!(human_duration(45), "45s");
        assert_eq!(human_duration(200), "3m20s");
        assert_eq!(human_duration(47 * 60), "47m");
        assert_eq!(human_duration(5 * 3600 + 180), "5h3m");
        assert_eq!(human_duration(26 * 3600), "26h");
        assert_eq!(human_duration(3 * 86400 + 5 * 3600), "3d5h");
        assert_eq!(human_duration(45 * 86400), "45d");
    }
}
