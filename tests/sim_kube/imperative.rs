//! Imperative kubectl and Helm, whose typed Go clients send Protocol Buffers bodies
//! (`Content-Type: application/vnd.kubernetes.protobuf`) and fetch `/openapi/v2` as protobuf:
//! `kubectl create namespace|secret|configmap`, read back as JSON and deleted;
//! `kubectl explain` through the OpenAPI v2 document; `helm install --dry-run=server`, a real
//! `helm install` and `helm uninstall` of a tiny chart.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::cluster::unique;
use super::{Cluster, kubectl, process};

/// How long one kubectl request may take.
const REQUEST_TIMEOUT: &str = "--request-timeout=20s";
/// How long one Helm command may run before it is killed.
const HELM_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs kubectl with a bounded request time; fails the test unless it succeeds. Returns stdout.
async fn kubectl_ok(c: &Cluster, args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.push(REQUEST_TIMEOUT);
    let (ok, out, err) = kubectl(&c.kubeconfig, &all).await;
    assert!(ok, "kubectl {args:?}: {out}{err}");
    out
}

/// `kubectl get KIND NAME -o json`, parsed.
async fn get_json(c: &Cluster, what: &[&str]) -> Value {
    let mut args = vec!["get"];
    args.extend(what);
    args.extend(["-o", "json"]);
    serde_json::from_str(&kubectl_ok(c, &args).await).unwrap()
}

/// Whether `kubectl get KIND NAME` says NotFound.
async fn gone(c: &Cluster, what: &[&str]) -> bool {
    let mut args = vec!["get"];
    args.extend(what);
    args.push(REQUEST_TIMEOUT);
    let (ok, _, err) = kubectl(&c.kubeconfig, &args).await;
    !ok && err.contains("NotFound")
}

fn b64(s: &str) -> String {
    STANDARD.encode(s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_creates_secrets_and_configmaps_and_reads_them_back() {
    let c = Cluster::start().await;
    let out = kubectl_ok(
        &c,
        &[
            "create",
            "secret",
            "generic",
            "s",
            "--from-literal=a=b",
            "--from-literal=password=p@ss w0rd",
        ],
    )
    .await;
    assert!(out.contains("secret/s created"), "{out}");
    let secret = get_json(&c, &["secret", "s"]).await;
    assert_eq!(
        secret["data"],
        json!({"a": b64("b"), "password": b64("p@ss w0rd")})
    );
    assert_eq!(secret["type"], "Opaque");
    assert_eq!(secret["metadata"]["namespace"], c.namespace.as_str());

    let out = kubectl_ok(
        &c,
        &[
            "create",
            "configmap",
            "c",
            "--from-literal=a=b",
            "--from-literal=empty=",
        ],
    )
    .await;
    assert!(out.contains("configmap/c created"), "{out}");
    let cm = get_json(&c, &["configmap", "c", "--show-managed-fields"]).await;
    assert_eq!(cm["data"], json!({"a": "b", "empty": ""}));
    let managers: Vec<&str> = cm["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert_eq!(managers, ["kubectl-create"]);

    let out = kubectl_ok(
        &c,
        &[
            "create",
            "secret",
            "docker-registry",
            "d",
            "--docker-server=registry.example",
            "--docker-username=u",
            "--docker-password=p",
        ],
    )
    .await;
    assert!(out.contains("secret/d created"), "{out}");
    let docker = get_json(&c, &["secret", "d"]).await;
    assert_eq!(docker["type"], "kubernetes.io/dockerconfigjson");
    let config = STANDARD
        .decode(docker["data"][".dockerconfigjson"].as_str().unwrap())
        .unwrap();
    let config: Value = serde_json::from_slice(&config).unwrap();
    assert_eq!(config["auths"]["registry.example"]["username"], "u");

    // Creating again is refused (AlreadyExists), in kubectl's words.
    let (ok, _, err) = kubectl(
        &c.kubeconfig,
        &["create", "configmap", "c", REQUEST_TIMEOUT],
    )
    .await;
    assert!(
        !ok && err.contains(r#"configmaps "c" already exists"#),
        "{err}"
    );

    for what in [["secret", "s"], ["configmap", "c"], ["secret", "d"]] {
        let out = kubectl_ok(&c, &["delete", what[0], what[1]]).await;
        assert!(out.contains("deleted"), "{out}");
        assert!(gone(&c, &what).await, "{what:?} is deleted");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_creates_and_deletes_a_namespace() {
    let c = Cluster::start().await;
    let name = format!("exo-imp-{}", unique());
    let out = kubectl_ok(&c, &["create", "namespace", &name]).await;
    assert!(out.contains(&format!("namespace/{name} created")), "{out}");
    let ns = get_json(&c, &["namespace", &name]).await;
    assert_eq!(ns["metadata"]["name"], name.as_str());
    assert!(
        ns["metadata"]["uid"]
            .as_str()
            .is_some_and(|u| !u.is_empty())
    );
    // A namespace's deletion can take a while (its contents are removed first): not waited
    // for. It is then gone, or terminating.
    let out = kubectl_ok(&c, &["delete", "namespace", &name, "--wait=false"]).await;
    assert!(out.contains("deleted"), "{out}");
    let (ok, out, err) = kubectl(
        &c.kubeconfig,
        &[
            "get",
            "namespace",
            &name,
            "-o",
            "jsonpath={.status.phase}",
            REQUEST_TIMEOUT,
        ],
    )
    .await;
    assert!(
        (!ok && err.contains("NotFound")) || (ok && out == "Terminating"),
        "{out}{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_explains_through_the_openapi_v2_document() {
    let c = Cluster::start().await;
    let out = kubectl_ok(
        &c,
        &["explain", "configmap.data", "--output=plaintext-openapiv2"],
    )
    .await;
    assert!(
        out.contains("KIND:     ConfigMap") && out.contains("data <map[string]string>"),
        "{out}"
    );
    let out = kubectl_ok(
        &c,
        &["explain", "leases.spec", "--output=plaintext-openapiv2"],
    )
    .await;
    assert!(out.contains("VERSION:  coordination.k8s.io/v1"), "{out}");
}

/// Runs Helm with `args` against the cluster (its namespace, its kubeconfig, Helm's own
/// directories in the cluster's), killed after [`HELM_TIMEOUT`]: (success, stdout, stderr).
async fn helm(c: &Cluster, args: &[&str]) -> (bool, String, String) {
    let mut cmd = Command::new(process::helm_binary());
    cmd.args(args)
        .args(["--namespace", &c.namespace])
        .arg("--kubeconfig")
        .arg(&c.kubeconfig)
        .env_remove("HTTPS_PROXY")
        .env("HELM_CONFIG_HOME", c.dir().join("helm/config"))
        .env("HELM_CACHE_HOME", c.dir().join("helm/cache"))
        .env("HELM_DATA_HOME", c.dir().join("helm/data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().expect("helm runs");
        let deadline = Instant::now() + HELM_TIMEOUT;
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        process::outcome(child.wait_with_output().unwrap())
    })
    .await
    .unwrap()
}

/// A chart that creates a ConfigMap and a Secret named after the release.
fn write_chart(dir: &Path) -> PathBuf {
    let chart = dir.join("tiny");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: tiny\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(
        chart.join("templates/objects.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\ndata:\n  greeting: hello\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}-s\nstringData:\n  token: s3cret\n",
    )
    .unwrap();
    chart
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_installs_a_chart_after_a_server_dry_run_and_uninstalls_it() {
    let c = Cluster::start().await;
    let chart = write_chart(c.dir());
    let chart = chart.to_str().unwrap();
    let release = format!("tiny-{}", unique());
    let (cm, secret) = (format!("{release}-cm"), format!("{release}-s"));

    let (ok, out, err) = helm(&c, &["install", &release, chart, "--dry-run=server"]).await;
    assert!(ok, "helm install --dry-run=server: {out}{err}");
    assert!(out.contains("Dry run complete"), "{out}");
    assert!(
        gone(&c, &["configmap", &cm]).await,
        "a dry run creates nothing"
    );

    let (ok, out, err) = helm(&c, &["install", &release, chart]).await;
    assert!(ok, "helm install: {out}{err}");
    assert!(out.contains("STATUS: deployed"), "{out}");
    let installed = get_json(&c, &["configmap", &cm]).await;
    assert_eq!(installed["data"], json!({"greeting": "hello"}));
    let installed = get_json(&c, &["secret", &secret]).await;
    assert_eq!(installed["data"], json!({"token": b64("s3cret")}));
    // Helm keeps the release in a Secret of its own (written through protobuf).
    let (ok, out, err) = helm(&c, &["status", &release]).await;
    assert!(ok && out.contains("STATUS: deployed"), "{out}{err}");

    let (ok, out, err) = helm(&c, &["uninstall", &release]).await;
    assert!(ok, "helm uninstall: {out}{err}");
    assert!(gone(&c, &["configmap", &cm]).await);
    assert!(gone(&c, &["secret", &secret]).await);
    let (ok, out, _) = helm(&c, &["status", &release]).await;
    assert!(!ok, "the release is gone: {out}");
}
