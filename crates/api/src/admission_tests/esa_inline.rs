//! Inline mode: when its settings are required, the service's addresses and hosts, the
//! mail-flow name prefix and drift policy, and the role assignment.

use serde_json::{Value, json};

use super::{Esa, inline_spec, with};
use exo_admission::FieldErrorKind;

const IP_RANGES: &str = "inline.mailFlow.serviceIpRanges";

#[test]
fn inline_settings_exactly_when_mode_is_inline() {
    Esa.accepts(inline_spec());
    let e = Esa.rejects_at(inline_spec(), "inline", Value::Null);
    assert_eq!(e.kind, FieldErrorKind::Required);
    let mut api_with_inline = inline_spec();
    api_with_inline["mode"] = json!("Api");
    Esa.rejects(api_with_inline, "spec.inline");
}

#[test]
fn service_ip_ranges_are_ipv4_with_prefix_24_to_32() {
    for ok in [
        json!(["203.0.113.0/24"]),
        json!(["198.51.100.7", "198.51.100.8/32"]),
    ] {
        Esa.accepts_at(inline_spec(), IP_RANGES, ok);
    }
    for bad in ["10.0.0.0/16", "999.1.1.1", "203.0.113.0/33"] {
        let e = Esa.rejects_at(inline_spec(), IP_RANGES, json!([bad]));
        assert_eq!(
            e.detail,
            "serviceIpRanges must be IPv4 addresses or CIDR ranges from /24 to /32"
        );
    }
    for not_ipv4 in ["2001:db8::1", "relay.example.com"] {
        Esa.rejects(
            with(inline_spec(), IP_RANGES, json!([not_ipv4])),
            "spec.inline.mailFlow.serviceIpRanges[0]",
        );
    }
    let many: Vec<String> = (0..65).map(|i| format!("203.0.113.{i}")).collect();
    for wrong_count in [json!([]), json!(many)] {
        Esa.rejects_at(inline_spec(), IP_RANGES, wrong_count);
    }
}

#[test]
fn mail_flow_hosts_prefix_and_drift_policy_are_checked() {
    let admitted = Esa.accepts(inline_spec());
    let inline = &admitted["spec"]["inline"];
    assert_eq!(inline["direction"], "Inbound");
    assert_eq!(inline["mailFlow"]["namePrefix"], "exo");
    assert_eq!(inline["mailFlow"]["driftPolicy"], "Correct");
    assert_eq!(inline["roleAssignment"]["mode"], "Automatic");
    Esa.accepts_at(
        inline_spec(),
        "inline.mailFlow.namePrefix",
        json!("Acme Mail"),
    );
    Esa.accepts_at(inline_spec(), "inline.direction", json!("InboundOutbound"));
    let long_prefix = "a".repeat(25);
    let rejected = [
        ("inline.mailFlow.smartHost", json!("relay")),
        ("inline.mailFlow.tlsCertificateDomain", json!("*")),
        ("inline.mailFlow.namePrefix", json!("x")),
        ("inline.mailFlow.namePrefix", json!("-exo")),
        ("inline.mailFlow.namePrefix", json!(long_prefix)),
        ("inline.mailFlow.driftPolicy", json!("Ignore")),
        ("inline.direction", json!("Outbound")),
        ("inline.mailFlow", Value::Null),
    ];
    for (path, value) in rejected {
        Esa.rejects_at(inline_spec(), path, value);
    }
}

#[test]
fn privileged_identity_management_needs_a_justification() {
    const JUSTIFICATION: &str = "inline.roleAssignment.justification";
    let pim = with(
        inline_spec(),
        "inline.roleAssignment.privilegedIdentityManagement",
        json!(true),
    );
    Esa.accepts_at(pim.clone(), JUSTIFICATION, json!("Mail-flow configuration"));
    let e = Esa.rejects(pim.clone(), "spec.inline.roleAssignment.justification");
    assert_eq!(e.kind, FieldErrorKind::Required);
    for bad in [String::new(), "j".repeat(501)] {
        Esa.rejects_at(pim.clone(), JUSTIFICATION, json!(bad));
    }
    Esa.accepts_at(inline_spec(), "inline.roleAssignment.mode", json!("Manual"));
    Esa.rejects_at(inline_spec(), "inline.roleAssignment.mode", json!("Later"));
}
