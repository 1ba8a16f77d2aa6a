//! Every file in `examples/` is admitted by the CRDs (schema, defaults, CEL rules), reads into
//! the Rust types, and references only Secrets, keys and resources that the same file defines
//! (the accounts' service: `email-security-service.yaml`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use exo_api::ServiceKind;
use exo_api::exchange_service_account::{
    AuthorizationMethod, CredentialType, Credentials, Direction, Mode, SyncScope,
};
use exo_operator::manifests::{Manifest, check_document, parse_yaml_documents};
use serde_json::Value;

fn example_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

/// The manifests of one file, with the keys of each Secret it defines.
fn load(file: &Path) -> (Vec<Manifest>, BTreeMap<String, Vec<String>>) {
    let text = std::fs::read_to_string(file).unwrap();
    let mut manifests = Vec::new();
    let mut secrets = BTreeMap::new();
    for doc in parse_yaml_documents(&text).unwrap() {
        let manifest = check_document(&doc).unwrap_or_else(|e| panic!("{}: {e:?}", file.display()));
        if let Manifest::Other { kind, value, .. } = &manifest {
            assert_eq!(kind, "Secret", "{}: unexpected kind", file.display());
            let keys = ["data", "stringData"]
                .iter()
                .filter_map(|f| value[f].as_object())
                .flat_map(|m| m.keys().cloned())
                .collect();
            secrets.insert(
                value["metadata"]["name"].as_str().unwrap().to_string(),
                keys,
            );
        }
        manifests.push(manifest);
    }
    (manifests, secrets)
}

#[track_caller]
fn has_key(secrets: &BTreeMap<String, Vec<String>>, secret: &str, key: &str, file: &Path) {
    let keys = secrets.get(secret).unwrap_or_else(|| {
        panic!(
            "{}: Secret {secret} is referenced but not defined",
            file.display()
        )
    });
    assert!(
        keys.iter().any(|k| k == key),
        "{}: Secret {secret} has no key {key}",
        file.display()
    );
}

/// The service every example account names (`examples/email-security-service.yaml`).
const SERVICE: &str = "email-security";

/// The keys of the credential `creds` exist in its Secret.
#[track_caller]
fn has_credential(secrets: &BTreeMap<String, Vec<String>>, creds: &Credentials, file: &Path) {
    match creds.type_ {
        CredentialType::ClientSecret => {
            has_key(secrets, &creds.secret_name, creds.client_secret_key(), file)
        }
        CredentialType::Certificate => {
            has_key(secrets, &creds.secret_name, creds.certificate_key(), file);
            has_key(secrets, &creds.secret_name, creds.private_key_key(), file);
        }
    }
}

#[test]
fn every_example_is_admitted_and_self_contained() {
    let files = example_files();
    assert!(
        files.len() >= 4,
        "expected the four scenarios, found {files:?}"
    );
    let (mut accounts, mut services) = (0, 0);
    for file in &files {
        let (manifests, secrets) = load(file);
        let lists: Vec<_> = manifests
            .iter()
            .filter_map(|m| match m {
                Manifest::SyncTargetList(l) => Some(l),
                _ => None,
            })
            .collect();
        for manifest in &manifests {
            if let Manifest::EmailSecurityService(ess) = manifest {
                services += 1;
                assert_eq!(ess.metadata.name.as_deref(), Some(SERVICE));
                has_credential(&secrets, &ess.spec.application.credentials, file);
                let ingestion = ess.spec.ingestion.as_ref();
                if let Some(r) = ingestion.and_then(|i| i.credentials_secret_ref.as_ref()) {
                    has_key(&secrets, &r.name, &r.key, file);
                }
            }
            let Manifest::ExchangeServiceAccount(esa) = manifest else {
                continue;
            };
            accounts += 1;
            let name = esa.metadata.name.as_deref().unwrap();
            assert_eq!(
                (
                    esa.spec.service_ref.kind,
                    esa.spec.service_ref.name.as_str()
                ),
                (ServiceKind::EmailSecurityService, SERVICE),
                "{}: accounts name the example service",
                file.display()
            );
            if let Some(own) = &esa.spec.application {
                has_credential(&secrets, &own.credentials, file);
            }
            if let Some(n) = &esa.spec.notifications {
                if let Some(w) = &n.webhook {
                    has_key(
                        &secrets,
                        &w.url_secret_ref.name,
                        &w.url_secret_ref.key,
                        file,
                    );
                }
                if let Some(e) = &n.email {
                    has_key(&secrets, &e.smtp_secret_name, "host", file);
                }
            }
            if let Some(target) = &esa.spec.sync.target_list_ref {
                let list = lists
                    .iter()
                    .find(|l| l.metadata.name.as_deref() == Some(target.name.as_str()))
                    .unwrap_or_else(|| {
                        panic!(
                            "{}: SyncTargetList {} is not defined",
                            file.display(),
                            target.name
                        )
                    });
                assert_eq!(
                    list.spec.service_account_ref.name,
                    name,
                    "{}: list points elsewhere",
                    file.display()
                );
            }
        }
    }
    assert_eq!(services, 1, "one EmailSecurityService, in its own file");
    assert_eq!(
        accounts,
        files.len() - 1,
        "one ExchangeServiceAccount per other example file"
    );
}

#[test]
fn examples_cover_the_four_scenarios() {
    let accounts: Vec<_> = example_files()
        .iter()
        .flat_map(|f| load(f).0)
        .filter_map(|m| match m {
            Manifest::ExchangeServiceAccount(esa) => Some(esa.spec),
            _ => None,
        })
        .collect();
    let api_all = accounts
        .iter()
        .any(|s| s.mode == Mode::Api && s.sync.scope == SyncScope::All);
    let api_selected = accounts
        .iter()
        .any(|s| s.mode == Mode::Api && s.sync.scope == SyncScope::Selected);
    let inline = |direction, pim| {
        accounts.iter().any(|s| {
            s.inline.as_ref().is_some_and(|i| {
                i.direction == direction && i.role_assignment.privileged_identity_management == pim
            })
        })
    };
    assert!(api_all, "API mode with all users");
    assert!(api_selected, "API mode with a SyncTargetList");
    assert!(inline(Direction::Inbound, false), "inline inbound");
    assert!(
        inline(Direction::InboundOutbound, true),
        "inline inbound+outbound with PIM"
    );
    assert!(
        accounts
            .iter()
            .any(|s| s.authorization.method == AuthorizationMethod::DeviceCode)
    );
}

#[test]
fn example_secrets_hold_placeholders_only() {
    for file in example_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        for doc in parse_yaml_documents(&text).unwrap() {
            if doc["kind"] != "Secret" {
                continue;
            }
            for (key, value) in doc["stringData"].as_object().into_iter().flatten() {
                let value = value.as_str().unwrap_or_default();
                let sensitive =
                    ["client-secret", "password", "tls.key", "username"].contains(&key.as_str());
                assert!(
                    !sensitive || value.contains("REPLACE-WITH"),
                    "{}: {key} must be a placeholder",
                    file.display()
                );
            }
            assert_eq!(
                doc.get("data"),
                None::<&Value>,
                "{}: use stringData placeholders",
                file.display()
            );
        }
    }
}
