//! Microsoft 365 tenant simulator: the identity platform (OAuth2 v2.0), Microsoft Graph, the
//! Exchange admin API, the Office 365 Management Activity API and a control API, on one loopback
//! port (routing by path), with fault injection. State lives in memory, built from a tenants
//! file.
//!
//! - The APIs, each bringing its routes: [`identity`], [`graph`], [`exchange`], [`management`],
//!   and [`control`] (`/_sim`, for tests and demos); [`faults`] wraps them all.
//! - What they share: [`bearer`] (access-token checks), [`paging`], [`errors`] (Microsoft's
//!   error bodies), [`random`] (device-login user codes), [`urlencoding`], [`jwt`] (signing).
//! - The world: [`tenants`] (the file), [`state`] (the world at run time), [`ids`] (Microsoft's
//!   identifiers).

// Early answers are whole HTTP responses, as axum handlers return them: `Result<_, Response>`
// is the simulator's way to stop a request anywhere.
#![allow(clippy::result_large_err)]
#![warn(missing_docs)]

pub mod bearer;
pub mod control;
pub mod errors;
pub mod exchange;
pub mod faults;
pub mod graph;
pub mod identity;
pub mod ids;
pub mod jwt;
pub mod management;
pub mod paging;
pub mod random;
pub mod state;
pub mod tenants;
pub mod urlencoding;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use exo_sim_http::running::RunningServer;

use self::state::World;
pub use self::tenants::{Generate, TenantsFile};

/// The running simulator's shared state.
pub struct Sim {
    /// The world.
    pub world: Mutex<World>,
    /// Token signing.
    pub signer: jwt::Signer,
    /// The base URL clients use.
    pub base_url: String,
    /// Graph's outbound HTTP client (subscription handshakes and notifications).
    pub outbound: graph::subscriptions::Outbound,
}

/// Command-line options of `exo-sim m365`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Serve HTTPS with a generated CA (written to `--ca-file`).
    #[arg(long)]
    pub tls: bool,
    /// Where to write the CA certificate with `--tls`.
    #[arg(long, value_name = "PATH", default_value = "exo-sim-m365-ca.pem")]
    pub ca_file: PathBuf,
    /// Tenants file (YAML); default: the demo world of `examples/sim/tenants.yaml`.
    #[arg(long, value_name = "FILE")]
    pub tenants: Option<PathBuf>,
    /// Generated directory in every tenant: `users=N,groups=M,seed=S`.
    #[arg(long, value_name = "SPEC", value_parser = Generate::parse)]
    pub generate: Option<Generate>,
    /// A CA certificate (PEM) Graph trusts when it calls subscribers' HTTPS notification URLs
    /// (repeatable; none: only plain HTTP on loopback can be reached).
    #[arg(long = "trust-ca", value_name = "FILE")]
    pub trust_ca: Vec<PathBuf>,
}

/// Options of a simulator started from code.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Serve HTTPS with a generated CA.
    pub tls: bool,
    /// The world.
    pub tenants: TenantsFile,
    /// Generated directory in every tenant.
    pub generate: Option<Generate>,
    /// Access-token lifetime.
    pub token_lifetime: Duration,
    /// Device-code polling interval, seconds.
    pub device_code_interval: u64,
    /// CA certificates (PEM text) Graph trusts when it calls subscribers' HTTPS notification
    /// URLs; exactly these (no public roots).
    pub trusted_cas: Vec<String>,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: false,
            tenants: tenants::demo(),
            generate: None,
            token_lifetime: Duration::from_secs(3600),
            device_code_interval: 5,
            trusted_cas: Vec::new(),
        }
    }
}

/// A running simulator; stops when dropped or on [`Simulator::shutdown`].
pub struct Simulator {
    sim: Arc<Sim>,
    ca_pem: Option<String>,
    server: RunningServer,
}

/// Every API's routes, behind fault injection.
pub fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        .merge(identity::routes())
        .merge(graph::routes())
        .merge(exchange::routes())
        .merge(management::routes())
        .merge(control::routes())
        .layer(axum::middleware::from_fn_with_state(
            sim.clone(),
            faults::inject,
        ))
        .with_state(sim)
}

impl Simulator {
    /// Starts a simulator.
    pub async fn start(opts: SimOptions) -> anyhow::Result<Simulator> {
        exo_sim_http::install_crypto_provider();
        let mut world = World::from_file(&opts.tenants, opts.generate)?;
        world.token_lifetime = jiff::SignedDuration::try_from(opts.token_lifetime)?;
        world.device_interval = opts.device_code_interval.max(1);
        let listener = tokio::net::TcpListener::bind(opts.listen).await?;
        let addr = listener.local_addr()?;
        let (scheme, tls) = if opts.tls {
            let tls = exo_sim_http::tls::LocalTls::generate("exo-sim m365")?;
            ("https", Some(tls))
        } else {
            ("http", None)
        };
        let sim = Arc::new(Sim {
            world: Mutex::new(world),
            signer: jwt::Signer::new(),
            base_url: format!("{scheme}://{addr}"),
            outbound: graph::subscriptions::Outbound::new(&opts.trusted_cas)?,
        });
        let server = RunningServer::spawn(
            listener,
            router(sim.clone()),
            tls.as_ref().map(|t| t.server_config.clone()),
        );
        Ok(Simulator {
            sim,
            ca_pem: tls.map(|t| t.ca_pem),
            server,
        })
    }

    /// The base URL (login, Graph, management and control are all served here).
    pub fn url(&self) -> String {
        self.sim.base_url.clone()
    }

    /// The CA certificate (PEM) to trust, with TLS.
    pub fn ca_pem(&self) -> Option<String> {
        self.ca_pem.clone()
    }

    /// Requests so far by `METHOD /path`.
    pub fn counters(&self) -> std::collections::BTreeMap<String, u64> {
        self.sim.world.lock().unwrap().counters.clone()
    }

    /// Requests so far whose `METHOD /path` contains `pattern`.
    pub fn count(&self, pattern: &str) -> u64 {
        self.counters()
            .iter()
            .filter(|(k, _)| k.contains(pattern))
            .map(|(_, v)| v)
            .sum()
    }

    /// Runs `f` on the world (tests and the demo).
    pub fn with_world<T>(&self, f: impl FnOnce(&mut World) -> T) -> T {
        f(&mut self.sim.world.lock().unwrap())
    }

    /// Stops the server and waits until it has stopped.
    pub async fn shutdown(self) {
        self.server.stop().await;
    }
}

/// Runs `exo-sim m365` until interrupted.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let tenants = match &args.tenants {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            serde_saphyr::from_str(&text).map_err(|e| {
                anyhow::anyhow!("{} is not a valid tenants file: {e}", path.display())
            })?
        }
        None => tenants::demo(),
    };
    let mut trusted_cas = Vec::new();
    for path in &args.trust_ca {
        trusted_cas.push(
            std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?,
        );
    }
    let sim = Simulator::start(SimOptions {
        listen: args.listen,
        trusted_cas,
        tls: args.tls,
        tenants,
        generate: args.generate,
        ..Default::default()
    })
    .await?;
    if let Some(pem) = sim.ca_pem() {
        std::fs::write(&args.ca_file, pem)?;
        eprintln!("CA certificate written to {}", args.ca_file.display());
    }
    println!("{}", sim.url());
    eprintln!(
        "Microsoft 365 simulator on {} (control API under /_sim)",
        sim.url()
    );
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}
