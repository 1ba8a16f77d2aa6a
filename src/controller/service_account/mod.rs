//! The ExchangeServiceAccount reconciler, a pipeline:
//!
//! 1. [`observe`]: every read (Secrets, tokens, grants, directory, tenant), concurrent inside;
//!    inline mode's tenant writes run within, recorded in status before they are made;
//! 2. [`decide`]: pure: every condition, reason, message, Event and the next look;
//! 3. [`report`]: the only status writer (server-side apply), Events, notifications, gauges.
//!
//! Deletion is [`cleanup`].

pub mod activity;
pub mod authorize;
pub mod claim;
pub mod cleanup;
pub mod decide;
pub mod delivery;
pub mod directory;
pub mod grant_secret;
pub mod inline;
pub mod notifications;
pub mod observe;
pub mod pass;
pub mod protect;
pub mod report;
pub mod selected;
pub mod service;
pub mod tenant_clients;

use std::sync::Arc;

use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;

use self::tenant_clients::TenantClients;
use super::context::Context;
use super::error::{Error, Result};
use super::finalizer;
use super::planned::Planned;
use exo_api::FINALIZER;
use exo_api::exchange_service_account::{ExchangeServiceAccount, ManagementPolicy};

pub use self::observe::sync_failed;
pub use self::report::write_status;

/// Reconciles one account.
pub async fn reconcile(esa: Arc<ExchangeServiceAccount>, ctx: Arc<Context>) -> Result<Action> {
    let started = std::time::Instant::now();
    let key = TenantClients::key_of(&esa);
    let span = tracing::info_span!("reconcile", account = %key);
    // Reconciles run in tasks of their own: the fail points (if any) go with each.
    let points = ctx.settings.fail_points.clone();
    let inner = tracing::Instrument::instrument(reconcile_inner(esa, ctx), span);
    let result = super::fail_point::scope(points, inner).await;
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
                ctx.update_memo(&TenantClients::key_of(&esa), |m| {
                    m.written_version = esa.resource_version();
                });
            }
            apply(&esa, &ctx).await
        }
        finalizer::Step::Cleanup(esa) => {
            // The finalizer stays until cleanup succeeds.
            let action = cleanup::cleanup(&esa, &ctx).await?;
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
    let key = TenantClients::key_of(&esa);
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
    let key = TenantClients::key_of(&esa);
    let mut failures = 0;
    ctx.update_memo(&key, |m| {
        m.failures = m.failures.saturating_add(1);
        failures = m.failures;
    });
    let delay = error
        .retry_after()
        .unwrap_or_else(|| ctx.settings.backoff.delay(failures - 1));
    tracing::warn!(account = %key, reason = error.reason(), error = %error, ?delay, "reconcile failed");
    Action::requeue(delay)
}

/// One pass of the pipeline: observe → decide → report.
async fn apply(esa: &ExchangeServiceAccount, ctx: &Context) -> Result<Action> {
    let now = jiff::Timestamp::now();
    let observed = match esa.spec.management_policy {
        ManagementPolicy::Manage => observe::observe(esa, ctx, now).await?,
        ManagementPolicy::Observe => {
            // Nothing is written to the tenant or the service: each change is recorded.
            let recorder = Arc::new(Planned::default());
            // Boxed: the pass is a large future, and the scope would hold it inline.
            let pass = Box::pin(observe::observe(esa, ctx, now));
            let mut observed = super::planned::observing(recorder.clone(), pass).await?;
            let mut changes = recorder.take();
            changes.sort();
            observed.observation.observing = Some(changes.into_iter().map(Into::into).collect());
            observed
        }
    };
    let (status, transitions) = decide::decide(
        esa.metadata.generation,
        esa.status.as_ref(),
        &observed.observation,
        now,
    );
    let next = decide::next_look(
        &observed.observation,
        observed.requeue_hint,
        directory::requested_within_the_second(esa, now),
        ctx.settings.resync,
        now,
    );
    let failing = observed.observation.failed_for_now();
    let mut failures = 0;
    ctx.update_memo(&TenantClients::key_of(esa), |m| {
        m.failures = if failing {
            m.failures.saturating_add(1)
        } else {
            0
        };
        failures = m.failures;
    });
    let next = decide::paced(
        next,
        &decide::Pace {
            failures,
            backoff: ctx.settings.backoff,
            retry_after: observed.observation.retry_after(),
            waits_for_human: super::conditions::is_true(
                &status.conditions,
                super::conditions::STALLED,
            ),
            recheck: ctx.settings.consent_poll,
        },
    );
    report::report(esa, ctx, &status, &transitions).await?;
    Ok(Action::requeue(next))
}
