//! The Exchange objects an inline-mode account needs, and how an object in the tenant differs
//! from them. Pure: no I/O.
//!
//! Mail keeps arriving at Exchange Online (the MX record does not move). A transport rule sends
//! protected mail to the service through a transport-rule-scoped outbound connector; the service
//! returns it through a partner inbound connector identified by its TLS certificate, with
//! enhanced filtering skipping the service's IPs. Loop prevention takes both the service's IPs
//! and a tenant-specific header token. A second rule skips spam filtering for mail that returns
//! from the service, and the service's IPs are merged into the connection-filter allow list.
//! The inbound connector does not restrict senders to the certificate: mail from the internet
//! still arrives directly, and such a restriction would reject it.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use exo_api::email_security_service::ServiceMailFlow;
use exo_api::exchange_service_account::{Direction, InlineSpec, SyncScope};

/// Header stamped on mail routed to the service; its value is the tenant's routing token.
pub const ROUTED_HEADER: &str = "X-EXO-Operator-Routed";

/// Kind of an Exchange object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A mail-enabled security group.
    Group,
    /// A connector from Exchange to the service.
    OutboundConnector,
    /// A connector from the service to Exchange.
    InboundConnector,
    /// A mail flow rule.
    TransportRule,
}

impl Kind {
    /// The cmdlet noun.
    pub fn noun(self) -> &'static str {
        match self {
            Self::Group => "DistributionGroup",
            Self::OutboundConnector => "OutboundConnector",
            Self::InboundConnector => "InboundConnector",
            Self::TransportRule => "TransportRule",
        }
    }

    /// The field holding the ownership marker, if the kind has one.
    pub fn comment_field(self) -> Option<&'static str> {
        match self {
            Self::Group => None,
            Self::OutboundConnector | Self::InboundConnector => Some("Comment"),
            Self::TransportRule => Some("Comments"),
        }
    }

    /// Parses a noun.
    pub fn from_noun(noun: &str) -> Option<Self> {
        [
            Self::Group,
            Self::OutboundConnector,
            Self::InboundConnector,
            Self::TransportRule,
        ]
        .into_iter()
        .find(|k| k.noun() == noun)
    }
}

/// One object as it should be.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredObject {
    /// Kind.
    pub kind: Kind,
    /// Name (unique per kind).
    pub name: String,
    /// Parameters compared with the tenant and set on `New-`/`Set-`.
    pub params: Map<String, Value>,
    /// Parameters set only on creation (`Priority`, `Alias`, `Type`).
    pub create_only: Map<String, Value>,
    /// Members (groups only), as user principal names.
    pub members: Option<Vec<String>>,
}

impl DesiredObject {
    /// `Kind/Name`, as listed in status.
    pub fn id(&self) -> String {
        format!("{}/{}", self.kind.noun(), self.name)
    }
}

/// What the desired state depends on.
#[derive(Clone, Debug)]
pub struct Inputs<'a> {
    /// The account, as its ownership marker names it.
    pub owner: Owner<'a>,
    /// The inline settings.
    pub inline: &'a InlineSpec,
    /// Where the service receives mail (its relay, certificate and addresses).
    pub service: &'a ServiceMailFlow,
    /// Sync scope: `Selected` scopes rules to groups, `All` to the mail domains.
    pub scope: SyncScope,
    /// Protected users (Selected).
    pub members: &'a [String],
    /// The tenant's verified mail domains (All).
    pub domains: &'a [String],
    /// The tenant's routing token.
    pub token: &'a str,
}

const MARKER: &str = "Managed by exo-operator for ";

/// One account as an ownership marker names it: `namespace/name` and its uid, so that an
/// account of the same name created later (another uid) does not take over what it finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner<'a> {
    /// `namespace/name`.
    pub account: &'a str,
    /// `metadata.uid`.
    pub uid: &'a str,
}

/// Who an object's comment says owns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mark {
    /// No exo-operator marker.
    None,
    /// This account (or, from a version without uids, an account of the same name).
    Mine,
    /// Another account, named.
    Another(String),
}

impl Owner<'_> {
    /// The ownership marker written into comments.
    pub fn marker(&self) -> String {
        format!(
            "{MARKER}{} (uid {}); changes are reverted or reported.",
            self.account, self.uid
        )
    }

    /// Whom `comment` names as the owner, from this account's point of view.
    pub fn recognise(&self, comment: &str) -> Mark {
        let Some(start) = comment.find(MARKER) else {
            return Mark::None;
        };
        let rest = &comment[start + MARKER.len()..];
        let named = rest.split([';', ' ']).next().unwrap_or_default();
        let uid = rest
            .split_once("(uid ")
            .and_then(|(_, u)| u.split_once(')'))
            .map(|(u, _)| u);
        let mine = match uid {
            Some(uid) => uid == self.uid,
            None => named == self.account,
        };
        if mine {
            Mark::Mine
        } else {
            Mark::Another(named.to_string())
        }
    }
}

/// Whether a comment carries an exo-operator marker (of any account).
pub fn is_marked(comment: &str) -> bool {
    comment.contains(MARKER)
}

/// Names of the objects, from the prefix.
pub struct Names {
    prefix: String,
}

impl Names {
    /// Names under `prefix`.
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_string(),
        }
    }

    fn n(&self, what: &str) -> String {
        format!("{} {what}", self.prefix)
    }

    /// The inbound scope group.
    pub fn inbound_group(&self) -> String {
        self.n("Inbound Protected Users")
    }
    /// The outbound scope group.
    pub fn outbound_group(&self) -> String {
        self.n("Outbound Protected Users")
    }
    /// The connector that carries incoming mail to the service.
    pub fn inbound_route_connector(&self) -> String {
        self.n("Connector to Service (Inbound)")
    }
    /// The connector that carries outgoing mail to the service.
    pub fn outbound_route_connector(&self) -> String {
        self.n("Connector to Service (Outbound)")
    }
    /// The connector for mail returning from the service.
    pub fn return_connector(&self) -> String {
        self.n("Connector from Service")
    }
    /// The rule that routes incoming mail.
    pub fn inbound_rule(&self) -> String {
        self.n("Route Inbound Mail to Service")
    }
    /// The rule that routes outgoing mail.
    pub fn outbound_rule(&self) -> String {
        self.n("Route Outbound Mail to Service")
    }
    /// The rule that skips spam filtering for returning mail.
    pub fn skip_spam_rule(&self) -> String {
        self.n("Skip Spam Filtering for Mail from Service")
    }
}

fn alias(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

fn map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Every object `inputs` asks for, in creation order (groups, connectors, rules).
pub fn desired(inputs: &Inputs) -> Vec<DesiredObject> {
    let plan = Plan::new(inputs);
    let names = &plan.names;
    let mut out = Vec::new();
    if plan.selected {
        out.push(plan.group(names.inbound_group()));
        if plan.outbound {
            out.push(plan.group(names.outbound_group()));
        }
    }
    out.push(plan.route_connector(names.inbound_route_connector()));
    if plan.outbound {
        out.push(plan.route_connector(names.outbound_route_connector()));
    }
    out.push(plan.return_connector());
    out.push(plan.inbound_rule());
    out.push(plan.skip_spam_rule());
    if plan.outbound {
        out.push(plan.outbound_rule());
    }
    out
}

/// What several of the desired objects share, from [`Inputs`].
struct Plan<'a> {
    names: Names,
    /// The service's relay, certificate and addresses.
    service: &'a ServiceMailFlow,
    /// The ownership marker.
    comment: String,
    /// The service's IP ranges.
    ips: Value,
    /// The tenant's routing token.
    token: &'a str,
    /// Protected users: lower-cased, sorted, without duplicates.
    members: Vec<String>,
    /// Mail domains: lower-cased, sorted, without duplicates.
    domains: Vec<String>,
    /// Rules scoped to groups (`Selected`) rather than to the mail domains.
    selected: bool,
    /// Outgoing mail is routed too.
    outbound: bool,
}

impl<'a> Plan<'a> {
    /// The plan for `inputs`.
    fn new(inputs: &Inputs<'a>) -> Self {
        let service = inputs.service;
        Self {
            names: Names::new(&inputs.inline.mail_flow.name_prefix),
            service,
            comment: inputs.owner.marker(),
            ips: json!(service.service_ip_ranges),
            token: inputs.token,
            members: lowercase_set(inputs.members),
            domains: lowercase_set(inputs.domains),
            selected: inputs.scope == SyncScope::Selected,
            outbound: inputs.inline.direction == Direction::InboundOutbound,
        }
    }

    /// A hidden mail-enabled security group of the protected users.
    fn group(&self, name: String) -> DesiredObject {
        DesiredObject {
            kind: Kind::Group,
            create_only: map(json!({"Type": "Security", "Alias": alias(&name)})),
            params: map(json!({"HiddenFromAddressListsEnabled": true})),
            name,
            members: Some(self.members.clone()),
        }
    }

    /// A transport-rule-scoped connector carrying mail to the service's smart host.
    fn route_connector(&self, name: String) -> DesiredObject {
        let mail_flow = self.service;
        DesiredObject {
            kind: Kind::OutboundConnector,
            name,
            params: map(json!({
                "ConnectorType": "Partner",
                "UseMXRecord": false,
                "SmartHosts": [mail_flow.smart_host],
                "TlsSettings": "DomainValidation",
                "TlsDomain": mail_flow.tls_certificate_domain,
                "IsTransportRuleScoped": true,
                "Enabled": true,
                "Comment": self.comment,
            })),
            create_only: Map::new(),
            members: None,
        }
    }

    /// The partner connector for mail returning from the service, known by its certificate.
    fn return_connector(&self) -> DesiredObject {
        DesiredObject {
            kind: Kind::InboundConnector,
            name: self.names.return_connector(),
            params: map(json!({
                "ConnectorType": "Partner",
                "SenderDomains": ["*"],
                "TlsSenderCertificateName": self.service.tls_certificate_domain,
                "RequireTls": true,
                "RestrictDomainsToCertificate": false,
                "RestrictDomainsToIPAddresses": false,
                "EFSkipLastIP": false,
                "EFSkipIPs": self.ips,
                "Enabled": true,
                "Comment": self.comment,
            })),
            create_only: Map::new(),
            members: None,
        }
    }

    /// The rule routing incoming mail to the service: to the inbound group's members, or to
    /// the mail domains.
    fn inbound_rule(&self) -> DesiredObject {
        let scope = if self.selected {
            json!({"FromScope": "NotInOrganization", "SentToMemberOf": [self.names.inbound_group()]})
        } else {
            json!({"FromScope": "NotInOrganization", "RecipientDomainIs": self.domains})
        };
        let (name, connector) = (
            self.names.inbound_rule(),
            self.names.inbound_route_connector(),
        );
        self.route_rule(name, 0, scope, connector)
    }

    /// The rule routing outgoing mail to the service: from the outbound group's members, or
    /// from the mail domains.
    fn outbound_rule(&self) -> DesiredObject {
        let scope = if self.selected {
            json!({"FromScope": "InOrganization", "SentToScope": "NotInOrganization", "FromMemberOf": [self.names.outbound_group()]})
        } else {
            json!({"FromScope": "InOrganization", "SentToScope": "NotInOrganization", "SenderDomainIs": self.domains})
        };
        let (name, connector) = (
            self.names.outbound_rule(),
            self.names.outbound_route_connector(),
        );
        self.route_rule(name, 2, scope, connector)
    }

    /// A rule sending mail in `scope` through `connector`, stamped with the routing header,
    /// except mail already routed (loop prevention).
    fn route_rule(
        &self,
        name: String,
        priority: i64,
        scope: Value,
        connector: String,
    ) -> DesiredObject {
        let mut params = map(json!({
            "Mode": "Enforce",
            "Enabled": true,
            "StopRuleProcessing": true,
            "ExceptIfSenderIpRanges": self.ips,
            "ExceptIfHeaderContainsMessageHeader": ROUTED_HEADER,
            "ExceptIfHeaderContainsWords": [self.token],
            "RouteMessageOutboundConnector": connector,
            "SetHeaderName": ROUTED_HEADER,
            "SetHeaderValue": self.token,
            "Comments": self.comment,
        }));
        params.extend(map(scope));
        DesiredObject {
            kind: Kind::TransportRule,
            name,
            params,
            create_only: map(json!({"Priority": priority})),
            members: None,
        }
    }

    /// The rule skipping spam filtering for mail returning from the service.
    fn skip_spam_rule(&self) -> DesiredObject {
        DesiredObject {
            kind: Kind::TransportRule,
            name: self.names.skip_spam_rule(),
            params: map(json!({
                "Mode": "Enforce",
                "Enabled": true,
                "SenderIpRanges": self.ips,
                "HeaderContainsMessageHeader": ROUTED_HEADER,
                "HeaderContainsWords": [self.token],
                "SetSCL": -1,
                "Comments": self.comment,
            })),
            create_only: map(json!({"Priority": 1})),
            members: None,
        }
    }
}

/// `values` lower-cased, sorted, without duplicates.
fn lowercase_set(values: &[String]) -> Vec<String> {
    let mut out: Vec<String> = values.iter().map(|v| v.to_lowercase()).collect();
    out.sort();
    out.dedup();
    out
}

/// The kinds of the objects wanted for these settings (they depend on the spec alone, not on
/// the tenant's members, domains or token), so a pass can read them before those are known.
pub fn kinds(inline: &InlineSpec, scope: SyncScope) -> BTreeSet<Kind> {
    let service = ServiceMailFlow {
        smart_host: String::new(),
        tls_certificate_domain: String::new(),
        service_ip_ranges: Vec::new(),
    };
    desired(&Inputs {
        owner: Owner {
            account: "",
            uid: "",
        },
        inline,
        service: &service,
        scope,
        members: &[],
        domains: &[],
        token: "",
    })
    .iter()
    .map(|o| o.kind)
    .collect()
}

/// A value as Exchange may return it, for comparison: strings lower-cased, `smtp:` and `;1`
/// decorations removed, lists as sorted sets.
fn normalize(value: &Value) -> Value {
    match value {
        Value::String(s) => {
            let s = s.trim().to_lowercase();
            let s = s.strip_prefix("smtp:").unwrap_or(&s);
            let s = s.split(';').next().unwrap_or(s);
            Value::String(s.to_string())
        }
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(normalize).collect();
            items.sort_by_key(|v| v.to_string());
            items.dedup();
            Value::Array(items)
        }
        Value::Null => Value::Array(Vec::new()),
        other => other.clone(),
    }
}

fn same(desired: &Value, actual: Option<&Value>) -> bool {
    let actual = actual.cloned().unwrap_or(Value::Null);
    let (d, a) = (normalize(desired), normalize(&actual));
    if d == a {
        return true;
    }
    // A single value against a one-element list, and booleans Exchange returns as strings.
    match (&d, &a) {
        (Value::Array(l), other) | (other, Value::Array(l)) if l.len() == 1 => &l[0] == other,
        (Value::Bool(b), Value::String(s)) | (Value::String(s), Value::Bool(b)) => {
            s == &b.to_string()
        }
        _ => false,
    }
}

/// The parameters of `desired` that `actual` (as `Get-` returns it) does not match, by name.
/// A rule's `Enabled` is read from `State` when the object has no `Enabled`.
pub fn differences(desired: &DesiredObject, actual: &Value) -> Vec<String> {
    desired
        .params
        .iter()
        .filter(|(k, v)| {
            let found = match (k.as_str(), actual.get(k.as_str())) {
                ("Enabled", None) if desired.kind == Kind::TransportRule => {
                    actual.get("State").map(|s| {
                        Value::Bool(
                            s.as_str()
                                .is_some_and(|s| s.eq_ignore_ascii_case("enabled")),
                        )
                    })
                }
                (_, v) => v.cloned(),
            };
            !same(v, found.as_ref())
        })
        .map(|(k, _)| k.clone())
        .collect()
}

/// Splits off the parameters that Exchange takes only from another cmdlet than `verb`
/// (`New` or `Set`) of `kind`, as the cmdlets that set them afterwards on the object `name`:
/// New-DistributionGroup has no `HiddenFromAddressListsEnabled` (Set-DistributionGroup sets
/// it), and Set-TransportRule has no `Enabled` (Enable-TransportRule and
/// Disable-TransportRule do that).
pub fn follow_ups(
    kind: Kind,
    verb: &str,
    name: &str,
    params: &mut Map<String, Value>,
) -> Vec<(String, Value)> {
    match (kind, verb) {
        (Kind::Group, "New") => params
            .remove("HiddenFromAddressListsEnabled")
            .map(|hidden| {
                let p = json!({"Identity": name, "HiddenFromAddressListsEnabled": hidden});
                ("Set-DistributionGroup".to_string(), p)
            })
            .into_iter()
            .collect(),
        (Kind::TransportRule, "Set") => params
            .remove("Enabled")
            .map(|enabled| {
                let verb = if enabled.as_bool() == Some(false) {
                    "Disable"
                } else {
                    "Enable"
                };
                (format!("{verb}-TransportRule"), json!({"Identity": name}))
            })
            .into_iter()
            .collect(),
        _ => Vec::new(),
    }
}

/// Group members to add and to remove, from the desired and the current lists.
pub fn membership_changes(desired: &[String], current: &[String]) -> (Vec<String>, Vec<String>) {
    let lower = |v: &[String]| -> Vec<String> { v.iter().map(|s| s.to_lowercase()).collect() };
    let (d, c) = (lower(desired), lower(current));
    let add = d.iter().filter(|m| !c.contains(m)).cloned().collect();
    let remove = current
        .iter()
        .filter(|m| !d.contains(&m.to_lowercase()))
        .cloned()
        .collect();
    (add, remove)
}

#[cfg(test)]
mod tests;
