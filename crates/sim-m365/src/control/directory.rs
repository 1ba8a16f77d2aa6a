//! Directory changes behind the APIs' backs (journaled, so delta queries see them): add or
//! remove users and group members; and Exchange objects set or deleted out of band.

use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Reply, Route, done, not_found, refuse};
use crate::state::User;
use exo_sim_http::ids::uuid_v4;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct NewUser {
    upn: String,
    #[serde(default)]
    display_name: Option<String>,
    /// Whether the user has a mailbox (default true).
    #[serde(default)]
    mailbox: Option<bool>,
}

/// `POST /_sim/tenants/{tenant}/users` `{"upn", "displayName"?, "mailbox"?}`: 409 if the UPN
/// exists.
pub(super) async fn add_user(route: Route, axum::Json(u): axum::Json<NewUser>) -> Reply {
    let mut held = route.tenant()?;
    let seq = held.world.next_seq();
    let now = held.world.now();
    let t = held.tenant();
    if t.find_user(&u.upn).is_some() {
        return Err(refuse(StatusCode::CONFLICT, "user exists"));
    }
    let user = User {
        id: uuid_v4(),
        display_name: u.display_name.unwrap_or_else(|| u.upn.clone()),
        mail: u.upn.clone(),
        upn: u.upn,
        created: now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        enabled: true,
        mailbox: u.mailbox.unwrap_or(true),
    };
    let id = user.id.clone();
    t.users.push(user);
    t.journal(seq, "user", &id, None);
    done(json!({"id": id}))
}

/// What `PATCH /_sim/tenants/{tenant}/users/{upn}` changes (any other key is refused).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct UserChange {
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    account_enabled: Option<bool>,
    /// Whether the user has a mailbox.
    #[serde(default)]
    mailbox: Option<bool>,
}

/// `PATCH /_sim/tenants/{tenant}/users/{upn}`: an administrator changes a user (journaled, so
/// the next delta round reports it).
pub(super) async fn change_user(route: Route, axum::Json(c): axum::Json<UserChange>) -> Reply {
    let mut held = route.tenant()?;
    let seq = held.world.next_seq();
    let t = held.tenant();
    let upn = route.param("upn");
    let Some(user) = t.users.iter_mut().find(|u| u.upn.eq_ignore_ascii_case(upn)) else {
        return Err(not_found("user"));
    };
    if let Some(name) = c.display_name {
        user.display_name = name;
    }
    if let Some(enabled) = c.account_enabled {
        user.enabled = enabled;
    }
    if let Some(mailbox) = c.mailbox {
        user.mailbox = mailbox;
    }
    let id = user.id.clone();
    t.journal(seq, "user", &id, None);
    done(json!({"id": id}))
}

/// `DELETE /_sim/tenants/{tenant}/users/{upn}`: also leaves every group.
pub(super) async fn remove_user(route: Route) -> Reply {
    let mut held = route.tenant()?;
    let seq = held.world.next_seq();
    let t = held.tenant();
    let upn = route.param("upn");
    let Some(i) = t.users.iter().position(|u| u.upn.eq_ignore_ascii_case(upn)) else {
        return Err(not_found("user"));
    };
    let user = t.users.remove(i);
    t.deleted.insert(user.id.clone());
    t.journal(seq, "user", &user.id, None);
    let groups: Vec<String> = t
        .groups
        .iter()
        .filter(|g| g.members.contains(&user.id))
        .map(|g| g.id.clone())
        .collect();
    for g in t.groups.iter_mut() {
        g.members.retain(|m| *m != user.id);
    }
    for g in groups {
        t.journal(seq, "group", &g, Some((user.id.clone(), false)));
    }
    done(json!({"id": user.id}))
}

#[derive(Deserialize)]
pub(super) struct Member {
    upn: String,
}

/// `POST /_sim/tenants/{tenant}/groups/{group}/members`.
pub(super) async fn add_member(route: Route, axum::Json(m): axum::Json<Member>) -> Reply {
    change_member(&route, &m.upn, true)
}

/// `DELETE /_sim/tenants/{tenant}/groups/{group}/members/{upn}`.
pub(super) async fn remove_member(route: Route) -> Reply {
    change_member(&route, route.param("upn"), false)
}

/// Adds (`add`) or removes the user `upn` in the listed group the path names (`{group}`: id or
/// display name), and journals the change (an addition only if the user was not a member yet).
fn change_member(route: &Route, upn: &str, add: bool) -> Reply {
    let mut held = route.tenant()?;
    let seq = held.world.next_seq();
    let t = held.tenant();
    let key = route.param("group");
    let gi = t
        .groups
        .iter()
        .position(|g| g.id.eq_ignore_ascii_case(key) || g.display_name.eq_ignore_ascii_case(key))
        .ok_or_else(|| not_found("group"))?;
    let user = t.find_user(upn).ok_or_else(|| not_found("user"))?;
    let group = &mut t.groups[gi];
    let member = group.members.contains(&user.id);
    if add && !member {
        group.members.push(user.id.clone());
    } else if !add {
        group.members.retain(|m| *m != user.id);
    }
    let gid = group.id.clone();
    if !add || !member {
        t.journal(seq, "group", &gid, Some((user.id.clone(), add)));
    }
    done(json!({"member": user.id}))
}

/// `POST /_sim/tenants/{tenant}/exchange/{kind}/{name}`: merges the body's properties into the
/// object (created if absent).
pub(super) async fn set_exchange(route: Route, axum::Json(v): axum::Json<Value>) -> Reply {
    let mut held = route.tenant()?;
    let objects = held.tenant().exchange.entry(route.param("kind").into());
    let entry = objects
        .or_default()
        .entry(route.param("name").into())
        .or_insert_with(|| json!({}));
    if let (Some(e), Some(p)) = (entry.as_object_mut(), v.as_object()) {
        for (k, val) in p {
            e.insert(k.clone(), val.clone());
        }
    }
    done(entry.clone())
}

/// `DELETE /_sim/tenants/{tenant}/exchange/{kind}/{name}`.
pub(super) async fn delete_exchange(route: Route) -> Reply {
    let mut held = route.tenant()?;
    let name = route.param("name");
    let objects = held.tenant().exchange.get_mut(route.param("kind"));
    match objects.and_then(|o| o.remove(name)) {
        Some(_) => done(json!({"deleted": name})),
        None => Err(not_found("object")),
    }
}
