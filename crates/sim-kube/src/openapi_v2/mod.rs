//! `/openapi/v2`: the Swagger 2.0 document of the served types, built from the same schemas
//! as the OpenAPI v3 documents ([`from_v3`]), served as JSON or, when the client asks for it
//! (client-go, kubectl and Helm ask only for
//! `application/com.github.proto-openapi.spec.v2@v1.0+protobuf`), as gnostic's protobuf
//! `Document` ([`gnostic`]); other media types get 406, as kube-apiserver answers.

pub mod from_v3;
pub mod gnostic;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::types::ResourceType;

/// The media type clients ask for, as client-go spells it.
pub const PROTOBUF_ASKED: &str = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
/// The media type of the protobuf answer, as kube-apiserver spells it.
pub const PROTOBUF_SERVED: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// The format of an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Swagger JSON.
    Json,
    /// gnostic's protobuf `Document`.
    Protobuf,
}

/// The format `accept` asks for first, `None` when it lists neither (no header: JSON).
pub fn negotiate(accept: &str) -> Option<Format> {
    if accept.trim().is_empty() {
        return Some(Format::Json);
    }
    accept.split(',').find_map(|media| {
        let media = media.split(';').next().unwrap_or("").trim();
        match media.to_ascii_lowercase().as_str() {
            m if m == PROTOBUF_ASKED || m == PROTOBUF_SERVED => Some(Format::Protobuf),
            "application/json" | "application/*" | "*/*" => Some(Format::Json),
            _ => None,
        }
    })
}

/// The Swagger 2.0 document of `types`.
pub fn swagger(types: &[ResourceType]) -> Value {
    from_v3::swagger(&crate::discovery::openapi(types.iter()))
}

/// The answer to `GET /openapi/v2` with `accept`.
pub fn serve(types: &[ResourceType], accept: &str) -> Response {
    match negotiate(accept) {
        Some(Format::Json) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            swagger(types).to_string(),
        )
            .into_response(),
        Some(Format::Protobuf) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, PROTOBUF_SERVED)],
            gnostic::document(&swagger(types)),
        )
            .into_response(),
        None => StatusCode::NOT_ACCEPTABLE.into_response(),
    }
}

#[cfg(test)]
mod captured;
#[cfg(test)]
mod tests;
