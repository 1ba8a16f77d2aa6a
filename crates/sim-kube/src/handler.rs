//! The HTTP face of the emulator: authentication, routing of API paths, and the verbs with
//! the API server's semantics.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::discovery;
use super::events;
use super::patch::{self, FieldPath};
use super::selectors::{FieldSelector, LabelSelector};
use super::status::ApiError;
use super::store::{AuditEntry, Change, Inner, Store};
use super::table;
use super::types::ResourceType;

/// Shared state of the server.
pub struct Emu {
    /// Objects and history.
    pub store: Store,
    /// The bearer token clients must present.
    pub token: String,
    /// Interval between watch bookmarks.
    pub bookmark_interval: Duration,
    /// Delay of every watch event after its write.
    pub watch_delay: Duration,
}

/// The API router.
pub fn router(emu: Arc<Emu>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(emu)
}

struct Call {
    method: Method,
    query: HashMap<String, String>,
    accept: String,
    content_type: String,
    user_agent: String,
    body: Bytes,
}

impl Call {
    fn q(&self, key: &str) -> Option<&str> {
        self.query
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn flag(&self, key: &str) -> bool {
        matches!(self.q(key), Some("true" | "1"))
    }

    fn field_manager(&self) -> Option<String> {
        self.q("fieldManager").map(String::from)
    }

    /// The manager of a write: the fieldManager, else the user agent's program name.
    fn manager(&self) -> String {
        self.field_manager().unwrap_or_else(|| {
            self.user_agent
                .split('/')
                .next()
                .filter(|s| !s.is_empty())
                .unwrap_or("unknown")
                .to_string()
        })
    }

    fn dry_run(&self) -> bool {
        self.q("dryRun") == Some("All")
    }

    fn wants(&self, what: &str) -> bool {
        self.accept.contains(&format!("as={what}"))
    }
}

fn json_response(code: StatusCode, value: &Value) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn uid() -> String {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut b = [0u8; 16];
    let _ = SystemRandom::new().fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn random_suffix() -> String {
    uid()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(5)
        .collect()
}

/// Compares two secrets in time independent of where they differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn handle(State(emu): State<Arc<Emu>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let authorized = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| same_secret(t.as_bytes(), emu.token.as_bytes()));
    if !authorized {
        return ApiError::unauthorized().into_response();
    }
    let Ok(body) = axum::body::to_bytes(body, 64 << 20).await else {
        return ApiError::bad_request("the request body is too large").into_response();
    };
    let query: HashMap<String, String> = parts
        .uri
        .query()
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default();
    let header = |h: &HeaderMap, name| {
        h.get(name)
            .and_then(|v: &axum::http::HeaderValue| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let call = Call {
        method: parts.method.clone(),
        query,
        accept: header(&parts.headers, header::ACCEPT),
        content_type: header(&parts.headers, header::CONTENT_TYPE),
        user_agent: header(&parts.headers, header::USER_AGENT),
        body,
    };
    let path = parts.uri.path().trim_end_matches('/').to_string();
    match route(&emu, &call, &path).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// Where a resource request points.
struct Target {
    rt: ResourceType,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

fn resolve(emu: &Emu, group: &str, version: &str, rest: &[&str]) -> Option<Target> {
    let st = emu.store.lock();
    let find = |plural: &str| st.find_type(group, version, plural);
    let target = |rt, ns: Option<&str>, name: Option<&str>, sub: Option<&str>| Target {
        rt,
        namespace: ns.map(String::from),
        name: name.map(String::from),
        sub: sub.map(String::from),
    };
    match rest {
        ["namespaces", ns, plural, tail @ ..] if find(plural).is_some_and(|t| t.namespaced) => {
            let rt = find(plural)?;
            match tail {
                [] => Some(target(rt, Some(ns), None, None)),
                [name] => Some(target(rt, Some(ns), Some(name), None)),
                [name, sub] => Some(target(rt, Some(ns), Some(name), Some(sub))),
                _ => None,
            }
        }
        [plural] => Some(target(find(plural)?, None, None, None)),
        [plural, name] => Some(target(find(plural)?, None, Some(name), None)),
        [plural, name, sub] => Some(target(find(plural)?, None, Some(name), Some(sub))),
        _ => None,
    }
}

async fn route(emu: &Arc<Emu>, call: &Call, path: &str) -> Result<Response, ApiError> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if call.method == Method::GET
        && let Some((doc, content_type)) = discovery::document(emu, &segs, &call.accept)
    {
        count(emu, "get", &format!("/{}", segs.join("/")));
        return Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, content_type)],
            doc.to_string(),
        )
            .into_response());
    }
    let target = match segs.as_slice() {
        ["api", "v1", rest @ ..] if !rest.is_empty() => resolve(emu, "", "v1", rest),
        ["apis", group, version, rest @ ..] if !rest.is_empty() => {
            resolve(emu, group, version, rest)
        }
        _ => None,
    };
    let Some(t) = target else {
        return Err(ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource".into(),
        ));
    };
    if t.rt.namespaced && t.name.is_some() && t.namespace.is_none() {
        return Err(ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource".into(),
        ));
    }
    if let Some(sub) = &t.sub
        && !(sub == "status" && t.rt.status_subresource)
    {
        return Err(ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource".into(),
        ));
    }
    let verb = match (&call.method, &t.name) {
        (&Method::GET, Some(_)) => "get",
        (&Method::GET, None) if call.flag("watch") => "watch",
        (&Method::GET, None) => "list",
        (&Method::POST, None) => "create",
        (&Method::PUT, Some(_)) => "update",
        (&Method::PATCH, Some(_)) => "patch",
        (&Method::DELETE, Some(_)) => "delete",
        (&Method::DELETE, None) => "deletecollection",
        _ => return Err(ApiError::method_not_allowed()),
    };
    count(emu, verb, &resource_name(&t.rt));
    match verb {
        "get" => get(emu, call, &t),
        "list" => list(emu, call, &t),
        "watch" => watch(emu.clone(), call, &t),
        "create" => create(emu, call, &t),
        "update" => update(emu, call, &t),
        "patch" => patch_object(emu, call, &t),
        "delete" => delete(emu, call, &t),
        _ => delete_collection(emu, call, &t),
    }
}

fn resource_name(rt: &ResourceType) -> String {
    format!("{}/{}", rt.api_version(), rt.plural)
}

fn count(emu: &Emu, verb: &str, resource: &str) {
    *emu.store
        .lock()
        .stats
        .requests
        .entry(format!("{verb} {resource}"))
        .or_default() += 1;
}

/// The object as served through `rt` (events are converted; apiVersion and kind set).
fn to_wire(rt: &ResourceType, stored: &Value) -> Value {
    let mut v = if rt.group == "events.k8s.io" {
        events::to_events_v1(stored)
    } else {
        stored.clone()
    };
    v["apiVersion"] = json!(rt.api_version());
    v["kind"] = json!(rt.kind);
    v
}

fn partial(rt: &ResourceType, stored: &Value) -> Value {
    let _ = rt;
    json!({
        "apiVersion": "meta.k8s.io/v1",
        "kind": "PartialObjectMetadata",
        "metadata": stored.get("metadata").cloned().unwrap_or(json!({})),
    })
}

fn key(ns: &Option<String>, name: &str) -> (String, String) {
    (ns.clone().unwrap_or_default(), name.to_string())
}

fn get(emu: &Emu, call: &Call, t: &Target) -> Result<Response, ApiError> {
    let st = emu.store.lock();
    let name = t.name.as_deref().unwrap_or_default();
    let obj = st
        .objects
        .get(&t.rt.storage)
        .and_then(|m| m.get(&key(&t.namespace, name)))
        .cloned()
        .ok_or_else(|| ApiError::not_found(&t.rt.qualified(), name))?;
    let rv = st.rv.to_string();
    drop(st);
    if call.wants("Table") {
        return Ok(json_response(
            StatusCode::OK,
            &table::table(&t.rt, &[to_wire(&t.rt, &obj)], &rv, None),
        ));
    }
    if call.wants("PartialObjectMetadata") {
        return Ok(json_response(StatusCode::OK, &partial(&t.rt, &obj)));
    }
    Ok(json_response(StatusCode::OK, &to_wire(&t.rt, &obj)))
}

struct Filter {
    namespace: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    fn from(call: &Call, t: &Target) -> Result<Self, ApiError> {
        Ok(Self {
            namespace: t.namespace.clone(),
            labels: LabelSelector::parse(call.q("labelSelector").unwrap_or(""))
                .map_err(ApiError::bad_request)?,
            fields: FieldSelector::parse(call.q("fieldSelector").unwrap_or(""))
                .map_err(ApiError::bad_request)?,
        })
    }

    fn matches(&self, rt: &ResourceType, stored: &Value) -> bool {
        if let Some(ns) = &self.namespace
            && stored
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                != Some(ns.as_str())
        {
            return false;
        }
        if !self.labels.matches(stored) {
            return false;
        }
        // Field selectors use the names of the API they came through.
        if rt.group == "events.k8s.io" {
            self.fields.matches(&events::to_events_v1(stored))
        } else {
            self.fields.matches(stored)
        }
    }
}

fn list(emu: &Emu, call: &Call, t: &Target) -> Result<Response, ApiError> {
    let filter = Filter::from(call, t)?;
    let limit: usize = call.q("limit").and_then(|l| l.parse().ok()).unwrap_or(0);
    let after: Option<(String, String)> = call
        .q("continue")
        .and_then(|c| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(c)
                .ok()
        })
        .and_then(|b| serde_json::from_slice(&b).ok());
    let st = emu.store.lock();
    let rv = st.rv;
    let mut items = Vec::new();
    let mut next = None;
    if let Some(objects) = st.objects.get(&t.rt.storage) {
        let range = match &after {
            Some(k) => objects.range((
                std::ops::Bound::Excluded(k.clone()),
                std::ops::Bound::Unbounded,
            )),
            None => objects.range::<(String, String), _>(..),
        };
        for (k, obj) in range {
            if !filter.matches(&t.rt, obj) {
                continue;
            }
            if limit > 0 && items.len() == limit {
                use base64::Engine;
                let last = serde_json::to_vec(&items_key(&items)).unwrap_or_default();
                next = Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last));
                let _ = k;
                break;
            }
            items.push(obj.clone());
        }
    }
    drop(st);
    let rv = rv.to_string();
    if call.wants("Table") {
        let wire: Vec<Value> = items.iter().map(|o| to_wire(&t.rt, o)).collect();
        return Ok(json_response(
            StatusCode::OK,
            &table::table(&t.rt, &wire, &rv, next.as_deref()),
        ));
    }
    let metadata_only = call.wants("PartialObjectMetadataList");
    let items: Vec<Value> = items
        .iter()
        .map(|o| {
            if metadata_only {
                partial(&t.rt, o)
            } else {
                to_wire(&t.rt, o)
            }
        })
        .collect();
    let mut meta = json!({"resourceVersion": rv});
    if let Some(n) = next {
        meta["continue"] = json!(n);
    }
    let (api_version, kind) = if metadata_only {
        (
            "meta.k8s.io/v1".to_string(),
            "PartialObjectMetadataList".to_string(),
        )
    } else {
        (t.rt.api_version(), format!("{}List", t.rt.kind))
    };
    Ok(json_response(
        StatusCode::OK,
        &json!({"apiVersion": api_version, "kind": kind, "metadata": meta, "items": items}),
    ))
}

fn items_key(items: &[Value]) -> (String, String) {
    let last = items.last().cloned().unwrap_or_default();
    (
        last.pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        last.pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
    )
}

fn watch_line(kind: &str, object: Value) -> Bytes {
    let mut line = json!({"type": kind, "object": object}).to_string();
    line.push('\n');
    Bytes::from(line)
}

fn watch(emu: Arc<Emu>, call: &Call, t: &Target) -> Result<Response, ApiError> {
    let filter = Filter::from(call, t)?;
    let rt = t.rt.clone();
    let metadata_only = call.wants("PartialObjectMetadata");
    let shape = move |rt: &ResourceType, o: &Value| {
        if metadata_only {
            partial(rt, o)
        } else {
            to_wire(rt, o)
        }
    };
    let bookmarks = call.flag("allowWatchBookmarks");
    let send_initial = call.flag("sendInitialEvents");
    let timeout = call
        .q("timeoutSeconds")
        .and_then(|s| s.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(1800));
    let since: Option<u64> = call
        .q("resourceVersion")
        .and_then(|r| r.parse().ok())
        .filter(|r| *r > 0);

    let mut rx = emu.store.subscribe();
    let (initial, mut last_rv) = {
        let st = emu.store.lock();
        let mut initial: Vec<(String, Value)> = Vec::new();
        match since {
            Some(rv) if !send_initial => match st.changes_since(rv) {
                Some(changes) => {
                    for c in changes.iter().filter(|c| c.storage == rt.storage) {
                        if filter.matches(&rt, &c.object) {
                            initial.push((c.kind.to_string(), shape(&rt, &c.object)));
                        }
                    }
                }
                None => {
                    let status = ApiError::gone(format!(
                        "too old resource version: {rv} ({})",
                        st.oldest + 1
                    ))
                    .to_status();
                    let body = watch_line("ERROR", status);
                    return Ok(streaming(futures::stream::iter([Ok::<
                        _,
                        std::convert::Infallible,
                    >(
                        body
                    )])));
                }
            },
            _ => {
                if let Some(objects) = st.objects.get(&rt.storage) {
                    for obj in objects.values().filter(|o| filter.matches(&rt, o)) {
                        initial.push(("ADDED".into(), shape(&rt, obj)));
                    }
                }
            }
        }
        if send_initial {
            let mut mark = json!({"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": {"resourceVersion": st.rv.to_string(), "annotations": {"k8s.io/initial-events-end": "true"}}});
            if metadata_only {
                mark["kind"] = json!("PartialObjectMetadata");
                mark["apiVersion"] = json!("meta.k8s.io/v1");
            }
            initial.push(("BOOKMARK".into(), mark));
        }
        (initial, st.rv)
    };
    let (tx, mut out) = tokio::sync::mpsc::channel::<Bytes>(256);
    let interval = emu.bookmark_interval;
    let delay = emu.watch_delay;
    let emu2 = emu.clone();
    tokio::spawn(async move {
        for (kind, obj) in initial {
            if tx.send(watch_line(&kind, obj)).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(interval);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = ticker.tick(), if bookmarks => {
                    let rv = emu2.store.lock().rv.max(last_rv);
                    let mark = json!({"kind": if metadata_only { "PartialObjectMetadata".to_string() } else { rt.kind.clone() }, "apiVersion": if metadata_only { "meta.k8s.io/v1".to_string() } else { rt.api_version() }, "metadata": {"resourceVersion": rv.to_string()}});
                    if tx.send(watch_line("BOOKMARK", mark)).await.is_err() {
                        return;
                    }
                }
                received = rx.recv() => match received {
                    Ok(change) => {
                        let change: Arc<Change> = change;
                        if change.rv <= last_rv || change.storage != rt.storage {
                            continue;
                        }
                        last_rv = change.rv;
                        if !delay.is_zero() {
                            tokio::time::sleep_until((change.at + delay).into()).await;
                        }
                        if filter.matches(&rt, &change.object)
                            && tx.send(watch_line(change.kind, shape(&rt, &change.object))).await.is_err()
                        {
                            return;
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        let status = ApiError::gone("the watch fell behind; relist".to_string()).to_status();
                        let _ = tx.send(watch_line("ERROR", status)).await;
                        return;
                    }
                    Err(_) => return,
                },
                _ = tx.closed() => return,
            }
        }
    });
    let stream = futures::stream::poll_fn(move |cx| {
        out.poll_recv(cx)
            .map(|o| o.map(Ok::<_, std::convert::Infallible>))
    });
    Ok(streaming(stream))
}

fn streaming(
    stream: impl futures::Stream<Item = Result<Bytes, std::convert::Infallible>> + Send + 'static,
) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

fn parse_body(call: &Call) -> Result<Value, ApiError> {
    if call.body.is_empty() {
        return Err(ApiError::bad_request("the request has no body"));
    }
    serde_json::from_slice(&call.body)
        .or_else(|_| {
            let text = std::str::from_utf8(&call.body).map_err(|e| e.to_string())?;
            serde_saphyr::from_str::<Value>(text).map_err(|e| e.to_string())
        })
        .map_err(|e| {
            ApiError::bad_request(format!("the request body is not valid JSON or YAML: {e}"))
        })
}

/// Context of one write.
struct Write<'a> {
    call: &'a Call,
    verb: &'static str,
}

fn audit(st: &mut Inner, w: &Write, t: &Target, name: &str, code: u16, changed: bool) {
    st.stats.audit.push(AuditEntry {
        time: now(),
        verb: w.verb.to_string(),
        resource: resource_name(&t.rt),
        namespace: t.namespace.clone(),
        name: name.to_string(),
        subresource: t.sub.clone(),
        field_manager: w.call.field_manager(),
        user_agent: w.call.user_agent.clone(),
        code,
        changed,
    });
}

fn invalid(rt: &ResourceType, name: &str, errors: &[exo_admission::FieldError]) -> ApiError {
    let causes: Vec<Value> = errors
        .iter()
        .map(|e| json!({"reason": e.kind.cause_type(), "message": e.to_string().split_once(": ").map(|(_, m)| m.to_string()).unwrap_or_default(), "field": e.field}))
        .collect();
    let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let message = if list.len() == 1 {
        format!("{} \"{name}\" is invalid: {}", rt.qualified_kind(), list[0])
    } else {
        format!(
            "{} \"{name}\" is invalid: [{}]",
            rt.qualified_kind(),
            list.join(", ")
        )
    };
    ApiError::new(422, "Invalid", message).with_details(json!({
        "name": name, "group": rt.group, "kind": rt.kind, "causes": causes
    }))
}

/// Everything of `v` except metadata and status (what bumps `generation`).
fn spec_part(v: &Value) -> Value {
    let mut m = v.as_object().cloned().unwrap_or_default();
    for k in ["metadata", "status", "apiVersion", "kind"] {
        m.remove(k);
    }
    Value::Object(m)
}

fn without_volatile(v: &Value) -> Value {
    let mut c = v.clone();
    if let Some(m) = c.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
        m.remove("managedFields");
    }
    c
}

fn set_managed(
    obj: &mut Value,
    manager: &str,
    operation: &str,
    api_version: &str,
    fields: &BTreeSet<FieldPath>,
    subresource: Option<&str>,
) {
    let entries = obj
        .pointer_mut("/metadata")
        .and_then(Value::as_object_mut)
        .map(|m| m.entry("managedFields").or_insert_with(|| json!([])));
    let Some(Value::Array(entries)) = entries else {
        return;
    };
    entries.retain(|e| {
        !(e.get("manager").and_then(Value::as_str) == Some(manager)
            && e.get("operation").and_then(Value::as_str) == Some(operation)
            && e.get("subresource").and_then(Value::as_str) == subresource)
    });
    let mut entry = json!({
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": now(),
        "fieldsType": "FieldsV1",
        "fieldsV1": patch::fields_v1(fields),
    });
    if let Some(s) = subresource {
        entry["subresource"] = json!(s);
    }
    entries.push(entry);
}

/// Ownership after a non-apply write by `manager` that turned `old` into `next`, as the API
/// server keeps it: fields that no longer exist are owned by nobody, and fields whose value
/// this write changed move to `manager` (other managers lose them). Returns the fields of
/// `touched` that exist, for the writer's own `Update` entry.
fn transfer_ownership(
    next: &mut Value,
    old: &Value,
    manager: &str,
    touched: &BTreeSet<FieldPath>,
) -> BTreeSet<FieldPath> {
    let present = patch::field_set(next);
    let changed: BTreeSet<FieldPath> = present
        .iter()
        .filter(|f| patch::value_at(next, f) != patch::value_at(old, f))
        .cloned()
        .collect();
    if let Some(Value::Array(entries)) = next.pointer_mut("/metadata/managedFields") {
        entries.retain_mut(|e| {
            let mine = e.get("manager").and_then(Value::as_str) == Some(manager)
                && e.get("operation").and_then(Value::as_str) == Some("Update");
            if mine {
                return true;
            }
            let Some(fields) = e.get("fieldsV1").map(patch::from_fields_v1) else {
                return true;
            };
            let kept: BTreeSet<FieldPath> = fields
                .into_iter()
                .filter(|f| present.contains(f) && !changed.contains(f))
                .collect();
            if kept.is_empty() {
                return false;
            }
            e["fieldsV1"] = patch::fields_v1(&kept);
            true
        });
    }
    touched
        .iter()
        .filter(|f| present.contains(*f))
        .cloned()
        .collect()
}

/// Validates, stamps and stores `new` (replacing `old`), emitting watch events and running
/// deletion and garbage collection. Returns the stored object and whether it changed.
fn commit(
    emu: &Emu,
    st: &mut Inner,
    t: &Target,
    old: Option<&Value>,
    mut new: Value,
    w: &Write,
    changes: &mut Vec<Arc<Change>>,
) -> Result<(Value, bool), ApiError> {
    let rt = &t.rt;
    let name = new
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    new["apiVersion"] = json!(rt.api_version());
    new["kind"] = json!(rt.kind);
    if rt.group == "events.k8s.io" || (rt.group.is_empty() && rt.plural == "events") {
        new["apiVersion"] = json!("v1");
    }
    // Server-owned metadata.
    {
        let meta = new
            .as_object_mut()
            .ok_or_else(|| ApiError::bad_request("the object is not a JSON object"))?
            .entry("metadata")
            .or_insert_with(|| json!({}));
        let meta = meta
            .as_object_mut()
            .ok_or_else(|| ApiError::bad_request("metadata is not an object"))?;
        if let Some(ns) = &t.namespace {
            meta.insert("namespace".into(), json!(ns));
        } else {
            meta.remove("namespace");
        }
        match old {
            Some(o) => {
                for k in [
                    "uid",
                    "creationTimestamp",
                    "deletionTimestamp",
                    "deletionGracePeriodSeconds",
                    "generation",
                ] {
                    match o.pointer(&format!("/metadata/{k}")) {
                        Some(v) => meta.insert(k.into(), v.clone()),
                        None => meta.remove(k),
                    };
                }
            }
            None => {
                meta.insert("uid".into(), json!(uid()));
                meta.insert("creationTimestamp".into(), json!(now()));
                for k in [
                    "deletionTimestamp",
                    "deletionGracePeriodSeconds",
                    "resourceVersion",
                ] {
                    meta.remove(k);
                }
                if rt.generation {
                    meta.insert("generation".into(), json!(1));
                }
            }
        }
        if meta
            .get("finalizers")
            .is_some_and(|f| f.as_array().is_some_and(Vec::is_empty))
        {
            meta.remove("finalizers");
        }
    }
    if rt.group.is_empty() && rt.plural == "secrets" {
        normalize_secret(&mut new);
    }
    // Admission of custom resources.
    if let Some(validator) = &rt.validator {
        if w.call.q("fieldValidation") == Some("Strict") {
            let unknown = validator.unknown_fields(&new);
            if !unknown.is_empty() {
                let fields: Vec<String> = unknown
                    .iter()
                    .map(|f| format!("unknown field \"{f}\""))
                    .collect();
                return Err(ApiError::new(
                    400,
                    "BadRequest",
                    format!(
                        "{kind} in version \"{version}\" cannot be handled as a {kind}: strict decoding error: {}",
                        fields.join(", "),
                        kind = rt.kind,
                        version = rt.version,
                    ),
                ));
            }
        }
        let mut checked = validator
            .admit(&new, old)
            .map_err(|errors| invalid(rt, &name, &errors))?;
        if let Some(m) = new.get("metadata") {
            checked["metadata"] = m.clone();
        }
        new = checked;
    }
    if rt.plural == "customresourcedefinitions" {
        check_crd(&new, &name)?;
    }
    if let Some(o) = old {
        if rt.generation && spec_part(o) != spec_part(&new) {
            let g = o
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                + 1;
            new["metadata"]["generation"] = json!(g);
        }
        if without_volatile(o) == without_volatile(&new) {
            return Ok((o.clone(), false));
        }
    }
    if w.call.dry_run() {
        return Ok((new, true));
    }
    let rv = st.next_rv();
    new["metadata"]["resourceVersion"] = json!(rv.to_string());
    let k = key(&t.namespace, &name);
    let deleting = new.pointer("/metadata/deletionTimestamp").is_some()
        && new.pointer("/metadata/finalizers").is_none();
    if deleting {
        st.objects_of(&rt.storage).remove(&k);
        changes.push(st.record(&rt.storage, "DELETED", new.clone(), rv));
        after_delete(emu, st, rt, &new, changes);
        return Ok((new, true));
    }
    st.objects_of(&rt.storage).insert(k, new.clone());
    changes.push(st.record(
        &rt.storage,
        if old.is_some() { "MODIFIED" } else { "ADDED" },
        new.clone(),
        rv,
    ));
    if rt.plural == "customresourcedefinitions"
        && t.sub.is_none()
        && let Some(established) = register_crd(st, &new, changes)
    {
        return Ok((established, true));
    }
    Ok((new, true))
}

/// Folds `stringData` into base64 `data` and defaults the type, as the API server does.
fn normalize_secret(secret: &mut Value) {
    use base64::Engine;
    if let Some(Value::Object(string_data)) =
        secret.as_object_mut().and_then(|m| m.remove("stringData"))
    {
        let data = secret
            .as_object_mut()
            .expect("an object")
            .entry("data")
            .or_insert_with(|| json!({}));
        if let Some(d) = data.as_object_mut() {
            for (k, v) in string_data {
                let text = v
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| v.to_string());
                d.insert(
                    k,
                    json!(base64::engine::general_purpose::STANDARD.encode(text)),
                );
            }
        }
    }
    if secret.get("type").is_none() {
        secret["type"] = json!("Opaque");
    }
}

fn check_crd(crd: &Value, name: &str) -> Result<(), ApiError> {
    let plural = crd
        .pointer("/spec/names/plural")
        .and_then(Value::as_str)
        .unwrap_or("");
    let group = crd
        .pointer("/spec/group")
        .and_then(Value::as_str)
        .unwrap_or("");
    if name != format!("{plural}.{group}") {
        return Err(ApiError::new(
            422,
            "Invalid",
            format!(
                "CustomResourceDefinition.apiextensions.k8s.io \"{name}\" is invalid: metadata.name: Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"
            ),
        ));
    }
    serde_json::from_value::<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>(crd.clone())
        .map(|_| ())
        .map_err(|e| ApiError::new(422, "Invalid", format!("CustomResourceDefinition.apiextensions.k8s.io \"{name}\" is invalid: {e}")))
}

/// Serves the CRD's types and marks it Established; returns the stored CRD.
fn register_crd(
    st: &mut Inner,
    crd_value: &Value,
    changes: &mut Vec<Arc<Change>>,
) -> Option<Value> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let crd: CustomResourceDefinition = serde_json::from_value(crd_value.clone()).ok()?;
    let group = crd.spec.group.clone();
    let plural = crd.spec.names.plural.clone();
    st.types
        .retain(|t| !(t.group == group && t.plural == plural));
    st.types.extend(ResourceType::from_crd(&crd));
    let storage_version = crd
        .spec
        .versions
        .iter()
        .find(|v| v.storage)
        .map(|v| v.name.clone());
    let mut updated = crd_value.clone();
    let t = now();
    updated["status"] = json!({
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": t},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": t},
        ],
        "acceptedNames": crd_value.pointer("/spec/names").cloned().unwrap_or(json!({})),
        "storedVersions": storage_version.into_iter().collect::<Vec<_>>(),
    });
    if crd_value.get("status") == updated.get("status") {
        return None;
    }
    let rv = st.next_rv();
    updated["metadata"]["resourceVersion"] = json!(rv.to_string());
    let name = crd_value
        .pointer("/metadata/name")
        .and_then(Value::as_str)?
        .to_string();
    let storage = "apiextensions.k8s.io/customresourcedefinitions";
    st.objects_of(storage)
        .insert((String::new(), name), updated.clone());
    changes.push(st.record(storage, "MODIFIED", updated.clone(), rv));
    Some(updated)
}

/// What happens after an object is gone: dependents are collected, a CRD's objects and a
/// namespace's objects go with it.
fn after_delete(
    emu: &Emu,
    st: &mut Inner,
    rt: &ResourceType,
    gone: &Value,
    changes: &mut Vec<Arc<Change>>,
) {
    let uid = gone
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if rt.plural == "customresourcedefinitions" {
        let group = gone
            .pointer("/spec/group")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let plural = gone
            .pointer("/spec/names/plural")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        st.types
            .retain(|t| !(t.group == group && t.plural == plural));
        let storage = format!("{group}/{plural}");
        if let Some(objects) = st.objects.remove(&storage) {
            for (_, o) in objects {
                let rv = st.next_rv();
                changes.push(st.record(&storage, "DELETED", o, rv));
            }
        }
    }
    if rt.plural == "namespaces" && rt.group.is_empty() {
        let ns = gone
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let storages: Vec<String> = st.objects.keys().cloned().collect();
        for storage in storages {
            let keys: Vec<(String, String)> = st
                .objects_of(&storage)
                .keys()
                .filter(|(n, _)| *n == ns)
                .cloned()
                .collect();
            for k in keys {
                if let Some(o) = st.objects_of(&storage).remove(&k) {
                    let rv = st.next_rv();
                    changes.push(st.record(&storage, "DELETED", o, rv));
                }
            }
        }
    }
    // Garbage collection: dependents whose owners are all gone.
    let mut dependents = Vec::new();
    for (storage, objects) in &st.objects {
        for (k, o) in objects {
            let owners = o
                .pointer("/metadata/ownerReferences")
                .and_then(Value::as_array);
            if owners.is_some_and(|refs| {
                refs.iter()
                    .any(|r| r.get("uid").and_then(Value::as_str) == Some(uid.as_str()))
            }) {
                dependents.push((storage.clone(), k.clone()));
            }
        }
    }
    for (storage, k) in dependents {
        let Some(mut o) = st.objects_of(&storage).get(&k).cloned() else {
            continue;
        };
        if let Some(refs) = o
            .pointer_mut("/metadata/ownerReferences")
            .and_then(Value::as_array_mut)
        {
            refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(uid.as_str()));
            if !refs.is_empty() {
                // Other owners remain: keep the object, without the dangling reference.
                let rv = st.next_rv();
                o["metadata"]["resourceVersion"] = json!(rv.to_string());
                st.objects_of(&storage).insert(k, o.clone());
                changes.push(st.record(&storage, "MODIFIED", o, rv));
                continue;
            }
        }
        let dependent_type = st.types.iter().find(|t| t.storage == storage).cloned();
        let Some(dt) = dependent_type else { continue };
        delete_stored(emu, st, &dt, &k, changes);
    }
}

/// Deletes a stored object: marks it when it has finalizers, removes it otherwise.
fn delete_stored(
    emu: &Emu,
    st: &mut Inner,
    rt: &ResourceType,
    k: &(String, String),
    changes: &mut Vec<Arc<Change>>,
) -> Option<Value> {
    let mut obj = st.objects_of(&rt.storage).get(k).cloned()?;
    let has_finalizers = obj
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty());
    let rv = st.next_rv();
    obj["metadata"]["resourceVersion"] = json!(rv.to_string());
    if has_finalizers {
        if obj.pointer("/metadata/deletionTimestamp").is_none() {
            obj["metadata"]["deletionTimestamp"] = json!(now());
            obj["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            st.objects_of(&rt.storage).insert(k.clone(), obj.clone());
            changes.push(st.record(&rt.storage, "MODIFIED", obj.clone(), rv));
        }
        return Some(obj);
    }
    st.objects_of(&rt.storage).remove(k);
    changes.push(st.record(&rt.storage, "DELETED", obj.clone(), rv));
    after_delete(emu, st, rt, &obj, changes);
    Some(obj)
}

fn check_namespace(st: &Inner, t: &Target) -> Result<(), ApiError> {
    if let Some(ns) = &t.namespace
        && !st
            .objects
            .get("/namespaces")
            .is_some_and(|m| m.contains_key(&(String::new(), ns.clone())))
    {
        return Err(ApiError::not_found("namespaces", ns));
    }
    Ok(())
}

fn create(emu: &Emu, call: &Call, t: &Target) -> Result<Response, ApiError> {
    if t.sub.is_some() {
        return Err(ApiError::method_not_allowed());
    }
    let mut body = parse_body(call)?;
    if t.rt.group == "events.k8s.io" {
        body = events::to_core(&body);
    }
    if let Some(ns) = body.pointer("/metadata/namespace").and_then(Value::as_str)
        && t.namespace.as_deref().is_some_and(|n| n != ns)
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    let meta = body
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("the object is not a JSON object"))?
        .entry("metadata")
        .or_insert_with(|| json!({}));
    let name = match meta.get("name").and_then(Value::as_str) {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => match meta.get("generateName").and_then(Value::as_str) {
            Some(prefix) => {
                let n = format!("{prefix}{}", random_suffix());
                meta["name"] = json!(n);
                n
            }
            None => {
                return Err(ApiError::new(
                    422,
                    "Invalid",
                    format!(
                        "{} \"\" is invalid: metadata.name: Required value: name or generateName is required",
                        t.rt.qualified_kind()
                    ),
                ));
            }
        },
    };
    // Status is set through the status subresource only.
    if t.rt.status_subresource
        && t.rt.validator.is_some()
        && let Some(m) = body.as_object_mut()
    {
        m.remove("status");
    }
    let w = Write {
        call,
        verb: "create",
    };
    let mut changes = Vec::new();
    let result = {
        let mut st = emu.store.lock();
        let outcome = (|| {
            check_namespace(&st, t)?;
            // kube-apiserver's storage refuses this before it looks for the name, as an
            // internal error without a reason.
            if body
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .is_some_and(|rv| !rv.is_empty())
            {
                return Err(ApiError::new(
                    500,
                    "",
                    "resourceVersion should not be set on objects to be created".into(),
                ));
            }
            if st
                .objects
                .get(&t.rt.storage)
                .is_some_and(|m| m.contains_key(&key(&t.namespace, &name)))
            {
                return Err(ApiError::already_exists(&t.rt.qualified(), &name));
            }
            let fields = patch::field_set(&body);
            set_managed(
                &mut body,
                &call.manager(),
                "Update",
                &t.rt.api_version(),
                &fields,
                None,
            );
            commit(emu, &mut st, t, None, body, &w, &mut changes)
        })();
        let code = if outcome.is_ok() {
            201
        } else {
            outcome.as_ref().err().map(|e| e.code).unwrap_or(500)
        };
        audit(
            &mut st,
            &w,
            t,
            &name,
            code,
            outcome.as_ref().is_ok_and(|(_, c)| *c),
        );
        outcome
    };
    emu.store.publish(changes);
    let (obj, _) = result?;
    Ok(json_response(StatusCode::CREATED, &to_wire(&t.rt, &obj)))
}

/// Builds the new state for a write to `t` from the requested object.
fn next_state(t: &Target, old: &Value, mut requested: Value) -> Value {
    if t.rt.status_subresource {
        match t.sub.as_deref() {
            Some("status") => {
                let mut next = old.clone();
                match requested.get("status") {
                    Some(s) => next["status"] = s.clone(),
                    None => {
                        if let Some(m) = next.as_object_mut() {
                            m.remove("status");
                        }
                    }
                }
                return next;
            }
            _ => match old.get("status") {
                Some(s) => requested["status"] = s.clone(),
                None => {
                    if let Some(m) = requested.as_object_mut() {
                        m.remove("status");
                    }
                }
            },
        }
    }
    requested
}

fn update(emu: &Emu, call: &Call, t: &Target) -> Result<Response, ApiError> {
    let mut body = parse_body(call)?;
    if t.rt.group == "events.k8s.io" {
        body = events::to_core(&body);
    }
    let name = t.name.clone().unwrap_or_default();
    if body
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .is_some_and(|n| n != name)
    {
        return Err(ApiError::bad_request(
            "the name of the object does not match the name on the URL",
        ));
    }
    let w = Write {
        call,
        verb: "update",
    };
    let mut changes = Vec::new();
    let result = {
        let mut st = emu.store.lock();
        let outcome = (|| {
            let old = st
                .objects
                .get(&t.rt.storage)
                .and_then(|m| m.get(&key(&t.namespace, &name)))
                .cloned()
                .ok_or_else(|| ApiError::not_found(&t.rt.qualified(), &name))?;
            if let Some(rv) = body
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                && old
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    != Some(rv)
            {
                return Err(ApiError::conflict(&t.rt.qualified(), &name));
            }
            let fields = patch::field_set(&body);
            let mut next = next_state(t, &old, body.clone());
            if t.sub.is_some() {
                next["metadata"] = old["metadata"].clone();
            } else if let Some(m) = old.pointer("/metadata/managedFields") {
                next["metadata"]["managedFields"] = m.clone();
            }
            let fields = transfer_ownership(&mut next, &old, &call.manager(), &fields);
            set_managed(
                &mut next,
                &call.manager(),
                "Update",
                &t.rt.api_version(),
                &fields,
                t.sub.as_deref(),
            );
            commit(emu, &mut st, t, Some(&old), next, &w, &mut changes)
        })();
        let code = outcome.as_ref().map(|_| 200).unwrap_or_else(|e| e.code);
        audit(
            &mut st,
            &w,
            t,
            &name,
            code,
            outcome.as_ref().is_ok_and(|(_, c)| *c),
        );
        outcome
    };
    emu.store.publish(changes);
    let (obj, _) = result?;
    Ok(json_response(StatusCode::OK, &to_wire(&t.rt, &obj)))
}

fn patch_object(emu: &Emu, call: &Call, t: &Target) -> Result<Response, ApiError> {
    let content_type = call
        .content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    let apply = content_type == "application/apply-patch+yaml";
    if !matches!(
        content_type.as_str(),
        "application/merge-patch+json"
            | "application/json-patch+json"
            | "application/strategic-merge-patch+json"
            | "application/apply-patch+yaml"
    ) {
        return Err(ApiError::unsupported_media_type(&content_type));
    }
    if content_type == "application/strategic-merge-patch+json" && t.rt.validator.is_some() {
        return Err(ApiError::unsupported_media_type(&content_type));
    }
    if apply && call.field_manager().is_none() {
        return Err(ApiError::bad_request(
            "PATCH with application/apply-patch+yaml requires fieldManager",
        ));
    }
    let mut body = parse_body(call)?;
    if t.rt.group == "events.k8s.io" && content_type != "application/json-patch+json" {
        body = events::patch_to_core(&body);
    }
    let name = t.name.clone().unwrap_or_default();
    let w = Write {
        call,
        verb: "patch",
    };
    let mut changes = Vec::new();
    let mut created = false;
    let result = {
        let mut st = emu.store.lock();
        let outcome = (|| {
            let existing = st
                .objects
                .get(&t.rt.storage)
                .and_then(|m| m.get(&key(&t.namespace, &name)))
                .cloned();
            if apply {
                check_namespace(&st, t)?;
                let (next, is_new) = server_side_apply(t, existing.as_ref(), body.clone(), call)?;
                created = is_new;
                return commit(emu, &mut st, t, existing.as_ref(), next, &w, &mut changes);
            }
            let old = existing.ok_or_else(|| ApiError::not_found(&t.rt.qualified(), &name))?;
            let mut patched = old.clone();
            match content_type.as_str() {
                "application/json-patch+json" => {
                    patch::json_patch(&mut patched, &body).map_err(|e| {
                        ApiError::new(
                            422,
                            "Invalid",
                            format!("the JSON patch could not be applied: {e}"),
                        )
                    })?
                }
                "application/strategic-merge-patch+json" => {
                    patch::strategic_merge(&mut patched, &body)
                }
                _ => patch::merge(&mut patched, &body),
            }
            if let Some(rv) = body
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                && old
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    != Some(rv)
            {
                return Err(ApiError::conflict(&t.rt.qualified(), &name));
            }
            let fields = patch::field_set(&body);
            let mut next = next_state(t, &old, patched);
            if t.sub.is_some() {
                next["metadata"] = old["metadata"].clone();
            }
            let fields = transfer_ownership(&mut next, &old, &call.manager(), &fields);
            set_managed(
                &mut next,
                &call.manager(),
                "Update",
                &t.rt.api_version(),
                &fields,
                t.sub.as_deref(),
            );
            commit(emu, &mut st, t, Some(&old), next, &w, &mut changes)
        })();
        let code = outcome
            .as_ref()
            .map(|_| if created { 201 } else { 200 })
            .unwrap_or_else(|e| e.code);
        audit(
            &mut st,
            &w,
            t,
            &name,
            code,
            outcome.as_ref().is_ok_and(|(_, c)| *c),
        );
        outcome
    };
    emu.store.publish(changes);
    let (obj, _) = result?;
    let code = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_response(code, &to_wire(&t.rt, &obj)))
}

/// Server-side apply: merges the applied configuration, detects conflicts with other
/// managers, and removes fields this manager no longer applies. Returns the new object and
/// whether it is created.
fn server_side_apply(
    t: &Target,
    existing: Option<&Value>,
    applied: Value,
    call: &Call,
) -> Result<(Value, bool), ApiError> {
    let manager = call.manager();
    let force = call.flag("force");
    let name = t.name.clone().unwrap_or_default();
    let applied_fields = patch::field_set(&applied);
    let Some(old) = existing else {
        let mut obj = applied;
        obj["metadata"]["name"] = json!(name);
        if t.rt.status_subresource
            && t.rt.validator.is_some()
            && t.sub.is_none()
            && let Some(m) = obj.as_object_mut()
        {
            m.remove("status");
        }
        set_managed(
            &mut obj,
            &manager,
            "Apply",
            &t.rt.api_version(),
            &applied_fields,
            t.sub.as_deref(),
        );
        return Ok((obj, true));
    };
    // A resourceVersion in the apply configuration is a precondition, as for an update.
    if let Some(rv) = applied
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        && old
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            != Some(rv)
    {
        return Err(ApiError::conflict(&t.rt.qualified(), &name));
    }
    let mut managed: Vec<Value> = old
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut conflicts = Vec::new();
    for entry in &managed {
        let other = entry.get("manager").and_then(Value::as_str).unwrap_or("");
        if other == manager {
            continue;
        }
        let theirs = entry
            .get("fieldsV1")
            .map(patch::from_fields_v1)
            .unwrap_or_default();
        for path in applied_fields.intersection(&theirs) {
            if patch::value_at(old, path) != patch::value_at(&applied, path) {
                conflicts.push((other.to_string(), path.clone()));
            }
        }
    }
    if !conflicts.is_empty() && !force {
        let causes: Vec<Value> = conflicts
            .iter()
            .map(|(m, p)| json!({"reason": "FieldManagerConflict", "message": format!("conflict with \"{m}\""), "field": format!(".{}", p.join("."))}))
            .collect();
        let listed: Vec<String> = conflicts
            .iter()
            .map(|(m, p)| format!("conflict with \"{m}\": .{}", p.join(".")))
            .collect();
        return Err(ApiError::new(
            409,
            "Conflict",
            format!(
                "Apply failed with {} conflict{}: {}",
                conflicts.len(),
                if conflicts.len() == 1 { "" } else { "s" },
                listed.join("\n")
            ),
        )
        .with_details(
            json!({"name": name, "group": t.rt.group, "kind": t.rt.kind, "causes": causes}),
        ));
    }
    // Forced: the others lose the fields taken over.
    for entry in managed.iter_mut() {
        if entry.get("manager").and_then(Value::as_str) == Some(manager.as_str()) {
            continue;
        }
        let mut theirs = entry
            .get("fieldsV1")
            .map(patch::from_fields_v1)
            .unwrap_or_default();
        theirs.retain(|p| !conflicts.iter().any(|(_, c)| c == p));
        entry["fieldsV1"] = patch::fields_v1(&theirs);
    }
    // A manager left with no field is no manager.
    managed.retain(|e| {
        e.get("fieldsV1")
            .is_some_and(|f| f.as_object().is_none_or(|m| !m.is_empty()))
    });
    let previous: BTreeSet<FieldPath> = managed
        .iter()
        .filter(|e| {
            e.get("manager").and_then(Value::as_str) == Some(manager.as_str())
                && e.get("operation").and_then(Value::as_str) == Some("Apply")
        })
        .filter_map(|e| e.get("fieldsV1").map(patch::from_fields_v1))
        .flatten()
        .collect();
    let others: BTreeSet<FieldPath> = managed
        .iter()
        .filter(|e| e.get("manager").and_then(Value::as_str) != Some(manager.as_str()))
        .filter_map(|e| e.get("fieldsV1").map(patch::from_fields_v1))
        .flatten()
        .collect();
    let mut next = old.clone();
    let mut overlay = applied.clone();
    strip_nulls(&mut overlay);
    patch::merge(&mut next, &overlay);
    for path in previous.difference(&applied_fields) {
        if !others.contains(path) {
            patch::remove_field(&mut next, path);
        }
    }
    // The subresource's part is taken first (a status apply keeps the stored metadata), then
    // the ownership this apply leaves is recorded on what is stored.
    let mut next = next_state(t, old, next);
    next["metadata"]["managedFields"] = Value::Array(managed);
    set_managed(
        &mut next,
        &manager,
        "Apply",
        &t.rt.api_version(),
        &applied_fields,
        t.sub.as_deref(),
    );
    Ok((next, false))
}

fn strip_nulls(v: &mut Value) {
    if let Value::Object(m) = v {
        m.retain(|_, x| !x.is_null());
        m.values_mut().for_each(strip_nulls);
    }
}

fn delete(emu: &Emu, call: &Call, t: &Target) -> Result<Response, ApiError> {
    let name = t.name.clone().unwrap_or_default();
    let w = Write {
        call,
        verb: "delete",
    };
    let mut changes = Vec::new();
    let result = {
        let mut st = emu.store.lock();
        let found = if call.dry_run() {
            st.objects
                .get(&t.rt.storage)
                .and_then(|m| m.get(&key(&t.namespace, &name)))
                .cloned()
        } else {
            delete_stored(emu, &mut st, &t.rt, &key(&t.namespace, &name), &mut changes)
        };
        let outcome = found.ok_or_else(|| ApiError::not_found(&t.rt.qualified(), &name));
        let code = outcome.as_ref().map(|_| 200).unwrap_or_else(|e| e.code);
        audit(&mut st, &w, t, &name, code, outcome.is_ok());
        outcome
    };
    emu.store.publish(changes);
    let obj = result?;
    Ok(json_response(StatusCode::OK, &to_wire(&t.rt, &obj)))
}

fn delete_collection(emu: &Emu, call: &Call, t: &Target) -> Result<Response, ApiError> {
    let filter = Filter::from(call, t)?;
    let w = Write {
        call,
        verb: "delete",
    };
    let mut changes = Vec::new();
    {
        let mut st = emu.store.lock();
        let keys: Vec<(String, String)> = st
            .objects
            .get(&t.rt.storage)
            .map(|m| {
                m.iter()
                    .filter(|(_, o)| filter.matches(&t.rt, o))
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default();
        for k in keys {
            delete_stored(emu, &mut st, &t.rt, &k, &mut changes);
            audit(&mut st, &w, t, &k.1, 200, true);
        }
    }
    emu.store.publish(changes);
    Ok(json_response(
        StatusCode::OK,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}),
    ))
}

/// Seeds the namespaces every cluster has.
pub fn seed(store: &Store) {
    let mut st = store.lock();
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let rv = st.next_rv();
        let obj = json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": ns, "uid": uid(), "creationTimestamp": now(), "resourceVersion": rv.to_string(), "labels": {"kubernetes.io/metadata.name": ns}},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        });
        st.objects_of("/namespaces")
            .insert((String::new(), ns.to_string()), obj.clone());
        st.record("/namespaces", "ADDED", obj, rv);
    }
}
