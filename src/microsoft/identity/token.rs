//! Access tokens as the operator holds them: the bearer value kept secret (a redacted `Debug`,
//! never logged), its expiry, and the few claims the controller reads to detect consent and
//! role assignment. Claims are decoded without verifying the signature: the token comes
//! straight from the token endpoint over TLS, and the claims only inform status, never trust.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Refresh at the latest this long before expiry.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// The claims of an access token the operator reads.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct TokenClaims {
    /// Application permissions (app roles) granted to the application on this resource.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Directory role template ids held by the caller (e.g. Exchange Administrator).
    #[serde(default)]
    pub wids: Vec<String>,
    /// Delegated scopes, space separated (device-code tokens).
    #[serde(default)]
    pub scp: Option<String>,
    /// Tenant id.
    #[serde(default)]
    pub tid: Option<String>,
    /// Object id of the caller (the service principal for app-only tokens).
    #[serde(default)]
    pub oid: Option<String>,
    /// Application (client) id, in v1.0 tokens.
    #[serde(default)]
    pub appid: Option<String>,
    /// Application (client) id, in v2.0 tokens.
    #[serde(default)]
    pub azp: Option<String>,
    /// Expiry, seconds since the epoch.
    #[serde(default)]
    pub exp: Option<i64>,
}

impl TokenClaims {
    /// Decodes the payload of a JWT without verifying it; `None` when it is not a JWT.
    pub fn decode_unverified(jwt: &str) -> Option<Self> {
        let payload = jwt.split('.').nth(1)?;
        let raw = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
        serde_json::from_slice(&raw).ok()
    }

    /// The application (client) id, from either token version.
    pub fn app_id(&self) -> Option<&str> {
        self.appid.as_deref().or(self.azp.as_deref())
    }

    /// The delegated scopes as a list.
    pub fn scopes(&self) -> Vec<&str> {
        self.scp
            .as_deref()
            .map(|s| s.split_whitespace().collect())
            .unwrap_or_default()
    }
}

/// An access token for one resource.
#[derive(Clone)]
pub struct AccessToken {
    secret: Arc<SecretString>,
    /// When it was obtained.
    pub issued_at: jiff::Timestamp,
    /// When it expires (the earlier of `expires_in` and the `exp` claim).
    pub expires_at: jiff::Timestamp,
    /// The claims the operator reads.
    pub claims: TokenClaims,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .field("roles", &self.claims.roles)
            .field("wids", &self.claims.wids)
            .finish()
    }
}

impl AccessToken {
    /// A token obtained at `now` that the endpoint says lives `expires_in`.
    pub fn new(value: String, expires_in: Option<Duration>, now: jiff::Timestamp) -> Self {
        let claims = TokenClaims::decode_unverified(&value).unwrap_or_default();
        let by_lifetime = expires_in.and_then(|d| {
            now.checked_add(jiff::SignedDuration::try_from(d).ok()?)
                .ok()
        });
        let by_claim = claims
            .exp
            .and_then(|s| jiff::Timestamp::from_second(s).ok());
        let expires_at = match (by_lifetime, by_claim) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            // Microsoft always sends one; an hour is its usual lifetime.
            (None, None) => now + jiff::SignedDuration::from_hours(1),
        };
        Self {
            secret: Arc::new(SecretString::from(value)),
            issued_at: now,
            expires_at,
            claims,
        }
    }

    /// The `Authorization` header value.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.secret.expose_secret())
    }

    /// When the operator refreshes it: at 80% of its lifetime, and at the latest
    /// [`REFRESH_MARGIN`] before expiry.
    pub fn refresh_at(&self) -> jiff::Timestamp {
        let lifetime = self.expires_at.duration_since(self.issued_at);
        let at_80 = self.issued_at + lifetime.mul_f64(0.8);
        let margin = self.expires_at - jiff::SignedDuration::try_from(REFRESH_MARGIN).unwrap();
        at_80.min(margin).max(self.issued_at)
    }

    /// True when it should be replaced before use at `now`.
    pub fn needs_refresh(&self, now: jiff::Timestamp) -> bool {
        now >= self.refresh_at()
    }

    /// True when it has expired at `now`.
    pub fn is_expired(&self, now: jiff::Timestamp) -> bool {
        now >= self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: serde_json::Value) -> String {
        format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    }

    #[test]
    fn reads_roles_and_directory_roles() {
        let value = jwt(serde_json::json!({
            "roles": ["User.Read.All", "Group.Read.All"],
            "wids": ["29232cdf-9323-42fd-ade2-1d097af3e4de"],
            "tid": "t", "oid": "o", "azp": "app"
        }));
        let t = AccessToken::new(
            value,
            Some(Duration::from_secs(3600)),
            jiff::Timestamp::now(),
        );
        assert_eq!(t.claims.roles, ["User.Read.All", "Group.Read.All"]);
        assert_eq!(t.claims.wids.len(), 1);
        assert_eq!(t.claims.app_id(), Some("app"));
        assert!(t.bearer().starts_with("Bearer ey"));
    }

    #[test]
    fn debug_never_shows_the_token() {
        let t = AccessToken::new("opaque-secret".into(), None, jiff::Timestamp::now());
        assert!(!format!("{t:?}").contains("opaque-secret"));
        assert_eq!(t.claims, TokenClaims::default());
    }

    #[test]
    fn expiry_is_the_earlier_of_lifetime_and_claim() {
        let now = jiff::Timestamp::from_second(1_000_000).unwrap();
        let t = AccessToken::new(
            jwt(serde_json::json!({"exp": 1_001_800})),
            Some(Duration::from_secs(3600)),
            now,
        );
        assert_eq!(t.expires_at.as_second(), 1_001_800);
    }

    #[test]
    fn refreshes_at_80_percent_or_five_minutes_before_expiry() {
        let now = jiff::Timestamp::from_second(1_000_000).unwrap();
        let hour = AccessToken::new("x".into(), Some(Duration::from_secs(3600)), now);
        assert_eq!(hour.refresh_at().as_second(), 1_000_000 + 2880);
        assert!(!hour.needs_refresh(now));
        assert!(hour.needs_refresh(now + jiff::SignedDuration::from_secs(2880)));
        // A token shorter than the margin is refreshed at once.
        let short = AccessToken::new("x".into(), Some(Duration::from_secs(120)), now);
        assert_eq!(short.refresh_at(), now);
        assert!(!short.is_expired(now));
        assert!(short.is_expired(now + jiff::SignedDuration::from_secs(120)));
    }
}
