//! What the operator records of a tenant's stream to the service, in the account's
//! `{name}-sync-state` ConfigMap beside the delta links: the service and tenant it streams to,
//! the last sequence the service acknowledged, and a round begun but not recorded as ended
//! (written before its first delivery is sent, with the delta link and count it ends with).

use std::collections::BTreeMap;

use crate::service::stream::{Pending, Recorded, RoundKind};

const ENDPOINT: &str = "delivery-endpoint";
const TENANT: &str = "delivery-tenant";
const WATERMARK: &str = "delivery-watermark";
const PENDING: &str = "delivery-pending";
const PENDING_LINK: &str = "delivery-pending-link";
const PENDING_USERS: &str = "delivery-pending-users";
const SELECTED: &str = "delivery-selected";
const TOKEN_HEALTH: &str = "delivery-token-health";

/// The recorded stream of one tenant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamState {
    /// The ingestion URL the stream goes to.
    pub endpoint: Option<String>,
    /// The tenant's GUID, as registered.
    pub tenant: Option<String>,
    /// The last sequence the service acknowledged, as recorded.
    pub watermark: u64,
    /// A round begun and not recorded as ended.
    pub pending: Option<PendingRound>,
    /// Scope `Selected`: the fingerprint of the selected users last acknowledged.
    pub selected: Option<String>,
    /// The token-health state last acknowledged.
    pub token_health: Option<String>,
}

/// A round begun: where it starts and, for a changes round, what it ends with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingRound {
    /// Its kind and sequences.
    pub round: Pending,
    /// The users delta link once it is acknowledged (a changes round, read whole first).
    pub link: Option<String>,
    /// The users count once it is acknowledged.
    pub users: i64,
}

impl StreamState {
    /// Reads the stream's keys of the ConfigMap's `data`.
    pub fn from_data(data: &BTreeMap<String, String>) -> Self {
        let pending = data
            .get(PENDING)
            .and_then(|p| parse_pending(p))
            .map(|round| PendingRound {
                round,
                link: data.get(PENDING_LINK).cloned(),
                users: data
                    .get(PENDING_USERS)
                    .and_then(|u| u.parse().ok())
                    .unwrap_or(0),
            });
        Self {
            endpoint: data.get(ENDPOINT).cloned(),
            tenant: data.get(TENANT).cloned(),
            watermark: data
                .get(WATERMARK)
                .and_then(|w| w.parse().ok())
                .unwrap_or(0),
            pending,
            selected: data.get(SELECTED).cloned(),
            token_health: data.get(TOKEN_HEALTH).cloned(),
        }
    }

    /// Writes the stream's keys into `data` (and removes those that no longer apply).
    pub fn write(&self, data: &mut BTreeMap<String, String>) {
        for key in [
            ENDPOINT,
            TENANT,
            WATERMARK,
            PENDING,
            PENDING_LINK,
            PENDING_USERS,
            SELECTED,
            TOKEN_HEALTH,
        ] {
            data.remove(key);
        }
        let (Some(endpoint), Some(tenant)) = (&self.endpoint, &self.tenant) else {
            return;
        };
        data.insert(ENDPOINT.into(), endpoint.clone());
        data.insert(TENANT.into(), tenant.clone());
        data.insert(WATERMARK.into(), self.watermark.to_string());
        if let Some(selected) = &self.selected {
            data.insert(SELECTED.into(), selected.clone());
        }
        if let Some(health) = &self.token_health {
            data.insert(TOKEN_HEALTH.into(), health.clone());
        }
        if let Some(p) = &self.pending {
            let kind = match p.round.kind {
                RoundKind::Snapshot => "snapshot",
                RoundKind::Changes => "changes",
            };
            let value = match p.round.last {
                Some(last) => format!("{kind} {} {last}", p.round.first),
                None => format!("{kind} {}", p.round.first),
            };
            data.insert(PENDING.into(), value);
            if let Some(link) = &p.link {
                data.insert(PENDING_LINK.into(), link.clone());
            }
            data.insert(PENDING_USERS.into(), p.users.to_string());
        }
    }

    /// The stream as recorded for `endpoint` and `tenant`: a stream recorded for another
    /// service or tenant (the account moved) starts again from nothing.
    pub fn for_target(&self, endpoint: &str, tenant: &str) -> Self {
        let same = self.endpoint.as_deref() == Some(endpoint)
            && self
                .tenant
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case(tenant));
        if same {
            return self.clone();
        }
        Self {
            endpoint: Some(endpoint.to_string()),
            tenant: Some(tenant.to_ascii_lowercase()),
            watermark: 0,
            pending: None,
            selected: None,
            token_health: None,
        }
    }

    /// What [`crate::service::stream::plan`] decides from.
    pub fn recorded(&self, has_links: bool) -> Recorded {
        Recorded {
            watermark: self.watermark,
            pending: self.pending.as_ref().map(|p| p.round.clone()),
            has_links,
        }
    }
}

fn parse_pending(text: &str) -> Option<Pending> {
    let mut parts = text.split(' ');
    let kind = match parts.next()? {
        "snapshot" => RoundKind::Snapshot,
        "changes" => RoundKind::Changes,
        _ => return None,
    };
    let first = parts.next()?.parse().ok()?;
    let last = match parts.next() {
        Some(l) => Some(l.parse().ok()?),
        None => None,
    };
    Some(Pending { kind, first, last })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(pending: Option<PendingRound>) -> StreamState {
        StreamState {
            endpoint: Some("https://ingest.example.com".into()),
            tenant: Some("5b1c6e8a-2f4d-4a7b-9c3e-1d2f3a4b5c6d".into()),
            watermark: 41,
            pending,
            selected: Some("abc".into()),
            token_health: Some("Valid".into()),
        }
    }

    #[test]
    fn the_stream_round_trips_through_configmap_data() {
        let cases = [
            state(None),
            state(Some(PendingRound {
                round: Pending {
                    kind: RoundKind::Changes,
                    first: 42,
                    last: Some(44),
                },
                link: Some("https://graph/users/delta?$deltatoken=x".into()),
                users: 1200,
            })),
            state(Some(PendingRound {
                round: Pending {
                    kind: RoundKind::Snapshot,
                    first: 42,
                    last: None,
                },
                link: None,
                users: 0,
            })),
        ];
        for s in cases {
            let mut data = BTreeMap::from([("users".to_string(), "3".to_string())]);
            s.write(&mut data);
            assert_eq!(StreamState::from_data(&data), s);
            assert_eq!(data["users"], "3", "other keys are kept");
        }
    }

    #[test]
    fn an_ended_round_leaves_no_pending_keys() {
        let mut data = BTreeMap::new();
        state(Some(PendingRound {
            round: Pending {
                kind: RoundKind::Changes,
                first: 42,
                last: Some(44),
            },
            link: Some("l".into()),
            users: 1,
        }))
        .write(&mut data);
        state(None).write(&mut data);
        assert!(!data.keys().any(|k| k.starts_with("delivery-pending")));
    }

    #[test]
    fn another_service_or_tenant_starts_from_nothing() {
        let s = state(None);
        let same = s.for_target(
            "https://ingest.example.com",
            "5B1C6E8A-2F4D-4A7B-9C3E-1D2F3A4B5C6D",
        );
        assert_eq!(same.watermark, 41);
        let moved = s.for_target(
            "https://other.example.com",
            "5b1c6e8a-2f4d-4a7b-9c3e-1d2f3a4b5c6d",
        );
        assert_eq!(moved.watermark, 0);
        assert_eq!(moved.endpoint.as_deref(), Some("https://other.example.com"));
    }

    #[test]
    fn garbage_is_no_pending_round() {
        for text in ["", "snapshot", "changes x", "other 1 2", "changes 1 y"] {
            assert_eq!(parse_pending(text), None, "{text:?}");
        }
    }
}
