//! The Microsoft identity platform (v2.0) client: app-only tokens with a client secret or a
//! certificate assertion, delegated tokens through the device authorization grant and refresh
//! tokens, and the process-wide token cache. Failures are classified into
//! [`TokenFailure`](crate::microsoft::errors::TokenFailure)s; no token, secret or Microsoft
//! error description ever leaves this module in a message.

pub mod assertion;
pub mod cache;
pub mod credential;
pub mod device_code;
pub mod token;

use std::fmt;
use std::time::Duration;

use oauth2::basic::{
    BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenResponse,
};
use oauth2::{
    AuthType, ClientId, ClientSecret, DeviceAuthorizationUrl, EndpointNotSet, EndpointSet,
    RefreshToken, RequestTokenError, Scope, StandardRevocableToken, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use thiserror::Error;

use self::credential::ClientCredential;
use self::token::AccessToken;
use super::cloud::Endpoints;
use super::errors::{IdentityErrorBody, TokenFailure, classify_identity_error};
use super::http::{HttpClient, TransportError};

pub use self::device_code::{DeviceCodePrompt, PollOutcome};

/// A failed token request, classified. Its message quotes the AADSTS code and what the user
/// can do, never Microsoft's description.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub struct TokenError {
    /// What went wrong, as the `TokenValid` reason.
    pub failure: TokenFailure,
    /// The AADSTS code, when the identity platform sent one.
    pub code: Option<u64>,
    /// The trace id to quote to Microsoft support.
    pub trace_id: Option<String>,
    /// How long the identity platform asked the operator to wait.
    pub retry_after: Option<Duration>,
    /// The scope that was requested.
    pub scope: String,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "token request for {} failed: {}",
            self.scope,
            self.failure.reason()
        )?;
        if let Some(code) = self.code {
            write!(f, " (AADSTS{code})")?;
        }
        write!(f, ". {}", self.failure.advice())
    }
}

impl TokenError {
    fn new(failure: TokenFailure, scope: &str) -> Self {
        Self {
            failure,
            code: None,
            trace_id: None,
            retry_after: None,
            scope: scope.to_string(),
        }
    }

    /// Classifies an identity-platform error body.
    pub fn from_body(status: u16, body: &IdentityErrorBody, scope: &str) -> Self {
        Self {
            failure: classify_identity_error(status, body),
            code: body.code(),
            trace_id: body.trace_id.clone(),
            retry_after: None,
            scope: scope.to_string(),
        }
    }

    fn from_request(
        error: RequestTokenError<TransportError, IdentityErrorBody>,
        scope: &str,
    ) -> Self {
        match error {
            RequestTokenError::ServerResponse(body) => Self::from_body(400, &body, scope),
            // Persistent throttling keeps its `Retry-After`, and so does a persistent 5xx.
            RequestTokenError::Request(e @ TransportError::Status { .. }) => Self {
                retry_after: e.retry_after(),
                ..Self::new(e.classify().failure, scope)
            },
            RequestTokenError::Request(e) => {
                tracing::debug!(error = %e, "token request failed");
                Self::new(TokenFailure::Transient, scope)
            }
            RequestTokenError::Parse(e, _) => {
                tracing::debug!(error = %e, "token response not understood");
                Self::new(TokenFailure::Transient, scope)
            }
            RequestTokenError::Other(e) => {
                tracing::debug!(error = %e, "token request failed");
                Self::new(TokenFailure::Transient, scope)
            }
        }
    }
}

/// Tokens of a delegated grant: the access token and the rotated refresh token to persist.
#[derive(Clone, Debug)]
pub struct DelegatedTokens {
    /// The access token.
    pub access: AccessToken,
    /// The new refresh token, when the identity platform rotated it (it usually does).
    pub refresh_token: Option<SecretString>,
}

type AadClient = oauth2::Client<
    IdentityErrorBody,
    BasicTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointNotSet,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// Identity-platform client of one application in one tenant.
#[derive(Clone, Debug)]
pub struct IdentityClient {
    http: HttpClient,
    client_id: String,
    token_url: String,
    device_code_url: String,
}

/// The token or device-code URL is not a valid URL (a wrong endpoint override).
#[derive(Debug, Error)]
#[error("the identity endpoint {0:?} is not a valid URL; check spec.endpoints.login")]
pub struct InvalidEndpoint(pub String);

impl IdentityClient {
    /// A client for `client_id` in `tenant`, at the login host of `endpoints`.
    pub fn new(
        http: HttpClient,
        endpoints: &Endpoints,
        tenant: &str,
        client_id: &str,
    ) -> Result<Self, InvalidEndpoint> {
        let token_url = endpoints.token_url(tenant);
        let device_code_url = endpoints.device_code_url(tenant);
        for url in [&token_url, &device_code_url] {
            TokenUrl::new(url.clone()).map_err(|_| InvalidEndpoint(url.clone()))?;
        }
        Ok(Self {
            http,
            client_id: client_id.to_string(),
            token_url,
            device_code_url,
        })
    }

    /// The token endpoint (the audience of client assertions).
    pub fn token_url(&self) -> &str {
        &self.token_url
    }

    fn oauth(&self, credential: Option<&ClientCredential>) -> AadClient {
        let client = oauth2::Client::new(ClientId::new(self.client_id.clone()))
            .set_token_uri(TokenUrl::new(self.token_url.clone()).expect("checked in new"))
            .set_device_authorization_url(
                DeviceAuthorizationUrl::new(self.device_code_url.clone()).expect("checked in new"),
            )
            .set_auth_type(AuthType::RequestBody);
        match credential {
            Some(ClientCredential::Secret(secret)) => {
                client.set_client_secret(ClientSecret::new(secret.expose_secret().to_string()))
            }
            _ => client,
        }
    }

    /// The form parameters that authenticate a certificate credential: a signed client
    /// assertion for the token URL. None for a client secret (sent by oauth2) or no credential.
    fn assertion(
        &self,
        credential: Option<&ClientCredential>,
        scope: &str,
    ) -> Result<Vec<(&'static str, String)>, TokenError> {
        let Some(ClientCredential::Certificate(cert)) = credential else {
            return Ok(Vec::new());
        };
        let jwt = assertion::client_assertion(
            cert,
            &self.client_id,
            &self.token_url,
            jiff::Timestamp::now(),
        )
        .map_err(|_| TokenError::new(TokenFailure::CredentialInvalid, scope))?;
        Ok(vec![
            (
                "client_assertion_type",
                assertion::ASSERTION_TYPE.to_string(),
            ),
            ("client_assertion", jwt),
        ])
    }

    /// An app-only token for `scope` (a resource's `.default` scope) with the client
    /// credentials grant.
    pub async fn app_token(
        &self,
        credential: &ClientCredential,
        scope: &str,
    ) -> Result<AccessToken, TokenError> {
        let client = self.oauth(Some(credential));
        let response = client
            .exchange_client_credentials()
            .add_scope(Scope::new(scope.to_string()))
            .with_params(self.assertion(Some(credential), scope)?)
            .request_async(&self.http)
            .await
            .map_err(|e| TokenError::from_request(e, scope))?;
        Ok(access_token(&response))
    }

    /// A delegated token for `scope` from a refresh token; returns the rotated refresh token.
    pub async fn refresh(
        &self,
        credential: Option<&ClientCredential>,
        refresh_token: &SecretString,
        scope: &str,
    ) -> Result<DelegatedTokens, TokenError> {
        let client = self.oauth(credential);
        let refresh = RefreshToken::new(refresh_token.expose_secret().to_string());
        let response = client
            .exchange_refresh_token(&refresh)
            .add_scopes(delegated_scopes(scope))
            .with_params(self.assertion(credential, scope)?)
            .request_async(&self.http)
            .await
            .map_err(|e| TokenError::from_request(e, scope))?;
        Ok(DelegatedTokens::from_response(&response))
    }
}

/// The scopes of a delegated grant: `scope`, and `offline_access` for a refresh token.
fn delegated_scopes(scope: &str) -> [Scope; 2] {
    [
        Scope::new(scope.to_string()),
        Scope::new("offline_access".to_string()),
    ]
}

impl DelegatedTokens {
    /// The tokens of a successful delegated-grant response.
    fn from_response(response: &BasicTokenResponse) -> Self {
        Self {
            access: access_token(response),
            refresh_token: response
                .refresh_token()
                .map(|t| SecretString::from(t.secret().clone())),
        }
    }
}

fn access_token(response: &BasicTokenResponse) -> AccessToken {
    AccessToken::new(
        response.access_token().secret().clone(),
        response.expires_in(),
        jiff::Timestamp::now(),
    )
}

/// An oauth2 grant request that takes extra form parameters: each grant's request type has
/// its own `add_extra_param`, this gives them one name.
trait WithParams: Sized {
    /// The request with one more form parameter.
    fn with_param(self, name: &'static str, value: String) -> Self;

    /// The request with every parameter of `params` added.
    fn with_params(self, params: Vec<(&'static str, String)>) -> Self {
        params.into_iter().fold(self, |request, (name, value)| {
            request.with_param(name, value)
        })
    }
}

macro_rules! impl_with_params {
    ($($request:ty),*) => {$(
        impl WithParams for $request {
            fn with_param(self, name: &'static str, value: String) -> Self {
                self.add_extra_param(name, value)
            }
        }
    )*};
}

impl_with_params!(
    oauth2::ClientCredentialsTokenRequest<'_, IdentityErrorBody, BasicTokenResponse>,
    oauth2::RefreshTokenRequest<'_, IdentityErrorBody, BasicTokenResponse>,
    oauth2::DeviceAuthorizationRequest<'_, IdentityErrorBody>
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::microsoft::http::RetryPolicy;
    use crate::microsoft::retry::Backoff;
    use exo_api::exchange_service_account::Cloud;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use axum::http::StatusCode;
    use axum::response::IntoResponse;

    type Seen = Arc<Mutex<Vec<HashMap<String, String>>>>;
    type Reply = (u16, Vec<(&'static str, &'static str)>, String);
    type Respond = fn(usize, &HashMap<String, String>) -> Reply;

    /// A token endpoint that records each form and answers with `respond(n, form)`.
    async fn endpoint(respond: Respond) -> (Endpoints, Seen) {
        let seen: Seen = Arc::default();
        let log = seen.clone();
        let app = axum::Router::new().fallback(move |body: String| {
            let log = log.clone();
            async move {
                let form: HashMap<String, String> = serde_urlencoded::from_str(&body).unwrap();
                let n = {
                    let mut l = log.lock().unwrap();
                    l.push(form.clone());
                    l.len()
                };
                let (status, headers, body) = respond(n, &form);
                let mut response = (StatusCode::from_u16(status).unwrap(), body).into_response();
                response
                    .headers_mut()
                    .insert("content-type", "application/json".parse().unwrap());
                for (k, v) in headers {
                    response.headers_mut().insert(k, v.parse().unwrap());
                }
                response
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let mut e = Endpoints::resolve(Cloud::Global, None);
        e.login = url;
        (e, seen)
    }

    fn client(e: &Endpoints) -> IdentityClient {
        let policy = RetryPolicy {
            max_attempts: 2,
            backoff: Backoff {
                base: Duration::from_millis(1),
                max: Duration::from_millis(2),
            },
            max_wait: Duration::from_millis(50),
        };
        IdentityClient::new(
            HttpClient::new(None, policy).unwrap(),
            e,
            "contoso.com",
            "app-id",
        )
        .unwrap()
    }

    fn secret() -> ClientCredential {
        ClientCredential::Secret(SecretString::from("s3cr3t".to_string()))
    }

    fn token_json(claims: &str, refresh: Option<&str>) -> String {
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let jwt = format!("{}.{}.sig", b64(r#"{"alg":"RS256"}"#), b64(claims));
        let mut v =
            serde_json::json!({"token_type": "Bearer", "expires_in": 3599, "access_token": jwt});
        if let Some(r) = refresh {
            v["refresh_token"] = r.into();
        }
        v.to_string()
    }

    const GRAPH: &str = "https://graph.microsoft.com/.default";

    #[tokio::test]
    async fn client_secret_grant_sends_the_form_microsoft_expects() {
        let (e, seen) = endpoint(|_, _| {
            (
                200,
                vec![],
                token_json(r#"{"roles":["User.Read.All"],"tid":"t"}"#, None),
            )
        })
        .await;
        let token = client(&e).app_token(&secret(), GRAPH).await.unwrap();
        assert_eq!(token.claims.roles, ["User.Read.All"]);
        let form = &seen.lock().unwrap()[0];
        assert_eq!(form["grant_type"], "client_credentials");
        assert_eq!(form["client_id"], "app-id");
        assert_eq!(form["client_secret"], "s3cr3t");
        assert_eq!(form["scope"], GRAPH);
    }

    #[tokio::test]
    async fn certificate_grant_sends_a_client_assertion_for_the_token_url() {
        let (e, seen) = endpoint(|_, _| (200, vec![], token_json("{}", None))).await;
        let cert = credential::CertificateCredential::from_pem(
            include_bytes!("../../../tests/fixtures/app-cert.pem"),
            include_bytes!("../../../tests/fixtures/app-key.pem"),
        )
        .unwrap();
        let c = client(&e);
        c.app_token(&ClientCredential::Certificate(cert), GRAPH)
            .await
            .unwrap();
        let form = &seen.lock().unwrap()[0];
        assert!(!form.contains_key("client_secret"));
        assert_eq!(form["client_assertion_type"], assertion::ASSERTION_TYPE);
        let claims = token::TokenClaims::decode_unverified(&form["client_assertion"]);
        assert!(claims.is_some());
        assert!(c.token_url().ends_with("/contoso.com/oauth2/v2.0/token"));
    }

    #[tokio::test]
    async fn identity_errors_are_classified_without_microsofts_text() {
        let (e, _) = endpoint(|_, _| {
            (
                401,
                vec![],
                r#"{"error":"invalid_client","error_description":"AADSTS7000222: The provided client secret keys for app 'x' are expired. Trace ID: 1","error_codes":[7000222],"trace_id":"tr-1"}"#.into(),
            )
        })
        .await;
        let err = client(&e).app_token(&secret(), GRAPH).await.unwrap_err();
        assert_eq!(err.failure, TokenFailure::CredentialExpired);
        assert_eq!(err.code, Some(7000222));
        assert_eq!(err.trace_id.as_deref(), Some("tr-1"));
        let text = err.to_string();
        assert!(
            text.contains("AADSTS7000222") && !text.contains("provided client secret keys"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn persistent_throttling_keeps_the_retry_after() {
        let (e, seen) = endpoint(|_, _| (429, vec![("retry-after", "120")], "{}".into())).await;
        let err = client(&e).app_token(&secret(), GRAPH).await.unwrap_err();
        assert_eq!(err.failure, TokenFailure::Throttled);
        assert_eq!(err.retry_after, Some(Duration::from_secs(120)));
        // A Retry-After longer than the client may wait is left to the caller at once.
        assert_eq!(seen.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn refresh_returns_the_rotated_refresh_token() {
        let (e, seen) = endpoint(|_, _| (200, vec![], token_json("{}", Some("rt-2")))).await;
        let tokens = client(&e)
            .refresh(None, &SecretString::from("rt-1".to_string()), GRAPH)
            .await
            .unwrap();
        assert_eq!(tokens.refresh_token.unwrap().expose_secret(), "rt-2");
        let form = &seen.lock().unwrap()[0];
        assert_eq!(form["grant_type"], "refresh_token");
        assert_eq!(form["refresh_token"], "rt-1");
        assert_eq!(form["scope"], format!("{GRAPH} offline_access"));
    }

    #[tokio::test]
    async fn device_code_prompt_then_pending_then_granted() {
        let (e, seen) = endpoint(|n, form| match n {
            1 => (
                200,
                vec![],
                serde_json::json!({
                    "device_code": "dc-1", "user_code": "ABCD-EFGH",
                    "verification_uri": "https://microsoft.com/devicelogin",
                    "expires_in": 900, "interval": 5, "message": "To sign in..."
                })
                .to_string(),
            ),
            2 => (
                400,
                vec![],
                r#"{"error":"authorization_pending","error_codes":[70016]}"#.into(),
            ),
            _ => {
                assert_eq!(form["device_code"], "dc-1");
                (
                    200,
                    vec![],
                    token_json(r#"{"scp":"User.Read.All"}"#, Some("rt-1")),
                )
            }
        })
        .await;
        let c = client(&e);
        let prompt = c.start_device_code(None, GRAPH).await.unwrap();
        assert_eq!(prompt.user_code, "ABCD-EFGH");
        assert_eq!(prompt.interval(), Duration::from_secs(5));
        assert!(matches!(
            c.poll_device_code(None, &prompt).await,
            PollOutcome::Pending
        ));
        match c.poll_device_code(None, &prompt).await {
            PollOutcome::Granted(t) => {
                assert_eq!(t.access.claims.scopes(), ["User.Read.All"]);
                assert!(t.refresh_token.is_some());
            }
            other => panic!("{other:?}"),
        }
        let forms = seen.lock().unwrap();
        assert_eq!(forms[0]["scope"], format!("{GRAPH} offline_access"));
        assert_eq!(forms[1]["grant_type"], device_code::GRANT_TYPE);
    }
}
