//! Application registrations: expire or rotate secrets, register redirect URIs, disable or
//! enable the app.

use serde::Deserialize;
use serde_json::json;

use super::{Reply, Route, app, done, not_found};
use crate::state::Secret;
use exo_sim_http::ids::opaque_token;

/// How long a rotated secret is valid.
const ROTATED_SECRET_LIFETIME: jiff::SignedDuration = jiff::SignedDuration::from_hours(24 * 365);

/// `POST /_sim/apps/{client}/secrets/expire`: every secret expired a second ago.
pub(super) async fn expire_secrets(route: Route) -> Reply {
    let mut w = route.world();
    let past = w.now() - jiff::SignedDuration::from_secs(1);
    let app = app(&mut w, route.param("client"))?;
    for s in app.secrets.iter_mut() {
        s.expires = Some(past);
    }
    done(json!({"expired": app.secrets.len()}))
}

/// `POST /_sim/apps/{client}/secrets/rotate`: a new secret, valid for a year.
pub(super) async fn rotate_secret(route: Route) -> Reply {
    let mut w = route.world();
    let expires = w.now() + ROTATED_SECRET_LIFETIME;
    let app = app(&mut w, route.param("client"))?;
    let value = format!("sim~{}", opaque_token(30).expect("system randomness"));
    app.secrets.push(Secret {
        value: value.clone(),
        expires: Some(expires),
    });
    done(json!({"value": value}))
}

/// `POST /_sim/apps/{client}/{disable|enable}`.
pub(super) async fn app_action(route: Route) -> Reply {
    let mut w = route.world();
    let app = app(&mut w, route.param("client"))?;
    match route.param("action") {
        "disable" => app.enabled = false,
        "enable" => app.enabled = true,
        _ => return Err(not_found("action")),
    }
    done(json!({"enabled": app.enabled}))
}

/// The body of `POST /_sim/apps/{client}/redirect-uris`.
#[derive(Deserialize)]
pub(super) struct RedirectUri {
    uri: String,
}

/// `POST /_sim/apps/{client}/redirect-uris` `{"uri": ...}`: registers a redirect URI (sign-in
/// and admin consent redirect only to registered ones); idempotent.
pub(super) async fn add_redirect_uri(
    route: Route,
    axum::Json(body): axum::Json<RedirectUri>,
) -> Reply {
    let mut w = route.world();
    let app = app(&mut w, route.param("client"))?;
    if !app.redirect_uris.contains(&body.uri) {
        app.redirect_uris.push(body.uri);
    }
    done(json!({"redirectUris": app.redirect_uris}))
}
