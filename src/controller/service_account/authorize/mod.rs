//! Authorization: obtaining a token for Microsoft Graph and confirming that every required
//! permission is granted, by admin consent to application permissions or by a Global
//! Administrator's device-code sign-in.

use std::time::Duration;

use kube::ResourceExt;
use secrecy::{ExposeSecret, SecretString};

use super::decide::{AuthorizationObservation, TokenObservation};
use super::grant_secret::{GrantSecret, GrantState};
use super::tenant_clients::TenantClients;
use crate::controller::context::Context;
use crate::controller::error::Result;
use crate::microsoft::errors::{ErrorClass, TokenFailure};
use crate::microsoft::graph::GraphFailure;
use crate::microsoft::identity::credential::ClientCredential;
use crate::microsoft::identity::token::AccessToken;
use crate::microsoft::identity::{PollOutcome, TokenError};
use crate::microsoft::permissions::{self, Permission, Resource};
use exo_api::exchange_service_account::{
    ExchangeServiceAccount, RegrantPolicy, ServicePrincipalStatus,
};

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
    let scope = account.endpoints.graph_scope.clone();
    let key = account.cache_key(&scope, &credential.fingerprint());
    let held = ctx.tokens.peek(&key);
    let fetched = ctx
        .tokens
        .get_or_fetch(&key, jiff::Timestamp::now, || {
            account.identity.app_token(credential, &scope)
        })
        .await;
    let required = permissions::required(&esa.spec);
    let all_graph: Vec<&Permission> = required
        .iter()
        .filter(|p| p.resource == Resource::Graph)
        .collect();
    let token = match fetched {
        Ok(t) => t,
        Err(e)
            if matches!(
                e.failure,
                TokenFailure::ConsentRequired | TokenFailure::AppNotFound
            ) =>
        {
            // Before consent the application has no service principal in the tenant, which
            // the identity platform reports as "application not found".
            ctx.tokens.forget(&account.tenant, &account.client_id);
            return Ok(ConsentStep::Done(Box::new(Authorization {
                token: TokenObservation::Failed {
                    failure: TokenFailure::ConsentRequired,
                    message: e.to_string(),
                    still_valid_until: None,
                },
                grant: AuthorizationObservation::ConsentRequired {
                    url: account.consent_url(esa),
                    missing: names(&all_graph),
                },
                graph_token: None,
                service_principal: None,
                requeue: Some(ctx.settings.consent_poll),
            })));
        }
        Err(e) => {
            return Ok(ConsentStep::Done(Box::new(Authorization::failed(
                &e,
                held.as_ref(),
            ))));
        }
    };
    let missing = permissions::missing(&required, Resource::Graph, &token.claims.roles);
    if !missing.is_empty() {
        // A fresh token is needed to see a new grant: drop this one before the next look.
        ctx.tokens.forget(&account.tenant, &account.client_id);
        return Ok(ConsentStep::Done(Box::new(Authorization {
            token: valid(&token),
            grant: AuthorizationObservation::ConsentRequired {
                url: account.consent_url(esa),
                missing: names(&missing),
            },
            graph_token: None,
            service_principal: None,
            requeue: Some(ctx.settings.consent_poll),
        })));
    }
    let memo = ctx.memo(&account.key);
    let sp_known = esa
        .status
        .as_ref()
        .and_then(|s| s.service_principal.as_ref())
        .is_some_and(|sp| sp.object_id.is_some());
    if memo.verified_token == Some(token.issued_at) && sp_known {
        return Ok(ConsentStep::Done(Box::new(Authorization {
            token: valid(&token),
            grant: AuthorizationObservation::Granted,
            graph_token: Some(token),
            service_principal: None,
            requeue: None,
        })));
    }
    Ok(ConsentStep::Confirm(Box::new(token)))
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
    let all_graph: Vec<&Permission> = required
        .iter()
        .filter(|p| p.resource == Resource::Graph)
        .collect();
    let grants = match account
        .graph
        .grants(&token, &account.client_id, permissions::GRAPH_APP_ID)
        .await
    {
        Ok(g) => g,
        Err(e) if e.failure == GraphFailure::PermissionDenied => {
            return Ok(Authorization {
                token: valid(&token),
                grant: AuthorizationObservation::ConsentRequired {
                    url: account.consent_url(esa),
                    missing: vec![permissions::APPLICATION_READ_ALL.name.to_string()],
                },
                graph_token: None,
                service_principal: None,
                requeue: Some(ctx.settings.consent_poll),
            });
        }
        Err(e) => return Err(e.into()),
    };
    let not_listed: Vec<String> = all_graph
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
    Ok(Authorization {
        token: valid(&token),
        grant: AuthorizationObservation::Granted,
        graph_token: Some(token),
        service_principal,
        requeue: None,
    })
}

/// The name of the Secret keeping a DeviceCode grant.
pub fn grant_secret_name(esa: &ExchangeServiceAccount) -> String {
    esa.spec
        .authorization
        .refresh_token_secret_name
        .clone()
        .unwrap_or_else(|| format!("{}-device-grant", esa.name_any()))
}

/// DeviceCode: a delegated Graph token from the refresh token kept in the grant Secret, with
/// a device-code sign-in opened (and polled once per reconcile) whenever there is none.
pub async fn device_code(
    esa: &ExchangeServiceAccount,
    account: &TenantClients,
    credential: Option<&ClientCredential>,
    ctx: &Context,
) -> Result<Authorization> {
    let scope = account.endpoints.graph_scope.clone();
    let mut secret = GrantSecret::load(
        &ctx.client,
        &account.namespace,
        &grant_secret_name(esa),
        TenantClients::owner_reference(esa),
    )
    .await?;
    let mut state = secret.state();

    // A rotated refresh token whose write failed last time is saved first.
    if let Some(unsaved) = ctx.memo(&account.key).unsaved_refresh_token {
        state.refresh_token = Some(unsaved);
        secret.save(&state).await?;
        ctx.update_memo(&account.key, |m| m.unsaved_refresh_token = None);
    }

    let regrant_requested = esa
        .annotations()
        .get(REGRANT_ANNOTATION)
        .filter(|v| state.regrant_handled.as_ref() != Some(*v))
        .cloned();
    if let Some(request) = &regrant_requested {
        state.refresh_token = None;
        state.prompt = None;
        state.regrant_handled = Some(request.clone());
        ctx.tokens.forget(&account.tenant, &account.client_id);
        return open_prompt(account, credential, &mut secret, state, ctx, None).await;
    }
    let automatic = esa.spec.authorization.regrant.unwrap_or_default() == RegrantPolicy::Automatic;

    if let Some(refresh_token) = state.refresh_token.clone() {
        let key = account.cache_key(
            &scope,
            &format!("grant:{}", secret.uid().unwrap_or_default()),
        );
        let held = ctx.tokens.peek(&key);
        let mut rotated: Option<SecretString> = None;
        let (slot, current, scope_ref) = (&mut rotated, &refresh_token, &scope);
        let fetched = ctx
            .tokens
            .get_or_fetch(&key, jiff::Timestamp::now, move || async move {
                let tokens = account
                    .identity
                    .refresh(credential, current, scope_ref)
                    .await?;
                *slot = tokens.refresh_token;
                Ok::<_, TokenError>(tokens.access)
            })
            .await;
        if let Some(new_token) = rotated
            && new_token.expose_secret() != refresh_token.expose_secret()
        {
            state.refresh_token = Some(new_token.clone());
            if let Err(e) = secret.save(&state).await {
                ctx.update_memo(&account.key, |m| m.unsaved_refresh_token = Some(new_token));
                return Err(e);
            }
        }
        return match fetched {
            Ok(token) => Ok(delegated_grant(
                esa,
                account,
                token,
                ctx.settings.consent_poll,
            )),
            Err(e) if e.failure.class() == ErrorClass::NeedsHuman => {
                // The grant is dead: drop it, and open a new sign-in unless a human must ask.
                state.refresh_token = None;
                ctx.tokens.forget(&account.tenant, &account.client_id);
                let failed = Authorization::failed(&e, None);
                if automatic {
                    open_prompt(
                        account,
                        credential,
                        &mut secret,
                        state,
                        ctx,
                        Some(failed.token),
                    )
                    .await
                } else {
                    secret.save(&state).await?;
                    Ok(Authorization {
                        grant: AuthorizationObservation::RegrantRequired,
                        ..failed
                    })
                }
            }
            Err(e) => Ok(Authorization::failed(&e, held.as_ref())),
        };
    }

    match state.prompt.clone() {
        Some(prompt) if !prompt.is_expired(jiff::Timestamp::now()) => {
            // Reconciles also follow status writes: poll no more often than the interval.
            let now = jiff::Timestamp::now();
            if let Some(last) = ctx.memo(&account.key).last_poll {
                let next =
                    last + jiff::SignedDuration::try_from(prompt.interval()).unwrap_or_default();
                if now < next {
                    let mut waiting = awaiting(&prompt, TokenObservation::NotAttempted);
                    waiting.requeue = Some(
                        Duration::try_from(next.duration_since(now)).unwrap_or(prompt.interval()),
                    );
                    return Ok(waiting);
                }
            }
            ctx.update_memo(&account.key, |m| m.last_poll = Some(now));
            match account.identity.poll_device_code(credential, &prompt).await {
                PollOutcome::Pending => Ok(awaiting(&prompt, TokenObservation::NotAttempted)),
                PollOutcome::SlowDown(interval) => {
                    let mut slower = prompt.clone();
                    slower.interval_seconds = interval.as_secs();
                    state.prompt = Some(slower.clone());
                    secret.save(&state).await?;
                    Ok(awaiting(&slower, TokenObservation::NotAttempted))
                }
                PollOutcome::Granted(tokens) => {
                    state.prompt = None;
                    state.refresh_token = tokens.refresh_token.clone();
                    secret.save(&state).await?;
                    let key = account.cache_key(
                        &scope,
                        &format!("grant:{}", secret.uid().unwrap_or_default()),
                    );
                    ctx.tokens.insert(&key, tokens.access.clone()).await;
                    Ok(delegated_grant(
                        esa,
                        account,
                        tokens.access,
                        ctx.settings.consent_poll,
                    ))
                }
                PollOutcome::Declined => {
                    state.prompt = None;
                    secret.save(&state).await?;
                    Ok(Authorization {
                        token: TokenObservation::NotAttempted,
                        grant: AuthorizationObservation::Declined,
                        graph_token: None,
                        service_principal: None,
                        requeue: None,
                    })
                }
                PollOutcome::Expired => {
                    state.prompt = None;
                    if automatic {
                        open_prompt(account, credential, &mut secret, state, ctx, None).await
                    } else {
                        secret.save(&state).await?;
                        Ok(regrant_required())
                    }
                }
                PollOutcome::Failed(e) => {
                    let mut failed = Authorization::failed(&e, None);
                    if e.failure.class() == ErrorClass::Transient
                        || matches!(e.failure.class(), ErrorClass::Throttled(_))
                    {
                        failed.grant = awaiting(&prompt, TokenObservation::NotAttempted).grant;
                        failed.requeue = Some(e.retry_after.unwrap_or(prompt.interval()));
                    }
                    Ok(failed)
                }
            }
        }
        Some(_) if !automatic => {
            state.prompt = None;
            secret.save(&state).await?;
            Ok(regrant_required())
        }
        // No grant yet, or the prompt expired: the first sign-in always opens by itself.
        _ => open_prompt(account, credential, &mut secret, state, ctx, None).await,
    }
}

fn regrant_required() -> Authorization {
    Authorization {
        token: TokenObservation::NotAttempted,
        grant: AuthorizationObservation::RegrantRequired,
        graph_token: None,
        service_principal: None,
        requeue: None,
    }
}

fn awaiting(
    prompt: &crate::microsoft::identity::DeviceCodePrompt,
    token: TokenObservation,
) -> Authorization {
    Authorization {
        token,
        grant: AuthorizationObservation::AwaitingSignIn {
            verification_uri: prompt.verification_uri.clone(),
            user_code: prompt.user_code.clone(),
            expires_at: prompt.expires_at,
            missing: Vec::new(),
        },
        graph_token: None,
        service_principal: None,
        requeue: Some(prompt.interval()),
    }
}

async fn open_prompt(
    account: &TenantClients,
    credential: Option<&ClientCredential>,
    secret: &mut GrantSecret,
    mut state: GrantState,
    _ctx: &Context,
    token: Option<TokenObservation>,
) -> Result<Authorization> {
    let scope = account.endpoints.graph_scope.clone();
    match account.identity.start_device_code(credential, &scope).await {
        Ok(prompt) => {
            state.prompt = Some(prompt.clone());
            secret.save(&state).await?;
            Ok(awaiting(
                &prompt,
                token.unwrap_or(TokenObservation::NotAttempted),
            ))
        }
        Err(e) => {
            secret.save(&state).await?;
            Ok(Authorization::failed(&e, None))
        }
    }
}

/// A delegated token: authorized when its `scp` holds every required Graph permission.
fn delegated_grant(
    esa: &ExchangeServiceAccount,
    account: &TenantClients,
    token: AccessToken,
    consent_poll: Duration,
) -> Authorization {
    let required = permissions::required(&esa.spec);
    let scopes: Vec<String> = token
        .claims
        .scopes()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let missing = permissions::missing(&required, Resource::Graph, &scopes);
    let service_principal = Some(ServicePrincipalStatus {
        tenant_id: token.claims.tid.clone(),
        app_id: Some(account.client_id.clone()),
        object_id: None,
    });
    if missing.is_empty() {
        Authorization {
            token: valid(&token),
            grant: AuthorizationObservation::Granted,
            graph_token: Some(token),
            service_principal,
            requeue: None,
        }
    } else {
        Authorization {
            token: valid(&token),
            grant: AuthorizationObservation::ConsentRequired {
                url: account.consent_url(esa),
                missing: names(&missing),
            },
            graph_token: None,
            service_principal,
            requeue: Some(consent_poll),
        }
    }
}
