//! Field errors as apimachinery's `field.Error` words them, and the 422 `Invalid` Status that
//! lists them as causes.

use serde_json::{Value, json};

use crate::status::ApiError;

/// What is wrong with a field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// `Invalid value: <value>` (the value as Go prints it: strings quoted).
    Invalid(Value),
    /// `Required value`.
    Required,
    /// `Forbidden`.
    Forbidden,
    /// `Too long`.
    TooLong,
    /// `Unsupported value: <value>`.
    NotSupported(Value),
}

/// One field error: the field's path, the problem and its detail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The path (`metadata.name`, `data[tls.crt]`).
    pub field: String,
    /// What is wrong.
    pub problem: Problem,
    /// The explanation (may be empty).
    pub detail: String,
}

impl FieldError {
    /// `Invalid value` of `value` at `field`.
    pub fn invalid(field: impl Into<String>, value: impl Into<Value>, detail: &str) -> Self {
        Self::new(field, Problem::Invalid(value.into()), detail)
    }

    /// `Required value` at `field`.
    pub fn required(field: impl Into<String>, detail: &str) -> Self {
        Self::new(field, Problem::Required, detail)
    }

    /// `Forbidden` at `field`.
    pub fn forbidden(field: impl Into<String>, detail: &str) -> Self {
        Self::new(field, Problem::Forbidden, detail)
    }

    /// `Too long` at `field`: more than `max` bytes.
    pub fn too_long(field: impl Into<String>, max: usize) -> Self {
        let unit = if max == 1 { "byte" } else { "bytes" };
        Self::new(
            field,
            Problem::TooLong,
            &format!("may not be more than {max} {unit}"),
        )
    }

    /// `Unsupported value` `value` at `field`, listing the `supported` ones.
    pub fn not_supported(field: impl Into<String>, value: &str, supported: &[&str]) -> Self {
        let listed: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
        Self::new(
            field,
            Problem::NotSupported(json!(value)),
            &format!("supported values: {}", listed.join(", ")),
        )
    }

    fn new(field: impl Into<String>, problem: Problem, detail: &str) -> Self {
        Self {
            field: field.into(),
            problem,
            detail: detail.to_string(),
        }
    }

    /// The cause `reason` of a Status (`FieldValueInvalid`, ...).
    pub fn reason(&self) -> &'static str {
        match self.problem {
            Problem::Invalid(_) => "FieldValueInvalid",
            Problem::Required => "FieldValueRequired",
            Problem::Forbidden => "FieldValueForbidden",
            Problem::TooLong => "FieldValueTooLong",
            Problem::NotSupported(_) => "FieldValueNotSupported",
        }
    }

    /// The message without the field (`Invalid value: "x": detail`).
    pub fn body(&self) -> String {
        let head = match &self.problem {
            Problem::Invalid(v) => format!("Invalid value: {}", go_value(v)),
            Problem::Required => "Required value".to_string(),
            Problem::Forbidden => "Forbidden".to_string(),
            Problem::TooLong => "Too long".to_string(),
            Problem::NotSupported(v) => format!("Unsupported value: {}", go_value(v)),
        };
        if self.detail.is_empty() {
            head
        } else {
            format!("{head}: {}", self.detail)
        }
    }

    /// The whole message (`metadata.name: Invalid value: ...`).
    pub fn message(&self) -> String {
        if self.field.is_empty() {
            self.body()
        } else {
            format!("{}: {}", self.field, self.body())
        }
    }
}

/// A value as Go's `%q` / `%v` print it in field errors.
fn go_value(v: &Value) -> String {
    match v {
        Value::String(s) => go_quote(s),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

/// `s` quoted as Go's `%q` quotes it (close enough for printable text).
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The 422 `Invalid` Status of `kind` `name` (in `group`) with `errors` as causes, as
/// `apierrors.NewInvalid` builds it.
pub fn invalid(group: &str, kind: &str, name: &str, errors: &[FieldError]) -> ApiError {
    let causes: Vec<Value> = errors
        .iter()
        .map(|e| json!({"reason": e.reason(), "message": e.body(), "field": e.field}))
        .collect();
    let listed: Vec<String> = errors.iter().map(FieldError::message).collect();
    let what = if listed.len() == 1 {
        listed[0].clone()
    } else {
        format!("[{}]", listed.join(", "))
    };
    let qualified = if group.is_empty() || kind.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    };
    let mut details = json!({"causes": causes});
    if !kind.is_empty() {
        details["kind"] = json!(kind);
    }
    if !name.is_empty() {
        details["name"] = json!(name);
    }
    if !group.is_empty() {
        details["group"] = json!(group);
    }
    ApiError::new(
        422,
        "Invalid",
        format!("{qualified} {} is invalid: {what}", go_quote(name)),
    )
    .with_details(details)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_worded_as_apimachinery_words_them() {
        for (error, message, reason) in [
            (
                FieldError::invalid("metadata.name", "a.b", "must not contain dots"),
                "metadata.name: Invalid value: \"a.b\": must not contain dots",
                "FieldValueInvalid",
            ),
            (
                FieldError::required("data[tls.crt]", ""),
                "data[tls.crt]: Required value",
                "FieldValueRequired",
            ),
            (
                FieldError::forbidden("data", "field is immutable when `immutable` is set"),
                "data: Forbidden: field is immutable when `immutable` is set",
                "FieldValueForbidden",
            ),
            (
                FieldError::too_long("metadata.annotations", 262144),
                "metadata.annotations: Too long: may not be more than 262144 bytes",
                "FieldValueTooLong",
            ),
            (
                FieldError::not_supported("fieldValidation", "Foo", &["", "Ignore"]),
                "fieldValidation: Unsupported value: \"Foo\": supported values: \"\", \"Ignore\"",
                "FieldValueNotSupported",
            ),
        ] {
            assert_eq!(error.message(), message);
            assert_eq!(error.reason(), reason);
        }
    }

    #[test]
    fn one_error_is_named_alone_and_several_in_brackets() {
        let one = invalid("", "Namespace", "x", &[FieldError::required("a", "")]);
        assert_eq!(one.message, "Namespace \"x\" is invalid: a: Required value");
        assert!(one.details.as_ref().unwrap().get("group").is_none());
        let two = invalid(
            "meta.k8s.io",
            "ListOptions",
            "",
            &[
                FieldError::required("a", ""),
                FieldError::forbidden("b", "no"),
            ],
        );
        assert_eq!(
            two.message,
            "ListOptions.meta.k8s.io \"\" is invalid: [a: Required value, b: Forbidden: no]"
        );
        assert!(two.details.as_ref().unwrap().get("name").is_none());
    }
}
