//! `ProtectionActive` and `status.protection`: whether every protected mailbox has the
//! subscriptions that notify the service of its mail, as the subscription keeper last found.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::draft::Draft;
use super::{Observation, ProtectionObservation};
use crate::controller::conditions::{self, Status};
use crate::protection::Summary;
use exo_api::exchange_service_account::{ProtectionFailure, ProtectionStatus};

/// Mailboxes that cannot be protected by anyone's subscription: they do not hold
/// `ProtectionActive` back (there is no mail to watch), but they are counted and named.
const NOTHING_TO_WATCH: &str = "MailboxNotEnabled";

/// `status.protection` of a summary.
pub fn status_of(s: &Summary) -> ProtectionStatus {
    ProtectionStatus {
        protected: s.protected as i64,
        subscribed: s.subscribed as i64,
        failed: s.failed() as i64,
        failures: s
            .failures
            .iter()
            .map(|(reason, (count, examples))| ProtectionFailure {
                reason: reason.to_string(),
                count: *count as i64,
                examples: examples.clone(),
            })
            .collect(),
        next_renewal_time: s
            .next_renewal
            .and_then(|t| jiff::Timestamp::from_second(t).ok())
            .map(Time),
    }
}

impl Draft {
    /// Sets `ProtectionActive` (or removes it when the account has no subscriptions to keep);
    /// whether protection allows `Ready`.
    pub fn protection(&mut self, observed: &Observation) -> bool {
        let Some(protection) = &observed.protection else {
            self.status
                .conditions
                .retain(|c| c.type_ != conditions::PROTECTION_ACTIVE);
            return true;
        };
        let (status, reason, message, needs_human) = verdict(protection);
        self.set(conditions::PROTECTION_ACTIVE, status, reason, &message);
        if needs_human {
            self.stall_first((reason.to_string(), message));
        }
        status == Status::True
    }
}

/// The condition's status, reason and message, and whether only a human can fix it.
fn verdict(protection: &ProtectionObservation) -> (Status, &str, String, bool) {
    match protection {
        ProtectionObservation::WaitingForGrant => (
            Status::False,
            "WaitingForGrant",
            "The protected mailboxes are subscribed to once access is granted.".into(),
            false,
        ),
        ProtectionObservation::NotPossible { reason, message } => {
            (Status::False, reason, message.clone(), true)
        }
        ProtectionObservation::Kept(Summary {
            problem: Some(p), ..
        }) => {
            let status = if p.needs_human {
                Status::False
            } else {
                Status::Unknown
            };
            (status, &p.reason, p.message.clone(), p.needs_human)
        }
        ProtectionObservation::Kept(s) if !s.ready => (
            Status::Unknown,
            "Listing",
            "Reading the application's subscriptions from Microsoft Graph.".into(),
            false,
        ),
        ProtectionObservation::Kept(s) => {
            let unwatchable = s.failures.get(NOTHING_TO_WATCH).map_or(0, |(n, _)| *n);
            let other_failures = s.failed() - unwatchable;
            let of = format!("{} of {} protected mailboxes", s.subscribed, s.protected);
            let without = match unwatchable {
                0 => String::new(),
                1 => "; 1 user has no mailbox".into(),
                n => format!("; {n} users have no mailbox"),
            };
            if other_failures > 0 {
                return (
                    Status::False,
                    "SubscriptionsFailed",
                    format!(
                        "{of} notify the service of new mail; {other_failures} could not be subscribed (see status.protection.failures){without}; retrying."
                    ),
                    false,
                );
            }
            if s.subscribed + unwatchable < s.protected {
                return (
                    Status::False,
                    "Subscribing",
                    format!(
                        "{of} notify the service of new mail{without}; subscribing the rest within Microsoft Graph's limits."
                    ),
                    false,
                );
            }
            (
                Status::True,
                "Subscribed",
                format!("{of} notify the service of new mail{without}."),
                false,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protection::Problem;

    fn kept(protected: u64, subscribed: u64, failures: &[(&'static str, u64)]) -> Summary {
        Summary {
            ready: true,
            protected,
            subscribed,
            failures: failures
                .iter()
                .map(|(r, n)| (*r, (*n, Vec::new())))
                .collect(),
            next_renewal: None,
            problem: None,
        }
    }

    #[test]
    fn verdicts_as_a_table() {
        let denied = Summary {
            problem: Some(Problem {
                reason: "PermissionDenied".into(),
                message: "lacks the mail permission".into(),
                needs_human: true,
            }),
            ..kept(3, 3, &[])
        };
        let rows: Vec<(ProtectionObservation, Status, &str, &str, bool)> = vec![
            (
                ProtectionObservation::WaitingForGrant,
                Status::False,
                "WaitingForGrant",
                "once access is granted",
                false,
            ),
            (
                ProtectionObservation::Kept(Summary::default()),
                Status::Unknown,
                "Listing",
                "Reading",
                false,
            ),
            (
                ProtectionObservation::Kept(kept(3, 3, &[])),
                Status::True,
                "Subscribed",
                "3 of 3 protected mailboxes notify",
                false,
            ),
            (
                ProtectionObservation::Kept(kept(0, 0, &[])),
                Status::True,
                "Subscribed",
                "0 of 0",
                false,
            ),
            (
                ProtectionObservation::Kept(kept(3, 2, &[("MailboxNotEnabled", 1)])),
                Status::True,
                "Subscribed",
                "2 of 3 protected mailboxes notify the service of new mail; 1 user has no mailbox.",
                false,
            ),
            (
                ProtectionObservation::Kept(kept(3, 1, &[])),
                Status::False,
                "Subscribing",
                "1 of 3",
                false,
            ),
            (
                ProtectionObservation::Kept(kept(3, 1, &[("SubscriptionRefused", 2)])),
                Status::False,
                "SubscriptionsFailed",
                "2 could not be subscribed",
                false,
            ),
            (
                ProtectionObservation::Kept(denied),
                Status::False,
                "PermissionDenied",
                "mail permission",
                true,
            ),
        ];
        for (observation, status, reason, message, human) in rows {
            let (s, r, m, h) = verdict(&observation);
            assert_eq!((s, r, h), (status, reason, human), "{observation:?}");
            assert!(m.contains(message), "{m:?} should contain {message:?}");
        }
    }

    #[test]
    fn status_counts_and_names_the_failures() {
        let mut s = kept(5, 3, &[]);
        s.failures
            .insert("MailboxNotEnabled", (2, vec!["a".into(), "b".into()]));
        s.next_renewal = Some(1_800_000_000);
        let status = status_of(&s);
        assert_eq!(
            (status.protected, status.subscribed, status.failed),
            (5, 3, 2)
        );
        assert_eq!(status.failures[0].reason, "MailboxNotEnabled");
        assert_eq!(status.failures[0].examples, vec!["a", "b"]);
        assert_eq!(
            status.next_renewal_time.unwrap().0.as_second(),
            1_800_000_000
        );
    }
}
