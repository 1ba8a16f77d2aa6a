//! The ExchangeServiceAccount reconciler.

pub mod decide;
