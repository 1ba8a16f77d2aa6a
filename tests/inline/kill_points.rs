//! The operator killed at every fail point (just before and just after each tenant write and
//! each status write) of an inline account's first pass, under both drift policies, and of its
//! deletion: restarted, it converges to exactly the desired tenant, with no duplicate, no
//! false drift and no false "re-created" Event.

use exo_operator::controller::fail_point::FailPoints;
use serde_json::{Value, json};

use super::env::{Env, TIMEOUT, is};
use super::{NORTHWIND, events, exchange, listed, names, northwind, world};

/// Kills run at once.
const AT_ONCE: usize = 4;

/// The tenant's mail flow without what differs per run (ids, times, the account's uid and
/// routing token).
fn shape(state: &Value) -> Value {
    let mut out = json!({});
    for kind in [
        "TransportRule",
        "OutboundConnector",
        "InboundConnector",
        "DistributionGroup",
    ] {
        out[kind] = json!(names(state, kind));
    }
    out["IPAllowList"] =
        state["exchange"]["HostedConnectionFilterPolicy"]["Default"]["IPAllowList"].clone();
    out["roleAssignments"] = json!(listed(state, "roleAssignments"));
    out
}

/// A fresh world with an operator whose reconciles freeze at `points`.
async fn env_with(points: Option<std::sync::Arc<FailPoints>>) -> Env {
    let mut env = Env::start(world(|_| {})).await;
    env.stop_operator().await;
    env.fail_points = points;
    env.start_operator().await;
    env.consent(NORTHWIND).await;
    env
}

/// Restarts the operator without fail points, as after `kill -9`.
async fn restart(env: &mut Env) {
    env.kill_operator().await;
    env.fail_points = None;
    env.start_operator().await;
}

/// The first pass under `drift`, killed at point `at`: what the tenant looks like once the
/// restarted operator is done, and what went wrong (including anything the account's deletion
/// then leaves behind).
async fn first_pass_killed_at(at: u64, drift: &str) -> (Value, Vec<String>) {
    let points = FailPoints::hang_at(at);
    let mut env = env_with(Some(points.clone())).await;
    northwind(&env, json!({"mode": "Automatic"}), drift).await;
    let _ = tokio::time::timeout(TIMEOUT, points.tripped()).await;
    restart(&mut env).await;
    let esa = env.wait_ready("northwind").await;
    env.settle().await;
    let mut wrong = Vec::new();
    if is(&esa, "MailFlowDrifted") {
        wrong.push(format!("point {at} ({drift}): drift reported"));
    }
    for reason in ["MailFlowCorrected", "DriftFound"] {
        let found = events(&env, "northwind", reason).await;
        if !found.is_empty() {
            wrong.push(format!("point {at} ({drift}): {reason} {found:?}"));
        }
    }
    let tenant = shape(&exchange(&env, NORTHWIND).await);
    env.delete_account("northwind").await;
    let left = shape(&exchange(&env, NORTHWIND).await);
    if left != nothing() {
        wrong.push(format!("point {at} ({drift}): deletion left {left}"));
    }
    (tenant, wrong)
}

/// The shape of a tenant with nothing of the account's left.
fn nothing() -> Value {
    json!({
        "TransportRule": [], "OutboundConnector": [], "InboundConnector": [], "DistributionGroup": [],
        "IPAllowList": [], "roleAssignments": 0,
    })
}

/// The deletion killed at point `at` (counted from the deletion): what is left once the
/// restarted operator has finished.
async fn deletion_killed_at(at: u64) -> Value {
    let mut env = env_with(None).await;
    northwind(&env, json!({"mode": "Automatic"}), "Correct").await;
    env.wait_ready("northwind").await;
    env.settle().await;
    let points = FailPoints::hang_at(at);
    env.kill_operator().await;
    env.fail_points = Some(points.clone());
    env.start_operator().await;
    env.settle().await;
    env.request_deletion("northwind").await;
    let _ = tokio::time::timeout(TIMEOUT, points.tripped()).await;
    restart(&mut env).await;
    let deadline = std::time::Instant::now() + TIMEOUT;
    while let Some(esa) = env.accounts().get_opt("northwind").await.unwrap() {
        if std::time::Instant::now() > deadline {
            let status = serde_json::to_value(&esa.status).unwrap();
            return json!({"not deleted": status, "finalizers": esa.metadata.finalizers});
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    shape(&exchange(&env, NORTHWIND).await)
}

/// How many fail points a clean first pass (or deletion) reaches.
async fn points_of_a_clean_run() -> (u64, u64) {
    let counting = FailPoints::counting();
    let mut env = env_with(Some(counting.clone())).await;
    northwind(&env, json!({"mode": "Automatic"}), "Correct").await;
    env.wait_ready("northwind").await;
    env.settle().await;
    let first = counting.reached();
    env.kill_operator().await;
    let counting = FailPoints::counting();
    env.fail_points = Some(counting.clone());
    env.start_operator().await;
    env.settle().await;
    env.delete_account("northwind").await;
    (first, counting.reached())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kill_at_any_point_of_a_first_pass_or_a_deletion_is_repaired() {
    let (first, deletion) = points_of_a_clean_run().await;
    assert!(first >= 10, "the first pass has its writes: {first}");
    assert!(deletion >= 6, "the deletion has its writes: {deletion}");
    let desired = {
        let env = env_with(None).await;
        northwind(&env, json!({"mode": "Automatic"}), "Correct").await;
        env.wait_ready("northwind").await;
        env.settle().await;
        shape(&exchange(&env, NORTHWIND).await)
    };
    let mut wrong = Vec::new();
    let mut walked = 0;
    for drift in ["Correct", "Report"] {
        let points: Vec<u64> = (1..=first).collect();
        for chunk in points.chunks(AT_ONCE) {
            let runs = chunk.iter().map(|at| first_pass_killed_at(*at, drift));
            for (at, (tenant, problems)) in chunk.iter().zip(futures::future::join_all(runs).await)
            {
                walked += 1;
                wrong.extend(problems);
                if tenant != desired {
                    wrong.push(format!(
                        "point {at} ({drift}): tenant {tenant} != {desired}"
                    ));
                }
            }
        }
    }
    let nothing = nothing();
    let points: Vec<u64> = (1..=deletion).collect();
    for chunk in points.chunks(AT_ONCE) {
        let runs = chunk.iter().map(|at| deletion_killed_at(*at));
        for (at, left) in chunk.iter().zip(futures::future::join_all(runs).await) {
            walked += 1;
            if left != nothing {
                wrong.push(format!("deletion point {at}: left {left}"));
            }
        }
    }
    eprintln!(
        "kill points walked: {walked} (first pass {first} x 2 drift policies, deletion {deletion})"
    );
    assert!(wrong.is_empty(), "{wrong:#?}");
}
