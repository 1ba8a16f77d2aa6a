//! The Kubernetes side of a test: the in-process API emulator (the default), or a real
//! kube-apiserver when `EXO_TEST_BACKEND=apiserver` and `EXO_TEST_KUBECONFIG` names its admin
//! kubeconfig (`scripts/control-plane start DIR` writes both into `DIR/env`; `scripts/test`
//! sets them). Each test works in a namespace of its own, so tests share one real server the
//! way teams share a cluster. Writes are read from the emulator's write audit or from the real
//! server's audit log (`EXO_TEST_AUDIT_LOG`), in the same shape.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use exo_sim_kube::{AuditEntry, Emulator, EmulatorOptions};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

#[path = "wait.rs"]
pub mod wait;

/// Which API server judges the test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `exo-sim kube`, in the test process.
    Emulator,
    /// A real kube-apiserver (with etcd and kube-controller-manager) named by a kubeconfig.
    ApiServer,
}

impl Backend {
    /// The backend chosen by `EXO_TEST_BACKEND` (`emulator`, the default, or `apiserver`).
    pub fn chosen() -> Backend {
        match std::env::var("EXO_TEST_BACKEND").as_deref() {
            Err(_) | Ok("") | Ok("emulator") => Backend::Emulator,
            Ok("apiserver") => Backend::ApiServer,
            Ok(other) => panic!("EXO_TEST_BACKEND={other}: expected `emulator` or `apiserver`"),
        }
    }
}

/// Removes a directory when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A new, empty directory under the system's temporary directory.
    pub fn new(prefix: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("{prefix}-{}", unique()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A process-unique, lower-case suffix for names.
pub fn unique() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{:x}{:x}{}",
        std::process::id(),
        nanos % 0xfffff,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// One test's view of Kubernetes: a client and a kubeconfig whose default namespace is the
/// test's own.
pub struct Cluster {
    /// Which server this is.
    pub backend: Backend,
    /// The emulator, when the backend is the emulator.
    pub emulator: Option<Emulator>,
    /// A client whose default namespace is [`Cluster::namespace`].
    pub client: kube::Client,
    /// The test's namespace (created by `start`).
    pub namespace: String,
    /// A kubeconfig file (admin; current namespace: the test's) for kubectl and child processes.
    pub kubeconfig: PathBuf,
    /// The server's URL.
    pub url: String,
    /// The CA that signed the server's certificate (PEM).
    pub ca_pem: String,
    audit_log: Option<PathBuf>,
    dir: TempDir,
}

impl Cluster {
    /// Starts (or connects to) the chosen backend and creates the test's namespace.
    pub async fn start() -> Cluster {
        Self::start_with(EmulatorOptions::default()).await
    }

    /// An emulator with `opts`, whatever the chosen backend: for tests of the emulator's own
    /// options.
    pub async fn start_emulator(opts: EmulatorOptions) -> Cluster {
        Self::start_on(Backend::Emulator, opts).await
    }

    /// As [`Cluster::start`]; `opts` apply to the emulator only (a real server has its own).
    pub async fn start_with(opts: EmulatorOptions) -> Cluster {
        Self::start_on(Backend::chosen(), opts).await
    }

    async fn start_on(backend: Backend, opts: EmulatorOptions) -> Cluster {
        exo_operator::microsoft::http::install_crypto_provider();
        let dir = TempDir::new("exo-cluster");
        let admin = dir.0.join("admin.kubeconfig");
        let (emulator, audit_log) = match backend {
            Backend::Emulator => {
                let emulator = Emulator::start(opts).await.unwrap();
                emulator.write_kubeconfig(&admin).unwrap();
                (Some(emulator), None)
            }
            Backend::ApiServer => {
                let source = std::env::var("EXO_TEST_KUBECONFIG").expect(
                    "EXO_TEST_BACKEND=apiserver needs EXO_TEST_KUBECONFIG (scripts/control-plane start DIR writes DIR/env)",
                );
                std::fs::copy(&source, &admin).unwrap();
                (
                    None,
                    std::env::var_os("EXO_TEST_AUDIT_LOG").map(PathBuf::from),
                )
            }
        };
        let namespace = format!("exo-t-{}", unique());
        let kubeconfig = dir.0.join("kubeconfig");
        let (url, ca_pem) = write_with_namespace(&admin, &kubeconfig, &namespace);
        let client = client_for(&kubeconfig).await;
        let cluster = Cluster {
            backend,
            emulator,
            client,
            namespace,
            kubeconfig,
            url,
            ca_pem,
            audit_log,
            dir,
        };
        cluster.create_namespace(&cluster.namespace).await;
        cluster
    }

    /// Creates namespace `name` (and, on a real server, waits for its default ServiceAccount,
    /// which kube-controller-manager adds).
    pub async fn create_namespace(&self, name: &str) {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let ns = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
        match namespaces.create(&PostParams::default(), &ns).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => panic!("creating namespace {name}: {e}"),
        }
    }

    /// Stops the emulator, if it is the backend (a real server outlives its tests).
    pub async fn shutdown(self) {
        if let Some(emulator) = self.emulator {
            emulator.shutdown().await;
        }
    }

    /// A temporary directory that lives as long as the cluster.
    pub fn dir(&self) -> &Path {
        &self.dir.0
    }

    /// Installs (or updates) the CRDs from `crds/*.yaml` by server-side apply, as a user
    /// would with `kubectl apply --server-side -f crds/`, and waits until they are served.
    pub async fn install_crds(&self) {
        let crds: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "yaml") {
                continue;
            }
            let crd: Value = serde_saphyr::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let name = crd["metadata"]["name"].as_str().unwrap().to_string();
            crds.patch(
                &name,
                &PatchParams::apply("exo-tests").force(),
                &Patch::Apply(&crd),
            )
            .await
            .unwrap_or_else(|e| panic!("installing CRD {name}: {e}"));
            names.push(name);
        }
        for name in names {
            let crds = &crds;
            wait::until(
                Duration::from_secs(30),
                Duration::from_millis(100),
                async || {
                    let crd = crds.get(&name).await.unwrap();
                    let established = crd.status.as_ref().is_some_and(|s| {
                        s.conditions.iter().flatten().any(|c| {
                            c.type_ == "Established"
                                && c.status == "True"
                                && s.accepted_names
                                    .as_ref()
                                    .is_some_and(|n| n.kind == crd.spec.names.kind)
                        })
                    });
                    established
                        .then_some(())
                        .ok_or_else(|| format!("CRD {name} to be established (30 s)"))
                },
            )
            .await;
        }
    }

    /// The write requests made in the test's namespace so far, oldest first, by clients other
    /// than the control plane's own controllers (the emulator has none).
    pub fn writes(&self) -> Vec<AuditEntry> {
        match (&self.emulator, &self.audit_log) {
            (Some(emulator), _) => emulator
                .stats()
                .audit
                .into_iter()
                .filter(|a| a.namespace.as_deref() == Some(self.namespace.as_str()))
                .collect(),
            (None, Some(log)) => read_audit_log(log, &self.namespace),
            (None, None) => panic!(
                "counting writes on a real API server needs its audit log: set EXO_TEST_AUDIT_LOG (scripts/control-plane start writes it)"
            ),
        }
    }
}

/// Copies kubeconfig `from` to `to` with `namespace` as every context's namespace; returns
/// the (first) cluster's URL and CA certificate.
fn write_with_namespace(from: &Path, to: &Path, namespace: &str) -> (String, String) {
    let mut config: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(from).unwrap()).unwrap();
    for context in config["contexts"].as_array_mut().into_iter().flatten() {
        context["context"]["namespace"] = json!(namespace);
    }
    std::fs::write(to, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    use base64::Engine;
    let cluster = &config["clusters"][0]["cluster"];
    let ca = base64::engine::general_purpose::STANDARD
        .decode(cluster["certificate-authority-data"].as_str().unwrap_or(""))
        .unwrap();
    (
        cluster["server"].as_str().unwrap().to_string(),
        String::from_utf8(ca).unwrap(),
    )
}

/// A client from a kubeconfig file (its default namespace is the context's).
pub async fn client_for(kubeconfig: &Path) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

/// The write requests of a kube-apiserver audit log (JSON lines, stage `ResponseComplete`) in
/// `namespace`, by users that are not `system:` components, as emulator audit entries.
pub fn read_audit_log(path: &Path, namespace: &str) -> Vec<AuditEntry> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|e| {
            e["stage"] == "ResponseComplete"
                && e["objectRef"]["namespace"] == namespace
                && !e["user"]["username"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("system:")
                && matches!(
                    e["verb"].as_str(),
                    Some("create" | "update" | "patch" | "delete" | "deletecollection")
                )
        })
        .map(|e| audit_entry(&e))
        .collect()
}

fn audit_entry(e: &Value) -> AuditEntry {
    let o = &e["objectRef"];
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    let group = text(&o["apiGroup"]);
    let version = text(&o["apiVersion"]);
    let resource = if group.is_empty() {
        format!("{version}/{}", text(&o["resource"]))
    } else {
        format!("{group}/{version}/{}", text(&o["resource"]))
    };
    let uri = text(&e["requestURI"]);
    let field_manager = uri.split_once('?').and_then(|(_, q)| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("fieldManager="))
            .map(|m| m.to_string())
    });
    AuditEntry {
        time: text(&e["requestReceivedTimestamp"]),
        verb: text(&e["verb"]),
        resource,
        namespace: o["namespace"].as_str().map(String::from),
        name: text(&o["name"]),
        subresource: o["subresource"].as_str().map(String::from),
        field_manager,
        user_agent: text(&e["userAgent"]),
        code: e["responseStatus"]["code"].as_u64().unwrap_or(0) as u16,
        changed: true,
    }
}
