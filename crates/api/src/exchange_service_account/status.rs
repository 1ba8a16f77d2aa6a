//! The observed state of an `ExchangeServiceAccount`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

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
    /// What the email-security service acknowledged of the tenant (when its service has an
    /// ingestion endpoint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<DeliveryStatus>,
    /// API mode: the Microsoft Graph subscriptions that notify the service of the protected
    /// mailboxes' mail (when its service has a `notificationUrl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protection: Option<ProtectionStatus>,
    /// Inline mode: the Exchange objects the operator keeps, and what it found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail_flow: Option<MailFlowStatus>,
    /// `managementPolicy: Observe`: what a reconcile under `Manage` would change now, tenant
    /// first (nothing is changed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub planned_changes: Vec<PlannedChange>,
    /// A short human summary of the state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A change a reconcile would make (`managementPolicy: Observe`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlannedChange {
    /// Where: `tenant`, `service` or `cluster`.
    pub target: String,
    /// What it does: `create`, `change`, `remove` or `send`.
    pub action: String,
    /// What it is about, e.g. `TransportRule "exo Route Inbound Mail to Service"`.
    pub object: String,
    /// The fields it sets (names only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}

/// The Exchange mail-flow configuration the operator owns in the tenant (inline mode).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MailFlowStatus {
    /// The objects the operator created, as `Kind/Name` (e.g.
    /// `TransportRule/exo Route Inbound Mail to Service`). Deletion removes exactly these and
    /// the pending ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<String>,
    /// The intent log: objects (`Kind/Name`) and allow-list entries (`IPAllowList/<range>`)
    /// the operator is about to create, recorded before it creates them. A pending object
    /// that is missing is created, never reported as drift.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<String>,
    /// The operator assigned the Exchange Administrator role (or is about to): deletion
    /// removes the assignment only then.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub role_assignment_owned: bool,
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
    /// `managementPolicy: Observe`: objects (`Kind/Name`) found under the desired names with
    /// no account's ownership marker; adopted once the policy is `Manage`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adoptable: Vec<String>,
    /// Objects (`Kind/Name`) adopted rather than created: kept like the others, but never
    /// deleted by the operator (deletion and a spec that no longer wants them release them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adopted: Vec<String>,
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

/// What the email-security service acknowledged of the tenant's stream.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryStatus {
    /// The service, as `Kind/name`.
    pub service: String,
    /// The last delivery the service acknowledged (its sequence number in the tenant's
    /// stream).
    #[serde(default)]
    pub watermark: i64,
    /// Users the service holds after the deliveries it acknowledged.
    #[serde(default)]
    pub users: i64,
    /// The policies of `spec.policies` the service accepted, in its spelling.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accepted_policies: Vec<String>,
    /// The policies of `spec.policies` the service does not offer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown_policies: Vec<String>,
}

/// The change-notification subscriptions of the protected mailboxes (API mode).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProtectionStatus {
    /// Mailboxes to protect: the selected users, or every user of the directory.
    #[serde(default)]
    pub protected: i64,
    /// Protected mailboxes with every subscription their direction asks for, live in
    /// Microsoft Graph.
    #[serde(default)]
    pub subscribed: i64,
    /// Protected mailboxes whose subscriptions could not be created; see `failures`.
    #[serde(default)]
    pub failed: i64,
    /// Why subscriptions failed, one entry per reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["reason".into()]))]
    pub failures: Vec<ProtectionFailure>,
    /// When the next subscription renewal is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_renewal_time: Option<Time>,
}

/// Mailboxes whose subscriptions failed for one reason.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProtectionFailure {
    /// Stable reason, e.g. `MailboxNotEnabled` (a user without an Exchange Online mailbox).
    pub reason: String,
    /// How many mailboxes failed for this reason.
    pub count: i64,
    /// Up to five of their user ids, as examples.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
}
