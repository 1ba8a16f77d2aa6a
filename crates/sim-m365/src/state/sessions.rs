//! What the identity platform remembers between requests: issued refresh tokens, pending
//! device-code prompts and issued authorization codes.

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
    /// Tenant id; empty until a user approves a prompt opened through `common` or
    /// `organizations` (the user's tenant is then the prompt's).
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

/// An issued authorization code: who signed in where, for what, where the code was sent, and
/// the PKCE challenge it must be redeemed with.
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
    /// The scope of the authorization request.
    pub scope: String,
    /// The PKCE `code_challenge` (empty without PKCE).
    pub code_challenge: String,
    /// The PKCE `code_challenge_method`: `S256` or `plain`.
    pub code_challenge_method: String,
    /// The `nonce` of the request, repeated in the ID token (empty when none was sent).
    pub nonce: String,
    /// Expiry (codes live about ten minutes).
    pub expires: jiff::Timestamp,
    /// Whether it was redeemed (a code is redeemed once: AADSTS54005 after).
    pub redeemed: bool,
}
