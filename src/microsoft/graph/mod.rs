//! Microsoft Graph v1.0 client for what the operator reads: users, groups and their transitive
//! members, verified domains, service principals and their app-role assignments, and delta
//! queries. Pages are streamed one at a time (never a whole directory in memory), `nextLink`s
//! are followed verbatim, and `ConsistencyLevel` is resent on every page that needs it.

pub mod directory;
pub mod error;
pub mod models;
pub mod roles;
pub mod subscriptions;

use futures::{Stream, TryStreamExt};
use reqwest::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;

pub use self::error::{GraphError, GraphFailure};
use super::cloud::Endpoints;
use super::http::{HttpClient, Request};
use super::identity::token::AccessToken;

/// Largest page Graph serves for directory objects.
pub const MAX_PAGE: u32 = 999;

/// One page of a collection.
#[derive(Debug, Deserialize)]
pub struct Page<T> {
    /// The items (possibly none, even when more pages follow).
    #[serde(default = "Vec::new")]
    pub value: Vec<T>,
    /// The next page, to be fetched verbatim.
    #[serde(default, rename = "@odata.nextLink")]
    pub next_link: Option<String>,
    /// The link to store for the next delta round (last page of a delta query only).
    #[serde(default, rename = "@odata.deltaLink")]
    pub delta_link: Option<String>,
}

/// Microsoft Graph client bound to one cloud's Graph host.
#[derive(Clone, Debug)]
pub struct GraphClient {
    http: HttpClient,
    base: String,
}

impl GraphClient {
    /// A client for the Graph host of `endpoints` (`{graph}/v1.0`).
    pub fn new(http: HttpClient, endpoints: &Endpoints) -> Self {
        Self {
            http,
            base: format!("{}/v1.0", endpoints.graph),
        }
    }

    /// The absolute URL of `path` (a path under `/v1.0`, or an absolute link from Graph).
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("https://") || path.starts_with("http://") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        }
    }

    /// Sends `request`; an answer outside 2xx becomes a [`GraphError`].
    async fn send(
        &self,
        request: &Request,
        operation: &str,
    ) -> Result<super::http::Response, GraphError> {
        let response = self
            .http
            .send(request)
            .await
            .map_err(|e| GraphError::from_transport(operation.to_string(), &e))?;
        let status = response.status.as_u16();
        if !(200..300).contains(&status) {
            return Err(GraphError::from_response(
                operation.to_string(),
                status,
                &response.body,
                response.retry_after(),
            ));
        }
        Ok(response)
    }

    /// GETs `path` and decodes the JSON body.
    pub async fn get<T: DeserializeOwned>(
        &self,
        token: &AccessToken,
        path: &str,
        eventual: bool,
    ) -> Result<T, GraphError> {
        let url = self.url(path);
        let operation = operation("GET", &url);
        let mut headers = vec![
            ("authorization".to_string(), token.bearer()),
            ("accept".to_string(), "application/json".to_string()),
        ];
        if eventual {
            headers.push(("consistencylevel".to_string(), "eventual".to_string()));
        }
        if url.contains("/delta") {
            // Delta rounds take no $top; the page size is a preference.
            headers.push((
                "prefer".to_string(),
                format!("odata.maxpagesize={MAX_PAGE}"),
            ));
        }
        let request = Request {
            api: "graph",
            method: Method::GET,
            url,
            headers,
            body: Vec::new(),
        };
        let response = self.send(&request, &operation).await?;
        let status = response.status.as_u16();
        serde_json::from_slice(&response.body).map_err(|e| {
            tracing::debug!(%operation, error = %e, "unexpected Graph response");
            GraphError {
                failure: GraphFailure::Transient,
                status,
                code: Some("UnexpectedResponse".into()),
                request_id: None,
                retry_after: None,
                operation,
            }
        })
    }

    /// Sends a write (`POST` with a JSON body, `DELETE` without) to `path` and returns the JSON
    /// body of the answer, if it has one.
    pub async fn write(
        &self,
        token: &AccessToken,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Option<serde_json::Value>, GraphError> {
        let url = self.url(path);
        let operation = operation(method.as_str(), &url);
        let mut headers = vec![
            ("authorization".to_string(), token.bearer()),
            ("accept".to_string(), "application/json".to_string()),
        ];
        if body.is_some() {
            headers.push(("content-type".to_string(), "application/json".to_string()));
        }
        let request = Request {
            api: "graph",
            method,
            url,
            headers,
            body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
        };
        let response = self.send(&request, &operation).await?;
        Ok(serde_json::from_slice(&response.body).ok())
    }

    /// GETs `path` like [`Self::get`], without `ConsistencyLevel`; `None` when Graph answers
    /// that the object does not exist.
    async fn get_if_exists<T: DeserializeOwned>(
        &self,
        token: &AccessToken,
        path: &str,
    ) -> Result<Option<T>, GraphError> {
        absent_as_none(self.get(token, path, false).await)
    }

    /// The first page's items of `collection` (a path) filtered by the OData `filter`.
    async fn filtered_first_page<T: DeserializeOwned>(
        &self,
        token: &AccessToken,
        collection: &str,
        filter: &str,
    ) -> Result<Vec<T>, GraphError> {
        let path = format!("{collection}?$filter={}", query_value(filter));
        let page: Page<T> = self.get(token, &path, false).await?;
        Ok(page.value)
    }

    /// Every item of the collection at `path`, all pages read.
    async fn collect_all<T: DeserializeOwned>(
        &self,
        token: &AccessToken,
        path: String,
    ) -> Result<Vec<T>, GraphError> {
        self.pages::<T>(token, path, false)
            .map_ok(|p| futures::stream::iter(p.value.into_iter().map(Ok)))
            .try_flatten()
            .try_collect()
            .await
    }

    /// Streams the pages of a collection from `path`, following `nextLink`s, one page in
    /// memory at a time. The stream ends after the page that carries no `nextLink`.
    pub fn pages<'a, T: DeserializeOwned + 'a>(
        &'a self,
        token: &'a AccessToken,
        path: String,
        eventual: bool,
    ) -> impl Stream<Item = Result<Page<T>, GraphError>> + 'a {
        futures::stream::try_unfold(Some(path), move |next| async move {
            let Some(url) = next else {
                return Ok(None);
            };
            let page: Page<T> = self.get(token, &url, eventual).await?;
            let next = page.next_link.clone();
            Ok(Some((page, next)))
        })
    }
}

/// `Ok(None)` for a Graph answer that the object does not exist, the result otherwise.
fn absent_as_none<T>(result: Result<T, GraphError>) -> Result<Option<T>, GraphError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.failure == GraphFailure::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// `GET /users/delta`-style description of a request for messages: the method and the path
/// without host or query string.
fn operation(method: &str, url: &str) -> String {
    let path = url
        .split_once("://")
        .map(|(_, rest)| rest.find('/').map(|i| &rest[i..]).unwrap_or("/"))
        .unwrap_or(url);
    let path = path.split('?').next().unwrap_or(path);
    let path = path.strip_prefix("/v1.0").unwrap_or(path);
    format!("{method} {path}")
}

/// Quotes a string for an OData literal (single quotes doubled).
pub fn odata_string(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// Percent-encodes one path segment (a user principal name may hold `#` or `'`).
pub fn path_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Percent-encodes a query parameter value.
pub fn query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::microsoft::http::RetryPolicy;
    use exo_api::exchange_service_account::Cloud;
    use futures::TryStreamExt;
    use std::sync::{Arc, Mutex};

    /// A Graph stand-in serving two pages of users and recording each request line and its
    /// ConsistencyLevel header.
    async fn two_pages() -> (GraphClient, Arc<Mutex<Vec<(String, bool)>>>) {
        let seen: Arc<Mutex<Vec<(String, bool)>>> = Arc::default();
        let log = seen.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let next = format!("{base}/v1.0/users?$skiptoken=opaque%2Bx");
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let (log, next) = (log.clone(), next.clone());
            async move {
                let uri = req.uri().to_string();
                let eventual = req.headers().get("consistencylevel").is_some();
                log.lock().unwrap().push((uri.clone(), eventual));
                let body = if uri.contains("skiptoken") {
                    serde_json::json!({"value": [{"id": "u3"}]})
                } else {
                    serde_json::json!({"value": [{"id": "u1"}, {"id": "u2"}], "@odata.nextLink": next})
                };
                axum::Json(body)
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let mut endpoints = Endpoints::resolve(Cloud::Global, None);
        endpoints.graph = base;
        let http = HttpClient::new(None, RetryPolicy::default()).unwrap();
        (GraphClient::new(http, &endpoints), seen)
    }

    #[tokio::test]
    async fn pages_follow_next_links_verbatim_and_resend_consistency_level() {
        let (graph, seen) = two_pages().await;
        let token = AccessToken::new("t".into(), None, jiff::Timestamp::now());
        let pages: Vec<Page<models::User>> = graph
            .pages(&token, "/users?$top=2".into(), true)
            .try_collect()
            .await
            .unwrap();
        let ids: Vec<&str> = pages
            .iter()
            .flat_map(|p| p.value.iter().map(|u| u.id.as_str()))
            .collect();
        assert_eq!(ids, ["u1", "u2", "u3"]);
        let seen = seen.lock().unwrap();
        assert_eq!(seen[0], ("/v1.0/users?$top=2".to_string(), true));
        assert_eq!(
            seen[1],
            ("/v1.0/users?$skiptoken=opaque%2Bx".to_string(), true)
        );
    }

    #[test]
    fn operations_hide_host_and_query() {
        assert_eq!(
            operation(
                "GET",
                "https://graph.microsoft.com/v1.0/users/delta?$deltatoken=secret"
            ),
            "GET /users/delta"
        );
        assert_eq!(
            operation("GET", "http://127.0.0.1:4000/v1.0/domains"),
            "GET /domains"
        );
    }

    #[test]
    fn odata_literals_and_segments_are_escaped() {
        assert_eq!(odata_string("O'Neil"), "'O''Neil'");
        assert_eq!(
            path_segment("ada_contoso.com#EXT#@x.onmicrosoft.com"),
            "ada_contoso.com%23EXT%23@x.onmicrosoft.com"
        );
        assert_eq!(
            query_value("startswith(displayName,'a b')"),
            "startswith%28displayName%2C%27a%20b%27%29"
        );
    }
}
