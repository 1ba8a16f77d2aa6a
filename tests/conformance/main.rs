//! The Microsoft 365 simulator judged by Microsoft's own client libraries: the Python scripts
//! beside this file drive `exo-sim m365` (over HTTPS, trusting its CA) with MSAL for Python and
//! azure-identity, each check citing the Microsoft Learn page it follows; every check must hold.

use std::path::Path;
use std::process::Command;

use exo_sim_m365::tenants::{DEMO_CLIENT_ID, DEMO_SECRET};
use exo_sim_m365::{SimOptions, Simulator};
use serde_json::Value;

/// Runs `script` against a simulator; the checks it printed (one JSON object each).
async fn run_checks(script: &str) -> Vec<Value> {
    exo_operator::microsoft::http::install_crypto_provider();
    let sim = Simulator::start(SimOptions {
        tls: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = std::env::temp_dir().join(format!("exo-conformance-{}", std::process::id()));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msal_and_azure_identity_acquire_tokens_as_against_entra() {
    let checks = run_checks("identity.py").await;
    let failed: Vec<&Value> = checks.iter().filter(|c| c["ok"] != true).collect();
    for library in ["msal", "azure-identity"] {
        let n = checks.iter().filter(|c| c["library"] == library).count();
        println!("{library}: {n} checks");
        assert!(n > 0, "no check of {library} ran");
    }
    assert!(failed.is_empty(), "failed checks: {failed:#?}");
    assert!(checks.iter().all(|c| {
        c["page"]
            .as_str()
            .is_some_and(|p| p.starts_with("https://learn.microsoft.com/"))
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchange_admin_api_and_pim_answer_as_learn_documents() {
    let checks = run_checks("exchange.py").await;
    let failed: Vec<&Value> = checks.iter().filter(|c| c["ok"] != true).collect();
    for library in ["msal + Exchange admin API", "msal + Graph"] {
        let n = checks.iter().filter(|c| c["library"] == library).count();
        println!("{library}: {n} checks");
        assert!(n > 0, "no check of {library} ran");
    }
    assert!(failed.is_empty(), "failed checks: {failed:#?}");
    assert!(checks.iter().all(|c| {
        c["page"]
            .as_str()
            .is_some_and(|p| p.starts_with("https://learn.microsoft.com/"))
    }));
}
