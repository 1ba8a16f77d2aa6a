//! Fail points: numbered places just before and just after every tenant write and every status
//! write, where a test stops the operator as `kill -9` would, to prove that a pass resumes
//! from any of them. `EXO_FAIL_AT=N` makes the operator abort at the N-th point it reaches
//! (`EXO_FAIL_AT=count` only counts, and logs each point); tests use [`FailPoints::hang_at`],
//! which freezes every reconcile at the N-th point so that the test can kill the operator
//! there. Without fail points, [`hit`] costs one task-local lookup.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::Notify;

tokio::task_local! {
    static FAIL_POINTS: Arc<FailPoints>;
}

/// What happens at the chosen point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    /// Only count.
    Never,
    /// Abort the process.
    Abort,
    /// Freeze: this and every later point never return.
    Hang,
}

/// The fail points of one operator.
#[derive(Debug)]
pub struct FailPoints {
    at: u64,
    stop: Stop,
    reached: AtomicU64,
    tripped: AtomicBool,
    notify: Notify,
}

impl FailPoints {
    fn new(at: u64, stop: Stop) -> Arc<Self> {
        Arc::new(Self {
            at,
            stop,
            reached: AtomicU64::new(0),
            tripped: AtomicBool::new(false),
            notify: Notify::new(),
        })
    }

    /// Counts the points reached, stopping nowhere.
    pub fn counting() -> Arc<Self> {
        Self::new(0, Stop::Never)
    }

    /// Aborts the process at point `n` (1 for the first).
    pub fn abort_at(n: u64) -> Arc<Self> {
        Self::new(n, Stop::Abort)
    }

    /// Freezes every reconcile from point `n` on (1 for the first).
    pub fn hang_at(n: u64) -> Arc<Self> {
        Self::new(n, Stop::Hang)
    }

    /// From `EXO_FAIL_AT`: a number, or `count`.
    pub fn from_env() -> Option<Arc<Self>> {
        let value = std::env::var("EXO_FAIL_AT").ok()?;
        match value.trim() {
            "count" => Some(Self::counting()),
            n => n.parse().ok().map(Self::abort_at),
        }
    }

    /// How many points were reached.
    pub fn reached(&self) -> u64 {
        self.reached.load(Ordering::SeqCst)
    }

    /// Waits until the chosen point is reached.
    pub async fn tripped(&self) {
        loop {
            let notified = self.notify.notified();
            if self.tripped.load(Ordering::SeqCst) {
                return;
            }
            notified.await;
        }
    }
}

/// Runs `future` (an operator's controllers) with `points`.
pub fn scope<F: Future>(
    points: Option<Arc<FailPoints>>,
    future: F,
) -> impl Future<Output = F::Output> {
    FAIL_POINTS.scope(points.unwrap_or_else(FailPoints::counting), future)
}

/// A fail point: `what` names it in the log (e.g. `before New-TransportRule`).
pub async fn hit(what: &str) {
    let Ok(points) = FAIL_POINTS.try_with(Arc::clone) else {
        return;
    };
    let n = points.reached.fetch_add(1, Ordering::SeqCst) + 1;
    if points.stop == Stop::Never {
        tracing::trace!(point = n, what, "fail point");
        return;
    }
    let here = n == points.at || points.tripped.load(Ordering::SeqCst);
    if !here {
        return;
    }
    points.tripped.store(true, Ordering::SeqCst);
    points.notify.notify_waiters();
    match points.stop {
        Stop::Abort => {
            eprintln!("exo-operator: fail point {n} ({what}): aborting as asked by EXO_FAIL_AT");
            std::process::abort();
        }
        _ => std::future::pending::<()>().await,
    }
}

/// Runs `write` between the fail points before and after it.
pub async fn around<T>(what: &str, write: impl Future<Output = T>) -> T {
    hit(what).await;
    let out = write.await;
    hit(what).await;
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn points_are_counted_and_the_chosen_one_freezes() {
        let counting = FailPoints::counting();
        scope(Some(counting.clone()), async {
            around("a", async {}).await;
            hit("b").await;
        })
        .await;
        assert_eq!(counting.reached(), 3);

        let points = FailPoints::hang_at(2);
        let run = scope(Some(points.clone()), async {
            hit("1").await;
            hit("2").await;
            unreachable!("frozen at the second point");
        });
        let frozen = tokio::time::timeout(Duration::from_millis(100), run).await;
        assert!(frozen.is_err());
        tokio::time::timeout(Duration::from_secs(1), points.tripped())
            .await
            .unwrap();
        // Outside a scope, points are free.
        hit("outside").await;
    }
}
