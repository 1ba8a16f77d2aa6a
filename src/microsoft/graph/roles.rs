//! Directory roles through Graph: the Exchange Administrator role for the service principal,
//! assigned directly or through a Privileged Identity Management `adminAssign` request, read
//! back, and removed.

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::{GraphClient, GraphError, GraphFailure, absent_as_none, odata_string, path_segment};
use crate::microsoft::identity::token::AccessToken;

/// Template id of the Exchange Administrator role (the same in every tenant).
pub const EXCHANGE_ADMINISTRATOR: &str = "29232cdf-9323-42fd-ade2-1d097af3e4de";
/// Template id of the Global Administrator role.
pub const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";

/// The directory's role assignments.
const ROLE_ASSIGNMENTS: &str = "/roleManagement/directory/roleAssignments";
/// Privileged Identity Management's assignment requests.
const SCHEDULE_REQUESTS: &str = "/roleManagement/directory/roleAssignmentScheduleRequests";

/// An active role assignment.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignment {
    /// Assignment id.
    pub id: String,
    /// The principal's object id.
    pub principal_id: String,
    /// The role definition (template) id.
    pub role_definition_id: String,
}

/// A Privileged Identity Management schedule request.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleRequest {
    /// Request id.
    pub id: String,
    /// `Provisioned`, `Granted`, `PendingApproval`, `Failed`, `Denied`, ...
    #[serde(default)]
    pub status: String,
    /// The principal's object id.
    #[serde(default)]
    pub principal_id: String,
    /// The role definition id.
    #[serde(default)]
    pub role_definition_id: String,
}

impl ScheduleRequest {
    /// The request took effect.
    pub fn is_done(&self) -> bool {
        matches!(self.status.as_str(), "Provisioned" | "Granted")
    }

    /// The request awaits an approver.
    pub fn is_pending(&self) -> bool {
        self.status.starts_with("Pending")
    }
}

/// What asking for a role produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoleRequestOutcome {
    /// Assigned (now, or it already was).
    Assigned(Option<String>),
    /// A Privileged Identity Management request was made (or already pending): its id and status.
    Requested(ScheduleRequest),
    /// Refused by a role-management policy or the request's content: Graph's code.
    Refused(String),
}

impl RoleRequestOutcome {
    /// Refused with the code of Graph's `400` answer.
    fn refused(error: GraphError) -> Self {
        Self::Refused(error.code.unwrap_or_else(|| "BadRequest".into()))
    }
}

/// What Graph's `400` to a Privileged Identity Management request means, by its code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PimRefusal {
    /// `RoleAssignmentExists`: the role is assigned already.
    AlreadyAssigned,
    /// `PendingRoleAssignmentRequest`: a request for it awaits approval already.
    AlreadyRequested,
    /// Anything else (a policy rule, a role or principal not found): refused.
    Refused,
}

impl PimRefusal {
    /// The meaning of Graph's `code`.
    fn of(code: Option<&str>) -> Self {
        match code {
            Some("RoleAssignmentExists") => Self::AlreadyAssigned,
            Some("PendingRoleAssignmentRequest") => Self::AlreadyRequested,
            _ => Self::Refused,
        }
    }
}

impl GraphClient {
    /// Active assignments of `role` to `principal`.
    pub async fn role_assignments(
        &self,
        token: &AccessToken,
        principal: &str,
        role: &str,
    ) -> Result<Vec<RoleAssignment>, GraphError> {
        let filter = format!(
            "principalId eq {} and roleDefinitionId eq {}",
            odata_string(principal),
            odata_string(role)
        );
        self.filtered_first_page(token, ROLE_ASSIGNMENTS, &filter)
            .await
    }

    /// The id of an active assignment of `role` to `principal`, if there is one.
    pub async fn assignment_id(
        &self,
        token: &AccessToken,
        principal: &str,
        role: &str,
    ) -> Result<Option<String>, GraphError> {
        Ok(self
            .role_assignments(token, principal, role)
            .await?
            .into_iter()
            .next()
            .map(|a| a.id))
    }

    /// Assigns `role` to `principal` (a service principal's object id) at tenant scope. An
    /// existing assignment is recognised and returned.
    pub async fn assign_role(
        &self,
        token: &AccessToken,
        principal: &str,
        role: &str,
    ) -> Result<RoleRequestOutcome, GraphError> {
        if let Some(id) = self.assignment_id(token, principal, role).await? {
            return Ok(RoleRequestOutcome::Assigned(Some(id)));
        }
        let body = json!({
            "@odata.type": "#microsoft.graph.unifiedRoleAssignment",
            "roleDefinitionId": role,
            "principalId": principal,
            "directoryScopeId": "/",
        });
        match self
            .write(token, Method::POST, ROLE_ASSIGNMENTS, Some(&body))
            .await
        {
            Ok(created) => Ok(RoleRequestOutcome::Assigned(
                created.and_then(|c| c["id"].as_str().map(String::from)),
            )),
            // "A conflicting object ... is present": assigned meanwhile; confirm with a read.
            Err(e) if e.failure == GraphFailure::BadRequest => {
                match self.assignment_id(token, principal, role).await? {
                    Some(id) => Ok(RoleRequestOutcome::Assigned(Some(id))),
                    None => Ok(RoleRequestOutcome::refused(e)),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Asks Privileged Identity Management for a permanent active assignment of `role` to
    /// `principal`, with `justification`. An existing assignment or an open request for the
    /// same role is recognised instead of asking twice.
    pub async fn request_role(
        &self,
        token: &AccessToken,
        principal: &str,
        role: &str,
        justification: &str,
    ) -> Result<RoleRequestOutcome, GraphError> {
        if let Some(id) = self.assignment_id(token, principal, role).await? {
            return Ok(RoleRequestOutcome::Assigned(Some(id)));
        }
        if let Some(open) = self.open_request(token, principal, role).await? {
            return Ok(RoleRequestOutcome::Requested(open));
        }
        let body = json!({
            "action": "adminAssign",
            "justification": justification,
            "roleDefinitionId": role,
            "directoryScopeId": "/",
            "principalId": principal,
            "scheduleInfo": {
                "startDateTime": jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
                "expiration": {"type": "noExpiration"},
            },
        });
        match self
            .write(token, Method::POST, SCHEDULE_REQUESTS, Some(&body))
            .await
        {
            Ok(Some(created)) => match serde_json::from_value::<ScheduleRequest>(created) {
                Ok(r) if r.is_done() => Ok(RoleRequestOutcome::Assigned(None)),
                Ok(r) => Ok(RoleRequestOutcome::Requested(r)),
                Err(_) => Ok(RoleRequestOutcome::Assigned(None)),
            },
            Ok(None) => Ok(RoleRequestOutcome::Assigned(None)),
            Err(e) if e.failure == GraphFailure::BadRequest => {
                match PimRefusal::of(e.code.as_deref()) {
                    PimRefusal::AlreadyAssigned => Ok(RoleRequestOutcome::Assigned(None)),
                    // Asked meanwhile (by another replica or a person): follow that request.
                    PimRefusal::AlreadyRequested => {
                        match self.open_request(token, principal, role).await? {
                            Some(open) => Ok(RoleRequestOutcome::Requested(open)),
                            None => Ok(RoleRequestOutcome::refused(e)),
                        }
                    }
                    PimRefusal::Refused => Ok(RoleRequestOutcome::refused(e)),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// A Privileged Identity Management request for `role` to `principal` awaiting approval.
    pub async fn open_request(
        &self,
        token: &AccessToken,
        principal: &str,
        role: &str,
    ) -> Result<Option<ScheduleRequest>, GraphError> {
        Ok(self
            .schedule_requests(token, principal)
            .await?
            .into_iter()
            .find(|r| r.role_definition_id == role && r.is_pending()))
    }

    /// The Privileged Identity Management requests made for `principal`.
    pub async fn schedule_requests(
        &self,
        token: &AccessToken,
        principal: &str,
    ) -> Result<Vec<ScheduleRequest>, GraphError> {
        let filter = format!("principalId eq {}", odata_string(principal));
        self.filtered_first_page(token, SCHEDULE_REQUESTS, &filter)
            .await
    }

    /// Removes the assignments of `role` to `principal`; returns how many were removed.
    pub async fn remove_role(
        &self,
        token: &AccessToken,
        principal: &str,
        role: &str,
    ) -> Result<usize, GraphError> {
        let assignments = self.role_assignments(token, principal, role).await?;
        for a in &assignments {
            let path = format!("{ROLE_ASSIGNMENTS}/{}", path_segment(&a.id));
            absent_as_none(self.write(token, Method::DELETE, &path, None).await)?;
        }
        Ok(assignments.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pim_refusals_by_code() {
        let cases = [
            (Some("RoleAssignmentExists"), PimRefusal::AlreadyAssigned),
            (
                Some("PendingRoleAssignmentRequest"),
                PimRefusal::AlreadyRequested,
            ),
            (
                Some("RoleAssignmentRequestPolicyValidationFailed"),
                PimRefusal::Refused,
            ),
            (Some("RoleNotFound"), PimRefusal::Refused),
            (Some("SubjectNotFound"), PimRefusal::Refused),
            (None, PimRefusal::Refused),
        ];
        for (code, meaning) in cases {
            assert_eq!(PimRefusal::of(code), meaning, "{code:?}");
        }
    }

    #[test]
    fn schedule_request_states() {
        let r = |status: &str| ScheduleRequest {
            id: "r".into(),
            status: status.into(),
            principal_id: "p".into(),
            role_definition_id: EXCHANGE_ADMINISTRATOR.into(),
        };
        assert!(r("Provisioned").is_done() && r("Granted").is_done());
        assert!(r("PendingApproval").is_pending() && !r("PendingApproval").is_done());
        assert!(!r("Failed").is_done() && !r("Failed").is_pending());
    }
}
