//! Graph mail subscriptions from the tests' side: the service's knobs, every subscription of a
//! tenant with everything the world knows, a message arriving in (or sent from) a mailbox,
//! which notifies the subscriptions watching it, and lifecycle events on demand.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Reply, Route, done, not_found, refuse};
use crate::Sim;
use crate::graph::subscriptions::{counters, delivery, has_mail_permission, model};
use crate::state::{MailFolder, SubscriptionSettings};
use exo_sim_http::ids::opaque_token;

/// What `PUT /_sim/subscriptions/settings` may change; absent knobs keep their value, any other
/// key is refused.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SettingsChange {
    max_expiration_minutes: Option<i64>,
    page_size: Option<usize>,
    #[serde(rename = "writesPer20s")]
    writes_per_20s: Option<usize>,
    #[serde(rename = "requestsPer20s")]
    requests_per_20s: Option<usize>,
    #[serde(rename = "tenantWritesPer20s")]
    tenant_writes_per_20s: Option<usize>,
    #[serde(rename = "tenantRequestsPer20s")]
    tenant_requests_per_20s: Option<usize>,
    per_mailbox_limit: Option<usize>,
    notification_retry_horizon_seconds: Option<u64>,
}

impl SettingsChange {
    /// The settings with this change applied.
    fn apply(self, mut s: SubscriptionSettings) -> SubscriptionSettings {
        let keep = |new: Option<usize>, old: usize| new.unwrap_or(old);
        s.max_expiration_minutes = self
            .max_expiration_minutes
            .unwrap_or(s.max_expiration_minutes);
        s.page_size = keep(self.page_size, s.page_size);
        s.writes_per_20s = keep(self.writes_per_20s, s.writes_per_20s);
        s.requests_per_20s = keep(self.requests_per_20s, s.requests_per_20s);
        s.tenant_writes_per_20s = keep(self.tenant_writes_per_20s, s.tenant_writes_per_20s);
        s.tenant_requests_per_20s = keep(self.tenant_requests_per_20s, s.tenant_requests_per_20s);
        s.per_mailbox_limit = keep(self.per_mailbox_limit, s.per_mailbox_limit);
        s.notification_retry_horizon_seconds = self
            .notification_retry_horizon_seconds
            .unwrap_or(s.notification_retry_horizon_seconds);
        s
    }
}

/// A JSON body of type `T`, or 400 saying what is wrong with it (an unknown key by name).
fn body<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, Response> {
    let text = if text.trim().is_empty() { "{}" } else { text };
    serde_json::from_str(text).map_err(|e| refuse(StatusCode::BAD_REQUEST, &e.to_string()))
}

/// `GET /_sim/subscriptions/settings`: the knobs.
pub(super) async fn settings(State(sim): State<Arc<Sim>>) -> Reply {
    done(json!(sim.world.lock().unwrap().subscription_settings))
}

/// `PUT /_sim/subscriptions/settings`: sets the knobs given (400 for an unknown one, a page
/// size or a maximum lifetime under 1); answers all of them.
pub(super) async fn set_settings(State(sim): State<Arc<Sim>>, text: String) -> Reply {
    let change: SettingsChange = body(&text)?;
    if change.page_size == Some(0) || change.max_expiration_minutes.is_some_and(|m| m < 1) {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "pageSize and maxExpirationMinutes must be at least 1",
        ));
    }
    let mut w = sim.world.lock().unwrap();
    w.subscription_settings = change.apply(w.subscription_settings.clone());
    done(json!(w.subscription_settings))
}

/// `GET /_sim/tenants/{tenant}/subscriptions`: every live subscription of the tenant, all apps,
/// with `clientState`, `state`, `tenantId`, `userId` and `folder`.
pub(super) async fn list(route: Route) -> Reply {
    let mut held = route.tenant()?;
    let tenant_id = held.tenant().id.clone();
    held.world.sweep_subscriptions();
    let all: Vec<Value> = held
        .world
        .mail_subscriptions
        .of_tenant(&tenant_id)
        .into_iter()
        .map(model::control_view)
        .collect();
    done(json!({"value": all}))
}

/// The body of `POST /_sim/tenants/{tenant}/users/{upn}/messages`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewMessage {
    /// `inbox` (default: the message arrives) or `sentitems` (the user sent it).
    folder: Option<String>,
    /// The subject (not part of any notification).
    #[allow(dead_code)]
    subject: Option<String>,
}

/// One notification to send: the subscription, where, and the body.
struct Pending {
    id: String,
    url: String,
    body: Value,
}

/// `POST /_sim/tenants/{tenant}/users/{upn-or-id}/messages` `{"folder", "subject"}`: a message
/// arrives in the mailbox (or is sent from it). Every live subscription watching that folder
/// (or all the mailbox's messages) with `created` in its `changeType` gets one `created`
/// notification, tried once now (retried in the background if it fails); a subscription
/// awaiting reauthorization, or whose app lost the mail permission, is `paused` (dropped).
/// Answers `{"messageId", "notifications": [{"subscriptionId", "status"}]}`.
pub(super) async fn message(route: Route, text: String) -> Reply {
    let m: NewMessage = body(&text)?;
    let folder = match m.folder.as_deref() {
        None => MailFolder::Inbox,
        Some(f) => MailFolder::parse(f)
            .ok_or_else(|| refuse(StatusCode::BAD_REQUEST, "folder must be inbox or sentitems"))?,
    };
    let message_id = format!("AAMkAD{}=", opaque_token(48).expect("system randomness"));
    let etag = format!(
        "W/\"CQAAABYAAAD{}\"",
        opaque_token(12).expect("system randomness")
    );
    let mut statuses: Vec<(String, &'static str)> = Vec::new();
    let pending: Vec<Pending> = {
        let mut held = route.tenant()?;
        let tenant_id = held.tenant().id.clone();
        let user = held
            .tenant()
            .find_user(route.param("upn"))
            .filter(|u| u.has_mailbox())
            .ok_or_else(|| not_found("mailbox"))?;
        let w = &mut held.world;
        w.sweep_subscriptions();
        let mut pending = Vec::new();
        let mut paused = 0;
        for s in w
            .mail_subscriptions
            .of_mailbox(&tenant_id, &user.id)
            .filter(|s| s.watches(&user.id, folder) && s.notifies("created"))
        {
            if s.reauthorization_required || !has_mail_permission(w, &tenant_id, &s.app_id) {
                statuses.push((s.id.clone(), "paused"));
                paused += 1;
                continue;
            }
            pending.push(Pending {
                id: s.id.clone(),
                url: s.notification_url.clone(),
                body: model::created_notification(s, &user.id, &message_id, &etag),
            });
        }
        w.count(counters::NOTIFICATIONS_DROPPED, paused);
        pending
    };
    let sim = &route.sim;
    let sends = pending
        .iter()
        .map(|p| delivery::notify(sim, &p.id, &p.url, p.body.clone()));
    let results = futures::future::join_all(sends).await;
    for (p, delivered) in pending.iter().zip(results) {
        statuses.push((p.id.clone(), if delivered { "delivered" } else { "failed" }));
    }
    let notifications: Vec<Value> = statuses
        .into_iter()
        .map(|(id, status)| json!({"subscriptionId": id, "status": status}))
        .collect();
    done(json!({"messageId": message_id, "notifications": notifications}))
}

/// The body of `POST /_sim/tenants/{tenant}/subscriptions/{id}/lifecycle`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Lifecycle {
    lifecycle_event: String,
}

/// `POST /_sim/tenants/{tenant}/subscriptions/{id}/lifecycle` `{"lifecycleEvent"}`: sends
/// `reauthorizationRequired` (the subscription is marked first), `subscriptionRemoved` (it is
/// deleted first) or `missed` to its lifecycle URL (400 without one). Answers
/// `{"delivered": bool, "status": <HTTP status or null>}`.
pub(super) async fn lifecycle(route: Route, text: String) -> Reply {
    let l: Lifecycle = body(&text)?;
    let event = l.lifecycle_event.as_str();
    if !matches!(
        event,
        "reauthorizationRequired" | "subscriptionRemoved" | "missed"
    ) {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "lifecycleEvent must be reauthorizationRequired, subscriptionRemoved or missed",
        ));
    }
    let (url, notification) = {
        let mut held = route.tenant()?;
        let tenant_id = held.tenant().id.clone();
        let w = &mut held.world;
        w.sweep_subscriptions();
        let id = route.param("id");
        let s = w
            .mail_subscriptions
            .get(id)
            .filter(|s| s.tenant_id == tenant_id)
            .ok_or_else(|| not_found("subscription"))?;
        let Some(url) = s.lifecycle_notification_url.clone() else {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "the subscription has no lifecycleNotificationUrl",
            ));
        };
        // A removed subscription's notification is built from what it was.
        let notification = model::lifecycle_notification(s, event);
        match event {
            "subscriptionRemoved" => {
                w.mail_subscriptions.remove(id);
            }
            "reauthorizationRequired" => {
                w.mail_subscriptions
                    .update(id, |s| s.reauthorization_required = true);
            }
            _ => {}
        }
        (url, notification)
    };
    let status = delivery::lifecycle(&route.sim, &url, &notification).await;
    done(json!({
        "delivered": status.is_some_and(|s| (200..300).contains(&s)),
        "status": status,
    }))
}
