//! Passes that plan instead of acting. A *plan* (`exo-operator plan`) reads all a reconcile
//! reads and writes nothing anywhere (not the tenant, not the service, not the cluster). An
//! *observing* pass (`spec.managementPolicy: Observe`) writes nothing to the tenant or the
//! service, and reports: its status, its Events, its own Secrets and ConfigMap are written as
//! usual. Both record each change a reconcile would make instead of making it. Every write of
//! a pass goes through one of a few places (the Exchange session, the role request, the
//! activity subscriptions, the subscriptions' keeper, the service's handoff, the status
//! writer, the account's Secrets and ConfigMap, Events); each asks the context first
//! ([`crate::controller::context::Context::planning`] for the tenant and the service,
//! [`crate::controller::context::Context::plans_only`] for the cluster).

use std::future::Future;
use std::sync::{Arc, Mutex};

use serde::Serialize;

/// Where a change would land.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// The Microsoft 365 tenant.
    Tenant,
    /// The email-security service.
    Service,
    /// The Kubernetes cluster (the account's Secrets and ConfigMaps; status is not counted).
    Cluster,
}

/// What a change does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Something new.
    Create,
    /// Fields of something that exists.
    Change,
    /// Something taken away.
    Remove,
    /// Something handed over (a role, a delivery).
    Send,
}

impl Target {
    /// Its name, as JSON and status give it.
    pub fn word(self) -> &'static str {
        match self {
            Self::Tenant => "tenant",
            Self::Service => "service",
            Self::Cluster => "cluster",
        }
    }
}

impl Action {
    /// Its name, as JSON and status give it.
    pub fn word(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Change => "change",
            Self::Remove => "remove",
            Self::Send => "send",
        }
    }

    /// The sign a plan shows the change with (`+`, `~`, `-`, `>`).
    pub fn sign(self) -> char {
        match self {
            Self::Create => '+',
            Self::Change => '~',
            Self::Remove => '-',
            Self::Send => '>',
        }
    }
}

/// One change a reconcile would make.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Change {
    /// Where.
    pub target: Target,
    /// What it does.
    pub action: Action,
    /// What it is about, for a human (`InboundConnector "exo Inbound"`).
    pub object: String,
    /// The fields it sets (names only: values may be secret).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}

impl Change {
    /// A change of `target`.
    pub fn new(target: Target, action: Action, object: impl Into<String>) -> Self {
        Self {
            target,
            action,
            object: object.into(),
            fields: Vec::new(),
        }
    }

    /// With the fields it sets.
    pub fn fields(mut self, fields: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.fields = fields.into_iter().map(Into::into).collect();
        self
    }
}

impl From<Change> for exo_api::exchange_service_account::PlannedChange {
    fn from(c: Change) -> Self {
        Self {
            target: c.target.word().into(),
            action: c.action.word().into(),
            object: c.object,
            fields: c.fields,
        }
    }
}

/// The changes a planning pass recorded.
#[derive(Debug, Default)]
pub struct Planned {
    changes: Mutex<Vec<Change>>,
}

impl Planned {
    /// Records `change`.
    pub fn record(&self, change: Change) {
        self.changes.lock().unwrap().push(change);
    }

    /// Takes what was recorded (in the order it was).
    pub fn take(&self) -> Vec<Change> {
        std::mem::take(&mut *self.changes.lock().unwrap())
    }
}

tokio::task_local! {
    /// Where an observing pass records (the pass runs within [`observing`]).
    static OBSERVING: Arc<Planned>;
}

/// Runs `pass` as an observing pass recording into `planned`.
pub async fn observing<F: Future>(planned: Arc<Planned>, pass: F) -> F::Output {
    OBSERVING.scope(planned, pass).await
}

/// The recorder of the observing pass this runs in, if any.
pub fn observed() -> Option<Arc<Planned>> {
    OBSERVING.try_with(Arc::clone).ok()
}
