//! `EmailSecurityService` (`ess`) and `ClusterEmailSecurityService` (`cess`): the email-security
//! service described once, for many tenants. Every ExchangeServiceAccount names one in
//! `spec.serviceRef`; both kinds share one spec.
//!
//! The spec is split by concern: [`spec`] (the kinds, the application and endpoints),
//! [`mail_flow`] (where inline mode routes mail), [`offer`] (ingestion, change notifications and
//! the policies offered) and [`status`] (observed state).

pub mod mail_flow;
pub mod offer;
pub mod spec;
pub mod status;

pub use mail_flow::*;
pub use offer::*;
pub use spec::*;
pub use status::*;
