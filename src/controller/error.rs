//! The reconcilers' error type: failures that end a reconcile early and are retried. Failures
//! the user must fix are not errors here; they become conditions.

use std::time::Duration;

use thiserror::Error;

use crate::microsoft::errors::ErrorClass;
use crate::microsoft::graph::GraphError;
use crate::microsoft::http::TransportError;

/// Why a reconcile failed.
#[derive(Debug, Error)]
pub enum Error {
    /// The Kubernetes API failed.
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// A Microsoft Graph call failed.
    #[error("{0}")]
    Graph(#[from] GraphError),
    /// An HTTP client could not be built (a bad CA bundle).
    #[error("{0}")]
    Transport(#[from] TransportError),
    /// An Exchange Online admin API call failed.
    #[error("{0}")]
    Exchange(#[from] crate::microsoft::exchange::ExchangeError),
    /// The email-security service's ingestion endpoint failed.
    #[error("{0}")]
    Service(#[from] crate::service::error::ServiceError),
    /// Deletion could not remove everything the operator created in the tenant.
    #[error("cleanup incomplete: {0}")]
    CleanupIncomplete(String),
    /// The operator itself could not go on (no random numbers for a routing token).
    #[error("internal: {0}")]
    Internal(String),
    /// A serialisation error (a bug).
    #[error("serialisation: {0}")]
    Serde(#[from] serde_json::Error),
}

impl Error {
    /// The stable reason, for Events and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Kube(_) => "KubernetesApiError",
            Self::Graph(e) => e.failure.reason(),
            Self::Transport(_) => "TransportError",
            Self::Exchange(e) => e.failure.reason(),
            Self::Service(e) => e.reason(),
            Self::CleanupIncomplete(_) => "CleanupIncomplete",
            Self::Internal(_) => "InternalError",
            Self::Serde(_) => "SerialisationError",
        }
    }

    /// A `Retry-After` to honour, when the failure is throttling.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Graph(e) => match e.class() {
                ErrorClass::Throttled(d) => d,
                _ => None,
            },
            Self::Exchange(e) => e.retry_after,
            Self::Service(e) => e.retry_after(),
            _ => None,
        }
    }
}

/// Result of a reconcile step.
pub type Result<T, E = Error> = std::result::Result<T, E>;
