//! The options of a request that the API server validates as objects (`CreateOptions`,
//! `ListOptions`, ...): 422 `Invalid` naming the option, as it answers.

use super::field::{self, FieldError};
use crate::http::request::Call;
use crate::status::ApiError;

/// How a write treats fields its kind does not have (`fieldValidation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them and say so in `Warning` headers (the default).
    Warn,
    /// Refuse the write.
    Strict,
}

impl FieldValidation {
    /// The directive of `call`, a write of `verb`; 422 for a value that is not one.
    pub fn of(call: &Call, verb: &str) -> Result<Self, ApiError> {
        match call.q("fieldValidation") {
            None | Some("Warn") => Ok(Self::Warn),
            Some("Ignore") => Ok(Self::Ignore),
            Some("Strict") => Ok(Self::Strict),
            Some(other) => Err(invalid_options(
                options_kind(verb),
                &[FieldError::not_supported(
                    "fieldValidation",
                    other,
                    &["", "Ignore", "Strict", "Warn"],
                )],
            )),
        }
    }
}

/// The options kind of a write `verb`.
fn options_kind(verb: &str) -> &'static str {
    match verb {
        "create" => "CreateOptions",
        "update" => "UpdateOptions",
        "delete" => "DeleteOptions",
        _ => "PatchOptions",
    }
}

/// 422 for invalid options of kind `kind` (`ListOptions.meta.k8s.io "" is invalid: ...`).
pub fn invalid_options(kind: &str, errors: &[FieldError]) -> ApiError {
    field::invalid("meta.k8s.io", kind, "", errors)
}
