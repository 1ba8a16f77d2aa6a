//! Microsoft Graph change-notification subscriptions (`/subscriptions`): create, list (paged),
//! renew, reauthorize and delete. Graph never returns a subscription's `clientState`.

use futures::Stream;
use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::{GraphClient, GraphError, Page};
use crate::microsoft::identity::token::AccessToken;

/// What a subscription is created with.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewSubscription<'a> {
    /// `created` (messages arriving in the folder).
    pub change_type: &'a str,
    /// Where Graph sends the change notifications (validated by Graph before it answers).
    pub notification_url: &'a str,
    /// Where Graph sends lifecycle notifications; can only be set at creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifecycle_notification_url: Option<&'a str>,
    /// e.g. `users/{id}/mailFolders('inbox')/messages`.
    pub resource: &'a str,
    /// RFC 3339.
    pub expiration_date_time: String,
    /// The secret each notification carries back.
    pub client_state: &'a str,
    /// Minimum TLS version of the notification endpoints.
    pub latest_supported_tls_version: &'a str,
}

/// A subscription as Graph answers it (the fields the operator reads).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    /// Its id (a GUID).
    pub id: String,
    /// What it watches.
    #[serde(default)]
    pub resource: String,
    /// Where its notifications go.
    #[serde(default)]
    pub notification_url: String,
    /// Where its lifecycle notifications go.
    #[serde(default)]
    pub lifecycle_notification_url: Option<String>,
    /// When it expires (RFC 3339).
    #[serde(default)]
    pub expiration_date_time: Option<String>,
}

impl GraphClient {
    /// Creates a subscription (Graph validates both URLs before answering).
    pub async fn create_subscription(
        &self,
        token: &AccessToken,
        new: &NewSubscription<'_>,
    ) -> Result<Subscription, GraphError> {
        let body = serde_json::to_value(new).unwrap_or_default();
        let answer = self
            .write(token, Method::POST, "/subscriptions", Some(&body))
            .await?;
        decode(answer, "POST /subscriptions")
    }

    /// Extends a subscription to `expires` (which also reauthorizes it).
    pub async fn renew_subscription(
        &self,
        token: &AccessToken,
        id: &str,
        expires: jiff::Timestamp,
    ) -> Result<Subscription, GraphError> {
        let body = serde_json::json!({ "expirationDateTime": rfc3339(expires) });
        let path = format!("/subscriptions/{}", super::path_segment(id));
        let answer = self.write(token, Method::PATCH, &path, Some(&body)).await?;
        decode(answer, "PATCH /subscriptions/{id}")
    }

    /// Reauthorizes a subscription without extending it.
    pub async fn reauthorize_subscription(
        &self,
        token: &AccessToken,
        id: &str,
    ) -> Result<(), GraphError> {
        let path = format!("/subscriptions/{}/reauthorize", super::path_segment(id));
        self.write(token, Method::POST, &path, None).await.map(drop)
    }

    /// Deletes a subscription; one that no longer exists counts as deleted.
    pub async fn delete_subscription(
        &self,
        token: &AccessToken,
        id: &str,
    ) -> Result<(), GraphError> {
        let path = format!("/subscriptions/{}", super::path_segment(id));
        match self.write(token, Method::DELETE, &path, None).await {
            Ok(_) => Ok(()),
            Err(e) if e.failure == super::GraphFailure::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The application's subscriptions in the tenant, page by page.
    pub fn subscription_pages<'a>(
        &'a self,
        token: &'a AccessToken,
    ) -> impl Stream<Item = Result<Page<Subscription>, GraphError>> + 'a {
        self.pages(token, "/subscriptions".to_string(), false)
    }
}

/// RFC 3339 with whole seconds, as Graph writes times.
pub fn rfc3339(t: jiff::Timestamp) -> String {
    jiff::Timestamp::from_second(t.as_second())
        .unwrap_or(t)
        .to_string()
}

fn decode(answer: Option<serde_json::Value>, operation: &str) -> Result<Subscription, GraphError> {
    answer
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or_else(|| GraphError {
            failure: super::GraphFailure::Transient,
            status: 200,
            code: Some("UnexpectedResponse".into()),
            request_id: None,
            retry_after: None,
            operation: operation.to_string(),
        })
}
