//! Hosts and token scopes of each Microsoft cloud, with the resource's endpoint overrides
//! applied. Overrides change where requests go, never which resource a token is for, so the
//! simulator and sovereign clouds are configuration only.

use exo_api::exchange_service_account::{Cloud, EndpointOverrides};

/// Base URLs (no trailing slash) and token scopes of the services the operator calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// Identity platform, e.g. `https://login.microsoftonline.com`.
    pub login: String,
    /// Microsoft Graph, e.g. `https://graph.microsoft.com`.
    pub graph: String,
    /// Exchange Online admin API, e.g. `https://outlook.office365.com`.
    pub exchange: String,
    /// Office 365 Management Activity API, e.g. `https://manage.office.com`.
    pub management: String,
    /// `.default` scope of Microsoft Graph in this cloud.
    pub graph_scope: String,
    /// `.default` scope of Exchange Online in this cloud.
    pub exchange_scope: String,
    /// `.default` scope of the Management Activity API in this cloud.
    pub management_scope: String,
}

impl Endpoints {
    /// The well-known endpoints of `cloud`, with `overrides` applied.
    pub fn resolve(cloud: Cloud, overrides: Option<&EndpointOverrides>) -> Self {
        let (login, graph, exchange, management) = match cloud {
            Cloud::Global => (
                "https://login.microsoftonline.com",
                "https://graph.microsoft.com",
                "https://outlook.office365.com",
                "https://manage.office.com",
            ),
            Cloud::USGovGCCHigh => (
                "https://login.microsoftonline.us",
                "https://graph.microsoft.us",
                "https://outlook.office365.us",
                "https://manage.office365.us",
            ),
            Cloud::USGovDoD => (
                "https://login.microsoftonline.us",
                "https://dod-graph.microsoft.us",
                "https://webmail.apps.mil",
                "https://manage.protection.apps.mil",
            ),
            Cloud::China => (
                "https://login.partner.microsoftonline.cn",
                "https://microsoftgraph.chinacloudapi.cn",
                "https://partner.outlook.cn",
                "https://manage.chinacloudapi.cn",
            ),
        };
        let pick = |over: Option<&String>, default: &str| {
            over.map_or(default, |s| s.as_str())
                .trim_end_matches('/')
                .to_string()
        };
        let o = overrides.cloned().unwrap_or_default();
        Self {
            login: pick(o.login.as_ref(), login),
            graph: pick(o.graph.as_ref(), graph),
            exchange: pick(o.exchange.as_ref(), exchange),
            management: pick(o.management.as_ref(), management),
            graph_scope: format!("{graph}/.default"),
            exchange_scope: format!("{exchange}/.default"),
            management_scope: format!("{management}/.default"),
        }
    }

    /// The v2.0 token endpoint of `tenant` (also the `aud` of client assertions).
    pub fn token_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.login)
    }

    /// The v2.0 device authorization endpoint of `tenant`.
    pub fn device_code_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/devicecode", self.login)
    }

    /// The admin consent URL a Global Administrator of `tenant` opens to grant `client_id`
    /// every application permission configured on it for `scope`'s resource. Empty values
    /// (no redirect URI: the one registered on the application is used) are left out.
    pub fn admin_consent_url(
        &self,
        tenant: &str,
        client_id: &str,
        scope: &str,
        redirect_uri: &str,
        state: &str,
    ) -> String {
        let query = [
            ("client_id", client_id),
            ("scope", scope),
            ("redirect_uri", redirect_uri),
            ("state", state),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&");
        format!("{}/{tenant}/v2.0/adminconsent?{query}", self.login)
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_cloud_uses_the_worldwide_hosts() {
        let e = Endpoints::resolve(Cloud::Global, None);
        assert_eq!(
            e.token_url("contoso.com"),
            "https://login.microsoftonline.com/contoso.com/oauth2/v2.0/token"
        );
        assert_eq!(e.graph_scope, "https://graph.microsoft.com/.default");
        assert_eq!(e.exchange_scope, "https://outlook.office365.com/.default");
    }

    #[test]
    fn sovereign_clouds_have_their_own_hosts_and_scopes() {
        let e = Endpoints::resolve(Cloud::USGovGCCHigh, None);
        assert_eq!(e.login, "https://login.microsoftonline.us");
        assert_eq!(e.exchange_scope, "https://outlook.office365.us/.default");
        let e = Endpoints::resolve(Cloud::USGovDoD, None);
        assert_eq!(e.graph, "https://dod-graph.microsoft.us");
        let e = Endpoints::resolve(Cloud::China, None);
        assert_eq!(
            e.graph_scope,
            "https://microsoftgraph.chinacloudapi.cn/.default"
        );
    }

    #[test]
    fn overrides_move_hosts_but_keep_scopes() {
        let overrides = EndpointOverrides {
            login: Some("http://127.0.0.1:8080/".into()),
            graph: Some("http://127.0.0.1:8080".into()),
            ..Default::default()
        };
        let e = Endpoints::resolve(Cloud::Global, Some(&overrides));
        assert_eq!(
            e.token_url("t"),
            "http://127.0.0.1:8080/t/oauth2/v2.0/token"
        );
        assert_eq!(e.graph, "http://127.0.0.1:8080");
        assert_eq!(e.exchange, "https://outlook.office365.com");
        assert_eq!(e.graph_scope, "https://graph.microsoft.com/.default");
    }

    #[test]
    fn admin_consent_url_encodes_its_query() {
        let e = Endpoints::resolve(Cloud::Global, None);
        let url = e.admin_consent_url(
            "contoso.com",
            "3f1c2a4e-8b7d-4c6e-9a2b-1d0e5f6a7b8c",
            "https://graph.microsoft.com/.default",
            "https://portal.example.com/consent?x=1",
            "ns/name",
        );
        assert_eq!(
            url,
            "https://login.microsoftonline.com/contoso.com/v2.0/adminconsent?client_id=3f1c2a4e-8b7d-4c6e-9a2b-1d0e5f6a7b8c\
             &scope=https%3A%2F%2Fgraph.microsoft.com%2F.default\
             &redirect_uri=https%3A%2F%2Fportal.example.com%2Fconsent%3Fx%3D1&state=ns%2Fname"
        );
    }
}
