//! Microsoft Graph v1.0: users, groups and members, domains, organization, service principals
//! and their grants, directory roles and PIM, and delta queries; with token validation, OData
//! `$select`/`$top`/`$filter`/`$search`/`$orderby`/`$count` (and `/$count` segments), type
//! casts, `@odata.context`, opaque `$skiptoken` paging and Graph's error shape; and change
//! notification [`subscriptions`] on Outlook messages.

mod context;
mod delta;
mod directory;
mod filter;
mod groups;
mod json;
mod odata;
mod paging;
mod query;
mod roles;
mod routes;
mod service_principals;
pub mod subscriptions;
mod users;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use axum::routing::any;
use serde_json::Value;

use crate::Sim;
use crate::bearer::{self, Claims, Refusal};
use crate::errors::graph as error;
use crate::ids::GRAPH_APP_ID;

pub use self::delta::DELTA_TOKEN_LIFETIME;
pub use self::paging::{DEFAULT_PAGE, MAX_PAGE};

/// A Graph request whose token was accepted.
struct Req {
    /// The simulator's base URL (for links).
    base: String,
    method: Method,
    /// The path after `/v1.0/` (without a final `$count` segment).
    path: String,
    /// Whether the path ended in `/$count`: the answer is the collection's size as text.
    count_only: bool,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    body: String,
    claims: Claims,
}

impl Req {
    /// The query parameter `key` or `$key` (case-insensitive).
    fn q(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| {
                k.eq_ignore_ascii_case(key) || k.eq_ignore_ascii_case(&format!("${key}"))
            })
            .map(|(_, v)| v.as_str())
    }

    /// Whether the client asked for `ConsistencyLevel: eventual` (advanced queries).
    fn eventual(&self) -> bool {
        self.headers
            .get("consistencylevel")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("eventual"))
    }

    /// A Graph error echoing the client's request id.
    fn err(&self, status: u16, code: &str, message: &str) -> Response {
        error(status, code, message, client_request_id(&self.headers))
    }

    /// Graph's 404 for a missing resource.
    fn not_found(&self, resource: &str) -> Response {
        self.err(
            404,
            "Request_ResourceNotFound",
            &format!(
                "Resource '{resource}' does not exist or one of its queried reference-property objects are not present."
            ),
        )
    }

    /// Whether the token carries any of the permissions (application role or delegated scope).
    fn may(&self, any_of: &[&str]) -> bool {
        let roles = self.claims.list("roles");
        let scopes = self.claims.scopes();
        any_of
            .iter()
            .any(|p| roles.contains(p) || scopes.contains(p))
    }

    /// The `@odata.context` of this request's answer.
    fn context(&self) -> String {
        context::context(&format!("{}/v1.0", self.base), &self.path, self.q("select"))
    }

    /// 200 with one entity: its `$select`ed properties under its `@odata.context`.
    fn entity(&self, v: Value) -> Response {
        let mut v = odata::select(v, self);
        if let Value::Object(m) = &mut v {
            m.insert("@odata.context".into(), Value::String(self.context()));
        }
        json::ok(v)
    }

    /// Graph's 403.
    fn denied(&self) -> Response {
        self.err(
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )
    }
}

fn client_request_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
}

/// Graph's route: everything under `/v1.0/` (the table in `routes.rs` dispatches within).
pub fn routes() -> Router<Arc<Sim>> {
    Router::new().route("/v1.0/{*path}", any(handle))
}

/// What the token check and the synchronous routes made of a request.
enum Accepted {
    /// The answer.
    Answered(Response),
    /// A subscription request, answered without the world locked (it calls out): the request
    /// and the token's tenant id.
    Subscriptions(Req, String),
}

/// The Graph entry point (`/v1.0/{*path}`): checks the token, then routes.
async fn handle(
    State(sim): State<Arc<Sim>>,
    method: Method,
    Path(path): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: String,
) -> Response {
    match accept(&sim, method, path, raw, headers, body) {
        Accepted::Answered(response) => response,
        Accepted::Subscriptions(req, tenant) => subscriptions::handle(&sim, req, tenant).await,
    }
}

/// Checks the token with the world locked, then answers from the route table, or hands a
/// subscription request back to be answered without the lock.
fn accept(
    sim: &Sim,
    method: Method,
    path: String,
    raw: Option<String>,
    headers: HeaderMap,
    body: String,
) -> Accepted {
    use Accepted::Answered;
    let unauthenticated = |message: &str| {
        error(
            401,
            "InvalidAuthenticationToken",
            message,
            client_request_id(&headers),
        )
    };
    let token = bearer::bearer_token(&headers).map(str::trim);
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Answered(unauthenticated("Access token is empty."));
    };
    let (claims, mut world) = match bearer::verify(sim, Some(token), GRAPH_APP_ID) {
        Ok(accepted) => accepted,
        Err(Refusal::Invalid) => {
            return Answered(unauthenticated(
                "IDX14100: JWT is not well formed, there are no dots (.).",
            ));
        }
        Err(Refusal::Expired) => {
            return Answered(unauthenticated(
                "Lifetime validation failed, the token is expired.",
            ));
        }
        Err(Refusal::WrongAudience) => return Answered(unauthenticated("Invalid audience.")),
    };
    let Some(tenant) = world.tenant(claims.str("tid")).cloned() else {
        return Answered(unauthenticated("The tenant of the token does not exist."));
    };
    let (path, count_only) = match path.strip_suffix("/$count") {
        Some(collection) => (collection.to_string(), true),
        None => (path, false),
    };
    let req = Req {
        base: sim.base_url.clone(),
        method,
        path,
        count_only,
        query: raw
            .as_deref()
            .map(|q| serde_urlencoded::from_str(q).unwrap_or_default())
            .unwrap_or_default(),
        headers,
        body,
        claims,
    };
    if req.path.split('/').next() == Some("subscriptions") {
        return Accepted::Subscriptions(req, tenant.id);
    }
    Answered(routes::dispatch(&req, &mut world, tenant))
}
