//! Interactive sign-in, simulated: `authorize` signs in `login_hint` and redirects with a code;
//! `adminconsent` has a Global Administrator consent (or refuse) for the organization. Both
//! redirect only to a redirect URI registered on the application (AADSTS50011 otherwise).

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::authority::{Authority, consumers_refused, home_tenant};
use super::{TenantCall, app_not_found, tenant_not_found};
use crate::errors::aad;
use crate::state::{App, AuthorizationCode, grant_consent};
use crate::urlencoding;
use exo_sim_http::ids::opaque_token;

/// How long an authorization code may be redeemed.
const CODE_LIFETIME: jiff::SignedDuration = jiff::SignedDuration::from_mins(10);

/// `GET /{tenant}/oauth2/v2.0/authorize`: a simulated sign-in of `login_hint` (a Global
/// Administrator or a user of the tenant; through `common` or `organizations`, of the tenant of
/// its domain), redirecting to a registered redirect URI with a code.
pub(super) async fn authorize(call: TenantCall) -> Result<Response, Response> {
    let (mut world, authority) = call.open()?;
    let client_id = call.param("client_id");
    let Some(app) = world.app(&client_id).cloned() else {
        return Err(app_not_found(&client_id, &call.tenant_name));
    };
    let Some(redirect) = reply_address(&app, call.params.get("redirect_uri"))? else {
        return Err(aad(
            400,
            "invalid_request",
            900971,
            "No reply address provided.",
        ));
    };
    let user = call.param("login_hint");
    let tenant = match authority {
        Authority::Tenant(t) => *t,
        Authority::Organizations => home_tenant(&world, &user)
            .cloned()
            .ok_or_else(|| user_not_found(&user, "the"))?,
        Authority::Consumers => return Err(consumers_refused(&app)),
    };
    if !tenant.admins.iter().any(|a| a.eq_ignore_ascii_case(&user))
        && tenant.find_user(&user).is_none()
    {
        return Err(user_not_found(&user, &tenant.id));
    }
    let code = opaque_token(32).expect("system randomness");
    let expires = world.now() + CODE_LIFETIME;
    world.auth_codes.insert(
        code.clone(),
        AuthorizationCode {
            tenant: tenant.id.clone(),
            client_id: app.client_id.clone(),
            user,
            redirect_uri: redirect.clone(),
            scope: call.param("scope"),
            code_challenge: call.param("code_challenge"),
            code_challenge_method: call
                .params
                .get("code_challenge_method")
                .cloned()
                .unwrap_or_else(|| "plain".into()),
            nonce: call.param("nonce"),
            expires,
            redeemed: false,
        },
    );
    let state = call.param("state");
    Ok(Redirect::to(&with_query(
        &redirect,
        &format!("code={code}&state={}", urlencoding::encode(&state)),
    ))
    .into_response())
}

/// AADSTS50034: `user` is not in the directory `directory`.
fn user_not_found(user: &str, directory: &str) -> Response {
    aad(
        400,
        "invalid_request",
        50034,
        &format!("The user account {user} does not exist in the {directory} directory."),
    )
}

/// Where a sign-in or consent may redirect: the requested URI when it is registered on `app`,
/// else the first registered one when none is requested (`None` without any). An unregistered
/// URI is refused with AADSTS50011 and never redirected to (no open redirect).
pub(super) fn reply_address(
    app: &App,
    requested: Option<&String>,
) -> Result<Option<String>, Response> {
    match requested.filter(|r| !r.is_empty()) {
        None => Ok(app.redirect_uris.first().cloned()),
        Some(r) if app.redirect_uris.iter().any(|u| u == r) => Ok(Some(r.clone())),
        Some(r) => Err(aad(
            400,
            "invalid_request",
            50011,
            &format!(
                "The redirect URI '{r}' specified in the request does not match the redirect URIs configured for the application '{}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this.",
                app.client_id
            ),
        )),
    }
}

/// `uri` with `query` appended (after `?`, or `&` when it already has a query).
fn with_query(uri: &str, query: &str) -> String {
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{query}")
}

/// `GET /{tenant}/adminconsent` and `/{tenant}/v2.0/adminconsent`: a Global Administrator
/// consents (add `sim_decision=deny` to simulate a refusal) and is redirected to the registered
/// redirect URI it names (or the app's first; a page when the app has none).
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
    let redirect = match reply_address(&app, call.params.get("redirect_uri")) {
        Ok(redirect) => redirect,
        Err(refusal) => return refusal,
    };
    let state = call.param("state");
    let denied = call.params.get("sim_decision").is_some_and(|d| d == "deny");
    if !denied {
        grant_consent(tenant, &app, &app.permissions);
    }
    let tid = tenant.id.clone();
    match redirect {
        Some(r) if denied => Redirect::to(&with_query(
            &r,
            &format!(
                "error=access_denied&error_description={}&state={}",
                urlencoding::encode("AADSTS65004: User declined to consent to access the app."),
                urlencoding::encode(&state)
            ),
        ))
        .into_response(),
        Some(r) => Redirect::to(&with_query(
            &r,
            &format!(
                "admin_consent=True&tenant={tid}&state={}&scope={}",
                urlencoding::encode(&state),
                urlencoding::encode("https://graph.microsoft.com/.default")
            ),
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
