//! `exo-operator demo`: the operator's main job end to end on the embedded simulators. It
//! starts the Microsoft 365 simulator, the email-security service simulator and the Kubernetes
//! API emulator in this process, installs the CRDs, applies the manifests of a directory
//! (pointing the services, and through them the accounts, at the simulators), plays the Global
//! Administrator (clearly labelled as simulated), shows each account's progress and ends with
//! a table and what the service acknowledged for each tenant.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use kube::api::{Api, DynamicObject, GroupVersionKind, PostParams};
use kube::discovery::ApiResource;
use serde_json::{Value, json};

use crate::controller::context::{Context, Settings};
use crate::controller::run::{Operator, Scope};
use exo_api::exchange_service_account::{ExchangeServiceAccount, Mode};
use exo_sim_kube::{Emulator, EmulatorOptions, install_crds};
use exo_sim_m365::{SimOptions, Simulator};
use exo_sim_service::{Service, ServiceOptions};

/// Options of the demo.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// Directory of manifests to apply.
    pub dir: PathBuf,
    /// Keep everything running after the table, for `kubectl`.
    pub keep_running: bool,
    /// Where to write the kubeconfig.
    pub kubeconfig: PathBuf,
    /// How long to wait for the accounts.
    pub timeout: Duration,
}

const SIMULATED: &str = "[simulated Global Administrator]";
/// The signing secret the demo's service simulator and the services' ingestion share.
const SERVICE_SECRET: &str = "whsec_ZXhvLWRlbW8tc2VydmljZS1zaWduaW5nLXNlY3JldA==";
/// The ConfigMap (key `ca.crt`) holding the service simulator's CA, in each service's namespace.
const SERVICE_CA: &str = "exo-sim-service-ca";
const CERT: &str = include_str!("../tests/fixtures/app-cert.pem");
const KEY: &str = include_str!("../tests/fixtures/app-key.pem");

/// Reads every YAML document of the `.yaml`/`.yml` files of `dir` (not recursive).
fn manifests(dir: &Path) -> anyhow::Result<Vec<Value>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)?;
        let docs = crate::manifests::parse_yaml_documents(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        for doc in docs {
            if doc.get("kind").is_some() {
                out.push(doc);
            }
        }
    }
    Ok(out)
}

/// Where the demo points the manifests.
struct Targets<'a> {
    /// The Microsoft 365 simulator.
    m365: &'a str,
    /// The service simulator's base URL.
    service: &'a str,
    /// The Secret keys (`name`, `key`) the services' ingestion signs with.
    signing_keys: &'a [(String, String)],
}

/// The Secret keys named by the services' `spec.ingestion.credentialsSecretRef`.
fn signing_keys(docs: &[Value]) -> Vec<(String, String)> {
    docs.iter()
        .filter(|d| is_service(&d["kind"]))
        .filter_map(|d| {
            let r = d.pointer("/spec/ingestion/credentialsSecretRef")?;
            Some((
                r["name"].as_str()?.to_string(),
                r["key"].as_str()?.to_string(),
            ))
        })
        .collect()
}

/// The names of the policies the services offer.
fn offered_policies(docs: &[Value]) -> Vec<String> {
    let mut names: Vec<String> = docs
        .iter()
        .filter(|d| is_service(&d["kind"]))
        .flat_map(|d| {
            d["spec"]["policies"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|p| p["name"].as_str().map(String::from))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Points a service (of either kind) at the simulators and fills placeholder credentials the
/// simulators know. Accounts reach the simulators through the service they name.
fn prepare(mut doc: Value, to: &Targets) -> (Value, Option<String>) {
    let mut note = None;
    if is_service(&doc["kind"]) {
        let m = to.m365;
        doc["spec"]["endpoints"] = json!({"login": m, "graph": m, "exchange": m, "management": m});
        if doc["spec"].get("ingestion").is_some() {
            doc["spec"]["ingestion"]["url"] = json!(to.service);
            doc["spec"]["ingestion"]["caBundle"] =
                json!({"kind": "ConfigMap", "name": SERVICE_CA, "key": "ca.crt"});
        }
        if doc["spec"].get("notificationUrl").is_some() {
            doc["spec"]["notificationUrl"] = json!(format!("{}/graph/notifications", to.service));
        }
    }
    let name = doc["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if doc["kind"] == "Secret"
        && let Some(data) = doc.get_mut("stringData").and_then(Value::as_object_mut)
    {
        for (_, key) in to.signing_keys.iter().filter(|(n, _)| *n == name) {
            data.insert(key.clone(), json!(SERVICE_SECRET));
            note = Some("filled with the simulated service's signing secret".into());
        }
        let placeholder = |v: &Value| v.as_str().is_some_and(|s| s.contains("REPLACE-WITH"));
        if data.get("tls.crt").is_some_and(placeholder) {
            data.insert("tls.crt".into(), json!(CERT));
            data.insert("tls.key".into(), json!(KEY));
            note = Some(
                "filled with the public test certificate the simulated application trusts".into(),
            );
        }
    }
    (doc, note)
}

async fn create(client: &kube::Client, doc: &Value) -> anyhow::Result<()> {
    let api_version = doc["apiVersion"].as_str().unwrap_or("");
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let kind = doc["kind"].as_str().unwrap_or("");
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    let ns = doc["metadata"]["namespace"].as_str().unwrap_or("default");
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
    let obj: DynamicObject = serde_json::from_value(doc.clone())?;
    api.create(&PostParams::default(), &obj)
        .await
        .with_context(|| {
            format!(
                "cannot create {kind} {}",
                doc["metadata"]["name"].as_str().unwrap_or("")
            )
        })?;
    Ok(())
}

fn summary(esa: &ExchangeServiceAccount) -> (String, String, String) {
    let status = esa.status.clone().unwrap_or_default();
    let ready = status.conditions.iter().find(|c| c.type_ == "Ready");
    (
        ready
            .map(|c| c.status.clone())
            .unwrap_or_else(|| "-".into()),
        ready
            .map(|c| c.reason.clone())
            .unwrap_or_else(|| "Pending".into()),
        status
            .sync
            .map(|s| s.users.to_string())
            .unwrap_or_else(|| "-".into()),
    )
}

/// Runs the demo; returns whether every API-mode account became Ready.
pub async fn run(opts: DemoOptions) -> anyhow::Result<bool> {
    let docs = manifests(&opts.dir)?;
    let sims = Simulators::start(&opts.kubeconfig, offered_policies(&docs)).await?;
    let operator = start_operator(&sims.client).await?;
    sims.share_service_ca(&docs).await?;
    apply_manifests(&sims, docs).await?;
    let accounts: Api<ExchangeServiceAccount> = Api::all(sims.client.clone());
    Administrator::new(sims.m365.url())?
        .watch(&accounts, opts.timeout)
        .await?;
    let list = accounts.list(&Default::default()).await?.items;
    let all_ready = print_table(&list);
    print_messages(&list);
    print_mail_flow(&list);
    print_received(&sims.service).await?;
    deliver_a_message(&sims, &list).await?;
    if opts.keep_running {
        keep_running(&opts.kubeconfig).await?;
    }
    operator.stop().await;
    sims.shutdown().await;
    Ok(all_ready)
}

/// The simulators the demo runs in this process, and a client of the emulated cluster.
struct Simulators {
    m365: Simulator,
    service: Service,
    kube: Emulator,
    client: kube::Client,
}

impl Simulators {
    /// Starts both simulators, writes the cluster's `kubeconfig` and installs the CRDs.
    async fn start(kubeconfig: &Path, policies: Vec<String>) -> anyhow::Result<Self> {
        println!("exo-operator demo: everything below runs in this process on loopback.");
        println!(
            "  SIMULATED: the Microsoft 365 tenants (exo-sim m365), the email-security service (exo-sim service) and the Kubernetes API server (exo-sim kube)."
        );
        crate::microsoft::http::install_crypto_provider();
        let mut service_opts = ServiceOptions::new(SERVICE_SECRET);
        service_opts.tls = true;
        if !policies.is_empty() {
            service_opts.policies = policies;
        }
        let service = Service::start(service_opts).await?;
        // Graph validates the service's notification URL, and posts to it, over HTTPS.
        let m365 = Simulator::start(SimOptions {
            device_code_interval: 1,
            trusted_cas: service.ca_pem().into_iter().collect(),
            ..Default::default()
        })
        .await?;
        let kube = Emulator::start(EmulatorOptions::default()).await?;
        kube.write_kubeconfig(kubeconfig)?;
        let client = kube.client().await?;
        println!("  Microsoft 365 simulator:    {}", m365.url());
        println!("  email-security service:     {} (HTTPS)", service.url());
        println!(
            "  Kubernetes API emulator:    {} (kubeconfig: {})",
            kube.url(),
            kubeconfig.display()
        );
        install_crds(&client).await?;
        println!("  installed the CRDs");
        Ok(Self {
            m365,
            service,
            kube,
            client,
        })
    }

    /// Stops the cluster, then the service and Microsoft 365.
    async fn shutdown(self) {
        self.kube.shutdown().await;
        self.service.shutdown().await;
        self.m365.shutdown().await;
    }

    /// Creates the ConfigMap with the service simulator's CA in every namespace that holds a
    /// service (a cluster service's: the cluster resource namespace, `default`).
    async fn share_service_ca(&self, docs: &[Value]) -> anyhow::Result<()> {
        let mut namespaces: Vec<&str> = docs
            .iter()
            .filter(|d| d["kind"] == "EmailSecurityService")
            .map(|d| d["metadata"]["namespace"].as_str().unwrap_or("default"))
            .collect();
        namespaces.push("default");
        namespaces.sort();
        namespaces.dedup();
        let ca = self.service.ca_pem().unwrap_or_default();
        for ns in namespaces {
            let doc = json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": SERVICE_CA, "namespace": ns}, "data": {"ca.crt": ca}});
            create(&self.client, &doc).await?;
        }
        Ok(())
    }
}

/// Starts the operator on the emulated cluster, polling consent every second.
async fn start_operator(client: &kube::Client) -> anyhow::Result<Operator> {
    // The operator's HTTP port, where Graph sends lifecycle notifications.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let lifecycle = format!("http://{}/graph/lifecycle", listener.local_addr()?);
    let settings = Settings {
        consent_poll: Duration::from_secs(1),
        protection: crate::protection::Settings {
            lifecycle_url: Some(lifecycle),
            ..Default::default()
        },
        ..Settings::default()
    };
    let ctx = Arc::new(Context::new(client.clone(), settings)?);
    let operator = Operator::start(ctx, Scope::default(), Some(listener)).await;
    println!("  started the operator\n");
    Ok(operator)
}

/// Creates every manifest, pointed at the simulators.
async fn apply_manifests(sims: &Simulators, mut docs: Vec<Value>) -> anyhow::Result<()> {
    // The services first: the accounts name them.
    docs.sort_by_key(|doc| !is_service(&doc["kind"]));
    let keys = signing_keys(&docs);
    let (m365, service) = (sims.m365.url(), sims.service.url());
    let targets = Targets {
        m365: &m365,
        service: &service,
        signing_keys: &keys,
    };
    for doc in docs {
        let (doc, note) = prepare(doc, &targets);
        create(&sims.client, &doc).await?;
        let name = doc["metadata"]["name"].as_str().unwrap_or("");
        let kind = doc["kind"].as_str().unwrap_or("");
        println!("{}", applied(kind, name, note.as_deref()));
    }
    println!();
    Ok(())
}

/// Whether `kind` is one of the service's kinds.
fn is_service(kind: &Value) -> bool {
    kind == "EmailSecurityService" || kind == "ClusterEmailSecurityService"
}

/// The line shown for an applied manifest, with the `note` of what was changed in it.
fn applied(kind: &str, name: &str, note: Option<&str>) -> String {
    match (kind, note) {
        ("EmailSecurityService" | "ClusterEmailSecurityService", _) => {
            format!("applied {kind}/{name} (endpoints and ingestion set to the simulators)")
        }
        (_, Some(n)) => format!("applied {kind}/{name} ({n})"),
        _ => format!("applied {kind}/{name}"),
    }
}

/// The simulated Global Administrator: watches the accounts, shows their progress, and accepts
/// each consent page and approves each device code once.
struct Administrator {
    http: reqwest::Client,
    sim_url: String,
    /// Consent pages and device codes already acted on.
    acted: HashSet<String>,
    /// The state last shown of each account.
    last: BTreeMap<String, String>,
}

impl Administrator {
    /// An administrator of the simulator at `sim_url`.
    fn new(sim_url: String) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self {
            http,
            sim_url,
            acted: HashSet::new(),
            last: BTreeMap::new(),
        })
    }

    /// Acts on the accounts until every one has settled, or `timeout` has passed.
    async fn watch(
        &mut self,
        accounts: &Api<ExchangeServiceAccount>,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let list = accounts.list(&Default::default()).await?.items;
            let mut settled = true;
            for esa in &list {
                let (ready, reason, _) = summary(esa);
                self.show(esa, &ready, &reason);
                self.act(esa).await?;
                settled &= is_settled(&ready, &reason);
            }
            if (settled && !list.is_empty()) || tokio::time::Instant::now() > deadline {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Shows the account's Ready condition when it changed.
    fn show(&mut self, esa: &ExchangeServiceAccount, ready: &str, reason: &str) {
        let name = esa.metadata.name.clone().unwrap_or_default();
        let state = format!("Ready={ready} ({reason})");
        if self.last.get(&name) != Some(&state) {
            println!("{name:<12} {state}");
            self.last.insert(name, state);
        }
    }

    /// Accepts the account's admin consent page and approves its device code, each once.
    async fn act(&mut self, esa: &ExchangeServiceAccount) -> anyhow::Result<()> {
        let tenant = &esa.spec.tenant;
        let consent = esa.status.as_ref().and_then(|s| s.consent.clone());
        if let Some(url) = consent.as_ref().and_then(|c| c.admin_consent_url.clone())
            && self.acted.insert(url.clone())
        {
            println!("{SIMULATED} opens the admin consent page of {tenant} and accepts");
            self.http.get(&url).send().await?;
        }
        if let Some(code) = consent.as_ref().and_then(|c| c.user_code.clone())
            && self.acted.insert(code.clone())
        {
            println!("{SIMULATED} signs in to {tenant} with the device code {code}");
            self.http
                .post(format!("{}/_sim/devicecodes/{code}/approve", self.sim_url))
                .json(&json!({}))
                .send()
                .await?;
        }
        Ok(())
    }
}

/// Whether an account with this Ready status and reason is done: Ready, or waiting for a
/// credential the demo cannot provide.
fn is_settled(ready: &str, reason: &str) -> bool {
    ready == "True" || reason == "CredentialSecretInvalid"
}

/// Prints the final table; returns whether every account is Ready (and there is one).
fn print_table(list: &[ExchangeServiceAccount]) -> bool {
    println!(
        "\nNAME         TENANT                                 MODE     READY   REASON                   USERS"
    );
    let mut all_ready = !list.is_empty();
    for esa in list {
        let (ready, reason, users) = summary(esa);
        if ready != "True" {
            all_ready = false;
        }
        println!(
            "{:<12} {:<38} {:<8} {:<7} {:<24} {}",
            esa.metadata.name.clone().unwrap_or_default(),
            esa.spec.tenant,
            format!("{:?}", esa.spec.mode),
            ready,
            reason,
            users
        );
    }
    all_ready
}

/// Prints the message of each account that reached Ready, as the console shows it on success.
fn print_messages(list: &[ExchangeServiceAccount]) {
    println!();
    for esa in list {
        let status = esa.status.clone().unwrap_or_default();
        let ready = status
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        if let (true, Some(message)) = (ready, status.message) {
            let name = esa.metadata.name.clone().unwrap_or_default();
            println!("{name}: {message}");
        }
    }
}

/// Prints the Exchange objects and allow-list entries of each inline-mode account.
fn print_mail_flow(list: &[ExchangeServiceAccount]) {
    for esa in list.iter().filter(|e| e.spec.mode == Mode::Inline) {
        if let Some(flow) = esa.status.as_ref().and_then(|s| s.mail_flow.as_ref()) {
            println!(
                "\n{}: {} Exchange objects in {}; allow-list entries added: {}",
                esa.metadata.name.clone().unwrap_or_default(),
                flow.objects.len(),
                esa.spec.tenant,
                if flow.allow_list_entries.is_empty() {
                    "none".to_string()
                } else {
                    flow.allow_list_entries.join(", ")
                }
            );
            for object in &flow.objects {
                println!("  {object}");
            }
        }
    }
}

/// Prints what the service simulator acknowledged for each tenant (its read API).
async fn print_received(service: &Service) -> anyhow::Result<()> {
    let ca = reqwest::Certificate::from_pem(service.ca_pem().unwrap_or_default().as_bytes())?;
    let http = reqwest::Client::builder()
        .add_root_certificate(ca)
        .timeout(Duration::from_secs(10))
        .build()?;
    let read = async |path: &str| -> anyhow::Result<Value> {
        let url = format!("{}/_sim{path}", service.url());
        Ok(http
            .get(url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    };
    let tenants = read("/tenants").await?;
    let tenants = tenants["tenants"].as_array().cloned().unwrap_or_default();
    println!(
        "
What the email-security service acknowledged (exo-sim service, its read API):"
    );
    if tenants.is_empty() {
        println!("  no tenant registered");
        return Ok(());
    }
    println!(
        "  TENANT                                 MODE     USERS  DELIVERIES  SNAPSHOT  POLICIES"
    );
    for t in tenants {
        let id = t["tenantId"].as_str().unwrap_or_default();
        let policies = read(&format!("/tenants/{id}/policies")).await?;
        let accepted: Vec<&str> = policies["accepted"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        println!(
            "  {:<38} {:<8} {:<6} {:<11} {:<9} {}",
            id,
            t["mode"].as_str().unwrap_or("-"),
            t["users"].to_string(),
            t["watermark"].to_string(),
            if t["snapshotComplete"] == true {
                "complete"
            } else {
                "pending"
            },
            if accepted.is_empty() {
                "-".to_string()
            } else {
                accepted.join(", ")
            }
        );
    }
    Ok(())
}

/// A message arrives in a protected mailbox of the first API-mode account whose mailboxes are
/// subscribed: Graph (simulated) notifies the service, which says what it received.
async fn deliver_a_message(
    sims: &Simulators,
    list: &[ExchangeServiceAccount],
) -> anyhow::Result<()> {
    let protected = list.iter().find(|esa| {
        esa.status
            .as_ref()
            .and_then(|s| s.protection.as_ref())
            .is_some_and(|p| p.subscribed > 0)
    });
    let Some(esa) = protected else {
        return Ok(());
    };
    let status = esa.status.clone().unwrap_or_default();
    let protection = status.protection.unwrap_or_default();
    let tenant_id = status
        .service_principal
        .and_then(|sp| sp.tenant_id)
        .unwrap_or_default();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let sim = sims.m365.url();
    let subscriptions: Value = http
        .get(format!("{sim}/_sim/tenants/{tenant_id}/subscriptions"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let Some(user) = subscriptions["value"]
        .as_array()
        .and_then(|v| v.first())
        .and_then(|s| s["userId"].as_str())
    else {
        return Ok(());
    };
    println!(
        "\nLive protection of {}: {} of {} mailboxes subscribed to Microsoft Graph change notifications.",
        esa.spec.tenant, protection.subscribed, protection.protected
    );
    println!("[simulated mail] a message arrives in the mailbox of user {user}");
    http.post(format!(
        "{sim}/_sim/tenants/{tenant_id}/users/{user}/messages"
    ))
    .json(&json!({"subject": "Quarterly report"}))
    .send()
    .await?
    .error_for_status()?;
    let ca = reqwest::Certificate::from_pem(sims.service.ca_pem().unwrap_or_default().as_bytes())?;
    let http = reqwest::Client::builder()
        .add_root_certificate(ca)
        .timeout(Duration::from_secs(10))
        .build()?;
    let heard: Value = http
        .get(format!(
            "{}/_sim/tenants/{tenant_id}/notifications",
            sims.service.url()
        ))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let resource = heard["recent"]
        .as_array()
        .and_then(|r| r.last())
        .and_then(|n| n["resource"].as_str())
        .unwrap_or("-");
    println!(
        "  the email-security service received {} change notification(s) with a valid clientState, the last for {resource}",
        heard["accepted"]
    );
    Ok(())
}

/// Keeps everything running for `kubectl` until Ctrl-C.
async fn keep_running(kubeconfig: &Path) -> anyhow::Result<()> {
    println!(
        "\nEverything keeps running. In another terminal:\n  KUBECONFIG={} kubectl get esa,stl -o wide\nPress Ctrl-C to stop.",
        kubeconfig.display()
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applied_lines_say_what_was_changed() {
        for (kind, note, line) in [
            (
                "EmailSecurityService",
                None,
                "applied EmailSecurityService/a (endpoints and ingestion set to the simulators)",
            ),
            (
                "ClusterEmailSecurityService",
                Some("n"),
                "applied ClusterEmailSecurityService/a (endpoints and ingestion set to the simulators)",
            ),
            (
                "ExchangeServiceAccount",
                None,
                "applied ExchangeServiceAccount/a",
            ),
            ("Secret", Some("filled"), "applied Secret/a (filled)"),
            ("Secret", None, "applied Secret/a"),
        ] {
            assert_eq!(applied(kind, "a", note), line);
        }
    }

    #[test]
    fn an_account_settles_when_ready_or_without_a_usable_credential() {
        for (ready, reason, settled) in [
            ("True", "Ready", true),
            ("False", "CredentialSecretInvalid", true),
            ("False", "ConsentRequired", false),
            ("-", "Pending", false),
        ] {
            assert_eq!(is_settled(ready, reason), settled, "{ready} {reason}");
        }
    }
}
