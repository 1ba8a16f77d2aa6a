//! The identity platform v2.0: OpenID configuration and JWKS, the token endpoint
//! (client_credentials with a secret or a certificate assertion, device_code, refresh_token,
//! authorization_code), the device-code endpoint, sign-in (`authorize`) and admin consent.

mod authority;
mod authorize;
mod client_auth;
mod device_code;
mod issue;
mod token;

use std::collections::HashMap;
use std::sync::{Arc, MutexGuard};

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::Sim;
use crate::errors::aad;
use crate::ids::resource_of;
use crate::state::{App, World};
use authority::Authority;

/// A parsed `application/x-www-form-urlencoded` request body.
type Form = HashMap<String, String>;

/// The identity platform's routes.
pub fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(openid_configuration),
        )
        .route(
            "/{tenant}/.well-known/openid-configuration",
            get(openid_configuration),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(keys))
        .route("/{tenant}/oauth2/v2.0/token", post(token::token))
        .route(
            "/{tenant}/oauth2/v2.0/devicecode",
            post(device_code::devicecode),
        )
        .route("/{tenant}/oauth2/v2.0/authorize", get(authorize::authorize))
        .route("/{tenant}/adminconsent", get(authorize::adminconsent))
        .route("/{tenant}/v2.0/adminconsent", get(authorize::adminconsent))
        .route("/devicelogin", get(device_code::devicelogin))
}

/// The v2.0 OpenID configuration of a tenant, or of a multi-tenant alias, whose issuer is the
/// template `{base}/{tenantid}/v2.0` (Learn: "OpenID Connect on the Microsoft identity
/// platform", "Find your app's OpenID configuration document URI").
async fn openid_configuration(State(sim): State<Arc<Sim>>, Path(tenant): Path<String>) -> Response {
    let world = sim.world.lock().unwrap();
    let issuer_tenant = match world.tenant(&tenant) {
        Some(t) => t.id.clone(),
        None if authority::is_alias(&tenant) => "{tenantid}".to_string(),
        None => {
            return aad(
                400,
                "invalid_tenant",
                90002,
                &format!(
                    "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
                ),
            );
        }
    };
    let base = &sim.base_url;
    axum::Json(json!({
        "issuer": format!("{base}/{issuer_tenant}/v2.0"),
        "authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/authorize"),
        "token_endpoint": format!("{base}/{tenant}/oauth2/v2.0/token"),
        "device_authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/devicecode"),
        "jwks_uri": format!("{base}/{tenant}/discovery/v2.0/keys"),
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
    }))
    .into_response()
}

/// JWKS.
async fn keys(State(sim): State<Arc<Sim>>) -> Response {
    axum::Json(sim.signer.jwks()).into_response()
}

fn tenant_not_found(name: &str) -> Response {
    aad(
        400,
        "invalid_request",
        90002,
        &format!(
            "Tenant '{name}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
        ),
    )
}

fn app_not_found(client_id: &str, tenant: &str) -> Response {
    aad(
        400,
        "unauthorized_client",
        700016,
        &format!(
            "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
        ),
    )
}

/// A request to one of a tenant's sign-in endpoints: the tenant as named in the path, the
/// headers and the parameters (the form body of a `POST`, the query of any other method).
pub(super) struct TenantCall {
    sim: Arc<Sim>,
    /// The tenant as named in the URL.
    tenant_name: String,
    headers: HeaderMap,
    params: Form,
}

impl FromRequest<Arc<Sim>> for TenantCall {
    type Rejection = Response;

    async fn from_request(request: Request, sim: &Arc<Sim>) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let Path(tenant_name) = Path::<String>::from_request_parts(&mut parts, sim)
            .await
            .map_err(IntoResponse::into_response)?;
        let headers = parts.headers.clone();
        let params = if parts.method == Method::POST {
            let body = String::from_request(Request::from_parts(parts, body), sim)
                .await
                .map_err(IntoResponse::into_response)?;
            serde_urlencoded::from_str(&body).unwrap_or_default()
        } else {
            let Query(query) = Query::<Form>::from_request_parts(&mut parts, sim)
                .await
                .map_err(IntoResponse::into_response)?;
            query
        };
        Ok(TenantCall {
            sim: sim.clone(),
            tenant_name,
            headers,
            params,
        })
    }
}

impl TenantCall {
    /// The parameter `name` (empty when absent).
    fn param(&self, name: &str) -> String {
        self.params.get(name).cloned().unwrap_or_default()
    }

    /// The client id of the request: `client_id` in the parameters, else the HTTP Basic user.
    fn client_id(&self) -> Option<String> {
        self.params
            .get("client_id")
            .cloned()
            .or_else(|| client_auth::basic_client_id(&self.headers))
    }

    /// The world, locked, and the authority named in the URL (or the error to answer).
    fn open(&self) -> Result<(MutexGuard<'_, World>, Authority), Response> {
        let world = self.sim.world.lock().unwrap();
        let authority = Authority::named(&world, &self.tenant_name)?;
        Ok((world, authority))
    }
}

/// The registered, enabled application `client_id` (asked for in tenant `tenant_name`).
fn enabled_app(world: &World, client_id: &str, tenant_name: &str) -> Result<App, Response> {
    let Some(app) = world.app(client_id).cloned() else {
        return Err(app_not_found(client_id, tenant_name));
    };
    if !app.enabled {
        return Err(aad(
            400,
            "unauthorized_client",
            7000112,
            &format!(
                "Application '{}'({}) is disabled.",
                app.client_id, app.display_name
            ),
        ));
    }
    Ok(app)
}

/// The resource of the requested scopes (`<resource>/.default`) and its application id, or the
/// error to answer.
fn resource_scope(scope: &str) -> Result<(String, &'static str), Response> {
    let mut resource = None;
    for s in scope.split_whitespace() {
        if matches!(s, "offline_access" | "openid" | "profile" | "email") {
            continue;
        }
        let r = s
            .strip_suffix("/.default")
            .unwrap_or_else(|| s.rsplit_once('/').map(|(r, _)| r).unwrap_or(s));
        resource = Some(r.to_string());
    }
    let Some(resource) = resource else {
        return Err(aad(
            400,
            "invalid_scope",
            70011,
            "The provided request must include a 'scope' input parameter.",
        ));
    };
    match resource_of(&resource) {
        Some(app) => Ok((resource, app)),
        None => Err(aad(
            400,
            "invalid_resource",
            500011,
            &format!(
                "The resource principal named {resource} was not found in the tenant. This can happen if the application has not been installed by the administrator of the tenant."
            ),
        )),
    }
}
