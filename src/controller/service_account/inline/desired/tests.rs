use super::*;
use exo_api::exchange_service_account::{DriftPolicy, MailFlow, RoleAssignment};

#[test]
fn members_and_domains_compare_as_lower_case_sets() {
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    for (values, set) in [
        (vec![], vec![]),
        (vec!["b.com", "A.com"], vec!["a.com", "b.com"]),
        (vec!["Alice@x.com", "alice@x.com"], vec!["alice@x.com"]),
    ] {
        assert_eq!(lowercase_set(&strings(&values)), strings(&set));
    }
}

fn inline(direction: Direction) -> InlineSpec {
    InlineSpec {
        direction,
        role_assignment: RoleAssignment::default(),
        mail_flow: MailFlow {
            name_prefix: "exo".into(),
            drift_policy: DriftPolicy::Correct,
            ..MailFlow::default()
        },
    }
}

fn service() -> ServiceMailFlow {
    ServiceMailFlow {
        smart_host: "relay.example.com".into(),
        tls_certificate_domain: "*.example.com".into(),
        service_ip_ranges: vec!["203.0.113.0/24".into()],
    }
}

fn objects(direction: Direction, scope: SyncScope) -> Vec<DesiredObject> {
    desired(&Inputs {
        owner: Owner {
            account: "default/contoso",
            uid: "u-1",
        },
        inline: &inline(direction),
        service: &service(),
        scope,
        members: &["Alice@contoso.com".into(), "alice@contoso.com".into()],
        domains: &["contoso.com".into()],
        token: "t0k3n",
    })
}

#[test]
fn the_kinds_read_ahead_are_those_of_the_objects_wanted() {
    for direction in [Direction::Inbound, Direction::InboundOutbound] {
        for scope in [SyncScope::All, SyncScope::Selected] {
            let wanted: BTreeSet<Kind> = objects(direction, scope).iter().map(|o| o.kind).collect();
            assert_eq!(kinds(&inline(direction), scope), wanted);
        }
    }
    assert!(!kinds(&inline(Direction::Inbound), SyncScope::All).contains(&Kind::Group));
}

#[test]
fn inbound_selected_has_a_group_two_connectors_and_two_rules() {
    let o = objects(Direction::Inbound, SyncScope::Selected);
    let ids: Vec<String> = o.iter().map(DesiredObject::id).collect();
    assert_eq!(
        ids,
        [
            "DistributionGroup/exo Inbound Protected Users",
            "OutboundConnector/exo Connector to Service (Inbound)",
            "InboundConnector/exo Connector from Service",
            "TransportRule/exo Route Inbound Mail to Service",
            "TransportRule/exo Skip Spam Filtering for Mail from Service",
        ]
    );
    assert_eq!(
        o[0].members.as_deref(),
        Some(&["alice@contoso.com".to_string()][..])
    );
    assert_eq!(o[0].create_only["Alias"], "exo-inbound-protected-users");
    let rule = &o[3].params;
    assert_eq!(
        rule["SentToMemberOf"],
        json!(["exo Inbound Protected Users"])
    );
    assert_eq!(rule["ExceptIfSenderIpRanges"], json!(["203.0.113.0/24"]));
    assert_eq!(rule["ExceptIfHeaderContainsWords"], json!(["t0k3n"]));
    assert_eq!(
        rule["RouteMessageOutboundConnector"],
        "exo Connector to Service (Inbound)"
    );
    assert_eq!(o[1].params["IsTransportRuleScoped"], true);
    assert_eq!(o[2].params["EFSkipIPs"], json!(["203.0.113.0/24"]));
    assert!(is_marked(o[1].params["Comment"].as_str().unwrap()));
}

#[test]
fn all_users_use_domain_scoped_rules_and_outbound_adds_its_set() {
    let o = objects(Direction::InboundOutbound, SyncScope::All);
    assert!(o.iter().all(|d| d.kind != Kind::Group));
    let out_rule = o
        .iter()
        .find(|d| d.name == "exo Route Outbound Mail to Service")
        .unwrap();
    assert_eq!(out_rule.params["SenderDomainIs"], json!(["contoso.com"]));
    assert_eq!(
        out_rule.params["RouteMessageOutboundConnector"],
        "exo Connector to Service (Outbound)"
    );
    let in_rule = o
        .iter()
        .find(|d| d.name == "exo Route Inbound Mail to Service")
        .unwrap();
    assert_eq!(in_rule.params["RecipientDomainIs"], json!(["contoso.com"]));
    assert_eq!(o.len(), 6);
    assert_eq!(
        objects(Direction::InboundOutbound, SyncScope::Selected).len(),
        8
    );
}

#[test]
fn differences_ignore_exchange_decorations_and_name_changed_fields() {
    let o = objects(Direction::Inbound, SyncScope::All);
    let connector = &o[1];
    let mut actual = Value::Object(connector.params.clone());
    actual["SenderDomains"] = json!(["smtp:*;1"]);
    actual["TlsSenderCertificateName"] = json!("*.EXAMPLE.com");
    actual["Identity"] = json!("x");
    assert!(differences(connector, &actual).is_empty());
    actual["EFSkipIPs"] = json!([]);
    actual["RequireTls"] = json!(false);
    let mut d = differences(connector, &actual);
    d.sort();
    assert_eq!(d, ["EFSkipIPs", "RequireTls"]);

    let rule = &o[2];
    let mut actual = Value::Object(rule.params.clone());
    actual.as_object_mut().unwrap().remove("Enabled");
    actual["State"] = json!("Disabled");
    assert_eq!(differences(rule, &actual), ["Enabled"]);
    actual["State"] = json!("Enabled");
    assert!(differences(rule, &actual).is_empty());
}

#[test]
fn membership_changes_are_case_insensitive() {
    let (add, remove) = membership_changes(
        &["alice@contoso.com".into(), "bob@contoso.com".into()],
        &["Alice@Contoso.com".into(), "carol@contoso.com".into()],
    );
    assert_eq!(add, ["bob@contoso.com"]);
    assert_eq!(remove, ["carol@contoso.com"]);
}

#[test]
fn a_marker_names_one_account_and_is_not_taken_by_another() {
    let me = Owner {
        account: "mail/contoso",
        uid: "u-1",
    };
    let twin = Owner {
        account: "mail/contoso",
        uid: "u-2",
    };
    let other = Owner {
        account: "mail/contoso-2",
        uid: "u-3",
    };
    let legacy = "Managed by exo-operator for mail/contoso; changes are reverted or reported.";
    for (comment, mark) in [
        (me.marker(), Mark::Mine),
        (twin.marker(), Mark::Another("mail/contoso".into())),
        (other.marker(), Mark::Another("mail/contoso-2".into())),
        (legacy.to_string(), Mark::Mine),
        ("Created by hand".to_string(), Mark::None),
    ] {
        assert_eq!(me.recognise(&comment), mark, "{comment}");
    }
    assert_eq!(
        other.recognise(legacy),
        Mark::Another("mail/contoso".into())
    );
}

#[test]
fn parameters_a_cmdlet_lacks_follow_as_their_own_cmdlets() {
    let cases = [
        (
            Kind::Group,
            "New",
            json!({"Type": "Security", "HiddenFromAddressListsEnabled": true}),
            json!({"Type": "Security"}),
            vec![(
                "Set-DistributionGroup",
                json!({"Identity": "g", "HiddenFromAddressListsEnabled": true}),
            )],
        ),
        (
            Kind::Group,
            "Set",
            json!({"HiddenFromAddressListsEnabled": true}),
            json!({"HiddenFromAddressListsEnabled": true}),
            vec![],
        ),
        (
            Kind::TransportRule,
            "New",
            json!({"Enabled": true, "Mode": "Enforce"}),
            json!({"Enabled": true, "Mode": "Enforce"}),
            vec![],
        ),
        (
            Kind::TransportRule,
            "Set",
            json!({"Enabled": true, "Mode": "Enforce"}),
            json!({"Mode": "Enforce"}),
            vec![("Enable-TransportRule", json!({"Identity": "g"}))],
        ),
        (
            Kind::TransportRule,
            "Set",
            json!({"Enabled": false}),
            json!({}),
            vec![("Disable-TransportRule", json!({"Identity": "g"}))],
        ),
        (
            Kind::InboundConnector,
            "Set",
            json!({"Enabled": true}),
            json!({"Enabled": true}),
            vec![],
        ),
    ];
    for (kind, verb, before, after, expected) in cases {
        let mut params = map(before);
        let cmdlets = follow_ups(kind, verb, "g", &mut params);
        assert_eq!(Value::Object(params), after, "{kind:?} {verb}");
        let expected: Vec<(String, Value)> = expected
            .into_iter()
            .map(|(c, p)| (c.to_string(), p))
            .collect();
        assert_eq!(cmdlets, expected, "{kind:?} {verb}");
    }
}
