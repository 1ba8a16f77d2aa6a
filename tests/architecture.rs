//! The dependency direction of the workspace, read from `cargo metadata`: the stand-ins (the
//! Microsoft 365 simulator, the Kubernetes emulator, the service simulator, their shared
//! plumbing) and the admission engine depend on nothing of the operator or of its API, so that
//! they judge it rather than agree with it; the API depends on nothing of the operator.

#[path = "support/process.rs"]
mod process;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// Workspace member → the workspace members it depends on, directly or not (any kind of
/// dependency: normal, dev or build).
fn workspace_closure() -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    let stdout = process::succeeded(out, "cargo metadata");
    let meta: serde_json::Value = serde_json::from_slice(&stdout).unwrap();
    let packages = meta["packages"].as_array().unwrap();
    let members: BTreeSet<String> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    let direct: BTreeMap<String, BTreeSet<String>> = packages
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|d| d["name"].as_str())
                .filter(|d| members.contains(*d))
                .map(str::to_string)
                .collect();
            (p["name"].as_str().unwrap().to_string(), deps)
        })
        .collect();
    direct
        .keys()
        .map(|name| {
            let mut seen = BTreeSet::new();
            let mut todo = vec![name.clone()];
            while let Some(n) = todo.pop() {
                for d in &direct[&n] {
                    if seen.insert(d.clone()) {
                        todo.push(d.clone());
                    }
                }
            }
            (name.clone(), seen)
        })
        .collect()
}

#[test]
fn no_stand_in_depends_on_the_operator_or_its_api() {
    let closure = workspace_closure();
    let judges = [
        "exo-sim-m365",
        "exo-sim-kube",
        "exo-sim-service",
        "exo-sim-http",
        "exo-admission",
    ];
    for judge in judges {
        let deps = closure
            .get(judge)
            .unwrap_or_else(|| panic!("{judge} is a workspace member"));
        for forbidden in ["exo-operator", "exo-api"] {
            assert!(
                !deps.contains(forbidden),
                "{judge} depends on {forbidden}: a stand-in must judge the operator, not share its code"
            );
        }
    }
    assert!(!closure["exo-api"].contains("exo-operator"));
    // The operator uses the API and the admission engine (`exo-operator validate`).
    assert!(closure["exo-operator"].contains("exo-api"));
    assert!(closure["exo-operator"].contains("exo-admission"));
}
