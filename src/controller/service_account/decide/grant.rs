//! DeviceCode grants, decided without I/O: what a look without a grant does (poll the open
//! prompt, open a new one, or report why there is none). Whether a failed refresh ends the
//! grant is `microsoft::errors::refresh_token_invalid`: only Entra saying so does.

use std::time::Duration;

/// How the last device-code sign-in ended without a grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInEnd {
    /// The administrator declined it.
    Declined,
    /// Its code expired before anyone signed in.
    Expired,
    /// The grant it gave ended (the refresh token is invalid).
    GrantEnded,
}

impl SignInEnd {
    /// The value kept in the grant Secret.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Declined => "Declined",
            Self::Expired => "Expired",
            Self::GrantEnded => "GrantEnded",
        }
    }

    /// Parses [`Self::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "Declined" => Self::Declined,
            "Expired" => Self::Expired,
            "GrantEnded" => Self::GrantEnded,
            _ => return None,
        })
    }
}

/// What a look without a refresh token does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInStep {
    /// Poll the open prompt.
    Poll,
    /// Open a new prompt.
    Open,
    /// Report why there is no grant; with `next_prompt`, a new prompt opens by itself then.
    Report {
        /// How the last sign-in ended.
        end: SignInEnd,
        /// When it ended.
        at: jiff::Timestamp,
        /// When a new prompt opens by itself (automatic regrant), if it does.
        next_prompt: Option<jiff::Timestamp>,
    },
}

/// The step of a look without a refresh token: the open prompt (expiring at `prompt_expires`)
/// is polled until it expires; a prompt that expired, was declined, or a grant that ended is
/// reported with its own reason; with `automatic` regrant a new prompt opens `reopen` after
/// that end (never at once: the administrator sees why, and prompts do not pile up), otherwise
/// only on the regrant annotation (handled before this). The very first sign-in opens at once.
pub fn sign_in_step(
    prompt_expires: Option<jiff::Timestamp>,
    ended: Option<(SignInEnd, jiff::Timestamp)>,
    automatic: bool,
    reopen: Duration,
    now: jiff::Timestamp,
) -> SignInStep {
    let (end, at) = match (prompt_expires, ended) {
        (Some(expires), _) if now < expires => return SignInStep::Poll,
        (Some(expires), _) => (SignInEnd::Expired, expires),
        (None, Some(ended)) => ended,
        (None, None) => return SignInStep::Open,
    };
    let reopen = jiff::SignedDuration::try_from(reopen).unwrap_or_default();
    let next_prompt = automatic.then(|| at + reopen);
    match next_prompt {
        Some(t) if now >= t => SignInStep::Open,
        _ => SignInStep::Report {
            end,
            at,
            next_prompt,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sign_in_that_ended_is_reported_until_its_reopen_time_or_the_annotation() {
        let t: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let at = |s: i64| t + jiff::SignedDuration::from_secs(s);
        let reopen = Duration::from_secs(600);
        use SignInEnd::*;
        let report = |end, when: i64, next: Option<i64>| SignInStep::Report {
            end,
            at: at(when),
            next_prompt: next.map(at),
        };
        // (prompt expires, ended, automatic, now) → step
        type Row = (Option<i64>, Option<(SignInEnd, i64)>, bool, i64, SignInStep);
        let table: [Row; 12] = [
            (None, None, true, 0, SignInStep::Open),
            (None, None, false, 0, SignInStep::Open),
            (Some(100), None, true, 50, SignInStep::Poll),
            (Some(100), Some((Declined, 0)), false, 50, SignInStep::Poll),
            (Some(100), None, true, 100, report(Expired, 100, Some(700))),
            (Some(100), None, false, 5000, report(Expired, 100, None)),
            (Some(100), None, true, 700, SignInStep::Open),
            (
                None,
                Some((Declined, 10)),
                true,
                20,
                report(Declined, 10, Some(610)),
            ),
            (None, Some((Declined, 10)), true, 610, SignInStep::Open),
            (
                None,
                Some((Declined, 10)),
                false,
                9999,
                report(Declined, 10, None),
            ),
            (
                None,
                Some((Expired, 10)),
                false,
                9999,
                report(Expired, 10, None),
            ),
            (
                None,
                Some((GrantEnded, 10)),
                false,
                9999,
                report(GrantEnded, 10, None),
            ),
        ];
        for (prompt, ended, automatic, now, want) in table {
            let got = sign_in_step(
                prompt.map(at),
                ended.map(|(e, s)| (e, at(s))),
                automatic,
                reopen,
                at(now),
            );
            assert_eq!(got, want, "{prompt:?} {ended:?} {automatic} {now}");
        }
    }

    #[test]
    fn sign_in_ends_round_trip() {
        for end in [
            SignInEnd::Declined,
            SignInEnd::Expired,
            SignInEnd::GrantEnded,
        ] {
            assert_eq!(SignInEnd::parse(end.as_str()), Some(end));
        }
        assert_eq!(SignInEnd::parse("other"), None);
    }
}
