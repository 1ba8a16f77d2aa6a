//! Microsoft Graph errors: the `{"error":{"code","message","innerError":{"request-id"}}}` body
//! reduced to what the operator acts on. Branch on `code` and status, never on `message`, and
//! never copy the message into status.

use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;

use crate::microsoft::errors::ErrorClass;
use crate::microsoft::http::TransportError;

/// What a Graph failure means for the operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphFailure {
    /// 401: the token is missing, expired or for another audience; get a new one.
    TokenRejected,
    /// 403: a permission (app role or directory role) is missing.
    PermissionDenied,
    /// 404: the object does not exist.
    NotFound,
    /// 400 with a duplicate ("conflicting object") on a write.
    Conflict,
    /// 400: the request is not valid (a bug or an unsupported query).
    BadRequest,
    /// 410 or an expired/unknown delta token: start the delta query over.
    ResyncRequired,
    /// 429: throttled.
    Throttled,
    /// 5xx or the network.
    Transient,
}

impl GraphFailure {
    /// The stable PascalCase reason.
    pub fn reason(self) -> &'static str {
        match self {
            Self::TokenRejected => "GraphTokenRejected",
            Self::PermissionDenied => "PermissionDenied",
            Self::NotFound => "NotFound",
            Self::Conflict => "Conflict",
            Self::BadRequest => "GraphBadRequest",
            Self::ResyncRequired => "ResyncRequired",
            Self::Throttled => "Throttled",
            Self::Transient => "GraphUnavailable",
        }
    }
}

/// A failed Graph request.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
///
/// Its message carries no `request-id` (it is logged when the error is made): a message that
/// changes with every request would rewrite the status on every failure.
#[error("Graph {operation} failed: {} (HTTP {status}{})", failure.reason(), suffix(", ", code))]
pub struct GraphError {
    /// What it means.
    pub failure: GraphFailure,
    /// HTTP status (0 when no response came).
    pub status: u16,
    /// Graph's `error.code`.
    pub code: Option<String>,
    /// `request-id`, to quote to Microsoft support.
    pub request_id: Option<String>,
    /// `Retry-After`, when throttled.
    pub retry_after: Option<Duration>,
    /// What was attempted, e.g. `GET /users/delta` (no query string).
    pub operation: String,
}

/// `lead` and `value` when there is a value, nothing otherwise.
fn suffix(lead: &str, value: &Option<String>) -> String {
    value
        .as_deref()
        .map(|v| format!("{lead}{v}"))
        .unwrap_or_default()
}

#[derive(Deserialize, Default)]
struct Body {
    #[serde(default)]
    error: Inner,
}

#[derive(Deserialize, Default)]
struct Inner {
    #[serde(default)]
    code: Option<String>,
    #[serde(default, rename = "innerError", alias = "innererror")]
    inner: Option<InnerError>,
}

#[derive(Deserialize, Default)]
struct InnerError {
    #[serde(default, rename = "request-id")]
    request_id: Option<String>,
}

impl GraphError {
    /// Classifies an error response.
    pub fn from_response(
        operation: String,
        status: u16,
        body: &[u8],
        retry_after: Option<Duration>,
    ) -> Self {
        let parsed: Body = serde_json::from_slice(body).unwrap_or_default();
        let code = parsed.error.code;
        let failure = classify(status, code.as_deref());
        let request_id = parsed.error.inner.and_then(|i| i.request_id);
        tracing::debug!(%operation, status, ?code, ?request_id, "Graph answered an error");
        Self {
            failure,
            status,
            code,
            request_id,
            retry_after,
            operation,
        }
    }

    /// A failure of the transport (no response, or persistent throttling through the oauth2
    /// adapter).
    pub fn from_transport(operation: String, error: &TransportError) -> Self {
        let classified = error.classify();
        Self {
            failure: classified.failure,
            status: classified.status,
            code: None,
            request_id: None,
            retry_after: classified.retry_after,
            operation,
        }
    }

    /// What the operator does about it.
    pub fn class(&self) -> ErrorClass {
        match self.failure {
            GraphFailure::Throttled => ErrorClass::Throttled(self.retry_after),
            GraphFailure::PermissionDenied => ErrorClass::NeedsHuman,
            GraphFailure::BadRequest => ErrorClass::Configuration,
            _ => ErrorClass::Transient,
        }
    }
}

/// Classifies a Graph status and error code.
pub fn classify(status: u16, code: Option<&str>) -> GraphFailure {
    match (status, code) {
        (_, Some("syncStateNotFound" | "resyncRequired" | "syncStateInvalid")) => {
            GraphFailure::ResyncRequired
        }
        (410, _) => GraphFailure::ResyncRequired,
        (401, _) => GraphFailure::TokenRejected,
        (403, _) => GraphFailure::PermissionDenied,
        (404, _) => GraphFailure::NotFound,
        (429, _) => GraphFailure::Throttled,
        (400, Some(c))
            if c.contains("ObjectConflict") || c == "Request_MultipleObjectsWithSameKeyValue" =>
        {
            GraphFailure::Conflict
        }
        (409, _) => GraphFailure::Conflict,
        (400..=499, _) => GraphFailure::BadRequest,
        _ => GraphFailure::Transient,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_are_classified_by_status_and_code() {
        let body = br#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation.","innerError":{"date":"2026-01-01T00:00:00","request-id":"rid-1"}}}"#;
        let e = GraphError::from_response("GET /users".into(), 403, body, None);
        assert_eq!(e.failure, GraphFailure::PermissionDenied);
        assert_eq!(e.request_id.as_deref(), Some("rid-1"));
        let text = e.to_string();
        assert!(
            text.contains("Authorization_RequestDenied") && !text.contains("Insufficient"),
            "{text}"
        );
        assert_eq!(e.class(), ErrorClass::NeedsHuman);
    }

    #[test]
    fn delta_resets_and_throttling() {
        let cases = [
            (410, None, GraphFailure::ResyncRequired),
            (400, Some("syncStateNotFound"), GraphFailure::ResyncRequired),
            (
                401,
                Some("InvalidAuthenticationToken"),
                GraphFailure::TokenRejected,
            ),
            (
                404,
                Some("Request_ResourceNotFound"),
                GraphFailure::NotFound,
            ),
            (
                400,
                Some("Request_UnsupportedQuery"),
                GraphFailure::BadRequest,
            ),
            (503, None, GraphFailure::Transient),
        ];
        for (status, code, failure) in cases {
            assert_eq!(classify(status, code), failure, "{status} {code:?}");
        }
        let e = GraphError::from_response(
            "GET /users".into(),
            429,
            b"not json",
            Some(Duration::from_secs(7)),
        );
        assert_eq!(
            e.class(),
            ErrorClass::Throttled(Some(Duration::from_secs(7)))
        );
    }
}
