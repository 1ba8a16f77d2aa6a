//! The simulated world at run time: applications, tenants with their directory, service
//! principals and grants, issued refresh tokens and device codes, a change journal for delta
//! queries, Graph mail subscriptions, injected faults, the clock and request counters.

mod build;
mod directory;
mod objects;
mod sessions;
mod subscriptions;
mod tenant;

use std::collections::{BTreeMap, HashMap};

pub use self::objects::{
    App, Certificate, Domain, Grant, Group, PimRequest, RoleAssignment, Secret, ServicePrincipal,
    User,
};
pub use self::sessions::{AuthorizationCode, DeviceCode, RefreshToken};
pub use self::subscriptions::{
    Cursor, MailFolder, MailSubscription, MailSubscriptions, SubscriptionSettings,
};
pub use self::tenant::{Change, Tenant, grant_consent};
use crate::faults::Fault;

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
    /// Authorization codes by code.
    pub auth_codes: HashMap<String, AuthorizationCode>,
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
    /// Graph change-notification subscriptions on Outlook messages (all tenants), indexed.
    pub mail_subscriptions: MailSubscriptions,
    /// The knobs of the subscription service.
    pub subscription_settings: SubscriptionSettings,
    /// The subscription service's throttling windows (real monotonic time).
    pub subscription_windows: crate::graph::subscriptions::Windows,
}

impl World {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenants::{self, Generate};

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
