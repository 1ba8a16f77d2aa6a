//! The wire types of the delivery protocol v1 (`docs/protocol/delivery-v1.openapi.yaml`),
//! written from the document. Unknown members are ignored (a newer sender stays readable);
//! the bounds are checked in [`validate`].

pub mod validate;

use serde::{Deserialize, Serialize};

/// The Microsoft cloud a tenant lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cloud {
    /// The worldwide cloud.
    Global,
    /// US Government GCC High.
    USGovGCCHigh,
    /// US Government DoD.
    USGovDoD,
    /// Operated by 21Vianet.
    China,
}

/// How the service reaches the tenant's mail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    /// Through Microsoft Graph, after delivery.
    Api,
    /// In the mail flow.
    Inline,
}

/// Which mail an inline tenant routes through the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    /// Incoming mail.
    Inbound,
    /// Incoming and outgoing mail.
    InboundOutbound,
}

/// Which users are protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scope {
    /// Every user.
    All,
    /// The protected set.
    Selected,
}

/// `PUT /v1/tenants/{tenantId}`'s body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Registration {
    /// The tenant's GUID (equal to the path's).
    pub tenant_id: String,
    /// Its cloud.
    pub cloud: Cloud,
    /// Api or Inline.
    pub mode: Mode,
    /// Inline only (and required there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// All or Selected.
    pub scope: Scope,
    /// The tenant's verified domains.
    #[serde(default)]
    pub verified_domains: Vec<String>,
    /// The policies asked for, by name.
    #[serde(default)]
    pub policies: Vec<String>,
}

/// One user of the directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Directory object id.
    pub id: String,
    /// User principal name.
    pub user_principal_name: String,
    /// Primary SMTP address, when it has one.
    #[serde(default)]
    pub mail: Option<String>,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Whether the account can sign in.
    #[serde(default = "enabled")]
    pub account_enabled: bool,
}

fn enabled() -> bool {
    true
}

/// One group of the directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// Directory object id.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// The ids of its user members (transitive).
    #[serde(default)]
    pub members: Vec<String>,
}

/// The state of the operator's access to the tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenState {
    /// Tokens are issued and accepted.
    Valid,
    /// The grant or credential expired.
    Expired,
    /// The grant was revoked.
    Revoked,
    /// Admin consent or a permission is missing.
    ConsentMissing,
    /// The credential is refused.
    CredentialInvalid,
    /// The application is disabled or gone.
    AppDisabled,
    /// The tenant is not found.
    TenantNotFound,
    /// Not known for now (transient failures).
    Unknown,
}

/// Why Graph's notifications for some mailboxes may have been lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CatchUpReason {
    /// Graph said it dropped notifications (lifecycle event `missed`).
    Missed,
    /// Graph removed the subscription (lifecycle event `subscriptionRemoved`).
    SubscriptionRemoved,
    /// Delivery paused until the subscription is reauthorized (`reauthorizationRequired`).
    ReauthorizationRequired,
    /// The operator created the subscription again (it had expired or was gone).
    SubscriptionRecreated,
}

/// `POST /v1/tenants/{tenantId}/deliveries`'s body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// 1, 2, 3... per tenant.
    pub sequence: u64,
    /// What it carries, by `type`.
    #[serde(flatten)]
    pub body: Body,
}

/// Every delivery `type`, as [`Body::kind`] names them.
pub const TYPES: [&str; 7] = [
    "snapshotBegin",
    "snapshotPage",
    "snapshotEnd",
    "changes",
    "protectedSet",
    "tokenHealth",
    "mailboxCatchUp",
];

/// A delivery's content, tagged by `type`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Body {
    /// Opens a snapshot (discarding any other open one).
    SnapshotBegin {
        /// The snapshot's id.
        snapshot_id: String,
    },
    /// Users and groups of the open snapshot.
    SnapshotPage {
        /// The open snapshot's id.
        snapshot_id: String,
        /// Users.
        #[serde(default)]
        users: Vec<User>,
        /// Groups.
        #[serde(default)]
        groups: Vec<Group>,
    },
    /// Closes the snapshot: the directory becomes its content.
    SnapshotEnd {
        /// The open snapshot's id.
        snapshot_id: String,
        /// Distinct users sent in its pages.
        user_count: u64,
        /// Distinct groups sent in its pages.
        group_count: u64,
    },
    /// Incremental changes to the directory.
    Changes {
        /// Users added or replaced.
        #[serde(default)]
        users: Vec<User>,
        /// Ids of users removed.
        #[serde(default)]
        removed_users: Vec<String>,
        /// Groups added or replaced.
        #[serde(default)]
        groups: Vec<Group>,
        /// Ids of groups removed.
        #[serde(default)]
        removed_groups: Vec<String>,
    },
    /// Changes to the protected set (or, with `replace`, the whole set in `added`).
    ProtectedSet {
        /// Ids added (with `replace`: the new set).
        #[serde(default)]
        added: Vec<String>,
        /// Ids removed (empty with `replace`).
        #[serde(default)]
        removed: Vec<String>,
        /// The set becomes exactly `added`.
        #[serde(default)]
        replace: bool,
    },
    /// The operator's access to the tenant changed.
    TokenHealth {
        /// The new state.
        state: TokenState,
        /// Since when (RFC 3339).
        since: String,
        /// The operator's stable reason, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Graph's notifications for these mailboxes may have been lost since `since`; the
    /// service catches up on them itself.
    MailboxCatchUp {
        /// The users (mailboxes), 1 to 1000 distinct GUIDs.
        user_ids: Vec<String>,
        /// From when notifications may have been lost (RFC 3339).
        since: String,
        /// Why.
        reason: CatchUpReason,
    },
}

impl Body {
    /// How many users, groups and removed ids (or protected ids, or mailboxes to catch up
    /// on) it carries.
    pub fn items(&self) -> u64 {
        let n = match self {
            Body::SnapshotPage { users, groups, .. } => users.len() + groups.len(),
            Body::Changes {
                users,
                removed_users,
                groups,
                removed_groups,
            } => users.len() + removed_users.len() + groups.len() + removed_groups.len(),
            Body::ProtectedSet { added, removed, .. } => added.len() + removed.len(),
            Body::MailboxCatchUp { user_ids, .. } => user_ids.len(),
            _ => 0,
        };
        n as u64
    }

    /// The `type` as sent.
    pub fn kind(&self) -> &'static str {
        match self {
            Body::SnapshotBegin { .. } => "snapshotBegin",
            Body::SnapshotPage { .. } => "snapshotPage",
            Body::SnapshotEnd { .. } => "snapshotEnd",
            Body::Changes { .. } => "changes",
            Body::ProtectedSet { .. } => "protectedSet",
            Body::TokenHealth { .. } => "tokenHealth",
            Body::MailboxCatchUp { .. } => "mailboxCatchUp",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_type_reads_back_as_itself() {
        let examples = [
            json!({"type": "snapshotBegin", "snapshotId": "s"}),
            json!({"type": "snapshotPage", "snapshotId": "s"}),
            json!({"type": "snapshotEnd", "snapshotId": "s", "userCount": 0, "groupCount": 0}),
            json!({"type": "changes"}),
            json!({"type": "protectedSet"}),
            json!({"type": "tokenHealth", "state": "Valid", "since": "2025-01-01T00:00:00Z"}),
            json!({"type": "mailboxCatchUp", "userIds": ["7d3e9f4a-1b2c-4d5e-8f6a-0b1c2d3e4f5a"],
                "since": "2025-01-01T00:00:00Z", "reason": "Missed"}),
        ];
        assert_eq!(examples.len(), TYPES.len());
        for (example, kind) in examples.into_iter().zip(TYPES) {
            let body: Body = serde_json::from_value(example.clone()).unwrap();
            assert_eq!(body.kind(), kind);
            assert_eq!(serde_json::to_value(&body).unwrap()["type"], kind);
        }
    }
}
