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

/// Every client's failure enum calls the classes of a transport failure `Throttled` and
/// `Transient`; this makes each of them a [`http::TransportFailureClass`].
macro_rules! transport_failure_classes {
    ($($failure:ty),*) => {$(
        impl http::TransportFailureClass for $failure {
            const THROTTLED: Self = Self::Throttled;
            const TRANSIENT: Self = Self::Transient;
        }
    )*};
}

transport_failure_classes!(
    errors::TokenFailure,
    exchange::ExchangeFailure,
    graph::GraphFailure
);
