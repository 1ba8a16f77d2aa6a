//! The custom resource types of the `exo-operator.io/v1alpha1` API and their CRDs.

pub mod common;
pub mod exchange_service_account;
pub mod sync_target_list;
pub mod validation;

#[cfg(test)]
mod admission_tests;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

pub use exchange_service_account::{
    ExchangeServiceAccount, ExchangeServiceAccountSpec, ExchangeServiceAccountStatus,
};
pub use sync_target_list::{SyncTargetList, SyncTargetListSpec, SyncTargetListStatus};

/// API group of every kind the operator serves.
pub const GROUP: &str = "exo-operator.io";
/// API version of every kind the operator serves.
pub const VERSION: &str = "v1alpha1";
/// Finalizer the operator puts on resources whose deletion must clean up the tenant.
pub const FINALIZER: &str = "exo-operator.io/cleanup";

/// The CRDs of every kind, in the order of the files in `crds/`.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![ExchangeServiceAccount::crd(), SyncTargetList::crd()]
}

/// The file name under `crds/` of a CRD: `<plural>.<group>.yaml`.
pub fn crd_file_name(crd: &CustomResourceDefinition) -> String {
    format!("{}.yaml", crd.metadata.name.as_deref().unwrap_or_default())
}

/// A CRD as the YAML document committed in `crds/` (starting with `---`).
pub fn crd_yaml(crd: &CustomResourceDefinition) -> String {
    let body = serde_saphyr::to_string(crd).expect("a CRD serializes to YAML");
    format!("---\n{body}")
}
