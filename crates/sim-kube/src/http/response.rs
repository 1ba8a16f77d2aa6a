//! Building answers: JSON bodies, streams, and objects in the shape they are served in.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::events;
use crate::types::ResourceType;

/// `value` as a JSON answer with status `code`.
pub fn json_response(code: StatusCode, value: &Value) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

/// A streamed JSON answer (a watch), one chunk per item of `stream`.
pub fn streaming(
    stream: impl futures::Stream<Item = Result<Bytes, Infallible>> + Send + 'static,
) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

/// The `Status` of a request that succeeded without an object to return.
pub fn success_status() -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"})
}

/// The current time as the API server writes it (RFC 3339, whole seconds, UTC).
pub fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The object as served through `rt` (events are converted; apiVersion and kind set; the
/// fields Go always writes present).
pub fn to_wire(rt: &ResourceType, stored: &Value) -> Value {
    let mut v = if rt.is_events_v1() {
        events::to_events_v1(stored)
    } else {
        stored.clone()
    };
    v["apiVersion"] = json!(rt.api_version());
    v["kind"] = json!(rt.kind);
    super::zero_fields::with_zero_fields(rt, v)
}

/// How objects are served: whole, or only their metadata (`PartialObjectMetadata`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// The whole object, through its API.
    Full,
    /// `PartialObjectMetadata`: apiVersion, kind and metadata only.
    MetadataOnly,
}

impl Shape {
    /// [`Shape::MetadataOnly`] when `metadata_only`, else [`Shape::Full`].
    pub fn metadata_only(metadata_only: bool) -> Self {
        if metadata_only {
            Self::MetadataOnly
        } else {
            Self::Full
        }
    }

    /// The stored object `stored` of type `rt` in this shape.
    pub fn object(self, rt: &ResourceType, stored: &Value) -> Value {
        match self {
            Self::Full => to_wire(rt, stored),
            Self::MetadataOnly => json!({
                "apiVersion": "meta.k8s.io/v1",
                "kind": "PartialObjectMetadata",
                "metadata": stored.get("metadata").cloned().unwrap_or(json!({})),
            }),
        }
    }

    /// `(apiVersion, kind)` of one object of type `rt` in this shape (a list's kind adds
    /// `List`).
    pub fn type_meta(self, rt: &ResourceType) -> (String, String) {
        match self {
            Self::Full => (rt.api_version(), rt.kind.clone()),
            Self::MetadataOnly => ("meta.k8s.io/v1".into(), "PartialObjectMetadata".into()),
        }
    }
}
