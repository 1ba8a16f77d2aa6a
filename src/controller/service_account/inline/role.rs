//! The Exchange Administrator role for the service principal: assigned directly, requested
//! through Privileged Identity Management, or left to an administrator (Manual), and detected
//! from a freshly issued Exchange token's `wids`.

use std::time::Duration;

use super::super::decide::InlineCheck;
use super::super::tenant_clients::TenantClients;
use crate::controller::conditions::ROLE_ASSIGNED;
use crate::controller::context::Context;
use crate::controller::error::Result;
use crate::controller::planned::{Action, Change, Target};
use crate::microsoft::graph::roles::{
    EXCHANGE_ADMINISTRATOR, GLOBAL_ADMINISTRATOR, RoleRequestOutcome,
};
use crate::microsoft::graph::{GraphError, GraphFailure};
use crate::microsoft::identity::token::AccessToken;
use exo_api::exchange_service_account::{InlineSpec, RoleAssignment, RoleAssignmentMode};

/// How often to look while the role propagates.
pub const PROPAGATION_POLL: Duration = Duration::from_secs(10);
/// How long the role may take to reach Exchange before the wait needs a human.
pub const PROPAGATION_LIMIT: Duration = Duration::from_secs(3600);

/// The role's state.
pub struct RoleState {
    /// The Exchange token carries the role.
    pub assigned: bool,
    /// The `RoleAssigned` condition.
    pub check: InlineCheck,
    /// The open Privileged Identity Management request.
    pub request_id: Option<String>,
    /// When to look again.
    pub requeue: Option<Duration>,
    /// This pass assigned the role (or asked for it through Privileged Identity Management).
    pub asked_now: bool,
}

/// Whether `token` carries a directory role Exchange accepts for mail-flow configuration.
pub fn token_has_role(token: &AccessToken) -> bool {
    token
        .claims
        .wids
        .iter()
        .any(|w| w == EXCHANGE_ADMINISTRATOR || w == GLOBAL_ADMINISTRATOR)
}

fn waiting(reason: &str, message: String, human: bool, requeue: Duration) -> RoleState {
    let check = InlineCheck::positive(ROLE_ASSIGNED, false, reason, message);
    RoleState {
        assigned: false,
        check: if human {
            check.needing_a_human()
        } else {
            check
        },
        request_id: None,
        requeue: Some(requeue),
        asked_now: false,
    }
}

/// Makes sure the role is (being) assigned. `exchange_token` is the current app-only Exchange
/// token; `principal` the service principal's object id. The caller drops the Exchange token
/// when this returns not assigned, so that the next look gets a fresh one.
pub async fn ensure(
    spec: &InlineSpec,
    account: &TenantClients,
    ctx: &Context,
    graph_token: &AccessToken,
    exchange_token: &AccessToken,
    principal: &str,
) -> Result<RoleState> {
    if token_has_role(exchange_token) {
        return Ok(assigned());
    }
    let poll = ctx.settings.consent_poll;
    let role = &spec.role_assignment;
    if role.mode == RoleAssignmentMode::Manual {
        return Ok(manual_assignment(&account.client_id, principal, poll));
    }
    if ctx.is_planning() {
        return planned(role, account, ctx, graph_token, principal)
            .await
            .or_else(|e| match e.failure {
                GraphFailure::PermissionDenied => Ok(role_management_denied(&e, poll)),
                _ => Err(e.into()),
            });
    }
    let asked = ask_for_role(role, account, graph_token, principal);
    match crate::controller::fail_point::around("role request", asked).await {
        Ok(outcome) => {
            let asked = matches!(
                outcome,
                RoleRequestOutcome::Assigned(_) | RoleRequestOutcome::Requested(_)
            );
            Ok(RoleState {
                asked_now: asked,
                ..after_request(outcome, poll)
            })
        }
        Err(e) if e.failure == GraphFailure::PermissionDenied => {
            Ok(role_management_denied(&e, poll))
        }
        Err(e) => Err(e.into()),
    }
}

/// The Exchange token carries the role.
fn assigned() -> RoleState {
    RoleState {
        assigned: true,
        check: InlineCheck::positive(
            ROLE_ASSIGNED,
            true,
            "Assigned",
            "The service's application holds the Exchange Administrator role.".into(),
        ),
        request_id: None,
        requeue: None,
        asked_now: false,
    }
}

/// Manual mode: an administrator must assign the role to the application `client_id`
/// (service principal `principal`); look again after `poll`.
fn manual_assignment(client_id: &str, principal: &str, poll: Duration) -> RoleState {
    waiting(
        "ManualAssignmentRequired",
        format!(
            "Assign the Exchange Administrator role to the application {client_id} (service principal {principal}): in the Microsoft Entra admin center open Roles and administrators, Exchange Administrator, Add assignments, and select the application. The operator notices within a minute."
        ),
        true,
        poll,
    )
}

/// Assigns the role to `principal`, directly or through a Privileged Identity Management
/// request, as `role` says.
async fn ask_for_role(
    role: &RoleAssignment,
    account: &TenantClients,
    graph_token: &AccessToken,
    principal: &str,
) -> std::result::Result<RoleRequestOutcome, GraphError> {
    if role.privileged_identity_management {
        account
            .graph
            .request_role(
                graph_token,
                principal,
                EXCHANGE_ADMINISTRATOR,
                role.justification.as_deref().unwrap_or_default(),
            )
            .await
    } else {
        account
            .graph
            .assign_role(graph_token, principal, EXCHANGE_ADMINISTRATOR)
            .await
    }
}

/// What asking for the role would do, read and not done (a planning pass): nothing while an
/// assignment exists or a request awaits approval; otherwise the assignment or the request,
/// recorded.
async fn planned(
    role: &RoleAssignment,
    account: &TenantClients,
    ctx: &Context,
    graph_token: &AccessToken,
    principal: &str,
) -> std::result::Result<RoleState, GraphError> {
    let (graph, poll) = (&account.graph, ctx.settings.consent_poll);
    if graph
        .assignment_id(graph_token, principal, EXCHANGE_ADMINISTRATOR)
        .await?
        .is_some()
    {
        return Ok(after_request(RoleRequestOutcome::Assigned(None), poll));
    }
    if role.privileged_identity_management
        && let Some(open) = graph
            .open_request(graph_token, principal, EXCHANGE_ADMINISTRATOR)
            .await?
    {
        return Ok(after_request(RoleRequestOutcome::Requested(open), poll));
    }
    let object = match role.privileged_identity_management {
        true => format!(
            "Privileged Identity Management request for the Exchange Administrator role of service principal {principal}"
        ),
        false => format!("Exchange Administrator role assignment to service principal {principal}"),
    };
    ctx.planning(|| Change::new(Target::Tenant, Action::Create, object));
    Ok(waiting(
        "RoleAssignmentPlanned",
        "The Exchange Administrator role would be asked for; mail flow is planned once it is in effect.".into(),
        false,
        poll,
    ))
}

/// Graph refused to manage roles (`error`): a permission or licence is missing.
fn role_management_denied(error: &GraphError, poll: Duration) -> RoleState {
    waiting(
        "RoleManagementDenied",
        format!(
            "{error}; RoleManagement.ReadWrite.Directory (and, with Privileged Identity Management, an Entra ID P2 licence) is needed to assign the role. Grant admin consent again or set roleAssignment.mode to Manual."
        ),
        true,
        poll,
    )
}

/// The role's state after asking for it: propagating, awaiting approval, or refused (a human
/// must act, looked at again after `poll`).
fn after_request(outcome: RoleRequestOutcome, poll: Duration) -> RoleState {
    match outcome {
        RoleRequestOutcome::Assigned(_) => waiting(
            "RolePropagating",
            "The Exchange Administrator role is assigned; waiting until Exchange Online accepts it (usually minutes).".into(),
            false,
            PROPAGATION_POLL,
        ),
        RoleRequestOutcome::Requested(request) if request.is_pending() => RoleState {
            request_id: Some(request.id.clone()),
            ..waiting(
                "PendingApproval",
                format!(
                    "Privileged Identity Management request {} for the Exchange Administrator role awaits approval by a privileged role administrator.",
                    request.id
                ),
                true,
                poll,
            )
        },
        RoleRequestOutcome::Requested(request) => RoleState {
            request_id: Some(request.id.clone()),
            ..waiting(
                "RoleRequestNotGranted",
                format!(
                    "Privileged Identity Management request {} ended {}; approve a new request or assign the role by hand.",
                    request.id, request.status
                ),
                true,
                poll,
            )
        },
        RoleRequestOutcome::Refused(code) => waiting(
            "RoleAssignmentRefused",
            format!(
                "Microsoft Entra refused the role assignment ({code}); a role management policy may require a justification, an expiry or approval. Adjust the policy or spec.inline.roleAssignment."
            ),
            true,
            poll,
        ),
    }
}

/// A role that has been propagating for longer than [`PROPAGATION_LIMIT`] needs a human: the
/// check turns into `RolePropagationSlow` (Stalled), while the operator keeps looking.
pub fn bound_propagation(
    check: InlineCheck,
    esa: &exo_api::exchange_service_account::ExchangeServiceAccount,
    now: jiff::Timestamp,
) -> InlineCheck {
    if check.reason != "RolePropagating" {
        return check;
    }
    let since = esa
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == ROLE_ASSIGNED))
        .filter(|c| c.status == "False" && c.reason.starts_with("RolePropagat"))
        .map(|c| c.last_transition_time.0);
    match since {
        Some(t) if now.duration_since(t).as_secs() >= PROPAGATION_LIMIT.as_secs() as i64 => {
            InlineCheck::positive(
                ROLE_ASSIGNED,
                false,
                "RolePropagationSlow",
                format!(
                    "The Exchange Administrator role was assigned at {t} but Exchange Online still refuses the application after an hour; check the assignment in the Microsoft Entra admin center (Roles and administrators, Exchange Administrator)."
                ),
            )
            .needing_a_human()
        }
        _ => check,
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

    use super::*;
    use crate::microsoft::graph::roles::ScheduleRequest;
    use exo_api::exchange_service_account::{ExchangeServiceAccount, ExchangeServiceAccountStatus};

    #[test]
    fn what_asking_for_the_role_produced_decides_the_condition() {
        let poll = Duration::from_secs(60);
        let request = |status: &str| {
            RoleRequestOutcome::Requested(ScheduleRequest {
                id: "r1".into(),
                status: status.into(),
                principal_id: "p".into(),
                role_definition_id: EXCHANGE_ADMINISTRATOR.into(),
            })
        };
        for (outcome, reason, human, request_id, requeue) in [
            (
                RoleRequestOutcome::Assigned(None),
                "RolePropagating",
                false,
                None,
                PROPAGATION_POLL,
            ),
            (
                request("PendingApproval"),
                "PendingApproval",
                true,
                Some("r1"),
                poll,
            ),
            (
                request("Denied"),
                "RoleRequestNotGranted",
                true,
                Some("r1"),
                poll,
            ),
            (
                RoleRequestOutcome::Refused("PolicyViolation".into()),
                "RoleAssignmentRefused",
                true,
                None,
                poll,
            ),
        ] {
            let state = after_request(outcome, poll);
            assert!(!state.assigned);
            assert_eq!(state.check.reason, reason);
            assert_eq!(state.check.needs_human, human, "{reason}");
            assert_eq!(state.request_id.as_deref(), request_id, "{reason}");
            assert_eq!(state.requeue, Some(requeue), "{reason}");
        }
        let refused = after_request(RoleRequestOutcome::Refused("PolicyViolation".into()), poll);
        assert!(refused.check.message.contains("(PolicyViolation)"));
    }

    #[test]
    fn a_long_propagation_needs_a_human() {
        let check =
            || InlineCheck::positive(ROLE_ASSIGNED, false, "RolePropagating", "waiting".into());
        let start: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let mut esa: ExchangeServiceAccount = serde_json::from_value(serde_json::json!({
            "apiVersion": "exo-operator.io/v1alpha1", "kind": "ExchangeServiceAccount",
            "metadata": {"name": "a", "namespace": "d"},
            "spec": {"tenant": "contoso.com", "mode": "Inline", "serviceRef": {"name": "mail-security"}},
        }))
        .unwrap();
        // The first time: no condition yet.
        assert_eq!(
            bound_propagation(check(), &esa, start).reason,
            "RolePropagating"
        );
        esa.status = Some(ExchangeServiceAccountStatus {
            conditions: vec![Condition {
                type_: ROLE_ASSIGNED.into(),
                status: "False".into(),
                reason: "RolePropagating".into(),
                message: "waiting".into(),
                last_transition_time: Time(start),
                observed_generation: None,
            }],
            ..Default::default()
        });
        let soon = start + jiff::SignedDuration::from_secs(600);
        assert!(!bound_propagation(check(), &esa, soon).needs_human);
        let late = start + jiff::SignedDuration::from_secs(3700);
        let slow = bound_propagation(check(), &esa, late);
        assert_eq!(slow.reason, "RolePropagationSlow");
        assert!(slow.needs_human);
    }
}
