//! The Helm chart, for real: the Helm CLI (built from its Go module by `scripts/control-plane`)
//! lints and renders the chart with every toggle and refuses what must not render; on a real
//! API server (`EXO_TEST_BACKEND=apiserver`) every rendered object passes a server-side dry run,
//! `helm install` installs the chart, and the operator binary, run as the chart's
//! ServiceAccount (a token from the TokenRequest API) with the Deployment's settings, brings an
//! API-mode and an inline-mode account to Ready, using every verb its RBAC grants and no other;
//! with one verb taken away it names the missing permission.

#[path = "support/cluster.rs"]
mod cluster;
#[path = "support/process.rs"]
mod process;
#[path = "support/scenario.rs"]
mod scenario;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use cluster::{Backend, Cluster, unique};
use exo_api::exchange_service_account::{ExchangeServiceAccount, ExchangeServiceAccountStatus};
use exo_sim_m365::tenants::DEMO_SECRET;
use exo_sim_m365::{SimOptions, Simulator};
use kube::api::Api;
use scenario::{ready, wait_account};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(60);

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Runs a command; returns (success, stdout, stderr).
fn run(command: &mut Command) -> (bool, String, String) {
    let out = command
        .env_remove("HTTPS_PROXY")
        .output()
        .expect("the command runs");
    process::outcome(out)
}

/// `helm template` of the chart with `--set` values `sets`, in namespace `namespace`.
fn template(namespace: &str, sets: &[&str]) -> (bool, String, String) {
    let mut cmd = Command::new(process::helm_binary());
    cmd.args([
        "template",
        "exo",
        repo("charts/exo-operator").to_str().unwrap(),
    ])
    .args(["--namespace", namespace]);
    for s in sets {
        cmd.args(["--set", s]);
    }
    run(&mut cmd)
}

/// Every toggle of the chart, one value set each.
const TOGGLES: &[&[&str]] = &[
    &[],
    &["replicaCount=2", "leaderElection.enabled=true"],
    &["watchNamespaces={team-a,team-b}"],
    &["crds.enabled=false"],
    &["crds.keep=false"],
    &[
        "serviceAccount.create=false",
        "serviceAccount.name=existing",
    ],
    &[
        "podDisruptionBudget.enabled=true",
        "networkPolicy.enabled=true",
        "serviceMonitor.enabled=true",
    ],
    &[
        "httpsProxy=http://proxy.example.com:3128",
        "protection.lifecycleUrl=https://exo.example.com/graph/lifecycle",
        "protection.subscriptionWrites=500",
        "caBundleConfigMap=corporate-ca",
        "logFormat=text",
        "priorityClassName=system-cluster-critical",
    ],
];

#[test]
fn helm_lints_and_renders_every_toggle_and_refuses_what_must_not_render() {
    let chart = repo("charts/exo-operator");
    for sets in TOGGLES {
        let mut cmd = Command::new(process::helm_binary());
        cmd.args(["lint", "--strict", chart.to_str().unwrap()]);
        for s in *sets {
            cmd.args(["--set", s]);
        }
        let (ok, out, err) = run(&mut cmd);
        assert!(ok, "helm lint {sets:?}: {out}{err}");
        let (ok, out, err) = template("exo-system", sets);
        assert!(ok, "helm template {sets:?}: {err}");
        assert!(out.contains("kind: Deployment"), "{sets:?}: {out}");
    }

    // Two replicas without leader election would all reconcile the same accounts.
    let (ok, _, err) = template("exo-system", &["replicaCount=2"]);
    assert!(
        !ok && err.contains("replicaCount is 2 but leaderElection.enabled is false"),
        "{err}"
    );
    // A namespace listed twice would get two Roles of the same name.
    let (ok, _, err) = template("exo-system", &["watchNamespaces={team-a,team-a}"]);
    assert!(
        !ok && err.contains("watchNamespaces") && err.contains("are equal"),
        "{err}"
    );
}

/// The objects of a rendered manifest (JSON values).
fn objects(manifest: &str) -> Vec<Value> {
    manifest
        .split("\n---")
        .filter_map(|doc| serde_saphyr::from_str::<Value>(doc).ok())
        .filter(|v| v.is_object())
        .collect()
}

/// A kubeconfig for `token` on the cluster's server.
fn token_kubeconfig(cluster: &Cluster, token: &str, path: &Path) {
    use base64::Engine;
    let ca = base64::engine::general_purpose::STANDARD.encode(&cluster.ca_pem);
    let config = json!({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": cluster.url, "certificate-authority-data": ca}}],
        "users": [{"name": "sa", "user": {"token": token}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "sa"}}],
        "current-context": "c",
    });
    std::fs::write(path, serde_json::to_string(&config).unwrap()).unwrap();
}

/// The operator process, killed on drop.
struct Operator(Child, PathBuf);

impl Operator {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.1).unwrap_or_default()
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `exo-operator run` as the Deployment of `manifest` would (its environment, with the
/// pod's name and namespace filled in and the HTTP port on loopback), with `kubeconfig`.
fn start_operator(manifest: &[Value], namespace: &str, kubeconfig: &Path, log: &Path) -> Operator {
    let deployment = manifest
        .iter()
        .find(|o| o["kind"] == "Deployment")
        .expect("the chart renders a Deployment");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_exo-operator"));
    for arg in container["args"].as_array().into_iter().flatten() {
        cmd.arg(arg.as_str().unwrap());
    }
    for var in container["env"].as_array().into_iter().flatten() {
        if let Some(value) = var["value"].as_str() {
            cmd.env(var["name"].as_str().unwrap(), value);
        }
    }
    cmd.env("POD_NAME", "exo-operator-0")
        .env("POD_NAMESPACE", namespace)
        .env("EXO_HTTP_ADDR", "127.0.0.1:0")
        .env("EXO_KUBECONFIG", kubeconfig)
        .env("EXO_LOG_FORMAT", "text")
        .env("NO_COLOR", "1")
        .env_remove("HTTPS_PROXY")
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(log).unwrap()));
    Operator(cmd.spawn().expect("exo-operator runs"), log.to_path_buf())
}

/// `(apiGroup, resource[/subresource], verb)` of every request `user` made, from the audit log.
fn requests_of(audit_log: &Path, user: &str) -> BTreeSet<(String, String, String)> {
    let text = std::fs::read_to_string(audit_log).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        // Watches are logged when their response starts; everything else when complete.
        .filter(|e| {
            e["user"]["username"] == user
                && (e["stage"] == "ResponseComplete" || e["stage"] == "ResponseStarted")
        })
        .filter_map(|e| {
            let o = &e["objectRef"];
            let resource = o["resource"].as_str()?;
            let resource = match o["subresource"].as_str() {
                Some(sub) => format!("{resource}/{sub}"),
                None => resource.to_string(),
            };
            Some((
                o["apiGroup"].as_str().unwrap_or("").to_string(),
                resource,
                e["verb"].as_str()?.to_string(),
            ))
        })
        .collect()
}

/// `(apiGroup, resource, verb)` of every rule of the chart's Roles and ClusterRoles.
fn granted(manifest: &[Value]) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for role in manifest
        .iter()
        .filter(|o| o["kind"] == "ClusterRole" || o["kind"] == "Role")
    {
        for rule in role["rules"].as_array().into_iter().flatten() {
            for group in rule["apiGroups"].as_array().into_iter().flatten() {
                for resource in rule["resources"].as_array().into_iter().flatten() {
                    for verb in rule["verbs"].as_array().into_iter().flatten() {
                        out.insert((
                            group.as_str().unwrap().to_string(),
                            resource.as_str().unwrap().to_string(),
                            verb.as_str().unwrap().to_string(),
                        ));
                    }
                }
            }
        }
    }
    out
}

fn kubectl(kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = Command::new("kubectl")
        .env("KUBECONFIG", kubeconfig)
        .env_remove("HTTPS_PROXY")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl runs");
    if let Some(text) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    process::outcome(child.wait_with_output().unwrap())
}

/// Runs kubectl, asserts that it succeeded and returns its stdout.
fn kubectl_ok(kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let (ok, out, err) = kubectl(kubeconfig, args, stdin);
    assert!(ok, "kubectl {args:?}: {out}{err}");
    out
}

/// `kubectl apply` of `object` (a List, say).
fn apply(kubeconfig: &Path, object: &Value) {
    kubectl_ok(kubeconfig, &["apply", "-f", "-"], Some(&object.to_string()));
}

/// A test of an account's status (false while it has none).
fn status_has(
    pred: impl Fn(&ExchangeServiceAccountStatus) -> bool,
) -> impl Fn(&ExchangeServiceAccount) -> bool {
    move |e| e.status.as_ref().is_some_and(&pred)
}

/// Every toggle's objects pass the server's admission as a dry run (the ServiceMonitor needs
/// the Prometheus Operator's CRD, which this server does not have).
async fn every_toggle_passes_a_dry_run(cluster: &Cluster, release_ns: &str) {
    for sets in TOGGLES {
        let (ok, out, err) = template(release_ns, sets);
        assert!(ok, "{err}");
        let docs: Vec<Value> = objects(&out)
            .into_iter()
            .filter(|o| o["kind"] != "ServiceMonitor")
            .collect();
        // Roles in watched namespaces need those namespaces.
        if sets.iter().any(|s| s.starts_with("watchNamespaces")) {
            for team in ["team-a", "team-b"] {
                cluster.create_namespace(team).await;
            }
        }
        let list = json!({"apiVersion": "v1", "kind": "List", "items": docs}).to_string();
        let args = ["apply", "--dry-run=server", "-f", "-"];
        let (ok, out, err) = kubectl(&cluster.kubeconfig, &args, Some(&list));
        assert!(ok, "dry run of {sets:?}: {out}{err}");
    }
}

/// `helm install` with the CRDs the cluster's already (shared by the tests), so the release
/// brings everything else; leader election on, one watched namespace. Returns the release's
/// manifest.
fn helm_install(admin: &Path, release_ns: &str, watched: &str) -> Vec<Value> {
    let release = format!("exo-{}", unique());
    let chart = repo("charts/exo-operator");
    let sets = [
        "crds.enabled=false".to_string(),
        format!("watchNamespaces={{{watched}}}"),
        "leaderElection.enabled=true".to_string(),
    ];
    let helm_at = |args: &[&str]| {
        let mut cmd = Command::new(process::helm_binary());
        cmd.args(args)
            .args(["--namespace", release_ns])
            .args(["--kubeconfig", admin.to_str().unwrap()]);
        cmd
    };
    let mut install = helm_at(&["install", &release, chart.to_str().unwrap()]);
    for s in &sets {
        install.args(["--set", s]);
    }
    let (ok, out, err) = run(&mut install);
    assert!(ok, "helm install: {out}{err}");
    let (ok, manifest, err) = run(&mut helm_at(&["get", "manifest", &release]));
    assert!(ok, "{err}");
    objects(&manifest)
}

/// The operator, run as the chart's ServiceAccount, and the accounts of a watched namespace.
struct Scenario<'a> {
    admin: &'a Path,
    watched: &'a str,
    /// The release's namespace: the cluster resource namespace.
    release_ns: &'a str,
    accounts: Api<ExchangeServiceAccount>,
    operator: Operator,
    /// The Microsoft 365 simulator's URL.
    url: String,
}

impl Scenario<'_> {
    /// An account of the watched namespace, of its service `sim`.
    fn account(&self, name: &str, tenant: &str, mode: &str) -> Value {
        let mut account = scenario::account(name, tenant, mode);
        account["metadata"]["namespace"] = json!(self.watched);
        account
    }

    /// A ClusterEmailSecurityService pointed at the simulator (named after the watched
    /// namespace: the server is shared), and its application's Secret in the cluster resource
    /// namespace.
    fn cluster_service(&self) -> [Value; 2] {
        let mut service = scenario::service(&self.url);
        service["kind"] = json!("ClusterEmailSecurityService");
        service["metadata"]["name"] = json!(self.cluster_service_name());
        let secret = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "app", "namespace": self.release_ns},
            "stringData": {"client-secret": DEMO_SECRET}});
        [secret, service]
    }

    fn cluster_service_name(&self) -> String {
        format!("{}-shared", self.watched)
    }

    /// The service `sim` of the watched namespace, pointed at the simulator.
    fn service(&self) -> Value {
        let mut service = scenario::service(&self.url);
        service["metadata"]["namespace"] = json!(self.watched);
        service
    }

    /// Waits until account `name` satisfies `pred` (the operator's log if it never does).
    async fn wait(
        &self,
        name: &str,
        what: &str,
        pred: impl Fn(&ExchangeServiceAccount) -> bool,
    ) -> ExchangeServiceAccount {
        let log = || self.operator.log();
        wait_account(&self.accounts, name, what, TIMEOUT, pred, log).await
    }

    /// An API-mode and an inline-mode account, created by the platform team (admin), and one
    /// for selected users through a device-code grant (its refresh token kept in a Secret),
    /// all brought to Ready.
    async fn accounts_come_to_ready(&self) {
        let watched = self.watched;
        let secret = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "app", "namespace": watched}, "stringData": {"client-secret": DEMO_SECRET}});
        let mut fabrikam = self.account("fabrikam", "9188040d-6c67-4c5b-b112-36a304b66dad", "Api");
        fabrikam["spec"]["authorization"] = json!({"method": "DeviceCode"});
        fabrikam["spec"]["sync"] = json!({"scope": "Selected", "targetListRef": {"name": "vip"}});
        let list = json!({"apiVersion": "exo-operator.io/v1alpha1", "kind": "SyncTargetList",
            "metadata": {"name": "vip", "namespace": watched},
            "spec": {"serviceAccountRef": {"name": "fabrikam"}, "users": ["ceo@fabrikam.com"]}});
        // The inline account's service is cluster-scoped.
        let mut northwind = self.account("northwind", "northwind.onmicrosoft.com", "Inline");
        northwind["spec"]["serviceRef"] =
            json!({"kind": "ClusterEmailSecurityService", "name": self.cluster_service_name()});
        let [cluster_secret, cluster_service] = self.cluster_service();
        let items = [
            secret,
            cluster_secret,
            self.service(),
            cluster_service,
            self.account("contoso", "contoso.com", "Api"),
            northwind,
            fabrikam,
            list,
        ];
        apply(
            self.admin,
            &json!({"apiVersion": "v1", "kind": "List", "items": items}),
        );
        let prompted = status_has(|s| s.consent.as_ref().is_some_and(|c| c.user_code.is_some()));
        let prompted = self.wait("fabrikam", "the sign-in prompt", prompted).await;
        let code = prompted.status.unwrap().consent.unwrap().user_code.unwrap();
        let approved = reqwest::Client::new()
            .post(format!("{}/_sim/devicecodes/{code}/approve", self.url))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert!(approved.status().is_success());
        for name in ["contoso", "northwind", "fabrikam"] {
            self.wait(name, "Ready", ready).await;
        }
    }

    /// A sync on demand, to the nanosecond: a later delta round, whose links replace the
    /// first's. (Status times count in seconds; a request within the second of a pass is
    /// looked at again once that second is over.)
    async fn a_requested_sync_is_made(&self) {
        let requested = jiff::Timestamp::now();
        let annotation = format!("exo-operator.io/sync-requested-at={requested}");
        let args = [
            "annotate",
            "-n",
            self.watched,
            "esa",
            "contoso",
            &annotation,
        ];
        kubectl_ok(self.admin, &args, None);
        let synced = status_has(|s| {
            let last = s.sync.as_ref().and_then(|s| s.last_sync_time.as_ref());
            last.is_some_and(|t| t.0 >= requested)
        });
        self.wait("contoso", "the requested sync", synced).await;
    }

    /// With one verb taken away (the status patch), the operator names the missing permission.
    async fn a_missing_permission_is_named(&self, manifest: &[Value]) {
        let role = manifest
            .iter()
            .find(|o| o["kind"] == "ClusterRole")
            .unwrap();
        let mut reduced = role.clone();
        for rule in reduced["rules"].as_array_mut().unwrap() {
            let resources = rule["resources"].as_array().unwrap();
            if resources
                .iter()
                .any(|r| r == "exchangeserviceaccounts/status")
            {
                rule["verbs"] = json!(["get"]);
            }
        }
        apply(self.admin, &reduced);
        let account = self.account("fabrikam", "contoso.com", "Api");
        apply(
            self.admin,
            &json!({"apiVersion": "v1", "kind": "List", "items": [account]}),
        );
        let expected = "cannot patch resource \"exchangeserviceaccounts/status\"";
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        while !self.operator.log().contains(expected) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the operator did not name the missing permission ({expected}); log:\n{}",
                self.operator.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Every verb the operator used is granted (else it would have failed), and every verb granted
/// was used: least privilege, measured.
fn every_grant_is_used(manifest: &[Value], user: &str) {
    let audit_log = PathBuf::from(
        std::env::var_os("EXO_TEST_AUDIT_LOG").expect("EXO_TEST_AUDIT_LOG names the audit log"),
    );
    let used = requests_of(&audit_log, user);
    let granted = granted(manifest);
    // Granted for what this scenario does not reach, each for a stated reason.
    let not_requests = [
        // Checked by the OwnerReferencesPermissionEnforcement admission plugin when the
        // operator sets blockOwnerDeletion; an authorization check, not a request.
        (
            "exo-operator.io",
            "exchangeserviceaccounts/finalizers",
            "update",
        ),
        // kube-rs's event recorder patches an Event that repeats (its series count).
        ("events.k8s.io", "events", "patch"),
    ];
    let unused: Vec<_> = granted
        .difference(&used)
        .filter(|(g, r, v)| !not_requests.contains(&(g.as_str(), r.as_str(), v.as_str())))
        .collect();
    let ungranted: Vec<_> = used.iter().filter(|k| !granted.contains(*k)).collect();
    assert!(
        ungranted.is_empty(),
        "used without a grant (each failed): {ungranted:?}"
    );
    assert!(
        unused.is_empty(),
        "granted but never used: {unused:?}\nused: {used:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_installs_and_its_rbac_is_all_the_operator_needs() {
    if Backend::chosen() == Backend::Emulator {
        // RBAC, the TokenRequest API and Deployments are a real API server's: the emulator
        // serves the operator's own kinds and the few built-in ones it uses.
        eprintln!(
            "the chart's installation is judged by a real API server: EXO_TEST_BACKEND=apiserver (scripts/test runs it)"
        );
        return;
    }
    let cluster = Cluster::start().await;
    cluster.install_crds().await;
    let release_ns = cluster.namespace.clone();
    let watched = format!("{release_ns}-tenants");
    cluster.create_namespace(&watched).await;
    let admin = cluster.kubeconfig.clone();
    every_toggle_passes_a_dry_run(&cluster, &release_ns).await;
    let manifest = helm_install(&admin, &release_ns, &watched);
    let service_account = manifest
        .iter()
        .find(|o| o["kind"] == "ServiceAccount")
        .and_then(|o| o["metadata"]["name"].as_str())
        .expect("the chart creates a ServiceAccount")
        .to_string();

    // The operator, with a token for the chart's ServiceAccount from the TokenRequest API.
    let args = [
        "create",
        "token",
        &service_account,
        "-n",
        &release_ns,
        "--duration=1h",
    ];
    let token = kubectl_ok(&admin, &args, None);
    let sa_kubeconfig = cluster.dir().join("operator.kubeconfig");
    token_kubeconfig(&cluster, token.trim(), &sa_kubeconfig);
    let log = cluster.dir().join("operator.log");
    let m365 = Simulator::start(SimOptions::default()).await.unwrap();
    let url = m365.url();
    scenario::consent(&url, &["contoso.com", "northwind.onmicrosoft.com"]).await;
    let scene = Scenario {
        admin: &admin,
        watched: &watched,
        release_ns: &release_ns,
        accounts: Api::namespaced(cluster.client.clone(), &watched),
        operator: start_operator(&manifest, &release_ns, &sa_kubeconfig, &log),
        url,
    };
    scene.accounts_come_to_ready().await;
    scene.a_requested_sync_is_made().await;
    // Deletion (policy Delete) uses the rest of the operator's verbs.
    let names = ["contoso", "northwind", "fabrikam"];
    scenario::delete_all(&scene.accounts, &names, TIMEOUT, || scene.operator.log()).await;
    let cluster_service = scene.cluster_service_name();
    kubectl_ok(
        &admin,
        &["delete", "clusteremailsecurityservice", &cluster_service],
        None,
    );
    every_grant_is_used(
        &manifest,
        &format!("system:serviceaccount:{release_ns}:{service_account}"),
    );
    scene.a_missing_permission_is_named(&manifest).await;
    m365.shutdown().await;
}
