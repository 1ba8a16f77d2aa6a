//! End-to-end scenarios against a real Kubernetes cluster: set `EXO_E2E_KUBECONFIG` to a
//! kubeconfig (kind, k3d, or any test cluster) and run `cargo test --test e2e`. Without it the
//! same scenarios run against an `exo-sim kube` process, started for the test. The Microsoft
//! 365 simulator and the operator run in the test process; everything happens in a fresh
//! namespace, deleted at the end. The CRDs are installed (or updated) with server-side apply.

use std::sync::Arc;
use std::time::Duration;

use exo_api::EmailSecurityService;
use exo_api::exchange_service_account::ExchangeServiceAccount;
use exo_operator::controller::context::{Context, Settings};
use exo_operator::controller::run::{Operator, Scope};
use exo_sim_m365::tenants::DEMO_SECRET;
use exo_sim_m365::{SimOptions, Simulator};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

#[path = "support/scenario.rs"]
mod scenario;
use scenario::{ready, reason};

const TIMEOUT: Duration = Duration::from_secs(90);

async fn wait(
    api: &Api<ExchangeServiceAccount>,
    name: &str,
    what: &str,
    pred: impl Fn(&ExchangeServiceAccount) -> bool,
) -> ExchangeServiceAccount {
    scenario::wait_account(api, name, what, TIMEOUT, pred, String::new).await
}

/// An `exo-sim kube` process (killed on drop) and the kubeconfig it wrote.
struct EmulatorProcess(std::process::Child, std::path::PathBuf);

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

fn emulator_process() -> (EmulatorProcess, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("exo-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kubeconfig = dir.join("kubeconfig");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_exo-sim"))
        .args(["kube", "--listen", "127.0.0.1:0", "--kubeconfig"])
        .arg(&kubeconfig)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("exo-sim runs");
    let process = EmulatorProcess(child, dir);
    for _ in 0..100 {
        if std::fs::metadata(&kubeconfig).is_ok_and(|m| m.len() > 0) {
            std::thread::sleep(Duration::from_millis(100));
            return (process, kubeconfig);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("exo-sim kube wrote no kubeconfig");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenarios_on_a_real_cluster() {
    // Over 80 lines on purpose: one scenario, whose steps depend on one another, read top to bottom.
    let mut _emulator = None;
    // A user's cluster, else the real API server of the test run, else an emulator process.
    let named = std::env::var_os("EXO_E2E_KUBECONFIG").or_else(|| {
        (std::env::var("EXO_TEST_BACKEND").as_deref() == Ok("apiserver"))
            .then(|| std::env::var_os("EXO_TEST_KUBECONFIG"))
            .flatten()
    });
    let path = match named {
        Some(path) => std::path::PathBuf::from(path),
        None => {
            let (child, path) = emulator_process();
            _emulator = Some(child);
            path
        }
    };
    exo_operator::microsoft::http::install_crypto_provider();
    let kubeconfig = kube::config::Kubeconfig::read_from(&path).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();

    // CRDs, applied server-side (created, or updated to this version).
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in exo_api::crds() {
        let name = crd.metadata.name.clone().unwrap();
        crds.patch(
            &name,
            &PatchParams::apply("exo-e2e").force(),
            &Patch::Apply(&crd),
        )
        .await
        .unwrap();
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let namespace = format!("exo-e2e-{}-{nanos}", std::process::id());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": namespace}})).unwrap(),
        )
        .await
        .unwrap();

    let m365 = Simulator::start(SimOptions::default()).await.unwrap();
    let settings = Settings {
        consent_poll: Duration::from_millis(500),
        ..Settings::default()
    };
    let ctx = Arc::new(Context::new(client.clone(), settings).unwrap());
    let operator = Operator::start(ctx, Scope::namespace(&namespace), None).await;

    let secrets: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(
                json!({"metadata": {"name": "app"}, "stringData": {"client-secret": DEMO_SECRET}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let accounts: Api<ExchangeServiceAccount> = Api::namespaced(client.clone(), &namespace);
    let url = m365.url();
    let services: Api<EmailSecurityService> = Api::namespaced(client.clone(), &namespace);
    let service: EmailSecurityService = serde_json::from_value(scenario::service(&url)).unwrap();
    services
        .create(&PostParams::default(), &service)
        .await
        .unwrap();
    // Creates account `name` of `tenant` in `mode`.
    let create = async |name: &str, tenant: &str, mode: &str| {
        let account: ExchangeServiceAccount =
            serde_json::from_value(scenario::account(name, tenant, mode)).unwrap();
        accounts
            .create(&PostParams::default(), &account)
            .await
            .unwrap();
    };

    // API mode: consent required, granted, Ready.
    create("contoso", "contoso.com", "Api").await;
    wait(&accounts, "contoso", "the consent prompt", |e| {
        reason(e, "Authorized", "ConsentRequired")
    })
    .await;
    scenario::consent(&url, &["contoso.com", "northwind.onmicrosoft.com"]).await;
    wait(&accounts, "contoso", "Ready", ready).await;

    // Inline mode: role, mail flow, Ready; deletion leaves nothing owned in the tenant.
    create("northwind", "northwind.onmicrosoft.com", "Inline").await;
    let esa = wait(&accounts, "northwind", "Ready", ready).await;
    assert_eq!(
        esa.status.unwrap().mail_flow.unwrap().objects.len(),
        4,
        "inline inbound objects"
    );
    scenario::delete_all(&accounts, &["contoso", "northwind"], TIMEOUT, String::new).await;
    let left = m365.with_world(|w| {
        w.tenant("northwind.onmicrosoft.com")
            .unwrap()
            .exchange
            .iter()
            .filter(|(kind, _)| *kind != "HostedConnectionFilterPolicy")
            .map(|(_, objects)| objects.len())
            .sum::<usize>()
    });
    assert_eq!(left, 0, "owned Exchange objects left after deletion");

    operator.stop().await;
    namespaces
        .delete(&namespace, &DeleteParams::default())
        .await
        .unwrap();
    m365.shutdown().await;
}
