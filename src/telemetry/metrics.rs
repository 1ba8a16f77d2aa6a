//! Prometheus metrics, served on `/metrics`. Label values are bounded: controller names,
//! stable reasons, API names and status classes; per-account series carry the account's
//! namespace and name (bounded by the number of accounts) and are removed with the account.

use std::sync::OnceLock;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of a controller series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabels {
    /// `exchangeserviceaccount` or `synctargetlist`.
    pub controller: String,
}

/// Labels of a reconcile error.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// The controller.
    pub controller: String,
    /// The stable reason.
    pub reason: String,
}

/// Labels of an external request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `login`, `graph`, `exchange`, `management`, `webhook`.
    pub api: String,
    /// `2xx`, `4xx`, `429`, `5xx` or `error`.
    pub class: String,
}

/// Labels of an API series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ApiLabels {
    /// The API.
    pub api: String,
}

/// Labels of a per-account series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AccountLabels {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

/// Every metric of the operator.
pub struct Metrics {
    registry: Registry,
    /// Reconciles run.
    pub reconciles: Family<ControllerLabels, Counter>,
    /// Reconciles failed, by reason.
    pub reconcile_errors: Family<ErrorLabels, Counter>,
    /// Reconcile durations.
    pub reconcile_duration: Family<ControllerLabels, Histogram>,
    /// External requests by API and status class.
    pub requests: Family<RequestLabels, Counter>,
    /// External request durations by API.
    pub request_duration: Family<ApiLabels, Histogram>,
    /// Throttled answers (429) by API.
    pub throttled: Family<ApiLabels, Counter>,
    /// Expiry of each account's access token (seconds since the epoch).
    pub token_expiry: Family<AccountLabels, Gauge<f64, AtomicU64>>,
    /// 1 when the account's token is valid, else 0.
    pub token_valid: Family<AccountLabels, Gauge>,
    /// Last successful directory sync (seconds since the epoch).
    pub last_sync: Family<AccountLabels, Gauge<f64, AtomicU64>>,
    /// Users protected per account.
    pub synced_users: Family<AccountLabels, Gauge>,
    /// 1 when the account's service registered its tenant and acknowledged its deliveries.
    pub service_registered: Family<AccountLabels, Gauge>,
    /// The last delivery the service acknowledged, per account.
    pub delivery_watermark: Family<AccountLabels, Gauge>,
    /// API mode: mailboxes to protect, per account.
    pub protected_mailboxes: Family<AccountLabels, Gauge>,
    /// API mode: protected mailboxes with all their change-notification subscriptions.
    pub subscribed_mailboxes: Family<AccountLabels, Gauge>,
    /// API mode: protected mailboxes whose subscriptions could not be created.
    pub failed_mailboxes: Family<AccountLabels, Gauge>,
    /// API mode: when the next subscription renewal is due (unix seconds).
    pub next_renewal: Family<AccountLabels, Gauge>,
}

fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("exo");
        let reconciles = Family::<ControllerLabels, Counter>::default();
        let reconcile_errors = Family::<ErrorLabels, Counter>::default();
        let reconcile_duration = Family::<ControllerLabels, Histogram>::new_with_constructor(
            duration_histogram as fn() -> Histogram,
        );
        let requests = Family::<RequestLabels, Counter>::default();
        let request_duration = Family::<ApiLabels, Histogram>::new_with_constructor(
            duration_histogram as fn() -> Histogram,
        );
        let throttled = Family::<ApiLabels, Counter>::default();
        let token_expiry = Family::<AccountLabels, Gauge<f64, AtomicU64>>::default();
        let token_valid = Family::<AccountLabels, Gauge>::default();
        let last_sync = Family::<AccountLabels, Gauge<f64, AtomicU64>>::default();
        let synced_users = Family::<AccountLabels, Gauge>::default();
        let service_registered = Family::<AccountLabels, Gauge>::default();
        let delivery_watermark = Family::<AccountLabels, Gauge>::default();
        let protected_mailboxes = Family::<AccountLabels, Gauge>::default();
        let subscribed_mailboxes = Family::<AccountLabels, Gauge>::default();
        let failed_mailboxes = Family::<AccountLabels, Gauge>::default();
        let next_renewal = Family::<AccountLabels, Gauge>::default();
        registry.register(
            "protected_mailboxes",
            "Mailboxes each API-mode account protects",
            protected_mailboxes.clone(),
        );
        registry.register(
            "subscribed_mailboxes",
            "Protected mailboxes with all their Microsoft Graph change-notification subscriptions",
            subscribed_mailboxes.clone(),
        );
        registry.register(
            "failed_mailboxes",
            "Protected mailboxes whose change-notification subscriptions could not be created",
            failed_mailboxes.clone(),
        );
        registry.register(
            "next_subscription_renewal_timestamp_seconds",
            "When each account's next subscription renewal is due",
            next_renewal.clone(),
        );
        registry.register(
            "service_registered",
            "1 when the email-security service registered the account's tenant and acknowledged its deliveries",
            service_registered.clone(),
        );
        registry.register(
            "delivery_watermark",
            "The last delivery of each account's stream the service acknowledged",
            delivery_watermark.clone(),
        );
        registry.register("reconciles", "Reconciles run", reconciles.clone());
        registry.register(
            "reconcile_errors",
            "Reconciles failed, by reason",
            reconcile_errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Reconcile durations",
            reconcile_duration.clone(),
        );
        registry.register(
            "external_requests",
            "Requests to Microsoft and notification endpoints, by API and status class",
            requests.clone(),
        );
        registry.register(
            "external_request_duration_seconds",
            "Durations of external requests",
            request_duration.clone(),
        );
        registry.register(
            "throttled",
            "Throttled (429) answers by API",
            throttled.clone(),
        );
        registry.register(
            "token_expiry_timestamp_seconds",
            "Expiry of each account's access token",
            token_expiry.clone(),
        );
        registry.register(
            "token_valid",
            "1 when the account's token is valid",
            token_valid.clone(),
        );
        registry.register(
            "last_sync_timestamp_seconds",
            "Last successful directory sync of each account",
            last_sync.clone(),
        );
        registry.register(
            "synced_users",
            "Users protected per account",
            synced_users.clone(),
        );
        Self {
            registry,
            reconciles,
            reconcile_errors,
            reconcile_duration,
            requests,
            request_duration,
            throttled,
            token_expiry,
            token_valid,
            last_sync,
            synced_users,
            service_registered,
            delivery_watermark,
            protected_mailboxes,
            subscribed_mailboxes,
            failed_mailboxes,
            next_renewal,
        }
    }

    /// The text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }

    /// Records one external request.
    pub fn request(&self, api: &str, status: Option<u16>, took: Duration) {
        let class = match status {
            None => "error".to_string(),
            Some(429) => "429".to_string(),
            Some(s) => format!("{}xx", s / 100),
        };
        if status == Some(429) {
            self.throttled
                .get_or_create(&ApiLabels { api: api.into() })
                .inc();
        }
        self.requests
            .get_or_create(&RequestLabels {
                api: api.into(),
                class,
            })
            .inc();
        self.request_duration
            .get_or_create(&ApiLabels { api: api.into() })
            .observe(took.as_secs_f64());
    }

    /// Records one reconcile.
    pub fn reconciled(&self, controller: &str, took: Duration, error: Option<&str>) {
        let labels = ControllerLabels {
            controller: controller.into(),
        };
        self.reconciles.get_or_create(&labels).inc();
        self.reconcile_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        if let Some(reason) = error {
            self.reconcile_errors
                .get_or_create(&ErrorLabels {
                    controller: controller.into(),
                    reason: reason.into(),
                })
                .inc();
        }
    }

    /// Drops every series of a deleted account.
    pub fn forget_account(&self, namespace: &str, name: &str) {
        let labels = AccountLabels {
            namespace: namespace.into(),
            name: name.into(),
        };
        self.token_expiry.remove(&labels);
        self.token_valid.remove(&labels);
        self.last_sync.remove(&labels);
        self.synced_users.remove(&labels);
        self.service_registered.remove(&labels);
        self.delivery_watermark.remove(&labels);
        self.protected_mailboxes.remove(&labels);
        self.subscribed_mailboxes.remove(&labels);
        self.failed_mailboxes.remove(&labels);
        self.next_renewal.remove(&labels);
    }
}

/// The process-wide metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_api_and_class() {
        let m = Metrics::new();
        m.request("graph", Some(200), Duration::from_millis(5));
        m.request("graph", Some(429), Duration::from_millis(5));
        m.request("login", None, Duration::from_millis(5));
        m.reconciled(
            "exchangeserviceaccount",
            Duration::from_millis(3),
            Some("Throttled"),
        );
        let text = m.encode();
        assert!(
            text.contains(r#"exo_external_requests_total{api="graph",class="2xx"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"exo_throttled_total{api="graph"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"class="error""#), "{text}");
        assert!(text.contains(r#"exo_reconcile_errors_total{controller="exchangeserviceaccount",reason="Throttled"} 1"#), "{text}");
    }

    #[test]
    fn account_series_are_removed_with_the_account() {
        let m = Metrics::new();
        let labels = AccountLabels {
            namespace: "t".into(),
            name: "a".into(),
        };
        m.token_valid.get_or_create(&labels).set(1);
        assert!(
            m.encode()
                .contains(r#"exo_token_valid{namespace="t",name="a"} 1"#)
        );
        m.forget_account("t", "a");
        assert!(!m.encode().contains(r#"name="a""#));
    }
}
