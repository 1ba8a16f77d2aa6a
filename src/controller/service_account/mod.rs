//! The ExchangeServiceAccount reconciler: observe (Secrets, tokens, grants, directory), decide
//! (pure, in [`decide`]), then write the status only when it changed, and announce transitions
//! with Events and notifications.

pub mod account;
pub mod activity;
pub mod authorize;
pub mod decide;
pub mod directory;
pub mod grant_secret;
pub mod inline;
pub mod notifications;
pub mod selected;

use std::sync::Arc;
use std::time::Duration;

use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};

use self::account::Account;
use self::authorize::Authorization;
use self::decide::{
    AuthorizationObservation, ConfigProblem, InlineCheck, InlineObservation, Observation,
    SyncObservation, TokenObservation, Transition,
};
use super::context::Context;
use super::error::{Error, Result};
use super::finalizer;
use super::patch::merge_diff;
use crate::microsoft::graph::GraphFailure;
use exo_api::FINALIZER;
use exo_api::exchange_service_account::{
    AuthorizationMethod, DeletionPolicy, ExchangeServiceAccount, Mode, SyncScope,
};

/// Field manager of the operator's writes.
pub const FIELD_MANAGER: &str = "exo-operator";

/// Reconciles one account.
pub async fn reconcile(esa: Arc<ExchangeServiceAccount>, ctx: Arc<Context>) -> Result<Action> {
    let started = std::time::Instant::now();
    let key = Account::key_of(&esa);
    let span = tracing::info_span!("reconcile", account = %key);
    let result = tracing::Instrument::instrument(reconcile_inner(esa, ctx), span).await;
    crate::telemetry::metrics::metrics().reconciled(
        "exchangeserviceaccount",
        started.elapsed(),
        result.as_ref().err().map(Error::reason),
    );
    result
}

async fn reconcile_inner(esa: Arc<ExchangeServiceAccount>, ctx: Arc<Context>) -> Result<Action> {
    let namespace = esa.namespace().unwrap_or_default();
    let api: Api<ExchangeServiceAccount> = Api::namespaced(ctx.client.clone(), &namespace);
    let esa = caught_up(&api, esa, &ctx).await?;
    let read = esa.resource_version();
    match finalizer::step(&api, FINALIZER, esa).await? {
        finalizer::Step::Apply(esa) => {
            if esa.resource_version() != read {
                // The finalizer was just added: that is a write the cache must catch up with.
                ctx.update_memo(&Account::key_of(&esa), |m| {
                    m.written_version = esa.resource_version();
                });
            }
            apply(&esa, &ctx).await
        }
        finalizer::Step::Cleanup(esa) => {
            // The finalizer stays until cleanup succeeds.
            let action = cleanup(&esa, &ctx).await?;
            finalizer::remove(&api, FINALIZER, &esa).await?;
            Ok(action)
        }
        finalizer::Step::Released => Ok(Action::await_change()),
    }
}

/// The account as the API server has it while the cache lags behind this operator's own last
/// write (a reconcile queued behind the one that wrote would otherwise see the old status, and
/// redo the work, the writes and the Events of a transition already made). One read per
/// reconcile while the cache lags; the cached object once it has caught up.
async fn caught_up(
    api: &Api<ExchangeServiceAccount>,
    esa: Arc<ExchangeServiceAccount>,
    ctx: &Context,
) -> Result<Arc<ExchangeServiceAccount>> {
    let key = Account::key_of(&esa);
    let Some(written) = ctx.memo(&key).written_version else {
        return Ok(esa);
    };
    if esa.resource_version().as_deref() == Some(written.as_str()) {
        ctx.update_memo(&key, |m| m.written_version = None);
        return Ok(esa);
    }
    let latest = api.get_opt(&esa.name_any()).await?;
    // Wait for the cache to reach what the API server has now (ours, or a later write).
    ctx.update_memo(&key, |m| {
        m.written_version = latest.as_ref().and_then(|l| l.resource_version());
    });
    Ok(latest.map(Arc::new).unwrap_or(esa))
}

/// Retry policy after a failed reconcile: the service's `Retry-After`, else backoff per account.
pub fn error_policy(esa: Arc<ExchangeServiceAccount>, error: &Error, ctx: Arc<Context>) -> Action {
    let key = Account::key_of(&esa);
    let mut failures = 0;
    ctx.update_memo(&key, |m| {
        m.failures = m.failures.saturating_add(1);
        failures = m.failures;
    });
    let delay = error
        .retry_after()
        .unwrap_or_else(|| crate::microsoft::retry::Backoff::RECONCILE.delay(failures - 1));
    tracing::warn!(account = %key, reason = error.reason(), error = %error, ?delay, "reconcile failed");
    Action::requeue(delay)
}

async fn apply(esa: &ExchangeServiceAccount, ctx: &Context) -> Result<Action> {
    let now = jiff::Timestamp::now();
    let account = match Account::load(esa, ctx).await? {
        Ok(a) => a,
        Err(problem) => return finish(esa, ctx, config_problem(esa, problem), None, now).await,
    };
    ctx.update_memo(&account.key, |m| m.failures = 0);
    let credential = match account.credential(esa, ctx).await? {
        Ok(c) => c,
        Err(problem) => {
            ctx.tokens.forget(&account.tenant, &account.client_id);
            return finish(esa, ctx, config_problem(esa, problem), None, now).await;
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
    let warm = async {
        if esa.spec.mode == Mode::Inline {
            inline::warm_exchange_token(&account, &credential, ctx).await;
        }
    };
    let (authorized, ()) = futures::join!(authorize, warm);
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
    finish(esa, ctx, observation, requeue, now).await
}

fn config_problem(esa: &ExchangeServiceAccount, problem: ConfigProblem) -> Observation {
    Observation {
        config: Some(problem),
        token: TokenObservation::NotAttempted,
        authorization: AuthorizationObservation::Unknown,
        service_principal: None,
        sync: SyncObservation::NotStarted,
        policies: (!esa.spec.policies.is_empty()).then(|| esa.spec.policies.clone()),
        activity: None,
        inline: waiting_for_grant(esa),
    }
}

/// Inline mode before access is granted: the role and mail flow wait for it.
fn waiting_for_grant(esa: &ExchangeServiceAccount) -> Option<InlineObservation> {
    (esa.spec.mode == Mode::Inline).then(|| InlineObservation {
        checks: vec![
            InlineCheck::positive(
                super::conditions::ROLE_ASSIGNED,
                false,
                "WaitingForGrant",
                "The Exchange Administrator role is assigned once access is granted.".into(),
            ),
            InlineCheck::positive(
                super::conditions::MAIL_FLOW_CONFIGURED,
                false,
                "WaitingForGrant",
                "Mail flow is configured once access is granted.".into(),
            ),
        ],
        status: None,
    })
}

fn sync_failed(
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

/// Decides, writes the status if it changed, announces transitions, and schedules the next look.
async fn finish(
    esa: &ExchangeServiceAccount,
    ctx: &Context,
    observation: Observation,
    requeue_hint: Option<Duration>,
    now: jiff::Timestamp,
) -> Result<Action> {
    let (status, transitions) = decide::decide(
        esa.metadata.generation,
        esa.status.as_ref(),
        &observation,
        now,
    );
    let old = serde_json::to_value(&esa.status)?;
    let new = serde_json::to_value(Some(&status))?;
    let diff = match (&old, &new) {
        (serde_json::Value::Null, _) => Some(new.clone()),
        _ => merge_diff(&old, &new),
    };
    if let Some(diff) = diff {
        let api: Api<ExchangeServiceAccount> =
            Api::namespaced(ctx.client.clone(), &esa.namespace().unwrap_or_default());
        let written = api
            .patch_status(
                &esa.name_any(),
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({ "status": diff })),
            )
            .await?;
        ctx.update_memo(&Account::key_of(esa), |m| {
            m.written_version = written.resource_version();
        });
    }
    announce(esa, ctx, &transitions).await;
    record_gauges(esa, &status);

    let mut next = ctx.settings.resync;
    let until = |t: jiff::Timestamp| {
        Duration::try_from(t.duration_since(now)).unwrap_or(Duration::from_secs(1))
    };
    if let TokenObservation::Valid {
        expires_at,
        obtained_at,
    } = &observation.token
    {
        let lifetime = expires_at.duration_since(*obtained_at);
        let refresh = *obtained_at + lifetime.mul_f64(0.8);
        next = next.min(until(refresh));
    }
    if let SyncObservation::Synced(summary) = &observation.sync
        && let Some(t) = &summary.next_sync_time
    {
        next = next.min(until(t.0));
    }
    if let Some(hint) = requeue_hint {
        next = next.min(hint);
    }
    if directory::requested_within_the_second(esa, now) {
        next = next.min(Duration::from_secs(1));
    }
    Ok(Action::requeue(next.max(Duration::from_secs(1))))
}

fn record_gauges(
    esa: &ExchangeServiceAccount,
    status: &exo_api::exchange_service_account::ExchangeServiceAccountStatus,
) {
    use crate::telemetry::metrics::{AccountLabels, metrics};
    let labels = AccountLabels {
        namespace: esa.namespace().unwrap_or_default(),
        name: esa.name_any(),
    };
    let m = metrics();
    let valid = super::conditions::is_true(&status.conditions, super::conditions::TOKEN_VALID);
    m.token_valid.get_or_create(&labels).set(i64::from(valid));
    if let Some(expires) = status.token.as_ref().and_then(|t| t.expires_at.as_ref()) {
        m.token_expiry
            .get_or_create(&labels)
            .set(expires.0.as_millisecond() as f64 / 1000.0);
    }
    if let Some(sync) = &status.sync {
        m.synced_users.get_or_create(&labels).set(sync.users);
        if let Some(t) = &sync.last_sync_time {
            m.last_sync
                .get_or_create(&labels)
                .set(t.0.as_millisecond() as f64 / 1000.0);
        }
    }
}

async fn announce(esa: &ExchangeServiceAccount, ctx: &Context, transitions: &[Transition]) {
    let reference = esa.object_ref(&());
    for t in transitions {
        let (type_, reason, note) = match t {
            Transition::BecameReady => (
                EventType::Normal,
                "Ready",
                decide::READY_MESSAGE.to_string(),
            ),
            Transition::TokenInvalid { reason, message } => (
                EventType::Warning,
                "TokenInvalid",
                format!("{reason}: {message}"),
            ),
            Transition::TokenRecovered => (
                EventType::Normal,
                "TokenRecovered",
                "The access token is valid again.".to_string(),
            ),
            Transition::ConsentRequired { message } => {
                (EventType::Warning, "ConsentRequired", message.clone())
            }
            Transition::DeviceCodeIssued { message } => {
                (EventType::Normal, "DeviceCodeIssued", message.clone())
            }
            Transition::Synced { message } => (EventType::Normal, "Synced", message.clone()),
        };
        let event = Event {
            type_,
            reason: reason.to_string(),
            note: Some(note),
            action: "Reconcile".into(),
            secondary: None,
        };
        if let Err(e) = ctx.recorder.publish(&event, &reference).await {
            tracing::warn!(error = %e, reason, "cannot publish Event");
        }
        if matches!(
            t,
            Transition::TokenInvalid { .. } | Transition::TokenRecovered
        ) {
            notifications::notify(esa, ctx, t).await;
        }
    }
}

/// Deletes the Secret and ConfigMap the operator created for the account (those it owns).
async fn delete_owned(esa: &ExchangeServiceAccount, ctx: &Context) -> Result<()> {
    use k8s_openapi::api::core::v1::{ConfigMap, Secret};
    let namespace = esa.namespace().unwrap_or_default();
    let uid = esa.uid();
    let owned = |meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        meta.owner_references
            .iter()
            .flatten()
            .any(|o| Some(&o.uid) == uid.as_ref())
    };
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let name = authorize::grant_secret_name(esa);
    if let Some(s) = secrets.get_opt(&name).await?
        && owned(&s.metadata)
    {
        secrets.delete(&name, &Default::default()).await?;
    }
    let maps: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &namespace);
    let name = directory::state_name(esa);
    if let Some(cm) = maps.get_opt(&name).await?
        && owned(&cm.metadata)
    {
        maps.delete(&name, &Default::default()).await?;
    }
    Ok(())
}

async fn cleanup(esa: &ExchangeServiceAccount, ctx: &Context) -> Result<Action> {
    let key = Account::key_of(esa);
    if esa.spec.deletion_policy == DeletionPolicy::Delete
        && let Ok(Ok(account)) = Account::load(esa, ctx).await
        && let Ok(Ok(credential)) = account.credential(esa, ctx).await
    {
        if esa.spec.mode == Mode::Inline
            && let Err(e) = inline::cleanup(esa, &account, &credential, ctx).await
        {
            // The finalizer stays until everything owned is gone; say what is left.
            let message = format!(
                "Deletion is waiting: {e}. Fix access (or set deletionPolicy Orphan) to let it finish."
            );
            let _ = ctx
                .recorder
                .publish(
                    &Event {
                        type_: EventType::Warning,
                        reason: "CleanupIncomplete".into(),
                        note: Some(message.clone()),
                        action: "Cleanup".into(),
                        secondary: None,
                    },
                    &esa.object_ref(&()),
                )
                .await;
            let api: Api<ExchangeServiceAccount> =
                Api::namespaced(ctx.client.clone(), &esa.namespace().unwrap_or_default());
            let _ = api
                .patch_status(
                    &esa.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(serde_json::json!({"status": {"message": message}})),
                )
                .await;
            return Err(e);
        }
        activity::stop(esa, &account, &credential, ctx).await;
    }
    if esa.spec.deletion_policy == DeletionPolicy::Delete {
        delete_owned(esa, ctx).await?;
    }
    ctx.tokens
        .forget(&esa.spec.tenant, &esa.spec.application.client_id);
    ctx.forget(&key);
    crate::telemetry::metrics::metrics()
        .forget_account(&esa.namespace().unwrap_or_default(), &esa.name_any());
    let reference = esa.object_ref(&());
    let note = match esa.spec.deletion_policy {
        DeletionPolicy::Delete => "Stopped what the operator started in the tenant.",
        DeletionPolicy::Orphan => "Left the tenant as it is (deletionPolicy Orphan).",
    };
    let _ = ctx
        .recorder
        .publish(
            &Event {
                type_: EventType::Normal,
                reason: "Deleted".into(),
                note: Some(note.into()),
                action: "Cleanup".into(),
                secondary: None,
            },
            &reference,
        )
        .await;
    Ok(Action::await_change())
}
