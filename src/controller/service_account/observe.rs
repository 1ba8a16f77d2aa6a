//! Observe: every read of the account's world (its Secrets, tokens, grants, directory, target
//! list and tenant), concurrent where the reads are independent. Inline mode's act step runs
//! within, once access is granted: its plan ([`inline`]) needs this pass's reads, and its
//! writes to the tenant are recorded before they are made (the intent log). Nothing here
//! writes the account's status: that is [`super::report`].

use std::time::Duration;

use super::account::Account;
use super::authorize::{self, Authorization};
use super::decide::{
    AuthorizationObservation, ConfigProblem, InlineCheck, InlineObservation, Observation,
    SyncObservation, TokenObservation,
};
use super::{activity, directory, inline, selected};
use crate::controller::conditions;
use crate::controller::context::Context;
use crate::controller::error::{Error, Result};
use crate::microsoft::graph::GraphFailure;
use exo_api::exchange_service_account::{
    AuthorizationMethod, ExchangeServiceAccount, Mode, SyncScope,
};

/// What one observation found, and how soon the tenant asked to be looked at again (a role
/// still propagating, a device code to poll).
pub struct Observed {
    /// The facts the decision is made from.
    pub observation: Observation,
    /// The earliest next look an observer asked for.
    pub requeue_hint: Option<Duration>,
}

/// Observes the account (and carries out inline mode's plan).
pub async fn observe(
    esa: &ExchangeServiceAccount,
    ctx: &Context,
    now: jiff::Timestamp,
) -> Result<Observed> {
    let account = match Account::load(esa, ctx).await? {
        Ok(a) => a,
        Err(problem) => return Ok(Observed::config_problem(esa, problem)),
    };
    ctx.update_memo(&account.key, |m| m.failures = 0);
    let credential = match account.credential(esa, ctx).await? {
        Ok(c) => c,
        Err(problem) => {
            ctx.tokens.forget(&account.tenant, &account.client_id);
            return Ok(Observed::config_problem(esa, problem));
        }
    };
    // A rotated credential drops every token obtained with the old one.
    let fingerprint = credential.fingerprint();
    if ctx.memo(&account.key).credential.as_deref() != Some(fingerprint.as_str()) {
        ctx.tokens.forget(&account.tenant, &account.client_id);
        ctx.update_memo(&account.key, |m| {
            m.credential = Some(fingerprint.clone());
            m.verified_token = None;
        });
    }

    // A selected list is resolved while a new token's grants are confirmed: both need only the
    // token, and what the resolution found is written only once the grants hold.
    // Inline mode's Exchange token needs only the credential: it is fetched meanwhile.
    let authorize = async {
        Ok::<_, Error>(match esa.spec.authorization.method {
            AuthorizationMethod::ApplicationConsent => {
                match authorize::consent_token(esa, &account, &credential, ctx).await? {
                    authorize::ConsentStep::Done(auth) => (*auth, None),
                    authorize::ConsentStep::Confirm(token)
                        if esa.spec.sync.scope == SyncScope::Selected =>
                    {
                        let (auth, prepared) = futures::join!(
                            authorize::confirm_grants(esa, &account, ctx, (*token).clone()),
                            selected::prepare(esa, &account, &token, ctx, now)
                        );
                        (auth?, Some(prepared))
                    }
                    authorize::ConsentStep::Confirm(token) => (
                        authorize::confirm_grants(esa, &account, ctx, *token).await?,
                        None,
                    ),
                }
            }
            AuthorizationMethod::DeviceCode => (
                authorize::device_code(esa, &account, Some(&credential), ctx).await?,
                None,
            ),
        })
    };
    let prefetch = async {
        if esa.spec.mode == Mode::Inline {
            inline::prefetch_exchange_token(&account, &credential, ctx).await;
        }
    };
    let (authorized, ()) = futures::join!(authorize, prefetch);
    let (auth, early_selection): (Authorization, _) = authorized?;
    let granted = auth.grant == AuthorizationObservation::Granted;
    let previous_sync = esa.status.as_ref().and_then(|s| s.sync.clone());

    let sync_and_activity = async {
        Ok::<_, Error>(match (&auth.graph_token, granted) {
            (Some(token), true) => {
                let sync = async {
                    match esa.spec.sync.scope {
                        SyncScope::All if directory::due(esa, now) => {
                            match directory::sync_all(esa, &account, token, &ctx.client, now).await
                            {
                                Ok(summary) => Ok(SyncObservation::Synced(summary)),
                                Err(Error::Graph(e)) => Ok(sync_failed(&e, previous_sync.clone())),
                                Err(e) => Err(e),
                            }
                        }
                        SyncScope::All => Ok(previous_sync
                            .clone()
                            .map(SyncObservation::Synced)
                            .unwrap_or(SyncObservation::NotStarted)),
                        SyncScope::Selected => match early_selection {
                            Some(prepared) => selected::commit(prepared?, ctx).await,
                            None => selected::sync_selected(esa, &account, token, ctx, now).await,
                        },
                    }
                };
                let activity = activity::ensure(esa, &account, &credential, ctx, token);
                let (sync, activity) = futures::join!(sync, activity);
                (sync?, activity)
            }
            _ => {
                if esa.spec.sync.scope == SyncScope::Selected {
                    selected::mark_account_not_ready(esa, ctx, &auth, now).await?;
                }
                (
                    SyncObservation::NotStarted,
                    esa.spec.activity_data.then(|| {
                        (
                            false,
                            "WaitingForGrant".to_string(),
                            "Activity data is subscribed once access is granted.".to_string(),
                        )
                    }),
                )
            }
        })
    };
    let inline_pass = async {
        Ok::<_, Error>(match (&auth.graph_token, granted, esa.spec.mode) {
            (_, _, Mode::Api) => (None, None),
            (Some(token), true, Mode::Inline) => {
                let principal = auth
                    .service_principal
                    .as_ref()
                    .or(esa
                        .status
                        .as_ref()
                        .and_then(|s| s.service_principal.as_ref()))
                    .and_then(|sp| sp.object_id.clone());
                let outcome =
                    inline::ensure(esa, &account, &credential, ctx, token, principal, now).await?;
                (Some(outcome.observation), outcome.requeue)
            }
            _ => (waiting_for_grant(esa), None),
        })
    };
    // The mail flow of scope Selected follows the list the sync has just written; that of
    // scope All needs nothing from the sync and runs alongside it.
    let (synced, inlined) = if esa.spec.sync.scope == SyncScope::Selected {
        let synced = sync_and_activity.await;
        (synced, inline_pass.await)
    } else {
        futures::join!(sync_and_activity, inline_pass)
    };
    let (sync, activity) = synced?;
    let (inline, inline_requeue) = inlined?;
    let requeue = match (auth.requeue, inline_requeue) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };

    let observation = Observation {
        config: None,
        token: auth.token.clone(),
        authorization: auth.grant.clone(),
        service_principal: auth.service_principal.clone(),
        sync,
        policies: (!esa.spec.policies.is_empty()).then(|| esa.spec.policies.clone()),
        activity,
        inline,
    };
    Ok(Observed {
        observation,
        requeue_hint: requeue,
    })
}

impl Observed {
    /// What is known when the account's own configuration is at fault: nothing is called.
    fn config_problem(esa: &ExchangeServiceAccount, problem: ConfigProblem) -> Self {
        let observation = Observation {
            config: Some(problem),
            token: TokenObservation::NotAttempted,
            authorization: AuthorizationObservation::Unknown,
            service_principal: None,
            sync: SyncObservation::NotStarted,
            policies: (!esa.spec.policies.is_empty()).then(|| esa.spec.policies.clone()),
            activity: None,
            inline: waiting_for_grant(esa),
        };
        Self {
            observation,
            requeue_hint: None,
        }
    }
}

/// Inline mode before access is granted: the role and mail flow wait for it.
fn waiting_for_grant(esa: &ExchangeServiceAccount) -> Option<InlineObservation> {
    (esa.spec.mode == Mode::Inline).then(|| InlineObservation {
        checks: vec![
            InlineCheck::positive(
                conditions::ROLE_ASSIGNED,
                false,
                "WaitingForGrant",
                "The Exchange Administrator role is assigned once access is granted.".into(),
            ),
            InlineCheck::positive(
                conditions::MAIL_FLOW_CONFIGURED,
                false,
                "WaitingForGrant",
                "Mail flow is configured once access is granted.".into(),
            ),
        ],
        status: None,
    })
}

/// The observation of a directory read that failed.
pub fn sync_failed(
    e: &crate::microsoft::graph::GraphError,
    previous: Option<exo_api::exchange_service_account::SyncSummary>,
) -> SyncObservation {
    SyncObservation::Failed {
        reason: e.failure.reason().to_string(),
        message: match e.failure {
            GraphFailure::PermissionDenied => {
                format!("{e}; a permission is missing: grant admin consent again.")
            }
            _ => format!("{e}; retrying."),
        },
        needs_human: e.failure == GraphFailure::PermissionDenied,
        previous,
    }
}
