//! Where a tenant's stream to the service resumes: decided purely from what the operator
//! recorded (its watermark, a round it began and did not record the end of, whether it has
//! delta links) and what the service says (its cursor). Changes are delivered once each: a
//! round whose acknowledgement was recorded by the service but not by the operator (a kill in
//! between) is adopted, one that never reached the service is sent again, and anything the
//! operator cannot account for is replaced by a full snapshot.

use super::protocol::Cursor;

/// What the operator recorded of a tenant's stream, beside its delta links.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recorded {
    /// The last sequence it knows the service acknowledged.
    pub watermark: u64,
    /// A round it began sending and has not recorded the end of.
    pub pending: Option<Pending>,
    /// It holds delta links from which an incremental round can start.
    pub has_links: bool,
}

/// A round begun: recorded before its first delivery is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    /// A full snapshot, or the changes of a delta round.
    pub kind: RoundKind,
    /// The sequence of its first delivery.
    pub first: u64,
    /// The sequence of its last delivery, when known before sending (a changes round is read
    /// whole first; a snapshot is streamed).
    pub last: Option<u64>,
}

/// The kind of a round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoundKind {
    /// A full snapshot.
    Snapshot,
    /// The changes of a delta round.
    Changes,
}

/// What to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send the changes of a delta round from the recorded links.
    Incremental,
    /// Send a full snapshot, for this reason.
    Resync(Why),
}

/// Why a full snapshot is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// The service asked for one.
    ServiceAsked,
    /// The service has never completed one for this tenant (new, or re-registered).
    NoSnapshotYet,
    /// The service acknowledged less than the operator recorded: it lost deliveries.
    ServiceBehind,
    /// The service acknowledged deliveries the operator has no record of.
    UnrecordedDeliveries,
    /// A round was cut short after part of it was acknowledged.
    InterruptedRound,
    /// There are no delta links to start an incremental round from.
    NoDeltaLinks,
}

/// The decision: what to do with a pending round, then what to send, numbered from `next`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The pending round is wholly acknowledged: record its end (its delta links) first.
    pub adopt_pending: bool,
    /// What to send.
    pub action: Action,
    /// The sequence of the next delivery.
    pub next: u64,
}

/// Decides where the stream resumes.
pub fn plan(recorded: &Recorded, cursor: &Cursor) -> Plan {
    let next = cursor.watermark + 1;
    let snapshot = |why| Plan {
        adopt_pending: false,
        action: Action::Resync(why),
        next,
    };
    if cursor.resync_requested {
        return snapshot(Why::ServiceAsked);
    }
    if !cursor.snapshot_complete {
        return snapshot(Why::NoSnapshotYet);
    }
    if cursor.watermark < recorded.watermark {
        return snapshot(Why::ServiceBehind);
    }
    let mut adopt_pending = false;
    match &recorded.pending {
        // Nothing of it reached the service: as if it had not begun.
        Some(p) if cursor.watermark < p.first => {}
        Some(p) if p.last.is_some_and(|last| cursor.watermark >= last) => {
            if p.kind == RoundKind::Snapshot {
                // A snapshot's links are recorded with its end; without them, another.
                return snapshot(Why::InterruptedRound);
            }
            adopt_pending = true;
        }
        Some(_) => return snapshot(Why::InterruptedRound),
        None if cursor.watermark > recorded.watermark => {
            return snapshot(Why::UnrecordedDeliveries);
        }
        None => {}
    }
    if !recorded.has_links {
        return snapshot(Why::NoDeltaLinks);
    }
    Plan {
        adopt_pending,
        action: Action::Incremental,
        next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(watermark: u64, resync: bool, complete: bool) -> Cursor {
        Cursor {
            watermark,
            resync_requested: resync,
            snapshot_complete: complete,
        }
    }

    fn recorded(watermark: u64, pending: Option<(RoundKind, u64, Option<u64>)>) -> Recorded {
        Recorded {
            watermark,
            pending: pending.map(|(kind, first, last)| Pending { kind, first, last }),
            has_links: true,
        }
    }

    #[test]
    fn the_stream_resumes_where_both_sides_agree() {
        use Action::*;
        use RoundKind::*;
        let changes = |first, last| Some((Changes, first, Some(last)));
        let cases = [
            // (what the operator recorded, the service's cursor, adopt, action, next)
            (
                recorded(10, None),
                cursor(10, false, true),
                false,
                Incremental,
                11,
            ),
            (
                recorded(10, None),
                cursor(10, true, true),
                false,
                Resync(Why::ServiceAsked),
                11,
            ),
            (
                recorded(0, None),
                cursor(0, false, false),
                false,
                Resync(Why::NoSnapshotYet),
                1,
            ),
            (
                recorded(10, None),
                cursor(4, false, true),
                false,
                Resync(Why::ServiceBehind),
                5,
            ),
            (
                recorded(10, None),
                cursor(12, false, true),
                false,
                Resync(Why::UnrecordedDeliveries),
                13,
            ),
            // A changes round 11..=13: none of it, all of it, part of it acknowledged.
            (
                recorded(10, changes(11, 13)),
                cursor(10, false, true),
                false,
                Incremental,
                11,
            ),
            (
                recorded(10, changes(11, 13)),
                cursor(13, false, true),
                true,
                Incremental,
                14,
            ),
            (
                recorded(10, changes(11, 13)),
                cursor(12, false, true),
                false,
                Resync(Why::InterruptedRound),
                13,
            ),
            // A snapshot cut short, before or after its first delivery landed.
            (
                recorded(10, Some((Snapshot, 11, None))),
                cursor(10, false, true),
                false,
                Incremental,
                11,
            ),
            (
                recorded(10, Some((Snapshot, 11, None))),
                cursor(11, false, true),
                false,
                Resync(Why::InterruptedRound),
                12,
            ),
            (
                recorded(10, Some((Snapshot, 11, Some(14)))),
                cursor(14, false, true),
                false,
                Resync(Why::InterruptedRound),
                15,
            ),
        ];
        for (i, (recorded, cursor, adopt, action, next)) in cases.into_iter().enumerate() {
            let plan = plan(&recorded, &cursor);
            assert_eq!(
                plan,
                Plan {
                    adopt_pending: adopt,
                    action,
                    next
                },
                "case {i}: {recorded:?} {cursor:?}"
            );
        }
    }

    #[test]
    fn without_delta_links_only_a_snapshot_can_follow() {
        let mut r = recorded(10, None);
        r.has_links = false;
        assert_eq!(
            plan(&r, &cursor(10, false, true)).action,
            Action::Resync(Why::NoDeltaLinks)
        );
    }
}
