//! The real controller against the Kubernetes API emulator and the Microsoft 365 simulator,
//! over loopback: inline-mode grants end to end (role assignment, mail-flow objects, drift,
//! security-settings checks, restarts and complete cleanup): a role assigned directly or by
//! hand in `direct`, through PIM in `pim`; the helpers they share here.

#[path = "../support/env.rs"]
mod env;

mod direct;
mod kill_points;
mod observe;
mod ownership;
mod pim;
mod plan;
mod soak;

use std::time::Duration;

use env::{Env, TIMEOUT, until};
use exo_api::exchange_service_account::{ExchangeServiceAccount, MailFlowStatus};
use exo_sim_m365::SimOptions;
use exo_sim_m365::tenants::{DEMO_CLIENT_ID, DEMO_SECRET, demo};
use serde::Deserialize;
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
    let tenant = env.sim_tenant(tenant_id_or_name).await;
    json!({"exchange": tenant["exchange"], "roleAssignments": tenant["roleAssignments"], "pimRequests": tenant["pimRequests"]})
}

/// The names of the Exchange objects of `kind` in a tenant's state.
fn names(state: &Value, kind: &str) -> Vec<String> {
    state["exchange"][kind]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// How many entries list `key` (`roleAssignments`, `pimRequests`) of a tenant's state holds.
fn listed(state: &Value, key: &str) -> usize {
    state[key].as_array().unwrap().len()
}

/// The entries of the tenant's connection-filter allow list.
fn allow_list(state: &Value) -> Vec<String> {
    let list = &state["exchange"]["HostedConnectionFilterPolicy"]["Default"]["IPAllowList"];
    Vec::<String>::deserialize(list).unwrap_or_default()
}

/// Asks for a check of account `name` now, as `kubectl annotate` would.
async fn request_check(env: &Env, name: &str) {
    let now = jiff::Timestamp::now().to_string();
    env.merge_account(
        name,
        json!({"metadata": {"annotations": {"exo-operator.io/sync-requested-at": now}}}),
    )
    .await;
}

/// The messages of the Events `reason` of object `name`.
async fn events(env: &Env, name: &str, reason: &str) -> Vec<String> {
    env.event_messages(name, reason).await
}

/// Polls the simulator's Exchange state until `pred` holds.
async fn wait_exchange(
    env: &Env,
    tenant: &str,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    until(TIMEOUT, Duration::from_millis(100), async || {
        let state = exchange(env, tenant).await;
        match pred(&state) {
            true => Ok(state),
            false => Err(format!("{what}: {state:#}")),
        }
    })
    .await
}

/// Changes northwind's mail flow by hand: the inbound rule deleted, the inbound connector's
/// enhanced-filtering skip list emptied.
async fn drift_by_hand(env: &Env) {
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
}

/// Deletes account `name`, waits until it is gone and checks that `tenant` holds no
/// connector, rule or group any more; returns the tenant's state.
async fn delete_and_check_nothing_owned_is_left(env: &Env, name: &str, tenant: &str) -> Value {
    env.delete_account(name).await;
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

/// Asserts that `text` mentions each of `needles`.
fn assert_mentions(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "{needle} not in: {text}");
    }
}

/// The message of an account's condition `type_` (empty if it has none).
fn message(esa: &ExchangeServiceAccount, type_: &str) -> String {
    esa.status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == type_))
        .map(|c| c.message.clone())
        .unwrap_or_default()
}

/// The mail-flow part of an account's status (which must be there).
fn mail_flow(esa: &ExchangeServiceAccount) -> &MailFlowStatus {
    esa.status
        .as_ref()
        .and_then(|s| s.mail_flow.as_ref())
        .unwrap()
}

/// The Exchange objects an account's status lists as configured.
fn mail_flow_objects(esa: &ExchangeServiceAccount) -> Vec<String> {
    esa.status
        .as_ref()
        .and_then(|s| s.mail_flow.as_ref())
        .map(|m| m.objects.clone())
        .unwrap_or_default()
}
