//! Interactive sign-in, simulated: `authorize` signs in `login_hint` and redirects with a code;
//! `adminconsent` has a Global Administrator consent (or refuse) for the organization.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::{TenantCall, app_not_found, tenant_not_found};
use crate::errors::aad;
use crate::state::{AuthorizationCode, grant_consent};
use crate::urlencoding;
use exo_sim_http::ids::opaque_token;

/// `GET /{tenant}/oauth2/v2.0/authorize`: a simulated sign-in of `login_hint` (a Global
/// Administrator of the tenant), redirecting with a code.
pub(super) async fn authorize(call: TenantCall) -> Response {
    let (mut world, tenant) = match call.open() {
        Ok(opened) => opened,
        Err(refusal) => return refusal,
    };
    let client_id = call.param("client_id");
    if world.app(&client_id).is_none() {
        return app_not_found(&client_id, &call.tenant_name);
    }
    let redirect = call.param("redirect_uri");
    let user = call.param("login_hint");
    if !tenant.admins.iter().any(|a| a.eq_ignore_ascii_case(&user))
        && tenant.find_user(&user).is_none()
    {
        return aad(
            400,
            "invalid_request",
            50034,
            &format!(
                "The user account {user} does not exist in the {} directory.",
                tenant.id
            ),
        );
    }
    let code = opaque_token(32).expect("system randomness");
    world.auth_codes.insert(
        code.clone(),
        AuthorizationCode {
            tenant: tenant.id.clone(),
            client_id,
            user,
            redirect_uri: redirect.clone(),
        },
    );
    let state = call.param("state");
    Redirect::to(&format!(
        "{redirect}?code={code}&state={}",
        urlencoding::encode(&state)
    ))
    .into_response()
}

/// `GET /{tenant}/adminconsent` and `/{tenant}/v2.0/adminconsent`: a Global Administrator
/// consents (add `sim_decision=deny` to simulate a refusal) and is redirected.
pub(super) async fn adminconsent(call: TenantCall) -> Response {
    let mut world = call.sim.world.lock().unwrap();
    let client_id = call.param("client_id");
    let Some(app) = world.app(&client_id).cloned() else {
        return aad(
            400,
            "unauthorized_client",
            700016,
            &format!("Application with identifier '{client_id}' was not found in the directory."),
        );
    };
    let Some(tenant) = world.tenant_mut(&call.tenant_name) else {
        return tenant_not_found(&call.tenant_name);
    };
    let redirect = call
        .params
        .get("redirect_uri")
        .cloned()
        .or(app.redirect_uris.first().cloned());
    let state = call.param("state");
    let denied = call.params.get("sim_decision").is_some_and(|d| d == "deny");
    if !denied {
        grant_consent(tenant, &app, &app.permissions);
    }
    let tid = tenant.id.clone();
    match redirect {
        Some(r) if denied => Redirect::to(&format!(
            "{r}?error=access_denied&error_description={}&state={}",
            urlencoding::encode("AADSTS65004: User declined to consent to access the app."),
            urlencoding::encode(&state)
        ))
        .into_response(),
        Some(r) => Redirect::to(&format!(
            "{r}?admin_consent=True&tenant={tid}&state={}&scope={}",
            urlencoding::encode(&state),
            urlencoding::encode("https://graph.microsoft.com/.default")
        ))
        .into_response(),
        None if denied => (
            StatusCode::OK,
            Html("<p>Consent declined (simulated).</p>".to_string()),
        )
            .into_response(),
        None => (
            StatusCode::OK,
            Html(format!(
                "<p>Admin consent granted to {} in tenant {tid} (simulated).</p>",
                app.display_name
            )),
        )
            .into_response(),
    }
}
