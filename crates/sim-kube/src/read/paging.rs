//! One page of a list: the selected objects of a snapshot in key order, after the `continue`
//! token's start, at most `limit` of them, with the token of the next page. Every page of a
//! list is read from the snapshot of its first page, as kube-apiserver reads them from etcd at
//! one revision.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Filter;
use super::continue_token::{self, Continue};
use super::snapshot::{self, Objects};
use crate::http::ServerState;
use crate::http::request::Call;
use crate::http::response::json_response;
use crate::http::routes::Target;
use crate::status::ApiError;
use crate::store::Inner;

/// The message of a continue token whose snapshot is gone.
const CONTINUE_EXPIRED: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

/// An answer refusing a list instead of a page.
pub type Refusal = Box<Response>;

/// One page of a list.
pub struct Page {
    /// The objects, as stored.
    pub items: Vec<Value>,
    /// The token of the next page, if there is one.
    pub next: Option<String>,
    /// How many objects the following pages hold (only when nothing is selected by labels or
    /// fields).
    pub remaining: Option<usize>,
    /// The resourceVersion of the snapshot.
    pub resource_version: String,
}

/// The page `call` asks for; `Err` is the answer refusing it (400 for a token that is not one,
/// 410 for an expired snapshot, 504 for a resourceVersion the server has not reached).
pub fn read_page(
    server: &ServerState,
    call: &Call,
    t: &Target,
    filter: &Filter,
) -> Result<Page, Refusal> {
    let token = call
        .q("continue")
        .map(continue_token::decode)
        .transpose()
        .map_err(|e| Box::new(ApiError::bad_request(e).into_response()))?;
    // A list at resourceVersion 0 is served whole from the watch cache: no pages.
    let limit = match (call.q("resourceVersion"), &token) {
        (Some("0"), None) => 0,
        _ => call.number("limit").unwrap_or(0) as usize,
    };
    let st = server.store.lock();
    let (rv, objects) = snapshot_of(&st, call, t, token.as_ref())?;
    drop(st);
    let mut selected: Vec<(String, Value)> = objects
        .into_iter()
        .filter(|(_, o)| filter.matches(&t.rt, o))
        .map(|((ns, name), o)| (key_path(t, &ns, &name), o))
        .collect();
    selected.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(c) = &token {
        selected.retain(|(path, _)| *path >= c.start);
    }
    let total = selected.len();
    let mut page = Page {
        items: Vec::new(),
        next: None,
        remaining: None,
        resource_version: rv.to_string(),
    };
    let take = if limit == 0 { total } else { limit.min(total) };
    if take < total {
        let last = &selected[take - 1].0;
        page.next = Some(continue_token::encode(&format!("{last}\u{0}"), rv as i64));
        if !filter.selects() {
            page.remaining = Some(total - take);
        }
    }
    page.items = selected.into_iter().take(take).map(|(_, o)| o).collect();
    Ok(page)
}

/// The key of an object relative to the list's prefix, as etcd orders keys: `/name` in a
/// namespace or for cluster-scoped types, `/namespace/name` across namespaces.
fn key_path(t: &Target, ns: &str, name: &str) -> String {
    if t.namespace.is_some() || !t.rt.namespaced {
        format!("/{name}")
    } else {
        format!("/{ns}/{name}")
    }
}

/// The resourceVersion and objects a list reads: the token's snapshot, the exact
/// resourceVersion asked for, or the latest state.
fn snapshot_of(
    st: &Inner,
    call: &Call,
    t: &Target,
    token: Option<&Continue>,
) -> Result<(u64, Objects), Refusal> {
    let storage = &t.rt.storage;
    let latest = || (st.rv, st.objects.get(storage).cloned().unwrap_or_default());
    let asked = call
        .q("resourceVersion")
        .and_then(|v| v.parse::<u64>().ok());
    match token {
        Some(c) if c.rv > 0 => {
            let rv = c.rv as u64;
            too_large(st, rv)?;
            match snapshot::at(st, storage, rv) {
                Some(objects) => Ok((rv, objects)),
                None => Err(continue_expired(&c.start)),
            }
        }
        Some(_) => Ok(latest()),
        None => match (asked, call.q("resourceVersionMatch")) {
            (Some(rv), Some("Exact")) => {
                too_large(st, rv)?;
                snapshot::at(st, storage, rv)
                    .map(|o| (rv, o))
                    .ok_or_else(|| {
                        Box::new(
                            ApiError::gone("The resourceVersion for the provided list is too old.")
                                .into_response(),
                        )
                    })
            }
            (Some(rv), _) if rv > 0 => {
                too_large(st, rv)?;
                Ok(latest())
            }
            _ => Ok(latest()),
        },
    }
}

/// 504 for a resourceVersion newer than the server's, as kube-apiserver answers after waiting.
fn too_large(st: &Inner, rv: u64) -> Result<(), Refusal> {
    if rv <= st.rv {
        return Ok(());
    }
    let mut response = ApiError::new(
        504,
        "Timeout",
        format!(
            "Timeout: Too large resource version: {rv}, current: {}",
            st.rv
        ),
    )
    .with_details(json!({
        "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
        "retryAfterSeconds": 1,
    }))
    .into_response();
    response
        .headers_mut()
        .insert(axum::http::header::RETRY_AFTER, 1.into());
    Err(Box::new(response))
}

/// 410 for a continue token whose snapshot is gone, with a token that continues at the latest
/// state from the same key.
fn continue_expired(start: &str) -> Refusal {
    let mut status = ApiError::gone(CONTINUE_EXPIRED).to_status();
    let relative = start.strip_prefix('/').unwrap_or(start);
    status["metadata"] = json!({"continue": continue_token::encode(relative, -1)});
    Box::new(json_response(StatusCode::GONE, &status))
}
