//! Continue tokens as kube-apiserver writes them (base64 of
//! `{"v":"meta.k8s.io/v1","rv":N,"start":"/key\u0000"}`), and its refusals of tokens that are
//! not.

use serde_json::Value;

use crate::validation::{go_base64, go_json};

/// The only encoding version of continue tokens.
const VERSION: &str = "meta.k8s.io/v1";

/// A decoded token: the list's resourceVersion (-1: the latest) and the key to start at
/// (relative to the list's prefix, with its leading `/`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Continue {
    /// resourceVersion of the list's snapshot; -1 for the latest state.
    pub rv: i64,
    /// The first key of the next page (`/name\u0000` continues after `name`).
    pub start: String,
}

/// The token of a page of a list at `rv` whose next page starts at `start`.
pub fn encode(start: &str, rv: i64) -> String {
    let json = format!(
        "{{\"v\":\"{VERSION}\",\"rv\":{rv},\"start\":{}}}",
        serde_json::to_string(start).unwrap_or_default()
    );
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, json)
}

/// The token `token` decoded; `Err` holds kube-apiserver's message (a 400).
pub fn decode(token: &str) -> Result<Continue, String> {
    let invalid = |why: String| format!("invalid continue token: continue key is not valid{why}");
    let bytes = go_base64::decode_raw_url(token).map_err(|e| invalid(format!(": {e}")))?;
    if let Some(e) = go_json::syntax_error(&bytes) {
        return Err(invalid(format!(": {e}")));
    }
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| invalid(format!(": {e}")))?;
    let Some(m) = v.as_object() else {
        return Err(invalid(format!(
            ": json: cannot unmarshal {} into Go value of type storage.continueToken",
            go_json::value_kind(&v)
        )));
    };
    let field = |name: &str, go: &str, ok: fn(&Value) -> bool| match m.get(name) {
        Some(x) if !x.is_null() && !ok(x) => Err(invalid(format!(
            ": json: cannot unmarshal {} into Go struct field continueToken.{name} of type {go}",
            go_json::value_kind(x)
        ))),
        _ => Ok(()),
    };
    field("v", "string", Value::is_string)?;
    field("rv", "int64", |x| x.as_i64().is_some())?;
    field("start", "string", Value::is_string)?;
    let text = |name: &str| m.get(name).and_then(Value::as_str).unwrap_or("");
    let version = text("v");
    if version != VERSION {
        return Err(invalid(format!(
            ": server does not recognize this encoded version {version}"
        )));
    }
    let rv = m.get("rv").and_then(Value::as_i64).unwrap_or(0);
    if rv == 0 {
        return Err(invalid(format!(
            ": incorrect encoded start resourceVersion (version {VERSION})"
        )));
    }
    let start = text("start");
    if start.is_empty() {
        return Err(invalid(format!(
            ": encoded start key empty (version {VERSION})"
        )));
    }
    let key = if start.starts_with('/') {
        start.to_string()
    } else {
        format!("/{start}")
    };
    if clean_path(&key) != key {
        return Err(invalid(format!(": {start}")));
    }
    Ok(Continue { rv, start: key })
}

/// `path` as Go's `path.Clean` leaves an absolute path: no `.`, `..` or empty segments.
fn clean_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> String {
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, json)
    }

    #[test]
    fn tokens_round_trip_in_kube_apiservers_format() {
        let token = encode("/s2\u{0}", 333);
        assert_eq!(
            token,
            "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MzMzLCJzdGFydCI6Ii9zMlx1MDAwMCJ9"
        );
        assert_eq!(
            decode(&token),
            Ok(Continue {
                rv: 333,
                start: "/s2\u{0}".into()
            })
        );
        assert_eq!(
            decode(&raw(r#"{"v":"meta.k8s.io/v1","rv":-1,"start":"a"}"#)).map(|c| c.start),
            Ok("/a".into())
        );
    }

    #[test]
    fn tokens_that_are_not_are_refused_as_kube_apiserver_refuses_them() {
        let prefix = "invalid continue token: continue key is not valid";
        for (token, why) in [
            (
                "garbage".to_string(),
                ": invalid character '\\u0081' looking for beginning of value",
            ),
            ("a".to_string(), ": illegal base64 data at input byte 0"),
            (
                raw("[1]"),
                ": json: cannot unmarshal array into Go value of type storage.continueToken",
            ),
            (
                raw(r#"{"v":"meta.k8s.io/v2","rv":5,"start":"/a"}"#),
                ": server does not recognize this encoded version meta.k8s.io/v2",
            ),
            (
                raw(r#"{"v":"meta.k8s.io/v1","rv":0,"start":"/a"}"#),
                ": incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
            ),
            (
                raw(r#"{"v":"meta.k8s.io/v1","rv":5,"start":""}"#),
                ": encoded start key empty (version meta.k8s.io/v1)",
            ),
            (
                raw(r#"{"v":"meta.k8s.io/v1","rv":5,"start":"/../a"}"#),
                ": /../a",
            ),
        ] {
            assert_eq!(decode(&token), Err(format!("{prefix}{why}")), "{token}");
        }
    }
}
