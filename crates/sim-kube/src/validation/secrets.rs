//! `ValidateSecret` and `ValidateSecretUpdate`: keys, size, the keys each Secret type
//! requires, the type fixed once set, and `immutable`.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::configmaps::{MAX_DATA_BYTES, immutability};
use super::field::FieldError;
use super::{go_json, names};

/// The Secret's data as validated: `data` decoded, with `stringData` folded in (as the API
/// server folds it before validation).
fn data_of(secret: &Value) -> BTreeMap<String, Vec<u8>> {
    let mut data = BTreeMap::new();
    for (k, v) in secret
        .get("data")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let bytes = v
            .as_str()
            .and_then(|s| STANDARD.decode(s).ok())
            .unwrap_or_default();
        data.insert(k.clone(), bytes);
    }
    for (k, v) in secret
        .get("stringData")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        data.insert(k.clone(), v.as_str().unwrap_or("").as_bytes().to_vec());
    }
    data
}

/// The Secret's type (`Opaque` when not set, as defaulted).
fn type_of(secret: &Value) -> &str {
    secret
        .get("type")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .unwrap_or("Opaque")
}

/// The problems of updating the Secret `old` to `new`: its type is fixed, and `immutable`.
pub fn check_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let ty = type_of(new);
    if ty != type_of(old) {
        errors.push(FieldError::invalid("type", ty, "field is immutable"));
    }
    let mut folded = new.clone();
    folded["data"] = serde_json::json!(
        data_of(new)
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(STANDARD.encode(v))))
            .collect::<serde_json::Map<_, _>>()
    );
    errors.extend(immutability(&folded, old, &["data"]));
    errors
}

/// The problems of a Secret.
pub fn check(new: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let data = data_of(new);
    let mut size = 0;
    for (key, value) in &data {
        for msg in names::config_key(key) {
            errors.push(FieldError::invalid(
                format!("data[{key}]"),
                key.as_str(),
                &msg,
            ));
        }
        size += value.len();
    }
    if size > MAX_DATA_BYTES {
        errors.push(FieldError::too_long("data", MAX_DATA_BYTES));
    }
    errors.extend(required_keys(new, &data));
    errors
}

/// The problems of the keys the Secret's type requires.
fn required_keys(secret: &Value, data: &BTreeMap<String, Vec<u8>>) -> Vec<FieldError> {
    let required = |key: &str| FieldError::required(format!("data[{key}]"), "");
    let mut errors = Vec::new();
    match type_of(secret) {
        "kubernetes.io/service-account-token" => {
            let name = secret
                .pointer("/metadata/annotations/kubernetes.io~1service-account.name")
                .and_then(Value::as_str)
                .unwrap_or("");
            if name.is_empty() {
                errors.push(FieldError::required(
                    "metadata.annotations[kubernetes.io/service-account.name]",
                    "",
                ));
            }
        }
        ty @ ("kubernetes.io/dockercfg" | "kubernetes.io/dockerconfigjson") => {
            let key = if ty == "kubernetes.io/dockercfg" {
                ".dockercfg"
            } else {
                ".dockerconfigjson"
            };
            match data.get(key) {
                None => errors.push(required(key)),
                Some(bytes) => {
                    if let Some(problem) = json_object_error(bytes) {
                        errors.push(FieldError::invalid(
                            format!("data[{key}]"),
                            "<secret contents redacted>",
                            &problem,
                        ));
                    }
                }
            }
        }
        "kubernetes.io/basic-auth"
            if !data.contains_key("username") && !data.contains_key("password") =>
        {
            errors.push(required("username"));
            errors.push(required("password"));
        }
        "kubernetes.io/ssh-auth" if data.get("ssh-privatekey").is_none_or(Vec::is_empty) => {
            errors.push(required("ssh-privatekey"));
        }
        "kubernetes.io/tls" => {
            for key in ["tls.crt", "tls.key"] {
                if !data.contains_key(key) {
                    errors.push(required(key));
                }
            }
        }
        _ => {}
    }
    errors
}

/// Why `bytes` do not unmarshal into a Go `map[string]interface{}`, if they do not.
fn json_object_error(bytes: &[u8]) -> Option<String> {
    if let Some(e) = go_json::syntax_error(bytes) {
        return Some(e);
    }
    let v: Value = serde_json::from_slice(bytes).ok()?;
    (!v.is_object() && !v.is_null()).then(|| {
        format!(
            "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            go_json::value_kind(&v)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_types_require_their_keys() {
        for (secret, fields) in [
            (json!({"stringData": {"k": "v"}}), vec![]),
            (json!({"stringData": {"a/b": "v"}}), vec!["data[a/b]"]),
            (
                json!({"type": "kubernetes.io/tls", "stringData": {"x": "y"}}),
                vec!["data[tls.crt]", "data[tls.key]"],
            ),
            (
                json!({"type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}}),
                vec![],
            ),
            (
                json!({"type": "kubernetes.io/basic-auth"}),
                vec!["data[username]", "data[password]"],
            ),
            (
                json!({"type": "kubernetes.io/basic-auth", "stringData": {"username": "u"}}),
                vec![],
            ),
            (
                json!({"type": "kubernetes.io/ssh-auth"}),
                vec!["data[ssh-privatekey]"],
            ),
            (
                json!({"type": "kubernetes.io/service-account-token"}),
                vec!["metadata.annotations[kubernetes.io/service-account.name]"],
            ),
            (
                json!({"type": "kubernetes.io/dockerconfigjson", "stringData": {".dockerconfigjson": "{x"}}),
                vec!["data[.dockerconfigjson]"],
            ),
            (
                json!({"type": "kubernetes.io/dockerconfigjson", "stringData": {".dockerconfigjson": "{}"}}),
                vec![],
            ),
        ] {
            let found: Vec<String> = check(&secret).into_iter().map(|e| e.field).collect();
            assert_eq!(found, fields, "{secret}");
        }
    }

    #[test]
    fn the_type_and_immutable_data_stay() {
        let old = json!({"type": "Opaque", "data": {"k": "dg=="}, "immutable": true});
        for (new, fields) in [
            (
                json!({"type": "example.com/other", "data": {"k": "dg=="}, "immutable": true}),
                vec!["type"],
            ),
            (json!({"data": {"k": "dg=="}, "immutable": true}), vec![]),
            (
                json!({"data": {"k": "dg=="}, "stringData": {"k": "w"}, "immutable": true}),
                vec!["data"],
            ),
        ] {
            let found: Vec<String> = check_update(&new, &old)
                .into_iter()
                .map(|e| e.field)
                .collect();
            assert_eq!(found, fields, "{new}");
        }
    }
}
