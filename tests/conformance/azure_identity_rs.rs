//! Microsoft's Entra client for Rust (`azure_identity` 1.x, from the Azure SDK for Rust) against
//! the simulator's token endpoint: a client-secret credential as an application in a custom
//! cloud would use it (Learn: "Microsoft identity platform and the OAuth 2.0 client credentials
//! flow"), with the library's own token cache and its reading of Entra's error bodies.

use std::sync::Arc;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::{ClientOptions, Transport};
use azure_identity::{ClientSecretCredential, ClientSecretCredentialOptions};
use base64::Engine;
use exo_sim_m365::Simulator;
use exo_sim_m365::tenants::{DEMO_CLIENT_ID, DEMO_SECRET};
use serde_json::Value;

const TENANT: &str = "contoso.onmicrosoft.com";
const GRAPH: &str = "https://graph.microsoft.com/.default";
const EXCHANGE: &str = "https://outlook.office365.com/.default";
/// The page each check follows.
const CLIENT_CREDENTIALS: &str =
    "https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow";

/// A simulator over HTTPS whose tenant has consented to the demo application.
async fn simulator() -> Simulator {
    let sim = super::https_simulator().await;
    let consent = format!("{}/_sim/tenants/{TENANT}/consent", sim.url());
    let client = http_client(&sim);
    let answer = client
        .post(consent)
        .json(&serde_json::json!({"clientId": DEMO_CLIENT_ID}))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
    sim
}

/// A reqwest client that trusts the simulator's CA.
fn http_client(sim: &Simulator) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(sim.ca_pem().unwrap().as_bytes()).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap()
}

/// A client-secret credential of `tenant` whose authority host is the simulator.
fn credential(sim: &Simulator, tenant: &str, secret: &str) -> Arc<ClientSecretCredential> {
    let mut custom = CustomConfiguration::default();
    custom.authority_host = sim.url();
    let cloud = CloudConfiguration::from(custom);
    let options = ClientSecretCredentialOptions {
        client_options: ClientOptions {
            transport: Some(Transport::new(Arc::new(http_client(sim)))),
            cloud: Some(Arc::new(cloud)),
            ..Default::default()
        },
    };
    ClientSecretCredential::new(
        tenant,
        DEMO_CLIENT_ID.to_string(),
        Secret::new(secret.to_string()),
        Some(options),
    )
    .unwrap()
}

/// The claims of a JWT, unverified.
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_identity_for_rust_acquires_and_caches_app_tokens() {
    let sim = simulator().await;
    let credential = credential(&sim, TENANT, DEMO_SECRET);
    let token = credential.get_token(&[GRAPH], None).await.unwrap();
    let graph = claims(token.token.secret());
    assert_eq!(
        graph["aud"], "https://graph.microsoft.com",
        "{CLIENT_CREDENTIALS}"
    );
    assert_eq!(graph["appid"], DEMO_CLIENT_ID);
    assert!(
        graph["roles"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r == "User.Read.All")),
        "{graph}"
    );
    // `expires_in` read as Entra sends it: the library's cache answers the second call.
    let before = sim.count("/oauth2/v2.0/token");
    let again = credential.get_token(&[GRAPH], None).await.unwrap();
    assert_eq!(again.token.secret(), token.token.secret());
    assert_eq!(sim.count("/oauth2/v2.0/token"), before);
    assert!(again.expires_on > time_now_plus_minutes(30));
    // Another resource, another token.
    let exchange = credential.get_token(&[EXCHANGE], None).await.unwrap();
    assert_eq!(
        claims(exchange.token.secret())["aud"],
        "https://outlook.office365.com"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_identity_for_rust_reports_entras_refusals() {
    let sim = simulator().await;
    // A wrong secret: AADSTS7000215 (Learn: "Microsoft Entra authentication and authorization
    // error codes").
    let wrong = credential(&sim, TENANT, "not-the-secret");
    let err = wrong.get_token(&[GRAPH], None).await.unwrap_err();
    assert!(err.to_string().contains("AADSTS7000215"), "{err}");
    assert!(!err.to_string().contains(DEMO_SECRET));
    // A tenant that does not exist: AADSTS90002.
    let nowhere = credential(&sim, "nowhere.onmicrosoft.com", DEMO_SECRET);
    let err = nowhere.get_token(&[GRAPH], None).await.unwrap_err();
    assert!(err.to_string().contains("AADSTS90002"), "{err}");
    // A scope without `/.default` in the client credentials flow: AADSTS1002012.
    let right = credential(&sim, TENANT, DEMO_SECRET);
    let err = right
        .get_token(&["https://graph.microsoft.com/User.Read.All"], None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("AADSTS1002012"), "{err}");
}

/// Now plus `minutes`, as the library's clock type.
fn time_now_plus_minutes(minutes: i64) -> azure_core::time::OffsetDateTime {
    azure_core::time::OffsetDateTime::now_utc() + azure_core::time::Duration::minutes(minutes)
}
