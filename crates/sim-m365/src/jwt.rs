//! The simulator's token signing: RS256 JWTs with a fixed key (public on purpose: it signs
//! simulated tokens only), published as a JWKS, and verified by the simulated APIs.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{self, RsaKeyPair, UnparsedPublicKey};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use serde_json::{Value, json};

/// Key id in token headers and the JWKS.
pub const KEY_ID: &str = "exo-sim-1";

/// The signing key.
pub struct Signer {
    key: RsaKeyPair,
}

impl Default for Signer {
    fn default() -> Self {
        Self::new()
    }
}

impl Signer {
    /// The simulator's key.
    pub fn new() -> Self {
        let pem = include_bytes!("signing-key.pem");
        let der = match PrivateKeyDer::from_pem_slice(pem).expect("the embedded key is PEM") {
            PrivateKeyDer::Pkcs8(k) => k,
            _ => panic!("the embedded key is PKCS#8"),
        };
        Self {
            key: RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).expect("the embedded key is RSA"),
        }
    }

    /// Signs `claims` as an RS256 JWT.
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({"typ": "JWT", "alg": "RS256", "kid": KEY_ID, "x5t": KEY_ID});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut sig = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .expect("signing cannot fail");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    /// Verifies a token issued by [`Signer::sign`] and returns its claims.
    pub fn verify(&self, token: &str) -> Option<Value> {
        let (input, sig) = token.rsplit_once('.')?;
        let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
        UnparsedPublicKey::new(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            self.key.public().as_ref(),
        )
        .verify(input.as_bytes(), &sig)
        .ok()?;
        let payload = input.split('.').nth(1)?;
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
    }

    /// The JWKS document.
    pub fn jwks(&self) -> Value {
        let parts = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(self.key.public());
        let (n, e) = (parts.n, parts.e);
        json!({"keys": [{
            "kty": "RSA", "use": "sig", "kid": KEY_ID, "x5t": KEY_ID,
            "n": URL_SAFE_NO_PAD.encode(n), "e": URL_SAFE_NO_PAD.encode(e),
        }]})
    }
}

/// Decodes a JWT's header and claims without verifying (client assertions).
pub fn decode(token: &str) -> Option<(Value, Value)> {
    let mut parts = token.split('.');
    let h = URL_SAFE_NO_PAD.decode(parts.next()?).ok()?;
    let c = URL_SAFE_NO_PAD.decode(parts.next()?).ok()?;
    Some((
        serde_json::from_slice(&h).ok()?,
        serde_json::from_slice(&c).ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_tokens_verify_and_tampered_ones_do_not() {
        let s = Signer::new();
        let t = s.sign(&json!({"aud": "https://graph.microsoft.com", "roles": ["User.Read.All"]}));
        assert_eq!(s.verify(&t).unwrap()["roles"][0], "User.Read.All");
        let (head, _) = t.rsplit_once('.').unwrap();
        assert!(s.verify(&format!("{head}.AAAA")).is_none());
        assert_eq!(s.jwks()["keys"][0]["kid"], KEY_ID);
    }
}
