//! The root of the ExchangeServiceAccount spec: defaults, tenant, cloud, mode, endpoints,
//! directory sync, policies, notifications and deletion policy.

use serde_json::{Value, json};

use super::{Esa, api_spec, inline_spec, rejected, with};
use exo_admission::FieldErrorKind;

#[test]
fn minimal_api_spec_gets_its_defaults() {
    let admitted = Esa.accepts(api_spec());
    let spec = &admitted["spec"];
    assert_eq!(spec["cloud"], "Global");
    assert_eq!(spec["sync"]["scope"], "All");
    assert_eq!(spec["sync"]["interval"], "24h");
    assert_eq!(spec["authorization"]["method"], "ApplicationConsent");
    assert_eq!(spec["deletionPolicy"], "Delete");
    assert!(spec.get("application").is_none());
    assert_eq!(spec["serviceRef"]["kind"], "EmailSecurityService");
}

#[test]
fn tenant_is_a_guid_or_a_domain() {
    Esa.accepts_each_at(
        &api_spec(),
        "tenant",
        &["9188040d-6c67-4c5b-b112-36a304b66dad", "contoso.com"],
    );
    Esa.rejects_each_at(
        &api_spec(),
        "tenant",
        &[
            "common",
            "organizations",
            "contoso com",
            "9188040d-6c67-4c5b-b112",
            "",
        ],
    );
    // Said in words, not as the regular expression.
    let e = Esa.rejects_at(api_spec(), "tenant", json!("contoso com"));
    assert!(
        e.detail.ends_with(
            "spec.tenant must be a tenant domain, such as contoso.onmicrosoft.com, or a tenant id (a GUID)"
        ) && !e.detail.contains("[0-9a-fA-F]"),
        "{}",
        e.detail
    );
    let long = format!("{}.com", "a.".repeat(130));
    assert_eq!(
        Esa.rejects_at(api_spec(), "tenant", json!(long)).kind,
        FieldErrorKind::TooLong
    );
    Esa.rejects_at(api_spec(), "tenant", Value::Null);
}

#[test]
fn tenant_mode_and_cloud_are_immutable() {
    let v = Esa.validator();
    let old = Esa.object(api_spec());
    assert!(v.admit(&Esa.object(api_spec()), Some(&old)).is_ok());
    let changes = [
        (
            with(api_spec(), "tenant", json!("fabrikam.com")),
            "tenant",
            "fabrikam.com",
        ),
        (inline_spec(), "mode", "Inline"),
        (with(api_spec(), "cloud", json!("China")), "cloud", "China"),
    ];
    for (changed, field, value) in changes {
        let e = rejected(
            v.admit(&Esa.object(changed), Some(&old)),
            &format!("spec.{field}"),
        );
        // The API server quotes the invalid value before the rule's message.
        assert_eq!(e.detail, format!("\"{value}\": {field} is immutable"));
    }
    // Setting the default explicitly is no change.
    assert!(
        v.admit(
            &Esa.object(with(api_spec(), "cloud", json!("Global"))),
            Some(&old)
        )
        .is_ok()
    );
}

#[test]
fn cloud_and_mode_are_enumerations() {
    Esa.accepts_each_at(
        &api_spec(),
        "cloud",
        &["Global", "USGovGCCHigh", "USGovDoD", "China"],
    );
    let cases = [
        ("cloud", json!("Azure"), FieldErrorKind::NotSupported),
        ("mode", json!("Hybrid"), FieldErrorKind::NotSupported),
        ("mode", Value::Null, FieldErrorKind::Required),
    ];
    for (path, value, kind) in cases {
        assert_eq!(Esa.rejects_at(api_spec(), path, value).kind, kind, "{path}");
    }
}

#[test]
fn the_service_is_named_and_its_endpoints_are_refused_on_the_account() {
    let e = Esa.rejects_at(api_spec(), "serviceRef", Value::Null);
    assert_eq!(e.kind, FieldErrorKind::Required);
    let admitted = Esa.accepts(api_spec());
    assert_eq!(
        admitted["spec"]["serviceRef"]["kind"],
        "EmailSecurityService"
    );
    Esa.accepts_at(
        api_spec(),
        "serviceRef.kind",
        json!("ClusterEmailSecurityService"),
    );
    Esa.rejects_at(api_spec(), "serviceRef.kind", json!("Service"));
    Esa.rejects_at(api_spec(), "serviceRef.name", json!("Mail_Security"));
    // Refused by name rather than pruned: an account cannot redirect the service's
    // credential or the tenant's data, even to a valid URL.
    for endpoints in [
        json!({"login": "https://login.example.net"}),
        json!({"graph": "http://127.0.0.1:8443"}),
        json!({}),
    ] {
        let e = Esa.rejects_at(api_spec(), "endpoints", endpoints);
        assert_eq!(e.kind, FieldErrorKind::Forbidden);
        assert!(
            e.detail.contains("spec.endpoints")
                && e.detail.contains(
                    "endpoints belong to the EmailSecurityService named in spec.serviceRef; an account cannot redirect the service's credential or the tenant's data"
                ),
            "{}",
            e.detail
        );
    }
}

#[test]
fn target_list_ref_exactly_when_scope_is_selected() {
    let selected = with(api_spec(), "sync.scope", json!("Selected"));
    let vip = json!({"name": "vip-users"});
    Esa.accepts_at(selected.clone(), "sync.targetListRef", vip.clone());
    let e = Esa.rejects(selected.clone(), "spec.sync.targetListRef");
    assert_eq!(e.kind, FieldErrorKind::Required);
    assert_eq!(e.detail, "targetListRef is required when scope is Selected");
    // Present but not allowed: forbidden, not "required".
    let e = Esa.rejects_at(api_spec(), "sync.targetListRef", vip);
    assert_eq!(e.kind, FieldErrorKind::Forbidden);
    assert_eq!(e.detail, "targetListRef is only for scope Selected");
    Esa.rejects_at(selected, "sync.targetListRef.name", json!("VIP"));
    Esa.rejects_at(api_spec(), "sync.scope", json!("Some"));
}

#[test]
fn sync_interval_is_a_duration_between_5m_and_168h() {
    Esa.accepts_each_at(
        &api_spec(),
        "sync.interval",
        &["5m", "90m", "6h", "24h", "1h30m", "168h"],
    );
    for short_or_long in ["4m", "30s", "169h", "1000h"] {
        let e = Esa.rejects_at(api_spec(), "sync.interval", json!(short_or_long));
        assert_eq!(
            e.detail,
            format!("\"{short_or_long}\": interval must be between 5m and 168h")
        );
    }
    Esa.rejects_each_at(&api_spec(), "sync.interval", &["daily", "24", "1d", "-5m"]);
}

#[test]
fn policies_are_bounded() {
    Esa.accepts_at(api_spec(), "policies", json!(["Default ATP policy", "DLP"]));
    let many: Vec<String> = (0..17).map(|i| format!("policy-{i}")).collect();
    assert_eq!(
        Esa.rejects_at(api_spec(), "policies", json!(many)).kind,
        FieldErrorKind::TooMany
    );
    for bad in [String::new(), "x".repeat(129)] {
        Esa.rejects(
            with(api_spec(), "policies", json!([bad])),
            "spec.policies[0]",
        );
    }
    Esa.rejects_at(api_spec(), "activityData", json!("yes"));
}

#[test]
fn notifications_are_checked() {
    let webhook = json!({"urlSecretRef": {"name": "alerts", "key": "url"}});
    Esa.accepts_at(api_spec(), "notifications.webhook", webhook);
    Esa.rejects(
        with(
            api_spec(),
            "notifications.webhook",
            json!({"urlSecretRef": {"name": "alerts"}}),
        ),
        "spec.notifications.webhook.urlSecretRef.key",
    );
    let email = json!({"recipients": ["admin@contoso.com"], "smtpSecretName": "smtp-relay"});
    Esa.accepts_at(api_spec(), "notifications.email", email);
    let email_to = |recipients: Value| {
        with(
            api_spec(),
            "notifications.email",
            json!({"recipients": recipients, "smtpSecretName": "smtp"}),
        )
    };
    Esa.rejects(
        email_to(json!(["admin"])),
        "spec.notifications.email.recipients[0]",
    );
    Esa.rejects(email_to(json!([])), "spec.notifications.email.recipients");
    let many: Vec<String> = (0..21).map(|i| format!("admin{i}@contoso.com")).collect();
    Esa.rejects(email_to(json!(many)), "spec.notifications.email.recipients");
}

#[test]
fn deletion_policy_is_an_enumeration() {
    Esa.accepts_at(api_spec(), "deletionPolicy", json!("Orphan"));
    Esa.rejects_at(api_spec(), "deletionPolicy", json!("Retain"));
}

#[test]
fn the_name_leaves_room_for_the_names_derived_from_it() {
    let v = Esa.validator();
    let named = |name: String| {
        let mut object = Esa.object(api_spec());
        object["metadata"]["name"] = json!(name);
        object
    };
    assert!(v.admit(&named("b".repeat(240)), None).is_ok());
    let errors = v.admit(&named("a".repeat(241)), None).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].field, "<nil>");
    assert!(
        errors[0]
            .detail
            .starts_with("metadata.name must be at most 240 characters"),
        "{}",
        errors[0].detail
    );
}
