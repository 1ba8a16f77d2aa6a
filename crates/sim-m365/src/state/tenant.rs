//! A tenant: its directory, consents, role assignments, change journal and the Exchange and
//! activity-feed objects the APIs keep for it.

use std::collections::{BTreeMap, HashSet};

use super::objects::{
    App, Domain, Grant, Group, PimRequest, RoleAssignment, ServicePrincipal, User,
};
use crate::ids::permission;
use crate::tenants::Generate;
use exo_sim_http::ids::{opaque_token, uuid_v4};

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

    /// Whether `principal_id` already holds (or will hold) the directory role `role_id`.
    pub fn has_role_assignment(&self, principal_id: &str, role_id: &str) -> bool {
        self.role_assignments
            .iter()
            .any(|a| a.principal_id == principal_id && a.role_id == role_id)
    }

    /// Assigns the directory role `role_id` to `principal_id`, effective after the tenant's
    /// role propagation delay counted from `now`.
    pub fn assign_role(
        &mut self,
        principal_id: String,
        role_id: String,
        now: jiff::Timestamp,
    ) -> RoleAssignment {
        let assignment = RoleAssignment {
            id: uuid_v4(),
            principal_id,
            role_id,
            effective: now + self.role_propagation,
        };
        self.role_assignments.push(assignment.clone());
        assignment
    }
}

/// Grants `perms` of `app` in `tenant`: creates the service principal if needed and assigns the
/// app roles (idempotent).
pub fn grant_consent(tenant: &mut Tenant, app: &App, perms: &[String]) {
    if tenant.sp(&app.client_id).is_none() {
        tenant.service_principals.push(ServicePrincipal {
            id: uuid_v4(),
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
                id: opaque_token(24).expect("system randomness"),
                resource_app: resource.into(),
                role_id: role.into(),
            });
        }
    }
}
