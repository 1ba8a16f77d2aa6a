//! `/v1.0/subscriptions`: create (with the validation handshake), list (paged), get, renew
//! (PATCH, which also reauthorizes), reauthorize and delete; each counted by route and
//! throttled as the subscription service is. An app sees only its own subscriptions in the
//! token's tenant; another's id is a 404, as is an expired one.

use std::sync::Arc;
use std::time::Instant;

use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::super::Req;
use super::super::json::{created, ok};
use super::super::paging::{decode_token, encode_token};
use super::model::subscription;
use super::throttle::{retry_after_seconds, scopes};
use super::validation::{CreateBody, NewSubscription, Refused, expiration};
use super::{MAIL_PERMISSIONS, counters, has_mail_permission};
use crate::Sim;
use crate::state::{Cursor, MailSubscription, World};
use exo_sim_http::ids::uuid_v4;

/// The validation handshake's failure, as Graph words it.
const HANDSHAKE_FAILED: &str = "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.";

/// What a subscription request asks for.
enum Action {
    Create,
    List,
    Get(String),
    Renew(String),
    Reauthorize(String),
    Delete(String),
}

/// The route of a request (`METHOD /v1.0/pattern`, the key of its counter) and its action.
fn route(method: &Method, segments: &[&str]) -> Option<(&'static str, Action)> {
    let id = |s: &str| s.to_string();
    Some(match (method.as_str(), segments) {
        ("POST", ["subscriptions"]) => ("POST /v1.0/subscriptions", Action::Create),
        ("GET", ["subscriptions"]) => ("GET /v1.0/subscriptions", Action::List),
        ("GET", ["subscriptions", s]) => ("GET /v1.0/subscriptions/{id}", Action::Get(id(s))),
        ("PATCH", ["subscriptions", s]) => ("PATCH /v1.0/subscriptions/{id}", Action::Renew(id(s))),
        ("DELETE", ["subscriptions", s]) => {
            ("DELETE /v1.0/subscriptions/{id}", Action::Delete(id(s)))
        }
        ("POST", ["subscriptions", s, "reauthorize"]) => (
            "POST /v1.0/subscriptions/{id}/reauthorize",
            Action::Reauthorize(id(s)),
        ),
        _ => return None,
    })
}

/// Who asks: the token's tenant and application.
struct Caller {
    tenant: String,
    app: String,
}

/// Answers a request under `/v1.0/subscriptions`.
pub(in crate::graph) async fn handle(sim: &Arc<Sim>, req: Req, tenant_id: String) -> Response {
    let segments: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    let Some((pattern, action)) = route(&req.method, &segments) else {
        return req.err(
            405,
            "Request_BadRequest",
            &format!(
                "The method {} is not allowed on '{}'.",
                req.method, req.path
            ),
        );
    };
    let caller = Caller {
        tenant: tenant_id,
        app: app_id(&req),
    };
    if let Err(response) = admit(sim, &req, &caller, pattern) {
        return response;
    }
    match action {
        Action::Create => create(sim, &req, &caller).await,
        Action::List => list(sim, &req, &caller),
        Action::Get(id) => get(sim, &req, &caller, &id),
        Action::Renew(id) => renew(sim, &req, &caller, &id),
        Action::Reauthorize(id) => reauthorize(sim, &req, &caller, &id),
        Action::Delete(id) => delete(sim, &req, &caller, &id),
    }
}

/// The application of the token (`appid` of v1.0 tokens, `azp` of v2.0).
fn app_id(req: &Req) -> String {
    let appid = req.claims.str("appid");
    if appid.is_empty() {
        req.claims.str("azp").to_lowercase()
    } else {
        appid.to_lowercase()
    }
}

/// Counts the request by route, then throttles it: 429 with `Retry-After` over a limit.
fn admit(sim: &Sim, req: &Req, caller: &Caller, pattern: &str) -> Result<(), Response> {
    let mut w = sim.world.lock().unwrap();
    w.count(&format!("{} {pattern}", counters::ROUTE_PREFIX), 1);
    let write = req.method != Method::GET;
    let scopes = scopes(&w.subscription_settings, &caller.tenant, &caller.app, write);
    let Err(wait) = w.subscription_windows.admit(Instant::now(), &scopes) else {
        return Ok(());
    };
    w.count(counters::THROTTLED, 1);
    let mut response = req.err(429, "TooManyRequests", "Please retry again later.");
    if let Ok(v) = HeaderValue::from_str(&retry_after_seconds(wait).to_string()) {
        response.headers_mut().insert("retry-after", v);
    }
    Err(response)
}

/// Graph's answer to a refusal.
fn refuse(req: &Req, r: Refused) -> Response {
    req.err(r.status, r.code, &r.message)
}

/// 403 unless the token carries a mail permission and the app holds one in the tenant now
/// (a consent revoked since the token was issued counts).
fn authorized(req: &Req, world: &World, caller: &Caller) -> Result<(), Response> {
    let delegated = !req.claims.str("scp").is_empty();
    if req.may(MAIL_PERMISSIONS)
        && (delegated || has_mail_permission(world, &caller.tenant, &caller.app))
    {
        Ok(())
    } else {
        Err(req.denied())
    }
}

/// The `@odata.context` of one subscription.
fn entity_context(req: &Req) -> String {
    format!("{}/v1.0/$metadata#subscriptions/$entity", req.base)
}

/// A subscription as Graph answers it, with its `@odata.context`.
fn entity(req: &Req, s: &MailSubscription, with_client_state: bool) -> Value {
    let mut v = subscription(s, with_client_state);
    v["@odata.context"] = json!(entity_context(req));
    v
}

/// Graph's 404 for the subscription `id`.
fn not_found(req: &Req, id: &str) -> Response {
    req.err(
        404,
        "ResourceNotFound",
        &format!("The subscription '{id}' was not found."),
    )
}

/// The caller's live subscription `id`, or Graph's 404.
fn find<'w>(
    world: &'w mut World,
    req: &Req,
    caller: &Caller,
    id: &str,
) -> Result<&'w MailSubscription, Response> {
    world.sweep_subscriptions();
    world
        .mail_subscriptions
        .get(id)
        .filter(|s| s.tenant_id == caller.tenant && s.app_id == caller.app)
        .ok_or_else(|| not_found(req, id))
}

/// The checks of a create against the world (the mailbox, its room, the app's service
/// principal): the user's object id and the `creatorId`.
fn place(
    world: &World,
    req: &Req,
    caller: &Caller,
    new: &NewSubscription,
) -> Result<(String, String), Response> {
    let tenant = world.tenant(&caller.tenant).ok_or_else(|| req.denied())?;
    let user = tenant.find_user(&new.target.user).ok_or_else(|| {
        req.err(
            404,
            "ResourceNotFound",
            &format!(
                "The user '{}' of resource '{}' does not exist in the tenant.",
                new.target.user, new.resource
            ),
        )
    })?;
    if !user.has_mailbox() {
        return Err(req.err(
            404,
            "MailboxNotEnabledForRESTAPI",
            "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
        ));
    }
    room_in_mailbox(world, req, &caller.tenant, &user.id)?;
    let creator = tenant
        .sp(&caller.app)
        .map(|s| s.id.clone())
        .unwrap_or_else(|| req.claims.str("oid").to_string());
    Ok((user.id, creator))
}

/// 403 when the mailbox already has the most active subscriptions, all apps together
/// (Learn, "Outlook change notifications overview": 1,000 per mailbox). Graph's exact body for
/// this refusal is not documented: `ExtensionError` is the code its Outlook-side refusals carry.
fn room_in_mailbox(world: &World, req: &Req, tenant: &str, user_id: &str) -> Result<(), Response> {
    let limit = world.subscription_settings.per_mailbox_limit;
    let active = world.mail_subscriptions.mailbox_count(tenant, user_id);
    if active >= limit {
        return Err(req.err(
            403,
            "ExtensionError",
            &format!(
                "Operation: Create; Exception: [Status Code: Forbidden; Reason: The mailbox of user '{user_id}' has reached its limit of {limit} subscriptions.]"
            ),
        ));
    }
    Ok(())
}

/// The request's JSON body; Graph's 400 `BadRequest` when it is not one.
fn json_body<T: serde::de::DeserializeOwned>(req: &Req) -> Result<T, Response> {
    serde_json::from_str(&req.body).map_err(|e| {
        req.err(
            400,
            "BadRequest",
            &format!("Unable to read JSON request payload: {e}"),
        )
    })
}

/// `POST /subscriptions`: validated, checked against the mailbox, handshaken (without the
/// world locked), then created: 201 with the subscription, its `clientState` included.
async fn create(sim: &Arc<Sim>, req: &Req, caller: &Caller) -> Response {
    let body: CreateBody = match json_body(req) {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    let new = {
        let mut w = sim.world.lock().unwrap();
        if let Err(r) = authorized(req, &w, caller) {
            return r;
        }
        w.sweep_subscriptions();
        let max = w.subscription_settings.max_expiration_minutes;
        let new = match body.validate(w.now(), max) {
            Ok(n) => n,
            Err(r) => return refuse(req, r),
        };
        if let Err(r) = place(&w, req, caller, &new) {
            return r;
        }
        new
    };
    let urls = std::iter::once(&new.notification_url).chain(&new.lifecycle_notification_url);
    for url in urls {
        sim.world.lock().unwrap().count(counters::HANDSHAKES, 1);
        if !sim.outbound.handshake(url).await {
            sim.world
                .lock()
                .unwrap()
                .count(counters::HANDSHAKES_FAILED, 1);
            return req.err(400, "ValidationError", HANDSHAKE_FAILED);
        }
    }
    let mut w = sim.world.lock().unwrap();
    w.sweep_subscriptions();
    // The mailbox may have filled up (or gone) during the handshake.
    let (user_id, creator_id) = match place(&w, req, caller, &new) {
        Ok(placed) => placed,
        Err(r) => return r,
    };
    let s = MailSubscription {
        id: uuid_v4(),
        tenant_id: caller.tenant.clone(),
        app_id: caller.app.clone(),
        creator_id,
        resource: new.resource,
        user_id,
        folder: new.target.folder,
        change_type: new.change_type,
        client_state: new.client_state,
        notification_url: new.notification_url,
        lifecycle_notification_url: new.lifecycle_notification_url,
        expiration: new.expiration,
        latest_supported_tls_version: new.tls,
        reauthorization_required: false,
    };
    let answer = entity(req, &s, true);
    w.mail_subscriptions.insert(s);
    created(answer)
}

/// `GET /subscriptions`: the caller's subscriptions in the tenant in the order they were
/// created, `pageSize` per page with an opaque `$skiptoken` in `@odata.nextLink` (the last
/// subscription of the page: deletions between pages neither skip nor repeat one),
/// `clientState` null. Graph documents no OData query parameter for this list: `$top`,
/// `$filter`, `$select` and the rest are ignored.
fn list(sim: &Sim, req: &Req, caller: &Caller) -> Response {
    let after: Option<Cursor> = match req.q("skiptoken") {
        None => None,
        Some(t) => match decode_token(t).and_then(|v| v["after"].as_u64()) {
            Some(after) => Some(after),
            None => return req.err(400, "BadRequest", "Invalid $skiptoken."),
        },
    };
    let (value, next) = {
        let mut w = sim.world.lock().unwrap();
        w.sweep_subscriptions();
        let size = w.subscription_settings.page_size.max(1);
        let (page, next) = w
            .mail_subscriptions
            .page(&caller.tenant, &caller.app, after, size);
        let value: Vec<Value> = page.into_iter().map(|s| subscription(s, false)).collect();
        (value, next)
    };
    let mut body = Map::new();
    body.insert(
        "@odata.context".into(),
        json!(format!("{}/v1.0/$metadata#subscriptions", req.base)),
    );
    body.insert("value".into(), Value::Array(value));
    if let Some(next) = next {
        let token = encode_token(&json!({"after": next}));
        body.insert(
            "@odata.nextLink".into(),
            json!(req.link(("$skiptoken", token))),
        );
    }
    ok(Value::Object(body))
}

/// `GET /subscriptions/{id}`: 200, `clientState` null.
fn get(sim: &Sim, req: &Req, caller: &Caller, id: &str) -> Response {
    let mut w = sim.world.lock().unwrap();
    match find(&mut w, req, caller, id) {
        Ok(s) => ok(entity(req, s, false)),
        Err(r) => r,
    }
}

/// The body of `PATCH /subscriptions/{id}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Renewal {
    expiration_date_time: Option<String>,
}

/// `PATCH /subscriptions/{id}` `{"expirationDateTime"}`: renews and reauthorizes; 200 with
/// the subscription (`clientState` null); 403 while the app lacks the mail permission.
fn renew(sim: &Sim, req: &Req, caller: &Caller, id: &str) -> Response {
    let body: Renewal = match json_body(req) {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    let mut w = sim.world.lock().unwrap();
    if let Err(r) = authorized(req, &w, caller) {
        return r;
    }
    if let Err(r) = find(&mut w, req, caller, id) {
        return r;
    }
    let Some(text) = body.expiration_date_time else {
        return req.err(
            400,
            "InvalidRequest",
            "The 'expirationDateTime' property is required.",
        );
    };
    let at = match expiration(
        &text,
        w.now(),
        w.subscription_settings.max_expiration_minutes,
    ) {
        Ok(at) => at,
        Err(r) => return refuse(req, r),
    };
    let renewed = w.mail_subscriptions.update(id, |s| {
        s.expiration = at;
        s.reauthorization_required = false;
        entity(req, s, false)
    });
    match renewed {
        Some(v) => ok(v),
        None => not_found(req, id),
    }
}

/// `POST /subscriptions/{id}/reauthorize`: 204, delivery resumes; 403 while the app lacks the
/// mail permission.
fn reauthorize(sim: &Sim, req: &Req, caller: &Caller, id: &str) -> Response {
    let mut w = sim.world.lock().unwrap();
    if let Err(r) = authorized(req, &w, caller) {
        return r;
    }
    if let Err(r) = find(&mut w, req, caller, id) {
        return r;
    }
    match w
        .mail_subscriptions
        .update(id, |s| s.reauthorization_required = false)
    {
        Some(()) => StatusCode::NO_CONTENT.into_response(),
        None => not_found(req, id),
    }
}

/// `DELETE /subscriptions/{id}`: 204 (allowed without the mail permission, so an app can clean
/// up after losing it).
fn delete(sim: &Sim, req: &Req, caller: &Caller, id: &str) -> Response {
    let mut w = sim.world.lock().unwrap();
    if let Err(r) = find(&mut w, req, caller, id) {
        return r;
    }
    match w.mail_subscriptions.remove(id) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => not_found(req, id),
    }
}
