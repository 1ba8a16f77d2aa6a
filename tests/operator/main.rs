//! The real controller against the Kubernetes API emulator and the Microsoft 365 simulator,
//! over loopback: API-mode grants end to end. Consent, sign-in and notifications in `consent`,
//! SyncTargetLists in `lists`, the EmailSecurityServices accounts name in `services`, retries, deletion, secrecy and the HTTP port in `runtime`; the
//! helpers they share here.

#[path = "../support/env.rs"]
mod env;
#[path = "../support/smtp.rs"]
mod smtp;

mod bounds;
mod channels;
mod consent;
mod deliveries;
mod grants;
mod kill_points;
mod lists;
mod plan;
mod protection;
mod runtime;
mod services;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use env::Env;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

/// Replaces a Secret's data.
async fn set_secret(env: &Env, name: &str, data: Value) {
    let secrets: Api<Secret> = Api::default_namespaced(env.client.clone());
    secrets
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"data": null, "stringData": data})),
        )
        .await
        .unwrap();
}

/// Revokes contoso's admin consent, as a Global Administrator would, and waits until the
/// account reports it.
async fn revoke_contoso_consent(
    env: &Env,
) -> exo_api::exchange_service_account::ExchangeServiceAccount {
    env.control_delete(
        "/tenants/contoso.com/consent",
        json!({"clientId": exo_sim_m365::tenants::DEMO_CLIENT_ID}),
    )
    .await;
    env.wait_reason("contoso", "TokenValid", "ConsentRequired")
        .await
}

/// How many Events `reason` of object `name` there are.
async fn count_events(env: &Env, name: &str, reason: &str) -> usize {
    env.event_messages(name, reason).await.len()
}

/// The number of Events `reason` of `name` once at least `expected` have arrived (an Event
/// follows the status write that a test waits for, later on a busy real server), or after the
/// deadline.
async fn events_once_arrived(env: &Env, name: &str, reason: &str, expected: usize) -> usize {
    let every = Duration::from_millis(50);
    let tries = (env::TIMEOUT.as_millis() / every.as_millis()) as usize;
    env::settled(
        tries,
        every,
        async || count_events(env, name, reason).await,
        |count| *count >= expected,
    )
    .await
}

/// A webhook receiver: its URL, and every JSON body posted to it.
async fn webhook() -> (String, Arc<Mutex<Vec<Value>>>) {
    let seen: Arc<Mutex<Vec<Value>>> = Default::default();
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push(v);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

/// Creates SyncTargetList `name` for account contoso with `spec` (users, groups).
async fn contoso_list(env: &Env, name: &str, mut spec: Value) {
    spec["serviceAccountRef"] = json!({"name": "contoso"});
    env.create(
        json!({"apiVersion": "exo-operator.io/v1alpha1", "kind": "SyncTargetList",
        "metadata": {"name": name}, "spec": spec}),
    )
    .await;
}

/// Switches account contoso to scope Selected with list `list`.
async fn select(env: &Env, list: &str) {
    env.merge_account(
        "contoso",
        json!({"spec": {"sync": {"scope": "Selected", "targetListRef": {"name": list}}}}),
    )
    .await;
}

/// The number of users of an account's last directory sync.
fn synced_users(esa: &exo_api::exchange_service_account::ExchangeServiceAccount) -> Option<i64> {
    esa.status.as_ref()?.sync.as_ref().map(|s| s.users)
}

/// The status and reason of a list's `Ready` condition, as `Status:Reason`.
fn list_ready_reason(stl: &exo_api::sync_target_list::SyncTargetList) -> String {
    stl.status
        .iter()
        .flat_map(|s| &s.conditions)
        .find(|c| c.type_ == "Ready")
        .map(|c| format!("{}:{}", c.status, c.reason))
        .unwrap_or_default()
}
