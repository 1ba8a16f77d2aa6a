//! The keeper's wall clock: the system's, or one moved forward by hand, in step with the
//! Microsoft 365 simulator's, so that a benchmark lives through weeks of renewals in minutes.

use std::sync::Arc;

use tokio::sync::watch;

/// Wall time in unix seconds: the system's, plus an offset only a movable clock has.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// The offset (seconds), for a movable clock; its changes wake the tasks.
    offset: Option<Arc<watch::Sender<i64>>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock that [`Clock::advance`] moves forward.
    pub fn movable() -> Self {
        Self {
            offset: Some(Arc::new(watch::channel(0).0)),
        }
    }

    /// Now, in unix seconds.
    pub fn now(&self) -> i64 {
        jiff::Timestamp::now().as_second() + self.offset()
    }

    /// Now, as a timestamp.
    pub fn timestamp(&self) -> jiff::Timestamp {
        jiff::Timestamp::now() + jiff::SignedDuration::from_secs(self.offset())
    }

    /// How far the clock was moved (0 for the system clock).
    pub fn offset(&self) -> i64 {
        self.offset.as_ref().map_or(0, |o| *o.borrow())
    }

    /// Moves a movable clock `seconds` forward (the system clock does not move).
    pub fn advance(&self, seconds: i64) {
        if let Some(o) = &self.offset {
            o.send_modify(|v| *v += seconds);
        }
    }

    /// What tells a task that the clock moved (never, for the system clock).
    pub fn moves(&self) -> Moves {
        Moves(self.offset.as_ref().map(|o| o.subscribe()))
    }
}

/// The moves of a clock, as a task waits for them.
pub struct Moves(Option<watch::Receiver<i64>>);

impl Moves {
    /// The offset seen last (marked seen).
    pub fn seen(&mut self) -> i64 {
        self.0.as_mut().map_or(0, |r| *r.borrow_and_update())
    }

    /// Resolves when the clock moves; never for the system clock.
    pub async fn moved(&mut self) {
        if let Some(r) = &mut self.0
            && r.changed().await.is_ok()
        {
            return;
        }
        std::future::pending().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_movable_clock_moves() {
        let (system, movable) = (Clock::system(), Clock::movable());
        system.advance(3600);
        movable.advance(3600);
        assert_eq!(system.offset(), 0);
        assert_eq!(movable.offset(), 3600);
        assert!(movable.now() - system.now() >= 3599);
    }

    #[tokio::test]
    async fn a_move_wakes_who_waits_for_it() {
        let clock = Clock::movable();
        let mut moves = clock.moves();
        assert_eq!(moves.seen(), 0);
        let waiting = tokio::spawn(async move {
            moves.moved().await;
            moves.seen()
        });
        clock.advance(60);
        assert_eq!(waiting.await.unwrap(), 60);
    }
}
