//! The pure heart of the ExchangeServiceAccount reconciler: from what was observed in the
//! tenant and the cluster, the status to write and the transitions to announce. No I/O here,
//! so every condition rule is unit-tested.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
#[cfg(test)]
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

pub use super::delivery::DeliveryObservation;
use crate::controller::conditions;
use crate::microsoft::errors::{ErrorClass, TokenFailure};
use exo_api::exchange_service_account::{
    ExchangeServiceAccountStatus, MailFlowStatus, ServicePrincipalStatus, SyncSummary,
};

pub use exo_api::conditions::{ACTIVITY_DATA_AUTHORIZED, POLICY_ENABLED};

/// The `message` of a Ready account, as the hosted console words it.
pub const READY_MESSAGE: &str = "Successfully created a service account and synced data.";

/// The `message` of a Ready inline-mode account: mail flows through the service too.
pub const READY_INLINE_MESSAGE: &str = "Successfully created a service account, synced data and routed mail through the service (connectors, transport rules and allow list in place).";

/// A problem with the account's configuration or its Secrets, found before calling Microsoft.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Stable reason (`CredentialSecretNotFound`, `CredentialInvalid`, ...).
    pub reason: &'static str,
    /// What is wrong and what to do.
    pub message: String,
}

/// What was learnt about the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenObservation {
    /// Not attempted (a configuration problem, or no grant yet).
    NotAttempted,
    /// A token is held.
    Valid {
        /// Its expiry.
        expires_at: jiff::Timestamp,
        /// When it was obtained.
        obtained_at: jiff::Timestamp,
    },
    /// The last attempt failed.
    Failed {
        /// Why.
        failure: TokenFailure,
        /// The message (scrubbed, with the AADSTS code).
        message: String,
        /// Expiry of a token still held, if any.
        still_valid_until: Option<jiff::Timestamp>,
    },
}

/// What was learnt about the grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthorizationObservation {
    /// Not known (an earlier step failed).
    Unknown,
    /// Every required permission is granted.
    Granted,
    /// Admin consent is needed for these permissions (empty: the whole application).
    ConsentRequired {
        /// The admin consent URL.
        url: String,
        /// Names of the missing permissions.
        missing: Vec<String>,
    },
    /// The token has the permissions but the tenant does not list them yet (replication).
    Propagating {
        /// Names of permissions not yet listed.
        missing: Vec<String>,
    },
    /// A device-code sign-in is waiting for the administrator.
    AwaitingSignIn {
        /// Where to sign in.
        verification_uri: String,
        /// The code to enter.
        user_code: String,
        /// When the prompt expires.
        expires_at: jiff::Timestamp,
        /// Delegated permissions the sign-in must grant.
        missing: Vec<String>,
    },
    /// The last device-code sign-in ended without a grant (declined, expired, or its grant
    /// ended), and no new prompt is open.
    SignInEnded {
        /// How it ended.
        end: SignInEnd,
        /// When a new prompt opens by itself (automatic regrant); `None`: on the regrant
        /// annotation only.
        next_prompt: Option<jiff::Timestamp>,
    },
}

/// What was learnt about directory synchronisation.
#[derive(Clone, Debug, PartialEq)]
pub enum SyncObservation {
    /// Not attempted yet (no grant).
    NotStarted,
    /// Synchronised; the summary to show.
    Synced(SyncSummary),
    /// Could not synchronise.
    Failed {
        /// Stable reason.
        reason: String,
        /// Message for a human.
        message: String,
        /// True when only a human can fix it.
        needs_human: bool,
        /// The previous summary, kept.
        previous: Option<SyncSummary>,
        /// How long Microsoft asked to wait (`Retry-After`), if it did.
        retry_after: Option<std::time::Duration>,
    },
}

/// Everything the reconciler observed for one account.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    /// A configuration problem that stopped the reconcile early.
    pub config: Option<ConfigProblem>,
    /// The token.
    pub token: TokenObservation,
    /// The grant.
    pub authorization: AuthorizationObservation,
    /// The application's identity in the tenant, when known.
    pub service_principal: Option<ServicePrincipalStatus>,
    /// Directory synchronisation.
    pub sync: SyncObservation,
    /// The handoff to the service: `None` when the service has no ingestion endpoint.
    pub delivery: Option<DeliveryObservation>,
    /// The policies of `spec.policies`, `None` when none are asked for.
    pub policies: Option<PolicyObservation>,
    /// Activity data: `None` when not asked for.
    pub activity: Option<ActivityObservation>,
    /// Inline mode: the role, mail-flow, security-settings and drift conditions, and the
    /// mail-flow status; `None` in API mode.
    pub inline: Option<InlineObservation>,
    /// Another account (`namespace/name`) manages this tenant: nothing was done in it.
    pub claimed_by: Option<String>,
    /// API mode with a service that receives change notifications: the subscriptions.
    pub protection: Option<ProtectionObservation>,
    /// `managementPolicy: Observe`: the changes a reconcile under `Manage` would make (none
    /// was made); `None` under `Manage`.
    pub observing: Option<Vec<exo_api::exchange_service_account::PlannedChange>>,
}

/// Where the change-notification subscriptions of the protected mailboxes stand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProtectionObservation {
    /// Access is not granted yet (or not valid): nothing is subscribed.
    WaitingForGrant,
    /// The service's configuration does not allow subscriptions.
    NotPossible {
        /// Stable reason.
        reason: &'static str,
        /// What is wrong and what to do.
        message: String,
    },
    /// The operator keeps them: where they stand.
    Kept(crate::protection::Summary),
}

impl Observation {
    /// Whether this pass met a failure expected to pass by itself (a transient error,
    /// throttling, a refused token): the account then backs off, per account. Failures only a
    /// human can fix are re-checked on their own schedule instead.
    pub fn failed_for_now(&self) -> bool {
        let token = matches!(&self.token, TokenObservation::Failed { failure, .. }
            if !matches!(failure.class(), ErrorClass::NeedsHuman | ErrorClass::Configuration));
        let sync = matches!(
            &self.sync,
            SyncObservation::Failed {
                needs_human: false,
                ..
            }
        );
        let activity = matches!(&self.activity, Some(ActivityObservation::Unavailable(_)));
        let inline = self.inline.as_ref().is_some_and(|i| i.failed);
        let delivery = matches!(
            &self.delivery,
            Some(DeliveryObservation::Failed {
                needs_human: false,
                ..
            })
        );
        token || sync || activity || inline || delivery
    }

    /// How long Microsoft asked this pass to wait, if it did.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        let sync = match &self.sync {
            SyncObservation::Failed { retry_after, .. } => *retry_after,
            _ => None,
        };
        let delivery = match &self.delivery {
            Some(DeliveryObservation::Failed { retry_after, .. }) => *retry_after,
            _ => None,
        };
        sync.max(delivery)
    }
}

/// The policies an account asks for, and those its service offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyObservation {
    /// `spec.policies`.
    pub asked: Vec<String>,
    /// The names the service lists in its `spec.policies` (empty: it lists none).
    pub offered: Vec<String>,
}

impl PolicyObservation {
    /// The policies asked for that the service does not list (compared without regard to
    /// case, as the protocol does); none when it lists no policies.
    pub fn not_offered(&self) -> Vec<String> {
        if self.offered.is_empty() {
            return Vec::new();
        }
        self.asked
            .iter()
            .filter(|a| !self.offered.iter().any(|o| o.eq_ignore_ascii_case(a)))
            .cloned()
            .collect()
    }
}

/// What was learnt about activity data (`spec.activityData`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActivityObservation {
    /// Access is not granted yet: nothing was asked of the Management API.
    WaitingForGrant,
    /// No Management API token (the identity platform's error).
    NoToken(String),
    /// The token lacks `ActivityFeed.Read`; admin consent at the URL grants it.
    PermissionMissing {
        /// The admin consent URL.
        consent_url: String,
    },
    /// The token names no tenant id, which the Management API needs.
    TenantUnknown,
    /// The subscriptions are started (or were confirmed with this token already).
    Subscribed,
    /// The Management API refused: a permission or the tenant's audit log needs a human.
    Forbidden(String),
    /// The Management API failed for now.
    Unavailable(String),
}

impl ActivityObservation {
    /// `ActivityDataAuthorized`: (status, reason, message).
    pub fn condition(&self) -> (bool, &'static str, String) {
        use crate::microsoft::permissions::ACTIVITY_FEED_READ;
        match self {
            Self::WaitingForGrant => (
                false,
                "WaitingForGrant",
                "Activity data is subscribed once access is granted.".into(),
            ),
            Self::NoToken(e) => (false, "ActivityConsentRequired", e.clone()),
            Self::PermissionMissing { consent_url } => (
                false,
                "ActivityPermissionMissing",
                format!(
                    "{} is not granted on the Office 365 Management APIs; a Global Administrator must grant admin consent at {consent_url}",
                    ACTIVITY_FEED_READ.name
                ),
            ),
            Self::TenantUnknown => (
                false,
                "TenantIdUnknown",
                "The token names no tenant id; the Management API needs the tenant's GUID.".into(),
            ),
            Self::Subscribed => (
                true,
                "Subscribed",
                format!(
                    "Activity data subscriptions enabled: {}",
                    crate::microsoft::management::CONTENT_TYPES.join(", ")
                ),
            ),
            Self::Forbidden(e) => (
                false,
                "ActivityDataForbidden",
                format!(
                    "{e}; ActivityFeed.Read must be granted and audit logging enabled in the tenant."
                ),
            ),
            Self::Unavailable(e) => (false, "ActivityDataUnavailable", format!("{e}; retrying.")),
        }
    }
}

/// What the inline-mode pass found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InlineObservation {
    /// Conditions to set, in order.
    pub checks: Vec<InlineCheck>,
    /// The mail-flow status to publish; `None` keeps the previous one.
    pub status: Option<MailFlowStatus>,
    /// The pass failed for now (Exchange unavailable, throttled, a token refused): the
    /// account backs off.
    pub failed: bool,
}

/// One inline-mode condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InlineCheck {
    /// Condition type.
    pub type_: &'static str,
    /// Condition status.
    pub status: bool,
    /// Whether this condition, as it is, allows Ready.
    pub healthy: bool,
    /// Reason.
    pub reason: String,
    /// Message.
    pub message: String,
    /// Only a human can fix it (Stalled).
    pub needs_human: bool,
}

impl InlineCheck {
    /// A condition that is healthy when True.
    pub fn positive(type_: &'static str, ok: bool, reason: &str, message: String) -> Self {
        Self {
            type_,
            status: ok,
            healthy: ok,
            reason: reason.to_string(),
            message,
            needs_human: false,
        }
    }

    /// The same check, marked as one only a human can fix (Stalled).
    pub fn needing_a_human(mut self) -> Self {
        self.needs_human = true;
        self
    }
}

/// The condition types the inline pass owns.
pub const INLINE_CONDITIONS: [&str; 4] = [
    conditions::ROLE_ASSIGNED,
    conditions::MAIL_FLOW_CONFIGURED,
    conditions::SECURITY_SETTINGS_VERIFIED,
    conditions::MAIL_FLOW_DRIFTED,
];

/// A change worth an Event and, for token validity, a notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transition {
    /// The account became Ready.
    BecameReady,
    /// The token became invalid (it had been valid).
    TokenInvalid {
        /// Stable reason.
        reason: String,
        /// Message.
        message: String,
    },
    /// The token is valid again after having been invalid.
    TokenRecovered,
    /// A Global Administrator must consent.
    ConsentRequired {
        /// Message with the URL and missing permissions.
        message: String,
    },
    /// A new device-code prompt was opened.
    DeviceCodeIssued {
        /// Message with the URI, code and expiry.
        message: String,
        /// The prompt's user code (shown to humans, not a secret): each prompt's Event is its
        /// own, never merged with an earlier prompt's.
        user_code: String,
    },
    /// A device-code sign-in ended without a grant (declined, expired, or the grant ended).
    SignInEnded {
        /// `SignInDeclined`, `SignInExpired` or `RegrantRequired`.
        reason: String,
        /// Message.
        message: String,
    },
    /// Another account manages the tenant: this one stands aside.
    TenantConflict {
        /// Message naming the other account.
        message: String,
    },
    /// The service registered the tenant and acknowledged its deliveries (first time, or
    /// again after failing).
    ServiceRegistered {
        /// Message naming the service.
        message: String,
    },
    /// The service stopped acknowledging deliveries (it had been).
    DeliveryFailing {
        /// Stable reason.
        reason: String,
        /// Message.
        message: String,
    },
    /// The directory was synchronised.
    Synced {
        /// Message with the counts.
        message: String,
    },
}

/// Computes the new status and the transitions, given the previous status.
pub fn decide(
    generation: Option<i64>,
    previous: Option<&ExchangeServiceAccountStatus>,
    observed: &Observation,
    now: jiff::Timestamp,
) -> (ExchangeServiceAccountStatus, Vec<Transition>) {
    let old = previous.cloned().unwrap_or_default();
    let start = ExchangeServiceAccountStatus {
        observed_generation: generation,
        conditions: old.conditions.clone(),
        consent: None,
        token: old.token.clone(),
        service_principal: observed
            .service_principal
            .clone()
            .or(old.service_principal.clone()),
        sync: old.sync.clone(),
        delivery: match &observed.delivery {
            None => None,
            Some(DeliveryObservation::Acknowledged(d)) => Some(d.clone()),
            Some(_) => old.delivery.clone(),
        },
        mail_flow: observed
            .inline
            .as_ref()
            .and_then(|i| i.status.clone().or(old.mail_flow.clone())),
        protection: match &observed.protection {
            None => None,
            Some(ProtectionObservation::Kept(s)) if s.ready => Some(protection::status_of(s)),
            Some(_) => old.protection.clone(),
        },
        planned_changes: observed.observing.clone().unwrap_or_default(),
        message: None,
    };
    let mut draft = Draft::new(start, generation, now);
    draft.token(observed, now);
    let authorized = draft.authorization(observed);
    let synced = draft.directory(observed, authorized);
    let registered = draft.service(observed);
    let protected = draft.protection(observed);
    let extras = draft.extras(observed, authorized) && registered && protected;
    let (inline_ok, inline_problem) = draft.inline(observed);
    draft.claim(observed);
    let verdicts = Verdicts {
        authorized,
        synced,
        extras: extras && inline_ok,
        inline_problem,
    };
    draft.summary(observed, &verdicts);
    let mut status = draft.status;
    conditions::sort_ready_first(&mut status.conditions);
    let transitions = transitions(&old, &status, observed);
    (status, transitions)
}

/// The reason and message of the first sub-condition that is not True.
fn first_problem(conds: &[Condition]) -> (String, String) {
    [
        conditions::TOKEN_VALID,
        conditions::AUTHORIZED,
        conditions::DIRECTORY_SYNCED,
        conditions::SERVICE_REGISTERED,
        conditions::PROTECTION_ACTIVE,
        POLICY_ENABLED,
        ACTIVITY_DATA_AUTHORIZED,
    ]
    .iter()
    .filter_map(|t| conditions::get(conds, t))
    .find(|c| c.status != "True")
    .map(|c| (c.reason.clone(), c.message.clone()))
    .unwrap_or_else(|| ("Progressing".into(), "Reconciling.".into()))
}

fn transitions(
    old: &ExchangeServiceAccountStatus,
    new: &ExchangeServiceAccountStatus,
    observed: &Observation,
) -> Vec<Transition> {
    let was = |t: &str| conditions::get(&old.conditions, t).map(|c| c.status.as_str());
    let now = |t: &str| conditions::get(&new.conditions, t);
    let mut out = Vec::new();
    if let Some(token) = now(conditions::TOKEN_VALID) {
        match (was(conditions::TOKEN_VALID), token.status.as_str()) {
            (Some("True"), "False") => out.push(Transition::TokenInvalid {
                reason: token.reason.clone(),
                message: token.message.clone(),
            }),
            (Some("False"), "True") if had_been_valid(old) => out.push(Transition::TokenRecovered),
            _ => {}
        }
    }
    if let Some(auth) = now(conditions::AUTHORIZED) {
        let old_auth = conditions::get(&old.conditions, conditions::AUTHORIZED);
        let changed = old_auth.is_none_or(|o| o.reason != auth.reason || o.message != auth.message);
        if changed && auth.reason == "ConsentRequired" {
            out.push(Transition::ConsentRequired {
                message: auth.message.clone(),
            });
        }
        if changed && auth.reason == "AwaitingSignIn" {
            let consent = new.consent.as_ref();
            out.push(Transition::DeviceCodeIssued {
                message: auth.message.clone(),
                user_code: consent
                    .and_then(|c| c.user_code.clone())
                    .unwrap_or_default(),
            });
        }
        let sign_in_ended = ["SignInDeclined", "SignInExpired", "RegrantRequired"];
        if changed && sign_in_ended.contains(&auth.reason.as_str()) {
            out.push(Transition::SignInEnded {
                reason: auth.reason.clone(),
                message: auth.message.clone(),
            });
        }
    }
    if let Some(conflict) = now(conditions::TENANT_CONFLICT)
        && conflict.status == "True"
        && was(conditions::TENANT_CONFLICT) != Some("True")
    {
        out.push(Transition::TenantConflict {
            message: conflict.message.clone(),
        });
    }
    if let Some(registered) = now(conditions::SERVICE_REGISTERED) {
        match (
            was(conditions::SERVICE_REGISTERED),
            registered.status.as_str(),
        ) {
            (Some("True"), "True") => {}
            (_, "True") => out.push(Transition::ServiceRegistered {
                message: registered.message.clone(),
            }),
            // Failing after having worked, or refused outright (a human must act).
            (w, status) if w == Some("True") || (status == "False" && w != Some("False")) => out
                .push(Transition::DeliveryFailing {
                    reason: registered.reason.clone(),
                    message: registered.message.clone(),
                }),
            _ => {}
        }
    }
    if was(conditions::READY) != Some("True")
        && now(conditions::READY).is_some_and(|c| c.status == "True")
    {
        out.push(Transition::BecameReady);
    }
    if let SyncObservation::Synced(summary) = &observed.sync
        && old.sync.as_ref().map(|s| &s.last_sync_time) != Some(&summary.last_sync_time)
    {
        out.push(Transition::Synced {
            message: format!("Synchronised {}.", directory_counts(summary)),
        });
    }
    out
}

/// `n` with the singular or the plural of what it counts: "1 user", "2 users".
pub fn counted(n: i64, one: &str, many: &str) -> String {
    match n {
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    }
}

/// "4 users, 1 group and 2 mail domains".
pub fn directory_counts(summary: &SyncSummary) -> String {
    format!(
        "{}, {} and {}",
        counted(summary.users, "user", "users"),
        counted(summary.groups, "group", "groups"),
        counted(summary.domains, "mail domain", "mail domains")
    )
}

/// True when the token had been valid before the current failure (it has a recorded refresh).
fn had_been_valid(old: &ExchangeServiceAccountStatus) -> bool {
    old.token
        .as_ref()
        .is_some_and(|t| t.last_refresh_time.is_some())
}

mod draft;
pub mod grant;
mod next_look;
mod protection;
#[cfg(test)]
mod tests;

use draft::{Draft, Verdicts};
pub use grant::SignInEnd;
pub use next_look::{Pace, next_look, paced};
