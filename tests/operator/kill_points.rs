//! The operator killed at every fail point of an API-mode account's first pass (status writes,
//! the sync-state ConfigMap, the activity subscriptions): restarted, the account ends Ready
//! with the same directory summary and sync state as a run that was never killed; and at every
//! fail point of its deletion: restarted, it finishes, stopping the subscriptions and deleting
//! what it kept in the cluster.

use std::sync::Arc;

use exo_operator::controller::fail_point::FailPoints;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use serde_json::{Value, json};

use super::env::{Env, TIMEOUT, is};

/// Kills run at once.
const AT_ONCE: usize = 4;

/// An environment whose operator freezes at `points`, with the API-mode example applied.
async fn started(points: Option<Arc<FailPoints>>) -> Env {
    let mut env = Env::start(Env::fast()).await;
    env.stop_operator().await;
    env.fail_points = points;
    env.start_operator().await;
    env.consent("contoso.com").await;
    env.apply_example("api-all-users.yaml").await;
    env
}

/// What a finished first pass leaves: the directory summary and the sync state's counts.
async fn outcome(env: &Env) -> Value {
    let esa = env.wait_ready("contoso").await;
    env.settle().await;
    let sync = esa.status.and_then(|s| s.sync).unwrap();
    let maps: Api<ConfigMap> = Api::default_namespaced(env.client.clone());
    let state = maps.get("contoso-sync-state").await.unwrap().data.unwrap();
    json!({
        "users": sync.users, "groups": sync.groups, "domains": sync.domains,
        "state users": state.get("users"), "state groups": state.get("groups"),
        "delta links": state.keys().filter(|k| k.contains("link")).count(),
    })
}

async fn killed_at(at: u64) -> (Value, bool) {
    let points = FailPoints::hang_at(at);
    let mut env = started(Some(points.clone())).await;
    let _ = tokio::time::timeout(TIMEOUT, points.tripped()).await;
    env.kill_operator().await;
    env.fail_points = None;
    env.start_operator().await;
    let result = outcome(&env).await;
    let esa = env.accounts().get("contoso").await.unwrap();
    (result, is(&esa, "DirectorySynced"))
}

/// What a deletion leaves: the tenant's activity subscriptions still enabled, and the sync
/// state.
async fn left_after_deletion(env: &Env) -> Value {
    let contoso = env.sim_tenant("contoso.com").await;
    let enabled: Vec<&String> = contoso["subscriptions"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(_, on)| on.as_bool() == Some(true))
                .map(|(k, _)| k)
                .collect()
        })
        .unwrap_or_default();
    let maps: Api<ConfigMap> = Api::default_namespaced(env.client.clone());
    json!({
        "enabled subscriptions": enabled,
        "sync state": maps.get_opt("contoso-sync-state").await.unwrap().is_some(),
    })
}

/// The deletion killed at point `at` (counted from the deletion): what is left once the
/// restarted operator has finished.
async fn deletion_killed_at(at: u64) -> Value {
    let mut env = started(None).await;
    outcome(&env).await;
    env.kill_operator().await;
    let points = FailPoints::hang_at(at);
    env.fail_points = Some(points.clone());
    env.start_operator().await;
    env.settle().await;
    env.request_deletion("contoso").await;
    let _ = tokio::time::timeout(TIMEOUT, points.tripped()).await;
    env.kill_operator().await;
    env.fail_points = None;
    env.start_operator().await;
    env.wait_gone("contoso").await;
    left_after_deletion(&env).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kill_at_any_point_of_an_api_mode_deletion_is_repaired() {
    let counting = FailPoints::counting();
    let mut env = started(None).await;
    outcome(&env).await;
    env.kill_operator().await;
    env.fail_points = Some(counting.clone());
    env.start_operator().await;
    env.settle().await;
    env.delete_account("contoso").await;
    let points = counting.reached();
    let nothing = json!({"enabled subscriptions": [], "sync state": false});
    assert_eq!(left_after_deletion(&env).await, nothing);
    assert!(
        points >= 4,
        "the subscriptions stopped, the state deleted: {points}"
    );
    let mut wrong = Vec::new();
    let all: Vec<u64> = (1..=points).collect();
    for chunk in all.chunks(AT_ONCE) {
        let runs = futures::future::join_all(chunk.iter().map(|at| deletion_killed_at(*at))).await;
        for (at, left) in chunk.iter().zip(runs) {
            if left != nothing {
                wrong.push(format!("deletion point {at}: left {left}"));
            }
        }
    }
    eprintln!("API-mode deletion kill points walked: {points}");
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kill_at_any_point_of_an_api_mode_first_pass_is_repaired() {
    let counting = FailPoints::counting();
    let env = started(Some(counting.clone())).await;
    let desired = outcome(&env).await;
    let points = counting.reached();
    assert!(points >= 4, "status writes and the sync state: {points}");
    let mut wrong = Vec::new();
    let all: Vec<u64> = (1..=points).collect();
    for chunk in all.chunks(AT_ONCE) {
        let runs = futures::future::join_all(chunk.iter().map(|at| killed_at(*at))).await;
        for (at, (got, synced)) in chunk.iter().zip(runs) {
            if got != desired || !synced {
                wrong.push(format!("point {at}: {got} (synced {synced}) != {desired}"));
            }
        }
    }
    eprintln!("API-mode kill points walked: {points}");
    assert!(wrong.is_empty(), "{wrong:#?}");
}
