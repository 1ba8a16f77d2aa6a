//! Signing deliveries as Standard Webhooks signs a message (<https://www.standardwebhooks.com/>):
//! `webhook-id`, `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256>` over
//! `"{id}.{timestamp}.{body}"`, with the ingestion credential as the key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The signing key of one ingestion credential. Its `Debug` shows nothing of the key.
#[derive(Clone)]
pub struct Signer {
    key: ring::hmac::Key,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)")
    }
}

/// Why a credential cannot sign.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The Secret's value is empty (after trailing line breaks are dropped).
    #[error("the ingestion credential is empty")]
    Empty,
    /// `whsec_` is followed by something that is not base64.
    #[error("the ingestion credential starts with whsec_ but the rest is not base64")]
    NotBase64,
}

impl Signer {
    /// The key of `secret`, a Secret's value: the base64 decoding of what follows `whsec_`, or
    /// else its bytes as they are. A trailing line break (as `echo` leaves in files) is not
    /// part of it.
    pub fn new(secret: &[u8]) -> Result<Self, SecretError> {
        let secret = trim_line_breaks(secret);
        let key = match secret.strip_prefix(b"whsec_") {
            Some(rest) => STANDARD.decode(rest).map_err(|_| SecretError::NotBase64)?,
            None => secret.to_vec(),
        };
        if key.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(Self {
            key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key),
        })
    }

    /// The `webhook-signature` value of a message.
    pub fn signature(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut context = ring::hmac::Context::with_key(&self.key);
        context.update(format!("{id}.{timestamp}.").as_bytes());
        context.update(body);
        format!("v1,{}", STANDARD.encode(context.sign().as_ref()))
    }

    /// The `clientState` of the tenant's Graph subscriptions, which the service verifies
    /// (`docs/protocol/README.md`, "Graph change notifications"): base64url without padding of
    /// HMAC-SHA256(key, `"exo-graph-client-state.v1." + tenant id in lowercase`).
    pub fn client_state(&self, tenant_id: &str) -> String {
        let message = format!(
            "exo-graph-client-state.v1.{}",
            tenant_id.to_ascii_lowercase()
        );
        let tag = ring::hmac::sign(&self.key, message.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref())
    }

    /// The three headers of a message sent at `timestamp` (unix seconds).
    pub fn headers(&self, id: &str, timestamp: i64, body: &[u8]) -> [(String, String); 3] {
        [
            ("webhook-id".into(), id.to_string()),
            ("webhook-timestamp".into(), timestamp.to_string()),
            (
                "webhook-signature".into(),
                self.signature(id, timestamp, body),
            ),
        ]
    }
}

fn trim_line_breaks(mut s: &[u8]) -> &[u8] {
    while let Some(rest) = s.strip_suffix(b"\n").or_else(|| s.strip_suffix(b"\r")) {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_the_standard_webhooks_test_vector() {
        // The example of the Standard Webhooks specification.
        let signer = Signer::new(b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            signer.signature(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_are_read_as_standard_webhooks_reads_them() {
        let raw = Signer::new(b"plain-secret\n").unwrap();
        let same = Signer::new(b"plain-secret").unwrap();
        assert_eq!(raw.signature("a", 1, b"x"), same.signature("a", 1, b"x"));
        // `whsec_` + base64 of the same bytes gives the same key.
        let encoded = format!("whsec_{}", STANDARD.encode("plain-secret"));
        let decoded = Signer::new(encoded.as_bytes()).unwrap();
        assert_eq!(
            decoded.signature("a", 1, b"x"),
            same.signature("a", 1, b"x")
        );
        assert_eq!(Signer::new(b"\n").unwrap_err(), SecretError::Empty);
        assert_eq!(Signer::new(b"whsec_").unwrap_err(), SecretError::Empty);
        assert_eq!(
            Signer::new(b"whsec_not base64!").unwrap_err(),
            SecretError::NotBase64
        );
        assert_eq!(format!("{raw:?}"), "Signer(..)");
    }

    #[test]
    fn the_signature_covers_id_timestamp_and_body() {
        let s = Signer::new(b"k").unwrap();
        let base = s.signature("id", 10, b"body");
        assert_ne!(base, s.signature("id2", 10, b"body"));
        assert_ne!(base, s.signature("id", 11, b"body"));
        assert_ne!(base, s.signature("id", 10, b"bodY"));
        let headers = s.headers("id", 10, b"body");
        assert_eq!(headers[0], ("webhook-id".into(), "id".into()));
        assert_eq!(headers[1], ("webhook-timestamp".into(), "10".into()));
        assert_eq!(headers[2].1, base);
    }
}
