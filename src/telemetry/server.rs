//! The operator's HTTP port: `/healthz` (the process runs), `/readyz` (the controllers'
//! caches are filled), `/metrics` (Prometheus), and `/consent/callback`, the redirect target of the admin consent page,
//! which makes the account look again at once.

use std::net::SocketAddr;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use serde::Deserialize;
use tokio::sync::watch;

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
}

/// Serves the port on `listener` until `shutdown` turns true. With `standby` (leader
/// election), a replica that does not lead reports ready: it is healthy and waiting.
pub async fn serve(
    listener: tokio::net::TcpListener,
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
        .with_state(AppState { handles, standby });
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
    if let Some(h) = handles {
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
