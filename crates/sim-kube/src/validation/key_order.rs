//! A JSON body read as Go reads it into a Go type: a repeated key whose values are both
//! objects merges them (Go decodes into the struct or map already there), any other repeat
//! replaces. And the keys in document order with the repeated ones: kube-apiserver reports
//! unknown and duplicate fields in the order the body has them, which a parsed
//! `serde_json::Value` (keys sorted) no longer tells.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Where each key path of a body first appears, and the repeated ones.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct KeyOrder {
    /// Key paths (`metadata.labels.a`, `items[0].name`) by their position in the body.
    pub position: HashMap<String, usize>,
    /// Repeated keys: position of the repetition and path.
    pub duplicates: Vec<(usize, String)>,
}

/// `body` as Go reads it, with its key order; `None` when it is not JSON.
pub fn scan(body: &[u8]) -> Option<(Value, KeyOrder)> {
    let mut order = KeyOrder::default();
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = Walk {
        path: String::new(),
        order: &mut order,
    }
    .deserialize(&mut de)
    .ok()?;
    de.end().ok()?;
    Some((value, order))
}

/// Merges `new` into `old` as Go decodes a repeated object into the one already decoded.
fn merge(old: &mut Map<String, Value>, new: Map<String, Value>) {
    for (k, v) in new {
        match (old.get_mut(&k), v) {
            (Some(Value::Object(o)), Value::Object(n)) => merge(o, n),
            (_, v) => {
                old.insert(k, v);
            }
        }
    }
}

struct Walk<'a> {
    path: String,
    order: &'a mut KeyOrder,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut seen = HashSet::new();
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.path)
            };
            let at = self.order.position.len() + self.order.duplicates.len();
            if seen.insert(key.clone()) {
                self.order.position.entry(path.clone()).or_insert(at);
            } else {
                self.order.duplicates.push((at, path.clone()));
            }
            let value = map.next_value_seed(Walk {
                path,
                order: &mut *self.order,
            })?;
            match (out.get_mut(&key), value) {
                (Some(Value::Object(old)), Value::Object(new)) => merge(old, new),
                (_, value) => {
                    out.insert(key, value);
                }
            }
        }
        Ok(Value::Object(out))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Walk {
            path: format!("{}[{}]", self.path, items.len()),
            order: &mut *self.order,
        })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_found_in_document_order_with_their_repeats() {
        let (value, order) =
            scan(br#"{"zz":1,"metadata":{"labels":{"a":"b","a":"c"}},"data":{"x":"1"},"data":{"y":"2"},"l":[{"k":1}]}"#)
                .unwrap();
        assert_eq!(
            value,
            serde_json::json!({"zz": 1, "metadata": {"labels": {"a": "c"}}, "data": {"x": "1", "y": "2"}, "l": [{"k": 1}]})
        );
        let mut keys: Vec<(&usize, &String)> = order.position.iter().map(|(k, v)| (v, k)).collect();
        keys.sort();
        let keys: Vec<&str> = keys.into_iter().map(|(_, k)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "zz",
                "metadata",
                "metadata.labels",
                "metadata.labels.a",
                "data",
                "data.x",
                "data.y",
                "l",
                "l[0].k"
            ]
        );
        let dups: Vec<&str> = order.duplicates.iter().map(|(_, p)| p.as_str()).collect();
        assert_eq!(dups, ["metadata.labels.a", "data"]);
        assert!(scan(b"{not json").is_none());
    }
}
