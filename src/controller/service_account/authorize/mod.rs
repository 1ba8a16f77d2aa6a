//! Authorization: obtaining a token for Microsoft Graph and confirming that every required
//! permission is granted, by admin consent to application permissions or by a Global
//! Administrator's device-code sign-in.

mod device_code;

use std::time::Duration;

use super::decide::{AuthorizationObservation, TokenObservation};
use super::tenant_clients::TenantClients;
use crate::controller::context::Context;
use crate::controller::error::Result;
use crate::microsoft::errors::TokenFailure;
use crate::microsoft::graph::GraphFailure;
use crate::microsoft::identity::TokenError;
use crate::microsoft::identity::credential::ClientCredential;
use crate::microsoft::identity::token::AccessToken;
use crate::microsoft::permissions::{self, Permission, Resource};
use exo_api::exchange_service_account::{ExchangeServiceAccount, ServicePrincipalStatus};

pub use device_code::{device_code, grant_secret_name};
pub use exo_api::annotations::REGRANT as REGRANT_ANNOTATION;

/// The outcome of the authorization step.
#[derive(Debug)]
pub struct Authorization {
    /// Token validity.
    pub token: TokenObservation,
    /// The grant.
    pub grant: AuthorizationObservation,
    /// The Graph token, when authorized.
    pub graph_token: Option<AccessToken>,
    /// The service principal, when confirmed.
    pub service_principal: Option<ServicePrincipalStatus>,
    /// When to look again, if sooner than the token's refresh.
    pub requeue: Option<Duration>,
}

impl Authorization {
    /// No token: `error`, with the token still `held` (if any) valid until it expires.
    fn failed(error: &TokenError, held: Option<&AccessToken>) -> Self {
        Self {
            token: TokenObservation::Failed {
                failure: error.failure,
                message: error.to_string(),
                still_valid_until: held.map(|t| t.expires_at),
            },
            grant: AuthorizationObservation::Unknown,
            graph_token: None,
            service_principal: None,
            requeue: error.retry_after,
        }
    }

    /// Consent (at `url`) is missing for the permissions `missing`; look again after `poll`.
    fn consent_required(
        token: TokenObservation,
        url: String,
        missing: Vec<String>,
        poll: Duration,
    ) -> Self {
        Self {
            token,
            grant: AuthorizationObservation::ConsentRequired { url, missing },
            graph_token: None,
            service_principal: None,
            requeue: Some(poll),
        }
    }

    /// Every permission is granted: `token` is ready for Graph.
    fn granted(token: AccessToken, service_principal: Option<ServicePrincipalStatus>) -> Self {
        Self {
            token: valid(&token),
            grant: AuthorizationObservation::Granted,
            graph_token: Some(token),
            service_principal,
            requeue: None,
        }
    }
}

fn names(perms: &[&Permission]) -> Vec<String> {
    perms.iter().map(|p| p.name.to_string()).collect()
}

fn valid(token: &AccessToken) -> TokenObservation {
    TokenObservation::Valid {
        expires_at: token.expires_at,
        obtained_at: token.issued_at,
    }
}

/// The Graph permissions among `required`.
fn graph_permissions(required: &[Permission]) -> Vec<&Permission> {
    required
        .iter()
        .filter(|p| p.resource == Resource::Graph)
        .collect()
}

/// ApplicationConsent, first step: the token, or the authorization when the token settles it.
#[derive(Debug)]
pub enum ConsentStep {
    /// The token settles it: no token, permissions missing from its `roles`, or a token whose
    /// grants were already confirmed.
    Done(Box<Authorization>),
    /// A token whose `roles` hold every required permission, not yet confirmed in the tenant
    /// (see [`confirm_grants`]). Its Graph reads may start at once: they need only the token.
    Confirm(Box<AccessToken>),
}

/// ApplicationConsent: an app-only Graph token whose `roles` hold every required Graph
/// permission, confirmed once per token through the service principal's app-role assignments.
pub async fn application_consent(
    esa: &ExchangeServiceAccount,
    account: &TenantClients,
    credential: &ClientCredential,
    ctx: &Context,
) -> Result<Authorization> {
    match consent_token(esa, account, credential, ctx).await? {
        ConsentStep::Done(auth) => Ok(*auth),
        ConsentStep::Confirm(token) => confirm_grants(esa, account, ctx, *token).await,
    }
}

/// ApplicationConsent, first step: obtains the token and checks its `roles`.
pub async fn consent_token(
    esa: &ExchangeServiceAccount,
    account: &TenantClients,
    credential: &ClientCredential,
    ctx: &Context,
) -> Result<ConsentStep> {
    let done = |auth| Ok(ConsentStep::Done(Box::new(auth)));
    let (held, fetched) = app_token(account, credential, ctx).await;
    let required = permissions::required(&esa.spec);
    let token = match fetched {
        Ok(t) => t,
        Err(e) => return done(no_app_token(esa, account, ctx, &e, held.as_ref())),
    };
    let missing = permissions::missing(&required, Resource::Graph, &token.claims.roles);
    if !missing.is_empty() {
        // A fresh token is needed to see a new grant: drop this one before the next look.
        ctx.tokens.forget(&account.tenant, &account.client_id);
        return done(Authorization::consent_required(
            valid(&token),
            account.consent_url(esa),
            names(&missing),
            ctx.settings.consent_poll,
        ));
    }
    let verified = ctx.memo(&account.key).verified_token;
    if already_confirmed(verified, token.issued_at, service_principal_known(esa)) {
        return done(Authorization::granted(token, None));
    }
    Ok(ConsentStep::Confirm(Box::new(token)))
}

/// The app-only Graph token held in the cache before this look, and the one this look got
/// (from the cache, or fetched).
async fn app_token(
    account: &TenantClients,
    credential: &ClientCredential,
    ctx: &Context,
) -> (
    Option<AccessToken>,
    std::result::Result<AccessToken, TokenError>,
) {
    let scope = &account.endpoints.graph_scope;
    let key = account.cache_key(scope, &credential.fingerprint());
    let held = ctx.tokens.peek(&key);
    let fetched = ctx
        .tokens
        .get_or_fetch(&key, jiff::Timestamp::now, || {
            account.identity.app_token(credential, scope)
        })
        .await;
    (held, fetched)
}

/// The authorization when the identity platform issued no app-only token: consent to every
/// Graph permission when `error` says it is missing, otherwise the failure.
fn no_app_token(
    esa: &ExchangeServiceAccount,
    account: &TenantClients,
    ctx: &Context,
    error: &TokenError,
    held: Option<&AccessToken>,
) -> Authorization {
    if !means_no_consent(error.failure) {
        return Authorization::failed(error, held);
    }
    ctx.tokens.forget(&account.tenant, &account.client_id);
    let token = TokenObservation::Failed {
        failure: TokenFailure::ConsentRequired,
        message: error.to_string(),
        still_valid_until: None,
    };
    let required = permissions::required(&esa.spec);
    let missing = names(&graph_permissions(&required));
    let (url, poll) = (account.consent_url(esa), ctx.settings.consent_poll);
    Authorization::consent_required(token, url, missing, poll)
}

/// Whether a token failure means that admin consent is missing. Before consent the
/// application has no service principal in the tenant, which the identity platform reports as
/// "application not found".
fn means_no_consent(failure: TokenFailure) -> bool {
    matches!(
        failure,
        TokenFailure::ConsentRequired | TokenFailure::AppNotFound
    )
}

/// Whether the status already names the service principal's object id.
fn service_principal_known(esa: &ExchangeServiceAccount) -> bool {
    esa.status
        .as_ref()
        .and_then(|s| s.service_principal.as_ref())
        .is_some_and(|sp| sp.object_id.is_some())
}

/// Whether the grants of the token issued at `issued_at` were already confirmed (the last
/// `verified` token) and the service principal is known, so that the tenant needs no look.
fn already_confirmed(
    verified: Option<jiff::Timestamp>,
    issued_at: jiff::Timestamp,
    service_principal_known: bool,
) -> bool {
    verified == Some(issued_at) && service_principal_known
}

/// ApplicationConsent, second step: confirms the token's grants through the service
/// principal's app-role assignments (once per token) and finds the service principal.
pub async fn confirm_grants(
    esa: &ExchangeServiceAccount,
    account: &TenantClients,
    ctx: &Context,
    token: AccessToken,
) -> Result<Authorization> {
    let required = permissions::required(&esa.spec);
    let grants = match account
        .graph
        .grants(&token, &account.client_id, permissions::GRAPH_APP_ID)
        .await
    {
        Ok(g) => g,
        Err(e) if e.failure == GraphFailure::PermissionDenied => {
            return Ok(Authorization::consent_required(
                valid(&token),
                account.consent_url(esa),
                vec![permissions::APPLICATION_READ_ALL.name.to_string()],
                ctx.settings.consent_poll,
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let not_listed: Vec<String> = graph_permissions(&required)
        .iter()
        .filter(|p| !grants.app_role_ids.iter().any(|id| id == p.id))
        .map(|p| p.name.to_string())
        .collect();
    let service_principal = grants.service_principal.map(|sp| ServicePrincipalStatus {
        tenant_id: token.claims.tid.clone(),
        app_id: Some(sp.app_id),
        object_id: Some(sp.id),
    });
    if !not_listed.is_empty() {
        return Ok(Authorization {
            token: valid(&token),
            grant: AuthorizationObservation::Propagating {
                missing: not_listed,
            },
            graph_token: None,
            service_principal,
            requeue: Some(Duration::from_secs(15)),
        });
    }
    ctx.update_memo(&account.key, |m| m.verified_token = Some(token.issued_at));
    Ok(Authorization::granted(token, service_principal))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consent_is_missing_only_for_consent_and_unknown_application_failures() {
        for (failure, no_consent) in [
            (TokenFailure::ConsentRequired, true),
            (TokenFailure::AppNotFound, true),
            (TokenFailure::CredentialInvalid, false),
            (TokenFailure::Transient, false),
            (TokenFailure::Throttled, false),
        ] {
            assert_eq!(means_no_consent(failure), no_consent, "{failure:?}");
        }
    }

    #[test]
    fn a_token_is_confirmed_once_with_a_known_service_principal() {
        let t: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let later = t + jiff::SignedDuration::from_secs(60);
        for (verified, known, confirmed) in [
            (Some(t), true, true),
            (Some(t), false, false),
            (Some(later), true, false),
            (None, true, false),
        ] {
            assert_eq!(already_confirmed(verified, t, known), confirmed);
        }
    }
}
