//! The permissions each configuration needs, in one place. They are requested through admin
//! consent (`.default` scopes grant what the app registration lists) and verified against the
//! `roles` of a fresh app-only token and the service principal's app-role assignments.

use exo_api::exchange_service_account::{ExchangeServiceAccountSpec, Mode, RoleAssignmentMode};

/// Application id of Microsoft Graph.
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
/// Application id of Office 365 Exchange Online.
pub const EXCHANGE_APP_ID: &str = "00000002-0000-0ff1-ce00-000000000000";
/// Application id of the Office 365 Management APIs.
pub const MANAGEMENT_APP_ID: &str = "c5393580-f805-4401-95e8-94b7a6ef2fc2";

/// The API that defines a permission.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Resource {
    /// Microsoft Graph.
    Graph,
    /// Office 365 Exchange Online.
    Exchange,
    /// Office 365 Management APIs.
    Management,
}

/// An application permission (app role) of a resource API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Permission {
    /// The API that defines it.
    pub resource: Resource,
    /// Its value, as in a token's `roles` claim.
    pub name: &'static str,
    /// Its app-role id.
    pub id: &'static str,
    /// What the operator uses it for.
    pub purpose: &'static str,
}

/// Read users (directory sync, SyncTargetList resolution).
pub const USER_READ_ALL: Permission = Permission {
    resource: Resource::Graph,
    name: "User.Read.All",
    id: "df021288-bdef-4463-88db-98f22de89214",
    purpose: "read users for directory sync and target lists",
};
/// Read groups and their members.
pub const GROUP_READ_ALL: Permission = Permission {
    resource: Resource::Graph,
    name: "Group.Read.All",
    id: "5b567255-7703-4780-807c-7be8301ae99b",
    purpose: "read groups and their members",
};
/// Read the tenant's domains.
pub const DOMAIN_READ_ALL: Permission = Permission {
    resource: Resource::Graph,
    name: "Domain.Read.All",
    id: "dbb9058a-0e50-45d7-ae91-66909b5d4664",
    purpose: "read verified mail domains",
};
/// Read and remediate mail in every mailbox (API mode).
pub const MAIL_READ_WRITE: Permission = Permission {
    resource: Resource::Graph,
    name: "Mail.ReadWrite",
    id: "e2a3a72e-5f79-4c64-b1b1-878b674786c9",
    purpose: "scan and remediate messages in protected mailboxes",
};
/// Read the service principal's own app-role assignments and role assignments.
pub const APPLICATION_READ_ALL: Permission = Permission {
    resource: Resource::Graph,
    name: "Application.Read.All",
    id: "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
    purpose: "confirm granted permissions through app-role assignments",
};
/// Assign the Exchange Administrator role (inline mode, automatic role assignment).
pub const ROLE_MANAGEMENT_READ_WRITE: Permission = Permission {
    resource: Resource::Graph,
    name: "RoleManagement.ReadWrite.Directory",
    id: "9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8",
    purpose: "assign the Exchange Administrator role to the service principal",
};
/// Manage Exchange Online as the application (inline mode).
pub const EXCHANGE_MANAGE_AS_APP: Permission = Permission {
    resource: Resource::Exchange,
    name: "Exchange.ManageAsApp",
    id: "dc50a0fb-09a3-484d-be87-e023b12c6440",
    purpose: "configure Exchange mail flow: connectors, transport rules, groups, allow lists",
};
/// Read the organization's activity data (optional).
pub const ACTIVITY_FEED_READ: Permission = Permission {
    resource: Resource::Management,
    name: "ActivityFeed.Read",
    id: "594c1fb6-4f81-4475-ae41-0c394909246c",
    purpose: "read activity data to enhance protection based on user behaviour",
};

/// Every permission the operator may request.
pub const ALL: &[Permission] = &[
    USER_READ_ALL,
    GROUP_READ_ALL,
    DOMAIN_READ_ALL,
    MAIL_READ_WRITE,
    APPLICATION_READ_ALL,
    ROLE_MANAGEMENT_READ_WRITE,
    EXCHANGE_MANAGE_AS_APP,
    ACTIVITY_FEED_READ,
];

/// The application id of `resource`.
pub fn resource_app_id(resource: Resource) -> &'static str {
    match resource {
        Resource::Graph => GRAPH_APP_ID,
        Resource::Exchange => EXCHANGE_APP_ID,
        Resource::Management => MANAGEMENT_APP_ID,
    }
}

/// The permissions `spec` needs, Graph first, without duplicates.
pub fn required(spec: &ExchangeServiceAccountSpec) -> Vec<Permission> {
    let mut out = vec![
        USER_READ_ALL,
        GROUP_READ_ALL,
        DOMAIN_READ_ALL,
        APPLICATION_READ_ALL,
    ];
    match spec.mode {
        Mode::Api => out.push(MAIL_READ_WRITE),
        Mode::Inline => {
            let automatic = spec
                .inline
                .as_ref()
                .is_none_or(|i| i.role_assignment.mode == RoleAssignmentMode::Automatic);
            if automatic {
                out.push(ROLE_MANAGEMENT_READ_WRITE);
            }
            out.push(EXCHANGE_MANAGE_AS_APP);
        }
    }
    if spec.activity_data {
        out.push(ACTIVITY_FEED_READ);
    }
    out
}

/// The permissions of `required` that `granted` (role values of a token's `roles` claim, for
/// `resource`) lacks.
pub fn missing<'a>(
    required: &'a [Permission],
    resource: Resource,
    granted: &[String],
) -> Vec<&'a Permission> {
    required
        .iter()
        .filter(|p| p.resource == resource && !granted.iter().any(|g| g == p.name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use exo_api::exchange_service_account::*;

    fn spec(
        mode: Mode,
        inline: Option<InlineSpec>,
        activity_data: bool,
    ) -> ExchangeServiceAccountSpec {
        serde_json::from_value(serde_json::json!({
            "tenant": "contoso.com",
            "mode": mode,
            "serviceRef": {"name": "mail-security"},
            "inline": inline,
            "activityData": activity_data,
        }))
        .unwrap()
    }

    fn names<'a>(perms: impl IntoIterator<Item = &'a Permission>) -> Vec<&'static str> {
        perms.into_iter().map(|p| p.name).collect()
    }

    fn inline(mode: RoleAssignmentMode) -> Option<InlineSpec> {
        Some(InlineSpec {
            direction: Direction::Inbound,
            role_assignment: RoleAssignment {
                mode,
                ..Default::default()
            },
            mail_flow: MailFlow {
                name_prefix: "exo".into(),
                drift_policy: DriftPolicy::Correct,
                ..MailFlow::default()
            },
        })
    }

    #[test]
    fn api_mode_needs_directory_read_and_mail_access() {
        assert_eq!(
            names(&required(&spec(Mode::Api, None, false))),
            [
                "User.Read.All",
                "Group.Read.All",
                "Domain.Read.All",
                "Application.Read.All",
                "Mail.ReadWrite"
            ]
        );
        assert!(names(&required(&spec(Mode::Api, None, true))).contains(&"ActivityFeed.Read"));
    }

    #[test]
    fn inline_mode_needs_exchange_management_and_role_assignment_when_automatic() {
        let automatic = names(&required(&spec(
            Mode::Inline,
            inline(RoleAssignmentMode::Automatic),
            false,
        )));
        assert!(automatic.contains(&"Exchange.ManageAsApp"));
        assert!(automatic.contains(&"RoleManagement.ReadWrite.Directory"));
        assert!(!automatic.contains(&"Mail.ReadWrite"));
        let manual = names(&required(&spec(
            Mode::Inline,
            inline(RoleAssignmentMode::Manual),
            false,
        )));
        assert!(!manual.contains(&"RoleManagement.ReadWrite.Directory"));
    }

    #[test]
    fn every_configuration_asks_for_permissions_of_the_table_and_together_for_all_of_it() {
        let mut asked = std::collections::BTreeSet::new();
        let configurations = [
            (Mode::Api, None),
            (Mode::Inline, inline(RoleAssignmentMode::Automatic)),
            (Mode::Inline, inline(RoleAssignmentMode::Manual)),
        ];
        for (mode, inline) in configurations {
            for activity in [false, true] {
                for p in required(&spec(mode, inline.clone(), activity)) {
                    assert!(ALL.contains(&p), "{} is not in ALL", p.name);
                    asked.insert(p.name);
                }
            }
        }
        assert_eq!(asked.len(), ALL.len());
    }

    #[test]
    fn missing_compares_token_roles_per_resource() {
        let req = required(&spec(
            Mode::Inline,
            inline(RoleAssignmentMode::Automatic),
            false,
        ));
        let granted = vec!["User.Read.All".to_string(), "Group.Read.All".to_string()];
        assert_eq!(
            names(missing(&req, Resource::Graph, &granted)),
            [
                "Domain.Read.All",
                "Application.Read.All",
                "RoleManagement.ReadWrite.Directory"
            ]
        );
        assert_eq!(
            names(missing(&req, Resource::Exchange, &[])),
            ["Exchange.ManageAsApp"]
        );
    }
}
