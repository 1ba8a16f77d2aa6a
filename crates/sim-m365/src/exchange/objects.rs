//! The Exchange objects of a tenant (name → property bag): lookup by name, GUID or address,
//! transport-rule priorities, the collection annotations of replies, and the errors about
//! objects.

use std::collections::BTreeMap;

use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::errors;
use crate::state::Tenant;

/// The name of the object `identity` names (its name, `Guid` or `PrimarySmtpAddress`,
/// case-insensitive).
pub(super) fn find<'a>(objects: &'a BTreeMap<String, Value>, identity: &str) -> Option<&'a String> {
    objects
        .iter()
        .find(|(name, o)| {
            name.eq_ignore_ascii_case(identity)
                || o["Guid"]
                    .as_str()
                    .is_some_and(|g| g.eq_ignore_ascii_case(identity))
                || o["PrimarySmtpAddress"]
                    .as_str()
                    .is_some_and(|a| a.eq_ignore_ascii_case(identity))
        })
        .map(|(k, _)| k)
}

/// Whether an Exchange object of `kind` named `name` exists.
pub(super) fn exists(tenant: &Tenant, kind: &str, name: &str) -> bool {
    tenant
        .exchange
        .get(kind)
        .and_then(|objects| find(objects, name))
        .is_some()
}

/// Renumbers transport rules so that priorities are 0..n in order, placing `moved` at `wanted`.
pub(super) fn renumber(rules: &mut BTreeMap<String, Value>, moved: &str, wanted: Option<i64>) {
    let mut order: Vec<(i64, String)> = rules
        .iter()
        .filter(|(k, _)| k.as_str() != moved)
        .map(|(k, v)| (v["Priority"].as_i64().unwrap_or(i64::MAX), k.clone()))
        .collect();
    order.sort();
    let mut names: Vec<String> = order.into_iter().map(|(_, k)| k).collect();
    let at = wanted
        .map(|p| (p.max(0) as usize).min(names.len()))
        .unwrap_or(names.len());
    if rules.contains_key(moved) {
        names.insert(at, moved.to_string());
    }
    for (i, name) in names.iter().enumerate() {
        if let Some(r) = rules.get_mut(name) {
            r["Priority"] = json!(i);
        }
    }
}

/// Adds `@odata.type` annotations to collection properties.
pub(super) fn annotate(obj: &Value) -> Value {
    let mut out = Map::new();
    if let Some(m) = obj.as_object() {
        for (k, v) in m {
            if v.is_array() {
                out.insert(format!("{k}@odata.type"), json!("#Collection(String)"));
            }
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

/// Exchange's 400 for a value that fails validation.
pub(super) fn invalid(message: &str) -> Response {
    errors::exchange(
        400,
        "BadRequest",
        "Ex0C3B2A",
        "Microsoft.Exchange.Data.DataValidationException",
        message,
    )
}

/// Exchange's 404 for an object `identity` names, `where_` being appended to the message
/// (`on '<domain>'`, or nothing).
fn object_not_found(identity: &str, where_: &str) -> Response {
    errors::exchange(
        404,
        "NotFound",
        "Ex6F9304",
        "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
        &format!(
            "The operation couldn't be performed because object '{identity}' couldn't be found{where_}."
        ),
    )
}

/// Exchange's 404 for an object of the tenant.
pub(super) fn not_found(identity: &str, tenant: &Tenant) -> Response {
    object_not_found(identity, &format!(" on '{}'", tenant.default_domain()))
}

/// Exchange's 404 for an object another one refers to.
pub(super) fn referenced_not_found(identity: &str) -> Response {
    object_not_found(identity, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_renumbered_around_an_insert() {
        let mut rules = BTreeMap::new();
        for (n, p) in [("a", 0), ("b", 1)] {
            rules.insert(n.to_string(), json!({"Priority": p}));
        }
        rules.insert("c".into(), json!({"Priority": 0}));
        renumber(&mut rules, "c", Some(0));
        assert_eq!(
            (
                rules["c"]["Priority"].as_i64(),
                rules["a"]["Priority"].as_i64(),
                rules["b"]["Priority"].as_i64()
            ),
            (Some(0), Some(1), Some(2))
        );
    }
}
