//! Server-side apply's typed conversion: kube-apiserver turns an apply configuration into a
//! typed object of its kind's schema before anything else, and refuses one with a field the
//! schema does not declare with a 500, whatever `fieldValidation` says (a create, update or
//! merge patch drops such a field with a warning instead). The field is named as
//! structured-merge-diff names paths: `.spec.ports[name="http"].extra`.

use std::sync::LazyLock;

use serde_json::Value;

use crate::fields::{ListType, Lists};
use crate::types::ResourceType;
use crate::validation::decode;

/// The path of the first field of `applied` that `rt`'s schema does not declare, if any.
pub fn first_undeclared(rt: &ResourceType, applied: &Value) -> Option<String> {
    let dotted = match &rt.validator {
        Some(validator) => metadata_unknown(applied)
            .into_iter()
            .chain(validator.unknown_fields(applied))
            .next(),
        None => {
            let schema = rt.schema.as_deref()?;
            // A body that does not decode is refused elsewhere, as it is decoded.
            decode::decode(schema, &rt.kind, &mut applied.clone())
                .ok()?
                .into_iter()
                .next()
        }
    }?;
    Some(typed_path(&dotted, applied, rt.lists()))
}

/// The fields of a custom resource's metadata that ObjectMeta does not have (dotted paths
/// from the object's root).
fn metadata_unknown(applied: &Value) -> Vec<String> {
    static OBJECT_META: LazyLock<Value> = LazyLock::new(|| {
        serde_json::to_value(schemars::schema_for!(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta
        ))
        .unwrap_or_default()
    });
    let Some(meta) = applied.get("metadata") else {
        return Vec::new();
    };
    decode::decode(&OBJECT_META, "ObjectMeta", &mut meta.clone())
        .map(|unknown| {
            unknown
                .into_iter()
                .map(|f| format!("metadata.{f}"))
                .collect()
        })
        .unwrap_or_default()
}

/// A dotted path (`spec.ports[0].extra`) as structured-merge-diff prints it: `.spec` for a
/// field, `[name="http"]` for a member of a list map, `[="x"]` for a member of a set, `[0]`
/// for an item of an atomic list.
fn typed_path(dotted: &str, applied: &Value, lists: Lists<'_>) -> String {
    let mut out = String::new();
    let mut at = Some(applied);
    let mut fields_path: Vec<String> = Vec::new();
    for segment in segments(dotted) {
        match segment {
            Segment::Field(name) => {
                out.push('.');
                out.push_str(name);
                at = at.and_then(|v| v.get(name));
                fields_path.push(format!("f:{name}"));
            }
            Segment::Item(index) => {
                let item = at.and_then(|v| v.get(index));
                match (lists.at(&fields_path), item) {
                    (ListType::Map(keys), Some(item)) => {
                        let mut keys = keys.clone();
                        keys.sort();
                        let shown: Vec<String> = keys
                            .iter()
                            .map(|k| format!("{k}={}", item.get(k).unwrap_or(&Value::Null)))
                            .collect();
                        out.push_str(&format!("[{}]", shown.join(",")));
                    }
                    (ListType::Set, Some(item)) => out.push_str(&format!("[={item}]")),
                    _ => out.push_str(&format!("[{index}]")),
                }
                at = item;
                fields_path.push("i:".into());
            }
        }
    }
    out
}

/// One step of a dotted path.
#[derive(Debug, PartialEq)]
enum Segment<'a> {
    Field(&'a str),
    Item(usize),
}

/// The steps of `spec.ports[0].extra`.
fn segments(dotted: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    for part in dotted.split('.') {
        let (name, mut rest) = part.split_once('[').map_or((part, ""), |(n, r)| (n, r));
        if !name.is_empty() {
            out.push(Segment::Field(name));
        }
        while let Some((index, after)) = rest.split_once(']') {
            if let Ok(i) = index.parse() {
                out.push(Segment::Item(i));
            }
            rest = after.strip_prefix('[').unwrap_or(after);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dotted_paths_are_split_into_fields_and_items() {
        assert_eq!(
            segments("spec.ports[0].extra"),
            vec![
                Segment::Field("spec"),
                Segment::Field("ports"),
                Segment::Item(0),
                Segment::Field("extra")
            ]
        );
        assert_eq!(
            segments("a[1][2]"),
            vec![Segment::Field("a"), Segment::Item(1), Segment::Item(2)]
        );
    }

    #[test]
    fn paths_are_printed_as_structured_merge_diff_prints_them() {
        let schema = json!({"properties": {"spec": {"properties": {
            "ports": {"type": "array", "x-kubernetes-list-type": "map",
                      "x-kubernetes-list-map-keys": ["protocol", "name"],
                      "items": {"properties": {"name": {}, "protocol": {}, "port": {}}}},
            "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
            "args": {"type": "array", "items": {"type": "object"}}
        }}}});
        let applied = json!({"spec": {
            "ports": [{"name": "http", "protocol": "TCP", "port": 80, "extra": 1}],
            "tags": ["x"], "args": [{"a": 1}]
        }});
        let lists = Lists::new(Some(&schema));
        // (dotted, printed)
        let cases = [
            ("spec.extra", ".spec.extra"),
            (
                "spec.ports[0].extra",
                ".spec.ports[name=\"http\",protocol=\"TCP\"].extra",
            ),
            ("spec.tags[0]", ".spec.tags[=\"x\"]"),
            ("spec.args[0].b", ".spec.args[0].b"),
            ("metadata.extra", ".metadata.extra"),
        ];
        for (dotted, printed) in cases {
            assert_eq!(typed_path(dotted, &applied, lists), printed, "{dotted}");
        }
    }
}
