//! `exo-operator`: the operator and its command-line tools.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use exo_operator::resources::{self, manifests};

/// exo-operator: onboards Microsoft 365 Exchange Online tenants into an email-security service.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
    /// Check manifests offline as the API server would admit them: schema, defaults and CEL
    /// rules of ExchangeServiceAccount and SyncTargetList documents. Exits 1 on any error.
    Validate {
        /// YAML files or directories of YAML files.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Crds {
            output_dir: None, ..
        } => {
            for crd in resources::crds() {
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
        Command::Validate { paths } => validate(&paths),
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
