//! Fleet-scale benchmark: the real operator binary (a child process, so its memory and CPU are
//! its own) against Kubernetes and the Microsoft 365 simulator. Kubernetes is the API emulator,
//! or with `EXO_TEST_BACKEND=apiserver` (and `EXO_TEST_KUBECONFIG`, `EXO_TEST_AUDIT_LOG` from
//! `scripts/control-plane start DIR`) a real kube-apiserver: each scenario works in a namespace
//! of its own, its writes counted from the emulator's audit or the server's audit log.
//!
//! 1. Fleet: N accounts (consent granted, Selected scope, a SyncTargetList of 10 users each)
//!    applied at once: time until all are Ready, operator peak RSS, writes and Microsoft calls
//!    per account.
//! 2. Steady state: the fleet left alone: writes, Microsoft calls and operator CPU.
//! 3. Directory: one tenant with 100,000 users and 5,000 groups, scope All: full sync, then 100
//!    changes and an incremental sync.
//! 4. Critical path: one account with 50 ms added to every Microsoft call, and with none (the
//!    Kubernetes side alone); each the median of three tries.
//! 5. Inline: one inline account (Inbound, scope All, the role already held) with 50 ms added to
//!    every Microsoft call: apply to Ready, Microsoft calls and API-server writes.
//!
//! Scenarios 3 to 5 run in the steady-state window of scenario 2, with their own operator,
//! emulator and simulator, while the fleet's idle (its figures count only its own).
//!
//! `cargo bench --bench fleet` (defaults: 1,000 accounts, 300 s steady state); set
//! `EXO_BENCH_ACCOUNTS` and `EXO_BENCH_STEADY_SECS` for shorter runs, `EXO_BENCH_CRITICAL_ONLY=N`
//! to measure only the critical path, N times. Prints a table and a JSON line.

use std::time::Duration;

use serde_json::{Value, json};

#[path = "../../tests/support/cluster.rs"]
mod cluster;
#[path = "../../tests/support/m365.rs"]
mod m365;
#[path = "../../tests/support/status.rs"]
mod status;

mod operator;
mod protection;
mod renewals;
mod scenarios;
mod stage;
mod summary;

use scenarios::{Flow, critical_path, directory, fleet};
use summary::{LATENCY_MS, summary};

/// Users in each fleet account's SyncTargetList (and in its tenant).
const USERS_PER_LIST: usize = 10;

/// The number in environment variable `name`, else `default`.
fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let accounts = env_number("EXO_BENCH_ACCOUNTS", 1000) as usize;
    let steady = Duration::from_secs(env_number("EXO_BENCH_STEADY_SECS", 300));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    exo_operator::microsoft::http::install_crypto_provider();
    // `EXO_BENCH_CRITICAL_ONLY=N`: only the critical path, N times (for profiling).
    let critical_only = env_number("EXO_BENCH_CRITICAL_ONLY", 0);
    if critical_only > 0 {
        for _ in 0..critical_only {
            let (with, without, inline) = runtime.block_on(async {
                (
                    critical_path(LATENCY_MS, Flow::Api).await,
                    critical_path(0, Flow::Api).await,
                    critical_path(LATENCY_MS, Flow::Inline).await,
                )
            });
            let seconds = |v: &Value| v["apply_to_ready_s"].as_f64().unwrap_or_default();
            println!(
                "critical path: {:.4} s with {LATENCY_MS} ms per call, {:.4} s without; inline {:.4} s ({} calls, {} writes)",
                seconds(&with),
                seconds(&without),
                seconds(&inline),
                inline["microsoft_calls"],
                inline["writes"],
            );
            if std::env::var_os("EXO_BENCH_VERBOSE").is_some() {
                println!("{inline}");
            }
        }
        return;
    }
    // `EXO_BENCH_PROTECTION=TENANTSxMAILBOXES` (e.g. `1x100000`, `1000x100`): only live
    // protection, the subscriptions of that many mailboxes.
    if let Ok(shape) = std::env::var("EXO_BENCH_PROTECTION") {
        let (tenants, mailboxes) = shape
            .split_once('x')
            .and_then(|(t, m)| Some((t.parse().ok()?, m.parse().ok()?)))
            .expect("EXO_BENCH_PROTECTION=TENANTSxMAILBOXES");
        let steady = Duration::from_secs(env_number("EXO_BENCH_STEADY_SECS", 30));
        let figures = runtime.block_on(protection::protection(tenants, mailboxes, steady));
        println!("{figures}");
        return;
    }
    // `EXO_BENCH_RENEWALS=TENANTSxMAILBOXES`: the keeper alone, on a clock moved through
    // `EXO_BENCH_RENEWAL_DAYS` days (default 28): the renewals it makes per day.
    if let Ok(shape) = std::env::var("EXO_BENCH_RENEWALS") {
        let (tenants, mailboxes) = shape
            .split_once('x')
            .and_then(|(t, m)| Some((t.parse().ok()?, m.parse().ok()?)))
            .expect("EXO_BENCH_RENEWALS=TENANTSxMAILBOXES");
        let days = env_number("EXO_BENCH_RENEWAL_DAYS", 28) as i64;
        let figures = runtime.block_on(renewals::renewals(tenants, mailboxes, days));
        println!("{figures}");
        return;
    }
    // `EXO_BENCH_DIRECTORY_ONLY=1`: only the directory and its delivery to the service.
    if env_number("EXO_BENCH_DIRECTORY_ONLY", 0) > 0 {
        println!("{}", runtime.block_on(directory()));
        return;
    }
    // The fleet first; the other scenarios run in its steady-state window, where its operator
    // idles (the critical paths first, each the median of three tries).
    let (fleet, (critical, baseline, inline, directory)) = runtime.block_on(async {
        fleet(accounts, steady, async {
            (
                median_of_three(LATENCY_MS, Flow::Api).await,
                median_of_three(0, Flow::Api).await,
                median_of_three(LATENCY_MS, Flow::Inline).await,
                directory().await,
            )
        })
        .await
    });
    let summary = summary(&fleet, &directory, &critical, &baseline, &inline);
    println!(
        "{:<52} {:>12}  {:<34} {:>11} {:>6}",
        "figure", "value", "target", "lower bound", "ratio"
    );
    for row in &summary {
        let number = |v: &Value| match v.as_f64() {
            Some(x) if x.fract() == 0.0 => format!("{x:.0}"),
            Some(x) => format!("{x:.3}"),
            None => String::new(),
        };
        println!(
            "{:<52} {:>12}  {:<34} {:>11} {:>6}",
            row["figure"].as_str().unwrap_or(""),
            number(&row["value"]),
            row["target"].as_str().unwrap_or(""),
            number(&row["lower_bound"]),
            row["ratio"]
                .as_f64()
                .map(|r| format!("{r:.2}"))
                .unwrap_or_default(),
        );
    }
    println!(
        "{}",
        json!({"summary": summary, "fleet": fleet, "directory": directory,
            "critical_path": critical, "critical_path_without_latency": baseline,
            "inline_critical_path": inline})
    );
}

/// The critical path measured three times: the try with the median time, and all three times.
async fn median_of_three(latency_ms: u64, flow: Flow) -> Value {
    let mut tries = Vec::new();
    for _ in 0..3 {
        tries.push(critical_path(latency_ms, flow).await);
    }
    let time = |v: &Value| v["apply_to_ready_s"].as_f64().unwrap_or(f64::MAX);
    tries.sort_by(|a, b| time(a).total_cmp(&time(b)));
    let times: Vec<f64> = tries.iter().map(time).collect();
    let mut median = tries.swap_remove(1);
    median["tries_s"] = json!(times);
    median
}
