//! Office 365 Management Activity API: activity-feed subscriptions start, stop and list, with
//! the audience, role and tenant checks and `AF` error codes.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Sim;
use super::errors::activity as error;
use crate::ids::MANAGEMENT_APP_ID;

const CONTENT_TYPES: [&str; 5] = [
    "Audit.AzureActiveDirectory",
    "Audit.Exchange",
    "Audit.SharePoint",
    "Audit.General",
    "DLP.All",
];

/// `/api/v1.0/{tenant}/activity/feed/subscriptions/{operation}`.
pub async fn subscriptions(
    State(sim): State<Arc<Sim>>,
    method: Method,
    Path((tenant, operation)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(claims) = token.and_then(|t| sim.signer.verify(t)) else {
        return error(
            401,
            "AF10001",
            "Authorization has been denied for this request: the token is missing or invalid.",
        );
    };
    let mut world = sim.world.lock().unwrap();
    if claims["exp"].as_i64().unwrap_or(0) <= world.now().as_second() {
        return error(
            401,
            "AF10001",
            "Authorization has been denied for this request: the token has expired.",
        );
    }
    if crate::ids::resource_of(claims["aud"].as_str().unwrap_or("")) != Some(MANAGEMENT_APP_ID) {
        return error(
            401,
            "AF10001",
            "Authorization has been denied for this request: invalid audience.",
        );
    }
    let has_role = claims["roles"]
        .as_array()
        .is_some_and(|r| r.iter().any(|x| x == "ActivityFeed.Read"));
    if !has_role {
        return error(
            403,
            "AF10001",
            "The permission set (ActivityFeed.Read) sent in the request does not include the expected permission.",
        );
    }
    if tenant.len() != 36 || !tenant.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return error(
            400,
            "AF20013",
            "The tenant ID passed in the URL must be a GUID.",
        );
    }
    let tid = claims["tid"].as_str().unwrap_or("").to_string();
    if !tid.eq_ignore_ascii_case(&tenant) {
        return error(
            403,
            "AF20010",
            "The tenant ID passed in the URL does not match the tenant ID passed in the access token.",
        );
    }
    let Some(t) = world.tenant_mut(&tenant) else {
        return error(
            400,
            "AF20011",
            "The specified tenant ID does not exist in the system or has been deleted.",
        );
    };
    let content_type = q.get("contentType").cloned().unwrap_or_default();
    match (method, operation.as_str()) {
        (Method::GET, "list") => {
            let list: Vec<Value> = t.subscriptions.iter().map(|(c, enabled)| json!({"contentType": c, "status": if *enabled { "enabled" } else { "disabled" }, "webhook": null})).collect();
            axum::Json(Value::Array(list)).into_response()
        }
        (Method::POST, "start") => {
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
        (Method::POST, "stop") => match t.subscriptions.get_mut(&content_type) {
            Some(enabled) if *enabled => {
                *enabled = false;
                axum::http::StatusCode::OK.into_response()
            }
            _ => error(
                400,
                "AF20022",
                "No subscription found for the specified content type.",
            ),
        },
        _ => error(404, "AF20001", "The requested operation is not supported."),
    }
}
