use serde_json::json;

use super::*;

fn schema() -> serde_json::Value {
    json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
        "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
            "items": {"type": "object", "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}}},
        "args": {"type": "array", "items": {"type": "string"}}
    }}}})
}

fn paths(set: &std::collections::BTreeSet<FieldPath>) -> Vec<String> {
    set.iter().map(|p| p.join("/")).collect()
}

#[test]
fn list_members_are_fields_of_their_own_by_list_type() {
    let s = schema();
    let obj = json!({"apiVersion": "x/v1", "kind": "W",
        "metadata": {"name": "w", "uid": "u", "finalizers": ["a/b"], "ownerReferences": [{"uid": "1", "name": "o"}], "generateName": "w-"},
        "spec": {"tags": ["x"], "ports": [{"name": "http", "port": 80}], "args": ["a"]}});
    assert_eq!(
        paths(&field_set(&obj, Lists::new(Some(&s)))),
        [
            "f:metadata/f:finalizers/v:\"a/b\"",
            "f:metadata/f:generateName",
            "f:metadata/f:ownerReferences/k:{\"uid\":\"1\"}/f:name",
            "f:metadata/f:ownerReferences/k:{\"uid\":\"1\"}/f:uid",
            "f:spec/f:args",
            "f:spec/f:ports/k:{\"name\":\"http\"}/f:name",
            "f:spec/f:ports/k:{\"name\":\"http\"}/f:port",
            "f:spec/f:tags/v:\"x\"",
        ]
    );
}

#[test]
fn paths_reach_and_remove_list_members() {
    let s = schema();
    let mut obj = json!({"spec": {"tags": ["x", "y"], "ports": [{"name": "http", "port": 80}]}});
    let set = field_set(&obj, Lists::new(Some(&s)));
    assert_eq!(from_fields_v1(&fields_v1(&set)), set);
    let port: FieldPath = vec![
        "f:spec".into(),
        "f:ports".into(),
        "k:{\"name\":\"http\"}".into(),
        "f:port".into(),
    ];
    assert_eq!(value_at(&obj, &port), Some(&json!(80)));
    remove_field(
        &mut obj,
        &["f:spec".into(), "f:tags".into(), "v:\"x\"".into()],
    );
    assert_eq!(obj["spec"]["tags"], json!(["y"]));
    remove_field(&mut obj, &port[..3]);
    assert_eq!(obj["spec"]["ports"], json!([]));
}

#[test]
fn an_apply_orders_live_only_members_first_then_the_applied_ones() {
    let s = schema();
    let mut live = json!({"spec": {"tags": ["q", "c", "b", "a"]}});
    merge_applied(
        &mut live,
        &json!({"spec": {"tags": ["a", "q"]}}),
        Lists::new(Some(&s)),
    );
    assert_eq!(live["spec"]["tags"], json!(["c", "b", "a", "q"]));
}

#[test]
fn an_apply_merges_sets_and_maps_and_replaces_atomic_lists() {
    let s = schema();
    let mut live = json!({"spec": {"tags": ["x"], "ports": [{"name": "http", "port": 80}], "args": ["a", "b"]}});
    merge_applied(
        &mut live,
        &json!({"spec": {"tags": ["y", "x"], "ports": [{"name": "https", "port": 443}, {"name": "http", "port": 8080}], "args": ["c"]}}),
        Lists::new(Some(&s)),
    );
    assert_eq!(
        live,
        json!({"spec": {"tags": ["y", "x"], "ports": [{"name": "https", "port": 443}, {"name": "http", "port": 8080}], "args": ["c"]}})
    );
}

#[test]
fn dot_markers_do_not_make_fields() {
    let v = json!({"f:data": {".": {}, "f:k": {}}, "f:metadata": {"f:labels": {".": {}}}});
    assert_eq!(
        paths(&from_fields_v1(&v)),
        ["f:data", "f:data/f:k", "f:metadata/f:labels"]
    );
    assert_eq!(
        fields_v1(&from_fields_v1(&v)),
        json!({"f:data": {".": {}, "f:k": {}}, "f:metadata": {"f:labels": {}}})
    );
}

#[test]
fn an_update_owns_what_it_changed_new_maps_and_new_members_only() {
    let s = schema();
    let lists = Lists::new(Some(&s));
    let old = json!({"data": {"k": "v"}, "metadata": {"finalizers": ["a"], "ownerReferences": [{"uid": "1", "name": "o"}]}});
    let new = json!({"data": {"k": "v", "k2": "w"}, "metadata": {"labels": {"x": "y"}, "finalizers": ["a", "b"],
        "ownerReferences": [{"uid": "1", "name": "o"}, {"uid": "2", "name": "p"}]}});
    assert_eq!(
        paths(&changed_fields(Some(&old), &new, Lists::new(None), false)),
        [
            "f:data/f:k2",
            "f:metadata/f:finalizers/v:\"b\"",
            "f:metadata/f:labels",
            "f:metadata/f:labels/f:x",
            "f:metadata/f:ownerReferences/k:{\"uid\":\"2\"}",
        ]
    );
    // A created ConfigMap owns its data map; a custom kind's spec is new too.
    assert_eq!(
        paths(&changed_fields(
            None,
            &json!({"data": {"k": "v"}}),
            Lists::new(None),
            false
        )),
        ["f:data", "f:data/f:k"]
    );
    let cr = json!({"spec": {"ports": [{"name": "a", "port": 1}]}});
    assert_eq!(
        paths(&changed_fields(None, &cr, lists, true)),
        [
            "f:spec",
            "f:spec/f:ports/k:{\"name\":\"a\"}",
            "f:spec/f:ports/k:{\"name\":\"a\"}/f:name",
            "f:spec/f:ports/k:{\"name\":\"a\"}/f:port",
        ]
    );
}
