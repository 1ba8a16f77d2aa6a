//! Field selectors, parsed as apimachinery's `fields.ParseSelector` parses them, and checked
//! against the fields each kind can be selected by (its field label conversion).

use serde_json::Value;

use crate::types::ResourceType;

/// One term: a field, whether it must equal (else differ from) the value, and the value.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Term {
    field: String,
    equal: bool,
    value: String,
}

/// A parsed field selector (every term must hold).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector(Vec<Term>);

/// Splits on commas that are not escaped with a backslash.
fn split_terms(text: &str) -> Vec<&str> {
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in text.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&text[start..i]);
            start = i + 1;
        }
    }
    terms.push(&text[start..]);
    terms
}

/// `(field, equal, value)` of a term, split at its first operator.
fn split_term(term: &str) -> Option<(&str, bool, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for (op, equal) in [("!=", false), ("==", true), ("=", true)] {
            if let Some(value) = rest.strip_prefix(op) {
                return Some((&term[..i], equal, value));
            }
        }
    }
    None
}

/// A value with its escapes (`\\`, `\,`, `\=`) resolved.
fn unescape(value: &str) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut in_slash = false;
    for c in value.chars() {
        if in_slash {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(format!(
                    "invalid field selector: invalid escape sequence: \\{c}"
                ));
            }
            out.push(c);
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            ',' | '=' => {
                return Err(format!(
                    "invalid field selector: unescaped character in value: {}",
                    c as u32
                ));
            }
            c => out.push(c),
        }
    }
    if in_slash {
        return Err("invalid field selector: invalid escape sequence: \\".into());
    }
    Ok(out)
}

/// The fields of the core Event (and what `events.k8s.io` calls them).
const EVENT_FIELDS: [(&str, &str); 13] = [
    ("involvedObject.kind", "regarding.kind"),
    ("involvedObject.namespace", "regarding.namespace"),
    ("involvedObject.name", "regarding.name"),
    ("involvedObject.uid", "regarding.uid"),
    ("involvedObject.apiVersion", "regarding.apiVersion"),
    (
        "involvedObject.resourceVersion",
        "regarding.resourceVersion",
    ),
    ("involvedObject.fieldPath", "regarding.fieldPath"),
    ("reason", "reason"),
    ("reportingComponent", "reportingController"),
    ("source", ""),
    ("type", "type"),
    ("metadata.namespace", "metadata.namespace"),
    ("metadata.name", "metadata.name"),
];

/// The stored (core) name of `label` when objects of `rt` are selected by it, or the message
/// kube-apiserver refuses it with.
fn convert(rt: &ResourceType, label: &str) -> Result<String, String> {
    let unsupported = || format!("field label not supported: {label}");
    let meta = matches!(label, "metadata.name" | "metadata.namespace");
    if rt.custom {
        return if meta || rt.selectable_fields.iter().any(|f| f == label) {
            Ok(label.into())
        } else {
            Err(unsupported())
        };
    }
    if rt.is_events_v1() {
        return EVENT_FIELDS
            .iter()
            .find(|(_, v1)| !v1.is_empty() && *v1 == label)
            .map(|(core, _)| core.to_string())
            .ok_or_else(unsupported);
    }
    let supported = match (rt.group.as_str(), rt.plural.as_str()) {
        ("", "events") => EVENT_FIELDS.iter().any(|(core, _)| *core == label),
        ("", "secrets") => meta || label == "type",
        ("", "namespaces") => matches!(label, "metadata.name" | "status.phase"),
        _ if meta => true,
        _ => {
            return Err(format!(
                "\"{label}\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
            ));
        }
    };
    if supported {
        Ok(label.into())
    } else {
        Err(unsupported())
    }
}

impl FieldSelector {
    /// Parses `field=value`, `field==value` and `field!=value` terms (commas and `=` in values
    /// escaped with a backslash); `Err` holds the message kube-apiserver answers with.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts: Vec<&str> = if text.is_empty() {
            Vec::new()
        } else {
            split_terms(text)
        };
        parts.sort_unstable();
        let mut out = Vec::new();
        for part in parts.into_iter().filter(|p| !p.is_empty()) {
            let (field, equal, value) = split_term(part)
                .ok_or_else(|| format!("invalid selector: '{text}'; can't understand '{part}'"))?;
            out.push(Term {
                field: field.to_string(),
                equal,
                value: unescape(value)?,
            });
        }
        Ok(Self(out))
    }

    /// This selector for objects of `rt`, its fields named as stored; `Err` holds the message
    /// for the first field `rt` cannot be selected by.
    pub fn for_type(self, rt: &ResourceType) -> Result<Self, String> {
        self.0
            .into_iter()
            .map(|t| {
                Ok(Term {
                    field: convert(rt, &t.field)?,
                    ..t
                })
            })
            .collect::<Result<Vec<_>, String>>()
            .map(Self)
    }

    /// The value the selector requires for `path`, if it pins one (`metadata.name=x`).
    pub fn pinned(&self, path: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|t| t.field == path && t.equal)
            .map(|t| t.value.as_str())
    }

    /// Whether the stored object `object` satisfies every term (a missing field compares as
    /// empty; an Event's `source` is its source component).
    pub fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|t| {
            let path = if t.field == "source" {
                "source.component"
            } else {
                t.field.as_str()
            };
            let pointer = format!("/{}", path.replace('.', "/"));
            let actual = match object.pointer(&pointer) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            (actual == t.value) == t.equal
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn builtin(group: &str, plural: &str) -> ResourceType {
        ResourceType::builtins()
            .into_iter()
            .find(|t| t.group == group && t.plural == plural)
            .unwrap()
    }

    #[test]
    fn terms_are_parsed_and_refused_as_kube_apiserver_does() {
        for (text, expected) in [
            ("metadata.name=x", Ok(1)),
            ("a=1,b!=2,c==3", Ok(3)),
            ("", Ok(0)),
            (
                "metadata.name",
                Err("invalid selector: 'metadata.name'; can't understand 'metadata.name'"),
            ),
            (
                "a=b=c",
                Err("invalid field selector: unescaped character in value: 61"),
            ),
            (
                "a=b\\q",
                Err("invalid field selector: invalid escape sequence: \\q"),
            ),
        ] {
            assert_eq!(
                FieldSelector::parse(text).map(|s| s.0.len()),
                expected.map_err(String::from),
                "{text}"
            );
        }
        assert_eq!(FieldSelector::parse("a=x\\,y").unwrap().0[0].value, "x,y");
    }

    #[test]
    fn each_kind_is_selected_by_its_own_fields() {
        for (group, plural, field, expected) in [
            ("", "secrets", "type", Ok("type")),
            (
                "",
                "secrets",
                "data.k",
                Err("field label not supported: data.k"),
            ),
            ("", "namespaces", "status.phase", Ok("status.phase")),
            (
                "",
                "namespaces",
                "metadata.namespace",
                Err("field label not supported: metadata.namespace"),
            ),
            (
                "",
                "configmaps",
                "metadata.namespace",
                Ok("metadata.namespace"),
            ),
            (
                "",
                "configmaps",
                "data.k",
                Err(
                    "\"data.k\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
                ),
            ),
            ("", "events", "involvedObject.uid", Ok("involvedObject.uid")),
            (
                "events.k8s.io",
                "events",
                "regarding.name",
                Ok("involvedObject.name"),
            ),
            (
                "events.k8s.io",
                "events",
                "note",
                Err("field label not supported: note"),
            ),
        ] {
            let selector = FieldSelector::parse(&format!("{field}=v")).unwrap();
            let converted = selector
                .for_type(&builtin(group, plural))
                .map(|s| s.0[0].field.clone());
            assert_eq!(
                converted,
                expected.map(String::from).map_err(String::from),
                "{plural} {field}"
            );
        }
    }

    #[test]
    fn custom_kinds_are_selected_by_metadata_and_their_selectable_fields() {
        let crd: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition =
            serde_json::from_value(json!({
                "metadata": {"name": "widgets.example.com"},
                "spec": {"group": "example.com", "scope": "Namespaced",
                    "names": {"plural": "widgets", "kind": "Widget"},
                    "versions": [{"name": "v1", "served": true, "storage": true,
                        "selectableFields": [{"jsonPath": ".spec.color"}],
                        "schema": {"openAPIV3Schema": {"type": "object"}}}]}
            }))
            .unwrap();
        let rt = ResourceType::from_crd(&crd).remove(0);
        for (field, ok) in [
            ("metadata.name", true),
            ("spec.color", true),
            ("spec.size", false),
        ] {
            let selector = FieldSelector::parse(&format!("{field}=x")).unwrap();
            assert_eq!(selector.for_type(&rt).is_ok(), ok, "{field}");
        }
        let widget = json!({"spec": {"color": "red"}});
        let red = FieldSelector::parse("spec.color=red")
            .unwrap()
            .for_type(&rt)
            .unwrap();
        assert!(red.matches(&widget));
    }

    #[test]
    fn events_match_by_their_source_component() {
        let ev = json!({"metadata": {"name": "e1"}, "source": {"component": "exo"}, "involvedObject": {"name": "contoso"}});
        for (text, expected) in [
            ("source=exo", true),
            ("involvedObject.name=contoso,metadata.name!=e1", false),
            ("metadata.name!=e2", true),
        ] {
            assert_eq!(
                FieldSelector::parse(text).unwrap().matches(&ev),
                expected,
                "{text}"
            );
        }
    }
}
