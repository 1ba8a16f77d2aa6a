//! `POST /{tenant}/oauth2/v2.0/token`: one function per grant type.

use std::sync::MutexGuard;

use axum::response::Response;

use super::client_auth::authenticate;
use super::{TenantCall, app_not_found, enabled_app, resource_scope};
use crate::errors::{aad, aad_sub};
use crate::state::{App, AuthorizationCode, Tenant, World};

/// A token request whose tenant and (enabled) application are known.
pub(super) struct TokenRequest<'a> {
    pub call: &'a TenantCall,
    pub world: MutexGuard<'a, World>,
    pub tenant: Tenant,
    pub app: App,
    /// The `scope` parameter (empty when absent).
    pub scope: String,
    pub now: jiff::Timestamp,
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub(super) async fn token(call: TenantCall) -> Result<Response, Response> {
    let (world, tenant) = call.open()?;
    let Some(client_id) = call.client_id() else {
        return Err(aad(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        ));
    };
    let app = enabled_app(&world, &client_id, &call.tenant_name)?;
    let mut request = TokenRequest {
        call: &call,
        scope: call.param("scope"),
        now: world.now(),
        world,
        tenant,
        app,
    };
    match call.param("grant_type").as_str() {
        "client_credentials" => client_credentials(&mut request),
        "urn:ietf:params:oauth:grant-type:device_code" => super::device_code::redeem(&mut request),
        "refresh_token" => refresh_token(&mut request),
        "authorization_code" => authorization_code(&mut request),
        "" => Err(aad(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
        )),
        other => Err(aad(
            400,
            "unsupported_grant_type",
            70003,
            &format!("The app requested an unsupported grant type '{other}'."),
        )),
    }
}

impl TokenRequest<'_> {
    /// Authenticates the client; `confidential` clients must show a credential.
    pub(super) fn authenticate(&mut self, confidential: bool) -> Result<(), Response> {
        authenticate(
            &mut self.world,
            &self.app,
            &self.call.params,
            &self.call.headers,
            &self.tenant,
            confidential,
        )
    }

    /// A form parameter (empty when absent).
    pub(super) fn param(&self, name: &str) -> String {
        self.call.param(name)
    }
}

/// The client-credentials grant: an app-only token for `<resource>/.default`, once the tenant
/// has consented.
fn client_credentials(request: &mut TokenRequest) -> Result<Response, Response> {
    request.authenticate(true)?;
    let scope = request.scope.clone();
    let (resource, resource_app) = resource_scope(&scope)?;
    if !scope.split_whitespace().any(|s| s.ends_with("/.default")) {
        return Err(aad(
            400,
            "invalid_scope",
            1002012,
            &format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        ));
    }
    if request.tenant.sp(&request.app.client_id).is_none() {
        return Err(app_not_found(
            &request.app.client_id,
            &request.call.tenant_name,
        ));
    }
    let (access, expires) = request.access_token(&resource, resource_app, None);
    Ok(super::issue::token_response(
        access,
        expires,
        &format!("{resource}/.default"),
        None,
    ))
}

fn invalid_grant(code: u64, description: &str) -> Response {
    aad(400, "invalid_grant", code, description)
}

/// The refresh-token grant: the token must be this client's in this tenant, unrevoked and
/// unexpired, and the tenant must still consent.
fn refresh_token(request: &mut TokenRequest) -> Result<Response, Response> {
    request.authenticate(false)?;
    let token = request.param("refresh_token");
    let Some(entry) = request.world.refresh_tokens.get(&token).cloned() else {
        return Err(invalid_grant(
            9002313,
            "Invalid request. Request is malformed or invalid.",
        ));
    };
    let app = &request.app;
    if !entry.client_id.eq_ignore_ascii_case(&app.client_id) || entry.tenant != request.tenant.id {
        return Err(invalid_grant(
            70000,
            "Provided grant is invalid or malformed.",
        ));
    }
    if entry.revoked {
        return Err(invalid_grant(
            50173,
            "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on and the TokensValidFrom date for this user is later.",
        ));
    }
    if entry.expires <= request.now {
        return Err(invalid_grant(
            700082,
            "The refresh token has expired due to inactivity. The token was issued and was inactive for 90.00:00:00.",
        ));
    }
    if request.tenant.sp(&app.client_id).is_none() {
        return Err(aad_sub(
            400,
            "invalid_grant",
            65001,
            "consent_required",
            &format!(
                "The user or administrator has not consented to use the application with ID '{}'. Send an interactive authorization request for this user and resource.",
                app.client_id
            ),
        ));
    }
    let scope = request.scope.clone();
    request.user_tokens(&scope, &entry.user)
}

/// The authorization-code grant: the code must have been issued to this client in this tenant
/// (and for this redirect URI, when one is sent); it is used once.
fn authorization_code(request: &mut TokenRequest) -> Result<Response, Response> {
    request.authenticate(false)?;
    let code = request.param("code");
    let Some(code) = request.world.auth_codes.remove(&code) else {
        return Err(invalid_grant(
            70008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
        ));
    };
    let AuthorizationCode {
        tenant,
        client_id,
        user,
        redirect_uri,
    } = code;
    if tenant != request.tenant.id
        || !client_id.eq_ignore_ascii_case(&request.app.client_id)
        || request
            .call
            .params
            .get("redirect_uri")
            .is_some_and(|r| *r != redirect_uri)
    {
        return Err(invalid_grant(
            70000,
            "Provided grant is invalid or malformed.",
        ));
    }
    let scope = request.scope.clone();
    request.user_tokens(&scope, &user)
}
