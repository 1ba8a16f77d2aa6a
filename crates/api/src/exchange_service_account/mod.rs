//! `ExchangeServiceAccount` (`esa`): one tenant's grant of access to Exchange Online.
//!
//! The spec is split by concern: [`spec`] (the root, cloud, endpoints, sync, deletion),
//! [`access`] (the application's credential and how it is authorized), [`inline`] (inline-mode
//! mail flow) and [`status`] (observed state).

pub mod access;
pub mod inline;
pub mod spec;
pub mod status;

pub use access::*;
pub use inline::*;
pub use spec::*;
pub use status::*;
