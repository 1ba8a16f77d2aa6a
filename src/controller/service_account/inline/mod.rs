//! Inline mode: the Exchange Administrator role ([`role`]), the mail-flow objects
//! ([`desired`]) created, kept and removed through the Exchange admin API, drift handling, and
//! the security-settings checks ([`checks`]).
//!
//! The objects a pass is about to create are first recorded in `status.mailFlow.objects` (an
//! intent log, one write for the pass), so an operator stopped between two Exchange writes
//! recognises its objects after a restart and never creates one twice. Writes that do not
//! depend on one another run at once; rules, which name connectors and groups, come after them
//! in their order.

pub mod checks;
mod cleanup;
pub mod desired;
mod inputs;
mod plan;
pub mod role;
mod session;

pub use cleanup::cleanup;
use inputs::gather;
use session::{MailFlowSession, SessionError};

use std::collections::BTreeSet;

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;

use self::desired::{DesiredObject, Inputs, Kind};
use super::decide::{InlineCheck, InlineObservation};
use super::directory::{self, SYNC_REQUESTED_ANNOTATION};
use super::pass::AccountPass;
use super::tenant_clients::TenantClients;
use crate::controller::conditions::{
    self, MAIL_FLOW_CONFIGURED, MAIL_FLOW_DRIFTED, SECURITY_SETTINGS_VERIFIED,
};
use crate::controller::context::Context;
use crate::controller::error::Result;
use crate::microsoft::exchange::{ExchangeClient, ExchangeError, ExchangeFailure};
use crate::microsoft::identity::credential::ClientCredential;
use crate::microsoft::identity::token::AccessToken;
use crate::microsoft::permissions::EXCHANGE_MANAGE_AS_APP;
use exo_api::email_security_service::ServiceMailFlow;
use exo_api::exchange_service_account::{
    ExchangeServiceAccount, InlineSpec, MailFlowStatus, RoleAssignmentMode, SyncScope,
};

/// Key of the routing token in the account's mail-flow Secret.
const TOKEN_KEY: &str = "routing-token";
/// How soon to look again after a transient Exchange failure.
const RETRY: Duration = Duration::from_secs(30);

/// Name of the Secret holding the tenant's routing token.
pub fn secret_name(esa: &ExchangeServiceAccount) -> String {
    format!("{}-mail-flow", esa.name_any())
}

/// What the inline pass produced.
pub struct InlineOutcome {
    /// Conditions and status.
    pub observation: InlineObservation,
    /// When to look again, if sooner than usual.
    pub requeue: Option<Duration>,
}

/// The Exchange admin API client of the tenant the token was issued for.
fn exchange_client(account: &TenantClients, token: &AccessToken) -> ExchangeClient {
    let tenant = token
        .claims
        .tid
        .clone()
        .unwrap_or_else(|| account.tenant.clone());
    ExchangeClient::new(account.http.clone(), &account.endpoints, &tenant)
}

/// Fetches the Exchange token into the cache while the Graph grant is being confirmed; a
/// failure is left for the inline pass to report.
pub async fn prefetch_exchange_token(
    account: &TenantClients,
    credential: &ClientCredential,
    ctx: &Context,
) {
    if let Err(e) = account
        .app_token(ctx, credential, &account.endpoints.exchange_scope)
        .await
    {
        tracing::debug!(error = %e, "Exchange token not available yet");
    }
}

fn forget_exchange_token(account: &TenantClients, credential: &ClientCredential, ctx: &Context) {
    let key = account.cache_key(&account.endpoints.exchange_scope, &credential.fingerprint());
    ctx.tokens.forget_key(&key);
}

fn previous_status(esa: &ExchangeServiceAccount) -> MailFlowStatus {
    esa.status
        .as_ref()
        .and_then(|s| s.mail_flow.clone())
        .unwrap_or_default()
}

/// Records what the account owns (and is about to own) in its status, ahead of the tenant
/// writes of a pass or of a deletion (the intent log): the created and pending objects, the
/// allow-list entries and the role. The rest of the status stays as it was.
async fn record(esa: &ExchangeServiceAccount, ctx: &Context, owned: &MailFlowStatus) -> Result<()> {
    let mut full = esa.status.clone().unwrap_or_default();
    let recorded = full.mail_flow.get_or_insert_with(Default::default);
    recorded.objects.clone_from(&owned.objects);
    recorded.pending.clone_from(&owned.pending);
    recorded
        .allow_list_entries
        .clone_from(&owned.allow_list_entries);
    recorded.role_assignment_owned = owned.role_assignment_owned;
    super::write_status(ctx, esa, &full).await?;
    Ok(())
}

/// One Event for the role assigned or asked for.
async fn announce_role_request(pass: &AccountPass<'_>, role: &role::RoleState, principal: &str) {
    use kube::Resource;
    use kube::runtime::events::EventType;
    let (reason, note) = match &role.request_id {
        Some(id) => (
            "RoleRequested",
            format!(
                "Asked Privileged Identity Management for the Exchange Administrator role for service principal {principal} (request {id})."
            ),
        ),
        None => (
            "RoleAssigned",
            format!("Assigned the Exchange Administrator role to service principal {principal}."),
        ),
    };
    let object = pass.esa.object_ref(&());
    pass.ctx
        .publish_event(&object, EventType::Normal, reason, reason, note)
        .await;
}

fn not_configured(reason: &str, message: String) -> InlineCheck {
    InlineCheck::positive(MAIL_FLOW_CONFIGURED, false, reason, message)
}

/// The inline pass of a reconcile, once Graph access is granted.
pub async fn ensure(
    pass: &AccountPass<'_>,
    graph_token: &AccessToken,
    principal: Option<String>,
) -> Result<InlineOutcome> {
    let (esa, ctx, account, credential, now) =
        (pass.esa, pass.ctx, pass.clients, pass.credential, pass.now);
    let Some(spec) = esa.spec.inline.as_ref() else {
        return Ok(InlineOutcome {
            observation: InlineObservation {
                checks: vec![not_configured(
                    "InlineSettingsMissing",
                    "spec.inline is required in Inline mode.".into(),
                )],
                status: None,
                failed: false,
            },
            requeue: None,
        });
    };
    let Some(service) = pass.service.mail_flow.as_ref() else {
        return Ok(InlineOutcome {
            observation: InlineObservation {
                checks: vec![
                    not_configured(
                        "ServiceIncomplete",
                        format!(
                            "The {} has no spec.mailFlow, which inline mode needs.",
                            pass.service.named
                        ),
                    )
                    .needing_a_human(),
                ],
                status: None,
                failed: false,
            },
            requeue: None,
        });
    };
    let mut previous = previous_status(esa);
    if sync_requested_since(esa, &previous) {
        // An on-demand sync re-checks the role too: a cached token's roles may be outdated.
        forget_exchange_token(account, credential, ctx);
    }
    let token = match exchange_token(pass).await {
        Ok(token) => token,
        Err(waiting) => return Ok(waiting),
    };
    let principal = match principal {
        Some(p) => p,
        None => match account
            .graph
            .service_principal(graph_token, &account.client_id)
            .await?
        {
            Some(sp) => sp.id,
            None => {
                let check = not_configured(
                    "ServicePrincipalNotFound",
                    "The application has no service principal in the tenant yet.".into(),
                );
                return Ok(waiting_outcome(check, Some(RETRY)));
            }
        },
    };
    let asks_for_role = !role::token_has_role(&token)
        && spec.role_assignment.mode != RoleAssignmentMode::Manual
        && !previous.role_assignment_owned;
    if asks_for_role && !ctx.is_planning() {
        // The intent log: the role is recorded as the account's before it is asked for.
        previous.role_assignment_owned = true;
        record(esa, ctx, &previous).await?;
    }
    let mut role = role::ensure(spec, account, ctx, graph_token, &token, &principal).await?;
    if role.asked_now {
        announce_role_request(pass, &role, &principal).await;
    }
    role.check = role::bound_propagation(role.check, esa, now);
    if !role.assigned {
        forget_exchange_token(account, credential, ctx);
        previous.role_request_id = role.request_id.clone();
        return Ok(InlineOutcome {
            observation: InlineObservation {
                checks: vec![
                    role.check,
                    not_configured(
                        "WaitingForRole",
                        "Mail flow is configured once the Exchange Administrator role is in effect.".into(),
                    ),
                ],
                status: Some(previous),
                failed: false,
            },
            requeue: role.requeue,
        });
    }
    previous.role_request_id = None;
    let configured = MailFlowChange {
        spec,
        service,
        token: &token,
        previous,
        role_check: role.check,
    };
    configure(pass, graph_token, configured).await
}

/// The Exchange token, with `Exchange.ManageAsApp` among its roles; otherwise the outcome that
/// waits for it (a failed token, or the permission to consent to).
async fn exchange_token(pass: &AccountPass<'_>) -> std::result::Result<AccessToken, InlineOutcome> {
    let (account, ctx, credential) = (pass.clients, pass.ctx, pass.credential);
    let token = match account
        .app_token(ctx, credential, &account.endpoints.exchange_scope)
        .await
    {
        Ok(t) => t,
        Err(e) => {
            let check = not_configured(
                "ExchangeTokenFailed",
                format!("{e}; the Exchange Online token is needed to configure mail flow."),
            );
            return Err(waiting_outcome(check, Some(RETRY)));
        }
    };
    if token
        .claims
        .roles
        .iter()
        .any(|r| r == EXCHANGE_MANAGE_AS_APP.name)
    {
        return Ok(token);
    }
    forget_exchange_token(account, credential, ctx);
    let check = not_configured(
        "ExchangePermissionMissing",
        format!(
            "{} is not granted on Office 365 Exchange Online; a Global Administrator must grant admin consent at {}",
            EXCHANGE_MANAGE_AS_APP.name,
            account.consent_url(pass.esa)
        ),
    );
    Err(waiting_outcome(
        check.needing_a_human(),
        Some(ctx.settings.consent_poll),
    ))
}

/// The mail flow to configure once the role is in effect: the spec, the Exchange token, the
/// status so far and the role's check.
struct MailFlowChange<'a> {
    spec: &'a InlineSpec,
    service: &'a ServiceMailFlow,
    token: &'a AccessToken,
    previous: MailFlowStatus,
    role_check: InlineCheck,
}

/// Reads the tenant (unless verified recently and unchanged), plans and carries out the plan.
async fn configure(
    pass: &AccountPass<'_>,
    graph_token: &AccessToken,
    change: MailFlowChange<'_>,
) -> Result<InlineOutcome> {
    let AccountPass {
        esa,
        ctx,
        clients: account,
        now,
        ..
    } = *pass;
    let MailFlowChange {
        spec,
        service,
        token,
        previous,
        role_check,
    } = change;
    let exchange = exchange_client(account, token);
    let owner = desired::Owner {
        account: &account.key,
        uid: esa.metadata.uid.as_deref().unwrap_or_default(),
    };
    let session = MailFlowSession {
        esa,
        ctx,
        exchange: &exchange,
        token,
        spec,
        service,
        owner,
        planned: Default::default(),
    };
    // A tenant due for a look is read while the inputs are gathered (the reads need only the
    // Exchange token); a settled one is read only if the desired state turns out to differ.
    // A plan always reads the tenant: what it shows is what is there now.
    let verified_recently = verified_recently(esa, &previous, now) && !ctx.writes_nothing();
    let kinds = kinds_to_read(spec, esa.spec.sync.scope, &previous);
    let (inputs, current) = if verified_recently {
        (gather(esa, account, graph_token, ctx, true).await?, None)
    } else {
        let (inputs, current) = futures::join!(
            gather(esa, account, graph_token, ctx, false),
            session.read(&kinds)
        );
        (inputs?, Some(current))
    };
    let inputs = match inputs {
        Ok(i) => i,
        Err(check) => {
            // The status as this pass left it (the role's intent may have been recorded), and
            // the role as found.
            let mut waiting = waiting_outcome(check, Some(RETRY));
            waiting.observation.checks.insert(0, role_check);
            waiting.observation.status = Some(previous);
            return Ok(waiting);
        }
    };
    let wanted = desired::desired(&Inputs {
        owner,
        inline: spec,
        service,
        scope: esa.spec.sync.scope,
        members: &inputs.members,
        domains: &inputs.mail_domains,
        token: &inputs.routing_token,
    });
    let fingerprint = fingerprint(&wanted);
    if verified_recently && previous.applied.as_deref() == Some(fingerprint.as_str()) {
        return Ok(InlineOutcome {
            observation: InlineObservation {
                checks: vec![role_check]
                    .into_iter()
                    .chain(kept_checks(esa))
                    .collect(),
                status: Some(previous),
                failed: false,
            },
            requeue: None,
        });
    }
    let current = match current {
        Some(c) => c,
        None => session.read(&kinds).await,
    };
    let applied = session
        .apply(&wanted, previous.clone(), &inputs, current)
        .await;
    Ok(outcome_of(pass, applied, fingerprint, role_check))
}

/// The outcome of a carried-out pass: the new status with the fingerprint of what it
/// applied, or what its failure means.
fn outcome_of(
    pass: &AccountPass<'_>,
    applied: std::result::Result<(MailFlowStatus, Vec<InlineCheck>), SessionError>,
    fingerprint: String,
    role_check: InlineCheck,
) -> InlineOutcome {
    let (account, credential, ctx) = (pass.clients, pass.credential, pass.ctx);
    match applied {
        Ok((mut status, mut checks)) => {
            // What was only planned was not applied: the next pass reads the tenant again.
            if !ctx.is_planning() {
                status.applied = Some(fingerprint);
            }
            status.last_check_time = Some(Time(pass.now));
            checks.insert(0, role_check);
            InlineOutcome {
                observation: InlineObservation {
                    checks,
                    status: Some(status),
                    failed: false,
                },
                requeue: None,
            }
        }
        Err(SessionError { status, error }) => {
            let failed = session_failure(&error, ctx.settings.consent_poll);
            if failed.token_suspect {
                forget_exchange_token(account, credential, ctx);
            }
            InlineOutcome {
                observation: InlineObservation {
                    checks: vec![role_check, failed.check],
                    status: Some(status),
                    failed: failed.for_now,
                },
                requeue: Some(failed.requeue),
            }
        }
    }
}

/// What a failed pass means: the `MailFlowConfigured` check, when to look again, and whether
/// the Exchange token is suspect (dropped so that the next pass fetches a new one).
struct SessionFailure {
    check: InlineCheck,
    requeue: Duration,
    token_suspect: bool,
    /// Expected to pass by itself: the account backs off.
    for_now: bool,
}

/// Decides what an Exchange failure during the pass means. Pure.
fn session_failure(error: &ExchangeError, consent_poll: Duration) -> SessionFailure {
    let (reason, message, requeue, human) = match error.failure {
        ExchangeFailure::Forbidden => (
            "RolePropagating",
            format!(
                "{error}; the role was assigned recently and Exchange Online has not picked it up yet. If this lasts more than an hour, check the role assignment."
            ),
            role::PROPAGATION_POLL,
            false,
        ),
        ExchangeFailure::TokenRejected => {
            ("ExchangeTokenRejected", error.to_string(), RETRY, false)
        }
        ExchangeFailure::Invalid | ExchangeFailure::AlreadyExists => (
            error.failure.reason(),
            format!("{error}; check spec.inline.mailFlow."),
            consent_poll,
            true,
        ),
        ExchangeFailure::Throttled | ExchangeFailure::Transient | ExchangeFailure::NotFound => (
            error.failure.reason(),
            format!("{error}; retrying."),
            error.retry_after.unwrap_or(RETRY),
            false,
        ),
    };
    let check = not_configured(reason, message);
    SessionFailure {
        check: if human {
            check.needing_a_human()
        } else {
            check
        },
        requeue,
        token_suspect: matches!(
            error.failure,
            ExchangeFailure::Forbidden | ExchangeFailure::TokenRejected
        ),
        for_now: matches!(
            error.failure,
            ExchangeFailure::TokenRejected
                | ExchangeFailure::Throttled
                | ExchangeFailure::Transient
                | ExchangeFailure::NotFound
        ),
    }
}

fn waiting_outcome(check: InlineCheck, requeue: Option<Duration>) -> InlineOutcome {
    InlineOutcome {
        observation: InlineObservation {
            failed: !check.needs_human,
            checks: vec![check],
            status: None,
        },
        requeue,
    }
}

/// The inline conditions as they are, when nothing needs to be looked at again.
fn kept_checks(esa: &ExchangeServiceAccount) -> Vec<InlineCheck> {
    let conds = esa
        .status
        .as_ref()
        .map(|s| s.conditions.clone())
        .unwrap_or_default();
    [
        MAIL_FLOW_CONFIGURED,
        SECURITY_SETTINGS_VERIFIED,
        MAIL_FLOW_DRIFTED,
    ]
    .into_iter()
    .filter_map(|t| {
        let c = conditions::get(&conds, t)?;
        let status = c.status == "True";
        Some(InlineCheck {
            type_: t,
            status,
            healthy: if t == MAIL_FLOW_DRIFTED {
                !status
            } else {
                status
            },
            reason: c.reason.clone(),
            message: c.message.clone(),
            needs_human: false,
        })
    })
    .collect()
}

/// Whether the tenant needs no look unless the desired state changed: its mail flow was
/// configured, the interval has not passed since the last look, and no check was asked for.
fn verified_recently(
    esa: &ExchangeServiceAccount,
    previous: &MailFlowStatus,
    now: jiff::Timestamp,
) -> bool {
    if previous.applied.is_none() {
        return false;
    }
    let configured = esa
        .status
        .as_ref()
        .is_some_and(|s| conditions::is_true(&s.conditions, MAIL_FLOW_CONFIGURED));
    if !configured {
        return false;
    }
    let Some(last) = previous.last_check_time.as_ref().map(|t| t.0) else {
        return false;
    };
    if last + directory::interval(esa) <= now {
        return false;
    }
    esa.annotations()
        .get(SYNC_REQUESTED_ANNOTATION)
        .and_then(|v| v.parse::<jiff::Timestamp>().ok())
        .is_none_or(|requested| requested <= last)
}

/// The kinds a pass reads: those it wants (they depend only on the spec), those it owns, and
/// the rules and inbound connectors the security checks look at.
/// Whether a sync was requested after the tenant was last looked at.
fn sync_requested_since(esa: &ExchangeServiceAccount, previous: &MailFlowStatus) -> bool {
    let requested = esa
        .annotations()
        .get(SYNC_REQUESTED_ANNOTATION)
        .and_then(|v| v.parse::<jiff::Timestamp>().ok());
    match (requested, previous.last_check_time.as_ref()) {
        (Some(requested), Some(last)) => requested > last.0,
        _ => false,
    }
}

fn kinds_to_read(spec: &InlineSpec, scope: SyncScope, previous: &MailFlowStatus) -> BTreeSet<Kind> {
    desired::kinds(spec, scope)
        .into_iter()
        .chain(
            previous
                .objects
                .iter()
                .filter_map(|id| Kind::from_noun(id.split_once('/').map(|(k, _)| k).unwrap_or(""))),
        )
        .chain([Kind::TransportRule, Kind::InboundConnector])
        .collect()
}

fn fingerprint(wanted: &[DesiredObject]) -> String {
    let text = format!("{wanted:?}");
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    digest.as_ref()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_pass_is_decided_by_the_exchange_failure() {
        let poll = Duration::from_secs(60);
        let secs = Duration::from_secs;
        // (status, Retry-After) → (reason, or the failure's own; needs a human; requeue;
        // token suspect)
        let table = [
            (
                403,
                None,
                Some("RolePropagating"),
                false,
                role::PROPAGATION_POLL,
                true,
            ),
            (401, None, Some("ExchangeTokenRejected"), false, RETRY, true),
            (429, Some(secs(7)), None, false, secs(7), false),
            (503, None, None, false, RETRY, false),
            (400, None, None, true, poll, false),
        ];
        for (status, retry_after, reason, human, requeue, suspect) in table {
            let error = ExchangeError::from_response("Set-X", status, b"", retry_after);
            let failed = session_failure(&error, poll);
            assert_eq!(failed.check.type_, MAIL_FLOW_CONFIGURED);
            assert!(!failed.check.status);
            let reason = reason.unwrap_or(error.failure.reason());
            assert_eq!(failed.check.reason, reason, "{status}");
            assert_eq!(failed.check.needs_human, human, "{status}");
            assert_eq!(failed.requeue, requeue, "{status}");
            assert_eq!(failed.token_suspect, suspect, "{status}");
        }
    }
}
