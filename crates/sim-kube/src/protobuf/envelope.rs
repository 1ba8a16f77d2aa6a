//! The envelope of every Kubernetes protobuf body: the magic `k8s\0`, then a
//! `runtime.Unknown` (`{1: typeMeta {1: apiVersion, 2: kind}, 2: raw, 3: contentEncoding,
//! 4: contentType}`) whose `raw` is the object's message.

use super::wire::{Reader, WireValue, Writer};

/// The four bytes every body starts with.
pub const MAGIC: &[u8; 4] = b"k8s\0";

/// The parts of an envelope the emulator reads.
#[derive(Debug, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// `apiVersion` of the object.
    pub api_version: String,
    /// `kind` of the object.
    pub kind: String,
    /// The object's message bytes.
    pub raw: &'a [u8],
}

/// Opens the envelope `body`.
pub fn open(body: &[u8]) -> Result<Envelope<'_>, String> {
    let unknown = body
        .strip_prefix(MAGIC.as_slice())
        .ok_or("the body does not start with the protobuf magic k8s\\0")?;
    let mut envelope = Envelope {
        api_version: String::new(),
        kind: String::new(),
        raw: &[],
    };
    let mut reader = Reader::new(unknown);
    while let Some((number, wire)) = reader.next_field()? {
        match (number, wire) {
            (1, WireValue::Bytes(type_meta)) => {
                let mut tm = Reader::new(type_meta);
                while let Some((n, v)) = tm.next_field()? {
                    match (n, v) {
                        (1, WireValue::Bytes(s)) => envelope.api_version = utf8(s)?,
                        (2, WireValue::Bytes(s)) => envelope.kind = utf8(s)?,
                        _ => {}
                    }
                }
            }
            (2, WireValue::Bytes(raw)) => envelope.raw = raw,
            (3, WireValue::Bytes(encoding)) if !encoding.is_empty() => {
                return Err(format!(
                    "content encoding {:?} is not supported",
                    String::from_utf8_lossy(encoding)
                ));
            }
            _ => {}
        }
    }
    Ok(envelope)
}

/// The body of the object message `raw` of `api_version` and `kind`, as the API server
/// writes it (empty content encoding and type).
pub fn seal(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let mut type_meta = Writer::new();
    type_meta.bytes(1, api_version.as_bytes());
    type_meta.bytes(2, kind.as_bytes());
    let mut unknown = Writer::new();
    unknown.bytes(1, &type_meta.finish());
    unknown.bytes(2, raw);
    unknown.bytes(3, b"");
    unknown.bytes(4, b"");
    let mut body = MAGIC.to_vec();
    body.extend(unknown.finish());
    body
}

fn utf8(bytes: &[u8]) -> Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| "typeMeta is not UTF-8".into())
}
