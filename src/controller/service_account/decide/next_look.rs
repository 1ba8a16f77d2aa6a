//! When to look at an account again: the periodic resync, shortened by what is due sooner.

use std::time::Duration;

use super::{Observation, SyncObservation, TokenObservation};
use crate::microsoft::retry::Backoff;

/// The shortest wait between two looks.
const MIN_WAIT: Duration = Duration::from_secs(1);

/// The delay until the next reconcile: the resync interval, or sooner when the token reaches
/// 80 % of its lifetime (refreshed before it expires), when the next sync is due, when an
/// observer asked (`hint`: a role propagating, a device code to poll), or within a second when
/// a sync was requested in the current second (a later request in the same second must not be
/// taken for the one just served). Never less than a second.
pub fn next_look(
    observation: &Observation,
    hint: Option<Duration>,
    sync_requested_this_second: bool,
    resync: Duration,
    now: jiff::Timestamp,
) -> Duration {
    let until = |t: jiff::Timestamp| Duration::try_from(t.duration_since(now)).unwrap_or(MIN_WAIT);
    let mut next = resync;
    if let TokenObservation::Valid {
        expires_at,
        obtained_at,
    } = &observation.token
    {
        let lifetime = expires_at.duration_since(*obtained_at);
        next = next.min(until(*obtained_at + lifetime.mul_f64(0.8)));
    }
    if let SyncObservation::Synced(summary) = &observation.sync
        && let Some(t) = &summary.next_sync_time
    {
        next = next.min(until(t.0));
    }
    if let Some(hint) = hint {
        next = next.min(hint);
    }
    if sync_requested_this_second {
        next = next.min(MIN_WAIT);
    }
    next.max(MIN_WAIT)
}

/// What paces the next look of an account beyond what is due.
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    /// Consecutive passes that failed for now (0: the last pass did not).
    pub failures: u32,
    /// The account's backoff.
    pub backoff: Backoff,
    /// How long Microsoft asked to wait, if it did.
    pub retry_after: Option<Duration>,
    /// The account waits for a human (`Stalled=True`).
    pub waits_for_human: bool,
    /// How often an account waiting for a human looks again.
    pub recheck: Duration,
}

/// `next`, paced: an account waiting for a human looks again at least every `recheck` (the
/// consent given, the application re-enabled); a failing account tries again after its backoff
/// (not sooner, and not later: what failed is still due), and never before Microsoft's
/// `Retry-After`, so a persistent fault costs a bounded number of requests.
pub fn paced(next: Duration, pace: &Pace) -> Duration {
    let mut next = next;
    if pace.waits_for_human {
        next = next.min(pace.recheck.max(MIN_WAIT));
    }
    if pace.failures > 0 {
        next = pace.backoff.delay(pace.failures - 1);
    }
    if let Some(asked) = pace.retry_after {
        next = next.max(asked);
    }
    next
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::super::AuthorizationObservation;
    use super::*;
    use exo_api::exchange_service_account::SyncSummary;

    fn at(s: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_800_000_000 + s).unwrap()
    }

    fn observation(token_for: Option<i64>, next_sync_in: Option<i64>) -> Observation {
        Observation {
            config: None,
            token: match token_for {
                Some(s) => TokenObservation::Valid {
                    obtained_at: at(0),
                    expires_at: at(s),
                },
                None => TokenObservation::NotAttempted,
            },
            authorization: AuthorizationObservation::Granted,
            service_principal: None,
            sync: match next_sync_in {
                Some(s) => SyncObservation::Synced(SyncSummary {
                    next_sync_time: Some(Time(at(s))),
                    ..SyncSummary::default()
                }),
                None => SyncObservation::NotStarted,
            },
            delivery: None,
            policies: None,
            activity: None,
            inline: None,
            claimed_by: None,
            observing: None,
            protection: None,
        }
    }

    #[test]
    fn failures_back_off_and_waiting_for_a_human_is_rechecked() {
        let secs = Duration::from_secs;
        let backoff = Backoff {
            base: secs(4),
            max: secs(64),
        };
        // (next, failures, retry-after, waits for a human) → (at least, at most)
        type Row = (u64, u32, Option<u64>, bool, u64, u64);
        let table: [Row; 9] = [
            (3600, 0, None, false, 3600, 3600),
            (3600, 0, None, true, 60, 60),
            (1, 1, None, false, 2, 4),
            (1, 3, None, false, 8, 16),
            (1, 30, None, false, 32, 64),
            (1, 1, Some(120), false, 120, 120),
            (30, 0, Some(5), false, 30, 30),
            (3600, 2, None, true, 4, 8),
            (3600, 1, None, false, 2, 4),
        ];
        for (next, failures, retry_after, human, low, high) in table {
            let got = paced(
                secs(next),
                &Pace {
                    failures,
                    backoff,
                    retry_after: retry_after.map(secs),
                    waits_for_human: human,
                    recheck: secs(60),
                },
            );
            assert!(
                got >= secs(low) && got <= secs(high),
                "{next} {failures} {retry_after:?} {human}: {got:?}"
            );
        }
    }

    #[test]
    fn the_soonest_reason_wins_and_no_wait_is_under_a_second() {
        let hour = Duration::from_secs(3600);
        let secs = Duration::from_secs;
        // (token lifetime, next sync in, hint, requested this second) → wait
        type Row = (Option<i64>, Option<i64>, Option<u64>, bool, Duration);
        let table: [Row; 8] = [
            (None, None, None, false, hour),
            (Some(3600), None, None, false, secs(2880)),
            (Some(3600), Some(600), None, false, secs(600)),
            (Some(3600), Some(600), Some(10), false, secs(10)),
            (Some(3600), Some(600), Some(10), true, secs(1)),
            (None, Some(-5), None, false, secs(1)),
            (None, None, Some(0), false, secs(1)),
            (Some(100_000), Some(90_000), None, false, hour),
        ];
        for (token, sync, hint, requested, want) in table {
            let got = next_look(
                &observation(token, sync),
                hint.map(Duration::from_secs),
                requested,
                hour,
                at(0),
            );
            assert_eq!(got, want, "{token:?} {sync:?} {hint:?} {requested}");
        }
    }
}
