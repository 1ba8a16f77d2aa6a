//! The simulated world at run time: applications, tenants with their directory, service
//! principals and grants, issued refresh tokens and device codes, a change journal for delta
//! queries, injected faults, the clock and request counters.

use std::collections::{BTreeMap, HashMap, HashSet};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

pub use super::ids::{
    EXCHANGE_ADMINISTRATOR, GLOBAL_ADMINISTRATOR, ROLES, permission, permission_name, resource_of,
};
use super::tenants::{Generate, TenantsFile};

/// A client secret.
#[derive(Clone, Debug)]
pub struct Secret {
    /// Value.
    pub value: String,
    /// Expiry.
    pub expires: Option<jiff::Timestamp>,
}

/// A registered certificate.
#[derive(Clone, Debug)]
pub struct Certificate {
    /// DER.
    pub der: Vec<u8>,
    /// base64url SHA-256 thumbprint (`x5t#S256`).
    pub s256: String,
    /// base64url SHA-1 thumbprint (`x5t`).
    pub sha1: String,
}

/// An application registration.
#[derive(Clone, Debug)]
pub struct App {
    /// Client id.
    pub client_id: String,
    /// Display name.
    pub display_name: String,
    /// Secrets.
    pub secrets: Vec<Secret>,
    /// Certificates.
    pub certificates: Vec<Certificate>,
    /// Configured permissions.
    pub permissions: Vec<String>,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Enabled.
    pub enabled: bool,
}

/// A user.
#[derive(Clone, Debug)]
pub struct User {
    /// Object id.
    pub id: String,
    /// UPN.
    pub upn: String,
    /// Display name.
    pub display_name: String,
    /// Mail.
    pub mail: String,
    /// Creation time (RFC 3339).
    pub created: String,
}

/// A group.
#[derive(Clone, Debug)]
pub struct Group {
    /// Object id.
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// Member object ids (users or groups).
    pub members: Vec<String>,
    /// Creation time.
    pub created: String,
}

/// A domain.
#[derive(Clone, Debug)]
pub struct Domain {
    /// Name.
    pub name: String,
    /// Default.
    pub default: bool,
    /// Initial.
    pub initial: bool,
    /// Verified.
    pub verified: bool,
    /// E-mail enabled.
    pub email: bool,
}

/// An app role granted to a service principal.
#[derive(Clone, Debug)]
pub struct Grant {
    /// Assignment id.
    pub id: String,
    /// Resource application id.
    pub resource_app: String,
    /// App-role id.
    pub role_id: String,
}

/// A service principal (a consented application).
#[derive(Clone, Debug)]
pub struct ServicePrincipal {
    /// Object id.
    pub id: String,
    /// Application id.
    pub app_id: String,
    /// Display name.
    pub display_name: String,
    /// App roles granted.
    pub grants: Vec<Grant>,
}

/// A directory role assignment.
#[derive(Clone, Debug)]
pub struct RoleAssignment {
    /// Id.
    pub id: String,
    /// Principal object id.
    pub principal_id: String,
    /// Role template id.
    pub role_id: String,
    /// When it takes effect (role propagation).
    pub effective: jiff::Timestamp,
}

/// A PIM assignment schedule request.
#[derive(Clone, Debug)]
pub struct PimRequest {
    /// Id.
    pub id: String,
    /// Principal.
    pub principal_id: String,
    /// Role.
    pub role_id: String,
    /// `Provisioned` or `PendingApproval`.
    pub status: String,
    /// Justification.
    pub justification: String,
}

/// One entry of the change journal.
#[derive(Clone, Debug)]
pub struct Change {
    /// Sequence number.
    pub seq: u64,
    /// Object id.
    pub id: String,
    /// `user` or `group`.
    pub kind: &'static str,
    /// For groups: a member added (`true`) or removed (`false`).
    pub member: Option<(String, bool)>,
}

/// A tenant.
#[derive(Clone, Debug)]
pub struct Tenant {
    /// Tenant id.
    pub id: String,
    /// Name.
    pub display_name: String,
    /// Domains.
    pub domains: Vec<Domain>,
    /// Users.
    pub users: Vec<User>,
    /// Groups.
    pub groups: Vec<Group>,
    /// Global Administrators (UPNs).
    pub admins: Vec<String>,
    /// Service principals.
    pub service_principals: Vec<ServicePrincipal>,
    /// Directory role assignments.
    pub role_assignments: Vec<RoleAssignment>,
    /// PIM requests.
    pub pim_requests: Vec<PimRequest>,
    /// Whether PIM requests need approval.
    pub pim_approval: bool,
    /// Role propagation delay.
    pub role_propagation: jiff::SignedDuration,
    /// Generated directory.
    pub generate: Option<Generate>,
    /// Change journal (deleted objects are journaled with their id only).
    pub journal: Vec<Change>,
    /// Ids of objects deleted (for delta `@removed`).
    pub deleted: HashSet<String>,
    /// Activity-feed subscriptions: content type → enabled.
    pub subscriptions: BTreeMap<String, bool>,
    /// Exchange Online objects: type → name → object.
    pub exchange: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
}

impl Tenant {
    /// Whether `name` (a GUID or a domain, case-insensitive) names this tenant.
    pub fn is(&self, name: &str) -> bool {
        self.id.eq_ignore_ascii_case(name)
            || self
                .domains
                .iter()
                .any(|d| d.name.eq_ignore_ascii_case(name))
    }

    /// The default domain.
    pub fn default_domain(&self) -> String {
        self.domains
            .iter()
            .find(|d| d.default)
            .or(self.domains.first())
            .map(|d| d.name.clone())
            .unwrap_or_else(|| "example.onmicrosoft.com".into())
    }

    /// The service principal of `app_id`.
    pub fn sp(&self, app_id: &str) -> Option<&ServicePrincipal> {
        self.service_principals.iter().find(|s| s.app_id == app_id)
    }

    /// Number of generated users.
    pub fn generated_users(&self) -> u64 {
        self.generate.map(|g| g.users).unwrap_or(0)
    }

    /// Total users.
    pub fn user_count(&self) -> u64 {
        self.users.len() as u64 + self.generated_users()
    }

    /// The user at position `i` of the directory (listed users first, then generated ones).
    pub fn user_at(&self, i: u64) -> Option<User> {
        if (i as usize) < self.users.len() {
            return self.users.get(i as usize).cloned();
        }
        let g = self.generate?;
        let j = i - self.users.len() as u64;
        (j < g.users).then(|| generated_user(&g, j, &self.default_domain()))
    }

    /// The user with this id or UPN (case-insensitive).
    pub fn find_user(&self, key: &str) -> Option<User> {
        if let Some(u) = self
            .users
            .iter()
            .find(|u| u.id.eq_ignore_ascii_case(key) || u.upn.eq_ignore_ascii_case(key))
        {
            return Some(u.clone());
        }
        let g = self.generate?;
        let domain = self.default_domain();
        let index = if let Some(rest) = key.strip_prefix(&generated_prefix(&g, "8")) {
            u64::from_str_radix(rest, 16).ok()?
        } else {
            let local = key.strip_suffix(&format!("@{domain}"))?;
            local.strip_prefix("user")?.parse().ok()?
        };
        (index < g.users).then(|| generated_user(&g, index, &domain))
    }

    /// Total groups.
    pub fn group_count(&self) -> u64 {
        self.groups.len() as u64 + self.generate.map(|g| g.groups).unwrap_or(0)
    }

    /// The group at position `i`.
    pub fn group_at(&self, i: u64) -> Option<Group> {
        if (i as usize) < self.groups.len() {
            return self.groups.get(i as usize).cloned();
        }
        let g = self.generate?;
        let j = i - self.groups.len() as u64;
        (j < g.groups).then(|| generated_group(&g, j))
    }

    /// The group with this id.
    pub fn find_group(&self, id: &str) -> Option<Group> {
        if let Some(g) = self.groups.iter().find(|g| g.id.eq_ignore_ascii_case(id)) {
            return Some(g.clone());
        }
        let g = self.generate?;
        let index = u64::from_str_radix(id.strip_prefix(&generated_prefix(&g, "9"))?, 16).ok()?;
        (index < g.groups).then(|| generated_group(&g, index))
    }

    /// Member ids of a group (generated groups list their generated users).
    pub fn members(&self, group: &Group) -> Vec<String> {
        if let Some(g) = self.generate
            && group.id.starts_with(&generated_prefix(&g, "9"))
        {
            let j =
                u64::from_str_radix(&group.id[generated_prefix(&g, "9").len()..], 16).unwrap_or(0);
            return (0..g.users)
                .filter(|i| g.groups > 0 && i % g.groups == j)
                .map(|i| generated_user(&g, i, "").id)
                .collect();
        }
        group.members.clone()
    }

    /// Users reachable from a group through nesting, each once (cycle-safe).
    pub fn transitive_users(&self, group: &Group) -> (Vec<User>, Vec<Group>) {
        let mut seen: HashSet<String> = HashSet::from([group.id.clone()]);
        let mut users = Vec::new();
        let mut groups = Vec::new();
        let mut queue = vec![group.clone()];
        while let Some(g) = queue.pop() {
            for id in self.members(&g) {
                if !seen.insert(id.clone()) {
                    continue;
                }
                if let Some(u) = self.find_user(&id) {
                    users.push(u);
                } else if let Some(sub) = self.find_group(&id) {
                    groups.push(sub.clone());
                    queue.push(sub);
                }
            }
        }
        (users, groups)
    }

    /// Appends to the journal.
    pub fn journal(
        &mut self,
        seq: u64,
        kind: &'static str,
        id: &str,
        member: Option<(String, bool)>,
    ) {
        self.journal.push(Change {
            seq,
            id: id.to_string(),
            kind,
            member,
        });
    }

    /// Directory role template ids effective for `principal_id` at `now`.
    pub fn effective_roles(&self, principal_id: &str, now: jiff::Timestamp) -> Vec<String> {
        self.role_assignments
            .iter()
            .filter(|a| a.principal_id == principal_id && a.effective <= now)
            .map(|a| a.role_id.clone())
            .collect()
    }
}

fn generated_prefix(g: &Generate, variant: &str) -> String {
    format!(
        "{:08x}-0000-4000-{variant}000-",
        (g.seed & 0xffff_ffff) as u32
    )
}

fn generated_user(g: &Generate, i: u64, domain: &str) -> User {
    let upn = format!("user{i:06}@{domain}");
    User {
        id: format!("{}{:012x}", generated_prefix(g, "8"), i),
        display_name: format!("Generated User {i}"),
        mail: upn.clone(),
        upn,
        created: "2020-01-01T00:00:00Z".into(),
    }
}

fn generated_group(g: &Generate, j: u64) -> Group {
    Group {
        id: format!("{}{:012x}", generated_prefix(g, "9"), j),
        display_name: format!("Generated Group {j:05}"),
        members: Vec::new(),
        created: "2020-01-01T00:00:00Z".into(),
    }
}

/// An issued refresh token.
#[derive(Clone, Debug)]
pub struct RefreshToken {
    /// Tenant id.
    pub tenant: String,
    /// Client id.
    pub client_id: String,
    /// Signed-in user (UPN).
    pub user: String,
    /// Expiry (sliding: renewed on use).
    pub expires: jiff::Timestamp,
    /// Revoked.
    pub revoked: bool,
}

/// A device-code prompt.
#[derive(Clone, Debug)]
pub struct DeviceCode {
    /// The device code.
    pub device_code: String,
    /// The user code.
    pub user_code: String,
    /// Tenant id.
    pub tenant: String,
    /// Client id.
    pub client_id: String,
    /// Scope requested.
    pub scope: String,
    /// Expiry.
    pub expires: jiff::Timestamp,
    /// Poll interval.
    pub interval: u64,
    /// Last poll.
    pub last_poll: Option<jiff::Timestamp>,
    /// `pending`, `approved:<upn>`, `declined`, `expired`, `redeemed`.
    pub state: String,
}

/// An injected fault.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    /// Regular expression matched against `METHOD /path`.
    pub path: String,
    /// HTTP status to answer (none: no status fault).
    #[serde(default)]
    pub status: Option<u16>,
    /// `Retry-After` seconds with the status.
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// Latency added, milliseconds.
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// Drop the connection instead of answering.
    #[serde(default)]
    pub drop: bool,
    /// How many requests it applies to (always when absent).
    #[serde(default)]
    pub count: Option<u64>,
}

/// The world.
pub struct World {
    /// Applications.
    pub apps: Vec<App>,
    /// Tenants.
    pub tenants: Vec<Tenant>,
    /// Seconds added to the real clock.
    pub clock_offset: i64,
    /// Journal sequence.
    pub seq: u64,
    /// Refresh tokens.
    pub refresh_tokens: HashMap<String, RefreshToken>,
    /// Device codes.
    pub device_codes: Vec<DeviceCode>,
    /// Authorization codes: code → (tenant, client, user, redirect).
    pub auth_codes: HashMap<String, (String, String, String, String)>,
    /// Client-assertion ids seen (replay protection).
    pub jtis: HashSet<String>,
    /// Faults.
    pub faults: Vec<Fault>,
    /// Requests by `METHOD /path`.
    pub counters: BTreeMap<String, u64>,
    /// Access-token lifetime.
    pub token_lifetime: jiff::SignedDuration,
    /// Refresh-token lifetime (inactivity).
    pub refresh_lifetime: jiff::SignedDuration,
    /// Device-code poll interval.
    pub device_interval: u64,
}

/// A random GUID.
pub fn guid() -> String {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut b = [0u8; 16];
    let _ = SystemRandom::new().fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A random opaque token of `bytes` bytes.
pub fn opaque(bytes: usize) -> String {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut b = vec![0u8; bytes];
    let _ = SystemRandom::new().fill(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

fn thumbprints(der: &[u8]) -> (String, String) {
    (
        URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, der)),
        URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, der)),
    )
}

impl World {
    /// Builds the world from a tenants file.
    pub fn from_file(file: &TenantsFile, generate: Option<Generate>) -> anyhow::Result<Self> {
        let mut apps = Vec::new();
        for a in &file.apps {
            let mut certificates = Vec::new();
            for c in &a.certificates {
                let der = CertificateDer::from_pem_slice(c.pem.as_bytes()).map_err(|_| {
                    anyhow::anyhow!("app {}: a certificate is not PEM", a.client_id)
                })?;
                let (s256, sha1) = thumbprints(der.as_ref());
                certificates.push(Certificate {
                    der: der.as_ref().to_vec(),
                    s256,
                    sha1,
                });
            }
            let mut secrets = Vec::new();
            for s in &a.secrets {
                secrets.push(Secret {
                    value: s.value.clone(),
                    expires: match &s.expires {
                        Some(e) => Some(e.parse().map_err(|_| {
                            anyhow::anyhow!(
                                "app {}: secret expiry {e:?} is not RFC 3339",
                                a.client_id
                            )
                        })?),
                        None => None,
                    },
                });
            }
            apps.push(App {
                client_id: a.client_id.to_lowercase(),
                display_name: a.display_name.clone(),
                secrets,
                certificates,
                permissions: a.permissions.clone(),
                redirect_uris: a.redirect_uris.clone(),
                enabled: a.enabled,
            });
        }
        let now = jiff::Timestamp::now();
        let mut tenants = Vec::new();
        for t in &file.tenants {
            let mut domains: Vec<Domain> = t
                .domains
                .iter()
                .map(|d| Domain {
                    name: d.name.clone(),
                    default: d.default,
                    initial: d.initial,
                    verified: d.verified,
                    email: d.email,
                })
                .collect();
            if !domains.iter().any(|d| d.default)
                && let Some(first) = domains.first_mut()
            {
                first.default = true;
            }
            let created = "2021-06-01T00:00:00Z".to_string();
            let users: Vec<User> = t
                .users
                .iter()
                .map(|u| User {
                    id: u.id.clone().unwrap_or_else(guid),
                    upn: u.upn.clone(),
                    display_name: u
                        .display_name
                        .clone()
                        .unwrap_or_else(|| u.upn.split('@').next().unwrap_or("").to_string()),
                    mail: u.mail.clone().unwrap_or_else(|| u.upn.clone()),
                    created: created.clone(),
                })
                .collect();
            let mut groups: Vec<Group> = t
                .groups
                .iter()
                .map(|g| Group {
                    id: g.id.clone().unwrap_or_else(guid),
                    display_name: g.display_name.clone(),
                    members: Vec::new(),
                    created: created.clone(),
                })
                .collect();
            for (i, g) in t.groups.iter().enumerate() {
                let mut members = Vec::new();
                for m in &g.members {
                    let id = if let Some(name) = m.strip_prefix("group:") {
                        groups
                            .iter()
                            .find(|x| x.display_name == name)
                            .map(|x| x.id.clone())
                    } else {
                        users
                            .iter()
                            .find(|u| u.upn.eq_ignore_ascii_case(m))
                            .map(|u| u.id.clone())
                    };
                    members.push(id.ok_or_else(|| {
                        anyhow::anyhow!(
                            "tenant {}: group {} lists unknown member {m}",
                            t.id,
                            g.display_name
                        )
                    })?);
                }
                groups[i].members = members;
            }
            let mut tenant = Tenant {
                id: t.id.to_lowercase(),
                display_name: t.display_name.clone(),
                domains,
                users,
                groups,
                admins: t.admins.iter().map(|a| a.upn.clone()).collect(),
                service_principals: Vec::new(),
                role_assignments: Vec::new(),
                pim_requests: Vec::new(),
                pim_approval: t.pim_approval,
                role_propagation: jiff::SignedDuration::from_secs(
                    t.role_propagation_seconds as i64,
                ),
                generate: t.generate.or(generate),
                journal: Vec::new(),
                deleted: HashSet::new(),
                subscriptions: BTreeMap::new(),
                exchange: BTreeMap::new(),
            };
            for c in &t.consents {
                let app = apps
                    .iter()
                    .find(|a| a.client_id.eq_ignore_ascii_case(&c.client_id))
                    .ok_or_else(|| {
                        anyhow::anyhow!("tenant {}: consent for unknown app {}", t.id, c.client_id)
                    })?;
                let perms = c
                    .permissions
                    .clone()
                    .unwrap_or_else(|| app.permissions.clone());
                grant_consent(&mut tenant, app, &perms);
                let sp_id = tenant
                    .sp(&app.client_id)
                    .map(|s| s.id.clone())
                    .unwrap_or_default();
                for role in &c.directory_roles {
                    let role_id = ROLES
                        .iter()
                        .find(|(id, name)| id == role || name.eq_ignore_ascii_case(role))
                        .map(|(id, _)| id.to_string())
                        .ok_or_else(|| anyhow::anyhow!("unknown directory role {role}"))?;
                    tenant.role_assignments.push(RoleAssignment {
                        id: guid(),
                        principal_id: sp_id.clone(),
                        role_id,
                        effective: now,
                    });
                }
            }
            tenants.push(tenant);
        }
        Ok(Self {
            apps,
            tenants,
            clock_offset: 0,
            seq: 1,
            refresh_tokens: HashMap::new(),
            device_codes: Vec::new(),
            auth_codes: HashMap::new(),
            jtis: HashSet::new(),
            faults: Vec::new(),
            counters: BTreeMap::new(),
            token_lifetime: jiff::SignedDuration::from_mins(60),
            refresh_lifetime: jiff::SignedDuration::from_hours(24 * 90),
            device_interval: 5,
        })
    }

    /// The simulated time.
    pub fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now() + jiff::SignedDuration::from_secs(self.clock_offset)
    }

    /// The tenant named `name` (GUID or domain).
    pub fn tenant(&self, name: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.is(name))
    }

    /// The tenant named `name`, mutable.
    pub fn tenant_mut(&mut self, name: &str) -> Option<&mut Tenant> {
        self.tenants.iter_mut().find(|t| t.is(name))
    }

    /// The application `client_id`.
    pub fn app(&self, client_id: &str) -> Option<&App> {
        self.apps
            .iter()
            .find(|a| a.client_id.eq_ignore_ascii_case(client_id))
    }

    /// The application `client_id`, mutable.
    pub fn app_mut(&mut self, client_id: &str) -> Option<&mut App> {
        self.apps
            .iter_mut()
            .find(|a| a.client_id.eq_ignore_ascii_case(client_id))
    }

    /// The next journal sequence number.
    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }
}

/// Grants `perms` of `app` in `tenant`: creates the service principal if needed and assigns the
/// app roles (idempotent).
pub fn grant_consent(tenant: &mut Tenant, app: &App, perms: &[String]) {
    if tenant.sp(&app.client_id).is_none() {
        tenant.service_principals.push(ServicePrincipal {
            id: guid(),
            app_id: app.client_id.clone(),
            display_name: app.display_name.clone(),
            grants: Vec::new(),
        });
    }
    let sp = tenant
        .service_principals
        .iter_mut()
        .find(|s| s.app_id == app.client_id)
        .expect("created above");
    for p in perms {
        if let Some((resource, role)) = permission(p)
            && !sp.grants.iter().any(|g| g.role_id == role)
        {
            sp.grants.push(Grant {
                id: opaque(24),
                resource_app: resource.into(),
                role_id: role.into(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenants;

    #[test]
    fn the_demo_world_builds_with_nested_groups() {
        let world = World::from_file(&tenants::demo(), None).unwrap();
        let contoso = world.tenant("contoso.com").unwrap();
        let eng = contoso
            .groups
            .iter()
            .find(|g| g.display_name == "Engineering")
            .unwrap();
        let (users, groups) = contoso.transitive_users(eng);
        // Engineering → Research → Engineering is a cycle: every user once.
        assert_eq!(users.len(), 3);
        assert_eq!(groups.len(), 1);
        assert!(world.tenant("CONTOSO.ONMICROSOFT.COM").is_some());
    }

    #[test]
    fn generated_users_are_derived_not_stored() {
        let mut file = tenants::demo();
        file.tenants.truncate(1);
        let world = World::from_file(
            &file,
            Some(Generate {
                users: 100_000,
                groups: 10,
                seed: 3,
            }),
        )
        .unwrap();
        let t = &world.tenants[0];
        assert_eq!(t.user_count(), 100_004);
        let u = t.user_at(50_000).unwrap();
        assert_eq!(t.find_user(&u.id).unwrap().upn, u.upn);
        assert_eq!(t.find_user(&u.upn).unwrap().id, u.id);
        let g = t.group_at(t.groups.len() as u64 + 3).unwrap();
        assert_eq!(t.members(&g).len(), 10_000);
        assert!(t.find_group(&g.id).is_some());
    }
}
