//! Building the world from a tenants file: application registrations with their credentials,
//! and tenants with their directory, consents and directory roles.

use std::collections::{BTreeMap, HashMap, HashSet};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use super::objects::{App, Certificate, Domain, Group, RoleAssignment, Secret, User};
use super::tenant::{Tenant, grant_consent};
use super::{MailSubscriptions, World};
use crate::ids::ROLES;
use crate::tenants::{AppSpec, ConsentSpec, Generate, GroupSpec, TenantSpec, TenantsFile};
use exo_sim_http::ids::uuid_v4;

/// Creation time of the users and groups listed in the tenants file.
const LISTED_CREATED: &str = "2021-06-01T00:00:00Z";

impl World {
    /// Builds the world from a tenants file.
    pub fn from_file(file: &TenantsFile, generate: Option<Generate>) -> anyhow::Result<Self> {
        let apps = file
            .apps
            .iter()
            .map(app)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let now = jiff::Timestamp::now();
        let mut tenants = Vec::new();
        for spec in &file.tenants {
            let mut tenant = tenant(spec, generate)?;
            for consent in &spec.consents {
                apply_consent(&mut tenant, &spec.id, &apps, consent, now)?;
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
            faults: Vec::new(),
            counters: BTreeMap::new(),
            token_lifetime: jiff::SignedDuration::from_mins(60),
            refresh_lifetime: jiff::SignedDuration::from_hours(24 * 90),
            device_interval: 5,
            mail_subscriptions: MailSubscriptions::default(),
            subscription_settings: Default::default(),
            subscription_windows: Default::default(),
        })
    }
}

/// base64url SHA-256 and SHA-1 thumbprints of a certificate.
fn thumbprints(der: &[u8]) -> (String, String) {
    (
        URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, der)),
        URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, der)),
    )
}

fn app(spec: &AppSpec) -> anyhow::Result<App> {
    let mut certificates = Vec::new();
    for c in &spec.certificates {
        let der = CertificateDer::from_pem_slice(c.pem.as_bytes())
            .map_err(|_| anyhow::anyhow!("app {}: a certificate is not PEM", spec.client_id))?;
        let (s256, sha1) = thumbprints(der.as_ref());
        certificates.push(Certificate {
            der: der.as_ref().to_vec(),
            s256,
            sha1,
        });
    }
    let mut secrets = Vec::new();
    for s in &spec.secrets {
        let expires = match &s.expires {
            Some(e) => Some(e.parse().map_err(|_| {
                anyhow::anyhow!(
                    "app {}: secret expiry {e:?} is not RFC 3339",
                    spec.client_id
                )
            })?),
            None => None,
        };
        secrets.push(Secret {
            value: s.value.clone(),
            expires,
        });
    }
    Ok(App {
        client_id: spec.client_id.to_lowercase(),
        display_name: spec.display_name.clone(),
        secrets,
        certificates,
        permissions: spec.permissions.clone(),
        redirect_uris: spec.redirect_uris.clone(),
        enabled: spec.enabled,
    })
}

fn tenant(spec: &TenantSpec, generate: Option<Generate>) -> anyhow::Result<Tenant> {
    let mut domains: Vec<Domain> = spec
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
    let users: Vec<User> = spec
        .users
        .iter()
        .map(|u| User {
            id: u.id.clone().unwrap_or_else(uuid_v4),
            upn: u.upn.clone(),
            display_name: u
                .display_name
                .clone()
                .unwrap_or_else(|| u.upn.split('@').next().unwrap_or("").to_string()),
            mail: u.mail.clone().unwrap_or_else(|| u.upn.clone()),
            created: LISTED_CREATED.into(),
            enabled: true,
            mailbox: u.mailbox.unwrap_or(true),
        })
        .collect();
    let groups = groups(spec, &users)?;
    Ok(Tenant {
        id: spec.id.to_lowercase(),
        display_name: spec.display_name.clone(),
        domains,
        users,
        groups,
        admins: spec.admins.iter().map(|a| a.upn.clone()).collect(),
        service_principals: Vec::new(),
        role_assignments: Vec::new(),
        pim_requests: Vec::new(),
        pim_approval: spec.pim_approval,
        role_propagation: jiff::SignedDuration::from_secs(spec.role_propagation_seconds as i64),
        generate: spec.generate.or(generate),
        journal: Vec::new(),
        deleted: HashSet::new(),
        subscriptions: BTreeMap::new(),
        exchange: BTreeMap::new(),
    })
}

/// The groups of a tenant, their members resolved to object ids (users by UPN, nested groups by
/// `group:<displayName>`).
fn groups(spec: &TenantSpec, users: &[User]) -> anyhow::Result<Vec<Group>> {
    let mut groups: Vec<Group> = spec
        .groups
        .iter()
        .map(|g| Group {
            id: g.id.clone().unwrap_or_else(uuid_v4),
            display_name: g.display_name.clone(),
            members: Vec::new(),
            created: LISTED_CREATED.into(),
        })
        .collect();
    for (i, g) in spec.groups.iter().enumerate() {
        groups[i].members = member_ids(spec, g, users, &groups)?;
    }
    Ok(groups)
}

fn member_ids(
    spec: &TenantSpec,
    group: &GroupSpec,
    users: &[User],
    groups: &[Group],
) -> anyhow::Result<Vec<String>> {
    let mut members = Vec::new();
    for m in &group.members {
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
                spec.id,
                group.display_name
            )
        })?);
    }
    Ok(members)
}

/// Grants a consent of the tenants file and assigns its directory roles to the service principal.
fn apply_consent(
    tenant: &mut Tenant,
    tenant_name: &str,
    apps: &[App],
    consent: &ConsentSpec,
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    let app = apps
        .iter()
        .find(|a| a.client_id.eq_ignore_ascii_case(&consent.client_id))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "tenant {tenant_name}: consent for unknown app {}",
                consent.client_id
            )
        })?;
    let perms = consent
        .permissions
        .clone()
        .unwrap_or_else(|| app.permissions.clone());
    grant_consent(tenant, app, &perms);
    let sp_id = tenant
        .sp(&app.client_id)
        .map(|s| s.id.clone())
        .unwrap_or_default();
    for role in &consent.directory_roles {
        let role_id = ROLES
            .iter()
            .find(|(id, name)| id == role || name.eq_ignore_ascii_case(role))
            .map(|(id, _)| id.to_string())
            .ok_or_else(|| anyhow::anyhow!("unknown directory role {role}"))?;
        tenant.role_assignments.push(RoleAssignment {
            id: uuid_v4(),
            principal_id: sp_id.clone(),
            role_id,
            effective: now,
        });
    }
    Ok(())
}
