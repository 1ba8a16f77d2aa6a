//! Leader election with two real `exo-operator run` processes against the Kubernetes API
//! emulator or a real API server: only the Lease holder writes, and killing it hands over
//! within the lease duration without status flapping.

#[path = "support/env.rs"]
mod env;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use env::{Env, TIMEOUT, is};
use exo_sim_m365::tenants::DEMO_CLIENT_ID;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams};
use serde_json::json;

struct Replica(Child);

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An `exo-operator run` process watching (and holding its Lease in) the test's namespace.
fn replica(env: &Env, identity: &str) -> Replica {
    let kubeconfig = &env.cluster.kubeconfig;
    Replica(
        Command::new(env!("CARGO_BIN_EXE_exo-operator"))
            .args([
                "run",
                "--http-addr",
                "127.0.0.1:0",
                "--leader-election",
                "--lease-duration",
                "3",
                "--lease-namespace",
                env.ns(),
                "--namespaces",
                env.ns(),
                "--identity",
                identity,
                "--kubeconfig",
            ])
            .arg(kubeconfig)
            .env("EXO_LOG_FORMAT", "json")
            .env_remove("HTTPS_PROXY")
            .stdout(Stdio::null())
            .env("RUST_LOG", "exo_operator=debug")
            .stderr(Stdio::from(
                std::fs::File::create(env.cluster.dir().join(identity)).unwrap(),
            ))
            .spawn()
            .expect("the exo-operator binary runs"),
    )
}

async fn holder(env: &Env) -> Option<String> {
    let leases: Api<Lease> = Api::default_namespaced(env.client.clone());
    leases
        .get_opt("exo-operator")
        .await
        .unwrap()
        .and_then(|l| l.spec?.holder_identity)
}

async fn wait_holder(env: &Env, identity: &str, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if holder(env).await.as_deref() == Some(identity) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{identity} did not take the lease; holder {:?}",
            holder(env).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The instances that reported Events about `name`.
async fn reporters(env: &Env, name: &str) -> Vec<String> {
    let events: Api<Event> = Api::default_namespaced(env.client.clone());
    let mut out: Vec<String> = events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .filter_map(|e| e.reporting_instance)
        .collect();
    out.sort();
    out.dedup();
    out
}

fn ready_since(esa: &exo_api::exchange_service_account::ExchangeServiceAccount) -> String {
    esa.status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"))
        .map(|c| format!("{}@{:?}", c.status, c.last_transition_time))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_writes_and_a_killed_leader_hands_over_without_flapping() {
    let mut env = Env::start(Env::fast()).await;
    env.stop_operator().await;
    let mut a = replica(&env, "replica-a");
    wait_holder(&env, "replica-a", TIMEOUT).await;
    let _b = replica(&env, "replica-b");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(holder(&env).await.as_deref(), Some("replica-a"));

    env.control(
        "/tenants/contoso.com/consent",
        json!({"clientId": DEMO_CLIENT_ID}),
    )
    .await;
    env.apply_example("api-all-users.yaml").await;
    let esa = env
        .wait_account("contoso", "Ready under replica-a", |e| is(e, "Ready"))
        .await;
    let since = ready_since(&esa);
    // Events are recorded after the status that announces them: wait for the first.
    let mut seen = Vec::new();
    for _ in 0..100 {
        seen = reporters(&env, "contoso").await;
        if !seen.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, ["replica-a"], "only the leader writes");

    // The leader dies without releasing the Lease: the standby takes over after it expires.
    a.0.kill().unwrap();
    a.0.wait().unwrap();
    wait_holder(&env, "replica-b", Duration::from_secs(10)).await;

    // The new leader works the account (a sync on demand) without Ready changing.
    let requested = jiff::Timestamp::now().to_string();
    env.merge_account(
        "contoso",
        json!({"metadata": {"annotations": {"exo-operator.io/sync-requested-at": requested}}}),
    )
    .await;
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while !reporters(&env, "contoso")
        .await
        .contains(&"replica-b".to_string())
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "replica-b never reconciled"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let esa = env.accounts().get("contoso").await.unwrap();
    assert!(is(&esa, "Ready"));
    assert_eq!(
        ready_since(&esa),
        since,
        "Ready did not flap during the handover"
    );
}
