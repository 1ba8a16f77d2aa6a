//! The list type of each list of a kind: `x-kubernetes-list-type` and
//! `x-kubernetes-list-map-keys` of a CRD's schema, and ObjectMeta's own (finalizers a set,
//! ownerReferences a map keyed by uid); every other list is atomic.

use serde_json::Value;

/// How a list merges and is owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListType {
    /// Replaced as a whole, owned as one field.
    Atomic,
    /// Scalars, each owned on its own (`v:"x"`).
    Set,
    /// Objects identified by these keys, each owned on its own (`k:{"name":"x"}`).
    Map(Vec<String>),
}

/// The list types of one kind: its schema (custom kinds) and ObjectMeta's rules.
#[derive(Clone, Copy, Debug)]
pub struct Lists<'a> {
    schema: Option<&'a Value>,
}

impl<'a> Lists<'a> {
    /// The list types of a kind whose OpenAPI v3 schema is `schema` (custom kinds), or of a
    /// built-in kind (`None`: only ObjectMeta's lists are not atomic).
    pub fn new(schema: Option<&'a Value>) -> Self {
        Self { schema }
    }

    /// The type of the list at `path` (elements of `fieldsV1` paths; element segments step into
    /// the items).
    pub fn at(&self, path: &[String]) -> ListType {
        match path {
            [m, f] if m == "f:metadata" && f == "f:finalizers" => return ListType::Set,
            [m, f] if m == "f:metadata" && f == "f:ownerReferences" => {
                return ListType::Map(vec!["uid".into()]);
            }
            [m, ..] if m == "f:metadata" => return ListType::Atomic,
            _ => {}
        }
        let Some(schema) = self.schema_at(path) else {
            return ListType::Atomic;
        };
        match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("set") => ListType::Set,
            Some("map") => ListType::Map(
                schema
                    .get("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|keys| {
                        keys.iter()
                            .filter_map(Value::as_str)
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            _ => ListType::Atomic,
        }
    }

    /// The schema of the value at `path`, if the schema describes it.
    fn schema_at(&self, path: &[String]) -> Option<&'a Value> {
        let mut cur = self.schema?;
        for seg in path {
            cur = match seg.strip_prefix("f:") {
                Some(name) => cur
                    .get("properties")
                    .and_then(|p| p.get(name))
                    .or_else(|| cur.get("additionalProperties").filter(|a| a.is_object()))?,
                None => cur.get("items")?,
            };
        }
        Some(cur)
    }
}
