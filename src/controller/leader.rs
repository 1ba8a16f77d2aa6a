//! Leader election on a `coordination.k8s.io` Lease (with `kube-lease-manager`): only the
//! replica that holds the Lease runs the controllers; the others keep their HTTP port up and
//! wait. A leader that loses the Lease stops its controllers at once, so two replicas never
//! write at the same time.

use std::sync::Arc;
use std::time::Duration;

use kube_lease_manager::{LeaseManagerBuilder, LeaseManagerError};
use tokio::sync::watch;

use super::context::Context;
use super::run::{Handles, Operator, Scope};

/// Where the Lease is and how long it holds.
#[derive(Clone, Debug)]
pub struct Election {
    /// Lease name.
    pub lease_name: String,
    /// Lease namespace.
    pub namespace: String,
    /// This replica's identity (the pod name).
    pub identity: String,
    /// How long a lease holds without renewal, in seconds.
    pub duration: u64,
    /// How long before expiry the holder renews, in seconds.
    pub grace: u64,
}

/// How a leader run ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// Shutdown was asked for.
    Shutdown,
    /// The Lease was lost: the process should exit so that it restarts as a standby.
    LostLease,
}

/// Runs the controllers whenever this replica holds the Lease, until `shutdown` turns true or
/// the Lease is lost. `handles` receives the controllers' handles while leading (for the HTTP
/// port, which the caller serves throughout).
pub async fn run(
    ctx: Arc<Context>,
    scope: Scope,
    election: &Election,
    handles: watch::Sender<Option<Handles>>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<Ended, LeaseManagerError> {
    let manager = LeaseManagerBuilder::new(ctx.client.clone(), election.lease_name.clone())
        .with_namespace(election.namespace.clone())
        .with_identity(election.identity.clone())
        .with_duration(election.duration)
        .with_grace(election.grace)
        .build()
        .await?;
    let (mut leading, task) = manager.watch().await;
    tracing::info!(identity = %election.identity, lease = %election.lease_name, "waiting for the lease");
    loop {
        if *leading.borrow_and_update() {
            break;
        }
        tokio::select! {
            changed = leading.changed() => {
                if changed.is_err() {
                    return Ok(Ended::LostLease);
                }
            }
            _ = shutdown.wait_for(|s| *s) => {
                drop(leading);
                let _ = task.await;
                return Ok(Ended::Shutdown);
            }
        }
    }
    tracing::info!(identity = %election.identity, "leading: starting the controllers");
    let operator = Operator::start(ctx, scope, None).await;
    let _ = handles.send(Some(operator.handles.clone()));
    let ended = loop {
        tokio::select! {
            changed = leading.changed() => {
                if changed.is_err() || !*leading.borrow_and_update() {
                    break Ended::LostLease;
                }
            }
            _ = shutdown.wait_for(|s| *s) => break Ended::Shutdown,
        }
    };
    let _ = handles.send(None);
    match ended {
        Ended::LostLease => {
            // Another replica may already lead: stop writing now, without a grace period.
            tracing::warn!(identity = %election.identity, "lost the lease: stopping the controllers");
            operator.kill().await;
        }
        Ended::Shutdown => {
            operator.stop().await;
        }
    }
    // Closing the channel releases the Lease (on shutdown) so a standby takes over at once.
    drop(leading);
    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    Ok(ended)
}
