//! The Kubernetes API emulator judged by kube-apiserver: every scenario of `scenarios/` (a
//! sequence of requests through kube-rs, kubectl, Python's `kubernetes` client and Helm) runs
//! against the emulator and against a real API server, and what clients observe must agree:
//! status codes, Status bodies, objects (without uids, times and resource versions), warnings,
//! watch events and command output.
//!
//! With `EXO_TEST_BACKEND=apiserver` (scripts/test sets it with the server's kubeconfig) both
//! run live and are compared. On the emulator-only pass, the emulator is compared with what the
//! newest pinned kube-apiserver answered, recorded in `expected/` (a live run checks that the
//! recording is still what that server answers). `EXO_DIFF_RECORD=1` with a real server writes
//! the recordings; `EXO_DIFF_ONLY=stem,...` runs some scenarios only.

mod normalize;
mod runner;
mod scenario;

use std::path::{Path, PathBuf};

use futures::StreamExt;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

use runner::{Backend, Compaction, Outcomes};

/// Scenarios run at once.
const CONCURRENCY: usize = 4;

fn here() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential")
}

/// A process-unique lower-case suffix.
fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{:x}",
        (nanos as u64 ^ u64::from(std::process::id())) % 0xffffff
    )
}

async fn client_for(kubeconfig: &Path) -> kube::Client {
    let config = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(config, &Default::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

/// Installs the scenarios' CRD and the operator's (`crds/`), and waits until they are served.
async fn install_crds(client: &kube::Client) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![here().join("crd.yaml")];
    for entry in std::fs::read_dir(root.join("crds")).unwrap() {
        files.push(entry.unwrap().path());
    }
    for file in files {
        install_crd(client, &file).await;
    }
}

/// Installs one CRD and waits until it is served.
async fn install_crd(client: &kube::Client, file: &Path) {
    let crd: CustomResourceDefinition =
        serde_saphyr::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let name = crd.metadata.name.clone().unwrap();
    api.patch(
        &name,
        &PatchParams::apply("exo-differential").force(),
        &Patch::Apply(&crd),
    )
    .await
    .unwrap();
    for _ in 0..200 {
        let established = api
            .get(&name)
            .await
            .ok()
            .and_then(|c| c.status)
            .is_some_and(|s| {
                s.conditions
                    .iter()
                    .flatten()
                    .any(|c| c.type_ == "Established" && c.status == "True")
            });
        let path = format!(
            "/apis/{}/{}/{}",
            crd.spec.group, crd.spec.versions[0].name, crd.spec.names.plural
        );
        let served = client
            .request_text(http::Request::get(path).body(Vec::new()).unwrap())
            .await
            .is_ok();
        // A new CRD's OpenAPI document is published a moment after it is served.
        let openapi = format!(
            "/openapi/v3/apis/{}/{}",
            crd.spec.group, crd.spec.versions[0].name
        );
        let published = served
            && client
                .request_text(http::Request::get(openapi).body(Vec::new()).unwrap())
                .await
                .is_ok();
        if established && published {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the CRD {name} was not served and published within 20 s");
}

/// The recording of a scenario, if any: (server version, outcomes).
fn recorded(stem: &str) -> Option<(String, Outcomes)> {
    let text =
        std::fs::read_to_string(here().join("expected").join(format!("{stem}.json"))).ok()?;
    let v: Value = serde_json::from_str(&text).unwrap();
    Some((
        v["kubernetes"].as_str().unwrap_or("").to_string(),
        serde_json::from_value(v["outcomes"].clone()).unwrap(),
    ))
}

fn record(stem: &str, version: &str, outcomes: &Outcomes) {
    let doc = json!({"kubernetes": version, "outcomes": outcomes});
    std::fs::write(
        here().join("expected").join(format!("{stem}.json")),
        serde_json::to_string_pretty(&doc).unwrap() + "\n",
    )
    .unwrap();
}

/// The differences between `expected` and `actual`, one line per differing value.
fn differences(path: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            let keys: std::collections::BTreeSet<&String> = e.keys().chain(a.keys()).collect();
            for k in keys {
                differences(
                    &format!("{path}/{k}"),
                    e.get(k).unwrap_or(&Value::Null),
                    a.get(k).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (i, (x, y)) in e.iter().zip(a).enumerate() {
                differences(&format!("{path}/{i}"), x, y, out);
            }
        }
        (e, a) if e != a => out.push(format!("  {path}:\n    expected {e}\n    emulator {a}")),
        _ => {}
    }
}

/// Whether release `version` (`v1.31.13`) is older than `since` (`1.37`).
fn older(version: &str, since: &str) -> bool {
    let parts = |v: &str| -> Vec<u32> {
        v.trim_start_matches('v')
            .split('.')
            .filter_map(|p| p.parse().ok())
            .collect()
    };
    parts(version) < parts(since)
}

/// The disagreements of `actual` with `expected` (kube-apiserver `version`), per step; those of steps marked `known` go
/// to `known` instead, and a marked step that agrees is a disagreement (the mark is stale).
fn compare(
    stem: &str,
    sc: &scenario::Scenario,
    version: &str,
    against: &str,
    expected: &Outcomes,
    actual: &Outcomes,
    known: &mut Vec<String>,
) -> Vec<String> {
    let mut report = Vec::new();
    for (i, e) in expected.iter().enumerate() {
        if e.pointer("/outcome/agrees") == Some(&Value::Bool(false)) {
            report.push(format!(
                "{stem} {}: exo-operator validate disagrees with {against}: {}",
                e["step"].as_str().unwrap_or(""),
                e["outcome"]
            ));
        }
        let marked = sc.steps.get(i).and_then(|s| s.known.as_deref());
        if let Some(since) = sc.steps.get(i).and_then(|s| s.since.as_deref())
            && older(version, since)
        {
            continue;
        }
        let a = actual.get(i).unwrap_or(&Value::Null);
        let mut lines = Vec::new();
        differences("", &e["outcome"], &a["outcome"], &mut lines);
        if e["step"] != a["step"] {
            lines.push(format!("  steps differ: {} / {}", e["step"], a["step"]));
        }
        let step = e["step"].as_str().unwrap_or("");
        match (marked, lines.is_empty()) {
            (Some(why), false) => known.push(format!("{stem} {step}: {why}")),
            (Some(why), true) => report.push(format!(
                "{stem} {step} is marked `known: {why}` but agrees with {against}: remove the mark"
            )),
            (None, false) => report.push(format!(
                "{stem} ({}) {step} (against {against}):\n{}",
                sc.about,
                lines.join("\n")
            )),
            (None, true) => {}
        }
    }
    if actual.len() != expected.len() {
        report.push(format!(
            "{stem}: {} steps run, {} expected (against {against})",
            actual.len(),
            expected.len()
        ));
    }
    report
}

#[test]
fn releases_compare_by_number() {
    assert!(older("v1.31.13", "1.37"));
    assert!(!older("v1.37.2", "1.37"));
    assert!(!older("v1.40.0", "1.37"));
    assert!(older("1.9", "1.10"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_emulator_answers_as_kube_apiserver_does() {
    exo_operator::microsoft::http::install_crypto_provider();
    let only: Option<Vec<String>> = std::env::var("EXO_DIFF_ONLY")
        .ok()
        .map(|v| v.split(',').map(String::from).collect());
    let scenarios: Vec<_> = scenario::load_all(&here().join("scenarios"))
        .into_iter()
        .filter(|(stem, _)| only.as_ref().is_none_or(|o| o.contains(stem)))
        .collect();
    assert!(!scenarios.is_empty(), "no scenario to run");
    let work = std::env::temp_dir().join(format!("exo-differential-{}", unique()));
    std::fs::create_dir_all(&work).unwrap();

    let emulator = std::sync::Arc::new(
        exo_sim_kube::Emulator::start(Default::default())
            .await
            .unwrap(),
    );
    let emu_dir = work.join("emulator");
    std::fs::create_dir_all(&emu_dir).unwrap();
    emulator
        .write_kubeconfig(&emu_dir.join("admin.kubeconfig"))
        .unwrap();
    let emu = Backend {
        name: "emulator",
        client: emulator.client().await.unwrap(),
        kubeconfig: emu_dir.join("admin.kubeconfig"),
        dir: emu_dir,
        compaction: Compaction::Emulator(emulator.clone()),
    };
    install_crds(&emu.client).await;

    let live = std::env::var("EXO_TEST_BACKEND").as_deref() == Ok("apiserver");
    let real = if live {
        let source = std::env::var("EXO_TEST_KUBECONFIG")
            .expect("EXO_TEST_BACKEND=apiserver needs EXO_TEST_KUBECONFIG");
        let dir = work.join("apiserver");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(&source, dir.join("admin.kubeconfig")).unwrap();
        let b = Backend {
            name: "kube-apiserver",
            client: client_for(&dir.join("admin.kubeconfig")).await,
            kubeconfig: dir.join("admin.kubeconfig"),
            dir,
            compaction: Compaction::Etcd(
                std::env::var("EXO_TEST_ETCD_URL")
                    .expect("EXO_TEST_BACKEND=apiserver needs EXO_TEST_ETCD_URL (DIR/env)"),
            ),
        };
        install_crds(&b.client).await;
        Some(b)
    } else {
        None
    };
    let version = std::env::var("EXO_TEST_KUBERNETES_VERSION").unwrap_or_default();
    let recording = std::env::var("EXO_DIFF_RECORD").is_ok_and(|v| v == "1");
    assert!(!recording || live, "EXO_DIFF_RECORD=1 needs a real server");

    let suffix = unique();
    let one = |index: usize| {
        let (stem, sc) = &scenarios[index];
        let (emu, real, suffix, version) = (&emu, real.as_ref(), &suffix, &version);
        async move {
            let emu_run = runner::run(emu, stem, sc, suffix);
            let mut report = Vec::new();
            let (ours, theirs) = match real {
                Some(r) => {
                    let (a, b) = tokio::join!(emu_run, runner::run(r, stem, sc, suffix));
                    (a, Some(b))
                }
                None => (emu_run.await, None),
            };
            let steps = ours.len();
            let mut known = Vec::new();
            match (theirs, recorded(stem)) {
                    (Some(theirs), rec) => {
                        report.extend(compare(stem, sc, version, &format!("kube-apiserver {version}"), &theirs, &ours, &mut known));
                        if recording {
                            record(stem, version, &theirs);
                        } else if let Some((v, expected)) = rec
                            && &v == version
                        {
                            for line in compare(stem, sc, version, "its recording", &expected, &theirs, &mut Vec::new()) {
                                report.push(format!("{line}\n  (kube-apiserver {version} no longer answers as recorded: EXO_DIFF_RECORD=1 records it again)"));
                            }
                        }
                    }
                    (None, Some((v, expected))) => {
                        report.extend(compare(stem, sc, &v, &format!("kube-apiserver {v}, recorded"), &expected, &ours, &mut known));
                    }
                    (None, None) => report.push(format!(
                        "{stem}: no recording in expected/ (run once with a real server and EXO_DIFF_RECORD=1)"
                    )),
                }
            (steps, report, known)
        }
    };
    // Scenarios that compact the history run alone, after the others.
    let (alone, together): (Vec<usize>, Vec<usize>) =
        (0..scenarios.len()).partition(|i| scenarios[*i].1.compacts());
    let mut results: Vec<(usize, Vec<String>, Vec<String>)> = futures::stream::iter(together)
        .map(&one)
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for scenario in alone {
        results.push(one(scenario).await);
    }
    let steps: usize = results.iter().map(|r| r.0).sum();
    let known: Vec<String> = results.iter().flat_map(|r| r.2.clone()).collect();
    let report: Vec<String> = results.into_iter().flat_map(|r| r.1).collect();
    let _ = std::fs::remove_dir_all(&work);
    for k in &known {
        println!("known disagreement: {k}");
    }
    println!(
        "differential: {} scenarios, {steps} steps, {} disagreements, {} known ({})",
        scenarios.len(),
        report.len(),
        known.len(),
        if live {
            format!("live against kube-apiserver {version}")
        } else {
            "against the recordings".into()
        }
    );
    assert!(report.is_empty(), "{}", report.join("\n\n"));
}
