//! The Exchange Online admin API (`InvokeCommand`): the role it needs and its propagation,
//! cmdlet validation, transport-rule priorities, the connection filter, paging, and changes
//! made out of band through the control API.

use exo_sim_m365::SimOptions;
use serde_json::{Value, json};

use super::{EXCHANGE, EXCHANGE_ADMIN, Sim, WOODGROVE, sim_with};

/// A client of one tenant's `InvokeCommand` endpoint.
struct Exo<'a> {
    s: &'a Sim,
    url: String,
    token: String,
}

impl Exo<'_> {
    /// Runs `cmdlet` with `params` at `url` (the endpoint or a next link), asking for pages of
    /// `page_size` if given: (status, body).
    async fn invoke_at(
        &self,
        url: &str,
        cmdlet: &str,
        params: Value,
        page_size: Option<u32>,
    ) -> (u16, String) {
        let mut r = self
            .s
            .http
            .post(url)
            .bearer_auth(&self.token)
            .header("X-CmdletName", cmdlet)
            .json(&json!({"CmdletInput": {"CmdletName": cmdlet, "Parameters": params}}));
        if let Some(size) = page_size {
            r = r.header("Prefer", format!("odata.maxpagesize={size}"));
        }
        let r = r.send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// Runs `cmdlet` with `params`: (status, body).
    async fn invoke(&self, cmdlet: &str, params: Value) -> (u16, String) {
        self.invoke_at(&self.url, cmdlet, params, None).await
    }

    /// Runs `cmdlet`, asserts it succeeded and returns the body.
    async fn ok(&self, cmdlet: &str, params: Value) -> String {
        let (st, body) = self.invoke(cmdlet, params).await;
        assert_eq!(st, 200, "{cmdlet}: {body}");
        body
    }

    /// Runs `cmdlet` and asserts it failed with `status` and a body that names each of `words`.
    async fn refused(&self, cmdlet: &str, params: Value, status: u16, words: &[&str]) {
        let (st, body) = self.invoke(cmdlet, params).await;
        assert!(
            st == status && words.iter().all(|w| body.contains(w)),
            "{cmdlet}: {st} {body}"
        );
    }

    /// The names of the transport rules of a `Get-TransportRule` page.
    fn rule_names(page: &Value) -> Vec<&str> {
        page["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["Name"].as_str().unwrap())
            .collect()
    }
}

#[tokio::test]
async fn exchange_admin_api_cmdlets_roles_validation_and_paging() {
    let mut world = exo_sim_m365::tenants::demo();
    world.tenants[2].role_propagation_seconds = 600;
    let s = sim_with(SimOptions {
        tenants: world,
        ..Default::default()
    })
    .await;
    let graph = s.consented_token(WOODGROVE).await;
    let url = s.url(&format!("/adminapi/beta/{WOODGROVE}/InvokeCommand"));
    let exo = async || Exo {
        s: &s,
        url: url.clone(),
        token: s.access_token(WOODGROVE, EXCHANGE).await,
    };
    // Exchange.ManageAsApp alone is not enough: 403 with an empty body.
    let (st, body) = exo().await.invoke("Get-InboundConnector", json!({})).await;
    assert_eq!((st, body.as_str()), (403, ""));
    // Assign Exchange Administrator; within the propagation window tokens still lack it.
    let sp = s.service_principal(&graph).await;
    let (st, _) = s
        .graph_post(
            &graph,
            "/roleManagement/directory/roleAssignments",
            &json!({"principalId": sp, "roleDefinitionId": EXCHANGE_ADMIN, "directoryScopeId": "/"}),
        )
        .await;
    assert_eq!(st, 201);
    let (st, _) = exo().await.invoke("Get-InboundConnector", json!({})).await;
    assert_eq!(st, 403, "role propagation");
    s.control("/clock/advance", json!({"seconds": 601})).await;
    let exo = exo().await;
    let body = exo.ok("Get-InboundConnector", json!({})).await;
    assert!(body.contains("@adminapi.warnings"));

    // Connectors, groups, rules.
    let body = exo.ok("New-OutboundConnector", json!({"Name": "exo to service", "ConnectorType": "Partner", "UseMXRecord": false, "SmartHosts": ["relay.example.com"], "TlsSettings": "DomainValidation", "TlsDomain": "relay.example.com", "IsTransportRuleScoped": true, "Comment": "owner=exo-operator"})).await;
    assert!(body.contains("\"SmartHosts@odata.type\":\"#Collection(String)\""));
    let refusals = [
        (
            "New-OutboundConnector",
            json!({"Name": "broken", "UseMXRecord": false}),
            &["SmartHosts must be specified"][..],
        ),
        (
            "New-OutboundConnector",
            json!({"Name": "exo to service", "UseMXRecord": true}),
            &["ADObjectAlreadyExistsException"],
        ),
    ];
    for (cmdlet, params, words) in refusals {
        exo.refused(cmdlet, params, 400, words).await;
    }
    exo.ok("New-InboundConnector", json!({"Name": "exo from service", "SenderDomains": ["*"], "ConnectorType": "Partner", "SenderIPAddresses": ["203.0.113.0/24"], "RestrictDomainsToIPAddresses": true, "EFSkipIPs": ["203.0.113.0/24"]})).await;
    let refusals = [
        (
            "New-InboundConnector",
            json!({"Name": "x", "SenderDomains": ["*"], "BogusParameter": true}),
            &["AmbiguousParameterSetException", "BogusParameter"][..],
        ),
        (
            "New-InboundConnector",
            json!({"Name": "x", "SenderDomains": ["*"], "ConnectorType": "Sideways"}),
            &["ParameterBindingException"],
        ),
    ];
    for (cmdlet, params, words) in refusals {
        exo.refused(cmdlet, params, 400, words).await;
    }
    exo.ok(
        "New-DistributionGroup",
        json!({"Name": "exo inline incoming", "Type": "Security"}),
    )
    .await;
    exo.ok("Add-DistributionGroupMember", json!({"Identity": "exo inline incoming", "Member": "alice@woodgrove.com", "BypassSecurityGroupManagerCheck": true})).await;
    exo.refused(
        "Add-DistributionGroupMember",
        json!({"Identity": "exo inline incoming", "Member": "alice@woodgrove.com"}),
        400,
        &["already a member"],
    )
    .await;
    let (_, body) = exo
        .invoke(
            "Get-DistributionGroupMember",
            json!({"Identity": "exo inline incoming"}),
        )
        .await;
    assert!(body.contains("alice@woodgrove.com"));
    for (name, priority) in [("exo route", 0), ("exo skip spam", 1), ("exo first", 0)] {
        exo.ok("New-TransportRule", json!({"Name": name, "Priority": priority, "FromScope": "NotInOrganization", "SentToMemberOf": ["exo inline incoming"], "ExceptIfSenderIpRanges": ["203.0.113.0/24"], "RouteMessageOutboundConnector": "exo to service", "SetHeaderName": "X-Exo-Routed", "SetHeaderValue": "token", "StopRuleProcessing": true})).await;
    }
    let (_, body) = exo.invoke("Get-TransportRule", json!({})).await;
    let rules: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        Exo::rule_names(&rules),
        ["exo first", "exo route", "exo skip spam"],
        "priorities renumbered on insert"
    );
    exo.refused(
        "New-TransportRule",
        json!({"Name": "bad", "RouteMessageOutboundConnector": "missing"}),
        404,
        &["ManagementObjectNotFoundException"],
    )
    .await;
    exo.refused(
        "New-TransportRule",
        json!({"Name": "bad", "SetHeaderName": "X-Only"}),
        400,
        &["SetHeaderValue"],
    )
    .await;
    // Connection filter: add keeps existing entries; IPv6 is refused.
    let filter = "Set-HostedConnectionFilterPolicy";
    exo.ok(
        filter,
        json!({"Identity": "Default", "IPAllowList": ["198.51.100.7"]}),
    )
    .await;
    exo.ok(filter, json!({"Identity": "Default", "IPAllowList": {"@odata.type": "#Exchange.GenericHashTable", "Add": ["203.0.113.0/24"]}})).await;
    let (_, body) = exo
        .invoke(
            "Get-HostedConnectionFilterPolicy",
            json!({"Identity": "Default"}),
        )
        .await;
    assert!(
        body.contains("198.51.100.7") && body.contains("203.0.113.0/24"),
        "{body}"
    );
    exo.refused(
        filter,
        json!({"Identity": "Default", "IPAllowList": ["2001:db8::1"]}),
        400,
        &["IPv6"],
    )
    .await;
    // Paging: re-POST the same body to the nextLink.
    let (_, body) = exo
        .invoke_at(&exo.url, "Get-TransportRule", json!({}), Some(2))
        .await;
    let page: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(page["value"].as_array().unwrap().len(), 2);
    let next = page["@odata.nextLink"].as_str().unwrap().to_string();
    let (_, body) = exo
        .invoke_at(&next, "Get-TransportRule", json!({}), Some(2))
        .await;
    let page: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(page["value"][0]["Name"], "exo skip spam");
    assert!(page.get("@odata.nextLink").is_none());
    // Removal, not found, out-of-band changes through the control API are visible.
    exo.ok(
        "Remove-TransportRule",
        json!({"Identity": "exo first", "Confirm": false}),
    )
    .await;
    exo.refused(
        "Get-TransportRule",
        json!({"Identity": "exo first"}),
        404,
        &["Ex6F9304"],
    )
    .await;
    s.control(
        &format!("/tenants/{WOODGROVE}/exchange/OutboundConnector/exo to service"),
        json!({"SmartHosts": ["evil.example.com"]}),
    )
    .await;
    let (_, body) = exo
        .invoke(
            "Get-OutboundConnector",
            json!({"Identity": "exo to service"}),
        )
        .await;
    assert!(body.contains("evil.example.com"));
    exo.refused(
        "Invoke-Nonsense",
        json!({}),
        400,
        &["CommandNotFoundException"],
    )
    .await;
}
