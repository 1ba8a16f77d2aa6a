//! The identity platform: client credentials, admin consent, certificate assertions, device
//! code, refresh tokens, and the `oauth2` crate over TLS.

use std::time::Duration;

use exo_operator::microsoft::errors::TokenFailure;
use exo_operator::microsoft::identity::assertion::client_assertion;
use exo_operator::microsoft::identity::credential::CertificateCredential;
use exo_sim_m365::SimOptions;
use exo_sim_m365::tenants::{DEMO_CLIENT_ID, DEMO_SECRET};
use serde_json::{Value, json};

use super::{
    CONTOSO, CONTOSO_ID, EXCHANGE, GRAPH, JWT_BEARER, Sim, claims, failure, sim, sim_with,
};

const FABRIKAM: &str = "fabrikam.com";

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

    // The admin consent page redirects with the outcome to a registered redirect URI only.
    let consent = |redirect: &str| {
        s.url(&format!("/{CONTOSO}/v2.0/adminconsent?client_id={DEMO_CLIENT_ID}&redirect_uri={redirect}&state=abc"))
    };
    let r = s
        .http
        .get(consent("https://example.com/cb"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400, "not registered: AADSTS50011");
    assert!(r.headers().get("location").is_none());
    s.control(
        &format!("/apps/{DEMO_CLIENT_ID}/redirect-uris"),
        json!({"uri": "https://example.com/cb"}),
    )
    .await;
    let (status, _) = s.app_token(CONTOSO, GRAPH).await;
    assert_eq!(status, 400, "a refused consent grants nothing");
    let r = s
        .http
        .get(consent("https://example.com/cb"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(&format!(
            "https://example.com/cb?admin_consent=True&tenant={CONTOSO_ID}&state=abc"
        )),
        "{location}"
    );

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
    assert_eq!(c.tid.as_deref(), Some(CONTOSO_ID));
    assert_eq!(
        claims(&s.access_token(CONTOSO, EXCHANGE).await).roles,
        ["Exchange.ManageAsApp"]
    );

    // The JWKS publishes the signing key.
    let jwks: Value = s
        .get_json(&s.url(&format!("/{CONTOSO}/discovery/v2.0/keys")))
        .await;
    assert_eq!(jwks["keys"][0]["kty"], "RSA");
    let oidc = s
        .get_json(&s.url(&format!("/{CONTOSO}/v2.0/.well-known/openid-configuration")))
        .await;
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
    s.consent(CONTOSO).await;
    let (st, b) = s.app_token("nowhere.example.com", GRAPH).await;
    assert_eq!(failure(st, &b), TokenFailure::TenantNotFound);
    let (st, b) = s
        .client_credentials(CONTOSO, DEMO_CLIENT_ID, Some("wrong"), GRAPH)
        .await;
    assert_eq!(
        (st, failure(st, &b)),
        (401, TokenFailure::CredentialInvalid)
    );
    let (st, b) = s
        .client_credentials(
            CONTOSO,
            "00000000-0000-0000-0000-000000000001",
            Some("x"),
            GRAPH,
        )
        .await;
    assert_eq!(failure(st, &b), TokenFailure::AppNotFound);
    let (st, b) = s
        .app_token(CONTOSO, "https://unknown.example.com/.default")
        .await;
    assert_eq!(failure(st, &b), TokenFailure::ResourceNotFound);
    let (st, b) = s
        .client_credentials(CONTOSO, DEMO_CLIENT_ID, None, GRAPH)
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
        .client_credentials(CONTOSO, DEMO_CLIENT_ID, rotated["value"].as_str(), GRAPH)
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

/// A client-credentials request of `tenant` with a signed `assertion` instead of a secret.
async fn with_assertion(s: &Sim, assertion: &str) -> (u16, Value) {
    s.token(
        CONTOSO,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", DEMO_CLIENT_ID),
            ("scope", GRAPH),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", assertion),
        ],
    )
    .await
}

#[tokio::test]
async fn certificate_assertions_are_verified() {
    let s = sim().await;
    s.consent(CONTOSO).await;
    let cert = CertificateCredential::from_pem(
        include_bytes!("../fixtures/app-cert.pem"),
        include_bytes!("../fixtures/app-key.pem"),
    )
    .unwrap();
    let assertion_for = |audience: &str| {
        client_assertion(&cert, DEMO_CLIENT_ID, audience, jiff::Timestamp::now()).unwrap()
    };
    let assertion = assertion_for(&s.url(&format!("/{CONTOSO}/oauth2/v2.0/token")));
    let (st, b) = with_assertion(&s, &assertion).await;
    assert_eq!(st, 200, "{b}");
    // The same assertion again, within its lifetime, is accepted: Entra does not track jti,
    // and MSAL reuses one assertion until it nears expiry.
    let (st, b) = with_assertion(&s, &assertion).await;
    assert_eq!(st, 200, "{b}");
    // A wrong audience is refused.
    let (st, b) = with_assertion(&s, &assertion_for("https://elsewhere/x")).await;
    assert_eq!(b["error_codes"][0], 700021, "{st} {b}");
}

/// Starts a device-code sign-in in Fabrikam for Graph (with `offline_access`, for a refresh
/// token), has the control API `action` it (`approve`, `decline`, `expire`) and polls once: the
/// token endpoint's answer.
async fn prompt_then(s: &Sim, action: &str) -> Value {
    let r = s
        .device_code(FABRIKAM, &format!("{GRAPH} offline_access"))
        .await;
    s.control(
        &format!("/devicecodes/{}/{action}", r["user_code"].as_str().unwrap()),
        json!({}),
    )
    .await;
    s.redeem(FABRIKAM, r["device_code"].as_str().unwrap())
        .await
        .1
}

#[tokio::test]
async fn device_code_sign_in_refresh_rotation_and_revocation() {
    let s = sim().await;
    let r = s
        .device_code(
            FABRIKAM,
            "https://graph.microsoft.com/.default offline_access",
        )
        .await;
    let device_code = r["device_code"].as_str().unwrap().to_string();
    let user_code = r["user_code"].as_str().unwrap().to_string();
    assert_eq!(r["interval"], 1);
    let (st, b) = s.redeem(FABRIKAM, &device_code).await;
    assert_eq!(
        (st, b["error"].as_str()),
        (400, Some("authorization_pending"))
    );
    let (_, b) = s.redeem(FABRIKAM, &device_code).await;
    assert_eq!(b["error"], "slow_down", "polling faster than the interval");
    s.control(&format!("/devicecodes/{user_code}/approve"), json!({}))
        .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (st, b) = s.redeem(FABRIKAM, &device_code).await;
    assert_eq!(st, 200, "{b}");
    let c = claims(b["access_token"].as_str().unwrap());
    assert!(c.scopes().contains(&"User.Read.All"));
    let rt = b["refresh_token"].as_str().unwrap().to_string();
    let (st, b) = s.redeem(FABRIKAM, &device_code).await;
    assert_eq!(
        (st, b["error_codes"][0].as_u64()),
        (400, Some(54005)),
        "a code is redeemed once"
    );

    let (st, b) = s.refresh(FABRIKAM, &rt).await;
    assert_eq!(st, 200);
    assert_ne!(b["refresh_token"].as_str().unwrap(), rt, "rotated");
    s.control("/tenants/fabrikam.com/refresh-tokens/revoke", json!({}))
        .await;
    let (st, b) = s.refresh(FABRIKAM, &rt).await;
    assert_eq!(failure(st, &b), TokenFailure::RefreshTokenRevoked);

    // Declined and expired prompts.
    for (action, expected) in [
        ("decline", "authorization_declined"),
        ("expire", "expired_token"),
    ] {
        assert_eq!(prompt_then(&s, action).await["error"], expected);
    }
    // An expired refresh token after inactivity.
    let b = prompt_then(&s, "approve").await;
    let rt = b["refresh_token"].as_str().unwrap().to_string();
    s.control("/clock/advance", json!({"seconds": 91 * 86400}))
        .await;
    let (st, b) = s.refresh(FABRIKAM, &rt).await;
    assert_eq!(failure(st, &b), TokenFailure::RefreshTokenExpired);
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
        .post(s.url(&format!("/_sim/tenants/{CONTOSO}/consent")))
        .json(&json!({"clientId": DEMO_CLIENT_ID}))
        .send()
        .await
        .unwrap();

    let endpoint = |name: &str| s.url(&format!("/{CONTOSO}/oauth2/v2.0/{name}"));
    let client = BasicClient::new(ClientId::new(DEMO_CLIENT_ID.into()))
        .set_client_secret(ClientSecret::new(DEMO_SECRET.into()))
        .set_auth_uri(AuthUrl::new(endpoint("authorize")).unwrap())
        .set_token_uri(TokenUrl::new(endpoint("token")).unwrap())
        .set_device_authorization_url(DeviceAuthorizationUrl::new(endpoint("devicecode")).unwrap());
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
        .add_scope(Scope::new("offline_access".into()))
        .request_async(&http)
        .await
        .unwrap();
    let code = details.user_code().secret().clone();
    let approve = {
        let control = control.clone();
        let url = s.url(&format!("/_sim/devicecodes/{code}/approve"));
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
}
