//! `exo-sim`: the Microsoft 365 tenant simulator, the Kubernetes API emulator and the
//! email-security service simulator.

use clap::{Parser, Subcommand};

/// Local stand-ins for Microsoft 365, a Kubernetes API server and the email-security service,
/// for trials and tests.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a simulated Microsoft 365 tenant: identity platform, Graph and Exchange admin API.
    M365(exo_sim_m365::Args),
    /// Serve an emulated Kubernetes API that kube-rs and kubectl can use.
    Kube(exo_sim_kube::Args),
    /// Serve a simulated email-security service: the delivery protocol v1, signed and sequenced.
    Service(exo_sim_service::Args),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::M365(args) => exo_sim_m365::run(args).await,
        Command::Kube(args) => exo_sim_kube::run(args).await,
        Command::Service(args) => exo_sim_service::run(args).await,
    }
}
