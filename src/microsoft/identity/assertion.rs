//! Client assertions: the signed JWT a certificate credential presents to the token endpoint
//! instead of a secret (`client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`).
//! Signed with PS256 and identified by the certificate's SHA-256 thumbprint (`x5t#S256`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::RSA_PSS_SHA256;
use serde_json::json;

use super::credential::CertificateCredential;

/// The `client_assertion_type` of a JWT client assertion.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How long an assertion is valid. Microsoft accepts up to ten minutes of lifetime.
pub const LIFETIME_SECONDS: i64 = 600;

/// Builds and signs a client assertion for `client_id` at `token_url`, valid from `now`.
pub fn client_assertion(
    cert: &CertificateCredential,
    client_id: &str,
    token_url: &str,
    now: jiff::Timestamp,
) -> Result<String, ring::error::Unspecified> {
    let rng = SystemRandom::new();
    let mut jti = [0u8; 16];
    rng.fill(&mut jti)?;
    let issued = now.as_second();
    let header = json!({"alg": "PS256", "typ": "JWT", "x5t#S256": cert.thumbprint_s256});
    let claims = json!({
        "aud": token_url,
        "iss": client_id,
        "sub": client_id,
        "jti": uuid_like(&jti),
        "iat": issued,
        "nbf": issued,
        "exp": issued + LIFETIME_SECONDS,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut signature = vec![0u8; cert.key().public().modulus_len()];
    cert.key().sign(
        &RSA_PSS_SHA256,
        &rng,
        signing_input.as_bytes(),
        &mut signature,
    )?;
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

/// Formats 16 random bytes as a version-4 UUID string.
fn uuid_like(bytes: &[u8; 16]) -> String {
    let mut b = *bytes;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut out = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        // Hyphens split the 16 bytes into groups of 4, 2, 2, 2 and 6.
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{RSA_PSS_2048_8192_SHA256, UnparsedPublicKey};

    const CERT: &[u8] = include_bytes!("../../../tests/fixtures/app-cert.pem");
    const KEY: &[u8] = include_bytes!("../../../tests/fixtures/app-key.pem");

    fn part(jwt: &str, i: usize) -> serde_json::Value {
        let raw = URL_SAFE_NO_PAD
            .decode(jwt.split('.').nth(i).unwrap())
            .unwrap();
        serde_json::from_slice(&raw).unwrap()
    }

    #[test]
    fn assertion_has_the_claims_microsoft_checks_and_a_valid_signature() {
        let cert = CertificateCredential::from_pem(CERT, KEY).unwrap();
        let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        let url = "https://login.microsoftonline.com/contoso.com/oauth2/v2.0/token";
        let jwt = client_assertion(&cert, "app-id", url, now).unwrap();
        let header = part(&jwt, 0);
        assert_eq!(header["alg"], "PS256");
        assert_eq!(header["x5t#S256"], cert.thumbprint_s256.as_str());
        let claims = part(&jwt, 1);
        assert_eq!(claims["aud"], url);
        assert_eq!(claims["iss"], "app-id");
        assert_eq!(claims["sub"], "app-id");
        assert_eq!(claims["exp"], 1_800_000_600);
        assert_eq!(claims["nbf"], 1_800_000_000);
        assert_eq!(claims["jti"].as_str().unwrap().len(), 36);

        let (input, sig) = jwt.rsplit_once('.').unwrap();
        let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        let public = cert.key().public().as_ref().to_vec();
        UnparsedPublicKey::new(&RSA_PSS_2048_8192_SHA256, public)
            .verify(input.as_bytes(), &sig)
            .expect("signature verifies with the certificate's key");
    }

    #[test]
    fn every_assertion_has_a_fresh_jti() {
        let cert = CertificateCredential::from_pem(CERT, KEY).unwrap();
        let now = jiff::Timestamp::now();
        let a = client_assertion(&cert, "id", "u", now).unwrap();
        let b = client_assertion(&cert, "id", "u", now).unwrap();
        assert_ne!(part(&a, 1)["jti"], part(&b, 1)["jti"]);
    }

    #[test]
    fn uuids_are_version_4_in_five_groups() {
        assert_eq!(
            uuid_like(&[0xff; 16]),
            "ffffffff-ffff-4fff-bfff-ffffffffffff"
        );
        assert_eq!(uuid_like(&[0; 16]), "00000000-0000-4000-8000-000000000000");
    }
}
