//! The JSON shapes of subscriptions and their notifications (Learn: "subscription resource
//! type", "changeNotificationCollection", "Reduce missing subscriptions and change
//! notifications"): the subscription as Graph answers it (its `clientState` only in the answer
//! to its creation), as the control API shows it, a `created` change notification of a
//! message and a lifecycle notification.

use serde_json::{Value, json};

use super::validation::graph_time;
use crate::state::MailSubscription;

/// A subscription as Graph answers it; `clientState` only when `with_client_state` (the
/// answer to its creation), `null` otherwise (Graph does not return it in GET, list or PATCH).
pub fn subscription(s: &MailSubscription, with_client_state: bool) -> Value {
    json!({
        "id": s.id,
        "resource": s.resource,
        "applicationId": s.app_id,
        "changeType": s.change_type,
        "clientState": if with_client_state { json!(s.client_state) } else { Value::Null },
        "notificationUrl": s.notification_url,
        "notificationQueryOptions": null,
        "lifecycleNotificationUrl": s.lifecycle_notification_url,
        "expirationDateTime": graph_time(s.expiration),
        "creatorId": s.creator_id,
        "includeResourceData": false,
        "latestSupportedTlsVersion": s.latest_supported_tls_version,
        "encryptionCertificate": null,
        "encryptionCertificateId": null,
        "notificationUrlAppId": null,
    })
}

/// A subscription with everything the world knows, for the control API.
pub fn control_view(s: &MailSubscription) -> Value {
    let mut v = subscription(s, true);
    v["tenantId"] = json!(s.tenant_id);
    v["userId"] = json!(s.user_id);
    v["folder"] = json!(s.folder.map(|f| f.name()));
    v["state"] = json!(s.state());
    v
}

/// A `created` change notification of message `message_id` in `user_id`'s mailbox.
pub fn created_notification(
    s: &MailSubscription,
    user_id: &str,
    message_id: &str,
    etag: &str,
) -> Value {
    let resource = format!("Users/{user_id}/Messages/{message_id}");
    let mut item = json!({
        "subscriptionId": s.id,
        "subscriptionExpirationDateTime": graph_time(s.expiration),
        "changeType": "created",
        "resource": resource,
        "resourceData": {
            "@odata.type": "#Microsoft.Graph.Message",
            "@odata.id": resource,
            "@odata.etag": etag,
            "id": message_id,
        },
        "tenantId": s.tenant_id,
    });
    if let Some(c) = &s.client_state {
        item["clientState"] = json!(c);
    }
    json!({"value": [item]})
}

/// A lifecycle notification (`reauthorizationRequired`, `subscriptionRemoved`, `missed`).
pub fn lifecycle_notification(s: &MailSubscription, event: &str) -> Value {
    json!({"value": [{
        "subscriptionId": s.id,
        "subscriptionExpirationDateTime": graph_time(s.expiration),
        "tenantId": s.tenant_id,
        "clientState": s.client_state,
        "lifecycleEvent": event,
    }]})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::MailFolder;

    fn sample(client_state: Option<&str>) -> MailSubscription {
        MailSubscription {
            id: "s".into(),
            tenant_id: "t".into(),
            app_id: "a".into(),
            creator_id: "c".into(),
            resource: "users/u/messages".into(),
            user_id: "u".into(),
            folder: Some(MailFolder::Inbox),
            change_type: "created".into(),
            client_state: client_state.map(String::from),
            notification_url: "https://h/n".into(),
            lifecycle_notification_url: None,
            expiration: "2025-01-01T00:00:00Z".parse().unwrap(),
            latest_supported_tls_version: "v1_2".into(),
            reauthorization_required: false,
        }
    }

    #[test]
    fn client_state_shows_only_at_creation_and_in_notifications() {
        let s = sample(Some("secret"));
        assert_eq!(subscription(&s, true)["clientState"], "secret");
        assert_eq!(subscription(&s, false)["clientState"], Value::Null);
        assert_eq!(control_view(&s)["clientState"], "secret");
        assert_eq!(control_view(&s)["folder"], "inbox");
        let n = created_notification(&s, "u", "m", "W/\"e\"");
        assert_eq!(n["value"][0]["clientState"], "secret");
        assert_eq!(n["value"][0]["resource"], "Users/u/Messages/m");
        let none = created_notification(&sample(None), "u", "m", "W/\"e\"");
        assert!(none["value"][0].get("clientState").is_none());
    }
}
