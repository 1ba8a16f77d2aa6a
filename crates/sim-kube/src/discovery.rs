//! Discovery and OpenAPI documents: `/version`, `/api`, `/apis` (plain, or aggregated
//! discovery v2 when the client asks for it), group and group-version
//! resource lists, and OpenAPI v3 per group-version (`/openapi/v2` is [`crate::openapi_v2`]) (CRD schemas with their field docs, so
//! `kubectl explain` works, and the `fieldValidation` parameter kubectl looks for).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::http::ServerState;
use super::types::ResourceType;

/// The emulated Kubernetes version.
pub const VERSION: (&str, &str) = ("1", "33");

/// Content type of aggregated discovery (`kubectl` 1.30+ asks for it on `/api` and `/apis`).
pub const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// The discovery or OpenAPI document at `segs`, if the path is one, with its content type.
pub fn document(
    server: &ServerState,
    segs: &[&str],
    accept: &str,
) -> Option<(Value, &'static str)> {
    let types = server.store.lock().types.clone();
    if matches!(segs, ["api"] | ["apis"]) && wants_aggregated(accept) {
        let core = segs == ["api"];
        return Some((aggregated(&types, core), AGGREGATED));
    }
    // kube-apiserver serves the OpenAPI v3 index as text.
    let content_type = if segs == ["openapi", "v3"] {
        "text/plain; charset=utf-8"
    } else {
        "application/json"
    };
    plain(server, &types, segs).map(|doc| (doc, content_type))
}

/// The priority of a group in discovery (kube-aggregator's, highest first); custom groups
/// have the lowest and come in name order.
fn group_priority(group: &str) -> u32 {
    match group {
        "" => 18000,
        "events.k8s.io" => 17750,
        "apiextensions.k8s.io" => 16700,
        "coordination.k8s.io" => 16500,
        _ => 1000,
    }
}

/// `groups` in the order discovery lists them: by priority, then by name.
fn in_discovery_order<'a, T>(groups: impl IntoIterator<Item = (&'a str, T)>) -> Vec<(&'a str, T)> {
    let mut ordered: Vec<(&str, T)> = groups.into_iter().collect();
    ordered.sort_by(|a, b| {
        group_priority(b.0)
            .cmp(&group_priority(a.0))
            .then_with(|| a.0.cmp(b.0))
    });
    ordered
}

/// Whether `accept` lists aggregated discovery v2 (clients list it first, then plain JSON).
fn wants_aggregated(accept: &str) -> bool {
    accept.split(',').any(|media| {
        let params: Vec<&str> = media.split(';').map(str::trim).collect();
        params.contains(&"g=apidiscovery.k8s.io")
            && params.contains(&"v=v2")
            && params.contains(&"as=APIGroupDiscoveryList")
    })
}

/// An `APIGroupDiscoveryList`: the core group (`core`) or every named group, each version with
/// its resources and subresources.
fn aggregated(types: &[ResourceType], core: bool) -> Value {
    let mut by_group: BTreeMap<&str, BTreeMap<&str, Vec<&ResourceType>>> = BTreeMap::new();
    for t in types.iter().filter(|t| t.group.is_empty() == core) {
        by_group
            .entry(t.group.as_str())
            .or_default()
            .entry(t.version.as_str())
            .or_default()
            .push(t);
    }
    let items: Vec<Value> = in_discovery_order(by_group)
        .into_iter()
        .map(|(group, versions)| {
            let versions: Vec<Value> = versions
                .into_iter()
                .map(|(version, types)| {
                    let resources: Vec<Value> =
                        types.into_iter().map(ResourceType::aggregated).collect();
                    json!({"version": version, "resources": resources, "freshness": "Current"})
                })
                .collect();
            // The core group has no name.
            let metadata = if group.is_empty() {
                json!({})
            } else {
                json!({"name": group})
            };
            json!({"metadata": metadata, "versions": versions})
        })
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {}, "items": items,
    })
}

/// The plain discovery or OpenAPI document at `segs`, if the path is one.
fn plain(server: &ServerState, types: &[ResourceType], segs: &[&str]) -> Option<Value> {
    match segs {
        ["version"] => Some(json!({
            "major": VERSION.0, "minor": VERSION.1,
            "gitVersion": format!("v{}.{}.0-exo-sim", VERSION.0, VERSION.1),
            "gitCommit": "exo-sim", "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
            "goVersion": "go1.24", "compiler": "gc", "platform": "linux/amd64",
        })),
        ["api"] => Some(json!({
            "kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
        })),
        ["api", "v1"] => Some(resource_list(
            "v1",
            types.iter().filter(|t| t.group.is_empty()),
        )),
        ["apis"] => {
            let groups = groups(types);
            let groups: Vec<Value> =
                in_discovery_order(groups.iter().map(|(g, vs)| (g.as_str(), vs)))
                    .into_iter()
                    .map(|(g, vs)| group_doc(g, vs))
                    .collect();
            Some(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}))
        }
        ["apis", group] => {
            let versions = groups(types).remove(*group)?;
            let mut doc = group_doc(group, &versions);
            doc["apiVersion"] = json!("v1");
            doc["kind"] = json!("APIGroup");
            Some(doc)
        }
        ["apis", group, version] => served_in(types, group, version)
            .map(|matching| resource_list(&format!("{group}/{version}"), matching.into_iter())),
        ["openapi", "v3"] => Some(openapi_index(types, server.store.lock().rv)),
        ["openapi", "v3", "api", version] => Some(openapi(
            types
                .iter()
                .filter(|t| t.group.is_empty() && t.version == *version),
        )),
        ["openapi", "v3", "apis", group, version] => {
            served_in(types, group, version).map(|matching| openapi(matching.into_iter()))
        }
        _ => None,
    }
}

/// The types served in `group/version`, `None` when there are none.
fn served_in<'a>(
    types: &'a [ResourceType],
    group: &str,
    version: &str,
) -> Option<Vec<&'a ResourceType>> {
    let matching: Vec<&ResourceType> = types
        .iter()
        .filter(|t| t.group == group && t.version == version)
        .collect();
    (!matching.is_empty()).then_some(matching)
}

/// The path of a type's group-version below the server root (`api/v1`, `apis/g/v1`).
fn group_version_path(t: &ResourceType) -> String {
    if t.group.is_empty() {
        format!("api/{}", t.version)
    } else {
        format!("apis/{}/{}", t.group, t.version)
    }
}

/// The OpenAPI v3 index: one document per group-version, its URL changing with `rv`.
fn openapi_index(types: &[ResourceType], rv: u64) -> Value {
    let mut gvs: Vec<String> = types.iter().map(group_version_path).collect();
    gvs.sort();
    gvs.dedup();
    let mut paths = Map::new();
    for gv in gvs {
        paths.insert(
            gv.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{gv}?hash={rv:016X}")}),
        );
    }
    json!({"paths": paths})
}

/// The named groups and their versions, in the order served.
fn groups(types: &[ResourceType]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in types.iter().filter(|t| !t.group.is_empty()) {
        let versions = out.entry(t.group.clone()).or_default();
        if !versions.contains(&t.version) {
            versions.push(t.version.clone());
        }
    }
    out
}

/// An `APIGroup` entry.
fn group_doc(group: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    json!({"name": group, "versions": vs, "preferredVersion": vs.first().cloned().unwrap_or(Value::Null)})
}

/// An `APIResourceList` of `types`.
fn resource_list<'a>(group_version: &str, types: impl Iterator<Item = &'a ResourceType>) -> Value {
    let resources: Vec<Value> = types.flat_map(ResourceType::discovery).collect();
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources})
}

/// The schema id of a type: a built-in's Go package path (`io.k8s.api.core.v1.ConfigMap`,
/// the name its schema carries), a custom kind's reversed group
/// (`io.exo-operator.v1alpha1.ExchangeServiceAccount`).
fn schema_id(t: &ResourceType) -> String {
    let title = t
        .schema
        .as_ref()
        .and_then(|s| s.get("title"))
        .and_then(Value::as_str)
        .filter(|title| title.contains('.'));
    match title {
        Some(title) if !t.custom => title.to_string(),
        _ => {
            let group: Vec<&str> = t.group.split('.').rev().collect();
            format!("{}.{}.{}", group.join("."), t.version, t.kind)
        }
    }
}

/// Rewrites JSON Schema `$defs` references into OpenAPI component references, hoisting the
/// definitions into `components`.
fn hoist(schema: &Value, components: &mut Map<String, Value>) -> Value {
    let mut s = schema.clone();
    if let Some(defs) = s.as_object_mut().and_then(|m| m.remove("$defs")) {
        for (name, def) in defs.as_object().cloned().unwrap_or_default() {
            let def = hoist(&def, components);
            components.entry(name).or_insert(def);
        }
    }
    rewrite_refs(&mut s);
    if let Some(m) = s.as_object_mut() {
        m.remove("$schema");
    }
    s
}

/// Points `#/$defs/` references at `#/components/schemas/`.
fn rewrite_refs(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get_mut("$ref")
                && let Some(name) = r.strip_prefix("#/$defs/")
            {
                *r = format!("#/components/schemas/{name}");
            }
            m.values_mut().for_each(rewrite_refs);
        }
        Value::Array(a) => a.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

/// The OpenAPI v3 document of `types`: their schemas and paths (also the source of the
/// Swagger 2.0 document).
pub(crate) fn openapi<'a>(types: impl Iterator<Item = &'a ResourceType>) -> Value {
    let mut components = Map::new();
    let mut paths = Map::new();
    components.insert(
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta".into(),
        json!({"type": "object", "description": "ObjectMeta is metadata that all persisted resources must have, which includes all objects users must create.", "x-kubernetes-preserve-unknown-fields": true}),
    );
    for t in types {
        let Some(schema) = &t.schema else { continue };
        let mut s = hoist(schema, &mut components);
        if let Some(props) = s.get_mut("properties").and_then(Value::as_object_mut) {
            props.entry("apiVersion").or_insert(json!({"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."}));
            props.entry("kind").or_insert(json!({"type": "string", "description": "Kind is a string value representing the REST resource this object represents."}));
            props.entry("metadata").or_insert(json!({"allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}], "default": {}, "description": "Standard object's metadata."}));
        }
        let gvk = json!({"group": t.group, "kind": t.kind, "version": t.version});
        s["x-kubernetes-group-version-kind"] = json!([gvk]);
        let id = schema_id(t);
        components.insert(id.clone(), s);
        let base = format!("/{}", group_version_path(t));
        let field_validation = json!({"name": "fieldValidation", "in": "query", "description": "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields.", "schema": {"type": "string", "uniqueItems": true}});
        let op = |action: &str| {
            json!({
                "operationId": format!("{action}{}", t.kind),
                "x-kubernetes-action": action,
                "x-kubernetes-group-version-kind": gvk,
                "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{id}")}}}}},
            })
        };
        // Writes take the fieldValidation parameter.
        let write_op = |action: &str| {
            let mut o = op(action);
            o["parameters"] = json!([field_validation]);
            o
        };
        let collection = if t.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}", t.plural)
        } else {
            format!("{base}/{}", t.plural)
        };
        paths.insert(
            format!("{collection}/{{name}}"),
            json!({"get": op("get"), "put": write_op("put"), "patch": write_op("patch"), "delete": op("delete")}),
        );
        paths.insert(
            collection,
            json!({"get": op("list"), "post": write_op("post")}),
        );
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": paths,
        "components": {"schemas": components},
    })
}

#[cfg(test)]
mod tests {
    use super::{in_discovery_order, schema_id, wants_aggregated};
    use crate::types::ResourceType;

    #[test]
    fn built_in_schemas_are_named_by_their_go_package() {
        let ids: Vec<String> = ResourceType::builtins().iter().map(schema_id).collect();
        for id in [
            "io.k8s.api.core.v1.ConfigMap",
            "io.k8s.api.coordination.v1.Lease",
            "io.k8s.api.events.v1.Event",
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
        ] {
            assert!(ids.iter().any(|i| i == id), "{id} not in {ids:?}");
        }
    }

    #[test]
    fn groups_come_by_priority_then_name() {
        let groups = [
            "exo-operator.io",
            "coordination.k8s.io",
            "apiextensions.k8s.io",
            "diff.exo-operator.io",
            "events.k8s.io",
        ];
        let ordered: Vec<&str> = in_discovery_order(groups.iter().map(|g| (*g, ())))
            .into_iter()
            .map(|(g, ())| g)
            .collect();
        assert_eq!(
            ordered,
            [
                "events.k8s.io",
                "apiextensions.k8s.io",
                "coordination.k8s.io",
                "diff.exo-operator.io",
                "exo-operator.io"
            ]
        );
    }

    #[test]
    fn aggregated_discovery_is_served_only_when_asked_for() {
        assert!(wants_aggregated(
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
        ));
        assert!(wants_aggregated(
            "application/json; g=apidiscovery.k8s.io; v=v2; as=APIGroupDiscoveryList"
        ));
        assert!(!wants_aggregated(
            "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
        ));
        assert!(!wants_aggregated("application/json, */*"));
        assert!(!wants_aggregated(""));
    }
}
