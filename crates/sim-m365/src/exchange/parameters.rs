//! Cmdlet parameters: each cmdlet's parameter set with the value types and the required
//! names, and binding a request's parameters to it with PowerShell's errors (unknown or
//! missing parameters, values that do not convert).

use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::errors;

/// Kind of a parameter value.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Str,
    Bool,
    Int,
    Strs,
    Enum(&'static [&'static str]),
    /// A multi-valued property that also accepts `{Add, Remove}`.
    Ips,
}

use Kind::*;

const CONNECTOR_TYPE: Kind = Enum(&["Partner", "OnPremises"]);
const SCOPE: Kind = Enum(&["InOrganization", "NotInOrganization"]);

fn inbound() -> Vec<(&'static str, Kind)> {
    vec![
        ("SenderDomains", Strs),
        ("ConnectorType", CONNECTOR_TYPE),
        ("SenderIPAddresses", Strs),
        ("RestrictDomainsToIPAddresses", Bool),
        ("TlsSenderCertificateName", Str),
        ("RestrictDomainsToCertificate", Bool),
        ("RequireTls", Bool),
        ("TreatMessagesAsInternal", Bool),
        ("CloudServicesMailEnabled", Bool),
        ("Enabled", Bool),
        ("Comment", Str),
        ("EFSkipLastIP", Bool),
        ("EFSkipIPs", Strs),
        ("EFUsers", Strs),
        ("AssociatedAcceptedDomains", Strs),
    ]
}

fn outbound() -> Vec<(&'static str, Kind)> {
    vec![
        ("ConnectorType", CONNECTOR_TYPE),
        ("SmartHosts", Strs),
        ("UseMXRecord", Bool),
        (
            "TlsSettings",
            Enum(&[
                "EncryptionOnly",
                "CertificateValidation",
                "DomainValidation",
            ]),
        ),
        ("TlsDomain", Str),
        ("RecipientDomains", Strs),
        ("IsTransportRuleScoped", Bool),
        ("RouteAllMessagesViaOnPremises", Bool),
        ("AllAcceptedDomains", Bool),
        ("CloudServicesMailEnabled", Bool),
        ("Enabled", Bool),
        ("Comment", Str),
        ("TestMode", Bool),
    ]
}

fn rule() -> Vec<(&'static str, Kind)> {
    vec![
        ("Priority", Int),
        ("Mode", Enum(&["Enforce", "Audit", "AuditAndNotify"])),
        ("StopRuleProcessing", Bool),
        ("Comments", Str),
        ("FromScope", SCOPE),
        ("SentToScope", SCOPE),
        ("SentToMemberOf", Strs),
        ("FromMemberOf", Strs),
        ("SenderIpRanges", Strs),
        ("ExceptIfSenderIpRanges", Strs),
        ("HeaderContainsMessageHeader", Str),
        ("HeaderContainsWords", Strs),
        ("ExceptIfHeaderContainsMessageHeader", Str),
        ("ExceptIfHeaderContainsWords", Strs),
        ("HeaderMatchesMessageHeader", Str),
        ("HeaderMatchesPatterns", Strs),
        ("RouteMessageOutboundConnector", Str),
        ("SetHeaderName", Str),
        ("SetHeaderValue", Str),
        ("SetSCL", Int),
        ("RouteMessageOutboundRequireTls", Bool),
        ("ExceptIfFromMemberOf", Strs),
        ("RecipientDomainIs", Strs),
        ("SenderDomainIs", Strs),
        ("RuleErrorAction", Enum(&["Ignore", "Defer"])),
    ]
}

fn group() -> Vec<(&'static str, Kind)> {
    vec![
        ("Alias", Str),
        ("PrimarySmtpAddress", Str),
        ("ManagedBy", Strs),
        (
            "MemberJoinRestriction",
            Enum(&["Open", "Closed", "ApprovalRequired"]),
        ),
        (
            "MemberDepartRestriction",
            Enum(&["Open", "Closed", "ApprovalRequired"]),
        ),
        ("RequireSenderAuthenticationEnabled", Bool),
        ("DisplayName", Str),
    ]
}

/// A cmdlet's parameters and the names of the required ones.
pub(super) type Parameters = (Vec<(&'static str, Kind)>, &'static [&'static str]);

fn with(
    mut parameters: Vec<(&'static str, Kind)>,
    extra: &[(&'static str, Kind)],
) -> Vec<(&'static str, Kind)> {
    parameters.extend_from_slice(extra);
    parameters
}

/// `Get-*` of a whole object type.
pub(super) fn read() -> Parameters {
    (vec![("Identity", Str), ("ResultSize", Str)], &[])
}

/// `New-InboundConnector`.
pub(super) fn new_inbound() -> Parameters {
    (
        with(inbound(), &[("Name", Str)]),
        &["Name", "SenderDomains"],
    )
}

/// `Set-InboundConnector`.
pub(super) fn set_inbound() -> Parameters {
    (
        with(inbound(), &[("Identity", Str), ("Name", Str)]),
        &["Identity"],
    )
}

/// `New-OutboundConnector`.
pub(super) fn new_outbound() -> Parameters {
    (with(outbound(), &[("Name", Str)]), &["Name"])
}

/// `Set-OutboundConnector`.
pub(super) fn set_outbound() -> Parameters {
    (
        with(outbound(), &[("Identity", Str), ("Name", Str)]),
        &["Identity"],
    )
}

/// `New-TransportRule` (`Enabled` only here: a rule is enabled or disabled afterwards with
/// `Enable-TransportRule` and `Disable-TransportRule`).
pub(super) fn new_rule() -> Parameters {
    (with(rule(), &[("Name", Str), ("Enabled", Bool)]), &["Name"])
}

/// `Enable-TransportRule` and `Disable-TransportRule`.
pub(super) fn toggle_rule() -> Parameters {
    (vec![("Identity", Str), ("Confirm", Bool)], &["Identity"])
}

/// `Set-TransportRule`.
pub(super) fn set_rule() -> Parameters {
    (
        with(rule(), &[("Identity", Str), ("Name", Str)]),
        &["Identity"],
    )
}

/// `Remove-*` of connectors and transport rules.
pub(super) fn remove() -> Parameters {
    (vec![("Identity", Str), ("Confirm", Bool)], &["Identity"])
}

/// `Remove-DistributionGroup`.
pub(super) fn remove_group() -> Parameters {
    (
        with(remove().0, &[("BypassSecurityGroupManagerCheck", Bool)]),
        &["Identity"],
    )
}

/// `Set-HostedConnectionFilterPolicy`.
pub(super) fn set_connection_filter() -> Parameters {
    (
        vec![
            ("Identity", Str),
            ("IPAllowList", Ips),
            ("IPBlockList", Ips),
            ("EnableSafeList", Bool),
        ],
        &["Identity"],
    )
}

/// `New-DistributionGroup` (hidden from address lists only afterwards, with
/// `Set-DistributionGroup`).
pub(super) fn new_group() -> Parameters {
    (
        with(
            group(),
            &[
                ("Name", Str),
                ("Type", Enum(&["Distribution", "Security"])),
                ("Members", Strs),
                ("Notes", Str),
            ],
        ),
        &["Name"],
    )
}

/// `Set-DistributionGroup`.
pub(super) fn set_group() -> Parameters {
    (
        with(
            group(),
            &[
                ("Identity", Str),
                ("Name", Str),
                ("HiddenFromAddressListsEnabled", Bool),
                ("BypassSecurityGroupManagerCheck", Bool),
            ],
        ),
        &["Identity"],
    )
}

/// `Get-DistributionGroupMember`.
pub(super) fn read_members() -> Parameters {
    (vec![("Identity", Str), ("ResultSize", Str)], &["Identity"])
}

/// `Add-DistributionGroupMember` and `Remove-DistributionGroupMember`.
pub(super) fn change_member() -> Parameters {
    (
        vec![
            ("Identity", Str),
            ("Member", Str),
            ("BypassSecurityGroupManagerCheck", Bool),
            ("Confirm", Bool),
        ],
        &["Identity", "Member"],
    )
}

/// Binds the request's `params` to `parameters`: canonical names, converted values.
pub(super) fn bind(
    parameters: &Parameters,
    params: &Map<String, Value>,
) -> Result<Map<String, Value>, Response> {
    let (known, required) = parameters;
    let mut args = Map::new();
    for (name, value) in params {
        let Some((canonical, kind)) = known.iter().find(|(n, _)| n.eq_ignore_ascii_case(name))
        else {
            return Err(errors::exchange(
                400,
                "BadRequest",
                "",
                "Microsoft.Exchange.AdminApi.CommandInvocation.AmbiguousParameterSetException",
                &format!(
                    "Parameter set cannot be resolved using the specified named parameters. One or more parameters issued cannot be used together or an insufficient number of parameters were provided. {name}"
                ),
            ));
        };
        args.insert(canonical.to_string(), convert(canonical, *kind, value)?);
    }
    if let Some(missing) = required.iter().find(|r| !args.contains_key(**r)) {
        return Err(errors::exchange(
            400,
            "BadRequest",
            "Ex3B4C5D",
            "System.Management.Automation.ParameterBindingException",
            &format!(
                "Cannot process command because of one or more missing mandatory parameters: {missing}."
            ),
        ));
    }
    Ok(args)
}

/// `value` converted to the parameter's type, or PowerShell's binding error.
fn convert(name: &str, kind: Kind, value: &Value) -> Result<Value, Response> {
    let transform = |expected: &str| {
        errors::exchange(
            400,
            "BadRequest",
            "Ex2A6C86",
            "System.Management.Automation.ParameterBindingException",
            &format!(
                "Cannot process argument transformation on parameter '{name}'. Cannot convert value \"{value}\" to type \"{expected}\"."
            ),
        )
    };
    match kind {
        Str => value
            .as_str()
            .map(|s| json!(s))
            .ok_or_else(|| transform("System.String")),
        Bool => value
            .as_bool()
            .map(|b| json!(b))
            .ok_or_else(|| transform("System.Boolean")),
        Int => value
            .as_i64()
            .map(|i| json!(i))
            .ok_or_else(|| transform("System.Int32")),
        Strs | Ips => match value {
            Value::String(s) => Ok(json!([s])),
            Value::Array(a) if a.iter().all(Value::is_string) => Ok(value.clone()),
            Value::Object(o) if kind == Ips => Ok(Value::Object(o.clone())),
            _ => Err(transform("Microsoft.Exchange.Data.MultiValuedProperty")),
        },
        Enum(values) => match value.as_str() {
            Some(s) if values.iter().any(|v| v.eq_ignore_ascii_case(s)) => Ok(json!(
                values.iter().find(|v| v.eq_ignore_ascii_case(s)).unwrap()
            )),
            _ => Err(errors::exchange(
                400,
                "BadRequest",
                "Ex2A6C86",
                "System.Management.Automation.ParameterBindingException",
                &format!(
                    "Cannot process argument transformation on parameter '{name}'. Cannot convert value \"{value}\" to type \"{}\". The possible values are: {}.",
                    name,
                    values.join(", ")
                ),
            )),
        },
    }
}
