//! The Exchange Administrator role for the service principal: assigned directly, requested
//! through Privileged Identity Management, or left to an administrator (Manual), and detected
//! from a freshly issued Exchange token's `wids`.

use std::time::Duration;

use super::super::decide::InlineCheck;
use super::super::tenant_clients::TenantClients;
use crate::controller::conditions::ROLE_ASSIGNED;
use crate::controller::context::Context;
use crate::controller::error::Result;
use crate::microsoft::graph::GraphFailure;
use crate::microsoft::graph::roles::{
    EXCHANGE_ADMINISTRATOR, GLOBAL_ADMINISTRATOR, RoleRequestOutcome,
};
use crate::microsoft::identity::token::AccessToken;
use exo_api::exchange_service_account::{InlineSpec, RoleAssignmentMode};

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
        return Ok(RoleState {
            assigned: true,
            check: InlineCheck::positive(
                ROLE_ASSIGNED,
                true,
                "Assigned",
                "The service's application holds the Exchange Administrator role.".into(),
            ),
            request_id: None,
            requeue: None,
        });
    }
    let poll = ctx.settings.consent_poll;
    let role = &spec.role_assignment;
    if role.mode == RoleAssignmentMode::Manual {
        return Ok(waiting(
            "ManualAssignmentRequired",
            format!(
                "Assign the Exchange Administrator role to the application {} (service principal {principal}): in the Microsoft Entra admin center open Roles and administrators, Exchange Administrator, Add assignments, and select the application. The operator notices within a minute.",
                account.client_id
            ),
            true,
            poll,
        ));
    }
    let outcome = if role.privileged_identity_management {
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
    };
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) if e.failure == GraphFailure::PermissionDenied => {
            return Ok(waiting(
                "RoleManagementDenied",
                format!(
                    "{e}; RoleManagement.ReadWrite.Directory (and, with Privileged Identity Management, an Entra ID P2 licence) is needed to assign the role. Grant admin consent again or set roleAssignment.mode to Manual."
                ),
                true,
                poll,
            ));
        }
        Err(e) => return Err(e.into()),
    };
    Ok(match outcome {
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
    })
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
    use exo_api::exchange_service_account::{ExchangeServiceAccount, ExchangeServiceAccountStatus};

    #[test]
    fn a_long_propagation_needs_a_human() {
        let check =
            || InlineCheck::positive(ROLE_ASSIGNED, false, "RolePropagating", "waiting".into());
        let start: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let mut esa: ExchangeServiceAccount = serde_json::from_value(serde_json::json!({
            "apiVersion": "exo-operator.io/v1alpha1", "kind": "ExchangeServiceAccount",
            "metadata": {"name": "a", "namespace": "d"},
            "spec": {"tenant": "contoso.com", "mode": "Inline", "application": {"clientId": "3f1c2a4e-8b7d-4c6e-9a2b-1d0e5f6a7b8c", "credentials": {"secretName": "s"}}},
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
