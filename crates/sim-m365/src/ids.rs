//! Microsoft's published identifiers, as the simulator's own literals: the application ids of
//! first-party APIs, their app roles (application permissions) and the directory role
//! templates. Written from Microsoft Learn ("Microsoft Graph permissions reference", "Microsoft
//! Entra built-in roles", "Office 365 Management APIs", "App-only authentication in Exchange
//! Online PowerShell"), never from the operator's tables: a wrong identifier in either shows up
//! as a refused grant or a missing role in the tests.

/// Application id of Microsoft Graph.
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
/// Application id of Office 365 Exchange Online.
pub const EXCHANGE_APP_ID: &str = "00000002-0000-0ff1-ce00-000000000000";
/// Application id of the Office 365 Management APIs.
pub const MANAGEMENT_APP_ID: &str = "c5393580-f805-4401-95e8-94b7a6ef2fc2";

/// Template id of the Global Administrator role.
pub const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";
/// Template id of the Exchange Administrator role.
pub const EXCHANGE_ADMINISTRATOR: &str = "29232cdf-9323-42fd-ade2-1d097af3e4de";

/// Directory roles the simulator knows: (template id, display name).
pub const ROLES: &[(&str, &str)] = &[
    (GLOBAL_ADMINISTRATOR, "Global Administrator"),
    (EXCHANGE_ADMINISTRATOR, "Exchange Administrator"),
    (
        "e8611ab8-c189-46e8-94e1-60213ab1f814",
        "Privileged Role Administrator",
    ),
    (
        "194ae4cb-b126-40b2-bd5b-6091b380977d",
        "Security Administrator",
    ),
    ("f2ef992c-3afb-46b9-b7cf-a126ee74c451", "Global Reader"),
];

/// Application permissions the simulator knows: (value, resource app id, app-role id).
pub const PERMISSIONS: &[(&str, &str, &str)] = &[
    (
        "User.Read.All",
        GRAPH_APP_ID,
        "df021288-bdef-4463-88db-98f22de89214",
    ),
    (
        "Group.Read.All",
        GRAPH_APP_ID,
        "5b567255-7703-4780-807c-7be8301ae99b",
    ),
    (
        "Domain.Read.All",
        GRAPH_APP_ID,
        "dbb9058a-0e50-45d7-ae91-66909b5d4664",
    ),
    (
        "Mail.ReadWrite",
        GRAPH_APP_ID,
        "e2a3a72e-5f79-4c64-b1b1-878b674786c9",
    ),
    (
        "Application.Read.All",
        GRAPH_APP_ID,
        "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
    ),
    (
        "RoleManagement.ReadWrite.Directory",
        GRAPH_APP_ID,
        "9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8",
    ),
    (
        "Directory.Read.All",
        GRAPH_APP_ID,
        "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
    ),
    (
        "GroupMember.Read.All",
        GRAPH_APP_ID,
        "98830695-27a2-44f7-8c18-0c3ebc9698f6",
    ),
    (
        "Organization.Read.All",
        GRAPH_APP_ID,
        "498476ce-e0fe-48b0-b801-37ba7e2685c6",
    ),
    (
        "RoleManagement.Read.Directory",
        GRAPH_APP_ID,
        "483bed4a-2ad3-4361-a73b-c83ccdbdc53c",
    ),
    (
        "Mail.Read",
        GRAPH_APP_ID,
        "810c84a8-4a9e-49e6-bf7d-12d183f40d01",
    ),
    (
        "Mail.ReadBasic",
        GRAPH_APP_ID,
        "6be147d2-ea4f-4b5a-a3fa-3eab6f3c140a",
    ),
    (
        "Mail.ReadBasic.All",
        GRAPH_APP_ID,
        "693c5e45-0940-467d-9b8a-1022fb9d42ef",
    ),
    (
        "Exchange.ManageAsApp",
        EXCHANGE_APP_ID,
        "dc50a0fb-09a3-484d-be87-e023b12c6440",
    ),
    (
        "ActivityFeed.Read",
        MANAGEMENT_APP_ID,
        "594c1fb6-4f81-4475-ae41-0c394909246c",
    ),
];

/// The display name of a first-party resource application.
pub fn resource_name(app_id: &str) -> Option<&'static str> {
    match app_id {
        GRAPH_APP_ID => Some("Microsoft Graph"),
        EXCHANGE_APP_ID => Some("Office 365 Exchange Online"),
        MANAGEMENT_APP_ID => Some("Office 365 Management APIs"),
        _ => None,
    }
}

/// Resource applications whose manifest sets `accessTokenAcceptedVersion` to 2. Microsoft
/// Graph, Exchange Online and the Office 365 Management APIs are not among them: they get v1.0
/// tokens (Learn: "Access tokens in the Microsoft identity platform", "Token formats").
const V2_RESOURCES: &[&str] = &[];

/// The access-token version resource application `resource_app` accepts: 2 when its manifest
/// says so, else 1 (also when it sets nothing).
pub fn access_token_version(resource_app: &str) -> u8 {
    if V2_RESOURCES.contains(&resource_app) {
        2
    } else {
        1
    }
}

/// The resource app id of a permission name, and its app-role id.
pub fn permission(name: &str) -> Option<(&'static str, &'static str)> {
    PERMISSIONS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, r, id)| (*r, *id))
}

/// The permission name of an app-role id.
pub fn permission_name(role_id: &str) -> Option<&'static str> {
    PERMISSIONS
        .iter()
        .find(|(_, _, id)| *id == role_id)
        .map(|(n, _, _)| *n)
}

/// The resource app id of a token audience or `.default` scope resource.
pub fn resource_of(audience: &str) -> Option<&'static str> {
    let a = audience.trim_end_matches('/');
    match a {
        "https://graph.microsoft.com"
        | "https://graph.microsoft.us"
        | "https://dod-graph.microsoft.us"
        | "https://microsoftgraph.chinacloudapi.cn"
        | GRAPH_APP_ID => Some(GRAPH_APP_ID),
        "https://outlook.office365.com"
        | "https://outlook.office.com"
        | "https://outlook.office365.us"
        | "https://webmail.apps.mil"
        | "https://partner.outlook.cn"
        | EXCHANGE_APP_ID => Some(EXCHANGE_APP_ID),
        "https://manage.office.com"
        | "https://manage.office365.us"
        | "https://manage-gcc.office.com"
        | "https://manage.protection.apps.mil"
        | "https://manage.chinacloudapi.cn"
        | MANAGEMENT_APP_ID => Some(MANAGEMENT_APP_ID),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_permission_has_one_role_id_and_a_known_resource() {
        for (name, resource, id) in PERMISSIONS {
            assert_eq!(permission(name), Some((*resource, *id)));
            assert_eq!(permission_name(id), Some(*name));
            assert!(resource_name(resource).is_some(), "{name}");
        }
    }
}
