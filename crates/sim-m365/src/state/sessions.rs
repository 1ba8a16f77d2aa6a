//! What the identity platform remembers between requests: issued refresh tokens and pending
//! device-code prompts.

/// An issued refresh token.
#[derive(Clone, Debug)]
pub struct RefreshToken {
    /// Tenant id.
    pub tenant: String,
    /// Client id.
    pub client_id: String,
    /// Signed-in user (UPN).
    pub user: String,
    /// Expiry (sliding: renewed on use).
    pub expires: jiff::Timestamp,
    /// Revoked.
    pub revoked: bool,
}

/// A device-code prompt.
#[derive(Clone, Debug)]
pub struct DeviceCode {
    /// The device code.
    pub device_code: String,
    /// The user code.
    pub user_code: String,
    /// Tenant id.
    pub tenant: String,
    /// Client id.
    pub client_id: String,
    /// Scope requested.
    pub scope: String,
    /// Expiry.
    pub expires: jiff::Timestamp,
    /// Poll interval.
    pub interval: u64,
    /// Last poll.
    pub last_poll: Option<jiff::Timestamp>,
    /// `pending`, `approved:<upn>`, `declined`, `expired`, `redeemed`.
    pub state: String,
}

/// An issued authorization code: who signed in where, and where the code was sent.
#[derive(Clone, Debug)]
pub struct AuthorizationCode {
    /// Tenant id.
    pub tenant: String,
    /// Client id.
    pub client_id: String,
    /// Signed-in user (UPN).
    pub user: String,
    /// The redirect URI the code was sent to.
    pub redirect_uri: String,
}
