//! DeviceCode authorization: a delegated Graph token from the refresh token kept in the grant
//! Secret, with a device-code sign-in opened (and polled once per reconcile) whenever there is
//! none.

use std::time::Duration;

use kube::ResourceExt;
use secrecy::{ExposeSecret, SecretString};

use super::{Authorization, REGRANT_ANNOTATION, names, valid};
use crate::controller::context::Context;
use crate::controller::error::Result;
use crate::controller::service_account::decide::grant::{SignInEnd, SignInStep, sign_in_step};
use crate::controller::service_account::decide::{AuthorizationObservation, TokenObservation};
use crate::controller::service_account::grant_secret::{GrantSecret, GrantState};
use crate::controller::service_account::tenant_clients::TenantClients;
use crate::microsoft::errors::{ErrorClass, refresh_token_invalid};
use crate::microsoft::identity::cache::CacheKey;
use crate::microsoft::identity::credential::ClientCredential;
use crate::microsoft::identity::token::AccessToken;
use crate::microsoft::identity::{DelegatedTokens, DeviceCodePrompt, PollOutcome, TokenError};
use crate::microsoft::permissions::{self, Resource};
use exo_api::exchange_service_account::{
    ExchangeServiceAccount, RegrantPolicy, ServicePrincipalStatus,
};

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
    let mut grant = Grant::load(esa, account, credential, ctx).await?;
    if ctx.writes_nothing() {
        return grant.plan().await;
    }
    grant.save_unsaved_refresh_token().await?;
    if let Some(request) = grant.regrant_request() {
        return grant.regrant(request).await;
    }
    match grant.state.refresh_token.clone() {
        Some(refresh_token) => grant.refresh(refresh_token).await,
        None => grant.sign_in().await,
    }
}

/// What the steps of one DeviceCode look share: the account, and its grant Secret with what
/// the Secret holds (changed by the steps, then saved).
struct Grant<'a> {
    esa: &'a ExchangeServiceAccount,
    account: &'a TenantClients,
    credential: Option<&'a ClientCredential>,
    ctx: &'a Context,
    secret: GrantSecret,
    state: GrantState,
    /// A dead grant or an expired prompt opens a new sign-in by itself.
    automatic: bool,
}

impl<'a> Grant<'a> {
    /// Reads the grant Secret.
    async fn load(
        esa: &'a ExchangeServiceAccount,
        account: &'a TenantClients,
        credential: Option<&'a ClientCredential>,
        ctx: &'a Context,
    ) -> Result<Self> {
        let secret = GrantSecret::load(
            &ctx.client,
            &account.namespace,
            &grant_secret_name(esa),
            TenantClients::owner_reference(esa),
        )
        .await?;
        let state = secret.state();
        let automatic =
            esa.spec.authorization.regrant.unwrap_or_default() == RegrantPolicy::Automatic;
        Ok(Self {
            esa,
            account,
            credential,
            ctx,
            secret,
            state,
            automatic,
        })
    }

    /// A rotated refresh token whose write failed last time is saved first.
    async fn save_unsaved_refresh_token(&mut self) -> Result<()> {
        if let Some(unsaved) = self.ctx.memo(&self.account.key).unsaved_refresh_token {
            self.state.refresh_token = Some(unsaved);
            self.secret.save(&self.state).await?;
            self.ctx
                .update_memo(&self.account.key, |m| m.unsaved_refresh_token = None);
        }
        Ok(())
    }

    /// The regrant the annotation asks for, unless it was already handled.
    fn regrant_request(&self) -> Option<String> {
        pending_regrant(
            self.esa.annotations().get(REGRANT_ANNOTATION),
            self.state.regrant_handled.as_ref(),
        )
    }

    /// Drops the grant and any prompt for the regrant `request`, and opens a new sign-in.
    async fn regrant(mut self, request: String) -> Result<Authorization> {
        self.state.refresh_token = None;
        self.state.prompt = None;
        self.state.sign_in_ended = None;
        self.state.regrant_handled = Some(request);
        self.forget_tokens();
        self.open_prompt(None).await
    }

    /// Drops every cached token of the account.
    fn forget_tokens(&self) {
        self.ctx
            .tokens
            .forget(&self.account.tenant, &self.account.client_id);
    }

    /// The token-cache key of the delegated token of this grant.
    fn token_key(&self) -> CacheKey {
        let grant = format!("grant:{}", self.secret.uid().unwrap_or_default());
        self.account
            .cache_key(&self.account.endpoints.graph_scope, &grant)
    }

    /// The delegated token from `refresh_token`, keeping a rotated refresh token.
    async fn refresh(mut self, refresh_token: SecretString) -> Result<Authorization> {
        let key = self.token_key();
        let held = self.ctx.tokens.peek(&key);
        let (fetched, rotated) = self.redeem(&key, &refresh_token).await;
        self.save_rotated(rotated, &refresh_token).await?;
        let e = match fetched {
            Ok(token) => return Ok(self.delegated(token)),
            Err(e) => e,
        };
        if refresh_token_invalid(e.code) {
            return self.grant_dead(&e).await;
        }
        // A problem on the application's side: the refresh token stays and the failure is
        // reported; the account looks again as every account waiting for a human does (or
        // backs off, for a failure that passes by itself), and works once it is fixed.
        Ok(Authorization::failed(&e, held.as_ref()))
    }

    /// Redeems `refresh_token` through the token cache: the access token, and the refresh
    /// token the identity platform issued with it, if it was fetched.
    async fn redeem(
        &self,
        key: &CacheKey,
        refresh_token: &SecretString,
    ) -> (
        std::result::Result<AccessToken, TokenError>,
        Option<SecretString>,
    ) {
        let (account, credential) = (self.account, self.credential);
        let scope = &account.endpoints.graph_scope;
        let mut rotated: Option<SecretString> = None;
        let slot = &mut rotated;
        let fetched = self
            .ctx
            .tokens
            .get_or_fetch(key, jiff::Timestamp::now, move || async move {
                let tokens = account
                    .identity
                    .refresh(credential, refresh_token, scope)
                    .await?;
                *slot = tokens.refresh_token;
                Ok::<_, TokenError>(tokens.access)
            })
            .await;
        (fetched, rotated)
    }

    /// Saves a refresh token that replaced `current`; when the write fails it is kept in the
    /// memo, to be saved first next time.
    async fn save_rotated(
        &mut self,
        rotated: Option<SecretString>,
        current: &SecretString,
    ) -> Result<()> {
        if let Some(new_token) = rotated
            && new_token.expose_secret() != current.expose_secret()
        {
            self.state.refresh_token = Some(new_token.clone());
            if let Err(e) = self.secret.save(&self.state).await {
                self.ctx.update_memo(&self.account.key, |m| {
                    m.unsaved_refresh_token = Some(new_token)
                });
                return Err(e);
            }
        }
        Ok(())
    }

    /// The identity platform reported the refresh token invalid: the grant ends. The Secret
    /// keeps an audit of when and why (never the token); a new sign-in opens unless a human
    /// must ask.
    async fn grant_dead(mut self, error: &TokenError) -> Result<Authorization> {
        let now = jiff::Timestamp::now();
        let why = match error.code {
            Some(code) => format!("{} (AADSTS{code})", error.failure.reason()),
            None => error.failure.reason().to_string(),
        };
        tracing::info!(account = %self.account.key, reason = %why, "the device-code grant ended");
        self.state.refresh_token = None;
        self.state.grant_ended = Some((now, why));
        self.forget_tokens();
        let failed = Authorization::failed(error, None);
        if self.automatic {
            return self.open_prompt(Some(failed.token)).await;
        }
        let ended = self.sign_in_ended(SignInEnd::GrantEnded, now).await?;
        Ok(Authorization {
            token: failed.token,
            ..ended
        })
    }

    /// A planning pass: the grant refreshed (its rotation not kept: the grant it replaces stays
    /// valid), or the sign-in as it stands; a prompt is neither polled (that could redeem a
    /// sign-in and lose it) nor opened.
    async fn plan(mut self) -> Result<Authorization> {
        self.secret.only_planning();
        match (self.state.refresh_token.clone(), self.state.prompt.clone()) {
            (Some(refresh_token), _) => self.refresh(refresh_token).await,
            (None, Some(prompt)) => Ok(awaiting(&prompt, TokenObservation::NotAttempted)),
            (None, None) => Ok(not_signed_in()),
        }
    }

    /// No grant: polls the open prompt, opens one, or reports why there is none.
    async fn sign_in(self) -> Result<Authorization> {
        let step = sign_in_step(
            self.state.prompt.as_ref().map(|p| p.expires_at),
            self.state.sign_in_ended,
            self.automatic,
            self.ctx.settings.sign_in_reopen,
            jiff::Timestamp::now(),
        );
        match (step, self.state.prompt.clone()) {
            (SignInStep::Poll, Some(prompt)) => self.poll(prompt).await,
            (SignInStep::Report { end, at, .. }, _) => self.sign_in_ended(end, at).await,
            _ => self.open_prompt(None).await,
        }
    }

    /// The last sign-in ended (`end`, at `at`) without a grant: kept in the Secret and
    /// reported with its own reason; a new prompt opens only when its time has come.
    async fn sign_in_ended(mut self, end: SignInEnd, at: jiff::Timestamp) -> Result<Authorization> {
        let now = jiff::Timestamp::now();
        let reopen = self.ctx.settings.sign_in_reopen;
        let changed = self.state.prompt.is_some() || self.state.sign_in_ended != Some((end, at));
        self.state.prompt = None;
        self.state.sign_in_ended = Some((end, at));
        match sign_in_step(None, Some((end, at)), self.automatic, reopen, now) {
            SignInStep::Report { next_prompt, .. } => {
                if changed {
                    self.secret.save(&self.state).await?;
                }
                Ok(ended(end, next_prompt, now))
            }
            _ => self.open_prompt(None).await,
        }
    }

    /// Polls the open `prompt`, no more often than its interval.
    async fn poll(self, prompt: DeviceCodePrompt) -> Result<Authorization> {
        // Reconciles also follow status writes: poll no more often than the interval.
        let now = jiff::Timestamp::now();
        let last = self.ctx.memo(&self.account.key).last_poll;
        if let Some(wait) = poll_wait(last, prompt.interval(), now) {
            return Ok(Authorization {
                requeue: Some(wait),
                ..awaiting(&prompt, TokenObservation::NotAttempted)
            });
        }
        self.ctx
            .update_memo(&self.account.key, |m| m.last_poll = Some(now));
        let outcome = self
            .account
            .identity
            .poll_device_code(self.credential, &prompt)
            .await;
        self.after_poll(prompt, outcome).await
    }

    /// Acts on what polling `prompt` returned.
    async fn after_poll(
        mut self,
        prompt: DeviceCodePrompt,
        outcome: PollOutcome,
    ) -> Result<Authorization> {
        match outcome {
            PollOutcome::Pending => Ok(awaiting(&prompt, TokenObservation::NotAttempted)),
            PollOutcome::SlowDown(interval) => {
                let mut slower = prompt;
                slower.interval_seconds = interval.as_secs();
                self.state.prompt = Some(slower.clone());
                self.secret.save(&self.state).await?;
                Ok(awaiting(&slower, TokenObservation::NotAttempted))
            }
            PollOutcome::Granted(tokens) => self.signed_in(tokens).await,
            PollOutcome::Declined => {
                self.sign_in_ended(SignInEnd::Declined, jiff::Timestamp::now())
                    .await
            }
            PollOutcome::Expired => {
                let at = prompt.expires_at.min(jiff::Timestamp::now());
                self.sign_in_ended(SignInEnd::Expired, at).await
            }
            PollOutcome::Failed(e) => Ok(poll_failed(&prompt, &e)),
        }
    }

    /// The administrator signed in: keeps the refresh token, caches the access token.
    async fn signed_in(mut self, tokens: DelegatedTokens) -> Result<Authorization> {
        self.state.prompt = None;
        self.state.sign_in_ended = None;
        self.state.refresh_token = tokens.refresh_token.clone();
        self.secret.save(&self.state).await?;
        // After the save: a new Secret's uid is part of the key.
        let key = self.token_key();
        self.ctx.tokens.insert(&key, tokens.access.clone()).await;
        Ok(self.delegated(tokens.access))
    }

    /// Opens a device-code sign-in and keeps its prompt in the Secret; `token` is what to
    /// report of the token meanwhile (default: not attempted).
    async fn open_prompt(mut self, token: Option<TokenObservation>) -> Result<Authorization> {
        if self.ctx.writes_nothing() {
            return Ok(not_signed_in());
        }
        let account = self.account;
        let scope = &account.endpoints.graph_scope;
        match account
            .identity
            .start_device_code(self.credential, scope)
            .await
        {
            Ok(prompt) => {
                self.state.prompt = Some(prompt.clone());
                self.state.sign_in_ended = None;
                self.secret.save(&self.state).await?;
                Ok(awaiting(
                    &prompt,
                    token.unwrap_or(TokenObservation::NotAttempted),
                ))
            }
            Err(e) => {
                self.secret.save(&self.state).await?;
                Ok(Authorization::failed(&e, None))
            }
        }
    }

    /// The authorization a delegated `token` gives.
    fn delegated(&self, token: AccessToken) -> Authorization {
        delegated_grant(
            self.esa,
            self.account,
            token,
            self.ctx.settings.consent_poll,
        )
    }
}

/// The regrant `requested` by the annotation, unless it is the one already `handled`.
fn pending_regrant(requested: Option<&String>, handled: Option<&String>) -> Option<String> {
    requested.filter(|v| handled != Some(*v)).cloned()
}

/// How long to wait before polling a prompt with `interval` again, last polled at `last`;
/// `None` when a poll is due.
fn poll_wait(
    last: Option<jiff::Timestamp>,
    interval: Duration,
    now: jiff::Timestamp,
) -> Option<Duration> {
    let next = last? + jiff::SignedDuration::try_from(interval).unwrap_or_default();
    (now < next).then(|| Duration::try_from(next.duration_since(now)).unwrap_or(interval))
}

/// Whether a failed poll of the class `class` leaves the sign-in waiting (and polled again).
fn poll_failure_retried(class: ErrorClass) -> bool {
    matches!(class, ErrorClass::Transient | ErrorClass::Throttled(_))
}

/// A failed poll of `prompt`: still awaiting the sign-in when the failure passes by itself.
fn poll_failed(prompt: &DeviceCodePrompt, error: &TokenError) -> Authorization {
    let mut failed = Authorization::failed(error, None);
    if poll_failure_retried(error.failure.class()) {
        failed.grant = awaiting(prompt, TokenObservation::NotAttempted).grant;
        failed.requeue = Some(error.retry_after.unwrap_or(prompt.interval()));
    }
    failed
}

/// The last sign-in ended (`end`) without a grant; a new prompt opens by itself at
/// `next_prompt`, if any (looked at again then).
fn ended(
    end: SignInEnd,
    next_prompt: Option<jiff::Timestamp>,
    now: jiff::Timestamp,
) -> Authorization {
    Authorization {
        token: TokenObservation::NotAttempted,
        grant: AuthorizationObservation::SignInEnded { end, next_prompt },
        graph_token: None,
        service_principal: None,
        requeue: next_prompt
            .map(|t| Duration::try_from(t.duration_since(now)).unwrap_or(Duration::from_secs(1))),
    }
}

/// A planning pass without a grant: a sign-in would be asked for.
fn not_signed_in() -> Authorization {
    Authorization {
        token: TokenObservation::NotAttempted,
        grant: AuthorizationObservation::Unknown,
        graph_token: None,
        service_principal: None,
        requeue: None,
    }
}

/// Waiting for the administrator to sign in at `prompt`.
fn awaiting(prompt: &DeviceCodePrompt, token: TokenObservation) -> Authorization {
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
        return Authorization::granted(token, service_principal);
    }
    Authorization {
        service_principal,
        ..Authorization::consent_required(
            valid(&token),
            account.consent_url(esa),
            names(&missing),
            consent_poll,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regrant_is_pending_until_handled() {
        let (a, b) = ("a".to_string(), "b".to_string());
        for (requested, handled, pending) in [
            (None, None, None),
            (None, Some(&a), None),
            (Some(&a), None, Some("a")),
            (Some(&a), Some(&a), None),
            (Some(&b), Some(&a), Some("b")),
        ] {
            assert_eq!(
                pending_regrant(requested, handled).as_deref(),
                pending,
                "{requested:?} {handled:?}"
            );
        }
    }

    #[test]
    fn a_prompt_is_polled_once_per_interval() {
        let t: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let at = |s: i64| t + jiff::SignedDuration::from_secs(s);
        let five = Duration::from_secs(5);
        for (last, now, wait) in [
            (None, at(0), None),
            (Some(at(0)), at(0), Some(5)),
            (Some(at(0)), at(3), Some(2)),
            (Some(at(0)), at(5), None),
            (Some(at(0)), at(9), None),
        ] {
            assert_eq!(
                poll_wait(last, five, now),
                wait.map(Duration::from_secs),
                "{last:?} {now}"
            );
        }
    }

    #[test]
    fn only_passing_poll_failures_keep_the_sign_in_waiting() {
        for (class, retried) in [
            (ErrorClass::Transient, true),
            (ErrorClass::Throttled(None), true),
            (ErrorClass::Throttled(Some(Duration::from_secs(3))), true),
            (ErrorClass::NeedsHuman, false),
            (ErrorClass::Configuration, false),
        ] {
            assert_eq!(poll_failure_retried(class), retried, "{class:?}");
        }
    }
}
