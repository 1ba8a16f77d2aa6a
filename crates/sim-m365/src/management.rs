//! Office 365 Management Activity API: activity-feed subscriptions start, stop and list, with
//! the audience, role and tenant checks and `AF` error codes.

use std::collections::HashMap;
use std::sync::{Arc, MutexGuard};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Value, json};

use crate::Sim;
use crate::bearer::{self, Refusal};
use crate::errors::activity as error;
use crate::ids::MANAGEMENT_APP_ID;
use crate::state::{Tenant, World};

/// The content types of the activity feed.
const CONTENT_TYPES: [&str; 5] = [
    "Audit.AzureActiveDirectory",
    "Audit.Exchange",
    "Audit.SharePoint",
    "Audit.General",
    "DLP.All",
];

/// The Management Activity API's routes.
pub fn routes() -> Router<Arc<Sim>> {
    Router::new().route(
        "/api/v1.0/{tenant}/activity/feed/subscriptions/{operation}",
        any(subscriptions),
    )
}

/// `/api/v1.0/{tenant}/activity/feed/subscriptions/{list|start|stop}`.
async fn subscriptions(
    State(sim): State<Arc<Sim>>,
    method: Method,
    Path((tenant, operation)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut world = match authorize(&sim, &headers, &tenant) {
        Ok(world) => world,
        Err(refusal) => return refusal,
    };
    let Some(t) = world.tenant_mut(&tenant) else {
        return error(
            400,
            "AF20011",
            "The specified tenant ID does not exist in the system or has been deleted.",
        );
    };
    let content_type = q.get("contentType").cloned().unwrap_or_default();
    match (method, operation.as_str()) {
        (Method::GET, "list") => list(t),
        (Method::POST, "start") => start(t, content_type),
        (Method::POST, "stop") => stop(t, &content_type),
        _ => error(404, "AF20001", "The requested operation is not supported."),
    }
}

/// Checks the token (valid, for the Management APIs, with `ActivityFeed.Read`) and that the
/// URL's tenant is a GUID and the token's; the world stays locked.
fn authorize<'a>(
    sim: &'a Sim,
    headers: &HeaderMap,
    tenant: &str,
) -> Result<MutexGuard<'a, World>, Response> {
    let refused = |message: &str| {
        error(
            401,
            "AF10001",
            &format!("Authorization has been denied for this request: {message}."),
        )
    };
    let (claims, world) = bearer::verify(sim, bearer::bearer_token(headers), MANAGEMENT_APP_ID)
        .map_err(|r| match r {
            Refusal::Invalid => refused("the token is missing or invalid"),
            Refusal::Expired => refused("the token has expired"),
            Refusal::WrongAudience => refused("invalid audience"),
        })?;
    if !claims.lists_any("roles", &["ActivityFeed.Read"]) {
        return Err(error(
            403,
            "AF10001",
            "The permission set (ActivityFeed.Read) sent in the request does not include the expected permission.",
        ));
    }
    if tenant.len() != 36 || !tenant.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(error(
            400,
            "AF20013",
            "The tenant ID passed in the URL must be a GUID.",
        ));
    }
    if !claims.str("tid").eq_ignore_ascii_case(tenant) {
        return Err(error(
            403,
            "AF20010",
            "The tenant ID passed in the URL does not match the tenant ID passed in the access token.",
        ));
    }
    Ok(world)
}

/// `GET …/list`: every content type ever started, enabled or not.
fn list(t: &Tenant) -> Response {
    let list: Vec<Value> = t.subscriptions.iter().map(|(c, enabled)| json!({"contentType": c, "status": if *enabled { "enabled" } else { "disabled" }, "webhook": null})).collect();
    axum::Json(Value::Array(list)).into_response()
}

/// `POST …/start?contentType=…`.
fn start(t: &mut Tenant, content_type: String) -> Response {
    if !CONTENT_TYPES.contains(&content_type.as_str()) {
        return error(
            400,
            "AF20020",
            &format!("The specified content type is not valid: {content_type}."),
        );
    }
    t.subscriptions.insert(content_type.clone(), true);
    axum::Json(json!({"contentType": content_type, "status": "enabled", "webhook": null}))
        .into_response()
}

/// `POST …/stop?contentType=…`: 400 unless the subscription is enabled.
fn stop(t: &mut Tenant, content_type: &str) -> Response {
    match t.subscriptions.get_mut(content_type) {
        Some(enabled) if *enabled => {
            *enabled = false;
            StatusCode::OK.into_response()
        }
        _ => error(
            400,
            "AF20022",
            "No subscription found for the specified content type.",
        ),
    }
}
