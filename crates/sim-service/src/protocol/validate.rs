//! The protocol's bounds and forms, checked before anything is applied: a message that fails
//! here is answered 400 and changes nothing.

use super::{Body, Delivery, Group, Mode, Registration, User};

/// Longest id (tenant, user, group, snapshot), characters.
pub const MAX_ID: usize = 128;
/// Longest name (UPN, mail, display name, domain, policy, reason), characters.
pub const MAX_NAME: usize = 256;
/// Most users, groups or ids in one list of a delivery.
pub const MAX_ITEMS: usize = 1000;
/// Most members of one group.
pub const MAX_MEMBERS: usize = 10_000;
/// Most ids in one list of a `protectedSet`.
pub const MAX_PROTECTED_ITEMS: usize = 10_000;
/// Most user ids of one `mailboxCatchUp`.
pub const MAX_CATCH_UP_USERS: usize = 1000;
/// Most verified domains or policies of a registration.
pub const MAX_REGISTRATION_ITEMS: usize = 1000;

/// Whether `s` is a GUID (`8-4-4-4-12` hex digits, either case).
pub fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Checks a registration against its path's tenant id.
pub fn registration(path_tenant: &str, r: &Registration) -> Result<(), String> {
    if !r.tenant_id.eq_ignore_ascii_case(path_tenant) {
        return Err("tenantId differs from the path's".into());
    }
    match (r.mode, r.direction) {
        (Mode::Inline, None) => return Err("direction is required in Inline mode".into()),
        (Mode::Api, Some(_)) => return Err("direction is for Inline mode only".into()),
        _ => {}
    }
    list(
        "verifiedDomains",
        &r.verified_domains,
        MAX_REGISTRATION_ITEMS,
        MAX_NAME,
    )?;
    list("policies", &r.policies, MAX_REGISTRATION_ITEMS, MAX_NAME)
}

/// Checks a delivery's form and bounds.
pub fn delivery(d: &Delivery) -> Result<(), String> {
    if d.sequence == 0 {
        return Err("sequence starts at 1".into());
    }
    match &d.body {
        Body::SnapshotBegin { snapshot_id } | Body::SnapshotEnd { snapshot_id, .. } => {
            text("snapshotId", snapshot_id, MAX_ID)
        }
        Body::SnapshotPage {
            snapshot_id,
            users: u,
            groups: g,
        } => {
            text("snapshotId", snapshot_id, MAX_ID)?;
            users("users", u)?;
            groups("groups", g)
        }
        Body::Changes {
            users: u,
            removed_users,
            groups: g,
            removed_groups,
        } => {
            users("users", u)?;
            list("removedUsers", removed_users, MAX_ITEMS, MAX_ID)?;
            groups("groups", g)?;
            list("removedGroups", removed_groups, MAX_ITEMS, MAX_ID)
        }
        Body::ProtectedSet {
            added,
            removed,
            replace,
        } => {
            if *replace && !removed.is_empty() {
                return Err("removed must be empty with replace".into());
            }
            list("added", added, MAX_PROTECTED_ITEMS, MAX_ID)?;
            list("removed", removed, MAX_PROTECTED_ITEMS, MAX_ID)
        }
        Body::TokenHealth { since, reason, .. } => {
            if since.parse::<jiff::Timestamp>().is_err() {
                return Err("since must be an RFC 3339 time".into());
            }
            match reason {
                Some(r) => text("reason", r, MAX_NAME),
                None => Ok(()),
            }
        }
        Body::MailboxCatchUp {
            user_ids, since, ..
        } => {
            if user_ids.is_empty() || user_ids.len() > MAX_CATCH_UP_USERS {
                return Err(format!(
                    "userIds holds 1 to {MAX_CATCH_UP_USERS} ids, not {}",
                    user_ids.len()
                ));
            }
            let mut seen = std::collections::BTreeSet::new();
            for id in user_ids {
                if !is_guid(id) {
                    return Err("userIds[] must be GUIDs".into());
                }
                if !seen.insert(id.to_ascii_lowercase()) {
                    return Err(format!("userIds holds {id} more than once"));
                }
            }
            if since.parse::<jiff::Timestamp>().is_err() {
                return Err("since must be an RFC 3339 time".into());
            }
            Ok(())
        }
    }
}

fn users(field: &str, users: &[User]) -> Result<(), String> {
    if users.len() > MAX_ITEMS {
        return Err(format!("{field} holds more than {MAX_ITEMS} entries"));
    }
    for u in users {
        text(&format!("{field}[].id"), &u.id, MAX_ID)?;
        text(
            &format!("{field}[].userPrincipalName"),
            &u.user_principal_name,
            MAX_NAME,
        )?;
        optional(&format!("{field}[].mail"), u.mail.as_deref())?;
        optional(&format!("{field}[].displayName"), u.display_name.as_deref())?;
    }
    Ok(())
}

fn groups(field: &str, groups: &[Group]) -> Result<(), String> {
    if groups.len() > MAX_ITEMS {
        return Err(format!("{field} holds more than {MAX_ITEMS} entries"));
    }
    for g in groups {
        text(&format!("{field}[].id"), &g.id, MAX_ID)?;
        optional(&format!("{field}[].displayName"), g.display_name.as_deref())?;
        list(
            &format!("{field}[].members"),
            &g.members,
            MAX_MEMBERS,
            MAX_ID,
        )?;
    }
    Ok(())
}

fn list(field: &str, items: &[String], max_items: usize, max_len: usize) -> Result<(), String> {
    if items.len() > max_items {
        return Err(format!("{field} holds more than {max_items} entries"));
    }
    items.iter().try_for_each(|i| text(field, i, max_len))
}

fn optional(field: &str, value: Option<&str>) -> Result<(), String> {
    match value {
        Some(v) if v.chars().count() > MAX_NAME => {
            Err(format!("{field} is longer than {MAX_NAME} characters"))
        }
        _ => Ok(()),
    }
}

fn text(field: &str, value: &str, max: usize) -> Result<(), String> {
    if value.is_empty() {
        Err(format!("{field} is empty"))
    } else if value.chars().count() > max {
        Err(format!("{field} is longer than {max} characters"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(v: serde_json::Value) -> Result<(), String> {
        let d: Delivery = serde_json::from_value(v).map_err(|e| e.to_string())?;
        delivery(&d)
    }

    #[test]
    fn guids() {
        assert!(is_guid("5b1c6e8a-2f4d-4a7b-9c3e-1d2f3a4b5c6d"));
        assert!(is_guid("5B1C6E8A-2F4D-4A7B-9C3E-1D2F3A4B5C6D"));
        assert!(!is_guid("contoso.onmicrosoft.com"));
        assert!(!is_guid("5b1c6e8a2f4d4a7b9c3e1d2f3a4b5c6d"));
        assert!(!is_guid("5b1c6e8a-2f4d-4a7b-9c3e-1d2f3a4b5c6g"));
    }

    #[test]
    fn deliveries_as_a_table() {
        let long = "x".repeat(MAX_ID + 1);
        let cases = [
            (
                json!({"sequence": 1, "type": "snapshotBegin", "snapshotId": "s1"}),
                true,
            ),
            (
                json!({"sequence": 0, "type": "snapshotBegin", "snapshotId": "s1"}),
                false,
            ),
            (
                json!({"sequence": 1, "type": "snapshotBegin", "snapshotId": ""}),
                false,
            ),
            (
                json!({"sequence": 1, "type": "snapshotBegin", "snapshotId": long}),
                false,
            ),
            (json!({"sequence": 1, "type": "snapshotBegin"}), false),
            (json!({"sequence": 1, "type": "nonsense"}), false),
            (
                json!({"sequence": 1, "type": "snapshotPage", "snapshotId": "s",
                "users": [{"id": "u", "userPrincipalName": "a@b"}], "future": 1}),
                true,
            ),
            (
                json!({"sequence": 1, "type": "snapshotPage", "snapshotId": "s",
                "users": [{"id": "u"}]}),
                false,
            ),
            (
                json!({"sequence": 1, "type": "changes", "removedUsers": [""]}),
                false,
            ),
            (
                json!({"sequence": 1, "type": "protectedSet", "added": ["a"], "replace": true}),
                true,
            ),
            (
                json!({"sequence": 1, "type": "protectedSet", "removed": ["a"], "replace": true}),
                false,
            ),
            (
                json!({"sequence": 1, "type": "tokenHealth", "state": "Valid", "since": "2025-01-01T00:00:00Z"}),
                true,
            ),
            (
                json!({"sequence": 1, "type": "tokenHealth", "state": "Valid", "since": "yesterday"}),
                false,
            ),
            (
                json!({"sequence": 1, "type": "tokenHealth", "state": "Sad", "since": "2025-01-01T00:00:00Z"}),
                false,
            ),
            (
                json!({"sequence": 1, "type": "mailboxCatchUp", "userIds": [U1, U2.to_uppercase()],
                "since": "2025-01-01T00:00:00Z", "reason": "Missed", "future": true}),
                true,
            ),
            (
                json!({"sequence": 1, "type": "mailboxCatchUp", "userIds": [U1],
                "since": "2025-01-01T00:00:00+02:00", "reason": "SubscriptionRecreated"}),
                true,
            ),
            (
                json!({"sequence": 1, "type": "mailboxCatchUp", "userIds": [],
                "since": "2025-01-01T00:00:00Z", "reason": "Missed"}),
                false,
            ),
            (
                json!({"sequence": 1, "type": "mailboxCatchUp", "userIds": [U1, U1.to_uppercase()],
                "since": "2025-01-01T00:00:00Z", "reason": "Missed"}),
                false,
            ),
            (
                json!({"sequence": 1, "type": "mailboxCatchUp", "userIds": ["alice"],
                "since": "2025-01-01T00:00:00Z", "reason": "Missed"}),
                false,
            ),
            (
                json!({"sequence": 1, "type": "mailboxCatchUp", "userIds": [U1],
                "since": "last week", "reason": "Missed"}),
                false,
            ),
            (
                json!({"sequence": 1, "type": "mailboxCatchUp", "userIds": [U1],
                "since": "2025-01-01T00:00:00Z", "reason": "Bored"}),
                false,
            ),
            (
                json!({"sequence": 1, "type": "mailboxCatchUp", "userIds": [U1], "reason": "Missed"}),
                false,
            ),
        ];
        for (v, ok) in cases {
            assert_eq!(check(v.clone()).is_ok(), ok, "{v}");
        }
        let many: Vec<_> = (0..=MAX_ITEMS)
            .map(|i| json!({"id": i.to_string(), "userPrincipalName": "u@x"}))
            .collect();
        assert!(check(json!({"sequence": 1, "type": "changes", "users": many})).is_err());
        let guids: Vec<String> = (0..=MAX_CATCH_UP_USERS)
            .map(|i| format!("00000000-0000-4000-8000-{i:012}"))
            .collect();
        let catch_up = |ids: &[String]| {
            json!({"sequence": 1, "type": "mailboxCatchUp", "userIds": ids,
                "since": "2025-01-01T00:00:00Z", "reason": "Missed"})
        };
        assert!(check(catch_up(&guids[..MAX_CATCH_UP_USERS])).is_ok());
        assert!(check(catch_up(&guids)).is_err());
    }

    const U1: &str = "7d3e9f4a-1b2c-4d5e-8f6a-0b1c2d3e4f5a";
    const U2: &str = "8e4f0a5b-2c3d-4e6f-9a7b-1c2d3e4f5a6b";

    #[test]
    fn registrations() {
        let base = |v: serde_json::Value| -> Registration { serde_json::from_value(v).unwrap() };
        let tenant = "5b1c6e8a-2f4d-4a7b-9c3e-1d2f3a4b5c6d";
        let api =
            base(json!({"tenantId": tenant, "cloud": "Global", "mode": "Api", "scope": "All"}));
        assert!(registration(tenant, &api).is_ok());
        assert!(registration(&tenant.to_uppercase(), &api).is_ok());
        assert!(registration("00000000-0000-4000-8000-000000000000", &api).is_err());
        let inline =
            base(json!({"tenantId": tenant, "cloud": "Global", "mode": "Inline", "scope": "All"}));
        assert_eq!(
            registration(tenant, &inline).unwrap_err(),
            "direction is required in Inline mode"
        );
        let api_dir = base(
            json!({"tenantId": tenant, "cloud": "Global", "mode": "Api", "scope": "All", "direction": "Inbound"}),
        );
        assert!(registration(tenant, &api_dir).is_err());
    }
}
