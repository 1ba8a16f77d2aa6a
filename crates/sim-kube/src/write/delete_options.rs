//! DeleteOptions: from the request body (a `DeleteOptions` object) and the query, as
//! kube-apiserver reads them - dry run, propagation policy (or the older orphanDependents),
//! preconditions on uid and resourceVersion.

use serde_json::{Value, json};

use crate::http::request::Call;
use crate::lifecycle::Propagation;
use crate::status::ApiError;

/// What a DELETE asks for beyond the deletion.
#[derive(Debug, Default)]
pub struct DeleteOptions {
    /// `dryRun: [All]`.
    pub dry_run: bool,
    /// The propagation policy, when given.
    pub propagation: Option<Propagation>,
    /// `preconditions.uid`.
    pub uid: Option<String>,
    /// `preconditions.resourceVersion`.
    pub resource_version: Option<String>,
}

impl DeleteOptions {
    /// The options of `call`: its body if it has one, the query parameters over it.
    pub fn of(call: &Call) -> Result<Self, ApiError> {
        let body = if call.has_body() {
            call.json_body()?
        } else {
            json!({})
        };
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(String::from);
        let mut policy = text(body.get("propagationPolicy"));
        let mut orphan = body.get("orphanDependents").and_then(Value::as_bool);
        let mut dry_run = body
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|d| d.iter().any(|x| x == "All"));
        if let Some(p) = call.q("propagationPolicy") {
            policy = Some(p.to_string());
        }
        if let Some(o) = call.q("orphanDependents") {
            orphan = Some(o == "true");
        }
        dry_run |= call.dry_run();
        let propagation = match policy.as_deref() {
            None => orphan.map(|o| {
                if o {
                    Propagation::Orphan
                } else {
                    Propagation::Background
                }
            }),
            Some("Foreground") => Some(Propagation::Foreground),
            Some("Background") => Some(Propagation::Background),
            Some("Orphan") => Some(Propagation::Orphan),
            Some(other) => return Err(unsupported_policy(other)),
        };
        Ok(Self {
            dry_run,
            propagation,
            uid: text(body.pointer("/preconditions/uid")),
            resource_version: text(body.pointer("/preconditions/resourceVersion")),
        })
    }
}

/// 422 for a propagation policy that is not one, as kube-apiserver words it.
fn unsupported_policy(policy: &str) -> ApiError {
    let detail = format!(
        "Unsupported value: \"{policy}\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
    );
    ApiError::new(
        422,
        "Invalid",
        format!("DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: {detail}"),
    )
    .with_details(json!({
        "causes": [{"reason": "FieldValueNotSupported", "message": detail, "field": "propagationPolicy"}],
        "group": "meta.k8s.io", "kind": "DeleteOptions",
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Bytes;

    fn options(uri: &str, body: &str) -> Result<DeleteOptions, ApiError> {
        let (parts, ()) = axum::http::Request::builder()
            .method("DELETE")
            .uri(uri)
            .body(())
            .unwrap()
            .into_parts();
        DeleteOptions::of(&Call::new(&parts, Bytes::from(body.to_string())))
    }

    #[test]
    fn options_come_from_the_body_and_the_query_over_it() {
        let cases = [
            ("/x", "", None, false),
            (
                "/x?propagationPolicy=Orphan",
                "",
                Some(Propagation::Orphan),
                false,
            ),
            (
                "/x",
                r#"{"propagationPolicy":"Foreground"}"#,
                Some(Propagation::Foreground),
                false,
            ),
            (
                "/x?propagationPolicy=Background",
                r#"{"propagationPolicy":"Orphan"}"#,
                Some(Propagation::Background),
                false,
            ),
            (
                "/x",
                r#"{"orphanDependents":true}"#,
                Some(Propagation::Orphan),
                false,
            ),
            (
                "/x?orphanDependents=false",
                "",
                Some(Propagation::Background),
                false,
            ),
            ("/x", r#"{"dryRun":["All"]}"#, None, true),
            ("/x?dryRun=All", "", None, true),
        ];
        for (uri, body, propagation, dry_run) in cases {
            let o = options(uri, body).unwrap();
            assert_eq!(
                (o.propagation, o.dry_run),
                (propagation, dry_run),
                "{uri} {body}"
            );
        }
        let o = options(
            "/x",
            r#"{"preconditions":{"uid":"u","resourceVersion":"7"}}"#,
        )
        .unwrap();
        assert_eq!(
            (o.uid.as_deref(), o.resource_version.as_deref()),
            (Some("u"), Some("7"))
        );
    }

    #[test]
    fn an_unknown_policy_is_refused_naming_the_field() {
        let e = options("/x?propagationPolicy=Sideways", "").unwrap_err();
        assert_eq!((e.code, e.reason), (422, "Invalid"));
        assert!(
            e.message
                .contains("propagationPolicy: Unsupported value: \"Sideways\"")
        );
    }
}
