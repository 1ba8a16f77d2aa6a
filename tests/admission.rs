//! Admission, three judges: every case of `tests/admission/cases.json` (every valid and invalid
//! manifest of the admission unit tests) goes through the API server of the chosen backend as
//! a dry run (`dryRun=All`; the real kube-apiserver with `EXO_TEST_BACKEND=apiserver`) and
//! through `exo-operator validate`; both must agree with the case on accepted or refused and on
//! the field named. The unit tests hold the third judge, the validator library, to the same
//! table. Update cases (an `old` object: immutable fields) are judged by the API server, which
//! has the stored object; `validate` checks files offline and has none.

#[path = "support/cluster.rs"]
mod cluster;

use std::collections::BTreeMap;
use std::path::Path;

use cluster::Cluster;
use kube::api::{Api, DynamicObject, GroupVersionKind, PostParams};
use kube::discovery::ApiResource;
use serde_json::{Value, json};

/// One case of the table, named `case-N` in the cluster.
struct Case {
    name: String,
    title: String,
    expect_reject: bool,
    field: Option<String>,
    old: Option<Value>,
    object: Value,
}

fn cases(namespace: &str) -> Vec<Case> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/admission/cases.json");
    let table: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    table
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let name = format!("case-{i}");
            let rename = |mut o: Value| {
                o["metadata"]["name"] = json!(name);
                if o["kind"] != "ClusterEmailSecurityService" {
                    o["metadata"]["namespace"] = json!(namespace);
                }
                o
            };
            Case {
                title: c["case"].as_str().unwrap().to_string(),
                expect_reject: c["expect"] == "reject",
                field: c["field"].as_str().map(String::from),
                old: c.get("old").cloned().map(rename),
                object: rename(c["object"].clone()),
                name,
            }
        })
        .collect()
}

/// What a judge said: `Ok(())` for accepted, the fields it named (and its words) for refused.
type Verdict = Result<(), (Vec<String>, String)>;

/// Whether `verdict` agrees with `case`; the disagreement in words otherwise.
fn disagreement(case: &Case, verdict: &Verdict) -> Option<String> {
    match (case.expect_reject, verdict) {
        (false, Ok(())) => None,
        (false, Err((_, words))) => Some(format!("refused a valid manifest: {words}")),
        (true, Ok(())) => Some(format!(
            "accepted an invalid manifest (expected an error at {})",
            case.field.as_deref().unwrap_or("?")
        )),
        (true, Err((fields, words))) => {
            let field = case.field.as_deref().unwrap_or("");
            (!fields.iter().any(|f| f == field))
                .then(|| format!("refused, but did not name {field}: {words}"))
        }
    }
}

fn api(client: &kube::Client, object: &Value) -> Api<DynamicObject> {
    let (group, version) = object["apiVersion"]
        .as_str()
        .unwrap()
        .split_once('/')
        .unwrap();
    let kind = object["kind"].as_str().unwrap();
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    match object["metadata"]["namespace"].as_str() {
        Some(namespace) => Api::namespaced_with(client.clone(), namespace, &ar),
        // Cluster-scoped (a dry run: nothing is stored, so the name cannot collide).
        None => Api::all_with(client.clone(), &ar),
    }
}

/// The API server's verdict: a dry-run create, or (with `old`) the old object created and a
/// dry-run replace.
async fn server_verdict(client: &kube::Client, case: &Case) -> Verdict {
    let api = api(client, &case.object);
    let dry_run = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let mut object: DynamicObject = serde_json::from_value(case.object.clone()).unwrap();
    let result = match &case.old {
        None => api.create(&dry_run, &object).await,
        Some(old) => {
            let old: DynamicObject = serde_json::from_value(old.clone()).unwrap();
            let stored = api
                .create(&PostParams::default(), &old)
                .await
                .unwrap_or_else(|e| panic!("{}: the old object is refused: {e}", case.title));
            object.metadata.resource_version = stored.metadata.resource_version;
            api.replace(&case.name, &dry_run, &object).await
        }
    };
    match result {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) => {
            let mut fields = field_names(&status.message);
            let words = format!("{} {}: {}", status.code, status.reason, status.message);
            fields.sort();
            Err((fields, words))
        }
        Err(e) => panic!("{}: {e}", case.title),
    }
}

/// The fields an API server's Invalid message names: `... is invalid: [spec.a: ..., spec.b:
/// ...]` or `... is invalid: spec.a: ...`.
fn field_names(message: &str) -> Vec<String> {
    let Some((_, rest)) = message.split_once(" is invalid: ") else {
        return Vec::new();
    };
    let rest = rest.trim_start_matches('[');
    rest.split(", ")
        .filter_map(|part| part.split_once(": ").map(|(f, _)| f.trim().to_string()))
        .filter(|f| f.starts_with("spec") || f.starts_with("metadata"))
        .collect()
}

/// `exo-operator validate`'s verdicts for every case without an old object, in one run.
fn validate_verdicts(cases: &[Case], dir: &Path) -> BTreeMap<String, Verdict> {
    let files: Vec<_> = cases
        .iter()
        .filter(|c| c.old.is_none())
        .map(|c| {
            let file = dir.join(format!("{}.yaml", c.name));
            std::fs::write(&file, serde_json::to_string_pretty(&c.object).unwrap()).unwrap();
            file
        })
        .collect();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_exo-operator"))
        .arg("validate")
        .args(&files)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // `FILE: Kind/name: valid`, or `FILE (document N): field: message` per error.
    let mut verdicts = BTreeMap::new();
    for case in cases.iter().filter(|c| c.old.is_none()) {
        let file = dir
            .join(format!("{}.yaml", case.name))
            .display()
            .to_string();
        let said: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix(file.as_str()))
            .filter_map(|rest| match rest.strip_prefix(" (document ") {
                Some(rest) => rest.split_once("): ").map(|(_, said)| said),
                None => rest.strip_prefix(": "),
            })
            .collect();
        assert!(!said.is_empty(), "validate said nothing of {file}: {text}");
        let verdict = if said.iter().all(|l| l.ends_with(": valid")) {
            Ok(())
        } else {
            let fields = said
                .iter()
                .filter_map(|l| l.split_once(": ").map(|(f, _)| f.to_string()))
                .collect();
            Err((fields, said.join("; ")))
        };
        verdicts.insert(case.name.clone(), verdict);
    }
    verdicts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_server_and_validate_agree_with_every_admission_case() {
    let cluster = Cluster::start().await;
    cluster.install_crds().await;
    let cases = cases(&cluster.namespace);
    assert!(cases.len() > 100, "the table has {} cases", cases.len());
    let by_validate = validate_verdicts(&cases, cluster.dir());

    let mut disagreements = Vec::new();
    for case in &cases {
        let verdict = server_verdict(&cluster.client, case).await;
        if let Some(d) = disagreement(case, &verdict) {
            disagreements.push(format!("{} (API server): {d}", case.title));
        }
        if let Some(verdict) = by_validate.get(&case.name)
            && let Some(d) = disagreement(case, verdict)
        {
            disagreements.push(format!("{} (exo-operator validate): {d}", case.title));
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {} cases disagree ({:?} backend):\n{}",
        disagreements.len(),
        cases.len(),
        cluster.backend,
        disagreements.join("\n")
    );
}
