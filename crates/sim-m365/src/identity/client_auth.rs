//! Client authentication at the token endpoint: a client secret (in the body or HTTP Basic) or
//! a certificate-signed client assertion (RS256 or PS256), with the identity platform's errors.

use axum::http::{HeaderMap, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rustls_pki_types::{CertificateDer, SignatureVerificationAlgorithm};
use serde_json::Value;

use super::TenantCall;
use crate::errors::aad;
use crate::jwt;
use crate::state::{App, Certificate, Tenant, World};
use crate::urlencoding;

/// How far in the future an assertion's `nbf` may be (clock skew), seconds.
const NOT_BEFORE_SKEW: i64 = 300;

/// The decoded `user:password` of an HTTP Basic `Authorization` header.
fn basic_auth(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
}

/// The client id of an HTTP Basic `Authorization` header.
pub(super) fn basic_client_id(headers: &HeaderMap) -> Option<String> {
    let raw = basic_auth(headers)?;
    let id = raw.split_once(':').map(|(id, _)| id).unwrap_or(&raw);
    urlencoding::decode(id)
}

/// The client secret of an HTTP Basic `Authorization` header (both parts must decode).
fn basic_secret(headers: &HeaderMap) -> Option<String> {
    let raw = basic_auth(headers)?;
    let (id, secret) = raw.split_once(':')?;
    urlencoding::decode(id)?;
    urlencoding::decode(secret)
}

/// Verifies the client's credential (secret in the body or HTTP Basic, or a certificate
/// assertion for the token endpoint the request was sent to). `required` is false for
/// public-client grants. Returns how the client authenticated, as the `appidacr` claim says it:
/// `0` public client, `1` secret, `2` certificate.
pub(super) fn authenticate(
    world: &mut World,
    app: &App,
    call: &TenantCall,
    tenant: &Tenant,
    required: bool,
) -> Result<&'static str, Response> {
    let now = world.now();
    let form = &call.params;
    let secret = form
        .get("client_secret")
        .cloned()
        .or_else(|| basic_secret(&call.headers));
    if let Some(secret) = secret {
        return check_secret(app, &secret, now).map(|()| "1");
    }
    if let Some(assertion) = form.get("client_assertion") {
        if form.get("client_assertion_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        {
            return Err(aad(
                400,
                "invalid_request",
                50027,
                "Invalid client_assertion_type.",
            ));
        }
        return check_assertion(app, tenant, &call.tenant_name, assertion, now).map(|()| "2");
    }
    if required {
        return Err(aad(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ));
    }
    Ok("0")
}

/// A registered, unexpired secret of `app`.
fn check_secret(app: &App, secret: &str, now: jiff::Timestamp) -> Result<(), Response> {
    match app.secrets.iter().find(|s| s.value == secret) {
        Some(s) if s.expires.is_some_and(|e| e <= now) => Err(aad(
            401,
            "invalid_client",
            7000222,
            &format!(
                "The provided client secret keys for app '{}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.",
                app.client_id
            ),
        )),
        Some(_) => Ok(()),
        None => Err(aad(
            401,
            "invalid_client",
            7000215,
            &format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                app.client_id
            ),
        )),
    }
}

/// A client assertion signed by a registered certificate, for the token endpoint of this tenant
/// (or of the authority `realm` the request named, such as `organizations`), issued by the client, in its
/// validity window (reusable within it, as MSAL reuses it).
fn check_assertion(
    app: &App,
    tenant: &Tenant,
    realm: &str,
    assertion: &str,
    now: jiff::Timestamp,
) -> Result<(), Response> {
    let invalid_client =
        |code: u64, description: &str| aad(401, "invalid_client", code, description);
    let Some((header, claims)) = jwt::decode(assertion) else {
        return Err(invalid_client(50027, "JWT token is invalid or malformed."));
    };
    let cert = signing_certificate(app, &header)?;
    if !signature_verifies(assertion, cert, &header)? {
        return Err(invalid_client(
            700027,
            "Client assertion contains an invalid signature.",
        ));
    }
    let claim = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or("");
    let aud = claim("aud");
    let for_realm = |seg: &str| tenant.is(seg) || realm.eq_ignore_ascii_case(seg);
    if !(aud.ends_with("/oauth2/v2.0/token") && aud.split('/').any(for_realm)) {
        return Err(invalid_client(
            700021,
            &format!(
                "Client assertion audience claim does not match Realm issuer. Review the documentation at https://aka.ms/certCreds . Audience: '{aud}'."
            ),
        ));
    }
    if !claim("iss").eq_ignore_ascii_case(&app.client_id)
        || !claim("sub").eq_ignore_ascii_case(&app.client_id)
    {
        return Err(invalid_client(
            700023,
            "Client assertion issuer and subject must be the client id.",
        ));
    }
    let secs = now.as_second();
    // NumericDate (RFC 7519): seconds, which clients may send with a fraction (MSAL does).
    let time = |name: &str| {
        claims
            .get(name)
            .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f.floor() as i64)))
            .unwrap_or(0)
    };
    if time("exp") <= secs || time("nbf") > secs + NOT_BEFORE_SKEW {
        return Err(invalid_client(
            700024,
            "Client assertion is not within its valid time range.",
        ));
    }
    // Entra accepts an assertion again within its validity (MSAL signs one and reuses it until
    // it nears expiry): the token endpoint does not track jti.
    Ok(())
}

/// The bytes of a certificate thumbprint as clients write it: base64url or base64, padded or
/// not (MSAL pads), or hex.
fn thumbprint_bytes(text: &str) -> Option<Vec<u8>> {
    let unpadded = text.trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(unpadded)
        .ok()
        .or_else(|| STANDARD.decode(text).ok())
        .filter(|b| b.len() == 20 || b.len() == 32)
        .or_else(|| {
            (text.len().is_multiple_of(2) && text.chars().all(|c| c.is_ascii_hexdigit()))
                .then(|| {
                    (0..text.len())
                        .step_by(2)
                        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
                        .collect::<Option<Vec<u8>>>()
                })
                .flatten()
        })
}

/// The certificate of `app` whose thumbprint (`x5t#S256` or `x5t`) the assertion names.
fn signing_certificate<'a>(app: &'a App, header: &Value) -> Result<&'a Certificate, Response> {
    let thumb_s256 = header.get("x5t#S256").and_then(Value::as_str);
    let thumb_sha1 = header.get("x5t").and_then(Value::as_str);
    let same = |sent: Option<&str>, registered: &str| {
        sent.and_then(thumbprint_bytes)
            .is_some_and(|b| Some(b) == thumbprint_bytes(registered))
    };
    app.certificates
        .iter()
        .find(|c| same(thumb_s256, &c.s256) || same(thumb_sha1, &c.sha1))
        .ok_or_else(|| {
            aad(
                401,
                "invalid_client",
                700027,
                &format!(
                    "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{}'.]",
                    thumb_s256.or(thumb_sha1).unwrap_or(""),
                    app.client_id
                ),
            )
        })
}

/// Whether the assertion's signature verifies with the certificate's key; an error for an
/// unsupported algorithm.
fn signature_verifies(
    assertion: &str,
    cert: &Certificate,
    header: &Value,
) -> Result<bool, Response> {
    let alg: &dyn SignatureVerificationAlgorithm = match header.get("alg").and_then(Value::as_str) {
        Some("RS256") => webpki::ring::RSA_PKCS1_2048_8192_SHA256,
        Some("PS256") => webpki::ring::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
        _ => {
            return Err(aad(
                401,
                "invalid_client",
                5002738,
                "The client assertion uses an unsupported signing algorithm; use RS256 or PS256.",
            ));
        }
    };
    let der = CertificateDer::from(cert.der.clone());
    let verified = (|| {
        let (input, sig) = assertion.rsplit_once('.')?;
        let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
        let ee = webpki::EndEntityCert::try_from(&der).ok()?;
        ee.verify_signature(alg, input.as_bytes(), &sig).ok()
    })();
    Ok(verified.is_some())
}

#[cfg(test)]
mod tests {
    use super::thumbprint_bytes;

    #[test]
    fn thumbprints_are_read_in_every_encoding_clients_send() {
        // The SHA-1 thumbprint of tests/fixtures/app-cert.pem, as MSAL (padded), the operator
        // (base64url) and the Azure portal (hex) write it.
        let bytes = thumbprint_bytes("X9tGrN_1TZTNoOfaSY2lviMAMwU").unwrap();
        assert_eq!(bytes.len(), 20);
        for sent in [
            "X9tGrN_1TZTNoOfaSY2lviMAMwU=",
            "X9tGrN/1TZTNoOfaSY2lviMAMwU=",
            "5fdb46acdff54d94cda0e7da498da5be23003305",
        ] {
            let hex_of = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
            assert_eq!(
                thumbprint_bytes(sent).map(|b| hex_of(&b)),
                Some(hex_of(&bytes)),
                "{sent}"
            );
        }
        assert_eq!(thumbprint_bytes("not a thumbprint"), None);
    }
}
