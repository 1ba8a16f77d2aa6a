//! `POST /{tenant}/oauth2/v2.0/token`: one function per grant type.

use std::sync::MutexGuard;

use axum::response::Response;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::authority::{Authority, consumers_refused, no_tenant_for_app_only};
use super::client_auth::authenticate;
use super::{TenantCall, app_not_found, enabled_app, resource_scope, tenant_not_found};
use crate::errors::{aad, aad_sub};
use crate::state::{App, Tenant, World};

/// A token request whose tenant and (enabled) application are known.
pub(super) struct TokenRequest<'a> {
    pub call: &'a TenantCall,
    pub world: MutexGuard<'a, World>,
    pub tenant: Tenant,
    pub app: App,
    /// The `scope` parameter (empty when absent).
    pub scope: String,
    pub now: jiff::Timestamp,
    /// How the client authenticated (`appidacr`): `0` public, `1` secret, `2` certificate.
    pub client_acr: &'static str,
}

/// The tenant of a grant asked for through `common` or `organizations`: the one its device
/// code, refresh token or authorization code was issued in. App-only tokens need a tenant
/// (AADSTS50059); an unknown grant gets the answer a tenant's endpoint would give.
fn grant_tenant(world: &mut World, call: &TenantCall) -> Result<Tenant, Response> {
    let tenant_id = match call.param("grant_type").as_str() {
        "client_credentials" => return Err(no_tenant_for_app_only()),
        DEVICE_CODE_GRANT => {
            let code = call.param("device_code");
            let tenant = world
                .device_codes
                .iter()
                .find(|d| d.device_code == code)
                .map(|d| d.tenant.clone())
                .unwrap_or_default();
            if tenant.is_empty() {
                // Not approved yet (approval names the tenant): pending, declined or expired.
                let now = world.now();
                super::device_code::poll(world, &code, now)?;
            }
            tenant
        }
        "refresh_token" => world
            .refresh_tokens
            .get(&call.param("refresh_token"))
            .map(|r| r.tenant.clone())
            .ok_or_else(unknown_refresh_token)?,
        "authorization_code" => world
            .auth_codes
            .get(&call.param("code"))
            .map(|c| c.tenant.clone())
            .ok_or_else(unknown_code)?,
        _ => return Err(no_tenant_for_app_only()),
    };
    world
        .tenant(&tenant_id)
        .cloned()
        .ok_or_else(|| tenant_not_found(&tenant_id))
}

/// The device-code grant type.
const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// `POST /{tenant}/oauth2/v2.0/token`.
pub(super) async fn token(call: TenantCall) -> Result<Response, Response> {
    let (mut world, authority) = call.open()?;
    let Some(client_id) = call.client_id() else {
        return Err(aad(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        ));
    };
    let app = enabled_app(&world, &client_id, &call.tenant_name)?;
    let tenant = match authority {
        Authority::Tenant(t) => *t,
        Authority::Consumers => return Err(consumers_refused(&app)),
        Authority::Organizations => grant_tenant(&mut world, &call)?,
    };
    let mut request = TokenRequest {
        call: &call,
        scope: call.param("scope"),
        now: world.now(),
        world,
        tenant,
        app,
        client_acr: "0",
    };
    match call.param("grant_type").as_str() {
        "client_credentials" => client_credentials(&mut request),
        DEVICE_CODE_GRANT => super::device_code::redeem(&mut request),
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
        self.client_acr = authenticate(
            &mut self.world,
            &self.app,
            self.call,
            &self.tenant,
            confidential,
        )?;
        Ok(())
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

/// A refresh token the identity platform never issued.
fn unknown_refresh_token() -> Response {
    invalid_grant(9002313, "Invalid request. Request is malformed or invalid.")
}

/// An authorization code the identity platform never issued, or an expired one.
fn unknown_code() -> Response {
    invalid_grant(
        70008,
        "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
    )
}

/// The refresh-token grant: the token must be this client's in this tenant, unrevoked and
/// unexpired, and the tenant must still consent.
fn refresh_token(request: &mut TokenRequest) -> Result<Response, Response> {
    request.authenticate(false)?;
    let token = request.param("refresh_token");
    let Some(entry) = request.world.refresh_tokens.get(&token).cloned() else {
        return Err(unknown_refresh_token());
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
    request.user_tokens(&scope, &entry.user, "")
}

/// The authorization-code grant: the code must have been issued to this client in this tenant,
/// for this redirect URI (when one is sent), with the PKCE verifier of its challenge; it is
/// redeemed once (AADSTS54005 after) and expires after about ten minutes.
fn authorization_code(request: &mut TokenRequest) -> Result<Response, Response> {
    request.authenticate(false)?;
    let now = request.now;
    let Some(code) = request
        .world
        .auth_codes
        .get_mut(&request.call.param("code"))
    else {
        return Err(unknown_code());
    };
    if code.redeemed {
        return Err(invalid_grant(
            54005,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
        ));
    }
    if code.expires <= now {
        return Err(unknown_code());
    }
    let params = &request.call.params;
    if code.tenant != request.tenant.id
        || !code.client_id.eq_ignore_ascii_case(&request.app.client_id)
        || params
            .get("redirect_uri")
            .is_some_and(|r| *r != code.redirect_uri)
    {
        return Err(invalid_grant(
            70000,
            "Provided grant is invalid or malformed.",
        ));
    }
    let verifier = params.get("code_verifier").map_or("", String::as_str);
    if !pkce_verifies(&code.code_challenge, &code.code_challenge_method, verifier) {
        return Err(invalid_grant(
            501481,
            "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
        ));
    }
    code.redeemed = true;
    let code = code.clone();
    let scope = if request.scope.is_empty() {
        code.scope.clone()
    } else {
        request.scope.clone()
    };
    request.user_tokens(&scope, &code.user, &code.nonce)
}

/// Whether `verifier` answers the PKCE `challenge` (RFC 7636: `S256` is the base64url SHA-256
/// of the verifier, `plain` the verifier itself); no challenge needs no verifier.
fn pkce_verifies(challenge: &str, method: &str, verifier: &str) -> bool {
    if challenge.is_empty() {
        return true;
    }
    match method {
        "S256" => {
            let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
            URL_SAFE_NO_PAD.encode(digest.as_ref()) == challenge
        }
        "plain" => verifier == challenge,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::pkce_verifies;

    #[test]
    fn pkce_verifiers_answer_their_challenge() {
        // RFC 7636, appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_verifies(challenge, "S256", verifier));
        assert!(!pkce_verifies(challenge, "S256", "another-verifier"));
        assert!(!pkce_verifies(challenge, "S256", ""));
        assert!(pkce_verifies("abc", "plain", "abc"));
        assert!(!pkce_verifies("abc", "RS256", "abc"));
        assert!(pkce_verifies("", "plain", ""));
    }
}
