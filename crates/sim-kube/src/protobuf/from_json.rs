//! The JSON the emulator stores to protobuf message bytes, through a field table, written as
//! Go writes them: fields in ascending number, value fields always (their zero when absent),
//! map entries sorted by key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::fields::{Field, Kind, Message, Shape};
use super::time;
use super::wire::Writer;

/// The bytes of `value` (a JSON object, or `null` for an empty message) as `message`.
pub fn message(message: &Message, value: &Value) -> Result<Vec<u8>, String> {
    let mut w = Writer::new();
    for field in message.fields {
        let v = value.get(field.json).unwrap_or(&Value::Null);
        let what = || format!("{}.{}", message.name, field.json);
        match field.shape {
            Shape::Value => {
                one(&mut w, field, v).map_err(|e| format!("{}: {e}", what()))?;
            }
            Shape::Pointer if !v.is_null() => {
                one(&mut w, field, v).map_err(|e| format!("{}: {e}", what()))?;
            }
            Shape::Pointer => {}
            Shape::Repeated => {
                for item in v.as_array().into_iter().flatten() {
                    one(&mut w, field, item).map_err(|e| format!("{}: {e}", what()))?;
                }
            }
            Shape::Map => {
                let mut entries: Vec<(&String, &Value)> =
                    v.as_object().into_iter().flatten().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                for (key, item) in entries {
                    let mut entry = Writer::new();
                    entry.bytes(1, key.as_bytes());
                    one(
                        &mut entry,
                        &Field {
                            number: 2,
                            ..*field
                        },
                        item,
                    )
                    .map_err(|e| format!("{}[{key}]: {e}", what()))?;
                    w.bytes(field.number, &entry.finish());
                }
            }
        }
    }
    Ok(w.finish())
}

/// Writes one value of `field` (its zero value for `null`).
fn one(w: &mut Writer, field: &Field, v: &Value) -> Result<(), String> {
    let n = field.number;
    match field.kind {
        Kind::String => w.bytes(n, text(v)?.as_bytes()),
        Kind::Bytes => {
            let decoded = STANDARD
                .decode(text(v)?)
                .map_err(|e| format!("not base64: {e}"))?;
            w.bytes(n, &decoded);
        }
        Kind::Int32 | Kind::Int64 => w.varint(n, integer(v)? as u64),
        Kind::Bool => w.varint(n, u64::from(v.as_bool().unwrap_or(false))),
        Kind::Time | Kind::MicroTime => w.bytes(n, &time::to_message(v)?),
        Kind::EmbeddedJson => {
            let mut inner = Writer::new();
            if !v.is_null() {
                inner.bytes(1, v.to_string().as_bytes());
            }
            w.bytes(n, &inner.finish());
        }
        Kind::Message(m) => w.bytes(n, &message(m, v)?),
    }
    Ok(())
}

fn text(v: &Value) -> Result<&str, String> {
    match v {
        Value::Null => Ok(""),
        Value::String(s) => Ok(s),
        other => Err(format!("expected a string, found {other}")),
    }
}

fn integer(v: &Value) -> Result<i64, String> {
    match v {
        Value::Null => Ok(0),
        other => other
            .as_i64()
            .ok_or_else(|| format!("expected an integer, found {other}")),
    }
}
