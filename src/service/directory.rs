//! The tenant's directory as the service receives it, from Graph's users (delta pages
//! included): upserts with id, user principal name, mail, display name and enabled state, and
//! the ids of users Graph reports `@removed`.

use super::protocol::User;
use crate::microsoft::graph::models::User as GraphUser;

/// A page of Graph users as the service receives it: the users to upsert and the ids of those
/// removed. A user without a user principal name (not selected, or a guest being created) is
/// left out.
pub fn changes_of(page: &[GraphUser]) -> (Vec<User>, Vec<String>) {
    let mut upserts = Vec::new();
    let mut removed = Vec::new();
    for u in page {
        if u.removed.is_some() {
            removed.push(u.id.clone());
            continue;
        }
        let Some(upn) = &u.user_principal_name else {
            continue;
        };
        upserts.push(User {
            id: u.id.clone(),
            user_principal_name: upn.clone(),
            mail: u.mail.clone(),
            display_name: u.display_name.clone(),
            // Graph leaves it out when unchanged in a delta page; enabled is the default.
            account_enabled: u.account_enabled.unwrap_or(true),
        });
    }
    (upserts, removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn graph_users_become_upserts_or_removals() {
        let page: Vec<GraphUser> = serde_json::from_value(json!([
            {"id": "1", "userPrincipalName": "ada@contoso.com", "mail": "ada@contoso.com",
             "displayName": "Ada", "accountEnabled": false},
            {"id": "2", "userPrincipalName": "bob@contoso.com"},
            {"id": "3", "@removed": {"reason": "changed"}},
            {"id": "4", "displayName": "no upn selected"},
        ]))
        .unwrap();
        let (upserts, removed) = changes_of(&page);
        assert_eq!(removed, ["3"]);
        assert_eq!(
            serde_json::to_value(&upserts).unwrap(),
            json!([
                {"id": "1", "userPrincipalName": "ada@contoso.com", "mail": "ada@contoso.com",
                 "displayName": "Ada", "accountEnabled": false},
                {"id": "2", "userPrincipalName": "bob@contoso.com", "mail": null,
                 "displayName": null, "accountEnabled": true},
            ])
        );
    }
}
