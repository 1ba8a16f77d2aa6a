//! `ValidateListOptions`: the rules of resourceVersion, resourceVersionMatch and
//! sendInitialEvents for lists and watches, refused as kube-apiserver refuses them.

use crate::http::request::Call;
use crate::status::ApiError;
use crate::validation::field::FieldError;
use crate::validation::options::invalid_options;

const NOT_OLDER_THAN: &str = "NotOlderThan";
const EXACT: &str = "Exact";

/// 422 (or 400 for a resourceVersion that is not a number) unless the options of `call`, a
/// list or a watch, go together.
pub fn check(call: &Call, watch: bool) -> Result<(), ApiError> {
    let rv = call.q("resourceVersion");
    if let Some(v) = rv
        && v.parse::<u64>().is_err()
    {
        return Err(ApiError::bad_request(format!(
            "invalid resource version: resourceVersion: Invalid value: \"{v}\": strconv.ParseUint: parsing \"{v}\": invalid syntax"
        )));
    }
    let matching = call.q("resourceVersionMatch");
    let initial = call.q("sendInitialEvents");
    let continued = call.q("continue").is_some();
    let field = "resourceVersionMatch";
    let mut errors = Vec::new();
    if watch {
        if initial.is_some() && matching != Some(NOT_OLDER_THAN) {
            errors.push(FieldError::forbidden(
                field,
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            ));
        }
        if let Some(m) = matching {
            if initial.is_none() {
                errors.push(FieldError::forbidden(
                    field,
                    "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
                ));
            }
            if m != NOT_OLDER_THAN {
                errors.push(FieldError::not_supported(field, m, &[NOT_OLDER_THAN]));
            }
            if continued {
                errors.push(FieldError::forbidden(
                    field,
                    "resourceVersionMatch is forbidden when continue is provided",
                ));
            }
        }
    } else {
        if let Some(m) = matching {
            if rv.is_none() {
                errors.push(FieldError::forbidden(
                    field,
                    "resourceVersionMatch is forbidden unless resourceVersion is provided",
                ));
            }
            if continued {
                errors.push(FieldError::forbidden(
                    field,
                    "resourceVersionMatch is forbidden when continue is provided",
                ));
            }
            if m != EXACT && m != NOT_OLDER_THAN {
                errors.push(FieldError::not_supported(
                    field,
                    m,
                    &[EXACT, NOT_OLDER_THAN, ""],
                ));
            }
            if m == EXACT && rv == Some("0") {
                errors.push(FieldError::forbidden(
                    field,
                    "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
                ));
            }
        }
        if initial.is_some() {
            errors.push(FieldError::forbidden(
                "sendInitialEvents",
                "sendInitialEvents is forbidden for list",
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(invalid_options("ListOptions", &errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(query: &str) -> Call {
        let (parts, ()) = axum::http::Request::builder()
            .uri(format!("/api/v1/secrets?{query}"))
            .body(())
            .unwrap()
            .into_parts();
        Call::new(&parts, Default::default())
    }

    #[test]
    fn options_that_do_not_go_together_are_refused() {
        for (query, watch, expected) in [
            ("", false, None),
            ("resourceVersion=5&resourceVersionMatch=Exact", false, None),
            (
                "resourceVersionMatch=Exact",
                false,
                Some(
                    "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
                ),
            ),
            (
                "resourceVersionMatch=Foo&resourceVersion=1",
                false,
                Some(
                    "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Unsupported value: \"Foo\": supported values: \"Exact\", \"NotOlderThan\", \"\"",
                ),
            ),
            (
                "sendInitialEvents=true",
                false,
                Some(
                    "ListOptions.meta.k8s.io \"\" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list",
                ),
            ),
            (
                "resourceVersion=abc",
                false,
                Some(
                    "invalid resource version: resourceVersion: Invalid value: \"abc\": strconv.ParseUint: parsing \"abc\": invalid syntax",
                ),
            ),
            (
                "sendInitialEvents=true&resourceVersionMatch=NotOlderThan",
                true,
                None,
            ),
            (
                "sendInitialEvents=true",
                true,
                Some(
                    "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                ),
            ),
            (
                "resourceVersionMatch=NotOlderThan",
                true,
                Some(
                    "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
                ),
            ),
            (
                "sendInitialEvents=true&resourceVersionMatch=Exact",
                true,
                Some(
                    "ListOptions.meta.k8s.io \"\" is invalid: [resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan, resourceVersionMatch: Unsupported value: \"Exact\": supported values: \"NotOlderThan\"]",
                ),
            ),
        ] {
            let got = check(&call(query), watch).err().map(|e| e.message);
            assert_eq!(got.as_deref(), expected, "{query}");
        }
    }
}
