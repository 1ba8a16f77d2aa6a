//! Exchange Online admin API: `POST /adminapi/beta/{tenant}/InvokeCommand` with the cmdlets an
//! inline-mode grant needs (connectors, transport rules, the connection filter policy,
//! mail-enabled security groups and their members), per-cmdlet parameter validation with
//! Exchange's error bodies, the role checks (403 with an empty body) and re-POST paging.

// Early answers are whole HTTP responses, as axum handlers return them.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::Sim;
use super::state::Tenant;
use crate::ids::EXCHANGE_APP_ID;
use crate::ids::{EXCHANGE_ADMINISTRATOR, GLOBAL_ADMINISTRATOR};
use crate::random::guid;

/// Kind of a parameter value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    Bool,
    Int,
    Strs,
    Enum(&'static [&'static str]),
    /// A multi-valued property that also accepts `{Add, Remove}`.
    Ips,
}

use Kind::*;

const CONNECTOR_TYPE: Kind = Enum(&["Partner", "OnPremises"]);
const SCOPE: Kind = Enum(&["InOrganization", "NotInOrganization"]);

fn inbound() -> Vec<(&'static str, Kind)> {
    vec![
        ("SenderDomains", Strs),
        ("ConnectorType", CONNECTOR_TYPE),
        ("SenderIPAddresses", Strs),
        ("RestrictDomainsToIPAddresses", Bool),
        ("TlsSenderCertificateName", Str),
        ("RestrictDomainsToCertificate", Bool),
        ("RequireTls", Bool),
        ("TreatMessagesAsInternal", Bool),
        ("CloudServicesMailEnabled", Bool),
        ("Enabled", Bool),
        ("Comment", Str),
        ("EFSkipLastIP", Bool),
        ("EFSkipIPs", Strs),
        ("EFUsers", Strs),
        ("AssociatedAcceptedDomains", Strs),
    ]
}

fn outbound() -> Vec<(&'static str, Kind)> {
    vec![
        ("ConnectorType", CONNECTOR_TYPE),
        ("SmartHosts", Strs),
        ("UseMXRecord", Bool),
        (
            "TlsSettings",
            Enum(&[
                "EncryptionOnly",
                "CertificateValidation",
                "DomainValidation",
            ]),
        ),
        ("TlsDomain", Str),
        ("RecipientDomains", Strs),
        ("IsTransportRuleScoped", Bool),
        ("RouteAllMessagesViaOnPremises", Bool),
        ("AllAcceptedDomains", Bool),
        ("CloudServicesMailEnabled", Bool),
        ("Enabled", Bool),
        ("Comment", Str),
        ("TestMode", Bool),
    ]
}

fn rule() -> Vec<(&'static str, Kind)> {
    vec![
        ("Priority", Int),
        ("Enabled", Bool),
        ("Mode", Enum(&["Enforce", "Audit", "AuditAndNotify"])),
        ("StopRuleProcessing", Bool),
        ("Comments", Str),
        ("FromScope", SCOPE),
        ("SentToScope", SCOPE),
        ("SentToMemberOf", Strs),
        ("FromMemberOf", Strs),
        ("SenderIpRanges", Strs),
        ("ExceptIfSenderIpRanges", Strs),
        ("HeaderContainsMessageHeader", Str),
        ("HeaderContainsWords", Strs),
        ("ExceptIfHeaderContainsMessageHeader", Str),
        ("ExceptIfHeaderContainsWords", Strs),
        ("HeaderMatchesMessageHeader", Str),
        ("HeaderMatchesPatterns", Strs),
        ("RouteMessageOutboundConnector", Str),
        ("SetHeaderName", Str),
        ("SetHeaderValue", Str),
        ("SetSCL", Int),
        ("RouteMessageOutboundRequireTls", Bool),
        ("ExceptIfFromMemberOf", Strs),
        ("RecipientDomainIs", Strs),
        ("SenderDomainIs", Strs),
        ("RuleErrorAction", Enum(&["Ignore", "Defer"])),
    ]
}

fn group() -> Vec<(&'static str, Kind)> {
    vec![
        ("Type", Enum(&["Distribution", "Security"])),
        ("Alias", Str),
        ("PrimarySmtpAddress", Str),
        ("Members", Strs),
        ("ManagedBy", Strs),
        (
            "MemberJoinRestriction",
            Enum(&["Open", "Closed", "ApprovalRequired"]),
        ),
        (
            "MemberDepartRestriction",
            Enum(&["Open", "Closed", "ApprovalRequired"]),
        ),
        ("RequireSenderAuthenticationEnabled", Bool),
        ("HiddenFromAddressListsEnabled", Bool),
        ("Notes", Str),
        ("DisplayName", Str),
    ]
}

/// The parameters of a cmdlet: (schema, required names), or `None` for an unknown cmdlet.
/// A cmdlet's parameters and the names of the required ones.
type Schema = (Vec<(&'static str, Kind)>, &'static [&'static str]);

fn schema(cmdlet: &str) -> Option<Schema> {
    let with = |mut v: Vec<(&'static str, Kind)>, extra: &[(&'static str, Kind)]| {
        v.extend_from_slice(extra);
        v
    };
    let confirm = [("Confirm", Bool)];
    Some(match cmdlet {
        "Get-InboundConnector"
        | "Get-OutboundConnector"
        | "Get-TransportRule"
        | "Get-HostedConnectionFilterPolicy"
        | "Get-DistributionGroup" => (vec![("Identity", Str), ("ResultSize", Str)], &[]),
        "New-InboundConnector" => (
            with(inbound(), &[("Name", Str)]),
            &["Name", "SenderDomains"],
        ),
        "Set-InboundConnector" => (
            with(inbound(), &[("Identity", Str), ("Name", Str)]),
            &["Identity"],
        ),
        "New-OutboundConnector" => (with(outbound(), &[("Name", Str)]), &["Name"]),
        "Set-OutboundConnector" => (
            with(outbound(), &[("Identity", Str), ("Name", Str)]),
            &["Identity"],
        ),
        "New-TransportRule" => (with(rule(), &[("Name", Str)]), &["Name"]),
        "Set-TransportRule" => (
            with(rule(), &[("Identity", Str), ("Name", Str)]),
            &["Identity"],
        ),
        "Remove-InboundConnector"
        | "Remove-OutboundConnector"
        | "Remove-TransportRule"
        | "Remove-DistributionGroup" => (
            with(
                vec![("Identity", Str), ("BypassSecurityGroupManagerCheck", Bool)],
                &confirm,
            ),
            &["Identity"],
        ),
        "Set-HostedConnectionFilterPolicy" => (
            vec![
                ("Identity", Str),
                ("IPAllowList", Ips),
                ("IPBlockList", Ips),
                ("EnableSafeList", Bool),
            ],
            &["Identity"],
        ),
        "New-DistributionGroup" => (with(group(), &[("Name", Str)]), &["Name"]),
        "Set-DistributionGroup" => (
            with(
                group(),
                &[
                    ("Identity", Str),
                    ("Name", Str),
                    ("BypassSecurityGroupManagerCheck", Bool),
                ],
            ),
            &["Identity"],
        ),
        "Get-DistributionGroupMember" => {
            (vec![("Identity", Str), ("ResultSize", Str)], &["Identity"])
        }
        "Add-DistributionGroupMember" | "Remove-DistributionGroupMember" => (
            with(
                vec![
                    ("Identity", Str),
                    ("Member", Str),
                    ("BypassSecurityGroupManagerCheck", Bool),
                ],
                &confirm,
            ),
            &["Identity", "Member"],
        ),
        _ => return None,
    })
}

fn error(status: u16, code: &str, id: &str, exception: &str, message: &str) -> Response {
    let body = json!({"error": {
        "code": code,
        "message": "Invalid Operation",
        "details": [{"code": "Client", "target": "", "message": format!("{id}|{exception}|{message}")}],
        "innererror": {
            "message": "Invalid Operation",
            "type": "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
            "stacktrace": "",
            "internalexception": {"message": message, "type": exception, "stacktrace": ""},
        }
    }});
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn invalid(message: &str) -> Response {
    error(
        400,
        "BadRequest",
        "Ex0C3B2A",
        "Microsoft.Exchange.Data.DataValidationException",
        message,
    )
}

fn not_found(identity: &str, tenant: &Tenant) -> Response {
    error(
        404,
        "NotFound",
        "Ex6F9304",
        "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
        &format!(
            "The operation couldn't be performed because object '{identity}' couldn't be found on '{}'.",
            tenant.default_domain()
        ),
    )
}

/// Checks an IPv4 address, CIDR (/24../32) or range of at most 256 addresses.
pub fn valid_ip_entry(entry: &str) -> bool {
    let ip = |s: &str| s.trim().parse::<std::net::Ipv4Addr>().ok();
    if let Some((addr, bits)) = entry.split_once('/') {
        return ip(addr).is_some() && bits.parse::<u8>().is_ok_and(|b| (24..=32).contains(&b));
    }
    if let Some((a, b)) = entry.split_once('-') {
        return match (ip(a), ip(b)) {
            (Some(a), Some(b)) => u32::from(b) >= u32::from(a) && u32::from(b) - u32::from(a) < 256,
            _ => false,
        };
    }
    ip(entry).is_some()
}

fn check(name: &str, kind: Kind, value: &Value) -> Result<Value, Response> {
    let transform = |expected: &str| {
        error(
            400,
            "BadRequest",
            "Ex2A6C86",
            "System.Management.Automation.ParameterBindingException",
            &format!(
                "Cannot process argument transformation on parameter '{name}'. Cannot convert value \"{value}\" to type \"{expected}\"."
            ),
        )
    };
    match kind {
        Str => value
            .as_str()
            .map(|s| json!(s))
            .ok_or_else(|| transform("System.String")),
        Bool => value
            .as_bool()
            .map(|b| json!(b))
            .ok_or_else(|| transform("System.Boolean")),
        Int => value
            .as_i64()
            .map(|i| json!(i))
            .ok_or_else(|| transform("System.Int32")),
        Strs | Ips => match value {
            Value::String(s) => Ok(json!([s])),
            Value::Array(a) if a.iter().all(Value::is_string) => Ok(value.clone()),
            Value::Object(o) if kind == Ips => Ok(Value::Object(o.clone())),
            _ => Err(transform("Microsoft.Exchange.Data.MultiValuedProperty")),
        },
        Enum(values) => match value.as_str() {
            Some(s) if values.iter().any(|v| v.eq_ignore_ascii_case(s)) => Ok(json!(
                values.iter().find(|v| v.eq_ignore_ascii_case(s)).unwrap()
            )),
            _ => Err(error(
                400,
                "BadRequest",
                "Ex2A6C86",
                "System.Management.Automation.ParameterBindingException",
                &format!(
                    "Cannot process argument transformation on parameter '{name}'. Cannot convert value \"{value}\" to type \"{}\". The possible values are: {}.",
                    name,
                    values.join(", ")
                ),
            )),
        },
    }
}

/// Adds `@odata.type` annotations to collection properties.
fn annotate(obj: &Value) -> Value {
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

fn envelope(base: &str, tenant: &str, values: Vec<Value>, next: Option<String>) -> Response {
    let mut body = json!({
        "@odata.context": format!("{base}/adminapi/beta/{tenant}/$metadata#Collection(Exchange.GenericHashTable)"),
        "adminapi.warnings@odata.type": "#Collection(String)",
        "@adminapi.warnings": [],
        "value": values.iter().map(annotate).collect::<Vec<_>>(),
    });
    if let Some(n) = next {
        body["@odata.nextLink"] = json!(n);
    }
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn find<'a>(objects: &'a BTreeMap<String, Value>, identity: &str) -> Option<&'a String> {
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

/// Renumbers transport rules so that priorities are 0..n in order, placing `moved` at `wanted`.
fn renumber(rules: &mut BTreeMap<String, Value>, moved: &str, wanted: Option<i64>) {
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

/// `POST /adminapi/beta/{tenant}/InvokeCommand`.
pub async fn invoke(
    State(sim): State<Arc<Sim>>,
    Path(tenant_name): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: String,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(claims) = token.and_then(|t| sim.signer.verify(t)) else {
        return (
            StatusCode::UNAUTHORIZED,
            [("www-authenticate", "Bearer")],
            "",
        )
            .into_response();
    };
    let mut world = sim.world.lock().unwrap();
    let now = world.now();
    if claims["exp"].as_i64().unwrap_or(0) <= now.as_second()
        || crate::ids::resource_of(claims["aud"].as_str().unwrap_or("")) != Some(EXCHANGE_APP_ID)
    {
        return (
            StatusCode::UNAUTHORIZED,
            [("www-authenticate", "Bearer")],
            "",
        )
            .into_response();
    }
    let tid = claims["tid"].as_str().unwrap_or("").to_string();
    if world.tenant(&tenant_name).is_none_or(|t| t.id != tid) {
        return (
            StatusCode::UNAUTHORIZED,
            [("www-authenticate", "Bearer")],
            "",
        )
            .into_response();
    }
    let has_role = claims["roles"]
        .as_array()
        .is_some_and(|r| r.iter().any(|x| x == "Exchange.ManageAsApp"));
    let has_directory_role = claims["wids"].as_array().is_some_and(|w| {
        w.iter()
            .any(|x| x == EXCHANGE_ADMINISTRATOR || x == GLOBAL_ADMINISTRATOR)
    });
    if !has_role || !has_directory_role {
        return StatusCode::FORBIDDEN.into_response();
    }
    let request: Value = serde_json::from_str(&body).unwrap_or_default();
    let cmdlet = request["CmdletInput"]["CmdletName"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let params = request["CmdletInput"]["Parameters"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let Some((schema, required)) = schema(&cmdlet) else {
        return error(
            400,
            "BadRequest",
            "Ex9A1B2C",
            "System.Management.Automation.CommandNotFoundException",
            &format!(
                "The term '{cmdlet}' is not recognized as a name of a cmdlet, function, script file, or executable program."
            ),
        );
    };
    let mut args = Map::new();
    for (name, value) in &params {
        let Some((canonical, kind)) = schema.iter().find(|(n, _)| n.eq_ignore_ascii_case(name))
        else {
            return error(
                400,
                "BadRequest",
                "",
                "Microsoft.Exchange.AdminApi.CommandInvocation.AmbiguousParameterSetException",
                &format!(
                    "Parameter set cannot be resolved using the specified named parameters. One or more parameters issued cannot be used together or an insufficient number of parameters were provided. {name}"
                ),
            );
        };
        match check(canonical, *kind, value) {
            Ok(v) => {
                args.insert(canonical.to_string(), v);
            }
            Err(r) => return r,
        }
    }
    for r in required {
        if !args.contains_key(*r) {
            return error(
                400,
                "BadRequest",
                "Ex3B4C5D",
                "System.Management.Automation.ParameterBindingException",
                &format!(
                    "Cannot process command because of one or more missing mandatory parameters: {r}."
                ),
            );
        }
    }
    let base = sim.base_url.clone();
    let tenant = world.tenant_mut(&tenant_name).expect("checked");
    let (verb, noun) = cmdlet.split_once('-').unwrap_or(("", ""));
    let kind = match noun {
        "DistributionGroupMember" => "DistributionGroup",
        other => other,
    };
    if kind == "HostedConnectionFilterPolicy" {
        tenant.exchange.entry(kind.into()).or_default().entry("Default".into()).or_insert_with(|| json!({"Identity": "Default", "Name": "Default", "Guid": guid(), "IPAllowList": [], "IPBlockList": [], "EnableSafeList": false, "IsDefault": true}));
    }
    let snapshot = tenant.clone();
    let objects = tenant.exchange.entry(kind.to_string()).or_default();
    let identity = args
        .get("Identity")
        .and_then(Value::as_str)
        .map(String::from);
    match (verb, noun) {
        ("Get", "DistributionGroupMember") => {
            let Some(key) = find(objects, identity.as_deref().unwrap_or("")).cloned() else {
                return not_found(identity.as_deref().unwrap_or(""), &snapshot);
            };
            let members: Vec<Value> = objects[&key]["Members"].as_array().cloned().unwrap_or_default().iter().map(|m| json!({"Identity": m, "Name": m, "PrimarySmtpAddress": m, "RecipientType": "UserMailbox"})).collect();
            envelope(&base, &tenant_name, members, None)
        }
        ("Get", _) => {
            let mut list: Vec<Value> = match &identity {
                Some(id) => match find(objects, id) {
                    Some(k) => vec![objects[k].clone()],
                    None => return not_found(id, &snapshot),
                },
                None => objects.values().cloned().collect(),
            };
            if kind == "TransportRule" {
                list.sort_by_key(|r| r["Priority"].as_i64().unwrap_or(0));
            }
            let size = headers
                .get("prefer")
                .and_then(|v| v.to_str().ok())
                .and_then(|p| {
                    p.split(',').find_map(|x| {
                        x.trim()
                            .strip_prefix("odata.maxpagesize=")?
                            .parse::<usize>()
                            .ok()
                    })
                })
                .unwrap_or(1000)
                .clamp(1, 1000);
            let offset: usize = raw
                .as_deref()
                .and_then(|q| {
                    q.split('&')
                        .find_map(|kv| kv.strip_prefix("$skiptoken=")?.parse().ok())
                })
                .unwrap_or(0);
            let end = (offset + size).min(list.len());
            let next = (end < list.len()).then(|| {
                format!("{base}/adminapi/beta/{tenant_name}/InvokeCommand?$skiptoken={end}")
            });
            envelope(
                &base,
                &tenant_name,
                list[offset.min(list.len())..end].to_vec(),
                next,
            )
        }
        ("New", _) => {
            let name = args["Name"].as_str().unwrap_or("").to_string();
            if kind == "DistributionGroup" && name.chars().count() > 64 {
                return invalid(&format!(
                    "The length of the property is too long. The maximum length is 64 and the length of the value provided is {}.",
                    name.chars().count()
                ));
            }
            if find(objects, &name).is_some()
                || (kind == "DistributionGroup"
                    && args.get("Alias").and_then(Value::as_str).is_some_and(|a| {
                        objects.values().any(|o| {
                            o["Alias"]
                                .as_str()
                                .is_some_and(|x| x.eq_ignore_ascii_case(a))
                        })
                    }))
            {
                return error(
                    400,
                    "BadRequest",
                    "Ex5E6F70",
                    "Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException",
                    &format!("The object '{name}' already exists."),
                );
            }
            let mut obj = json!({"Identity": name, "Name": name, "Guid": guid(), "WhenCreatedUTC": now.to_string()});
            match kind {
                "InboundConnector" => defaults(
                    &mut obj,
                    &[
                        ("ConnectorType", json!("Partner")),
                        ("RequireTls", json!(true)),
                        ("Enabled", json!(true)),
                        ("RestrictDomainsToIPAddresses", json!(false)),
                        ("RestrictDomainsToCertificate", json!(false)),
                        ("EFSkipIPs", json!([])),
                    ],
                ),
                "OutboundConnector" => defaults(
                    &mut obj,
                    &[
                        ("ConnectorType", json!("Partner")),
                        ("UseMXRecord", json!(true)),
                        ("Enabled", json!(true)),
                        ("IsTransportRuleScoped", json!(false)),
                        ("SmartHosts", json!([])),
                    ],
                ),
                "TransportRule" => defaults(
                    &mut obj,
                    &[
                        ("State", json!("Enabled")),
                        ("Mode", json!("Enforce")),
                        ("StopRuleProcessing", json!(false)),
                    ],
                ),
                "DistributionGroup" => {
                    let alias = args
                        .get("Alias")
                        .and_then(Value::as_str)
                        .map(String::from)
                        .unwrap_or_else(|| name.replace(' ', ""));
                    defaults(
                        &mut obj,
                        &[
                            (
                                "GroupType",
                                json!(if args.get("Type").and_then(Value::as_str)
                                    == Some("Security")
                                {
                                    "Universal, SecurityEnabled"
                                } else {
                                    "Universal"
                                }),
                            ),
                            ("Alias", json!(alias)),
                            (
                                "PrimarySmtpAddress",
                                json!(format!("{alias}@{}", snapshot.default_domain())),
                            ),
                            ("Members", json!([])),
                            ("MemberJoinRestriction", json!("Closed")),
                            ("MemberDepartRestriction", json!("Closed")),
                        ],
                    );
                }
                _ => {}
            }
            for (k, v) in &args {
                obj[k] = v.clone();
            }
            if let Err(r) = validate(kind, &obj, objects, &snapshot) {
                return r;
            }
            objects.insert(name.clone(), obj);
            if kind == "TransportRule" {
                let wanted = args.get("Priority").and_then(Value::as_i64);
                renumber(objects, &name, wanted);
            }
            envelope(&base, &tenant_name, vec![objects[&name].clone()], None)
        }
        ("Set", _) => {
            let id = identity.unwrap_or_default();
            let Some(key) = find(objects, &id).cloned() else {
                return not_found(&id, &snapshot);
            };
            let mut obj = objects[&key].clone();
            for (k, v) in &args {
                if k == "Identity" {
                    continue;
                }
                if let (Some(set), true) = (
                    v.as_object(),
                    matches!(k.as_str(), "IPAllowList" | "IPBlockList"),
                ) {
                    let mut list: Vec<Value> = obj[k].as_array().cloned().unwrap_or_default();
                    for add in set
                        .get("Add")
                        .map(|a| {
                            if a.is_array() {
                                a.as_array().cloned().unwrap_or_default()
                            } else {
                                vec![a.clone()]
                            }
                        })
                        .unwrap_or_default()
                    {
                        if !list.contains(&add) {
                            list.push(add);
                        }
                    }
                    for remove in set
                        .get("Remove")
                        .map(|a| {
                            if a.is_array() {
                                a.as_array().cloned().unwrap_or_default()
                            } else {
                                vec![a.clone()]
                            }
                        })
                        .unwrap_or_default()
                    {
                        list.retain(|x| *x != remove);
                    }
                    obj[k] = Value::Array(list);
                } else {
                    obj[k] = v.clone();
                }
            }
            if let Err(r) = validate(kind, &obj, objects, &snapshot) {
                return r;
            }
            let name = obj["Name"].as_str().unwrap_or(&key).to_string();
            obj["Identity"] = json!(name);
            objects.remove(&key);
            objects.insert(name.clone(), obj);
            if kind == "TransportRule" {
                renumber(
                    objects,
                    &name,
                    args.get("Priority")
                        .and_then(Value::as_i64)
                        .or(objects[&name]["Priority"].as_i64()),
                );
            }
            envelope(&base, &tenant_name, vec![], None)
        }
        ("Remove", "DistributionGroupMember") | ("Add", "DistributionGroupMember") => {
            let id = identity.unwrap_or_default();
            let Some(key) = find(objects, &id).cloned() else {
                return not_found(&id, &snapshot);
            };
            let member = args["Member"].as_str().unwrap_or("").to_string();
            let Some(user) = snapshot.find_user(&member) else {
                return not_found(&member, &snapshot);
            };
            let members = objects
                .get_mut(&key)
                .and_then(|o| o["Members"].as_array_mut())
                .expect("groups have members");
            let present = members.iter().any(|m| {
                m.as_str()
                    .is_some_and(|x| x.eq_ignore_ascii_case(&user.upn))
            });
            if verb == "Add" {
                if present {
                    return error(
                        400,
                        "BadRequest",
                        "ExB3C4D5",
                        "Microsoft.Exchange.Management.Tasks.MemberAlreadyExistsException",
                        &format!(
                            "The recipient \"{}\" is already a member of the group \"{key}\".",
                            user.upn
                        ),
                    );
                }
                members.push(json!(user.upn));
            } else {
                if !present {
                    return error(
                        400,
                        "BadRequest",
                        "ExC4D5E6",
                        "Microsoft.Exchange.Management.Tasks.MemberNotFoundException",
                        &format!(
                            "The recipient \"{}\" isn't a member of the group \"{key}\".",
                            user.upn
                        ),
                    );
                }
                members.retain(|m| {
                    m.as_str()
                        .is_none_or(|x| !x.eq_ignore_ascii_case(&user.upn))
                });
            }
            envelope(&base, &tenant_name, vec![], None)
        }
        ("Remove", _) => {
            let id = identity.unwrap_or_default();
            let Some(key) = find(objects, &id).cloned() else {
                return not_found(&id, &snapshot);
            };
            objects.remove(&key);
            if kind == "TransportRule" {
                renumber(objects, "", None);
            }
            envelope(&base, &tenant_name, vec![], None)
        }
        _ => error(
            400,
            "BadRequest",
            "Ex9A1B2C",
            "System.Management.Automation.CommandNotFoundException",
            &format!("The term '{cmdlet}' is not recognized."),
        ),
    }
}

fn defaults(obj: &mut Value, values: &[(&str, Value)]) {
    for (k, v) in values {
        obj[*k] = v.clone();
    }
}

/// Whether an Exchange object of `kind` named `name` exists.
fn exists(tenant: &Tenant, kind: &str, name: &str) -> bool {
    tenant
        .exchange
        .get(kind)
        .and_then(|objects| find(objects, name))
        .is_some()
}

/// Semantic checks of an object about to be stored.
fn validate(
    kind: &str,
    obj: &Value,
    objects: &BTreeMap<String, Value>,
    tenant: &Tenant,
) -> Result<(), Response> {
    let s = |k: &str| obj[k].as_str().unwrap_or("");
    let b = |k: &str| obj[k].as_bool().unwrap_or(false);
    let list = |k: &str| obj[k].as_array().cloned().unwrap_or_default();
    match kind {
        "InboundConnector" => {
            if s("ConnectorType") != "Partner"
                && (b("RestrictDomainsToIPAddresses") || b("RestrictDomainsToCertificate"))
            {
                return Err(invalid(
                    "RestrictDomainsToIPAddresses and RestrictDomainsToCertificate can only be set on a Partner connector.",
                ));
            }
            if s("ConnectorType") == "Partner" && b("TreatMessagesAsInternal") {
                return Err(invalid(
                    "TreatMessagesAsInternal can only be set on an OnPremises connector.",
                ));
            }
            for ip in list("SenderIPAddresses")
                .iter()
                .chain(list("EFSkipIPs").iter())
            {
                if !ip.as_str().is_some_and(valid_ip_entry) {
                    return Err(invalid(&format!(
                        "The IP address {ip} isn't valid: use IPv4 addresses, ranges or CIDR /24 to /32."
                    )));
                }
            }
        }
        "OutboundConnector" => {
            if !b("UseMXRecord") && list("SmartHosts").is_empty() {
                return Err(invalid(
                    "SmartHosts must be specified when UseMXRecord is false.",
                ));
            }
            if !s("TlsDomain").is_empty() && s("TlsSettings") != "DomainValidation" {
                return Err(invalid(
                    "TlsDomain can only be set when TlsSettings is DomainValidation.",
                ));
            }
        }
        "TransportRule" => {
            if obj.get("SetHeaderName").is_some() != obj.get("SetHeaderValue").is_some() {
                return Err(invalid(
                    "SetHeaderName and SetHeaderValue must be used together.",
                ));
            }
            let connector = s("RouteMessageOutboundConnector");
            if !connector.is_empty() && !exists(tenant, "OutboundConnector", connector) {
                return Err(error(
                    404,
                    "NotFound",
                    "Ex6F9304",
                    "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
                    &format!(
                        "The operation couldn't be performed because object '{connector}' couldn't be found."
                    ),
                ));
            }
            for g in list("SentToMemberOf")
                .iter()
                .chain(list("FromMemberOf").iter())
            {
                let name = g.as_str().unwrap_or("");
                if !exists(tenant, "DistributionGroup", name) {
                    return Err(invalid(&format!("The group '{name}' couldn't be found.")));
                }
            }
            if obj["SetSCL"]
                .as_i64()
                .is_some_and(|v| !(-1..=9).contains(&v))
            {
                return Err(invalid("SetSCL must be -1 or between 0 and 9."));
            }
            let _ = objects;
        }
        "HostedConnectionFilterPolicy" => {
            for ip in list("IPAllowList").iter().chain(list("IPBlockList").iter()) {
                if !ip.as_str().is_some_and(valid_ip_entry) {
                    return Err(invalid(&format!(
                        "The IP address {ip} isn't valid: IPv6 isn't supported; use single IPv4 addresses, ranges of up to 256 addresses or CIDR /24 to /32."
                    )));
                }
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_entries_follow_the_connection_filter_rules() {
        for ok in [
            "203.0.113.10",
            "203.0.113.0/24",
            "203.0.113.0-203.0.113.255",
        ] {
            assert!(valid_ip_entry(ok), "{ok}");
        }
        for bad in ["2001:db8::1", "203.0.0.0/16", "10.0.0.0-10.0.1.255", "nope"] {
            assert!(!valid_ip_entry(bad), "{bad}");
        }
    }

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
