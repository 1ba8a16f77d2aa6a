//! Graph's outbound calls to subscribers (Learn: "Receive change notifications through
//! webhooks", "Reduce missing subscriptions and change notifications"): the validation
//! handshake, change notifications and lifecycle notifications. One shared client (connections
//! reused) that trusts exactly the CAs the simulator was given; never called with the world
//! locked.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::CONTENT_TYPE;
use serde_json::Value;

use super::counters;
use crate::Sim;

/// How long a notification URL has to answer the validation request (Learn: 10 seconds).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a subscriber has to acknowledge a notification (Learn: 3 seconds).
pub const NOTIFICATION_TIMEOUT: Duration = Duration::from_secs(3);
/// The first wait before a failed change notification is sent again (then doubled).
const FIRST_RETRY: Duration = Duration::from_millis(500);

/// The HTTP client of Graph's outbound calls.
pub struct Outbound {
    client: reqwest::Client,
}

impl Outbound {
    /// A client trusting exactly `trusted_cas` (PEM texts; none: no HTTPS endpoint is trusted),
    /// with 10-second timeouts, no proxy and no redirects.
    pub fn new(trusted_cas: &[String]) -> anyhow::Result<Self> {
        exo_sim_http::install_crypto_provider();
        let mut certs = Vec::new();
        for pem in trusted_cas {
            let bundle = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .map_err(|e| anyhow::anyhow!("a trusted CA is not PEM: {e}"))?;
            anyhow::ensure!(!bundle.is_empty(), "a trusted CA holds no certificate");
            certs.extend(bundle);
        }
        let client = reqwest::Client::builder()
            .tls_certs_only(certs)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(HANDSHAKE_TIMEOUT)
            .timeout(HANDSHAKE_TIMEOUT)
            .user_agent("exo-sim-m365 (Microsoft Graph change notifications)")
            .build()?;
        Ok(Self { client })
    }

    /// The validation request: `POST {url}?validationToken=…` (the URL's own query kept), an
    /// empty `text/plain` body; it passes when the endpoint answers 200 within 10 s with the
    /// decoded token as its body, exactly.
    pub async fn handshake(&self, url: &str) -> bool {
        let token = format!(
            "Validation: Testing client application reachability for subscription Request-Id: {}",
            exo_sim_http::ids::uuid_v4()
        );
        let separator = if url.contains('?') { '&' } else { '?' };
        let target = format!("{url}{separator}validationToken={}", percent_encode(&token));
        let answer = self
            .client
            .post(target)
            .header(CONTENT_TYPE, "text/plain")
            .body("")
            .timeout(HANDSHAKE_TIMEOUT)
            .send()
            .await;
        let Ok(response) = answer else {
            return false;
        };
        response.status() == reqwest::StatusCode::OK
            && response.text().await.is_ok_and(|body| body == token)
    }

    /// POSTs a notification `body` (`application/json`) to `url`: its status if it answered
    /// within `timeout`, `None` if it did not.
    pub async fn post(&self, url: &str, body: &Value, timeout: Duration) -> Option<u16> {
        let response = self
            .client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .timeout(timeout)
            .send()
            .await
            .ok()?;
        let status = response.status().as_u16();
        // Read the answer within the time limit too: a subscriber that never finishes fails.
        tokio::time::timeout(timeout, response.bytes())
            .await
            .ok()?
            .ok()?;
        Some(status)
    }
}

/// Percent-encodes a query value (everything but RFC 3986's unreserved characters).
pub fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Whether a subscriber's status acknowledges a notification (any 2xx).
fn acknowledged(status: Option<u16>) -> bool {
    status.is_some_and(|s| (200..300).contains(&s))
}

/// Sends a change notification once; on failure retries it in the background with backoff
/// until the retry horizon (counting each attempt), then drops it. Whether the first attempt
/// was acknowledged.
pub async fn notify(sim: &Arc<Sim>, subscription_id: &str, url: &str, body: Value) -> bool {
    let first = sim.outbound.post(url, &body, NOTIFICATION_TIMEOUT).await;
    if acknowledged(first) {
        sim.world
            .lock()
            .unwrap()
            .count(counters::NOTIFICATIONS_DELIVERED, 1);
        return true;
    }
    let horizon = {
        let mut w = sim.world.lock().unwrap();
        w.count(counters::NOTIFICATIONS_FAILED, 1);
        Duration::from_secs(w.subscription_settings.notification_retry_horizon_seconds)
    };
    let (sim, id, url) = (sim.clone(), subscription_id.to_string(), url.to_string());
    tokio::spawn(async move { retry(sim, id, url, body, horizon).await });
    false
}

/// Retries a failed change notification until it is acknowledged, its subscription is gone or
/// paused, or `horizon` has passed since the first attempt.
async fn retry(sim: Arc<Sim>, id: String, url: String, body: Value, horizon: Duration) {
    let started = Instant::now();
    let mut wait = FIRST_RETRY;
    loop {
        if started.elapsed() + wait > horizon {
            break;
        }
        tokio::time::sleep(wait).await;
        wait *= 2;
        let live = {
            let mut w = sim.world.lock().unwrap();
            w.sweep_subscriptions();
            w.mail_subscriptions
                .get(&id)
                .is_some_and(|s| !s.reauthorization_required)
        };
        if !live {
            break;
        }
        let status = sim.outbound.post(&url, &body, NOTIFICATION_TIMEOUT).await;
        let mut w = sim.world.lock().unwrap();
        if acknowledged(status) {
            w.count(counters::NOTIFICATIONS_DELIVERED, 1);
            return;
        }
        w.count(counters::NOTIFICATIONS_FAILED, 1);
    }
    sim.world
        .lock()
        .unwrap()
        .count(counters::NOTIFICATIONS_DROPPED, 1);
}

/// Sends a lifecycle notification once (best effort): its status, `None` without an answer.
pub async fn lifecycle(sim: &Arc<Sim>, url: &str, body: &Value) -> Option<u16> {
    sim.world.lock().unwrap().count(counters::LIFECYCLE_SENT, 1);
    let status = sim.outbound.post(url, body, NOTIFICATION_TIMEOUT).await;
    if !acknowledged(status) {
        sim.world
            .lock()
            .unwrap()
            .count(counters::LIFECYCLE_FAILED, 1);
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(percent_encode("a b:c/d?e=f&g"), "a%20b%3Ac%2Fd%3Fe%3Df%26g");
        assert_eq!(percent_encode("A-z_0.9~"), "A-z_0.9~");
    }

    #[test]
    fn only_2xx_acknowledges() {
        assert!(acknowledged(Some(202)));
        assert!(!acknowledged(Some(500)));
        assert!(!acknowledged(None));
    }
}
