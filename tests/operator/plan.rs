//! `exo-operator plan` of an API-mode account whose service receives the directory and change
//! notifications: what its first reconcile would do (the activity subscriptions, a Graph
//! subscription per mailbox, the service's registration and directory, the sync-state
//! ConfigMap) while nothing changes in the tenant, the service or the cluster; after the
//! reconcile, nothing left to plan; a mailbox's subscription gone, the plan says so.

use reqwest::Method;
use serde_json::{Value, json};

use crate::env::Env;

const TENANT: &str = "contoso.onmicrosoft.com";

/// What a plan must leave as it was: the tenant (its state and subscriptions), what the
/// service received, and the cluster's writes.
#[derive(Debug, PartialEq)]
struct World {
    tenant: Value,
    subscriptions: Value,
    service: Value,
    writes: usize,
}

async fn world(env: &Env) -> World {
    World {
        tenant: env.sim_tenant(TENANT).await,
        subscriptions: env
            .control_with(
                Method::GET,
                &format!("/tenants/{TENANT}/subscriptions"),
                json!({}),
            )
            .await,
        service: env.service_read("/counters").await,
        writes: env.writes(),
    }
}

/// The plan's changes, `action target object`.
fn changes(plan: &exo_operator::plan::Plan) -> Vec<String> {
    let json = serde_json::to_value(plan).unwrap();
    json["accounts"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| format!("{} {} {}", c["action"], c["target"], c["object"]).replace('"', ""))
        .collect()
}

#[tokio::test]
async fn a_plan_of_an_api_account_lists_its_first_reconcile_and_changes_nothing() {
    let mut env = Env::start(Env::fast()).await;
    env.stop_operator().await;
    env.consent(TENANT).await;
    env.apply_example("email-security-service.yaml").await;
    let users = env.sim_tenant(TENANT).await["users"].as_u64().unwrap();

    // Planned from the file, before it is applied: a new account, nothing created.
    let before = world(&env).await;
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/api-all-users.yaml");
    let (code, out) = env.plan_command(&["-f", file, "-o", "json"]).await;
    assert_eq!(code, Some(2), "{out}");
    assert_eq!(world(&env).await, before, "a plan changes nothing");
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["accounts"][0]["exists"], false, "{json:#}");
    assert_eq!(json["changes"], 6, "{json:#}");
    assert!(env.accounts().get_opt("contoso").await.unwrap().is_none());
    env.apply_example("api-all-users.yaml").await;

    let before = world(&env).await;
    let plan = env.plan(&["contoso"]).await;
    assert_eq!(world(&env).await, before, "a plan changes nothing");
    let planned = changes(&plan);
    let tenant_id = env.sim_tenant(TENANT).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let expected = [
        format!(
            "create tenant {users} Microsoft Graph change-notification subscriptions to mailbox folders"
        ),
        "create tenant activity feed subscription Audit.AzureActiveDirectory".into(),
        "create tenant activity feed subscription Audit.Exchange".into(),
        "create tenant activity feed subscription Audit.General".into(),
        format!(
            "send service registration of tenant {tenant_id} and the directory's users with the EmailSecurityService/email-security"
        ),
        "create cluster ConfigMap contoso-sync-state".into(),
    ];
    assert_eq!(planned, expected);
    assert_eq!(plan.changes, expected.len());

    // Reconciled: the plan finds nothing to do.
    env.start_operator().await;
    env.wait_account("contoso", "every mailbox subscribed", |e| {
        e.status
            .as_ref()
            .and_then(|s| s.protection.as_ref())
            .is_some_and(|p| p.protected == users as i64 && p.subscribed == p.protected)
    })
    .await;
    env.wait_ready("contoso").await;
    env.stop_operator().await;
    let plan = env.plan(&["contoso"]).await;
    assert_eq!(plan.changes, 0, "{:#?}", changes(&plan));
    let protection = plan.accounts[0]
        .conditions
        .iter()
        .find(|c| c.type_ == "ProtectionActive")
        .unwrap();
    assert_eq!(protection.status, "True", "{protection:?}");

    // A subscription Graph removed (its lifecycle notification unheard: the operator is
    // stopped): the plan creates it again.
    let subscriptions = world(&env).await.subscriptions;
    let id = subscriptions["value"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/tenants/{TENANT}/subscriptions/{id}/lifecycle");
    env.control(&path, json!({"lifecycleEvent": "subscriptionRemoved"}))
        .await;
    let before = world(&env).await;
    let plan = env.plan(&["contoso"]).await;
    assert_eq!(world(&env).await, before, "a plan changes nothing");
    assert_eq!(
        changes(&plan),
        ["create tenant 1 Microsoft Graph change-notification subscriptions to mailbox folders"]
    );
}

#[tokio::test]
async fn an_observed_api_account_reports_its_plan_and_writes_nothing_until_managed() {
    let env = Env::start(Env::fast()).await;
    env.consent(TENANT).await;
    env.apply_example("email-security-service.yaml").await;
    let before = world(&env).await;
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/api-all-users.yaml"
    ))
    .unwrap();
    let mut account: Value = text
        .split("\n---")
        .filter_map(|d| serde_saphyr::from_str::<Value>(d).ok())
        .find(|d| d["kind"] == "ExchangeServiceAccount")
        .unwrap();
    account["spec"]["managementPolicy"] = json!("Observe");
    account["metadata"]["namespace"] = json!(env.ns());
    env.create(env.point_at_simulator(account)).await;
    let esa = env
        .wait_account("contoso", "Ready Observing with a plan", |e| {
            crate::env::reason(e, "Ready", "Observing")
                && e.status
                    .as_ref()
                    .is_some_and(|s| s.planned_changes.len() == 5)
        })
        .await;
    let planned: Vec<String> = esa
        .status
        .unwrap()
        .planned_changes
        .iter()
        .map(|c| format!("{} {}", c.action, c.target))
        .collect();
    assert_eq!(
        planned,
        [
            "create tenant",
            "create tenant",
            "create tenant",
            "create tenant",
            "send service"
        ]
    );
    env.settle().await;
    let after = world(&env).await;
    assert_eq!(after.tenant, before.tenant, "nothing written to the tenant");
    assert_eq!(after.subscriptions, before.subscriptions);
    // (The service's status probe reads its health: a request, not a delivery.)
    for what in ["tenants", "notifications"] {
        assert_eq!(
            after.service[what], before.service[what],
            "nothing sent to the service"
        );
    }

    // Managed: carried out.
    env.merge_account("contoso", json!({"spec": {"managementPolicy": "Manage"}}))
        .await;
    let users = env.sim_tenant(TENANT).await["users"].as_i64().unwrap();
    env.wait_account("contoso", "Ready and every mailbox subscribed", |e| {
        crate::env::reason(e, "Ready", "Ready")
            && e.status
                .as_ref()
                .and_then(|s| s.protection.as_ref())
                .is_some_and(|p| p.protected == users && p.subscribed == users)
            && e.status
                .as_ref()
                .is_some_and(|s| s.planned_changes.is_empty())
    })
    .await;

    // Observed again, then deleted (deletionPolicy Delete): nothing is released, nothing is
    // deregistered; the tenant and the service keep what the account made.
    env.merge_account("contoso", json!({"spec": {"managementPolicy": "Observe"}}))
        .await;
    env.wait_account("contoso", "observing again", |e| {
        crate::env::reason(e, "Ready", "Observing")
    })
    .await;
    let kept = world(&env).await;
    env.delete_account("contoso").await;
    let after = world(&env).await;
    assert_eq!(
        after.subscriptions, kept.subscriptions,
        "subscriptions kept"
    );
    assert_eq!(after.tenant, kept.tenant, "activity subscriptions kept");
    assert_eq!(
        after.service["tenants"], kept.service["tenants"],
        "still registered"
    );
}

#[tokio::test]
async fn a_plan_of_a_device_code_account_no_one_signed_in_to_prompts_no_one() {
    let mut env = Env::start(Env::fast()).await;
    env.stop_operator().await;
    env.apply_example("api-selected-users.yaml").await;
    let writes = env.writes();
    let plan = env.plan(&["fabrikam"]).await;
    assert_eq!(
        env.m365.with_world(|w| w.device_codes.len()),
        0,
        "no sign-in was opened"
    );
    assert_eq!(plan.changes, 0, "{plan:?}");
    let ready = plan.accounts[0]
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(ready.status, "False", "{ready:?}");
    assert_eq!(env.writes(), writes, "nothing written to the cluster");
}
