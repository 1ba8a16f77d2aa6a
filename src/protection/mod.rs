//! Live protection in API mode: a Microsoft Graph change-notification subscription for each
//! folder of each protected mailbox (the inbox; the sent items too for `InboundOutbound`),
//! pointing at the service's notification URL, kept equal to the protected set, renewed before
//! it expires, reauthorized, recreated when Graph removes it.
//!
//! One task per account ([`task`]) keeps them. No Kubernetes object per subscription: the
//! task's [`index`] is rebuilt from Graph (`GET /subscriptions`) after a restart, and what
//! exists is never created twice. What to do is decided by [`plan`] (pure); writes are spent
//! from a per-tenant [`budget`] under one operator-wide concurrency limit (on requests in flight
//! and on tasks in a round, so that memory does not grow with the tenants), so that creations
//! and renewals of every tenant are spread within what Microsoft allows. Lifecycle notifications
//! ([`lifecycle`]) only hasten what the periodic look at the app's subscriptions does anyway.
//! The account's reconcile hands the task its configuration and token, and reports the
//! [`Summary`] as `status.protection` and the `ProtectionActive` condition.

pub mod budget;
pub mod clock;
pub mod index;
pub mod lifecycle;
pub mod plan;
pub mod task;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::runtime::reflector::ObjectRef;
use tokio::sync::{Semaphore, mpsc, watch};

use self::index::{Folder, Guid};
use crate::microsoft::graph::GraphClient;
use crate::microsoft::identity::token::AccessToken;
use crate::microsoft::retry::Backoff;
use exo_api::exchange_service_account::ExchangeServiceAccount;

/// How the keeper works: where Graph sends lifecycle notifications, its budget and timings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The base URL of the operator's lifecycle endpoint as Microsoft Graph reaches it
    /// (`.../graph/lifecycle`; the account's uid is appended). None: no lifecycle
    /// notifications, the periodic look alone.
    pub lifecycle_url: Option<String>,
    /// Subscription writes per 20 s per tenant (Microsoft allows 1,000 per app per tenant).
    pub writes_per_20s: u32,
    /// Subscription requests in flight across all tenants, and tasks in a round at once.
    pub concurrency: usize,
    /// How long subscriptions live and when they are renewed.
    pub lifetime: plan::Lifetime,
    /// How often the app's subscriptions are listed again to find what Graph removed.
    pub audit_interval: Duration,
    /// How long after a restart the directory's users are read once to find the users whose
    /// mailboxes failed (scope `All`): the restart itself costs only the subscriptions' pages.
    pub users_check_after: Duration,
    /// How soon a mailbox that failed for itself (no mailbox) is tried again.
    pub mailbox_retry: Duration,
    /// Backoff after a failure of the whole tenant (permission, throttling, outage).
    pub backoff: Backoff,
    /// The wall clock subscriptions are timed by (the system's, but in benchmarks).
    pub clock: clock::Clock,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            lifecycle_url: None,
            writes_per_20s: 800,
            concurrency: 32,
            lifetime: plan::Lifetime::default(),
            audit_interval: Duration::from_secs(24 * 3600),
            users_check_after: Duration::from_secs(15 * 60),
            mailbox_retry: Duration::from_secs(6 * 3600),
            backoff: Backoff::RECONCILE,
            clock: clock::Clock::system(),
        }
    }
}

/// What an account's task works with, handed over by each reconcile.
#[derive(Clone, Debug)]
pub struct Config {
    /// The account's namespace.
    pub namespace: String,
    /// The account's name.
    pub name: String,
    /// The account's uid (the ownership marker).
    pub uid: String,
    /// The tenant's GUID.
    pub tenant_id: String,
    /// Graph.
    pub graph: GraphClient,
    /// The current Graph token.
    pub token: AccessToken,
    /// The service's notification URL, marked with the account.
    pub notification_url: String,
    /// The operator's lifecycle URL for this account, if configured.
    pub lifecycle_url: Option<String>,
    /// The clientState every subscription carries.
    pub client_state: String,
    /// The folders each protected mailbox is watched in.
    pub folders: Vec<Folder>,
    /// The whole directory is protected (scope `All`): the task may read the users itself
    /// when nothing else says who they are. A selection is only ever said by the reconcile.
    pub whole_directory: bool,
}

/// The users to protect, as far as they are known.
#[derive(Clone, Debug, Default)]
pub struct Wanted {
    /// False until the directory (or the list) has said who they are since the start.
    pub known: bool,
    /// Their ids.
    pub users: Arc<HashSet<Guid>>,
    /// Changes heard while the set was not known (user, added), applied to the baseline.
    pub pending: Vec<(Guid, bool)>,
    /// The reconcile will not say the whole set soon (no snapshot was due): the task takes
    /// its baseline at once instead of waiting for it.
    pub baseline_now: bool,
    /// Taken from what was subscribed when the operator started (scope `All`): a user whose
    /// mailbox failed (none, or at its limit) is missing until the directory's users are read
    /// once ([`Settings::users_check_after`]). The changes heard meanwhile are kept in
    /// `pending` too, to be applied to that read.
    pub provisional: bool,
}

impl Wanted {
    /// The set starts from `baseline` with the changes heard meanwhile applied; `false` when
    /// a set was said in the meantime (a snapshot, a list), which is kept.
    fn take_baseline(&mut self, baseline: HashSet<Guid>, provisional: bool) -> bool {
        if self.known {
            return false;
        }
        let users = with_changes(baseline, std::mem::take(&mut self.pending));
        *self = Wanted {
            known: true,
            users: Arc::new(users),
            provisional,
            ..Wanted::default()
        };
        true
    }

    /// A provisional set becomes the directory's `users` with the changes heard since it was
    /// taken applied (in order, so that each user ends as the latest change says, whether the
    /// read saw it or not); whether it changed.
    fn confirm(&mut self, users: HashSet<Guid>) -> bool {
        if !self.provisional {
            return false;
        }
        let users = with_changes(users, std::mem::take(&mut self.pending));
        let changed = *self.users != users;
        self.users = Arc::new(users);
        self.provisional = false;
        changed
    }

    /// Users `added` and `removed`; whether the set changed. While the set is unknown they are
    /// kept for the baseline; while it is provisional, for the directory's read too.
    fn change(&mut self, added: &[Guid], removed: &[Guid]) -> bool {
        if !self.known || self.provisional {
            self.pending.extend(added.iter().map(|u| (*u, true)));
            self.pending.extend(removed.iter().map(|u| (*u, false)));
        }
        if !self.known {
            return false;
        }
        let users = Arc::make_mut(&mut self.users);
        let mut changed = false;
        for u in added {
            changed |= users.insert(*u);
        }
        for u in removed {
            changed |= users.remove(u);
        }
        changed
    }
}

/// What went wrong for the whole tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Stable reason.
    pub reason: String,
    /// For a human (no secret, no request id).
    pub message: String,
    /// Only a human can fix it (a permission, an endpoint that does not validate).
    pub needs_human: bool,
}

/// A mailbox whose notifications may have been lost: the service is to catch up on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatchUp {
    /// The user.
    pub user: Guid,
    /// Since when (unix seconds).
    pub since: i64,
    /// `Missed`, `SubscriptionRemoved`, `ReauthorizationRequired`.
    pub reason: &'static str,
}

/// Where an account's protection stands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// The task has listed the app's subscriptions and knows the protected set.
    pub ready: bool,
    /// Mailboxes to protect.
    pub protected: u64,
    /// Protected mailboxes with all their subscriptions.
    pub subscribed: u64,
    /// Mailboxes that failed, by reason: count and up to five examples.
    pub failures: BTreeMap<&'static str, (u64, Vec<String>)>,
    /// The next renewal (unix seconds).
    pub next_renewal: Option<i64>,
    /// A failure of the whole tenant.
    pub problem: Option<Problem>,
}

impl Summary {
    /// Mailboxes that failed.
    pub fn failed(&self) -> u64 {
        self.failures.values().map(|(n, _)| n).sum()
    }
}

/// One account's task, as the keeper holds it.
struct Account {
    config: watch::Sender<Option<Arc<Config>>>,
    wanted: watch::Sender<Wanted>,
    events: mpsc::UnboundedSender<lifecycle::Event>,
    summary: watch::Receiver<Summary>,
    catch_ups: Arc<Mutex<Vec<CatchUp>>>,
    idle: watch::Receiver<Option<Idle>>,
    task: tokio::task::JoinHandle<()>,
}

/// A task waiting for its next due time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Idle {
    /// The clock's offset the task had seen when it went idle.
    pub offset: i64,
    /// When it wakes by itself (unix seconds on the keeper's clock).
    pub until: i64,
}

/// Asks for a reconcile of `namespace/name`.
type Trigger = mpsc::Sender<ObjectRef<ExchangeServiceAccount>>;

/// The operator's subscription keeper: one task per API-mode account whose service receives
/// change notifications.
pub struct Keeper {
    settings: Settings,
    accounts: Mutex<HashMap<String, Account>>,
    triggers: Mutex<Vec<(Option<String>, Trigger)>>,
    in_flight: Arc<Semaphore>,
    /// Tasks in the middle of a round (listing, planning, acting) at once: what a round holds
    /// is bounded by this many rounds, however many tenants there are.
    rounds: Arc<Semaphore>,
}

impl Keeper {
    /// A keeper with `settings`.
    pub fn new(settings: Settings) -> Self {
        let permits = settings.concurrency.max(1);
        Self {
            settings,
            accounts: Mutex::default(),
            triggers: Mutex::default(),
            in_flight: Arc::new(Semaphore::new(permits)),
            rounds: Arc::new(Semaphore::new(permits)),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Registers the reconcile trigger of the accounts of `namespace` (all when `None`).
    pub fn add_trigger(&self, namespace: Option<String>, trigger: Trigger) {
        self.triggers.lock().unwrap().push((namespace, trigger));
    }

    /// Asks for a reconcile of `namespace/name` (best effort).
    fn trigger(&self, namespace: &str, name: &str) {
        let trigger = self
            .triggers
            .lock()
            .unwrap()
            .iter()
            .find(|(ns, _)| ns.as_deref().is_none_or(|n| n == namespace))
            .map(|(_, t)| t.clone());
        if let Some(t) = trigger {
            let _ = t.try_send(ObjectRef::new(name).within(namespace));
        }
    }

    /// Hands the account's task its configuration (starting the task on the first call).
    pub fn keep(self: &Arc<Self>, config: Config) {
        let uid = config.uid.clone();
        let mut accounts = self.accounts.lock().unwrap();
        if let Some(a) = accounts.get(&uid).filter(|a| !a.task.is_finished()) {
            a.config.send_if_modified(|c| {
                let changed = c.as_ref().is_none_or(|c| !same_config(c, &config));
                *c = Some(Arc::new(config));
                changed
            });
            return;
        }
        let (config_tx, config_rx) = watch::channel(Some(Arc::new(config)));
        let (wanted_tx, wanted_rx) = watch::channel(Wanted::default());
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (summary_tx, summary_rx) = watch::channel(Summary::default());
        let catch_ups = Arc::new(Mutex::new(Vec::new()));
        let (idle_tx, idle_rx) = watch::channel(None);
        let task = tokio::spawn(task::run(task::Inputs {
            keeper: Arc::downgrade(self),
            config: config_rx,
            wanted: wanted_rx,
            events: events_rx,
            summary: summary_tx,
            catch_ups: catch_ups.clone(),
            idle: idle_tx,
        }));
        accounts.insert(
            uid,
            Account {
                config: config_tx,
                wanted: wanted_tx,
                events: events_tx,
                summary: summary_rx,
                catch_ups,
                idle: idle_rx,
                task,
            },
        );
    }

    /// The account no longer wants subscriptions (its service stopped receiving change
    /// notifications): its task deletes every subscription it keeps, with `token`.
    pub fn retire(self: &Arc<Self>, uid: &str, token: &AccessToken) {
        let last = self
            .accounts
            .lock()
            .unwrap()
            .get(uid)
            .and_then(|a| a.config.borrow().clone());
        if let Some(last) = last {
            let mut config = (*last).clone();
            config.folders.clear();
            config.token = token.clone();
            self.keep(config);
        }
    }

    /// Stops keeping `uid`'s subscriptions (they stay in Graph until deleted or expired).
    pub fn stop(&self, uid: &str) {
        if let Some(a) = self.accounts.lock().unwrap().remove(uid) {
            a.task.abort();
        }
    }

    /// Stops every account's task (the controllers stopped, or leadership was lost).
    pub fn stop_all(&self) {
        for (_, a) in self.accounts.lock().unwrap().drain() {
            a.task.abort();
        }
    }

    /// The protected users of `uid` are exactly `users`.
    pub fn replace_users(&self, uid: &str, users: HashSet<Guid>) {
        self.with_wanted(uid, |w| {
            let changed = !w.known || *w.users != users;
            *w = Wanted {
                known: true,
                users: Arc::new(users),
                ..Wanted::default()
            };
            changed
        });
    }

    /// Whether `uid`'s task is kept and does not know who is protected yet (it started since
    /// the operator did).
    pub fn needs_users(&self, uid: &str) -> bool {
        self.accounts
            .lock()
            .unwrap()
            .get(uid)
            .is_some_and(|a| !a.wanted.borrow().known)
    }

    /// The reconcile's directory round of this pass is over and did not say the whole set:
    /// a task that does not know it yet takes its baseline now.
    pub fn users_not_said(&self, uid: &str) {
        self.with_wanted(uid, |w| {
            let changed = !w.known && !w.baseline_now;
            w.baseline_now |= !w.known;
            changed
        });
    }

    /// The protected users of `uid` start from `baseline` (what is subscribed after a
    /// restart, `provisional`, or the directory's users), with the changes heard meanwhile
    /// applied; the set as it then is. A set said in the meantime (a snapshot, a list) is kept
    /// instead.
    pub fn baseline_users(
        &self,
        uid: &str,
        baseline: HashSet<Guid>,
        provisional: bool,
    ) -> Option<Wanted> {
        self.wanted_after(uid, |w| w.take_baseline(baseline, provisional))
    }

    /// The directory's users, read to confirm a provisional set (see [`Wanted::provisional`]);
    /// the set as it then is.
    pub fn confirm_users(&self, uid: &str, users: HashSet<Guid>) -> Option<Wanted> {
        self.wanted_after(uid, |w| w.confirm(users))
    }

    /// Users `added` and `removed` since the last change (kept, while the set is unknown or
    /// provisional, for what says the whole set).
    pub fn change_users(&self, uid: &str, added: &[Guid], removed: &[Guid]) {
        if added.is_empty() && removed.is_empty() {
            return;
        }
        self.with_wanted(uid, |w| w.change(added, removed));
    }

    /// `uid`'s set after `f` (which says whether it changed it); `None` when no task keeps it.
    fn wanted_after(&self, uid: &str, f: impl FnOnce(&mut Wanted) -> bool) -> Option<Wanted> {
        let mut result = None;
        self.with_wanted(uid, |w| {
            let changed = f(w);
            result = Some(w.clone());
            changed
        });
        result
    }

    fn with_wanted(&self, uid: &str, f: impl FnOnce(&mut Wanted) -> bool) {
        if let Some(a) = self.accounts.lock().unwrap().get(uid) {
            a.wanted.send_if_modified(f);
        }
    }

    /// Where `uid`'s protection stands; `None` when no task keeps it.
    pub fn summary(&self, uid: &str) -> Option<Summary> {
        self.accounts
            .lock()
            .unwrap()
            .get(uid)
            .map(|a| a.summary.borrow().clone())
    }

    /// Whether `uid`'s task is idle, and until when; `None` while it works (or no task keeps
    /// the account).
    pub fn idle(&self, uid: &str) -> Option<Idle> {
        self.accounts
            .lock()
            .unwrap()
            .get(uid)
            .and_then(|a| *a.idle.borrow())
    }

    /// Takes the mailboxes the service is to catch up on (the caller delivers them, or gives
    /// them back with [`Self::give_back`]).
    pub fn take_catch_ups(&self, uid: &str) -> Vec<CatchUp> {
        self.accounts
            .lock()
            .unwrap()
            .get(uid)
            .map(|a| std::mem::take(&mut *a.catch_ups.lock().unwrap()))
            .unwrap_or_default()
    }

    /// Gives back catch-ups that could not be delivered.
    pub fn give_back(&self, uid: &str, mut catch_ups: Vec<CatchUp>) {
        if let Some(a) = self.accounts.lock().unwrap().get(uid) {
            let mut held = a.catch_ups.lock().unwrap();
            catch_ups.append(&mut held);
            *held = catch_ups;
        }
    }

    /// Lifecycle notifications for `uid`: each is checked against the account's clientState;
    /// how many were accepted.
    pub fn lifecycle(&self, uid: &str, notifications: Vec<lifecycle::Notification>) -> usize {
        let accounts = self.accounts.lock().unwrap();
        let Some(a) = accounts.get(uid) else {
            return 0;
        };
        let Some(config) = a.config.borrow().clone() else {
            return 0;
        };
        let mut accepted = 0;
        for n in notifications {
            if let Some(event) = n.verified(&config.client_state, &config.tenant_id) {
                let _ = a.events.send(event);
                accepted += 1;
            }
        }
        accepted
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// `users` with `changes` (user, added) applied in order.
fn with_changes(mut users: HashSet<Guid>, changes: Vec<(Guid, bool)>) -> HashSet<Guid> {
    for (user, added) in changes {
        match added {
            true => users.insert(user),
            false => users.remove(&user),
        };
    }
    users
}

/// Whether two configurations differ only in what does not matter to the task.
fn same_config(a: &Config, b: &Config) -> bool {
    a.tenant_id == b.tenant_id
        && a.notification_url == b.notification_url
        && a.lifecycle_url == b.lifecycle_url
        && a.client_state == b.client_state
        && a.folders == b.folders
        && a.whole_directory == b.whole_directory
        && a.token.expires_at == b.token.expires_at
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(users: &[Guid]) -> HashSet<Guid> {
        users.iter().copied().collect()
    }

    #[test]
    fn a_provisional_set_is_confirmed_by_the_directory_with_the_changes_heard_meanwhile() {
        // (subscribed at the restart, changes heard, the directory's read, changes heard
        // after the read, the set then)
        type Case = (
            &'static [Guid],
            &'static [(Guid, bool)],
            &'static [Guid],
            &'static [(Guid, bool)],
            &'static [Guid],
        );
        let cases: &[Case] = &[
            // A user without a mailbox (3) was never subscribed: the read brings it back.
            (&[1, 2], &[], &[1, 2, 3], &[], &[1, 2, 3]),
            // Removed before the read, which no longer has it.
            (&[1, 2], &[(2, false)], &[1, 3], &[], &[1, 3]),
            // Added after the read, which did not have it yet.
            (&[1, 2], &[], &[1, 2], &[(4, true)], &[1, 2, 4]),
            // Removed after the read, which still had it.
            (&[1, 2], &[], &[1, 2, 3], &[(3, false)], &[1, 2]),
            // Removed, then added again: the latest change counts.
            (&[1, 2], &[(2, false), (2, true)], &[1], &[], &[1, 2]),
        ];
        for (at_restart, before, read, after, expected) in cases {
            let mut w = Wanted::default();
            assert!(w.take_baseline(set(at_restart), true));
            assert!(w.provisional);
            for (user, added) in before.iter().chain(after.iter()) {
                match added {
                    true => w.change(&[*user], &[]),
                    false => w.change(&[], &[*user]),
                };
            }
            w.confirm(set(read));
            assert_eq!(
                *w.users,
                set(expected),
                "{at_restart:?} {before:?} {read:?} {after:?}"
            );
            assert!(!w.provisional && w.pending.is_empty());
            // Once confirmed, the set follows the changes alone.
            assert!(!w.confirm(set(&[9])));
            w.change(&[7], &[]);
            assert!(w.pending.is_empty() && w.users.contains(&7));
        }
    }

    #[test]
    fn a_set_said_while_the_baseline_was_read_is_kept() {
        let mut w = Wanted::default();
        w.change(&[5], &[]);
        assert!(!w.known && w.pending == vec![(5, true)]);
        assert!(w.take_baseline(set(&[1]), false));
        assert_eq!(*w.users, set(&[1, 5]));
        assert!(!w.provisional && w.pending.is_empty());
        // A second baseline (a slower read) does not replace the set.
        assert!(!w.take_baseline(set(&[8]), true));
        assert_eq!(*w.users, set(&[1, 5]));
        assert!(!w.provisional);
    }

    #[test]
    fn changes_heard_before_the_baseline_apply_to_it_in_order() {
        let baseline: HashSet<Guid> = [1, 2, 3].into();
        let changes = vec![(4, true), (2, false), (4, false), (5, true), (2, true)];
        let got = with_changes(baseline, changes);
        assert_eq!(got, [1, 2, 3, 5].into());
    }
}
