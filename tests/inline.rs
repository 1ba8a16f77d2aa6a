//! The real controller against the Kubernetes API emulator and the Microsoft 365 simulator,
//! over loopback: inline-mode grants end to end (role assignment, mail-flow objects, drift,
//! security-settings checks, restarts and complete cleanup).

#[path = "support/env.rs"]
mod env;

use std::time::Duration;

use env::{Env, TIMEOUT, is, reason};
use exo_api::exchange_service_account::ExchangeServiceAccount;
use exo_sim_m365::SimOptions;
use exo_sim_m365::tenants::{DEMO_CLIENT_ID, DEMO_SECRET, demo};
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

const NORTHWIND: &str = "northwind.onmicrosoft.com";
const WOODGROVE: &str = "woodgrove.onmicrosoft.com";

/// Simulator options with `edit` applied to the demo world.
fn world(edit: impl Fn(&mut exo_sim_m365::tenants::TenantSpec)) -> SimOptions {
    let mut tenants = demo();
    for t in &mut tenants.tenants {
        edit(t);
    }
    SimOptions {
        tenants,
        ..Env::fast()
    }
}

async fn consent(env: &Env, tenant: &str) {
    env.control(
        &format!("/tenants/{tenant}/consent"),
        json!({"clientId": DEMO_CLIENT_ID}),
    )
    .await;
}

/// Creates an inline account for northwind with a client secret.
async fn northwind(env: &Env, role: Value, drift: &str) {
    env.create(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "northwind-app", },
        "stringData": {"client-secret": DEMO_SECRET},
    }))
    .await;
    env.create(env.point_at_simulator(json!({
        "apiVersion": "exo-operator.io/v1alpha1", "kind": "ExchangeServiceAccount",
        "metadata": {"name": "northwind", },
        "spec": {
            "tenant": NORTHWIND, "mode": "Inline",
            "application": {"clientId": DEMO_CLIENT_ID, "credentials": {"secretName": "northwind-app"}},
            "inline": {
                "direction": "Inbound",
                "roleAssignment": role,
                "mailFlow": {
                    "smartHost": "relay.mail-security.example.com",
                    "tlsCertificateDomain": "*.mail-security.example.com",
                    "serviceIpRanges": ["203.0.113.0/24", "198.51.100.10"],
                    "namePrefix": "exo",
                    "driftPolicy": drift,
                },
            },
            "deletionPolicy": "Delete",
        },
    })))
    .await;
}

/// The simulator's Exchange objects of `tenant`: kind to name to object.
async fn exchange(env: &Env, tenant_id_or_name: &str) -> Value {
    let state = env
        .get_json(&format!("{}/_sim/state", env.m365.url()))
        .await;
    let tenant = state["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| {
            t["id"] == tenant_id_or_name
                || t["domains"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|d| d == tenant_id_or_name)
        })
        .unwrap()
        .clone();
    json!({"exchange": tenant["exchange"], "roleAssignments": tenant["roleAssignments"], "pimRequests": tenant["pimRequests"]})
}

fn names(state: &Value, kind: &str) -> Vec<String> {
    state["exchange"][kind]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

fn allow_list(state: &Value) -> Vec<String> {
    state["exchange"]["HostedConnectionFilterPolicy"]["Default"]["IPAllowList"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

async fn request_check(env: &Env, name: &str) {
    let now = jiff::Timestamp::now().to_string();
    env.merge_account(
        name,
        json!({"metadata": {"annotations": {"exo-operator.io/sync-requested-at": now}}}),
    )
    .await;
}

async fn events(env: &Env, name: &str, reason: &str) -> Vec<String> {
    let api: Api<Event> = Api::default_namespaced(env.client.clone());
    api.list(&ListParams::default().fields(&format!("involvedObject.name={name}")))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .filter_map(|e| e.message)
        .collect()
}

/// Polls the simulator's Exchange state until `pred` holds.
async fn wait_exchange(
    env: &Env,
    tenant: &str,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let state = exchange(env, tenant).await;
        if pred(&state) {
            return state;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}: {state:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Deletes account `name`, waits until it is gone and checks that `tenant` holds no
/// connector, rule or group any more; returns the tenant's state.
async fn delete_and_check_nothing_owned_is_left(env: &Env, name: &str, tenant: &str) -> Value {
    env.accounts()
        .delete(name, &DeleteParams::default())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while env.accounts().get_opt(name).await.unwrap().is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the account was not deleted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let state = exchange(env, tenant).await;
    for kind in [
        "TransportRule",
        "OutboundConnector",
        "InboundConnector",
        "DistributionGroup",
    ] {
        assert!(names(&state, kind).is_empty(), "{kind} left: {state:#}");
    }
    state
}

fn message(esa: &ExchangeServiceAccount, type_: &str) -> String {
    esa.status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == type_))
        .map(|c| c.message.clone())
        .unwrap_or_default()
}

fn mail_flow_objects(esa: &ExchangeServiceAccount) -> Vec<String> {
    esa.status
        .as_ref()
        .and_then(|s| s.mail_flow.as_ref())
        .map(|m| m.objects.clone())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_inbound_with_direct_assignment_corrects_drift_and_cleans_up_completely() {
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
    consent(&env, NORTHWIND).await;
    northwind(&env, json!({"mode": "Automatic"}), "Correct").await;

    // Assigned directly, then the role takes a while to reach Exchange.
    env.wait_account("northwind", "the role propagating", |e| {
        reason(e, "RoleAssigned", "RolePropagating")
    })
    .await;
    let state = exchange(&env, NORTHWIND).await;
    assert_eq!(state["roleAssignments"].as_array().unwrap().len(), 1);
    assert!(names(&state, "TransportRule").is_empty());
    env.control("/clock/advance", json!({"seconds": 130})).await;
    let esa = env
        .wait_account("northwind", "Ready", |e| is(e, "Ready"))
        .await;
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
        esa.status
            .as_ref()
            .unwrap()
            .mail_flow
            .as_ref()
            .unwrap()
            .allow_list_entries,
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
    env.control_delete(
        &format!("/tenants/{NORTHWIND}/exchange/TransportRule/exo Route Inbound Mail to Service"),
        json!({}),
    )
    .await;
    env.control(
        &format!("/tenants/{NORTHWIND}/exchange/InboundConnector/exo Connector from Service"),
        json!({"EFSkipIPs": []}),
    )
    .await;
    request_check(&env, "northwind").await;
    wait_exchange(&env, NORTHWIND, "the restored rule and connector", |s| {
        names(s, "TransportRule").len() == 2
            && s["exchange"]["InboundConnector"]["exo Connector from Service"]["EFSkipIPs"]
                .as_array()
                .is_some_and(|a| a.len() == 2)
    })
    .await;
    // The Event of the last write follows it: allow it a moment.
    let mut corrected = Vec::new();
    for _ in 0..50 {
        corrected = events(&env, "northwind", "MailFlowCorrected").await;
        if corrected.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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
    assert!(state["roleAssignments"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pim_approval_then_outbound_upgrade_and_back_with_reported_drift_and_membership() {
    let env = Env::start(world(|t| {
        if t.display_name == "Woodgrove Bank" {
            t.pim_approval = true;
        }
    }))
    .await;
    consent(&env, WOODGROVE).await;
    env.apply_example("inline-inbound-outbound-pim.yaml").await;

    let esa = env
        .wait_account("woodgrove", "the PIM request pending", |e| {
            reason(e, "RoleAssigned", "PendingApproval")
        })
        .await;
    assert!(is(&esa, "Stalled") && !is(&esa, "Ready"));
    assert!(
        esa.status
            .as_ref()
            .unwrap()
            .mail_flow
            .as_ref()
            .unwrap()
            .role_request_id
            .is_some()
    );
    let state = exchange(&env, WOODGROVE).await;
    assert_eq!(
        state["pimRequests"].as_array().unwrap().len(),
        1,
        "asked once"
    );
    env.control(
        &format!("/tenants/{WOODGROVE}/pim-requests/approve"),
        json!({}),
    )
    .await;
    let esa = env
        .wait_account("woodgrove", "Ready after approval", |e| is(e, "Ready"))
        .await;
    assert_eq!(mail_flow_objects(&esa).len(), 8);
    let state = exchange(&env, WOODGROVE).await;
    assert_eq!(
        state["pimRequests"].as_array().unwrap().len(),
        1,
        "no second request"
    );
    let members = |s: &Value, group: &str| -> Vec<String> {
        let mut m: Vec<String> = s["exchange"]["DistributionGroup"][group]["Members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        m.sort();
        m
    };
    assert_eq!(
        members(&state, "exo-inline Inbound Protected Users"),
        [
            "alice@woodgrove.com",
            "bob@woodgrove.com",
            "chair@woodgrove.com",
            "trader@woodgrove.com"
        ]
    );
    let out_rule = &state["exchange"]["TransportRule"]["exo-inline Route Outbound Mail to Service"];
    assert_eq!(
        out_rule["FromMemberOf"],
        json!(["exo-inline Outbound Protected Users"])
    );

    // Drift policy Report: a deleted rule is reported, not re-created.
    env.control_delete(
        &format!("/tenants/{WOODGROVE}/exchange/TransportRule/exo-inline Skip Spam Filtering for Mail from Service"),
        json!({}),
    )
    .await;
    request_check(&env, "woodgrove").await;
    let esa = env
        .wait_account("woodgrove", "drift reported", |e| is(e, "MailFlowDrifted"))
        .await;
    assert!(!is(&esa, "Ready"));
    let text = message(&esa, "MailFlowDrifted");
    assert!(
        text.contains("Skip Spam Filtering for Mail from Service: deleted"),
        "{text}"
    );
    assert_eq!(
        names(&exchange(&env, WOODGROVE).await, "TransportRule").len(),
        2
    );

    // Back to Inbound (and drift policy Correct): the outbound set goes, the rule comes back.
    env.merge_account("woodgrove", json!({"spec": {"inline": {"direction": "Inbound", "mailFlow": {"driftPolicy": "Correct"}}}})).await;
    let state = wait_exchange(&env, WOODGROVE, "the outbound set removed", |s| {
        names(s, "OutboundConnector") == ["exo-inline Connector to Service (Inbound)"]
            && names(s, "TransportRule").len() == 2
            && names(s, "DistributionGroup") == ["exo-inline Inbound Protected Users"]
    })
    .await;
    assert!(
        names(&state, "TransportRule")
            .contains(&"exo-inline Skip Spam Filtering for Mail from Service".to_string())
    );
    let esa = env
        .wait_account("woodgrove", "Ready as Inbound", |e| {
            is(e, "Ready") && mail_flow_objects(e).len() == 5
        })
        .await;
    assert!(!is(&esa, "MailFlowDrifted"));

    // Upgrade again: the outbound set is created without a new grant.
    env.merge_account(
        "woodgrove",
        json!({"spec": {"inline": {"direction": "InboundOutbound"}}}),
    )
    .await;
    env.wait_account("woodgrove", "Ready as InboundOutbound", |e| {
        is(e, "Ready") && mail_flow_objects(e).len() == 8
    })
    .await;

    // The SyncTargetList shrinks: the groups follow.
    env.lists()
        .patch(
            "woodgrove-protected",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"users": ["alice@woodgrove.com"], "groups": []}})),
        )
        .await
        .unwrap();
    wait_exchange(&env, WOODGROVE, "the groups reduced to alice", |s| {
        members(s, "exo-inline Inbound Protected Users") == ["alice@woodgrove.com"]
            && members(s, "exo-inline Outbound Protected Users") == ["alice@woodgrove.com"]
    })
    .await;
    assert_eq!(state["pimRequests"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_role_assignment_is_detected_and_a_bypassing_rule_fails_the_security_check() {
    let env = Env::start(Env::fast()).await;
    consent(&env, NORTHWIND).await;
    northwind(&env, json!({"mode": "Manual"}), "Correct").await;
    let esa = env
        .wait_account("northwind", "the manual steps", |e| {
            reason(e, "RoleAssigned", "ManualAssignmentRequired")
        })
        .await;
    assert!(is(&esa, "Stalled"));
    let text = message(&esa, "RoleAssigned");
    assert!(
        text.contains(DEMO_CLIENT_ID) && text.contains("Exchange Administrator"),
        "{text}"
    );
    let state = exchange(&env, NORTHWIND).await;
    assert!(
        state["roleAssignments"].as_array().unwrap().is_empty(),
        "the operator assigned nothing"
    );

    // An administrator assigns the role in the admin center.
    env.control(
        &format!("/tenants/{NORTHWIND}/role-assignments"),
        json!({"appId": DEMO_CLIENT_ID}),
    )
    .await;
    env.wait_account("northwind", "Ready", |e| is(e, "Ready"))
        .await;

    // Someone puts a rule that stops processing above the routing rule.
    env.control(
        &format!("/tenants/{NORTHWIND}/exchange/TransportRule/Customer bypass"),
        json!({"Identity": "Customer bypass", "Name": "Customer bypass", "Priority": -1, "State": "Enabled", "StopRuleProcessing": true}),
    )
    .await;
    request_check(&env, "northwind").await;
    let esa = env
        .wait_account("northwind", "the failed check", |e| {
            reason(e, "SecuritySettingsVerified", "ChecksFailed")
        })
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
    consent(&env, NORTHWIND).await;
    // Every Exchange call is slow, so the stop lands between two writes.
    env.control(
        "/faults",
        json!({"path": "POST /adminapi/.*", "latencyMs": 150}),
    )
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
    assert_eq!(state["roleAssignments"].as_array().unwrap().len(), 1);
    // No Exchange write was refused as a duplicate.
    let logs = String::from_utf8_lossy(&env::LOGS.lock().unwrap()).into_owned();
    assert!(
        !logs.contains("already exists"),
        "a duplicate was attempted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reported_drift_names_fields_and_each_failed_security_check_without_changing_anything() {
    let env = Env::start(Env::fast()).await;
    consent(&env, WOODGROVE).await;
    env.apply_example("inline-inbound-outbound-pim.yaml").await;
    env.wait_account("woodgrove", "Ready", |e| is(e, "Ready"))
        .await;
    let connector =
        format!("/tenants/{WOODGROVE}/exchange/InboundConnector/exo-inline Connector from Service");

    // Enhanced filtering switched off and the service's allow-list entry removed, out of band.
    env.control(&connector, json!({"EFSkipIPs": []})).await;
    env.control(
        &format!("/tenants/{WOODGROVE}/exchange/HostedConnectionFilterPolicy/Default"),
        json!({"IPAllowList": ["192.0.2.55"]}),
    )
    .await;
    // A protected user in a domain the tenant has not verified for e-mail.
    env.control(
        &format!("/tenants/{WOODGROVE}/users"),
        json!({"upn": "guest@partner.example"}),
    )
    .await;
    env.lists()
        .patch(
            "woodgrove-protected",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"spec": {"users": ["alice@woodgrove.com", "guest@partner.example"]}}),
            ),
        )
        .await
        .unwrap();
    request_check(&env, "woodgrove").await;
    let esa = env
        .wait_account("woodgrove", "drift and failed checks", |e| {
            is(e, "MailFlowDrifted")
                && message(e, "SecuritySettingsVerified").contains("DomainsVerified")
        })
        .await;
    let drift = message(&esa, "MailFlowDrifted");
    assert!(
        drift.contains("InboundConnector/exo-inline Connector from Service: EFSkipIPs"),
        "{drift}"
    );
    assert!(
        drift.contains("IPAllowList lacks 203.0.113.0/24"),
        "{drift}"
    );
    let checks = message(&esa, "SecuritySettingsVerified");
    assert!(
        checks.contains("EnhancedFiltering: the inbound connector does not skip 203.0.113.0/24"),
        "{checks}"
    );
    assert!(
        checks.contains("AllowList: the connection filter policy does not allow 203.0.113.0/24"),
        "{checks}"
    );
    assert!(
        checks.contains("DomainsVerified: not verified for e-mail: partner.example"),
        "{checks}"
    );
    let failed = &esa
        .status
        .as_ref()
        .unwrap()
        .mail_flow
        .as_ref()
        .unwrap()
        .failed_checks;
    assert_eq!(failed.len(), 3, "{failed:?}");
    assert!(!is(&esa, "Ready"));
    // Report changes nothing.
    let state = exchange(&env, WOODGROVE).await;
    assert_eq!(
        state["exchange"]["InboundConnector"]["exo-inline Connector from Service"]["EFSkipIPs"],
        json!([])
    );
    assert_eq!(allow_list(&state), ["192.0.2.55"]);

    // Deletion removes the groups too, and only the operator's entries.
    let state = delete_and_check_nothing_owned_is_left(&env, "woodgrove", WOODGROVE).await;
    assert_eq!(allow_list(&state), ["192.0.2.55"]);
    assert!(
        state["roleAssignments"].as_array().unwrap().is_empty(),
        "the role assigned through PIM is removed"
    );
}
