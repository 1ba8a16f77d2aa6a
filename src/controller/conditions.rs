//! Status conditions following the Kubernetes API conventions: a list keyed by `type`,
//! `lastTransitionTime` changed only when `status` flips, `observedGeneration` on each, and
//! comparisons that ignore times so that a reconcile that changes nothing writes nothing.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

pub use exo_api::conditions::*;

/// Longest message kept in a condition; longer ones are cut at a character boundary.
pub const MAX_MESSAGE_LEN: usize = 1024;

/// Status of a condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// `True`.
    True,
    /// `False`.
    False,
    /// `Unknown`.
    Unknown,
}

impl Status {
    /// The string written to `status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::True => "True",
            Self::False => "False",
            Self::Unknown => "Unknown",
        }
    }
}

impl From<bool> for Status {
    fn from(value: bool) -> Self {
        if value { Self::True } else { Self::False }
    }
}

/// Sets condition `type_` in `conditions`, keeping its `lastTransitionTime` unless the status
/// changes. Returns whether anything other than times changed.
pub fn set(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: Status,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: &Time,
) -> bool {
    let message = truncate(message, MAX_MESSAGE_LEN);
    let wanted = Condition {
        type_: type_.to_string(),
        status: status.as_str().to_string(),
        reason: reason.to_string(),
        message,
        observed_generation: generation,
        last_transition_time: now.clone(),
    };
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(existing) => {
            let changed = !same_ignoring_time(existing, &wanted);
            let transition_time = if existing.status == wanted.status {
                existing.last_transition_time.clone()
            } else {
                wanted.last_transition_time.clone()
            };
            *existing = Condition {
                last_transition_time: transition_time,
                ..wanted
            };
            changed
        }
        None => {
            conditions.push(wanted);
            true
        }
    }
}

/// The kstatus summary of a resource: `Ready`, `Stalled` and `Reconciling`, always set
/// together so that they never contradict one another.
#[derive(Clone, Copy, Debug)]
pub enum Summary<'a> {
    /// Everything holds: Ready True; Stalled and Reconciling False with the same reason.
    Ready {
        /// Reason of all three.
        reason: &'a str,
        /// Message of Ready.
        message: &'a str,
    },
    /// Work is under way: Ready `ready` (False or Unknown) and Reconciling True with the reason
    /// and message; Stalled False with `stalled_reason`.
    Progressing {
        /// Status of Ready.
        ready: Status,
        /// Reason of Ready and Reconciling.
        reason: &'a str,
        /// Message of Ready and Reconciling.
        message: &'a str,
        /// Reason of the False Stalled.
        stalled_reason: &'a str,
    },
    /// Only a human can make progress: Ready False and Stalled True with the reason and
    /// message; Reconciling False with `reconciling_message`.
    Stalled {
        /// Reason of all three.
        reason: &'a str,
        /// Message of Ready and Stalled.
        message: &'a str,
        /// Message of the False Reconciling.
        reconciling_message: &'a str,
    },
}

/// Sets `Ready`, `Stalled` and `Reconciling` from `summary`.
pub fn set_summary(
    conditions: &mut Vec<Condition>,
    summary: Summary<'_>,
    generation: Option<i64>,
    now: &Time,
) {
    use Status::{False, True};
    let [ready, stalled, reconciling] = match summary {
        Summary::Ready { reason, message } => [
            (True, reason, message),
            (False, reason, ""),
            (False, reason, ""),
        ],
        Summary::Progressing {
            ready,
            reason,
            message,
            stalled_reason,
        } => [
            (ready, reason, message),
            (False, stalled_reason, ""),
            (True, reason, message),
        ],
        Summary::Stalled {
            reason,
            message,
            reconciling_message,
        } => [
            (False, reason, message),
            (True, reason, message),
            (False, reason, reconciling_message),
        ],
    };
    for (type_, (status, reason, message)) in [
        (READY, ready),
        (STALLED, stalled),
        (RECONCILING, reconciling),
    ] {
        set(conditions, type_, status, reason, message, generation, now);
    }
}

/// A stable order: `Ready` first, then the rest by type.
pub fn sort_ready_first(conditions: &mut [Condition]) {
    conditions.sort_by(|a, b| (a.type_ != READY, &a.type_).cmp(&(b.type_ != READY, &b.type_)));
}

/// The condition of `type_`, if present.
pub fn get<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether condition `type_` is present with status `True`.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    get(conditions, type_).is_some_and(|c| c.status == "True")
}

/// Whether two conditions say the same, ignoring `lastTransitionTime`.
pub fn same_ignoring_time(a: &Condition, b: &Condition) -> bool {
    a.type_ == b.type_
        && a.status == b.status
        && a.reason == b.reason
        && a.message == b.message
        && a.observed_generation == b.observed_generation
}

/// Whether two condition lists say the same, in any order, ignoring `lastTransitionTime`.
pub fn eq_ignoring_time(a: &[Condition], b: &[Condition]) -> bool {
    a.len() == b.len()
        && a.iter()
            .all(|x| get(b, &x.type_).is_some_and(|y| same_ignoring_time(x, y)))
}

fn truncate(message: &str, max: usize) -> String {
    if message.len() <= max {
        return message.to_string();
    }
    let mut end = max.saturating_sub(3);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &message[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Time {
        Time(jiff::Timestamp::from_second(seconds).unwrap())
    }

    /// `set` at generation `g` and second `t`, with the message `m`.
    fn put(c: &mut Vec<Condition>, ty: &str, s: Status, r: &str, m: &str, g: i64, t: i64) -> bool {
        set(c, ty, s, r, m, Some(g), &at(t))
    }

    #[test]
    fn new_condition_is_added_with_the_current_time() {
        let mut conds = Vec::new();
        assert!(put(
            &mut conds,
            READY,
            Status::Unknown,
            "Reconciling",
            "",
            1,
            10
        ));
        assert_eq!(conds.len(), 1);
        assert_eq!(conds[0].status, "Unknown");
        assert_eq!(conds[0].last_transition_time, at(10));
        assert_eq!(conds[0].observed_generation, Some(1));
    }

    #[test]
    fn transition_time_changes_only_when_status_flips() {
        let mut conds = Vec::new();
        put(&mut conds, TOKEN_VALID, Status::True, "Valid", "", 1, 10);
        assert!(put(
            &mut conds,
            TOKEN_VALID,
            Status::True,
            "Refreshed",
            "new token",
            1,
            20
        ));
        assert_eq!(conds[0].last_transition_time, at(10));
        assert_eq!(conds[0].reason, "Refreshed");
        assert!(put(
            &mut conds,
            TOKEN_VALID,
            Status::False,
            "RefreshTokenExpired",
            "",
            1,
            30
        ));
        assert_eq!(conds[0].last_transition_time, at(30));
    }

    #[test]
    fn setting_the_same_condition_again_is_no_change() {
        let mut conds = Vec::new();
        put(&mut conds, READY, Status::True, "Ready", "ok", 2, 10);
        let before = conds.clone();
        assert!(!put(&mut conds, READY, Status::True, "Ready", "ok", 2, 99));
        assert_eq!(conds, before);
        assert!(put(&mut conds, READY, Status::True, "Ready", "ok", 3, 99));
    }

    #[test]
    fn lists_compare_without_times_and_order() {
        let mut a = Vec::new();
        put(&mut a, READY, Status::True, "Ready", "", 1, 1);
        put(&mut a, TOKEN_VALID, Status::True, "Valid", "", 1, 1);
        let mut b = Vec::new();
        put(&mut b, TOKEN_VALID, Status::True, "Valid", "", 1, 5);
        put(&mut b, READY, Status::True, "Ready", "", 1, 7);
        assert!(eq_ignoring_time(&a, &b));
        put(&mut b, READY, Status::False, "NotReady", "", 1, 8);
        assert!(!eq_ignoring_time(&a, &b));
        assert!(!eq_ignoring_time(&a, &a[..1]));
        assert!(is_true(&a, READY));
        assert!(!is_true(&b, READY));
        assert!(!is_true(&b, STALLED));
    }

    #[test]
    fn long_messages_are_cut_at_a_character_boundary() {
        let mut conds = Vec::new();
        let long = "é".repeat(2000);
        set(&mut conds, READY, Status::False, "X", &long, None, &at(1));
        assert!(conds[0].message.len() <= MAX_MESSAGE_LEN);
        assert!(conds[0].message.ends_with("..."));
    }

    #[test]
    fn the_summary_sets_ready_stalled_and_reconciling_together() {
        use Status::{False, True, Unknown};
        let now = at(1);
        // summary → (Ready, Stalled, Reconciling) statuses and Reconciling's message
        let table = [
            (
                Summary::Ready {
                    reason: "Ready",
                    message: "ok",
                },
                [True, False, False],
                "",
            ),
            (
                Summary::Progressing {
                    ready: Unknown,
                    reason: "Pending",
                    message: "wait",
                    stalled_reason: "Pending",
                },
                [Unknown, False, True],
                "wait",
            ),
            (
                Summary::Stalled {
                    reason: "Consent",
                    message: "ask",
                    reconciling_message: "human",
                },
                [False, True, False],
                "human",
            ),
        ];
        for (summary, statuses, reconciling) in table {
            let mut conds = Vec::new();
            set_summary(&mut conds, summary, Some(1), &now);
            for (ty, want) in [READY, STALLED, RECONCILING].into_iter().zip(statuses) {
                assert_eq!(
                    get(&conds, ty).unwrap().status,
                    want.as_str(),
                    "{summary:?} {ty}"
                );
            }
            assert_eq!(get(&conds, RECONCILING).unwrap().message, reconciling);
        }
    }
}
