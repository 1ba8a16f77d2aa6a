//! The directory reads of a grant: who the application is in the tenant and what it was
//! granted, users and groups to protect, mail domains, and delta rounds.

use futures::{Stream, TryStreamExt};

use super::models::{AppRoleAssignment, DirectoryObject, Domain, Group, ServicePrincipal, User};
use super::{GraphClient, GraphError, MAX_PAGE, Page, odata_string, path_segment, query_value};
use crate::microsoft::identity::token::AccessToken;

/// Properties read for users.
pub const USER_SELECT: &str =
    "id,userPrincipalName,displayName,mail,accountEnabled,createdDateTime";
/// Properties read for groups in a delta round (`members` tracks membership).
pub const GROUP_DELTA_SELECT: &str = "id,displayName,createdDateTime,members";

/// Where a delta round starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeltaStart {
    /// A full round from the beginning.
    Initial,
    /// The delta link stored after the previous round.
    Link(String),
}

impl DeltaStart {
    /// The path of the round's first page: `initial` for a full round, else the stored link.
    fn into_path(self, initial: String) -> String {
        match self {
            Self::Initial => initial,
            Self::Link(link) => link,
        }
    }
}

/// What the tenant granted the application on one resource.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grants {
    /// The application's service principal, `None` when it was never consented in the tenant.
    pub service_principal: Option<ServicePrincipal>,
    /// The resource's service principal id.
    pub resource_id: Option<String>,
    /// App role ids granted on the resource.
    pub app_role_ids: Vec<String>,
}

impl GraphClient {
    /// The service principal of application `app_id` in the tenant, if any.
    pub async fn service_principal(
        &self,
        token: &AccessToken,
        app_id: &str,
    ) -> Result<Option<ServicePrincipal>, GraphError> {
        let path = format!(
            "/servicePrincipals?$filter={}&$select=id,appId,displayName",
            query_value(&format!("appId eq {}", odata_string(app_id)))
        );
        let page: Page<ServicePrincipal> = self.get(token, &path, false).await?;
        Ok(page.value.into_iter().next())
    }

    /// The app roles granted to service principal `sp_id`, on every resource.
    pub async fn app_role_assignments(
        &self,
        token: &AccessToken,
        sp_id: &str,
    ) -> Result<Vec<AppRoleAssignment>, GraphError> {
        let path = format!(
            "/servicePrincipals/{}/appRoleAssignments?$select=appRoleId,resourceId",
            path_segment(sp_id)
        );
        self.collect_all(token, path).await
    }

    /// What application `client_app_id` was granted on `resource_app_id`: both service
    /// principals are looked up concurrently, then the assignments are read.
    pub async fn grants(
        &self,
        token: &AccessToken,
        client_app_id: &str,
        resource_app_id: &str,
    ) -> Result<Grants, GraphError> {
        let (ours, resource) = futures::try_join!(
            self.service_principal(token, client_app_id),
            self.service_principal(token, resource_app_id)
        )?;
        let Some(ours) = ours else {
            return Ok(Grants::default());
        };
        let resource_id = resource.map(|r| r.id);
        let app_role_ids = match &resource_id {
            Some(rid) => self
                .app_role_assignments(token, &ours.id)
                .await?
                .into_iter()
                .filter(|a| &a.resource_id == rid)
                .map(|a| a.app_role_id)
                .collect(),
            None => Vec::new(),
        };
        Ok(Grants {
            service_principal: Some(ours),
            resource_id,
            app_role_ids,
        })
    }

    /// The user with this exact user principal name, `None` when there is none.
    pub async fn user_by_upn(
        &self,
        token: &AccessToken,
        upn: &str,
    ) -> Result<Option<User>, GraphError> {
        let path = format!("/users/{}?$select={USER_SELECT}", path_segment(upn));
        self.get_if_exists(token, &path).await
    }

    /// Groups whose display name starts with `prefix`, at most `limit`.
    pub async fn groups_starting_with(
        &self,
        token: &AccessToken,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<Group>, GraphError> {
        let path = format!(
            "/groups?$filter={}&$select=id,displayName&$top={MAX_PAGE}",
            query_value(&format!("startswith(displayName,{})", odata_string(prefix)))
        );
        let mut out = Vec::new();
        let mut pages = std::pin::pin!(self.pages::<Group>(token, path, false));
        while let Some(page) = pages.try_next().await? {
            out.extend(page.value);
            if out.len() >= limit {
                out.truncate(limit);
                break;
            }
        }
        Ok(out)
    }

    /// The group with object id `id`, `None` when there is none.
    pub async fn group(&self, token: &AccessToken, id: &str) -> Result<Option<Group>, GraphError> {
        let path = format!("/groups/{}?$select=id,displayName", path_segment(id));
        self.get_if_exists(token, &path).await
    }

    /// Pages of a group's transitive members (users, nested groups and others; Graph flattens
    /// nesting and cycles).
    pub fn transitive_members<'a>(
        &'a self,
        token: &'a AccessToken,
        group_id: &str,
    ) -> impl Stream<Item = Result<Page<DirectoryObject>, GraphError>> + 'a {
        let path = format!(
            "/groups/{}/transitiveMembers?$select=id,userPrincipalName,displayName,mail,accountEnabled&$top={MAX_PAGE}",
            path_segment(group_id)
        );
        self.pages(token, path, false)
    }

    /// The tenant's domains.
    pub async fn domains(&self, token: &AccessToken) -> Result<Vec<Domain>, GraphError> {
        self.collect_all(token, "/domains".into()).await
    }

    /// Pages of a users delta round.
    pub fn users_delta<'a>(
        &'a self,
        token: &'a AccessToken,
        start: DeltaStart,
    ) -> impl Stream<Item = Result<Page<User>, GraphError>> + 'a {
        let initial = format!("/users/delta?$select={USER_SELECT}");
        self.pages(token, start.into_path(initial), false)
    }

    /// Pages of a groups delta round (with membership changes).
    pub fn groups_delta<'a>(
        &'a self,
        token: &'a AccessToken,
        start: DeltaStart,
    ) -> impl Stream<Item = Result<Page<Group>, GraphError>> + 'a {
        let initial = format!("/groups/delta?$select={GROUP_DELTA_SELECT}");
        self.pages(token, start.into_path(initial), false)
    }
}
