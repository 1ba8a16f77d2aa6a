//! The root of the `ExchangeServiceAccount` spec: tenant, cloud, endpoints, mode, directory
//! sync, notifications and deletion policy.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::access::{Application, Authorization};
use super::inline::{ApiSpec, InlineSpec};
use super::status::ExchangeServiceAccountStatus;
use crate::common::{
    DURATION_PATTERN, LocalObjectReference, OBJECT_NAME_PATTERN, SECRET_KEY_PATTERN,
    SecretKeySelector, UPN_PATTERN, https_url_rule, tenant_rule,
};
use crate::email_security_service::ServiceKind;

/// Grants an email-security service access to one Microsoft 365 tenant's Exchange Online, in API
/// mode (Microsoft Graph, directory sync) or inline mode (Exchange mail flow routed through the
/// service). The operator carries out the grant, keeps the token valid and reports in status.
// kube's derive takes one `printcolumn(...)` per column, which clippy reads as duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "exo-operator.io",
    version = "v1alpha1",
    kind = "ExchangeServiceAccount",
    namespaced,
    validation = Rule::new("size(self.metadata.name) <= 240").message(
        "metadata.name must be at most 240 characters: the operator names the account's Secret and ConfigMaps after it (<name>-device-grant, <name>-sync-state), which Kubernetes limits to 253"
    ),
    shortname = "esa",
    category = "exo",
    status = "ExchangeServiceAccountStatus",
    derive = "PartialEq",
    doc = "One Microsoft 365 tenant's grant of access to Exchange Online for the email-security service.",
    printcolumn(name = "Tenant", type_ = "string", json_path = ".spec.tenant"),
    printcolumn(name = "Mode", type_ = "string", json_path = ".spec.mode"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Token",
        type_ = "string",
        description = "Reason of the TokenValid condition",
        json_path = ".status.conditions[?(@.type==\"TokenValid\")].reason"
    ),
    printcolumn(
        name = "Users",
        type_ = "integer",
        description = "Users protected by the last directory sync",
        json_path = ".status.sync.users"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        priority = 1,
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(
        name = "Token-Expires",
        type_ = "string",
        priority = 1,
        description = "When the access token expires (UTC)",
        json_path = ".status.token.expiresAt"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(
    validation = Rule::new("self.mode != 'Inline' || has(self.inline)")
        .message("spec.inline is required when spec.mode is Inline")
        .field_path(".inline")
        .reason(Reason::FieldValueRequired),
    validation = Rule::new("self.mode == 'Inline' || !has(self.inline)")
        .message("spec.inline is only for spec.mode Inline")
        .field_path(".inline")
        .reason(Reason::FieldValueForbidden),
    validation = Rule::new("self.mode == 'Api' || !has(self.api)")
        .message("spec.api is only for spec.mode Api")
        .field_path(".api")
        .reason(Reason::FieldValueForbidden),
    validation = Rule::new("!has(self.endpoints)")
        .message(ENDPOINTS_MOVED)
        .field_path(".endpoints")
        .reason(Reason::FieldValueForbidden))]
#[serde(rename_all = "camelCase")]
pub struct ExchangeServiceAccountSpec {
    /// The Microsoft 365 tenant: its tenant id (GUID) or one of its verified domains, such as
    /// `contoso.onmicrosoft.com`. Immutable: a different tenant is a different resource.
    #[schemars(length(min = 1, max = 253))]
    #[x_kube(
        validation = Rule::new("self == oldSelf").message("tenant is immutable"),
        validation = tenant_rule()
    )]
    pub tenant: String,

    /// The Microsoft cloud the tenant lives in. Apps, tokens and tenants never cross clouds,
    /// so this is immutable.
    #[serde(default)]
    #[x_kube(validation = Rule::new("self == oldSelf").message("cloud is immutable"))]
    pub cloud: Cloud,

    /// The email-security service this tenant is onboarded into: its application, endpoints
    /// and mail flow.
    pub service_ref: ServiceReference,

    /// Refused: the endpoint overrides belong to the EmailSecurityService named in
    /// `serviceRef` (its `spec.endpoints`). Kept in the schema only so that setting it is
    /// refused with that message instead of being dropped silently.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<EndpointOverrides>,

    /// How the service is connected: `Api` (Microsoft Graph access to mailboxes, after
    /// delivery) or `Inline` (Exchange mail flow routed through the service). Immutable once set.
    #[x_kube(validation = Rule::new("self == oldSelf").message("mode is immutable"))]
    pub mode: Mode,

    /// Optional override of the service's application: this account's own application
    /// registration, with its credential Secret in the account's namespace. Default: the
    /// application of the service named in `serviceRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<Application>,

    /// How the tenant's administrator grants the application its permissions.
    #[serde(default)]
    pub authorization: Authorization,

    /// Which directory objects to protect and how often to synchronise them.
    #[serde(default)]
    pub sync: SyncSpec,

    /// Names of the service's protection policies to enable once access is granted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), inner(length(min = 1, max = 128)))]
    pub policies: Vec<String>,

    /// Also request the permission to read the organization's activity data, so the service
    /// can enhance protection based on user behaviour.
    #[serde(default)]
    pub activity_data: bool,

    /// API-mode settings: which mail of the protected mailboxes the service is told of. Only
    /// in mode `Api`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<ApiSpec>,

    /// Inline-mode settings: direction, Exchange Administrator role assignment and mail-flow
    /// objects. Required exactly when `mode` is `Inline`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline: Option<InlineSpec>,

    /// Who is told when the token becomes invalid, and again when it recovers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<Notifications>,

    /// What happens in the tenant when this resource is deleted: `Delete` removes everything
    /// the operator created there (mail-flow objects, role assignment); `Orphan` leaves it.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,

    /// Whether the operator changes the tenant: `Manage` (the default) creates, corrects and
    /// removes what the account needs; `Observe` only reads and reports (what `Manage` would
    /// change in `status.plannedChanges`, drift, token health, protection) and writes nothing
    /// to the tenant or the service. From `Observe` to `Manage`, objects already there under
    /// the desired names are adopted (marked, never created twice, never deleted by the
    /// operator) and the rest is fixed.
    #[serde(default)]
    pub management_policy: ManagementPolicy,
}

/// What is refused in `spec.endpoints` of an account.
pub const ENDPOINTS_MOVED: &str = "spec.endpoints is not accepted: endpoints belong to the EmailSecurityService named in spec.serviceRef; an account cannot redirect the service's credential or the tenant's data";

/// The email-security service an account names.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceReference {
    /// `EmailSecurityService` (in the account's namespace, the default) or
    /// `ClusterEmailSecurityService` (cluster-scoped).
    #[serde(default)]
    pub kind: ServiceKind,
    /// Name of the service.
    #[schemars(length(min = 1, max = 253), regex(pattern = OBJECT_NAME_PATTERN))]
    pub name: String,
}

/// A Microsoft cloud instance.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum Cloud {
    /// The worldwide commercial cloud (also Microsoft 365 GCC).
    #[default]
    Global,
    /// US Government GCC High.
    USGovGCCHigh,
    /// US Government DoD.
    USGovDoD,
    /// Microsoft 365 operated by 21Vianet in China.
    China,
}

/// Base URLs that replace the cloud's well-known hosts: HTTPS, or plain HTTP on loopback only.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointOverrides {
    /// Identity platform (login) base URL, e.g. `https://login.microsoftonline.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    #[x_kube(validation = https_url_rule("spec.endpoints.login"))]
    pub login: Option<String>,
    /// Microsoft Graph base URL, e.g. `https://graph.microsoft.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    #[x_kube(validation = https_url_rule("spec.endpoints.graph"))]
    pub graph: Option<String>,
    /// Exchange Online admin API base URL, e.g. `https://outlook.office365.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    #[x_kube(validation = https_url_rule("spec.endpoints.exchange"))]
    pub exchange: Option<String>,
    /// Office 365 Management Activity API base URL, e.g. `https://manage.office.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    #[x_kube(validation = https_url_rule("spec.endpoints.management"))]
    pub management: Option<String>,
    /// PEM bundle of certificate authorities trusted for these endpoints, in addition to the
    /// system roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<CaBundleReference>,
}

/// Where a PEM bundle of trusted certificate authorities is kept.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct CaBundleReference {
    /// Kind of the object holding the bundle.
    #[serde(default)]
    pub kind: CaBundleKind,
    /// Name of the ConfigMap or Secret, in the namespace of the referring resource (a
    /// cluster-scoped service's: the operator's cluster resource namespace).
    #[schemars(length(min = 1, max = 253), regex(pattern = OBJECT_NAME_PATTERN))]
    pub name: String,
    /// Key holding the PEM bundle.
    #[serde(default = "default_ca_key")]
    #[schemars(length(min = 1, max = 253), regex(pattern = SECRET_KEY_PATTERN))]
    pub key: String,
}

fn default_ca_key() -> String {
    "ca.crt".into()
}

/// Kind of object that holds a CA bundle.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum CaBundleKind {
    /// A ConfigMap.
    #[default]
    ConfigMap,
    /// A Secret.
    Secret,
}

/// How the service is connected to Exchange Online.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum Mode {
    /// Microsoft Graph access to mailboxes: messages are scanned after delivery.
    Api,
    /// Exchange mail flow is routed through the service: messages are scanned in transit.
    Inline,
}

/// Directory synchronisation.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.scope != 'Selected' || has(self.targetListRef)")
        .message("targetListRef is required when scope is Selected")
        .field_path(".targetListRef")
        .reason(Reason::FieldValueRequired),
    validation = Rule::new("self.scope == 'Selected' || !has(self.targetListRef)")
        .message("targetListRef is only for scope Selected")
        .field_path(".targetListRef")
        .reason(Reason::FieldValueForbidden)
)]
pub struct SyncSpec {
    /// `All` protects every user and group of the tenant; `Selected` protects only the users
    /// resolved by the SyncTargetList named in `targetListRef` (at most 100).
    #[serde(default)]
    pub scope: SyncScope,
    /// The SyncTargetList, in the same namespace, that selects the users to protect. Required
    /// exactly when `scope` is `Selected`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_list_ref: Option<LocalObjectReference>,
    /// How often the directory is synchronised, as a duration (`24h`, `6h`, `90m`), between
    /// 5m and 168h. Default 24h. An on-demand sync is triggered with the annotation
    /// `exo-operator.io/sync-requested-at` set to the current time (RFC 3339).
    #[serde(default = "default_sync_interval")]
    #[schemars(length(min = 2, max = 32), regex(pattern = DURATION_PATTERN))]
    #[x_kube(
        validation = Rule::new("duration(self) >= duration('5m') && duration(self) <= duration('168h')")
            .message("interval must be between 5m and 168h")
    )]
    pub interval: String,
}

impl Default for SyncSpec {
    fn default() -> Self {
        Self {
            scope: SyncScope::All,
            target_list_ref: None,
            interval: default_sync_interval(),
        }
    }
}

fn default_sync_interval() -> String {
    "24h".into()
}

/// Which directory objects are protected.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum SyncScope {
    /// Every user and group of the tenant.
    #[default]
    All,
    /// The users selected by a SyncTargetList.
    Selected,
}

/// Notification channels for token-validity transitions.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Notifications {
    /// A webhook that receives a JSON POST (without secrets) on each transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookNotification>,
    /// E-mail to the listed administrators through an SMTP relay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailNotification>,
}

/// A webhook whose URL is kept in a Secret (URLs often embed a token).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookNotification {
    /// The Secret key holding the webhook URL.
    pub url_secret_ref: SecretKeySelector,
}

/// E-mail notifications.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmailNotification {
    /// Addresses of the administrators to notify.
    #[schemars(length(min = 1, max = 20), inner(length(min = 3, max = 254), regex(pattern = UPN_PATTERN)))]
    pub recipients: Vec<String>,
    /// Name of a Secret in the same namespace describing the SMTP relay, with keys `host`,
    /// `port` (default 587), `username` and `password` (optional), `from`, and `tls`
    /// (`starttls`, the default; `tls`; or `none`, loopback only).
    #[schemars(length(min = 1, max = 253), regex(pattern = OBJECT_NAME_PATTERN))]
    pub smtp_secret_name: String,
}

/// Whether the operator changes the tenant.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ManagementPolicy {
    /// Create, correct and remove what the account needs.
    #[default]
    Manage,
    /// Read and report only; write nothing to the tenant or the service.
    Observe,
}

/// What happens in the tenant when the resource is deleted.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    /// Remove every object the operator created in the tenant.
    #[default]
    Delete,
    /// Leave the tenant as it is.
    Orphan,
}
