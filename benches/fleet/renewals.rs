//! Renewals over weeks, observed: the operator's subscription keeper (in this process, the
//! library's own, on a clock moved in step with the Microsoft 365 simulator's) keeps the
//! subscriptions of `tenants` tenants of `mailboxes` mailboxes while both clocks move through
//! `days` days, ten minutes at a time, each step only once every task is idle again. Every
//! request Graph answers is counted. In the window after the first lifetime, the renewals per
//! day are the mailboxes times the renewals divided by the days of life those renewals bought
//! (the subscriptions' expirations as Graph holds them, summed, at the window's ends), so that
//! a window holding a burst of renewals more or less does not tip the figure; they are set
//! against the bound of one renewal per maximum lifetime (10,080 minutes) per subscription.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use exo_api::exchange_service_account::{Cloud, EndpointOverrides};
use exo_operator::microsoft::cloud::Endpoints;
use exo_operator::microsoft::graph::GraphClient;
use exo_operator::microsoft::http::{HttpClient, RetryPolicy};
use exo_operator::microsoft::identity::IdentityClient;
use exo_operator::microsoft::identity::credential::ClientCredential;
use exo_operator::protection::clock::Clock;
use exo_operator::protection::index::{Folder, marked_url};
use exo_operator::protection::{Config, Keeper, Settings};
use exo_sim_m365::tenants::{DEMO_CLIENT_ID, DEMO_SECRET};
use exo_sim_m365::{SimOptions, Simulator};

use crate::protection::{lift_budgets, world};
use crate::scenarios::service_simulator;

/// Microsoft's longest lifetime of a subscription to Outlook messages, in seconds.
const MAXIMUM_LIFETIME: i64 = 10_080 * 60;
/// How far the clocks move at a time (renewals fall due hours before expiry).
const STEP: i64 = 600;
const DAY: i64 = 86_400;

/// Graph's counter of `route`.
fn count(sim: &Simulator, route: &str) -> u64 {
    sim.counters().get(route).copied().unwrap_or(0)
}

/// Waits until every account's task is idle at the clock's current offset.
async fn all_idle(keeper: &Keeper, uids: &[String], clock: &Clock) -> Option<i64> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let idle: Option<Vec<i64>> = uids
            .iter()
            .map(|u| {
                keeper
                    .idle(u)
                    .filter(|i| i.offset == clock.offset())
                    .map(|i| i.until)
            })
            .collect();
        if let Some(until) = idle {
            return until.into_iter().min();
        }
        assert!(Instant::now() < deadline, "the tasks did not settle");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The seconds of life the subscriptions Graph holds have left, summed, and how many there
/// are.
async fn life_held(sim: &Simulator, tenants: usize, now: i64) -> (i64, u64) {
    let http = reqwest::Client::new();
    let (mut life, mut held) = (0, 0);
    for i in 0..tenants {
        let url = format!(
            "{}/_sim/tenants/p{i:04}.onmicrosoft.com/subscriptions",
            sim.url()
        );
        let all: Value = http.get(url).send().await.unwrap().json().await.unwrap();
        for sub in all["value"].as_array().into_iter().flatten() {
            let expires = sub["expirationDateTime"]
                .as_str()
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                .expect("each subscription has its expiration");
            life += expires.as_second() - now;
            held += 1;
        }
    }
    (life, held)
}

/// The scenario.
pub async fn renewals(tenants: usize, mailboxes: u64, days: i64) -> Value {
    let service = service_simulator().await;
    let sim = Simulator::start(SimOptions {
        tenants: world(tenants, mailboxes),
        trusted_cas: service.ca_pem().into_iter().collect(),
        // Longer than the weeks lived through: the tokens are not what is measured.
        token_lifetime: Duration::from_secs(90 * DAY as u64),
        ..Default::default()
    })
    .await
    .unwrap();
    lift_budgets(&sim).await;
    let clock = Clock::movable();
    let keeper = Arc::new(Keeper::new(Settings {
        writes_per_20s: 1_000_000,
        clock: clock.clone(),
        ..Settings::default()
    }));
    let http = HttpClient::new(None, RetryPolicy::default()).unwrap();
    let endpoints = Endpoints::resolve(
        Cloud::Global,
        Some(&EndpointOverrides {
            login: Some(sim.url()),
            graph: Some(sim.url()),
            ..Default::default()
        }),
    );
    let graph = GraphClient::new(http.clone(), &endpoints);
    let secret = ClientCredential::Secret(DEMO_SECRET.to_string().into());
    let notifications = format!("{}/graph/notifications", service.url());
    let mut uids = Vec::new();
    for i in 0..tenants {
        let domain = format!("p{i:04}.onmicrosoft.com");
        let identity = IdentityClient::new(http.clone(), &endpoints, &domain, DEMO_CLIENT_ID)
            .expect("the simulator's token URL");
        let token = identity
            .app_token(&secret, &endpoints.graph_scope)
            .await
            .expect("a token from the simulator");
        let uid = format!("00000000-0000-4000-8000-{i:012}");
        let client_state = format!("bench-client-state-{i}");
        keeper.keep(Config {
            namespace: "bench".into(),
            name: format!("p{i:04}"),
            uid: uid.clone(),
            tenant_id: token.claims.tid.clone().unwrap_or_default(),
            graph: graph.clone(),
            token,
            notification_url: marked_url(&notifications, &uid, &client_state),
            lifecycle_url: None,
            client_state,
            folders: vec![Folder::Inbox],
            whole_directory: true,
        });
        // No directory round in this process: each task reads its tenant's users.
        keeper.users_not_said(&uid);
        uids.push(uid);
    }
    let want = tenants as u64 * mailboxes;
    let (creates, renews, pages) = (
        "subscriptions POST /v1.0/subscriptions",
        "subscriptions PATCH /v1.0/subscriptions/{id}",
        "subscriptions GET /v1.0/subscriptions",
    );
    let started = Instant::now();
    let deadline = started + Duration::from_secs(1800);
    while count(&sim, creates) < want {
        assert!(Instant::now() < deadline, "every mailbox subscribed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    all_idle(&keeper, &uids, &clock).await;
    let subscribed_in = started.elapsed();
    let start = clock.now();
    let advance = reqwest::Client::new();
    let mut window_from = None;
    let mut steps = 0u64;
    while clock.now() < start + days * DAY {
        advance
            .post(format!("{}/_sim/clock/advance", sim.url()))
            .json(&json!({"seconds": STEP}))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
        clock.advance(STEP);
        all_idle(&keeper, &uids, &clock).await;
        steps += 1;
        if window_from.is_none() && clock.now() >= start + MAXIMUM_LIFETIME {
            let now = clock.now();
            let (life, _) = life_held(&sim, tenants, now).await;
            window_from = Some((now, count(&sim, renews), life + now * want as i64));
        }
    }
    let (from, renewed_before, expiries_before) =
        window_from.expect("the weeks outlast one lifetime");
    let now = clock.now();
    let (life, held) = life_held(&sim, tenants, now).await;
    let window_days = (now - from) as f64 / DAY as f64;
    let renewals = count(&sim, renews) - renewed_before;
    // The days of life the window's renewals bought, all subscriptions together (the same
    // subscriptions throughout: none expired, none was made again).
    let bought_days = (life + now * want as i64 - expiries_before) as f64 / DAY as f64;
    let per_day = want as f64 * renewals as f64 / bought_days;
    let bound = want as f64 * DAY as f64 / MAXIMUM_LIFETIME as f64;
    let counters: std::collections::BTreeMap<String, u64> = sim
        .counters()
        .into_iter()
        .filter(|(k, _)| k.starts_with("subscriptions ") && k.contains(" /v1.0/"))
        .collect();
    let figures = json!({
        "tenants": tenants,
        "mailboxes": want,
        "days_lived": days,
        "clock_steps": steps,
        "subscribed_in_s": subscribed_in.as_secs_f64(),
        "lived_in_s": started.elapsed().as_secs_f64() - subscribed_in.as_secs_f64(),
        "subscription_creates": count(&sim, creates),
        "window_days": window_days,
        "renewals_in_window": renewals,
        "renewals_per_day_in_window": renewals as f64 / window_days,
        "days_of_life_bought": bought_days,
        "subscriptions_held_at_end": held,
        "renewals_per_day": per_day,
        "renewals_per_day_bound": bound,
        "ratio": per_day / bound,
        "list_pages": count(&sim, pages),
        "subscription_requests": counters,
    });
    keeper.stop_all();
    sim.shutdown().await;
    service.shutdown().await;
    figures
}
