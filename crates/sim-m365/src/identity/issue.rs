//! Issuing tokens: signed access tokens (app-only with the granted roles and directory roles,
//! or delegated with scopes), refresh tokens, and the token endpoint's success body.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::resource_scope;
use super::token::TokenRequest;
use crate::ids::{GLOBAL_ADMINISTRATOR, permission, permission_name};
use crate::state::{App, RefreshToken, Tenant};
use exo_sim_http::ids::opaque_token;

impl TokenRequest<'_> {
    /// Signs an access token for `resource` (application `resource_app`): app-only, or for the
    /// signed-in `user`. Returns the token and its lifetime in seconds.
    pub(super) fn access_token(
        &self,
        resource: &str,
        resource_app: &str,
        user: Option<&str>,
    ) -> (String, i64) {
        let now = self.world.now();
        let lifetime = self.world.token_lifetime.as_secs();
        let (tenant, app) = (&self.tenant, &self.app);
        let mut claims = json!({
            "aud": resource.trim_end_matches('/'),
            "iss": format!("https://sts.windows.net/{}/", tenant.id),
            "iat": now.as_second(),
            "nbf": now.as_second(),
            "exp": now.as_second() + lifetime,
            "tid": tenant.id,
            "appid": app.client_id,
            "azp": app.client_id,
            "ver": "1.0",
            "uti": opaque_token(12).expect("system randomness"),
        });
        match user {
            None => app_claims(&mut claims, tenant, app, resource_app, now),
            Some(upn) => user_claims(&mut claims, tenant, app, resource_app, upn),
        }
        (self.call.sim.signer.sign(&claims), lifetime)
    }

    /// Issues a refresh token for `user` (its inactivity window starts now).
    pub(super) fn refresh_token(&mut self, user: &str) -> String {
        let token = format!("0.AS{}", opaque_token(48).expect("system randomness"));
        let expires = self.world.now() + self.world.refresh_lifetime;
        let entry = RefreshToken {
            tenant: self.tenant.id.clone(),
            client_id: self.app.client_id.clone(),
            user: user.to_string(),
            expires,
            revoked: false,
        };
        self.world.refresh_tokens.insert(token.clone(), entry);
        token
    }

    /// The delegated tokens of a user grant: an access token for the resource of `scope` and a
    /// refresh token.
    pub(super) fn user_tokens(&mut self, scope: &str, user: &str) -> Result<Response, Response> {
        let (resource, resource_app) = resource_scope(scope)?;
        let (access, expires) = self.access_token(&resource, resource_app, Some(user));
        let refresh = self.refresh_token(user);
        Ok(token_response(access, expires, scope, Some(refresh)))
    }
}

/// App-only claims: the service principal, its app roles on the resource (`roles`) and its
/// effective directory roles (`wids`).
fn app_claims(
    claims: &mut Value,
    tenant: &Tenant,
    app: &App,
    resource_app: &str,
    now: jiff::Timestamp,
) {
    let sp = tenant.sp(&app.client_id);
    claims["idtyp"] = json!("app");
    claims["oid"] = json!(sp.map(|s| s.id.clone()).unwrap_or_default());
    claims["sub"] = claims["oid"].clone();
    let roles: Vec<&str> = sp
        .map(|s| {
            s.grants
                .iter()
                .filter(|g| g.resource_app == resource_app)
                .filter_map(|g| permission_name(&g.role_id))
                .collect()
        })
        .unwrap_or_default();
    if !roles.is_empty() {
        claims["roles"] = json!(roles);
    }
    let wids = sp
        .map(|s| tenant.effective_roles(&s.id, now))
        .unwrap_or_default();
    if !wids.is_empty() {
        claims["wids"] = json!(wids);
    }
}

/// Delegated claims: the user, the app's configured permissions on the resource as `scp`, and
/// Global Administrator.
fn user_claims(claims: &mut Value, tenant: &Tenant, app: &App, resource_app: &str, upn: &str) {
    let u = tenant.find_user(upn);
    claims["idtyp"] = json!("user");
    claims["oid"] = json!(u.as_ref().map(|u| u.id.clone()).unwrap_or_default());
    claims["upn"] = json!(upn);
    claims["sub"] = json!(opaque_token(16).expect("system randomness"));
    let scopes: Vec<&str> = app
        .permissions
        .iter()
        .filter(|p| permission(p).is_some_and(|(r, _)| r == resource_app))
        .map(String::as_str)
        .collect();
    claims["scp"] = json!(scopes.join(" "));
    claims["wids"] = json!([GLOBAL_ADMINISTRATOR]);
}

/// The token endpoint's success body.
pub(super) fn token_response(
    access: String,
    expires_in: i64,
    scope: &str,
    refresh: Option<String>,
) -> Response {
    let mut body = json!({
        "token_type": "Bearer",
        "scope": scope,
        "expires_in": expires_in,
        "ext_expires_in": expires_in,
        "access_token": access,
    });
    if let Some(r) = refresh {
        body["refresh_token"] = json!(r);
    }
    (
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(body),
    )
        .into_response()
}
