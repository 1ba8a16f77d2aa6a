//! Inline-mode settings: which mail is routed through the service, how the Exchange
//! Administrator role is assigned, and the mail-flow objects the operator keeps.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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
    #[serde(default)]
    pub mail_flow: MailFlow,
}

/// API-mode settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiSpec {
    /// `Inbound`: the service is notified of each message that arrives in a protected
    /// mailbox's inbox; `InboundOutbound`: also of each message sent from it (its sent items).
    /// Each direction is one Microsoft Graph subscription per protected mailbox.
    #[serde(default)]
    pub direction: Direction,
}

/// Which mail is routed through the service (inline mode), or which mail the service is
/// notified of (API mode).
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
    validation = Rule::new("!self.privilegedIdentityManagement || has(self.justification)")
        .message("justification is required when privilegedIdentityManagement is true")
        .field_path(".justification")
        .reason(Reason::FieldValueRequired),
    validation = Rule::new("!has(self.justification) || self.justification.matches('\\\\S')")
        .message("justification must say why the role is requested: it is blank")
        .field_path(".justification")
        .reason(Reason::FieldValueInvalid),
    validation = Rule::new("!(self.privilegedIdentityManagement && self.mode == 'Manual')")
        .message("privilegedIdentityManagement needs mode Automatic: with Manual an administrator assigns the role, with or without Privileged Identity Management, and the operator only detects it")
        .field_path(".privilegedIdentityManagement")
        .reason(Reason::FieldValueForbidden)
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

/// What the service's mail-flow fields moved from an account's `spec.inline.mailFlow` say.
pub const MAIL_FLOW_FIELD_MOVED: &str = "moved to spec.mailFlow of the EmailSecurityService named in spec.serviceRef; an account cannot redirect the tenant's mail";

/// The mail-flow objects the operator keeps for this tenant: scope groups, connectors to and
/// from the service, transport rules and the connection-filter allow list. Where they route
/// mail (relay, certificate, addresses) is the service's `spec.mailFlow`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.smartHost)")
        .message(Message::Message(format!("spec.inline.mailFlow.smartHost is not accepted: {MAIL_FLOW_FIELD_MOVED}")))
        .field_path(".smartHost")
        .reason(Reason::FieldValueForbidden),
    validation = Rule::new("!has(self.tlsCertificateDomain)")
        .message(Message::Message(format!("spec.inline.mailFlow.tlsCertificateDomain is not accepted: {MAIL_FLOW_FIELD_MOVED}")))
        .field_path(".tlsCertificateDomain")
        .reason(Reason::FieldValueForbidden),
    validation = Rule::new("!has(self.serviceIpRanges)")
        .message(Message::Message(format!("spec.inline.mailFlow.serviceIpRanges is not accepted: {MAIL_FLOW_FIELD_MOVED}")))
        .field_path(".serviceIpRanges")
        .reason(Reason::FieldValueForbidden)
)]
pub struct MailFlow {
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
    /// Refused: moved to `spec.mailFlow.smartHost` of the service named in `spec.serviceRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub smart_host: Option<String>,
    /// Refused: moved to `spec.mailFlow.tlsCertificateDomain` of the service named in
    /// `spec.serviceRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub tls_certificate_domain: Option<String>,
    /// Refused: moved to `spec.mailFlow.serviceIpRanges` of the service named in
    /// `spec.serviceRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64), inner(length(max = 18)))]
    pub service_ip_ranges: Option<Vec<String>>,
}

impl Default for MailFlow {
    fn default() -> Self {
        Self {
            name_prefix: default_name_prefix(),
            drift_policy: DriftPolicy::default(),
            smart_host: None,
            tls_certificate_domain: None,
            service_ip_ranges: None,
        }
    }
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
