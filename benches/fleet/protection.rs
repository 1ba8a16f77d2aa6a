//! Live protection at scale: `tenants` tenants of `mailboxes` generated users each, one API-mode
//! account of scope All per tenant, whose service receives change notifications. Measured: the
//! subscription creates against the mailboxes, the time until every mailbox is subscribed, the
//! operator's memory per 100,000 subscriptions, the Graph requests of a steady state and of a
//! restart (against the pages of `GET /subscriptions`). The renewals over weeks are measured
//! by [`crate::renewals`].

use std::time::{Duration, Instant};

use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

use exo_api::exchange_service_account::ExchangeServiceAccount;
use exo_sim_m365::tenants::{TenantSpec, TenantsFile};
use exo_sim_m365::{Generate, SimOptions};

use crate::operator::OperatorProcess;
use crate::scenarios::{account, consented_tenants, read_service, receive_with, service_simulator};
use crate::stage::{SERVICE, Stage, create};

/// The subscriptions Graph lists per page.
const PAGE: u64 = 100;

/// `tenants` tenants of `mailboxes` generated users each, all consented.
pub fn world(tenants: usize, mailboxes: u64) -> TenantsFile {
    consented_tenants(tenants, "p", "9000", |i| TenantSpec {
        generate: Some(Generate {
            users: mailboxes,
            groups: 0,
            seed: i as u64 + 1,
        }),
        ..Default::default()
    })
}

/// A free loopback port (for the operator's HTTP port, which Graph's lifecycle URL names).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Subscription requests so far, by counter (`subscriptions POST /v1.0/subscriptions`, ...).
fn subscription_requests(stage: &Stage) -> std::collections::BTreeMap<String, u64> {
    stage
        .sim
        .counters()
        .into_iter()
        .filter(|(k, _)| k.starts_with("subscriptions ") && k.contains(" /v1.0/"))
        .collect()
}

fn delta(
    after: &std::collections::BTreeMap<String, u64>,
    before: &std::collections::BTreeMap<String, u64>,
) -> std::collections::BTreeMap<String, u64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, v)| *v > 0)
        .collect()
}

/// (protected, subscribed) summed over the accounts, and whether all are ProtectionActive.
async fn protection_of(api: &Api<ExchangeServiceAccount>) -> (i64, i64, bool) {
    let list = api
        .list(&Default::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    let (mut protected, mut subscribed, mut active) = (0, 0, !list.is_empty());
    for esa in &list {
        let status = esa.status.clone().unwrap_or_default();
        if let Some(p) = &status.protection {
            protected += p.protected;
            subscribed += p.subscribed;
        }
        active &= status
            .conditions
            .iter()
            .any(|c| c.type_ == "ProtectionActive" && c.status == "True");
    }
    (protected, subscribed, active)
}

/// Waits (at most `limit`) until every account's mailboxes are all subscribed (with
/// `baseline`: until every account is Ready, there being no subscriptions).
async fn all_subscribed(api: &Api<ExchangeServiceAccount>, want: i64, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if baseline() {
            let list = api
                .list(&Default::default())
                .await
                .map(|l| l.items)
                .unwrap_or_default();
            if !list.is_empty() && list.iter().all(crate::status::ready) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        let (protected, subscribed, active) = protection_of(api).await;
        if active && protected == want && subscribed == want {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    false
}

/// Lifts the simulator's subscription budgets (what is measured is not Graph's throttling).
pub async fn lift_budgets(sim: &exo_sim_m365::Simulator) {
    let lifted = 100_000_000u64;
    reqwest::Client::new()
        .put(format!("{}/_sim/subscriptions/settings", sim.url()))
        .json(&json!({"writesPer20s": lifted, "requestsPer20s": lifted,
            "tenantWritesPer20s": lifted, "tenantRequestsPer20s": lifted}))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
}

/// `EXO_BENCH_PROTECTION_BASELINE=1`: the same accounts with a service that receives no change
/// notifications, for the memory the subscriptions add.
fn baseline() -> bool {
    std::env::var_os("EXO_BENCH_PROTECTION_BASELINE").is_some()
}

/// The scenario.
pub async fn protection(tenants: usize, mailboxes: u64, steady: Duration) -> Value {
    let service = service_simulator().await;
    let stage = Stage::start(SimOptions {
        tenants: world(tenants, mailboxes),
        trusted_cas: service.ca_pem().into_iter().collect(),
        ..Default::default()
    })
    .await;
    let client = stage.client.clone();
    receive_with(&client, &service).await;
    let services: Api<exo_api::email_security_service::EmailSecurityService> =
        Api::default_namespaced(client.clone());
    let notifications = match baseline() {
        true => serde_json::Value::Null,
        false => json!(format!("{}/graph/notifications", service.url())),
    };
    services
        .patch(
            SERVICE,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"notificationUrl": notifications}})),
        )
        .await
        .unwrap();
    // The simulator's subscription budget is not what is measured here: lifted, and so is the
    // operator's (which keeps Microsoft's 1,000 writes per 20 s per tenant by default).
    lift_budgets(&stage.sim).await;
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let lifecycle = format!("http://{address}/graph/lifecycle");
    let args = [
        "--http-addr",
        address.as_str(),
        "--lifecycle-url",
        lifecycle.as_str(),
        "--subscription-writes",
        "1000000",
    ];
    let start = || OperatorProcess::start_with(&stage.kube, 16, &args);
    let operator = start();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = operator.rss();
    let started = Instant::now();
    for i in 0..tenants {
        create(
            &client,
            account(
                &format!("p{i:04}"),
                &format!("p{i:04}.onmicrosoft.com"),
                false,
            ),
        )
        .await;
    }
    let api: Api<ExchangeServiceAccount> = Api::default_namespaced(client.clone());
    let want = (tenants as u64 * mailboxes) as i64;
    let subscribed = all_subscribed(&api, want, Duration::from_secs(1800)).await;
    let to_subscribed = started.elapsed();
    let creates = stage
        .sim
        .counters()
        .get("subscriptions POST /v1.0/subscriptions")
        .copied()
        .unwrap_or(0);
    let peak_growth = operator.peak_rss() - rss_before;
    // Steady state: the subscriptions were just made; nothing is due for days.
    let before = subscription_requests(&stage);
    tokio::time::sleep(steady).await;
    let steady_requests = delta(&subscription_requests(&stage), &before);
    let rss_steady = operator.rss() - rss_before;

    // A restart: the index is rebuilt from Graph's pages, nothing is created again.
    drop(operator);
    let before_restart = subscription_requests(&stage);
    let graph_before = stage.microsoft_calls();
    let routes_before = stage.calls_by_route();
    let operator = start();
    let expected_pages: u64 = match baseline() {
        true => 0,
        false => (0..tenants).map(|_| mailboxes.div_ceil(PAGE).max(1)).sum(),
    };
    let deadline = Instant::now() + Duration::from_secs(600);
    let pages_key = "subscriptions GET /v1.0/subscriptions";
    while Instant::now() < deadline {
        let pages = delta(&subscription_requests(&stage), &before_restart)
            .get(pages_key)
            .copied()
            .unwrap_or(0);
        if pages >= expected_pages {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let back = all_subscribed(&api, want, Duration::from_secs(300)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    // What a restarted operator holds for the subscriptions it keeps (its index and the
    // protected set), without the burst of their creation or the directory's first snapshot.
    let rss_restarted = operator.rss() - rss_before;
    let restart_requests = delta(&subscription_requests(&stage), &before_restart);
    let restart_graph = stage.microsoft_calls() - graph_before;
    let restart_by_route = delta(&stage.calls_by_route(), &routes_before);
    let tenant_heard = read_service(&service, "/counters").await;
    drop(operator);
    stage.kube.shutdown().await;
    stage.sim.shutdown().await;
    service.shutdown().await;
    json!({
        "tenants": tenants,
        "mailboxes": want,
        "all_subscribed": subscribed && back,
        "apply_to_subscribed_s": to_subscribed.as_secs_f64(),
        "subscription_creates": creates,
        "operator_peak_rss_growth_mib": peak_growth,
        "operator_rss_growth_after_mib": rss_steady,
        "operator_rss_growth_restarted_mib": rss_restarted,
        "operator_rss_per_100k_subscriptions_mib": rss_restarted * 100_000.0 / want.max(1) as f64,
        "steady_state_s": steady.as_secs_f64(),
        "steady_state_subscription_requests": steady_requests,
        "restart_subscription_requests": restart_requests,
        "restart_list_pages_expected": expected_pages,
        "restart_graph_requests_all": restart_graph,
        "restart_graph_requests_by_route": restart_by_route,
        "service_notification_counters": tenant_heard["notifications"],
    })
}
