//! Field errors, named and worded as the API server's status causes.

use std::fmt;

/// The kind of a field error, named as the API server names its status causes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldErrorKind {
    /// `FieldValueRequired`: a required field is missing.
    Required,
    /// `FieldValueInvalid`: the value breaks a pattern, a bound or a rule.
    Invalid,
    /// `FieldValueNotSupported`: the value is not one of the enumerated values.
    NotSupported,
    /// `FieldValueTooLong`: a string is longer than `maxLength`.
    TooLong,
    /// `FieldValueTooMany`: a list has more items than `maxItems`.
    TooMany,
    /// `FieldValueDuplicate`: a set or map list repeats an item or key.
    Duplicate,
    /// `FieldValueForbidden`: a rule forbids the value.
    Forbidden,
    /// `FieldValueTypeInvalid`: the value has the wrong JSON type.
    TypeInvalid,
}

impl FieldErrorKind {
    /// The `reason` of the status cause (`FieldValueRequired`, ...).
    pub fn cause_type(self) -> &'static str {
        match self {
            Self::Required => "FieldValueRequired",
            Self::Invalid => "FieldValueInvalid",
            Self::NotSupported => "FieldValueNotSupported",
            Self::TooLong => "FieldValueTooLong",
            Self::TooMany => "FieldValueTooMany",
            Self::Duplicate => "FieldValueDuplicate",
            Self::Forbidden => "FieldValueForbidden",
            Self::TypeInvalid => "FieldValueTypeInvalid",
        }
    }

    /// The kind a CEL rule's `reason` names; `Invalid` for any other.
    pub(crate) fn from_cause_type(reason: &str) -> Self {
        match reason {
            "FieldValueRequired" => Self::Required,
            "FieldValueForbidden" => Self::Forbidden,
            "FieldValueDuplicate" => Self::Duplicate,
            _ => Self::Invalid,
        }
    }
}

/// One rejected field, as a cause of a 422 `Invalid` response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Path of the field, such as `spec.sync.targetListRef` or `spec.users[3]`.
    pub field: String,
    /// What is wrong.
    pub kind: FieldErrorKind,
    /// The text after the kind, as the API server writes it.
    pub detail: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lead = match self.kind {
            FieldErrorKind::Required => "Required value",
            FieldErrorKind::Invalid | FieldErrorKind::TypeInvalid => "Invalid value",
            FieldErrorKind::NotSupported => "Unsupported value",
            FieldErrorKind::TooLong => "Too long",
            FieldErrorKind::TooMany => "Too many",
            FieldErrorKind::Duplicate => "Duplicate value",
            FieldErrorKind::Forbidden => "Forbidden",
        };
        if self.detail.is_empty() {
            write!(f, "{}: {lead}", self.field)
        } else {
            write!(f, "{}: {lead}: {}", self.field, self.detail)
        }
    }
}
