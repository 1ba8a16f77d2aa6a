//! The status being decided, one concern at a time: each method sets its conditions from
//! its part of the observation and says whether that part allows `Ready`; [`Draft::summary`]
//! then derives `Ready`, `Stalled` and `Reconciling`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::{
    ACTIVITY_DATA_AUTHORIZED, AuthorizationObservation, DeliveryObservation, INLINE_CONDITIONS,
    Observation, POLICY_ENABLED, READY_MESSAGE, SignInEnd, SyncObservation, TokenObservation,
    first_problem,
};
use crate::controller::conditions::{self, Status, Summary};
use crate::microsoft::errors::ErrorClass;
use exo_api::exchange_service_account::{ConsentPrompt, ExchangeServiceAccountStatus, TokenStatus};

/// What the sub-conditions said, for the summary.
pub struct Verdicts {
    /// Access is granted.
    pub authorized: bool,
    /// The directory (or the selected users) is synchronised.
    pub synced: bool,
    /// Policies, activity data and inline mode's conditions allow Ready.
    pub extras: bool,
    /// The first inline condition that does not allow Ready.
    pub inline_problem: Option<(String, String)>,
}

/// The status under construction.
pub struct Draft {
    /// The status so far.
    pub status: ExchangeServiceAccountStatus,
    /// The first problem only a human can fix (reason, message).
    pub stalled: Option<(String, String)>,
    generation: Option<i64>,
    now: Time,
}

fn time(t: jiff::Timestamp) -> Time {
    Time(t)
}

impl Draft {
    /// Starts from `status`, at `now`, for `generation`.
    pub fn new(
        status: ExchangeServiceAccountStatus,
        generation: Option<i64>,
        now: jiff::Timestamp,
    ) -> Self {
        Self {
            status,
            stalled: None,
            generation,
            now: Time(now),
        }
    }

    pub(super) fn set(&mut self, type_: &str, status: Status, reason: &str, message: &str) {
        conditions::set(
            &mut self.status.conditions,
            type_,
            status,
            reason,
            message,
            self.generation,
            &self.now,
        );
    }

    fn summarise(&mut self, summary: Summary<'_>) {
        conditions::set_summary(
            &mut self.status.conditions,
            summary,
            self.generation,
            &self.now,
        );
    }

    /// Records a problem only a human can fix, replacing an earlier one (the grant outranks
    /// the token).
    fn stall(&mut self, problem: (String, String)) {
        self.stalled = Some(problem);
    }

    /// Records a problem only a human can fix unless one is recorded already.
    pub(super) fn stall_first(&mut self, problem: (String, String)) {
        if self.stalled.is_none() {
            self.stalled = Some(problem);
        }
    }

    /// `TokenValid`: a token held and refreshed, a refresh failing for now, or why there is none.
    pub fn token(&mut self, observed: &Observation, now: jiff::Timestamp) {
        match (&observed.config, &observed.token) {
            (Some(problem), _) => {
                self.set(
                    conditions::TOKEN_VALID,
                    Status::False,
                    problem.reason,
                    &problem.message,
                );
                self.stall((problem.reason.to_string(), problem.message.clone()));
            }
            (
                None,
                TokenObservation::Valid {
                    expires_at,
                    obtained_at,
                },
            ) => {
                self.set(
                    conditions::TOKEN_VALID,
                    Status::True,
                    "TokenValid",
                    "An access token is held and refreshed before it expires.",
                );
                self.status.token = Some(TokenStatus {
                    expires_at: Some(time(*expires_at)),
                    last_refresh_time: Some(time(*obtained_at)),
                });
            }
            (
                None,
                TokenObservation::Failed {
                    failure,
                    message,
                    still_valid_until,
                },
            ) => {
                let transient = matches!(
                    failure.class(),
                    ErrorClass::Transient | ErrorClass::Throttled(_)
                );
                match (transient, still_valid_until) {
                    (true, Some(until)) if *until > now => self.set(conditions::TOKEN_VALID,
                        Status::True,
                        "Refreshing",
                        &format!(
                            "The token is still valid; refreshing it failed for now and is retried: {message}"
                        ),
                    ),
                    (true, _) => self.set(conditions::TOKEN_VALID,
                        Status::Unknown,
                        failure.reason(),
                        message,
                    ),
                    (false, _) => {
                        self.set(conditions::TOKEN_VALID,
                            Status::False,
                            failure.reason(),
                            message,
                        );
                        self.stall((failure.reason().to_string(), message.clone()));
                    }
                }
            }
            (None, TokenObservation::NotAttempted) => {
                if conditions::get(&self.status.conditions, conditions::TOKEN_VALID).is_none()
                    || !matches!(observed.authorization, AuthorizationObservation::Unknown)
                {
                    self.set(
                        conditions::TOKEN_VALID,
                        Status::False,
                        "NotGranted",
                        "No token yet: access has not been granted.",
                    );
                }
            }
        }
    }

    /// `Authorized` and the consent prompt; whether access is granted.
    pub fn authorization(&mut self, observed: &Observation) -> bool {
        let Some(verdict) = AuthorizationVerdict::of(&observed.authorization) else {
            // Not checked in this pass: what is known stays.
            if conditions::get(&self.status.conditions, conditions::AUTHORIZED).is_none() {
                self.set(
                    conditions::AUTHORIZED,
                    Status::Unknown,
                    "Pending",
                    "Access has not been checked yet.",
                );
            }
            return conditions::is_true(&self.status.conditions, conditions::AUTHORIZED)
                && observed.config.is_none();
        };
        let granted = verdict.granted;
        let reason = verdict.reason;
        self.set(
            conditions::AUTHORIZED,
            Status::from(granted),
            reason,
            &verdict.message,
        );
        if verdict.prompt.is_some() {
            self.status.consent = verdict.prompt;
        }
        if verdict.needs_human {
            self.stall((reason.to_string(), verdict.message));
        }
        granted
    }

    /// `DirectorySynced` and the sync summary; whether the directory is synchronised.
    pub fn directory(&mut self, observed: &Observation, authorized: bool) -> bool {
        match &observed.sync {
            SyncObservation::NotStarted => {
                if conditions::get(&self.status.conditions, conditions::DIRECTORY_SYNCED).is_none()
                    || !authorized
                {
                    self.set(
                        conditions::DIRECTORY_SYNCED,
                        Status::False,
                        "WaitingForGrant",
                        "The directory is synchronised once access is granted.",
                    );
                }
            }
            SyncObservation::Synced(summary) => {
                let read = super::directory_counts(summary);
                self.status.sync = Some(summary.clone());
                let acknowledged = match &observed.delivery {
                    None => Some(format!("Synchronised {read}.")),
                    Some(DeliveryObservation::Acknowledged(d)) => Some(format!(
                        "Synchronised {read}; the {} acknowledged the directory ({}).",
                        d.service,
                        super::counted(d.users, "user", "users")
                    )),
                    _ => None,
                };
                if let Some(message) = acknowledged {
                    self.set(
                        conditions::DIRECTORY_SYNCED,
                        Status::True,
                        "Synced",
                        &message,
                    );
                    return true;
                }
                if let Some(DeliveryObservation::Failed {
                    reason, message, ..
                }) = &observed.delivery
                {
                    let message =
                        format!("Read {read} from the tenant; not yet acknowledged. {message}");
                    self.set(
                        conditions::DIRECTORY_SYNCED,
                        Status::False,
                        reason,
                        &message,
                    );
                }
            }
            SyncObservation::Failed {
                reason,
                message,
                needs_human,
                previous,
                ..
            } => {
                self.set(conditions::DIRECTORY_SYNCED, Status::False, reason, message);
                if previous.is_some() {
                    self.status.sync = previous.clone();
                }
                if *needs_human {
                    self.stall_first((reason.clone(), message.clone()));
                }
            }
        }

        false
    }

    /// `ServiceRegistered`: whether the service registered the tenant and acknowledged its
    /// deliveries (absent when the service has no ingestion endpoint); whether it allows Ready.
    pub fn service(&mut self, observed: &Observation) -> bool {
        let Some(delivery) = &observed.delivery else {
            self.status
                .conditions
                .retain(|c| c.type_ != conditions::SERVICE_REGISTERED);
            return true;
        };
        match delivery {
            DeliveryObservation::WaitingForGrant => {
                match &self.status.delivery {
                    // Registered before: the service keeps what it acknowledged.
                    Some(d) => {
                        let message = format!(
                            "Access to the tenant is not granted or not valid; the {} keeps what it acknowledged, and deliveries resume once access is back.",
                            d.service
                        );
                        self.set(
                            conditions::SERVICE_REGISTERED,
                            Status::False,
                            "WaitingForAccess",
                            &message,
                        )
                    }
                    None => self.set(
                        conditions::SERVICE_REGISTERED,
                        Status::False,
                        "WaitingForGrant",
                        "The tenant is registered with the service once access is granted.",
                    ),
                };
                false
            }
            DeliveryObservation::Acknowledged(d) => {
                let message = format!(
                    "The {} registered the tenant and acknowledged its deliveries.",
                    d.service
                );
                self.set(
                    conditions::SERVICE_REGISTERED,
                    Status::True,
                    "Registered",
                    &message,
                );
                true
            }
            DeliveryObservation::Failed {
                reason,
                message,
                needs_human,
                ..
            } => {
                let status = match needs_human {
                    true => Status::False,
                    // The service may still hold the registration: not known.
                    false => Status::Unknown,
                };
                self.set(conditions::SERVICE_REGISTERED, status, reason, message);
                if *needs_human {
                    self.stall_first((reason.clone(), message.clone()));
                }
                false
            }
        }
    }

    /// `PolicyEnabled` and `ActivityDataAuthorized`; whether they allow Ready.
    pub fn extras(&mut self, observed: &Observation, authorized: bool) -> bool {
        let mut all_ok = true;
        let acknowledged = match &observed.delivery {
            Some(DeliveryObservation::Acknowledged(d)) => Some(d),
            _ => None,
        };
        match &observed.policies {
            Some(policies) if authorized => {
                let mut unknown = policies.not_offered();
                if let Some(d) = acknowledged {
                    for p in &d.unknown_policies {
                        if !unknown.iter().any(|u| u.eq_ignore_ascii_case(p)) {
                            unknown.push(p.clone());
                        }
                    }
                }
                if !unknown.is_empty() {
                    all_ok = false;
                    let offered = match policies.offered.is_empty() {
                        true => "it lists none".to_string(),
                        false => format!("it offers {}", policies.offered.join(", ")),
                    };
                    let message = format!(
                        "The service does not offer {}; {offered}. Fix spec.policies.",
                        unknown.join(", ")
                    );
                    self.set(POLICY_ENABLED, Status::False, "UnknownPolicies", &message);
                    self.stall_first(("UnknownPolicies".into(), message));
                } else if let Some(d) = acknowledged {
                    self.set(
                        POLICY_ENABLED,
                        Status::True,
                        "PoliciesEnabled",
                        &format!("The service enabled: {}", d.accepted_policies.join(", ")),
                    );
                } else if observed.delivery.is_some() {
                    all_ok = false;
                    self.set(
                        POLICY_ENABLED,
                        Status::False,
                        "WaitingForService",
                        "The policies are enabled once the service registers the tenant.",
                    );
                } else {
                    // No ingestion endpoint: nothing can be sent; only the offer was checked.
                    self.set(
                        POLICY_ENABLED,
                        Status::True,
                        "PoliciesOffered",
                        &format!(
                            "The service offers {}; it has no ingestion endpoint, so they are not sent to it.",
                            policies.asked.join(", ")
                        ),
                    );
                }
            }
            Some(_) => {
                all_ok = false;
                self.set(
                    POLICY_ENABLED,
                    Status::False,
                    "WaitingForGrant",
                    "Policies are enabled once access is granted.",
                )
            }
            None => {
                self.status.conditions.retain(|c| c.type_ != POLICY_ENABLED);
            }
        }
        match &observed.activity {
            Some(activity) => {
                let (ok, reason, message) = activity.condition();
                all_ok &= ok;
                self.set(ACTIVITY_DATA_AUTHORIZED, Status::from(ok), reason, &message);
            }
            None => self
                .status
                .conditions
                .retain(|c| c.type_ != ACTIVITY_DATA_AUTHORIZED),
        }
        all_ok
    }

    /// Inline mode's conditions (and the removal of those no longer checked); whether they
    /// allow Ready, and the first that does not.
    pub fn inline(&mut self, observed: &Observation) -> (bool, Option<(String, String)>) {
        let inline = observed.inline.as_ref();
        let mut all_ok = true;
        self.status.conditions.retain(|c| {
            !INLINE_CONDITIONS.contains(&c.type_.as_str())
                || inline.is_some_and(|i| i.checks.iter().any(|k| k.type_ == c.type_))
        });
        let mut inline_problem: Option<(String, String)> = None;
        for check in inline.map(|i| i.checks.as_slice()).unwrap_or_default() {
            all_ok &= check.healthy;
            self.set(
                check.type_,
                Status::from(check.status),
                &check.reason,
                &check.message,
            );
            if !check.healthy && inline_problem.is_none() {
                inline_problem = Some((check.reason.clone(), check.message.clone()));
            }
            if check.needs_human {
                self.stall_first((check.reason.clone(), check.message.clone()));
            }
        }

        (all_ok, inline_problem)
    }

    /// `TenantConflict`: set while another account manages the tenant (a problem only a human
    /// can settle), False once it no longer does; absent for accounts that never met one.
    pub fn claim(&mut self, observed: &Observation) {
        match &observed.claimed_by {
            Some(holder) => {
                let message = format!(
                    "The account {holder}, created earlier, manages this tenant with the same application; this account changes nothing in the tenant and removes nothing when deleted. Delete one of the two accounts."
                );
                self.set(
                    conditions::TENANT_CONFLICT,
                    Status::True,
                    "ManagedByAnotherAccount",
                    &message,
                );
                self.stall(("ManagedByAnotherAccount".into(), message));
            }
            None if conditions::get(&self.status.conditions, conditions::TENANT_CONFLICT)
                .is_some() =>
            {
                self.set(
                    conditions::TENANT_CONFLICT,
                    Status::False,
                    "NoConflict",
                    "No other account of this cluster manages the tenant.",
                );
            }
            None => {}
        }
    }

    /// `Ready`, `Stalled`, `Reconciling` and the top-level message, from the verdicts.
    pub fn summary(&mut self, observed: &Observation, ok: &Verdicts) {
        let token_ok = conditions::is_true(&self.status.conditions, conditions::TOKEN_VALID);
        if let Some(changes) = &observed.observing {
            // Observing: Ready once the tenant could be read; what differs is the plan, not a
            // failure (the mail flow's and protection's conditions say what they found).
            let read = ok.authorized
                && token_ok
                && ok.synced
                && observed.config.is_none()
                && observed.claimed_by.is_none();
            if read {
                let message = observing_message(changes.len());
                self.summarise(Summary::Ready {
                    reason: "Observing",
                    message: &message,
                });
                self.status.message = Some(message);
                return;
            }
        }
        let ready = ok.authorized
            && token_ok
            && ok.synced
            && ok.extras
            && observed.config.is_none()
            && observed.claimed_by.is_none();
        if ready {
            let message = match observed.inline {
                Some(_) => super::READY_INLINE_MESSAGE,
                None => READY_MESSAGE,
            };
            self.summarise(Summary::Ready {
                reason: "Ready",
                message,
            });
            self.status.message = Some(message.to_string());
        } else {
            let (reason, message) = self.stalled.clone().unwrap_or_else(|| {
                let first = first_problem(&self.status.conditions);
                match ok.inline_problem.clone() {
                    Some(p) if first.0 == "Progressing" => p,
                    _ => first,
                }
            });
            self.summarise(match self.stalled {
                // The stalled problem is the reason and message chosen above.
                Some(_) => Summary::Stalled {
                    reason: &reason,
                    message: &message,
                    reconciling_message: "Waiting for a human.",
                },
                None => Summary::Progressing {
                    ready: Status::False,
                    reason: &reason,
                    message: &message,
                    stalled_reason: "Progressing",
                },
            });
            self.status.message = Some(message);
        }
    }
}

/// What a checked grant means for `Authorized` and the consent prompt.
struct AuthorizationVerdict {
    granted: bool,
    reason: &'static str,
    message: String,
    needs_human: bool,
    prompt: Option<ConsentPrompt>,
}

impl AuthorizationVerdict {
    /// The verdict on a checked grant; `None` when it was not checked.
    fn of(observed: &AuthorizationObservation) -> Option<Self> {
        let verdict = |reason, message: String, needs_human, prompt| Self {
            granted: false,
            reason,
            message,
            needs_human,
            prompt,
        };
        Some(match observed {
            AuthorizationObservation::Unknown => return None,
            AuthorizationObservation::Granted => Self {
                granted: true,
                ..verdict(
                    "Granted",
                    "Every required permission is granted.".into(),
                    false,
                    None,
                )
            },
            AuthorizationObservation::ConsentRequired { url, missing } => {
                let message = if missing.is_empty() {
                    format!(
                        "A Global Administrator must grant admin consent to the application at {url}"
                    )
                } else {
                    format!(
                        "A Global Administrator must grant admin consent at {url} for: {}",
                        missing.join(", ")
                    )
                };
                let prompt = ConsentPrompt {
                    admin_consent_url: Some(url.clone()),
                    missing_permissions: missing.clone(),
                    ..Default::default()
                };
                verdict("ConsentRequired", message, true, Some(prompt))
            }
            AuthorizationObservation::Propagating { missing } => verdict(
                "ConsentPropagating",
                format!(
                    "Consent was granted; waiting for the tenant to list: {}",
                    missing.join(", ")
                ),
                false,
                None,
            ),
            AuthorizationObservation::AwaitingSignIn {
                verification_uri,
                user_code,
                expires_at,
                missing,
            } => {
                let message = format!(
                    "A Global Administrator must sign in at {verification_uri} with the code {user_code} before {expires_at}"
                );
                let prompt = ConsentPrompt {
                    verification_uri: Some(verification_uri.clone()),
                    user_code: Some(user_code.clone()),
                    expires_at: Some(time(*expires_at)),
                    missing_permissions: missing.clone(),
                    ..Default::default()
                };
                verdict("AwaitingSignIn", message, true, Some(prompt))
            }
            AuthorizationObservation::SignInEnded { end, next_prompt } => {
                let (reason, what) = match end {
                    SignInEnd::Declined => (
                        "SignInDeclined",
                        "The administrator declined the device-code sign-in",
                    ),
                    SignInEnd::Expired => (
                        "SignInExpired",
                        "The device code expired before a Global Administrator signed in",
                    ),
                    SignInEnd::GrantEnded => (
                        "RegrantRequired",
                        "The grant ended (the identity platform reported its refresh token invalid) and must be renewed",
                    ),
                };
                let then = match next_prompt {
                    Some(t) => format!(
                        "a new sign-in opens at {t}, or at once when the annotation exo-operator.io/regrant is set"
                    ),
                    None => "set the annotation exo-operator.io/regrant to start a new sign-in"
                        .to_string(),
                };
                verdict(reason, format!("{what}; {then}."), true, None)
            }
        })
    }
}

/// Ready's message while observing, with `n` changes planned.
pub fn observing_message(n: usize) -> String {
    match n {
        0 => "Observing (managementPolicy Observe): the tenant is as this account wants it; nothing would change.".into(),
        n => format!(
            "Observing (managementPolicy Observe): {} would be made under Manage (status.plannedChanges); none is made.",
            super::counted(n as i64, "change", "changes")
        ),
    }
}
