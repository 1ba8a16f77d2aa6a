//! Resolution of a SyncTargetList against the tenant: users by exact principal name, groups by
//! display-name prefix or id expanded through transitive membership to users. Lookups run
//! concurrently; the assembly is pure. More than [`MAX_USERS`] users is never truncated: the
//! list is reported as over the limit and the last good resolution is kept.

use std::collections::BTreeMap;

use futures::{StreamExt, TryStreamExt};

use crate::microsoft::graph::{GraphClient, GraphError};
use crate::microsoft::identity::token::AccessToken;
use crate::service::protocol::{Group, User};
use exo_api::sync_target_list::{GroupTarget, ResolvedUser, SyncTargetListSpec, UnresolvedEntry};

/// Most users a list may resolve to.
pub const MAX_USERS: usize = 100;
/// Most groups one name prefix may match.
pub const MAX_GROUPS_PER_PREFIX: usize = 50;
/// Lookups in flight at once per list.
pub const CONCURRENCY: usize = 8;

/// What one entry resolved to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryResult {
    /// Users found, as the service receives them.
    Users(Vec<User>),
    /// Nothing found, with the reason (`UserNotFound`, `GroupNotFound`, `NoUserMembers`).
    Unresolved(&'static str, String),
}

/// The selected users and the groups matched, as the service receives them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SelectedDirectory {
    /// The users, sorted by id.
    pub users: Vec<User>,
    /// The groups with their user members, sorted by id.
    pub groups: Vec<Group>,
}

/// The resolution of a whole list.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolution {
    /// Users, sorted by principal name, each with the entries that brought it in.
    pub users: Vec<ResolvedUser>,
    /// The same users as the service receives them (id, principal name, mail, display name,
    /// enabled state), sorted by id.
    pub directory: Vec<User>,
    /// The groups matched, with the ids of their user members (transitively), sorted by id.
    pub group_directory: Vec<Group>,
    /// Entries that did not resolve.
    pub unresolved: Vec<UnresolvedEntry>,
    /// Groups matched.
    pub groups: i64,
    /// True when the users exceed [`MAX_USERS`].
    pub limit_exceeded: bool,
}

/// The label of a group entry: `group:<namePrefix>` or `group:<id>`.
pub fn group_label(g: &GroupTarget) -> String {
    match (&g.name_prefix, &g.id) {
        (Some(p), _) => format!("group:{}", p.trim()),
        (None, Some(id)) => format!("group:{id}"),
        _ => "group:".into(),
    }
}

/// Assembles entry results (in list order) into a resolution.
pub fn assemble(entries: Vec<(String, EntryResult)>, groups: i64) -> Resolution {
    let mut users: BTreeMap<String, ResolvedUser> = BTreeMap::new();
    let mut directory: BTreeMap<String, User> = BTreeMap::new();
    let mut unresolved = Vec::new();
    for (entry, result) in entries {
        match result {
            EntryResult::Users(found) => {
                for found in found {
                    let user = users
                        .entry(found.id.clone())
                        .or_insert_with(|| ResolvedUser {
                            id: found.id.clone(),
                            user_principal_name: found.user_principal_name.clone(),
                            display_name: found.display_name.clone(),
                            via: Vec::new(),
                        });
                    directory.entry(found.id.clone()).or_insert(found);
                    if !user.via.contains(&entry) {
                        user.via.push(entry.clone());
                    }
                }
            }
            EntryResult::Unresolved(reason, message) => unresolved.push(UnresolvedEntry {
                entry,
                reason: reason.to_string(),
                message: Some(message),
            }),
        }
    }
    let mut users: Vec<ResolvedUser> = users.into_values().collect();
    users.sort_by(|a, b| {
        a.user_principal_name
            .to_lowercase()
            .cmp(&b.user_principal_name.to_lowercase())
    });
    Resolution {
        limit_exceeded: users.len() > MAX_USERS,
        users,
        directory: directory.into_values().collect(),
        group_directory: Vec::new(),
        unresolved,
        groups,
    }
}

async fn resolve_user(
    graph: &GraphClient,
    token: &AccessToken,
    upn: &str,
) -> Result<EntryResult, GraphError> {
    Ok(match graph.user_by_upn(token, upn).await? {
        Some(u) => EntryResult::Users(vec![User {
            id: u.id,
            user_principal_name: u.user_principal_name.unwrap_or_else(|| upn.to_string()),
            mail: u.mail,
            display_name: u.display_name,
            // Graph gives it when selected; enabled is the default.
            account_enabled: u.account_enabled.unwrap_or(true),
        }]),
        None => EntryResult::Unresolved(
            "UserNotFound",
            format!("No user has the principal name {upn}."),
        ),
    })
}

/// Users of a group, reading at most `MAX_USERS + 1` (enough to know the limit is exceeded).
async fn group_users(
    graph: &GraphClient,
    token: &AccessToken,
    group_id: &str,
) -> Result<Vec<User>, GraphError> {
    let mut out = Vec::new();
    let mut pages = std::pin::pin!(graph.transitive_members(token, group_id));
    while let Some(page) = pages.try_next().await? {
        out.extend(
            page.value
                .into_iter()
                .filter(|o| o.is_user())
                .map(|o| User {
                    id: o.id,
                    user_principal_name: o.user_principal_name.unwrap_or_default(),
                    mail: o.mail,
                    display_name: o.display_name,
                    account_enabled: o.account_enabled.unwrap_or(true),
                }),
        );
        if out.len() > MAX_USERS {
            break;
        }
    }
    Ok(out)
}

async fn resolve_group(
    graph: &GraphClient,
    token: &AccessToken,
    target: &GroupTarget,
) -> Result<(EntryResult, i64, Vec<Group>), GraphError> {
    let groups: Vec<(String, String)> = match (&target.name_prefix, &target.id) {
        (Some(prefix), _) => graph
            .groups_starting_with(token, prefix.trim(), MAX_GROUPS_PER_PREFIX)
            .await?
            .into_iter()
            .map(|g| (g.id, g.display_name.unwrap_or_default()))
            .collect(),
        (None, Some(id)) => graph
            .group(token, id)
            .await?
            .map(|g| (g.id, g.display_name.unwrap_or_default()))
            .into_iter()
            .collect(),
        _ => Vec::new(),
    };
    if groups.is_empty() {
        return Ok((
            EntryResult::Unresolved(
                "GroupNotFound",
                match &target.name_prefix {
                    Some(p) => format!("No group's display name starts with {:?}.", p.trim()),
                    None => "No group has this id.".to_string(),
                },
            ),
            0,
            Vec::new(),
        ));
    }
    let mut users = Vec::new();
    let mut found = Vec::new();
    for (id, name) in &groups {
        let members = group_users(graph, token, id).await?;
        found.push(Group {
            id: id.clone(),
            display_name: Some(name.clone()),
            members: members.iter().map(|u| u.id.clone()).collect(),
        });
        users.extend(members);
        if users.len() > MAX_USERS {
            break;
        }
    }
    let count = groups.len() as i64;
    if users.is_empty() {
        let names: Vec<&str> = groups.iter().map(|(_, n)| n.as_str()).collect();
        return Ok((
            EntryResult::Unresolved(
                "NoUserMembers",
                format!(
                    "The matching groups ({}) have no user members.",
                    names.join(", ")
                ),
            ),
            count,
            found,
        ));
    }
    Ok((EntryResult::Users(users), count, found))
}

/// Resolves `spec` against the tenant.
pub async fn resolve(
    graph: &GraphClient,
    token: &AccessToken,
    spec: &SyncTargetListSpec,
) -> Result<Resolution, GraphError> {
    enum Job {
        User(String),
        Group(GroupTarget),
    }
    let jobs: Vec<Job> = spec
        .users
        .iter()
        .cloned()
        .map(Job::User)
        .chain(spec.groups.iter().cloned().map(Job::Group))
        .collect();
    let results: Vec<(String, EntryResult, i64, Vec<Group>)> = futures::stream::iter(jobs)
        .map(|job| async move {
            match job {
                Job::User(upn) => {
                    let result = resolve_user(graph, token, &upn).await?;
                    Ok::<_, GraphError>((upn, result, 0, Vec::new()))
                }
                Job::Group(g) => {
                    let (r, n, found) = resolve_group(graph, token, &g).await?;
                    Ok((group_label(&g), r, n, found))
                }
            }
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    let groups = results.iter().map(|(_, _, n, _)| n).sum();
    let mut found: BTreeMap<String, Group> = BTreeMap::new();
    let mut entries = Vec::with_capacity(results.len());
    for (entry, result, _, matched) in results {
        for g in matched {
            found.entry(g.id.clone()).or_insert(g);
        }
        entries.push((entry, result));
    }
    let mut resolution = assemble(entries, groups);
    resolution.group_directory = found.into_values().collect();
    Ok(resolution)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(id: &str, upn: &str) -> User {
        User {
            id: id.into(),
            user_principal_name: upn.into(),
            mail: None,
            display_name: None,
            account_enabled: true,
        }
    }

    #[test]
    fn users_found_twice_are_listed_once_with_every_entry() {
        let r = assemble(
            vec![
                (
                    "bob@contoso.com".into(),
                    EntryResult::Users(vec![u("2", "bob@contoso.com")]),
                ),
                (
                    "group:Sales".into(),
                    EntryResult::Users(vec![u("2", "bob@contoso.com"), u("1", "Ada@contoso.com")]),
                ),
                (
                    "nobody@contoso.com".into(),
                    EntryResult::Unresolved("UserNotFound", "none".into()),
                ),
            ],
            1,
        );
        assert_eq!(r.users.len(), 2);
        assert_eq!(r.users[0].user_principal_name, "Ada@contoso.com");
        assert_eq!(r.users[1].via, ["bob@contoso.com", "group:Sales"]);
        assert_eq!(r.unresolved[0].reason, "UserNotFound");
        assert!(!r.limit_exceeded);
    }

    #[test]
    fn more_than_100_users_is_reported_not_truncated() {
        let many: Vec<_> = (0..101)
            .map(|i| u(&i.to_string(), &format!("u{i}@contoso.com")))
            .collect();
        let r = assemble(vec![("group:All".into(), EntryResult::Users(many))], 1);
        assert!(r.limit_exceeded);
        assert_eq!(r.users.len(), 101);
    }

    #[test]
    fn group_labels_name_the_prefix_or_id() {
        let g = GroupTarget {
            name_prefix: Some(" Fin ".into()),
            id: None,
        };
        assert_eq!(group_label(&g), "group:Fin");
    }
}
