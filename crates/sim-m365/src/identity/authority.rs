//! The authority a sign-in request names in its path: one tenant (GUID or domain), or one of
//! the multi-tenant aliases of the Microsoft identity platform (`common`, `organizations`,
//! `consumers`), whose tenant is the signed-in user's (Learn: "Microsoft identity platform and
//! OAuth 2.0 ... endpoints", `{tenant}`).

use axum::response::Response;

use super::tenant_not_found;
use crate::errors::aad;
use crate::state::{App, Tenant, World};

/// What a request's `{tenant}` path segment names.
#[derive(Clone, Debug)]
pub(super) enum Authority {
    /// One tenant.
    Tenant(Box<Tenant>),
    /// `common` or `organizations` (work and school accounts of any tenant; the simulator's
    /// applications are multi-tenant work-account applications, for which both mean the same).
    Organizations,
    /// `consumers` (personal Microsoft accounts only).
    Consumers,
}

impl Authority {
    /// The authority `name` names in `world`, or AADSTS90002 for an unknown tenant.
    pub(super) fn named(world: &World, name: &str) -> Result<Self, Response> {
        match alias(name) {
            Some(authority) => Ok(authority),
            None => world
                .tenant(name)
                .cloned()
                .map(|t| Authority::Tenant(Box::new(t)))
                .ok_or_else(|| tenant_not_found(name)),
        }
    }
}

/// The alias `name` is, if any (case-insensitive).
fn alias(name: &str) -> Option<Authority> {
    match name.to_ascii_lowercase().as_str() {
        "common" | "organizations" => Some(Authority::Organizations),
        "consumers" => Some(Authority::Consumers),
        _ => None,
    }
}

/// Whether `name` is one of the multi-tenant aliases.
pub(super) fn is_alias(name: &str) -> bool {
    alias(name).is_some()
}

/// The tenant a user signs in to through a multi-tenant alias: the one whose domain is the
/// domain of `upn`.
pub(super) fn home_tenant<'w>(world: &'w World, upn: &str) -> Option<&'w Tenant> {
    let (_, domain) = upn.rsplit_once('@')?;
    world.tenant(domain)
}

/// AADSTS9002332: `consumers` refused to an application for work and school accounts only.
pub(super) fn consumers_refused(app: &App) -> Response {
    aad(
        400,
        "invalid_request",
        9002332,
        &format!(
            "Application '{}'({}) is configured for use by Azure Active Directory users only. Please do not use the /consumers endpoint to serve this request.",
            app.client_id, app.display_name
        ),
    )
}

/// AADSTS50059: the client-credentials grant through `common` or `organizations`, which name
/// no tenant for an app-only token.
pub(super) fn no_tenant_for_app_only() -> Response {
    aad(
        400,
        "invalid_request",
        50059,
        "No tenant-identifying information found in either the request or implied by any provided credentials.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_are_read_case_insensitively_and_tenants_are_not_aliases() {
        for name in ["common", "Organizations", "ORGANIZATIONS"] {
            assert!(
                matches!(alias(name), Some(Authority::Organizations)),
                "{name}"
            );
        }
        assert!(matches!(alias("consumers"), Some(Authority::Consumers)));
        assert!(!is_alias("contoso.onmicrosoft.com"));
        assert!(!is_alias("5b1c6e8a-2f4d-4a7b-9c3e-1d2f3a4b5c6d"));
    }
}
