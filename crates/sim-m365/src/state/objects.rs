//! The records the world is made of: application registrations with their credentials, and a
//! tenant's users, groups, domains, service principals, grants and role assignments.

/// A client secret.
#[derive(Clone, Debug)]
pub struct Secret {
    /// Value.
    pub value: String,
    /// Expiry.
    pub expires: Option<jiff::Timestamp>,
}

/// A registered certificate.
#[derive(Clone, Debug)]
pub struct Certificate {
    /// DER.
    pub der: Vec<u8>,
    /// base64url SHA-256 thumbprint (`x5t#S256`).
    pub s256: String,
    /// base64url SHA-1 thumbprint (`x5t`).
    pub sha1: String,
}

/// An application registration.
#[derive(Clone, Debug)]
pub struct App {
    /// Client id.
    pub client_id: String,
    /// Display name.
    pub display_name: String,
    /// Secrets.
    pub secrets: Vec<Secret>,
    /// Certificates.
    pub certificates: Vec<Certificate>,
    /// Configured permissions.
    pub permissions: Vec<String>,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Enabled.
    pub enabled: bool,
}

/// A user.
#[derive(Clone, Debug)]
pub struct User {
    /// Object id.
    pub id: String,
    /// UPN.
    pub upn: String,
    /// Display name.
    pub display_name: String,
    /// Mail.
    pub mail: String,
    /// Creation time (RFC 3339).
    pub created: String,
    /// Whether the account can sign in (`accountEnabled`).
    pub enabled: bool,
    /// Whether Exchange Online hosts a mailbox for it (with `mail` set, Graph's mail APIs and
    /// subscriptions reach it).
    pub mailbox: bool,
}

impl User {
    /// Whether the user has a mailbox Graph can reach: `mail` set and a mailbox hosted.
    pub fn has_mailbox(&self) -> bool {
        self.mailbox && !self.mail.is_empty()
    }
}

/// A group.
#[derive(Clone, Debug)]
pub struct Group {
    /// Object id.
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// Member object ids (users or groups).
    pub members: Vec<String>,
    /// Creation time.
    pub created: String,
}

/// A domain.
#[derive(Clone, Debug)]
pub struct Domain {
    /// Name.
    pub name: String,
    /// Default.
    pub default: bool,
    /// Initial.
    pub initial: bool,
    /// Verified.
    pub verified: bool,
    /// E-mail enabled.
    pub email: bool,
}

/// An app role granted to a service principal.
#[derive(Clone, Debug)]
pub struct Grant {
    /// Assignment id.
    pub id: String,
    /// Resource application id.
    pub resource_app: String,
    /// App-role id.
    pub role_id: String,
}

/// A service principal (a consented application).
#[derive(Clone, Debug)]
pub struct ServicePrincipal {
    /// Object id.
    pub id: String,
    /// Application id.
    pub app_id: String,
    /// Display name.
    pub display_name: String,
    /// App roles granted.
    pub grants: Vec<Grant>,
}

/// A directory role assignment.
#[derive(Clone, Debug)]
pub struct RoleAssignment {
    /// Id.
    pub id: String,
    /// Principal object id.
    pub principal_id: String,
    /// Role template id.
    pub role_id: String,
    /// When it takes effect (role propagation).
    pub effective: jiff::Timestamp,
}

/// A PIM assignment schedule request.
#[derive(Clone, Debug)]
pub struct PimRequest {
    /// Id.
    pub id: String,
    /// Principal.
    pub principal_id: String,
    /// Role.
    pub role_id: String,
    /// `Provisioned`, `PendingApproval` or `Denied`.
    pub status: String,
    /// Justification.
    pub justification: String,
}
