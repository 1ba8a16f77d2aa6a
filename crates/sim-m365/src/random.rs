//! Random identifiers the simulator hands out: object GUIDs, opaque tokens and device-login
//! user codes; and the GUID layout shared with ids derived from a digest.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};

/// `N` random bytes.
fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    let _ = SystemRandom::new().fill(&mut bytes);
    bytes
}

/// A random (version 4) GUID.
pub fn guid() -> String {
    let mut bytes = random_bytes::<16>();
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    version4_guid(bytes)
}

/// Formats 16 bytes as a version-4 GUID (the version nibble is set, the variant bits are the
/// caller's).
pub fn version4_guid(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    let h: String = bytes.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A random opaque token of `bytes` bytes, base64url.
pub fn opaque(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    let _ = SystemRandom::new().fill(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// A device-login user code: nine characters without look-alikes (no I, O, 0 or 1).
pub fn user_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    random_bytes::<9>()
        .iter()
        .map(|x| ALPHABET[*x as usize % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_are_version_4() {
        let g = guid();
        assert_eq!(g.len(), 36);
        assert_eq!(&g[14..15], "4");
        assert!(matches!(&g[19..20], "8" | "9" | "a" | "b"), "{g}");
        assert_eq!(user_code().len(), 9);
    }
}
