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
use exo_sim_m365::Simulator;
use exo_sim_m365::tenants::{DEMO_CLIENT_ID, DEMO_SECRET};

#[path = "../tests/support/m365.rs"]
mod m365;

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
    let sim = Simulator::start(m365::large_directory(world))
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
    let first = format!(
        "{}/v1.0/users?$top=999&$select=id,userPrincipalName",
        sim.url()
    );
    let mut users = 0usize;
    let requests = m365::pages(&http, first, &token, &[], |page| {
        users += page["value"].as_array().unwrap().len();
    })
    .await;
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
    let number = |v: &Value, key: &str| v[key].as_f64().unwrap();
    // Each section's figures: label, value, decimals, and what follows (a unit, counts).
    let kube_figures = vec![
        (
            "creates/s",
            number(&kube, "creates_per_s"),
            0,
            String::new(),
        ),
        (
            "status writes/s",
            number(&kube, "status_writes_per_s"),
            0,
            String::new(),
        ),
        (
            "watch events/s",
            number(&kube, "watch_events_per_s"),
            0,
            format!("  ({} events)", kube["watch_events"]),
        ),
    ];
    let m365_figures = vec![
        (
            "start-up",
            number(&m365, "startup_ms"),
            1,
            " ms".to_string(),
        ),
        (
            "RSS after start-up",
            number(&m365, "rss_after_start_mib"),
            1,
            " MiB".into(),
        ),
        (
            "999-user pages/s",
            number(&m365, "graph_999_user_pages_per_s"),
            1,
            String::new(),
        ),
        (
            "page through all users",
            number(&m365, "page_through_s"),
            2,
            format!(
                " s  ({} users, {} requests)",
                m365["page_through_users"], m365["page_through_requests"]
            ),
        ),
        (
            "process peak RSS",
            number(&m365, "process_peak_rss_mib"),
            1,
            " MiB".into(),
        ),
    ];
    let sections = [
        (
            format!(
                "Kubernetes API emulator ({} SyncTargetLists, {} clients in parallel)",
                kube["objects"], kube["concurrency"]
            ),
            kube_figures,
        ),
        (
            "Microsoft 365 simulator (100,000 generated users, 5,000 groups)".to_string(),
            m365_figures,
        ),
    ];
    for (title, figures) in sections {
        println!("{title}");
        for (label, value, decimals, after) in figures {
            println!("  {label:<22} {value:>10.decimals$}{after}");
        }
    }
    println!("{}", json!({"kube": kube, "m365": m365}));
}
