//! What every reconcile shares: the Kubernetes client, the token cache, HTTP clients per trust
//! configuration, the Event recorder, the notifier, and a small in-memory memo per account.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use super::cache::Cache;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::Store;

use exo_api::email_security_service::{
    ClusterEmailSecurityService, EmailSecurityService, EmailSecurityServiceSpec, ServiceKind,
};
use exo_api::exchange_service_account::ExchangeServiceAccount;
use secrecy::SecretString;

use crate::microsoft::http::{HttpClient, RetryPolicy, TransportError};
use crate::microsoft::identity::cache::TokenCache;
use crate::microsoft::retry::Backoff;
use crate::notify::Notifier;

/// Operator-wide settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Retries of every Microsoft request.
    pub retry: RetryPolicy,
    /// Extra PEM CA certificates trusted for every Microsoft endpoint (`--ca-bundle`).
    pub ca_bundle: Option<Vec<u8>>,
    /// Longest time between two reconciles of a healthy account.
    pub resync: Duration,
    /// How often an account waiting for a human (admin consent, an application re-enabled, a
    /// role approved, reported drift) looks again (`--recheck-interval`).
    pub consent_poll: Duration,
    /// Backoff of a failing account, per account: Microsoft's `Retry-After` when longer.
    pub backoff: Backoff,
    /// With automatic regrant, how long after a device-code sign-in was declined or expired a
    /// new prompt opens by itself (the regrant annotation opens one at once).
    pub sign_in_reopen: Duration,
    /// Reconciles run at once per controller.
    pub concurrency: u16,
    /// The `reportingController` of Events.
    pub controller_name: String,
    /// The `reportingInstance` of Events (the pod name).
    pub instance: Option<String>,
    /// HTTPS proxy for every Microsoft endpoint (`--https-proxy`).
    pub https_proxy: Option<String>,
    /// How long a new SyncTargetList waits for its account before reporting it missing, so a
    /// list and its account applied together cost one status write, not two.
    pub list_grace: Duration,
    /// Fail points (tests, and `EXO_FAIL_AT`): none in normal operation.
    pub fail_points: Option<std::sync::Arc<super::fail_point::FailPoints>>,
    /// Where the Secrets and ConfigMaps a ClusterEmailSecurityService names are read
    /// (`--cluster-resource-namespace`; by default the operator's own namespace).
    pub cluster_resource_namespace: String,
    /// The change-notification subscriptions of API-mode accounts (`--lifecycle-url`, budget).
    pub protection: crate::protection::Settings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            ca_bundle: None,
            resync: Duration::from_secs(60 * 60),
            consent_poll: Duration::from_secs(60),
            backoff: Backoff::RECONCILE,
            sign_in_reopen: Duration::from_secs(15 * 60),
            concurrency: 16,
            controller_name: "exo-operator".into(),
            instance: None,
            https_proxy: None,
            list_grace: Duration::from_secs(5),
            fail_points: None,
            cluster_resource_namespace: "default".into(),
            protection: crate::protection::Settings::default(),
        }
    }
}

/// What the operator remembers of one account between reconciles. Small on purpose: it is
/// lost on restart, and everything in it can be recomputed.
#[derive(Clone, Debug, Default)]
pub struct AccountMemo {
    /// Fingerprint of the credential last used, to drop tokens when it changes.
    pub credential: Option<String>,
    /// `issued_at` of the token whose grants were last confirmed in the tenant.
    pub verified_token: Option<jiff::Timestamp>,
    /// `issued_at` of the Management token with which the activity subscriptions were last
    /// confirmed.
    pub activity_verified: Option<jiff::Timestamp>,
    /// A rotated refresh token not yet saved in its Secret (a failed write), saved first on the
    /// next reconcile so it is never lost.
    pub unsaved_refresh_token: Option<SecretString>,
    /// When the open device-code prompt was last polled (never more often than its interval).
    pub last_poll: Option<jiff::Timestamp>,
    /// Consecutive failed reconciles, for backoff.
    pub failures: u32,
    /// `resourceVersion` returned by this operator's last status write, until a reconcile has
    /// checked that the cache caught up with it.
    pub written_version: Option<String>,
    /// The tenant's mail domains as last read for inline mode, reused by reconciles that find
    /// nothing due (they are read again when the tenant is next looked at).
    pub mail_domains: Option<Vec<String>>,
}

/// Shared state of the controllers.
pub struct Context {
    /// Kubernetes client.
    pub client: kube::Client,
    /// Settings.
    pub settings: Settings,
    /// Access tokens of every account.
    pub tokens: TokenCache,
    /// Event recorder.
    pub recorder: Recorder,
    /// Webhook and e-mail notifications.
    pub notifier: Notifier,
    /// The change-notification subscriptions of API-mode accounts.
    pub protection: std::sync::Arc<crate::protection::Keeper>,
    /// Set when passes only plan (`exo-operator plan`): what they would change is recorded
    /// here, and nothing is written.
    planned: Option<std::sync::Arc<crate::controller::planned::Planned>>,
    http: Mutex<HashMap<Vec<u8>, HttpClient>>,
    memo: Mutex<HashMap<String, AccountMemo>>,
    /// Services whose ingestion last answered a probe: when, and for which ingestion spec.
    probes: Mutex<HashMap<String, (std::time::Instant, String)>>,
    /// The caches of the accounts' controllers (one per watch), to tell which account holds
    /// a tenant.
    accounts: Mutex<Vec<Cache<ExchangeServiceAccount>>>,
    /// The caches of the services (namespaced ones per watch, and the cluster ones), to tell
    /// another account's application.
    services: Mutex<ServiceCaches>,
}

/// The caches of both kinds of service.
#[derive(Default)]
struct ServiceCaches {
    namespaced: Vec<Store<EmailSecurityService>>,
    cluster: Vec<Store<ClusterEmailSecurityService>>,
}

impl Context {
    /// A context for `client` with `settings`.
    pub fn new(client: kube::Client, settings: Settings) -> Result<Self, TransportError> {
        let reporter = Reporter {
            controller: settings.controller_name.clone(),
            instance: settings.instance.clone(),
        };
        let notifier = Notifier::new(HttpClient::new(
            settings.ca_bundle.as_deref(),
            settings.retry,
        )?);
        let protection =
            std::sync::Arc::new(crate::protection::Keeper::new(settings.protection.clone()));
        Ok(Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            settings,
            tokens: TokenCache::default(),
            notifier,
            protection,
            planned: None,
            http: Mutex::default(),
            memo: Mutex::default(),
            probes: Mutex::default(),
            accounts: Mutex::default(),
            services: Mutex::default(),
        })
    }

    /// The HTTP client trusting the system roots, the operator's CA bundle and `extra_ca`;
    /// clients are shared so that accounts with the same trust share one connection pool.
    pub fn http(&self, extra_ca: Option<&[u8]>) -> Result<HttpClient, TransportError> {
        let mut bundle = self.settings.ca_bundle.clone().unwrap_or_default();
        if let Some(extra) = extra_ca {
            bundle.push(b'\n');
            bundle.extend_from_slice(extra);
        }
        let mut clients = self.http.lock().unwrap();
        if let Some(c) = clients.get(&bundle) {
            return Ok(c.clone());
        }
        let client = HttpClient::with_proxy(
            (!bundle.is_empty()).then_some(bundle.as_slice()),
            self.settings.retry,
            self.settings.https_proxy.as_deref(),
        )?;
        clients.insert(bundle, client.clone());
        Ok(client)
    }

    /// A copy of the memo of account `key` (`namespace/name`).
    pub fn memo(&self, key: &str) -> AccountMemo {
        self.memo
            .lock()
            .unwrap()
            .get(key)
            .cloned()
            .unwrap_or_default()
    }

    /// Updates the memo of account `key`.
    pub fn update_memo(&self, key: &str, f: impl FnOnce(&mut AccountMemo)) {
        f(self
            .memo
            .lock()
            .unwrap()
            .entry(key.to_string())
            .or_default());
    }

    /// This context's passes only plan: they record into the returned recorder and write
    /// nothing.
    pub fn only_planning(&mut self) -> std::sync::Arc<crate::controller::planned::Planned> {
        self.planned.get_or_insert_with(Default::default).clone()
    }

    /// The recorder of this pass, if it plans (`exo-operator plan`) or observes
    /// (`managementPolicy: Observe`).
    fn recorder(&self) -> Option<std::sync::Arc<crate::controller::planned::Planned>> {
        self.planned
            .clone()
            .or_else(crate::controller::planned::observed)
    }

    /// Whether this pass plans or observes, writing nothing to the tenant or the service; if
    /// so, `change` (made lazily) is recorded and the caller must not make it.
    pub fn planning(&self, change: impl FnOnce() -> crate::controller::planned::Change) -> bool {
        match self.recorder() {
            Some(p) => {
                p.record(change());
                true
            }
            None => false,
        }
    }

    /// Whether this pass plans or observes (writes nothing to the tenant or the service).
    pub fn is_planning(&self) -> bool {
        self.planned.is_some() || crate::controller::planned::observed().is_some()
    }

    /// Whether this pass only plans (`exo-operator plan`): nothing is written anywhere, not
    /// even the cluster; if so, `change` (made lazily) is recorded and the caller must not make
    /// it.
    pub fn plans_only(&self, change: impl FnOnce() -> crate::controller::planned::Change) -> bool {
        match &self.planned {
            Some(p) => {
                p.record(change());
                true
            }
            None => false,
        }
    }

    /// Whether this pass only plans (`exo-operator plan`): nothing is written anywhere, not
    /// even status or Events.
    pub fn writes_nothing(&self) -> bool {
        self.planned.is_some()
    }

    /// Publishes an Event about `object`: `action` groups a series (the recorder folds repeats
    /// of the same reason and action into one Event). A failure is logged, never fatal.
    pub async fn publish_event(
        &self,
        object: &ObjectReference,
        type_: EventType,
        reason: &str,
        action: &str,
        note: String,
    ) {
        if self.writes_nothing() {
            return;
        }
        let event = Event {
            type_,
            reason: reason.into(),
            note: Some(note),
            action: action.chars().take(128).collect(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, object).await {
            tracing::warn!(error = %e, reason, "cannot publish Event");
        }
    }

    /// Adds the cache of an accounts' controller.
    pub fn watch_accounts(&self, cache: Cache<ExchangeServiceAccount>) {
        self.accounts.lock().unwrap().push(cache);
    }

    /// Adds the cache of the namespaced services of a watch.
    pub fn watch_services(&self, store: Store<EmailSecurityService>) {
        self.services.lock().unwrap().namespaced.push(store);
    }

    /// Adds the cache of the cluster services.
    pub fn watch_cluster_services(&self, store: Store<ClusterEmailSecurityService>) {
        self.services.lock().unwrap().cluster.push(store);
    }

    /// Forgets the caches of controllers started before (a new leader starts its own).
    pub fn forget_account_caches(&self) {
        self.accounts.lock().unwrap().clear();
        *self.services.lock().unwrap() = ServiceCaches::default();
    }

    /// The application (client) id account `esa` signs in with, as the caches know it: its
    /// override, else its service's; `None` while its service is not known.
    pub fn application_of(&self, esa: &ExchangeServiceAccount) -> Option<String> {
        if let Some(own) = &esa.spec.application {
            return Some(own.client_id.clone());
        }
        self.service_of(esa)
            .map(|(spec, _)| spec.application.client_id)
    }

    /// The spec of the service `esa` names and the namespace of its Secrets and ConfigMaps, as
    /// the caches know them.
    pub fn service_of(
        &self,
        esa: &ExchangeServiceAccount,
    ) -> Option<(EmailSecurityServiceSpec, String)> {
        use kube::ResourceExt;
        use kube::runtime::reflector::ObjectRef;
        let reference = &esa.spec.service_ref;
        let services = self.services.lock().unwrap();
        match reference.kind {
            ServiceKind::EmailSecurityService => {
                let namespace = esa.namespace()?;
                let key = ObjectRef::new(&reference.name).within(&namespace);
                let found = services.namespaced.iter().find_map(|s| s.get(&key))?;
                Some((found.spec.clone(), namespace))
            }
            ServiceKind::ClusterEmailSecurityService => {
                let key = ObjectRef::new(&reference.name);
                let found = services.cluster.iter().find_map(|s| s.get(&key))?;
                Some((
                    found.spec.0.clone(),
                    self.settings.cluster_resource_namespace.clone(),
                ))
            }
        }
    }

    /// Every account the controllers' caches hold.
    pub fn accounts(&self) -> Vec<std::sync::Arc<ExchangeServiceAccount>> {
        let stores = self.accounts.lock().unwrap();
        stores.iter().flat_map(|s| s.store().state()).collect()
    }

    /// Waits until every accounts' cache has been filled by its first list.
    pub async fn accounts_ready(&self) {
        let stores = self.accounts.lock().unwrap().clone();
        for cache in stores {
            cache.filled().await;
        }
    }

    /// Whether service `key`'s ingestion `spec` answered a probe within `max_age`.
    pub fn answered_recently(&self, key: &str, spec: &str, max_age: Duration) -> bool {
        let probes = self.probes.lock().unwrap();
        probes
            .get(key)
            .is_some_and(|(at, s)| s == spec && at.elapsed() < max_age)
    }

    /// Records that service `key`'s ingestion `spec` answered a probe now (`false`: forgets).
    pub fn record_probe(&self, key: &str, spec: &str, answered: bool) {
        let mut probes = self.probes.lock().unwrap();
        match answered {
            true => probes.insert(
                key.to_string(),
                (std::time::Instant::now(), spec.to_string()),
            ),
            false => probes.remove(key),
        };
    }

    /// Forgets account `key` (deleted).
    pub fn forget(&self, key: &str) {
        self.memo.lock().unwrap().remove(key);
    }
}
