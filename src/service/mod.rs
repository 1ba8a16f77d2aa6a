//! The email-security service's side: the delivery protocol v1 (`docs/protocol/`), written
//! from its document (the service simulator, `exo-sim service`, is written from it too and
//! shares nothing with this), and the client that registers tenants and delivers their streams.

pub mod client;
pub mod directory;
pub mod error;
pub mod protocol;
pub mod send;
pub mod signature;
pub mod stream;
