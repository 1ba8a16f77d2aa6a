//! Child processes of a test (cargo, Helm, kubectl, Python): what they left, read as text.

#![allow(dead_code)]

use std::process::Output;

/// The outcome of a finished process: (success, stdout, stderr).
pub fn outcome(out: Output) -> (bool, String, String) {
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Asserts that a finished process succeeded (else fails with `what` and its stderr) and
/// returns its stdout.
pub fn succeeded(out: Output, what: &str) -> Vec<u8> {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
