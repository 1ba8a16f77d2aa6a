//! Annotations of the API: those a person sets to ask for something now, and those the
//! operator keeps on the Secrets it writes.

/// ExchangeServiceAccount: set (any new value) to start a new device-code sign-in.
pub const REGRANT: &str = "exo-operator.io/regrant";
/// ExchangeServiceAccount: an RFC 3339 time later than the last sync requests a
/// synchronisation now.
pub const SYNC_REQUESTED_AT: &str = "exo-operator.io/sync-requested-at";
/// Device-grant Secret: the last `exo-operator.io/regrant` value acted on.
pub const REGRANT_HANDLED: &str = "exo-operator.io/regrant-handled";
