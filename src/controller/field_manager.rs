//! The name under which the operator writes (`metadata.managedFields[].manager`), and the
//! request parameters that carry it, so that `kubectl get --show-managed-fields` names the
//! operator for every field it wrote.

use kube::api::{PatchParams, PostParams};

/// The field manager of every write the operator makes.
pub const FIELD_MANAGER: &str = "exo-operator";

/// Parameters of a create or replace.
pub fn post() -> PostParams {
    PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PostParams::default()
    }
}

/// Parameters of a JSON merge or JSON patch (server-side apply uses [`apply`]).
pub fn patch() -> PatchParams {
    PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PatchParams::default()
    }
}

/// Parameters of a server-side apply that takes over fields other managers hold.
pub fn apply() -> PatchParams {
    PatchParams::apply(FIELD_MANAGER).force()
}
