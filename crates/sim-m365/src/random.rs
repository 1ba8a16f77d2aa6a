//! Random values of the simulator's own: device-login user codes. GUIDs and opaque tokens come
//! from [`exo_sim_http::ids`].

use ring::rand::{SecureRandom, SystemRandom};

/// A device-login user code: nine characters without look-alikes (no I, O, 0 or 1).
pub fn user_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 9];
    let _ = SystemRandom::new().fill(&mut bytes);
    bytes
        .iter()
        .map(|x| ALPHABET[*x as usize % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_avoid_look_alikes() {
        let code = user_code();
        assert_eq!(code.len(), 9);
        assert!(!code.contains(['I', 'O', '0', '1']), "{code}");
    }
}
