//! The health of the operator's access to the tenant, handed to the service when it changes:
//! a `tokenHealth` delivery, recorded once acknowledged so that a restart does not send it
//! again. Failures expected to pass by themselves (throttling, a transient error) are not a
//! change of health.

use super::Handoff;
use crate::controller::error::Result;
use crate::controller::service_account::decide::{AuthorizationObservation, TokenObservation};
use crate::controller::service_account::directory::StateStore;
use crate::controller::service_account::tenant_clients::TenantClients;
use crate::microsoft::errors::TokenFailure;
use crate::service::error::ServiceError;
use crate::service::protocol::Message;
use crate::service::send::Sender;
use exo_api::exchange_service_account::ExchangeServiceAccount;

/// The protocol's token-health state of what this pass found, and the operator's reason;
/// `None` when nothing is known or the failure is expected to pass.
pub fn state_of(
    token: &TokenObservation,
    grant: &AuthorizationObservation,
) -> Option<(&'static str, Option<&'static str>)> {
    use TokenFailure::*;
    match token {
        TokenObservation::Valid { .. } => Some(("Valid", None)),
        TokenObservation::Failed { failure, .. } => {
            let state = match failure {
                Throttled | Transient => return None,
                RefreshTokenExpired => "Expired",
                RefreshTokenRevoked => "Revoked",
                ConsentRequired => "ConsentMissing",
                CredentialInvalid | CredentialExpired => "CredentialInvalid",
                AppDisabled | AppNotFound => "AppDisabled",
                TenantNotFound => "TenantNotFound",
                _ => "Unknown",
            };
            Some((state, Some(failure.reason())))
        }
        TokenObservation::NotAttempted => match grant {
            AuthorizationObservation::ConsentRequired { .. } => {
                Some(("ConsentMissing", Some("ConsentRequired")))
            }
            _ => None,
        },
    }
}

/// Sends `state` (with `reason`) to the service if it is not what the service last
/// acknowledged; nothing when the tenant was never registered with this service. A failed
/// delivery is returned, to be logged and tried again on the next look.
pub async fn report(
    handoff: &Handoff,
    (state, reason): (&str, Option<&str>),
    esa: &ExchangeServiceAccount,
    account: &TenantClients,
    client: &kube::Client,
    now: jiff::Timestamp,
) -> Result<Option<ServiceError>> {
    let (store, mut recorded) = StateStore::load(esa, account, client).await?;
    let stream = &mut recorded.stream;
    let Some(tenant) = stream.tenant.clone() else {
        return Ok(None);
    };
    if stream.endpoint.as_deref() != Some(handoff.endpoint.as_str())
        || stream.token_health.as_deref() == Some(state)
        || stream.pending.is_some()
    {
        return Ok(None);
    }
    let id = super::message_id("health", "h");
    let mut sender = Sender::new(&handoff.client, &tenant, &id, stream.watermark + 1);
    let message = Message::TokenHealth {
        state: state.to_string(),
        since: now.to_string(),
        reason: reason.map(String::from),
    };
    match sender.send(&message).await {
        Ok(ack) => {
            stream.watermark = ack.watermark.max(stream.watermark + 1);
            stream.token_health = Some(state.to_string());
            store.save(&recorded).await?;
            Ok(None)
        }
        Err(e) => Ok(Some(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(failure: TokenFailure) -> TokenObservation {
        TokenObservation::Failed {
            failure,
            message: "m".into(),
            still_valid_until: None,
        }
    }

    #[test]
    fn token_failures_map_to_the_protocol_states() {
        let granted = AuthorizationObservation::Granted;
        let consent = AuthorizationObservation::ConsentRequired {
            url: "u".into(),
            missing: vec![],
        };
        let valid = TokenObservation::Valid {
            expires_at: jiff::Timestamp::UNIX_EPOCH,
            obtained_at: jiff::Timestamp::UNIX_EPOCH,
        };
        let cases = [
            (valid, &granted, Some("Valid")),
            (
                failed(TokenFailure::RefreshTokenExpired),
                &granted,
                Some("Expired"),
            ),
            (
                failed(TokenFailure::RefreshTokenRevoked),
                &granted,
                Some("Revoked"),
            ),
            (
                failed(TokenFailure::CredentialExpired),
                &granted,
                Some("CredentialInvalid"),
            ),
            (
                failed(TokenFailure::AppNotFound),
                &granted,
                Some("AppDisabled"),
            ),
            (
                failed(TokenFailure::TenantNotFound),
                &granted,
                Some("TenantNotFound"),
            ),
            (failed(TokenFailure::MfaRequired), &granted, Some("Unknown")),
            (failed(TokenFailure::Transient), &granted, None),
            (failed(TokenFailure::Throttled), &granted, None),
            (
                TokenObservation::NotAttempted,
                &consent,
                Some("ConsentMissing"),
            ),
            (TokenObservation::NotAttempted, &granted, None),
        ];
        for (token, grant, want) in cases {
            assert_eq!(state_of(&token, grant).map(|s| s.0), want, "{token:?}");
        }
    }
}
