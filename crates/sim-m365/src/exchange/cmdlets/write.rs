//! `New-*`, `Set-*` and `Remove-*` cmdlets: objects get Exchange's defaults, are validated
//! before they are stored, and transport rules keep priorities 0..n.

use axum::response::Response;
use serde_json::{Map, Value, json};

use super::super::Invocation;
use super::super::objects::{find, invalid, renumber};
use super::super::validation::validate;
use crate::errors;
use exo_sim_http::ids::uuid_v4;

/// Longest name (and group alias) where Learn gives a limit: outbound connectors, transport
/// rules and distribution groups.
const MAX_NAME: usize = 64;

/// Whether Learn limits the names of `kind` to [`MAX_NAME`] characters.
fn name_limited(kind: &str) -> bool {
    matches!(
        kind,
        "OutboundConnector" | "TransportRule" | "DistributionGroup"
    )
}

/// `New-*`: 400 if the name (or a group's alias) is taken.
pub(super) fn create(inv: &mut Invocation) -> Response {
    let name = inv.args["Name"].as_str().unwrap_or("").to_string();
    if let Some(refusal) = name_refusal(inv, &name) {
        return refusal;
    }
    let mut obj = json!({"Identity": name, "Name": name, "Guid": uuid_v4(), "WhenCreatedUTC": inv.now.to_string()});
    let properties = defaults(inv, &name)
        .as_object()
        .cloned()
        .unwrap_or_default();
    for (k, v) in properties.iter().chain(&inv.args) {
        obj[k] = v.clone();
    }
    if inv.kind == "TransportRule"
        && let Some(enabled) = obj.as_object_mut().and_then(|o| o.remove("Enabled"))
    {
        obj["State"] = json!(state(enabled.as_bool().unwrap_or(true)));
    }
    if let Err(r) = validate(inv.kind, &obj, &inv.snapshot) {
        return r;
    }
    let wanted = inv.args.get("Priority").and_then(Value::as_i64);
    if inv.kind == "TransportRule"
        && let Some(refusal) = priority_refusal(wanted, inv.objects.len() + 1)
    {
        return refusal;
    }
    inv.objects.insert(name.clone(), obj);
    if inv.kind == "TransportRule" {
        renumber(inv.objects, &name, wanted);
    }
    let created = inv.objects[&name].clone();
    inv.reply(vec![created], None)
}

/// Why `name` cannot be used for a new object, if it cannot.
fn name_refusal(inv: &Invocation, name: &str) -> Option<Response> {
    let group = inv.kind == "DistributionGroup";
    let alias = inv.args.get("Alias").and_then(Value::as_str).unwrap_or("");
    let limited = [name, alias]
        .map(|v| v.chars().count())
        .into_iter()
        .find(|&length| name_limited(inv.kind) && length > MAX_NAME);
    if let Some(length) = limited {
        return Some(invalid(&format!(
            "The length of the property is too long. The maximum length is {MAX_NAME} and the length of the value provided is {length}."
        )));
    }
    let alias_taken = || {
        inv.args
            .get("Alias")
            .and_then(Value::as_str)
            .is_some_and(|a| {
                inv.objects.values().any(|o| {
                    o["Alias"]
                        .as_str()
                        .is_some_and(|x| x.eq_ignore_ascii_case(a))
                })
            })
    };
    (find(inv.objects, name).is_some() || (group && alias_taken())).then(|| {
        errors::exchange(
            400,
            "BadRequest",
            "Ex5E6F70",
            "Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException",
            &format!("The object '{name}' already exists."),
        )
    })
}

/// The properties Exchange sets on a new object of the invocation's kind.
fn defaults(inv: &Invocation, name: &str) -> Value {
    match inv.kind {
        "InboundConnector" => json!({
            "ConnectorType": "Partner", "RequireTls": true, "Enabled": true,
            "RestrictDomainsToIPAddresses": false, "RestrictDomainsToCertificate": false,
            "EFSkipIPs": [],
        }),
        "OutboundConnector" => json!({
            "ConnectorType": "Partner", "UseMXRecord": true, "Enabled": true,
            "IsTransportRuleScoped": false, "SmartHosts": [],
        }),
        "TransportRule" => {
            json!({"State": "Enabled", "Mode": "Enforce", "StopRuleProcessing": false})
        }
        "DistributionGroup" => {
            let alias = inv
                .args
                .get("Alias")
                .and_then(Value::as_str)
                .map(String::from)
                .unwrap_or_else(|| name.replace(' ', ""));
            let security = inv.args.get("Type").and_then(Value::as_str) == Some("Security");
            json!({
                "GroupType": if security { "Universal, SecurityEnabled" } else { "Universal" },
                "Alias": alias,
                "PrimarySmtpAddress": format!("{alias}@{}", inv.snapshot.default_domain()),
                "Members": [], "MemberJoinRestriction": "Closed",
                "MemberDepartRestriction": if security { "Closed" } else { "Open" },
                "HiddenFromAddressListsEnabled": false,
            })
        }
        _ => json!({}),
    }
}

/// `Set-*`: a new `Name` renames; `IPAllowList`/`IPBlockList` take `{Add, Remove}`.
pub(super) fn update(inv: &mut Invocation) -> Response {
    let key = match inv.find_identity() {
        Ok(key) => key,
        Err(refusal) => return refusal,
    };
    let mut obj = inv.objects[&key].clone();
    for (k, v) in inv.args.iter().filter(|(k, _)| *k != "Identity") {
        obj[k] = match (
            v.as_object(),
            matches!(k.as_str(), "IPAllowList" | "IPBlockList"),
        ) {
            (Some(changes), true) => apply_changes(&obj[k], changes),
            _ => v.clone(),
        };
    }
    if let Err(r) = validate(inv.kind, &obj, &inv.snapshot) {
        return r;
    }
    let name = obj["Name"].as_str().unwrap_or(&key).to_string();
    if name_limited(inv.kind) && name.chars().count() > MAX_NAME {
        return invalid(&format!(
            "The length of the property is too long. The maximum length is {MAX_NAME} and the length of the value provided is {}.",
            name.chars().count()
        ));
    }
    if inv.kind == "TransportRule"
        && let Some(refusal) = priority_refusal(
            inv.args.get("Priority").and_then(Value::as_i64),
            inv.objects.len(),
        )
    {
        return refusal;
    }
    obj["Identity"] = json!(name);
    inv.objects.remove(&key);
    inv.objects.insert(name.clone(), obj);
    if inv.kind == "TransportRule" {
        let wanted = inv.args.get("Priority").and_then(Value::as_i64);
        let priority = wanted.or(inv.objects[&name]["Priority"].as_i64());
        renumber(inv.objects, &name, priority);
    }
    inv.done()
}

/// A transport rule's `State`.
fn state(enabled: bool) -> &'static str {
    if enabled { "Enabled" } else { "Disabled" }
}

/// Why a transport rule cannot take `priority` among `count` rules (itself included), if it
/// cannot: Learn allows 0 through `count - 1`.
fn priority_refusal(priority: Option<i64>, count: usize) -> Option<Response> {
    let p = priority?;
    (p < 0 || p >= count as i64).then(|| {
        invalid(&format!(
            "The value of parameter Priority must be between 0 and {}.",
            count.saturating_sub(1)
        ))
    })
}

/// `Enable-TransportRule`.
pub(super) fn enable(inv: &mut Invocation) -> Response {
    set_state(inv, true)
}

/// `Disable-TransportRule`.
pub(super) fn disable(inv: &mut Invocation) -> Response {
    set_state(inv, false)
}

fn set_state(inv: &mut Invocation, enabled: bool) -> Response {
    let key = match inv.find_identity() {
        Ok(key) => key,
        Err(refusal) => return refusal,
    };
    if let Some(rule) = inv.objects.get_mut(&key) {
        rule["State"] = json!(state(enabled));
    }
    inv.done()
}

/// A multi-valued property after `{Add: …, Remove: …}` (each one value or a list).
fn apply_changes(current: &Value, changes: &Map<String, Value>) -> Value {
    let values = |key: &str| match changes.get(key) {
        Some(Value::Array(a)) => a.clone(),
        Some(one) => vec![one.clone()],
        None => Vec::new(),
    };
    let mut list: Vec<Value> = current.as_array().cloned().unwrap_or_default();
    for add in values("Add") {
        if !list.contains(&add) {
            list.push(add);
        }
    }
    for remove in values("Remove") {
        list.retain(|x| *x != remove);
    }
    Value::Array(list)
}

/// `Remove-*`.
pub(super) fn remove(inv: &mut Invocation) -> Response {
    let key = match inv.find_identity() {
        Ok(key) => key,
        Err(refusal) => return refusal,
    };
    inv.objects.remove(&key);
    if inv.kind == "TransportRule" {
        renumber(inv.objects, "", None);
    }
    inv.done()
}
