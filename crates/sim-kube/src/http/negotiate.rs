//! Answers in protobuf for clients that accept nothing else (`Accept:
//! application/vnd.kubernetes.protobuf` alone). Clients that also list JSON — kubectl, Helm
//! and client-go send `application/vnd.kubernetes.protobuf,application/json` — get JSON,
//! which they decode by the answer's `Content-Type`.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::protobuf;
use crate::status::ApiError;

/// Largest JSON answer converted.
const MAX_ANSWER: usize = 256 << 20;

/// Whether `accept` lists Kubernetes protobuf and no media type JSON answers fit.
pub fn protobuf_only(accept: &str) -> bool {
    let media: Vec<String> = accept
        .split(',')
        .map(|m| {
            m.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .collect();
    media.iter().any(|m| m == protobuf::MEDIA_TYPE)
        && !media
            .iter()
            .any(|m| matches!(m.as_str(), "application/json" | "application/*" | "*/*"))
}

/// `response` (a JSON answer) in protobuf: the same status with the object encoded, or 406
/// with a protobuf `Status` when the object's kind has no protobuf form (custom resources,
/// discovery documents), as kube-apiserver answers. Other answers pass unchanged.
pub async fn to_protobuf(response: Response) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/json");
    if !is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let encoded = axum::body::to_bytes(body, MAX_ANSWER)
        .await
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|value| protobuf::encode(&value));
    let (status, bytes) = match encoded {
        Some(bytes) => (parts.status, bytes),
        None => {
            let status = ApiError::not_acceptable().to_status();
            let bytes = protobuf::encode(&status).expect("Status has a protobuf form");
            (StatusCode::NOT_ACCEPTABLE, bytes)
        }
    };
    parts.status = status;
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(protobuf::MEDIA_TYPE),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    (parts, Body::from(bytes)).into_response()
}

#[cfg(test)]
mod tests {
    use super::protobuf_only;

    #[test]
    fn protobuf_is_served_only_to_clients_that_take_nothing_else() {
        assert!(protobuf_only("application/vnd.kubernetes.protobuf"));
        assert!(protobuf_only(
            "application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io"
        ));
        assert!(!protobuf_only(
            "application/vnd.kubernetes.protobuf,application/json"
        ));
        assert!(!protobuf_only("application/vnd.kubernetes.protobuf, */*"));
        assert!(!protobuf_only("application/json"));
        assert!(!protobuf_only(""));
    }
}
