//! Inline mode with a role assigned directly or by hand: role propagation, drift corrected,
//! complete cleanup, a bypassing rule that fails the security check, and an operator killed
//! between Exchange writes.

use std::time::Duration;

use exo_sim_m365::tenants::DEMO_CLIENT_ID;
use serde_json::json;

use super::env::{self, Env, is, settled};
use super::{
    NORTHWIND, allow_list, delete_and_check_nothing_owned_is_left, events, exchange, listed,
    mail_flow, mail_flow_objects, message, names, northwind, request_check, wait_exchange, world,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_inbound_with_direct_assignment_corrects_drift_and_cleans_up_completely() {
    // Over 80 lines on purpose: one scenario, whose steps depend on one another, read top to bottom.
    let env = Env::start(world(|t| {
        if t.display_name == "Northwind Traders" {
            t.role_propagation_seconds = 120;
        }
    }))
    .await;
    // The customer's own allow-list entry, which must survive everything.
    env.control(
        &format!("/tenants/{NORTHWIND}/exchange/HostedConnectionFilterPolicy/Default"),
        json!({"Identity": "Default", "Name": "Default", "Guid": "c0ffee", "IPAllowList": ["192.0.2.55"], "IPBlockList": []}),
    )
    .await;
    env.consent(NORTHWIND).await;
    northwind(&env, json!({"mode": "Automatic"}), "Correct").await;

    // Assigned directly, then the role takes a while to reach Exchange.
    env.wait_reason("northwind", "RoleAssigned", "RolePropagating")
        .await;
    let state = exchange(&env, NORTHWIND).await;
    assert_eq!(listed(&state, "roleAssignments"), 1);
    assert!(names(&state, "TransportRule").is_empty());
    env.control("/clock/advance", json!({"seconds": 130})).await;
    let esa = env.wait_ready("northwind").await;
    assert!(is(&esa, "SecuritySettingsVerified") && !is(&esa, "MailFlowDrifted"));
    assert_eq!(mail_flow_objects(&esa).len(), 4);
    let state = exchange(&env, NORTHWIND).await;
    assert_eq!(
        names(&state, "TransportRule"),
        [
            "exo Route Inbound Mail to Service",
            "exo Skip Spam Filtering for Mail from Service"
        ]
    );
    assert_eq!(
        names(&state, "OutboundConnector"),
        ["exo Connector to Service (Inbound)"]
    );
    assert_eq!(
        names(&state, "InboundConnector"),
        ["exo Connector from Service"]
    );
    let rule = &state["exchange"]["TransportRule"]["exo Route Inbound Mail to Service"];
    assert_eq!(
        rule["RecipientDomainIs"],
        json!(["northwind.onmicrosoft.com", "northwindtraders.com"])
    );
    assert_eq!(rule["Priority"], 0);
    assert_eq!(
        allow_list(&state),
        ["192.0.2.55", "203.0.113.0/24", "198.51.100.10"]
    );
    assert_eq!(
        mail_flow(&esa).allow_list_entries,
        ["203.0.113.0/24", "198.51.100.10"]
    );
    // A reconcile with nothing due (here, after a label change) reads nothing from the tenant
    // and writes nothing.
    env.settle().await;
    let writes = env.writes();
    let calls = env.m365.counters().values().sum::<u64>();
    env.merge_account(
        "northwind",
        json!({"metadata": {"labels": {"team": "mail"}}}),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(env.writes(), writes + 1, "{:?}", &env.audit()[writes..]);
    assert_eq!(env.m365.counters().values().sum::<u64>(), calls);

    // The routing token is a secret: only in the Secret and the tenant's rules.
    assert!(
        !serde_json::to_string(&esa)
            .unwrap()
            .contains(rule["SetHeaderValue"].as_str().unwrap())
    );

    // Out-of-band changes are restored on demand, each with an Event.
    super::drift_by_hand(&env).await;
    request_check(&env, "northwind").await;
    wait_exchange(&env, NORTHWIND, "the restored rule and connector", |s| {
        names(s, "TransportRule").len() == 2
            && s["exchange"]["InboundConnector"]["exo Connector from Service"]["EFSkipIPs"]
                .as_array()
                .is_some_and(|a| a.len() == 2)
    })
    .await;
    // The Event of the last write follows it: allow it a moment.
    let corrected = settled(
        50,
        Duration::from_millis(100),
        async || events(&env, "northwind", "MailFlowCorrected").await,
        |corrected| corrected.len() >= 2,
    )
    .await;
    assert!(
        corrected
            .iter()
            .any(|m| m.contains("Re-created TransportRule/exo Route Inbound Mail to Service")),
        "{corrected:?}"
    );
    assert!(
        corrected.iter().any(|m| m.contains("EFSkipIPs")),
        "{corrected:?}"
    );

    // Deletion removes everything the operator created, and the role, and nothing else.
    let state = delete_and_check_nothing_owned_is_left(&env, "northwind", NORTHWIND).await;
    assert_eq!(allow_list(&state), ["192.0.2.55"]);
    assert_eq!(listed(&state, "roleAssignments"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_role_assignment_is_detected_and_a_bypassing_rule_fails_the_security_check() {
    let env = Env::start(Env::fast()).await;
    env.consent(NORTHWIND).await;
    northwind(&env, json!({"mode": "Manual"}), "Correct").await;
    let esa = env
        .wait_reason("northwind", "RoleAssigned", "ManualAssignmentRequired")
        .await;
    assert!(is(&esa, "Stalled"));
    let text = message(&esa, "RoleAssigned");
    assert!(
        text.contains(DEMO_CLIENT_ID) && text.contains("Exchange Administrator"),
        "{text}"
    );
    let state = exchange(&env, NORTHWIND).await;
    assert_eq!(
        listed(&state, "roleAssignments"),
        0,
        "the operator assigned nothing"
    );

    // An administrator assigns the role in the admin center.
    env.control(
        &format!("/tenants/{NORTHWIND}/role-assignments"),
        json!({"appId": DEMO_CLIENT_ID}),
    )
    .await;
    env.wait_ready("northwind").await;

    // Someone puts a rule that stops processing above the routing rule.
    env.control(
        &format!("/tenants/{NORTHWIND}/exchange/TransportRule/Customer bypass"),
        json!({"Identity": "Customer bypass", "Name": "Customer bypass", "Priority": -1, "State": "Enabled", "StopRuleProcessing": true}),
    )
    .await;
    request_check(&env, "northwind").await;
    let esa = env
        .wait_reason("northwind", "SecuritySettingsVerified", "ChecksFailed")
        .await;
    let text = message(&esa, "SecuritySettingsVerified");
    assert!(
        text.contains("NoBypassRule") && text.contains("Customer bypass"),
        "{text}"
    );
    assert!(!is(&esa, "Ready"));
    // The customer's rule is not the operator's: it is left alone.
    let state = exchange(&env, NORTHWIND).await;
    assert!(names(&state, "TransportRule").contains(&"Customer bypass".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_stopped_between_exchange_writes_converges_without_duplicates() {
    let mut env = Env::start(Env::fast()).await;
    env.consent(NORTHWIND).await;
    // Every Exchange call is slow, so the stop lands between two writes.
    env.fault(json!({"path": "POST /adminapi/.*", "latencyMs": 150}))
        .await;
    northwind(&env, json!({"mode": "Automatic"}), "Correct").await;
    wait_exchange(&env, NORTHWIND, "a first object", |s| {
        !names(s, "OutboundConnector").is_empty()
    })
    .await;
    env.kill_operator().await;
    let partial = exchange(&env, NORTHWIND).await;
    let before = names(&partial, "TransportRule").len();
    assert!(before < 2, "stopped mid-way: {partial:#}");
    env.control_delete("/faults", json!({})).await;
    env.start_operator().await;
    let esa = env
        .wait_account("northwind", "Ready after the restart", |e| is(e, "Ready"))
        .await;
    let objects = mail_flow_objects(&esa);
    let mut unique = objects.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(objects.len(), 4);
    assert_eq!(unique.len(), 4, "{objects:?}");
    let state = exchange(&env, NORTHWIND).await;
    assert_eq!(names(&state, "TransportRule").len(), 2);
    assert_eq!(names(&state, "OutboundConnector").len(), 1);
    assert_eq!(names(&state, "InboundConnector").len(), 1);
    assert_eq!(listed(&state, "roleAssignments"), 1);
    // No Exchange write was refused as a duplicate.
    let logs = String::from_utf8_lossy(&env::LOGS.lock().unwrap()).into_owned();
    assert!(
        !logs.contains("already exists"),
        "a duplicate was attempted"
    );
}
