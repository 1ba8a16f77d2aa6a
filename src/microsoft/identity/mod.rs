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
mod tests;
