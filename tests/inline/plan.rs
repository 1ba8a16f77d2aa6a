//! `exo-operator plan` of an inline account: what a reconcile would do to the tenant (the
//! role, each Exchange object to create or correct with its fields, allow-list entries,
//! group members), printed while nothing changes anywhere: the tenant's state, the cluster's
//! writes and the simulator's write requests are the same after the plan as before.

use serde_json::{Value, json};

use super::env::Env;
use super::{NORTHWIND, exchange, northwind, world};

/// What a plan must leave as it was: the tenant's state and the cluster's writes.
struct Untouched {
    tenant: Value,
    writes: usize,
}

impl Untouched {
    async fn now(env: &Env) -> Self {
        Self {
            tenant: env.sim_tenant(NORTHWIND).await,
            writes: env.writes(),
        }
    }

    async fn assert_same(&self, env: &Env) {
        assert_eq!(
            env.sim_tenant(NORTHWIND).await,
            self.tenant,
            "the tenant changed"
        );
        assert_eq!(
            env.writes(),
            self.writes,
            "{:?}",
            &env.audit()[self.writes..]
        );
    }
}

/// The plan's changes as `sign target object (fields)` lines.
fn lines(plan: &exo_operator::plan::Plan) -> Vec<String> {
    let text = exo_operator::plan::render(plan);
    text.lines()
        .filter(|l| {
            l.starts_with("  ") && !l.starts_with("  status now") && !l.contains("no changes")
        })
        .map(|l| l.trim().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_shows_the_role_the_objects_and_the_drift_and_changes_nothing() {
    let mut env = Env::start(world(|_| {})).await;
    env.stop_operator().await;
    env.consent(NORTHWIND).await;
    northwind(&env, json!({"mode": "Automatic"}), "Correct").await;

    // Before anything: the role is what comes first.
    let before = Untouched::now(&env).await;
    let plan = env.plan(&["northwind"]).await;
    before.assert_same(&env).await;
    let first = lines(&plan);
    assert_eq!(plan.changes, 2, "{first:#?}");
    assert!(
        first[0]
            .starts_with("+ tenant  Exchange Administrator role assignment to service principal"),
        "{first:#?}"
    );
    assert_eq!(first[1], "+ cluster ConfigMap northwind-sync-state");
    let ready = plan.accounts[0]
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready");
    assert_eq!(ready.map(|c| c.status.as_str()), Some("False"));

    // Carried out, the reconcile agrees with the plan, and a plan then finds nothing to do.
    env.start_operator().await;
    env.wait_ready("northwind").await;
    env.stop_operator().await;
    let plan = env.plan(&["northwind"]).await;
    assert_eq!(plan.changes, 0, "{:#?}", lines(&plan));
    assert!(exo_operator::plan::render(&plan).contains("no changes"));
    let (code, text) = env.plan_command(&["northwind"]).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("Plan: 0 changes to 1 account."), "{text}");

    // Changed by hand: the plan names what a reconcile would restore, field by field.
    super::drift_by_hand(&env).await;
    let drifted = exchange(&env, NORTHWIND).await;
    let before = Untouched::now(&env).await;
    let plan = env.plan(&["northwind"]).await;
    before.assert_same(&env).await;
    let changes = lines(&plan);
    assert!(
        changes.contains(
            &"~ tenant  InboundConnector \"exo Connector from Service\" (EFSkipIPs)".to_string()
        ),
        "{changes:#?}"
    );
    assert!(
        changes
            .iter()
            .any(|c| c
                .starts_with("+ tenant  TransportRule \"exo Route Inbound Mail to Service\" (")),
        "{changes:#?}"
    );
    assert_eq!(plan.changes, 2, "{changes:#?}");
    assert_eq!(exchange(&env, NORTHWIND).await, drifted);
    // The command line says as much, for CI: JSON, and exit code 2 (changes).
    let (code, json) = env.plan_command(&["northwind", "-o", "json"]).await;
    assert_eq!(code, Some(2), "{json}");
    let json: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["changes"], 2, "{json:#}");
    let first = &json["accounts"][0]["changes"][0];
    assert_eq!(first["target"], "tenant", "{json:#}");
    assert_eq!(first["action"], "create", "{json:#}");
    before.assert_same(&env).await;
}
