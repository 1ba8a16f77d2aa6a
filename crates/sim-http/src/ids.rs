//! Random identifiers the stand-ins hand out: version-4 UUIDs (Kubernetes `metadata.uid`,
//! Microsoft object ids and GUIDs) and opaque URL-safe tokens (bearer tokens, codes).
//!
//! The bytes come from the system's secure random generator (`ring::rand::SystemRandom`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};

/// A random version-4 UUID in its lowercase text form
/// (`xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`, `y` one of `8`, `9`, `a`, `b`).
///
/// Should the system's generator fail (it does not on supported platforms), the UUID is built
/// from zero bytes rather than failing: callers use it for names, not for secrets.
pub fn uuid_v4() -> String {
    let mut bytes = [0u8; 16];
    let _ = SystemRandom::new().fill(&mut bytes);
    format_uuid_v4(bytes)
}

/// Formats 16 bytes as a version-4 UUID: sets the version (4) and variant (RFC 4122) bits,
/// then writes the bytes as lowercase hex in 8-4-4-4-12 groups. Deterministic, for tests.
pub fn format_uuid_v4(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// `len` random bytes as unpadded URL-safe base64: an opaque token fit for a bearer token.
/// Fails only when the system's generator does (a token must never be predictable).
pub fn opaque_token(len: usize) -> anyhow::Result<String> {
    let mut bytes = vec![0u8; len];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("no randomness"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_carry_version_and_variant_bits() {
        assert_eq!(
            format_uuid_v4([0xff; 16]),
            "ffffffff-ffff-4fff-bfff-ffffffffffff"
        );
        assert_eq!(
            format_uuid_v4([0; 16]),
            "00000000-0000-4000-8000-000000000000"
        );
        let id = uuid_v4();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, uuid_v4());
    }

    #[test]
    fn tokens_are_url_safe_and_unpadded() {
        let token = opaque_token(24).unwrap();
        assert_eq!(token.len(), 32);
        assert!(
            token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }
}
