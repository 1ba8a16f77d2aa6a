//! Pieces of the end-to-end scenarios that run an operator against a cluster of any kind
//! (`e2e.rs`, `helm.rs`): accounts pointed at the Microsoft 365 simulator, waits with a
//! deadline, and deletion to the end.

#![allow(dead_code)]

use std::time::Duration;

use exo_api::exchange_service_account::ExchangeServiceAccount;
use exo_sim_m365::tenants::DEMO_CLIENT_ID;
use kube::api::{Api, DeleteParams};
use serde_json::{Value, json};

/// An ExchangeServiceAccount `name` for `tenant` in `mode` (`Api` or `Inline`), whose
/// endpoints are the simulator at `url`, with the client secret in Secret `app` and deletion
/// policy `Delete`.
pub fn account(name: &str, tenant: &str, mode: &str, url: &str) -> Value {
    let mut spec = json!({
        "tenant": tenant, "mode": mode,
        "application": {"clientId": DEMO_CLIENT_ID, "credentials": {"secretName": "app"}},
        "endpoints": {"login": url, "graph": url, "exchange": url, "management": url},
        "deletionPolicy": "Delete",
    });
    if mode == "Inline" {
        spec["inline"] = json!({"mailFlow": {
            "smartHost": "relay.mail-security.example.com",
            "tlsCertificateDomain": "*.mail-security.example.com",
            "serviceIpRanges": ["203.0.113.0/24"],
        }});
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
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let esa = api.get_opt(name).await.unwrap();
        if let Some(esa) = &esa
            && pred(esa)
        {
            return esa.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name}: timed out waiting for {what}; status: {:?}\n{}",
            esa.and_then(|e| e.status),
            context()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether the account is Ready.
pub fn ready(esa: &ExchangeServiceAccount) -> bool {
    esa.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    })
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
    let deadline = tokio::time::Instant::now() + timeout;
    while !api
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .is_empty()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "accounts not deleted\n{}",
            context()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
