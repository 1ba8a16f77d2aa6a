//! Microsoft Graph: token and role checks, queries, paging and OData rules, role assignments
//! (direct and through PIM), and delta rounds.

use exo_sim_m365::tenants::DEMO_CLIENT_ID;
use exo_sim_m365::{Generate, SimOptions};
use serde_json::{Value, json};

use super::m365::pages;
use super::{
    CONTOSO, CONTOSO_ID, EXCHANGE, EXCHANGE_ADMIN, GRAPH, Sim, WOODGROVE, claims, graph_error, sim,
    sim_with,
};

/// The length of the `value` array of a Graph answer.
fn count(body: &Value) -> usize {
    body["value"].as_array().unwrap().len()
}

#[tokio::test]
async fn graph_validates_tokens_and_roles() {
    let s = sim().await;
    let (st, b) = s.graph("not-a-token", "/users", &[]).await;
    assert_eq!(
        (st, graph_error(&b)),
        (401, Some("InvalidAuthenticationToken"))
    );
    assert!(b["error"]["innerError"]["request-id"].is_string());
    // Only Domain.Read.All: users are denied.
    s.consent_to(
        CONTOSO,
        json!({"clientId": DEMO_CLIENT_ID, "permissions": ["Domain.Read.All"]}),
    )
    .await;
    let token = s.access_token(CONTOSO, GRAPH).await;
    let (st, b) = s.graph(&token, "/users", &[]).await;
    assert_eq!(
        (st, graph_error(&b)),
        (403, Some("Authorization_RequestDenied"))
    );
    let (st, b) = s.graph(&token, "/domains", &[]).await;
    assert_eq!(st, 200);
    assert_eq!(count(&b), 2);
    // A token for another resource is not a Graph token.
    s.consent(CONTOSO).await;
    let exchange = s.access_token(CONTOSO, EXCHANGE).await;
    let (st, _) = s.graph(&exchange, "/users", &[]).await;
    assert_eq!(st, 401);
    // An expired token.
    s.control("/clock/advance", json!({"seconds": 7200})).await;
    let (st, b) = s.graph(&token, "/domains", &[]).await;
    assert_eq!(st, 401);
    assert!(b["error"]["message"].as_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn graph_queries_paging_and_odata_rules() {
    // Over 80 lines on purpose: a sequence of requests against one simulated tenant, each checked as it is made.
    let s = sim_with(SimOptions {
        generate: Some(Generate {
            users: 250,
            groups: 5,
            seed: 1,
        }),
        ..Default::default()
    })
    .await;
    let token = s.consented_token(CONTOSO).await;
    // 254 users in pages of 100, nextLinks preserving the query.
    let (st, b) = s
        .graph(&token, "/users?$select=id,userPrincipalName", &[])
        .await;
    assert_eq!(st, 200);
    assert_eq!(count(&b), 100);
    assert_eq!(
        b["value"][0].as_object().unwrap().len(),
        2,
        "only selected properties"
    );
    let next = b["@odata.nextLink"].as_str().unwrap().to_string();
    assert!(next.contains("select") && next.contains("skiptoken"));
    let mut total = 100;
    pages(&s.http, next, &token, &[], |page| total += count(&page)).await;
    assert_eq!(total, 254);
    let (st, _) = s.graph(&token, "/users?$top=1000", &[]).await;
    assert_eq!(st, 400);
    let (_, b) = s.graph(&token, "/users?$top=999&$count=true", &[]).await;
    assert!(
        b.get("@odata.count").is_none(),
        "$count needs ConsistencyLevel"
    );
    let eventual = [("ConsistencyLevel", "eventual")];
    let (_, b) = s
        .graph(&token, "/users?$top=5&$count=true", &eventual)
        .await;
    assert_eq!(b["@odata.count"], 254);
    // User by UPN, case-insensitive; missing user.
    let (st, b) = s.graph(&token, "/users/ADA@contoso.com", &[]).await;
    assert_eq!((st, b["displayName"].as_str()), (200, Some("Ada Lovelace")));
    let (st, b) = s.graph(&token, "/users/nobody@contoso.com", &[]).await;
    assert_eq!(
        (st, graph_error(&b)),
        (404, Some("Request_ResourceNotFound"))
    );
    // Groups by prefix and $search.
    let (_, b) = s
        .graph(&token, "/groups?$filter=startswith(displayName,'Eng')", &[])
        .await;
    assert_eq!(count(&b), 1);
    let search = "/groups?$search=\"displayName:Res\"";
    let (st, b) = s.graph(&token, search, &[]).await;
    assert_eq!(
        (st, graph_error(&b)),
        (400, Some("Request_UnsupportedQuery"))
    );
    let (st, b) = s.graph(&token, search, &eventual).await;
    assert_eq!((st, count(&b)), (200, 1));
    // Members and cycle-safe transitive members.
    let (_, b) = s
        .graph(&token, "/groups?$filter=displayName eq 'Engineering'", &[])
        .await;
    let eng = b["value"][0]["id"].as_str().unwrap().to_string();
    let (_, b) = s
        .graph(&token, &format!("/groups/{eng}/members"), &[])
        .await;
    assert_eq!(count(&b), 3);
    let (_, b) = s
        .graph(&token, &format!("/groups/{eng}/transitiveMembers"), &[])
        .await;
    let users = b["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["@odata.type"] == "#microsoft.graph.user")
        .count();
    assert_eq!(users, 3);
    // Organization, service principals and grants.
    let (_, b) = s.graph(&token, "/organization", &[]).await;
    assert_eq!(b["value"][0]["id"], CONTOSO_ID);
    let sp = s.service_principal(&token).await;
    let (_, b) = s
        .graph(
            &token,
            &format!("/servicePrincipals/{sp}/appRoleAssignments"),
            &[],
        )
        .await;
    assert_eq!(count(&b), 8);
    let (st, _) = s
        .graph(
            &token,
            "/servicePrincipals(appId='00000003-0000-0000-c000-000000000000')",
            &[],
        )
        .await;
    assert_eq!(st, 200);
    let (st, b) = s.graph(&token, "/roleManagement/directory/roleDefinitions?$filter=displayName eq 'Exchange Administrator'", &[]).await;
    assert_eq!(
        (st, b["value"][0]["id"].as_str()),
        (200, Some(EXCHANGE_ADMIN))
    );
}

#[tokio::test]
async fn role_assignments_direct_and_through_pim() {
    let s = sim().await;
    let token = s.consented_token(WOODGROVE).await;
    let sp = s.service_principal(&token).await;
    let assignments = "/roleManagement/directory/roleAssignments";
    let body =
        json!({"principalId": sp, "roleDefinitionId": EXCHANGE_ADMIN, "directoryScopeId": "/"});
    let (st, _) = s.graph_post(&token, assignments, &body).await;
    assert_eq!(st, 201);
    let (st, b) = s.graph_post(&token, assignments, &body).await;
    assert_eq!(st, 400);
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("conflicting object")
    );
    // The new role shows in a fresh token's wids.
    assert_eq!(
        claims(&s.access_token(WOODGROVE, EXCHANGE).await).wids,
        [EXCHANGE_ADMIN]
    );
    // PIM: justification required, then Provisioned.
    let requests = "/roleManagement/directory/roleAssignmentScheduleRequests";
    let mut pim = json!({"action": "adminAssign", "principalId": sp, "roleDefinitionId": "194ae4cb-b126-40b2-bd5b-6091b380977d", "directoryScopeId": "/", "justification": ""});
    let (st, _) = s.graph_post(&token, requests, &pim).await;
    assert_eq!(st, 400);
    pim["justification"] = json!("email security onboarding");
    let (st, b) = s.graph_post(&token, requests, &pim).await;
    assert_eq!((st, b["status"].as_str()), (201, Some("Provisioned")));
    let (_, b) = s.graph(&token, &format!("/roleManagement/directory/roleAssignmentScheduleInstances?$filter=principalId eq '{sp}'"), &[]).await;
    assert_eq!(count(&b), 2);
}

/// Follows a delta link to the end in pages of two: the items and the next delta link.
async fn round(s: &Sim, token: &str, url: String) -> (Vec<Value>, String) {
    let mut items = Vec::new();
    let mut last = Value::Null;
    let prefer = [("Prefer", "odata.maxpagesize=2")];
    pages(&s.http, url, token, &prefer, |page| {
        items.extend(page["value"].as_array().unwrap().clone());
        last = page;
    })
    .await;
    (
        items,
        last["@odata.deltaLink"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn delta_rounds_report_changes_removals_and_resets() {
    let s = sim().await;
    let token = s.consented_token(CONTOSO).await;
    let delta = async |url: String| round(&s, &token, url).await;
    let (users, link) = delta(s.url("/v1.0/users/delta?$select=id,userPrincipalName")).await;
    assert_eq!(users.len(), 4);
    let (groups, glink) = delta(s.url("/v1.0/groups/delta?$select=id,displayName,members")).await;
    assert_eq!(groups.len(), 2);
    assert!(
        groups[0]["members@delta"]
            .as_array()
            .is_some_and(|m| !m.is_empty())
    );
    // Changes through the control API show in the next round.
    s.control(
        &format!("/tenants/{CONTOSO}/users"),
        json!({"upn": "new@contoso.com"}),
    )
    .await;
    let r = s
        .http
        .delete(s.url(&format!("/_sim/tenants/{CONTOSO}/users/alan@contoso.com")))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    s.control(
        &format!("/tenants/{CONTOSO}/groups/Engineering/members"),
        json!({"upn": "edsger@contoso.com"}),
    )
    .await;
    let (changes, link2) = delta(link.clone()).await;
    assert_eq!(changes.len(), 2);
    assert!(
        changes
            .iter()
            .any(|c| c["userPrincipalName"] == "new@contoso.com")
    );
    assert!(changes.iter().any(|c| c["@removed"]["reason"] == "changed"));
    let (gchanges, _) = delta(glink).await;
    let eng = gchanges
        .iter()
        .find(|g| g["displayName"] == "Engineering")
        .unwrap();
    assert!(
        eng["members@delta"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m.get("@removed").is_none())
    );
    let (none, _) = delta(link2.clone()).await;
    assert!(none.is_empty());
    // Expired and unknown tokens.
    s.control("/clock/advance", json!({"seconds": 8 * 86400}))
        .await;
    let fresh = s.consented_token(CONTOSO).await;
    let r = s.http.get(&link2).bearer_auth(&fresh).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 410);
    assert!(r.headers().contains_key("location"));
    let (st, b) = s
        .graph(&fresh, "/users/delta?$deltatoken=garbage", &[])
        .await;
    assert_eq!((st, graph_error(&b)), (400, Some("syncStateNotFound")));
    let (_, b) = s
        .graph(&fresh, "/users/delta?$deltatoken=latest", &[])
        .await;
    assert!(b["@odata.deltaLink"].is_string() && count(&b) == 0);
}

#[tokio::test]
async fn a_disabled_user_is_reported_changed_by_the_next_delta_round() {
    let s = sim().await;
    let token = s.consented_token(CONTOSO).await;
    let delta = async |url: String| round(&s, &token, url).await;
    let select = "/v1.0/users/delta?$select=id,userPrincipalName,accountEnabled";
    let (users, link) = delta(s.url(select)).await;
    assert!(users.iter().all(|u| u["accountEnabled"] == true));
    let patch = |body: serde_json::Value| {
        s.http
            .patch(s.url(&format!("/_sim/tenants/{CONTOSO}/users/alan@contoso.com")))
            .json(&body)
            .send()
    };
    let r = patch(json!({"accountEnabled": false})).await.unwrap();
    assert!(r.status().is_success());
    // A key the control API does not know is refused, not ignored.
    let r = patch(json!({"enabled": false})).await.unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let (changes, _) = delta(link).await;
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["userPrincipalName"], "alan@contoso.com");
    assert_eq!(changes[0]["accountEnabled"], false);
}
