//! The tenants file: the simulated world, in YAML. Tenants with domains, users, nested groups,
//! Global Administrators and already-granted consents; and the registered (multi-tenant)
//! applications with their secrets, certificates and configured permissions.
//!
//! ```yaml
//! apps:
//!   - clientId: 3f1c2a4e-8b7d-4c6e-9a2b-1d0e5f6a7b8c
//!     displayName: Email Security Service
//!     secrets: [{value: s3cr3t, expires: "2030-01-01T00:00:00Z"}]
//!     certificates: [{pem: "-----BEGIN CERTIFICATE-----..."}]
//!     permissions: [User.Read.All, Group.Read.All, Domain.Read.All, Application.Read.All, Mail.ReadWrite]
//! tenants:
//!   - id: 9188040d-6c67-4c5b-b112-36a304b66dad
//!     displayName: Fabrikam
//!     domains: [{name: fabrikam.onmicrosoft.com, initial: true}, {name: fabrikam.com, default: true}]
//!     users: [{upn: ceo@fabrikam.com, displayName: Chief Executive}]
//!     groups: [{displayName: Finance, members: [cfo@fabrikam.com, "group:Finance EMEA"]}]
//!     admins: [{upn: admin@fabrikam.onmicrosoft.com}]
//!     consents: [{clientId: 3f1c2a4e-8b7d-4c6e-9a2b-1d0e5f6a7b8c}]
//! ```

use serde::{Deserialize, Serialize};

/// The whole file.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantsFile {
    /// Registered applications (multi-tenant, usable in every tenant that consents).
    #[serde(default)]
    pub apps: Vec<AppSpec>,
    /// Tenants.
    #[serde(default)]
    pub tenants: Vec<TenantSpec>,
}

/// An application registration.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppSpec {
    /// Application (client) id.
    pub client_id: String,
    /// Display name.
    #[serde(default)]
    pub display_name: String,
    /// Client secrets.
    #[serde(default)]
    pub secrets: Vec<SecretSpec>,
    /// Certificates (PEM) whose keys may sign client assertions.
    #[serde(default)]
    pub certificates: Vec<CertificateSpec>,
    /// Application permissions the registration asks for (granted by admin consent).
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Redirect URIs.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Whether the application is enabled (a disabled one gets AADSTS7000112).
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// A client secret.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretSpec {
    /// The secret value.
    pub value: String,
    /// Expiry (RFC 3339); never when absent.
    #[serde(default)]
    pub expires: Option<String>,
}

/// A certificate credential.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CertificateSpec {
    /// The certificate, PEM.
    pub pem: String,
}

/// A tenant.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantSpec {
    /// Tenant id (GUID).
    pub id: String,
    /// Organization name.
    #[serde(default)]
    pub display_name: String,
    /// Domains; the first is the initial `onmicrosoft.com` domain unless one says `initial`.
    #[serde(default)]
    pub domains: Vec<DomainSpec>,
    /// Users.
    #[serde(default)]
    pub users: Vec<UserSpec>,
    /// Groups.
    #[serde(default)]
    pub groups: Vec<GroupSpec>,
    /// Global Administrators (they can approve device codes and consent).
    #[serde(default)]
    pub admins: Vec<AdminSpec>,
    /// Admin consents already granted.
    #[serde(default)]
    pub consents: Vec<ConsentSpec>,
    /// Whether PIM role assignment requests need approval (PendingApproval).
    #[serde(default)]
    pub pim_approval: bool,
    /// Seconds before a new Exchange role assignment takes effect.
    #[serde(default)]
    pub role_propagation_seconds: u64,
    /// Generated directory, on top of the listed users and groups.
    #[serde(default)]
    pub generate: Option<Generate>,
}

/// A domain.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DomainSpec {
    /// Domain name.
    pub name: String,
    /// The default domain.
    #[serde(default)]
    pub default: bool,
    /// The initial `onmicrosoft.com` domain.
    #[serde(default)]
    pub initial: bool,
    /// Verified (default true).
    #[serde(default = "yes")]
    pub verified: bool,
    /// Enabled for e-mail (default true).
    #[serde(default = "yes")]
    pub email: bool,
}

/// A user.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserSpec {
    /// User principal name.
    pub upn: String,
    /// Object id (generated when absent).
    #[serde(default)]
    pub id: Option<String>,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Mail address (the UPN when absent).
    #[serde(default)]
    pub mail: Option<String>,
    /// Whether the user has an Exchange Online mailbox (default true); without one, Graph's
    /// mail subscriptions answer `MailboxNotEnabledForRESTAPI`.
    #[serde(default)]
    pub mailbox: Option<bool>,
}

/// A group. Members are user principal names or `group:<displayName>` for nesting.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupSpec {
    /// Display name.
    pub display_name: String,
    /// Object id (generated when absent).
    #[serde(default)]
    pub id: Option<String>,
    /// Members.
    #[serde(default)]
    pub members: Vec<String>,
}

/// A Global Administrator.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdminSpec {
    /// User principal name.
    pub upn: String,
    /// Whether sign-ins need MFA (refresh with AADSTS50076 after the MFA window).
    #[serde(default)]
    pub mfa: bool,
}

/// An admin consent already granted in a tenant.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsentSpec {
    /// The application.
    pub client_id: String,
    /// Permissions granted (all the application's when absent).
    #[serde(default)]
    pub permissions: Option<Vec<String>>,
    /// Directory roles assigned to the service principal (template ids or names such as
    /// `Exchange Administrator`).
    #[serde(default)]
    pub directory_roles: Vec<String>,
}

/// A generated directory: users derived from their index, not stored one by one.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Generate {
    /// Number of users.
    pub users: u64,
    /// Number of groups (user `i` is in group `i % groups`).
    pub groups: u64,
    /// Seed of the generated ids.
    #[serde(default)]
    pub seed: u64,
}

impl Generate {
    /// Parses `users=N,groups=M,seed=S`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut g = Generate::default();
        for part in text.split(',').filter(|p| !p.trim().is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("expected key=value, got {part:?}"))?;
            let n: u64 = v
                .trim()
                .parse()
                .map_err(|_| format!("{k} needs a number"))?;
            match k.trim() {
                "users" => g.users = n,
                "groups" => g.groups = n,
                "seed" => g.seed = n,
                other => {
                    return Err(format!(
                        "unknown key {other:?}; expected users, groups, seed"
                    ));
                }
            }
        }
        Ok(g)
    }
}

/// The application registration the examples use (secret: the examples' placeholder).
pub const DEMO_CLIENT_ID: &str = "3f1c2a4e-8b7d-4c6e-9a2b-1d0e5f6a7b8c";
/// The examples' placeholder secret, registered on the simulated application.
pub const DEMO_SECRET: &str = "REPLACE-WITH-THE-APPLICATION-CLIENT-SECRET";

/// The built-in world: the tenants and the application of `examples/`.
pub fn demo() -> TenantsFile {
    serde_saphyr::from_str(include_str!("../../../examples/sim/tenants.yaml"))
        .expect("the demo tenants file is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_world_matches_the_examples() {
        let world = demo();
        assert!(
            world.apps.iter().any(|a| a.client_id == DEMO_CLIENT_ID
                && a.secrets.iter().any(|s| s.value == DEMO_SECRET))
        );
        for domain in [
            "contoso.onmicrosoft.com",
            "woodgrove.onmicrosoft.com",
            "northwind.onmicrosoft.com",
        ] {
            assert!(
                world
                    .tenants
                    .iter()
                    .any(|t| t.domains.iter().any(|d| d.name == domain)),
                "{domain}"
            );
        }
        assert!(
            world
                .tenants
                .iter()
                .any(|t| t.id == "9188040d-6c67-4c5b-b112-36a304b66dad")
        );
    }

    #[test]
    fn generate_specs_parse() {
        assert_eq!(
            Generate::parse("users=100000,groups=5000,seed=7").unwrap(),
            Generate {
                users: 100_000,
                groups: 5000,
                seed: 7
            }
        );
        assert!(Generate::parse("people=3").is_err());
    }
}
