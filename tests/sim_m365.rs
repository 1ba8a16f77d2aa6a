//! The Microsoft 365 simulator over HTTP on loopback: identity platform, Graph, Management
//! Activity API and the control API.

use std::time::Duration;

use base64::Engine;
use exo_operator::microsoft::errors::{IdentityErrorBody, TokenFailure, classify_identity_error};
use exo_operator::microsoft::identity::token::TokenClaims;
use exo_sim_m365::tenants::{DEMO_CLIENT_ID, DEMO_SECRET};
use exo_sim_m365::{Generate, SimOptions, Simulator};
use serde_json::{Value, json};

const CONTOSO: &str = "contoso.onmicrosoft.com";
const GRAPH: &str = "https://graph.microsoft.com/.default";

struct Sim {
    sim: Simulator,
    http: reqwest::Client,
}

async fn sim_with(opts: SimOptions) -> Sim {
    Sim {
        sim: Simulator::start(opts).await.unwrap(),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

async fn sim() -> Sim {
    sim_with(SimOptions {
        device_code_interval: 1,
        ..Default::default()
    })
    .await
}

impl Sim {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.url())
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(self.url(&format!("/_sim{path}")))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap()
    }

    async fn token(&self, tenant: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let r = self
            .http
            .post(self.url(&format!("/{tenant}/oauth2/v2.0/token")))
            .form(form)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    async fn app_token(&self, tenant: &str, scope: &str) -> (u16, Value) {
        self.token(
            tenant,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", DEMO_CLIENT_ID),
                ("client_secret", DEMO_SECRET),
                ("scope", scope),
            ],
        )
        .await
    }

    async fn graph(&self, token: &str, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
        let mut r = self
            .http
            .get(self.url(&format!("/v1.0{path}")))
            .bearer_auth(token);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        let r = r.send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn consented_token(&self, tenant: &str) -> String {
        self.control(
            &format!("/tenants/{tenant}/consent"),
            json!({"clientId": DEMO_CLIENT_ID}),
        )
        .await;
        let (status, body) = self.app_token(tenant, GRAPH).await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_string()
    }
}

fn failure(status: u16, body: &Value) -> TokenFailure {
    classify_identity_error(
        status,
        &IdentityErrorBody::parse(body.to_string().as_bytes()),
    )
}

fn claims(token: &str) -> TokenClaims {
    TokenClaims::decode_unverified(token).unwrap()
}

#[tokio::test]
async fn client_credentials_before_and_after_admin_consent() {
    let s = sim().await;
    let (status, body) = s.app_token(CONTOSO, GRAPH).await;
    assert_eq!(status, 400);
    assert_eq!(body["error_codes"][0], 700016);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS700016:")
    );
    assert!(body["trace_id"].is_string() && body["correlation_id"].is_string());

    // The admin consent page redirects with the outcome, or answers when there is no redirect.
    let r = s.http.get(s.url(&format!("/{CONTOSO}/v2.0/adminconsent?client_id={DEMO_CLIENT_ID}&redirect_uri=https://example.com/cb&state=abc"))).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with("https://example.com/cb?admin_consent=True&tenant=5b1c6e8a-2f4d-4a7b-9c3e-1d2f3a4b5c6d&state=abc"), "{location}");

    let (status, body) = s.app_token(CONTOSO, GRAPH).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let c = claims(body["access_token"].as_str().unwrap());
    assert!(
        c.roles.contains(&"User.Read.All".to_string())
            && c.roles.contains(&"Mail.ReadWrite".to_string()),
        "{:?}",
        c.roles
    );
    assert!(!c.roles.contains(&"Exchange.ManageAsApp".to_string()));
    assert_eq!(
        c.tid.as_deref(),
        Some("5b1c6e8a-2f4d-4a7b-9c3e-1d2f3a4b5c6d")
    );
    let (_, body) = s
        .app_token(CONTOSO, "https://outlook.office365.com/.default")
        .await;
    assert_eq!(
        claims(body["access_token"].as_str().unwrap()).roles,
        ["Exchange.ManageAsApp"]
    );

    // The JWKS publishes the signing key.
    let jwks: Value = s
        .http
        .get(s.url(&format!("/{CONTOSO}/discovery/v2.0/keys")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["kty"], "RSA");
    let oidc: Value = s
        .http
        .get(s.url(&format!("/{CONTOSO}/v2.0/.well-known/openid-configuration")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        oidc["token_endpoint"]
            .as_str()
            .unwrap()
            .ends_with("/oauth2/v2.0/token")
    );
}

#[tokio::test]
async fn identity_errors_carry_the_codes_the_operator_classifies() {
    let s = sim().await;
    s.control(
        &format!("/tenants/{CONTOSO}/consent"),
        json!({"clientId": DEMO_CLIENT_ID}),
    )
    .await;
    let (st, b) = s.app_token("nowhere.example.com", GRAPH).await;
    assert_eq!(failure(st, &b), TokenFailure::TenantNotFound);
    let (st, b) = s
        .token(
            CONTOSO,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", DEMO_CLIENT_ID),
                ("client_secret", "wrong"),
                ("scope", GRAPH),
            ],
        )
        .await;
    assert_eq!(
        (st, failure(st, &b)),
        (401, TokenFailure::CredentialInvalid)
    );
    let (st, b) = s
        .token(
            CONTOSO,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "00000000-0000-0000-0000-000000000001"),
                ("client_secret", "x"),
                ("scope", GRAPH),
            ],
        )
        .await;
    assert_eq!(failure(st, &b), TokenFailure::AppNotFound);
    let (st, b) = s
        .app_token(CONTOSO, "https://unknown.example.com/.default")
        .await;
    assert_eq!(failure(st, &b), TokenFailure::ResourceNotFound);
    let (st, b) = s
        .token(
            CONTOSO,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", DEMO_CLIENT_ID),
                ("scope", GRAPH),
            ],
        )
        .await;
    assert_eq!((st, b["error_codes"][0].as_u64()), (401, Some(7000218)));
    s.control(&format!("/apps/{DEMO_CLIENT_ID}/secrets/expire"), json!({}))
        .await;
    let (st, b) = s.app_token(CONTOSO, GRAPH).await;
    assert_eq!(failure(st, &b), TokenFailure::CredentialExpired);
    let rotated = s
        .control(&format!("/apps/{DEMO_CLIENT_ID}/secrets/rotate"), json!({}))
        .await;
    let (st, _) = s
        .token(
            CONTOSO,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", DEMO_CLIENT_ID),
                ("client_secret", rotated["value"].as_str().unwrap()),
                ("scope", GRAPH),
            ],
        )
        .await;
    assert_eq!(st, 200);
    s.control(&format!("/apps/{DEMO_CLIENT_ID}/disable"), json!({}))
        .await;
    let (st, b) = s.app_token(CONTOSO, GRAPH).await;
    assert_eq!(failure(st, &b), TokenFailure::AppDisabled);
    let (st, b) = s
        .token(
            CONTOSO,
            &[("grant_type", "password"), ("client_id", DEMO_CLIENT_ID)],
        )
        .await;
    assert_eq!(
        (st, b["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
}

#[tokio::test]
async fn certificate_assertions_are_verified() {
    let s = sim().await;
    s.control(
        &format!("/tenants/{CONTOSO}/consent"),
        json!({"clientId": DEMO_CLIENT_ID}),
    )
    .await;
    let cert = exo_operator::microsoft::identity::credential::CertificateCredential::from_pem(
        include_bytes!("fixtures/app-cert.pem"),
        include_bytes!("fixtures/app-key.pem"),
    )
    .unwrap();
    let token_url = s.url(&format!("/{CONTOSO}/oauth2/v2.0/token"));
    let assertion = exo_operator::microsoft::identity::assertion::client_assertion(
        &cert,
        DEMO_CLIENT_ID,
        &token_url,
        jiff::Timestamp::now(),
    )
    .unwrap();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", DEMO_CLIENT_ID),
        ("scope", GRAPH),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion.as_str()),
    ];
    let (st, b) = s.token(CONTOSO, &form).await;
    assert_eq!(st, 200, "{b}");
    // The same assertion again is a replay.
    let (st, b) = s.token(CONTOSO, &form).await;
    assert_eq!(
        (st, failure(st, &b)),
        (401, TokenFailure::CredentialInvalid)
    );
    // A wrong audience is refused.
    let other = exo_operator::microsoft::identity::assertion::client_assertion(
        &cert,
        DEMO_CLIENT_ID,
        "https://elsewhere/x",
        jiff::Timestamp::now(),
    )
    .unwrap();
    let (st, b) = s
        .token(
            CONTOSO,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", DEMO_CLIENT_ID),
                ("scope", GRAPH),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", other.as_str()),
            ],
        )
        .await;
    assert_eq!(b["error_codes"][0], 700021, "{st} {b}");
}

#[tokio::test]
async fn device_code_sign_in_refresh_rotation_and_revocation() {
    let s = sim().await;
    let r: Value = s
        .http
        .post(s.url("/fabrikam.com/oauth2/v2.0/devicecode"))
        .form(&[
            ("client_id", DEMO_CLIENT_ID),
            (
                "scope",
                "https://graph.microsoft.com/.default offline_access",
            ),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let device_code = r["device_code"].as_str().unwrap().to_string();
    let user_code = r["user_code"].as_str().unwrap().to_string();
    assert_eq!(r["interval"], 1);
    let poll = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("client_id", DEMO_CLIENT_ID),
        ("device_code", device_code.as_str()),
    ];
    let (st, b) = s.token("fabrikam.com", &poll).await;
    assert_eq!(
        (st, b["error"].as_str()),
        (400, Some("authorization_pending"))
    );
    let (_, b) = s.token("fabrikam.com", &poll).await;
    assert_eq!(b["error"], "slow_down", "polling faster than the interval");
    s.control(&format!("/devicecodes/{user_code}/approve"), json!({}))
        .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (st, b) = s.token("fabrikam.com", &poll).await;
    assert_eq!(st, 200, "{b}");
    let c = claims(b["access_token"].as_str().unwrap());
    assert!(c.scopes().contains(&"User.Read.All"));
    let rt = b["refresh_token"].as_str().unwrap().to_string();
    let (st, b) = s.token("fabrikam.com", &poll).await;
    assert_eq!(
        (st, b["error_codes"][0].as_u64()),
        (400, Some(54005)),
        "a code is redeemed once"
    );

    let refresh = |t: String| {
        [
            ("grant_type", "refresh_token".to_string()),
            ("client_id", DEMO_CLIENT_ID.to_string()),
            ("refresh_token", t),
            ("scope", GRAPH.to_string()),
        ]
    };
    let f = refresh(rt.clone());
    let form: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (st, b) = s.token("fabrikam.com", &form).await;
    assert_eq!(st, 200);
    assert_ne!(b["refresh_token"].as_str().unwrap(), rt, "rotated");
    s.control("/tenants/fabrikam.com/refresh-tokens/revoke", json!({}))
        .await;
    let (st, b) = s.token("fabrikam.com", &form).await;
    assert_eq!(failure(st, &b), TokenFailure::RefreshTokenRevoked);

    // Declined and expired prompts.
    for (action, expected) in [
        ("decline", "authorization_declined"),
        ("expire", "expired_token"),
    ] {
        let r: Value = s
            .http
            .post(s.url("/fabrikam.com/oauth2/v2.0/devicecode"))
            .form(&[("client_id", DEMO_CLIENT_ID), ("scope", GRAPH)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        s.control(
            &format!("/devicecodes/{}/{action}", r["user_code"].as_str().unwrap()),
            json!({}),
        )
        .await;
        let (_, b) = s
            .token(
                "fabrikam.com",
                &[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                    ("client_id", DEMO_CLIENT_ID),
                    ("device_code", r["device_code"].as_str().unwrap()),
                ],
            )
            .await;
        assert_eq!(b["error"], expected);
    }
    // An expired refresh token after inactivity.
    let r: Value = s
        .http
        .post(s.url("/fabrikam.com/oauth2/v2.0/devicecode"))
        .form(&[("client_id", DEMO_CLIENT_ID), ("scope", GRAPH)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    s.control(
        &format!("/devicecodes/{}/approve", r["user_code"].as_str().unwrap()),
        json!({}),
    )
    .await;
    let (_, b) = s
        .token(
            "fabrikam.com",
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("client_id", DEMO_CLIENT_ID),
                ("device_code", r["device_code"].as_str().unwrap()),
            ],
        )
        .await;
    let f = refresh(b["refresh_token"].as_str().unwrap().to_string());
    let form: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    s.control("/clock/advance", json!({"seconds": 91 * 86400}))
        .await;
    let (st, b) = s.token("fabrikam.com", &form).await;
    assert_eq!(failure(st, &b), TokenFailure::RefreshTokenExpired);
}

#[tokio::test]
async fn graph_validates_tokens_and_roles() {
    let s = sim().await;
    let (st, b) = s.graph("not-a-token", "/users", &[]).await;
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (401, Some("InvalidAuthenticationToken"))
    );
    assert!(b["error"]["innerError"]["request-id"].is_string());
    // Only Domain.Read.All: users are denied.
    s.control(
        &format!("/tenants/{CONTOSO}/consent"),
        json!({"clientId": DEMO_CLIENT_ID, "permissions": ["Domain.Read.All"]}),
    )
    .await;
    let (_, body) = s.app_token(CONTOSO, GRAPH).await;
    let token = body["access_token"].as_str().unwrap().to_string();
    let (st, b) = s.graph(&token, "/users", &[]).await;
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (403, Some("Authorization_RequestDenied"))
    );
    let (st, b) = s.graph(&token, "/domains", &[]).await;
    assert_eq!(st, 200);
    assert_eq!(b["value"].as_array().unwrap().len(), 2);
    // A token for another resource is not a Graph token.
    s.control(
        &format!("/tenants/{CONTOSO}/consent"),
        json!({"clientId": DEMO_CLIENT_ID}),
    )
    .await;
    let (_, body) = s
        .app_token(CONTOSO, "https://outlook.office365.com/.default")
        .await;
    let (st, _) = s
        .graph(body["access_token"].as_str().unwrap(), "/users", &[])
        .await;
    assert_eq!(st, 401);
    // An expired token.
    s.control("/clock/advance", json!({"seconds": 7200})).await;
    let (st, b) = s.graph(&token, "/domains", &[]).await;
    assert_eq!(st, 401);
    assert!(b["error"]["message"].as_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn graph_queries_paging_and_odata_rules() {
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
    assert_eq!(b["value"].as_array().unwrap().len(), 100);
    assert_eq!(
        b["value"][0].as_object().unwrap().len(),
        2,
        "only selected properties"
    );
    let mut next = b["@odata.nextLink"].as_str().unwrap().to_string();
    assert!(next.contains("select") && next.contains("skiptoken"));
    let mut total = 100;
    while !next.is_empty() {
        let r: Value = s
            .http
            .get(&next)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        total += r["value"].as_array().unwrap().len();
        next = r["@odata.nextLink"].as_str().unwrap_or("").to_string();
    }
    assert_eq!(total, 254);
    let (st, _) = s.graph(&token, "/users?$top=1000", &[]).await;
    assert_eq!(st, 400);
    let (_, b) = s.graph(&token, "/users?$top=999&$count=true", &[]).await;
    assert!(
        b.get("@odata.count").is_none(),
        "$count needs ConsistencyLevel"
    );
    let (_, b) = s
        .graph(
            &token,
            "/users?$top=5&$count=true",
            &[("ConsistencyLevel", "eventual")],
        )
        .await;
    assert_eq!(b["@odata.count"], 254);
    // User by UPN, case-insensitive; missing user.
    let (st, b) = s.graph(&token, "/users/ADA@contoso.com", &[]).await;
    assert_eq!((st, b["displayName"].as_str()), (200, Some("Ada Lovelace")));
    let (st, b) = s.graph(&token, "/users/nobody@contoso.com", &[]).await;
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (404, Some("Request_ResourceNotFound"))
    );
    // Groups by prefix and $search.
    let (_, b) = s
        .graph(&token, "/groups?$filter=startswith(displayName,'Eng')", &[])
        .await;
    assert_eq!(b["value"].as_array().unwrap().len(), 1);
    let (st, b) = s
        .graph(&token, "/groups?$search=\"displayName:Res\"", &[])
        .await;
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (400, Some("Request_UnsupportedQuery"))
    );
    let (st, b) = s
        .graph(
            &token,
            "/groups?$search=\"displayName:Res\"",
            &[("ConsistencyLevel", "eventual")],
        )
        .await;
    assert_eq!((st, b["value"].as_array().unwrap().len()), (200, 1));
    // Members and cycle-safe transitive members.
    let eng = s
        .graph(&token, "/groups?$filter=displayName eq 'Engineering'", &[])
        .await
        .1["value"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, b) = s
        .graph(&token, &format!("/groups/{eng}/members"), &[])
        .await;
    assert_eq!(b["value"].as_array().unwrap().len(), 3);
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
    assert_eq!(b["value"][0]["id"], "5b1c6e8a-2f4d-4a7b-9c3e-1d2f3a4b5c6d");
    let (_, b) = s
        .graph(
            &token,
            &format!("/servicePrincipals?$filter=appId eq '{DEMO_CLIENT_ID}'"),
            &[],
        )
        .await;
    let sp = b["value"][0]["id"].as_str().unwrap().to_string();
    let (_, b) = s
        .graph(
            &token,
            &format!("/servicePrincipals/{sp}/appRoleAssignments"),
            &[],
        )
        .await;
    assert_eq!(b["value"].as_array().unwrap().len(), 8);
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
        (200, Some("29232cdf-9323-42fd-ade2-1d097af3e4de"))
    );
}

#[tokio::test]
async fn role_assignments_direct_and_through_pim() {
    let s = sim().await;
    let token = s.consented_token("woodgrove.onmicrosoft.com").await;
    let sp = s
        .graph(
            &token,
            &format!("/servicePrincipals?$filter=appId eq '{DEMO_CLIENT_ID}'"),
            &[],
        )
        .await
        .1["value"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let body = json!({"principalId": sp, "roleDefinitionId": "29232cdf-9323-42fd-ade2-1d097af3e4de", "directoryScopeId": "/"});
    let post = |path: &'static str, b: Value| {
        let (http, url, token) = (s.http.clone(), s.url(path), token.clone());
        async move {
            let r = http
                .post(url)
                .bearer_auth(token)
                .json(&b)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (st, _) = post(
        "/v1.0/roleManagement/directory/roleAssignments",
        body.clone(),
    )
    .await;
    assert_eq!(st, 201);
    let (st, b) = post(
        "/v1.0/roleManagement/directory/roleAssignments",
        body.clone(),
    )
    .await;
    assert_eq!(st, 400);
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("conflicting object")
    );
    // The new role shows in a fresh token's wids.
    let (_, b) = s
        .app_token(
            "woodgrove.onmicrosoft.com",
            "https://outlook.office365.com/.default",
        )
        .await;
    assert_eq!(
        claims(b["access_token"].as_str().unwrap()).wids,
        ["29232cdf-9323-42fd-ade2-1d097af3e4de"]
    );
    // PIM: justification required, then Provisioned.
    let pim = json!({"action": "adminAssign", "principalId": sp, "roleDefinitionId": "194ae4cb-b126-40b2-bd5b-6091b380977d", "directoryScopeId": "/", "justification": ""});
    let (st, _) = post(
        "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests",
        pim.clone(),
    )
    .await;
    assert_eq!(st, 400);
    let mut pim = pim;
    pim["justification"] = json!("email security onboarding");
    let (st, b) = post(
        "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests",
        pim,
    )
    .await;
    assert_eq!((st, b["status"].as_str()), (201, Some("Provisioned")));
    let (_, b) = s.graph(&token, &format!("/roleManagement/directory/roleAssignmentScheduleInstances?$filter=principalId eq '{sp}'"), &[]).await;
    assert_eq!(b["value"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn delta_rounds_report_changes_removals_and_resets() {
    let s = sim().await;
    let token = s.consented_token(CONTOSO).await;
    let round = |url: String| {
        let (http, token) = (s.http.clone(), token.clone());
        async move {
            let mut items = Vec::new();
            let mut next = url;
            loop {
                let r: Value = http
                    .get(&next)
                    .bearer_auth(&token)
                    .header("Prefer", "odata.maxpagesize=2")
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                items.extend(r["value"].as_array().unwrap().clone());
                if let Some(n) = r["@odata.nextLink"].as_str() {
                    next = n.to_string();
                } else {
                    return (items, r["@odata.deltaLink"].as_str().unwrap().to_string());
                }
            }
        }
    };
    let (users, link) = round(s.url("/v1.0/users/delta?$select=id,userPrincipalName")).await;
    assert_eq!(users.len(), 4);
    let (groups, glink) = round(s.url("/v1.0/groups/delta?$select=id,displayName,members")).await;
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
    let (changes, link2) = round(link.clone()).await;
    assert_eq!(changes.len(), 2);
    assert!(
        changes
            .iter()
            .any(|c| c["userPrincipalName"] == "new@contoso.com")
    );
    assert!(changes.iter().any(|c| c["@removed"]["reason"] == "deleted"));
    let (gchanges, _) = round(glink).await;
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
    let (none, _) = round(link2.clone()).await;
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
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (400, Some("syncStateNotFound"))
    );
    let (_, b) = s
        .graph(&fresh, "/users/delta?$deltatoken=latest", &[])
        .await;
    assert!(b["@odata.deltaLink"].is_string() && b["value"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn activity_subscriptions_check_audience_role_and_tenant() {
    let s = sim().await;
    s.control(
        &format!("/tenants/{CONTOSO}/consent"),
        json!({"clientId": DEMO_CLIENT_ID}),
    )
    .await;
    let (_, b) = s
        .app_token(CONTOSO, "https://manage.office.com/.default")
        .await;
    let token = b["access_token"].as_str().unwrap().to_string();
    let tid = "5b1c6e8a-2f4d-4a7b-9c3e-1d2f3a4b5c6d";
    let call = |method: reqwest::Method, path: String, token: String| {
        let http = s.http.clone();
        let url = s.url(&path);
        async move {
            let r = http
                .request(method, url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (st, _) = call(
        reqwest::Method::POST,
        format!("/api/v1.0/{tid}/activity/feed/subscriptions/start?contentType=Audit.Exchange"),
        token.clone(),
    )
    .await;
    assert_eq!(st, 200);
    let (_, body) = call(
        reqwest::Method::GET,
        format!("/api/v1.0/{tid}/activity/feed/subscriptions/list"),
        token.clone(),
    )
    .await;
    assert!(body.contains("Audit.Exchange") && body.contains("enabled"));
    let (st, body) = call(
        reqwest::Method::POST,
        format!("/api/v1.0/{CONTOSO}/activity/feed/subscriptions/start?contentType=Audit.Exchange"),
        token.clone(),
    )
    .await;
    assert!(st == 400 && body.contains("AF20013"));
    let (st, body) = call(reqwest::Method::POST, "/api/v1.0/9188040d-6c67-4c5b-b112-36a304b66dad/activity/feed/subscriptions/start?contentType=Audit.Exchange".into(), token.clone()).await;
    assert!(st == 403 && body.contains("AF20010"));
    let (_, graph) = s.app_token(CONTOSO, GRAPH).await;
    let (st, _) = call(
        reqwest::Method::GET,
        format!("/api/v1.0/{tid}/activity/feed/subscriptions/list"),
        graph["access_token"].as_str().unwrap().to_string(),
    )
    .await;
    assert_eq!(st, 401);
    let (st, body) = call(
        reqwest::Method::POST,
        format!("/api/v1.0/{tid}/activity/feed/subscriptions/stop?contentType=Audit.General"),
        token,
    )
    .await;
    assert!(st == 400 && body.contains("AF20022"));
}

#[tokio::test]
async fn faults_are_injected_per_path_and_counted() {
    let s = sim().await;
    let token = s.consented_token(CONTOSO).await;
    s.control(
        "/faults",
        json!({"path": "GET /v1.0/domains", "status": 429, "retryAfter": 7, "count": 1}),
    )
    .await;
    let r = s
        .http
        .get(s.url("/v1.0/domains"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    let (st, _) = s.graph(&token, "/domains", &[]).await;
    assert_eq!(st, 200, "the fault applied once");
    s.control(
        "/faults",
        json!({"path": "/v1.0/users", "drop": true, "count": 1}),
    )
    .await;
    let dropped = match s
        .http
        .get(s.url("/v1.0/users"))
        .bearer_auth(&token)
        .send()
        .await
    {
        Err(_) => true,
        Ok(r) => r.text().await.is_err(),
    };
    assert!(dropped, "the connection was dropped");
    s.control(
        "/faults",
        json!({"path": "/v1.0/organization", "latencyMs": 200}),
    )
    .await;
    let started = std::time::Instant::now();
    s.graph(&token, "/organization", &[]).await;
    assert!(started.elapsed() >= Duration::from_millis(200));
    let counters: Value = s
        .http
        .get(s.url("/_sim/counters"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counters["GET /v1.0/domains"], 2);
    assert!(s.sim.count("/oauth2/v2.0/token") >= 1);
}

#[tokio::test]
async fn the_oauth2_crate_gets_tokens_over_tls_with_the_written_ca() {
    use oauth2::{
        AuthUrl, ClientId, ClientSecret, DeviceAuthorizationUrl, Scope,
        StandardDeviceAuthorizationResponse, TokenResponse, TokenUrl, basic::BasicClient,
    };
    let s = sim_with(SimOptions {
        tls: true,
        device_code_interval: 1,
        ..Default::default()
    })
    .await;
    let ca = s.sim.ca_pem().unwrap();
    let dir = std::env::temp_dir().join(format!("exo-sim-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, &ca).unwrap();
    let http = exo_operator::microsoft::http::HttpClient::new(
        Some(&std::fs::read(&ca_file).unwrap()),
        Default::default(),
    )
    .unwrap();
    assert!(s.sim.url().starts_with("https://127.0.0.1:"));
    let control = reqwest::Client::builder()
        .tls_certs_merge(reqwest::Certificate::from_pem_bundle(ca.as_bytes()).unwrap())
        .build()
        .unwrap();
    control
        .post(format!("{}/_sim/tenants/{CONTOSO}/consent", s.sim.url()))
        .json(&json!({"clientId": DEMO_CLIENT_ID}))
        .send()
        .await
        .unwrap();

    let client = BasicClient::new(ClientId::new(DEMO_CLIENT_ID.into()))
        .set_client_secret(ClientSecret::new(DEMO_SECRET.into()))
        .set_auth_uri(
            AuthUrl::new(format!("{}/{CONTOSO}/oauth2/v2.0/authorize", s.sim.url())).unwrap(),
        )
        .set_token_uri(
            TokenUrl::new(format!("{}/{CONTOSO}/oauth2/v2.0/token", s.sim.url())).unwrap(),
        )
        .set_device_authorization_url(
            DeviceAuthorizationUrl::new(format!(
                "{}/{CONTOSO}/oauth2/v2.0/devicecode",
                s.sim.url()
            ))
            .unwrap(),
        );
    let token = client
        .exchange_client_credentials()
        .add_scope(Scope::new(GRAPH.into()))
        .request_async(&http)
        .await
        .unwrap();
    assert!(
        claims(token.access_token().secret())
            .roles
            .contains(&"User.Read.All".to_string())
    );

    let details: StandardDeviceAuthorizationResponse = client
        .exchange_device_code()
        .add_scope(Scope::new(GRAPH.into()))
        .request_async(&http)
        .await
        .unwrap();
    let code = details.user_code().secret().clone();
    let approve = {
        let control = control.clone();
        let url = format!("{}/_sim/devicecodes/{code}/approve", s.sim.url());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            control.post(url).json(&json!({})).send().await.unwrap();
        })
    };
    let token = client
        .exchange_device_access_token(&details)
        .request_async(&http, tokio::time::sleep, Some(Duration::from_secs(20)))
        .await
        .unwrap();
    approve.await.unwrap();
    assert!(token.refresh_token().is_some());
    let _ = std::fs::remove_dir_all(dir);
    let _ = base64::engine::general_purpose::STANDARD.encode("x");
}

async fn invoke(
    s: &Sim,
    token: &str,
    url: &str,
    cmdlet: &str,
    params: Value,
    prefer: Option<&str>,
) -> (u16, String) {
    let mut r = s
        .http
        .post(url)
        .bearer_auth(token)
        .header("X-CmdletName", cmdlet)
        .json(&json!({"CmdletInput": {"CmdletName": cmdlet, "Parameters": params}}));
    if let Some(p) = prefer {
        r = r.header("Prefer", p);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
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
    let tenant = "woodgrove.onmicrosoft.com";
    let graph = s.consented_token(tenant).await;
    let exo_token = |s: &Sim| {
        let s_http = s.http.clone();
        let url = s.url(&format!("/{tenant}/oauth2/v2.0/token"));
        async move {
            let r: Value = s_http
                .post(url)
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", DEMO_CLIENT_ID),
                    ("client_secret", DEMO_SECRET),
                    ("scope", "https://outlook.office365.com/.default"),
                ])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            r["access_token"].as_str().unwrap().to_string()
        }
    };
    let url = s.url(&format!("/adminapi/beta/{tenant}/InvokeCommand"));
    // Exchange.ManageAsApp alone is not enough: 403 with an empty body.
    let token = exo_token(&s).await;
    let (st, body) = invoke(&s, &token, &url, "Get-InboundConnector", json!({}), None).await;
    assert_eq!((st, body.as_str()), (403, ""));
    // Assign Exchange Administrator; within the propagation window tokens still lack it.
    let sp = s
        .graph(
            &graph,
            &format!("/servicePrincipals?$filter=appId eq '{DEMO_CLIENT_ID}'"),
            &[],
        )
        .await
        .1["value"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = s.http.post(s.url("/v1.0/roleManagement/directory/roleAssignments")).bearer_auth(&graph).json(&json!({"principalId": sp, "roleDefinitionId": "29232cdf-9323-42fd-ade2-1d097af3e4de", "directoryScopeId": "/"})).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let (st, _) = invoke(
        &s,
        &exo_token(&s).await,
        &url,
        "Get-InboundConnector",
        json!({}),
        None,
    )
    .await;
    assert_eq!(st, 403, "role propagation");
    s.control("/clock/advance", json!({"seconds": 601})).await;
    let token = exo_token(&s).await;
    let (st, body) = invoke(&s, &token, &url, "Get-InboundConnector", json!({}), None).await;
    assert_eq!(st, 200, "{body}");
    assert!(body.contains("@adminapi.warnings"));

    // Connectors, groups, rules.
    let (st, body) = invoke(&s, &token, &url, "New-OutboundConnector", json!({"Name": "exo to service", "ConnectorType": "Partner", "UseMXRecord": false, "SmartHosts": ["relay.example.com"], "TlsSettings": "DomainValidation", "TlsDomain": "relay.example.com", "IsTransportRuleScoped": true, "Comment": "owner=exo-operator"}), None).await;
    assert_eq!(st, 200, "{body}");
    assert!(body.contains("\"SmartHosts@odata.type\":\"#Collection(String)\""));
    let (st, body) = invoke(
        &s,
        &token,
        &url,
        "New-OutboundConnector",
        json!({"Name": "broken", "UseMXRecord": false}),
        None,
    )
    .await;
    assert!(
        st == 400 && body.contains("SmartHosts must be specified"),
        "{body}"
    );
    let (st, body) = invoke(
        &s,
        &token,
        &url,
        "New-OutboundConnector",
        json!({"Name": "exo to service", "UseMXRecord": true}),
        None,
    )
    .await;
    assert!(
        st == 400 && body.contains("ADObjectAlreadyExistsException"),
        "{body}"
    );
    let (st, body) = invoke(&s, &token, &url, "New-InboundConnector", json!({"Name": "exo from service", "SenderDomains": ["*"], "ConnectorType": "Partner", "SenderIPAddresses": ["203.0.113.0/24"], "RestrictDomainsToIPAddresses": true, "EFSkipIPs": ["203.0.113.0/24"]}), None).await;
    assert_eq!(st, 200, "{body}");
    let (st, body) = invoke(
        &s,
        &token,
        &url,
        "New-InboundConnector",
        json!({"Name": "x", "SenderDomains": ["*"], "BogusParameter": true}),
        None,
    )
    .await;
    assert!(
        st == 400
            && body.contains("AmbiguousParameterSetException")
            && body.contains("BogusParameter"),
        "{body}"
    );
    let (st, body) = invoke(
        &s,
        &token,
        &url,
        "New-InboundConnector",
        json!({"Name": "x", "SenderDomains": ["*"], "ConnectorType": "Sideways"}),
        None,
    )
    .await;
    assert!(
        st == 400 && body.contains("ParameterBindingException"),
        "{body}"
    );
    let (st, body) = invoke(
        &s,
        &token,
        &url,
        "New-DistributionGroup",
        json!({"Name": "exo inline incoming", "Type": "Security"}),
        None,
    )
    .await;
    assert_eq!(st, 200, "{body}");
    let (st, _) = invoke(&s, &token, &url, "Add-DistributionGroupMember", json!({"Identity": "exo inline incoming", "Member": "alice@woodgrove.com", "BypassSecurityGroupManagerCheck": true}), None).await;
    assert_eq!(st, 200);
    let (st, body) = invoke(
        &s,
        &token,
        &url,
        "Add-DistributionGroupMember",
        json!({"Identity": "exo inline incoming", "Member": "alice@woodgrove.com"}),
        None,
    )
    .await;
    assert!(st == 400 && body.contains("already a member"));
    let (_, body) = invoke(
        &s,
        &token,
        &url,
        "Get-DistributionGroupMember",
        json!({"Identity": "exo inline incoming"}),
        None,
    )
    .await;
    assert!(body.contains("alice@woodgrove.com"));
    for (name, priority) in [("exo route", 0), ("exo skip spam", 1), ("exo first", 0)] {
        let (st, body) = invoke(&s, &token, &url, "New-TransportRule", json!({"Name": name, "Priority": priority, "FromScope": "NotInOrganization", "SentToMemberOf": ["exo inline incoming"], "ExceptIfSenderIpRanges": ["203.0.113.0/24"], "RouteMessageOutboundConnector": "exo to service", "SetHeaderName": "X-Exo-Routed", "SetHeaderValue": "token", "StopRuleProcessing": true}), None).await;
        assert_eq!(st, 200, "{body}");
    }
    let (_, body) = invoke(&s, &token, &url, "Get-TransportRule", json!({}), None).await;
    let rules: Value = serde_json::from_str(&body).unwrap();
    let order: Vec<&str> = rules["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Name"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        ["exo first", "exo route", "exo skip spam"],
        "priorities renumbered on insert"
    );
    let (st, body) = invoke(
        &s,
        &token,
        &url,
        "New-TransportRule",
        json!({"Name": "bad", "RouteMessageOutboundConnector": "missing"}),
        None,
    )
    .await;
    assert!(
        st == 404 && body.contains("ManagementObjectNotFoundException"),
        "{body}"
    );
    let (st, body) = invoke(
        &s,
        &token,
        &url,
        "New-TransportRule",
        json!({"Name": "bad", "SetHeaderName": "X-Only"}),
        None,
    )
    .await;
    assert!(st == 400 && body.contains("SetHeaderValue"), "{body}");
    // Connection filter: add keeps existing entries; IPv6 is refused.
    let (st, _) = invoke(
        &s,
        &token,
        &url,
        "Set-HostedConnectionFilterPolicy",
        json!({"Identity": "Default", "IPAllowList": ["198.51.100.7"]}),
        None,
    )
    .await;
    assert_eq!(st, 200);
    let (st, _) = invoke(&s, &token, &url, "Set-HostedConnectionFilterPolicy", json!({"Identity": "Default", "IPAllowList": {"@odata.type": "#Exchange.GenericHashTable", "Add": ["203.0.113.0/24"]}}), None).await;
    assert_eq!(st, 200);
    let (_, body) = invoke(
        &s,
        &token,
        &url,
        "Get-HostedConnectionFilterPolicy",
        json!({"Identity": "Default"}),
        None,
    )
    .await;
    assert!(
        body.contains("198.51.100.7") && body.contains("203.0.113.0/24"),
        "{body}"
    );
    let (st, body) = invoke(
        &s,
        &token,
        &url,
        "Set-HostedConnectionFilterPolicy",
        json!({"Identity": "Default", "IPAllowList": ["2001:db8::1"]}),
        None,
    )
    .await;
    assert!(st == 400 && body.contains("IPv6"), "{body}");
    // Paging: re-POST the same body to the nextLink.
    let (_, body) = invoke(
        &s,
        &token,
        &url,
        "Get-TransportRule",
        json!({}),
        Some("odata.maxpagesize=2"),
    )
    .await;
    let page: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(page["value"].as_array().unwrap().len(), 2);
    let next = page["@odata.nextLink"].as_str().unwrap().to_string();
    let (_, body) = invoke(
        &s,
        &token,
        &next,
        "Get-TransportRule",
        json!({}),
        Some("odata.maxpagesize=2"),
    )
    .await;
    let page: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(page["value"][0]["Name"], "exo skip spam");
    assert!(page.get("@odata.nextLink").is_none());
    // Removal, not found, out-of-band changes through the control API are visible.
    let (st, _) = invoke(
        &s,
        &token,
        &url,
        "Remove-TransportRule",
        json!({"Identity": "exo first", "Confirm": false}),
        None,
    )
    .await;
    assert_eq!(st, 200);
    let (st, body) = invoke(
        &s,
        &token,
        &url,
        "Get-TransportRule",
        json!({"Identity": "exo first"}),
        None,
    )
    .await;
    assert!(st == 404 && body.contains("Ex6F9304"), "{body}");
    s.control(
        &format!("/tenants/{tenant}/exchange/OutboundConnector/exo to service"),
        json!({"SmartHosts": ["evil.example.com"]}),
    )
    .await;
    let (_, body) = invoke(
        &s,
        &token,
        &url,
        "Get-OutboundConnector",
        json!({"Identity": "exo to service"}),
        None,
    )
    .await;
    assert!(body.contains("evil.example.com"));
    let (st, body) = invoke(&s, &token, &url, "Invoke-Nonsense", json!({}), None).await;
    assert!(
        st == 400 && body.contains("CommandNotFoundException"),
        "{body}"
    );
}
