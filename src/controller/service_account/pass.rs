//! What every step of one pass over an account needs, carried once instead of in every
//! parameter list.

use super::service::EffectiveService;
use super::tenant_clients::TenantClients;
use crate::controller::context::Context;
use crate::microsoft::identity::credential::ClientCredential;
use exo_api::exchange_service_account::ExchangeServiceAccount;

/// One reconcile's account, context, clients, credential and clock.
#[derive(Clone, Copy)]
pub struct AccountPass<'a> {
    /// The account as read (from the cache, or fresh when the cache lags).
    pub esa: &'a ExchangeServiceAccount,
    /// What reconciles share.
    pub ctx: &'a Context,
    /// The configuration of the account's service (application, endpoints, mail flow).
    pub service: &'a EffectiveService,
    /// The clients the account reaches its tenant with.
    pub clients: &'a TenantClients,
    /// The application's credential.
    pub credential: &'a ClientCredential,
    /// The time of this pass.
    pub now: jiff::Timestamp,
}
