//! Fault injection on the protocol's routes (`/v1/...`) and on the notification URL
//! (`POST /graph/notifications`), never on `/_sim`: an error status (with `Retry-After`) for
//! the next N requests or for a while, latency, and "lost acknowledgements" (`afterApply`:
//! the request is carried out, then answered with the error). A fault without `path` applies
//! to the `/v1` routes only; the notification URL fails only for a fault whose `path` matches
//! `POST /graph/notifications`, so that a test of the stream does not also fail Graph's
//! notifications by accident.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use crate::problem::Problem;
use crate::service::Shared;

/// Most faults active at once.
pub const MAX_FAULTS: usize = 32;
/// Longest latency, milliseconds.
pub const MAX_LATENCY_MS: u64 = 60_000;
/// Longest duration of a fault, milliseconds.
pub const MAX_DURATION_MS: u64 = 86_400_000;
/// Longest `Retry-After`, seconds.
pub const MAX_RETRY_AFTER: u64 = 3600;
/// The keys a fault request may hold.
pub const KEYS: [&str; 7] = [
    "status",
    "retryAfter",
    "latencyMs",
    "count",
    "durationMs",
    "path",
    "afterApply",
];

/// One fault as asked for (`POST /_sim/faults`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultSpec {
    /// Status to answer (400-599).
    pub status: Option<u16>,
    /// `Retry-After` seconds with the status.
    pub retry_after: Option<u64>,
    /// Latency added before anything else, milliseconds.
    pub latency_ms: Option<u64>,
    /// The next `count` matching requests only.
    pub count: Option<u64>,
    /// For this long from now only, milliseconds.
    pub duration_ms: Option<u64>,
    /// Regular expression on `METHOD /path` (every `/v1` request when absent; the notification
    /// URL only when it matches `POST /graph/notifications`).
    pub path: Option<String>,
    /// Carry the request out, then answer the status (the acknowledgement is lost).
    pub after_apply: bool,
}

impl FaultSpec {
    /// Reads a fault request: an object of [`KEYS`] only (any other key is refused, named),
    /// within the bounds.
    pub fn parse(body: &Value) -> Result<FaultSpec, String> {
        let object = body.as_object().ok_or("a fault is a JSON object")?;
        if let Some(key) = object.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(format!("unknown key `{key}` (known: {})", KEYS.join(", ")));
        }
        let number = |key: &str, max: u64| -> Result<Option<u64>, String> {
            match object.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => match v.as_u64() {
                    Some(n) if n <= max => Ok(Some(n)),
                    _ => Err(format!("`{key}` must be a whole number from 0 to {max}")),
                },
            }
        };
        let spec = FaultSpec {
            status: number("status", 599)?.map(|s| s as u16),
            retry_after: number("retryAfter", MAX_RETRY_AFTER)?,
            latency_ms: number("latencyMs", MAX_LATENCY_MS)?,
            count: number("count", 1_000_000)?,
            duration_ms: number("durationMs", MAX_DURATION_MS)?,
            path: match object.get("path") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if s.len() <= 256 => Some(s.clone()),
                Some(_) => {
                    return Err(
                        "`path` must be a regular expression of at most 256 characters".into(),
                    );
                }
            },
            after_apply: match object.get("afterApply") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => return Err("`afterApply` must be true or false".into()),
            },
        };
        if let Some(status) = spec.status
            && !(400..=599).contains(&status)
        {
            return Err("`status` must be from 400 to 599".into());
        }
        if spec.status.is_none() && spec.latency_ms.is_none() {
            return Err("a fault needs `status` or `latencyMs`".into());
        }
        if spec.status.is_none() && (spec.retry_after.is_some() || spec.after_apply) {
            return Err("`retryAfter` and `afterApply` go with `status`".into());
        }
        if spec.count == Some(0) {
            return Err("`count` must be at least 1".into());
        }
        Ok(spec)
    }
}

/// A fault in force.
#[derive(Debug)]
struct Active {
    spec: FaultSpec,
    matcher: Option<regex::Regex>,
    remaining: Option<u64>,
    until: Option<Instant>,
}

/// The faults in force, first added first matched.
#[derive(Debug, Default)]
pub struct Faults {
    active: Vec<Active>,
}

impl Faults {
    /// Adds a fault (at most [`MAX_FAULTS`]).
    pub fn add(&mut self, spec: FaultSpec, now: Instant) -> Result<(), String> {
        if self.active.len() >= MAX_FAULTS {
            return Err(format!("at most {MAX_FAULTS} faults are active at once"));
        }
        let matcher = match &spec.path {
            Some(p) => Some(
                regex::RegexBuilder::new(p)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|_| "`path` is not a regular expression".to_string())?,
            ),
            None => None,
        };
        self.active.push(Active {
            remaining: spec.count,
            until: spec.duration_ms.map(|ms| now + Duration::from_millis(ms)),
            spec,
            matcher,
        });
        Ok(())
    }

    /// Removes every fault.
    pub fn clear(&mut self) {
        self.active.clear();
    }

    /// The faults in force (expired ones dropped), with what is left of each.
    pub fn list(&mut self, now: Instant) -> Vec<Value> {
        self.prune(now);
        self.active
            .iter()
            .map(|a| {
                let mut v = serde_json::to_value(&a.spec).unwrap_or_default();
                v["remaining"] = a.remaining.into();
                v["remainingMs"] = a
                    .until
                    .map(|u| u.saturating_duration_since(now).as_millis() as u64)
                    .into();
                v
            })
            .collect()
    }

    /// The first fault in force matching `key` (`METHOD /path`), one of its uses taken. With
    /// `explicit`, only a fault whose `path` matches counts (one without `path` does not).
    pub fn take(&mut self, key: &str, explicit: bool, now: Instant) -> Option<FaultSpec> {
        self.prune(now);
        let fault = self.active.iter_mut().find(|a| match &a.matcher {
            Some(m) => m.is_match(key),
            None => !explicit,
        })?;
        if let Some(r) = fault.remaining.as_mut() {
            *r -= 1;
        }
        let spec = fault.spec.clone();
        self.prune(now);
        Some(spec)
    }

    fn prune(&mut self, now: Instant) {
        self.active
            .retain(|a| a.remaining != Some(0) && a.until.is_none_or(|u| now < u));
    }
}

/// Middleware on the protocol's routes: counts the request, then applies the first fault in
/// force that matches it.
pub async fn inject(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    shared.count(|c| c.requests += 1);
    apply(&shared, request, next, false).await
}

/// Middleware on the notification URL: counts the request, then applies the first fault in
/// force whose `path` matches it.
pub async fn inject_notifications(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    shared.count(|c| c.notifications.requests += 1);
    apply(&shared, request, next, true).await
}

/// Applies the first fault in force that matches the request (`explicit`: by its `path`).
async fn apply(shared: &Shared, request: Request, next: Next, explicit: bool) -> Response {
    let key = format!("{} {}", request.method(), request.uri().path());
    let fault = shared
        .faults
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take(&key, explicit, Instant::now());
    let Some(fault) = fault else {
        return next.run(request).await;
    };
    if let Some(ms) = fault.latency_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let Some(status) = fault.status else {
        return next.run(request).await;
    };
    if fault.after_apply {
        let _ = next.run(request).await;
    }
    shared.count(|c| c.faults_injected += 1);
    injected(status, fault.retry_after).into_response()
}

/// The answer of an injected status.
fn injected(status: u16, retry_after: Option<u64>) -> Problem {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let problem = match status {
        429 => Problem::new(
            code,
            "throttled",
            "Too many requests",
            "slow down and retry after the delay given",
        ),
        503 => Problem::unavailable("the service is unavailable; retry after the delay given"),
        _ => Problem::new(
            code,
            "injected",
            "Injected fault",
            "a fault injected by the simulator",
        ),
    };
    problem.retry_after(retry_after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fault_requests_as_a_table() {
        let cases = [
            (json!({"status": 503, "retryAfter": 2, "count": 1}), Ok(())),
            (json!({"latencyMs": 100}), Ok(())),
            (
                json!({"status": 429, "durationMs": 500, "path": "POST .*/deliveries"}),
                Ok(()),
            ),
            (json!({"status": 503, "afterApply": true}), Ok(())),
            (
                json!({"status": 503, "retry_after": 2}),
                Err("unknown key `retry_after`"),
            ),
            (
                json!({"status": 200}),
                Err("`status` must be from 400 to 599"),
            ),
            (
                json!({"status": 700}),
                Err("`status` must be a whole number"),
            ),
            (
                json!({"count": 1}),
                Err("a fault needs `status` or `latencyMs`"),
            ),
            (
                json!({"latencyMs": 1, "retryAfter": 1}),
                Err("go with `status`"),
            ),
            (json!({"status": 500, "count": 0}), Err("at least 1")),
            (json!({"latencyMs": 600_000}), Err("`latencyMs` must be")),
            (json!([1]), Err("a JSON object")),
        ];
        for (body, expected) in cases {
            match (FaultSpec::parse(&body), expected) {
                (Ok(_), Ok(())) => {}
                (Err(e), Err(part)) => assert!(e.contains(part), "{body}: {e}"),
                (got, _) => panic!("{body}: {got:?}"),
            }
        }
    }

    #[test]
    fn counted_timed_and_matched() {
        let now = Instant::now();
        let mut faults = Faults::default();
        let spec = |v| FaultSpec::parse(&v).unwrap();
        faults
            .add(
                spec(json!({"status": 500, "count": 2, "path": "^POST "})),
                now,
            )
            .unwrap();
        faults
            .add(spec(json!({"status": 503, "durationMs": 1000})), now)
            .unwrap();
        assert_eq!(
            faults.take("GET /v1/health", false, now).unwrap().status,
            Some(503)
        );
        // Only a fault with a matching `path` reaches the notification URL.
        assert!(faults.take("GET /graph/notifications", true, now).is_none());
        assert_eq!(
            faults.take("POST /v1/x", false, now).unwrap().status,
            Some(500)
        );
        assert_eq!(
            faults
                .take("POST /graph/notifications", true, now)
                .unwrap()
                .status,
            Some(500)
        );
        assert_eq!(
            faults.take("POST /v1/x", false, now).unwrap().status,
            Some(503)
        );
        let later = now + Duration::from_millis(1001);
        assert!(faults.take("POST /v1/x", false, later).is_none());
        assert!(faults.list(later).is_empty());
        assert!(
            faults
                .add(spec(json!({"status": 500, "path": "("})), now)
                .is_err()
        );
        for _ in 0..MAX_FAULTS {
            faults.add(spec(json!({"latencyMs": 1})), now).unwrap();
        }
        assert!(faults.add(spec(json!({"latencyMs": 1})), now).is_err());
    }
}
