//! Whether the Kubernetes API server answers, for `/readyz`: a cheap `GET /version` with a short
//! timeout, its answer cached for a few seconds so that probes do not hammer the API server
//! (concurrent probes share one request).

use std::time::{Duration, Instant};

use tokio::sync::Mutex;

/// How long one check may take (readiness probes time out after 1 s).
pub const CHECK_TIMEOUT: Duration = Duration::from_millis(400);
/// How long an answer is reused.
pub const CACHE_FOR: Duration = Duration::from_secs(3);

/// Asks the API server whether it answers, at most once per [`CACHE_FOR`].
pub struct ApiProbe {
    client: kube::Client,
    last: Mutex<Option<(Instant, bool)>>,
}

impl ApiProbe {
    /// A probe of the API server behind `client`.
    pub fn new(client: kube::Client) -> Self {
        Self {
            client,
            last: Mutex::new(None),
        }
    }

    /// Whether the API server answered `GET /version` within [`CHECK_TIMEOUT`], now or at most
    /// [`CACHE_FOR`] ago.
    pub async fn answers(&self) -> bool {
        let mut last = self.last.lock().await;
        if let Some((at, ok)) = *last
            && still_fresh(at, Instant::now(), CACHE_FOR)
        {
            return ok;
        }
        let ok = tokio::time::timeout(CHECK_TIMEOUT, self.client.apiserver_version())
            .await
            .is_ok_and(|r| r.is_ok());
        if !ok {
            tracing::warn!("the Kubernetes API server does not answer: not ready");
        }
        *last = Some((Instant::now(), ok));
        ok
    }
}

/// Whether an answer obtained `at` may still be used `now`.
fn still_fresh(at: Instant, now: Instant, ttl: Duration) -> bool {
    now.saturating_duration_since(at) < ttl
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_reused_for_a_few_seconds_only() {
        let t = Instant::now();
        let ttl = Duration::from_secs(3);
        for (age_ms, fresh) in [(0, true), (2999, true), (3000, false), (60_000, false)] {
            let now = t + Duration::from_millis(age_ms);
            assert_eq!(still_fresh(t, now, ttl), fresh, "{age_ms}");
        }
    }
}
