//! Application registrations: expire or rotate secrets, disable or enable the app.

use std::sync::Arc;

use axum::extract::{Path, State};
use serde_json::json;

use super::{Reply, app, done, not_found};
use crate::Sim;
use crate::state::Secret;
use exo_sim_http::ids::opaque_token;

/// How long a rotated secret is valid.
const ROTATED_SECRET_LIFETIME: jiff::SignedDuration = jiff::SignedDuration::from_hours(24 * 365);

/// `POST /_sim/apps/{client}/secrets/expire`: every secret expired a second ago.
pub(super) async fn expire_secrets(
    State(sim): State<Arc<Sim>>,
    Path(client): Path<String>,
) -> Reply {
    let mut w = sim.world.lock().unwrap();
    let past = w.now() - jiff::SignedDuration::from_secs(1);
    let app = app(&mut w, &client)?;
    for s in app.secrets.iter_mut() {
        s.expires = Some(past);
    }
    done(json!({"expired": app.secrets.len()}))
}

/// `POST /_sim/apps/{client}/secrets/rotate`: a new secret, valid for a year.
pub(super) async fn rotate_secret(
    State(sim): State<Arc<Sim>>,
    Path(client): Path<String>,
) -> Reply {
    let mut w = sim.world.lock().unwrap();
    let expires = w.now() + ROTATED_SECRET_LIFETIME;
    let app = app(&mut w, &client)?;
    let value = format!("sim~{}", opaque_token(30).expect("system randomness"));
    app.secrets.push(Secret {
        value: value.clone(),
        expires: Some(expires),
    });
    done(json!({"value": value}))
}

/// `POST /_sim/apps/{client}/{disable|enable}`.
pub(super) async fn app_action(
    State(sim): State<Arc<Sim>>,
    Path((client, action)): Path<(String, String)>,
) -> Reply {
    let mut w = sim.world.lock().unwrap();
    let app = app(&mut w, &client)?;
    match action.as_str() {
        "disable" => app.enabled = false,
        "enable" => app.enabled = true,
        _ => return Err(not_found("action")),
    }
    done(json!({"enabled": app.enabled}))
}
