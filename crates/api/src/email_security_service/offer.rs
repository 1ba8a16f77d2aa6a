//! What the service offers beyond the grant: where it receives messages (ingestion), and the
//! protection policies accounts can enable.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use crate::common::{SecretKeySelector, https_url_rule};
use crate::exchange_service_account::CaBundleReference;

/// Where the service receives what the operator learns of each tenant: the base URL of its
/// delivery API (protocol v1, `docs/protocol/` in the operator's repository) and the shared
/// secret that signs every delivery.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Ingestion {
    /// The base URL of the service's delivery API, such as `https://ingest.example.com`
    /// (the protocol's paths start with `/v1`). HTTPS; http only on loopback.
    #[schemars(length(min = 1, max = 512))]
    #[x_kube(validation = https_url_rule("spec.ingestion.url"))]
    pub url: String,
    /// The Secret key holding the shared secret that signs every delivery (Standard Webhooks:
    /// `whsec_` followed by base64, or the raw bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<SecretKeySelector>,
    /// PEM bundle of certificate authorities trusted for the ingestion URL, in addition to the
    /// system roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<CaBundleReference>,
}

/// A protection policy the service offers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct OfferedPolicy {
    /// The policy's name, as accounts list it in their `spec.policies`.
    #[schemars(length(min = 1, max = 128))]
    pub name: String,
    /// What the policy does, for the administrators who choose it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub description: Option<String>,
}
