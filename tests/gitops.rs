//! GitOps health: the status the operator writes, read by kstatus's rules (as Flux `wait: true`
//! does) and by the Argo CD health check in `examples/gitops/health.lua` (run in a real Lua
//! interpreter through Python's `lupa`), on hand-written cases and on a live run.

#[path = "support/env.rs"]
mod env;
#[path = "support/process.rs"]
mod process;

use std::io::Write;
use std::process::{Command, Stdio};

use env::{Env, is, list_is};
use serde_json::{Value, json};

/// kstatus's status of a custom resource: `InProgress` while the latest generation is not
/// observed or `Reconciling` is True, `Failed` when `Stalled` is True, `Current` otherwise.
fn kstatus(obj: &Value) -> &'static str {
    let status = &obj["status"];
    if status.is_null() {
        return "InProgress";
    }
    if obj["metadata"]["generation"] != status["observedGeneration"] {
        return "InProgress";
    }
    let cond = |t: &str| {
        status["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == t)
            .map(|c| c["status"] == "True")
            .unwrap_or(false)
    };
    if cond("Reconciling") {
        "InProgress"
    } else if cond("Stalled") {
        "Failed"
    } else {
        "Current"
    }
}

/// Runs the Argo CD health script on `obj`: (status, message).
fn argo_health(obj: &Value) -> (String, String) {
    let script = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/gitops/health.lua"),
    )
    .unwrap();
    let program = r#"
import json, sys, lupa
lua = lupa.LuaRuntime(unpack_returned_tuples=True)
def table(v):
    if isinstance(v, dict):
        return lua.table_from({k: table(x) for k, x in v.items()})
    if isinstance(v, list):
        return lua.table_from([table(x) for x in v])
    return v
data = json.load(sys.stdin)
lua.globals().obj = table(data["obj"])
hs = lua.execute(data["script"])
print(json.dumps({"status": hs["status"], "message": hs["message"]}))
"#;
    let mut child = Command::new("python3")
        .args(["-c", program])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (CI installs lupa)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(json!({"obj": obj, "script": script}).to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = process::succeeded(out, "the health script failed");
    let v: Value = serde_json::from_slice(&stdout).unwrap();
    (
        v["status"].as_str().unwrap().to_string(),
        v["message"].as_str().unwrap_or("").to_string(),
    )
}

/// An account of generation 1 whose status, observed at generation 1, holds the conditions
/// Ready, Reconciling and Stalled, each as (status, reason, message).
fn account(
    ready: (bool, &str, &str),
    reconciling: (bool, &str, &str),
    stalled: (bool, &str, &str),
) -> Value {
    let conditions: Vec<Value> = [("Ready", ready), ("Reconciling", reconciling), ("Stalled", stalled)]
        .into_iter()
        .map(|(type_, (status, reason, message))| {
            json!({"type": type_, "status": if status { "True" } else { "False" }, "reason": reason, "message": message,
                "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1})
        })
        .collect();
    json!({"apiVersion": "exo-operator.io/v1alpha1", "kind": "ExchangeServiceAccount",
        "metadata": {"name": "a", "namespace": "d", "generation": 1},
        "status": {"observedGeneration": 1, "conditions": conditions}})
}

/// Asserts that kstatus reads `obj` as `kstatus_status` and the Argo CD health check as
/// `argo_status`.
fn reads_as(obj: &impl serde::Serialize, kstatus_status: &str, argo_status: &str) {
    let value = serde_json::to_value(obj).unwrap();
    assert_eq!(kstatus(&value), kstatus_status, "{value}");
    assert_eq!(argo_health(&value).0, argo_status, "{value}");
}

/// A case: its name, the object, the Argo CD health check's status and a test of its message,
/// kstatus's status.
struct Case(
    &'static str,
    Value,
    &'static str,
    fn(&str) -> bool,
    &'static str,
);

#[test]
fn the_argo_cd_health_check_and_kstatus_agree_on_each_case() {
    let no_status = json!({"apiVersion": "exo-operator.io/v1alpha1", "kind": "SyncTargetList", "metadata": {"name": "a", "generation": 1}});
    let ready = account(
        (true, "Ready", "Access is granted."),
        (false, "Ready", ""),
        (false, "Ready", ""),
    );
    // A spec change not yet observed is progress, even if the old generation was Ready.
    let mut newer = ready.clone();
    newer["metadata"]["generation"] = json!(2);
    let stalled = account(
        (false, "ConsentRequired", "Grant admin consent."),
        (false, "ConsentRequired", "Waiting for a human."),
        (
            true,
            "ConsentRequired",
            "Grant admin consent at https://login/...",
        ),
    );
    let working = account(
        (false, "RolePropagating", "Waiting for Exchange."),
        (true, "RolePropagating", "Waiting for Exchange."),
        (false, "Progressing", ""),
    );
    let cases = [
        Case(
            "no status",
            no_status,
            "Progressing",
            |_| true,
            "InProgress",
        ),
        Case(
            "ready",
            ready,
            "Healthy",
            |m| m == "Access is granted.",
            "Current",
        ),
        Case(
            "newer",
            newer,
            "Progressing",
            |m| m.contains("generation 2"),
            "InProgress",
        ),
        Case(
            "stalled",
            stalled,
            "Degraded",
            |m| m.starts_with("ConsentRequired: "),
            "Failed",
        ),
        Case(
            "working",
            working,
            "Progressing",
            |m| m == "RolePropagating: Waiting for Exchange.",
            "InProgress",
        ),
    ];
    for Case(case, obj, argo_status, argo_message, kstatus_status) in cases {
        let (status, message) = argo_health(&obj);
        assert_eq!(status, argo_status, "{case}: {message}");
        assert!(argo_message(&message), "{case}: {message}");
        assert_eq!(kstatus(&obj), kstatus_status, "{case}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_statuses_read_as_gitops_tools_expect() {
    let env = Env::start(Env::fast()).await;
    env.apply_example("api-selected-users.yaml").await;
    // Before consent (or sign-in): a human must act, kstatus Failed, Argo CD Degraded.
    let esa = env
        .wait_account("fabrikam", "the sign-in prompt", |e| is(e, "Stalled"))
        .await;
    reads_as(&esa, "Failed", "Degraded");

    env.approve(&env::user_code(&esa)).await;
    reads_as(&env.wait_ready("fabrikam").await, "Current", "Healthy");
    let list = env
        .wait_for(env.lists(), "fabrikam-vip", "Ready", |l| {
            list_is(l, "Ready")
        })
        .await;
    reads_as(&list, "Current", "Healthy");

    // An application-consent account that is missing consent reads the same way.
    env.apply_example("api-all-users.yaml").await;
    let esa = env
        .wait_reason("contoso", "Authorized", "ConsentRequired")
        .await;
    reads_as(&esa, "Failed", "Degraded");
}
