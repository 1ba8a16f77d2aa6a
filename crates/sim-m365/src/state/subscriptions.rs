//! Microsoft Graph change-notification subscriptions on Outlook messages, as the world keeps
//! them: what each watches (a mailbox, one folder or all its messages), where it notifies, until
//! when, and whether it waits to be reauthorized; and the knobs of the subscription service.

use serde::{Deserialize, Serialize};

use super::World;

/// A well-known mail folder a subscription can watch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailFolder {
    /// `mailFolders('inbox')`: messages that arrive.
    Inbox,
    /// `mailFolders('sentitems')`: messages sent from the mailbox.
    SentItems,
}

impl MailFolder {
    /// The folder's well-known name (`inbox`, `sentitems`), case-insensitive.
    pub fn parse(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("inbox") {
            Some(Self::Inbox)
        } else if name.eq_ignore_ascii_case("sentitems") {
            Some(Self::SentItems)
        } else {
            None
        }
    }

    /// The well-known name, lower case.
    pub fn name(self) -> &'static str {
        match self {
            Self::Inbox => "inbox",
            Self::SentItems => "sentitems",
        }
    }
}

/// A subscription to a mailbox's messages.
#[derive(Clone, Debug)]
pub struct MailSubscription {
    /// Subscription id (GUID).
    pub id: String,
    /// The tenant it lives in.
    pub tenant_id: String,
    /// The application that created it (`applicationId`).
    pub app_id: String,
    /// The service principal of that application in the tenant (`creatorId`).
    pub creator_id: String,
    /// `resource`, as the client gave it.
    pub resource: String,
    /// The object id of the user whose mailbox it watches.
    pub user_id: String,
    /// The folder it watches; all the mailbox's messages when `None`.
    pub folder: Option<MailFolder>,
    /// `changeType`, as given (validated: `created`, `updated`, `deleted`, comma-separated).
    pub change_type: String,
    /// `clientState`, sent back with every notification.
    pub client_state: Option<String>,
    /// Where change notifications go.
    pub notification_url: String,
    /// Where lifecycle notifications go.
    pub lifecycle_notification_url: Option<String>,
    /// When it expires (and is gone).
    pub expiration: jiff::Timestamp,
    /// `latestSupportedTlsVersion`.
    pub latest_supported_tls_version: String,
    /// Whether it waits to be reauthorized (no change notifications meanwhile).
    pub reauthorization_required: bool,
}

impl MailSubscription {
    /// Whether it watches messages of `user_id` in `folder`.
    pub fn watches(&self, user_id: &str, folder: MailFolder) -> bool {
        self.user_id.eq_ignore_ascii_case(user_id) && self.folder.is_none_or(|f| f == folder)
    }

    /// Whether `changeType` includes `change` (`created`, `updated`, `deleted`).
    pub fn notifies(&self, change: &str) -> bool {
        self.change_type.split(',').any(|c| c.trim() == change)
    }

    /// Its state as the control API shows it: `active` or `reauthorizationRequired`.
    pub fn state(&self) -> &'static str {
        if self.reauthorization_required {
            "reauthorizationRequired"
        } else {
            "active"
        }
    }
}

/// The knobs of the subscription service (`/_sim/subscriptions/settings`), Microsoft's values
/// by default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionSettings {
    /// The longest lifetime of an Outlook message subscription, minutes (Learn: 10,080).
    pub max_expiration_minutes: i64,
    /// Subscriptions per page of `GET /subscriptions`.
    pub page_size: usize,
    /// Write requests (POST, PATCH, DELETE) per app and tenant per 20 s.
    #[serde(rename = "writesPer20s")]
    pub writes_per_20s: usize,
    /// Requests of any kind per app and tenant per 20 s.
    #[serde(rename = "requestsPer20s")]
    pub requests_per_20s: usize,
    /// Write requests of all apps per tenant per 20 s.
    #[serde(rename = "tenantWritesPer20s")]
    pub tenant_writes_per_20s: usize,
    /// Requests of any kind of all apps per tenant per 20 s.
    #[serde(rename = "tenantRequestsPer20s")]
    pub tenant_requests_per_20s: usize,
    /// Active subscriptions per mailbox, all apps together (Learn: 1,000).
    pub per_mailbox_limit: usize,
    /// How long a failed change notification is retried, seconds (Graph: 4 hours).
    pub notification_retry_horizon_seconds: u64,
}

impl Default for SubscriptionSettings {
    fn default() -> Self {
        Self {
            max_expiration_minutes: 10_080,
            page_size: 100,
            writes_per_20s: 1000,
            requests_per_20s: 5000,
            tenant_writes_per_20s: 2000,
            tenant_requests_per_20s: 10_000,
            per_mailbox_limit: 1000,
            notification_retry_horizon_seconds: 60,
        }
    }
}

impl World {
    /// Forgets the subscriptions that expired (no notification is sent when one does).
    pub fn sweep_subscriptions(&mut self) {
        let now = self.now();
        self.mail_subscriptions.retain(|s| s.expiration > now);
    }

    /// Adds `n` to the counter `name`.
    pub fn count(&mut self, name: &str, n: u64) {
        *self.counters.entry(name.to_string()).or_default() += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_parse_case_insensitively() {
        assert_eq!(MailFolder::parse("Inbox"), Some(MailFolder::Inbox));
        assert_eq!(MailFolder::parse("SENTITEMS"), Some(MailFolder::SentItems));
        assert_eq!(MailFolder::parse("drafts"), None);
    }

    #[test]
    fn settings_use_the_control_api_names() {
        let v = serde_json::to_value(SubscriptionSettings::default()).unwrap();
        assert_eq!(v["writesPer20s"], 1000);
        assert_eq!(v["tenantRequestsPer20s"], 10_000);
        assert_eq!(v["maxExpirationMinutes"], 10_080);
        assert_eq!(v["notificationRetryHorizonSeconds"], 60);
    }
}
