//! Plumbing the stand-ins share: a throw-away local certificate authority, serving an axum
//! router over plain HTTP or TLS until shut down (in the background, with [`running`]), and
//! random identifiers ([`ids`]).

pub mod ids;
pub mod running;
pub mod serve;
pub mod tls;

/// Installs ring as the process's rustls crypto provider (a no-op when one is installed).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
