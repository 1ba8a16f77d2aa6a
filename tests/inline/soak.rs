//! The soak: a fleet (API mode with every user, inline with a direct role, inline with a role
//! through Privileged Identity Management) onboarded under a random mix of faults (401, 403,
//! 404, 429 with and without Retry-After, 5xx, dropped connections, timeouts, the token
//! endpoint down, a clock jump) and operator kills (at random times and at random fail points),
//! for a fixed time. Then the faults are cleared: every account must be Ready, each tenant
//! exactly as in a run without faults, the cost under the bounds, and after deletion nothing
//! left in any tenant.
//!
//! The short form runs in CI (`EXO_SOAK_SECONDS`, default 20 s); the long form is the same test
//! with a longer time, e.g. `EXO_SOAK_SECONDS=1800 cargo test --test inline soak`. The seed is
//! printed; `EXO_SOAK_SEED` replays a run.

use std::time::{Duration, Instant};

use exo_operator::controller::fail_point::FailPoints;
use serde_json::{Value, json};

use super::env::{Env, TIMEOUT, is};
use super::{NORTHWIND, WOODGROVE, exchange, listed, names, northwind, world};

const CONTOSO: &str = "contoso.onmicrosoft.com";
const ACCOUNTS: [&str; 3] = ["contoso", "northwind", "woodgrove"];

/// What one account may cost: the passes after each operator start (a restart forgets every
/// token and backoff; an inline pass whose Exchange reads all fail costs 5 reads of 3 attempts,
/// and its status write brings a second pass at once), plus a rate per second of soak. The
/// storms this guards against cost 30 requests and 10 status writes per account and second.
const REQUESTS_PER_START: f64 = 50.0;
const REQUESTS_PER_SECOND: f64 = 2.0;
const STATUS_WRITES_PER_START: f64 = 6.0;
const STATUS_WRITES_PER_SECOND: f64 = 0.2;

/// xorshift64*: enough randomness for choosing faults, and replayable from its seed.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % sides
    }
}

/// A random fault rule on one of the routes the fleet uses.
fn fault(dice: &mut Dice) -> Value {
    let routes = [
        "GET /v1.0/users/delta",
        "GET /v1.0/groups/delta",
        "/oauth2/v2.0/token",
        "POST /adminapi/.*",
        "/v1.0/roleManagement/.*",
        "GET /v1.0/domains",
    ];
    let path = routes[dice.roll(routes.len() as u64) as usize];
    let mut rule = match dice.roll(9) {
        0 => json!({"status": 401}),
        1 => json!({"status": 403}),
        2 => json!({"status": 404}),
        3 => json!({"status": 429, "retryAfter": 1 + dice.roll(3)}),
        4 => json!({"status": 429}),
        5 => json!({"status": 500}),
        6 => json!({"status": 503}),
        7 => json!({"drop": true}),
        _ => json!({"latencyMs": 1500}),
    };
    rule["path"] = json!(path);
    // Half of them pass after a few requests; the others last until cleared.
    if dice.roll(2) == 0 {
        rule["count"] = json!(1 + dice.roll(5));
    }
    rule
}

/// The fleet's accounts, created at once.
async fn onboard(env: &Env) {
    for tenant in [CONTOSO, NORTHWIND, WOODGROVE] {
        env.consent(tenant).await;
    }
    env.apply_example("api-all-users.yaml").await;
    env.apply_example("inline-inbound-outbound-pim.yaml").await;
    northwind(env, json!({"mode": "Automatic"}), "Correct").await;
}

/// What each tenant holds that the fleet manages.
async fn tenants(env: &Env) -> Value {
    let mut out = json!({});
    for tenant in [NORTHWIND, WOODGROVE] {
        let state = exchange(env, tenant).await;
        let mut shape = json!({});
        for kind in [
            "TransportRule",
            "OutboundConnector",
            "InboundConnector",
            "DistributionGroup",
        ] {
            shape[kind] = json!(names(&state, kind));
        }
        shape["IPAllowList"] =
            state["exchange"]["HostedConnectionFilterPolicy"]["Default"]["IPAllowList"].clone();
        shape["roleAssignments"] = json!(listed(&state, "roleAssignments"));
        out[tenant] = shape;
    }
    out
}

/// Waits until every account is Ready (approving the PIM request as an administrator would).
async fn all_ready(env: &Env, deadline: Duration) -> Result<(), String> {
    let until = Instant::now() + deadline;
    loop {
        env.control(
            &format!("/tenants/{WOODGROVE}/pim-requests/approve"),
            json!({}),
        )
        .await;
        let mut waiting = Vec::new();
        for name in ACCOUNTS {
            let esa = env.accounts().get(name).await.unwrap();
            if !is(&esa, "Ready") {
                let message = esa.status.and_then(|s| s.message).unwrap_or_default();
                waiting.push(format!("{name}: {message}"));
            }
        }
        if waiting.is_empty() {
            return Ok(());
        }
        if Instant::now() > until {
            return Err(waiting.join("; "));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The tenants as a run without faults leaves them.
async fn without_faults() -> Value {
    let env = Env::start(world(|_| {})).await;
    onboard(&env).await;
    all_ready(&env, TIMEOUT).await.unwrap();
    env.settle().await;
    tenants(&env).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_fleet_converges_after_random_faults_and_kills() {
    let seconds: u64 = std::env::var("EXO_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("EXO_SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| jiff::Timestamp::now().as_nanosecond() as u64 | 1);
    eprintln!("soak: {seconds} s, seed {seed}");
    let mut dice = Dice(seed);
    let desired = without_faults().await;

    let mut env = Env::start(world(|_| {})).await;
    let before = env.m365.counters();
    let requests = before.values().sum::<u64>();
    let writes = env.audit().len();
    onboard(&env).await;
    let started = Instant::now();
    let (mut faults, mut kills, mut frozen) = (0, 0u32, 0u32);
    while started.elapsed() < Duration::from_secs(seconds) {
        // Per tick: a fault (1/2), faults cleared, a clock jump, an operator killed at a fail
        // point, killed at once, a PIM approval (1/10 each).
        match dice.roll(10) {
            0..=4 => {
                let rule = fault(&mut dice);
                eprintln!(
                    "soak {:>5.1} s: fault {rule}",
                    started.elapsed().as_secs_f64()
                );
                env.fault(rule).await;
                faults += 1;
            }
            5 => {
                eprintln!(
                    "soak {:>5.1} s: faults cleared",
                    started.elapsed().as_secs_f64()
                );
                env.control_delete("/faults", json!({})).await;
            }
            6 => {
                env.control("/clock/advance", json!({"seconds": 600 + dice.roll(7200)}))
                    .await;
            }
            7 => {
                // Killed at a random fail point (if it is reached before the next kill).
                env.kill_operator().await;
                env.fail_points = Some(FailPoints::hang_at(1 + dice.roll(12)));
                env.start_operator().await;
                frozen += 1;
            }
            8 => {
                env.kill_operator().await;
                env.fail_points = None;
                env.start_operator().await;
                kills += 1;
            }
            _ => {
                env.control(
                    &format!("/tenants/{WOODGROVE}/pim-requests/approve"),
                    json!({}),
                )
                .await;
            }
        }
        tokio::time::sleep(Duration::from_millis(200 + dice.roll(800))).await;
    }
    let soaked = started.elapsed().as_secs_f64();
    let after = env.m365.counters();
    let cost_requests = after.values().sum::<u64>() - requests;
    let mut by_route: Vec<(u64, &String)> = after
        .iter()
        .map(|(route, n)| (n - before.get(route).copied().unwrap_or(0), route))
        .collect();
    by_route.sort_by(|a, b| b.cmp(a));
    by_route.truncate(6);
    let cost_writes = env.audit()[writes..]
        .iter()
        .filter(|w| w.subresource.as_deref() == Some("status"))
        .count();
    eprintln!(
        "soak: {faults} faults, {kills} kills, {frozen} operators frozen at a fail point; {cost_requests} requests and {cost_writes} status writes in {soaked:.0} s"
    );

    // Cleared: the fleet converges to exactly what a run without faults has.
    env.control_delete("/faults", json!({})).await;
    env.kill_operator().await;
    env.fail_points = None;
    env.start_operator().await;
    let ready = all_ready(&env, Duration::from_secs(90)).await;
    assert!(ready.is_ok(), "seed {seed}: not Ready: {ready:?}");
    env.settle().await;
    assert_eq!(tenants(&env).await, desired, "seed {seed}");
    let accounts = ACCOUNTS.len() as f64;
    let starts = f64::from(1 + kills + frozen);
    let bound =
        |per_start: f64, per_second: f64| accounts * (starts * per_start + soaked * per_second);
    let (max_requests, max_writes) = (
        bound(REQUESTS_PER_START, REQUESTS_PER_SECOND),
        bound(STATUS_WRITES_PER_START, STATUS_WRITES_PER_SECOND),
    );
    assert!(
        cost_requests as f64 <= max_requests,
        "seed {seed}: {cost_requests} requests in {soaked:.0} s (at most {max_requests:.0}); most: {by_route:?}"
    );
    assert!(
        cost_writes as f64 <= max_writes,
        "seed {seed}: {cost_writes} status writes in {soaked:.0} s (at most {max_writes:.0})"
    );

    // Nothing leaked: deleted, every tenant is as before the fleet.
    for name in ACCOUNTS {
        env.request_deletion(name).await;
    }
    for name in ACCOUNTS {
        env.wait_gone(name).await;
    }
    let empty = json!({
        "TransportRule": [], "OutboundConnector": [], "InboundConnector": [],
        "DistributionGroup": [], "IPAllowList": [], "roleAssignments": 0,
    });
    assert_eq!(
        tenants(&env).await,
        json!({NORTHWIND: empty, WOODGROVE: empty}),
        "seed {seed}"
    );
}
