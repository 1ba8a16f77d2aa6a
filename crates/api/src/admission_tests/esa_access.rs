//! The application's client id and credential, and how a Global Administrator authorizes it.

use serde_json::json;

use super::{accepts_esa, accepts_esa_at, api_spec, rejects_esa, rejects_esa_at, with};

#[test]
fn client_id_is_a_guid() {
    for bad in [
        "my-app",
        "11111111-2222-3333-4444-55555555555g",
        "11111111222233334444555555555555",
    ] {
        rejects_esa_at(api_spec(), "application.clientId", json!(bad));
    }
}

#[test]
fn credential_keys_match_the_credential_type() {
    const CREDENTIALS: &str = "application.credentials";
    let at = |field: &str| format!("{CREDENTIALS}.{field}");
    accepts_esa_at(api_spec(), &at("clientSecretKey"), json!("secret"));
    let cert = with(api_spec(), &at("type"), json!("Certificate"));
    accepts_esa_at(cert.clone(), &at("certificateKey"), json!("cert.pem"));
    rejects_esa_at(cert, &at("clientSecretKey"), json!("secret"));
    rejects_esa(
        with(api_spec(), &at("privateKeyKey"), json!("key.pem")),
        "spec.application.credentials.type",
    );
    rejects_esa_at(api_spec(), &at("secretName"), json!("Not_A_Name"));
    rejects_esa_at(api_spec(), &at("clientSecretKey"), json!("bad key"));
    rejects_esa_at(api_spec(), &at("type"), json!("Password"));
}

#[test]
fn device_code_settings_only_with_device_code() {
    let device = with(api_spec(), "authorization.method", json!("DeviceCode"));
    let refresh_secret = ("authorization.refreshTokenSecretName", json!("contoso-rt"));
    let regrant = ("authorization.regrant", json!("OnAnnotation"));
    for (path, value) in [refresh_secret, regrant] {
        accepts_esa_at(device.clone(), path, value.clone());
        rejects_esa(with(api_spec(), path, value), "spec.authorization.method");
    }
    rejects_esa_at(api_spec(), "authorization.method", json!("Password"));
    accepts_esa(with(
        api_spec(),
        "authorization.consentRedirectUri",
        json!("https://portal.example.com/consent"),
    ));
    rejects_esa_at(
        api_spec(),
        "authorization.consentRedirectUri",
        json!("javascript:alert(1)"),
    );
}
