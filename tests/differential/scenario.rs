//! Scenarios: YAML files in `scenarios/`, each a sequence of steps written once and run against
//! every backend. A step is one HTTP request (as kube-rs sends it), a watch read to its end,
//! or a command of a real client (kubectl, Python's `kubernetes` client, Helm).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

/// One scenario file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// What the scenario shows.
    pub about: String,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

/// One step. Exactly one of `request`, `watch`, `kubectl`, `python`, `helm`, `validate` and
/// `compact` is given.
/// Strings may name variables as `{var}`: `{ns}` (the scenario's namespace), `{ns2}` (a second
/// one, created on demand by the scenario itself) and what earlier steps saved.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Step {
    /// A label for reports.
    pub name: Option<String>,
    /// `METHOD /path?query`.
    pub request: Option<String>,
    /// `/path?query` of a watch (`watch=1` added), read until the server ends it.
    pub watch: Option<String>,
    /// kubectl arguments (the kubeconfig's namespace is the scenario's).
    pub kubectl: Option<Vec<String>>,
    /// A script in `python/`, run with `KUBECONFIG` and `NS` set.
    pub python: Option<String>,
    /// Helm arguments.
    pub helm: Option<Vec<String>>,
    /// A manifest of the operator's kinds: checked offline by `exo-operator validate` and by
    /// the server (a dry-run create); both verdicts are recorded, and must agree.
    pub validate: Option<String>,
    /// `true`: compact the server's history at its current resourceVersion, as kube-apiserver
    /// has etcd do every five minutes (a scenario that compacts runs alone).
    pub compact: Option<bool>,
    /// Standard input of a command.
    pub stdin: Option<String>,
    /// Content type of the request body (default `application/json`).
    pub content_type: Option<String>,
    /// `Accept` header (default: JSON).
    pub accept: Option<String>,
    /// Request body: a string is sent as it is, anything else as JSON.
    pub body: Option<Value>,
    /// Repeat the request (at most for [`crate::UNTIL_LIMIT`]) until it answers this code.
    pub until: Option<u16>,
    /// Repeat the request (as for `until`) until its body has a value at this path.
    pub until_has: Option<String>,
    /// A disagreement with kube-apiserver that is known and not yet resolved, described: it is
    /// reported, not failed; the step fails once it agrees, so that the marker is removed.
    pub known: Option<String>,
    /// The first kube-apiserver release whose answer to this step the emulator follows (older
    /// releases word it differently): on older servers the step runs but is not compared.
    pub since: Option<String>,
    /// Variables to save from the answer: name to a path in the body.
    #[serde(default)]
    pub save: BTreeMap<String, String>,
    /// Compare only these paths of the body (for documents larger than what the emulator
    /// serves: discovery and OpenAPI list kinds the emulator has no controller for).
    pub only: Option<Vec<String>>,
    /// Paths of the body left out of the comparison, each with the reason (a documented,
    /// deliberate difference).
    #[serde(default)]
    pub ignore: BTreeMap<String, String>,
}

impl Scenario {
    /// Whether a step compacts the history: the scenario then runs alone, so that no other
    /// scenario's continue token or watch loses its history under it.
    pub fn compacts(&self) -> bool {
        self.steps.iter().any(|s| s.compact == Some(true))
    }
}

impl Step {
    /// The step's label.
    pub fn label(&self, index: usize) -> String {
        let what = self
            .name
            .clone()
            .or_else(|| self.request.clone())
            .or_else(|| self.watch.as_ref().map(|w| format!("watch {w}")))
            .or_else(|| {
                self.kubectl
                    .as_ref()
                    .map(|a| format!("kubectl {}", a.join(" ")))
            })
            .or_else(|| self.python.as_ref().map(|p| format!("python {p}")))
            .or_else(|| self.helm.as_ref().map(|a| format!("helm {}", a.join(" "))))
            .or_else(|| {
                self.validate
                    .as_ref()
                    .map(|_| "exo-operator validate".to_string())
            })
            .or_else(|| self.compact.map(|_| "compact the history".to_string()))
            .unwrap_or_default();
        format!("step {}: {what}", index + 1)
    }

    fn kinds(&self) -> usize {
        [
            self.request.is_some(),
            self.watch.is_some(),
            self.kubectl.is_some(),
            self.python.is_some(),
            self.helm.is_some(),
            self.validate.is_some(),
            self.compact.is_some(),
        ]
        .iter()
        .filter(|k| **k)
        .count()
    }
}

/// Every scenario of `dir`, by file stem, sorted.
pub fn load_all(dir: &Path) -> Vec<(String, Scenario)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let scenario: Scenario =
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for (i, step) in scenario.steps.iter().enumerate() {
            assert_eq!(
                step.kinds(),
                1,
                "{stem} {}: give exactly one of request, watch, kubectl, python, helm, validate, compact",
                step.label(i)
            );
        }
        out.push((stem, scenario));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// `text` with every `{var}` of `vars` replaced.
pub fn substitute(text: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = text.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

/// `value` with variables replaced in every string.
pub fn substitute_value(value: &Value, vars: &BTreeMap<String, String>) -> Value {
    match value {
        Value::String(s) => Value::String(substitute(s, vars)),
        Value::Array(a) => Value::Array(a.iter().map(|v| substitute_value(v, vars)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (substitute(k, vars), substitute_value(v, vars)))
                .collect(),
        ),
        other => other.clone(),
    }
}
