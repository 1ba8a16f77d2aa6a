//! Reconcilers of every kind and what they share: context, conditions, error policy.

pub mod cache;
pub mod conditions;
pub mod context;
pub mod email_security_service;
pub mod error;
pub mod fail_point;
pub mod field_manager;
pub mod finalizer;
pub mod leader;
pub mod planned;
pub mod report;
pub mod run;
pub mod service_account;
pub mod sync_target_list;
pub mod targets;
