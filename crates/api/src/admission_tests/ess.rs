//! EmailSecurityService and ClusterEmailSecurityService: one spec for both kinds; its URLs,
//! mail-flow endpoints, ingestion and offered policies.

use serde_json::{Value, json};

use super::{Cess, Ess, Kind, service_spec, with};
use exo_admission::FieldErrorKind;

const IP_RANGES: &str = "mailFlow.serviceIpRanges";

#[test]
fn both_kinds_admit_the_same_spec() {
    let full = with(
        with(
            with(
                service_spec(),
                "endpoints",
                json!({"login": "http://127.0.0.1:8443", "graph": "http://[::1]:8443",
                       "exchange": "http://localhost/x", "management": "https://manage.office.com",
                       "caBundle": {"name": "sim-ca"}}),
            ),
            "ingestion",
            json!({"url": "https://ingest.mail-security.example.com/v1",
                   "credentialsSecretRef": {"name": "ingest", "key": "token"},
                   "caBundle": {"kind": "Secret", "name": "ingest-ca"}}),
        ),
        "policies",
        json!([{"name": "Default ATP policy", "description": "Scans links and attachments."},
               {"name": "Inline inbound policy"}]),
    );
    let full = with(
        full,
        "notificationUrl",
        json!("https://hooks.mail-security.example.com/graph"),
    );
    for kind in [Ess, Cess] {
        let admitted = kind.accepts(full.clone());
        assert_eq!(
            admitted["spec"]["endpoints"]["caBundle"]["key"], "ca.crt",
            "{kind:?}"
        );
        assert_eq!(
            admitted["spec"]["application"]["credentials"]["type"],
            "ClientSecret"
        );
        kind.accepts(json!({"application": service_spec()["application"]}));
        kind.rejects_at(service_spec(), "application", Value::Null);
    }
}

#[test]
fn every_url_is_https_or_loopback_http_named_in_the_message() {
    let fields = [
        "endpoints.login",
        "endpoints.graph",
        "endpoints.exchange",
        "endpoints.management",
        "notificationUrl",
    ];
    for kind in [Ess, Cess] {
        for field in fields {
            kind.accepts_each_at(
                &service_spec(),
                field,
                &[
                    "https://login.microsoftonline.us",
                    "http://127.0.0.1:8443",
                    "http://localhost:80/base",
                    "http://[::1]:8443",
                    "https://graph.example.net:8443/v1",
                ],
            );
            for bad in [
                "http://login.example.com",
                "http://10.0.0.1",
                "ftp://127.0.0.1",
                "https://",
                "login.microsoftonline.com",
            ] {
                let e = kind.rejects_at(service_spec(), field, json!(bad));
                assert_url_message(kind, &e.detail, &format!("spec.{field}"), bad);
            }
        }
        let ingestion = |url: &str| json!({"url": url});
        kind.accepts_at(
            service_spec(),
            "ingestion",
            ingestion("https://ingest.example.com"),
        );
        let e = kind.rejects(
            with(
                service_spec(),
                "ingestion",
                ingestion("http://ingest.example.com"),
            ),
            "spec.ingestion.url",
        );
        assert_url_message(
            kind,
            &e.detail,
            "spec.ingestion.url",
            "http://ingest.example.com",
        );
        kind.rejects(
            with(service_spec(), "ingestion", json!({})),
            "spec.ingestion.url",
        );
    }
}

#[track_caller]
fn assert_url_message(kind: Kind, detail: &str, field: &str, value: &str) {
    assert_eq!(
        detail,
        format!(
            "\"{value}\": {field} must be an https URL (http only on loopback: localhost, 127.0.0.1, [::1]), without query or fragment"
        ),
        "{kind:?}"
    );
}

#[test]
fn mail_flow_hosts_and_addresses_are_checked() {
    let admitted = Ess.accepts(service_spec());
    assert_eq!(
        admitted["spec"]["mailFlow"]["smartHost"],
        "relay.mail-security.example.com"
    );
    Ess.accepts_at(service_spec(), "mailFlow", Value::Null);
    for (path, value) in [
        ("mailFlow.smartHost", json!("relay")),
        ("mailFlow.tlsCertificateDomain", json!("*")),
        ("mailFlow.smartHost", Value::Null),
    ] {
        Ess.rejects_at(service_spec(), path, value);
    }
    for ok in [
        json!(["203.0.113.0/24"]),
        json!(["198.51.100.7", "198.51.100.8/32"]),
    ] {
        Ess.accepts_at(service_spec(), IP_RANGES, ok);
    }
    for bad in ["10.0.0.0/16", "999.1.1.1", "203.0.113.0/33"] {
        let e = Ess.rejects_at(service_spec(), IP_RANGES, json!([bad]));
        assert_eq!(
            e.detail,
            "serviceIpRanges must be IPv4 addresses or CIDR ranges from /24 to /32"
        );
    }
    for not_ipv4 in ["2001:db8::1", "relay.example.com"] {
        Ess.rejects(
            with(service_spec(), IP_RANGES, json!([not_ipv4])),
            "spec.mailFlow.serviceIpRanges[0]",
        );
    }
    let many: Vec<String> = (0..65).map(|i| format!("203.0.113.{i}")).collect();
    for wrong_count in [json!([]), json!(many)] {
        Ess.rejects_at(service_spec(), IP_RANGES, wrong_count);
    }
}

#[test]
fn offered_policies_are_bounded_and_distinct() {
    let policy = |name: &str| json!({"name": name});
    let many: Vec<Value> = (0..33).map(|i| policy(&format!("p{i}"))).collect();
    assert_eq!(
        Ess.rejects_at(service_spec(), "policies", json!(many)).kind,
        FieldErrorKind::TooMany
    );
    Ess.rejects_at(
        service_spec(),
        "policies",
        json!([policy("DLP"), policy("DLP")]),
    );
    Ess.rejects(
        with(service_spec(), "policies", json!([policy("")])),
        "spec.policies[0].name",
    );
    Ess.rejects(
        with(
            service_spec(),
            "policies",
            json!([{"name": "DLP", "description": "d".repeat(1025)}]),
        ),
        "spec.policies[0].description",
    );
}

#[test]
fn references_are_checked() {
    Ess.rejects(
        with(
            service_spec(),
            "ingestion",
            json!({"url": "https://i.example.com", "credentialsSecretRef": {"name": "x"}}),
        ),
        "spec.ingestion.credentialsSecretRef.key",
    );
    Ess.rejects(
        with(
            service_spec(),
            "endpoints",
            json!({"caBundle": {"kind": "Pod", "name": "ca"}}),
        ),
        "spec.endpoints.caBundle.kind",
    );
}
