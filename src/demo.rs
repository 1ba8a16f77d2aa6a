//! `exo-operator demo`: the operator's main job end to end on the embedded simulators. It
//! starts the Microsoft 365 simulator and the Kubernetes API emulator in this process, installs
//! the CRDs, applies the manifests of a directory (pointing accounts at the simulator), plays
//! the Global Administrator (clearly labelled as simulated), shows each account's progress and
//! ends with a table.

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

/// Points an account at the simulator and fills placeholder credentials the simulator knows.
fn prepare(mut doc: Value, sim_url: &str) -> (Value, Option<String>) {
    let mut note = None;
    if doc["kind"] == "ExchangeServiceAccount" {
        doc["spec"]["endpoints"] =
            json!({"login": sim_url, "graph": sim_url, "exchange": sim_url, "management": sim_url});
    }
    if doc["kind"] == "Secret"
        && let Some(data) = doc.get_mut("stringData").and_then(Value::as_object_mut)
    {
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
    println!("exo-operator demo: everything below runs in this process on loopback.");
    println!(
        "  SIMULATED: the Microsoft 365 tenants (exo-sim m365) and the Kubernetes API server (exo-sim kube)."
    );
    let m365 = Simulator::start(SimOptions {
        device_code_interval: 1,
        ..Default::default()
    })
    .await?;
    let kube_emulator = Emulator::start(EmulatorOptions::default()).await?;
    kube_emulator.write_kubeconfig(&opts.kubeconfig)?;
    let client = kube_emulator.client().await?;
    println!("  Microsoft 365 simulator:    {}", m365.url());
    println!(
        "  Kubernetes API emulator:    {} (kubeconfig: {})",
        kube_emulator.url(),
        opts.kubeconfig.display()
    );
    install_crds(&client).await?;
    println!("  installed the CRDs");

    let settings = Settings {
        consent_poll: Duration::from_secs(1),
        ..Settings::default()
    };
    let ctx = Arc::new(Context::new(client.clone(), settings)?);
    let operator = Operator::start(ctx, Scope::default(), None).await;
    println!("  started the operator\n");

    for doc in manifests(&opts.dir)? {
        let (doc, note) = prepare(doc, &m365.url());
        create(&client, &doc).await?;
        let name = doc["metadata"]["name"].as_str().unwrap_or("");
        let kind = doc["kind"].as_str().unwrap_or("");
        match (kind, note) {
            ("ExchangeServiceAccount", _) => {
                println!("applied {kind}/{name} (endpoints set to the simulator)")
            }
            (_, Some(n)) => println!("applied {kind}/{name} ({n})"),
            _ => println!("applied {kind}/{name}"),
        }
    }
    println!();

    let accounts: Api<ExchangeServiceAccount> = Api::all(client.clone());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()?;
    let mut acted: HashSet<String> = HashSet::new();
    let mut last: BTreeMap<String, String> = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + opts.timeout;
    loop {
        let list = accounts.list(&Default::default()).await?.items;
        let mut settled = true;
        for esa in &list {
            let name = esa.metadata.name.clone().unwrap_or_default();
            let (ready, reason, _) = summary(esa);
            let state = format!("Ready={ready} ({reason})");
            if last.get(&name) != Some(&state) {
                println!("{name:<12} {state}");
                last.insert(name.clone(), state);
            }
            let consent = esa.status.as_ref().and_then(|s| s.consent.clone());
            if let Some(url) = consent.as_ref().and_then(|c| c.admin_consent_url.clone())
                && acted.insert(url.clone())
            {
                println!(
                    "{SIMULATED} opens the admin consent page of {} and accepts",
                    esa.spec.tenant
                );
                http.get(&url).send().await?;
            }
            if let Some(code) = consent.as_ref().and_then(|c| c.user_code.clone())
                && acted.insert(code.clone())
            {
                println!(
                    "{SIMULATED} signs in to {} with the device code {code}",
                    esa.spec.tenant
                );
                http.post(format!("{}/_sim/devicecodes/{code}/approve", m365.url()))
                    .json(&json!({}))
                    .send()
                    .await?;
            }
            let done = ready == "True" || reason == "CredentialSecretInvalid";
            settled &= done;
        }
        if (settled && !list.is_empty()) || tokio::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let list = accounts.list(&Default::default()).await?.items;
    println!(
        "\nNAME         TENANT                                 MODE     READY   REASON                   USERS"
    );
    let mut all_ready = !list.is_empty();
    for esa in &list {
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
    if opts.keep_running {
        println!(
            "\nEverything keeps running. In another terminal:\n  KUBECONFIG={} kubectl get esa,stl -o wide\nPress Ctrl-C to stop.",
            opts.kubeconfig.display()
        );
        tokio::signal::ctrl_c().await?;
    }
    operator.stop().await;
    kube_emulator.shutdown().await;
    m365.shutdown().await;
    Ok(all_ready)
}
