//! The one way status is written: server-side apply of the whole status under one named field
//! manager, and only when it differs from what the object has. Every status write of both kinds
//! goes through [`write_status`], so `status.conditions`, a list map keyed by `type`, is owned
//! and merged as Kubernetes intends, and a reconcile that changes nothing writes nothing.

use std::fmt::Debug;

use kube::api::{Api, Patch};
use kube::core::object::HasStatus;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::error::Result;
use super::field_manager;

/// Whether a status write may land on an object changed since it was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// The status was computed by the object's own reconciler, the only one that writes it:
    /// apply whatever the object's version.
    None,
    /// Another reconciler may write the same status: apply only to the version it was
    /// computed from (the API server answers 409 Conflict otherwise, and the reconcile is
    /// retried with what the other one wrote).
    SameVersion,
}

/// Applies `new` as the status of `object` when it differs from the status `object` was read
/// with. Returns the object as written, or `None` when nothing changed.
pub async fn write_status<K>(
    api: &Api<K>,
    object: &K,
    new: &K::Status,
    precondition: Precondition,
) -> Result<Option<K>>
where
    K: Resource<DynamicType = ()> + HasStatus + Clone + DeserializeOwned + Debug,
    K::Status: Serialize,
{
    let old = object
        .status()
        .map(serde_json::to_value)
        .transpose()?
        .map(without_nulls);
    let new = without_nulls(serde_json::to_value(new)?);
    if old.as_ref() == Some(&new) {
        return Ok(None);
    }
    let body = apply_body(object, new, precondition);
    let name = object.name_any();
    let params = field_manager::apply();
    let patch = Patch::Apply(body);
    let written = super::fail_point::around("status write", async {
        api.patch_status(&name, &params, &patch).await
    })
    .await?;
    Ok(Some(written))
}

/// The apply configuration: type, name, the precondition's version, and the status.
fn apply_body<K: Resource<DynamicType = ()>>(
    object: &K,
    status: Value,
    precondition: Precondition,
) -> Value {
    let mut metadata = json!({ "name": object.name_any() });
    if precondition == Precondition::SameVersion
        && let Some(version) = object.resource_version()
    {
        metadata["resourceVersion"] = json!(version);
    }
    json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "metadata": metadata,
        "status": status,
    })
}

/// `value` without null members: absent and null mean the same in our status types, and in an
/// apply configuration a null would be a field the manager claims to own.
fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exo_api::sync_target_list::{SyncTargetList, SyncTargetListSpec};

    fn list() -> SyncTargetList {
        let mut stl = SyncTargetList::new(
            "finance",
            serde_json::from_value::<SyncTargetListSpec>(
                json!({"serviceAccountRef": {"name": "a"}, "users": ["a@contoso.com"]}),
            )
            .unwrap(),
        );
        stl.metadata.resource_version = Some("41".into());
        stl
    }

    #[test]
    fn the_apply_body_names_the_object_and_carries_the_version_only_when_asked() {
        let stl = list();
        let status = json!({"userCount": 1});
        let plain = apply_body(&stl, status.clone(), Precondition::None);
        assert_eq!(
            plain,
            json!({"apiVersion": "exo-operator.io/v1alpha1", "kind": "SyncTargetList",
                   "metadata": {"name": "finance"}, "status": {"userCount": 1}})
        );
        let locked = apply_body(&stl, status, Precondition::SameVersion);
        assert_eq!(locked["metadata"]["resourceVersion"], "41");
    }

    #[test]
    fn nulls_are_dropped_at_every_depth() {
        let v = json!({"a": null, "b": {"c": null, "d": 1}, "e": [{"f": null, "g": 2}]});
        assert_eq!(without_nulls(v), json!({"b": {"d": 1}, "e": [{"g": 2}]}));
    }
}
