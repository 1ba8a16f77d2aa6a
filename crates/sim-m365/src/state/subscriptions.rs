//! Microsoft Graph change-notification subscriptions on Outlook messages, as the world keeps
//! them: what each watches (a mailbox, one folder or all its messages), where it notifies, until
//! when, and whether it waits to be reauthorized; the indexed store that holds them
//! ([`MailSubscriptions`]); and the knobs of the subscription service.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::Arc;

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

/// Where a subscription sits in the store: its tenant, its application and its creation
/// sequence, so that one application's subscriptions in one tenant are a range, in the order
/// they were created.
type Key = (Arc<str>, Arc<str>, u64);

/// Where a page of one application's list ends: the creation sequence of its last
/// subscription (the next page starts after it, whatever was deleted meanwhile).
pub type Cursor = u64;

/// The world's mail subscriptions (all tenants), indexed so that every operation costs
/// O(log n) or O(1), a page O(page size + log n):
///
/// - by key (tenant, application, creation sequence): the subscriptions themselves;
///   an application's list in a tenant is a range, paged by the last key returned;
/// - by id (lower case, ids compare case-insensitively): the key;
/// - by mailbox (tenant, user id in lower case, all applications): the keys by sequence, whose
///   number is the mailbox's count and which change notifications walk;
/// - by expiration: the keys, popped up to the simulated now by [`Self::sweep`] (an expired
///   subscription is gone; the sweep costs nothing while none expired).
#[derive(Debug, Default)]
pub struct MailSubscriptions {
    /// The next creation sequence.
    next: u64,
    /// The subscriptions.
    by_key: BTreeMap<Key, MailSubscription>,
    /// Keys by lower-case id.
    ids: HashMap<String, Key>,
    /// Keys by mailbox (tenant, lower-case user id) and sequence.
    mailboxes: HashMap<(Arc<str>, String), BTreeMap<u64, Key>>,
    /// Keys by expiration.
    expiry: BTreeSet<(jiff::Timestamp, Key)>,
}

impl MailSubscriptions {
    /// How many there are (expired ones not swept yet included).
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Adds `s` (after the ones already there in its application's list); one with the same id
    /// is replaced.
    pub fn insert(&mut self, s: MailSubscription) {
        self.remove(&s.id);
        let key: Key = (
            s.tenant_id.as_str().into(),
            s.app_id.as_str().into(),
            self.next,
        );
        self.next += 1;
        self.ids.insert(s.id.to_ascii_lowercase(), key.clone());
        self.mailboxes
            .entry(mailbox(&key.0, &s.user_id))
            .or_default()
            .insert(key.2, key.clone());
        self.expiry.insert((s.expiration, key.clone()));
        self.by_key.insert(key, s);
    }

    /// The subscription `id` (case-insensitive), any tenant or application.
    pub fn get(&self, id: &str) -> Option<&MailSubscription> {
        self.by_key.get(self.ids.get(&id.to_ascii_lowercase())?)
    }

    /// Changes the subscription `id` with `f` (its expiration, its state; not its id, tenant,
    /// application or mailbox) and answers what `f` did, `None` without it.
    pub fn update<R>(&mut self, id: &str, f: impl FnOnce(&mut MailSubscription) -> R) -> Option<R> {
        let key = self.ids.get(&id.to_ascii_lowercase())?;
        let s = self.by_key.get_mut(key)?;
        let (expiration, user) = (s.expiration, s.user_id.clone());
        let answer = f(s);
        assert!(
            s.id.eq_ignore_ascii_case(id)
                && *key.0 == *s.tenant_id
                && *key.1 == *s.app_id
                && s.user_id == user,
            "a subscription's id, tenant, application and mailbox do not change"
        );
        if s.expiration != expiration {
            self.expiry.remove(&(expiration, key.clone()));
            self.expiry.insert((s.expiration, key.clone()));
        }
        Some(answer)
    }

    /// Removes the subscription `id` (case-insensitive) and answers it.
    pub fn remove(&mut self, id: &str) -> Option<MailSubscription> {
        let key = self.ids.remove(&id.to_ascii_lowercase())?;
        let s = self.by_key.remove(&key)?;
        let m = mailbox(&key.0, &s.user_id);
        if let Some(keys) = self.mailboxes.get_mut(&m) {
            keys.remove(&key.2);
            if keys.is_empty() {
                self.mailboxes.remove(&m);
            }
        }
        self.expiry.remove(&(s.expiration, key));
        Some(s)
    }

    /// Removes the subscriptions that expired at `now` (their expiration is not after it);
    /// how many.
    pub fn sweep(&mut self, now: jiff::Timestamp) -> usize {
        let mut expired = 0;
        while self.expiry.first().is_some_and(|(at, _)| *at <= now) {
            let Some((_, key)) = self.expiry.pop_first() else {
                break;
            };
            if let Some(id) = self.by_key.get(&key).map(|s| s.id.clone()) {
                self.remove(&id);
                expired += 1;
            }
        }
        expired
    }

    /// How many subscriptions watch the mailbox of `user_id` in `tenant_id`, all applications.
    pub fn mailbox_count(&self, tenant_id: &str, user_id: &str) -> usize {
        self.mailboxes
            .get(&mailbox(tenant_id, user_id))
            .map_or(0, BTreeMap::len)
    }

    /// The subscriptions watching the mailbox of `user_id` in `tenant_id`, all applications,
    /// in the order they were created.
    pub fn of_mailbox(
        &self,
        tenant_id: &str,
        user_id: &str,
    ) -> impl Iterator<Item = &MailSubscription> {
        self.mailboxes
            .get(&mailbox(tenant_id, user_id))
            .into_iter()
            .flat_map(|keys| keys.values())
            .filter_map(|key| self.by_key.get(key))
    }

    /// Every subscription of `tenant_id`, all applications, in the order they were created.
    pub fn of_tenant(&self, tenant_id: &str) -> Vec<&MailSubscription> {
        let start: Key = (tenant_id.into(), "".into(), 0);
        let mut all: Vec<(u64, &MailSubscription)> = self
            .by_key
            .range((Bound::Included(start), Bound::Unbounded))
            .take_while(|(key, _)| *key.0 == *tenant_id)
            .map(|(key, s)| (key.2, s))
            .collect();
        all.sort_unstable_by_key(|(seq, _)| *seq);
        all.into_iter().map(|(_, s)| s).collect()
    }

    /// A page of `app_id`'s subscriptions in `tenant_id`, in the order they were created: at
    /// most `size` after `after` (from the first without it), and the cursor of the next page
    /// when more follow.
    pub fn page(
        &self,
        tenant_id: &str,
        app_id: &str,
        after: Option<Cursor>,
        size: usize,
    ) -> (Vec<&MailSubscription>, Option<Cursor>) {
        let (tenant, app): (Arc<str>, Arc<str>) = (tenant_id.into(), app_id.into());
        let start = match after {
            Some(seq) => Bound::Excluded((tenant.clone(), app.clone(), seq)),
            None => Bound::Included((tenant.clone(), app.clone(), 0)),
        };
        let end = Bound::Included((tenant, app, u64::MAX));
        let mut range = self.by_key.range((start, end));
        let page: Vec<(&Key, &MailSubscription)> = range.by_ref().take(size.max(1)).collect();
        let next = match (range.next(), page.last()) {
            (Some(_), Some((last, _))) => Some(last.2),
            _ => None,
        };
        (page.into_iter().map(|(_, s)| s).collect(), next)
    }
}

/// The key of a mailbox: its tenant and the user's id in lower case.
fn mailbox(tenant_id: &str, user_id: &str) -> (Arc<str>, String) {
    (tenant_id.into(), user_id.to_ascii_lowercase())
}

impl World {
    /// Forgets the subscriptions that expired (no notification is sent when one does): those
    /// whose expiration has passed, each once, so nothing is scanned while none did.
    pub fn sweep_subscriptions(&mut self) {
        let now = self.now();
        self.mail_subscriptions.sweep(now);
    }

    /// Adds `n` to the counter `name`.
    pub fn count(&mut self, name: &str, n: u64) {
        *self.counters.entry(name.to_string()).or_default() += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T1: &str = "11111111-1111-1111-1111-111111111111";
    const T2: &str = "22222222-2222-2222-2222-222222222222";
    const APP: &str = "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa";
    const OTHER_APP: &str = "bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb";

    fn at(seconds: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_700_000_000 + seconds).unwrap()
    }

    fn sub(id: &str, tenant: &str, app: &str, user: &str, expires: i64) -> MailSubscription {
        MailSubscription {
            id: id.to_string(),
            tenant_id: tenant.to_string(),
            app_id: app.to_string(),
            creator_id: "creator".into(),
            resource: format!("users/{user}/messages"),
            user_id: user.to_string(),
            folder: None,
            change_type: "created".into(),
            client_state: None,
            notification_url: "https://hook.example/n".into(),
            lifecycle_notification_url: None,
            expiration: at(expires),
            latest_supported_tls_version: "v1_2".into(),
            reauthorization_required: false,
        }
    }

    fn ids<'a>(subs: impl IntoIterator<Item = &'a MailSubscription>) -> Vec<String> {
        subs.into_iter().map(|s| s.id.clone()).collect()
    }

    /// Every page of `app` in `tenant` from the start, `size` at a time, with `between` run
    /// on the store after each page.
    fn pages(
        store: &mut MailSubscriptions,
        tenant: &str,
        app: &str,
        size: usize,
        mut between: impl FnMut(&mut MailSubscriptions, usize),
    ) -> (Vec<String>, usize) {
        let (mut seen, mut count, mut after) = (Vec::new(), 0, None);
        loop {
            let (page, next) = store.page(tenant, app, after, size);
            assert!(page.len() <= size);
            seen.extend(ids(page));
            count += 1;
            let Some(next) = next else {
                return (seen, count);
            };
            between(store, count);
            after = Some(next);
        }
    }

    #[test]
    fn mailboxes_are_counted_across_apps_and_in_step_with_removals() {
        let mut store = MailSubscriptions::default();
        store.insert(sub("s1", T1, APP, "Ada", 600));
        store.insert(sub("s2", T1, OTHER_APP, "ada", 600));
        store.insert(sub("s3", T1, APP, "alan", 600));
        store.insert(sub("s4", T2, APP, "ada", 600));
        assert_eq!(store.len(), 4);
        assert_eq!(store.mailbox_count(T1, "ADA"), 2);
        assert_eq!(store.mailbox_count(T1, "alan"), 1);
        assert_eq!(store.mailbox_count(T2, "ada"), 1);
        assert_eq!(store.mailbox_count(T2, "alan"), 0);
        assert_eq!(ids(store.of_mailbox(T1, "ada")), ["s1", "s2"]);
        assert_eq!(ids(store.of_tenant(T1)), ["s1", "s2", "s3"]);

        assert_eq!(store.remove("S1").map(|s| s.id), Some("s1".to_string()));
        assert!(store.remove("s1").is_none());
        assert!(store.get("s1").is_none());
        assert_eq!(store.mailbox_count(T1, "ada"), 1);
        assert_eq!(ids(store.of_mailbox(T1, "ada")), ["s2"]);
        store.remove("s2");
        assert_eq!(store.mailbox_count(T1, "ada"), 0);
        assert!(!store.mailboxes.contains_key(&mailbox(T1, "ada")));
        // The same id again replaces, it does not count twice.
        store.insert(sub("s3", T1, APP, "alan", 900));
        assert_eq!(store.mailbox_count(T1, "alan"), 1);
        assert_eq!(store.len(), 2);
        assert_eq!(store.expiry.len(), 2);
    }

    #[test]
    fn pages_neither_skip_nor_repeat_when_deleted_from_between_them() {
        let mut store = MailSubscriptions::default();
        let mut all = Vec::new();
        for i in 0..250 {
            let id = format!("sub-{i:03}");
            store.insert(sub(&id, T1, APP, &format!("user{}", i % 7), 600));
            // Another app's and another tenant's, interleaved, never listed.
            store.insert(sub(&format!("other-{i}"), T1, OTHER_APP, "user0", 600));
            store.insert(sub(&format!("elsewhere-{i}"), T2, APP, "user0", 600));
            all.push(id);
        }
        let (seen, count) = pages(&mut store, T1, APP, 100, |_, _| {});
        assert_eq!((&seen, count), (&all, 3));

        // After the first page, its last item and one of the second page are deleted; after
        // the second, an item already seen.
        let (seen, count) = pages(&mut store, T1, APP, 100, |store, page| match page {
            1 => {
                store.remove("sub-099").unwrap();
                store.remove("sub-150").unwrap();
            }
            2 => {
                store.remove("sub-010").unwrap();
            }
            _ => {}
        });
        let expected: Vec<String> = all.iter().filter(|id| *id != "sub-150").cloned().collect();
        assert_eq!(seen, expected);
        assert_eq!(count, 3);
        assert_eq!(seen.len(), 249);

        // Exactly a page's worth: no next page.
        let mut store = MailSubscriptions::default();
        for i in 0..100 {
            store.insert(sub(&format!("s{i}"), T1, APP, "ada", 600));
        }
        let (page, next) = store.page(T1, APP, None, 100);
        assert_eq!((page.len(), next), (100, None));
        let (page, next) = store.page(T1, OTHER_APP, None, 100);
        assert_eq!((page.len(), next), (0, None));
    }

    #[test]
    fn expired_subscriptions_are_gone_and_renewals_move_them() {
        let mut store = MailSubscriptions::default();
        store.insert(sub("soon", T1, APP, "ada", 60));
        store.insert(sub("later", T1, APP, "ada", 120));
        store.insert(sub("renewed", T1, APP, "alan", 60));
        assert_eq!(store.sweep(at(59)), 0);
        assert_eq!(store.len(), 3);
        let renewed = store.update("RENEWED", |s| {
            s.expiration = at(3600);
            s.reauthorization_required = true;
            s.id.clone()
        });
        assert_eq!(renewed.as_deref(), Some("renewed"));
        assert!(store.update("missing", |_| ()).is_none());
        // Expiring at `now` is expired.
        assert_eq!(store.sweep(at(60)), 1);
        assert!(store.get("soon").is_none());
        assert_eq!(store.mailbox_count(T1, "ada"), 1);
        assert_eq!(ids(store.page(T1, APP, None, 10).0), ["later", "renewed"]);
        assert_eq!(store.sweep(at(1000)), 1);
        assert_eq!(store.mailbox_count(T1, "ada"), 0);
        assert!(store.get("renewed").unwrap().reauthorization_required);
        assert_eq!(store.sweep(at(3600)), 1);
        assert!(store.is_empty());
        assert!(store.ids.is_empty() && store.mailboxes.is_empty() && store.expiry.is_empty());
    }

    #[test]
    fn a_hundred_thousand_subscriptions_page_and_renew() {
        let mut store = MailSubscriptions::default();
        // One tenant, one app, 100,000 subscriptions over 1,000 mailboxes.
        for i in 0..100_000 {
            store.insert(sub(
                &format!("one-{i}"),
                T1,
                APP,
                &format!("u{}", i % 1000),
                600,
            ));
        }
        // 1,000 tenants of 100.
        for t in 0..1000 {
            let tenant = format!("tenant-{t}");
            for i in 0..100 {
                store.insert(sub(&format!("many-{t}-{i}"), &tenant, APP, "ada", 600));
            }
        }
        assert_eq!(store.len(), 200_000);
        assert_eq!(store.mailbox_count(T1, "u7"), 100);
        let (seen, count) = pages(&mut store, T1, APP, 100, |_, _| {});
        assert_eq!((seen.len(), count), (100_000, 1000));
        for id in &seen {
            store.update(id, |s| s.expiration = at(7200)).unwrap();
        }
        assert_eq!(store.of_tenant("tenant-999").len(), 100);
        assert_eq!(store.sweep(at(600)), 100_000);
        assert_eq!(store.len(), 100_000);
        assert_eq!(store.page(T1, APP, None, 100).0.len(), 100);
        assert_eq!(store.page("tenant-5", APP, None, 100).0.len(), 0);
    }

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
