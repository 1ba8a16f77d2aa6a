//! Inline-mode settings: which mail is routed through the service, how the Exchange
//! Administrator role is assigned, and the mail-flow objects the operator keeps.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::DOMAIN_PATTERN;

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
