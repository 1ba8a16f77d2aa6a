//! CustomResourceDefinitions: checked when written, their types served once stored (and the
//! CRD marked Established), and gone with their objects when the CRD is deleted.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::{Value, json};

use super::text_at;
use crate::http::response::now;
use crate::status::ApiError;
use crate::store::Inner;
use crate::types::ResourceType;

/// Where CRDs are stored.
const STORAGE: &str = "apiextensions.k8s.io/customresourcedefinitions";

/// Checks a CRD before it is stored: its name is `plural.group` and it parses.
pub fn check(crd: &Value, name: &str) -> Result<(), ApiError> {
    let plural = text_at(crd, "/spec/names/plural");
    let group = text_at(crd, "/spec/group");
    let invalid = |detail: String| {
        ApiError::new(
            422,
            "Invalid",
            format!(
                "CustomResourceDefinition.apiextensions.k8s.io \"{name}\" is invalid: {detail}"
            ),
        )
    };
    if name != format!("{plural}.{group}") {
        return Err(invalid(format!(
            "metadata.name: Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"
        )));
    }
    serde_json::from_value::<CustomResourceDefinition>(crd.clone())
        .map(|_| ())
        .map_err(|e| invalid(e.to_string()))
}

/// Serves the CRD's types and marks it Established; returns the stored CRD, `None` when it
/// does not parse or its status was already so.
pub fn register(st: &mut Inner, crd_value: &Value) -> Option<Value> {
    let crd: CustomResourceDefinition = serde_json::from_value(crd_value.clone()).ok()?;
    forget_types(st, &crd.spec.group, &crd.spec.names.plural);
    st.types.extend(ResourceType::from_crd(&crd));
    let storage_version = crd
        .spec
        .versions
        .iter()
        .find(|v| v.storage)
        .map(|v| v.name.clone());
    let mut updated = crd_value.clone();
    let t = now();
    updated["status"] = json!({
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": t},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": t},
        ],
        "acceptedNames": crd_value.pointer("/spec/names").cloned().unwrap_or(json!({})),
        "storedVersions": storage_version.into_iter().collect::<Vec<_>>(),
    });
    if crd_value.get("status") == updated.get("status") {
        return None;
    }
    let rv = st.stamp(&mut updated);
    let name = crd_value
        .pointer("/metadata/name")
        .and_then(Value::as_str)?;
    st.put(
        STORAGE,
        (String::new(), name.to_string()),
        updated.clone(),
        "MODIFIED",
        rv,
    );
    Some(updated)
}

/// After the CRD `gone` is deleted: its types are no longer served and its objects are
/// deleted.
pub fn unregister(st: &mut Inner, gone: &Value) {
    let group = text_at(gone, "/spec/group");
    let plural = text_at(gone, "/spec/names/plural");
    forget_types(st, group, plural);
    let storage = format!("{group}/{plural}");
    if let Some(objects) = st.objects.remove(&storage) {
        for object in objects.into_values() {
            st.record_removed(&storage, object);
        }
    }
}

/// Stops serving `plural.group` (every version).
fn forget_types(st: &mut Inner, group: &str, plural: &str) {
    st.types
        .retain(|t| !(t.group == group && t.plural == plural));
}
