//! What to do next with an account's subscriptions (pure): create what a protected mailbox
//! lacks, delete what no longer protects anyone, renew what expires soon, each renewal at a
//! moment of its own so that subscriptions created together are not renewed together.

use std::collections::{HashMap, HashSet};

use super::index::{Folder, Guid, Index, Key, Sub};

/// How long subscriptions live and when they are renewed (seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetime {
    /// The expiration asked for, counted from the request: Microsoft's maximum for Outlook
    /// messages (10,080 minutes) less a margin for clocks that disagree.
    pub requested: i64,
    /// A subscription is renewed at the latest this long before it expires.
    pub margin: i64,
    /// Renewals are spread over this much time before the margin, by subscription id.
    pub spread: i64,
}

impl Default for Lifetime {
    fn default() -> Self {
        Self {
            requested: (10_080 - 10) * 60,
            margin: 6 * 3600,
            spread: 6 * 3600,
        }
    }
}

impl Lifetime {
    /// When `sub` is to be renewed: before its margin, earlier by its own share of the
    /// spread (a fraction given by its id, the same every time).
    pub fn renewal_due(&self, sub: &Sub) -> i64 {
        let share = (sub.id % 1000) as i64;
        sub.expires - self.margin - self.spread * share / 1000
    }
}

/// A mailbox folder whose subscription could not be created, and when to try again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Stable reason (`MailboxNotEnabled`, ...).
    pub reason: &'static str,
    /// Not tried again before (unix seconds).
    pub retry_at: i64,
}

/// One step of the plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Create the subscription of `key`.
    Create(Key),
    /// Extend `key`'s subscription.
    Renew(Key, Sub),
    /// Delete a subscription that protects no one (`key` is forgotten once it is gone).
    Delete(Key, Sub),
}

/// The steps due now, and when the next one falls due (unix seconds) if none is due.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Due now: deletions first (they free the mailbox's subscription slots), then creations,
    /// then renewals, earliest due first.
    pub steps: Vec<Step>,
    /// When the next step falls due.
    pub next_due: Option<i64>,
}

/// The plan for `wanted` users in `folders`, given the `index`, the `failures` and `now`: at
/// most `limit` steps, one at least (the first in the order [`Plan::steps`] gives; the task plans again
/// once they are done), so that what a plan holds stays small however many are due.
pub fn plan(
    wanted: &HashSet<Guid>,
    folders: &[Folder],
    index: &Index,
    failures: &HashMap<Key, Failure>,
    lifetime: &Lifetime,
    now: i64,
    limit: usize,
) -> Plan {
    let limit = limit.max(1);
    let mut deletes = Smallest::new(limit);
    let mut renewals = Smallest::new(limit);
    let mut next_due: Option<i64> = None;
    let mut later = |t: i64| next_due = Some(next_due.map_or(t, |n| n.min(t)));
    for (key, sub) in index.iter() {
        if !wanted.contains(&key.user) || !folders.contains(&key.folder) {
            deletes.offer((*key, *sub));
            continue;
        }
        let due = lifetime.renewal_due(sub);
        if due <= now {
            renewals.offer((due, *key, *sub));
        } else {
            later(due);
        }
    }
    let mut creates = Smallest::new(limit);
    for user in wanted {
        for folder in folders {
            let key = Key {
                user: *user,
                folder: *folder,
            };
            if index.get(&key).is_some() {
                continue;
            }
            match failures.get(&key) {
                Some(f) if f.retry_at > now => later(f.retry_at),
                _ => creates.offer(key),
            }
        }
    }
    // A stable order: tests and logs read the same plan for the same state.
    let mut steps: Vec<Step> = deletes
        .sorted()
        .map(|(k, s)| Step::Delete(k, s))
        .chain(creates.sorted().map(Step::Create))
        .chain(renewals.sorted().map(|(_, k, s)| Step::Renew(k, s)))
        .collect();
    steps.truncate(limit);
    Plan {
        next_due: if steps.is_empty() { next_due } else { None },
        steps,
    }
}

/// The `limit` smallest of what is offered, in a heap that never holds more.
struct Smallest<T: Ord> {
    heap: std::collections::BinaryHeap<T>,
    limit: usize,
}

impl<T: Ord> Smallest<T> {
    fn new(limit: usize) -> Self {
        Self {
            heap: std::collections::BinaryHeap::new(),
            limit,
        }
    }

    fn offer(&mut self, item: T) {
        if self.heap.len() < self.limit {
            self.heap.push(item);
        } else if let Some(mut largest) = self.heap.peek_mut()
            && item < *largest
        {
            *largest = item;
        }
    }

    /// Smallest first.
    fn sorted(self) -> impl Iterator<Item = T> {
        self.heap.into_sorted_vec().into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    fn key(user: u128, folder: Folder) -> Key {
        Key { user, folder }
    }

    fn index(entries: &[(Key, Sub)]) -> Index {
        let mut i = Index::default();
        for (k, s) in entries {
            i.insert(*k, *s);
        }
        i
    }

    #[test]
    fn plans_as_a_table() {
        let lifetime = Lifetime::default();
        let now = 1_000 * DAY;
        let fresh = |id| Sub {
            id,
            expires: now + 6 * DAY,
        };
        let expiring = |id| Sub {
            id,
            expires: now + 3600,
        };
        const INBOUND: &[Folder] = &[Folder::Inbox];
        const BOTH: &[Folder] = &[Folder::Inbox, Folder::SentItems];
        let no_failures = HashMap::new();
        let failed_until = |t| {
            HashMap::from([(
                key(2, Folder::Inbox),
                Failure {
                    reason: "MailboxNotEnabled",
                    retry_at: t,
                },
            )])
        };
        struct Row {
            name: &'static str,
            wanted: Vec<u128>,
            folders: &'static [Folder],
            index: Vec<(Key, Sub)>,
            failures: HashMap<Key, Failure>,
            steps: Vec<Step>,
            next_due: Option<i64>,
        }
        let rows = vec![
            Row {
                name: "a new mailbox gets its subscription",
                wanted: vec![1],
                folders: INBOUND,
                index: vec![],
                failures: no_failures.clone(),
                steps: vec![Step::Create(key(1, Folder::Inbox))],
                next_due: None,
            },
            Row {
                name: "outbound adds the sent items",
                wanted: vec![1],
                folders: BOTH,
                index: vec![(key(1, Folder::Inbox), fresh(10))],
                failures: no_failures.clone(),
                steps: vec![Step::Create(key(1, Folder::SentItems))],
                next_due: None,
            },
            Row {
                name: "a mailbox that left is unsubscribed, before anything is created",
                wanted: vec![2],
                folders: INBOUND,
                index: vec![(key(1, Folder::Inbox), fresh(10))],
                failures: no_failures.clone(),
                steps: vec![
                    Step::Delete(key(1, Folder::Inbox), fresh(10)),
                    Step::Create(key(2, Folder::Inbox)),
                ],
                next_due: None,
            },
            Row {
                name: "back to inbound drops the sent items",
                wanted: vec![1],
                folders: INBOUND,
                index: vec![
                    (key(1, Folder::Inbox), fresh(10)),
                    (key(1, Folder::SentItems), fresh(11)),
                ],
                failures: no_failures.clone(),
                steps: vec![Step::Delete(key(1, Folder::SentItems), fresh(11))],
                next_due: None,
            },
            Row {
                name: "nothing due: the next renewal is when it falls due",
                wanted: vec![1],
                folders: INBOUND,
                index: vec![(key(1, Folder::Inbox), fresh(10))],
                failures: no_failures.clone(),
                steps: vec![],
                next_due: Some(lifetime.renewal_due(&fresh(10))),
            },
            Row {
                name: "an expiring subscription is renewed",
                wanted: vec![1],
                folders: INBOUND,
                index: vec![(key(1, Folder::Inbox), expiring(10))],
                failures: no_failures.clone(),
                steps: vec![Step::Renew(key(1, Folder::Inbox), expiring(10))],
                next_due: None,
            },
            Row {
                name: "a failed mailbox waits for its retry",
                wanted: vec![2],
                folders: INBOUND,
                index: vec![],
                failures: failed_until(now + 60),
                steps: vec![],
                next_due: Some(now + 60),
            },
            Row {
                name: "a failed mailbox is tried again once its time comes",
                wanted: vec![2],
                folders: INBOUND,
                index: vec![],
                failures: failed_until(now),
                steps: vec![Step::Create(key(2, Folder::Inbox))],
                next_due: None,
            },
        ];
        for row in rows {
            let wanted: HashSet<u128> = row.wanted.into_iter().collect();
            let got = plan(
                &wanted,
                row.folders,
                &index(&row.index),
                &row.failures,
                &lifetime,
                now,
                usize::MAX,
            );
            assert_eq!(got.steps, row.steps, "{}", row.name);
            assert_eq!(got.next_due, row.next_due, "{}", row.name);
        }
    }

    #[test]
    fn a_limited_plan_holds_the_first_steps_of_the_whole_one() {
        let lifetime = Lifetime::default();
        let now = 1_000 * DAY;
        let wanted: HashSet<u128> = (0..50).collect();
        // Users 0..20 subscribed, every other one expiring; 100..110 no longer protected.
        let entries: Vec<(Key, Sub)> = (0..20)
            .chain(100..110)
            .map(|u| {
                let expires = if u % 2 == 0 { now + 60 } else { now + 6 * DAY };
                (key(u, Folder::Inbox), Sub { id: u, expires })
            })
            .collect();
        let index = index(&entries);
        let planned = |limit| {
            let no_failures = HashMap::new();
            plan(
                &wanted,
                &[Folder::Inbox],
                &index,
                &no_failures,
                &lifetime,
                now,
                limit,
            )
        };
        let whole = planned(usize::MAX);
        assert_eq!(whole.steps.len(), 10 + 30 + 10);
        for limit in [1, 5, 10, 11, 39, 40, 45, 50, 1000] {
            let got = planned(limit);
            let want: Vec<Step> = whole.steps.iter().take(limit).copied().collect();
            assert_eq!(got.steps, want, "limit {limit}");
        }
    }

    #[test]
    fn renewals_are_spread_and_stay_within_a_tenth_of_the_bound() {
        let lifetime = Lifetime::default();
        let maximum = 10_080 * 60;
        let dues: Vec<i64> = (0..1000u128)
            .map(|id| lifetime.renewal_due(&Sub { id, expires: 0 }))
            .collect();
        let (earliest, latest) = (*dues.iter().min().unwrap(), *dues.iter().max().unwrap());
        assert!(
            latest - earliest >= lifetime.spread * 99 / 100,
            "spread over the window"
        );
        // The shortest period between renewals, against the longest Microsoft allows.
        let period = lifetime.requested + earliest;
        assert!(
            (maximum as f64) / (period as f64) <= 1.1,
            "renewals per day within 1.1 of the bound: period {period} s"
        );
    }
}
