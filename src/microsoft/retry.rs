//! Retry timing: `Retry-After` parsing and exponential backoff with jitter.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

/// Longest `Retry-After` honoured; a larger one (or a date far ahead) is capped.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Parses a `Retry-After` header: delay seconds, or an HTTP date compared with `now`.
pub fn parse_retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    let value = value.trim();
    let delay = if let Ok(seconds) = value.parse::<u64>() {
        Duration::from_secs(seconds)
    } else {
        let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
        let seconds = at.as_second() - now.as_second();
        Duration::from_secs(seconds.max(0) as u64)
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

/// Exponential backoff: `base * 2^attempt`, capped at `max`, with "equal jitter" (between half
/// and all of it) so that many objects failing together do not retry together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Delay of the first retry (before jitter).
    pub base: Duration,
    /// Largest delay.
    pub max: Duration,
}

impl Backoff {
    /// Backoff for per-object reconcile errors: 5 s doubling up to 5 min.
    pub const RECONCILE: Self = Self {
        base: Duration::from_secs(5),
        max: Duration::from_secs(300),
    };
    /// Backoff for HTTP retries within one call: 500 ms doubling up to 30 s.
    pub const REQUEST: Self = Self {
        base: Duration::from_millis(500),
        max: Duration::from_secs(30),
    };

    /// The delay before retry number `attempt` (0 for the first retry).
    pub fn delay(&self, attempt: u32) -> Duration {
        let full = self.ceiling(attempt);
        let half = full / 2;
        let jitter = RandomState::new().hash_one(attempt) % (half.as_millis() as u64 + 1);
        half + Duration::from_millis(jitter)
    }

    /// The delay before jitter.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        self.base
            .checked_mul(2u32.saturating_pow(attempt.min(31)))
            .unwrap_or(self.max)
            .min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now: jiff::Timestamp = "2026-11-22T10:00:00Z".parse().unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Sun, 22 Nov 2026 10:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Sun, 22 Nov 2026 09:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("999999", now), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    #[test]
    fn backoff_doubles_up_to_its_cap_with_jitter_in_the_upper_half() {
        let b = Backoff::RECONCILE;
        assert_eq!(b.ceiling(0), Duration::from_secs(5));
        assert_eq!(b.ceiling(3), Duration::from_secs(40));
        assert_eq!(b.ceiling(10), Duration::from_secs(300));
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(300));
        for attempt in 0..12 {
            let d = b.delay(attempt);
            assert!(
                d >= b.ceiling(attempt) / 2 && d <= b.ceiling(attempt),
                "{attempt}: {d:?}"
            );
        }
    }
}
