//! One account's subscriptions, kept by a task of their own: observe (the app's subscriptions,
//! listed after a start and then once per audit interval), decide ([`super::plan`]), act within
//! the tenant's budget, report a [`Summary`]; then sleep until the next renewal falls due, the
//! budget refills, or something changes (the configuration, the protected set, a lifecycle
//! notification).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use tokio::sync::{mpsc, watch};

use super::budget::Bucket;
use super::index::{self, Guid, Index, Key, Sub, format_guid, parse_guid};
use super::lifecycle::Event;
use super::plan::{self, Failure, Step};
use super::{CatchUp, Config, Idle, Keeper, Problem, Summary, Wanted};
use crate::microsoft::graph::subscriptions::{NewSubscription, Subscription, rfc3339};
use crate::microsoft::graph::{GraphError, GraphFailure};

/// What the task is started with.
pub struct Inputs {
    /// The keeper (the task ends when it is gone).
    pub keeper: Weak<Keeper>,
    /// The configuration each reconcile hands over.
    pub config: watch::Receiver<Option<Arc<Config>>>,
    /// The protected users.
    pub wanted: watch::Receiver<Wanted>,
    /// Verified lifecycle notifications.
    pub events: mpsc::UnboundedReceiver<Event>,
    /// Where the summary is published.
    pub summary: watch::Sender<Summary>,
    /// Mailboxes the service is to catch up on.
    pub catch_ups: Arc<Mutex<Vec<CatchUp>>>,
    /// Whether the task is idle, and until when.
    pub idle: watch::Sender<Option<Idle>>,
}

/// Runs until the keeper stops the task (or is dropped).
pub async fn run(mut inputs: Inputs) {
    let mut state = State::default();
    let Some(mut moves) = inputs.keeper.upgrade().map(|k| k.settings().clock.moves()) else {
        return;
    };
    loop {
        let Some(keeper) = inputs.keeper.upgrade() else {
            return;
        };
        let offset = moves.seen();
        let config = inputs.config.borrow_and_update().clone();
        let wait = match config {
            Some(config) => state.step(&keeper, &config, &mut inputs).await,
            None => Duration::from_secs(3600),
        };
        if !wait.is_zero() {
            let until = keeper.settings().clock.now() + wait.as_secs() as i64;
            inputs.idle.send_replace(Some(Idle { offset, until }));
        }
        drop(keeper);
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = moves.moved() => {}
            changed = inputs.config.changed() => {
                if changed.is_err() {
                    return;
                }
                // A new token or configuration: a tenant-wide failure is tried again at once.
                state.blocked_until = None;
                state.tenant_failures = 0;
            }
            changed = inputs.wanted.changed() => if changed.is_err() {
                return;
            },
            event = inputs.events.recv() => match event {
                Some(e) => state.pending_events.push(e),
                None => return,
            },
        }
        inputs.idle.send_replace(None);
    }
}

/// What the task remembers between steps.
#[derive(Default)]
struct State {
    index: Index,
    /// When the app's subscriptions were last listed (unix seconds).
    listed_at: Option<i64>,
    /// Subscriptions of this account found wrong (another URL) or doubled: to delete.
    stale: Vec<Guid>,
    failures: HashMap<Key, Failure>,
    reauthorize: HashSet<Key>,
    pending_events: Vec<Event>,
    bucket: Option<Bucket>,
    blocked_until: Option<Instant>,
    tenant_failures: u32,
    problem: Option<Problem>,
    /// The summary as last published, to tell a change worth a reconcile.
    published: Option<Summary>,
    /// Since when nothing has said who is protected, while nothing is subscribed.
    unknown_since: Option<Instant>,
    /// The notification and lifecycle URLs the index was listed for.
    listed_for: Option<(String, Option<String>)>,
    /// Since when the protected set is provisional (unix seconds; see [`Wanted::provisional`]).
    provisional_since: Option<i64>,
    /// When progress was last shown, and the subscribed mailboxes then.
    progress_shown: Option<(Instant, u64)>,
}

/// How often at most the status follows the progress of many subscriptions.
const PROGRESS_EVERY: Duration = Duration::from_secs(30);

/// The most requests one round makes (then it plans again).
const ROUND: usize = 1000;

/// How long a task with nothing subscribed waits for the reconcile to say who is protected
/// before it lists the directory's users itself.
const USERS_GRACE: Duration = Duration::from_secs(60);

/// What one request came to.
enum Outcome {
    Created(Key, Sub),
    Renewed(Key, Sub),
    Deleted(Key),
    StaleDeleted(Guid),
    Reauthorized(Key),
    /// The subscription is gone (404): it is created again.
    Gone(Key),
    /// This mailbox failed, not the tenant.
    MailboxFailed(Key, &'static str),
    /// The tenant failed: stop and back off.
    Tenant(GraphError),
}

/// One request to make.
#[derive(Clone, Copy)]
enum Work {
    Plan(Step),
    Reauthorize(Key, Sub),
    DeleteStale(Guid),
}

impl State {
    /// One round of observe, decide, act, then report (whatever the round came to); how long
    /// to sleep after it.
    async fn step(&mut self, keeper: &Keeper, config: &Config, inputs: &mut Inputs) -> Duration {
        let (wait, wanted) = self.round(keeper, config, inputs).await;
        self.publish(keeper, config, wanted.as_ref(), inputs);
        wait
    }

    /// Observe, decide, act: how long to sleep, and the protected set if it is known.
    async fn round(
        &mut self,
        keeper: &Keeper,
        config: &Config,
        inputs: &mut Inputs,
    ) -> (Duration, Option<Wanted>) {
        let settings = keeper.settings();
        if let Some(b) = self.blocked_until.filter(|b| *b > Instant::now()) {
            return (b - Instant::now(), self.known_wanted(inputs));
        }
        // A thousand tenants starting at once take turns: only so many rounds hold their
        // listings, plans and outcomes at a time (each still makes its requests within the
        // operator-wide limit).
        let Ok(_round) = keeper.rounds.acquire().await else {
            return (Duration::from_secs(3600), None);
        };
        let now = settings.clock.now();
        if token_expiring(config, now) {
            // The reconcile brings a new token.
            keeper.trigger(&config.namespace, &config.name);
            return (Duration::from_secs(5), self.known_wanted(inputs));
        }
        let audit = settings.audit_interval.as_secs() as i64;
        // Another notification URL, lifecycle URL or key: what exists is listed again, and
        // what no longer matches is replaced.
        let target = (
            config.notification_url.clone(),
            config.lifecycle_url.clone(),
        );
        if self.listed_for.as_ref() != Some(&target) {
            self.listed_at = None;
        }
        if self.listed_at.is_none_or(|t| now - t >= audit) {
            let before: Vec<Key> = self.index.iter().map(|(k, _)| *k).collect();
            // Listings count among the requests in flight: a thousand tasks starting at
            // once read their subscriptions a few at a time.
            let listed = match keeper.in_flight.acquire().await {
                Ok(_permit) => self.list(config).await,
                Err(_) => return (Duration::from_secs(3600), None),
            };
            if let Err(e) = listed {
                return (self.tenant_failed(keeper, config, e), None);
            }
            // Gone since the last look without a lifecycle notification: the service catches
            // up on those mailboxes from then.
            if let Some(last) = self.listed_at {
                for k in before.iter().filter(|k| self.index.get(k).is_none()) {
                    push_catch_up(inputs, k.user, last, "SubscriptionRemoved");
                }
            }
            self.listed_at = Some(now);
            self.listed_for = Some(target);
        }
        self.lifecycle_events(inputs, now);
        let mut wanted = inputs.wanted.borrow_and_update().clone();
        if config.folders.is_empty() {
            // Retired: nothing is watched, whoever is protected.
            wanted = Wanted {
                known: true,
                ..Wanted::default()
            };
        }
        if !wanted.known && self.index.is_empty() {
            if !config.whole_directory {
                // Only the list's resolution says who is selected: the reconcile hands it
                // over (the task wakes when it does).
                return (Duration::from_secs(3600), None);
            }
            // The directory's snapshot is about to say who is protected: unless the reconcile
            // said none is coming, it is given a minute before the task reads the users.
            let since = *self.unknown_since.get_or_insert_with(Instant::now);
            if !wanted.baseline_now && since.elapsed() < USERS_GRACE {
                return (USERS_GRACE - since.elapsed(), None);
            }
        }
        if !wanted.known {
            let users = if self.index.is_empty() {
                let Some(users) = read_directory(keeper, config).await else {
                    return (Duration::from_secs(3600), None);
                };
                match users {
                    Ok(u) => u,
                    Err(e) => return (self.tenant_failed(keeper, config, e), None),
                }
            } else {
                // After a restart: what is subscribed is the protected set, until the
                // directory or the list says otherwise.
                self.index.iter().map(|(k, _)| k.user).collect()
            };
            // After a restart the set is what is subscribed, until the directory is read.
            let provisional = config.whole_directory && !self.index.is_empty();
            // None: the account is no longer kept (stopped meanwhile).
            let Some(baseline) = keeper.baseline_users(&config.uid, users, provisional) else {
                return (Duration::from_secs(3600), None);
            };
            wanted = baseline;
            inputs.wanted.borrow_and_update();
        }
        // A provisional set (what was subscribed at the restart) is confirmed by one read of
        // the directory a while after the restart, which finds the users whose mailboxes failed.
        let mut check_due = None;
        if wanted.provisional && config.whole_directory {
            let due = *self.provisional_since.get_or_insert(now)
                + settings.users_check_after.as_secs() as i64;
            if now < due {
                check_due = Some(due);
            } else {
                let Some(users) = read_directory(keeper, config).await else {
                    return (Duration::from_secs(3600), None);
                };
                match users {
                    Ok(users) => match keeper.confirm_users(&config.uid, users) {
                        Some(confirmed) => wanted = confirmed,
                        None => return (Duration::from_secs(3600), None),
                    },
                    Err(e) => return (self.tenant_failed(keeper, config, e), None),
                }
                self.provisional_since = None;
            }
        } else {
            self.provisional_since = None;
        }
        self.failures.retain(|k, _| wanted.users.contains(&k.user));
        let plan = plan::plan(
            &wanted.users,
            &config.folders,
            &self.index,
            &self.failures,
            &settings.lifetime,
            now,
            ROUND,
        );
        let mut work: Vec<Work> = self.stale.iter().map(|id| Work::DeleteStale(*id)).collect();
        work.extend(
            self.reauthorize
                .iter()
                .filter_map(|k| self.index.get(k).map(|s| Work::Reauthorize(*k, s))),
        );
        work.extend(plan.steps.iter().map(|s| Work::Plan(*s)));
        let bucket = self.bucket.get_or_insert_with(|| {
            Bucket::new(
                settings.writes_per_20s,
                Duration::from_secs(20),
                Instant::now(),
            )
        });
        // At most a round's worth at a time: what a round holds stays small, whatever the
        // budget; the rest follows at once.
        let round = work.len().min(ROUND);
        let granted = bucket.take(round, Instant::now());
        let remaining = work.len() - granted;
        work.truncate(granted);
        let outcomes = execute(keeper, config, work).await;
        let mut tenant_error = None;
        let mut deleted_stale = HashSet::new();
        for outcome in outcomes {
            match outcome {
                Outcome::Created(k, s) | Outcome::Renewed(k, s) => {
                    self.index.insert(k, s);
                    self.failures.remove(&k);
                }
                Outcome::Deleted(k) => {
                    self.index.remove(&k);
                }
                Outcome::StaleDeleted(id) => {
                    deleted_stale.insert(id);
                }
                Outcome::Reauthorized(k) => {
                    self.reauthorize.remove(&k);
                    push_catch_up(inputs, k.user, now, "ReauthorizationRequired");
                }
                Outcome::Gone(k) => {
                    // Expired or removed unnoticed: created again, and caught up on.
                    self.index.remove(&k);
                    self.reauthorize.remove(&k);
                    let since = self.listed_at.unwrap_or(now);
                    push_catch_up(inputs, k.user, since, "SubscriptionRecreated");
                }
                Outcome::MailboxFailed(k, reason) => {
                    let retry_at = now + settings.mailbox_retry.as_secs() as i64;
                    self.failures.insert(k, Failure { reason, retry_at });
                }
                Outcome::Tenant(e) => tenant_error = Some(e),
            }
        }
        if !deleted_stale.is_empty() {
            self.stale.retain(|s| !deleted_stale.contains(s));
        }
        let wait = match tenant_error {
            Some(e) => self.tenant_failed(keeper, config, e),
            None => {
                self.tenant_failures = 0;
                self.problem = None;
                if remaining > 0 && granted < round {
                    bucket_wait(self.bucket.as_mut())
                } else if granted > 0 {
                    // Plan again at once: what was done moves the next due time.
                    Duration::ZERO
                } else {
                    let next = plan
                        .next_due
                        .unwrap_or(now + 3600)
                        .min(self.listed_at.unwrap_or(now) + audit)
                        .min(check_due.unwrap_or(i64::MAX));
                    let next = next.min(config.token.expires_at.as_second() - token_margin(config));
                    Duration::from_secs((next - settings.clock.now()).clamp(0, 3600) as u64)
                }
            }
        };
        (wait, Some(wanted))
    }

    /// The protected set, once it is known and the subscriptions were listed.
    fn known_wanted(&self, inputs: &Inputs) -> Option<Wanted> {
        let wanted = inputs.wanted.borrow().clone();
        (wanted.known && self.listed_at.is_some()).then_some(wanted)
    }

    /// Lists the app's subscriptions: this account's go into the index; those of its that
    /// point elsewhere (the service's URL changed) or repeat a mailbox folder are deleted.
    async fn list(&mut self, config: &Config) -> Result<(), GraphError> {
        let mut index = Index::default();
        let mut stale = Vec::new();
        let mut pages = std::pin::pin!(config.graph.subscription_pages(&config.token));
        while let Some(page) = pages.try_next().await? {
            for sub in page.value {
                if index::owner_of(&sub.notification_url) != Some(config.uid.as_str()) {
                    continue;
                }
                let Some(id) = parse_guid(&sub.id) else {
                    continue;
                };
                let current = sub.notification_url == config.notification_url
                    && sub.lifecycle_notification_url == config.lifecycle_url;
                match (index::parse_resource(&sub.resource), current) {
                    (Some(key), true) => {
                        let entry = Sub {
                            id,
                            expires: expires_of(&sub),
                        };
                        if let Some(other) = index.get(&key) {
                            // Two for one folder (a create whose answer was lost): keep the
                            // one that lives longer.
                            let (keep, drop) = if other.expires >= entry.expires {
                                (other, entry)
                            } else {
                                (entry, other)
                            };
                            stale.push(drop.id);
                            index.insert(key, keep);
                        } else {
                            index.insert(key, entry);
                        }
                    }
                    _ => stale.push(id),
                }
            }
        }
        self.index = index;
        self.stale = stale;
        Ok(())
    }

    fn lifecycle_events(&mut self, inputs: &mut Inputs, now: i64) {
        while let Ok(e) = inputs.events.try_recv() {
            self.pending_events.push(e);
        }
        for event in std::mem::take(&mut self.pending_events) {
            match event {
                Event::Reauthorize(id) => {
                    if let Some(k) = self.index.key_of(id) {
                        self.reauthorize.insert(k);
                    }
                }
                Event::Removed(id) => {
                    if let Some(k) = self.index.key_of(id) {
                        self.index.remove(&k);
                        self.reauthorize.remove(&k);
                        push_catch_up(inputs, k.user, now, "SubscriptionRemoved");
                    }
                }
                Event::Missed(id) => {
                    if let Some(k) = self.index.key_of(id) {
                        push_catch_up(inputs, k.user, now, "Missed");
                    }
                }
            }
        }
    }

    /// Records a failure of the whole tenant; how long to wait before trying again.
    fn tenant_failed(&mut self, keeper: &Keeper, config: &Config, e: GraphError) -> Duration {
        let delay = match e.failure {
            GraphFailure::Throttled => {
                let after = e.retry_after.unwrap_or(Duration::from_secs(20));
                if let Some(b) = self.bucket.as_mut() {
                    b.throttled(after, Instant::now());
                }
                after
            }
            _ => e
                .retry_after
                .unwrap_or_else(|| keeper.settings().backoff.delay(self.tenant_failures)),
        };
        self.tenant_failures = self.tenant_failures.saturating_add(1);
        if e.failure == GraphFailure::TokenRejected {
            keeper.trigger(&config.namespace, &config.name);
        }
        self.blocked_until = Some(Instant::now() + delay);
        self.problem = Some(problem_of(&e));
        tracing::warn!(account = %format!("{}/{}", config.namespace, config.name), reason = e.failure.reason(), error = %e, ?delay, "subscriptions: tenant failed");
        delay
    }

    /// Publishes the summary (not ready while the protected set or the subscriptions are not
    /// known); a change a human would see asks for a reconcile.
    fn publish(
        &mut self,
        keeper: &Keeper,
        config: &Config,
        wanted: Option<&Wanted>,
        inputs: &Inputs,
    ) {
        let summary = match wanted {
            Some(w) => self.summary(config, w, &keeper.settings().lifetime),
            None => Summary {
                problem: self.problem.clone(),
                ..Summary::default()
            },
        };
        let worth_a_reconcile = self.published.as_ref().is_none_or(|p| {
            p.ready != summary.ready
                || p.problem != summary.problem
                || (p.subscribed == p.protected) != (summary.subscribed == summary.protected)
                || p.failures.keys().ne(summary.failures.keys())
                || p.protected != summary.protected
        }) || !inputs.catch_ups.lock().unwrap().is_empty()
            || self.progressed(&summary);
        inputs.summary.send_if_modified(|s| {
            let changed = *s != summary;
            *s = summary.clone();
            changed
        });
        self.published = Some(summary);
        if worth_a_reconcile {
            keeper.trigger(&config.namespace, &config.name);
        }
    }

    /// While many mailboxes are subscribed over minutes, the status follows: a tenth of them
    /// more (or fewer) than last shown, at most every 30 seconds.
    fn progressed(&mut self, summary: &Summary) -> bool {
        let (at, shown) = self.progress_shown.unwrap_or((Instant::now(), 0));
        let step = (summary.protected / 10).max(1);
        let moved = summary.subscribed.abs_diff(shown) >= step;
        let due = self.progress_shown.is_none() || at.elapsed() >= PROGRESS_EVERY;
        if moved && due {
            self.progress_shown = Some((Instant::now(), summary.subscribed));
            return true;
        }
        false
    }

    fn summary(&self, config: &Config, wanted: &Wanted, lifetime: &plan::Lifetime) -> Summary {
        let mut summary = Summary {
            ready: true,
            protected: wanted.users.len() as u64,
            problem: self.problem.clone(),
            ..Summary::default()
        };
        for user in wanted.users.iter() {
            let keys = config.folders.iter().map(|f| Key {
                user: *user,
                folder: *f,
            });
            let mut all = true;
            let mut failed = None;
            for k in keys {
                if self.index.get(&k).is_none() {
                    all = false;
                    if let Some(f) = self.failures.get(&k) {
                        failed = Some(f.reason);
                    }
                }
            }
            if all {
                summary.subscribed += 1;
            } else if let Some(reason) = failed {
                let entry = summary.failures.entry(reason).or_default();
                entry.0 += 1;
                if entry.1.len() < 5 {
                    entry.1.push(format_guid(*user));
                }
            }
        }
        for entry in summary.failures.values_mut() {
            entry.1.sort();
        }
        summary.next_renewal = self
            .index
            .iter()
            .map(|(_, s)| lifetime.renewal_due(s))
            .min();
        summary
    }
}

/// Every user of the directory (when nothing tells who is protected yet).
pub async fn directory_users(config: &Config) -> Result<HashSet<Guid>, GraphError> {
    #[derive(serde::Deserialize)]
    struct Id {
        id: String,
    }
    let path = "/users?$select=id&$top=999".to_string();
    let mut pages = std::pin::pin!(config.graph.pages::<Id>(&config.token, path, false));
    let mut users = HashSet::new();
    while let Some(page) = pages.try_next().await? {
        users.extend(page.value.iter().filter_map(|u| parse_guid(&u.id)));
    }
    Ok(users)
}

/// What a task would do now (a planning pass, which starts none): how many subscriptions it
/// would create and delete for `wanted`, and the summary it would report before.
pub struct PlannedWork {
    /// Subscriptions to create.
    pub creates: usize,
    /// Subscriptions to delete (no longer wanted, pointing elsewhere, or doubled).
    pub deletes: usize,
    /// Where protection stands now.
    pub summary: Summary,
}

/// Lists the app's subscriptions and plans for `wanted`, writing nothing.
pub async fn planned(
    config: &Config,
    wanted: &HashSet<Guid>,
    settings: &super::Settings,
) -> Result<PlannedWork, GraphError> {
    let mut state = State::default();
    state.list(config).await?;
    // The keeper's clock, as its tasks read it.
    let (now, lifetime) = (settings.clock.now(), &settings.lifetime);
    let plan = plan::plan(
        wanted,
        &config.folders,
        &state.index,
        &HashMap::new(),
        lifetime,
        now,
        usize::MAX,
    );
    let count = |f: fn(&Step) -> bool| plan.steps.iter().filter(|s| f(s)).count();
    let users = Wanted {
        known: true,
        users: Arc::new(wanted.clone()),
        ..Wanted::default()
    };
    Ok(PlannedWork {
        creates: count(|s| matches!(s, Step::Create(_))),
        deletes: count(|s| matches!(s, Step::Delete(..))) + state.stale.len(),
        summary: state.summary(config, &users, lifetime),
    })
}

/// How long before its expiry a token is no longer used: a minute, or a fifth of a shorter
/// lifetime.
fn token_margin(config: &Config) -> i64 {
    let lifetime = config.token.expires_at.as_second() - config.token.issued_at.as_second();
    (lifetime / 5).clamp(1, 60)
}

/// Whether the token is too close to its expiry to be used.
fn token_expiring(config: &Config, now: i64) -> bool {
    config.token.expires_at.as_second() - token_margin(config) <= now
}

fn bucket_wait(bucket: Option<&mut Bucket>) -> Duration {
    bucket
        .map(|b| b.wait(Instant::now()))
        .unwrap_or(Duration::from_secs(1))
        .max(Duration::from_millis(50))
}

fn push_catch_up(inputs: &Inputs, user: Guid, since: i64, reason: &'static str) {
    let mut held = inputs.catch_ups.lock().unwrap();
    if !held.iter().any(|c| c.user == user) {
        held.push(CatchUp {
            user,
            since,
            reason,
        });
    }
}

fn expires_of(sub: &Subscription) -> i64 {
    sub.expiration_date_time
        .as_deref()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map(|t| t.as_second())
        .unwrap_or(0)
}

fn problem_of(e: &GraphError) -> Problem {
    let (reason, message, needs_human) = match e.failure {
        GraphFailure::PermissionDenied => (
            "PermissionDenied",
            format!(
                "Microsoft Graph refused the subscriptions ({e}): the application lacks the mail permission; grant admin consent again."
            ),
            true,
        ),
        GraphFailure::BadRequest if e.code.as_deref() == Some("ValidationError") => (
            "NotificationUrlNotValidated",
            format!(
                "Microsoft Graph could not validate the service's notification URL or the operator's lifecycle URL ({e}); check that spec.notificationUrl of the service answers Graph's validation request; retrying."
            ),
            false,
        ),
        _ => (
            e.failure.reason(),
            format!("Microsoft Graph did not answer the subscription requests ({e}); retrying."),
            false,
        ),
    };
    Problem {
        reason: reason.to_string(),
        message,
        needs_human,
    }
}

/// The directory's users, read as one request in flight; `None` once the keeper is closed.
async fn read_directory(
    keeper: &Keeper,
    config: &Config,
) -> Option<Result<HashSet<Guid>, GraphError>> {
    let _permit = keeper.in_flight.acquire().await.ok()?;
    Some(directory_users(config).await)
}

/// Makes the requests, a few at a time for the tenant and within the operator-wide limit;
/// stops starting new ones after the tenant fails.
async fn execute(keeper: &Keeper, config: &Config, work: Vec<Work>) -> Vec<Outcome> {
    let settings = keeper.settings();
    let lifetime = jiff::SignedDuration::from_secs(settings.lifetime.requested);
    let failed = std::sync::atomic::AtomicBool::new(false);
    let failed = &failed;
    futures::stream::iter(work)
        .map(|w| async move {
            if failed.load(std::sync::atomic::Ordering::Relaxed) {
                return None;
            }
            let _permit = keeper.in_flight.acquire().await.ok()?;
            // Boxed: what waits for a permit stays small (a request's future is not).
            let outcome = Box::pin(one(config, w, settings.clock.timestamp() + lifetime)).await;
            if matches!(outcome, Outcome::Tenant(_)) {
                failed.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            Some(outcome)
        })
        .buffer_unordered(8)
        .filter_map(|o| async move { o })
        .collect()
        .await
}

/// Makes one request; subscriptions made or renewed are asked to live until `expires`.
async fn one(config: &Config, work: Work, expires: jiff::Timestamp) -> Outcome {
    let (graph, token) = (&config.graph, &config.token);
    let expires = || expires;
    match work {
        Work::Plan(Step::Create(key)) => {
            let resource = key.folder.resource(key.user);
            let new = NewSubscription {
                change_type: "created",
                notification_url: &config.notification_url,
                lifecycle_notification_url: config.lifecycle_url.as_deref(),
                resource: &resource,
                expiration_date_time: rfc3339(expires()),
                client_state: &config.client_state,
                latest_supported_tls_version: "v1_2",
            };
            match graph.create_subscription(token, &new).await {
                Ok(sub) => match parse_guid(&sub.id) {
                    Some(id) => Outcome::Created(
                        key,
                        Sub {
                            id,
                            expires: expires_of(&sub),
                        },
                    ),
                    None => Outcome::MailboxFailed(key, "UnexpectedResponse"),
                },
                Err(e) => match e.failure {
                    GraphFailure::NotFound => Outcome::MailboxFailed(key, "MailboxNotEnabled"),
                    // Outlook's refusals carry `ExtensionError`: on a 403, the mailbox's own
                    // limit of subscriptions (1,000, all applications together) is reached.
                    GraphFailure::PermissionDenied
                        if e.code.as_deref() == Some("ExtensionError") =>
                    {
                        Outcome::MailboxFailed(key, "MailboxSubscriptionLimit")
                    }
                    GraphFailure::BadRequest if e.code.as_deref() != Some("ValidationError") => {
                        Outcome::MailboxFailed(key, "SubscriptionRefused")
                    }
                    _ => Outcome::Tenant(e),
                },
            }
        }
        Work::Plan(Step::Renew(key, sub)) => {
            match graph
                .renew_subscription(token, &format_guid(sub.id), expires())
                .await
            {
                Ok(answer) => Outcome::Renewed(
                    key,
                    Sub {
                        id: sub.id,
                        expires: expires_of(&answer),
                    },
                ),
                Err(e) if e.failure == GraphFailure::NotFound => Outcome::Gone(key),
                Err(e) => Outcome::Tenant(e),
            }
        }
        Work::Plan(Step::Delete(key, sub)) => {
            match graph.delete_subscription(token, &format_guid(sub.id)).await {
                Ok(()) => Outcome::Deleted(key),
                Err(e) => Outcome::Tenant(e),
            }
        }
        Work::Reauthorize(key, sub) => {
            match graph
                .reauthorize_subscription(token, &format_guid(sub.id))
                .await
            {
                Ok(()) => Outcome::Reauthorized(key),
                Err(e) if e.failure == GraphFailure::NotFound => Outcome::Gone(key),
                Err(e) => Outcome::Tenant(e),
            }
        }
        Work::DeleteStale(id) => match graph.delete_subscription(token, &format_guid(id)).await {
            Ok(()) => Outcome::StaleDeleted(id),
            Err(e) => Outcome::Tenant(e),
        },
    }
}
