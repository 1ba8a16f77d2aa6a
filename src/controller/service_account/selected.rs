//! Scope `Selected`: resolving the account's SyncTargetList with the account's token, writing
//! the list's status, and summarising it for the account.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::api::Api;

use super::authorize::Authorization;
use super::decide::{AuthorizationObservation, SyncObservation};
use super::directory::{self, SYNC_REQUESTED_ANNOTATION};
use super::tenant_clients::TenantClients;
use crate::controller::conditions;
use crate::controller::context::Context;
use crate::controller::error::Result;
use crate::controller::sync_target_list::{
    RESOLVED, account_not_ready_status, account_ready_status, resolved_status, write_status,
};
use crate::controller::targets::{self, SelectedDirectory};
use crate::microsoft::identity::token::AccessToken;
use exo_api::exchange_service_account::{ExchangeServiceAccount, SyncSummary};
use exo_api::sync_target_list::{SyncTargetList, SyncTargetListStatus};

async fn target_list(
    esa: &ExchangeServiceAccount,
    ctx: &Context,
) -> Result<std::result::Result<SyncTargetList, (String, String)>> {
    let Some(reference) = &esa.spec.sync.target_list_ref else {
        return Ok(Err((
            "TargetListNotSet".into(),
            "spec.sync.targetListRef must name a SyncTargetList when scope is Selected.".into(),
        )));
    };
    let namespace = esa.namespace().unwrap_or_default();
    let api: Api<SyncTargetList> = Api::namespaced(ctx.client.clone(), &namespace);
    match api.get_opt(&reference.name).await? {
        None => Ok(Err((
            "TargetListNotFound".into(),
            format!(
                "The SyncTargetList {} does not exist in namespace {namespace}; create it.",
                reference.name
            ),
        ))),
        Some(stl) if stl.spec.service_account_ref.name != esa.name_any() => Ok(Err((
            "TargetListMismatch".into(),
            format!(
                "The SyncTargetList {} selects for {}, not for this account.",
                reference.name, stl.spec.service_account_ref.name
            ),
        ))),
        Some(stl) => Ok(Ok(stl)),
    }
}

/// Whether the list must be resolved now.
fn due(esa: &ExchangeServiceAccount, stl: &SyncTargetList, now: jiff::Timestamp) -> bool {
    let status = stl.status.clone().unwrap_or_default();
    if directory::due(esa, now) || status.observed_generation != stl.metadata.generation {
        return true;
    }
    let last = status.last_resolved_time.map(|t| t.0);
    stl.annotations()
        .get(SYNC_REQUESTED_ANNOTATION)
        .and_then(|v| v.parse::<jiff::Timestamp>().ok())
        .is_some_and(|requested| last.is_none_or(|l| requested > l))
}

/// What resolving the list found, before anything is written: Graph reads only, so it may run
/// while the account's grants are still being confirmed, and be dropped if they are not.
#[derive(Debug)]
pub struct Prepared {
    /// The list and the status to write on it, if any.
    write: Option<(SyncTargetList, SyncTargetListStatus)>,
    /// The account's sync observation once that status is written.
    observation: SyncObservation,
    /// The selected users as the service receives them, when resolved in this pass (and
    /// within the limit).
    directory: Option<SelectedDirectory>,
}

impl Prepared {
    /// The selected users, when resolved (and within the limit).
    pub fn directory(&self) -> Option<&SelectedDirectory> {
        self.directory.as_ref()
    }
}

/// Resolves the list when due (or when `force`d) and returns the account's sync observation
/// and, when resolved, the selected users.
pub async fn sync_selected(
    esa: &ExchangeServiceAccount,
    account: &TenantClients,
    token: &AccessToken,
    ctx: &Context,
    now: jiff::Timestamp,
    force: bool,
) -> Result<(SyncObservation, Option<SelectedDirectory>)> {
    let prepared = prepare(esa, account, token, ctx, now, force).await?;
    commit(prepared, ctx).await
}

/// Reads the list and, when due (or `force`d), resolves it in the tenant; writes nothing.
pub async fn prepare(
    esa: &ExchangeServiceAccount,
    account: &TenantClients,
    token: &AccessToken,
    ctx: &Context,
    now: jiff::Timestamp,
    force: bool,
) -> Result<Prepared> {
    let previous = esa.status.as_ref().and_then(|s| s.sync.clone());
    let stl = match target_list(esa, ctx).await? {
        Ok(stl) => stl,
        Err((reason, message)) => {
            return Ok(Prepared {
                write: None,
                observation: SyncObservation::Failed {
                    reason,
                    message,
                    needs_human: true,
                    previous,
                    retry_after: None,
                },
                directory: None,
            });
        }
    };
    if !force && !due(esa, &stl, now) {
        // Nothing to resolve; keep the list's account condition true.
        let status = account_ready_status(&stl, now);
        let observation = observation_from(&stl, previous);
        return Ok(Prepared {
            write: Some((stl, status)),
            observation,
            directory: None,
        });
    }
    let resolved = futures::try_join!(
        targets::resolve(&account.graph, token, &stl.spec),
        account.graph.domains(token)
    );
    let (resolution, domains) = match resolved {
        Ok(r) => r,
        Err(e) => {
            return Ok(Prepared {
                write: None,
                observation: super::sync_failed(&e, previous),
                directory: None,
            });
        }
    };
    let status = resolved_status(&stl, &resolution, now);
    let observation = if resolution.limit_exceeded {
        SyncObservation::Failed {
            reason: "LimitExceeded".into(),
            message: format!(
                "The SyncTargetList {} resolves to more than {} users; the last good list stays protected. Narrow the list.",
                stl.name_any(),
                targets::MAX_USERS
            ),
            needs_human: true,
            previous,
            retry_after: None,
        }
    } else {
        SyncObservation::Synced(SyncSummary {
            last_sync_time: Some(Time(now)),
            next_sync_time: Some(Time(now + directory::interval(esa))),
            users: status.user_count,
            groups: resolution.groups,
            domains: domains.iter().filter(|d| d.is_mail_domain()).count() as i64,
        })
    };
    let directory = (!resolution.limit_exceeded).then(|| SelectedDirectory {
        users: resolution.directory.clone(),
        groups: resolution.group_directory.clone(),
    });
    Ok(Prepared {
        write: Some((stl, status)),
        observation,
        directory,
    })
}

/// Writes what [`prepare`] found on the list and returns the account's sync observation.
pub async fn commit(
    prepared: Prepared,
    ctx: &Context,
) -> Result<(SyncObservation, Option<SelectedDirectory>)> {
    if let Some((stl, status)) = &prepared.write
        && !ctx.writes_nothing()
    {
        write_status(&ctx.client, stl, status).await?;
    }
    Ok((prepared.observation, prepared.directory))
}

/// The observation from a list resolved earlier.
fn observation_from(stl: &SyncTargetList, previous: Option<SyncSummary>) -> SyncObservation {
    let status = stl.status.clone().unwrap_or_default();
    match conditions::get(&status.conditions, RESOLVED) {
        Some(c) if c.reason == "LimitExceeded" => SyncObservation::Failed {
            reason: "LimitExceeded".into(),
            message: c.message.clone(),
            needs_human: true,
            previous,
            retry_after: None,
        },
        _ => previous
            .map(SyncObservation::Synced)
            .unwrap_or(SyncObservation::NotStarted),
    }
}

/// Tells the list that its account cannot resolve it (no grant yet, or a lost one).
pub async fn mark_account_not_ready(
    esa: &ExchangeServiceAccount,
    ctx: &Context,
    auth: &Authorization,
    now: jiff::Timestamp,
) -> Result<()> {
    if ctx.writes_nothing() {
        return Ok(());
    }
    let Ok(stl) = target_list(esa, ctx).await? else {
        return Ok(());
    };
    let message = match &auth.grant {
        AuthorizationObservation::Granted => "The service account's token is not valid.",
        _ => "The service account is waiting for access to be granted.",
    };
    let status = account_not_ready_status(&stl, "WaitingForGrant", message, now);
    write_status(&ctx.client, &stl, &status).await?;
    Ok(())
}
