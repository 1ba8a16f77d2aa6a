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
