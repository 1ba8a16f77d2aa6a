//! Kubernetes API emulator: a loopback API server that kube-rs and real `kubectl` can use.

/// Command-line options of `exo-sim kube`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {}

/// Runs `exo-sim kube` until interrupted.
pub async fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("the Kubernetes API emulator is not built yet")
}
