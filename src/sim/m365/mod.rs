//! Microsoft 365 tenant simulator: identity platform, Graph and Exchange admin API.

/// Command-line options of `exo-sim m365`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {}

/// Runs `exo-sim m365` until interrupted.
pub async fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("the Microsoft 365 tenant simulator is not built yet")
}
