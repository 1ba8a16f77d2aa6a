//! The `exo-operator` command line: `crds`, `validate`, `plan`'s input errors, `run`'s options.

use std::path::{Path, PathBuf};
use std::process::Command;

fn exo_operator() -> Command {
    Command::new(env!("CARGO_BIN_EXE_exo-operator"))
}

/// Runs `command`, asserts that it succeeded (showing its output if not) and returns its
/// stdout.
fn succeeded(command: &mut Command) -> String {
    let out = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("exo-operator-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn crds_prints_the_committed_files_in_order() {
    let out = exo_operator().arg("crds").output().unwrap();
    assert!(out.status.success());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let committed: String = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), committed);
}

#[test]
fn crds_writes_one_file_per_kind() {
    let dir = scratch_dir("crds");
    let status = exo_operator()
        .args(["crds", "--output-dir"])
        .arg(&dir)
        .status()
        .unwrap();
    assert!(status.success());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "clusteremailsecurityservices.exo-operator.io.yaml",
            "emailsecurityservices.exo-operator.io.yaml",
            "exchangeserviceaccounts.exo-operator.io.yaml",
            "synctargetlists.exo-operator.io.yaml"
        ]
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn validate_accepts_the_examples() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let stdout = succeeded(exo_operator().arg("validate").arg(examples));
    assert!(
        stdout.contains("ExchangeServiceAccount/contoso: valid"),
        "{stdout}"
    );
    assert!(stdout.contains(", 0 invalid"), "{stdout}");
}

#[test]
fn validate_names_the_field_of_an_invalid_manifest() {
    let dir = scratch_dir("validate");
    let file = dir.join("bad.yaml");
    std::fs::write(
        &file,
        "apiVersion: exo-operator.io/v1alpha1\nkind: ExchangeServiceAccount\nmetadata: {name: bad}\n\
         spec:\n  tenant: contoso.com\n  mode: Api\n  serviceRef: {name: mail-security}\n\
         \x20 endpoints: {login: 'https://login.example.net'}\n  sync: {scope: Selected}\n\
         ---\napiVersion: exo-operator.io/v1alpha1\nkind: ClusterEmailSecurityService\nmetadata: {name: shared}\n\
         spec:\n  application: {clientId: 3f1c2a4e-8b7d-4c6e-9a2b-1d0e5f6a7b8c, credentials: {secretName: app}}\n\
         \x20 notificationUrl: 'http://hooks.example.com'\n",
    )
    .unwrap();
    let out = exo_operator().arg("validate").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("spec.sync.targetListRef: Required value: targetListRef is required when scope is Selected"),
        "{stderr}"
    );
    assert!(
        stderr.contains("spec.endpoints: Forbidden: spec.endpoints is not accepted: endpoints belong to the EmailSecurityService named in spec.serviceRef"),
        "{stderr}"
    );
    assert!(
        stderr.contains("spec.notificationUrl: Invalid value: \"http://hooks.example.com\": spec.notificationUrl must be an https URL"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn plan_names_a_bad_file_before_asking_any_cluster() {
    let dir = scratch_dir("plan");
    // No cluster is reachable through this kubeconfig: each error is about the input.
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(&kubeconfig, "").unwrap();
    let plan = |file: &Path| {
        let out = exo_operator()
            .args(["plan", "-f"])
            .arg(file)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let missing = dir.join("missing.yaml");
    let (code, stderr) = plan(&missing);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot read {}", missing.display())),
        "{stderr}"
    );
    let other = dir.join("configmap.yaml");
    std::fs::write(
        &other,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    )
    .unwrap();
    let (code, stderr) = plan(&other);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("no ExchangeServiceAccount to plan"),
        "{stderr}"
    );
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: exo-operator.io/v1alpha1\nkind: ExchangeServiceAccount\nmetadata: {name: bad}\n\
         spec: {tenant: contoso.com, mode: Api, serviceRef: {name: s}, sync: {scope: Selected}}\n",
    )
    .unwrap();
    let (code, stderr) = plan(&bad);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("(document 1): spec.sync.targetListRef: Required value"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn demo_ends_with_every_example_ready() {
    let dir = scratch_dir("demo");
    let stdout = succeeded(
        exo_operator()
            .args(["demo", "examples", "--timeout", "60", "--kubeconfig"])
            .arg(dir.join("kubeconfig"))
            .current_dir(env!("CARGO_MANIFEST_DIR")),
    );
    assert!(
        stdout.contains("[simulated Global Administrator]"),
        "{stdout}"
    );
    let table: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("NAME"))
        .collect();
    for account in ["contoso", "fabrikam", "northwind", "woodgrove"] {
        let row = table.iter().find(|l| l.starts_with(account)).unwrap();
        assert!(row.contains(" True ") && row.contains("Ready"), "{row}");
    }
    // The inline accounts list the Exchange objects they configured.
    assert!(
        stdout.contains("woodgrove: 8 Exchange objects")
            && stdout.contains("TransportRule/exo-inline Route Outbound Mail to Service"),
        "{stdout}"
    );
    // The service acknowledged the directories of the accounts of scope All: Contoso (API
    // mode, 4 users) and Northwind (inline mode, 1 user), each a complete snapshot.
    let received: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("What the email-security service acknowledged"))
        .collect();
    for (tenant, mode, users) in [
        ("5b1c6e8a-2f4d-4a7b-9c3e-1d2f3a4b5c6d", "Api", "4"),
        ("7e6d5c4b-3a29-4180-9f8e-7d6c5b4a3921", "Inline", "1"),
    ] {
        let row = received.iter().find(|l| l.contains(tenant));
        let fields: Vec<&str> = row
            .map(|r| r.split_whitespace().collect())
            .unwrap_or_default();
        assert!(
            fields.len() >= 5 && fields[1] == mode && fields[2] == users && fields[4] == "complete",
            "{received:?}"
        );
    }
}

#[test]
fn every_run_option_has_an_environment_variable() {
    let out = exo_operator().args(["run", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let mut options = 0;
    for block in help.split("\n      --").skip(1) {
        let name = block.split_whitespace().next().unwrap();
        if name == "help" {
            continue;
        }
        options += 1;
        assert!(
            block.contains("[env: "),
            "--{name} has no environment variable"
        );
    }
    assert_eq!(options, 18, "{help}");
    for option in [
        "--recheck-interval",
        "--max-backoff",
        "--sign-in-reopen",
        "--namespaces",
        "--http-addr",
        "--ca-bundle",
        "--https-proxy",
        "--concurrency",
        "--log-format",
        "--leader-election",
        "--lifecycle-url",
        "--subscription-writes",
    ] {
        assert!(help.contains(option), "{option} missing");
    }
}

/// Log lines written to a pipe (a file, a log collector) carry no colour codes.
#[tokio::test]
async fn text_logs_to_a_pipe_have_no_colour_codes() {
    use std::io::{BufRead, BufReader};
    let emulator = exo_sim_kube::Emulator::start(exo_sim_kube::EmulatorOptions::default())
        .await
        .unwrap();
    let dir = scratch_dir("colours");
    let kubeconfig = dir.join("kubeconfig");
    emulator.write_kubeconfig(&kubeconfig).unwrap();
    let mut child = exo_operator()
        .args([
            "run",
            "--http-addr",
            "127.0.0.1:0",
            "--namespaces",
            "default",
        ])
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .env_remove("NO_COLOR")
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let lines = tokio::task::spawn_blocking(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .take(1)
            .collect::<Vec<String>>()
    });
    let lines = tokio::time::timeout(std::time::Duration::from_secs(30), lines).await;
    let _ = child.kill();
    let _ = child.wait();
    let lines = lines.expect("the operator logs within 30 s").unwrap();
    assert!(!lines.is_empty(), "the operator logged");
    for line in &lines {
        assert!(!line.contains('\u{1b}'), "a colour code in {line:?}");
        assert!(
            line.contains("INFO") || line.contains("WARN") || line.contains("ERROR"),
            "{line}"
        );
    }
    emulator.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
