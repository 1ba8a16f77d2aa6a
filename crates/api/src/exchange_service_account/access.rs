//! The service's application registration, its credential, and how a Global Administrator
//! authorizes it.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{GUID_PATTERN, OBJECT_NAME_PATTERN, SECRET_KEY_PATTERN};

/// The service's application registration.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    /// Application (client) id of the service's app registration.
    #[schemars(length(min = 36, max = 36), regex(pattern = GUID_PATTERN))]
    pub client_id: String,
    /// The Secret holding the application's credential.
    pub credentials: Credentials,
}

/// The application's credential, read from a Secret in the same namespace. The operator
/// watches the Secret: a rotated credential is used at once.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.type == 'ClientSecret' || !has(self.clientSecretKey)")
        .message("clientSecretKey is only used with type ClientSecret")
        .field_path(".clientSecretKey"),
    validation = Rule::new("self.type == 'Certificate' || (!has(self.certificateKey) && !has(self.privateKeyKey))")
        .message("certificateKey and privateKeyKey are only used with type Certificate")
        .field_path(".type")
)]
pub struct Credentials {
    /// Kind of credential: `ClientSecret` or `Certificate` (a certificate and its private key,
    /// PEM, as registered on the application).
    #[serde(default, rename = "type")]
    pub type_: CredentialType,
    /// Name of the Secret, in the same namespace.
    #[schemars(length(min = 1, max = 253), regex(pattern = OBJECT_NAME_PATTERN))]
    pub secret_name: String,
    /// Key of the client secret in the Secret. Default `client-secret`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = SECRET_KEY_PATTERN))]
    pub client_secret_key: Option<String>,
    /// Key of the PEM certificate in the Secret. Default `tls.crt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = SECRET_KEY_PATTERN))]
    pub certificate_key: Option<String>,
    /// Key of the PEM private key in the Secret. Default `tls.key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = SECRET_KEY_PATTERN))]
    pub private_key_key: Option<String>,
}

impl Credentials {
    /// Key of the client secret, with its default applied.
    pub fn client_secret_key(&self) -> &str {
        self.client_secret_key.as_deref().unwrap_or("client-secret")
    }
    /// Key of the certificate, with its default applied.
    pub fn certificate_key(&self) -> &str {
        self.certificate_key.as_deref().unwrap_or("tls.crt")
    }
    /// Key of the private key, with its default applied.
    pub fn private_key_key(&self) -> &str {
        self.private_key_key.as_deref().unwrap_or("tls.key")
    }
}

/// Kind of application credential.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum CredentialType {
    /// A client secret.
    #[default]
    ClientSecret,
    /// A certificate and its private key (PEM).
    Certificate,
}

/// How permissions are granted.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.method == 'DeviceCode' || (!has(self.refreshTokenSecretName) && !has(self.regrant))")
        .message("refreshTokenSecretName and regrant are only used with method DeviceCode")
        .field_path(".method")
)]
pub struct Authorization {
    /// `ApplicationConsent`: a Global Administrator grants the application permissions on the
    /// admin consent page; status shows its URL and the operator detects completion.
    /// `DeviceCode`: a Global Administrator signs in once with a device code shown in status;
    /// the operator keeps the refresh token in a Secret it owns.
    #[serde(default)]
    pub method: AuthorizationMethod,
    /// DeviceCode only: name of the Secret in which the operator keeps the refresh token.
    /// Default `<resource name>-device-grant`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = OBJECT_NAME_PATTERN))]
    pub refresh_token_secret_name: Option<String>,
    /// DeviceCode only: what happens when the refresh token dies. `Automatic` starts a new
    /// device-code prompt at once; `OnAnnotation` waits for the annotation
    /// `exo-operator.io/regrant` to be set on this resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regrant: Option<RegrantPolicy>,
    /// Where the admin consent page sends the administrator when done. The operator's consent
    /// callback endpoint, or the service's own page. Must be a redirect URI registered on the
    /// application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 512))]
    #[x_kube(validation = crate::common::https_url_rule("spec.authorization.consentRedirectUri"))]
    pub consent_redirect_uri: Option<String>,
}

/// How a Global Administrator authorizes the application.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum AuthorizationMethod {
    /// Admin consent to application permissions.
    #[default]
    ApplicationConsent,
    /// A one-time sign-in with a device code; delegated permissions and a refresh token.
    DeviceCode,
}

/// What the operator does when a device-code refresh token stops working.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum RegrantPolicy {
    /// Start a new device-code prompt at once.
    #[default]
    Automatic,
    /// Wait until the annotation `exo-operator.io/regrant` is set.
    OnAnnotation,
}
