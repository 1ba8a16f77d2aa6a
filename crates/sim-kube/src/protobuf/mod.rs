//! Kubernetes' Protocol Buffers encoding (`application/vnd.kubernetes.protobuf`) of the
//! built-in kinds the emulator serves, converted to and from the JSON it stores: a
//! hand-written wire codec ([`wire`]), the `k8s\0` + `runtime.Unknown` envelope
//! ([`envelope`]) and per-message field tables ([`meta_messages`], [`api_messages`]) that
//! map field numbers to JSON names and types. Typed Go clients (kubectl's `create`, Helm's
//! release storage) send these bodies; custom resources have no protobuf form.

pub mod api_messages;
pub mod envelope;
pub mod fields;
pub mod from_json;
pub mod meta_messages;
pub mod time;
pub mod to_json;
pub mod wire;

use serde_json::{Value, json};

/// The media type of Kubernetes protobuf bodies.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// Why a body could not be decoded.
#[derive(Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The envelope names a kind without a protobuf form here (custom resources).
    UnknownKind {
        /// `apiVersion` of the envelope.
        api_version: String,
        /// `kind` of the envelope.
        kind: String,
    },
    /// The bytes are not a well-formed message.
    Malformed(String),
}

/// Whether the `Content-Type` `content_type` is Kubernetes protobuf.
pub fn is_protobuf(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|media| media.trim().eq_ignore_ascii_case(MEDIA_TYPE))
}

/// The JSON object of the protobuf body `body`, with its `apiVersion` and `kind`.
pub fn decode(body: &[u8]) -> Result<Value, DecodeError> {
    let envelope = envelope::open(body).map_err(DecodeError::Malformed)?;
    let message =
        api_messages::message_of(&envelope.api_version, &envelope.kind).ok_or_else(|| {
            DecodeError::UnknownKind {
                api_version: envelope.api_version.clone(),
                kind: envelope.kind.clone(),
            }
        })?;
    let mut value = to_json::message(message, envelope.raw).map_err(DecodeError::Malformed)?;
    value["apiVersion"] = json!(envelope.api_version);
    value["kind"] = json!(envelope.kind);
    Ok(value)
}

/// The protobuf body of the JSON object `value` (by its `apiVersion` and `kind`); `None` when
/// its kind has no protobuf form here or a field does not fit its type.
pub fn encode(value: &Value) -> Option<Vec<u8>> {
    let api_version = value.get("apiVersion")?.as_str()?;
    let kind = value.get("kind")?.as_str()?;
    let message = api_messages::message_of(api_version, kind)?;
    let raw = from_json::message(message, value).ok()?;
    Some(envelope::seal(api_version, kind, &raw))
}

/// Whether objects of `kind` in `api_version` have a protobuf form here.
pub fn knows(api_version: &str, kind: &str) -> bool {
    api_messages::message_of(api_version, kind).is_some()
}

#[cfg(test)]
mod captured;
#[cfg(test)]
mod tests;
