//! Inline mode through PIM with the example's inbound and outbound set: approval, the
//! outbound upgrade and back, reported drift, group membership, and each failed security check.

use serde_json::{Value, json};

use super::env::{Env, is};
use super::{
    WOODGROVE, allow_list, assert_mentions, delete_and_check_nothing_owned_is_left, exchange,
    listed, mail_flow, mail_flow_objects, message, names, request_check, wait_exchange, world,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pim_approval_then_outbound_upgrade_and_back_with_reported_drift_and_membership() {
    // Over 80 lines on purpose: one scenario, whose steps depend on one another, read top to bottom.
    let env = Env::start(world(|t| {
        if t.display_name == "Woodgrove Bank" {
            t.pim_approval = true;
        }
    }))
    .await;
    env.consent(WOODGROVE).await;
    env.apply_example("inline-inbound-outbound-pim.yaml").await;

    let esa = env
        .wait_reason("woodgrove", "RoleAssigned", "PendingApproval")
        .await;
    assert!(is(&esa, "Stalled") && !is(&esa, "Ready"));
    assert!(mail_flow(&esa).role_request_id.is_some());
    let state = exchange(&env, WOODGROVE).await;
    assert_eq!(listed(&state, "pimRequests"), 1, "asked once");
    env.control(
        &format!("/tenants/{WOODGROVE}/pim-requests/approve"),
        json!({}),
    )
    .await;
    let esa = env
        .wait_account("woodgrove", "Ready after approval", |e| is(e, "Ready"))
        .await;
    assert_eq!(
        mail_flow_objects(&esa).len(),
        8,
        "{}",
        serde_json::to_string_pretty(&esa.status).unwrap()
    );
    let state = exchange(&env, WOODGROVE).await;
    assert_eq!(listed(&state, "pimRequests"), 1, "no second request");
    let members = |s: &Value, group: &str| -> Vec<String> {
        let mut m: Vec<String> = s["exchange"]["DistributionGroup"][group]["Members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        m.sort();
        m
    };
    assert_eq!(
        members(&state, "exo-inline Inbound Protected Users"),
        [
            "alice@woodgrove.com",
            "bob@woodgrove.com",
            "chair@woodgrove.com",
            "trader@woodgrove.com"
        ]
    );
    let out_rule = &state["exchange"]["TransportRule"]["exo-inline Route Outbound Mail to Service"];
    assert_eq!(
        out_rule["FromMemberOf"],
        json!(["exo-inline Outbound Protected Users"])
    );

    // Drift policy Report: a deleted rule is reported, not re-created.
    env.control_delete(
        &format!("/tenants/{WOODGROVE}/exchange/TransportRule/exo-inline Skip Spam Filtering for Mail from Service"),
        json!({}),
    )
    .await;
    request_check(&env, "woodgrove").await;
    let esa = env
        .wait_account("woodgrove", "drift reported", |e| is(e, "MailFlowDrifted"))
        .await;
    assert!(!is(&esa, "Ready"));
    let text = message(&esa, "MailFlowDrifted");
    assert!(
        text.contains("Skip Spam Filtering for Mail from Service: deleted"),
        "{text}"
    );
    assert_eq!(
        names(&exchange(&env, WOODGROVE).await, "TransportRule").len(),
        2
    );

    // Back to Inbound (and drift policy Correct): the outbound set goes, the rule comes back.
    env.merge_account("woodgrove", json!({"spec": {"inline": {"direction": "Inbound", "mailFlow": {"driftPolicy": "Correct"}}}})).await;
    let state = wait_exchange(&env, WOODGROVE, "the outbound set removed", |s| {
        names(s, "OutboundConnector") == ["exo-inline Connector to Service (Inbound)"]
            && names(s, "TransportRule").len() == 2
            && names(s, "DistributionGroup") == ["exo-inline Inbound Protected Users"]
    })
    .await;
    assert!(
        names(&state, "TransportRule")
            .contains(&"exo-inline Skip Spam Filtering for Mail from Service".to_string())
    );
    let esa = env
        .wait_account("woodgrove", "Ready as Inbound", |e| {
            is(e, "Ready") && mail_flow_objects(e).len() == 5
        })
        .await;
    assert!(!is(&esa, "MailFlowDrifted"));

    // Upgrade again: the outbound set is created without a new grant.
    env.merge_account(
        "woodgrove",
        json!({"spec": {"inline": {"direction": "InboundOutbound"}}}),
    )
    .await;
    env.wait_account("woodgrove", "Ready as InboundOutbound", |e| {
        is(e, "Ready") && mail_flow_objects(e).len() == 8
    })
    .await;

    // The SyncTargetList shrinks: the groups follow.
    env.merge_list(
        "woodgrove-protected",
        json!({"spec": {"users": ["alice@woodgrove.com"], "groups": []}}),
    )
    .await;
    wait_exchange(&env, WOODGROVE, "the groups reduced to alice", |s| {
        members(s, "exo-inline Inbound Protected Users") == ["alice@woodgrove.com"]
            && members(s, "exo-inline Outbound Protected Users") == ["alice@woodgrove.com"]
    })
    .await;
    assert_eq!(listed(&state, "pimRequests"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reported_drift_names_fields_and_each_failed_security_check_without_changing_anything() {
    let env = Env::start(Env::fast()).await;
    env.consent(WOODGROVE).await;
    env.apply_example("inline-inbound-outbound-pim.yaml").await;
    env.wait_ready("woodgrove").await;
    let connector =
        format!("/tenants/{WOODGROVE}/exchange/InboundConnector/exo-inline Connector from Service");

    // Enhanced filtering switched off and the service's allow-list entry removed, out of band.
    env.control(&connector, json!({"EFSkipIPs": []})).await;
    env.control(
        &format!("/tenants/{WOODGROVE}/exchange/HostedConnectionFilterPolicy/Default"),
        json!({"IPAllowList": ["192.0.2.55"]}),
    )
    .await;
    // A protected user in a domain the tenant has not verified for e-mail.
    env.control(
        &format!("/tenants/{WOODGROVE}/users"),
        json!({"upn": "guest@partner.example"}),
    )
    .await;
    env.merge_list(
        "woodgrove-protected",
        json!({"spec": {"users": ["alice@woodgrove.com", "guest@partner.example"]}}),
    )
    .await;
    request_check(&env, "woodgrove").await;
    let esa = env
        .wait_account("woodgrove", "drift and failed checks", |e| {
            is(e, "MailFlowDrifted")
                && message(e, "SecuritySettingsVerified").contains("DomainsVerified")
        })
        .await;
    assert_mentions(
        &message(&esa, "MailFlowDrifted"),
        &[
            "InboundConnector/exo-inline Connector from Service: EFSkipIPs",
            "IPAllowList lacks 203.0.113.0/24",
        ],
    );
    assert_mentions(
        &message(&esa, "SecuritySettingsVerified"),
        &[
            "EnhancedFiltering: the inbound connector does not skip 203.0.113.0/24",
            "AllowList: the connection filter policy does not allow 203.0.113.0/24",
            "DomainsVerified: not verified for e-mail: partner.example",
        ],
    );
    let failed = &mail_flow(&esa).failed_checks;
    assert_eq!(failed.len(), 3, "{failed:?}");
    assert!(!is(&esa, "Ready"));
    // Report changes nothing.
    let state = exchange(&env, WOODGROVE).await;
    assert_eq!(
        state["exchange"]["InboundConnector"]["exo-inline Connector from Service"]["EFSkipIPs"],
        json!([])
    );
    assert_eq!(allow_list(&state), ["192.0.2.55"]);

    // Deletion removes the groups too, and only the operator's entries.
    let state = delete_and_check_nothing_owned_is_left(&env, "woodgrove", WOODGROVE).await;
    assert_eq!(allow_list(&state), ["192.0.2.55"]);
    assert_eq!(
        listed(&state, "roleAssignments"),
        0,
        "the role assigned through PIM is removed"
    );
}
