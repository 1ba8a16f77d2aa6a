//! What every route shares: the key, the policies offered, the state file, the tenants'
//! records (behind one async lock, held across the write of the state file so that what is
//! acknowledged is on disk, in order), the faults and the counters.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::Serialize;

use crate::faults::Faults;
use crate::notifications::TenantNotifications;
use crate::problem::Problem;
use crate::signature::SigningKey;
use crate::store::{MAX_TENANTS, Store, write_atomically};

/// The state shared by every route.
pub struct Shared {
    /// The key requests are signed with.
    pub key: SigningKey,
    /// The policies the service offers.
    pub policies: Vec<String>,
    /// The state file (memory only without one).
    pub state_file: Option<PathBuf>,
    /// Clock skew tolerated either way, seconds.
    pub tolerance_seconds: i64,
    /// The tenants' records.
    pub store: tokio::sync::Mutex<Store>,
    /// The faults in force.
    pub faults: Mutex<Faults>,
    /// Counters (memory only: a restart resets them).
    pub counters: Mutex<Counters>,
}

/// Counters of one tenant.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantCounters {
    /// Registrations (first and repeated).
    pub registrations: u64,
    /// Deliveries applied, by `type`.
    pub acknowledged: BTreeMap<String, u64>,
    /// Users, groups and ids carried by the deliveries applied, by `type`.
    pub acknowledged_items: BTreeMap<String, u64>,
    /// Deliveries answered as duplicates, by `type`.
    pub duplicates: BTreeMap<String, u64>,
    /// Deliveries refused as gaps.
    pub gaps: u64,
    /// Deliveries refused as malformed or not applicable.
    pub rejected: u64,
    /// Graph change notifications for the tenant (counted whether or not it is registered;
    /// the recent ones are read at `/_sim/tenants/{tenantId}/notifications`).
    pub notifications: TenantNotifications,
}

/// The notification URL's counters, service-wide.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationTotals {
    /// Requests to the notification URL (handshakes included).
    pub requests: u64,
    /// Validation handshakes answered.
    pub validations: u64,
    /// Bodies refused as malformed (400).
    pub malformed: u64,
    /// Change notifications accepted.
    pub accepted: u64,
    /// Items ignored (wrong or missing `clientState`, no tenant, not a notification).
    pub rejected: u64,
    /// Accepted notifications received again.
    pub duplicates: u64,
    /// Lifecycle notifications.
    pub lifecycle: u64,
}

/// The service's counters.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    /// Requests to the protocol's routes.
    pub requests: u64,
    /// Requests refused for their signature.
    pub signature_refused: u64,
    /// Requests answered by an injected status.
    pub faults_injected: u64,
    /// The notification URL (`POST /graph/notifications`), which `requests` does not count.
    pub notifications: NotificationTotals,
    /// Per tenant, by lowercase id.
    pub tenants: BTreeMap<String, TenantCounters>,
}

impl Shared {
    /// Changes the counters.
    pub fn count(&self, f: impl FnOnce(&mut Counters)) {
        f(&mut self.counters.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// Changes one tenant's counters.
    /// At most [`MAX_TENANTS`] tenants are counted.
    pub fn count_tenant(&self, tenant: &str, f: impl FnOnce(&mut TenantCounters)) {
        self.count(|c| {
            if c.tenants.len() < MAX_TENANTS || c.tenants.contains_key(tenant) {
                f(c.tenants.entry(tenant.to_string()).or_default());
            }
        });
    }

    /// Writes `store` to the state file (nothing without one). A failure is a 503: the
    /// caller puts the store back as it was and acknowledges nothing.
    pub async fn persist(&self, store: &Store) -> Result<(), Problem> {
        let Some(path) = self.state_file.clone() else {
            return Ok(());
        };
        let bytes = store.to_bytes();
        match tokio::task::spawn_blocking(move || write_atomically(&path, &bytes)).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(
                Problem::unavailable("the service could not store the change; retry")
                    .retry_after(Some(1)),
            ),
        }
    }

    /// The simulated restart: the records as the state file has them (none without one),
    /// the counters reset. Faults stay: they belong to the test, not to the service.
    pub async fn restart(&self) -> anyhow::Result<usize> {
        let mut store = self.store.lock().await;
        *store = match &self.state_file {
            Some(path) => Store::load(path)?,
            None => Store::new(),
        };
        self.count(|c| *c = Counters::default());
        Ok(store.tenants.len())
    }
}
