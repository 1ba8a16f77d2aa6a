//! Kubernetes API emulator: a loopback API server that kube-rs and real `kubectl` can use.
//! HTTPS with its own CA, bearer-token authentication, discovery and OpenAPI (v3, and v2 as
//! JSON or gnostic protobuf), Protocol Buffers bodies of the built-in kinds, Namespaces,
//! Secrets, ConfigMaps, Events, Leases and CustomResourceDefinitions (whose resources it then
//! serves with admission against their schemas and CEL rules), validation of built-in objects
//! worded as kube-apiserver words it, every verb with the API server's semantics (lists paged
//! from one snapshot, selectors, watches with initial events), Table output, and request
//! counters with an audit log of writes.

pub mod discovery;
pub mod events;
pub mod fields;
pub mod http;
pub mod lifecycle;
pub mod openapi_v2;
pub mod patch;
pub mod protobuf;
pub mod read;
pub mod selectors;
pub mod status;
pub mod store;
pub mod table;
pub mod types;
pub mod validation;
pub mod write;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use self::http::ServerState;
use self::store::Store;
pub use self::store::{AuditEntry, Stats};
use self::types::ResourceType;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use exo_sim_http::running::RunningServer;
use exo_sim_http::tls::LocalTls;

/// Command-line options of `exo-sim kube`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Where to write the kubeconfig (default: `exo-sim-kubeconfig.yaml` in the current
    /// directory).
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// Install the exo-operator CRDs at start.
    #[arg(long)]
    pub install_crds: bool,
    /// Delay every watch event by this many milliseconds after its write, as a busy API server
    /// or a slow network does (controllers then read caches older than their own writes).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub watch_delay_ms: u64,
}

/// Options of an emulator started from code.
#[derive(Clone, Debug)]
pub struct EmulatorOptions {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Changes kept for watchers that resume from a resourceVersion (older ones get 410).
    pub history_limit: usize,
    /// Interval between watch bookmarks.
    pub bookmark_interval: Duration,
    /// Delay of every watch event after its write (zero: sent at once).
    pub watch_delay: Duration,
}

impl Default for EmulatorOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            history_limit: 20_000,
            bookmark_interval: Duration::from_secs(10),
            watch_delay: Duration::ZERO,
        }
    }
}

/// Random bytes of the bearer token.
const TOKEN_BYTES: usize = 24;

/// A running emulator; it stops when dropped or on [`Emulator::shutdown`].
pub struct Emulator {
    state: Arc<ServerState>,
    addr: SocketAddr,
    ca_pem: String,
    server: RunningServer,
}

impl Emulator {
    /// Starts an emulator.
    pub async fn start(opts: EmulatorOptions) -> anyhow::Result<Emulator> {
        let tls = LocalTls::generate("exo-sim kube")?;
        let token = exo_sim_http::ids::opaque_token(TOKEN_BYTES)?;
        let store = Store::new(ResourceType::builtins(), opts.history_limit);
        lifecycle::namespaces::seed(&store);
        let state = Arc::new(ServerState {
            store,
            token,
            bookmark_interval: opts.bookmark_interval,
            watch_delay: opts.watch_delay,
        });
        let listener = tokio::net::TcpListener::bind(opts.listen).await?;
        let addr = listener.local_addr()?;
        let server = RunningServer::spawn(
            listener,
            http::router(state.clone()),
            Some(tls.server_config.clone()),
        );
        Ok(Emulator {
            state,
            addr,
            ca_pem: tls.ca_pem,
            server,
        })
    }

    /// The server URL (`https://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The CA certificate (PEM) clients must trust.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A kubeconfig for this emulator (context `exo-sim`, namespace `default`).
    pub fn kubeconfig_yaml(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: exo-sim\n  cluster:\n    server: {}\n    certificate-authority-data: {}\nusers:\n- name: exo-sim\n  user:\n    token: {}\ncontexts:\n- name: exo-sim\n  context:\n    cluster: exo-sim\n    user: exo-sim\n    namespace: default\ncurrent-context: exo-sim\n",
            self.url(),
            STANDARD.encode(&self.ca_pem),
            self.state.token
        )
    }

    /// The kubeconfig, parsed.
    pub fn kubeconfig(&self) -> kube::config::Kubeconfig {
        kube::config::Kubeconfig::from_yaml(&self.kubeconfig_yaml()).expect("a valid kubeconfig")
    }

    /// Writes the kubeconfig to `path` (mode 0600: it holds the token).
    pub fn write_kubeconfig(&self, path: &Path) -> anyhow::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        f.write_all(self.kubeconfig_yaml().as_bytes())?;
        Ok(())
    }

    /// A kube-rs client for this emulator.
    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        exo_sim_http::install_crypto_provider();
        let config =
            kube::Config::from_custom_kubeconfig(self.kubeconfig(), &Default::default()).await?;
        Ok(kube::Client::try_from(config)?)
    }

    /// Request counters and the audit log of writes so far.
    pub fn stats(&self) -> Stats {
        self.state.store.lock().stats.clone()
    }

    /// Compacts the history at the current resourceVersion, as kube-apiserver has etcd do
    /// every five minutes: what clients see when the history they ask for is gone (410 Gone
    /// for a watch, an exact list or a continue token from before).
    pub fn compact(&self) {
        self.state.store.lock().compact();
    }

    /// Stops the server and waits until it has stopped.
    pub async fn shutdown(self) {
        self.server.stop().await;
    }
}

/// The exo-operator CRDs as committed in `crds/` (what `kubectl apply -f crds/` sends), not as
/// the operator's types would generate them: the emulator installs what users install.
const CRD_MANIFESTS: [(&str, &str); 4] = [
    (
        "crds/clusteremailsecurityservices.exo-operator.io.yaml",
        include_str!("../../../crds/clusteremailsecurityservices.exo-operator.io.yaml"),
    ),
    (
        "crds/emailsecurityservices.exo-operator.io.yaml",
        include_str!("../../../crds/emailsecurityservices.exo-operator.io.yaml"),
    ),
    (
        "crds/exchangeserviceaccounts.exo-operator.io.yaml",
        include_str!("../../../crds/exchangeserviceaccounts.exo-operator.io.yaml"),
    ),
    (
        "crds/synctargetlists.exo-operator.io.yaml",
        include_str!("../../../crds/synctargetlists.exo-operator.io.yaml"),
    ),
];

/// Creates the exo-operator CRDs (the manifests of `crds/`) through `client`.
pub async fn install_crds(client: &kube::Client) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let api: kube::Api<CustomResourceDefinition> = kube::Api::all(client.clone());
    for (file, text) in CRD_MANIFESTS {
        let crd: CustomResourceDefinition =
            serde_saphyr::from_str(text).with_context(|| format!("parsing {file}"))?;
        api.create(&Default::default(), &crd).await?;
    }
    Ok(())
}

/// Runs `exo-sim kube` until interrupted.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let emulator = Emulator::start(EmulatorOptions {
        listen: args.listen,
        watch_delay: Duration::from_millis(args.watch_delay_ms),
        ..Default::default()
    })
    .await?;
    let path = args
        .kubeconfig
        .unwrap_or_else(|| PathBuf::from("exo-sim-kubeconfig.yaml"));
    emulator.write_kubeconfig(&path)?;
    if args.install_crds {
        install_crds(&emulator.client().await?).await?;
    }
    println!("{}", emulator.url());
    eprintln!(
        "Kubernetes API emulator on {}; kubeconfig written to {} (try: KUBECONFIG={} kubectl get ns)",
        emulator.url(),
        path.display(),
        path.display()
    );
    tokio::signal::ctrl_c().await?;
    emulator.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_committed_crd_is_installed_and_parses() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crds");
        let mut committed: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| format!("crds/{}", e.unwrap().file_name().to_string_lossy()))
            .filter(|f| f.ends_with(".yaml"))
            .collect();
        committed.sort();
        let mut installed: Vec<String> = CRD_MANIFESTS.iter().map(|(f, _)| f.to_string()).collect();
        installed.sort();
        assert_eq!(installed, committed);
        for (file, text) in CRD_MANIFESTS {
            let crd: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition =
                serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert!(file.contains(crd.metadata.name.as_deref().unwrap()));
        }
    }
}
