//! Webhook notifications: one JSON POST per transition, retried by the shared transport.

use reqwest::Method;

use super::Notice;
use crate::microsoft::http::{HttpClient, Request};

/// POSTs `notice` as JSON to `url`. The URL (often holding a token) is never part of the error.
pub async fn post(http: &HttpClient, url: &str, notice: &Notice) -> Result<(), String> {
    let body = serde_json::to_vec(notice).map_err(|e| e.to_string())?;
    let request = Request {
        api: "webhook",
        method: Method::POST,
        url: url.to_string(),
        headers: vec![("content-type".into(), "application/json".into())],
        body,
    };
    let response = http
        .send(&request)
        .await
        .map_err(|_| "the webhook could not be reached".to_string())?;
    if response.status.is_success() {
        Ok(())
    } else {
        Err(format!(
            "the webhook answered HTTP {}",
            response.status.as_u16()
        ))
    }
}
