//! Field types shared by every kind: references to objects in the same namespace and the
//! validation patterns the CRD schema enforces at admission time.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// A Kubernetes object name (RFC 1123 subdomain).
pub const OBJECT_NAME_PATTERN: &str =
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/// A key in a Secret's `data`.
pub const SECRET_KEY_PATTERN: &str = r"^[-._a-zA-Z0-9]+$";
/// A GUID such as a tenant id, an application (client) id or a group object id.
pub const GUID_PATTERN: &str =
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";
/// A DNS name with at least two labels (a verified domain, a smart host, a certificate domain).
pub const DOMAIN_PATTERN: &str =
    r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$";
/// A domain name on a TLS certificate: a DNS name, optionally a wildcard (`*.example.com`).
pub const CERTIFICATE_DOMAIN_PATTERN: &str =
    r"^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$";
/// A tenant: its GUID or one of its verified domains.
pub const TENANT_PATTERN: &str = r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})$";
/// A user principal name or an e-mail address: `local@domain`. The local part allows the
/// characters Microsoft Entra accepts, including `#EXT#` of guest accounts.
pub const UPN_PATTERN: &str = r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$";
/// A Go duration as Kubernetes writes them (`90s`, `15m`, `24h`, `1h30m`).
pub const DURATION_PATTERN: &str = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$";
/// An endpoint base URL: HTTPS anywhere, plain HTTP only on the loopback interface (for the
/// local simulator).
pub const ENDPOINT_URL_PATTERN: &str =
    r"^(https://[A-Za-z0-9.-]+|http://(localhost|127\.0\.0\.1|\[::1\]))(:[0-9]{1,5})?(/[^\s?#]*)?$";

/// A reference to an object of a known kind in the same namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, KubeSchema)]
pub struct LocalObjectReference {
    /// Name of the referenced object, in the namespace of the referring resource.
    #[schemars(length(min = 1, max = 253), regex(pattern = OBJECT_NAME_PATTERN))]
    pub name: String,
}

/// A key of a Secret in the same namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
pub struct SecretKeySelector {
    /// Name of the Secret, in the namespace of the referring resource.
    #[schemars(length(min = 1, max = 253), regex(pattern = OBJECT_NAME_PATTERN))]
    pub name: String,
    /// Key in the Secret's data.
    #[schemars(length(min = 1, max = 253), regex(pattern = SECRET_KEY_PATTERN))]
    pub key: String,
}

/// `spec.tenant`: a tenant GUID or a domain ([`TENANT_PATTERN`]), refused with words rather
/// than the pattern.
pub fn tenant_rule() -> kube::core::Rule {
    let pattern = TENANT_PATTERN.replace('\\', "\\\\");
    kube::core::Rule::new(format!("self.matches('{pattern}')")).message(kube::core::Message::Message(
        "spec.tenant must be a tenant domain, such as contoso.onmicrosoft.com, or a tenant id (a GUID)".to_string(),
    ))
}

/// A CEL rule that admits only an HTTPS URL, or plain HTTP on the loopback interface (the local
/// simulators), in the form [`ENDPOINT_URL_PATTERN`] describes; its message names `field`.
pub fn https_url_rule(field: &str) -> kube::core::Rule {
    let pattern = ENDPOINT_URL_PATTERN.replace('\\', "\\\\");
    kube::core::Rule::new(format!("self.matches('{pattern}')")).message(kube::core::Message::Message(format!(
        "{field} must be an https URL (http only on loopback: localhost, 127.0.0.1, [::1]), without query or fragment"
    )))
}
