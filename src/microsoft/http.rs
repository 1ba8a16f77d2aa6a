//! The HTTP transport shared by every Microsoft client: one connection pool per trust
//! configuration, timeouts on every request, and bounded retries of throttled and transient
//! failures that honour `Retry-After`.

use std::time::Duration;

use reqwest::{Certificate, Method, StatusCode};
use thiserror::Error;

use super::retry::{Backoff, parse_retry_after};

/// Time allowed to establish a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for a whole request, response body included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Installs the process-wide TLS crypto provider (ring). Call once at start-up; later calls
/// are harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A failure of the transport itself (no HTTP response to classify).
#[derive(Debug, Error)]
pub enum TransportError {
    /// The extra CA bundle is not valid PEM.
    #[error("the CA bundle is not a valid PEM certificate list: {0}")]
    CaBundle(String),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
    /// Connecting, sending or reading failed after the retries.
    #[error("{api} request failed after {attempts} attempts: {detail}")]
    Unreachable {
        /// Which API was called.
        api: &'static str,
        /// How many attempts were made.
        attempts: u32,
        /// What failed, without URLs' query strings.
        detail: String,
        /// The class of the failure, naming no URL (`connection refused`, `TLS`, ...).
        kind: &'static str,
    },
    /// The service kept answering 429 or 5xx (through the oauth2 adapter, which has no other
    /// way to report a status).
    #[error("{api} answered HTTP {status} after {attempts} attempts")]
    Status {
        /// Which API was called.
        api: &'static str,
        /// The last HTTP status.
        status: u16,
        /// How many attempts were made.
        attempts: u32,
        /// The service's `Retry-After`, if it sent one.
        retry_after: Option<Duration>,
    },
}

impl TransportError {
    /// The last HTTP status when the service kept answering 429 or 5xx; 0 when no response
    /// came.
    pub fn status(&self) -> u16 {
        match self {
            Self::Status { status, .. } => *status,
            _ => 0,
        }
    }

    /// The `Retry-After` the service sent with its last 429 or 5xx.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// This failure in a client's terms: throttled when the service kept answering 429 (with
    /// its `Retry-After`), transient otherwise.
    pub(crate) fn classify<F: TransportFailureClass>(&self) -> ClassifiedTransportError<F> {
        let throttled = self.status() == 429;
        ClassifiedTransportError {
            failure: if throttled {
                F::THROTTLED
            } else {
                F::TRANSIENT
            },
            status: self.status(),
            retry_after: self.retry_after().filter(|_| throttled),
        }
    }
}

/// The two classes of a client's failures that a transport failure can be.
pub(crate) trait TransportFailureClass {
    /// The service kept answering 429.
    const THROTTLED: Self;
    /// No response, or a persistent 5xx.
    const TRANSIENT: Self;
}

/// A transport failure as a client's error reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ClassifiedTransportError<F> {
    /// The client's class of the failure.
    pub(crate) failure: F,
    /// The last HTTP status, 0 when no response came.
    pub(crate) status: u16,
    /// How long to wait, when throttled and the service said.
    pub(crate) retry_after: Option<Duration>,
}

/// A request, kept as data so that it can be sent again on retry.
#[derive(Clone, Debug)]
pub struct Request {
    /// Which API is called, for messages and metrics (`login`, `graph`, `exchange`).
    pub api: &'static str,
    /// HTTP method.
    pub method: Method,
    /// Full URL.
    pub url: String,
    /// Headers (names lower case).
    pub headers: Vec<(String, String)>,
    /// Body bytes (empty for none).
    pub body: Vec<u8>,
}

/// A response with its body read.
#[derive(Clone, Debug)]
pub struct Response {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: reqwest::header::HeaderMap,
    /// Body bytes.
    pub body: Vec<u8>,
    /// Attempts it took (1 when the first succeeded).
    pub attempts: u32,
}

impl Response {
    /// The `Retry-After` delay the service asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        let value = self
            .headers
            .get(reqwest::header::RETRY_AFTER)?
            .to_str()
            .ok()?;
        parse_retry_after(value, jiff::Timestamp::now())
    }
}

/// Retry policy of one client.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Delays between attempts when the service gave no `Retry-After`.
    pub backoff: Backoff,
    /// Longest single wait; a longer `Retry-After` is returned to the caller instead of slept.
    pub max_wait: Duration,
    /// Longest time one attempt may take, from connecting to the last byte of the answer.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            backoff: Backoff::REQUEST,
            max_wait: Duration::from_secs(30),
            timeout: REQUEST_TIMEOUT,
        }
    }
}

/// The shared HTTP client.
#[derive(Clone, Debug)]
pub struct HttpClient {
    inner: reqwest::Client,
    policy: RetryPolicy,
}

impl HttpClient {
    /// A client trusting the system roots plus the certificates of `ca_bundle_pem`.
    pub fn new(ca_bundle_pem: Option<&[u8]>, policy: RetryPolicy) -> Result<Self, TransportError> {
        Self::with_proxy(ca_bundle_pem, policy, None)
    }

    /// Like [`HttpClient::new`], sending HTTPS through `https_proxy` when given (otherwise the
    /// `HTTPS_PROXY` and `NO_PROXY` environment variables apply).
    pub fn with_proxy(
        ca_bundle_pem: Option<&[u8]>,
        policy: RetryPolicy,
        https_proxy: Option<&str>,
    ) -> Result<Self, TransportError> {
        install_crypto_provider();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(policy.timeout)
            .user_agent(concat!("exo-operator/", env!("CARGO_PKG_VERSION")));
        if let Some(url) = https_proxy {
            let proxy = reqwest::Proxy::https(url)
                .map_err(|e| TransportError::Build(format!("invalid HTTPS proxy {url:?}: {e}")))?;
            builder = builder.proxy(proxy);
        }
        if let Some(pem) = ca_bundle_pem {
            let certs = Certificate::from_pem_bundle(pem)
                .map_err(|e| TransportError::CaBundle(e.to_string()))?;
            if certs.is_empty() {
                return Err(TransportError::CaBundle("no certificate found".into()));
            }
            builder = builder.tls_certs_merge(certs);
        }
        let inner = builder
            .build()
            .map_err(|e| TransportError::Build(e.to_string()))?;
        Ok(Self { inner, policy })
    }

    /// Sends `request`, retrying connection failures, 429, 502, 503 and 504 with backoff or
    /// the service's `Retry-After` (when it is short enough to wait), and returns the last
    /// response, whatever its status.
    pub async fn send(&self, request: &Request) -> Result<Response, TransportError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= self.policy.max_attempts;
            let started = std::time::Instant::now();
            let result = self.send_once(request).await;
            crate::telemetry::metrics::metrics().request(
                request.api,
                result.as_ref().ok().map(|(status, _, _)| status.as_u16()),
                started.elapsed(),
            );
            match result {
                Ok((status, headers, body)) => {
                    let response = Response {
                        status,
                        headers,
                        body,
                        attempts: attempt,
                    };
                    if last || !retryable(status) {
                        return Ok(response);
                    }
                    let wait = response
                        .retry_after()
                        .unwrap_or_else(|| self.policy.backoff.delay(attempt - 1));
                    if wait > self.policy.max_wait {
                        return Ok(response);
                    }
                    tracing::debug!(api = request.api, %status, attempt, ?wait, "retrying");
                    tokio::time::sleep(wait).await;
                }
                Err((kind, detail)) if last => {
                    return Err(TransportError::Unreachable {
                        api: request.api,
                        attempts: attempt,
                        detail,
                        kind,
                    });
                }
                Err((_, detail)) => {
                    let wait = self.policy.backoff.delay(attempt - 1);
                    tracing::debug!(api = request.api, attempt, ?wait, error = %detail, "retrying");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    async fn send_once(
        &self,
        request: &Request,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, Vec<u8>), (&'static str, String)> {
        let mut builder = self.inner.request(request.method.clone(), &request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if !request.body.is_empty() {
            builder = builder.body(request.body.clone());
        }
        let response = builder.send().await.map_err(describe)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(describe)?;
        Ok((status, headers, body.to_vec()))
    }
}

fn retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 502 | 503 | 504)
}

/// Describes a reqwest error without the URL's query (which may carry tokens): its class (see
/// [`failure_kind`]) and the class with the URL's scheme, host and path.
fn describe(error: reqwest::Error) -> (&'static str, String) {
    let kind = failure_kind(&error);
    let detail = match error.url() {
        Some(url) => format!(
            "{kind} ({}://{}{})",
            url.scheme(),
            url.host_str().unwrap_or(""),
            url.path()
        ),
        None => kind.to_string(),
    };
    (kind, detail)
}

/// The class of a failed request, naming no URL: `timed out`, `connection refused`, `TLS`,
/// `connection failed`, `reading the response failed` or `request failed`.
pub fn failure_kind(error: &(dyn std::error::Error + 'static)) -> &'static str {
    let mut chain = Some(error);
    let (mut refused, mut tls) = (false, false);
    while let Some(e) = chain {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            refused |= io.kind() == std::io::ErrorKind::ConnectionRefused;
        }
        tls |= e.downcast_ref::<rustls::Error>().is_some() || {
            let text = e.to_string().to_ascii_lowercase();
            text.contains("certificate") || text.contains("tls") || text.contains("handshake")
        };
        chain = e.source();
    }
    let reqwest = error.downcast_ref::<reqwest::Error>();
    if reqwest.is_some_and(|e| e.is_timeout()) {
        "timed out"
    } else if refused {
        "connection refused"
    } else if tls {
        "TLS"
    } else if reqwest.is_some_and(|e| e.is_connect()) {
        "connection failed"
    } else if reqwest.is_some_and(|e| e.is_body() || e.is_decode()) {
        "reading the response failed"
    } else {
        "request failed"
    }
}

/// oauth2's transport: the same retries and timeouts for identity-platform requests.
impl<'c> oauth2::AsyncHttpClient<'c> for HttpClient {
    type Error = TransportError;
    type Future = std::pin::Pin<
        Box<dyn Future<Output = Result<oauth2::HttpResponse, TransportError>> + Send + 'c>,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let req = Request {
                api: "login",
                method: parts.method,
                url: parts.uri.to_string(),
                headers: parts
                    .headers
                    .iter()
                    .filter_map(|(k, v)| {
                        Some((k.as_str().to_string(), v.to_str().ok()?.to_string()))
                    })
                    .collect(),
                body,
            };
            let response = self.send(&req).await?;
            let status = response.status.as_u16();
            if retryable(response.status) || status >= 500 {
                return Err(TransportError::Status {
                    api: "login",
                    status,
                    attempts: response.attempts,
                    retry_after: response.retry_after(),
                });
            }
            let mut builder = http::Response::builder().status(response.status);
            for (name, value) in &response.headers {
                builder = builder.header(name, value);
            }
            builder
                .body(response.body)
                .map_err(|e| TransportError::Build(e.to_string()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use axum::http::{HeaderMap, StatusCode as AxumStatus};

    /// The status and `Retry-After` a test server answers its n-th request (from 1) with.
    type Respond = fn(u32) -> (u16, Option<&'static str>);

    /// Serves `respond(n)` for the n-th request (from 1) on a loopback port.
    async fn serve(respond: Respond) -> (String, Arc<AtomicU32>) {
        let count = Arc::new(AtomicU32::new(0));
        let seen = count.clone();
        let app = axum::Router::new().fallback(move || {
            let seen = seen.clone();
            async move {
                let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
                let (status, retry_after) = respond(n);
                let mut headers = HeaderMap::new();
                if let Some(v) = retry_after {
                    headers.insert("retry-after", v.parse().unwrap());
                }
                (
                    AxumStatus::from_u16(status).unwrap(),
                    headers,
                    format!("attempt {n}"),
                )
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (url, count)
    }

    fn quick() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            backoff: Backoff {
                base: Duration::from_millis(1),
                max: Duration::from_millis(5),
            },
            max_wait: Duration::from_secs(5),
            timeout: REQUEST_TIMEOUT,
        }
    }

    fn get(url: &str) -> Request {
        Request {
            api: "graph",
            method: Method::GET,
            url: url.to_string(),
            headers: vec![],
            body: vec![],
        }
    }

    /// Serves `respond` and GETs it once with the quick policy: the response, and how many
    /// requests the server saw.
    async fn get_served(respond: Respond) -> (Response, u32) {
        let (url, count) = serve(respond).await;
        let client = HttpClient::new(None, quick()).unwrap();
        let response = client.send(&get(&url)).await.unwrap();
        (response, count.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn throttled_and_unavailable_answers_are_retried_a_bounded_number_of_times() {
        let cases: [(Respond, StatusCode, u32); 3] = [
            // Throttled twice with `Retry-After: 0`, then served.
            (
                |n| if n < 3 { (429, Some("0")) } else { (200, None) },
                StatusCode::OK,
                3,
            ),
            // Never available: the last answer is returned.
            (|_| (503, None), StatusCode::SERVICE_UNAVAILABLE, 3),
            // A client error is final.
            (|_| (400, None), StatusCode::BAD_REQUEST, 1),
        ];
        for (respond, status, attempts) in cases {
            let (response, requests) = get_served(respond).await;
            assert_eq!(response.status, status);
            assert_eq!(response.attempts, attempts);
            assert_eq!(requests, attempts);
            assert_eq!(response.body, format!("attempt {attempts}").as_bytes());
        }
    }

    #[tokio::test]
    async fn a_long_retry_after_is_left_to_the_caller() {
        let (response, requests) = get_served(|_| (429, Some("120"))).await;
        assert_eq!(response.attempts, 1);
        assert_eq!(response.retry_after(), Some(Duration::from_secs(120)));
        assert_eq!(requests, 1);
    }

    #[tokio::test]
    async fn unreachable_services_fail_after_the_retries_without_the_query() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let err = HttpClient::new(None, quick())
            .unwrap()
            .send(&get(&format!("http://{addr}/v1.0/users?$skiptoken=SECRET")))
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("graph request failed after 3 attempts: connection refused"),
            "{text}"
        );
        assert!(!text.contains("SECRET"), "{text}");
    }

    #[test]
    fn a_bad_ca_bundle_is_rejected() {
        let err = HttpClient::new(Some(b"not a certificate"), RetryPolicy::default()).unwrap_err();
        assert!(matches!(err, TransportError::CaBundle(_)), "{err}");
    }
}
