//! `SyncTargetList` (`stl`): the users and groups an ExchangeServiceAccount with scope
//! `Selected` protects.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::common::{GUID_PATTERN, LocalObjectReference, UPN_PATTERN};

/// Most users one list may select, listed or brought in by groups (the service's limit).
pub const MAX_USERS: usize = 100;

/// The users to protect for an ExchangeServiceAccount whose sync scope is `Selected`: users by
/// exact user principal name, and members of groups found by name prefix or id. At most 100
/// users in all.
// kube's derive takes one `printcolumn(...)` per column, which clippy reads as duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "exo-operator.io",
    version = "v1alpha1",
    kind = "SyncTargetList",
    namespaced,
    shortname = "stl",
    category = "exo",
    status = "SyncTargetListStatus",
    derive = "PartialEq",
    doc = "The users and groups an ExchangeServiceAccount with sync scope Selected protects (at most 100 users).",
    printcolumn(
        name = "Account",
        type_ = "string",
        json_path = ".spec.serviceAccountRef.name"
    ),
    printcolumn(
        name = "Users",
        type_ = "integer",
        description = "Users resolved from the list",
        json_path = ".status.userCount"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        priority = 1,
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(
    validation = Rule::new("size(self.users) + size(self.groups) > 0")
        .message("list at least one user or group")
        .field_path(".users")
        .reason(Reason::FieldValueRequired)
)]
#[serde(rename_all = "camelCase")]
pub struct SyncTargetListSpec {
    /// The ExchangeServiceAccount, in the same namespace, whose protection this list selects.
    pub service_account_ref: LocalObjectReference,
    /// Users by exact user principal name (`alice@contoso.com`). At most 100, no duplicates.
    #[serde(default)]
    #[schemars(length(max = 100), inner(length(min = 3, max = 113), regex(pattern = UPN_PATTERN)))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub users: Vec<String>,
    /// Groups whose members (including nested groups) are protected, by display-name prefix
    /// or by group id.
    #[serde(default)]
    #[schemars(length(max = 50))]
    pub groups: Vec<GroupTarget>,
}

/// A group selected by display-name prefix or by object id; exactly one of the two.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.namePrefix) != has(self.id)")
        .message("set exactly one of namePrefix and id")
        .reason(Reason::FieldValueInvalid)
)]
pub struct GroupTarget {
    /// The beginning of the groups' display name, at least 3 characters. Every group whose
    /// display name starts with it is selected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 3, max = 256))]
    #[x_kube(
        validation = Rule::new("size(self.trim()) >= 3")
            .message("namePrefix needs at least 3 characters besides spaces")
    )]
    pub name_prefix: Option<String>,
    /// The group's object id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 36, max = 36), regex(pattern = GUID_PATTERN))]
    pub id: Option<String>,
}

/// Observed state of the list.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncTargetListStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Current state: `Ready` summarises; `Resolved` tells whether every entry was found and
    /// the total is within the limit; `ServiceAccountReady` whether the referenced account can
    /// sync.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// The users the list resolved to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resolved_users: Vec<ResolvedUser>,
    /// Entries that could not be resolved, with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unresolved: Vec<UnresolvedEntry>,
    /// Number of resolved users.
    #[serde(default)]
    pub user_count: i64,
    /// When the list was last resolved against the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_resolved_time: Option<Time>,
}

/// A user the list resolved to.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedUser {
    /// The user's object id.
    pub id: String,
    /// The user's principal name.
    pub user_principal_name: String,
    /// The user's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The entries that brought the user in: the UPN as listed, or `group:<namePrefix or id>`.
    pub via: Vec<String>,
}

/// An entry that did not resolve.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnresolvedEntry {
    /// The entry as listed: a UPN, or `group:<namePrefix or id>`.
    pub entry: String,
    /// Why: `UserNotFound`, `GroupNotFound`, `NoUserMembers`, `LimitExceeded`.
    pub reason: String,
    /// Detail for a human.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
