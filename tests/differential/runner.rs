//! Runs a scenario against one API server and records what a client observes at each step.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use serde_json::{Value, json};

use crate::normalize;
use crate::scenario::{Scenario, Step, substitute, substitute_value};

/// How long a step waiting for a code (`until`) keeps asking.
pub const UNTIL_LIMIT: Duration = Duration::from_secs(60);
/// How long one request, watch or command may take.
const STEP_LIMIT: Duration = Duration::from_secs(90);

/// How a backend compacts its history.
pub enum Compaction {
    /// The emulator's own compaction.
    Emulator(Arc<exo_sim_kube::Emulator>),
    /// A compaction request to the etcd (its client URL) behind a real kube-apiserver, which
    /// serves Leases without the watch cache (`scripts/control-plane`).
    Etcd(String),
}

/// One API server under test.
pub struct Backend {
    /// `emulator` or `kube-apiserver`.
    pub name: &'static str,
    /// An admin client.
    pub client: kube::Client,
    /// An admin kubeconfig.
    pub kubeconfig: PathBuf,
    /// A directory for the backend's files.
    pub dir: PathBuf,
    /// How its history is compacted.
    pub compaction: Compaction,
}

/// The outcome of a scenario: one JSON value per step.
pub type Outcomes = Vec<Value>;

/// A scenario's run: its namespaces and the variables saved so far.
struct Run<'a> {
    backend: &'a Backend,
    vars: BTreeMap<String, String>,
    kubeconfig: PathBuf,
    dir: PathBuf,
}

/// Runs `scenario` (named `stem`) on `backend`, in namespaces of its own named after `unique`.
pub async fn run(backend: &Backend, stem: &str, scenario: &Scenario, unique: &str) -> Outcomes {
    let ns = format!("d-{stem}-{unique}");
    let ns2 = format!("e-{stem}-{unique}");
    let dir = backend.dir.join(&ns);
    std::fs::create_dir_all(&dir).unwrap();
    let kubeconfig = dir.join("kubeconfig");
    with_namespace(&backend.kubeconfig, &kubeconfig, &ns);
    let mut vars = BTreeMap::new();
    vars.insert("ns".to_string(), ns.clone());
    vars.insert("ns2".to_string(), ns2.clone());
    vars.insert(
        "here".to_string(),
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/differential")
            .display()
            .to_string(),
    );
    let mut run = Run {
        backend,
        vars,
        kubeconfig,
        dir,
    };
    run.raw(
        "POST",
        "/api/v1/namespaces",
        Some(json!({"metadata": {"name": ns}})),
    )
    .await;
    let mut outcomes = Vec::new();
    for (i, step) in scenario.steps.iter().enumerate() {
        let outcome = tokio::time::timeout(STEP_LIMIT, run.step(step))
            .await
            .unwrap_or_else(|_| json!({"timedOut": true}));
        let mut outcome = run.unname(outcome);
        normalize::value(&mut outcome);
        outcomes.push(json!({"step": step.label(i), "outcome": outcome}));
    }
    for n in [&ns, &ns2] {
        run.raw("DELETE", &format!("/api/v1/namespaces/{n}"), None)
            .await;
    }
    outcomes
}

impl Run<'_> {
    async fn step(&mut self, step: &Step) -> Value {
        if let Some(r) = &step.request {
            return self.request(step, r).await;
        }
        if let Some(w) = &step.watch {
            return self.watch(w).await;
        }
        let stdin = step.stdin.as_ref().map(|s| substitute(s, &self.vars));
        if let Some(args) = &step.kubectl {
            return self.command("kubectl", args, stdin).await;
        }
        if let Some(script) = &step.python {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/differential/python")
                .join(script);
            let args = vec![path.display().to_string()];
            return self.command("python3", &args, stdin).await;
        }
        if let Some(manifest) = &step.validate {
            return self.validate(&substitute(manifest, &self.vars)).await;
        }
        if step.compact == Some(true) {
            return self.compact().await;
        }
        if let Some(args) = &step.helm {
            let helm = std::env::var("EXO_HELM").unwrap_or_else(|_| "helm".into());
            return self.command(&helm, args, stdin).await;
        }
        unreachable!("checked when loaded")
    }

    /// Replaces the scenario's namespace names by `{ns}` and `{ns2}` in every string.
    fn unname(&self, v: Value) -> Value {
        let text = v
            .to_string()
            .replace(&self.vars["ns2"], "{ns2}")
            .replace(&self.vars["ns"], "{ns}");
        serde_json::from_str(&text).unwrap()
    }

    /// Sends a request as it is written; (code, headers, body).
    async fn send(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        accept: &str,
        body: Vec<u8>,
    ) -> (u16, http::HeaderMap, Vec<u8>) {
        let request = http::Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::CONTENT_TYPE, content_type)
            .header(http::header::ACCEPT, accept)
            .body(kube::client::Body::from(body))
            .unwrap();
        let response = self
            .backend
            .client
            .send(request)
            .await
            .unwrap_or_else(|e| panic!("{} {method} {path}: {e}", self.backend.name));
        let code = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes().to_vec())
            .unwrap_or_default();
        (code, headers, body)
    }

    /// A request outside the scenario's steps (setup and clean-up).
    async fn raw(&self, method: &str, path: &str, body: Option<Value>) -> u16 {
        let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        self.send(method, path, "application/json", "application/json", body)
            .await
            .0
    }

    async fn request(&mut self, step: &Step, line: &str) -> Value {
        let line = substitute(line, &self.vars);
        let (method, path) = line
            .split_once(' ')
            .unwrap_or_else(|| panic!("`{line}`: write METHOD /path"));
        let content_type = step.content_type.as_deref().unwrap_or("application/json");
        let accept = step.accept.as_deref().unwrap_or("application/json");
        let body = match step.body.as_ref().map(|b| substitute_value(b, &self.vars)) {
            None => Vec::new(),
            Some(Value::String(s)) => s.into_bytes(),
            Some(v) => v.to_string().into_bytes(),
        };
        let started = tokio::time::Instant::now();
        let (code, headers, raw) = loop {
            let answer = self
                .send(method, path, content_type, accept, body.clone())
                .await;
            let waiting = step.until.is_some_and(|want| answer.0 != want)
                || step.until_has.as_ref().is_some_and(|path| {
                    let body: Value = serde_json::from_slice(&answer.2).unwrap_or_default();
                    normalize::select(&body, path).is_none()
                });
            if !waiting || started.elapsed() >= UNTIL_LIMIT {
                break answer;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        let parsed: Value = serde_json::from_slice(&raw).unwrap_or_else(|_| {
            if raw.is_empty() {
                Value::Null
            } else {
                json!({"notJson": String::from_utf8_lossy(&raw).chars().take(200).collect::<String>()})
            }
        });
        for (var, path) in &step.save {
            let saved = normalize::select(&parsed, path)
                .map(|v| {
                    v.as_str()
                        .map(String::from)
                        .unwrap_or_else(|| v.to_string())
                })
                .unwrap_or_default();
            self.vars.insert(var.clone(), saved);
        }
        let mut body = parsed;
        for path in step.ignore.keys() {
            normalize::remove(&mut body, path);
        }
        if let Some(only) = &step.only {
            body = Value::Object(
                only.iter()
                    .map(|p| {
                        (
                            p.clone(),
                            normalize::select(&body, p).cloned().unwrap_or(Value::Null),
                        )
                    })
                    .collect(),
            );
        }
        json!({
            "code": code,
            "contentType": media_type(&headers),
            "warnings": warnings(&headers),
            "body": body,
        })
    }

    /// Compacts the backend's history at its current resourceVersion.
    async fn compact(&self) -> Value {
        match &self.backend.compaction {
            Compaction::Emulator(emulator) => emulator.compact(),
            Compaction::Etcd(url) => {
                // The current revision: what a list read from etcd answers.
                let (_, _, raw) = self
                    .send(
                        "GET",
                        "/apis/coordination.k8s.io/v1/leases?limit=1",
                        "application/json",
                        "application/json",
                        Vec::new(),
                    )
                    .await;
                let list: Value = serde_json::from_slice(&raw).unwrap();
                let revision: u64 = list["metadata"]["resourceVersion"]
                    .as_str()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("no resourceVersion in {list}"));
                let answer = reqwest::Client::new()
                    .post(format!("{url}/v3/kv/compaction"))
                    .json(&json!({"revision": revision, "physical": true}))
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await
                    .and_then(|r| r.error_for_status());
                if let Err(e) = answer {
                    panic!("compacting etcd at {url}: {e}");
                }
            }
        }
        json!({"compacted": true})
    }

    async fn watch(&mut self, path: &str) -> Value {
        let path = substitute(path, &self.vars);
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut full = format!("{path}{sep}watch=1");
        if !full.contains("timeoutSeconds=") {
            full.push_str("&timeoutSeconds=2");
        }
        let (code, headers, raw) = self
            .send(
                "GET",
                &full,
                "application/json",
                "application/json",
                Vec::new(),
            )
            .await;
        let events: Vec<Value> = String::from_utf8_lossy(&raw)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|_| json!({"notJson": l})))
            .collect();
        json!({"code": code, "contentType": media_type(&headers), "events": events})
    }

    /// `exo-operator validate` and a dry-run create of `manifest`: each verdict as the list of
    /// `field: message` it gives, and whether they agree.
    async fn validate(&mut self, manifest: &str) -> Value {
        let file = self.dir.join("validate.yaml");
        std::fs::write(&file, manifest).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_exo-operator"))
            .arg("validate")
            .arg(&file)
            .output()
            .unwrap();
        let prefix = format!("{} (document 1): ", file.display());
        let offline: Vec<String> = String::from_utf8_lossy(&out.stderr)
            .lines()
            .chain(String::from_utf8_lossy(&out.stdout).lines())
            .filter_map(|l| l.strip_prefix(&prefix).map(normalize::text))
            .collect();
        let object: Value = serde_saphyr::from_str(manifest).unwrap();
        let plural = format!(
            "{}s",
            object["kind"].as_str().unwrap_or("").to_ascii_lowercase()
        );
        let path = format!(
            "/apis/{}/namespaces/{}/{plural}?dryRun=All",
            object["apiVersion"].as_str().unwrap_or(""),
            self.vars["ns"]
        );
        let (code, _, body) = self
            .send(
                "POST",
                &path,
                "application/json",
                "application/json",
                object.to_string().into_bytes(),
            )
            .await;
        let answer: Value = serde_json::from_slice(&body).unwrap_or_default();
        let server: Vec<String> = answer
            .pointer("/details/causes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|c| {
                normalize::text(&format!(
                    "{}: {}",
                    c["field"].as_str().unwrap_or(""),
                    c["message"].as_str().unwrap_or("")
                ))
            })
            .collect();
        json!({
            "code": code,
            "server": sorted(&server),
            "validate": sorted(&offline),
            "agrees": out.status.success() == (code < 300) && sorted(&offline) == sorted(&server),
        })
    }

    async fn command(&mut self, program: &str, args: &[String], stdin: Option<String>) -> Value {
        let args: Vec<String> = args.iter().map(|a| substitute(a, &self.vars)).collect();
        let program = program.to_string();
        let (kubeconfig, ns, dir) = (
            self.kubeconfig.clone(),
            self.vars["ns"].clone(),
            self.dir.clone(),
        );
        let out = tokio::task::spawn_blocking(move || {
            use std::io::Write;
            let mut child = std::process::Command::new(&program)
                .args(&args)
                .env("KUBECONFIG", &kubeconfig)
                .env("NS", &ns)
                .env("HELM_CACHE_HOME", dir.join("helm-cache"))
                .env("HELM_CONFIG_HOME", dir.join("helm-config"))
                .env("HELM_DATA_HOME", dir.join("helm-data"))
                .env_remove("HTTPS_PROXY")
                .env_remove("HTTP_PROXY")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("{program}: {e}"));
            let mut input = child.stdin.take().unwrap();
            if let Some(text) = stdin {
                input.write_all(text.as_bytes()).unwrap();
            }
            drop(input);
            child.wait_with_output().unwrap()
        })
        .await
        .unwrap();
        json!({
            "exit": out.status.code(),
            "stdout": output(&out.stdout),
            "stderr": output(&out.stderr),
        })
    }
}

/// `lines` in order (the server's causes come in no fixed order).
fn sorted(lines: &[String]) -> Vec<String> {
    let mut v = lines.to_vec();
    v.sort();
    v
}

/// A command's output: JSON when it is JSON, else its lines (each a JSON object when it is
/// one).
fn output(bytes: &[u8]) -> Value {
    let text = String::from_utf8_lossy(bytes);
    serde_json::from_str(&text).unwrap_or_else(|_| {
        Value::Array(
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| {
                    // JSON lines (the Python scripts' output) are compared as JSON.
                    match serde_json::from_str::<Value>(l) {
                        Ok(v @ Value::Object(_)) => v,
                        _ => Value::String(l.to_string()),
                    }
                })
                .collect(),
        )
    })
}

/// The media type of the answer, without parameters.
fn media_type(headers: &http::HeaderMap) -> String {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string()
}

/// The `Warning` headers of the answer.
fn warnings(headers: &http::HeaderMap) -> Vec<String> {
    headers
        .get_all("warning")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(String::from)
        .collect()
}

/// Writes `from` to `to` with every context's namespace set to `namespace`.
fn with_namespace(from: &Path, to: &Path, namespace: &str) {
    let mut config: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(from).unwrap()).unwrap();
    for context in config["contexts"].as_array_mut().into_iter().flatten() {
        context["context"]["namespace"] = json!(namespace);
    }
    std::fs::write(to, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o600)).unwrap();
}
