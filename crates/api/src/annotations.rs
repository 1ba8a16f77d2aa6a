//! Annotations of the API: those a person sets to ask for something now, and those the
//! operator keeps on the Secrets it writes.

/// ExchangeServiceAccount: set (any new value) to start a new device-code sign-in.
pub const REGRANT: &str = "exo-operator.io/regrant";
/// ExchangeServiceAccount: an RFC 3339 time later than the last sync requests a
/// synchronisation now.
pub const SYNC_REQUESTED_AT: &str = "exo-operator.io/sync-requested-at";
/// Device-grant Secret: the last `exo-operator.io/regrant` value acted on.
pub const REGRANT_HANDLED: &str = "exo-operator.io/regrant-handled";
/// Device-grant Secret: when the last grant ended because the identity platform reported its
/// refresh token invalid (RFC 3339). An audit: never the token.
pub const GRANT_ENDED_AT: &str = "exo-operator.io/grant-ended-at";
/// Device-grant Secret: why the last grant ended: the `TokenValid` reason and the AADSTS code
/// (`RefreshTokenRevoked (AADSTS50173)`).
pub const GRANT_ENDED_REASON: &str = "exo-operator.io/grant-ended-reason";
/// Device-grant Secret: how the last device-code sign-in ended without a grant (`Declined`,
/// `Expired`, `GrantEnded`), until a new prompt opens.
pub const SIGN_IN_ENDED: &str = "exo-operator.io/sign-in-ended";
/// Device-grant Secret: when that sign-in ended (RFC 3339).
pub const SIGN_IN_ENDED_AT: &str = "exo-operator.io/sign-in-ended-at";
