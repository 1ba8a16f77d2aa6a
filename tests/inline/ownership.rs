//! One tenant, one account: a second inline account for the same tenant and application (same
//! name prefix) is reported as a conflict, changes nothing in the tenant, and its deletion
//! removes nothing of the first's.

use exo_sim_m365::tenants::DEMO_CLIENT_ID;
use serde_json::json;

use super::env::{Env, is, reason};
use super::{NORTHWIND, exchange, listed, names, northwind, request_check, world};

/// A second inline account `name` for northwind, with the same prefix as the first, through
/// another service (another relay, certificate and addresses).
async fn second_account(env: &Env, name: &str) {
    let mut other = env.sim_service("other");
    other["spec"]["mailFlow"] = json!({
        "smartHost": "relay.other.example.com",
        "tlsCertificateDomain": "*.other.example.com",
        "serviceIpRanges": ["192.0.2.0/24"],
    });
    let services: kube::Api<exo_api::EmailSecurityService> =
        kube::Api::default_namespaced(env.client.clone());
    if services.get_opt("other").await.unwrap().is_none() {
        env.create(other).await;
    }
    env.create(env.point_at_simulator(json!({
        "apiVersion": "exo-operator.io/v1alpha1", "kind": "ExchangeServiceAccount",
        "metadata": {"name": name},
        "spec": {
            // The same tenant, named by its GUID-resolving initial domain in capitals.
            "tenant": NORTHWIND.to_uppercase(), "mode": "Inline",
            "serviceRef": {"name": "other"},
            "application": {"clientId": DEMO_CLIENT_ID, "credentials": {"secretName": "northwind-app"}},
            "inline": {
                "direction": "InboundOutbound",
                "roleAssignment": {"mode": "Automatic"},
                "mailFlow": {
                    "namePrefix": "exo",
                    "driftPolicy": "Correct",
                },
            },
            "deletionPolicy": "Delete",
        },
    })))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_account_for_a_tenant_is_a_conflict_and_takes_nothing_over() {
    let env = Env::start(world(|_| {})).await;
    env.consent(NORTHWIND).await;
    northwind(&env, json!({"mode": "Automatic"}), "Correct").await;
    let first = env.wait_ready("northwind").await;
    env.settle().await;
    let before = exchange(&env, NORTHWIND).await;
    assert_eq!(listed(&before, "roleAssignments"), 1);
    assert_eq!(names(&before, "TransportRule").len(), 2);

    second_account(&env, "northwind-again").await;
    let second = env
        .wait_account("northwind-again", "the conflict reported", |e| {
            is(e, "TenantConflict") && reason(e, "Stalled", "ManagedByAnotherAccount")
        })
        .await;
    assert!(!is(&second, "Ready"));
    let conflict = super::message(&second, "TenantConflict");
    assert!(conflict.contains("northwind"), "{conflict}");
    env.settle().await;
    // Nothing changed in the tenant: markers, settings, the role.
    assert_eq!(exchange(&env, NORTHWIND).await, before);
    assert!(
        super::events(&env, "northwind-again", "TenantConflict")
            .await
            .len()
            == 1
    );

    // Deleting the second removes nothing of the first's.
    env.delete_account("northwind-again").await;
    env.settle().await;
    assert_eq!(exchange(&env, NORTHWIND).await, before);
    request_check(&env, "northwind").await;
    env.settle().await;
    let esa = env.wait_ready("northwind").await;
    assert!(is(&esa, "RoleAssigned") && is(&esa, "MailFlowConfigured"));
    assert_eq!(
        super::mail_flow_objects(&esa),
        super::mail_flow_objects(&first)
    );
    assert_eq!(exchange(&env, NORTHWIND).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_assigned_by_a_pass_that_then_fails_is_still_the_accounts_and_removed_with_it() {
    let env = Env::start(world(|_| {})).await;
    env.consent(NORTHWIND).await;
    // The tenant's mail domains cannot be read: every pass fails after asking for the role.
    env.fault(json!({"path": "GET /v1.0/domains", "status": 503}))
        .await;
    northwind(&env, json!({"mode": "Automatic"}), "Correct").await;
    super::wait_exchange(&env, NORTHWIND, "the role assigned", |s| {
        listed(s, "roleAssignments") == 1
    })
    .await;
    let esa = env
        .wait_account("northwind", "the failing pass reported", |e| {
            e.status
                .as_ref()
                .and_then(|s| s.mail_flow.as_ref())
                .is_some_and(|m| m.role_assignment_owned)
                && !is(e, "MailFlowConfigured")
        })
        .await;
    assert!(!is(&esa, "Ready"));
    env.settle().await;
    // Later writes of the failing passes keep what the intent log recorded.
    let esa = env.accounts().get("northwind").await.unwrap();
    assert!(super::mail_flow(&esa).role_assignment_owned);
    env.delete_account("northwind").await;
    assert_eq!(
        listed(&exchange(&env, NORTHWIND).await, "roleAssignments"),
        0
    );
}
