//! A server running in the background: [`serve`](crate::serve::serve) spawned on a task, with
//! the shutdown signal that stops it.

use std::sync::Arc;

use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A router served on its own task. Dropping it signals the server to stop without waiting;
/// [`RunningServer::stop`] signals and waits until it has stopped.
pub struct RunningServer {
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl RunningServer {
    /// Serves `router` on `listener` (TLS when `tls` is given) on a new task. Needs a Tokio
    /// runtime.
    pub fn spawn(
        listener: TcpListener,
        router: axum::Router,
        tls: Option<Arc<ServerConfig>>,
    ) -> Self {
        let (shutdown, stopped) = watch::channel(false);
        let task = tokio::spawn(crate::serve::serve(listener, router, tls, stopped));
        Self {
            shutdown,
            task: Some(task),
        }
    }

    /// Stops the server and waits for its task to end (connections in flight end with it).
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
