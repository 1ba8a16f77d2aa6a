//! exo-operator: declarative onboarding of Microsoft 365 Exchange Online tenants into an
//! email-security service, as Kubernetes resources.

pub mod controller;
#[cfg(feature = "sim")]
pub mod demo;
pub mod microsoft;
pub mod notify;
pub mod resources;
#[cfg(feature = "sim")]
pub mod sim;
pub mod telemetry;
