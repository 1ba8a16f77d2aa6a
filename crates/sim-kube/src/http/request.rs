//! One API request as the verbs read it: method, query parameters, the headers that matter
//! and the body.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Bytes;
use axum::http::request::Parts;
use axum::http::{HeaderName, Method, header};
use serde_json::Value;

use crate::protobuf::{self, DecodeError};
use crate::status::ApiError;

/// An authenticated request.
pub struct Call {
    /// HTTP method.
    pub method: Method,
    query: HashMap<String, String>,
    accept: String,
    /// `Content-Type` (patch types are told apart by it).
    pub content_type: String,
    /// `User-Agent`, recorded in the audit log.
    pub user_agent: String,
    body: Bytes,
    warnings: Mutex<Vec<String>>,
}

impl Call {
    /// The request with head `parts` and `body`.
    pub fn new(parts: &Parts, body: Bytes) -> Self {
        let header = |name: HeaderName| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        Self {
            method: parts.method.clone(),
            query: parts
                .uri
                .query()
                .and_then(|q| serde_urlencoded::from_str(q).ok())
                .unwrap_or_default(),
            accept: header(header::ACCEPT),
            content_type: header(header::CONTENT_TYPE),
            user_agent: header(header::USER_AGENT),
            body,
            warnings: Mutex::new(Vec::new()),
        }
    }

    /// Adds a warning to the answer (a `Warning: 299 - "..."` header).
    pub fn warn(&self, text: impl Into<String>) {
        self.warnings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(text.into());
    }

    /// The warnings added so far.
    pub fn warnings(&self) -> Vec<String> {
        self.warnings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether the body is in Protocol Buffers.
    pub fn is_protobuf(&self) -> bool {
        protobuf::is_protobuf(&self.content_type)
    }

    /// The body of a create or update of `kind`: YAML or Protocol Buffers when the content
    /// type says so, else JSON, refused as kube-apiserver refuses what it cannot read.
    pub fn object_body(&self, kind: &str) -> Result<Value, ApiError> {
        let media = self.content_type.split(';').next().unwrap_or("").trim();
        if media.ends_with("yaml") || self.is_protobuf() {
            return self.json_body();
        }
        let unrecognized = |why: String| {
            ApiError::bad_request(format!(
                "the object provided is unrecognized (must be of type {kind}): couldn't get version/kind; json parse error: {why} ({})",
                summarize(&self.body)
            ))
        };
        if let Some(why) = crate::validation::go_json::syntax_error(&self.body) {
            return Err(unrecognized(why));
        }
        let value: Value =
            serde_json::from_slice(&self.body).map_err(|e| unrecognized(e.to_string()))?;
        if !value.is_object() {
            return Err(unrecognized(format!(
                "json: cannot unmarshal {} into Go value of type struct {{ APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }}",
                crate::validation::go_json::value_kind(&value)
            )));
        }
        Ok(value)
    }

    /// The query parameter `key`, unless absent or empty.
    pub fn q(&self, key: &str) -> Option<&str> {
        self.query
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Whether the query parameter `key` is `true` (or `1`).
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.q(key), Some("true" | "1"))
    }

    /// The query parameter `key` as a number, if it is one.
    pub fn number(&self, key: &str) -> Option<u64> {
        self.q(key).and_then(|v| v.parse().ok())
    }

    /// The `fieldManager` given, if any.
    pub fn field_manager(&self) -> Option<String> {
        self.q("fieldManager").map(String::from)
    }

    /// The manager of a write: the fieldManager, else the user agent's program name.
    pub fn manager(&self) -> String {
        self.field_manager().unwrap_or_else(|| {
            self.user_agent
                .split('/')
                .next()
                .filter(|s| !s.is_empty())
                .unwrap_or("unknown")
                .to_string()
        })
    }

    /// Whether the write is a dry run (`dryRun=All`).
    pub fn dry_run(&self) -> bool {
        self.q("dryRun") == Some("All")
    }

    /// Whether the client asks for the representation `what` (`Table`,
    /// `PartialObjectMetadata`, ...) in its `Accept` header.
    pub fn wants(&self, what: &str) -> bool {
        self.accept.contains(&format!("as={what}"))
    }

    /// The raw body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The `Accept` header.
    pub fn accept(&self) -> &str {
        &self.accept
    }

    /// Whether the request has a body.
    pub fn has_body(&self) -> bool {
        !self.body.iter().all(u8::is_ascii_whitespace)
    }

    /// The body as JSON: decoded from protobuf when the `Content-Type` says so (built-in
    /// kinds only: others answer 415, as kube-apiserver does for custom resources), else
    /// parsed as JSON or else as YAML.
    pub fn json_body(&self) -> Result<Value, ApiError> {
        if self.body.is_empty() {
            return Err(ApiError::bad_request("the request has no body"));
        }
        if protobuf::is_protobuf(&self.content_type) {
            return protobuf::decode(&self.body).map_err(|e| match e {
                DecodeError::UnknownKind { .. } => {
                    ApiError::unsupported_body_media_type(&self.content_type)
                }
                DecodeError::Malformed(why) => ApiError::bad_request(format!(
                    "the request body is not a valid protobuf object: {why}"
                )),
            });
        }
        serde_json::from_slice(&self.body)
            .or_else(|_| {
                let text = std::str::from_utf8(&self.body).map_err(|e| e.to_string())?;
                serde_saphyr::from_str::<Value>(text).map_err(|e| e.to_string())
            })
            .map_err(|e| {
                ApiError::bad_request(format!("the request body is not valid JSON or YAML: {e}"))
            })
    }
}

/// The start of a body, as kube-apiserver quotes it in errors: text when it looks like an
/// object, else hex; 30 bytes at most.
fn summarize(body: &[u8]) -> String {
    const MAX: usize = 30;
    let head = &body[..body.len().min(MAX)];
    let more = if body.len() > MAX { " ..." } else { "" };
    match body.first() {
        None => "<empty>".into(),
        Some(b'{') => format!("{}{more}", String::from_utf8_lossy(head)),
        Some(_) => format!(
            "{}{more}",
            head.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::summarize;

    #[test]
    fn bodies_are_summarized_as_text_or_hex() {
        for (body, expected) in [
            (&b""[..], "<empty>"),
            (b"{not json", "{not json"),
            (b"not", "6e6f74"),
            (b"[1]", "5b315d"),
        ] {
            assert_eq!(summarize(body), expected);
        }
        assert_eq!(summarize(&[b'{'; 40]), format!("{} ...", "{".repeat(30)));
    }
}
