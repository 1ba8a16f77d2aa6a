//! Watch: the initial events (or the changes since a resourceVersion), then changes as they
//! happen, with bookmarks, until the timeout or the client leaves.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc};

use super::Filter;
use crate::http::ServerState;
use crate::http::request::Call;
use crate::http::response::{Shape, streaming};
use crate::http::routes::Target;
use crate::http::zero_fields;
use crate::status::ApiError;
use crate::store::{Change, Inner};
use crate::types::ResourceType;

/// How long a watch lasts when the client does not say.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// Events buffered for a slow client.
const BUFFER: usize = 256;

/// What a watch request asks for.
struct Watch {
    rt: ResourceType,
    filter: Filter,
    shape: Shape,
    bookmarks: bool,
    send_initial: Option<bool>,
    timeout: Duration,
    since: Option<u64>,
}

impl Watch {
    fn from(call: &Call, t: &Target) -> Result<Self, ApiError> {
        super::list_options::check(call, true)?;
        Ok(Self {
            rt: t.rt.clone(),
            filter: Filter::from(call, t)?,
            shape: Shape::metadata_only(call.wants("PartialObjectMetadata")),
            bookmarks: call.flag("allowWatchBookmarks"),
            send_initial: call
                .q("sendInitialEvents")
                .map(|v| matches!(v, "true" | "1")),
            timeout: call
                .number("timeoutSeconds")
                .map(Duration::from_secs)
                .unwrap_or(DEFAULT_TIMEOUT),
            since: call.number("resourceVersion").filter(|r| *r > 0),
        })
    }

    /// A selected stored object as an event of type `kind`, in the requested shape.
    fn event(&self, kind: &str, stored: &Value) -> Option<(String, Value)> {
        self.filter
            .matches(&self.rt, stored)
            .then(|| (kind.to_string(), self.shape.object(&self.rt, stored)))
    }

    /// A BOOKMARK object at resourceVersion `rv`: the type's empty object, as Go writes it.
    fn bookmark(&self, rv: u64) -> Value {
        let (api_version, kind) = self.shape.type_meta(&self.rt);
        let mut mark = match self.shape {
            Shape::Full => zero_fields::empty_object(&self.rt),
            Shape::MetadataOnly => json!({}),
        };
        mark["kind"] = json!(kind);
        mark["apiVersion"] = json!(api_version);
        mark["metadata"] = json!({"resourceVersion": rv.to_string()});
        mark
    }

    /// The events sent before any new change: none with `sendInitialEvents=false`, the
    /// changes since `since`, or every selected object as ADDED, then (with
    /// `sendInitialEvents=true` and bookmarks allowed) the bookmark that ends them. `Err`
    /// holds the Status when `since` is older than the history.
    fn initial_events(&self, st: &Inner) -> Result<Vec<(String, Value)>, Value> {
        let mut events: Vec<(String, Value)> = match self.since {
            _ if self.send_initial == Some(false) => Vec::new(),
            Some(rv) if self.send_initial.is_none() => {
                let changes = st.changes_since(rv).ok_or_else(|| {
                    // Compacted away, as etcd words it; or older than the history kept, as
                    // the watch cache words it.
                    let message = match rv + 1 < st.compacted {
                        true => "The resourceVersion for the provided watch is too old.".into(),
                        false => format!("too old resource version: {rv} ({})", st.oldest + 1),
                    };
                    ApiError::gone(message).to_status()
                })?;
                changes
                    .iter()
                    .filter(|c| c.storage == self.rt.storage)
                    .filter_map(|c| self.event(c.kind, &c.object))
                    .collect()
            }
            _ => st
                .objects
                .get(&self.rt.storage)
                .into_iter()
                .flat_map(|objects| objects.values())
                .filter_map(|o| self.event("ADDED", o))
                .collect(),
        };
        if self.send_initial == Some(true) && self.bookmarks {
            let mut mark = self.bookmark(st.rv);
            mark["metadata"]["annotations"] = json!({"k8s.io/initial-events-end": "true"});
            events.push(("BOOKMARK".into(), mark));
        }
        Ok(events)
    }
}

/// One line of a watch stream.
fn watch_line(kind: &str, object: Value) -> Bytes {
    let mut line = json!({"type": kind, "object": object}).to_string();
    line.push('\n');
    Bytes::from(line)
}

/// GET of a collection with `watch=true`: a stream of watch events.
pub fn watch(server: Arc<ServerState>, call: &Call, t: &Target) -> Result<Response, ApiError> {
    let watch = Watch::from(call, t)?;
    let changes = server.store.subscribe();
    let (initial, last_rv) = {
        let st = server.store.lock();
        match watch.initial_events(&st) {
            Ok(events) => (events, st.rv),
            Err(status) => {
                let line = watch_line("ERROR", status);
                return Ok(streaming(futures::stream::iter([Ok::<_, Infallible>(
                    line,
                )])));
            }
        }
    };
    let (tx, mut out) = mpsc::channel::<Bytes>(BUFFER);
    tokio::spawn(async move {
        for (kind, obj) in initial {
            if tx.send(watch_line(&kind, obj)).await.is_err() {
                return;
            }
        }
        follow(&server, &watch, changes, last_rv, &tx).await;
    });
    let stream =
        futures::stream::poll_fn(move |cx| out.poll_recv(cx).map(|o| o.map(Ok::<_, Infallible>)));
    Ok(streaming(stream))
}

/// Sends the selected changes after `last_rv` (each `server.watch_delay` after its write) and
/// bookmarks, until the watch times out, the client leaves or falls behind.
async fn follow(
    server: &ServerState,
    watch: &Watch,
    mut changes: broadcast::Receiver<Arc<Change>>,
    mut last_rv: u64,
    tx: &mpsc::Sender<Bytes>,
) {
    let deadline = tokio::time::sleep(watch.timeout);
    tokio::pin!(deadline);
    let mut ticker = tokio::time::interval(server.bookmark_interval);
    ticker.tick().await;
    loop {
        let line = tokio::select! {
            _ = &mut deadline => return,
            _ = ticker.tick(), if watch.bookmarks => {
                let rv = server.store.lock().rv.max(last_rv);
                watch_line("BOOKMARK", watch.bookmark(rv))
            }
            received = changes.recv() => match received {
                Ok(change) => {
                    if change.rv <= last_rv || change.storage != watch.rt.storage {
                        continue;
                    }
                    last_rv = change.rv;
                    if !server.watch_delay.is_zero() {
                        tokio::time::sleep_until((change.at + server.watch_delay).into()).await;
                    }
                    let Some((kind, object)) = watch.event(change.kind, &change.object) else {
                        continue;
                    };
                    watch_line(&kind, object)
                }
                Err(RecvError::Lagged(_)) => {
                    let status = ApiError::gone("the watch fell behind; relist").to_status();
                    let _ = tx.send(watch_line("ERROR", status)).await;
                    return;
                }
                Err(_) => return,
            },
            _ = tx.closed() => return,
        };
        if tx.send(line).await.is_err() {
            return;
        }
    }
}
