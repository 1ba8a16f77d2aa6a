//! Microsoft Graph change-notification subscriptions on Outlook messages (Learn: "Set up
//! notifications for changes in resource data", "Create subscription", "Outlook change
//! notifications overview", "Reduce missing subscriptions and change notifications"):
//!
//! - [`validation`]: what a create or renew request must say (pure);
//! - `routes`: `POST/GET /subscriptions`, `GET/PATCH/DELETE /subscriptions/{id}`,
//!   `POST /subscriptions/{id}/reauthorize`;
//! - [`delivery`]: the validation handshake, change and lifecycle notifications (one shared
//!   HTTP client, never called with the world locked);
//! - [`throttle`]: the subscription service's limits per app and tenant and per tenant;
//! - [`model`]: the JSON shapes.
//!
//! Subscriptions live in the world ([`crate::state::MailSubscription`], indexed by
//! [`crate::state::MailSubscriptions`]); the control API
//! (`/_sim/subscriptions/settings`, `/_sim/tenants/{tenant}/subscriptions`, messages arriving
//! in a mailbox, lifecycle events on demand) drives them from tests.
//!
//! Simulator relaxations and gaps: `http` notification URLs are accepted on loopback hosts;
//! rich notifications (`includeResourceData`) are refused; only the Inbox, Sent Items and all
//! messages of a mailbox can be watched.

pub mod delivery;
pub mod model;
mod routes;
pub mod throttle;
pub mod validation;

use std::sync::Arc;

use serde_json::Value;

pub use self::delivery::Outbound;
pub(super) use self::routes::handle;
pub use self::throttle::Windows;
use crate::Sim;
use crate::ids::permission_name;
use crate::state::{MailSubscription, World};

/// The application roles (or delegated scopes) any one of which a message subscription needs.
pub const MAIL_PERMISSIONS: &[&str] = &[
    "Mail.Read",
    "Mail.ReadBasic",
    "Mail.ReadBasic.All",
    "Mail.ReadWrite",
];

/// The names of the subscription service's counters in the simulator's request counters
/// (`/_sim/counters`), beside the `METHOD /path` of every request.
pub mod counters {
    /// Prefix of the per-route counters: `subscriptions POST /v1.0/subscriptions`,
    /// `subscriptions GET /v1.0/subscriptions` (one per list page),
    /// `subscriptions GET /v1.0/subscriptions/{id}`, `subscriptions PATCH /v1.0/subscriptions/{id}`,
    /// `subscriptions DELETE /v1.0/subscriptions/{id}`,
    /// `subscriptions POST /v1.0/subscriptions/{id}/reauthorize` (throttled requests included).
    pub const ROUTE_PREFIX: &str = "subscriptions";
    /// Requests answered 429.
    pub const THROTTLED: &str = "subscriptions throttled";
    /// Validation requests sent (notification and lifecycle URLs).
    pub const HANDSHAKES: &str = "subscriptions handshakes";
    /// Validation requests that failed.
    pub const HANDSHAKES_FAILED: &str = "subscriptions handshakes failed";
    /// Change notifications acknowledged (first attempt or a retry).
    pub const NOTIFICATIONS_DELIVERED: &str = "subscriptions notifications delivered";
    /// Change-notification attempts that failed (each attempt).
    pub const NOTIFICATIONS_FAILED: &str = "subscriptions notifications failed";
    /// Change notifications never delivered: paused (reauthorization required, consent
    /// missing) or given up after the retry horizon.
    pub const NOTIFICATIONS_DROPPED: &str = "subscriptions notifications dropped";
    /// Lifecycle notifications sent.
    pub const LIFECYCLE_SENT: &str = "subscriptions lifecycle sent";
    /// Lifecycle notifications not acknowledged.
    pub const LIFECYCLE_FAILED: &str = "subscriptions lifecycle failed";
}

/// Whether `app_id`'s service principal in `tenant_id` holds one of [`MAIL_PERMISSIONS`] now.
pub fn has_mail_permission(world: &World, tenant_id: &str, app_id: &str) -> bool {
    world
        .tenant(tenant_id)
        .and_then(|t| {
            t.service_principals
                .iter()
                .find(|s| s.app_id.eq_ignore_ascii_case(app_id))
        })
        .is_some_and(|sp| {
            sp.grants
                .iter()
                .any(|g| permission_name(&g.role_id).is_some_and(|n| MAIL_PERMISSIONS.contains(&n)))
        })
}

/// After a consent change in `tenant_id`: marks `reauthorizationRequired` every subscription
/// of the tenant whose app lost its mail permission, and returns the lifecycle notifications
/// to send (URL and body) for those with a lifecycle URL.
pub fn require_reauthorization(world: &mut World, tenant_id: &str) -> Vec<(String, Value)> {
    world.sweep_subscriptions();
    let active: Vec<&MailSubscription> = world
        .mail_subscriptions
        .of_tenant(tenant_id)
        .into_iter()
        .filter(|s| !s.reauthorization_required)
        .collect();
    let mut unauthorized: Vec<&str> = Vec::new();
    for s in &active {
        if !unauthorized.contains(&s.app_id.as_str())
            && !has_mail_permission(world, tenant_id, &s.app_id)
        {
            unauthorized.push(&s.app_id);
        }
    }
    let marked: Vec<String> = active
        .iter()
        .filter(|s| unauthorized.contains(&s.app_id.as_str()))
        .map(|s| s.id.clone())
        .collect();
    let mut pending = Vec::new();
    for id in marked {
        let notification = world.mail_subscriptions.update(&id, |s| {
            s.reauthorization_required = true;
            let url = s.lifecycle_notification_url.clone()?;
            Some((
                url,
                model::lifecycle_notification(s, "reauthorizationRequired"),
            ))
        });
        pending.extend(notification.flatten());
    }
    pending
}

/// Sends lifecycle notifications (best effort, concurrently); how many were acknowledged.
pub async fn send_lifecycle(sim: &Arc<Sim>, pending: Vec<(String, Value)>) -> usize {
    let sends = pending
        .iter()
        .map(|(url, body)| delivery::lifecycle(sim, url, body));
    futures::future::join_all(sends)
        .await
        .into_iter()
        .filter(|s| s.is_some_and(|s| (200..300).contains(&s)))
        .count()
}
