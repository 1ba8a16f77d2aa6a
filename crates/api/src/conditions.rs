//! The condition types of both kinds' `status.conditions`: the vocabulary users wait on
//! (`kubectl wait --for=condition=Ready`) and dashboards read. Every condition follows the
//! Kubernetes API conventions; `Ready`, `Reconciling` and `Stalled` are kstatus's.

/// Summary condition: the grant (or list) does its job.
pub const READY: &str = "Ready";
/// kstatus "abnormal-true": work is under way.
pub const RECONCILING: &str = "Reconciling";
/// kstatus "abnormal-true": only a human can make progress (consent missing, credential invalid).
pub const STALLED: &str = "Stalled";
/// The required permissions are granted.
pub const AUTHORIZED: &str = "Authorized";
/// A valid access token is held and refreshed.
pub const TOKEN_VALID: &str = "TokenValid";
/// The directory (or the selected users) is synchronised.
pub const DIRECTORY_SYNCED: &str = "DirectorySynced";
/// Inline mode: the Exchange Administrator role is assigned to the service principal.
pub const ROLE_ASSIGNED: &str = "RoleAssigned";
/// Inline mode: the mail-flow objects match the desired state.
pub const MAIL_FLOW_CONFIGURED: &str = "MailFlowConfigured";
/// Inline mode: the related security settings (enhanced filtering, allow list, no bypassing
/// rule, mail domains) were checked and are right.
pub const SECURITY_SETTINGS_VERIFIED: &str = "SecuritySettingsVerified";
/// Inline mode: owned Exchange objects differ from the desired state (drift policy Report).
pub const MAIL_FLOW_DRIFTED: &str = "MailFlowDrifted";
/// ExchangeServiceAccount: another account of the cluster, created earlier, manages the same
/// tenant with the same application; this one changes nothing in the tenant.
pub const TENANT_CONFLICT: &str = "TenantConflict";
/// ExchangeServiceAccount: the email-security service registered the tenant and answers.
pub const SERVICE_REGISTERED: &str = "ServiceRegistered";
/// ExchangeServiceAccount: the policies of `spec.policies` are enabled.
pub const POLICY_ENABLED: &str = "PolicyEnabled";
/// ExchangeServiceAccount: the activity-data permission is granted and subscriptions are started.
pub const ACTIVITY_DATA_AUTHORIZED: &str = "ActivityDataAuthorized";
/// ExchangeServiceAccount, API mode with a service that receives change notifications: every
/// protected mailbox has the Microsoft Graph subscriptions that notify the service of its mail.
pub const PROTECTION_ACTIVE: &str = "ProtectionActive";
/// SyncTargetList: every entry resolved and the total is within the limit.
pub const RESOLVED: &str = "Resolved";
/// SyncTargetList: the referenced account exists, selects this list and holds a valid grant.
pub const SERVICE_ACCOUNT_READY: &str = "ServiceAccountReady";
