//! Throttling of the subscription service, as Microsoft Learn documents it
//! (`includes/throttling-subscription-services.md`, "Microsoft Graph service-specific throttling
//! limits"): per application and tenant, 1,000 writes (POST, PATCH, DELETE) and 5,000 requests
//! of any kind per 20 seconds; per tenant for all applications, 2,000 writes and 10,000
//! requests per 20 seconds. Sliding windows on a real monotonic clock (never the world's
//! clock, which tests move); the limits are knobs.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::state::SubscriptionSettings;

/// The length of every window.
pub const WINDOW: Duration = Duration::from_secs(20);

/// The requests admitted in the last [`WINDOW`], per counted scope.
#[derive(Debug, Default)]
pub struct Windows {
    admitted: HashMap<String, VecDeque<Instant>>,
}

/// The scopes one request counts in, each with its limit.
pub fn scopes(
    settings: &SubscriptionSettings,
    tenant: &str,
    app: &str,
    write: bool,
) -> Vec<(String, usize)> {
    let mut scopes = vec![
        (format!("{tenant}/{app}/all"), settings.requests_per_20s),
        (format!("{tenant}/all"), settings.tenant_requests_per_20s),
    ];
    if write {
        scopes.push((format!("{tenant}/{app}/writes"), settings.writes_per_20s));
        scopes.push((format!("{tenant}/writes"), settings.tenant_writes_per_20s));
    }
    scopes
}

impl Windows {
    /// Admits a request at `now` counted in `scopes` (each with its limit), or tells how long
    /// until every window has room again. A refused request is not counted.
    pub fn admit(&mut self, now: Instant, scopes: &[(String, usize)]) -> Result<(), Duration> {
        let mut wait = Duration::ZERO;
        for (scope, limit) in scopes {
            let times = self.admitted.entry(scope.clone()).or_default();
            while times
                .front()
                .is_some_and(|t| now.duration_since(*t) >= WINDOW)
            {
                times.pop_front();
            }
            if times.len() >= *limit {
                // The window has room once its oldest requests beyond the limit leave it.
                let frees = times
                    .get(times.len() - limit)
                    .map_or(Duration::ZERO, |t| WINDOW - now.duration_since(*t));
                wait = wait.max(frees);
            }
        }
        if !wait.is_zero() || scopes.iter().any(|(_, limit)| *limit == 0) {
            return Err(wait.max(Duration::from_secs(1)));
        }
        for (scope, _) in scopes {
            self.admitted
                .entry(scope.clone())
                .or_default()
                .push_back(now);
        }
        Ok(())
    }
}

/// `Retry-After` in whole seconds (rounded up, at least 1).
pub fn retry_after_seconds(wait: Duration) -> u64 {
    wait.as_millis().div_ceil(1000).max(1) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_limited_per_app_and_per_tenant() {
        let settings = SubscriptionSettings {
            writes_per_20s: 2,
            tenant_writes_per_20s: 3,
            ..Default::default()
        };
        let mut w = Windows::default();
        let t0 = Instant::now();
        let write = |app| scopes(&settings, "t", app, true);
        assert!(w.admit(t0, &write("a")).is_ok());
        assert!(w.admit(t0 + Duration::from_secs(5), &write("a")).is_ok());
        let wait = w
            .admit(t0 + Duration::from_secs(6), &write("a"))
            .unwrap_err();
        assert_eq!(retry_after_seconds(wait), 14);
        // Reads still pass; another app has one write left in the tenant.
        assert!(
            w.admit(
                t0 + Duration::from_secs(6),
                &scopes(&settings, "t", "a", false)
            )
            .is_ok()
        );
        assert!(w.admit(t0 + Duration::from_secs(7), &write("b")).is_ok());
        assert!(w.admit(t0 + Duration::from_secs(7), &write("b")).is_err());
        // The first write leaves the window after 20 s.
        assert!(w.admit(t0 + Duration::from_secs(20), &write("a")).is_ok());
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(14_001)), 15);
    }
}
