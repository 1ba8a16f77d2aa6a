//! The two kinds of the service and their shared spec: the service's multi-tenant application
//! and the Microsoft endpoints it is reached through.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::mail_flow::ServiceMailFlow;
use super::offer::{Ingestion, OfferedPolicy};
use super::status::EmailSecurityServiceStatus;
use crate::common::https_url_rule;
use crate::exchange_service_account::{Application, EndpointOverrides};

/// The email-security service, described once for the tenants of one namespace: its
/// multi-tenant application, the Microsoft endpoints, where inline mode routes mail, where
/// messages are delivered and the policies it offers. ExchangeServiceAccounts name it in
/// `spec.serviceRef`. Secrets and ConfigMaps it names are in its own namespace.
// kube's derive takes one `printcolumn(...)` per column, which clippy reads as duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "exo-operator.io",
    version = "v1alpha1",
    kind = "EmailSecurityService",
    namespaced,
    shortname = "ess",
    category = "exo",
    status = "EmailSecurityServiceStatus",
    derive = "PartialEq",
    doc = "The email-security service, described once for the ExchangeServiceAccounts of its namespace.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Accounts",
        type_ = "integer",
        description = "ExchangeServiceAccounts that name this service",
        json_path = ".status.accounts"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        priority = 1,
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct EmailSecurityServiceSpec {
    /// The service's multi-tenant application registration and the credential it signs in
    /// with. An ExchangeServiceAccount may override it with its own `spec.application`.
    pub application: Application,

    /// Optional endpoint overrides, for sovereign clouds not covered by an account's `cloud`
    /// and for the local Microsoft 365 simulator. Unset hosts follow the account's `cloud`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<EndpointOverrides>,

    /// Where inline mode routes mail: the service's relay, its TLS certificate and its sending
    /// addresses. Required by accounts in mode `Inline`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail_flow: Option<ServiceMailFlow>,

    /// Where the service receives each tenant's registration, directory and token health
    /// (the delivery protocol v1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingestion: Option<Ingestion>,

    /// The HTTPS URL that receives Microsoft Graph change notifications for the service (http
    /// only on loopback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    #[x_kube(validation = https_url_rule("spec.notificationUrl"))]
    pub notification_url: Option<String>,

    /// The protection policies the service offers, which accounts enable by name in their
    /// `spec.policies`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    #[x_kube(
        validation = Rule::new("self.all(p, self.exists_one(q, q.name == p.name))")
            .message("policies must have distinct names")
    )]
    pub policies: Vec<OfferedPolicy>,
}

/// The spec of a ClusterEmailSecurityService: the same as an EmailSecurityService's.
// kube's derive takes one `printcolumn(...)` per column, which clippy reads as duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "exo-operator.io",
    version = "v1alpha1",
    kind = "ClusterEmailSecurityService",
    shortname = "cess",
    category = "exo",
    status = "EmailSecurityServiceStatus",
    derive = "PartialEq",
    doc = "The email-security service, described once for ExchangeServiceAccounts of every namespace.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Accounts",
        type_ = "integer",
        description = "ExchangeServiceAccounts that name this service",
        json_path = ".status.accounts"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        priority = 1,
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(transparent)]
#[schemars(transparent)]
pub struct ClusterEmailSecurityServiceSpec(pub EmailSecurityServiceSpec);

impl std::ops::Deref for ClusterEmailSecurityServiceSpec {
    type Target = EmailSecurityServiceSpec;
    fn deref(&self) -> &EmailSecurityServiceSpec {
        &self.0
    }
}

/// Which kind of service an account names.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum ServiceKind {
    /// An EmailSecurityService in the account's namespace.
    #[default]
    EmailSecurityService,
    /// A cluster-scoped ClusterEmailSecurityService, whose Secrets and ConfigMaps are in the
    /// operator's cluster resource namespace.
    ClusterEmailSecurityService,
}
