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

/// One cmdlet call and what must come of it.
enum Step {
    /// The cmdlet with these parameters succeeds.
    Ok(&'static str, Value),
    /// It fails with this status and a body that names each of the words.
    Refused(&'static str, Value, u16, &'static [&'static str]),
    /// Its body names each of the words.
    Shows(&'static str, Value, &'static [&'static str]),
}

impl Exo<'_> {
    /// Runs `steps` in order, asserting what each must come to.
    async fn run(&self, steps: impl IntoIterator<Item = Step>) {
        for step in steps {
            match step {
                Step::Ok(cmdlet, params) => {
                    self.ok(cmdlet, params).await;
                }
                Step::Refused(cmdlet, params, status, words) => {
                    self.refused(cmdlet, params, status, words).await
                }
                Step::Shows(cmdlet, params, words) => {
                    let (_, body) = self.invoke(cmdlet, params).await;
                    assert!(words.iter().all(|w| body.contains(w)), "{cmdlet}: {body}");
                }
            }
        }
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

    connectors_groups_and_rules(&exo).await;
    connection_filter_paging_and_removal(&s, &exo).await;
}

/// Connectors, groups and transport rules: validation, and rule priorities renumbered on insert.
async fn connectors_groups_and_rules(exo: &Exo<'_>) {
    let body = exo.ok("New-OutboundConnector", json!({"Name": "exo to service", "ConnectorType": "Partner", "UseMXRecord": false, "SmartHosts": ["relay.example.com"], "TlsSettings": "DomainValidation", "TlsDomain": "relay.example.com", "IsTransportRuleScoped": true, "Comment": "owner=exo-operator"})).await;
    assert!(body.contains("\"SmartHosts@odata.type\":\"#Collection(String)\""));
    let group = "exo inline incoming";
    let alice = "alice@woodgrove.com";
    exo.run([
        Step::Refused("New-OutboundConnector", json!({"Name": "broken", "UseMXRecord": false}), 400, &["SmartHosts must be specified"]),
        Step::Refused("New-OutboundConnector", json!({"Name": "exo to service", "UseMXRecord": true}), 400, &["ADObjectAlreadyExistsException"]),
        Step::Ok("New-InboundConnector", json!({"Name": "exo from service", "SenderDomains": ["*"], "ConnectorType": "Partner", "SenderIPAddresses": ["203.0.113.0/24"], "RestrictDomainsToIPAddresses": true, "EFSkipIPs": ["203.0.113.0/24"]})),
        Step::Refused("New-InboundConnector", json!({"Name": "x", "SenderDomains": ["*"], "BogusParameter": true}), 400, &["AmbiguousParameterSetException", "BogusParameter"]),
        Step::Refused("New-InboundConnector", json!({"Name": "x", "SenderDomains": ["*"], "ConnectorType": "Sideways"}), 400, &["ParameterBindingException"]),
        Step::Ok("New-DistributionGroup", json!({"Name": group, "Type": "Security"})),
        Step::Ok("Add-DistributionGroupMember", json!({"Identity": group, "Member": alice, "BypassSecurityGroupManagerCheck": true})),
        Step::Refused("Add-DistributionGroupMember", json!({"Identity": group, "Member": alice}), 400, &["already a member"]),
        Step::Shows("Get-DistributionGroupMember", json!({"Identity": group}), &["alice@woodgrove.com"]),
    ])
    .await;
    for (name, priority) in [("exo route", 0), ("exo skip spam", 1), ("exo first", 0)] {
        exo.ok("New-TransportRule", json!({"Name": name, "Priority": priority, "FromScope": "NotInOrganization", "SentToMemberOf": [group], "ExceptIfSenderIpRanges": ["203.0.113.0/24"], "RouteMessageOutboundConnector": "exo to service", "SetHeaderName": "X-Exo-Routed", "SetHeaderValue": "token", "StopRuleProcessing": true})).await;
    }
    let (_, body) = exo.invoke("Get-TransportRule", json!({})).await;
    let rules: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        Exo::rule_names(&rules),
        ["exo first", "exo route", "exo skip spam"],
        "priorities renumbered on insert"
    );
    exo.run([
        Step::Refused(
            "New-TransportRule",
            json!({"Name": "bad", "RouteMessageOutboundConnector": "missing"}),
            404,
            &["ManagementObjectNotFoundException"],
        ),
        Step::Refused(
            "New-TransportRule",
            json!({"Name": "bad", "SetHeaderName": "X-Only"}),
            400,
            &["SetHeaderValue"],
        ),
    ])
    .await;
}

/// The connection filter (an add keeps existing entries; IPv6 is refused), paging, removal,
/// and changes made out of band through the control API.
async fn connection_filter_paging_and_removal(s: &Sim, exo: &Exo<'_>) {
    let filter = "Set-HostedConnectionFilterPolicy";
    exo.run([
        Step::Ok(filter, json!({"Identity": "Default", "IPAllowList": ["198.51.100.7"]})),
        Step::Ok(filter, json!({"Identity": "Default", "IPAllowList": {"@odata.type": "#Exchange.GenericHashTable", "Add": ["203.0.113.0/24"]}})),
        Step::Shows("Get-HostedConnectionFilterPolicy", json!({"Identity": "Default"}), &["198.51.100.7", "203.0.113.0/24"]),
        Step::Refused(filter, json!({"Identity": "Default", "IPAllowList": ["2001:db8::1"]}), 400, &["IPv6"]),
    ])
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
    exo.run([
        Step::Ok(
            "Remove-TransportRule",
            json!({"Identity": "exo first", "Confirm": false}),
        ),
        Step::Refused(
            "Get-TransportRule",
            json!({"Identity": "exo first"}),
            404,
            &["Ex6F9304"],
        ),
    ])
    .await;
    s.control(
        &format!("/tenants/{WOODGROVE}/exchange/OutboundConnector/exo to service"),
        json!({"SmartHosts": ["evil.example.com"]}),
    )
    .await;
    exo.run([
        Step::Shows(
            "Get-OutboundConnector",
            json!({"Identity": "exo to service"}),
            &["evil.example.com"],
        ),
        Step::Refused(
            "Invoke-Nonsense",
            json!({}),
            400,
            &["CommandNotFoundException"],
        ),
    ])
    .await;
}
