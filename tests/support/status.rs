//! Reading an account's status conditions, for tests on any cluster.

#![allow(dead_code)]

use exo_api::exchange_service_account::ExchangeServiceAccount;

/// The condition `type_` of an account, as (status, reason).
pub fn condition(esa: &ExchangeServiceAccount, type_: &str) -> Option<(String, String)> {
    esa.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone()))
}

/// Whether condition `type_` is True.
pub fn is(esa: &ExchangeServiceAccount, type_: &str) -> bool {
    condition(esa, type_).is_some_and(|(s, _)| s == "True")
}

/// Whether condition `type_` has `reason`.
pub fn reason(esa: &ExchangeServiceAccount, type_: &str, r: &str) -> bool {
    condition(esa, type_).is_some_and(|(_, x)| x == r)
}

/// Whether the account is Ready.
pub fn ready(esa: &ExchangeServiceAccount) -> bool {
    is(esa, "Ready")
}
