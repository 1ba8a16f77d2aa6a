//! Error answers as RFC 9457 problem details (`application/problem+json`): `type` (a stable
//! URI per kind of problem), `title`, `status`, `detail`, and members of their own (`reason`,
//! `expected`, `watermark`). No detail ever quotes a secret or a signature.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// The base of every problem `type` (identifiers, not necessarily pages to fetch).
pub const TYPE_BASE: &str = "https://exo-operator.io/problems/delivery/";

/// One problem answer.
#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    kind: &'static str,
    title: &'static str,
    detail: String,
    members: Map<String, Value>,
    retry_after: Option<u64>,
}

impl Problem {
    /// A problem of `kind` (the last segment of its `type`).
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            kind,
            title,
            detail: detail.into(),
            members: Map::new(),
            retry_after: None,
        }
    }

    /// Adds a member of its own.
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.members.insert(name.to_string(), value.into());
        self
    }

    /// Adds `Retry-After: seconds`.
    pub fn retry_after(mut self, seconds: Option<u64>) -> Self {
        self.retry_after = seconds;
        self
    }

    /// 400 `malformed`: the body or the path does not follow the protocol.
    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed",
            "Malformed request",
            detail,
        )
    }

    /// 404 `not-registered`: no such tenant is registered.
    pub fn not_registered() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-registered",
            "Tenant not registered",
            "register the tenant with PUT /v1/tenants/{tenantId} first",
        )
    }

    /// 422 `rejected`: well formed, but cannot be applied in the tenant's state.
    pub fn rejected(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "rejected",
            "Delivery rejected",
            detail,
        )
    }

    /// 503 `unavailable`: the service cannot take it now (retry).
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            detail,
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": format!("{TYPE_BASE}{}", self.kind),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let Some(object) = body.as_object_mut() {
            object.extend(self.members);
        }
        let mut response = (self.status, axum::Json(body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
