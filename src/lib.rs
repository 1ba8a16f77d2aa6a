//! exo-operator: declarative onboarding of Microsoft 365 Exchange Online tenants into an
//! email-security service, as Kubernetes resources.

pub mod controller;
#[cfg(feature = "sim")]
pub mod demo;
pub mod manifests;
pub mod microsoft;
pub mod notify;
pub mod plan;
pub mod protection;
pub mod service;
pub mod telemetry;
