//! Every admission rule of both CRDs, accepted and rejected, evaluated on the generated CRD
//! schema with the same validator the API emulator uses (OpenAPI checks plus kube's local CEL
//! evaluation).

use serde_json::{Value, json};

use super::{ExchangeServiceAccount, SyncTargetList};
use exo_admission::{FieldError, FieldErrorKind, SchemaValidator};
use kube::CustomResourceExt;

fn esa_validator() -> SchemaValidator {
    SchemaValidator::for_crd(&ExchangeServiceAccount::crd(), "v1alpha1").unwrap()
}

fn stl_validator() -> SchemaValidator {
    SchemaValidator::for_crd(&SyncTargetList::crd(), "v1alpha1").unwrap()
}

fn esa(spec: Value) -> Value {
    json!({"apiVersion": "exo-operator.io/v1alpha1", "kind": "ExchangeServiceAccount",
           "metadata": {"name": "contoso", "namespace": "tenants"}, "spec": spec})
}

fn api_spec() -> Value {
    json!({
        "tenant": "contoso.onmicrosoft.com",
        "mode": "Api",
        "application": {
            "clientId": "11111111-2222-3333-4444-555555555555",
            "credentials": {"secretName": "contoso-app"}
        }
    })
}

fn inline_spec() -> Value {
    let mut spec = api_spec();
    spec["mode"] = json!("Inline");
    spec["inline"] = json!({
        "mailFlow": {
            "smartHost": "relay.mail-security.example.com",
            "tlsCertificateDomain": "*.mail-security.example.com",
            "serviceIpRanges": ["203.0.113.0/24", "198.51.100.7"]
        }
    });
    spec
}

/// Sets `value` at a dotted path below `spec` (creating objects on the way); `null` removes.
fn with(mut spec: Value, path: &str, value: Value) -> Value {
    let mut cursor = &mut spec;
    let parts: Vec<&str> = path.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        cursor = cursor
            .as_object_mut()
            .unwrap()
            .entry(part.to_string())
            .or_insert_with(|| json!({}));
    }
    let last = parts[parts.len() - 1];
    if value.is_null() {
        cursor.as_object_mut().unwrap().remove(last);
    } else {
        cursor[last] = value;
    }
    spec
}

#[track_caller]
fn accepts_esa(spec: Value) -> Value {
    match esa_validator().admit(&esa(spec), None) {
        Ok(v) => v,
        Err(e) => panic!("expected acceptance, got {}", render(&e)),
    }
}

/// Asserts a rejection naming `field`, and returns the error there.
#[track_caller]
fn rejects_esa(spec: Value, field: &str) -> FieldError {
    rejected(esa_validator().admit(&esa(spec), None), field)
}

#[track_caller]
fn rejected(result: Result<Value, Vec<FieldError>>, field: &str) -> FieldError {
    match result {
        Ok(_) => panic!("expected a rejection at {field}, got acceptance"),
        Err(errors) => errors
            .iter()
            .find(|e| e.field == field)
            .cloned()
            .unwrap_or_else(|| panic!("expected an error at {field}, got {}", render(&errors))),
    }
}

fn render(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
fn minimal_api_spec_gets_its_defaults() {
    let admitted = accepts_esa(api_spec());
    let spec = &admitted["spec"];
    assert_eq!(spec["cloud"], "Global");
    assert_eq!(spec["sync"]["scope"], "All");
    assert_eq!(spec["sync"]["interval"], "24h");
    assert_eq!(spec["authorization"]["method"], "ApplicationConsent");
    assert_eq!(spec["deletionPolicy"], "Delete");
    assert_eq!(spec["application"]["credentials"]["type"], "ClientSecret");
}

#[test]
fn tenant_is_a_guid_or_a_domain() {
    accepts_esa(with(
        api_spec(),
        "tenant",
        json!("9188040d-6c67-4c5b-b112-36a304b66dad"),
    ));
    accepts_esa(with(api_spec(), "tenant", json!("contoso.com")));
    for bad in [
        "common",
        "organizations",
        "contoso com",
        "9188040d-6c67-4c5b-b112",
        "",
    ] {
        rejects_esa(with(api_spec(), "tenant", json!(bad)), "spec.tenant");
    }
    let long = format!("{}.com", "a.".repeat(130));
    assert_eq!(
        rejects_esa(with(api_spec(), "tenant", json!(long)), "spec.tenant").kind,
        FieldErrorKind::TooLong
    );
    rejects_esa(with(api_spec(), "tenant", Value::Null), "spec.tenant");
}

#[test]
fn tenant_mode_and_cloud_are_immutable() {
    let v = esa_validator();
    let old = esa(api_spec());
    assert!(v.admit(&esa(api_spec()), Some(&old)).is_ok());
    let moved = esa(with(api_spec(), "tenant", json!("fabrikam.com")));
    let e = rejected(v.admit(&moved, Some(&old)), "spec.tenant");
    assert_eq!(e.detail, "tenant is immutable");
    let inline = esa(inline_spec());
    assert_eq!(
        rejected(v.admit(&inline, Some(&old)), "spec.mode").detail,
        "mode is immutable"
    );
    let china = esa(with(api_spec(), "cloud", json!("China")));
    assert_eq!(
        rejected(v.admit(&china, Some(&old)), "spec.cloud").detail,
        "cloud is immutable"
    );
    // Setting the default explicitly is no change.
    assert!(
        v.admit(&esa(with(api_spec(), "cloud", json!("Global"))), Some(&old))
            .is_ok()
    );
}

#[test]
fn cloud_and_mode_are_enumerations() {
    for cloud in ["Global", "USGovGCCHigh", "USGovDoD", "China"] {
        accepts_esa(with(api_spec(), "cloud", json!(cloud)));
    }
    assert_eq!(
        rejects_esa(with(api_spec(), "cloud", json!("Azure")), "spec.cloud").kind,
        FieldErrorKind::NotSupported
    );
    assert_eq!(
        rejects_esa(with(api_spec(), "mode", json!("Hybrid")), "spec.mode").kind,
        FieldErrorKind::NotSupported
    );
    assert_eq!(
        rejects_esa(with(api_spec(), "mode", Value::Null), "spec.mode").kind,
        FieldErrorKind::Required
    );
}

#[test]
fn endpoint_overrides_are_https_or_loopback_http() {
    for ok in [
        "https://login.microsoftonline.us",
        "http://127.0.0.1:8443",
        "http://localhost:80/base",
        "https://graph.example.net:8443/v1",
    ] {
        accepts_esa(with(api_spec(), "endpoints.login", json!(ok)));
    }
    for bad in [
        "http://login.example.com",
        "ftp://127.0.0.1",
        "https://",
        "login.microsoftonline.com",
    ] {
        rejects_esa(
            with(api_spec(), "endpoints.graph", json!(bad)),
            "spec.endpoints.graph",
        );
    }
    accepts_esa(with(
        api_spec(),
        "endpoints.caBundle",
        json!({"name": "sim-ca"}),
    ));
    rejects_esa(
        with(
            api_spec(),
            "endpoints.caBundle",
            json!({"name": "sim-ca", "kind": "Pod"}),
        ),
        "spec.endpoints.caBundle.kind",
    );
}

#[test]
fn inline_settings_exactly_when_mode_is_inline() {
    accepts_esa(inline_spec());
    let e = rejects_esa(with(inline_spec(), "inline", Value::Null), "spec.inline");
    assert_eq!(e.kind, FieldErrorKind::Required);
    let mut api_with_inline = inline_spec();
    api_with_inline["mode"] = json!("Api");
    rejects_esa(api_with_inline, "spec.inline");
}

#[test]
fn client_id_is_a_guid() {
    for bad in [
        "my-app",
        "11111111-2222-3333-4444-55555555555g",
        "11111111222233334444555555555555",
    ] {
        rejects_esa(
            with(api_spec(), "application.clientId", json!(bad)),
            "spec.application.clientId",
        );
    }
}

#[test]
fn credential_keys_match_the_credential_type() {
    accepts_esa(with(
        api_spec(),
        "application.credentials.clientSecretKey",
        json!("secret"),
    ));
    let cert = with(
        api_spec(),
        "application.credentials.type",
        json!("Certificate"),
    );
    accepts_esa(with(
        cert.clone(),
        "application.credentials.certificateKey",
        json!("cert.pem"),
    ));
    rejects_esa(
        with(
            cert,
            "application.credentials.clientSecretKey",
            json!("secret"),
        ),
        "spec.application.credentials.clientSecretKey",
    );
    rejects_esa(
        with(
            api_spec(),
            "application.credentials.privateKeyKey",
            json!("key.pem"),
        ),
        "spec.application.credentials.type",
    );
    rejects_esa(
        with(
            api_spec(),
            "application.credentials.secretName",
            json!("Not_A_Name"),
        ),
        "spec.application.credentials.secretName",
    );
    rejects_esa(
        with(
            api_spec(),
            "application.credentials.clientSecretKey",
            json!("bad key"),
        ),
        "spec.application.credentials.clientSecretKey",
    );
    rejects_esa(
        with(
            api_spec(),
            "application.credentials.type",
            json!("Password"),
        ),
        "spec.application.credentials.type",
    );
}

#[test]
fn device_code_settings_only_with_device_code() {
    let device = with(api_spec(), "authorization.method", json!("DeviceCode"));
    accepts_esa(with(
        device.clone(),
        "authorization.refreshTokenSecretName",
        json!("contoso-rt"),
    ));
    accepts_esa(with(device, "authorization.regrant", json!("OnAnnotation")));
    rejects_esa(
        with(
            api_spec(),
            "authorization.refreshTokenSecretName",
            json!("contoso-rt"),
        ),
        "spec.authorization.method",
    );
    rejects_esa(
        with(api_spec(), "authorization.regrant", json!("Automatic")),
        "spec.authorization.method",
    );
    rejects_esa(
        with(api_spec(), "authorization.method", json!("Password")),
        "spec.authorization.method",
    );
    accepts_esa(with(
        api_spec(),
        "authorization.consentRedirectUri",
        json!("https://portal.example.com/consent"),
    ));
    rejects_esa(
        with(
            api_spec(),
            "authorization.consentRedirectUri",
            json!("javascript:alert(1)"),
        ),
        "spec.authorization.consentRedirectUri",
    );
}

#[test]
fn target_list_ref_exactly_when_scope_is_selected() {
    let selected = with(api_spec(), "sync.scope", json!("Selected"));
    accepts_esa(with(
        selected.clone(),
        "sync.targetListRef",
        json!({"name": "vip-users"}),
    ));
    let e = rejects_esa(selected, "spec.sync.targetListRef");
    assert_eq!(e.kind, FieldErrorKind::Required);
    assert_eq!(
        e.detail,
        "targetListRef must be set exactly when scope is Selected"
    );
    rejects_esa(
        with(
            api_spec(),
            "sync.targetListRef",
            json!({"name": "vip-users"}),
        ),
        "spec.sync.targetListRef",
    );
    rejects_esa(
        with(
            with(api_spec(), "sync.scope", json!("Selected")),
            "sync.targetListRef",
            json!({"name": "VIP"}),
        ),
        "spec.sync.targetListRef.name",
    );
    rejects_esa(
        with(api_spec(), "sync.scope", json!("Some")),
        "spec.sync.scope",
    );
}

#[test]
fn sync_interval_is_a_duration_between_5m_and_168h() {
    for ok in ["5m", "90m", "6h", "24h", "1h30m", "168h"] {
        accepts_esa(with(api_spec(), "sync.interval", json!(ok)));
    }
    for short_or_long in ["4m", "30s", "169h", "1000h"] {
        let e = rejects_esa(
            with(api_spec(), "sync.interval", json!(short_or_long)),
            "spec.sync.interval",
        );
        assert_eq!(e.detail, "interval must be between 5m and 168h");
    }
    for bad in ["daily", "24", "1d", "-5m"] {
        rejects_esa(
            with(api_spec(), "sync.interval", json!(bad)),
            "spec.sync.interval",
        );
    }
}

#[test]
fn policies_are_bounded() {
    accepts_esa(with(
        api_spec(),
        "policies",
        json!(["Default ATP policy", "DLP"]),
    ));
    let many: Vec<String> = (0..17).map(|i| format!("policy-{i}")).collect();
    assert_eq!(
        rejects_esa(with(api_spec(), "policies", json!(many)), "spec.policies").kind,
        FieldErrorKind::TooMany
    );
    rejects_esa(
        with(api_spec(), "policies", json!([""])),
        "spec.policies[0]",
    );
    rejects_esa(
        with(api_spec(), "policies", json!(["x".repeat(129)])),
        "spec.policies[0]",
    );
    rejects_esa(
        with(api_spec(), "activityData", json!("yes")),
        "spec.activityData",
    );
}

#[test]
fn service_ip_ranges_are_ipv4_with_prefix_24_to_32() {
    for ok in [
        json!(["203.0.113.0/24"]),
        json!(["198.51.100.7", "198.51.100.8/32"]),
    ] {
        accepts_esa(with(inline_spec(), "inline.mailFlow.serviceIpRanges", ok));
    }
    for bad in ["10.0.0.0/16", "999.1.1.1", "203.0.113.0/33"] {
        let e = rejects_esa(
            with(
                inline_spec(),
                "inline.mailFlow.serviceIpRanges",
                json!([bad]),
            ),
            "spec.inline.mailFlow.serviceIpRanges",
        );
        assert_eq!(
            e.detail,
            "serviceIpRanges must be IPv4 addresses or CIDR ranges from /24 to /32"
        );
    }
    for not_ipv4 in ["2001:db8::1", "relay.example.com"] {
        rejects_esa(
            with(
                inline_spec(),
                "inline.mailFlow.serviceIpRanges",
                json!([not_ipv4]),
            ),
            "spec.inline.mailFlow.serviceIpRanges[0]",
        );
    }
    rejects_esa(
        with(inline_spec(), "inline.mailFlow.serviceIpRanges", json!([])),
        "spec.inline.mailFlow.serviceIpRanges",
    );
    let many: Vec<String> = (0..65).map(|i| format!("203.0.113.{i}")).collect();
    rejects_esa(
        with(
            inline_spec(),
            "inline.mailFlow.serviceIpRanges",
            json!(many),
        ),
        "spec.inline.mailFlow.serviceIpRanges",
    );
}

#[test]
fn mail_flow_hosts_prefix_and_drift_policy_are_checked() {
    let admitted = accepts_esa(inline_spec());
    let inline = &admitted["spec"]["inline"];
    assert_eq!(inline["direction"], "Inbound");
    assert_eq!(inline["mailFlow"]["namePrefix"], "exo");
    assert_eq!(inline["mailFlow"]["driftPolicy"], "Correct");
    assert_eq!(inline["roleAssignment"]["mode"], "Automatic");
    rejects_esa(
        with(inline_spec(), "inline.mailFlow.smartHost", json!("relay")),
        "spec.inline.mailFlow.smartHost",
    );
    rejects_esa(
        with(
            inline_spec(),
            "inline.mailFlow.tlsCertificateDomain",
            json!("*"),
        ),
        "spec.inline.mailFlow.tlsCertificateDomain",
    );
    accepts_esa(with(
        inline_spec(),
        "inline.mailFlow.namePrefix",
        json!("Acme Mail"),
    ));
    for bad in ["x", "-exo", "a".repeat(25).as_str()] {
        rejects_esa(
            with(inline_spec(), "inline.mailFlow.namePrefix", json!(bad)),
            "spec.inline.mailFlow.namePrefix",
        );
    }
    rejects_esa(
        with(
            inline_spec(),
            "inline.mailFlow.driftPolicy",
            json!("Ignore"),
        ),
        "spec.inline.mailFlow.driftPolicy",
    );
    accepts_esa(with(
        inline_spec(),
        "inline.direction",
        json!("InboundOutbound"),
    ));
    rejects_esa(
        with(inline_spec(), "inline.direction", json!("Outbound")),
        "spec.inline.direction",
    );
    rejects_esa(
        with(inline_spec(), "inline.mailFlow", Value::Null),
        "spec.inline.mailFlow",
    );
}

#[test]
fn privileged_identity_management_needs_a_justification() {
    let pim = with(
        inline_spec(),
        "inline.roleAssignment.privilegedIdentityManagement",
        json!(true),
    );
    accepts_esa(with(
        pim.clone(),
        "inline.roleAssignment.justification",
        json!("Mail-flow configuration"),
    ));
    let e = rejects_esa(pim.clone(), "spec.inline.roleAssignment.justification");
    assert_eq!(e.kind, FieldErrorKind::Required);
    rejects_esa(
        with(
            pim.clone(),
            "inline.roleAssignment.justification",
            json!(""),
        ),
        "spec.inline.roleAssignment.justification",
    );
    rejects_esa(
        with(
            pim,
            "inline.roleAssignment.justification",
            json!("j".repeat(501)),
        ),
        "spec.inline.roleAssignment.justification",
    );
    accepts_esa(with(
        inline_spec(),
        "inline.roleAssignment.mode",
        json!("Manual"),
    ));
    rejects_esa(
        with(inline_spec(), "inline.roleAssignment.mode", json!("Later")),
        "spec.inline.roleAssignment.mode",
    );
}

#[test]
fn notifications_are_checked() {
    let webhook = json!({"urlSecretRef": {"name": "alerts", "key": "url"}});
    accepts_esa(with(api_spec(), "notifications.webhook", webhook));
    rejects_esa(
        with(
            api_spec(),
            "notifications.webhook",
            json!({"urlSecretRef": {"name": "alerts"}}),
        ),
        "spec.notifications.webhook.urlSecretRef.key",
    );
    let email = json!({"recipients": ["admin@contoso.com"], "smtpSecretName": "smtp-relay"});
    accepts_esa(with(api_spec(), "notifications.email", email));
    rejects_esa(
        with(
            api_spec(),
            "notifications.email",
            json!({"recipients": ["admin"], "smtpSecretName": "smtp"}),
        ),
        "spec.notifications.email.recipients[0]",
    );
    rejects_esa(
        with(
            api_spec(),
            "notifications.email",
            json!({"recipients": [], "smtpSecretName": "smtp"}),
        ),
        "spec.notifications.email.recipients",
    );
    let many: Vec<String> = (0..21).map(|i| format!("admin{i}@contoso.com")).collect();
    rejects_esa(
        with(
            api_spec(),
            "notifications.email",
            json!({"recipients": many, "smtpSecretName": "smtp"}),
        ),
        "spec.notifications.email.recipients",
    );
}

#[test]
fn deletion_policy_is_an_enumeration() {
    accepts_esa(with(api_spec(), "deletionPolicy", json!("Orphan")));
    rejects_esa(
        with(api_spec(), "deletionPolicy", json!("Retain")),
        "spec.deletionPolicy",
    );
}

fn stl(spec: Value) -> Value {
    json!({"apiVersion": "exo-operator.io/v1alpha1", "kind": "SyncTargetList",
           "metadata": {"name": "vip-users", "namespace": "tenants"}, "spec": spec})
}

fn stl_spec() -> Value {
    json!({"serviceAccountRef": {"name": "contoso"}, "users": ["alice@contoso.com"]})
}

#[track_caller]
fn accepts_stl(spec: Value) -> Value {
    match stl_validator().admit(&stl(spec), None) {
        Ok(v) => v,
        Err(e) => panic!("expected acceptance, got {}", render(&e)),
    }
}

#[track_caller]
fn rejects_stl(spec: Value, field: &str) -> FieldError {
    rejected(stl_validator().admit(&stl(spec), None), field)
}

#[test]
fn users_are_user_principal_names() {
    for ok in [
        "alice@contoso.com",
        "bob.smith@contoso.onmicrosoft.com",
        "carol_fabrikam.com#EXT#@contoso.onmicrosoft.com",
    ] {
        accepts_stl(with(stl_spec(), "users", json!([ok])));
    }
    for bad in [
        "alice",
        "alice@",
        "@contoso.com",
        "alice@contoso",
        "al ice@contoso.com",
    ] {
        rejects_stl(with(stl_spec(), "users", json!([bad])), "spec.users[0]");
    }
    let long = format!("{}@contoso.com", "a".repeat(110));
    assert_eq!(
        rejects_stl(with(stl_spec(), "users", json!([long])), "spec.users[0]").kind,
        FieldErrorKind::TooLong
    );
}

#[test]
fn at_most_100_distinct_users() {
    let hundred: Vec<String> = (0..100).map(|i| format!("user{i}@contoso.com")).collect();
    accepts_stl(with(stl_spec(), "users", json!(hundred)));
    let more: Vec<String> = (0..101).map(|i| format!("user{i}@contoso.com")).collect();
    let e = rejects_stl(with(stl_spec(), "users", json!(more)), "spec.users");
    assert_eq!(
        e.to_string(),
        "spec.users: Too many: 101: must have at most 100 items"
    );
    let dup = json!(["alice@contoso.com", "bob@contoso.com", "alice@contoso.com"]);
    assert_eq!(
        rejects_stl(with(stl_spec(), "users", dup), "spec.users[2]").kind,
        FieldErrorKind::Duplicate
    );
}

#[test]
fn groups_are_a_prefix_of_three_or_more_characters_or_an_id() {
    accepts_stl(with(
        stl_spec(),
        "groups",
        json!([{"namePrefix": "Fin"}, {"id": "0f3c9d2e-1a2b-4c3d-8e9f-001122334455"}]),
    ));
    for bad in ["Fi", "  Fi", "   "] {
        rejects_stl(
            with(stl_spec(), "groups", json!([{"namePrefix": bad}])),
            "spec.groups[0].namePrefix",
        );
    }
    rejects_stl(
        with(stl_spec(), "groups", json!([{"id": "finance"}])),
        "spec.groups[0].id",
    );
    let both = json!([{"namePrefix": "Finance", "id": "0f3c9d2e-1a2b-4c3d-8e9f-001122334455"}]);
    assert_eq!(
        rejects_stl(with(stl_spec(), "groups", both), "spec.groups[0]").detail,
        "set exactly one of namePrefix and id"
    );
    rejects_stl(with(stl_spec(), "groups", json!([{}])), "spec.groups[0]");
    let many: Vec<Value> = (0..51)
        .map(|i| json!({"namePrefix": format!("group-{i}")}))
        .collect();
    rejects_stl(with(stl_spec(), "groups", json!(many)), "spec.groups");
}

#[test]
fn a_list_names_its_account_and_selects_something() {
    accepts_stl(
        json!({"serviceAccountRef": {"name": "contoso"}, "groups": [{"namePrefix": "Sales"}]}),
    );
    let e = rejects_stl(
        json!({"serviceAccountRef": {"name": "contoso"}}),
        "spec.users",
    );
    assert_eq!(e.detail, "list at least one user or group");
    rejects_stl(
        json!({"users": ["alice@contoso.com"]}),
        "spec.serviceAccountRef",
    );
    rejects_stl(
        with(stl_spec(), "serviceAccountRef.name", json!("Contoso!")),
        "spec.serviceAccountRef.name",
    );
}

/// Walks a schema and lists every string without `maxLength` (and not an enum or a date) and
/// every list without `maxItems`.
fn unbounded(schema: &Value, path: &str, out: &mut Vec<String>) {
    match schema.get("type").and_then(Value::as_str) {
        Some("string") if schema.get("maxLength").is_none() && schema.get("enum").is_none() => {
            out.push(path.to_string());
        }
        Some("array") => {
            if schema.get("maxItems").is_none() {
                out.push(path.to_string());
            }
            if let Some(items) = schema.get("items") {
                unbounded(items, &format!("{path}[]"), out);
            }
        }
        Some("object") => {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (name, child) in props {
                    unbounded(child, &format!("{path}.{name}"), out);
                }
            }
        }
        _ => {}
    }
}

#[test]
fn every_spec_string_and_list_is_bounded() {
    for crd in super::crds() {
        let schema = serde_json::to_value(
            &crd.spec.versions[0]
                .schema
                .as_ref()
                .unwrap()
                .open_api_v3_schema,
        )
        .unwrap();
        let mut out = Vec::new();
        unbounded(&schema["properties"]["spec"], "spec", &mut out);
        assert!(out.is_empty(), "{}: unbounded {out:?}", crd.spec.names.kind);
    }
}

#[test]
fn every_schema_property_has_a_description() {
    fn undocumented(schema: &Value, path: &str, out: &mut Vec<String>) {
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (name, child) in props {
                let child_path = format!("{path}.{name}");
                if child.get("description").is_none()
                    && !matches!(name.as_str(), "apiVersion" | "kind" | "metadata")
                {
                    out.push(child_path.clone());
                }
                undocumented(child, &child_path, out);
            }
        }
        if let Some(items) = schema.get("items") {
            undocumented(items, &format!("{path}[]"), out);
        }
    }
    for crd in super::crds() {
        let schema = serde_json::to_value(
            &crd.spec.versions[0]
                .schema
                .as_ref()
                .unwrap()
                .open_api_v3_schema,
        )
        .unwrap();
        let mut out = Vec::new();
        undocumented(&schema, "", &mut out);
        assert!(
            out.is_empty(),
            "{}: undocumented {out:?}",
            crd.spec.names.kind
        );
    }
}

/// The table that `tests/admission.rs` also puts to the real API server and to
/// `exo-operator validate` (three judges, one table): the validator agrees with every case.
#[test]
fn the_shared_admission_table_agrees_with_the_validator() {
    let table: Vec<Value> =
        serde_json::from_str(include_str!("../../../tests/admission/cases.json")).unwrap();
    assert!(table.len() > 100);
    let (esa, stl) = (esa_validator(), stl_validator());
    for case in &table {
        let object = &case["object"];
        let validator = match object["kind"].as_str() {
            Some("ExchangeServiceAccount") => &esa,
            Some("SyncTargetList") => &stl,
            other => panic!("{}: kind {other:?}", case["case"]),
        };
        let verdict = validator.admit(object, case.get("old"));
        match case["field"].as_str() {
            None => assert!(
                verdict.is_ok(),
                "{}: {}",
                case["case"],
                render(&verdict.unwrap_err())
            ),
            Some(field) => {
                rejected(verdict, field);
            }
        }
    }
}
