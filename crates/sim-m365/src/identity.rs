//! The identity platform v2.0: OpenID configuration and JWKS, the token endpoint
//! (client_credentials with a secret or a certificate assertion, device_code, refresh_token,
//! authorization_code), the device-code endpoint, sign-in (`authorize`) and admin consent.

// Early answers are whole HTTP responses, as axum handlers return them.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use base64::Engine;
use serde_json::{Value, json};

use super::Sim;
use super::errors::{aad, aad_sub};
use super::jwt;
use super::state::{
    App, AuthorizationCode, DeviceCode, RefreshToken, Tenant, World, grant_consent,
};
use crate::ids::resource_of;
use crate::random::opaque;

/// OpenID configuration.
pub async fn openid_configuration(
    State(sim): State<Arc<Sim>>,
    Path(tenant): Path<String>,
) -> Response {
    let world = sim.world.lock().unwrap();
    let Some(t) = world.tenant(&tenant) else {
        return aad(
            400,
            "invalid_tenant",
            90002,
            &format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        );
    };
    let base = &sim.base_url;
    axum::Json(json!({
        "issuer": format!("{base}/{}/v2.0", t.id),
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
pub async fn keys(State(sim): State<Arc<Sim>>) -> Response {
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

/// The resource of the requested scopes (`<resource>/.default`), or the error to answer.
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

/// Verifies the client's credential (secret in the body or HTTP Basic, or a certificate
/// assertion). `required` is false for public-client grants.
fn authenticate(
    world: &mut World,
    app: &App,
    form: &HashMap<String, String>,
    headers: &HeaderMap,
    tenant: &Tenant,
    required: bool,
) -> Result<(), Response> {
    let now = world.now();
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            let (id, secret) = s.split_once(':')?;
            let decode = |x: &str| {
                serde_urlencoded::from_str::<HashMap<String, String>>(&format!("v={x}"))
                    .ok()?
                    .remove("v")
            };
            Some((decode(id)?, decode(secret)?))
        });
    let secret = form.get("client_secret").cloned().or(basic.map(|(_, s)| s));
    if let Some(secret) = secret {
        return match app.secrets.iter().find(|s| s.value == secret) {
            Some(s) if s.expires.is_some_and(|e| e <= now) => Err(aad(
                401,
                "invalid_client",
                7000222,
                &format!(
                    "The provided client secret keys for app '{}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.",
                    app.client_id
                ),
            )),
            Some(_) => Ok(()),
            None => Err(aad(
                401,
                "invalid_client",
                7000215,
                &format!(
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                    app.client_id
                ),
            )),
        };
    }
    if let Some(assertion) = form.get("client_assertion") {
        if form.get("client_assertion_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        {
            return Err(aad(
                400,
                "invalid_request",
                50027,
                "Invalid client_assertion_type.",
            ));
        }
        let Some((header, claims)) = jwt::decode(assertion) else {
            return Err(aad(
                401,
                "invalid_client",
                50027,
                "JWT token is invalid or malformed.",
            ));
        };
        let thumb_s256 = header.get("x5t#S256").and_then(Value::as_str);
        let thumb_sha1 = header.get("x5t").and_then(Value::as_str);
        let Some(cert) = app
            .certificates
            .iter()
            .find(|c| Some(c.s256.as_str()) == thumb_s256 || Some(c.sha1.as_str()) == thumb_sha1)
        else {
            return Err(aad(
                401,
                "invalid_client",
                700027,
                &format!(
                    "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{}'.]",
                    thumb_s256.or(thumb_sha1).unwrap_or(""),
                    app.client_id
                ),
            ));
        };
        let alg: &dyn rustls_pki_types::SignatureVerificationAlgorithm = match header
            .get("alg")
            .and_then(Value::as_str)
        {
            Some("RS256") => webpki::ring::RSA_PKCS1_2048_8192_SHA256,
            Some("PS256") => webpki::ring::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
            _ => {
                return Err(aad(
                    401,
                    "invalid_client",
                    5002738,
                    "The client assertion uses an unsupported signing algorithm; use RS256 or PS256.",
                ));
            }
        };
        let der = rustls_pki_types::CertificateDer::from(cert.der.clone());
        let verified = (|| {
            let (input, sig) = assertion.rsplit_once('.')?;
            let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(sig)
                .ok()?;
            let ee = webpki::EndEntityCert::try_from(&der).ok()?;
            ee.verify_signature(alg, input.as_bytes(), &sig).ok()
        })();
        if verified.is_none() {
            return Err(aad(
                401,
                "invalid_client",
                700027,
                "Client assertion contains an invalid signature.",
            ));
        }
        let aud = claims.get("aud").and_then(Value::as_str).unwrap_or("");
        let aud_ok =
            aud.ends_with("/oauth2/v2.0/token") && aud.split('/').any(|seg| tenant.is(seg));
        if !aud_ok {
            return Err(aad(
                401,
                "invalid_client",
                700021,
                &format!(
                    "Client assertion audience claim does not match Realm issuer. Review the documentation at https://aka.ms/certCreds . Audience: '{aud}'."
                ),
            ));
        }
        let iss = claims.get("iss").and_then(Value::as_str).unwrap_or("");
        let sub = claims.get("sub").and_then(Value::as_str).unwrap_or("");
        if !iss.eq_ignore_ascii_case(&app.client_id) || !sub.eq_ignore_ascii_case(&app.client_id) {
            return Err(aad(
                401,
                "invalid_client",
                700023,
                "Client assertion issuer and subject must be the client id.",
            ));
        }
        let secs = now.as_second();
        let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
        let nbf = claims.get("nbf").and_then(Value::as_i64).unwrap_or(0);
        if exp <= secs || nbf > secs + 300 {
            return Err(aad(
                401,
                "invalid_client",
                700024,
                "Client assertion is not within its valid time range.",
            ));
        }
        let jti = claims
            .get("jti")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if jti.is_empty() || !world.jtis.insert(jti) {
            return Err(aad(
                401,
                "invalid_client",
                7000216,
                "'client_assertion' has been replayed (its jti was used before).",
            ));
        }
        return Ok(());
    }
    if required {
        return Err(aad(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ));
    }
    Ok(())
}

/// Signs an access token.
fn access_token(
    sim: &Sim,
    world: &World,
    tenant: &Tenant,
    app: &App,
    resource: &str,
    resource_app: &str,
    user: Option<&str>,
) -> (String, i64) {
    let now = world.now();
    let lifetime = world.token_lifetime.as_secs();
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
        "uti": opaque(12),
    });
    match user {
        None => {
            let sp = tenant.sp(&app.client_id);
            claims["idtyp"] = json!("app");
            claims["oid"] = json!(sp.map(|s| s.id.clone()).unwrap_or_default());
            claims["sub"] = claims["oid"].clone();
            let roles: Vec<&str> = sp
                .map(|s| {
                    s.grants
                        .iter()
                        .filter(|g| g.resource_app == resource_app)
                        .filter_map(|g| crate::ids::permission_name(&g.role_id))
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
        Some(upn) => {
            let u = tenant.find_user(upn);
            claims["idtyp"] = json!("user");
            claims["oid"] = json!(u.as_ref().map(|u| u.id.clone()).unwrap_or_default());
            claims["upn"] = json!(upn);
            claims["sub"] = json!(opaque(16));
            let scopes: Vec<&str> = app
                .permissions
                .iter()
                .filter(|p| crate::ids::permission(p).is_some_and(|(r, _)| r == resource_app))
                .map(String::as_str)
                .collect();
            claims["scp"] = json!(scopes.join(" "));
            claims["wids"] = json!([crate::ids::GLOBAL_ADMINISTRATOR]);
        }
    }
    (sim.signer.sign(&claims), lifetime)
}

fn token_response(
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

/// `POST /{tenant}/oauth2/v2.0/token`.
pub async fn token(
    State(sim): State<Arc<Sim>>,
    Path(tenant_name): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let form: HashMap<String, String> = serde_urlencoded::from_str(&body).unwrap_or_default();
    let mut world = sim.world.lock().unwrap();
    let Some(tenant) = world.tenant(&tenant_name).cloned() else {
        return tenant_not_found(&tenant_name);
    };
    let client_id = form
        .get("client_id")
        .cloned()
        .or_else(|| basic_client_id(&headers));
    let Some(client_id) = client_id else {
        return aad(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        );
    };
    let Some(app) = world.app(&client_id).cloned() else {
        return app_not_found(&client_id, &tenant_name);
    };
    if !app.enabled {
        return aad(
            400,
            "unauthorized_client",
            7000112,
            &format!(
                "Application '{}'({}) is disabled.",
                app.client_id, app.display_name
            ),
        );
    }
    let scope = form.get("scope").cloned().unwrap_or_default();
    let grant = form.get("grant_type").map(String::as_str).unwrap_or("");
    let now = world.now();
    match grant {
        "client_credentials" => {
            if let Err(r) = authenticate(&mut world, &app, &form, &headers, &tenant, true) {
                return r;
            }
            let (resource, resource_app) = match resource_scope(&scope) {
                Ok(r) => r,
                Err(r) => return r,
            };
            if !scope.split_whitespace().any(|s| s.ends_with("/.default")) {
                return aad(
                    400,
                    "invalid_scope",
                    1002012,
                    &format!(
                        "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
                    ),
                );
            }
            if tenant.sp(&app.client_id).is_none() {
                return app_not_found(&app.client_id, &tenant_name);
            }
            let (access, expires) =
                access_token(&sim, &world, &tenant, &app, &resource, resource_app, None);
            token_response(access, expires, &format!("{resource}/.default"), None)
        }
        "urn:ietf:params:oauth:grant-type:device_code" => {
            if let Err(r) = authenticate(&mut world, &app, &form, &headers, &tenant, false) {
                return r;
            }
            let code = form.get("device_code").cloned().unwrap_or_default();
            let Some(dc) = world
                .device_codes
                .iter_mut()
                .find(|d| d.device_code == code)
            else {
                return aad(
                    400,
                    "bad_verification_code",
                    70019,
                    "Verification code expired or unknown.",
                );
            };
            let too_soon = dc
                .last_poll
                .is_some_and(|last| now.duration_since(last).as_secs() < dc.interval as i64);
            dc.last_poll = Some(now);
            if dc.expires <= now || dc.state == "expired" {
                return aad(
                    400,
                    "expired_token",
                    70020,
                    "The provided authorization code or refresh token has expired due to it being past its expiration date. Send a new interactive authorization request for this user and resource.",
                );
            }
            match dc.state.clone().as_str() {
                "pending" if too_soon => aad(
                    400,
                    "slow_down",
                    70016,
                    "OAuth 2.0 device flow error. Authorization is pending and polling is too frequent; slow down.",
                ),
                "pending" => aad(
                    400,
                    "authorization_pending",
                    70016,
                    "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
                ),
                "declined" => aad(
                    400,
                    "authorization_declined",
                    70000,
                    "The user declined the authorization request.",
                ),
                "redeemed" => aad(
                    400,
                    "invalid_grant",
                    54005,
                    "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
                ),
                approved => {
                    let upn = approved.strip_prefix("approved:").unwrap_or("").to_string();
                    dc.state = "redeemed".into();
                    let dc_scope = dc.scope.clone();
                    let (resource, resource_app) = match resource_scope(&dc_scope) {
                        Ok(r) => r,
                        Err(r) => return r,
                    };
                    let (access, expires) = access_token(
                        &sim,
                        &world,
                        &tenant,
                        &app,
                        &resource,
                        resource_app,
                        Some(&upn),
                    );
                    let refresh = issue_refresh(&mut world, &tenant, &app, &upn);
                    token_response(access, expires, &dc_scope, Some(refresh))
                }
            }
        }
        "refresh_token" => {
            if let Err(r) = authenticate(&mut world, &app, &form, &headers, &tenant, false) {
                return r;
            }
            let rt = form.get("refresh_token").cloned().unwrap_or_default();
            let Some(entry) = world.refresh_tokens.get(&rt).cloned() else {
                return aad(
                    400,
                    "invalid_grant",
                    9002313,
                    "Invalid request. Request is malformed or invalid.",
                );
            };
            if !entry.client_id.eq_ignore_ascii_case(&app.client_id) || entry.tenant != tenant.id {
                return aad(
                    400,
                    "invalid_grant",
                    70000,
                    "Provided grant is invalid or malformed.",
                );
            }
            if entry.revoked {
                return aad(
                    400,
                    "invalid_grant",
                    50173,
                    "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on and the TokensValidFrom date for this user is later.",
                );
            }
            if entry.expires <= now {
                return aad(
                    400,
                    "invalid_grant",
                    700082,
                    "The refresh token has expired due to inactivity. The token was issued and was inactive for 90.00:00:00.",
                );
            }
            if tenant.sp(&app.client_id).is_none() {
                return aad_sub(
                    400,
                    "invalid_grant",
                    65001,
                    "consent_required",
                    &format!(
                        "The user or administrator has not consented to use the application with ID '{}'. Send an interactive authorization request for this user and resource.",
                        app.client_id
                    ),
                );
            }
            let (resource, resource_app) = match resource_scope(&scope) {
                Ok(r) => r,
                Err(r) => return r,
            };
            let (access, expires) = access_token(
                &sim,
                &world,
                &tenant,
                &app,
                &resource,
                resource_app,
                Some(&entry.user),
            );
            let refresh = issue_refresh(&mut world, &tenant, &app, &entry.user);
            token_response(access, expires, &scope, Some(refresh))
        }
        "authorization_code" => {
            if let Err(r) = authenticate(&mut world, &app, &form, &headers, &tenant, false) {
                return r;
            }
            let code = form.get("code").cloned().unwrap_or_default();
            let Some(AuthorizationCode {
                tenant: t,
                client_id: c,
                user,
                redirect_uri: redirect,
            }) = world.auth_codes.remove(&code)
            else {
                return aad(
                    400,
                    "invalid_grant",
                    70008,
                    "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
                );
            };
            if t != tenant.id
                || !c.eq_ignore_ascii_case(&app.client_id)
                || form.get("redirect_uri").is_some_and(|r| *r != redirect)
            {
                return aad(
                    400,
                    "invalid_grant",
                    70000,
                    "Provided grant is invalid or malformed.",
                );
            }
            let (resource, resource_app) = match resource_scope(&scope) {
                Ok(r) => r,
                Err(r) => return r,
            };
            let (access, expires) = access_token(
                &sim,
                &world,
                &tenant,
                &app,
                &resource,
                resource_app,
                Some(&user),
            );
            let refresh = issue_refresh(&mut world, &tenant, &app, &user);
            token_response(access, expires, &scope, Some(refresh))
        }
        "" => aad(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
        ),
        other => aad(
            400,
            "unsupported_grant_type",
            70003,
            &format!("The app requested an unsupported grant type '{other}'."),
        ),
    }
}

fn issue_refresh(world: &mut World, tenant: &Tenant, app: &App, user: &str) -> String {
    let token = format!("0.AS{}", opaque(48));
    let expires = world.now() + world.refresh_lifetime;
    world.refresh_tokens.insert(
        token.clone(),
        RefreshToken {
            tenant: tenant.id.clone(),
            client_id: app.client_id.clone(),
            user: user.to_string(),
            expires,
            revoked: false,
        },
    );
    token
}

fn user_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    use ring::rand::{SecureRandom, SystemRandom};
    let mut b = [0u8; 9];
    let _ = SystemRandom::new().fill(&mut b);
    b.iter()
        .map(|x| ALPHABET[*x as usize % ALPHABET.len()] as char)
        .collect()
}

/// The client id of an HTTP Basic `Authorization` header.
fn basic_client_id(headers: &HeaderMap) -> Option<String> {
    let raw = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())?;
    let id = raw.split_once(':').map(|(id, _)| id).unwrap_or(&raw);
    serde_urlencoded::from_str::<HashMap<String, String>>(&format!("v={id}"))
        .ok()?
        .remove("v")
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`.
pub async fn devicecode(
    State(sim): State<Arc<Sim>>,
    Path(tenant_name): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let form: HashMap<String, String> = serde_urlencoded::from_str(&body).unwrap_or_default();
    let mut world = sim.world.lock().unwrap();
    let Some(tenant) = world.tenant(&tenant_name).cloned() else {
        return tenant_not_found(&tenant_name);
    };
    let client_id = form
        .get("client_id")
        .cloned()
        .or_else(|| basic_client_id(&headers))
        .unwrap_or_default();
    let Some(app) = world.app(&client_id).cloned() else {
        return app_not_found(&client_id, &tenant_name);
    };
    if !app.enabled {
        return aad(
            400,
            "unauthorized_client",
            7000112,
            &format!(
                "Application '{}'({}) is disabled.",
                app.client_id, app.display_name
            ),
        );
    }
    let scope = form.get("scope").cloned().unwrap_or_default();
    if let Err(r) = resource_scope(&scope) {
        return r;
    }
    let code = user_code();
    let interval = world.device_interval;
    let expires = world.now() + jiff::SignedDuration::from_mins(15);
    world.device_codes.push(DeviceCode {
        device_code: format!("DAQABIQEAAAD{}", opaque(64)),
        user_code: code.clone(),
        tenant: tenant.id.clone(),
        client_id: app.client_id.clone(),
        scope,
        expires,
        interval,
        last_poll: None,
        state: "pending".into(),
    });
    let dc = world
        .device_codes
        .last()
        .expect("pushed")
        .device_code
        .clone();
    let uri = format!("{}/devicelogin", sim.base_url);
    axum::Json(json!({
        "user_code": code,
        "device_code": dc,
        "verification_uri": uri,
        "expires_in": 900,
        "interval": interval,
        "message": format!("To sign in, use a web browser to open the page {uri} and enter the code {code} to authenticate."),
    }))
    .into_response()
}

/// `GET /devicelogin`: the simulated sign-in page.
pub async fn devicelogin() -> Html<&'static str> {
    Html(
        "<!doctype html><title>Device login (simulated)</title><p>This is the Microsoft 365 simulator. Approve a code with <code>POST /_sim/devicecodes/{code}/approve</code>.</p>",
    )
}

/// `GET /{tenant}/oauth2/v2.0/authorize`: a simulated sign-in of `login_hint` (a Global
/// Administrator of the tenant), redirecting with a code.
pub async fn authorize(
    State(sim): State<Arc<Sim>>,
    Path(tenant_name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut world = sim.world.lock().unwrap();
    let Some(tenant) = world.tenant(&tenant_name).cloned() else {
        return tenant_not_found(&tenant_name);
    };
    let client_id = q.get("client_id").cloned().unwrap_or_default();
    if world.app(&client_id).is_none() {
        return app_not_found(&client_id, &tenant_name);
    }
    let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
    let user = q.get("login_hint").cloned().unwrap_or_default();
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
    let code = opaque(32);
    world.auth_codes.insert(
        code.clone(),
        AuthorizationCode {
            tenant: tenant.id.clone(),
            client_id,
            user,
            redirect_uri: redirect.clone(),
        },
    );
    let state = q.get("state").cloned().unwrap_or_default();
    Redirect::to(&format!(
        "{redirect}?code={code}&state={}",
        urlencode(&state)
    ))
    .into_response()
}

fn urlencode(v: &str) -> String {
    serde_urlencoded::to_string([("v", v)])
        .unwrap_or_default()
        .trim_start_matches("v=")
        .to_string()
}

/// `GET /{tenant}/adminconsent` and `/{tenant}/v2.0/adminconsent`: a Global Administrator
/// consents (add `sim_decision=deny` to simulate a refusal) and is redirected.
pub async fn adminconsent(
    State(sim): State<Arc<Sim>>,
    Path(tenant_name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut world = sim.world.lock().unwrap();
    let client_id = q.get("client_id").cloned().unwrap_or_default();
    let Some(app) = world.app(&client_id).cloned() else {
        return aad(
            400,
            "unauthorized_client",
            700016,
            &format!("Application with identifier '{client_id}' was not found in the directory."),
        );
    };
    let Some(tenant) = world.tenant_mut(&tenant_name) else {
        return tenant_not_found(&tenant_name);
    };
    let redirect = q
        .get("redirect_uri")
        .cloned()
        .or(app.redirect_uris.first().cloned());
    let state = q.get("state").cloned().unwrap_or_default();
    let denied = q.get("sim_decision").is_some_and(|d| d == "deny");
    if !denied {
        grant_consent(tenant, &app, &app.permissions);
    }
    let tid = tenant.id.clone();
    match redirect {
        Some(r) if denied => Redirect::to(&format!(
            "{r}?error=access_denied&error_description={}&state={}",
            urlencode("AADSTS65004: User declined to consent to access the app."),
            urlencode(&state)
        ))
        .into_response(),
        Some(r) => Redirect::to(&format!(
            "{r}?admin_consent=True&tenant={tid}&state={}&scope={}",
            urlencode(&state),
            urlencode("https://graph.microsoft.com/.default")
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
