//! Clients of the Microsoft services the operator calls, and what they share: cloud
//! endpoints, required permissions, error classification, retries.

pub mod cloud;
pub mod errors;
pub mod exchange;
pub mod graph;
pub mod http;
pub mod identity;
pub mod management;
pub mod permissions;
pub mod retry;
