//! Office 365 Management Activity API: the subscriptions that make a tenant's activity data
//! (audit content) available. Start and list are idempotent; errors carry `AF` codes.

use reqwest::Method;
use serde::Deserialize;
use thiserror::Error;

use super::cloud::Endpoints;
use super::http::{HttpClient, Request};
use super::identity::token::AccessToken;

/// The content types the operator subscribes to.
pub const CONTENT_TYPES: [&str; 3] = [
    "Audit.AzureActiveDirectory",
    "Audit.Exchange",
    "Audit.General",
];

/// A failed Management API call.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("Management API {operation} failed: HTTP {status}{}", code.as_deref().map(|c| format!(", {c}")).unwrap_or_default())]
pub struct ManagementError {
    /// What was attempted.
    pub operation: String,
    /// HTTP status (0 without a response).
    pub status: u16,
    /// The `AF` code.
    pub code: Option<String>,
}

impl ManagementError {
    /// True when only a new grant fixes it (AF10001: ActivityFeed.Read missing; AF20023:
    /// disabled by an administrator).
    pub fn needs_human(&self) -> bool {
        matches!(self.code.as_deref(), Some("AF10001" | "AF20023")) || self.status == 403
    }
}

/// One subscription.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    /// Content type.
    pub content_type: String,
    /// `enabled` or `disabled`.
    #[serde(default)]
    pub status: String,
}

#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    error: ErrorInner,
}

#[derive(Deserialize, Default)]
struct ErrorInner {
    #[serde(default)]
    code: Option<String>,
}

/// Client of one tenant's activity feed.
#[derive(Clone, Debug)]
pub struct ManagementClient {
    http: HttpClient,
    root: String,
}

impl ManagementClient {
    /// A client for tenant `tenant_id` (a GUID: the API rejects domains).
    pub fn new(http: HttpClient, endpoints: &Endpoints, tenant_id: &str) -> Self {
        Self {
            http,
            root: format!(
                "{}/api/v1.0/{tenant_id}/activity/feed",
                endpoints.management
            ),
        }
    }

    async fn call(
        &self,
        token: &AccessToken,
        method: Method,
        path: &str,
    ) -> Result<Vec<u8>, ManagementError> {
        let operation = format!("{method} {}", path.split('?').next().unwrap_or(path));
        let request = Request {
            api: "management",
            method,
            url: format!("{}/{path}", self.root),
            headers: vec![
                ("authorization".into(), token.bearer()),
                ("accept".into(), "application/json".into()),
            ],
            body: Vec::new(),
        };
        let response = self
            .http
            .send(&request)
            .await
            .map_err(|_| ManagementError {
                operation: operation.clone(),
                status: 0,
                code: None,
            })?;
        if response.status.is_success() {
            return Ok(response.body);
        }
        let body: ErrorBody = serde_json::from_slice(&response.body).unwrap_or_default();
        Err(ManagementError {
            operation,
            status: response.status.as_u16(),
            code: body.error.code,
        })
    }

    /// The tenant's subscriptions.
    pub async fn list(&self, token: &AccessToken) -> Result<Vec<Subscription>, ManagementError> {
        let body = self.call(token, Method::GET, "subscriptions/list").await?;
        serde_json::from_slice(&body).map_err(|_| ManagementError {
            operation: "GET subscriptions/list".into(),
            status: 200,
            code: Some("UnexpectedResponse".into()),
        })
    }

    /// Starts (or re-enables) the subscription to `content_type`.
    pub async fn start(
        &self,
        token: &AccessToken,
        content_type: &str,
    ) -> Result<(), ManagementError> {
        self.call(
            token,
            Method::POST,
            &format!("subscriptions/start?contentType={content_type}"),
        )
        .await
        .map(|_| ())
    }

    /// Stops the subscription to `content_type`; one that does not exist is already stopped.
    pub async fn stop(
        &self,
        token: &AccessToken,
        content_type: &str,
    ) -> Result<(), ManagementError> {
        match self
            .call(
                token,
                Method::POST,
                &format!("subscriptions/stop?contentType={content_type}"),
            )
            .await
        {
            Err(e) if e.code.as_deref() == Some("AF20022") => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Starts every content type of [`CONTENT_TYPES`] not enabled yet; returns how many were
    /// started.
    pub async fn ensure(&self, token: &AccessToken) -> Result<usize, ManagementError> {
        let missing = self.missing(token).await?;
        futures::future::try_join_all(missing.iter().map(|t| self.start(token, t))).await?;
        Ok(missing.len())
    }

    /// The content types whose subscription is not enabled.
    pub async fn missing(&self, token: &AccessToken) -> Result<Vec<&'static str>, ManagementError> {
        let current = match self.list(token).await {
            Ok(list) => list,
            Err(e) if e.code.as_deref() == Some("AF20022") => Vec::new(),
            Err(e) => return Err(e),
        };
        Ok(CONTENT_TYPES
            .iter()
            .copied()
            .filter(|t| {
                !current
                    .iter()
                    .any(|s| s.content_type == *t && s.status == "enabled")
            })
            .collect())
    }
}
