//! The request budget of one application in one tenant, as Microsoft Graph's subscription
//! service enforces it: 1,000 writes per 20 seconds per app per tenant (Microsoft Learn,
//! "Microsoft Graph service-specific throttling limits", subscription service limits). The
//! operator spends at most its share of it, so that creations and renewals are spread instead
//! of throttled; a `Retry-After` from Graph empties the bucket until then.

use std::time::{Duration, Instant};

/// A token bucket.
#[derive(Debug)]
pub struct Bucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    last: Instant,
    blocked_until: Option<Instant>,
}

impl Bucket {
    /// `writes` per `window`, starting full.
    pub fn new(writes: u32, window: Duration, now: Instant) -> Self {
        let capacity = f64::from(writes.max(1));
        Self {
            capacity,
            per_second: capacity / window.as_secs_f64().max(0.001),
            tokens: capacity,
            last: now,
            blocked_until: None,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.last = now;
    }

    /// Takes up to `wanted` tokens now; how many were granted.
    pub fn take(&mut self, wanted: usize, now: Instant) -> usize {
        if self.blocked_until.is_some_and(|b| b > now) {
            return 0;
        }
        self.blocked_until = None;
        self.refill(now);
        let granted = (self.tokens.floor() as usize).min(wanted);
        self.tokens -= granted as f64;
        granted
    }

    /// How long until one token is available.
    pub fn wait(&mut self, now: Instant) -> Duration {
        if let Some(b) = self.blocked_until.filter(|b| *b > now) {
            return b - now;
        }
        self.refill(now);
        if self.tokens >= 1.0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64((1.0 - self.tokens) / self.per_second)
    }

    /// Graph said to wait `retry_after`: nothing is spent before.
    pub fn throttled(&mut self, retry_after: Duration, now: Instant) {
        self.tokens = 0.0;
        self.last = now;
        self.blocked_until = Some(now + retry_after);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spends_at_most_the_budget_per_window() {
        let t0 = Instant::now();
        let mut b = Bucket::new(800, Duration::from_secs(20), t0);
        assert_eq!(b.take(1000, t0), 800);
        assert_eq!(b.take(1, t0), 0);
        assert_eq!(b.wait(t0), Duration::from_secs_f64(1.0 / 40.0));
        // Half a window later, half the budget.
        assert_eq!(b.take(1000, t0 + Duration::from_secs(10)), 400);
        // Never more than the capacity, however long it rested.
        assert_eq!(b.take(10_000, t0 + Duration::from_secs(3600)), 800);
    }

    #[test]
    fn retry_after_stops_spending_until_then() {
        let t0 = Instant::now();
        let mut b = Bucket::new(800, Duration::from_secs(20), t0);
        b.throttled(Duration::from_secs(7), t0);
        assert_eq!(b.take(1, t0 + Duration::from_secs(6)), 0);
        assert_eq!(b.wait(t0 + Duration::from_secs(6)), Duration::from_secs(1));
        assert!(b.take(1, t0 + Duration::from_secs(8)) > 0);
    }
}
