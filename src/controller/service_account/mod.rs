//! The ExchangeServiceAccount reconciler.

pub mod account;
pub mod authorize;
pub mod decide;
pub mod directory;
pub mod grant_secret;
