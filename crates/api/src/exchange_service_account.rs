//! `ExchangeServiceAccount` (`esa`): one tenant's grant of access to Exchange Online.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{
    DOMAIN_PATTERN, DURATION_PATTERN, ENDPOINT_URL_PATTERN, GUID_PATTERN, LocalObjectReference,
    OBJECT_NAME_PATTERN, SECRET_KEY_PATTERN, SecretKeySelector, TENANT_PATTERN, UPN_PATTERN,
};

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
        type_ = "date",
        priority = 1,
        json_path = ".status.token.expiresAt"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(
    validation = Rule::new("self.mode == 'Inline' ? has(self.inline) : !has(self.inline)")
        .message("spec.inline must be set exactly when spec.mode is Inline")
        .field_path(".inline")
        .reason(Reason::FieldValueRequired))]
#[serde(rename_all = "camelCase")]
pub struct ExchangeServiceAccountSpec {
    /// The Microsoft 365 tenant: its tenant id (GUID) or one of its verified domains, such as
    /// `contoso.onmicrosoft.com`. Immutable: a different tenant is a different resource.
    #[schemars(length(min = 1, max = 253), regex(pattern = TENANT_PATTERN))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("tenant is immutable"))]
    pub tenant: String,

    /// The Microsoft cloud the tenant lives in. Apps, tokens and tenants never cross clouds,
    /// so this is immutable.
    #[serde(default)]
    #[x_kube(validation = Rule::new("self == oldSelf").message("cloud is immutable"))]
    pub cloud: Cloud,

    /// Optional endpoint overrides, for sovereign clouds not covered by `cloud` and for the
    /// local Microsoft 365 simulator. Unset hosts follow `cloud`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<EndpointOverrides>,

    /// How the service is connected: `Api` (Microsoft Graph access to mailboxes, after
    /// delivery) or `Inline` (Exchange mail flow routed through the service). Immutable once set.
    #[x_kube(validation = Rule::new("self == oldSelf").message("mode is immutable"))]
    pub mode: Mode,

    /// The service's application registration and the credential it signs in with.
    pub application: Application,

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

/// Base URLs that replace the cloud's well-known hosts.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointOverrides {
    /// Identity platform (login) base URL, e.g. `https://login.microsoftonline.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 512), regex(pattern = ENDPOINT_URL_PATTERN))]
    pub login: Option<String>,
    /// Microsoft Graph base URL, e.g. `https://graph.microsoft.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 512), regex(pattern = ENDPOINT_URL_PATTERN))]
    pub graph: Option<String>,
    /// Exchange Online admin API base URL, e.g. `https://outlook.office365.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 512), regex(pattern = ENDPOINT_URL_PATTERN))]
    pub exchange: Option<String>,
    /// Office 365 Management Activity API base URL, e.g. `https://manage.office.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 512), regex(pattern = ENDPOINT_URL_PATTERN))]
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
    /// Name of the ConfigMap or Secret, in the same namespace.
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

/// The service's application registration.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    /// Application (client) id of the service's app registration.
    #[schemars(length(min = 36, max = 36), regex(pattern = GUID_PATTERN))]
    pub client_id: String,
    /// The Secret holding the application's credential.
    pub credentials: Credentials,
}

/// The application's credential, read from a Secret in the same namespace. The operator
/// watches the Secret: a rotated credential is used at once.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.type == 'ClientSecret' || !has(self.clientSecretKey)")
        .message("clientSecretKey is only used with type ClientSecret")
        .field_path(".clientSecretKey"),
    validation = Rule::new("self.type == 'Certificate' || (!has(self.certificateKey) && !has(self.privateKeyKey))")
        .message("certificateKey and privateKeyKey are only used with type Certificate")
        .field_path(".type")
)]
pub struct Credentials {
    /// Kind of credential: `ClientSecret` or `Certificate` (a certificate and its private key,
    /// PEM, as registered on the application).
    #[serde(default, rename = "type")]
    pub type_: CredentialType,
    /// Name of the Secret, in the same namespace.
    #[schemars(length(min = 1, max = 253), regex(pattern = OBJECT_NAME_PATTERN))]
    pub secret_name: String,
    /// Key of the client secret in the Secret. Default `client-secret`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = SECRET_KEY_PATTERN))]
    pub client_secret_key: Option<String>,
    /// Key of the PEM certificate in the Secret. Default `tls.crt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = SECRET_KEY_PATTERN))]
    pub certificate_key: Option<String>,
    /// Key of the PEM private key in the Secret. Default `tls.key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = SECRET_KEY_PATTERN))]
    pub private_key_key: Option<String>,
}

impl Credentials {
    /// Key of the client secret, with its default applied.
    pub fn client_secret_key(&self) -> &str {
        self.client_secret_key.as_deref().unwrap_or("client-secret")
    }
    /// Key of the certificate, with its default applied.
    pub fn certificate_key(&self) -> &str {
        self.certificate_key.as_deref().unwrap_or("tls.crt")
    }
    /// Key of the private key, with its default applied.
    pub fn private_key_key(&self) -> &str {
        self.private_key_key.as_deref().unwrap_or("tls.key")
    }
}

/// Kind of application credential.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum CredentialType {
    /// A client secret.
    #[default]
    ClientSecret,
    /// A certificate and its private key (PEM).
    Certificate,
}

/// How permissions are granted.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.method == 'DeviceCode' || (!has(self.refreshTokenSecretName) && !has(self.regrant))")
        .message("refreshTokenSecretName and regrant are only used with method DeviceCode")
        .field_path(".method")
)]
pub struct Authorization {
    /// `ApplicationConsent`: a Global Administrator grants the application permissions on the
    /// admin consent page; status shows its URL and the operator detects completion.
    /// `DeviceCode`: a Global Administrator signs in once with a device code shown in status;
    /// the operator keeps the refresh token in a Secret it owns.
    #[serde(default)]
    pub method: AuthorizationMethod,
    /// DeviceCode only: name of the Secret in which the operator keeps the refresh token.
    /// Default `<resource name>-refresh-token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = OBJECT_NAME_PATTERN))]
    pub refresh_token_secret_name: Option<String>,
    /// DeviceCode only: what happens when the refresh token dies. `Automatic` starts a new
    /// device-code prompt at once; `OnAnnotation` waits for the annotation
    /// `exo-operator.io/regrant` to be set on this resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regrant: Option<RegrantPolicy>,
    /// Where the admin consent page sends the administrator when done. The operator's consent
    /// callback endpoint, or the service's own page. Must be a redirect URI registered on the
    /// application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 512), regex(pattern = r"^https?://[^\s]+$"))]
    pub consent_redirect_uri: Option<String>,
}

/// How a Global Administrator authorizes the application.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum AuthorizationMethod {
    /// Admin consent to application permissions.
    #[default]
    ApplicationConsent,
    /// A one-time sign-in with a device code; delegated permissions and a refresh token.
    DeviceCode,
}

/// What the operator does when a device-code refresh token stops working.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum RegrantPolicy {
    /// Start a new device-code prompt at once.
    #[default]
    Automatic,
    /// Wait until the annotation `exo-operator.io/regrant` is set.
    OnAnnotation,
}

/// Directory synchronisation.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.scope == 'Selected' ? has(self.targetListRef) : !has(self.targetListRef)")
        .message("targetListRef must be set exactly when scope is Selected")
        .field_path(".targetListRef")
        .reason(Reason::FieldValueRequired)
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

/// Inline-mode settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct InlineSpec {
    /// `Inbound` routes incoming mail through the service; `InboundOutbound` also routes
    /// outgoing mail (the upgrade for outbound protection, no new grant needed). Changing back
    /// to `Inbound` removes the outbound objects.
    #[serde(default)]
    pub direction: Direction,
    /// How the Exchange Administrator role reaches the service's application.
    #[serde(default)]
    pub role_assignment: RoleAssignment,
    /// The Exchange mail-flow objects the operator creates and keeps true.
    pub mail_flow: MailFlow,
}

/// Which mail is routed through the service.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum Direction {
    /// Incoming mail only.
    #[default]
    Inbound,
    /// Incoming and outgoing mail.
    InboundOutbound,
}

/// Assignment of the Exchange Administrator role to the service's application.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!self.privilegedIdentityManagement || (has(self.justification) && size(self.justification) > 0)")
        .message("justification is required when privilegedIdentityManagement is true")
        .field_path(".justification")
        .reason(Reason::FieldValueRequired)
)]
pub struct RoleAssignment {
    /// `Automatic`: the operator assigns the role itself (needs the role-management
    /// permission). `Manual`: status shows the application id and the steps for an
    /// administrator; the operator detects completion from a freshly issued token.
    #[serde(default)]
    pub mode: RoleAssignmentMode,
    /// The tenant uses Privileged Identity Management: the role is assigned through an
    /// `adminAssign` schedule request (which may await approval) instead of directly.
    #[serde(default)]
    pub privileged_identity_management: bool,
    /// Justification recorded with the Privileged Identity Management request. Required when
    /// `privilegedIdentityManagement` is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 500))]
    pub justification: Option<String>,
}

/// Who assigns the Exchange Administrator role.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum RoleAssignmentMode {
    /// The operator assigns it.
    #[default]
    Automatic,
    /// An administrator assigns it in the Microsoft Entra admin center.
    Manual,
}

/// The mail-flow objects: scope groups, connectors to and from the service, transport rules and
/// the connection-filter allow list.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MailFlow {
    /// Host name of the service's relay, used as the outbound connector's smart host.
    #[schemars(length(min = 4, max = 253), regex(pattern = DOMAIN_PATTERN))]
    pub smart_host: String,
    /// Domain name on the service's TLS certificate: validated on the connector to the service
    /// and required of mail returning from it.
    #[schemars(
        length(min = 4, max = 253),
        regex(
            pattern = r"^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
        )
    )]
    pub tls_certificate_domain: String,
    /// The service's sending IPv4 addresses or CIDR ranges (/24 to /32), as Exchange accepts
    /// them. Used for loop prevention, enhanced filtering and the connection-filter allow list.
    #[schemars(
        length(min = 1, max = 64),
        inner(
            length(min = 7, max = 18),
            regex(pattern = r"^[0-9]{1,3}(\.[0-9]{1,3}){3}(/[0-9]{1,2})?$")
        )
    )]
    #[x_kube(
        validation = Rule::new("self.all(r, r.contains('/') ? (isCIDR(r) && cidr(r).prefixLength() >= 24) : isIP(r))")
            .message("serviceIpRanges must be IPv4 addresses or CIDR ranges from /24 to /32")
    )]
    pub service_ip_ranges: Vec<String>,
    /// Prefix of the names of every object the operator creates in Exchange. Objects are also
    /// marked as owned in their comment, so the operator never changes anything it did not
    /// create.
    #[serde(default = "default_name_prefix")]
    #[schemars(
        length(min = 2, max = 24),
        regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9 _.-]*[A-Za-z0-9]$")
    )]
    pub name_prefix: String,
    /// What to do when an owned object in Exchange no longer matches: `Correct` restores it,
    /// `Report` only reports the difference in status and an Event.
    #[serde(default)]
    pub drift_policy: DriftPolicy,
}

fn default_name_prefix() -> String {
    "exo".into()
}

/// Response to drift of owned Exchange objects.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DriftPolicy {
    /// Restore the desired state.
    #[default]
    Correct,
    /// Report the difference only.
    Report,
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

/// What happens in the tenant when the resource is deleted.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    /// Remove every object the operator created in the tenant.
    #[default]
    Delete,
    /// Leave the tenant as it is.
    Orphan,
}

/// Observed state of the grant. Never holds a token or a secret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExchangeServiceAccountStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Current state: `Ready` summarises; `Authorized`, `TokenValid`, `DirectorySynced`,
    /// `RoleAssigned`, `MailFlowConfigured` and others give detail. `Reconciling` and
    /// `Stalled` are true while work is under way, and when only a human can fix the grant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// What an administrator must do to grant access, while it is not granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<ConsentPrompt>,
    /// Validity of the access token (never the token itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenStatus>,
    /// The application's service principal in the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_principal: Option<ServicePrincipalStatus>,
    /// Summary of the last directory synchronisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncSummary>,
    /// Inline mode: the Exchange objects the operator keeps, and what it found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail_flow: Option<MailFlowStatus>,
    /// A short human summary of the state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The Exchange mail-flow configuration the operator owns in the tenant (inline mode).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MailFlowStatus {
    /// The objects the operator created, as `Kind/Name` (e.g.
    /// `TransportRule/exo Route Inbound Mail to Service`). Deletion removes exactly these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<String>,
    /// Entries the operator added to the connection-filter allow list. The customer's own
    /// entries are never listed here and never removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_list_entries: Vec<String>,
    /// Owned objects that differ from the desired state, as `Kind/Name: Field, Field`
    /// (drift policy Report; with Correct they are restored and listed in Events).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<String>,
    /// Security settings found wrong, by check name and what is wrong.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_checks: Vec<String>,
    /// The Privileged Identity Management request for the role, while one is open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_request_id: Option<String>,
    /// Fingerprint of the desired state last applied (changes when the spec, the protected
    /// users or the mail domains change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<String>,
    /// When the tenant's mail flow was last compared with the desired state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_check_time: Option<Time>,
}

/// The prompt an administrator answers to grant access.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsentPrompt {
    /// ApplicationConsent: the admin consent URL for a Global Administrator of the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_consent_url: Option<String>,
    /// DeviceCode: the page where the administrator enters `userCode`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_uri: Option<String>,
    /// DeviceCode: the code to enter on `verificationUri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_code: Option<String>,
    /// When the device code or the prompt expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Time>,
    /// Permissions required by this configuration that are not granted yet, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_permissions: Vec<String>,
}

/// Token validity, without the token.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenStatus {
    /// When the current access token expires. The operator refreshes well before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Time>,
    /// When a token was last obtained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_refresh_time: Option<Time>,
}

/// The application's identity in the tenant.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipalStatus {
    /// The tenant id (GUID) the grant resolved to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// Application (client) id; an administrator pastes it when assigning roles by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    /// Object id of the service principal, the principal of role assignments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
}

/// Directory synchronisation summary.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncSummary {
    /// When the last synchronisation completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<Time>,
    /// When the next scheduled synchronisation is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_sync_time: Option<Time>,
    /// Users protected.
    #[serde(default)]
    pub users: i64,
    /// Groups synchronised.
    #[serde(default)]
    pub groups: i64,
    /// Verified mail domains.
    #[serde(default)]
    pub domains: i64,
}
