//! Protobuf message bytes to the JSON the emulator stores, through a field table.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::fields::{Field, Kind, Message, Shape};
use super::time;
use super::wire::{Reader, WireValue};

/// The JSON object of the message `bytes` of type `message`. Fields the table does not know
/// are skipped, as Go's decoder keeps them aside.
pub fn message(message: &Message, bytes: &[u8]) -> Result<Value, String> {
    let mut out = Map::new();
    let mut reader = Reader::new(bytes);
    while let Some((number, wire)) = reader.next_field()? {
        let Some(field) = message.field(number) else {
            continue;
        };
        let what = || format!("{}.{}", message.name, field.json);
        match field.shape {
            Shape::Value | Shape::Pointer => {
                let v =
                    scalar_or_message(field.kind, wire).map_err(|e| format!("{}: {e}", what()))?;
                out.insert(field.json.into(), v);
            }
            Shape::Repeated => {
                let items = out
                    .entry(field.json)
                    .or_insert_with(|| Value::Array(Vec::new()));
                let v =
                    scalar_or_message(field.kind, wire).map_err(|e| format!("{}: {e}", what()))?;
                if let Value::Array(items) = items {
                    items.push(v);
                }
            }
            Shape::Map => {
                let (key, v) = map_entry(field, wire).map_err(|e| format!("{}: {e}", what()))?;
                let entries = out
                    .entry(field.json)
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(entries) = entries {
                    entries.insert(key, v);
                }
            }
        }
    }
    // A Go value field holding its zero value is left out, as `omitempty` leaves it out of
    // JSON; a zero time is `null` in JSON, and left out here too.
    for field in message.fields {
        let zero = out.get(field.json).is_some_and(|v| match (field.shape, v) {
            (_, Value::Null) => true,
            (Shape::Value, Value::String(s)) => s.is_empty(),
            (Shape::Value, Value::Bool(b)) => !b,
            (Shape::Value, Value::Number(n)) => n.as_i64() == Some(0),
            _ => false,
        });
        if zero {
            out.remove(field.json);
        }
    }
    Ok(Value::Object(out))
}

/// One `{1: key, 2: value}` entry of a map field.
fn map_entry(field: &Field, wire: WireValue<'_>) -> Result<(String, Value), String> {
    let WireValue::Bytes(bytes) = wire else {
        return Err("a map entry is not length-delimited".into());
    };
    let mut key = String::new();
    let mut value = zero_of(field.kind);
    let mut reader = Reader::new(bytes);
    while let Some((number, wire)) = reader.next_field()? {
        match number {
            1 => key = text(wire)?,
            2 => value = scalar_or_message(field.kind, wire)?,
            _ => {}
        }
    }
    Ok((key, value))
}

/// The JSON of an absent map value.
fn zero_of(kind: Kind) -> Value {
    match kind {
        Kind::String | Kind::Bytes => json!(""),
        _ => Value::Null,
    }
}

/// The JSON value of one field value of type `kind`.
fn scalar_or_message(kind: Kind, wire: WireValue<'_>) -> Result<Value, String> {
    Ok(match kind {
        Kind::String => json!(text(wire)?),
        Kind::Bytes => json!(STANDARD.encode(bytes(wire)?)),
        Kind::Int32 => json!(varint(wire)? as i32),
        Kind::Int64 => json!(varint(wire)? as i64),
        Kind::Bool => json!(varint(wire)? != 0),
        Kind::Time | Kind::MicroTime => {
            let (seconds, nanos) = time::from_message(bytes(wire)?)?;
            time::to_json(seconds, nanos, matches!(kind, Kind::MicroTime))?
        }
        Kind::EmbeddedJson => {
            let mut raw: &[u8] = &[];
            let mut reader = Reader::new(bytes(wire)?);
            while let Some((number, wire)) = reader.next_field()? {
                if number == 1 {
                    raw = bytes(wire)?;
                }
            }
            if raw.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(raw).map_err(|e| format!("embedded JSON: {e}"))?
            }
        }
        Kind::Message(m) => message(m, bytes(wire)?)?,
    })
}

fn bytes(wire: WireValue<'_>) -> Result<&[u8], String> {
    match wire {
        WireValue::Bytes(b) => Ok(b),
        _ => Err("expected a length-delimited value".into()),
    }
}

fn text(wire: WireValue<'_>) -> Result<String, String> {
    String::from_utf8(bytes(wire)?.to_vec()).map_err(|_| "a string is not UTF-8".into())
}

fn varint(wire: WireValue<'_>) -> Result<u64, String> {
    match wire {
        WireValue::Varint(v) => Ok(v),
        _ => Err("expected a varint".into()),
    }
}
