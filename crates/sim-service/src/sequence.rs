//! The ordering decision for one delivery (pure): apply it, answer it as a duplicate, or
//! refuse it as a gap or as a reused `webhook-id`.

/// What the service does with a delivery of `sequence` for a tenant at `watermark`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// `sequence == watermark + 1`: validate, apply, persist, acknowledge.
    Apply,
    /// Already acknowledged (`sequence <= watermark`, or its `webhook-id` was acknowledged
    /// with this very sequence): 200 with the current watermark, nothing applied.
    Duplicate,
    /// `sequence > watermark + 1`: 409, the sender must resume at `expected`.
    Gap {
        /// `watermark + 1`.
        expected: u64,
    },
    /// The `webhook-id` was acknowledged for another sequence `previous`, and this sequence
    /// is new: a sender's bug (an id names one message), refused with 422.
    IdReused {
        /// The sequence the id was acknowledged with.
        previous: u64,
    },
}

/// Decides for a delivery of `sequence` (at least 1) at `watermark`; `id_acknowledged_as` is
/// the sequence its `webhook-id` was acknowledged with, if the service remembers it.
pub fn decide(watermark: u64, sequence: u64, id_acknowledged_as: Option<u64>) -> Decision {
    match id_acknowledged_as {
        Some(previous) if previous == sequence => return Decision::Duplicate,
        Some(previous) if sequence > watermark => return Decision::IdReused { previous },
        _ => {}
    }
    if sequence <= watermark {
        Decision::Duplicate
    } else if sequence == watermark + 1 {
        Decision::Apply
    } else {
        Decision::Gap {
            expected: watermark + 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_as_a_table() {
        let cases = [
            // (watermark, sequence, id acknowledged as, decision)
            (0, 1, None, Decision::Apply),
            (5, 6, None, Decision::Apply),
            (5, 5, None, Decision::Duplicate),
            (5, 1, None, Decision::Duplicate),
            (5, 5, Some(5), Decision::Duplicate),
            // the same sequence again under a new id (a sender that re-signed its retry)
            (5, 4, None, Decision::Duplicate),
            // an old id with an old sequence other than its own: still nothing to apply
            (5, 3, Some(2), Decision::Duplicate),
            (0, 2, None, Decision::Gap { expected: 1 }),
            (5, 9, None, Decision::Gap { expected: 6 }),
            (5, 6, Some(4), Decision::IdReused { previous: 4 }),
            (5, 8, Some(4), Decision::IdReused { previous: 4 }),
            (u64::MAX - 1, u64::MAX, None, Decision::Apply),
        ];
        for (watermark, sequence, id, expected) in cases {
            assert_eq!(
                decide(watermark, sequence, id),
                expected,
                "watermark {watermark}, sequence {sequence}, id {id:?}"
            );
        }
    }
}
