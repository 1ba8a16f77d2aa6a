//! Bounded waiting: poll until a condition holds, or fail with what was last seen.

#![allow(dead_code)]

use std::time::Duration;

/// Calls `probe` every `every` until it returns `Ok` (its value is returned). Once `timeout`
/// has passed, the next `Err` fails the test with its text (formatted only then): what was
/// awaited and last seen.
pub async fn until<T, E: std::fmt::Display>(
    timeout: Duration,
    every: Duration,
    mut probe: impl AsyncFnMut() -> Result<T, E>,
) -> T {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match probe().await {
            Ok(done) => return done,
            Err(seen) => assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {seen}"
            ),
        }
        tokio::time::sleep(every).await;
    }
}

/// Calls `probe` until `done` holds for its value, at most `tries` times, `every` apart, and
/// returns the last value: for a caller that asserts on what arrived in that window.
pub async fn settled<T>(
    tries: usize,
    every: Duration,
    mut probe: impl AsyncFnMut() -> T,
    done: impl Fn(&T) -> bool,
) -> T {
    let mut value = probe().await;
    for _ in 1..tries {
        if done(&value) {
            break;
        }
        tokio::time::sleep(every).await;
        value = probe().await;
    }
    value
}
