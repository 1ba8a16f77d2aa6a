//! Where inline mode routes mail: the service's relay, its TLS certificate and its sending
//! addresses, used by every inline account's connectors, rules and allow list.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use crate::common::{CERTIFICATE_DOMAIN_PATTERN, DOMAIN_PATTERN};

/// The service's mail-flow endpoints.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMailFlow {
    /// Host name of the service's relay, used as the outbound connector's smart host.
    #[schemars(length(min = 4, max = 253), regex(pattern = DOMAIN_PATTERN))]
    pub smart_host: String,
    /// Domain name on the service's TLS certificate: validated on the connector to the service
    /// and required of mail returning from it.
    #[schemars(length(min = 4, max = 253), regex(pattern = CERTIFICATE_DOMAIN_PATTERN))]
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
}
