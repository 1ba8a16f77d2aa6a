//! Issuing tokens: signed access tokens (app-only with the granted roles and directory roles,
//! or delegated with scopes), refresh tokens, and the token endpoint's success body.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::resource_scope;
use super::token::TokenRequest;
use crate::ids::{GLOBAL_ADMINISTRATOR, access_token_version, permission, permission_name};
use crate::state::{App, RefreshToken, Tenant};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
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
            "iat": now.as_second(),
            "nbf": now.as_second(),
            "exp": now.as_second() + lifetime,
            "tid": tenant.id,
            "uti": opaque_token(12).expect("system randomness"),
        });
        let client = Client {
            id: &app.client_id,
            acr: self.client_acr,
        };
        let base = &self.call.sim.base_url;
        let version = access_token_version(resource_app);
        version_claims(&mut claims, version, &tenant.id, base, &client);
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

    /// The delegated tokens of a user grant: an access token for the resource of `scope`, a
    /// refresh token only when `offline_access` is asked for, an ID token (with the request's
    /// `nonce`, if any) when `openid` is, and `client_info` when the client asks for it
    /// (`client_info=1`, as MSAL does). The answered scope never lists `offline_access`.
    pub(super) fn user_tokens(
        &mut self,
        scope: &str,
        user: &str,
        nonce: &str,
    ) -> Result<Response, Response> {
        let (resource, resource_app) = resource_scope(scope)?;
        let (access, expires) = self.access_token(&resource, resource_app, Some(user));
        let asked = |name: &str| scope.split_whitespace().any(|s| s == name);
        let refresh = asked("offline_access").then(|| self.refresh_token(user));
        let granted: Vec<&str> = scope
            .split_whitespace()
            .filter(|s| *s != "offline_access")
            .collect();
        let mut response = token_body(access, expires, &granted.join(" "), refresh);
        let oid = user_object_id(&self.tenant, user);
        if asked("openid") {
            response["id_token"] = json!(self.id_token(user, &oid, nonce));
        }
        if self.param("client_info") == "1" {
            let info = json!({"uid": oid, "utid": self.tenant.id}).to_string();
            response["client_info"] = json!(URL_SAFE_NO_PAD.encode(info));
        }
        Ok(respond(response))
    }

    /// The ID token (v2.0) of `user` (object id `oid`) for this client, repeating `nonce`.
    fn id_token(&self, user: &str, oid: &str, nonce: &str) -> String {
        let now = self.world.now().as_second();
        let tid = &self.tenant.id;
        let name = self
            .tenant
            .find_user(user)
            .map(|u| u.display_name.clone())
            .unwrap_or_default();
        let mut claims = json!({
            "aud": self.app.client_id,
            "iss": format!("{}/{tid}/v2.0", self.call.sim.base_url),
            "iat": now,
            "nbf": now,
            "exp": now + self.world.token_lifetime.as_secs(),
            "tid": tid,
            "oid": oid,
            "sub": pairwise_subject(oid, &self.app.client_id),
            "preferred_username": user,
            "name": name,
            "ver": "2.0",
        });
        if !nonce.is_empty() {
            claims["nonce"] = json!(nonce);
        }
        self.call.sim.signer.sign(&claims)
    }
}

/// The client an access token is issued to, and how it authenticated (`0` public client, `1`
/// secret, `2` certificate).
struct Client<'a> {
    id: &'a str,
    acr: &'a str,
}

/// The claims that differ between access-token versions (Learn: "Access token claims
/// reference"): v1.0 names the client `appid` and its authentication `appidacr`, issued by
/// `https://sts.windows.net/{tid}/`; v2.0 names them `azp` and `azpacr`, issued by
/// `{login}/{tid}/v2.0`.
fn version_claims(claims: &mut Value, version: u8, tid: &str, login: &str, client: &Client) {
    if version == 2 {
        claims["iss"] = json!(format!("{login}/{tid}/v2.0"));
        claims["azp"] = json!(client.id);
        claims["azpacr"] = json!(client.acr);
        claims["ver"] = json!("2.0");
    } else {
        claims["iss"] = json!(format!("https://sts.windows.net/{tid}/"));
        claims["appid"] = json!(client.id);
        claims["appidacr"] = json!(client.acr);
        claims["ver"] = json!("1.0");
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
    claims["idtyp"] = json!("user");
    let oid = user_object_id(tenant, upn);
    claims["oid"] = json!(oid);
    claims["upn"] = json!(upn);
    claims["sub"] = json!(pairwise_subject(&oid, &app.client_id));
    let scopes: Vec<&str> = app
        .permissions
        .iter()
        .filter(|p| permission(p).is_some_and(|(r, _)| r == resource_app))
        .map(String::as_str)
        .collect();
    claims["scp"] = json!(scopes.join(" "));
    claims["wids"] = json!([GLOBAL_ADMINISTRATOR]);
}

/// The object id of the signed-in `upn`: the directory user's, or, for an administrator the
/// world does not list as a user, a GUID derived from the tenant and the name (stable across
/// tokens, as a real account's is).
fn user_object_id(tenant: &Tenant, upn: &str) -> String {
    if let Some(u) = tenant.find_user(upn) {
        return u.id.clone();
    }
    let d = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{}:{}", tenant.id, upn.to_ascii_lowercase()).as_bytes(),
    );
    let h: String = d.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "{}-{}-4{}-8{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// The `sub` of a user's tokens for one application: pairwise and stable, as Entra's is (the
/// same user and app always get the same value; another app gets another).
fn pairwise_subject(oid: &str, client_id: &str) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{oid}:{}", client_id.to_ascii_lowercase()).as_bytes(),
    );
    URL_SAFE_NO_PAD.encode(&digest.as_ref()[..32])
}

/// The token endpoint's success body.
pub(super) fn token_response(
    access: String,
    expires_in: i64,
    scope: &str,
    refresh: Option<String>,
) -> Response {
    respond(token_body(access, expires_in, scope, refresh))
}

/// The token endpoint's success body, as JSON.
fn token_body(access: String, expires_in: i64, scope: &str, refresh: Option<String>) -> Value {
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
    body
}

/// A success answer of the token endpoint.
fn respond(body: Value) -> Response {
    (
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(body),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_version_names_the_client_its_own_way() {
        let client = Client {
            id: "app",
            acr: "2",
        };
        let mut v1 = json!({});
        version_claims(&mut v1, 1, "tid", "https://login", &client);
        assert_eq!(v1["appid"], "app");
        assert_eq!(v1["appidacr"], "2");
        assert_eq!(v1["iss"], "https://sts.windows.net/tid/");
        assert!(v1.get("azp").is_none() && v1.get("azpacr").is_none());
        let mut v2 = json!({});
        version_claims(&mut v2, 2, "tid", "https://login", &client);
        assert_eq!((&v2["azp"], &v2["azpacr"]), (&json!("app"), &json!("2")));
        assert_eq!(v2["iss"], "https://login/tid/v2.0");
        assert!(v2.get("appid").is_none() && v2.get("appidacr").is_none());
    }
}
