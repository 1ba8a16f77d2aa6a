//! The device-code flow: `POST /{tenant}/oauth2/v2.0/devicecode` starts a prompt, the
//! simulated sign-in page explains how to answer it (the control API approves or declines), and
//! the token endpoint's device-code grant polls it.

use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use super::authority::{Authority, consumers_refused};
use super::token::TokenRequest;
use super::{TenantCall, enabled_app, resource_scope};
use crate::errors::aad;
use crate::random::user_code;
use crate::state::{DeviceCode, World};
use exo_sim_http::ids::opaque_token;

/// How long a device code is valid.
const DEVICE_CODE_LIFETIME: jiff::SignedDuration = jiff::SignedDuration::from_mins(15);

/// `POST /{tenant}/oauth2/v2.0/devicecode`; through `common` or `organizations` the prompt's
/// tenant is the one of the user who approves it.
pub(super) async fn devicecode(call: TenantCall) -> Result<Response, Response> {
    let (mut world, authority) = call.open()?;
    let client_id = call.client_id().unwrap_or_default();
    let app = enabled_app(&world, &client_id, &call.tenant_name)?;
    let tenant = match authority {
        Authority::Tenant(t) => t.id,
        Authority::Organizations => String::new(),
        Authority::Consumers => return Err(consumers_refused(&app)),
    };
    let scope = call.param("scope");
    resource_scope(&scope)?;
    let code = user_code();
    let device_code = format!(
        "DAQABIQEAAAD{}",
        opaque_token(64).expect("system randomness")
    );
    let interval = world.device_interval;
    let expires = world.now() + DEVICE_CODE_LIFETIME;
    world.device_codes.push(DeviceCode {
        device_code: device_code.clone(),
        user_code: code.clone(),
        tenant,
        client_id: app.client_id.clone(),
        scope,
        expires,
        interval,
        last_poll: None,
        state: "pending".into(),
    });
    let uri = format!("{}/devicelogin", call.sim.base_url);
    Ok(axum::Json(json!({
        "user_code": code,
        "device_code": device_code,
        "verification_uri": uri,
        "expires_in": DEVICE_CODE_LIFETIME.as_secs(),
        "interval": interval,
        "message": format!("To sign in, use a web browser to open the page {uri} and enter the code {code} to authenticate."),
    }))
    .into_response())
}

/// `GET /devicelogin`: the simulated sign-in page.
pub(super) async fn devicelogin() -> Html<&'static str> {
    Html(
        "<!doctype html><title>Device login (simulated)</title><p>This is the Microsoft 365 simulator. Approve a code with <code>POST /_sim/devicecodes/{code}/approve</code>.</p>",
    )
}

/// The device-code grant: pending (or polled too soon), declined, expired, already redeemed,
/// or approved, which redeems the code for the approving user's tokens.
pub(super) fn redeem(request: &mut TokenRequest) -> Result<Response, Response> {
    request.authenticate(false)?;
    let now = request.now;
    let code = request.param("device_code");
    let (upn, scope) = poll(&mut request.world, &code, now)?;
    request.user_tokens(&scope, &upn, "")
}

/// One poll of `code` at `now`: the approving user and the prompt's scope once approved (the
/// code is then redeemed), else the error to answer.
pub(super) fn poll(
    world: &mut World,
    code: &str,
    now: jiff::Timestamp,
) -> Result<(String, String), Response> {
    let Some(dc) = world
        .device_codes
        .iter_mut()
        .find(|d| d.device_code == code)
    else {
        return Err(aad(
            400,
            "bad_verification_code",
            70019,
            "Verification code expired or unknown.",
        ));
    };
    let too_soon = dc
        .last_poll
        .is_some_and(|last| now.duration_since(last).as_secs() < dc.interval as i64);
    dc.last_poll = Some(now);
    if dc.expires <= now || dc.state == "expired" {
        return Err(aad(
            400,
            "expired_token",
            70020,
            "The provided authorization code or refresh token has expired due to it being past its expiration date. Send a new interactive authorization request for this user and resource.",
        ));
    }
    let upn = match dc.state.as_str() {
        "pending" if too_soon => Err(aad(
            400,
            "slow_down",
            70016,
            "OAuth 2.0 device flow error. Authorization is pending and polling is too frequent; slow down.",
        )),
        "pending" => Err(aad(
            400,
            "authorization_pending",
            70016,
            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
        )),
        "declined" => Err(aad(
            400,
            "authorization_declined",
            70000,
            "The user declined the authorization request.",
        )),
        "redeemed" => Err(aad(
            400,
            "invalid_grant",
            54005,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
        )),
        approved => Ok(approved.strip_prefix("approved:").unwrap_or("").to_string()),
    }?;
    dc.state = "redeemed".into();
    Ok((upn, dc.scope.clone()))
}
