//! `exo-operator plan` of an inline account: what a reconcile would do to the tenant (the
//! role, each Exchange object to create or correct with its fields, allow-list entries,
//! group members), printed while nothing changes anywhere: the tenant's state, the cluster's
//! writes and the simulator's write requests are the same after the plan as before.

use serde_json::{Value, json};

use super::env::Env;
use super::{NORTHWIND, WOODGROVE, exchange, northwind, world};

/// What a plan must leave as it was: the tenant's state and the cluster's writes.
struct Untouched {
    tenant: Value,
    writes: usize,
}

impl Untouched {
    async fn now(env: &Env) -> Self {
        Self::now_of(env, NORTHWIND).await
    }

    async fn now_of(env: &Env, tenant: &str) -> Self {
        Self {
            tenant: env.sim_tenant(tenant).await,
            writes: env.writes(),
        }
    }

    async fn assert_same(&self, env: &Env) {
        self.assert_same_of(env, NORTHWIND).await;
    }

    async fn assert_same_of(&self, env: &Env, tenant: &str) {
        assert_eq!(
            env.sim_tenant(tenant).await,
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

    // A second account for the same tenant, planned from a file: it would change nothing, the
    // tenant being managed by the first.
    let first = env.accounts().get("northwind").await.unwrap();
    let second = json!({
        "apiVersion": "exo-operator.io/v1alpha1", "kind": "ExchangeServiceAccount",
        "metadata": {"name": "northwind-2"}, "spec": first.spec,
    });
    let file = std::env::temp_dir().join(format!("exo-plan-{}.yaml", env.ns()));
    std::fs::write(&file, second.to_string()).unwrap();
    let (code, out) = env
        .plan_command(&["-f", file.to_str().unwrap(), "-o", "json"])
        .await;
    let _ = std::fs::remove_file(&file);
    assert_eq!(code, Some(0), "{out}");
    let json: Value = serde_json::from_str(&out).unwrap();
    let conflict = json["accounts"][0]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "TenantConflict")
        .cloned();
    assert_eq!(
        conflict.as_ref().map(|c| &c["status"]),
        Some(&json!("True")),
        "{json:#}"
    );

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_shows_a_pim_request_removals_members_and_allow_list_entries() {
    let mut env = Env::start(world(|t| {
        if t.display_name == "Woodgrove Bank" {
            t.pim_approval = true;
        }
    }))
    .await;
    env.stop_operator().await;
    env.consent(WOODGROVE).await;
    env.apply_example("inline-inbound-outbound-pim.yaml").await;
    let before = env.sim_tenant(WOODGROVE).await;
    let plan = env.plan(&["woodgrove"]).await;
    assert_eq!(
        env.sim_tenant(WOODGROVE).await,
        before,
        "the tenant changed"
    );
    assert!(
        lines(&plan)[0].starts_with(
            "+ tenant  Privileged Identity Management request for the Exchange Administrator role"
        ),
        "{:#?}",
        lines(&plan)
    );

    // Approved and configured; then a member and an allow-list entry taken out by hand, and
    // the account changed to Inbound with drift corrected.
    env.start_operator().await;
    env.wait_reason("woodgrove", "RoleAssigned", "PendingApproval")
        .await;
    env.control(
        &format!("/tenants/{WOODGROVE}/pim-requests/approve"),
        json!({}),
    )
    .await;
    env.wait_ready("woodgrove").await;
    env.stop_operator().await;
    let group = "exo-inline Inbound Protected Users";
    let state = exchange(&env, WOODGROVE).await;
    let mut members = state["exchange"]["DistributionGroup"][group]["Members"].clone();
    let gone = members.as_array_mut().unwrap().remove(0);
    env.control(
        &format!("/tenants/{WOODGROVE}/exchange/DistributionGroup/{group}"),
        json!({ "Members": members }),
    )
    .await;
    let policy = &state["exchange"]["HostedConnectionFilterPolicy"]["Default"];
    let mut allow = policy["IPAllowList"].clone();
    let taken = allow.as_array_mut().unwrap().remove(0);
    env.control(
        &format!("/tenants/{WOODGROVE}/exchange/HostedConnectionFilterPolicy/Default"),
        json!({ "IPAllowList": allow }),
    )
    .await;
    env.merge_account(
        "woodgrove",
        json!({"spec": {"inline": {"direction": "Inbound", "mailFlow": {"driftPolicy": "Correct"}}}}),
    )
    .await;
    let before = Untouched::now_of(&env, WOODGROVE).await;
    let plan = env.plan(&["woodgrove"]).await;
    before.assert_same_of(&env, WOODGROVE).await;
    let changes = lines(&plan);
    let member = format!(
        "+ tenant  member {} of DistributionGroup \"{group}\"",
        gone.as_str().unwrap()
    );
    let entry = format!(
        "~ tenant  HostedConnectionFilterPolicy \"Default\" (IPAllowList +{})",
        taken.as_str().unwrap()
    );
    for wanted in [
        member.as_str(),
        entry.as_str(),
        "- tenant  TransportRule \"exo-inline Route Outbound Mail to Service\"",
        "- tenant  OutboundConnector \"exo-inline Connector to Service (Outbound)\"",
    ] {
        assert!(
            changes.iter().any(|c| c == wanted),
            "{wanted} in {changes:#?}"
        );
    }
}
