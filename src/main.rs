use clap::{Parser, Subcommand};
use exo_operator::resources;

/// exo-operator: onboards Microsoft 365 Exchange Online tenants into an email-security service.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the CustomResourceDefinitions as YAML (the content of `crds/`).
    Crds,
}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        Command::Crds => {
            for crd in resources::crds() {
                print!("{}", resources::crd_yaml(&crd));
            }
        }
    }
}
