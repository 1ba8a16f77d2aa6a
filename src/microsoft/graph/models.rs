//! The Graph objects the operator reads, with only the properties it selects.

use serde::Deserialize;

/// `@removed` on a delta item: the object left the directory (`deleted`) or the query's scope
/// (`changed`, e.g. soft-deleted); both mean "gone" for the operator.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Removed {
    /// `changed` or `deleted`.
    #[serde(default)]
    pub reason: String,
}

/// A user.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Object id.
    pub id: String,
    /// User principal name.
    #[serde(default)]
    pub user_principal_name: Option<String>,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Primary SMTP address.
    #[serde(default)]
    pub mail: Option<String>,
    /// Whether the account can sign in (absent when not selected).
    #[serde(default)]
    pub account_enabled: Option<bool>,
    /// Creation time (RFC 3339), to tell new users from changed ones in a delta round.
    #[serde(default)]
    pub created_date_time: Option<String>,
    /// Set when the user was removed (delta only).
    #[serde(default, rename = "@removed")]
    pub removed: Option<Removed>,
}

/// A member reference in `members@delta`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct MemberRef {
    /// `#microsoft.graph.user`, `#microsoft.graph.group`, ...
    #[serde(default, rename = "@odata.type")]
    pub odata_type: Option<String>,
    /// Object id.
    pub id: String,
    /// Set when the member was removed.
    #[serde(default, rename = "@removed")]
    pub removed: Option<Removed>,
}

/// A group.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// Object id.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Creation time (RFC 3339).
    #[serde(default)]
    pub created_date_time: Option<String>,
    /// Set when the group was removed (delta only).
    #[serde(default, rename = "@removed")]
    pub removed: Option<Removed>,
    /// Membership changes (delta with `members` selected).
    #[serde(default, rename = "members@delta")]
    pub members_delta: Vec<MemberRef>,
}

/// A directory object as listed in a group's members.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryObject {
    /// `#microsoft.graph.user`, `#microsoft.graph.group`, ...
    #[serde(default, rename = "@odata.type")]
    pub odata_type: Option<String>,
    /// Object id.
    pub id: String,
    /// User principal name (users only).
    #[serde(default)]
    pub user_principal_name: Option<String>,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Primary SMTP address (users only, when selected).
    #[serde(default)]
    pub mail: Option<String>,
    /// Whether the account is enabled (users only, when selected).
    #[serde(default)]
    pub account_enabled: Option<bool>,
}

impl DirectoryObject {
    /// True for users.
    pub fn is_user(&self) -> bool {
        self.odata_type.as_deref() == Some("#microsoft.graph.user")
    }
}

/// A domain of the tenant.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Domain {
    /// The domain name.
    pub id: String,
    /// Verified by the tenant.
    #[serde(default)]
    pub is_verified: bool,
    /// Services it is enabled for (`Email`, ...).
    #[serde(default)]
    pub supported_services: Vec<String>,
}

impl Domain {
    /// A verified domain that receives mail.
    pub fn is_mail_domain(&self) -> bool {
        self.is_verified && self.supported_services.iter().any(|s| s == "Email")
    }
}

/// A service principal (an application's instance in the tenant).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipal {
    /// Object id.
    pub id: String,
    /// Application (client) id.
    #[serde(default)]
    pub app_id: String,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
}

/// An application permission granted to a service principal.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AppRoleAssignment {
    /// The app role (permission) id.
    pub app_role_id: String,
    /// The resource's service principal id.
    pub resource_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delta_items_carry_removals_and_member_changes() {
        let g: Group = serde_json::from_str(
            r##"{"id":"g1","displayName":"Sales","members@delta":[
                {"@odata.type":"#microsoft.graph.user","id":"u1"},
                {"@odata.type":"#microsoft.graph.user","id":"u2","@removed":{"reason":"deleted"}}]}"##,
        )
        .unwrap();
        assert_eq!(g.members_delta.len(), 2);
        assert!(g.members_delta[1].removed.is_some());
        let u: User =
            serde_json::from_str(r#"{"id":"u9","@removed":{"reason":"changed"}}"#).unwrap();
        assert_eq!(u.removed.unwrap().reason, "changed");
    }

    #[test]
    fn mail_domains_are_verified_and_email_capable() {
        let d: Domain = serde_json::from_str(
            r#"{"id":"contoso.com","isVerified":true,"supportedServices":["Email","OfficeCommunicationsOnline"]}"#,
        )
        .unwrap();
        assert!(d.is_mail_domain());
        let unverified = Domain {
            is_verified: false,
            ..d
        };
        assert!(!unverified.is_mail_domain());
    }
}
