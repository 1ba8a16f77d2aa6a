//! What every scenario runs against (the Microsoft 365 simulator, a cluster with the CRDs and
//! the application's Secret, the operator), and the counts read from them.

use std::collections::BTreeMap;
use std::time::Duration;

use kube::api::{Api, DynamicObject, GroupVersionKind, PostParams};
use kube::discovery::ApiResource;
use serde_json::{Value, json};

use exo_sim_m365::tenants::{ConsentSpec, DEMO_CLIENT_ID, DEMO_SECRET, TenantsFile, demo};
use exo_sim_m365::{SimOptions, Simulator};

use crate::cluster::Cluster;
use crate::operator::OperatorProcess;

/// The EmailSecurityService every scenario's accounts name, pointed at the simulator.
pub const SERVICE: &str = "sim";

/// A scenario's simulator and cluster (the test namespace holds the application's Secret
/// `app`), and a client of the cluster.
pub struct Stage {
    pub sim: Simulator,
    pub kube: Cluster,
    pub client: kube::Client,
}

impl Stage {
    /// Starts the simulator with `opts` and the cluster, installs the CRDs and creates the
    /// Secret.
    pub async fn start(opts: SimOptions) -> Stage {
        let sim = Simulator::start(opts).await.unwrap();
        let kube = Cluster::start().await;
        let client = kube.client.clone();
        kube.install_crds().await;
        create(
            &client,
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "app"},
                "stringData": {"client-secret": DEMO_SECRET}}),
        )
        .await;
        let url = sim.url();
        create(
            &client,
            json!({"apiVersion": "exo-operator.io/v1alpha1", "kind": "EmailSecurityService",
            "metadata": {"name": SERVICE},
            "spec": {
                "application": {"clientId": DEMO_CLIENT_ID, "credentials": {"secretName": "app"}},
                "endpoints": {"login": url, "graph": url, "exchange": url, "management": url},
                "mailFlow": {
                    "smartHost": "relay.mail-security.example.com",
                    "tlsCertificateDomain": "*.mail-security.example.com",
                    "serviceIpRanges": ["203.0.113.0/24", "198.51.100.10"],
                },
            }}),
        )
        .await;
        Stage { sim, kube, client }
    }

    /// Starts the operator with `concurrency` and gives it `settle` to start watching.
    pub async fn operator(&self, concurrency: u16, settle: Duration) -> OperatorProcess {
        let operator = OperatorProcess::start(&self.kube, concurrency);
        tokio::time::sleep(settle).await;
        operator
    }

    /// Stops the operator, then the cluster (an emulator) and the simulator.
    pub async fn stop(self, operator: OperatorProcess) {
        drop(operator);
        self.kube.shutdown().await;
        self.sim.shutdown().await;
    }

    /// Microsoft calls so far, by route.
    pub fn calls_by_route(&self) -> BTreeMap<String, u64> {
        let mut routes = BTreeMap::new();
        for (k, v) in self.sim.counters() {
            if !k.contains("/_sim") {
                *routes.entry(route(&k)).or_default() += v;
            }
        }
        routes
    }

    /// Microsoft calls so far.
    pub fn microsoft_calls(&self) -> u64 {
        self.sim
            .counters()
            .iter()
            .filter(|(k, _)| !k.contains("/_sim"))
            .map(|(_, v)| v)
            .sum()
    }

    /// Successful API-server writes, whoever made them.
    pub fn all_writes(&self) -> usize {
        self.kube.writes().iter().filter(|a| a.code < 300).count()
    }

    /// Successful API-server writes by verb and resource (`patch exchangeserviceaccounts/status`).
    pub fn writes_by_kind(&self) -> BTreeMap<String, usize> {
        let mut breakdown = BTreeMap::<String, usize>::new();
        for a in self.kube.writes().iter().filter(|a| a.code < 300) {
            let key = format!(
                "{} {}{}",
                a.verb,
                a.resource.rsplit('/').next().unwrap_or(""),
                a.subresource
                    .as_deref()
                    .map(|s| format!("/{s}"))
                    .unwrap_or_default()
            );
            *breakdown.entry(key).or_default() += 1;
        }
        breakdown
    }
}

/// The demo tenant `display_name` alone, with the demo application consented and holding
/// `directory_roles`.
pub fn demo_tenant(display_name: &str, directory_roles: Vec<String>) -> TenantsFile {
    let mut world = demo();
    world.tenants.retain(|t| t.display_name == display_name);
    for t in &mut world.tenants {
        t.consents = vec![consent(directory_roles.clone())];
    }
    world
}

/// The demo application's consent, with every permission and `directory_roles`.
pub fn consent(directory_roles: Vec<String>) -> ConsentSpec {
    ConsentSpec {
        client_id: DEMO_CLIENT_ID.into(),
        permissions: None,
        directory_roles,
    }
}

/// Creates an object given as JSON in the client's namespace.
pub async fn create(client: &kube::Client, value: Value) {
    let (group, version) = match value["apiVersion"].as_str().unwrap().split_once('/') {
        Some((g, v)) => (g.to_string(), v.to_string()),
        None => (
            String::new(),
            value["apiVersion"].as_str().unwrap().to_string(),
        ),
    };
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(
        &group,
        &version,
        value["kind"].as_str().unwrap(),
    ));
    let api: Api<DynamicObject> = Api::default_namespaced_with(client.clone(), &ar);
    api.create(
        &PostParams::default(),
        &serde_json::from_value(value).unwrap(),
    )
    .await
    .unwrap();
}

/// `METHOD /path` with tenant, user and object names replaced by `*`, to group calls by route.
fn route(key: &str) -> String {
    let (method, path) = key.split_once(' ').unwrap_or(("", key));
    let named = |seg: &str| {
        let version = seg.len() == 4 && seg.starts_with('v') && seg[1..].contains('.');
        !version
            && (seg.contains('@')
                || seg.contains('.')
                || seg.chars().filter(|c| *c == '-').count() == 4)
    };
    let path: Vec<&str> = path
        .split('/')
        .map(|seg| if named(seg) { "*" } else { seg })
        .collect();
    format!("{method} {}", path.join("/"))
}
