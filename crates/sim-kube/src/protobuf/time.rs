//! `meta/v1` `Time` and `MicroTime`: `{1: seconds, 2: nanos}` on the wire, RFC 3339 text in
//! JSON (whole seconds, or microseconds for `MicroTime`), `null` when zero.

use serde_json::{Value, json};

use super::wire::{Reader, WireValue, Writer};

/// Seconds and nanoseconds of a `Time` message (both zero when the message is empty).
pub fn from_message(bytes: &[u8]) -> Result<(i64, i32), String> {
    let (mut seconds, mut nanos) = (0i64, 0i32);
    let mut reader = Reader::new(bytes);
    while let Some((number, wire)) = reader.next_field()? {
        match (number, wire) {
            (1, WireValue::Varint(v)) => seconds = v as i64,
            (2, WireValue::Varint(v)) => nanos = v as i32,
            _ => {}
        }
    }
    Ok((seconds, nanos))
}

/// The JSON of a time: `null` for the zero time (an empty message), else RFC 3339 in UTC.
pub fn to_json(seconds: i64, nanos: i32, micro: bool) -> Result<Value, String> {
    if seconds == 0 && nanos == 0 {
        return Ok(Value::Null);
    }
    let t = jiff::Timestamp::new(seconds, nanos).map_err(|e| e.to_string())?;
    let format = if micro {
        "%Y-%m-%dT%H:%M:%S%.6fZ"
    } else {
        "%Y-%m-%dT%H:%M:%SZ"
    };
    Ok(json!(t.strftime(format).to_string()))
}

/// The message of the RFC 3339 time `text` (an empty message for `null`, as Go writes the
/// zero time).
pub fn to_message(value: &Value) -> Result<Vec<u8>, String> {
    let mut w = Writer::new();
    if let Some(text) = value.as_str() {
        let t: jiff::Timestamp = text
            .parse()
            .map_err(|e| format!("{text:?} is not an RFC 3339 time: {e}"))?;
        w.varint(1, t.as_second() as u64);
        w.varint(2, i64::from(t.subsec_nanosecond()) as u64);
    }
    Ok(w.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_in_both_precisions() {
        let bytes = to_message(&json!("2026-12-02T08:29:27Z")).unwrap();
        let (s, n) = from_message(&bytes).unwrap();
        assert_eq!(to_json(s, n, false).unwrap(), json!("2026-12-02T08:29:27Z"));
        let bytes = to_message(&json!("2026-12-02T08:29:27.123456Z")).unwrap();
        let (s, n) = from_message(&bytes).unwrap();
        assert_eq!(n, 123_456_000);
        assert_eq!(
            to_json(s, n, true).unwrap(),
            json!("2026-12-02T08:29:27.123456Z")
        );
        assert_eq!(to_message(&Value::Null).unwrap(), Vec::<u8>::new());
        assert_eq!(to_json(0, 0, false).unwrap(), Value::Null);
    }
}
