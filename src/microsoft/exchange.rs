//! Exchange Online admin API client: cmdlets through `POST /adminapi/beta/{tenant}/InvokeCommand`
//! (the transport of the ExchangeOnlineManagement module), with re-POST paging and Exchange's
//! error bodies reduced to a class and a readable message.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::cloud::Endpoints;
use super::http::{HttpClient, Request, TransportError};
use super::identity::token::AccessToken;

/// Largest page the admin API serves.
const PAGE_SIZE: u32 = 1000;
/// Most pages followed for one cmdlet (a bound, not an expectation).
const MAX_PAGES: usize = 100;

/// Why an Exchange call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExchangeFailure {
    /// 401: the token is expired or for another audience.
    TokenRejected,
    /// 403: the application lacks Exchange.ManageAsApp or a directory role Exchange accepts
    /// (or the role has not propagated yet).
    Forbidden,
    /// The object does not exist.
    NotFound,
    /// An object with that name exists.
    AlreadyExists,
    /// The cmdlet or a parameter was refused.
    Invalid,
    /// 429.
    Throttled,
    /// 5xx, transient markers, or the network.
    Transient,
}

impl ExchangeFailure {
    /// The stable PascalCase reason.
    pub fn reason(self) -> &'static str {
        match self {
            Self::TokenRejected => "ExchangeTokenRejected",
            Self::Forbidden => "ExchangeForbidden",
            Self::NotFound => "ExchangeObjectNotFound",
            Self::AlreadyExists => "ExchangeObjectExists",
            Self::Invalid => "ExchangeRequestInvalid",
            Self::Throttled => "Throttled",
            Self::Transient => "ExchangeUnavailable",
        }
    }
}

/// A failed cmdlet.
#[derive(Clone, Debug, thiserror::Error)]
#[error("Exchange {cmdlet} failed (HTTP {status}): {message}")]
pub struct ExchangeError {
    /// The class.
    pub failure: ExchangeFailure,
    /// The cmdlet.
    pub cmdlet: String,
    /// HTTP status (0 without a response).
    pub status: u16,
    /// Exchange's explanation, without its error-id and exception-type prefix.
    pub message: String,
    /// `Retry-After`, when throttled.
    pub retry_after: Option<Duration>,
}

/// Transient markers Exchange puts in bodies, even on 400.
const TRANSIENT_MARKERS: [&str; 4] = [
    "CmdletProxyNotAvailableFailure",
    "ServerBusyException",
    "TransientException",
    "BackendCommunicationException",
];

impl ExchangeError {
    /// Classifies an error response. Bodies may be empty, NUL bytes, HTML or JSON.
    pub fn from_response(
        cmdlet: &str,
        status: u16,
        body: &[u8],
        retry_after: Option<Duration>,
    ) -> Self {
        let text = String::from_utf8_lossy(body);
        let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let text_at = |pointer: &str| parsed.pointer(pointer).and_then(Value::as_str);
        // The inner exception has the plain message and type; `details` has both in
        // `Ex6F9304|Type|Message`; `message` is the last resort.
        let detail = text_at("/error/innererror/internalexception/message")
            .or_else(|| text_at("/error/details/0/message"))
            .or_else(|| text_at("/error/message"))
            .map(strip_prefix)
            .map(without_request_ids)
            .unwrap_or_default();
        let exception = text_at("/error/innererror/internalexception/type")
            .or_else(|| text_at("/error/details/0/message").and_then(|m| m.split('|').nth(1)))
            .unwrap_or_default();
        let transient = TRANSIENT_MARKERS.iter().any(|m| text.contains(m));
        let failure = match status {
            401 => ExchangeFailure::TokenRejected,
            403 => ExchangeFailure::Forbidden,
            429 => ExchangeFailure::Throttled,
            _ if transient => ExchangeFailure::Transient,
            _ if exception.contains("ManagementObjectNotFound") => ExchangeFailure::NotFound,
            _ if exception.contains("AlreadyExists") => ExchangeFailure::AlreadyExists,
            404 => ExchangeFailure::NotFound,
            400..=499 => ExchangeFailure::Invalid,
            _ => ExchangeFailure::Transient,
        };
        let message = match (failure, detail.is_empty()) {
            (ExchangeFailure::Forbidden, _) => "the application lacks Exchange.ManageAsApp or the Exchange Administrator role (or the role has not reached Exchange yet)".to_string(),
            (ExchangeFailure::TokenRejected, _) => "the access token was rejected".to_string(),
            (_, false) => detail.chars().take(400).collect(),
            (_, true) => "no explanation in the response".to_string(),
        };
        Self {
            failure,
            cmdlet: cmdlet.to_string(),
            status,
            message,
            retry_after,
        }
    }

    fn transport(cmdlet: &str, error: &TransportError) -> Self {
        let classified = error.classify();
        Self {
            failure: classified.failure,
            cmdlet: cmdlet.to_string(),
            status: classified.status,
            message: error.to_string(),
            retry_after: classified.retry_after,
        }
    }
}

/// `Ex6F9304|Microsoft.Exchange...Exception|The operation ...` gives `The operation ...`.
/// `message` without the `[Server=…,RequestId=…,TimeStamp=…]` that Exchange appends: it
/// changes with every request, and a condition message must not.
fn without_request_ids(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(open) = rest.find('[') {
        let Some(len) = rest[open..].find(']') else {
            break;
        };
        let inside = &rest[open..open + len];
        out.push_str(&rest[..open]);
        if !(inside.contains("RequestId=") || inside.contains("TimeStamp=")) {
            out.push_str(&rest[open..=open + len]);
        }
        rest = &rest[open + len + 1..];
    }
    out.push_str(rest);
    out.trim_end().to_string()
}

fn strip_prefix(message: &str) -> &str {
    let parts: Vec<&str> = message.splitn(3, '|').collect();
    match parts.as_slice() {
        [_, ty, text] if ty.contains('.') => text,
        _ => message,
    }
}

/// Client of one tenant's Exchange Online admin API.
#[derive(Clone, Debug)]
pub struct ExchangeClient {
    http: HttpClient,
    url: String,
    anchor: String,
}

impl ExchangeClient {
    /// A client for `tenant` (its GUID or initial domain) on the Exchange host of `endpoints`.
    pub fn new(http: HttpClient, endpoints: &Endpoints, tenant: &str) -> Self {
        Self {
            http,
            url: format!(
                "{}/adminapi/beta/{tenant}/InvokeCommand",
                endpoints.exchange
            ),
            anchor: format!("UPN:SystemMailbox{{bb558c35-97f1-4cb9-8ff7-d53741dc928c}}@{tenant}"),
        }
    }

    /// Runs `cmdlet` with `parameters` and returns every object it produced, following
    /// `@odata.nextLink` by POSTing the same body again.
    pub async fn invoke(
        &self,
        token: &AccessToken,
        cmdlet: &str,
        parameters: Map<String, Value>,
    ) -> Result<Vec<Value>, ExchangeError> {
        let body = json!({"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters}})
            .to_string()
            .into_bytes();
        let mut url = self.url.clone();
        let mut out = Vec::new();
        for _ in 0..MAX_PAGES {
            let request = Request {
                api: "exchange",
                method: Method::POST,
                url: url.clone(),
                headers: vec![
                    ("authorization".into(), token.bearer()),
                    ("content-type".into(), "application/json".into()),
                    ("accept".into(), "application/json".into()),
                    ("x-cmdletname".into(), cmdlet.into()),
                    ("x-anchormailbox".into(), self.anchor.clone()),
                    ("x-responseformat".into(), "json".into()),
                    ("prefer".into(), format!("odata.maxpagesize={PAGE_SIZE}")),
                ],
                body: body.clone(),
            };
            let response = self
                .http
                .send(&request)
                .await
                .map_err(|e| ExchangeError::transport(cmdlet, &e))?;
            let status = response.status.as_u16();
            if !(200..300).contains(&status) {
                return Err(ExchangeError::from_response(
                    cmdlet,
                    status,
                    &response.body,
                    response.retry_after(),
                ));
            }
            let page: Value =
                serde_json::from_slice(&response.body).map_err(|_| ExchangeError {
                    failure: ExchangeFailure::Transient,
                    cmdlet: cmdlet.to_string(),
                    status,
                    message: "the response is not JSON".into(),
                    retry_after: None,
                })?;
            if let Some(values) = page["value"].as_array() {
                out.extend(values.iter().map(without_annotations));
            }
            match page["@odata.nextLink"]
                .as_str()
                .or(page["odata.nextLink"].as_str())
            {
                Some(next) => url = next.to_string(),
                None => return Ok(out),
            }
        }
        Ok(out)
    }
}

/// An object without its `Prop@odata.type` annotations.
fn without_annotations(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !k.contains("@odata"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_and_times_are_left_out_of_messages() {
        assert_eq!(
            without_request_ids(
                "The object was not found. [Server=AM0PR01MB1234,RequestId=6c1f,TimeStamp=12/2/2026 6:00:00 AM]"
            ),
            "The object was not found."
        );
        assert_eq!(without_request_ids("Keep [this] one."), "Keep [this] one.");
        assert_eq!(
            without_request_ids("Unclosed [bracket"),
            "Unclosed [bracket"
        );
    }

    #[test]
    fn error_bodies_are_classified_and_explained() {
        let not_found = br#"{"error":{"code":"NotFound","message":"Invalid Operation","details":[{"code":"Client","target":"","message":"Ex6F9304|Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException|The operation couldn't be performed because object 'x' couldn't be found."}],"innererror":{"message":"Invalid Operation","type":"Microsoft.Exchange.Admin.OData.Core.ODataServiceException","stacktrace":"","internalexception":{"message":"The operation couldn't be performed because object 'x' couldn't be found.","type":"Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException","stacktrace":""}}}}"#;
        let e = ExchangeError::from_response("Get-InboundConnector", 404, not_found, None);
        assert_eq!(e.failure, ExchangeFailure::NotFound);
        assert!(
            e.message.starts_with("The operation couldn't be performed"),
            "{}",
            e.message
        );

        let details_only = br#"{"error":{"code":"BadRequest","message":"Invalid Operation","details":[{"code":"Client","target":"","message":"Ex5E6F70|Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException|The object 'a' already exists."}]}}"#;
        let e = ExchangeError::from_response("New-TransportRule", 400, details_only, None);
        assert_eq!(e.failure, ExchangeFailure::AlreadyExists);
        assert_eq!(e.message, "The object 'a' already exists.");

        let forbidden = ExchangeError::from_response("Get-TransportRule", 403, b"\0\0\0", None);
        assert_eq!(forbidden.failure, ExchangeFailure::Forbidden);
        assert!(forbidden.message.contains("Exchange Administrator"));

        let busy = br#"{"error":{"code":"BadRequest","message":"|Microsoft.Exchange.Data.ServerBusyException|busy"}}"#;
        assert_eq!(
            ExchangeError::from_response("Get-TransportRule", 400, busy, None).failure,
            ExchangeFailure::Transient
        );
        let html = b"<html><body>502 Bad Gateway</body></html>";
        let e = ExchangeError::from_response("Get-TransportRule", 502, html, None);
        assert_eq!(e.failure, ExchangeFailure::Transient);
        assert_eq!(e.message, "no explanation in the response");
        let invalid = br#"{"error":{"code":"BadRequest","message":"Invalid Operation"}}"#;
        assert_eq!(
            ExchangeError::from_response("New-TransportRule", 400, invalid, None).failure,
            ExchangeFailure::Invalid
        );
    }

    #[test]
    fn annotations_are_dropped() {
        let v = json!({"Name": "a", "SenderDomains@odata.type": "#Collection(String)", "SenderDomains": ["*"]});
        assert_eq!(
            without_annotations(&v),
            json!({"Name": "a", "SenderDomains": ["*"]})
        );
    }
}
