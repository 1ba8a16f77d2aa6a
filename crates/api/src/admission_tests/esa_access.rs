//! The application's client id and credential (on the service, or an account's override), and
//! how a Global Administrator authorizes it.

use serde_json::json;

use super::{Esa, Ess, api_spec, application, service_spec, with};

#[test]
fn client_id_is_a_guid() {
    let bad = [
        "my-app",
        "11111111-2222-3333-4444-55555555555g",
        "11111111222233334444555555555555",
    ];
    Ess.rejects_each_at(&service_spec(), "application.clientId", &bad);
    let overridden = with(api_spec(), "application", application());
    Esa.accepts(overridden.clone());
    Esa.rejects_each_at(&overridden, "application.clientId", &bad);
}

#[test]
fn credential_keys_match_the_credential_type() {
    const CREDENTIALS: &str = "application.credentials";
    let at = |field: &str| format!("{CREDENTIALS}.{field}");
    Ess.accepts_at(service_spec(), &at("clientSecretKey"), json!("secret"));
    let cert = with(service_spec(), &at("type"), json!("Certificate"));
    Ess.accepts_at(cert.clone(), &at("certificateKey"), json!("cert.pem"));
    Ess.rejects_at(cert, &at("clientSecretKey"), json!("secret"));
    Ess.rejects(
        with(service_spec(), &at("privateKeyKey"), json!("key.pem")),
        "spec.application.credentials.type",
    );
    Ess.rejects_at(service_spec(), &at("secretName"), json!("Not_A_Name"));
    Ess.rejects_at(service_spec(), &at("clientSecretKey"), json!("bad key"));
    Ess.rejects_at(service_spec(), &at("type"), json!("Password"));
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
    // Plain http only to loopback: a consent answer crosses no network in clear.
    Esa.rejects_at(
        api_spec(),
        "authorization.consentRedirectUri",
        json!("http://portal.example.com/consent"),
    );
    Esa.accepts_at(
        api_spec(),
        "authorization.consentRedirectUri",
        json!("http://127.0.0.1:8080/consent/callback"),
    );
}
