//! The SyncTargetList's status, and its own small reconciler. Resolution against the tenant
//! is done by the reconciler of the ExchangeServiceAccount the list references (it holds the
//! token); this reconciler only reports a list whose account does not exist or does not select
//! it, and forwards every change of a list to its account.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;

use super::conditions::{self, Status, Summary};
use super::context::Context;
use super::error::{Error, Result};
use super::report;
use super::targets::{MAX_USERS, Resolution};
use exo_api::exchange_service_account::{ExchangeServiceAccount, SyncScope};
use exo_api::sync_target_list::{SyncTargetList, SyncTargetListStatus};

pub use exo_api::conditions::{RESOLVED, SERVICE_ACCOUNT_READY};

/// The status after a resolution. Over the limit, the last good users are kept.
pub fn resolved_status(
    stl: &SyncTargetList,
    resolution: &Resolution,
    now: jiff::Timestamp,
) -> SyncTargetListStatus {
    let previous = stl.status.clone().unwrap_or_default();
    let generation = stl.metadata.generation;
    let now_t = Time(now);
    let mut status = SyncTargetListStatus {
        observed_generation: generation,
        conditions: previous.conditions.clone(),
        resolved_users: previous.resolved_users.clone(),
        unresolved: resolution.unresolved.clone(),
        user_count: previous.user_count,
        last_resolved_time: previous.last_resolved_time.clone(),
    };
    account_holds_a_grant(&mut status.conditions, generation, &now_t);
    let conds = &mut status.conditions;
    if resolution.limit_exceeded {
        let message = format!(
            "The list resolves to more than {MAX_USERS} users ({} found before stopping); at most {MAX_USERS} are allowed. The last good list ({} users) stays protected.",
            resolution.users.len(),
            previous.user_count
        );
        conditions::set(
            conds,
            RESOLVED,
            Status::False,
            "LimitExceeded",
            &message,
            generation,
            &now_t,
        );
    } else {
        status.resolved_users = resolution.users.clone();
        status.user_count = resolution.users.len() as i64;
        status.last_resolved_time = Some(now_t.clone());
        if resolution.unresolved.is_empty() {
            conditions::set(
                conds,
                RESOLVED,
                Status::True,
                "Resolved",
                &format!(
                    "Every entry resolved; {} users are protected.",
                    status.user_count
                ),
                generation,
                &now_t,
            );
        } else {
            let listed: Vec<String> = resolution
                .unresolved
                .iter()
                .map(|u| format!("{} ({})", u.entry, u.reason))
                .collect();
            conditions::set(
                conds,
                RESOLVED,
                Status::False,
                "EntriesUnresolved",
                &format!(
                    "{} users are protected; these entries did not resolve: {}",
                    status.user_count,
                    listed.join(", ")
                ),
                generation,
                &now_t,
            );
        }
    }
    summarise(&mut status, generation, &now_t);
    status
}

/// The status when the account cannot resolve the list (missing, not selecting it, no grant).
pub fn account_not_ready_status(
    stl: &SyncTargetList,
    reason: &str,
    message: &str,
    now: jiff::Timestamp,
) -> SyncTargetListStatus {
    let mut status = stl.status.clone().unwrap_or_default();
    let generation = stl.metadata.generation;
    let now_t = Time(now);
    status.observed_generation = generation;
    conditions::set(
        &mut status.conditions,
        SERVICE_ACCOUNT_READY,
        Status::False,
        reason,
        message,
        generation,
        &now_t,
    );
    summarise(&mut status, generation, &now_t);
    status
}

/// The status when the account holds a valid grant and the list needs no new resolution.
pub fn account_ready_status(stl: &SyncTargetList, now: jiff::Timestamp) -> SyncTargetListStatus {
    let mut status = stl.status.clone().unwrap_or_default();
    let generation = stl.metadata.generation;
    let now_t = Time(now);
    account_holds_a_grant(&mut status.conditions, generation, &now_t);
    summarise(&mut status, generation, &now_t);
    status
}

/// `ServiceAccountReady` True: the account holds a valid grant.
fn account_holds_a_grant(conds: &mut Vec<Condition>, generation: Option<i64>, now: &Time) {
    conditions::set(
        conds,
        SERVICE_ACCOUNT_READY,
        Status::True,
        "Authorized",
        "The service account holds a valid grant.",
        generation,
        now,
    );
}

/// Sets `Ready`, `Stalled` and `Reconciling` from the sub-conditions.
fn summarise(status: &mut SyncTargetListStatus, generation: Option<i64>, now: &Time) {
    let conds = &mut status.conditions;
    let problem = [SERVICE_ACCOUNT_READY, RESOLVED]
        .iter()
        .filter_map(|t| conditions::get(conds, t))
        .find(|c| c.status != "True")
        .map(|c| (c.reason.clone(), c.message.clone()));
    let resolved = conditions::is_true(conds, RESOLVED);
    let summary = match &problem {
        None if resolved => Summary::Ready {
            reason: "Resolved",
            message: "The list is resolved and protected.",
        },
        None => Summary::Progressing {
            ready: Status::Unknown,
            reason: "Pending",
            message: "Waiting for the first resolution.",
            stalled_reason: "Pending",
        },
        // An account without a grant is progressing towards one (its own status says what is
        // needed); entries and limits need a human.
        Some((reason, message)) if reason == "WaitingForGrant" => Summary::Progressing {
            ready: Status::False,
            reason,
            message,
            stalled_reason: reason,
        },
        Some((reason, message)) => Summary::Stalled {
            reason,
            message,
            reconciling_message: "",
        },
    };
    conditions::set_summary(conds, summary, generation, now);
    conditions::sort_ready_first(conds);
}

/// Writes `status` when it differs from the list's current status; returns whether it wrote.
pub async fn write_status(
    client: &kube::Client,
    stl: &SyncTargetList,
    status: &SyncTargetListStatus,
) -> Result<bool> {
    let api: Api<SyncTargetList> =
        Api::namespaced(client.clone(), &stl.namespace().unwrap_or_default());
    // Both reconcilers write a list's status: each applies only to the version it read.
    let written =
        report::write_status(&api, stl, status, report::Precondition::SameVersion).await?;
    Ok(written.is_some())
}

/// Reconciles one list: reports a missing account or one that does not select the list.
pub async fn reconcile(stl: Arc<SyncTargetList>, ctx: Arc<Context>) -> Result<Action> {
    let points = ctx.settings.fail_points.clone();
    super::fail_point::scope(points, reconcile_list(stl, ctx)).await
}

async fn reconcile_list(stl: Arc<SyncTargetList>, ctx: Arc<Context>) -> Result<Action> {
    let namespace = stl.namespace().unwrap_or_default();
    let accounts: Api<ExchangeServiceAccount> = Api::namespaced(ctx.client.clone(), &namespace);
    let account_name = &stl.spec.service_account_ref.name;
    let problem = match accounts.get_opt(account_name).await? {
        None => Some((
            "ServiceAccountNotFound",
            format!(
                "The ExchangeServiceAccount {account_name} does not exist in namespace {namespace}."
            ),
        )),
        Some(esa)
            if esa.spec.sync.scope != SyncScope::Selected
                || esa.spec.sync.target_list_ref.as_ref().map(|r| &r.name)
                    != Some(&stl.name_any()) =>
        {
            Some((
                "NotSelected",
                format!(
                    "The ExchangeServiceAccount {account_name} does not select this list (its spec.sync is not Selected with targetListRef {}).",
                    stl.name_any()
                ),
            ))
        }
        Some(_) => None,
    };
    if let Some((reason, message)) = problem {
        let now = jiff::Timestamp::now();
        let created = stl.metadata.creation_timestamp.as_ref().map(|t| t.0);
        if let Some(wait) =
            report_after(created, stl.status.is_some(), now, ctx.settings.list_grace)
        {
            return Ok(Action::requeue(wait));
        }
        let status = account_not_ready_status(&stl, reason, &message, now);
        write_status(&ctx.client, &stl, &status).await?;
    }
    Ok(Action::requeue(Duration::from_secs(60 * 60)))
}

/// How long to hold back reporting a missing or non-selecting account: a list never reported
/// on and younger than `grace` waits out the rest of it, since its account is usually applied
/// in the same breath (and then the account's reconciler writes the list's first status).
fn report_after(
    created: Option<jiff::Timestamp>,
    has_status: bool,
    now: jiff::Timestamp,
    grace: Duration,
) -> Option<Duration> {
    if has_status {
        return None;
    }
    let age = now.duration_since(created?);
    let grace = jiff::SignedDuration::try_from(grace).ok()?;
    (age < grace).then(|| Duration::try_from(grace - age).unwrap_or_default())
}

/// Retry after a failed list reconcile.
pub fn error_policy(_stl: Arc<SyncTargetList>, error: &Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!(reason = error.reason(), error = %error, "SyncTargetList reconcile failed");
    Action::requeue(error.retry_after().unwrap_or(Duration::from_secs(30)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use exo_api::sync_target_list::{ResolvedUser, SyncTargetListSpec, UnresolvedEntry};

    fn stl() -> SyncTargetList {
        let mut s = SyncTargetList::new(
            "sales",
            serde_json::from_value::<SyncTargetListSpec>(serde_json::json!({
                "serviceAccountRef": {"name": "contoso"},
                "users": ["ada@contoso.com"]
            }))
            .unwrap(),
        );
        s.metadata.generation = Some(2);
        s
    }

    fn user(i: usize) -> ResolvedUser {
        ResolvedUser {
            id: i.to_string(),
            user_principal_name: format!("u{i}@contoso.com"),
            display_name: None,
            via: vec!["group:Sales".into()],
        }
    }

    fn resolution(n: usize, unresolved: Vec<UnresolvedEntry>) -> Resolution {
        Resolution {
            users: (0..n).map(user).collect(),
            directory: Vec::new(),
            group_directory: Vec::new(),
            unresolved,
            groups: 1,
            limit_exceeded: n > MAX_USERS,
        }
    }

    #[test]
    fn a_clean_resolution_is_ready() {
        let now = jiff::Timestamp::now();
        let status = resolved_status(&stl(), &resolution(3, vec![]), now);
        assert_eq!(status.user_count, 3);
        assert_eq!(status.observed_generation, Some(2));
        assert!(conditions::is_true(&status.conditions, "Ready"));
        assert_eq!(status.conditions[0].type_, "Ready");
    }

    #[test]
    fn over_the_limit_keeps_the_last_good_list_and_stalls() {
        let now = jiff::Timestamp::now();
        let mut list = stl();
        list.status = Some(resolved_status(&list, &resolution(5, vec![]), now));
        let status = resolved_status(&list, &resolution(101, vec![]), now);
        assert_eq!(status.user_count, 5);
        assert_eq!(status.resolved_users.len(), 5);
        let resolved = conditions::get(&status.conditions, RESOLVED).unwrap();
        assert_eq!(resolved.reason, "LimitExceeded");
        assert!(conditions::is_true(&status.conditions, "Stalled"));
        assert!(!conditions::is_true(&status.conditions, "Ready"));
    }

    #[test]
    fn unresolved_entries_are_named() {
        let status = resolved_status(
            &stl(),
            &resolution(
                1,
                vec![UnresolvedEntry {
                    entry: "nobody@contoso.com".into(),
                    reason: "UserNotFound".into(),
                    message: None,
                }],
            ),
            jiff::Timestamp::now(),
        );
        let ready = conditions::get(&status.conditions, "Ready").unwrap();
        assert_eq!(ready.reason, "EntriesUnresolved");
        assert!(ready.message.contains("nobody@contoso.com (UserNotFound)"));
        assert_eq!(status.user_count, 1);
    }

    #[test]
    fn a_new_list_waits_out_the_grace_before_reporting_its_account_missing() {
        let now = jiff::Timestamp::now();
        let grace = Duration::from_secs(5);
        let two_seconds_ago = now - jiff::SignedDuration::from_secs(2);
        assert_eq!(
            report_after(Some(two_seconds_ago), false, now, grace),
            Some(Duration::from_secs(3))
        );
        // Reported at once: a list already reported on, an old list, or one without a
        // creation time.
        assert_eq!(report_after(Some(two_seconds_ago), true, now, grace), None);
        let old = now - jiff::SignedDuration::from_secs(6);
        assert_eq!(report_after(Some(old), false, now, grace), None);
        assert_eq!(report_after(None, false, now, grace), None);
        assert_eq!(report_after(Some(now), false, now, Duration::ZERO), None);
    }

    #[test]
    fn an_account_waiting_for_its_grant_is_progressing_not_stalled() {
        // reason → (Reconciling, Stalled)
        for (reason, progressing) in [("WaitingForGrant", true), ("ServiceAccountNotFound", false)]
        {
            let now = jiff::Timestamp::now();
            let status = account_not_ready_status(&stl(), reason, "a message", now);
            let conds = &status.conditions;
            assert_eq!(
                conditions::is_true(conds, "Reconciling"),
                progressing,
                "{reason}"
            );
            assert_eq!(
                conditions::is_true(conds, "Stalled"),
                !progressing,
                "{reason}"
            );
        }
    }
}
