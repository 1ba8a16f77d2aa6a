//! Lifecycle notifications from Microsoft Graph (`reauthorizationRequired`,
//! `subscriptionRemoved`, `missed`), received on the operator's HTTP port at
//! `/graph/lifecycle/{account uid}`: the validation handshake, the `clientState` check, and
//! what each one asks of the account's task.

use serde::Deserialize;

use super::index::{Guid, parse_guid};

/// The body Graph posts: `{"value": [...]}`.
#[derive(Debug, Deserialize)]
pub struct Batch {
    /// The notifications.
    #[serde(default)]
    pub value: Vec<Notification>,
}

/// One lifecycle notification (the fields the operator reads).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// The subscription.
    #[serde(default)]
    pub subscription_id: String,
    /// The tenant.
    #[serde(default)]
    pub tenant_id: String,
    /// The secret the subscription was created with.
    #[serde(default)]
    pub client_state: Option<String>,
    /// What happened.
    #[serde(default)]
    pub lifecycle_event: Option<String>,
}

/// What a verified lifecycle notification asks of the task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Reauthorize the subscription (or renew it) before its notifications stop.
    Reauthorize(Guid),
    /// Graph removed the subscription: create it again, and have the service catch up.
    Removed(Guid),
    /// Notifications were dropped: have the service catch up.
    Missed(Guid),
}

impl Notification {
    /// The event, if the notification carries the account's `client_state` for its tenant and
    /// names a known lifecycle event; `None` otherwise (it is ignored).
    pub fn verified(&self, client_state: &str, tenant_id: &str) -> Option<Event> {
        let given = self.client_state.as_deref()?;
        if !equal_in_constant_time(given.as_bytes(), client_state.as_bytes())
            || !self.tenant_id.eq_ignore_ascii_case(tenant_id)
        {
            return None;
        }
        let id = parse_guid(&self.subscription_id)?;
        match self.lifecycle_event.as_deref()? {
            "reauthorizationRequired" => Some(Event::Reauthorize(id)),
            "subscriptionRemoved" => Some(Event::Removed(id)),
            "missed" => Some(Event::Missed(id)),
            _ => None,
        }
    }
}

/// Compares two secrets without an early exit.
fn equal_in_constant_time(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUB: &str = "0f3a9c1e-2b4d-4c6e-8f10-123456789abc";
    const TENANT: &str = "11111111-2222-3333-4444-555555555555";

    fn notification(state: Option<&str>, tenant: &str, event: &str) -> Notification {
        Notification {
            subscription_id: SUB.into(),
            tenant_id: tenant.into(),
            client_state: state.map(Into::into),
            lifecycle_event: Some(event.into()),
        }
    }

    #[test]
    fn only_notifications_with_the_accounts_secret_count() {
        let id = parse_guid(SUB).unwrap();
        let rows = [
            (
                Some("s3cret"),
                TENANT,
                "reauthorizationRequired",
                Some(Event::Reauthorize(id)),
            ),
            (
                Some("s3cret"),
                TENANT,
                "subscriptionRemoved",
                Some(Event::Removed(id)),
            ),
            (
                Some("s3cret"),
                &TENANT.to_uppercase(),
                "missed",
                Some(Event::Missed(id)),
            ),
            (Some("s3cret"), TENANT, "somethingNew", None),
            (Some("s3creT"), TENANT, "missed", None),
            (Some("s3cret!"), TENANT, "missed", None),
            (None, TENANT, "missed", None),
            (
                Some("s3cret"),
                "99999999-2222-3333-4444-555555555555",
                "missed",
                None,
            ),
        ];
        for (state, tenant, event, expected) in rows {
            assert_eq!(
                notification(state, tenant, event).verified("s3cret", TENANT),
                expected,
                "{state:?} {tenant} {event}"
            );
        }
    }
}
