//! A simulated email-security service: the receiving side of the delivery protocol v1
//! (`docs/protocol/delivery-v1.openapi.yaml`), written from that document and sharing no code
//! with the operator it judges. Requests are signed in the Standard Webhooks style; tenants
//! register, then deliver a numbered stream (directory snapshots and changes, the protected
//! set, token health) that the service applies once, in order, and writes to its state file
//! before acknowledging. Its notification URL (`POST /graph/notifications`) answers Graph's
//! validation handshake and counts change notifications by their `clientState`. A control
//! API under `/_sim` reads what it holds and injects faults.
//!
//! - The protocol: [`signature`] and [`sequence`] (pure decisions), [`protocol`] (wire types
//!   and bounds), [`tenant`] (what a delivery changes), [`api`] (the `/v1` routes and the
//!   notification URL), [`notifications`] (Graph's notifications judged), [`problem`]
//!   (RFC 9457 errors).
//! - The simulator: [`store`] (the state file), [`service`] (shared state), [`faults`],
//!   [`control`] (`/_sim`).

#![warn(missing_docs)]

pub mod api;
pub mod control;
pub mod faults;
pub mod notifications;
pub mod problem;
pub mod protocol;
pub mod sequence;
pub mod service;
pub mod signature;
pub mod store;
pub mod tenant;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use exo_sim_http::running::RunningServer;

use self::service::Shared;
use self::signature::SigningKey;
use self::store::Store;

/// The policies a service offers unless told otherwise.
pub const DEFAULT_POLICIES: [&str; 7] = [
    "Standard",
    "Strict",
    "Phishing",
    "Malware",
    "Impersonation",
    "Attachments",
    "Links",
];

/// Clock skew tolerated by default, seconds (Standard Webhooks' five minutes).
pub const DEFAULT_TOLERANCE_SECONDS: i64 = 300;

/// Command-line options of `exo-sim service`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Serve HTTPS with a generated CA (written to `--ca-file`).
    #[arg(long)]
    pub tls: bool,
    /// Where to write the CA certificate with `--tls`.
    #[arg(long, value_name = "PATH", default_value = "exo-sim-service-ca.pem")]
    pub ca_file: PathBuf,
    /// File holding the shared secret requests are signed with (the ingestion credential:
    /// raw, or `whsec_<base64>`; trailing newlines ignored).
    #[arg(long, value_name = "FILE", env = "EXO_SIM_SERVICE_SECRET_FILE")]
    pub secret_file: PathBuf,
    /// The policies the service offers, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = DEFAULT_POLICIES.map(String::from))]
    pub policies: Vec<String>,
    /// State file, rewritten atomically after every acknowledged change (memory only
    /// without it).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
}

/// Options of a service started from code.
#[derive(Clone, Debug)]
pub struct ServiceOptions {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Serve HTTPS with a generated CA.
    pub tls: bool,
    /// The shared secret (raw, or `whsec_<base64>`).
    pub secret: String,
    /// The policies offered.
    pub policies: Vec<String>,
    /// The state file (memory only without one).
    pub state_file: Option<PathBuf>,
    /// Clock skew tolerated either way, seconds.
    pub tolerance_seconds: i64,
}

impl ServiceOptions {
    /// Loopback, plain HTTP, the default policies, memory only, with `secret`.
    pub fn new(secret: impl Into<String>) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: false,
            secret: secret.into(),
            policies: DEFAULT_POLICIES.map(String::from).to_vec(),
            state_file: None,
            tolerance_seconds: DEFAULT_TOLERANCE_SECONDS,
        }
    }
}

/// Every route: the protocol's and the control API, with problem answers for the rest. Bodies
/// are read up to [`api::auth::MAX_BODY`].
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .merge(api::routes(shared.clone()))
        .merge(control::routes())
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(api::auth::MAX_BODY))
        .with_state(shared)
}

/// A running service; stops when dropped or on [`Service::shutdown`].
pub struct Service {
    url: String,
    ca_pem: Option<String>,
    server: RunningServer,
}

impl Service {
    /// Loads the state file (if any) and starts serving.
    pub async fn start(opts: ServiceOptions) -> anyhow::Result<Service> {
        exo_sim_http::install_crypto_provider();
        let key = SigningKey::from_secret(&opts.secret).map_err(anyhow::Error::msg)?;
        let store = match &opts.state_file {
            Some(path) => Store::load(path)?,
            None => Store::new(),
        };
        let listener = tokio::net::TcpListener::bind(opts.listen).await?;
        let addr = listener.local_addr()?;
        let tls = if opts.tls {
            Some(exo_sim_http::tls::LocalTls::generate("exo-sim service")?)
        } else {
            None
        };
        let shared = Arc::new(Shared {
            key,
            policies: opts.policies,
            state_file: opts.state_file,
            tolerance_seconds: opts.tolerance_seconds,
            store: tokio::sync::Mutex::new(store),
            faults: Mutex::default(),
            counters: Mutex::default(),
        });
        let scheme = if tls.is_some() { "https" } else { "http" };
        let server = RunningServer::spawn(
            listener,
            router(shared),
            tls.as_ref().map(|t| t.server_config.clone()),
        );
        Ok(Service {
            url: format!("{scheme}://{addr}"),
            ca_pem: tls.map(|t| t.ca_pem),
            server,
        })
    }

    /// The base URL (`/v1` and `/_sim` are served here).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The CA certificate (PEM) to trust, with TLS.
    pub fn ca_pem(&self) -> Option<String> {
        self.ca_pem.clone()
    }

    /// Stops the server and waits until it has stopped.
    pub async fn shutdown(self) {
        self.server.stop().await;
    }
}

/// Runs `exo-sim service` until interrupted.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let secret = std::fs::read_to_string(&args.secret_file).map_err(|e| {
        anyhow::anyhow!(
            "cannot read the secret file {}: {e}",
            args.secret_file.display()
        )
    })?;
    let secret = secret.trim_end_matches(['\n', '\r']).to_string();
    let policies: Vec<String> = args
        .policies
        .iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    let service = Service::start(ServiceOptions {
        listen: args.listen,
        tls: args.tls,
        secret,
        policies: policies.clone(),
        state_file: args.state.clone(),
        tolerance_seconds: DEFAULT_TOLERANCE_SECONDS,
    })
    .await?;
    if let Some(pem) = service.ca_pem() {
        std::fs::write(&args.ca_file, pem)?;
        eprintln!("CA certificate written to {}", args.ca_file.display());
    }
    println!("{}", service.url());
    eprintln!(
        "email-security service simulator on {} (protocol under /v1, control API under /_sim)",
        service.url()
    );
    eprintln!("policies offered: {}", policies.join(", "));
    match &args.state {
        Some(path) => eprintln!("state file: {}", path.display()),
        None => eprintln!("state in memory only (--state FILE keeps it across restarts)"),
    }
    tokio::signal::ctrl_c().await?;
    service.shutdown().await;
    Ok(())
}
