//! Semantic checks of an Exchange object about to be stored, as Exchange makes them:
//! connector settings that go together, IP address entries, transport rules that refer to
//! existing connectors and groups.

use axum::response::Response;
use serde_json::Value;

use super::objects::{exists, invalid, referenced_not_found};
use crate::state::Tenant;

/// Checks an IPv4 address, CIDR (/24../32) or range of at most 256 addresses.
pub fn valid_ip_entry(entry: &str) -> bool {
    let ip = |s: &str| s.trim().parse::<std::net::Ipv4Addr>().ok();
    if let Some((addr, bits)) = entry.split_once('/') {
        return ip(addr).is_some() && bits.parse::<u8>().is_ok_and(|b| (24..=32).contains(&b));
    }
    if let Some((a, b)) = entry.split_once('-') {
        return match (ip(a), ip(b)) {
            (Some(a), Some(b)) => u32::from(b) >= u32::from(a) && u32::from(b) - u32::from(a) < 256,
            _ => false,
        };
    }
    ip(entry).is_some()
}

/// Checks an inbound connector's `SenderIPAddresses` entry: an IPv4 address or CIDR /24../32
/// (Learn lists no ranges there).
pub fn valid_sender_ip(entry: &str) -> bool {
    !entry.contains('-') && valid_ip_entry(entry)
}

/// Checks an SMTP domain where a wildcard may only stand for all subdomains (`*.contoso.com`),
/// or, when `star` allows it, for every domain (`*`).
pub fn valid_domain(entry: &str, star: bool) -> bool {
    if entry == "*" {
        return star;
    }
    let name = entry.strip_prefix("*.").unwrap_or(entry);
    let labels: Vec<&str> = name.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// Semantic checks of an object of `kind` about to be stored in `tenant`.
pub(super) fn validate(kind: &str, obj: &Value, tenant: &Tenant) -> Result<(), Response> {
    let props = Props(obj);
    match kind {
        "InboundConnector" => inbound_connector(props),
        "OutboundConnector" => outbound_connector(props),
        "TransportRule" => transport_rule(props, tenant),
        "DistributionGroup" => group(props),
        "HostedConnectionFilterPolicy" => props.valid_ips(
            &["IPAllowList", "IPBlockList"],
            "IPv6 isn't supported; use single IPv4 addresses, ranges of up to 256 addresses or CIDR /24 to /32",
        ),
        _ => Ok(()),
    }
}

/// An object's properties, read leniently (absent: empty or false).
#[derive(Clone, Copy)]
struct Props<'a>(&'a Value);

impl Props<'_> {
    fn str(&self, key: &str) -> &str {
        self.0[key].as_str().unwrap_or("")
    }

    fn bool(&self, key: &str) -> bool {
        self.0[key].as_bool().unwrap_or(false)
    }

    fn list(&self, key: &str) -> Vec<Value> {
        self.0[key].as_array().cloned().unwrap_or_default()
    }

    /// The entries of the lists `keys`.
    fn lists(&self, keys: &[&str]) -> Vec<Value> {
        keys.iter().flat_map(|k| self.list(k)).collect()
    }

    /// Checks that every entry of the list `key` is a domain as [`valid_domain`] allows.
    fn valid_domains(&self, key: &str, star: bool) -> Result<(), Response> {
        match self
            .list(key)
            .into_iter()
            .chain(self.0.get(key).filter(|v| v.is_string()).cloned())
            .find(|d| !d.as_str().is_some_and(|d| valid_domain(d, star)))
        {
            Some(d) => Err(invalid(&format!(
                "{d} isn't a valid value for {key}: use an SMTP domain; a wildcard may only stand for all subdomains (*.contoso.com)."
            ))),
            None => Ok(()),
        }
    }

    /// Checks that every entry of the lists `keys` is an IPv4 address, range or CIDR.
    fn valid_ips(&self, keys: &[&str], advice: &str) -> Result<(), Response> {
        match self
            .lists(keys)
            .into_iter()
            .find(|ip| !ip.as_str().is_some_and(valid_ip_entry))
        {
            Some(ip) => Err(invalid(&format!(
                "The IP address {ip} isn't valid: {advice}."
            ))),
            None => Ok(()),
        }
    }
}

fn inbound_connector(props: Props) -> Result<(), Response> {
    let partner = props.str("ConnectorType") == "Partner";
    if !partner
        && (props.bool("RestrictDomainsToIPAddresses")
            || props.bool("RestrictDomainsToCertificate"))
    {
        return Err(invalid(
            "RestrictDomainsToIPAddresses and RestrictDomainsToCertificate can only be set on a Partner connector.",
        ));
    }
    if partner && props.bool("TreatMessagesAsInternal") {
        return Err(invalid(
            "TreatMessagesAsInternal can only be set on an OnPremises connector.",
        ));
    }
    props.valid_domains("SenderDomains", true)?;
    props.valid_domains("TlsSenderCertificateName", false)?;
    if let Some(ip) = props
        .list("SenderIPAddresses")
        .into_iter()
        .find(|ip| !ip.as_str().is_some_and(valid_sender_ip))
    {
        return Err(invalid(&format!(
            "The IP address {ip} isn't valid: SenderIPAddresses takes IPv4 addresses or CIDR ranges /24 to /32."
        )));
    }
    props.valid_ips(
        &["EFSkipIPs"],
        "use IPv4 addresses, ranges or CIDR /24 to /32",
    )
}

fn outbound_connector(props: Props) -> Result<(), Response> {
    props.valid_domains("RecipientDomains", false)?;
    props.valid_domains("TlsDomain", false)?;
    if !props.bool("UseMXRecord") && props.list("SmartHosts").is_empty() {
        return Err(invalid(
            "SmartHosts must be specified when UseMXRecord is false.",
        ));
    }
    if !props.str("TlsDomain").is_empty() && props.str("TlsSettings") != "DomainValidation" {
        return Err(invalid(
            "TlsDomain can only be set when TlsSettings is DomainValidation.",
        ));
    }
    Ok(())
}

/// A mail-enabled security group cannot be open to joining or leaving.
fn group(props: Props) -> Result<(), Response> {
    let security = props.str("GroupType").contains("SecurityEnabled");
    for key in ["MemberJoinRestriction", "MemberDepartRestriction"] {
        if security && props.str(key) == "Open" {
            return Err(invalid(&format!(
                "{key} can't be Open on a universal security group."
            )));
        }
    }
    Ok(())
}

fn transport_rule(props: Props, tenant: &Tenant) -> Result<(), Response> {
    let obj = props.0;
    if obj.get("SetHeaderName").is_some() != obj.get("SetHeaderValue").is_some() {
        return Err(invalid(
            "SetHeaderName and SetHeaderValue must be used together.",
        ));
    }
    let connector = props.str("RouteMessageOutboundConnector");
    if !connector.is_empty() && !exists(tenant, "OutboundConnector", connector) {
        return Err(referenced_not_found(connector));
    }
    for g in props.lists(&["SentToMemberOf", "FromMemberOf"]) {
        let name = g.as_str().unwrap_or("");
        if !exists(tenant, "DistributionGroup", name) {
            return Err(invalid(&format!("The group '{name}' couldn't be found.")));
        }
    }
    if obj["SetSCL"]
        .as_i64()
        .is_some_and(|v| !(-1..=9).contains(&v))
    {
        return Err(invalid("SetSCL must be -1 or between 0 and 9."));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_entries_follow_the_connection_filter_rules() {
        for ok in [
            "203.0.113.10",
            "203.0.113.0/24",
            "203.0.113.0-203.0.113.255",
        ] {
            assert!(valid_ip_entry(ok), "{ok}");
        }
        for bad in ["2001:db8::1", "203.0.0.0/16", "10.0.0.0-10.0.1.255", "nope"] {
            assert!(!valid_ip_entry(bad), "{bad}");
        }
    }

    #[test]
    fn sender_ips_are_addresses_or_cidr_only() {
        let cases = [
            ("203.0.113.10", true),
            ("203.0.113.0/24", true),
            ("203.0.113.0/23", false),
            ("203.0.113.1-203.0.113.9", false),
            ("2001:db8::1", false),
        ];
        for (entry, ok) in cases {
            assert_eq!(valid_sender_ip(entry), ok, "{entry}");
        }
    }

    #[test]
    fn domains_take_a_leading_wildcard_only() {
        let cases = [
            ("contoso.com", false, true),
            ("*.contoso.com", false, true),
            ("*", true, true),
            ("*", false, false),
            ("domain.*.contoso.com", true, false),
            ("contoso", false, false),
            ("-bad.contoso.com", false, false),
            ("mail_relay.contoso.com", false, false),
        ];
        for (entry, star, ok) in cases {
            assert_eq!(valid_domain(entry, star), ok, "{entry} {star}");
        }
    }
}
