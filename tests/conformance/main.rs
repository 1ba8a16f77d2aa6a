//! The Microsoft 365 simulator judged by Microsoft's own client libraries: the Python scripts
//! beside this file drive `exo-sim m365` (over HTTPS, trusting its CA) with MSAL for Python,
//! azure-identity and the Microsoft Graph SDK for Python (msgraph-sdk), each check citing the
//! Microsoft Learn page it follows; every check must hold.

mod azure_identity_rs;

use std::path::Path;
use std::process::Command;

use exo_sim_m365::tenants::{DEMO_CLIENT_ID, DEMO_SECRET};
use exo_sim_m365::{SimOptions, Simulator};
use serde_json::Value;

/// A simulator over HTTPS with its own CA, as every conformance check talks to it.
async fn https_simulator() -> Simulator {
    exo_operator::microsoft::http::install_crypto_provider();
    Simulator::start(SimOptions {
        tls: true,
        ..Default::default()
    })
    .await
    .unwrap()
}

/// Runs `script` against a simulator; the checks it printed (one JSON object each).
async fn run_checks(script: &str) -> Vec<Value> {
    let sim = https_simulator().await;
    // A directory per script: the tests run at once, each with its own simulator and CA.
    let dir = std::env::temp_dir().join(format!(
        "exo-conformance-{}-{}",
        std::process::id(),
        script.trim_end_matches(".py")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, sim.ca_pem().unwrap()).unwrap();
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let url = sim.url();
    let script = here.join("conformance").join(script);
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script)
            .env("SIM_URL", url)
            .env("TENANT", "contoso.onmicrosoft.com")
            .env("CLIENT_ID", DEMO_CLIENT_ID)
            .env("CLIENT_SECRET", DEMO_SECRET)
            .env("CERT_PEM", here.join("fixtures/app-cert.pem"))
            .env("KEY_PEM", here.join("fixtures/app-key.pem"))
            .env("REQUESTS_CA_BUNDLE", &ca)
            .env_remove("HTTPS_PROXY")
            .env_remove("HTTP_PROXY")
            .output()
            .expect("python3 runs (scripts/test installs the packages of tests/requirements.txt)")
    })
    .await
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// Runs `script` and requires that every check held, that each of `libraries` ran checks
/// (their counts are printed) and that every check cites a Microsoft Learn page.
async fn judge(script: &str, libraries: &[&str]) {
    let checks = run_checks(script).await;
    for library in libraries {
        let n = checks.iter().filter(|c| c["library"] == *library).count();
        println!("{library}: {n} checks");
        assert!(n > 0, "no check of {library} ran");
    }
    let failed: Vec<&Value> = checks.iter().filter(|c| c["ok"] != true).collect();
    assert!(failed.is_empty(), "failed checks: {failed:#?}");
    for check in &checks {
        let page = check["page"].as_str().unwrap_or_default();
        assert!(
            page.starts_with("https://learn.microsoft.com/"),
            "{check}: cites no Microsoft Learn page"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msal_and_azure_identity_acquire_tokens_as_against_entra() {
    judge("identity.py", &["msal", "azure-identity"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msgraph_sdk_reads_the_directory_as_from_graph() {
    judge("graph.py", &["msgraph-sdk"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msgraph_sdk_keeps_mail_subscriptions_as_with_graph() {
    judge("subscriptions.py", &["msgraph-sdk"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchange_admin_api_and_pim_answer_as_learn_documents() {
    judge(
        "exchange.py",
        &["msal + Exchange admin API", "msal + Graph"],
    )
    .await;
}
