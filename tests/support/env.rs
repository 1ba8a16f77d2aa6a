//! An environment for end-to-end tests: Kubernetes (the API emulator in-process, or a real
//! kube-apiserver, see `cluster.rs`), the Microsoft 365 simulator and the real operator watching
//! the test's own namespace, all on loopback, plus helpers to apply the examples (pointed at the
//! simulator) and wait for conditions with a deadline.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use exo_api::email_security_service::EmailSecurityService;
use exo_api::exchange_service_account::ExchangeServiceAccount;
use exo_api::sync_target_list::SyncTargetList;
use exo_operator::controller::context::{Context, Settings};
use exo_operator::controller::run::{Operator, Scope};
use exo_operator::microsoft::http::RetryPolicy;
use exo_operator::microsoft::retry::Backoff;
use exo_sim_kube::{AuditEntry, EmulatorOptions};
use exo_sim_m365::tenants::DEMO_CLIENT_ID;
use exo_sim_m365::{SimOptions, Simulator};
use kube::api::{
    Api, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use kube::discovery::ApiResource;
use serde_json::{Value, json};

#[path = "cluster.rs"]
pub mod cluster;
pub use cluster::Cluster;
#[allow(unused_imports)]
pub use cluster::wait::{settled, until};
#[path = "status.rs"]
mod status;
#[allow(unused_imports)]
pub use status::{condition, is, reason};

/// The EmailSecurityService every test namespace has, pointed at the simulator.
pub const SIM_SERVICE: &str = "sim";
/// The example service the example accounts name.
const EXAMPLE_SERVICE_FILE: &str = "email-security-service.yaml";

/// The shared secret of the simulated email-security service (the example's Secret key
/// `signing-secret` is given it).
pub const SERVICE_SECRET: &str = "whsec_ZXhvLXRlc3Qtc2VydmljZS1zaWduaW5nLXNlY3JldA==";
/// The ConfigMap holding the simulated service's CA (key `ca.crt`).
const SERVICE_CA: &str = "sim-service-ca";

/// Deadline of every wait.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Everything logged by the operator in this test process (debug level and up).
pub static LOGS: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

struct Capture;

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        if std::env::var_os("EXO_TEST_LOG").is_some() {
            eprint!("{}", String::from_utf8_lossy(buf));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The email-security service simulator over loopback HTTPS, offering the example's policies.
async fn start_service() -> exo_sim_service::Service {
    exo_operator::microsoft::http::install_crypto_provider();
    let mut opts = exo_sim_service::ServiceOptions::new(SERVICE_SECRET);
    opts.tls = true;
    opts.policies = [
        "Default ATP policy",
        "Inline inbound policy",
        "Standard",
        "Strict",
    ]
    .map(String::from)
    .to_vec();
    exo_sim_service::Service::start(opts).await.unwrap()
}

/// Captures every log line of the process (set `EXO_TEST_LOG=1` to see them too).
fn install_log_capture() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "exo_operator=debug,kube=info,kube_runtime=info",
        ))
        .with_ansi(false)
        .with_writer(|| Capture)
        .try_init();
}

/// Both simulators and, when started, the operator.
pub struct Env {
    /// Kubernetes: the emulator or a real API server, and the test's namespace.
    pub cluster: Cluster,
    /// The Microsoft 365 simulator.
    pub m365: Simulator,
    /// The email-security service simulator (HTTPS), which the example service delivers to.
    pub service: exo_sim_service::Service,
    /// A client of the cluster whose default namespace is the test's.
    pub client: kube::Client,
    /// The operator.
    pub operator: Option<Operator>,
    /// The operator's HTTP port, kept across restarts.
    pub http_port: Option<u16>,
    /// How long the next operator started has its subscriptions live (production: Microsoft's
    /// maximum, renewed in the last 12 hours).
    pub subscription_lifetime: Option<exo_operator::protection::plan::Lifetime>,
    /// How long after its start the next operator started reads the directory to confirm the
    /// protected set it took from the subscriptions (production: 15 minutes).
    pub users_check_after: Option<Duration>,
    /// How long one Microsoft request of the next operator started may take (production: 60 s).
    pub request_timeout: Duration,
    /// Fail points of the next operator started (see `fail_point`).
    pub fail_points: Option<Arc<exo_operator::controller::fail_point::FailPoints>>,
    http: reqwest::Client,
}

impl Env {
    /// Starts both simulators (with `opts`), installs the CRDs and starts the operator.
    pub async fn start(opts: SimOptions) -> Env {
        Self::start_with(opts, EmulatorOptions::default()).await
    }

    /// Starts both simulators (the emulator, when it is the backend, with `kube_opts`),
    /// installs the CRDs and starts the operator.
    pub async fn start_with(opts: SimOptions, kube_opts: EmulatorOptions) -> Env {
        install_log_capture();
        let cluster = Cluster::start_with(kube_opts).await;
        let service = start_service().await;
        // Graph validates the service's notification URL, and posts to it, over HTTPS.
        let mut opts = opts;
        opts.trusted_cas.extend(service.ca_pem());
        let m365 = Simulator::start(opts).await.unwrap();
        let client = cluster.client.clone();
        cluster.install_crds().await;
        let mut env = Env {
            cluster,
            m365,
            service,
            client,
            operator: None,
            http_port: None,
            subscription_lifetime: None,
            users_check_after: None,
            fail_points: None,
            request_timeout: Duration::from_secs(20),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
        };
        env.create(env.sim_service(SIM_SERVICE)).await;
        env.create(json!({
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": SERVICE_CA},
            "data": {"ca.crt": env.service.ca_pem().unwrap()},
        }))
        .await;
        env.start_operator().await;
        env
    }

    /// Reads the service simulator's read API at `path` (under `/_sim`).
    pub async fn service_read(&self, path: &str) -> Value {
        self.service_call(reqwest::Method::GET, path, json!({}))
            .await
    }

    /// Calls the service simulator's control API at `path` (under `/_sim`); asserts success.
    pub async fn service_call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let ca = reqwest::Certificate::from_pem(self.service.ca_pem().unwrap().as_bytes()).unwrap();
        let http = reqwest::Client::builder()
            .add_root_certificate(ca)
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let r = http
            .request(method, format!("{}/_sim{path}", self.service.url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "service {path}: {}", r.status());
        r.json().await.unwrap()
    }

    /// An EmailSecurityService `name` whose endpoints are the simulator, with the demo
    /// application (client secret in Secret `app`) and the service's mail flow.
    pub fn sim_service(&self, name: &str) -> Value {
        self.point_at_simulator(json!({
            "apiVersion": "exo-operator.io/v1alpha1", "kind": "EmailSecurityService",
            "metadata": {"name": name},
            "spec": {
                "application": {"clientId": DEMO_CLIENT_ID, "credentials": {"secretName": "app"}},
                "mailFlow": {
                    "smartHost": "relay.mail-security.example.com",
                    "tlsCertificateDomain": "*.mail-security.example.com",
                    "serviceIpRanges": ["203.0.113.0/24", "198.51.100.10"],
                },
            },
        }))
    }

    /// [`Env::fast`] with access tokens that live `seconds`.
    pub fn short_tokens(seconds: u64) -> SimOptions {
        SimOptions {
            token_lifetime: Duration::from_secs(seconds),
            ..Self::fast()
        }
    }

    /// Simulator options with a short token lifetime and device-code interval.
    pub fn fast() -> SimOptions {
        SimOptions {
            token_lifetime: Duration::from_secs(3600),
            device_code_interval: 1,
            ..Default::default()
        }
    }

    /// Starts (or restarts) the operator.
    pub async fn start_operator(&mut self) {
        self.start_operator_with(Duration::from_millis(300)).await;
    }

    /// Starts the operator (watching the test's namespace), checking for consent every
    /// `consent_poll`.
    pub async fn start_operator_with(&mut self, consent_poll: Duration) {
        let scope = Scope::namespace(&self.cluster.namespace);
        self.start_operator_in(consent_poll, scope).await;
    }

    /// The test's namespace.
    pub fn ns(&self) -> &str {
        &self.cluster.namespace
    }

    /// The operator's settings (its lifecycle URL names its HTTP port, once bound), as a
    /// started operator has them; `plan` is run with them too.
    pub fn operator_settings(&self, consent_poll: Duration) -> Settings {
        let port = self.http_port.unwrap_or(0);
        let lifecycle = format!("http://127.0.0.1:{port}/graph/lifecycle");
        Settings {
            protection: exo_operator::protection::Settings {
                lifecycle_url: Some(lifecycle),
                lifetime: self.subscription_lifetime.unwrap_or_default(),
                users_check_after: self
                    .users_check_after
                    .unwrap_or(Duration::from_secs(15 * 60)),
                backoff: Backoff {
                    base: Duration::from_secs(1),
                    max: Duration::from_secs(8),
                },
                ..Default::default()
            },
            retry: RetryPolicy {
                max_attempts: 3,
                backoff: Backoff {
                    base: Duration::from_millis(50),
                    max: Duration::from_millis(500),
                },
                max_wait: Duration::from_secs(5),
                timeout: self.request_timeout,
            },
            resync: Duration::from_secs(60),
            consent_poll,
            fail_points: self.fail_points.clone(),
            // ClusterEmailSecurityServices read their Secrets in the test's namespace.
            cluster_resource_namespace: self.cluster.namespace.clone(),
            // A failing account backs off from 1 s to 8 s (production: 5 s to 5 min).
            backoff: Backoff {
                base: Duration::from_secs(1),
                max: Duration::from_secs(8),
            },
            ..Settings::default()
        }
    }

    /// `exo-operator plan` of accounts `names` (as the cluster has them), with the operator's
    /// settings.
    pub async fn plan(&self, names: &[&str]) -> exo_operator::plan::Plan {
        let mut accounts = Vec::new();
        for name in names {
            accounts.push(self.accounts().get(name).await.unwrap());
        }
        let settings = self.operator_settings(Duration::from_secs(2));
        let watched = [self.ns().to_string()];
        exo_operator::plan::plan(self.client.clone(), settings, accounts, &watched)
            .await
            .expect("a plan")
    }

    /// Runs `exo-operator plan ARGS` against the test's cluster with the operator's lifecycle
    /// URL: its exit code, and its standard output then standard error.
    pub async fn plan_command(&self, args: &[&str]) -> (Option<i32>, String) {
        let settings = self.operator_settings(Duration::from_secs(2));
        let lifecycle = settings.protection.lifecycle_url.unwrap_or_default();
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_exo-operator"));
        command
            .arg("plan")
            .args(args)
            .arg("--kubeconfig")
            .arg(&self.cluster.kubeconfig)
            .args(["--lifecycle-url", &lifecycle])
            // The test's operator watches its namespace only.
            .args(["--namespaces", self.ns()]);
        // Off the runtime's threads: the emulator serves the command from this process.
        let out = tokio::task::spawn_blocking(move || command.output())
            .await
            .unwrap()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        (out.status.code(), format!("{stdout}{stderr}"))
    }

    /// Starts the operator watching `scope`.
    pub async fn start_operator_in(&mut self, consent_poll: Duration, scope: Scope) {
        // A restarted operator keeps its port, as a Service keeps its address: Graph's
        // subscriptions name it as their lifecycle URL.
        let port = self.http_port.unwrap_or(0);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        self.http_port = Some(listener.local_addr().unwrap().port());
        let settings = self.operator_settings(consent_poll);
        let ctx = Arc::new(Context::new(self.client.clone(), settings).unwrap());
        self.operator = Some(Operator::start(ctx, scope, Some(listener)).await);
    }

    /// Stops the operator.
    pub async fn stop_operator(&mut self) {
        if let Some(op) = self.operator.take() {
            op.stop().await;
        }
    }

    /// Kills the operator (no graceful stop: running reconciles are cancelled).
    pub async fn kill_operator(&mut self) {
        if let Some(op) = self.operator.take() {
            op.kill().await;
        }
    }

    /// Creates every object of an example file, pointing services at the simulator; the
    /// example service the accounts name (`email-security-service.yaml`) is created first.
    pub async fn apply_example(&self, file: &str) {
        let services: Api<EmailSecurityService> = Api::default_namespaced(self.client.clone());
        if file != EXAMPLE_SERVICE_FILE
            && services.get_opt("email-security").await.unwrap().is_none()
        {
            Box::pin(self.apply_example(EXAMPLE_SERVICE_FILE)).await;
        }
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(file);
        let text = std::fs::read_to_string(path).unwrap();
        for doc in text.split("\n---") {
            let mut value: Value = match serde_saphyr::from_str(doc) {
                Ok(v) => v,
                Err(_) => continue,
            };
            if value.is_null() {
                continue;
            }
            value["metadata"]["namespace"] = json!(self.ns());
            self.create(self.point_at_simulator(value)).await;
        }
    }

    /// Points a service (of either kind) at the simulator (`spec.endpoints`); an account
    /// that names no service names the test's service `sim`.
    pub fn point_at_simulator(&self, mut value: Value) -> Value {
        if value["kind"] == "EmailSecurityService" || value["kind"] == "ClusterEmailSecurityService"
        {
            let url = self.m365.url();
            value["spec"]["endpoints"] =
                json!({"login": url, "graph": url, "exchange": url, "management": url});
            if value["spec"].get("ingestion").is_some() {
                value["spec"]["ingestion"]["url"] = json!(self.service.url());
                value["spec"]["ingestion"]["caBundle"] =
                    json!({"kind": "ConfigMap", "name": SERVICE_CA, "key": "ca.crt"});
            }
            if value["spec"].get("notificationUrl").is_some() {
                value["spec"]["notificationUrl"] =
                    json!(format!("{}/graph/notifications", self.service.url()));
            }
        }
        if value["kind"] == "Secret" && value["stringData"].get("signing-secret").is_some() {
            value["stringData"]["signing-secret"] = json!(SERVICE_SECRET);
        }
        if value["kind"] == "ExchangeServiceAccount" && value["spec"].get("serviceRef").is_none() {
            value["spec"]["serviceRef"] = json!({"name": SIM_SERVICE});
        }
        value
    }

    /// Creates an object given as JSON (in the test's namespace unless it names another, or
    /// is cluster-scoped).
    pub async fn create(&self, value: Value) {
        let (group, version) = match value["apiVersion"].as_str().unwrap().split_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (
                String::new(),
                value["apiVersion"].as_str().unwrap().to_string(),
            ),
        };
        let kind = value["kind"].as_str().unwrap().to_string();
        let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(&group, &version, &kind));
        let ns = value["metadata"]["namespace"]
            .as_str()
            .unwrap_or(self.ns())
            .to_string();
        let api: Api<DynamicObject> = match kind.as_str() {
            "ClusterEmailSecurityService" => Api::all_with(self.client.clone(), &ar),
            _ => Api::namespaced_with(self.client.clone(), &ns, &ar),
        };
        let obj: DynamicObject = serde_json::from_value(value).unwrap();
        api.create(&PostParams::default(), &obj).await.unwrap();
    }

    /// The accounts API.
    pub fn accounts(&self) -> Api<ExchangeServiceAccount> {
        Api::default_namespaced(self.client.clone())
    }

    /// Merge-patches the account `name` (spec, labels, annotations), as `kubectl patch` does.
    pub async fn merge_account(&self, name: &str, patch: Value) {
        merge(self.accounts(), name, patch).await;
    }

    /// The lists API.
    pub fn lists(&self) -> Api<SyncTargetList> {
        Api::default_namespaced(self.client.clone())
    }

    /// Merge-patches the list `name`.
    pub async fn merge_list(&self, name: &str, patch: Value) {
        merge(self.lists(), name, patch).await;
    }

    /// Deletes account `name` and waits (bounded) until its finalizer has let it go.
    pub async fn delete_account(&self, name: &str) {
        self.request_deletion(name).await;
        self.wait_gone(name).await;
    }

    /// Asks for the deletion of account `name`, without waiting.
    pub async fn request_deletion(&self, name: &str) {
        self.accounts()
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
    }

    /// Waits until account `name` is gone (its finalizer removed).
    pub async fn wait_gone(&self, name: &str) {
        until(TIMEOUT, Duration::from_millis(50), async || {
            match self.accounts().get_opt(name).await.unwrap() {
                None => Ok(()),
                Some(_) => Err(format!("{name} to be deleted (its finalizer removed)")),
            }
        })
        .await;
    }

    /// Waits until object `name` of `api` satisfies `pred`; panics with its status after the
    /// deadline.
    pub async fn wait_for<K>(
        &self,
        api: Api<K>,
        name: &str,
        what: &str,
        pred: impl Fn(&K) -> bool,
    ) -> K
    where
        K: Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
    {
        until(TIMEOUT, Duration::from_millis(50), async || {
            match api.get_opt(name).await.unwrap() {
                Some(obj) if pred(&obj) => Ok(obj),
                Some(obj) => Err(format!(
                    "{name}: {what}; status: {:#}",
                    serde_json::to_value(&obj).unwrap()["status"]
                )),
                None => Err(format!("{name}: {what}; it does not exist")),
            }
        })
        .await
    }

    /// Waits until account `name` satisfies `pred`; panics with its status after the deadline.
    pub async fn wait_account(
        &self,
        name: &str,
        what: &str,
        pred: impl Fn(&ExchangeServiceAccount) -> bool,
    ) -> ExchangeServiceAccount {
        self.wait_for(self.accounts(), name, what, pred).await
    }

    /// Waits until condition `type_` of account `name` has reason `r`.
    pub async fn wait_reason(&self, name: &str, type_: &str, r: &str) -> ExchangeServiceAccount {
        self.wait_account(name, &format!("{type_} {r}"), |e| reason(e, type_, r))
            .await
    }

    /// Waits until account `name` is Ready.
    pub async fn wait_ready(&self, name: &str) -> ExchangeServiceAccount {
        self.wait_account(name, "Ready", |e| is(e, "Ready")).await
    }

    /// POSTs to the simulator's control API.
    pub async fn control(&self, path: &str, body: Value) -> Value {
        self.control_with(reqwest::Method::POST, path, body).await
    }

    /// DELETEs on the simulator's control API.
    pub async fn control_delete(&self, path: &str, body: Value) -> Value {
        self.control_with(reqwest::Method::DELETE, path, body).await
    }

    /// Sends `body` to the simulator's control API with `method`; asserts success.
    pub async fn control_with(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let r = self
            .http
            .request(method, format!("{}/_sim{path}", self.m365.url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "control {path}: {}", r.status());
        r.json().await.unwrap_or(Value::Null)
    }

    /// Grants admin consent to the demo application in `tenant` (every permission), as a
    /// Global Administrator would.
    pub async fn consent(&self, tenant: &str) {
        self.control(
            &format!("/tenants/{tenant}/consent"),
            json!({"clientId": DEMO_CLIENT_ID}),
        )
        .await;
    }

    /// Adds a fault rule to the simulator (path, status, latency, count).
    pub async fn fault(&self, rule: Value) {
        self.control("/faults", rule).await;
    }

    /// Approves the device-code sign-in with user code `code`, as an administrator would.
    pub async fn approve(&self, code: &str) {
        self.control(&format!("/devicecodes/{code}/approve"), json!({}))
            .await;
    }

    /// Opens a URL as a browser would (without following the redirect); returns the status.
    pub async fn open(&self, url: &str) -> u16 {
        self.http.get(url).send().await.unwrap().status().as_u16()
    }

    /// GETs a URL and decodes its JSON body.
    pub async fn get_json(&self, url: &str) -> Value {
        self.http
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The operator's HTTP port.
    pub fn operator_url(&self) -> String {
        format!(
            "http://{}",
            self.operator.as_ref().unwrap().http_addr.unwrap()
        )
    }

    /// POSTs JSON to a URL; returns the status.
    pub async fn http_post_json(&self, url: &str, body: Value) -> u16 {
        let r = self.http.post(url).json(&body).send().await.unwrap();
        r.status().as_u16()
    }

    /// GETs a URL; returns the status and body.
    pub async fn get(&self, url: &str) -> (u16, String) {
        let r = self.http.get(url).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// Waits (bounded) until the operator's `/metrics` holds every line given; returns the page.
    /// A gauge is set just after the status write a test waits for, so it is polled, not read once.
    pub async fn wait_metrics(&self, lines: &[String]) -> String {
        let url = format!("{}/metrics", self.operator_url());
        until(TIMEOUT, Duration::from_millis(100), async || {
            let (status, page) = self.get(&url).await;
            match lines
                .iter()
                .find(|l| status != 200 || !page.contains(l.as_str()))
            {
                None => Ok(page),
                Some(missing) => Err(format!("{missing} (HTTP {status}) in\n{page}")),
            }
        })
        .await
    }

    /// Waits (bounded) until no write is recorded in the test's namespace for half a second.
    pub async fn settle(&self) {
        for _ in 0..40 {
            let before = self.writes();
            tokio::time::sleep(Duration::from_millis(500)).await;
            if self.writes() == before {
                return;
            }
        }
    }

    /// The simulator's state of the tenant with GUID or domain `tenant`.
    pub async fn sim_tenant(&self, tenant: &str) -> Value {
        let state = self
            .get_json(&format!("{}/_sim/state", self.m365.url()))
            .await;
        state["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| {
                t["id"] == tenant || t["domains"].as_array().unwrap().iter().any(|d| d == tenant)
            })
            .unwrap()
            .clone()
    }

    /// The messages of the Events `reason` of object `name`, oldest first.
    pub async fn event_messages(&self, name: &str, reason: &str) -> Vec<String> {
        let api: Api<k8s_openapi::api::core::v1::Event> =
            Api::default_namespaced(self.client.clone());
        api.list(&kube::api::ListParams::default().fields(&format!("involvedObject.name={name}")))
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|e| e.reason.as_deref() == Some(reason))
            .filter_map(|e| e.message)
            .collect()
    }

    /// How many writes were made in the test's namespace so far.
    pub fn writes(&self) -> usize {
        self.audit().len()
    }

    /// The writes made in the test's namespace so far, oldest first.
    pub fn audit(&self) -> Vec<AuditEntry> {
        self.cluster.writes()
    }
}

/// Merge-patches object `name` of `api`.
async fn merge<K>(api: Api<K>, name: &str, patch: Value)
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .unwrap();
}

/// The admin consent URL in an account's status.
pub fn consent_url(esa: &ExchangeServiceAccount) -> String {
    let consent = esa.status.as_ref().and_then(|s| s.consent.as_ref());
    consent.unwrap().admin_consent_url.clone().unwrap()
}

/// The device-code sign-in's user code in an account's status.
pub fn user_code(esa: &ExchangeServiceAccount) -> String {
    let consent = esa.status.as_ref().and_then(|s| s.consent.as_ref());
    consent.unwrap().user_code.clone().unwrap()
}

/// Whether a list's condition `type_` is True.
pub fn list_is(stl: &SyncTargetList, type_: &str) -> bool {
    stl.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == type_ && c.status == "True")
    })
}
