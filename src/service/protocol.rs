//! The messages of the delivery protocol v1 (`docs/protocol/delivery-v1.openapi.yaml`), as the
//! operator sends and reads them.

use serde::{Deserialize, Serialize};

/// A tenant's registration (`PUT /v1/tenants/{tenantId}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Registration {
    /// The tenant's GUID.
    pub tenant_id: String,
    /// `Global`, `USGovGCCHigh`, `USGovDoD` or `China`.
    pub cloud: String,
    /// `Api` or `Inline`.
    pub mode: String,
    /// `Inbound` or `InboundOutbound`, in Inline mode only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    /// `All` or `Selected`.
    pub scope: String,
    /// The tenant's verified domains.
    pub verified_domains: Vec<String>,
    /// The policies to enable.
    pub policies: Vec<String>,
}

/// The service's answer to a registration.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Registered {
    /// The policies the service offers among those asked for, in its spelling.
    pub accepted_policies: Vec<String>,
    /// The policies asked for that it does not offer, as sent.
    pub unknown_policies: Vec<String>,
    /// Where the stream stands.
    #[serde(flatten)]
    pub cursor: Cursor,
}

/// Where a tenant's stream stands (`GET /v1/tenants/{tenantId}/cursor`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cursor {
    /// The last sequence the service acknowledged (0 when none).
    pub watermark: u64,
    /// The service asks for a full snapshot.
    pub resync_requested: bool,
    /// A snapshot has been completed since registration.
    pub snapshot_complete: bool,
}

/// The service's acknowledgement of one delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Acknowledgement {
    /// The sequence acknowledged.
    pub acknowledged: u64,
    /// The service's watermark after it.
    pub watermark: u64,
    /// It had been acknowledged before (a retry whose answer was lost).
    pub duplicate: bool,
    /// The service asks for a full snapshot.
    pub resync_requested: bool,
}

/// A user as the service receives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// The user's object id.
    pub id: String,
    /// The user principal name.
    pub user_principal_name: String,
    /// The primary SMTP address, if any.
    pub mail: Option<String>,
    /// The display name, if any.
    pub display_name: Option<String>,
    /// Whether the account is enabled.
    pub account_enabled: bool,
}

/// A group as the service receives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// The group's object id.
    pub id: String,
    /// The display name, if any.
    pub display_name: Option<String>,
    /// The ids of its user members, transitively.
    pub members: Vec<String>,
}

/// One message of a tenant's stream, without its sequence (the sender numbers it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Message {
    /// Opens a snapshot.
    #[serde(rename_all = "camelCase")]
    SnapshotBegin {
        /// The snapshot's id.
        snapshot_id: String,
    },
    /// A page of the open snapshot.
    #[serde(rename_all = "camelCase")]
    SnapshotPage {
        /// The snapshot's id.
        snapshot_id: String,
        /// Users of the page.
        users: Vec<User>,
        /// Groups of the page.
        groups: Vec<Group>,
    },
    /// Closes the snapshot: the directory becomes its content.
    #[serde(rename_all = "camelCase")]
    SnapshotEnd {
        /// The snapshot's id.
        snapshot_id: String,
        /// Distinct users sent.
        user_count: u64,
        /// Distinct groups sent.
        group_count: u64,
    },
    /// Changes from a delta round.
    #[serde(rename_all = "camelCase")]
    Changes {
        /// Users added or changed.
        users: Vec<User>,
        /// Ids of users removed.
        removed_users: Vec<String>,
        /// Groups added or changed.
        groups: Vec<Group>,
        /// Ids of groups removed.
        removed_groups: Vec<String>,
    },
    /// Changes of the protected set (or, with `replace`, the whole set).
    ProtectedSet {
        /// Ids added (the whole set with `replace`).
        added: Vec<String>,
        /// Ids removed.
        removed: Vec<String>,
        /// `added` is the whole set.
        replace: bool,
    },
    /// The health of the operator's access changed.
    TokenHealth {
        /// `Valid`, `Expired`, `Revoked`, `ConsentMissing`, `CredentialInvalid`,
        /// `AppDisabled`, `TenantNotFound` or `Unknown`.
        state: String,
        /// When the state began (RFC 3339).
        since: String,
        /// The operator's stable reason, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Graph change notifications of these mailboxes may have been lost since `since`: the
    /// service catches up on them itself.
    #[serde(rename_all = "camelCase")]
    MailboxCatchUp {
        /// The users (1 to 1,000 distinct ids).
        user_ids: Vec<String>,
        /// From when (RFC 3339).
        since: String,
        /// `Missed`, `SubscriptionRemoved`, `ReauthorizationRequired` or
        /// `SubscriptionRecreated`.
        reason: String,
    },
}

/// A message with its sequence, as posted.
#[derive(Serialize)]
pub(super) struct Numbered<'a> {
    pub sequence: u64,
    #[serde(flatten)]
    pub message: &'a Message,
}

/// An RFC 9457 problem, as far as the operator reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Problem {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub detail: String,
    /// Why a signature was refused.
    pub reason: Option<String>,
    /// The sequence the service expects after a gap.
    pub expected: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_are_written_as_the_document_describes_them() {
        let cases = [
            (
                Message::SnapshotBegin {
                    snapshot_id: "s1".into(),
                },
                json!({"sequence": 1, "type": "snapshotBegin", "snapshotId": "s1"}),
            ),
            (
                Message::SnapshotEnd {
                    snapshot_id: "s1".into(),
                    user_count: 2,
                    group_count: 0,
                },
                json!({"sequence": 1, "type": "snapshotEnd", "snapshotId": "s1", "userCount": 2, "groupCount": 0}),
            ),
            (
                Message::ProtectedSet {
                    added: vec!["u".into()],
                    removed: vec![],
                    replace: true,
                },
                json!({"sequence": 1, "type": "protectedSet", "added": ["u"], "removed": [], "replace": true}),
            ),
            (
                Message::TokenHealth {
                    state: "Expired".into(),
                    since: "2026-12-02T10:00:00Z".into(),
                    reason: None,
                },
                json!({"sequence": 1, "type": "tokenHealth", "state": "Expired", "since": "2026-12-02T10:00:00Z"}),
            ),
        ];
        for (message, expected) in cases {
            let numbered = Numbered {
                sequence: 1,
                message: &message,
            };
            assert_eq!(serde_json::to_value(&numbered).unwrap(), expected);
        }
        let user = User {
            id: "u".into(),
            user_principal_name: "a@b".into(),
            mail: None,
            display_name: Some("A".into()),
            account_enabled: true,
        };
        assert_eq!(
            serde_json::to_value(&user).unwrap(),
            json!({"id": "u", "userPrincipalName": "a@b", "mail": null, "displayName": "A", "accountEnabled": true})
        );
    }

    #[test]
    fn answers_are_read_with_members_the_operator_does_not_know() {
        let registered: Registered = serde_json::from_value(json!({
            "registered": true, "tenantId": "t", "acceptedPolicies": ["Strict"],
            "unknownPolicies": ["Nope"], "watermark": 7, "resyncRequested": false,
            "snapshotComplete": true, "future": 1
        }))
        .unwrap();
        assert_eq!(registered.unknown_policies, ["Nope"]);
        assert_eq!(registered.cursor.watermark, 7);
        assert!(registered.cursor.snapshot_complete);
    }
}
