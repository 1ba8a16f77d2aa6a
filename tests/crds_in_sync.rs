//! The committed CRDs (`crds/` and the Helm chart's copy) are exactly what the Rust types
//! generate. On failure, regenerate with
//! `cargo run -- crds --output-dir crds --helm-template charts/exo-operator/templates/crds.yaml`.

use std::path::Path;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinitionVersion;

use exo_api::{crd_file_name, crd_yaml, crds, helm_crds_template};

const REGENERATE: &str = "regenerate with: cargo run -- crds --output-dir crds --helm-template charts/exo-operator/templates/crds.yaml";

#[test]
fn crds_directory_matches_the_rust_types() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut expected_files = Vec::new();
    for crd in crds() {
        let name = crd_file_name(&crd);
        let path = root.join("crds").join(&name);
        let committed = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{} is missing ({e}); {REGENERATE}", path.display()));
        assert!(
            committed == crd_yaml(&crd),
            "{} drifted from the Rust types; {REGENERATE}",
            path.display()
        );
        expected_files.push(name);
    }
    let mut present: Vec<String> = std::fs::read_dir(root.join("crds"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    present.sort();
    expected_files.sort();
    assert_eq!(
        present, expected_files,
        "crds/ holds files no kind generates"
    );
}

#[test]
fn helm_chart_crds_match_the_rust_types() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/exo-operator/templates/crds.yaml");
    let committed = std::fs::read_to_string(&path).unwrap();
    assert!(
        committed == helm_crds_template(),
        "{} drifted; {REGENERATE}",
        path.display()
    );
}

#[test]
fn crds_carry_names_columns_and_status_subresource() {
    let all = crds();
    let esa = &all[0];
    assert_eq!(
        esa.metadata.name.as_deref(),
        Some("exchangeserviceaccounts.exo-operator.io")
    );
    assert_eq!(strings(&esa.spec.names.short_names), ["esa"]);
    assert_eq!(strings(&esa.spec.names.categories), ["exo"]);
    let version = &esa.spec.versions[0];
    assert!(version.subresources.as_ref().unwrap().status.is_some());
    assert_eq!(
        default_columns(version),
        ["Tenant", "Mode", "Ready", "Token", "Users", "Age"]
    );

    let stl = &all[1];
    assert_eq!(
        stl.metadata.name.as_deref(),
        Some("synctargetlists.exo-operator.io")
    );
    assert_eq!(strings(&stl.spec.names.short_names), ["stl"]);
    assert_eq!(
        default_columns(&stl.spec.versions[0]),
        ["Account", "Users", "Ready", "Age"]
    );
}

/// The names of a CRD version's printer columns that `kubectl get` shows without `-o wide`.
fn default_columns(version: &CustomResourceDefinitionVersion) -> Vec<&str> {
    version
        .additional_printer_columns
        .as_ref()
        .unwrap()
        .iter()
        .filter(|c| c.priority.unwrap_or(0) == 0)
        .map(|c| c.name.as_str())
        .collect()
}

/// The strings of a list that must be present.
fn strings(list: &Option<Vec<String>>) -> &[String] {
    list.as_deref().expect("the list is set")
}
