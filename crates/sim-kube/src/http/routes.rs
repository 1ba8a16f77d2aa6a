//! The route table: discovery documents first, then resource paths
//! (`/api/v1/...`, `/apis/{group}/{version}/...`) resolved to a [`Target`] and a [`Verb`],
//! each verb served by one function.

use std::sync::Arc;

use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::ServerState;
use super::request::Call;
use crate::discovery;
use crate::openapi_v2;
use crate::read;
use crate::status::ApiError;
use crate::types::ResourceType;
use crate::write;

/// Where a resource request points.
pub struct Target {
    /// The type addressed.
    pub rt: ResourceType,
    /// The namespace in the path, if any.
    pub namespace: Option<String>,
    /// The object's name, unless the path names the collection.
    pub name: Option<String>,
    /// The subresource (`status`), if any.
    pub sub: Option<String>,
}

impl Target {
    /// The store key of the object named `name` in this target's namespace.
    pub fn key_of(&self, name: &str) -> (String, String) {
        (self.namespace.clone().unwrap_or_default(), name.to_string())
    }

    /// The object's name (empty for a collection).
    pub fn name(&self) -> String {
        self.name.clone().unwrap_or_default()
    }
}

/// The API verbs, as counted in [`crate::Stats`] and named in discovery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    /// GET of one object.
    Get,
    /// GET of a collection.
    List,
    /// GET of a collection with `watch=true`.
    Watch,
    /// POST to a collection.
    Create,
    /// PUT of one object.
    Update,
    /// PATCH of one object (server-side apply included).
    Patch,
    /// DELETE of one object.
    Delete,
    /// DELETE of a collection.
    DeleteCollection,
}

impl Verb {
    /// The verb of `method` on an object (`named`) or a collection; `None` when not allowed.
    fn of(method: &Method, named: bool, watch: bool) -> Option<Self> {
        Some(match (method, named) {
            (&Method::GET, true) => Self::Get,
            (&Method::GET, false) if watch => Self::Watch,
            (&Method::GET, false) => Self::List,
            (&Method::POST, false) => Self::Create,
            (&Method::PUT, true) => Self::Update,
            (&Method::PATCH, true) => Self::Patch,
            (&Method::DELETE, true) => Self::Delete,
            (&Method::DELETE, false) => Self::DeleteCollection,
            _ => return None,
        })
    }

    /// The verb's name in Kubernetes (`deletecollection`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::List => "list",
            Self::Watch => "watch",
            Self::Create => "create",
            Self::Update => "update",
            Self::Patch => "patch",
            Self::Delete => "delete",
            Self::DeleteCollection => "deletecollection",
        }
    }
}

/// Serves `call` on `path` (without its trailing slash).
pub fn route(server: &Arc<ServerState>, call: &Call, path: &str) -> Result<Response, ApiError> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if call.method == Method::GET && segs == ["openapi", "v2"] {
        count(server, "get", "/openapi/v2");
        let types = server.store.lock().types.clone();
        return Ok(openapi_v2::serve(&types, call.accept()));
    }
    if call.method == Method::GET
        && let Some((doc, content_type)) = discovery::document(server, &segs, call.accept())
    {
        count(server, "get", &format!("/{}", segs.join("/")));
        return Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, content_type)],
            doc.to_string(),
        )
            .into_response());
    }
    let target = resolve(server, &segs).ok_or_else(not_found)?;
    let verb = Verb::of(&call.method, target.name.is_some(), call.flag("watch"))
        .ok_or_else(|| ApiError::method_not_allowed().with_details(serde_json::json!({})))?;
    count(server, verb.name(), &target.rt.resource_name());
    check_dry_run(call, verb)?;
    match verb {
        Verb::Get => read::get(server, call, &target),
        Verb::List => read::list(server, call, &target),
        Verb::Watch => read::watch::watch(server.clone(), call, &target),
        Verb::Create => write::create::create(server, call, &target),
        Verb::Update => write::update::update(server, call, &target),
        Verb::Patch => write::patch::patch(server, call, &target),
        Verb::Delete => write::delete::delete(server, call, &target),
        Verb::DeleteCollection => write::delete::delete_collection(server, call, &target),
    }
}

/// 422 for a `dryRun` other than `All` on a write, worded as kube-apiserver words it (naming
/// the verb's options kind).
fn check_dry_run(call: &Call, verb: Verb) -> Result<(), ApiError> {
    let options = match verb {
        Verb::Create => "CreateOptions",
        Verb::Update => "UpdateOptions",
        Verb::Patch => "PatchOptions",
        Verb::Delete | Verb::DeleteCollection => "DeleteOptions",
        _ => return Ok(()),
    };
    match call.q("dryRun") {
        None | Some("All") => Ok(()),
        Some(other) => {
            let detail = format!("Unsupported value: [\"{other}\"]: supported values: \"All\"");
            Err(ApiError::new(
                422,
                "Invalid",
                format!("{options}.meta.k8s.io \"\" is invalid: dryRun: {detail}"),
            )
            .with_details(serde_json::json!({
                "causes": [{"reason": "FieldValueNotSupported", "message": detail, "field": "dryRun"}],
                "group": "meta.k8s.io", "kind": options,
            })))
        }
    }
}

/// 404 for a path that names nothing served.
fn not_found() -> ApiError {
    ApiError::new(
        404,
        "NotFound",
        "the server could not find the requested resource".into(),
    )
    .with_details(serde_json::json!({}))
}

/// The target of a resource path, if it names a served type, an object of it in a fitting
/// scope, or a subresource the type has.
fn resolve(server: &ServerState, segs: &[&str]) -> Option<Target> {
    let target = match segs {
        ["api", "v1", rest @ ..] if !rest.is_empty() => resolve_in(server, "", "v1", rest),
        ["apis", group, version, rest @ ..] if !rest.is_empty() => {
            resolve_in(server, group, version, rest)
        }
        _ => None,
    }?;
    if target.rt.namespaced && target.name.is_some() && target.namespace.is_none() {
        return None;
    }
    if let Some(sub) = &target.sub
        && !(sub == "status" && target.rt.status_subresource)
    {
        return None;
    }
    Some(target)
}

/// The target of the path `rest` below `group/version`.
fn resolve_in(server: &ServerState, group: &str, version: &str, rest: &[&str]) -> Option<Target> {
    let st = server.store.lock();
    let find = |plural: &str| st.find_type(group, version, plural);
    let (rt, namespace, tail) = match rest {
        ["namespaces", ns, plural, tail @ ..] => match find(plural) {
            Some(rt) if rt.namespaced => (rt, Some(ns.to_string()), tail),
            // `namespaces/NAME[/finalize|status]`: the Namespace object itself.
            _ => (find("namespaces")?, None, &rest[1..]),
        },
        [plural, tail @ ..] => (find(plural)?, None, tail),
        [] => return None,
    };
    let (name, sub) = match tail {
        [] => (None, None),
        [name] => (Some(name.to_string()), None),
        [name, sub] => (Some(name.to_string()), Some(sub.to_string())),
        _ => return None,
    };
    Some(Target {
        rt,
        namespace,
        name,
        sub,
    })
}

/// Counts one request of `verb` on `resource`.
fn count(server: &ServerState, verb: &str, resource: &str) {
    *server
        .store
        .lock()
        .stats
        .requests
        .entry(format!("{verb} {resource}"))
        .or_default() += 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_map_to_verbs_by_whether_the_path_names_an_object() {
        assert_eq!(Verb::of(&Method::GET, true, true), Some(Verb::Get));
        assert_eq!(Verb::of(&Method::GET, false, true), Some(Verb::Watch));
        assert_eq!(Verb::of(&Method::GET, false, false), Some(Verb::List));
        assert_eq!(Verb::of(&Method::POST, false, false), Some(Verb::Create));
        assert_eq!(Verb::of(&Method::POST, true, false), None);
        assert_eq!(Verb::of(&Method::PUT, false, false), None);
        assert_eq!(
            Verb::of(&Method::DELETE, false, false).map(Verb::name),
            Some("deletecollection")
        );
    }
}
