//! The scenarios: the fleet with its steady state, a large directory, and one account's
//! critical path.

use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{Api, ListParams};
use serde_json::{Value, json};

use exo_api::exchange_service_account::ExchangeServiceAccount;
use exo_sim_m365::SimOptions;
use exo_sim_m365::tenants::{DomainSpec, TenantSpec, TenantsFile, UserSpec, demo};

use crate::USERS_PER_LIST;
use crate::m365;
use crate::stage::{SERVICE, Stage, consent, create, demo_tenant};
use crate::status::ready;

/// The fleet's world: `accounts` tenants of `USERS_PER_LIST` users each, all consented.
fn fleet_world(accounts: usize) -> TenantsFile {
    consented_tenants(accounts, "t", "8000", |i| TenantSpec {
        users: (0..USERS_PER_LIST)
            .map(|u| UserSpec {
                upn: format!("user{u}@t{i:04}.onmicrosoft.com"),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    })
}

/// `count` tenants `{prefix}0000.onmicrosoft.com`, ... (ids `00000000-0000-4000-{group}-N`),
/// each the demo application consented, built on what `each(i)` gives (its users).
pub fn consented_tenants(
    count: usize,
    prefix: &str,
    group: &str,
    each: impl Fn(usize) -> TenantSpec,
) -> TenantsFile {
    let tenants = (0..count)
        .map(|i| TenantSpec {
            id: format!("00000000-0000-4000-{group}-{i:012}"),
            display_name: format!("Tenant {prefix}{i}"),
            domains: vec![DomainSpec {
                name: format!("{prefix}{i:04}.onmicrosoft.com"),
                initial: true,
                verified: true,
                email: true,
                default: true,
            }],
            consents: vec![consent(Vec::new())],
            ..each(i)
        })
        .collect();
    TenantsFile {
        apps: demo().apps,
        tenants,
    }
}

/// An API-mode account `name` of `tenant` naming the stage's service; with `selected`,
/// scope Selected with the list of the same name.
pub fn account(name: &str, tenant: &str, selected: bool) -> Value {
    let mut spec = json!({
        "tenant": tenant, "mode": "Api", "serviceRef": {"name": SERVICE},
    });
    if selected {
        spec["sync"] = json!({"scope": "Selected", "targetListRef": {"name": name}});
    }
    json!({"apiVersion": "exo-operator.io/v1alpha1", "kind": "ExchangeServiceAccount",
        "metadata": {"name": name}, "spec": spec})
}

/// The inline example's account (Northwind, Inbound, scope All), with a client secret.
fn inline_account() -> Value {
    json!({"apiVersion": "exo-operator.io/v1alpha1", "kind": "ExchangeServiceAccount",
    "metadata": {"name": "northwind"},
    "spec": {
        "tenant": "northwind.onmicrosoft.com", "mode": "Inline", "serviceRef": {"name": SERVICE},
        "inline": {
            "direction": "Inbound",
            "roleAssignment": {"mode": "Automatic", "privilegedIdentityManagement": false},
            "mailFlow": {"namePrefix": "exo", "driftPolicy": "Correct"},
        },
    }})
}

/// How many accounts of `api` are Ready.
async fn count_ready(api: &Api<ExchangeServiceAccount>) -> usize {
    api.list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .filter(|e| ready(e))
        .count()
}

/// The fleet scenario. `during` runs in the steady-state window (the other scenarios: their own
/// operator, emulator and simulator, while the fleet's sit idle), and its output is returned.
pub async fn fleet<T>(
    accounts: usize,
    steady: Duration,
    during: impl std::future::Future<Output = T>,
) -> (Value, T) {
    let stage = Stage::start(SimOptions {
        tenants: fleet_world(accounts),
        ..Default::default()
    })
    .await;
    let client = stage.client.clone();
    let operator = stage.operator(32, Duration::from_millis(500)).await;
    let writes_before = stage.all_writes();
    let started = Instant::now();
    futures::stream::iter(0..accounts)
        .map(|i| {
            let client = client.clone();
            async move {
                let name = format!("t{i:04}");
                let tenant = format!("t{i:04}.onmicrosoft.com");
                let users: Vec<String> = (0..USERS_PER_LIST)
                    .map(|u| format!("user{u}@{tenant}"))
                    .collect();
                create(
                    &client,
                    json!({"apiVersion": "exo-operator.io/v1alpha1", "kind": "SyncTargetList",
                    "metadata": {"name": name},
                    "spec": {"serviceAccountRef": {"name": name}, "users": users}}),
                )
                .await;
                create(&client, account(&name, &tenant, true)).await;
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    let applied = started.elapsed();
    let accounts_api: Api<ExchangeServiceAccount> = Api::default_namespaced(client.clone());
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut all_ready = false;
    while Instant::now() < deadline {
        if count_ready(&accounts_api).await == accounts {
            all_ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let to_ready = started.elapsed();
    // Everything written since, but the benchmark's own creates (a list and an account each).
    let writes = stage.all_writes() - writes_before - 2 * accounts;
    let calls = stage.microsoft_calls();
    let routes = stage.calls_by_route();
    let breakdown = stage.writes_by_kind();
    let peak = operator.peak_rss();

    // Steady state.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (w0, c0, cpu0) = (stage.all_writes(), stage.microsoft_calls(), operator.cpu());
    let t0 = Instant::now();
    let ((), others) = futures::join!(tokio::time::sleep(steady), during);
    let elapsed = t0.elapsed();
    let steady_writes = stage.all_writes() - w0;
    let steady_calls = stage.microsoft_calls() - c0;
    let cpu = operator.cpu().saturating_sub(cpu0);
    let rss_end = operator.rss();
    stage.stop(operator).await;
    (
        json!({
            "accounts": accounts,
            "all_ready": all_ready,
            "apply_s": applied.as_secs_f64(),
            "time_to_all_ready_s": to_ready.as_secs_f64(),
            "operator_peak_rss_mib": peak,
            "writes_per_account": writes as f64 / accounts as f64,
            "writes_by_kind": breakdown,
            "microsoft_calls_per_account": calls as f64 / accounts as f64,
            "microsoft_calls_by_route": routes,
            "steady_seconds": elapsed.as_secs_f64(),
            "steady_writes": steady_writes,
            "steady_microsoft_calls": steady_calls,
            "steady_cpu_percent_of_a_core": cpu.as_secs_f64() / elapsed.as_secs_f64() * 100.0,
            "operator_rss_after_steady_mib": rss_end,
        }),
        others,
    )
}

pub async fn directory() -> Value {
    let stage = Stage::start(m365::large_directory(demo_tenant("Contoso", Vec::new()))).await;
    let (sim, client) = (&stage.sim, stage.client.clone());
    // The service receives the directory: its ingestion is the service simulator.
    let service = service_simulator().await;
    receive_with(&client, &service).await;
    let operator = stage.operator(4, Duration::from_millis(500)).await;
    let rss_before = operator.rss();
    let started = Instant::now();
    create(&client, account("contoso", "contoso.com", false)).await;
    let api: Api<ExchangeServiceAccount> = Api::default_namespaced(client.clone());
    let deadline = Instant::now() + Duration::from_secs(300);
    while Instant::now() < deadline {
        if let Ok(esa) = api.get("contoso").await
            && ready(&esa)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let full = started.elapsed();
    let delivered = read_service(&service, "/counters").await;
    let delivery_requests = delivered["requests"].as_u64().unwrap_or(0);
    let graph_requests = sim.count("/v1.0/users") + sim.count("/v1.0/groups");
    let users_total = sim.with_world(|w| w.tenant("contoso.com").unwrap().user_count());
    let groups_total = sim.with_world(|w| w.tenant("contoso.com").unwrap().group_count());
    let minimum = users_total.div_ceil(999) + groups_total.div_ceil(999);
    let peak_growth = operator.peak_rss() - rss_before;

    // 100 changes, then an incremental round on demand.
    let http = reqwest::Client::new();
    for i in 0..100 {
        http.post(format!("{}/_sim/tenants/contoso.com/users", sim.url()))
            .json(&json!({"upn": format!("new{i}@contoso.com")}))
            .send()
            .await
            .unwrap();
    }
    let before = sim.count("/v1.0/users") + sim.count("/v1.0/groups");
    let routes_before = stage.calls_by_route();
    let last_sync = |e: &ExchangeServiceAccount| {
        e.status
            .as_ref()
            .and_then(|s| s.sync.as_ref())
            .map(|s| s.users)
            .unwrap_or(0)
    };
    let users_before = last_sync(&api.get("contoso").await.unwrap());
    let now = jiff::Timestamp::now().to_string();
    api.patch(
        "contoso",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(
            json!({"metadata": {"annotations": {"exo-operator.io/sync-requested-at": now}}}),
        ),
    )
    .await
    .unwrap();
    let started = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if last_sync(&api.get("contoso").await.unwrap()) >= users_before + 100 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The service has them once the operator says so (the next reconcile reads its status).
    let tenant = read_service(&service, "/tenants").await["tenants"][0]["tenantId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let received = read_service(&service, &format!("/tenants/{tenant}")).await;
    let counters = read_service(&service, &format!("/tenants/{tenant}/counters")).await;
    let incremental = started.elapsed();
    let incremental_requests = sim.count("/v1.0/users") + sim.count("/v1.0/groups") - before;
    let incremental_by_route: std::collections::BTreeMap<String, u64> = stage
        .calls_by_route()
        .into_iter()
        .map(|(k, v)| {
            let was = routes_before.get(&k).copied().unwrap_or(0);
            (k, v - was)
        })
        .filter(|(_, v)| *v > 0)
        .collect();
    stage.stop(operator).await;
    service.shutdown().await;
    json!({
        "delivery_requests": delivery_requests,
        // One registration, a snapshot's begin and end, and its pages of 1,000 users.
        "delivery_requests_minimum": 3 + users_total.div_ceil(1000),
        "service_users": received["users"],
        "incremental_changes_delivered": counters["acknowledgedItems"]["changes"],
        "users": users_total, "groups": groups_total,
        "full_sync_s": full.as_secs_f64(),
        "graph_directory_requests": graph_requests,
        "graph_directory_requests_minimum": minimum,
        "operator_peak_rss_growth_mib": peak_growth,
        "incremental_sync_s": incremental.as_secs_f64(),
        "incremental_requests": incremental_requests,
        "incremental_calls_by_route": incremental_by_route,
    })
}

/// Which account the critical-path scenario applies.
#[derive(Clone, Copy, PartialEq)]
pub enum Flow {
    /// API mode, scope Selected, a list of two users (Contoso).
    Api,
    /// Inline mode, Inbound, scope All, the Exchange Administrator role already held
    /// (Northwind): connectors, transport rules and the allow list are created.
    Inline,
}

/// One account with `latency_ms` added to every Microsoft call: the time from its create to
/// the watch event that shows it Ready, and the calls it made.
pub async fn critical_path(latency_ms: u64, flow: Flow) -> Value {
    let world = match flow {
        Flow::Api => demo_tenant("Contoso", Vec::new()),
        Flow::Inline => demo_tenant("Northwind Traders", vec!["Exchange Administrator".into()]),
    };
    let stage = Stage::start(SimOptions {
        tenants: world,
        ..Default::default()
    })
    .await;
    let (sim, client) = (&stage.sim, stage.client.clone());
    if latency_ms > 0 {
        reqwest::Client::new()
            .post(format!("{}/_sim/faults", sim.url()))
            .json(&json!({"path": "^[A-Z]+ /[^_]", "latencyMs": latency_ms}))
            .send()
            .await
            .unwrap();
    }
    if flow == Flow::Api {
        create(
            &client,
            json!({"apiVersion": "exo-operator.io/v1alpha1", "kind": "SyncTargetList",
                "metadata": {"name": "contoso"},
                "spec": {"serviceAccountRef": {"name": "contoso"}, "users": ["ada@contoso.com", "grace@contoso.com"]}}),
        )
        .await;
    }
    let operator = stage.operator(4, Duration::from_millis(800)).await;
    let api: Api<ExchangeServiceAccount> = Api::default_namespaced(client.clone());
    let mut events = std::pin::pin!(kube::runtime::watcher(
        api.clone(),
        kube::runtime::watcher::Config::default()
    ));
    // The watch is open (its initial list is done) before the account is created.
    while let Some(event) = events.next().await {
        if matches!(event, Ok(kube::runtime::watcher::Event::InitDone)) {
            break;
        }
    }
    let before = stage.microsoft_calls();
    let writes_before = stage.all_writes();
    let started = Instant::now();
    match flow {
        Flow::Api => create(&client, account("contoso", "contoso.com", true)).await,
        Flow::Inline => create(&client, inline_account()).await,
    }
    let became_ready = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(event) = events.next().await {
            if let Ok(kube::runtime::watcher::Event::Apply(esa)) = event
                && ready(&esa)
            {
                return;
            }
        }
    })
    .await;
    let elapsed = started.elapsed();
    assert!(became_ready.is_ok(), "the account did not become Ready");
    // The Events of a success are published after the status write that made it Ready.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let calls = stage.microsoft_calls() - before;
    // Everything written since, but the account's own create.
    let writes = stage.all_writes() - writes_before - 1;
    let writes_by_kind = stage.writes_by_kind();
    let counters = sim.counters();
    stage.stop(operator).await;
    json!({
        "added_latency_ms": latency_ms,
        "apply_to_ready_s": elapsed.as_secs_f64(),
        "microsoft_calls": calls,
        "writes": writes,
        "writes_by_kind": writes_by_kind,
        "calls": counters.into_iter().filter(|(k, _)| !k.contains("/_sim")).collect::<std::collections::BTreeMap<_, _>>(),
    })
}

/// The shared secret of the benchmark's service simulator.
const SERVICE_SECRET: &str = "whsec_ZXhvLWJlbmNoLXNlcnZpY2Utc2VjcmV0";

/// The email-security service simulator over loopback HTTPS.
pub async fn service_simulator() -> exo_sim_service::Service {
    let mut opts = exo_sim_service::ServiceOptions::new(SERVICE_SECRET);
    opts.tls = true;
    exo_sim_service::Service::start(opts).await.unwrap()
}

/// Gives the stage's service an ingestion endpoint: `service`, trusted through a ConfigMap,
/// signing with a Secret.
pub async fn receive_with(client: &kube::Client, service: &exo_sim_service::Service) {
    create(
        client,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "service-ca"},
            "data": {"ca.crt": service.ca_pem().unwrap()}}),
    )
    .await;
    create(
        client,
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "ingestion"},
            "stringData": {"signing-secret": SERVICE_SECRET}}),
    )
    .await;
    let services: Api<exo_api::email_security_service::EmailSecurityService> =
        Api::default_namespaced(client.clone());
    let patch = json!({"spec": {"ingestion": {
        "url": service.url(),
        "credentialsSecretRef": {"name": "ingestion", "key": "signing-secret"},
        "caBundle": {"kind": "ConfigMap", "name": "service-ca", "key": "ca.crt"},
    }}});
    services
        .patch(
            SERVICE,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .unwrap();
}

/// The service simulator's read API at `path` (under `/_sim`).
pub async fn read_service(service: &exo_sim_service::Service, path: &str) -> Value {
    let ca = reqwest::Certificate::from_pem(service.ca_pem().unwrap().as_bytes()).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    http.get(format!("{}/_sim{path}", service.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
