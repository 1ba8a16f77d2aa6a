//! Inline mode: when its settings are required, the service's mail-flow fields refused on the
//! account, the mail-flow name prefix and drift policy, and the role assignment.

use serde_json::{Value, json};

use super::{Esa, inline_spec, with};
use exo_admission::FieldErrorKind;

#[test]
fn inline_settings_exactly_when_mode_is_inline() {
    Esa.accepts(inline_spec());
    let e = Esa.rejects_at(inline_spec(), "inline", Value::Null);
    assert_eq!(e.kind, FieldErrorKind::Required);
    let mut api_with_inline = inline_spec();
    api_with_inline["mode"] = json!("Api");
    let e = Esa.rejects(api_with_inline, "spec.inline");
    // Present but not allowed: forbidden, not "required".
    assert_eq!(e.kind, FieldErrorKind::Forbidden);
    assert_eq!(e.detail, "spec.inline is only for spec.mode Inline");
}

#[test]
fn the_service_mail_flow_fields_are_refused_on_the_account() {
    for (field, value) in [
        ("smartHost", json!("relay.mail-security.example.com")),
        ("tlsCertificateDomain", json!("*.mail-security.example.com")),
        ("serviceIpRanges", json!(["203.0.113.0/24"])),
    ] {
        let e = Esa.rejects_at(inline_spec(), &format!("inline.mailFlow.{field}"), value);
        assert_eq!(e.kind, FieldErrorKind::Forbidden);
        assert_eq!(
            e.detail,
            format!(
                "spec.inline.mailFlow.{field} is not accepted: moved to spec.mailFlow of the EmailSecurityService named in spec.serviceRef; an account cannot redirect the tenant's mail"
            )
        );
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
        ("inline.mailFlow.namePrefix", json!("x")),
        ("inline.mailFlow.namePrefix", json!("-exo")),
        ("inline.mailFlow.namePrefix", json!(long_prefix)),
        ("inline.mailFlow.driftPolicy", json!("Ignore")),
        ("inline.direction", json!("Outbound")),
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
    // A justification of blanks says nothing.
    let e = Esa.rejects_at(pim.clone(), JUSTIFICATION, json!("   "));
    assert_eq!(e.kind, FieldErrorKind::Invalid);
    // Privileged Identity Management is the operator's request: not with mode Manual.
    let manual = with(pim, "inline.roleAssignment.mode", json!("Manual"));
    let e = Esa.rejects(
        with(manual, JUSTIFICATION, json!("Mail-flow configuration")),
        "spec.inline.roleAssignment.privilegedIdentityManagement",
    );
    assert_eq!(e.kind, FieldErrorKind::Forbidden);
}
