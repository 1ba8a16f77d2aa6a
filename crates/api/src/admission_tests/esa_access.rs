//! The application's client id and credential, and how a Global Administrator authorizes it.

use serde_json::json;

use super::{Esa, api_spec, with};

#[test]
fn client_id_is_a_guid() {
    Esa.rejects_each_at(
        &api_spec(),
        "application.clientId",
        &[
            "my-app",
            "11111111-2222-3333-4444-55555555555g",
            "11111111222233334444555555555555",
        ],
    );
}

#[test]
fn credential_keys_match_the_credential_type() {
    const CREDENTIALS: &str = "application.credentials";
    let at = |field: &str| format!("{CREDENTIALS}.{field}");
    Esa.accepts_at(api_spec(), &at("clientSecretKey"), json!("secret"));
    let cert = with(api_spec(), &at("type"), json!("Certificate"));
    Esa.accepts_at(cert.clone(), &at("certificateKey"), json!("cert.pem"));
    Esa.rejects_at(cert, &at("clientSecretKey"), json!("secret"));
    Esa.rejects(
        with(api_spec(), &at("privateKeyKey"), json!("key.pem")),
        "spec.application.credentials.type",
    );
    Esa.rejects_at(api_spec(), &at("secretName"), json!("Not_A_Name"));
    Esa.rejects_at(api_spec(), &at("clientSecretKey"), json!("bad key"));
    Esa.rejects_at(api_spec(), &at("type"), json!("Password"));
}

#[test]
fn device_code_settings_only_with_device_code() {
    let device = with(api_spec(), "authorization.method", json!("DeviceCode"));
    let refresh_secret = ("authorization.refreshTokenSecretName", json!("contoso-rt"));
    let regrant = ("authorization.regrant", json!("OnAnnotation"));
    for (path, value) in [refresh_secret, regrant] {
        Esa.accepts_at(device.clone(), path, value.clone());
        Esa.rejects(with(api_spec(), path, value), "spec.authorization.method");
    }
    Esa.rejects_at(api_spec(), "authorization.method", json!("Password"));
    Esa.accepts(with(
        api_spec(),
        "authorization.consentRedirectUri",
        json!("https://portal.example.com/consent"),
    ));
    Esa.rejects_at(
        api_spec(),
        "authorization.consentRedirectUri",
        json!("javascript:alert(1)"),
    );
}
