//! SyncTargetList: users by principal name, groups by prefix or id, the account it names.

use serde_json::{Value, json};

use super::{Stl, stl_spec, with};
use exo_admission::FieldErrorKind;

/// The principal names of `count` users of contoso.com.
fn users(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("user{i}@contoso.com")).collect()
}

#[test]
fn users_are_user_principal_names() {
    for ok in [
        "alice@contoso.com",
        "bob.smith@contoso.onmicrosoft.com",
        "carol_fabrikam.com#EXT#@contoso.onmicrosoft.com",
    ] {
        Stl.accepts(with(stl_spec(), "users", json!([ok])));
    }
    for bad in [
        "alice",
        "alice@",
        "@contoso.com",
        "alice@contoso",
        "al ice@contoso.com",
    ] {
        Stl.rejects(with(stl_spec(), "users", json!([bad])), "spec.users[0]");
    }
    let long = format!("{}@contoso.com", "a".repeat(110));
    assert_eq!(
        Stl.rejects(with(stl_spec(), "users", json!([long])), "spec.users[0]")
            .kind,
        FieldErrorKind::TooLong
    );
}

#[test]
fn at_most_100_distinct_users() {
    Stl.accepts(with(stl_spec(), "users", json!(users(100))));
    let e = Stl.rejects(with(stl_spec(), "users", json!(users(101))), "spec.users");
    assert_eq!(
        e.to_string(),
        "spec.users: Too many: 101: must have at most 100 items"
    );
    let dup = json!(["alice@contoso.com", "bob@contoso.com", "alice@contoso.com"]);
    assert_eq!(
        Stl.rejects(with(stl_spec(), "users", dup), "spec.users[2]")
            .kind,
        FieldErrorKind::Duplicate
    );
}

#[test]
fn groups_are_a_prefix_of_three_or_more_characters_or_an_id() {
    let groups = |list: Value| with(stl_spec(), "groups", list);
    Stl.accepts(groups(
        json!([{"namePrefix": "Fin"}, {"id": "0f3c9d2e-1a2b-4c3d-8e9f-001122334455"}]),
    ));
    for bad in ["Fi", "  Fi", "   "] {
        Stl.rejects(
            groups(json!([{"namePrefix": bad}])),
            "spec.groups[0].namePrefix",
        );
    }
    Stl.rejects(groups(json!([{"id": "finance"}])), "spec.groups[0].id");
    let both = json!([{"namePrefix": "Finance", "id": "0f3c9d2e-1a2b-4c3d-8e9f-001122334455"}]);
    assert_eq!(
        Stl.rejects(groups(both), "spec.groups[0]").detail,
        "set exactly one of namePrefix and id"
    );
    Stl.rejects(groups(json!([{}])), "spec.groups[0]");
    let many: Vec<Value> = (0..51)
        .map(|i| json!({"namePrefix": format!("group-{i}")}))
        .collect();
    Stl.rejects(groups(json!(many)), "spec.groups");
}

#[test]
fn a_list_names_its_account_and_selects_something() {
    Stl.accepts(
        json!({"serviceAccountRef": {"name": "contoso"}, "groups": [{"namePrefix": "Sales"}]}),
    );
    let e = Stl.rejects(
        json!({"serviceAccountRef": {"name": "contoso"}}),
        "spec.users",
    );
    assert_eq!(e.detail, "list at least one user or group");
    Stl.rejects(
        json!({"users": ["alice@contoso.com"]}),
        "spec.serviceAccountRef",
    );
    Stl.rejects(
        with(stl_spec(), "serviceAccountRef.name", json!("Contoso!")),
        "spec.serviceAccountRef.name",
    );
}
