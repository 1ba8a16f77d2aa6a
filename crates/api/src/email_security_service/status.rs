//! The observed state of an `EmailSecurityService` or `ClusterEmailSecurityService`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Observed state of the service. Never holds a secret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmailSecurityServiceStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Current state: `Ready` is true when the spec is usable (the application's credential
    /// Secret exists); `Stalled` is true when only a human can make it so.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// How many ExchangeServiceAccounts name this service in their `spec.serviceRef`.
    #[serde(default)]
    pub accounts: i64,
}
