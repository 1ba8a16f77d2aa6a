//! Pieces of the end-to-end scenarios that run an operator against a cluster of any kind
//! (`e2e.rs`, `helm.rs`): accounts pointed at the Microsoft 365 simulator, waits with a
//! deadline, and deletion to the end.

#![allow(dead_code)]

use std::time::Duration;

use exo_api::exchange_service_account::ExchangeServiceAccount;
use exo_sim_m365::tenants::DEMO_CLIENT_ID;
use kube::api::{Api, DeleteParams};
use serde_json::{Value, json};

#[path = "status.rs"]
mod status;
#[allow(unused_imports)]
pub use status::{condition, is, ready, reason};
// `helm.rs` loads `wait.rs` through `cluster.rs` too; `e2e.rs` through this file only.
#[allow(clippy::duplicate_mod)]
#[path = "wait.rs"]
mod wait;

/// The EmailSecurityService `sim` every scenario's accounts name: its endpoints are the
/// simulator at `url`, its application the demo application with the client secret in Secret
/// `app`.
pub fn service(url: &str) -> Value {
    json!({"apiVersion": "exo-operator.io/v1alpha1", "kind": "EmailSecurityService",
    "metadata": {"name": "sim"},
    "spec": {
        "application": {"clientId": DEMO_CLIENT_ID, "credentials": {"secretName": "app"}},
        "endpoints": {"login": url, "graph": url, "exchange": url, "management": url},
        "mailFlow": {
            "smartHost": "relay.mail-security.example.com",
            "tlsCertificateDomain": "*.mail-security.example.com",
            "serviceIpRanges": ["203.0.113.0/24"],
        },
    }})
}

/// An ExchangeServiceAccount `name` for `tenant` in `mode` (`Api` or `Inline`) of the service
/// `sim` ([`service`]), with deletion policy `Delete`.
pub fn account(name: &str, tenant: &str, mode: &str) -> Value {
    let mut spec = json!({
        "tenant": tenant, "mode": mode,
        "serviceRef": {"name": "sim"},
        "deletionPolicy": "Delete",
    });
    if mode == "Inline" {
        spec["inline"] = json!({"direction": "Inbound"});
    }
    json!({"apiVersion": "exo-operator.io/v1alpha1", "kind": "ExchangeServiceAccount",
           "metadata": {"name": name}, "spec": spec})
}

/// Grants admin consent to the demo application in each of `tenants` of the simulator at `url`,
/// as a Global Administrator would.
pub async fn consent(url: &str, tenants: &[&str]) {
    let http = reqwest::Client::new();
    for tenant in tenants {
        let granted = http
            .post(format!("{url}/_sim/tenants/{tenant}/consent"))
            .json(&json!({"clientId": DEMO_CLIENT_ID}))
            .send()
            .await
            .unwrap();
        assert!(granted.status().is_success(), "consent in {tenant}");
    }
}

/// Waits until account `name` satisfies `pred`; after `timeout` panics with `what` and
/// `context()` (a log, say).
pub async fn wait_account(
    api: &Api<ExchangeServiceAccount>,
    name: &str,
    what: &str,
    timeout: Duration,
    pred: impl Fn(&ExchangeServiceAccount) -> bool,
    context: impl Fn() -> String,
) -> ExchangeServiceAccount {
    wait::until(timeout, Duration::from_millis(100), async || {
        match api.get_opt(name).await.unwrap() {
            Some(esa) if pred(&esa) => Ok(esa),
            esa => Err(Seen(
                format!("{name}: {what}; status: {:?}", esa.and_then(|e| e.status)),
                &context,
            )),
        }
    })
    .await
}

/// Deletes accounts `names` and waits (up to `timeout`) until none of `api` is left.
pub async fn delete_all(
    api: &Api<ExchangeServiceAccount>,
    names: &[&str],
    timeout: Duration,
    context: impl Fn() -> String,
) {
    for name in names {
        api.delete(name, &DeleteParams::default()).await.unwrap();
    }
    wait::until(timeout, Duration::from_millis(200), async || {
        let left = api.list(&Default::default()).await.unwrap().items;
        match left.is_empty() {
            true => Ok(()),
            false => Err(Seen("the accounts to be deleted".into(), &context)),
        }
    })
    .await;
}

/// What a wait last saw, and the context (a log, say), read only when the wait fails.
struct Seen<'a>(String, &'a dyn Fn() -> String);

impl std::fmt::Display for Seen<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\n{}", self.0, (self.1)())
    }
}
