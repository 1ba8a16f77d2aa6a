//! Classification of identity-platform (AADSTS) errors into what the operator does about them
//! and the stable reason it reports. Error bodies are parsed for their codes only: the
//! description Microsoft returns is never copied into status, Events or logs.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What the operator does about a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Retry with backoff and jitter, per object.
    Transient,
    /// Retry after the given delay (`Retry-After`, or backoff when the service sent none).
    Throttled(Option<Duration>),
    /// Only a human can fix it (consent, sign-in, new credential): set the condition, notify
    /// once, requeue slowly.
    NeedsHuman,
    /// The resource's configuration is wrong: same as `NeedsHuman`, naming the field.
    Configuration,
}

/// Why the token is not valid: the `reason` of the `TokenValid` condition, of the Event and of
/// the metric label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenFailure {
    /// The refresh token expired (inactivity, fixed lifetime, sign-in frequency).
    RefreshTokenExpired,
    /// The refresh token or the session was revoked (sessions revoked, password reset).
    RefreshTokenRevoked,
    /// Admin consent is missing or was revoked.
    ConsentRequired,
    /// Multi-factor authentication is required or must be registered.
    MfaRequired,
    /// A Conditional Access or security policy blocks the sign-in.
    BlockedByPolicy,
    /// The signing-in account cannot be used (missing, disabled, password expired).
    AccountUnusable,
    /// The client secret or certificate is wrong or not registered.
    CredentialInvalid,
    /// The client secret expired.
    CredentialExpired,
    /// The application is not found in the tenant (not consented there, wrong tenant or id).
    AppNotFound,
    /// The application is disabled in the tenant.
    AppDisabled,
    /// The application registration is misconfigured for the requested permissions.
    AppMisconfigured,
    /// The tenant does not exist in this cloud.
    TenantNotFound,
    /// The tenant belongs to another national cloud.
    WrongCloud,
    /// The tenant has no service principal for the resource (e.g. no Exchange Online).
    ResourceNotFound,
    /// The requested scope is invalid.
    InvalidScope,
    /// The identity platform asked the operator to slow down.
    Throttled,
    /// A temporary failure of the identity platform or the network.
    Transient,
}

impl TokenFailure {
    /// The stable PascalCase reason.
    pub fn reason(self) -> &'static str {
        match self {
            Self::RefreshTokenExpired => "RefreshTokenExpired",
            Self::RefreshTokenRevoked => "RefreshTokenRevoked",
            Self::ConsentRequired => "ConsentRequired",
            Self::MfaRequired => "MfaRequired",
            Self::BlockedByPolicy => "BlockedByPolicy",
            Self::AccountUnusable => "AccountUnusable",
            Self::CredentialInvalid => "CredentialInvalid",
            Self::CredentialExpired => "CredentialExpired",
            Self::AppNotFound => "AppNotFound",
            Self::AppDisabled => "AppDisabled",
            Self::AppMisconfigured => "AppMisconfigured",
            Self::TenantNotFound => "TenantNotFound",
            Self::WrongCloud => "WrongCloud",
            Self::ResourceNotFound => "ResourceNotFound",
            Self::InvalidScope => "InvalidScope",
            Self::Throttled => "Throttled",
            Self::Transient => "TransientError",
        }
    }

    /// What the operator does about it.
    pub fn class(self) -> ErrorClass {
        match self {
            Self::RefreshTokenExpired
            | Self::RefreshTokenRevoked
            | Self::ConsentRequired
            | Self::MfaRequired
            | Self::BlockedByPolicy
            | Self::AccountUnusable
            | Self::CredentialExpired
            | Self::AppNotFound
            | Self::AppDisabled => ErrorClass::NeedsHuman,
            Self::CredentialInvalid
            | Self::AppMisconfigured
            | Self::TenantNotFound
            | Self::WrongCloud
            | Self::ResourceNotFound
            | Self::InvalidScope => ErrorClass::Configuration,
            Self::Throttled => ErrorClass::Throttled(None),
            Self::Transient => ErrorClass::Transient,
        }
    }

    /// What the user can do, in one sentence, without any text from Microsoft.
    pub fn advice(self) -> &'static str {
        match self {
            Self::RefreshTokenExpired | Self::RefreshTokenRevoked => {
                "The administrator's sign-in is no longer valid; a Global Administrator must sign in again with a new device code."
            }
            Self::ConsentRequired => {
                "A Global Administrator must grant the application permissions again on the admin consent page shown in status."
            }
            Self::MfaRequired => {
                "The sign-in needs multi-factor authentication; a Global Administrator must sign in again interactively."
            }
            Self::BlockedByPolicy => {
                "A Conditional Access or security policy blocks the sign-in; an administrator must allow it."
            }
            Self::AccountUnusable => {
                "The administrator account that signed in is missing, disabled or has an expired password; sign in with another Global Administrator."
            }
            Self::CredentialInvalid => {
                "The client secret or certificate in the credentials Secret is wrong or not registered on the application; update the Secret."
            }
            Self::CredentialExpired => {
                "The client secret has expired; put a new one in the credentials Secret."
            }
            Self::AppNotFound => {
                "The application is not known in this tenant; check spec.application.clientId and spec.tenant, then grant admin consent."
            }
            Self::AppDisabled => {
                "The application is disabled in this tenant; an administrator must enable it."
            }
            Self::AppMisconfigured => {
                "The application registration does not list the permissions this configuration needs; update the app registration, then consent again."
            }
            Self::TenantNotFound => {
                "No such tenant in this cloud; check spec.tenant and spec.cloud."
            }
            Self::WrongCloud => {
                "The tenant belongs to another Microsoft cloud; set spec.cloud accordingly."
            }
            Self::ResourceNotFound => {
                "The tenant has no service principal for the requested service (is Exchange Online licensed?); check spec.tenant."
            }
            Self::InvalidScope => {
                "The requested scope is invalid for this cloud; check spec.cloud and spec.endpoints."
            }
            Self::Throttled => {
                "The identity platform is throttling requests; the operator retries later."
            }
            Self::Transient => "A temporary failure; the operator retries with backoff.",
        }
    }
}

/// The error body of the identity platform's token and device-code endpoints. Only the fields
/// used for classification are kept (never the description).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct IdentityErrorBody {
    /// The OAuth error class (`invalid_grant`, `invalid_client`, ...).
    #[serde(default)]
    pub error: String,
    /// The AADSTS numbers.
    #[serde(default)]
    pub error_codes: Vec<u64>,
    /// Sub-class such as `consent_required` or `bad_token`.
    #[serde(default)]
    pub suberror: Option<String>,
    /// Trace id, to quote to Microsoft support.
    #[serde(default)]
    pub trace_id: Option<String>,
    /// Correlation id, to quote to Microsoft support.
    #[serde(default)]
    pub correlation_id: Option<String>,
}

impl std::fmt::Display for IdentityErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.code() {
            Some(code) => write!(f, "{} (AADSTS{code})", self.error),
            None => f.write_str(&self.error),
        }
    }
}

/// The identity platform's error body is oauth2's error type for every grant.
impl oauth2::ErrorResponse for IdentityErrorBody {}

impl IdentityErrorBody {
    /// Parses an error body; anything that is not the JSON shape yields an empty body.
    pub fn parse(body: &[u8]) -> Self {
        serde_json::from_slice(body).unwrap_or_default()
    }

    /// The first AADSTS code, if any.
    pub fn code(&self) -> Option<u64> {
        self.error_codes.first().copied()
    }
}

#[cfg(test)]
impl IdentityErrorBody {
    /// A body with only the OAuth `error` and the AADSTS `codes`, for tests.
    pub(crate) fn with_codes(error: &str, codes: &[u64]) -> Self {
        Self {
            error: error.into(),
            error_codes: codes.to_vec(),
            ..Default::default()
        }
    }
}

/// Classifies an identity-platform failure from its HTTP status and body.
pub fn classify_identity_error(status: u16, body: &IdentityErrorBody) -> TokenFailure {
    if status == 429 {
        return TokenFailure::Throttled;
    }
    if status >= 500 {
        return TokenFailure::Transient;
    }
    if let Some(failure) = body.error_codes.iter().find_map(|c| by_code(*c)) {
        return failure;
    }
    if body.suberror.as_deref() == Some("consent_required") {
        return TokenFailure::ConsentRequired;
    }
    match body.error.as_str() {
        "invalid_grant" => TokenFailure::RefreshTokenRevoked,
        "invalid_client" => TokenFailure::CredentialInvalid,
        "unauthorized_client" => TokenFailure::AppNotFound,
        "invalid_resource" => TokenFailure::ResourceNotFound,
        "invalid_scope" => TokenFailure::InvalidScope,
        "consent_required" => TokenFailure::ConsentRequired,
        "interaction_required" => TokenFailure::MfaRequired,
        _ => TokenFailure::Transient,
    }
}

/// The AADSTS codes with which the identity platform says that the refresh token itself is no
/// longer valid: only these end a grant (the refresh token is dropped and a new sign-in is
/// needed). From Microsoft Learn's table "Microsoft Entra authentication and authorization
/// error codes" (<https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes>):
///
/// - 70000 `InvalidGrant`: "the refresh token isn't valid" (token binding);
/// - 70008 `ExpiredOrRevokedGrant`: the refresh token expired or was revoked;
/// - 700082 `ExpiredOrRevokedGrantInactiveToken`: the refresh token expired by inactivity;
/// - 700084: a refresh token past its fixed lifetime;
/// - 70043 `BadTokenDueToSignInFrequency`: the refresh token expired or is invalid under a
///   Conditional Access sign-in frequency;
/// - 50173 `FreshTokenNeeded`: the grant was revoked (sessions revoked, password reset);
/// - 50132 `SsoArtifactInvalidOrExpired` and 50133 `SsoArtifactRevoked`: the session is not
///   valid after a password expiration or change.
///
/// Every other failure, even one only a human can fix, leaves the refresh token in place: a
/// disabled application (7000112), an expired client secret (7000222), an application not found
/// (700016), missing consent (65001), MFA (50076), a blocking policy (53003), an unusable
/// account (50034, 50057), and an `invalid_grant` with no code or a code not listed here. Once
/// that is fixed, the grant works again without a new sign-in.
pub const REFRESH_TOKEN_INVALID_CODES: [u64; 8] =
    [70000, 70008, 700082, 700084, 70043, 50173, 50132, 50133];

/// Whether a failed refresh with AADSTS `code` means that the refresh token itself is invalid
/// (see [`REFRESH_TOKEN_INVALID_CODES`]).
pub fn refresh_token_invalid(code: Option<u64>) -> bool {
    code.is_some_and(|c| REFRESH_TOKEN_INVALID_CODES.contains(&c))
}

/// The AADSTS table of `reference/microsoft-apis.md` §1.10.
fn by_code(code: u64) -> Option<TokenFailure> {
    use TokenFailure::*;
    Some(match code {
        700082 | 700084 | 70043 => RefreshTokenExpired,
        70008 | 50173 | 70000 | 50132 | 50133 => RefreshTokenRevoked,
        50076 | 50079 | 50078 => MfaRequired,
        53003 | 530032 | 530035 => BlockedByPolicy,
        65001 | 65004 | 90094 | 90095 => ConsentRequired,
        650056 | 650057 => AppMisconfigured,
        500011 => ResourceNotFound,
        7000215 | 700027 | 7000218 | 50012 | 700024 | 50048 => CredentialInvalid,
        7000222 => CredentialExpired,
        700016 => AppNotFound,
        7000112 | 70001 => AppDisabled,
        90002 => TenantNotFound,
        90038 => WrongCloud,
        50034 | 50057 | 50055 | 50144 => AccountUnusable,
        70011 | 700022 | 28002 => InvalidScope,
        50196 | 90055 => Throttled,
        54005 | 50053 | 50033 | 50087 | 90006 | 90024 | 90033 | 90090 | 50000 => Transient,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_of_the_reference_table_is_classified() {
        use ErrorClass as C;
        use TokenFailure as F;
        let cases: &[(u64, TokenFailure, ErrorClass)] = &[
            (700082, F::RefreshTokenExpired, C::NeedsHuman),
            (70008, F::RefreshTokenRevoked, C::NeedsHuman),
            (50173, F::RefreshTokenRevoked, C::NeedsHuman),
            (50076, F::MfaRequired, C::NeedsHuman),
            (53003, F::BlockedByPolicy, C::NeedsHuman),
            (65001, F::ConsentRequired, C::NeedsHuman),
            (650057, F::AppMisconfigured, C::Configuration),
            (500011, F::ResourceNotFound, C::Configuration),
            (7000215, F::CredentialInvalid, C::Configuration),
            (7000222, F::CredentialExpired, C::NeedsHuman),
            (700027, F::CredentialInvalid, C::Configuration),
            (700016, F::AppNotFound, C::NeedsHuman),
            (7000112, F::AppDisabled, C::NeedsHuman),
            (90002, F::TenantNotFound, C::Configuration),
            (90038, F::WrongCloud, C::Configuration),
            (50034, F::AccountUnusable, C::NeedsHuman),
            (700022, F::InvalidScope, C::Configuration),
            (50196, F::Throttled, C::Throttled(None)),
            (90055, F::Throttled, C::Throttled(None)),
            (50000, F::Transient, C::Transient),
        ];
        for (code, failure, class) in cases {
            let got = classify_identity_error(
                400,
                &IdentityErrorBody::with_codes("invalid_grant", &[*code]),
            );
            assert_eq!(got, *failure, "AADSTS{code}");
            assert_eq!(got.class(), *class, "AADSTS{code}");
        }
    }

    #[test]
    fn only_codes_saying_the_refresh_token_is_invalid_end_a_grant() {
        for (code, ends) in [
            (Some(70008), true),
            (Some(700082), true),
            (Some(700084), true),
            (Some(70043), true),
            (Some(50173), true),
            (Some(70000), true),
            (Some(50132), true),
            (Some(50133), true),
            (Some(7000112), false),
            (Some(70001), false),
            (Some(7000222), false),
            (Some(7000215), false),
            (Some(700016), false),
            (Some(65001), false),
            (Some(50076), false),
            (Some(53003), false),
            (Some(50057), false),
            (Some(50000), false),
            (Some(50196), false),
            (Some(999_999), false),
            (None, false),
        ] {
            assert_eq!(refresh_token_invalid(code), ends, "{code:?}");
        }
        for code in REFRESH_TOKEN_INVALID_CODES {
            let failure = classify_identity_error(
                400,
                &IdentityErrorBody::with_codes("invalid_grant", &[code]),
            );
            assert!(
                matches!(
                    failure,
                    TokenFailure::RefreshTokenExpired | TokenFailure::RefreshTokenRevoked
                ),
                "AADSTS{code}: {failure:?}"
            );
        }
    }

    #[test]
    fn unknown_codes_fall_back_to_the_oauth_error_class() {
        let cases = [
            ("invalid_grant", TokenFailure::RefreshTokenRevoked),
            ("invalid_client", TokenFailure::CredentialInvalid),
            ("unauthorized_client", TokenFailure::AppNotFound),
            ("invalid_resource", TokenFailure::ResourceNotFound),
            ("invalid_scope", TokenFailure::InvalidScope),
            ("interaction_required", TokenFailure::MfaRequired),
            ("temporarily_unavailable", TokenFailure::Transient),
        ];
        for (error, failure) in cases {
            assert_eq!(
                classify_identity_error(400, &IdentityErrorBody::with_codes(error, &[999_999])),
                failure,
                "{error}"
            );
        }
        let consent = IdentityErrorBody {
            error: "invalid_grant".into(),
            suberror: Some("consent_required".into()),
            ..Default::default()
        };
        assert_eq!(
            classify_identity_error(400, &consent),
            TokenFailure::ConsentRequired
        );
    }

    #[test]
    fn http_status_wins_for_throttling_and_server_errors() {
        assert_eq!(
            classify_identity_error(429, &IdentityErrorBody::with_codes("", &[])),
            TokenFailure::Throttled
        );
        assert_eq!(
            classify_identity_error(
                503,
                &IdentityErrorBody::with_codes("invalid_grant", &[70008])
            ),
            TokenFailure::Transient
        );
    }

    #[test]
    fn bodies_are_parsed_for_codes_only() {
        let raw = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. secret=abc",
            "error_codes":[7000215],"timestamp":"2024-01-01 00:00:00Z","trace_id":"t-1","correlation_id":"c-1"}"#;
        let parsed = IdentityErrorBody::parse(raw);
        assert_eq!(parsed.code(), Some(7000215));
        assert_eq!(parsed.trace_id.as_deref(), Some("t-1"));
        assert!(!format!("{parsed:?}").contains("secret=abc"));
        assert_eq!(
            IdentityErrorBody::parse(b"<html>bad gateway</html>"),
            IdentityErrorBody::default()
        );
    }

    #[test]
    fn reasons_are_pascal_case_and_advice_never_empty() {
        for failure in [
            TokenFailure::RefreshTokenExpired,
            TokenFailure::CredentialExpired,
            TokenFailure::WrongCloud,
            TokenFailure::Transient,
        ] {
            let reason = failure.reason();
            assert!(
                reason.chars().next().unwrap().is_ascii_uppercase() && !reason.contains(['_', ' '])
            );
            assert!(!failure.advice().is_empty());
        }
    }
}
