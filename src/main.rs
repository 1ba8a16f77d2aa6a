//! `exo-operator`: the operator and its command-line tools.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use exo_api as resources;
use exo_operator::controller::context::{Context, Settings};
use exo_operator::controller::leader::{self, Election, Ended};
use exo_operator::controller::run::{Operator, Scope};
use exo_operator::manifests;
use exo_operator::telemetry::{self, LogFormat};

/// exo-operator: onboards Microsoft 365 Exchange Online tenants into an email-security service.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the operator's main job end to end on the embedded simulators: a simulated
    /// Microsoft 365 and Kubernetes API in this process, the examples applied, the Global
    /// Administrator played by the simulator, and a final table.
    #[cfg(feature = "sim")]
    Demo {
        /// Directory of manifests to apply.
        #[arg(default_value = "examples")]
        dir: PathBuf,
        /// Keep everything running afterwards, for kubectl.
        #[arg(long)]
        keep_running: bool,
        /// Where to write the kubeconfig of the emulated cluster.
        #[arg(long, default_value = "exo-demo-kubeconfig.yaml")]
        kubeconfig: PathBuf,
        /// How long to wait for the accounts, in seconds.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
    /// Run the operator: reconcile ExchangeServiceAccounts and SyncTargetLists in the cluster
    /// of the kubeconfig (or in-cluster), until interrupted.
    Run(Box<RunArgs>),
    /// Print the CustomResourceDefinitions as YAML (the content of `crds/`), or write one file
    /// per CRD into a directory.
    Crds {
        /// Write `<plural>.<group>.yaml` files into this directory instead of printing.
        #[arg(long, value_name = "DIR")]
        output_dir: Option<PathBuf>,
        /// Also write the Helm chart's CRD template (gated by `crds.enabled`, kept on
        /// uninstall with `crds.keep`) to this file.
        #[arg(long, value_name = "FILE", requires = "output_dir")]
        helm_template: Option<PathBuf>,
    },
    /// Show what a reconcile would change, changing nothing: each account's tenant is read
    /// with its credentials, and nothing is written to the tenant, the service or the cluster.
    /// Exits 0 when nothing would change, 2 when something would, 1 on an error.
    Plan(Box<PlanArgs>),
    /// Check manifests offline as the API server would admit them: schema, defaults and CEL
    /// rules of ExchangeServiceAccount and SyncTargetList documents. Exits 1 on any error.
    Validate {
        /// YAML files or directories of YAML files.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
}

/// Options of `exo-operator plan`.
#[derive(clap::Args)]
struct PlanArgs {
    /// Accounts in the cluster to plan (ExchangeServiceAccount names).
    #[arg(value_name = "ACCOUNT")]
    accounts: Vec<String>,
    /// Files of manifests: their ExchangeServiceAccounts are planned as written (with the
    /// cluster's record of them, if they exist); the other documents are not applied.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Namespace of the accounts (default: the kubeconfig's).
    #[arg(short = 'n', long)]
    namespace: Option<String>,
    /// The namespaces the operator watches, comma-separated (as its `--namespaces`; default:
    /// every namespace): the accounts a plan sees when it tells who manages a tenant.
    #[arg(
        long = "namespaces",
        env = "EXO_WATCH_NAMESPACES",
        value_name = "NAMESPACE,...",
        value_delimiter = ','
    )]
    watched: Vec<String>,
    /// Output: for a person, or JSON for CI.
    #[arg(short = 'o', long, value_enum, default_value_t = PlanOutput::Text)]
    output: PlanOutput,
    /// Kubeconfig to use; default: `KUBECONFIG`, `~/.kube/config`, or in-cluster.
    #[arg(long, env = "EXO_KUBECONFIG", value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// PEM file of extra certificate authorities trusted for every Microsoft endpoint (as
    /// the operator's).
    #[arg(long, env = "EXO_CA_BUNDLE", value_name = "PATH")]
    ca_bundle: Option<PathBuf>,
    /// HTTPS proxy for every Microsoft endpoint (as the operator's).
    #[arg(long, env = "EXO_HTTPS_PROXY", value_name = "URL")]
    https_proxy: Option<String>,
    /// Namespace of the Secrets and ConfigMaps that ClusterEmailSecurityServices name (as
    /// the operator's).
    #[arg(long, env = "EXO_CLUSTER_RESOURCE_NAMESPACE", value_name = "NAMESPACE")]
    cluster_resource_namespace: Option<String>,
    /// The operator's lifecycle URL (as the operator's): subscriptions made with it are its
    /// own and current.
    #[arg(long, env = "EXO_LIFECYCLE_URL", value_name = "URL")]
    lifecycle_url: Option<String>,
}

/// How `plan` prints.
#[derive(Clone, Copy, clap::ValueEnum)]
enum PlanOutput {
    /// For a person.
    Text,
    /// One JSON document.
    Json,
}

/// Options of `exo-operator run`.
#[derive(clap::Args)]
struct RunArgs {
    /// Kubeconfig to use; default: `KUBECONFIG`, `~/.kube/config`, or the in-cluster service
    /// account.
    #[arg(long, env = "EXO_KUBECONFIG", value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// Watch only these namespaces, comma-separated (default: every namespace).
    #[arg(
        long = "namespaces",
        alias = "namespace",
        env = "EXO_WATCH_NAMESPACES",
        value_name = "NAMESPACE,...",
        value_delimiter = ','
    )]
    namespaces: Vec<String>,
    /// Address of the HTTP port: `/healthz`, `/readyz`, `/metrics` (Prometheus) and the admin
    /// consent callback.
    #[arg(long, env = "EXO_HTTP_ADDR", default_value = "0.0.0.0:8080")]
    http_addr: std::net::SocketAddr,
    /// PEM file of extra certificate authorities trusted for every Microsoft endpoint.
    #[arg(long, env = "EXO_CA_BUNDLE", value_name = "PATH")]
    ca_bundle: Option<PathBuf>,
    /// Reconciles run at once per kind.
    #[arg(long, env = "EXO_CONCURRENCY", default_value_t = 16)]
    concurrency: u16,
    /// Log format: human-readable text or one JSON object per line.
    #[arg(long, env = "EXO_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// HTTPS proxy for every Microsoft endpoint, e.g. `http://proxy.internal:3128` (without it,
    /// `HTTPS_PROXY` and `NO_PROXY` apply).
    #[arg(long, env = "EXO_HTTPS_PROXY", value_name = "URL")]
    https_proxy: Option<String>,
    /// Run as one of several replicas: only the holder of a Lease runs the controllers.
    #[arg(long, env = "EXO_LEADER_ELECTION")]
    leader_election: bool,
    /// Name of the leader-election Lease.
    #[arg(long, env = "EXO_LEASE_NAME", default_value = "exo-operator")]
    lease_name: String,
    /// Namespace of the leader-election Lease (the pod's namespace in a cluster).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    lease_namespace: String,
    /// Namespace of the Secrets and ConfigMaps that ClusterEmailSecurityServices name (as
    /// cert-manager's cluster resource namespace for ClusterIssuers). Default: the namespace
    /// the operator runs in (`POD_NAMESPACE`, else the in-cluster service account's namespace,
    /// else `default`).
    #[arg(long, env = "EXO_CLUSTER_RESOURCE_NAMESPACE", value_name = "NAMESPACE")]
    cluster_resource_namespace: Option<String>,
    /// Seconds a Lease holds without renewal; a new leader takes over within this time.
    #[arg(long, env = "EXO_LEASE_DURATION", default_value_t = 15)]
    lease_duration: u64,
    /// This replica's identity in the Lease and in Events (the pod name in a cluster).
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// Seconds between two looks at an account waiting for a human (admin consent, an
    /// application re-enabled, a role approved, drift to review).
    #[arg(long, env = "EXO_RECHECK_INTERVAL", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86400))]
    recheck_interval: u64,
    /// Largest delay, in seconds, between two attempts of a failing account (the backoff
    /// starts at 5 seconds and doubles, with jitter).
    #[arg(long, env = "EXO_MAX_BACKOFF", default_value_t = 300, value_parser = clap::value_parser!(u64).range(5..=86400))]
    max_backoff: u64,
    /// Seconds after a declined or expired device-code sign-in before a new prompt opens by
    /// itself (regrant Automatic; the regrant annotation opens one at once).
    #[arg(long, env = "EXO_SIGN_IN_REOPEN", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..=604800))]
    sign_in_reopen: u64,
    /// The URL at which Microsoft Graph reaches this operator's HTTP port for lifecycle
    /// notifications of API-mode subscriptions, ending in `/graph/lifecycle` (https; http
    /// only on loopback). Unset: renewals and a daily look at the subscriptions alone keep
    /// them.
    #[arg(long, env = "EXO_LIFECYCLE_URL", value_name = "URL")]
    lifecycle_url: Option<String>,
    /// Subscription writes per 20 seconds per tenant. Microsoft Graph allows 1,000 per
    /// application per tenant; the default leaves the rest to the service's own use. More is
    /// only for the simulator (benchmarks).
    #[arg(long, env = "EXO_SUBSCRIPTION_WRITES", default_value_t = 800, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    subscription_writes: u32,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        #[cfg(feature = "sim")]
        Command::Demo {
            dir,
            keep_running,
            kubeconfig,
            timeout,
        } => {
            telemetry::init_logging_with(LogFormat::Text, "warn");
            let runtime = tokio::runtime::Runtime::new().expect("a Tokio runtime");
            let opts = exo_operator::demo::DemoOptions {
                dir,
                keep_running,
                kubeconfig,
                timeout: std::time::Duration::from_secs(timeout),
            };
            match runtime.block_on(exo_operator::demo::run(opts)) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => {
                    eprintln!("error: not every account became Ready");
                    ExitCode::FAILURE
                }
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Run(args) => {
            let runtime = tokio::runtime::Runtime::new().expect("a Tokio runtime");
            match runtime.block_on(run(*args)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Crds {
            output_dir: None, ..
        } => {
            // In the order of the files in `crds/`.
            let mut crds = resources::crds();
            crds.sort_by_key(resources::crd_file_name);
            for crd in crds {
                print!("{}", resources::crd_yaml(&crd));
            }
            ExitCode::SUCCESS
        }
        Command::Crds {
            output_dir: Some(dir),
            helm_template,
        } => match write_crds(&dir, helm_template.as_deref()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: cannot write CRDs into {}: {e}", dir.display());
                ExitCode::FAILURE
            }
        },
        Command::Plan(args) => {
            telemetry::init_logging_with(LogFormat::Text, "warn");
            let runtime = tokio::runtime::Runtime::new().expect("a Tokio runtime");
            match runtime.block_on(plan(*args)) {
                Ok(0) => ExitCode::SUCCESS,
                Ok(_) => ExitCode::from(2),
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Validate { paths } => validate(&paths),
    }
}

/// `exo-operator plan`: prints the plan; how many changes it holds.
async fn plan(args: PlanArgs) -> anyhow::Result<usize> {
    exo_operator::microsoft::http::install_crypto_provider();
    anyhow::ensure!(
        !args.accounts.is_empty() || !args.files.is_empty(),
        "name the accounts to plan, or give -f FILE"
    );
    // The files and options first: a mistake in them is named before the cluster is asked.
    let mut from_files = Vec::new();
    for file in &args.files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let docs = manifests::parse_yaml_documents(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        for (index, doc) in docs.iter().enumerate() {
            match manifests::check_document(doc) {
                Ok(manifests::Manifest::ExchangeServiceAccount(esa)) => from_files.push(*esa),
                Ok(_) => {}
                Err(errors) => anyhow::bail!(
                    "{} (document {}): {}",
                    file.display(),
                    index + 1,
                    errors.join("; ")
                ),
            }
        }
    }
    anyhow::ensure!(
        !args.accounts.is_empty() || !from_files.is_empty(),
        "no ExchangeServiceAccount to plan in the files given"
    );
    let ca_bundle = read_ca_bundle(args.ca_bundle.as_deref())?;
    let lifecycle_url = lifecycle_url(args.lifecycle_url.as_deref())?;
    let client = kube_client(args.kubeconfig.as_deref()).await?;
    let namespace = args
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_string());
    let mut accounts = Vec::new();
    for name in &args.accounts {
        let api: kube::Api<resources::ExchangeServiceAccount> =
            kube::Api::namespaced(client.clone(), &namespace);
        let esa = api
            .get_opt(name)
            .await?
            .with_context(|| format!("ExchangeServiceAccount {namespace}/{name} not found"))?;
        accounts.push(esa);
    }
    for mut esa in from_files {
        if esa.metadata.namespace.is_none() {
            esa.metadata.namespace = Some(namespace.clone());
        }
        accounts.push(esa);
    }
    let settings = Settings {
        ca_bundle,
        https_proxy: args.https_proxy.clone(),
        cluster_resource_namespace: first_namespace([
            args.cluster_resource_namespace.clone(),
            std::env::var("POD_NAMESPACE").ok(),
        ]),
        protection: exo_operator::protection::Settings {
            lifecycle_url,
            ..Default::default()
        },
        ..Settings::default()
    };
    let watched = watch_scope(&args.watched).namespaces;
    let plan = exo_operator::plan::plan(client, settings, accounts, &watched).await?;
    match args.output {
        PlanOutput::Text => print!("{}", exo_operator::plan::render(&plan)),
        PlanOutput::Json => println!("{}", serde_json::to_string_pretty(&plan)?),
    }
    Ok(plan.changes)
}

/// The CA bundle at `path`, read.
fn read_ca_bundle(path: Option<&Path>) -> anyhow::Result<Option<Vec<u8>>> {
    path.map(|p| {
        std::fs::read(p).with_context(|| format!("cannot read the CA bundle {}", p.display()))
    })
    .transpose()
}

/// `exo-operator run`: the operator, until a signal (or, with leader election, until the
/// Lease is lost).
async fn run(args: RunArgs) -> anyhow::Result<()> {
    telemetry::init_logging(args.log_format);
    exo_operator::microsoft::http::install_crypto_provider();
    let client = kube_client(args.kubeconfig.as_deref()).await?;
    let ctx = Arc::new(Context::new(client, settings(&args)?)?);
    let listener = exo_operator::telemetry::server::bind(args.http_addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.http_addr))?;
    let scope = watch_scope(&args.namespaces);
    if args.leader_election {
        run_elected(ctx, scope, listener, &args).await
    } else {
        run_alone(ctx, scope, listener, args.http_addr).await
    }
}

/// A client of the cluster of `kubeconfig`, or of the inferred one (`KUBECONFIG`,
/// `~/.kube/config`, in-cluster).
async fn kube_client(kubeconfig: Option<&Path>) -> anyhow::Result<kube::Client> {
    let config = match kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("cannot read the kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?
        }
        None => kube::Config::infer()
            .await
            .context("no kubeconfig and not in a cluster")?,
    };
    Ok(kube::Client::try_from(config)?)
}

/// The operator's settings from the options, with the CA bundle read.
fn settings(args: &RunArgs) -> anyhow::Result<Settings> {
    let ca_bundle = read_ca_bundle(args.ca_bundle.as_deref())?;
    Ok(Settings {
        ca_bundle,
        concurrency: args.concurrency,
        instance: args.identity.clone(),
        https_proxy: args.https_proxy.clone(),
        consent_poll: std::time::Duration::from_secs(args.recheck_interval),
        sign_in_reopen: std::time::Duration::from_secs(args.sign_in_reopen),
        fail_points: exo_operator::controller::fail_point::FailPoints::from_env(),
        cluster_resource_namespace: cluster_resource_namespace(args),
        backoff: exo_operator::microsoft::retry::Backoff {
            max: std::time::Duration::from_secs(args.max_backoff),
            ..exo_operator::microsoft::retry::Backoff::RECONCILE
        },
        protection: exo_operator::protection::Settings {
            lifecycle_url: lifecycle_url(args.lifecycle_url.as_deref())?,
            writes_per_20s: args.subscription_writes,
            ..Default::default()
        },
        ..Settings::default()
    })
}

/// `--lifecycle-url`, checked: https, or http on loopback.
fn lifecycle_url(url: Option<&str>) -> anyhow::Result<Option<String>> {
    let Some(url) = url.map(str::trim).filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"];
    let allowed = url.starts_with("https://")
        || loopback.iter().any(|p| {
            url.strip_prefix(p)
                .is_some_and(|r| r.is_empty() || r.starts_with([':', '/']))
        });
    anyhow::ensure!(
        allowed,
        "--lifecycle-url must be an https URL (http only on loopback), e.g. https://exo-operator.example.com/graph/lifecycle"
    );
    Ok(Some(url.trim_end_matches('/').to_string()))
}

/// The cluster resource namespace: the option, else the namespace the operator runs in.
fn cluster_resource_namespace(args: &RunArgs) -> String {
    const IN_CLUSTER: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
    let chosen = args.cluster_resource_namespace.as_deref().map(str::trim);
    let pod = std::env::var("POD_NAMESPACE").ok();
    let in_cluster = || std::fs::read_to_string(IN_CLUSTER).ok();
    first_namespace([chosen.map(String::from), pod, in_cluster()])
}

/// The first of `candidates` that is a namespace (not blank), else `default`.
fn first_namespace(candidates: impl IntoIterator<Item = Option<String>>) -> String {
    candidates
        .into_iter()
        .flatten()
        .map(|n| n.trim().to_string())
        .find(|n| !n.is_empty())
        .unwrap_or_else(|| "default".into())
}

/// The namespaces to watch, blanks dropped (none: every namespace).
fn watch_scope(namespaces: &[String]) -> Scope {
    Scope {
        namespaces: namespaces
            .iter()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .collect(),
    }
}

/// Waits for Ctrl-C or SIGTERM.
async fn shutdown_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    tracing::info!("stopping");
    Ok(())
}

/// Runs the controllers and the HTTP port in this replica alone, until a signal.
async fn run_alone(
    ctx: Arc<Context>,
    scope: Scope,
    listener: tokio::net::TcpListener,
    http_addr: std::net::SocketAddr,
) -> anyhow::Result<()> {
    let operator = Operator::start(ctx, scope, Some(listener)).await;
    tracing::info!(http = %http_addr, "exo-operator running");
    shutdown_signal().await?;
    operator.stop().await;
    Ok(())
}

/// The leader election the options ask for.
fn election(args: &RunArgs) -> Election {
    Election {
        lease_name: args.lease_name.clone(),
        namespace: args.lease_namespace.clone(),
        identity: args
            .identity
            .clone()
            .unwrap_or_else(|| format!("exo-operator-{}", std::process::id())),
        duration: args.lease_duration.max(2),
        grace: (args.lease_duration / 3).max(1),
    }
}

/// Serves the HTTP port (as a standby until leading) and runs the controllers while this
/// replica holds the Lease, until a signal or the Lease is lost.
async fn run_elected(
    ctx: Arc<Context>,
    scope: Scope,
    listener: tokio::net::TcpListener,
    args: &RunArgs,
) -> anyhow::Result<()> {
    let election = election(args);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (handles_tx, handles_rx) = tokio::sync::watch::channel(None);
    let server = tokio::spawn(exo_operator::telemetry::server::serve(
        listener,
        ctx.client.clone(),
        handles_rx,
        stop_rx.clone(),
        true,
    ));
    tracing::info!(http = %args.http_addr, lease = %election.lease_name, "exo-operator running with leader election");
    let leader = leader::run(ctx, scope, &election, handles_tx, stop_rx);
    tokio::pin!(leader);
    let ended = tokio::select! {
        ended = &mut leader => ended,
        r = shutdown_signal() => {
            r?;
            let _ = stop_tx.send(true);
            leader.await
        }
    };
    let _ = stop_tx.send(true);
    let _ = server.await;
    after_leadership(ended.context("leader election failed")?)
}

/// How the process ends after leading: cleanly on shutdown; with an error when the Lease was
/// lost, so that it restarts as a standby.
fn after_leadership(ended: Ended) -> anyhow::Result<()> {
    match ended {
        Ended::Shutdown => Ok(()),
        Ended::LostLease => {
            anyhow::bail!("lost the leader-election lease; exiting to restart as a standby")
        }
    }
}

fn write_crds(dir: &Path, helm_template: Option<&Path>) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for crd in resources::crds() {
        std::fs::write(
            dir.join(resources::crd_file_name(&crd)),
            resources::crd_yaml(&crd),
        )?;
    }
    if let Some(path) = helm_template {
        std::fs::write(path, resources::helm_crds_template())?;
    }
    Ok(())
}

fn validate(paths: &[PathBuf]) -> ExitCode {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            match std::fs::read_dir(path) {
                Ok(entries) => {
                    let mut found: Vec<PathBuf> = entries
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                        .collect();
                    found.sort();
                    files.extend(found);
                }
                Err(e) => {
                    eprintln!("{}: cannot read directory: {e}", path.display());
                    return ExitCode::FAILURE;
                }
            }
        } else {
            files.push(path.clone());
        }
    }
    let (mut checked, mut failed) = (0, 0);
    // Every document counts as checked: ours against the CRDs, others for apiVersion, kind
    // and name.
    for file in files {
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) => {
                eprintln!("{}: cannot read: {e}", file.display());
                failed += 1;
                continue;
            }
        };
        let docs = match manifests::parse_yaml_documents(&text) {
            Ok(docs) => docs,
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                failed += 1;
                continue;
            }
        };
        for (index, doc) in docs.iter().enumerate() {
            checked += 1;
            match manifests::check_document(doc) {
                Ok(manifest @ manifests::Manifest::Other { .. }) => {
                    println!(
                        "{}: {}: not an {} kind, skipped",
                        file.display(),
                        manifest.display_name(),
                        resources::GROUP
                    )
                }
                Ok(manifest) => println!("{}: {}: valid", file.display(), manifest.display_name()),
                Err(errors) => {
                    failed += 1;
                    for error in errors {
                        eprintln!("{} (document {}): {error}", file.display(), index + 1);
                    }
                }
            }
        }
    }
    println!("{checked} documents checked, {failed} invalid");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cluster_resource_namespace_is_the_first_one_given() {
        let some = |s: &str| Some(s.to_string());
        assert_eq!(first_namespace([some("ops"), some("pod")]), "ops");
        assert_eq!(first_namespace([None, some(" "), some("pod\n")]), "pod");
        assert_eq!(first_namespace([None, None]), "default");
    }

    #[test]
    fn the_watch_scope_drops_blank_namespaces() {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        for (namespaces, scope) in [
            (vec![], vec![]),
            (vec![""], vec![]),
            (vec![" a ", "", "b"], vec!["a", "b"]),
        ] {
            assert_eq!(
                watch_scope(&strings(&namespaces)).namespaces,
                strings(&scope)
            );
        }
    }

    #[test]
    fn only_a_lost_lease_is_an_error() {
        assert!(after_leadership(Ended::Shutdown).is_ok());
        assert!(after_leadership(Ended::LostLease).is_err());
    }
}
