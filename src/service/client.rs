//! The operator's client of the email-security service's ingestion endpoint: every request
//! signed, with a timeout, retried on 429 and 5xx with `Retry-After` or backoff (the shared
//! transport), and answers read into [`ServiceError`] classes the reconcile can act on.

use reqwest::Method;
use serde::de::DeserializeOwned;

use super::error::ServiceError;
use super::protocol::{
    Acknowledgement, Cursor, Message, Numbered, Problem, Registered, Registration,
};
use super::signature::Signer;
use crate::microsoft::http::{HttpClient, Request, Response, RetryPolicy};

/// Name of the service API in messages and metrics.
const API: &str = "service";

/// A client of one ingestion endpoint.
#[derive(Clone, Debug)]
pub struct ServiceClient {
    http: HttpClient,
    base: String,
    signer: Signer,
}

impl ServiceClient {
    /// The `clientState` of `tenant_id`'s Graph subscriptions (derived from the credential).
    pub fn client_state(&self, tenant_id: &str) -> String {
        self.signer.client_state(tenant_id)
    }

    /// A client of the service at `base_url` (https, or http on loopback only), signing with
    /// the ingestion credential `secret` and trusting `ca_bundle_pem` besides the system roots.
    pub fn new(
        base_url: &str,
        secret: &[u8],
        ca_bundle_pem: Option<&[u8]>,
        policy: RetryPolicy,
    ) -> Result<Self, ServiceError> {
        if !allowed_url(base_url) {
            return Err(ServiceError::InsecureUrl);
        }
        let http = HttpClient::new(ca_bundle_pem, policy).map_err(ServiceError::Transport)?;
        Self::with_http(http, base_url, secret)
    }

    /// A client of the service at `base_url` over `http` (a shared client, whose connection
    /// pool and trust are reused), signing with `secret`.
    pub fn with_http(
        http: HttpClient,
        base_url: &str,
        secret: &[u8],
    ) -> Result<Self, ServiceError> {
        if !allowed_url(base_url) {
            return Err(ServiceError::InsecureUrl);
        }
        let signer = Signer::new(secret).map_err(ServiceError::Credential)?;
        Ok(Self {
            http,
            base: base_url.trim_end_matches('/').to_string(),
            signer,
        })
    }

    /// Probes the endpoint with a signed request: `Ok` when it answers and accepts the
    /// signature.
    pub async fn health(&self, id: &str) -> Result<(), ServiceError> {
        let response = self.send(Method::GET, "/v1/health", id, Vec::new()).await?;
        expect_ok(&response)
    }

    /// Registers the tenant (or updates its registration).
    pub async fn register(
        &self,
        registration: &Registration,
        id: &str,
    ) -> Result<Registered, ServiceError> {
        let path = format!("/v1/tenants/{}", registration.tenant_id);
        let body = serde_json::to_vec(registration).expect("a registration serializes");
        let response = self.send(Method::PUT, &path, id, body).await?;
        read(&response)
    }

    /// Where the tenant's stream stands.
    pub async fn cursor(&self, tenant_id: &str, id: &str) -> Result<Cursor, ServiceError> {
        let path = format!("/v1/tenants/{tenant_id}/cursor");
        let response = self.send(Method::GET, &path, id, Vec::new()).await?;
        read(&response)
    }

    /// Delivers `message` as number `sequence` of the tenant's stream. `id` is the message's
    /// id: the same on every retry of it, new for anything else.
    pub async fn deliver(
        &self,
        tenant_id: &str,
        sequence: u64,
        message: &Message,
        id: &str,
    ) -> Result<Acknowledgement, ServiceError> {
        let path = format!("/v1/tenants/{tenant_id}/deliveries");
        let body =
            serde_json::to_vec(&Numbered { sequence, message }).expect("a delivery serializes");
        let response = self.send(Method::POST, &path, id, body).await?;
        read(&response)
    }

    /// Deregisters the tenant: `true` when the service had it. A tenant the service does not
    /// know is deregistered already.
    pub async fn deregister(&self, tenant_id: &str, id: &str) -> Result<bool, ServiceError> {
        let path = format!("/v1/tenants/{tenant_id}");
        let response = self.send(Method::DELETE, &path, id, Vec::new()).await?;
        if response.status.as_u16() == 404 {
            return Ok(false);
        }
        let answer: serde_json::Value = read(&response)?;
        Ok(answer["wasRegistered"].as_bool().unwrap_or(true))
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        id: &str,
        body: Vec<u8>,
    ) -> Result<Response, ServiceError> {
        let timestamp = jiff::Timestamp::now().as_second();
        let mut headers: Vec<(String, String)> = self
            .signer
            .headers(id, timestamp, &body)
            .into_iter()
            .collect();
        if !body.is_empty() {
            headers.push(("content-type".into(), "application/json".into()));
        }
        let request = Request {
            api: API,
            method,
            url: format!("{}{path}", self.base),
            headers,
            body,
        };
        self.http
            .send(&request)
            .await
            .map_err(ServiceError::Transport)
    }
}

/// Whether the service may be reached at `url`: https, or plain http on loopback only (the
/// shared credential is never sent in the clear over a network).
pub fn allowed_url(url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    let host = parsed.host_str().unwrap_or_default();
    match parsed.scheme() {
        "https" => !host.is_empty(),
        "http" => {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            host.eq_ignore_ascii_case("localhost")
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        _ => false,
    }
}

/// `Ok` for a 2xx answer, else its class.
fn expect_ok(response: &Response) -> Result<(), ServiceError> {
    if response.status.is_success() {
        return Ok(());
    }
    let problem: Problem = serde_json::from_slice(&response.body).unwrap_or_default();
    Err(ServiceError::from_answer(
        response.status.as_u16(),
        response.retry_after(),
        problem,
    ))
}

/// The JSON of a 2xx answer, else its class.
fn read<T: DeserializeOwned>(response: &Response) -> Result<T, ServiceError> {
    expect_ok(response)?;
    serde_json::from_slice(&response.body).map_err(|e| ServiceError::BadAnswer(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http_carries_the_credential() {
        let cases = [
            ("https://ingest.example.com", true),
            ("https://10.0.0.1:8443/base", true),
            ("http://127.0.0.1:8080", true),
            ("http://localhost:8080", true),
            ("http://[::1]:8080", true),
            ("http://ingest.example.com", false),
            ("http://10.0.0.1", false),
            ("http://127.0.0.1.example.com", false),
            ("ftp://127.0.0.1", false),
            ("not a url", false),
        ];
        for (url, allowed) in cases {
            assert_eq!(allowed_url(url), allowed, "{url}");
        }
    }
}
