//! Directory changes behind the APIs' backs (journaled, so delta queries see them): add or
//! remove users and group members; and Exchange objects set or deleted out of band.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Reply, done, not_found, refuse, tenant};
use crate::Sim;
use crate::state::User;
use exo_sim_http::ids::uuid_v4;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct NewUser {
    upn: String,
    #[serde(default)]
    display_name: Option<String>,
}

/// `POST /_sim/tenants/{tenant}/users`: 409 if the UPN exists.
pub(super) async fn add_user(
    State(sim): State<Arc<Sim>>,
    Path(tenant_name): Path<String>,
    axum::Json(u): axum::Json<NewUser>,
) -> Reply {
    let mut w = sim.world.lock().unwrap();
    let seq = w.next_seq();
    let now = w.now();
    let t = tenant(&mut w, &tenant_name)?;
    if t.find_user(&u.upn).is_some() {
        return Err(refuse(StatusCode::CONFLICT, "user exists"));
    }
    let user = User {
        id: uuid_v4(),
        display_name: u.display_name.unwrap_or_else(|| u.upn.clone()),
        mail: u.upn.clone(),
        upn: u.upn,
        created: now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    };
    let id = user.id.clone();
    t.users.push(user);
    t.journal(seq, "user", &id, None);
    done(json!({"id": id}))
}

/// `DELETE /_sim/tenants/{tenant}/users/{upn}`: also leaves every group.
pub(super) async fn remove_user(
    State(sim): State<Arc<Sim>>,
    Path((tenant_name, upn)): Path<(String, String)>,
) -> Reply {
    let mut w = sim.world.lock().unwrap();
    let seq = w.next_seq();
    let t = tenant(&mut w, &tenant_name)?;
    let Some(i) = t
        .users
        .iter()
        .position(|u| u.upn.eq_ignore_ascii_case(&upn))
    else {
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
pub(super) async fn add_member(
    State(sim): State<Arc<Sim>>,
    Path((tenant_name, group)): Path<(String, String)>,
    axum::Json(m): axum::Json<Member>,
) -> Reply {
    change_member(&sim, &tenant_name, &group, &m.upn, true)
}

/// `DELETE /_sim/tenants/{tenant}/groups/{group}/members/{upn}`.
pub(super) async fn remove_member(
    State(sim): State<Arc<Sim>>,
    Path((tenant_name, group, upn)): Path<(String, String, String)>,
) -> Reply {
    change_member(&sim, &tenant_name, &group, &upn, false)
}

/// Adds (`add`) or removes the user `upn` in the listed group `key` (id or display name), and
/// journals the change (an addition only if the user was not a member yet).
fn change_member(sim: &Sim, tenant_name: &str, key: &str, upn: &str, add: bool) -> Reply {
    let mut w = sim.world.lock().unwrap();
    let seq = w.next_seq();
    let t = tenant(&mut w, tenant_name)?;
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
pub(super) async fn set_exchange(
    State(sim): State<Arc<Sim>>,
    Path((tenant_name, kind, name)): Path<(String, String, String)>,
    axum::Json(v): axum::Json<Value>,
) -> Reply {
    let mut w = sim.world.lock().unwrap();
    let t = tenant(&mut w, &tenant_name)?;
    let objects = t.exchange.entry(kind).or_default();
    let entry = objects.entry(name).or_insert_with(|| json!({}));
    if let (Some(e), Some(p)) = (entry.as_object_mut(), v.as_object()) {
        for (k, val) in p {
            e.insert(k.clone(), val.clone());
        }
    }
    done(entry.clone())
}

/// `DELETE /_sim/tenants/{tenant}/exchange/{kind}/{name}`.
pub(super) async fn delete_exchange(
    State(sim): State<Arc<Sim>>,
    Path((tenant_name, kind, name)): Path<(String, String, String)>,
) -> Reply {
    let mut w = sim.world.lock().unwrap();
    let t = tenant(&mut w, &tenant_name)?;
    match t.exchange.get_mut(&kind).and_then(|o| o.remove(&name)) {
        Some(_) => done(json!({"deleted": name})),
        None => Err(not_found("object")),
    }
}
