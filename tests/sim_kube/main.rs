//! Kubernetes as clients see it, driven by real `kubectl` (`kubectl`) and by kube-rs as the
//! operator uses it (`kube_rs`): against the API emulator and, with
//! `EXO_TEST_BACKEND=apiserver`, against a real kube-apiserver (the same assertions; see
//! `support/cluster.rs`). Tests of the emulator's own options (watch delay, a short history)
//! start an emulator whatever the backend.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ObjectMeta, PostParams};

#[path = "../support/cluster.rs"]
mod cluster;
#[path = "../support/process.rs"]
mod process;
use cluster::Cluster;

mod imperative;
mod kube_rs;
mod kubectl;

const TIMEOUT: Duration = Duration::from_secs(20);

/// Runs kubectl (blocking, off the runtime) and returns (success, stdout, stderr).
async fn kubectl(kubeconfig: &Path, args: &[&str]) -> (bool, String, String) {
    let kubeconfig = kubeconfig.to_path_buf();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let out = Command::new("kubectl")
            .env("KUBECONFIG", &kubeconfig)
            .env_remove("HTTPS_PROXY")
            .args(&args)
            .output()
            .expect("kubectl is installed");
        process::outcome(out)
    })
    .await
    .unwrap()
}

/// Writes `yaml` to file `name` in the cluster's directory and runs `kubectl apply` with
/// `flags` on it: (success, stdout, stderr).
async fn apply(c: &Cluster, name: &str, yaml: &str, flags: &[&str]) -> (bool, String, String) {
    let file = c.dir().join(name);
    std::fs::write(&file, yaml).unwrap();
    let mut args = vec!["apply"];
    args.extend(flags);
    args.extend(["-f", file.to_str().unwrap()]);
    kubectl(&c.kubeconfig, &args).await
}

/// The path of `path` in the repository.
fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .display()
        .to_string()
}

/// The ExchangeServiceAccount of example file `file`, as YAML.
fn example_account(file: &str) -> String {
    let manifest = std::fs::read_to_string(repo(&format!("examples/{file}"))).unwrap();
    manifest
        .split("\n---")
        .find(|d| d.contains("kind: ExchangeServiceAccount"))
        .unwrap()
        .to_string()
}

/// The API server's refusal of a request that must fail (its Status); any other outcome fails
/// the test.
fn refusal<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> Box<kube::core::Status> {
    match result {
        Err(kube::Error::Api(status)) => status,
        other => panic!("expected the API server to refuse: {other:?}"),
    }
}

/// Creates an empty ConfigMap named `name` and returns it as the API server has it.
async fn create_config_map(maps: &Api<ConfigMap>, name: &str) -> ConfigMap {
    maps.create(
        &PostParams::default(),
        &ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .await
    .unwrap()
}
