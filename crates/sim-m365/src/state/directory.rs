//! A tenant's users and groups as the APIs see them: the listed ones first, then the generated
//! ones, which are derived from their index and never stored.

use std::collections::HashSet;

use super::objects::{Group, User};
use super::tenant::Tenant;
use crate::tenants::Generate;

/// The object-id prefix of generated users (`variant` 8) or groups (`variant` 9).
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
        enabled: true,
        mailbox: true,
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

/// Entry `i` of a directory list: `listed[i]`, or else generated entry `i - listed.len()`.
fn listed_or_generated<T: Clone>(
    listed: &[T],
    i: u64,
    generated: impl FnOnce(u64) -> Option<T>,
) -> Option<T> {
    match listed.get(i as usize) {
        Some(entry) => Some(entry.clone()),
        None => generated(i - listed.len() as u64),
    }
}

impl Tenant {
    /// Total users.
    pub fn user_count(&self) -> u64 {
        self.users.len() as u64 + self.generate.map(|g| g.users).unwrap_or(0)
    }

    /// The user at position `i` of the directory (listed users first, then generated ones).
    pub fn user_at(&self, i: u64) -> Option<User> {
        listed_or_generated(&self.users, i, |j| {
            let g = self.generate?;
            (j < g.users).then(|| generated_user(&g, j, &self.default_domain()))
        })
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
        listed_or_generated(&self.groups, i, |j| {
            let g = self.generate?;
            (j < g.groups).then(|| generated_group(&g, j))
        })
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
            && let Some(index) = group.id.strip_prefix(&generated_prefix(&g, "9"))
        {
            let j = u64::from_str_radix(index, 16).unwrap_or(0);
            return (0..g.users)
                .filter(|i| g.groups > 0 && i % g.groups == j)
                .map(|i| generated_user(&g, i, "").id)
                .collect();
        }
        group.members.clone()
    }

    /// Users reachable from a group through nesting, each once (cycle-safe), and the nested
    /// groups passed through.
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
}
