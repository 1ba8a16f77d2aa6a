//! Request signatures in the Standard Webhooks style: `webhook-id`, `webhook-timestamp` (unix
//! seconds) and `webhook-signature` (`v1,<base64 HMAC-SHA256>` entries separated by spaces)
//! over `"{id}.{timestamp}.{body}"`, keyed by the shared secret.
//!
//! Pure: the headers, the body and the current time in, a verdict out. The key never appears
//! in a verdict, a `Debug` output or an error.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::hmac;

/// The prefix of a Standard Webhooks secret whose remainder is the key in base64.
pub const WHSEC_PREFIX: &str = "whsec_";
/// Longest `webhook-id` accepted, bytes.
pub const MAX_ID_LEN: usize = 256;
/// Longest `webhook-signature` header accepted, bytes.
pub const MAX_SIGNATURE_HEADER_LEN: usize = 4096;
/// Most signature entries of one header looked at.
pub const MAX_SIGNATURES: usize = 16;

/// The HMAC-SHA256 key derived from the shared secret.
#[derive(Clone)]
pub struct SigningKey(hmac::Key);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

impl SigningKey {
    /// The key of a secret: the base64-decoded remainder of a `whsec_` secret, else the
    /// secret's bytes as they are. Fails (without quoting the secret) on an empty secret or
    /// an invalid `whsec_` remainder.
    pub fn from_secret(secret: &str) -> Result<Self, String> {
        let bytes = match secret.strip_prefix(WHSEC_PREFIX) {
            Some(encoded) => STANDARD.decode(encoded).map_err(|_| {
                "the secret starts with whsec_ but the rest is not base64".to_string()
            })?,
            None => secret.as_bytes().to_vec(),
        };
        if bytes.is_empty() {
            return Err("the secret is empty".into());
        }
        Ok(Self(hmac::Key::new(hmac::HMAC_SHA256, &bytes)))
    }

    /// The `clientState` of the Graph subscriptions of `tenant_id` (README, "Graph change
    /// notifications"): base64url without padding of
    /// `HMAC-SHA256(key, "exo-graph-client-state.v1." + tenantId in lowercase)`, 43 characters.
    pub fn client_state(&self, tenant_id: &str) -> String {
        let tag = hmac::sign(&self.0, &client_state_content(tenant_id));
        URL_SAFE_NO_PAD.encode(tag.as_ref())
    }

    /// Whether `presented` is the `clientState` of `tenant_id`, compared in constant time
    /// (the HMAC is verified against the decoded value; a value that is not canonical
    /// base64url without padding never matches).
    pub fn verify_client_state(&self, tenant_id: &str, presented: &str) -> bool {
        if presented.len() != CLIENT_STATE_LEN {
            return false;
        }
        match URL_SAFE_NO_PAD.decode(presented) {
            Ok(tag) => hmac::verify(&self.0, &client_state_content(tenant_id), &tag).is_ok(),
            Err(_) => false,
        }
    }

    /// The `v1,<base64>` signature of a message (what a sender puts in `webhook-signature`).
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let tag = hmac::sign(&self.0, &signed_content(id, &timestamp.to_string(), body));
        format!("v1,{}", STANDARD.encode(tag.as_ref()))
    }
}

/// What the `clientState` of a tenant's subscriptions signs.
pub const CLIENT_STATE_CONTEXT: &str = "exo-graph-client-state.v1.";
/// Length of a `clientState`, characters (32 bytes in base64url without padding).
pub const CLIENT_STATE_LEN: usize = 43;

fn client_state_content(tenant_id: &str) -> Vec<u8> {
    format!("{CLIENT_STATE_CONTEXT}{}", tenant_id.to_ascii_lowercase()).into_bytes()
}

/// The three signature headers of a request, as received (absent ones `None`).
#[derive(Clone, Copy, Debug, Default)]
pub struct SignatureHeaders<'a> {
    /// `webhook-id`.
    pub id: Option<&'a str>,
    /// `webhook-timestamp`.
    pub timestamp: Option<&'a str>,
    /// `webhook-signature`.
    pub signature: Option<&'a str>,
}

/// Why a request's signature is refused. The `reason` is the `reason` member of the 401
/// problem body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A header is missing (its name).
    MissingHeader(&'static str),
    /// `webhook-id` is empty, too long or not visible ASCII.
    MalformedId,
    /// `webhook-timestamp` is not unix seconds.
    MalformedTimestamp,
    /// The timestamp is more than the tolerance in the past.
    TimestampTooOld,
    /// The timestamp is more than the tolerance in the future.
    TimestampTooNew,
    /// `webhook-signature` is too long or holds no `v1,<base64>` entry.
    MalformedSignature,
    /// No `v1` entry matches the request.
    NoMatchingSignature,
}

impl Refusal {
    /// The stable PascalCase reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::MissingHeader(_) => "MissingHeader",
            Refusal::MalformedId => "MalformedId",
            Refusal::MalformedTimestamp => "MalformedTimestamp",
            Refusal::TimestampTooOld => "TimestampTooOld",
            Refusal::TimestampTooNew => "TimestampTooNew",
            Refusal::MalformedSignature => "MalformedSignature",
            Refusal::NoMatchingSignature => "NoMatchingSignature",
        }
    }

    /// A sentence for the problem's `detail` (no header value, no key).
    pub fn detail(&self, tolerance_seconds: i64) -> String {
        match self {
            Refusal::MissingHeader(name) => format!("the {name} header is missing"),
            Refusal::MalformedId => {
                format!("webhook-id must be 1 to {MAX_ID_LEN} visible ASCII characters")
            }
            Refusal::MalformedTimestamp => "webhook-timestamp must be unix seconds".into(),
            Refusal::TimestampTooOld => {
                format!("webhook-timestamp is more than {tolerance_seconds} seconds in the past")
            }
            Refusal::TimestampTooNew => {
                format!("webhook-timestamp is more than {tolerance_seconds} seconds in the future")
            }
            Refusal::MalformedSignature => {
                "webhook-signature holds no v1,<base64> signature".into()
            }
            Refusal::NoMatchingSignature => {
                "no v1 signature in webhook-signature matches the request".into()
            }
        }
    }
}

/// Verifies a request: the headers present and well formed, the timestamp within
/// `tolerance_seconds` of `now` (unix seconds) either way, and one `v1` signature of the
/// space-separated list equal (compared in constant time) to the HMAC of
/// `"{id}.{timestamp}.{body}"`. Entries of other versions are skipped. Returns the
/// `webhook-id`.
pub fn verify<'a>(
    key: &SigningKey,
    headers: SignatureHeaders<'a>,
    body: &[u8],
    now: i64,
    tolerance_seconds: i64,
) -> Result<&'a str, Refusal> {
    let id = headers.id.ok_or(Refusal::MissingHeader("webhook-id"))?;
    let timestamp = headers
        .timestamp
        .ok_or(Refusal::MissingHeader("webhook-timestamp"))?;
    let signature = headers
        .signature
        .ok_or(Refusal::MissingHeader("webhook-signature"))?;
    if id.is_empty() || id.len() > MAX_ID_LEN || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Refusal::MalformedId);
    }
    if timestamp.is_empty()
        || timestamp.len() > 18
        || !timestamp.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(Refusal::MalformedTimestamp);
    }
    let sent: i64 = timestamp.parse().map_err(|_| Refusal::MalformedTimestamp)?;
    if now - sent > tolerance_seconds {
        return Err(Refusal::TimestampTooOld);
    }
    if sent - now > tolerance_seconds {
        return Err(Refusal::TimestampTooNew);
    }
    if signature.len() > MAX_SIGNATURE_HEADER_LEN {
        return Err(Refusal::MalformedSignature);
    }
    let candidates: Vec<Vec<u8>> = signature
        .split_ascii_whitespace()
        .take(MAX_SIGNATURES)
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(|encoded| STANDARD.decode(encoded).ok())
        .collect();
    if candidates.is_empty() {
        return Err(Refusal::MalformedSignature);
    }
    let content = signed_content(id, timestamp, body);
    if candidates
        .iter()
        .any(|tag| hmac::verify(&key.0, &content, tag).is_ok())
    {
        Ok(id)
    } else {
        Err(Refusal::NoMatchingSignature)
    }
}

/// `"{id}.{timestamp}.{body}"`.
fn signed_content(id: &str, timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(id.len() + timestamp.len() + body.len() + 2);
    content.extend_from_slice(id.as_bytes());
    content.push(b'.');
    content.extend_from_slice(timestamp.as_bytes());
    content.push(b'.');
    content.extend_from_slice(body);
    content
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;
    const SECRET: &str = "a shared secret";
    /// `whsec_` + base64 of the bytes of `SECRET`.
    const WHSEC: &str = "whsec_YSBzaGFyZWQgc2VjcmV0";

    /// A known vector: HMAC-SHA256 over "msg_1.1700000000.{}" keyed by "a shared secret",
    /// computed independently (Python's hmac module).
    const KNOWN: &str = "v1,BHRJ0RKKHoWyhb0rfBUQCSwDCjU59KwoAsrWXyFF2P8=";

    fn key(secret: &str) -> SigningKey {
        SigningKey::from_secret(secret).unwrap()
    }

    #[test]
    fn the_known_vector_matches() {
        assert_eq!(key(SECRET).sign("msg_1", NOW, b"{}"), KNOWN);
        assert_eq!(key(WHSEC).sign("msg_1", NOW, b"{}"), KNOWN);
    }

    /// base64url(HMAC-SHA256("a shared secret", "exo-graph-client-state.v1." + Contoso's id)),
    /// computed independently (Python's hmac module).
    const CLIENT_STATE: &str = "UmOnQ8uKCy39XY9Rg4GpiTR8JZhNvzSsaJiI5AFTpRI";

    #[test]
    fn the_client_state_is_derived_from_the_lowercase_tenant_id() {
        let tenant = "5b1c6e8a-2f4d-4a7b-9c3e-1d2f3a4b5c6d";
        assert_eq!(key(SECRET).client_state(tenant), CLIENT_STATE);
        assert_eq!(
            key(WHSEC).client_state(&tenant.to_uppercase()),
            CLIENT_STATE
        );
        assert!(key(SECRET).verify_client_state(&tenant.to_uppercase(), CLIENT_STATE));
        let other = "0c9a7f3e-1b2d-4e5f-8a6b-7c8d9e0f1a2b";
        for (t, presented) in [
            (other, CLIENT_STATE),
            (tenant, &CLIENT_STATE[..42]),
            (tenant, "UmOnQ8uKCy39XY9Rg4GpiTR8JZhNvzSsaJiI5AFTpRI="),
            (tenant, "UmOnQ8uKCy39XY9Rg4GpiTR8JZhNvzSsaJiI5AFTpRJ"),
            (tenant, ""),
        ] {
            assert!(
                !key(SECRET).verify_client_state(t, presented),
                "{presented}"
            );
        }
        assert!(!key("another secret").verify_client_state(tenant, CLIENT_STATE));
    }

    #[test]
    fn verification_as_a_table() {
        let good = key(SECRET).sign("msg_1", NOW, b"{}");
        let wrong = key("another secret").sign("msg_1", NOW, b"{}");
        let old = key(SECRET).sign("msg_1", NOW - 301, b"{}");
        let new = key(SECRET).sign("msg_1", NOW + 301, b"{}");
        let edge = key(SECRET).sign("msg_1", NOW - 300, b"{}");
        let several = format!("v1,AAAA {wrong} v2,xyz {good}");
        let t = NOW.to_string();
        let (told, tnew, tedge) = (
            (NOW - 301).to_string(),
            (NOW + 301).to_string(),
            (NOW - 300).to_string(),
        );
        type Case<'a> = (
            &'a str,
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
            &'a [u8],
            Result<(), Refusal>,
        );
        let cases: Vec<Case> = vec![
            (
                "valid",
                SECRET,
                Some("msg_1"),
                Some(&t),
                Some(&good),
                b"{}",
                Ok(()),
            ),
            (
                "whsec_ form of the same key",
                WHSEC,
                Some("msg_1"),
                Some(&t),
                Some(&good),
                b"{}",
                Ok(()),
            ),
            (
                "several, one matches",
                SECRET,
                Some("msg_1"),
                Some(&t),
                Some(&several),
                b"{}",
                Ok(()),
            ),
            (
                "at the tolerance",
                SECRET,
                Some("msg_1"),
                Some(&tedge),
                Some(&edge),
                b"{}",
                Ok(()),
            ),
            (
                "wrong secret",
                SECRET,
                Some("msg_1"),
                Some(&t),
                Some(&wrong),
                b"{}",
                Err(Refusal::NoMatchingSignature),
            ),
            (
                "other body",
                SECRET,
                Some("msg_1"),
                Some(&t),
                Some(&good),
                b"{ }",
                Err(Refusal::NoMatchingSignature),
            ),
            (
                "other id",
                SECRET,
                Some("msg_2"),
                Some(&t),
                Some(&good),
                b"{}",
                Err(Refusal::NoMatchingSignature),
            ),
            (
                "too old",
                SECRET,
                Some("msg_1"),
                Some(&told),
                Some(&old),
                b"{}",
                Err(Refusal::TimestampTooOld),
            ),
            (
                "too new",
                SECRET,
                Some("msg_1"),
                Some(&tnew),
                Some(&new),
                b"{}",
                Err(Refusal::TimestampTooNew),
            ),
            (
                "no id",
                SECRET,
                None,
                Some(&t),
                Some(&good),
                b"{}",
                Err(Refusal::MissingHeader("webhook-id")),
            ),
            (
                "no timestamp",
                SECRET,
                Some("msg_1"),
                None,
                Some(&good),
                b"{}",
                Err(Refusal::MissingHeader("webhook-timestamp")),
            ),
            (
                "no signature",
                SECRET,
                Some("msg_1"),
                Some(&t),
                None,
                b"{}",
                Err(Refusal::MissingHeader("webhook-signature")),
            ),
            (
                "empty id",
                SECRET,
                Some(""),
                Some(&t),
                Some(&good),
                b"{}",
                Err(Refusal::MalformedId),
            ),
            (
                "id with a space",
                SECRET,
                Some("msg 1"),
                Some(&t),
                Some(&good),
                b"{}",
                Err(Refusal::MalformedId),
            ),
            (
                "timestamp in milliseconds form",
                SECRET,
                Some("msg_1"),
                Some("1700000000.5"),
                Some(&good),
                b"{}",
                Err(Refusal::MalformedTimestamp),
            ),
            (
                "negative timestamp",
                SECRET,
                Some("msg_1"),
                Some("-1"),
                Some(&good),
                b"{}",
                Err(Refusal::MalformedTimestamp),
            ),
            (
                "only another version",
                SECRET,
                Some("msg_1"),
                Some(&t),
                Some("v2,abc"),
                b"{}",
                Err(Refusal::MalformedSignature),
            ),
            (
                "not base64",
                SECRET,
                Some("msg_1"),
                Some(&t),
                Some("v1,***"),
                b"{}",
                Err(Refusal::MalformedSignature),
            ),
            (
                "bare base64 without version",
                SECRET,
                Some("msg_1"),
                Some(&t),
                Some(&good[3..]),
                b"{}",
                Err(Refusal::MalformedSignature),
            ),
        ];
        for (name, secret, id, timestamp, signature, body, expected) in cases {
            let headers = SignatureHeaders {
                id,
                timestamp,
                signature,
            };
            let got = verify(&key(secret), headers, body, NOW, 300).map(|_| ());
            assert_eq!(got, expected, "{name}");
        }
    }

    #[test]
    fn an_oversized_header_is_refused_before_decoding() {
        let long = "v1,AAAA ".repeat(MAX_SIGNATURE_HEADER_LEN / 8 + 1);
        let t = NOW.to_string();
        let headers = SignatureHeaders {
            id: Some("msg_1"),
            timestamp: Some(&t),
            signature: Some(&long),
        };
        assert_eq!(
            verify(&key(SECRET), headers, b"", NOW, 300),
            Err(Refusal::MalformedSignature)
        );
    }

    #[test]
    fn bad_secrets_are_refused_without_quoting_them() {
        let err = SigningKey::from_secret("whsec_!!!not-base64").unwrap_err();
        assert!(!err.contains("not-base64"), "{err}");
        assert!(SigningKey::from_secret("").is_err());
        assert!(SigningKey::from_secret("whsec_").is_err());
        assert_eq!(format!("{:?}", key(SECRET)), "SigningKey(<redacted>)");
    }

    #[test]
    fn details_name_the_cause_and_never_a_value() {
        for refusal in [
            Refusal::MissingHeader("webhook-id"),
            Refusal::TimestampTooOld,
            Refusal::NoMatchingSignature,
        ] {
            let detail = refusal.detail(300);
            assert!(!detail.contains(SECRET));
            assert!(!refusal.reason().contains(' '));
        }
        assert!(Refusal::TimestampTooOld.detail(300).contains("300 seconds"));
    }
}
