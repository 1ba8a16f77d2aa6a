//! The application's credential, read from the Secret named in `spec.application.credentials`:
//! a client secret, or a certificate with its RSA private key (PEM). Nothing here ever prints
//! the secret or the key; `Debug` shows only the kind and a fingerprint.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest;
use ring::signature::RsaKeyPair;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use secrecy::{ExposeSecret, SecretString};
use thiserror::Error;

use exo_api::exchange_service_account::{CredentialType, Credentials};

/// Why the credentials Secret cannot be used. Messages name the Secret key, never its value.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CredentialError {
    /// A key the spec names is absent from the Secret.
    #[error(
        "Secret {secret} has no key {key:?}; add it or set the key name in spec.application.credentials"
    )]
    MissingKey {
        /// Secret name.
        secret: String,
        /// Missing key.
        key: String,
    },
    /// The value is empty or not UTF-8 text.
    #[error("Secret {secret} key {key:?} is empty or not UTF-8 text")]
    NotText {
        /// Secret name.
        secret: String,
        /// Offending key.
        key: String,
    },
    /// The certificate is not PEM.
    #[error("Secret {secret} key {key:?} holds no PEM certificate")]
    Certificate {
        /// Secret name.
        secret: String,
        /// Offending key.
        key: String,
    },
    /// The private key is not a PEM RSA key (PKCS#8 or PKCS#1).
    #[error("Secret {secret} key {key:?} holds no PEM RSA private key (PKCS#8 or PKCS#1 expected)")]
    PrivateKey {
        /// Secret name.
        secret: String,
        /// Offending key.
        key: String,
    },
    /// The private key does not belong to the certificate.
    #[error("Secret {secret}: the private key does not match the certificate's public key")]
    KeyMismatch {
        /// Secret name.
        secret: String,
    },
}

/// What is wrong with a certificate and key pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PemProblem {
    /// No PEM certificate.
    Certificate,
    /// No PEM RSA private key.
    Key,
    /// The key does not belong to the certificate.
    Mismatch,
}

/// A certificate credential: the certificate's SHA-256 thumbprint and the RSA signing key.
#[derive(Clone)]
pub struct CertificateCredential {
    /// `x5t#S256` header value: base64url SHA-256 of the certificate's DER.
    pub thumbprint_s256: String,
    key: Arc<RsaKeyPair>,
}

impl CertificateCredential {
    /// Parses a PEM certificate (the first in the file is the application's) and its private
    /// key, and checks that they belong together.
    pub fn from_pem(certificate_pem: &[u8], key_pem: &[u8]) -> Result<Self, PemProblem> {
        let cert = CertificateDer::pem_slice_iter(certificate_pem)
            .next()
            .and_then(Result::ok)
            .ok_or(PemProblem::Certificate)?;
        let key = match PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| PemProblem::Key)? {
            PrivateKeyDer::Pkcs8(der) => RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(der) => RsaKeyPair::from_der(der.secret_pkcs1_der()),
            _ => return Err(PemProblem::Key),
        }
        .map_err(|_| PemProblem::Key)?;
        // The certificate's SubjectPublicKeyInfo carries the RSAPublicKey DER as is.
        let public = key.public().as_ref();
        if !cert.as_ref().windows(public.len()).any(|w| w == public) {
            return Err(PemProblem::Mismatch);
        }
        Ok(Self {
            thumbprint_s256: URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, cert.as_ref())),
            key: Arc::new(key),
        })
    }

    /// The RSA key pair that signs client assertions.
    pub fn key(&self) -> &RsaKeyPair {
        &self.key
    }
}

/// The application's credential.
#[derive(Clone)]
pub enum ClientCredential {
    /// A client secret.
    Secret(SecretString),
    /// A certificate and its private key.
    Certificate(CertificateCredential),
}

impl fmt::Debug for ClientCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Secret(_) => write!(f, "ClientSecret({})", self.fingerprint()),
            Self::Certificate(c) => write!(f, "Certificate(x5t#S256={})", c.thumbprint_s256),
        }
    }
}

impl ClientCredential {
    /// Reads the credential the spec describes from the Secret's data.
    pub fn from_secret(
        spec: &Credentials,
        data: &BTreeMap<String, Vec<u8>>,
    ) -> Result<Self, CredentialError> {
        let secret = spec.secret_name.clone();
        let get = |key: &str| -> Result<&[u8], CredentialError> {
            match data.get(key) {
                Some(v) if !v.is_empty() => Ok(v.as_slice()),
                Some(_) => Err(CredentialError::NotText {
                    secret: secret.clone(),
                    key: key.to_string(),
                }),
                None => Err(CredentialError::MissingKey {
                    secret: secret.clone(),
                    key: key.to_string(),
                }),
            }
        };
        match spec.type_ {
            CredentialType::ClientSecret => {
                let key = spec.client_secret_key();
                let text = std::str::from_utf8(get(key)?)
                    .map(str::trim)
                    .ok()
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| CredentialError::NotText {
                        secret: secret.clone(),
                        key: key.to_string(),
                    })?;
                Ok(Self::Secret(SecretString::from(text.to_string())))
            }
            CredentialType::Certificate => {
                let cert_key = spec.certificate_key();
                let key_key = spec.private_key_key();
                let cert = get(cert_key)?;
                let key = get(key_key)?;
                CertificateCredential::from_pem(cert, key)
                    .map(Self::Certificate)
                    .map_err(|problem| match problem {
                        PemProblem::Certificate => CredentialError::Certificate {
                            secret: secret.clone(),
                            key: cert_key.to_string(),
                        },
                        PemProblem::Mismatch => CredentialError::KeyMismatch {
                            secret: secret.clone(),
                        },
                        PemProblem::Key => CredentialError::PrivateKey {
                            secret: secret.clone(),
                            key: key_key.to_string(),
                        },
                    })
            }
        }
    }

    /// A short, one-way fingerprint of the credential, to key token caches so that a rotated
    /// credential never reuses a token obtained with the old one. Safe to log.
    pub fn fingerprint(&self) -> String {
        let digest = match self {
            Self::Secret(s) => digest::digest(&digest::SHA256, s.expose_secret().as_bytes()),
            Self::Certificate(c) => digest::digest(&digest::SHA256, c.thumbprint_s256.as_bytes()),
        };
        digest.as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &[u8] = include_bytes!("../../../tests/fixtures/app-cert.pem");
    const KEY: &[u8] = include_bytes!("../../../tests/fixtures/app-key.pem");
    const KEY_PKCS1: &[u8] = include_bytes!("../../../tests/fixtures/app-key-pkcs1.pem");
    const OTHER_KEY: &[u8] = include_bytes!("../../../tests/fixtures/other-key.pem");

    fn spec(type_: CredentialType) -> Credentials {
        Credentials {
            type_,
            secret_name: "app".into(),
            client_secret_key: None,
            certificate_key: None,
            private_key_key: None,
        }
    }

    fn data(pairs: &[(&str, &[u8])]) -> BTreeMap<String, Vec<u8>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_vec()))
            .collect()
    }

    #[test]
    fn reads_a_client_secret_and_never_prints_it() {
        let cred = ClientCredential::from_secret(
            &spec(CredentialType::ClientSecret),
            &data(&[("client-secret", b"s3cr3t-value\n")]),
        )
        .unwrap();
        let shown = format!("{cred:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        match cred {
            ClientCredential::Secret(s) => assert_eq!(s.expose_secret(), "s3cr3t-value"),
            _ => panic!("expected a secret"),
        }
    }

    #[test]
    fn names_the_missing_or_empty_key() {
        let err = ClientCredential::from_secret(&spec(CredentialType::ClientSecret), &data(&[]))
            .unwrap_err();
        assert!(err.to_string().contains("\"client-secret\""), "{err}");
        let err = ClientCredential::from_secret(
            &spec(CredentialType::ClientSecret),
            &data(&[("client-secret", b"  ")]),
        )
        .unwrap_err();
        assert!(matches!(err, CredentialError::NotText { .. }));
    }

    #[test]
    fn reads_a_certificate_with_a_pkcs8_or_pkcs1_key() {
        for key in [KEY, KEY_PKCS1] {
            let cred = ClientCredential::from_secret(
                &spec(CredentialType::Certificate),
                &data(&[("tls.crt", CERT), ("tls.key", key)]),
            )
            .unwrap();
            let ClientCredential::Certificate(c) = &cred else {
                panic!("expected a certificate")
            };
            assert_eq!(c.thumbprint_s256.len(), 43);
            assert!(!format!("{cred:?}").contains("PRIVATE"));
        }
    }

    #[test]
    fn rejects_garbage_and_mismatched_keys() {
        let err = ClientCredential::from_secret(
            &spec(CredentialType::Certificate),
            &data(&[("tls.crt", b"not pem"), ("tls.key", KEY)]),
        )
        .unwrap_err();
        assert!(matches!(err, CredentialError::Certificate { .. }), "{err}");
        let err = ClientCredential::from_secret(
            &spec(CredentialType::Certificate),
            &data(&[("tls.crt", CERT), ("tls.key", b"nope")]),
        )
        .unwrap_err();
        assert!(matches!(err, CredentialError::PrivateKey { .. }), "{err}");
        let err = ClientCredential::from_secret(
            &spec(CredentialType::Certificate),
            &data(&[("tls.crt", CERT), ("tls.key", OTHER_KEY)]),
        )
        .unwrap_err();
        assert!(matches!(err, CredentialError::KeyMismatch { .. }), "{err}");
    }

    #[test]
    fn fingerprints_differ_per_credential() {
        let a = ClientCredential::Secret(SecretString::from("a".to_string()));
        let b = ClientCredential::Secret(SecretString::from("b".to_string()));
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint().len(), 16);
    }
}
