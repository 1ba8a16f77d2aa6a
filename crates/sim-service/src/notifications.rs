//! Microsoft Graph change notifications, as the service's notification URL receives them
//! (README, "Graph change notifications"): the validation handshake's token, each item of a
//! notification batch judged by its `clientState`, and what the service keeps of them per
//! tenant. Pure: the query, the items and the key in, verdicts and counts out.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;
use serde_json::Value;

use crate::protocol::validate::is_guid;
use crate::signature::SigningKey;

/// Accepted notifications remembered per tenant (the oldest forgotten first); a repeat of
/// one of them is a duplicate.
pub const RECENT: usize = 1000;

/// The `validationToken` of a query string (`a=b&validationToken=...`), URL-decoded as a
/// form value (`+` is a space, `%XX` a byte); `None` when the query has none. Other
/// parameters (the operator's `exoAccount=`) are ignored.
pub fn validation_token(query: Option<&str>) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        (form_decode(name) == "validationToken").then(|| form_decode(value))
    })
}

/// Decodes one `application/x-www-form-urlencoded` name or value: `+` is a space, `%XX` the
/// byte XX (a `%` not followed by two hex digits stays as it is); the bytes are read as
/// UTF-8 (an invalid sequence becomes U+FFFD).
pub fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i + 1..i + 3) {
            Some(&[h, l]) if bytes[i] == b'%' => hex(h).zip(hex(l)).map(|(h, l)| h << 4 | l),
            _ => None,
        };
        match (bytes[i], escaped) {
            (_, Some(byte)) => {
                out.push(byte);
                i += 2;
            }
            (b'+', None) => out.push(b' '),
            (b, None) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// What one item of a notification batch is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// A change notification whose `clientState` is the tenant's.
    Change {
        /// The tenant (lowercase).
        tenant: String,
        /// The notification's facts.
        change: Accepted,
    },
    /// A lifecycle notification (`lifecycleEvent`) whose `clientState` is the tenant's.
    Lifecycle {
        /// The tenant (lowercase).
        tenant: String,
    },
    /// Ignored: a wrong or missing `clientState`, or not a notification.
    Rejected {
        /// The tenant (lowercase), when the item names one by a GUID.
        tenant: Option<String>,
    },
}

/// One accepted change notification, as `GET /_sim/tenants/{tenantId}/notifications` lists
/// it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Accepted {
    /// The subscription it came through.
    pub subscription_id: String,
    /// `created`, `updated` or `deleted`.
    pub change_type: String,
    /// The message's resource path.
    pub resource: String,
    /// `resourceData.id`, when present.
    pub message_id: Option<String>,
}

/// Judges one item of a batch: its tenant (`tenantId`, a GUID), its `clientState` (the
/// tenant's, compared in constant time), then lifecycle (`lifecycleEvent` present) or change
/// (`subscriptionId`, `changeType` and `resource` present).
pub fn classify(key: &SigningKey, item: &Value) -> Item {
    let text = |name: &str| {
        item.get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let Some(tenant) = text("tenantId")
        .filter(|t| is_guid(t))
        .map(str::to_ascii_lowercase)
    else {
        return Item::Rejected { tenant: None };
    };
    let verified = text("clientState").is_some_and(|cs| key.verify_client_state(&tenant, cs));
    if !verified {
        return Item::Rejected {
            tenant: Some(tenant),
        };
    }
    if item.get("lifecycleEvent").is_some_and(|e| !e.is_null()) {
        return Item::Lifecycle { tenant };
    }
    match (text("subscriptionId"), text("changeType"), text("resource")) {
        (Some(subscription_id), Some(change_type), Some(resource)) => Item::Change {
            change: Accepted {
                subscription_id: subscription_id.to_string(),
                change_type: change_type.to_string(),
                resource: resource.to_string(),
                message_id: item
                    .pointer("/resourceData/id")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            },
            tenant,
        },
        _ => Item::Rejected {
            tenant: Some(tenant),
        },
    }
}

/// What the service keeps of one tenant's notifications (memory only).
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantNotifications {
    /// Change notifications accepted (each distinct one once).
    pub accepted: u64,
    /// Items ignored for their `clientState` (wrong or missing) or their form.
    pub rejected: u64,
    /// Accepted notifications received again (same subscription, resource and change type
    /// as one of the last [`RECENT`] accepted).
    pub duplicates: u64,
    /// Lifecycle notifications.
    pub lifecycle: u64,
    /// Accepted notifications by `changeType`.
    pub by_change_type: BTreeMap<String, u64>,
    /// The last [`RECENT`] accepted, oldest first.
    #[serde(skip)]
    pub recent: VecDeque<Accepted>,
}

impl TenantNotifications {
    /// Records an accepted change: a duplicate when one of the recent has the same
    /// subscription, resource and change type. Whether it was new.
    pub fn record(&mut self, change: Accepted) -> bool {
        let seen = self.recent.iter().any(|r| {
            r.subscription_id == change.subscription_id
                && r.resource == change.resource
                && r.change_type == change.change_type
        });
        if seen {
            self.duplicates += 1;
            return false;
        }
        self.accepted += 1;
        *self
            .by_change_type
            .entry(change.change_type.clone())
            .or_default() += 1;
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(change);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TENANT: &str = "5b1c6e8a-2f4d-4a7b-9c3e-1d2f3a4b5c6d";

    #[test]
    fn validation_tokens_are_form_decoded() {
        let cases = [
            (Some("validationToken=abc"), Some("abc")),
            (
                Some("exoAccount=u1&validationToken=a%2Fb+c%2Bd%20e"),
                Some("a/b c+d e"),
            ),
            (Some("validationToken="), Some("")),
            (Some("validationToken"), Some("")),
            (Some("validationToken=100%"), Some("100%")),
            (Some("validationToken=%zz%4"), Some("%zz%4")),
            (Some("validationToken=%C3%A9t%C3%A9"), Some("été")),
            (Some("exoAccount=u1"), None),
            (Some(""), None),
            (None, None),
        ];
        for (query, token) in cases {
            assert_eq!(validation_token(query).as_deref(), token, "{query:?}");
        }
    }

    #[test]
    fn items_are_judged_by_their_client_state() {
        let key = SigningKey::from_secret("a shared secret").unwrap();
        let good = key.client_state(TENANT);
        let change = |cs: &str| {
            json!({"subscriptionId": "s1", "changeType": "created", "tenantId": TENANT.to_uppercase(),
                "clientState": cs, "resource": "Users/u/Messages/m",
                "resourceData": {"@odata.type": "#Microsoft.Graph.Message", "id": "m"}})
        };
        assert_eq!(
            classify(&key, &change(&good)),
            Item::Change {
                tenant: TENANT.into(),
                change: Accepted {
                    subscription_id: "s1".into(),
                    change_type: "created".into(),
                    resource: "Users/u/Messages/m".into(),
                    message_id: Some("m".into()),
                },
            }
        );
        let rejected = Item::Rejected {
            tenant: Some(TENANT.into()),
        };
        assert_eq!(classify(&key, &change("nope")), rejected);
        let mut missing = change(&good);
        missing.as_object_mut().unwrap().remove("clientState");
        assert_eq!(classify(&key, &missing), rejected);
        let mut no_resource = change(&good);
        no_resource.as_object_mut().unwrap().remove("resource");
        assert_eq!(classify(&key, &no_resource), rejected);
        let lifecycle = json!({"subscriptionId": "s1", "tenantId": TENANT, "clientState": good,
            "lifecycleEvent": "missed"});
        assert_eq!(
            classify(&key, &lifecycle),
            Item::Lifecycle {
                tenant: TENANT.into()
            }
        );
        for bad in [
            json!(3),
            json!({"tenantId": "contoso", "clientState": good}),
        ] {
            assert_eq!(classify(&key, &bad), Item::Rejected { tenant: None });
        }
    }

    #[test]
    fn repeats_are_duplicates_and_recent_is_bounded() {
        let mut log = TenantNotifications::default();
        let change = |i: usize, kind: &str| Accepted {
            subscription_id: "s".into(),
            change_type: kind.into(),
            resource: format!("Users/u/Messages/{i}"),
            message_id: None,
        };
        assert!(log.record(change(0, "created")));
        assert!(!log.record(change(0, "created")));
        assert!(log.record(change(0, "updated")));
        assert_eq!((log.accepted, log.duplicates), (2, 1));
        for i in 1..=RECENT {
            log.record(change(i, "created"));
        }
        assert_eq!(log.recent.len(), RECENT);
        assert_eq!(log.by_change_type["created"], RECENT as u64 + 1);
        // The first is forgotten: received again, it counts as new.
        assert!(log.record(change(0, "created")));
        assert_eq!(log.duplicates, 1);
    }
}
