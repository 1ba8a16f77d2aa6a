//! Throughput of the two simulators, measured in one process on loopback:
//! the Kubernetes API emulator (writes and watch events per second with 1,000 custom
//! resources) and the Microsoft 365 simulator (999-user Graph pages per second, and the time and
//! peak memory to page through 100,000 generated users).
//!
//! `cargo bench --bench simulators` prints a table and a JSON line.

use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use serde_json::{Value, json};

use exo_api::sync_target_list::SyncTargetList;
use exo_sim_kube::{Emulator, EmulatorOptions, install_crds};
use exo_sim_m365::tenants::{DEMO_CLIENT_ID, DEMO_SECRET};
use exo_sim_m365::{Generate, SimOptions, Simulator};

const OBJECTS: usize = 1000;
const CONCURRENCY: usize = 8;

/// A memory figure of this process in MiB, from `/proc/self/status` (`VmHWM`: peak resident
/// set, `VmRSS`: resident set now); 0 where the file is missing.
fn proc_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with(field))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

fn peak_rss_mib() -> f64 {
    proc_mib("VmHWM:")
}

fn rss_mib() -> f64 {
    proc_mib("VmRSS:")
}

async fn kube_bench() -> Value {
    let emulator = Emulator::start(EmulatorOptions {
        history_limit: 50_000,
        ..Default::default()
    })
    .await
    .unwrap();
    let client = emulator.client().await.unwrap();
    install_crds(&client).await.unwrap();
    let api: Api<SyncTargetList> = Api::default_namespaced(client.clone());

    let started = Instant::now();
    futures::stream::iter(0..OBJECTS)
        .map(|i| {
            let api = api.clone();
            async move {
                let stl: SyncTargetList = serde_json::from_value(json!({
                    "apiVersion": "exo-operator.io/v1alpha1", "kind": "SyncTargetList",
                    "metadata": {"name": format!("list-{i:04}")},
                    "spec": {"serviceAccountRef": {"name": "acct"}, "users": [format!("user{i}@contoso.com")]}
                }))
                .unwrap();
                api.create(&PostParams::default(), &stl).await.unwrap();
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    let create_s = started.elapsed().as_secs_f64();

    // Watch events: a watcher sees every status write.
    let watch_api = api.clone();
    let counter = tokio::spawn(async move {
        let mut seen = 0usize;
        let mut stream = std::pin::pin!(watcher(watch_api, watcher::Config::default()));
        let mut first: Option<Instant> = None;
        while let Ok(Some(ev)) = stream.try_next().await {
            if let watcher::Event::Apply(_) = ev {
                first.get_or_insert_with(Instant::now);
                seen += 1;
                if seen == OBJECTS {
                    break;
                }
            }
        }
        (seen, first.map(|f| f.elapsed()).unwrap_or_default())
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    futures::stream::iter(0..OBJECTS)
        .map(|i| {
            let api = api.clone();
            async move {
                api.patch_status(
                    &format!("list-{i:04}"),
                    &PatchParams::default(),
                    &Patch::Merge(json!({"status": {"userCount": 1}})),
                )
                .await
                .unwrap();
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    let update_s = started.elapsed().as_secs_f64();
    let (seen, watch_elapsed) = tokio::time::timeout(Duration::from_secs(60), counter)
        .await
        .unwrap()
        .unwrap();
    let watch_s = watch_elapsed.as_secs_f64().max(update_s);
    emulator.shutdown().await;
    json!({
        "objects": OBJECTS,
        "concurrency": CONCURRENCY,
        "creates_per_s": OBJECTS as f64 / create_s,
        "status_writes_per_s": OBJECTS as f64 / update_s,
        "watch_events": seen,
        "watch_events_per_s": seen as f64 / watch_s,
    })
}

async fn m365_bench() -> Value {
    let base_rss = rss_mib();
    let mut world = exo_sim_m365::tenants::demo();
    world.tenants.truncate(1);
    let started = Instant::now();
    let sim = Simulator::start(SimOptions {
        tenants: world,
        generate: Some(Generate {
            users: 100_000,
            groups: 5_000,
            seed: 1,
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    let startup_ms = started.elapsed().as_secs_f64() * 1000.0;
    let http = reqwest::Client::new();
    http.post(format!("{}/_sim/tenants/contoso.com/consent", sim.url()))
        .json(&json!({"clientId": DEMO_CLIENT_ID}))
        .send()
        .await
        .unwrap();
    let token: Value = http
        .post(format!("{}/contoso.com/oauth2/v2.0/token", sim.url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", DEMO_CLIENT_ID),
            ("client_secret", DEMO_SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_string();
    let after_start_rss = rss_mib();

    // 999-user pages per second.
    const PAGES: usize = 200;
    let started = Instant::now();
    futures::stream::iter(0..PAGES)
        .map(|_| {
            let (http, token, url) = (
                http.clone(),
                token.clone(),
                format!("{}/v1.0/users?$top=999", sim.url()),
            );
            async move {
                let body = http
                    .get(url)
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap();
                assert!(body.len() > 100_000);
            }
        })
        .buffer_unordered(4)
        .collect::<Vec<_>>()
        .await;
    let pages_per_s = PAGES as f64 / started.elapsed().as_secs_f64();

    // Page through every user.
    let started = Instant::now();
    let mut next = format!(
        "{}/v1.0/users?$top=999&$select=id,userPrincipalName",
        sim.url()
    );
    let mut users = 0usize;
    let mut requests = 0usize;
    loop {
        let page: Value = http
            .get(&next)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        requests += 1;
        users += page["value"].as_array().unwrap().len();
        match page["@odata.nextLink"].as_str() {
            Some(n) => next = n.to_string(),
            None => break,
        }
    }
    let full_s = started.elapsed().as_secs_f64();
    sim.shutdown().await;
    json!({
        "generated_users": 100_000, "generated_groups": 5_000,
        "startup_ms": startup_ms,
        "rss_after_start_mib": (after_start_rss - base_rss).max(0.0),
        "graph_999_user_pages_per_s": pages_per_s,
        "page_through_users": users, "page_through_requests": requests, "page_through_s": full_s,
        "process_peak_rss_mib": peak_rss_mib(),
    })
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (kube, m365) = runtime.block_on(async { (kube_bench().await, m365_bench().await) });
    println!(
        "Kubernetes API emulator ({} SyncTargetLists, {} clients in parallel)",
        kube["objects"], kube["concurrency"]
    );
    println!(
        "  creates/s              {:>10.0}",
        kube["creates_per_s"].as_f64().unwrap()
    );
    println!(
        "  status writes/s        {:>10.0}",
        kube["status_writes_per_s"].as_f64().unwrap()
    );
    println!(
        "  watch events/s         {:>10.0}  ({} events)",
        kube["watch_events_per_s"].as_f64().unwrap(),
        kube["watch_events"]
    );
    println!("Microsoft 365 simulator (100,000 generated users, 5,000 groups)");
    println!(
        "  start-up               {:>10.1} ms",
        m365["startup_ms"].as_f64().unwrap()
    );
    println!(
        "  RSS after start-up     {:>10.1} MiB",
        m365["rss_after_start_mib"].as_f64().unwrap()
    );
    println!(
        "  999-user pages/s       {:>10.1}",
        m365["graph_999_user_pages_per_s"].as_f64().unwrap()
    );
    println!(
        "  page through all users {:>10.2} s  ({} users, {} requests)",
        m365["page_through_s"].as_f64().unwrap(),
        m365["page_through_users"],
        m365["page_through_requests"]
    );
    println!(
        "  process peak RSS       {:>10.1} MiB",
        m365["process_peak_rss_mib"].as_f64().unwrap()
    );
    println!("{}", json!({"kube": kube, "m365": m365}));
}
