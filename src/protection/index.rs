//! What the operator knows of its subscriptions, compact (about 64 bytes per subscription):
//! rebuilt from Graph's `GET /subscriptions` after a restart, never stored in Kubernetes.

use std::collections::HashMap;

/// A GUID as a number (a quarter of its text's size).
pub type Guid = u128;

/// Parses a GUID (`8-4-4-4-12` hex digits, any case).
pub fn parse_guid(text: &str) -> Option<Guid> {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || text.len() != 36 {
        return None;
    }
    u128::from_str_radix(&hex, 16).ok()
}

/// Formats a GUID in lowercase `8-4-4-4-12`.
pub fn format_guid(id: Guid) -> String {
    let h = format!("{id:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The mail folder a subscription watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Folder {
    /// Messages arriving (`mailFolders('inbox')`).
    Inbox,
    /// Messages sent (`mailFolders('sentitems')`).
    SentItems,
}

impl Folder {
    /// Graph's well-known folder name.
    pub fn name(self) -> &'static str {
        match self {
            Folder::Inbox => "inbox",
            Folder::SentItems => "sentitems",
        }
    }

    /// The subscription resource for `user`'s folder.
    pub fn resource(self, user: Guid) -> String {
        format!(
            "users/{}/mailFolders('{}')/messages",
            format_guid(user),
            self.name()
        )
    }
}

/// One mailbox folder: what a subscription is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// The user (mailbox owner).
    pub user: Guid,
    /// The folder.
    pub folder: Folder,
}

/// Parses a resource the operator creates (`users/{id}/mailFolders('{folder}')/messages`).
pub fn parse_resource(resource: &str) -> Option<Key> {
    let rest = resource.trim_start_matches('/');
    let (head, rest) = rest.split_once('/')?;
    if !head.eq_ignore_ascii_case("users") {
        return None;
    }
    let (user, rest) = rest.split_once('/')?;
    let user = parse_guid(user)?;
    let lower = rest.to_ascii_lowercase();
    let folder = match lower.as_str() {
        "mailfolders('inbox')/messages" => Folder::Inbox,
        "mailfolders('sentitems')/messages" => Folder::SentItems,
        _ => return None,
    };
    Some(Key { user, folder })
}

/// A live subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Sub {
    /// Its id.
    pub id: Guid,
    /// When it expires (unix seconds).
    pub expires: i64,
}

/// The account's subscriptions by mailbox folder.
#[derive(Debug, Default)]
pub struct Index {
    subs: HashMap<Key, Sub>,
}

impl Index {
    /// The subscription of `key`.
    pub fn get(&self, key: &Key) -> Option<Sub> {
        self.subs.get(key).copied()
    }

    /// Records `sub` for `key` (replacing what was there).
    pub fn insert(&mut self, key: Key, sub: Sub) {
        self.subs.insert(key, sub);
    }

    /// Forgets `key`'s subscription.
    pub fn remove(&mut self, key: &Key) -> Option<Sub> {
        self.subs.remove(key)
    }

    /// The key of subscription `id` (a scan: lifecycle notifications are rare).
    pub fn key_of(&self, id: Guid) -> Option<Key> {
        self.subs.iter().find(|(_, s)| s.id == id).map(|(k, _)| *k)
    }

    /// Every subscription.
    pub fn iter(&self) -> impl Iterator<Item = (&Key, &Sub)> {
        self.subs.iter()
    }

    /// How many subscriptions.
    pub fn len(&self) -> usize {
        self.subs.len()
    }

    /// No subscription at all.
    pub fn is_empty(&self) -> bool {
        self.subs.is_empty()
    }
}

/// The ownership marker: the query parameter the operator adds to the service's notification
/// URL, naming the one account a subscription belongs to.
pub const OWNER_PARAMETER: &str = "exoAccount";

/// The query parameter naming which `clientState` a subscription carries (a fingerprint, not
/// the secret): Graph never returns a subscription's `clientState`, so a rotated ingestion
/// credential is recognised by it, and the subscriptions made with the old one are replaced.
pub const KEY_PARAMETER: &str = "exoKey";

/// The notification URL of `account`'s subscriptions: the service's, marked with the account
/// and with the fingerprint of `client_state`.
pub fn marked_url(service_url: &str, account_uid: &str, client_state: &str) -> String {
    let separator = if service_url.contains('?') { '&' } else { '?' };
    let digest = ring::digest::digest(&ring::digest::SHA256, client_state.as_bytes());
    let fingerprint: String = digest.as_ref()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{service_url}{separator}{OWNER_PARAMETER}={account_uid}&{KEY_PARAMETER}={fingerprint}")
}

/// The account a notification URL names, if any.
pub fn owner_of(notification_url: &str) -> Option<&str> {
    let (_, query) = notification_url.split_once('?')?;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == OWNER_PARAMETER)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_round_trip_and_reject_what_is_not_one() {
        let text = "0f3a9c1e-2b4d-4c6e-8f10-123456789abc";
        let id = parse_guid(text).unwrap();
        assert_eq!(format_guid(id), text);
        assert_eq!(parse_guid(&text.to_uppercase()), Some(id));
        for bad in [
            "",
            "0f3a9c1e2b4d4c6e8f10123456789abc",
            "zz3a9c1e-2b4d-4c6e-8f10-123456789abc",
        ] {
            assert_eq!(parse_guid(bad), None, "{bad}");
        }
    }

    #[test]
    fn resources_parse_back_to_their_mailbox_folder() {
        let user = parse_guid("0f3a9c1e-2b4d-4c6e-8f10-123456789abc").unwrap();
        for folder in [Folder::Inbox, Folder::SentItems] {
            let key = Key { user, folder };
            assert_eq!(parse_resource(&folder.resource(user)), Some(key));
            assert_eq!(
                parse_resource(&format!("/{}", folder.resource(user))),
                Some(key)
            );
        }
        for other in [
            "users/0f3a9c1e-2b4d-4c6e-8f10-123456789abc/messages",
            "users/alice@contoso.com/mailFolders('inbox')/messages",
            "groups/0f3a9c1e-2b4d-4c6e-8f10-123456789abc/conversations",
        ] {
            assert_eq!(parse_resource(other), None, "{other}");
        }
    }

    #[test]
    fn the_marker_names_exactly_one_account_and_its_key() {
        let url = marked_url("https://svc.example/graph", "uid-1", "state");
        assert!(
            url.starts_with("https://svc.example/graph?exoAccount=uid-1&exoKey="),
            "{url}"
        );
        assert!(
            !url.contains("state"),
            "the secret itself is not in the URL"
        );
        assert_eq!(owner_of(&url), Some("uid-1"));
        assert_eq!(owner_of("https://svc.example/graph"), None);
        assert_eq!(
            owner_of(&marked_url("https://svc.example/graph?x=1", "uid-2", "s")),
            Some("uid-2")
        );
        assert_ne!(
            url,
            marked_url("https://svc.example/graph", "uid-1", "rotated")
        );
        assert_eq!(
            url,
            marked_url("https://svc.example/graph", "uid-1", "state")
        );
    }
}
