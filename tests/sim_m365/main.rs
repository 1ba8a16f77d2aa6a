//! The Microsoft 365 simulator over HTTP on loopback: identity platform (`identity`), Graph
//! (`graph`), Management Activity API and fault injection (`management`), the Exchange admin
//! API (`exchange`) and the control API. This file holds the client the tests share.

#[path = "../support/m365.rs"]
mod m365;

mod exchange;
mod graph;
mod identifiers;
mod identity;
mod management;

use exo_operator::microsoft::errors::{IdentityErrorBody, TokenFailure, classify_identity_error};
use exo_operator::microsoft::identity::token::TokenClaims;
use exo_sim_m365::tenants::{DEMO_CLIENT_ID, DEMO_SECRET};
use exo_sim_m365::{SimOptions, Simulator};
use serde_json::{Value, json};

const CONTOSO: &str = "contoso.onmicrosoft.com";
const WOODGROVE: &str = "woodgrove.onmicrosoft.com";
const GRAPH: &str = "https://graph.microsoft.com/.default";
const EXCHANGE: &str = "https://outlook.office365.com/.default";
/// Contoso's tenant id.
const CONTOSO_ID: &str = "5b1c6e8a-2f4d-4a7b-9c3e-1d2f3a4b5c6d";
/// The Exchange Administrator role definition.
const EXCHANGE_ADMIN: &str = "29232cdf-9323-42fd-ade2-1d097af3e4de";
const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A simulator and an HTTP client that does not follow redirects.
struct Sim {
    sim: Simulator,
    http: reqwest::Client,
}

/// A simulator started with `opts`.
async fn sim_with(opts: SimOptions) -> Sim {
    Sim {
        sim: Simulator::start(opts).await.unwrap(),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

/// A simulator of the demo world with a one-second device-code interval.
async fn sim() -> Sim {
    sim_with(SimOptions {
        device_code_interval: 1,
        ..Default::default()
    })
    .await
}

impl Sim {
    /// The simulator's URL of `path`.
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.url())
    }

    /// POSTs `body` to the control API; asserts success and returns the answer.
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

    /// Grants admin consent to the demo application in `tenant` (every permission).
    async fn consent(&self, tenant: &str) {
        self.consent_to(tenant, json!({"clientId": DEMO_CLIENT_ID}))
            .await;
    }

    /// Grants admin consent in `tenant` as `grant` says (client id, permissions).
    async fn consent_to(&self, tenant: &str, grant: Value) {
        self.control(&format!("/tenants/{tenant}/consent"), grant)
            .await;
    }

    /// POSTs `form` to the token endpoint of `tenant`: (status, body).
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

    /// A client-credentials request of `client_id` with `secret` (none: no secret) for `scope`.
    async fn client_credentials(
        &self,
        tenant: &str,
        client_id: &str,
        secret: Option<&str>,
        scope: &str,
    ) -> (u16, Value) {
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
        ];
        form.extend(secret.map(|s| ("client_secret", s)));
        form.push(("scope", scope));
        self.token(tenant, &form).await
    }

    /// The demo application's client-credentials token request for `scope`.
    async fn app_token(&self, tenant: &str, scope: &str) -> (u16, Value) {
        self.client_credentials(tenant, DEMO_CLIENT_ID, Some(DEMO_SECRET), scope)
            .await
    }

    /// The demo application's access token for `scope` (whatever the status).
    async fn access_token(&self, tenant: &str, scope: &str) -> String {
        let (_, body) = self.app_token(tenant, scope).await;
        body["access_token"].as_str().unwrap().to_string()
    }

    /// Consents in `tenant`, then returns a Graph token of the demo application.
    async fn consented_token(&self, tenant: &str) -> String {
        self.consent(tenant).await;
        let (status, body) = self.app_token(tenant, GRAPH).await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_string()
    }

    /// Starts a device-code sign-in in `tenant` for `scope`: the device-authorization answer.
    async fn device_code(&self, tenant: &str, scope: &str) -> Value {
        let r = self
            .http
            .post(self.url(&format!("/{tenant}/oauth2/v2.0/devicecode")))
            .form(&[("client_id", DEMO_CLIENT_ID), ("scope", scope)])
            .send()
            .await
            .unwrap();
        r.json().await.unwrap()
    }

    /// Polls the token endpoint of `tenant` once with `device_code`.
    async fn redeem(&self, tenant: &str, device_code: &str) -> (u16, Value) {
        self.token(
            tenant,
            &[
                ("grant_type", DEVICE_CODE_GRANT),
                ("client_id", DEMO_CLIENT_ID),
                ("device_code", device_code),
            ],
        )
        .await
    }

    /// A Graph token request of `tenant` with refresh token `refresh_token` (asking
    /// `offline_access`, for a new refresh token).
    async fn refresh(&self, tenant: &str, refresh_token: &str) -> (u16, Value) {
        let scope = format!("{GRAPH} offline_access");
        self.token(
            tenant,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", DEMO_CLIENT_ID),
                ("refresh_token", refresh_token),
                ("scope", &scope),
            ],
        )
        .await
    }

    /// GETs a Graph path with `token` and extra `headers`: (status, body or null).
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

    /// POSTs `body` to a Graph `path` (under `/v1.0`) with `token`: (status, body).
    async fn graph_post(&self, token: &str, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(self.url(&format!("/v1.0{path}")))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    /// GETs a URL of the simulator (without a token) and decodes the JSON body.
    async fn get_json(&self, url: &str) -> Value {
        let r = self.http.get(url).send().await.unwrap();
        r.json().await.unwrap()
    }

    /// The object id of the demo application's service principal, read with Graph `token`.
    async fn service_principal(&self, token: &str) -> String {
        let (_, body) = self
            .graph(
                token,
                &format!("/servicePrincipals?$filter=appId eq '{DEMO_CLIENT_ID}'"),
                &[],
            )
            .await;
        body["value"][0]["id"].as_str().unwrap().to_string()
    }
}

/// How the operator classifies an identity-platform error answer.
fn failure(status: u16, body: &Value) -> TokenFailure {
    classify_identity_error(
        status,
        &IdentityErrorBody::parse(body.to_string().as_bytes()),
    )
}

/// The claims of an access token (signature not checked).
fn claims(token: &str) -> TokenClaims {
    TokenClaims::decode_unverified(token).unwrap()
}

/// The `error.code` of a Graph error answer.
fn graph_error(body: &Value) -> Option<&str> {
    body["error"]["code"].as_str()
}
