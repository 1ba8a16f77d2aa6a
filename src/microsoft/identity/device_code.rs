//! The device authorization grant: a Global Administrator signs in once on another device with
//! a user code; the operator polls the token endpoint at the interval the identity platform
//! gives and keeps the refresh token. The prompt (with its device code) is serialisable so it
//! can be kept in a Secret and polling resumes after a restart.

use std::fmt;
use std::time::Duration;

use oauth2::StandardDeviceAuthorizationResponse;
use serde::{Deserialize, Serialize};

use super::credential::ClientCredential;
use super::{DelegatedTokens, IdentityClient, TokenError, WithParams, delegated_scopes};
use crate::microsoft::errors::{IdentityErrorBody, TokenFailure};
use crate::microsoft::http::Request;

/// The grant type of a device-code token request.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// How much `slow_down` adds to the polling interval (RFC 8628 §3.5).
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// An open device-code prompt.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DeviceCodePrompt {
    /// The code the administrator types.
    pub user_code: String,
    /// Where the administrator types it.
    pub verification_uri: String,
    /// When the prompt expires.
    pub expires_at: jiff::Timestamp,
    /// Seconds between polls.
    pub interval_seconds: u64,
    /// The scope requested.
    pub scope: String,
    /// The device code: a secret, kept only in the account's owned Secret.
    device_code: String,
}

impl fmt::Debug for DeviceCodePrompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceCodePrompt")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("expires_at", &self.expires_at)
            .field("interval_seconds", &self.interval_seconds)
            .finish_non_exhaustive()
    }
}

impl DeviceCodePrompt {
    /// True once the prompt has expired at `now`.
    pub fn is_expired(&self, now: jiff::Timestamp) -> bool {
        now >= self.expires_at
    }

    /// The polling interval.
    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.interval_seconds.max(1))
    }
}

/// The result of one poll of the token endpoint.
#[derive(Debug)]
pub enum PollOutcome {
    /// The administrator has not signed in yet; poll again after the interval.
    Pending,
    /// Poll less often: the new interval.
    SlowDown(Duration),
    /// Signed in: the tokens.
    Granted(DelegatedTokens),
    /// The administrator declined.
    Declined,
    /// The prompt expired (or the code is unknown): start a new one.
    Expired,
    /// Any other failure, classified.
    Failed(TokenError),
}

impl IdentityClient {
    /// Opens a device-code prompt for `scope` (plus `offline_access`, for a refresh token).
    pub async fn start_device_code(
        &self,
        credential: Option<&ClientCredential>,
        scope: &str,
    ) -> Result<DeviceCodePrompt, TokenError> {
        let client = self.oauth(credential);
        let response: StandardDeviceAuthorizationResponse = client
            .exchange_device_code()
            .add_scopes(delegated_scopes(scope))
            .with_params(self.assertion(credential, scope)?)
            .request_async(&self.http)
            .await
            .map_err(|e| TokenError::from_request(e, scope))?;
        let now = jiff::Timestamp::now();
        let lifetime = jiff::SignedDuration::try_from(response.expires_in())
            .unwrap_or(jiff::SignedDuration::from_mins(15));
        Ok(DeviceCodePrompt {
            user_code: response.user_code().secret().clone(),
            verification_uri: response.verification_uri().to_string(),
            expires_at: now + lifetime,
            interval_seconds: response.interval().as_secs().max(1),
            scope: scope.to_string(),
            device_code: response.device_code().secret().clone(),
        })
    }

    /// Polls the token endpoint once for `prompt`.
    pub async fn poll_device_code(
        &self,
        credential: Option<&ClientCredential>,
        prompt: &DeviceCodePrompt,
    ) -> PollOutcome {
        let scope = prompt.scope.as_str();
        let mut form = vec![
            ("grant_type", GRANT_TYPE.to_string()),
            ("client_id", self.client_id.clone()),
            ("device_code", prompt.device_code.clone()),
        ];
        match credential {
            Some(ClientCredential::Secret(s)) => {
                use secrecy::ExposeSecret;
                form.push(("client_secret", s.expose_secret().to_string()));
            }
            Some(ClientCredential::Certificate(_)) => match self.assertion(credential, scope) {
                Ok(params) => form.extend(params),
                Err(e) => return PollOutcome::Failed(e),
            },
            None => {}
        }
        let body = serde_urlencoded::to_string(&form).unwrap_or_default();
        let request = Request {
            api: "login",
            method: reqwest::Method::POST,
            url: self.token_url.clone(),
            headers: vec![
                (
                    "content-type".into(),
                    "application/x-www-form-urlencoded".into(),
                ),
                ("accept".into(), "application/json".into()),
            ],
            body: body.into_bytes(),
        };
        let response = match self.http.send(&request).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(error = %e, "device-code poll failed");
                return PollOutcome::Failed(TokenError::new(TokenFailure::Transient, scope));
            }
        };
        let status = response.status.as_u16();
        if status == 200 {
            return match serde_json::from_slice::<oauth2::basic::BasicTokenResponse>(&response.body)
            {
                Ok(tokens) => PollOutcome::Granted(DelegatedTokens::from_response(&tokens)),
                Err(_) => PollOutcome::Failed(TokenError::new(TokenFailure::Transient, scope)),
            };
        }
        let error = IdentityErrorBody::parse(&response.body);
        let outcome = poll_outcome(status, &error, prompt.interval());
        match outcome {
            PollOutcome::Failed(mut e) => {
                e.scope = scope.to_string();
                e.retry_after = response.retry_after();
                PollOutcome::Failed(e)
            }
            other => other,
        }
    }
}

/// Maps a device-code poll error to what the operator does next (RFC 8628 §3.5 plus
/// Microsoft's `authorization_declined` and `bad_verification_code`).
pub fn poll_outcome(status: u16, error: &IdentityErrorBody, interval: Duration) -> PollOutcome {
    match error.error.as_str() {
        "authorization_pending" => PollOutcome::Pending,
        "slow_down" => PollOutcome::SlowDown(interval + SLOW_DOWN_STEP),
        "authorization_declined" | "access_denied" => PollOutcome::Declined,
        "expired_token" | "code_expired" | "bad_verification_code" => PollOutcome::Expired,
        _ => PollOutcome::Failed(TokenError::from_body(status, error, "")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a poll answered with `status` and an error body of `error` and `codes` means, at
    /// a 5 s interval.
    fn poll(status: u16, error: &str, codes: &[u64]) -> PollOutcome {
        let body = IdentityErrorBody::with_codes(error, codes);
        poll_outcome(status, &body, Duration::from_secs(5))
    }

    #[test]
    fn poll_errors_follow_rfc_8628_and_microsoft() {
        assert!(matches!(
            poll(400, "authorization_pending", &[70016]),
            PollOutcome::Pending
        ));
        match poll(400, "slow_down", &[]) {
            PollOutcome::SlowDown(d) => assert_eq!(d, Duration::from_secs(10)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            poll(400, "authorization_declined", &[70000]),
            PollOutcome::Declined
        ));
        for e in ["expired_token", "bad_verification_code", "code_expired"] {
            assert!(matches!(poll(400, e, &[]), PollOutcome::Expired));
        }
        match poll(401, "invalid_client", &[7000215]) {
            PollOutcome::Failed(e) => {
                assert_eq!(e.failure, TokenFailure::CredentialInvalid);
                assert_eq!(e.code, Some(7000215));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn prompt_debug_hides_the_device_code_and_survives_a_round_trip() {
        let prompt = DeviceCodePrompt {
            user_code: "ABCD-1234".into(),
            verification_uri: "https://microsoft.com/devicelogin".into(),
            expires_at: jiff::Timestamp::from_second(1_900_000_000).unwrap(),
            interval_seconds: 5,
            scope: "https://graph.microsoft.com/.default".into(),
            device_code: "DAQABAAEAAAD-secret".into(),
        };
        assert!(!format!("{prompt:?}").contains("secret"));
        let json = serde_json::to_string(&prompt).unwrap();
        let back: DeviceCodePrompt = serde_json::from_str(&json).unwrap();
        assert_eq!(back, prompt);
        assert!(back.is_expired(jiff::Timestamp::from_second(1_900_000_000).unwrap()));
    }
}
