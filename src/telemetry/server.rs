//! The operator's HTTP port: `/healthz` (the process runs), `/readyz` (the Kubernetes API
//! server answers and the controllers' caches are filled), `/metrics` (Prometheus), and `/consent/callback`, the redirect target of the admin consent page,
//! which makes the account look again at once.

use std::net::SocketAddr;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use serde::Deserialize;
use tokio::sync::watch;

use super::api_probe::ApiProbe;
use crate::controller::run::Handles;

/// Query of the admin consent redirect.
#[derive(Debug, Deserialize)]
pub struct ConsentCallback {
    /// The tenant that consented.
    pub tenant: Option<String>,
    /// `namespace/name` of the account (sent as `state`).
    pub state: Option<String>,
    /// `True` when consent was granted.
    pub admin_consent: Option<String>,
    /// OAuth error, when consent was not granted.
    pub error: Option<String>,
}

/// How long `/readyz` waits for the caches before it answers 503 (probes time out after 1 s).
const READY_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

#[derive(Clone)]
struct AppState {
    handles: watch::Receiver<Option<Handles>>,
    standby: bool,
    api: std::sync::Arc<ApiProbe>,
}

/// Serves the port on `listener` until `shutdown` turns true. With `standby` (leader
/// election), a replica that does not lead reports ready: it is healthy and waiting. Either
/// way it is not ready while the API server behind `client` does not answer.
pub async fn serve(
    listener: tokio::net::TcpListener,
    client: kube::Client,
    handles: watch::Receiver<Option<Handles>>,
    mut shutdown: watch::Receiver<bool>,
    standby: bool,
) -> std::io::Result<()> {
    let app = axum::Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route(
            "/metrics",
            get(|| async {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    super::metrics::metrics().encode(),
                )
            }),
        )
        .route("/consent/callback", get(consent))
        .route("/graph/lifecycle/{uid}", axum::routing::post(lifecycle))
        .with_state(AppState {
            handles,
            standby,
            api: std::sync::Arc::new(ApiProbe::new(client)),
        });
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|s| *s).await;
        })
        .await
}

/// Binds `addr`, for [`serve`].
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if !state.api.answers().await {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the Kubernetes API server does not answer",
        );
    }
    let handles = state.handles.borrow().clone();
    match handles {
        Some(h)
            if tokio::time::timeout(READY_WAIT, h.wait_until_ready())
                .await
                .unwrap_or(false) =>
        {
            (StatusCode::OK, "ready")
        }
        None if state.standby => (StatusCode::OK, "standby: another replica leads"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "starting"),
    }
}

/// Query of a Graph lifecycle notification (or of its validation request).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LifecycleQuery {
    validation_token: Option<String>,
}

/// Microsoft Graph's lifecycle notifications for the account `uid`'s subscriptions: the
/// validation handshake (the token echoed as plain text), else the notifications, checked
/// against the account's clientState and handed to its subscription task. Always 202 for a
/// well-formed batch, so that Graph does not retry what was ignored.
async fn lifecycle(
    State(state): State<AppState>,
    axum::extract::Path(uid): axum::extract::Path<String>,
    Query(query): Query<LifecycleQuery>,
    body: axum::body::Bytes,
) -> axum::response::Response {
    if let Some(token) = query.validation_token {
        return (
            StatusCode::OK,
            [(axum::http::header::CONTENT_TYPE, "text/plain")],
            token,
        )
            .into_response();
    }
    let Ok(batch) = serde_json::from_slice::<crate::protection::lifecycle::Batch>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let handles = state.handles.borrow().clone();
    let accepted = handles
        .as_ref()
        .and_then(|h| h.protection())
        .map(|k| k.lifecycle(&uid, batch.value))
        .unwrap_or(0);
    tracing::debug!(account_uid = %uid, accepted, "lifecycle notifications");
    StatusCode::ACCEPTED.into_response()
}

async fn consent(
    State(state): State<AppState>,
    Query(query): Query<ConsentCallback>,
) -> impl IntoResponse {
    let account = query
        .state
        .as_deref()
        .and_then(|s| s.split_once('/'))
        .filter(|(ns, name)| !ns.is_empty() && !name.is_empty());
    let Some((namespace, name)) = account else {
        return (
            StatusCode::BAD_REQUEST,
            Html(
                "<p>This page is only reached from the admin consent page of exo-operator.</p>"
                    .to_string(),
            ),
        );
    };
    let handles = state.handles.borrow().clone();
    if let Some(h) = &handles {
        if h.account_exists(namespace, name) == Some(false) {
            return (
                StatusCode::NOT_FOUND,
                Html(format!(
                    "<!doctype html><title>exo-operator</title><p>No ExchangeServiceAccount {} is watched by this operator: nothing was recorded. Check the account named in the consent URL's state.</p>",
                    escape(&format!("{namespace}/{name}"))
                )),
            );
        }
        h.trigger(namespace, name).await;
    }
    let granted = query
        .admin_consent
        .as_deref()
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let tenant = query.tenant.as_deref().unwrap_or("the tenant");
    let text = if granted {
        format!(
            "Consent for {} was recorded for {}. exo-operator checks the grant now; you can close this page.",
            escape(tenant),
            escape(&format!("{namespace}/{name}"))
        )
    } else {
        format!(
            "Consent was not granted ({}). Open the admin consent URL in the account's status again.",
            escape(query.error.as_deref().unwrap_or("no answer"))
        )
    };
    (
        StatusCode::OK,
        Html(format!(
            "<!doctype html><title>exo-operator</title><p>{text}</p>"
        )),
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in API server answering `GET /version`; its URL.
    async fn api_server() -> String {
        let app = axum::Router::new().route(
            "/version",
            get(|| async {
                axum::Json(serde_json::json!({
                    "major": "1", "minor": "37", "gitVersion": "v1.37.2", "gitCommit": "x",
                    "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
                    "goVersion": "go1.25", "compiler": "gc", "platform": "linux/amd64",
                }))
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    /// The status of `/readyz` of a port served with ready caches, against the API server
    /// at `api`.
    async fn readyz_status(api: &str) -> u16 {
        let config = kube::Config::new(api.parse().unwrap());
        let client = kube::Client::try_from(config).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap();
        let (_handles_tx, handles) = watch::channel(Some(Handles::default()));
        let (_stop_tx, stop) = watch::channel(false);
        tokio::spawn(serve(listener, client, handles, stop, false));
        let got = reqwest::get(format!("http://{port}/readyz")).await.unwrap();
        got.status().as_u16()
    }

    #[tokio::test]
    async fn ready_only_while_the_api_server_answers() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        assert_eq!(readyz_status(&api_server().await).await, 200);
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}", l.local_addr().unwrap())
        };
        assert_eq!(readyz_status(&closed).await, 503);
    }
}
