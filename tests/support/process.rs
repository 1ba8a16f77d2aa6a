//! Child processes of a test (cargo, Helm, kubectl, Python): what they left, read as text.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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

/// The Helm CLI: `EXO_HELM`, or the one `scripts/control-plane` builds (once) from its module.
pub fn helm_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("EXO_HELM") {
        return PathBuf::from(path);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/control-plane");
    let out = Command::new(script)
        .args(["bin", "helm"])
        .output()
        .expect("scripts/control-plane runs");
    let stdout = succeeded(out, "building helm failed (is Go installed?)");
    PathBuf::from(String::from_utf8(stdout).unwrap().trim())
}
