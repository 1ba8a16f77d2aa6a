//! Directory synchronisation for scope `All`: users and groups through Graph delta rounds,
//! streamed page by page, with the delta links kept in a ConfigMap owned by the account so the
//! next round is incremental, and the verified mail domains. Counts are kept in the same
//! ConfigMap: a user or group created since the previous round is new, one with `@removed` is
//! gone, anything else is a change.

use crate::controller::fail_point;
use std::collections::BTreeMap;

use futures::TryStreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::ResourceExt;
use kube::api::Api;

use super::delivery::round::RoundInput;
use super::delivery::state::StreamState;
use super::delivery::{self, DeliveryObservation, Handoff};
use super::tenant_clients::TenantClients;
use crate::controller::context::Context;
use crate::controller::error::Result;
use crate::controller::planned::{Action, Change, Target};
use crate::microsoft::graph::directory::DeltaStart;
use crate::microsoft::graph::models::{Group, User};
use crate::microsoft::graph::{GraphError, GraphFailure, Page};
use crate::microsoft::identity::token::AccessToken;
use exo_api::exchange_service_account::{ExchangeServiceAccount, SyncSummary};

pub use exo_api::annotations::SYNC_REQUESTED_AT as SYNC_REQUESTED_ANNOTATION;

/// Whether the sync requested on `object` is dated within the second of `now`. Status
/// times count in whole seconds, so a pass made now is stamped before such a request and
/// cannot show it served: the account must be looked at again once the second is over, or the
/// request would wait for the next event or the periodic resync.
pub fn requested_within_the_second(object: &impl ResourceExt, now: jiff::Timestamp) -> bool {
    object
        .annotations()
        .get(SYNC_REQUESTED_ANNOTATION)
        .and_then(|v| v.parse::<jiff::Timestamp>().ok())
        .is_some_and(|requested| requested.as_second() == now.as_second())
}

/// The persisted state of the delta rounds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeltaState {
    /// Delta link of the users round.
    pub users_link: Option<String>,
    /// Delta link of the groups round.
    pub groups_link: Option<String>,
    /// Users counted.
    pub users: i64,
    /// Groups counted.
    pub groups: i64,
    /// The tenant's stream to the service.
    pub stream: StreamState,
}

impl DeltaState {
    fn from_data(data: &BTreeMap<String, String>) -> Self {
        Self {
            users_link: data.get("users-delta-link").cloned(),
            groups_link: data.get("groups-delta-link").cloned(),
            users: data.get("users").and_then(|v| v.parse().ok()).unwrap_or(0),
            groups: data.get("groups").and_then(|v| v.parse().ok()).unwrap_or(0),
            stream: StreamState::from_data(data),
        }
    }

    /// Writes the state into `data` (keys it does not know are kept).
    fn write(&self, data: &mut BTreeMap<String, String>) {
        for (key, link) in [
            ("users-delta-link", &self.users_link),
            ("groups-delta-link", &self.groups_link),
        ] {
            match link {
                Some(l) => data.insert(key.into(), l.clone()),
                None => data.remove(key),
            };
        }
        data.insert("users".into(), self.users.to_string());
        data.insert("groups".into(), self.groups.to_string());
        self.stream.write(data);
    }
}

/// The name of the ConfigMap keeping an account's delta state.
pub fn state_name(esa: &ExchangeServiceAccount) -> String {
    format!("{}-sync-state", esa.name_any())
}

/// The sync interval of the spec (validated by the CRD; 24h when unreadable).
pub fn interval(esa: &ExchangeServiceAccount) -> jiff::SignedDuration {
    parse_duration(&esa.spec.sync.interval).unwrap_or(jiff::SignedDuration::from_hours(24))
}

/// Parses a Go-style duration of hours, minutes and seconds (`24h`, `1h30m`, `90m`).
pub fn parse_duration(text: &str) -> Option<jiff::SignedDuration> {
    let mut total = 0i64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: i64 = number.parse().ok()?;
        number.clear();
        total += n * match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
    }
    (number.is_empty() && total > 0).then(|| jiff::SignedDuration::from_secs(total))
}

/// Whether a synchronisation is due at `now`: never synced, the interval elapsed, an
/// on-demand request newer than the last sync, or a spec change not yet synced.
pub fn due(esa: &ExchangeServiceAccount, now: jiff::Timestamp) -> bool {
    let status = esa.status.as_ref();
    let Some(summary) = status.and_then(|s| s.sync.as_ref()) else {
        return true;
    };
    let Some(Time(last)) = summary.last_sync_time else {
        return true;
    };
    if summary
        .next_sync_time
        .as_ref()
        .is_none_or(|Time(next)| *next <= now)
    {
        return true;
    }
    if let Some(requested) = esa
        .annotations()
        .get(SYNC_REQUESTED_ANNOTATION)
        .and_then(|v| v.parse::<jiff::Timestamp>().ok())
        && requested > last
    {
        return true;
    }
    let synced_generation = status
        .and_then(|s| {
            crate::controller::conditions::get(
                &s.conditions,
                crate::controller::conditions::DIRECTORY_SYNCED,
            )
        })
        .filter(|c| c.status == "True")
        .and_then(|c| c.observed_generation);
    synced_generation != esa.metadata.generation
}

/// A directory object as a delta round sees it: present or removed, and when it was created.
pub trait DeltaItem {
    /// Whether the page reports it removed (`@removed`).
    fn removed(&self) -> bool;
    /// Its `createdDateTime`, when Graph gives one.
    fn created(&self) -> Option<&str>;
}

impl DeltaItem for User {
    fn removed(&self) -> bool {
        self.removed.is_some()
    }
    fn created(&self) -> Option<&str> {
        self.created_date_time.as_deref()
    }
}

impl DeltaItem for Group {
    fn removed(&self) -> bool {
        self.removed.is_some()
    }
    fn created(&self) -> Option<&str> {
        self.created_date_time.as_deref()
    }
}

/// Net change of one delta page: (added, removed). An item created after `since` is new; with
/// no `since` (a full round) every item present is new.
pub fn tally<T: DeltaItem>(items: &[T], since: Option<jiff::Timestamp>) -> (i64, i64) {
    let mut added = 0;
    let mut gone = 0;
    for item in items {
        if item.removed() {
            if since.is_some() {
                gone += 1;
            }
        } else {
            let new = match since {
                None => true,
                Some(since) => item
                    .created()
                    .and_then(|c| c.parse::<jiff::Timestamp>().ok())
                    .is_some_and(|c| c >= since),
            };
            if new {
                added += 1;
            }
        }
    }
    (added, gone)
}

/// Result of one delta round.
struct Round {
    link: Option<String>,
    count: i64,
}

/// Where a round starts and what it knew: the saved delta link (none: a full round), the count
/// it reached, and the time after which an item is new.
struct RoundStart {
    link: Option<String>,
    count: i64,
    since: Option<jiff::Timestamp>,
}

/// One delta round of `what` (`users`, `groups`): incremental from the saved link, or a full
/// round when there is none or Graph says the link expired.
async fn round<T, S>(
    account: &TenantClients,
    what: &str,
    start: RoundStart,
    pages: impl Fn(DeltaStart) -> S,
) -> std::result::Result<Round, GraphError>
where
    T: DeltaItem,
    S: futures::Stream<Item = std::result::Result<Page<T>, GraphError>>,
{
    let Some(link) = start.link else {
        return run_round(pages(DeltaStart::Initial), 0, None).await;
    };
    match run_round(pages(DeltaStart::Link(link)), start.count, start.since).await {
        Err(e) if e.failure == GraphFailure::ResyncRequired => {
            tracing::info!(account = %account.key, what, "delta link expired; full round");
            run_round(pages(DeltaStart::Initial), 0, None).await
        }
        other => other,
    }
}

async fn run_round<T: DeltaItem>(
    pages: impl futures::Stream<Item = std::result::Result<Page<T>, GraphError>>,
    start: i64,
    since: Option<jiff::Timestamp>,
) -> std::result::Result<Round, GraphError> {
    let mut pages = std::pin::pin!(pages);
    let mut count = start;
    let mut link = None;
    while let Some(page) = pages.try_next().await? {
        let (added, gone) = tally(&page.value, since);
        count = (count + added - gone).max(0);
        if page.delta_link.is_some() {
            link = page.delta_link;
        }
    }
    Ok(Round { link, count })
}

/// The account's `{name}-sync-state` ConfigMap: read once per pass, written when what it
/// records changes (the delivery records a round before sending it, then the pass its end).
pub struct StateStore {
    api: Api<ConfigMap>,
    name: String,
    owner: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>,
    current: tokio::sync::Mutex<Option<ConfigMap>>,
}

impl StateStore {
    /// Reads the account's state.
    pub async fn load(
        esa: &ExchangeServiceAccount,
        account: &TenantClients,
        client: &kube::Client,
    ) -> Result<(Self, DeltaState)> {
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), &account.namespace);
        let name = state_name(esa);
        let existing = api.get_opt(&name).await?;
        let state = existing
            .as_ref()
            .map(|cm| DeltaState::from_data(&cm.data.clone().unwrap_or_default()))
            .unwrap_or_default();
        let store = Self {
            api,
            name,
            owner: TenantClients::owner_reference(esa),
            current: tokio::sync::Mutex::new(existing),
        };
        Ok((store, state))
    }

    /// A planning pass: what [`Self::save`] would create (a new ConfigMap; its later
    /// contents are the operator's bookkeeping, not changes of the account's world).
    pub async fn plan_save(&self, ctx: &Context) {
        if self.current.lock().await.is_none() {
            let what = format!("ConfigMap {}", self.name);
            ctx.plans_only(|| Change::new(Target::Cluster, Action::Create, what));
        }
    }

    /// Writes `state` unless the ConfigMap already says it.
    pub async fn save(&self, state: &DeltaState) -> Result<()> {
        let mut current = self.current.lock().await;
        let mut data = current
            .as_ref()
            .and_then(|cm| cm.data.clone())
            .unwrap_or_default();
        if current.is_some() && DeltaState::from_data(&data) == *state {
            return Ok(());
        }
        state.write(&mut data);
        let post = crate::controller::field_manager::post();
        let written = match current.clone() {
            Some(mut cm) => {
                cm.data = Some(data);
                fail_point::around("sync state", self.api.replace(&self.name, &post, &cm)).await?
            }
            None => {
                let cm = ConfigMap {
                    metadata: ObjectMeta {
                        name: Some(self.name.clone()),
                        owner_references: self.owner.clone().map(|o| vec![o]),
                        labels: Some(BTreeMap::from([(
                            "app.kubernetes.io/managed-by".to_string(),
                            "exo-operator".to_string(),
                        )])),
                        ..Default::default()
                    },
                    data: Some(data),
                    ..Default::default()
                };
                fail_point::around("sync state", self.api.create(&post, &cm)).await?
            }
        };
        *current = Some(written);
        Ok(())
    }
}

/// The stream to the service as the account's state records it.
pub async fn recorded_stream(
    esa: &ExchangeServiceAccount,
    account: &TenantClients,
    client: &kube::Client,
) -> Result<StreamState> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &account.namespace);
    let data = api
        .get_opt(&state_name(esa))
        .await?
        .and_then(|cm| cm.data)
        .unwrap_or_default();
    Ok(StreamState::from_data(&data))
}

/// What a synchronisation of scope `All` found: the summary, and what the service
/// acknowledged when it receives the directory.
pub struct Synced {
    /// The directory as read (the users as last acknowledged when the service did not
    /// acknowledge this round).
    pub summary: SyncSummary,
    /// The handoff's outcome, when the service has an ingestion endpoint.
    pub delivery: Option<DeliveryObservation>,
}

/// Runs the users round (delivered to the service when it has an ingestion endpoint), the
/// groups round and the domains read concurrently, saves the delta state and returns the
/// summary.
pub async fn sync_all(
    esa: &ExchangeServiceAccount,
    account: &TenantClients,
    token: &AccessToken,
    ctx: &Context,
    now: jiff::Timestamp,
    handoff: Option<(&Handoff, &str)>,
    protected: Option<(&crate::protection::Keeper, &str)>,
) -> Result<Synced> {
    let (store, state) = StateStore::load(esa, account, &ctx.client).await?;
    let since = esa
        .status
        .as_ref()
        .and_then(|s| s.sync.as_ref())
        .and_then(|s| s.last_sync_time.as_ref())
        .map(|t| t.0 - jiff::SignedDuration::from_mins(5));
    let users_and_domains = async {
        let domains = account.graph.domains(token).await?;
        let Some((handoff, tenant)) = handoff else {
            let users = round(
                account,
                "users",
                RoundStart {
                    link: state.users_link.clone(),
                    count: state.users,
                    since,
                },
                |start| account.graph.users_delta(token, start),
            )
            .await?;
            return Ok(((Some((users.link, users.count)), None, None), domains));
        };
        let verified = delivery::verified(&domains);
        let input = RoundInput {
            handoff,
            tenant,
            domains: verified,
            state: &state,
            since,
            store: &store,
            protected,
        };
        let delivered = delivery::round::users_round(input, account, token).await?;
        Ok::<_, crate::controller::error::Error>((
            (
                delivered.users,
                Some(delivered.stream),
                Some(delivered.observation),
            ),
            domains,
        ))
    };
    let groups_round = async {
        round(
            account,
            "groups",
            RoundStart {
                link: state.groups_link.clone(),
                count: state.groups,
                since,
            },
            |start| account.graph.groups_delta(token, start),
        )
        .await
        .map_err(crate::controller::error::Error::from)
    };
    let (((users, stream, delivery), domains), groups) =
        futures::try_join!(users_and_domains, groups_round)?;
    let (users_link, users) = users.unwrap_or((state.users_link.clone(), state.users));
    let new_state = DeltaState {
        users_link,
        groups_link: groups.link,
        users,
        groups: groups.count,
        stream: stream.unwrap_or_else(|| state.stream.clone()),
    };
    match ctx.writes_nothing() {
        true => store.plan_save(ctx).await,
        false => store.save(&new_state).await?,
    }
    Ok(Synced {
        summary: SyncSummary {
            last_sync_time: Some(Time(now)),
            next_sync_time: Some(Time(now + interval(esa))),
            users: new_state.users,
            groups: new_state.groups,
            domains: domains.iter().filter(|d| d.is_mail_domain()).count() as i64,
        },
        delivery,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_within_the_current_second_asks_for_another_look() {
        let now: jiff::Timestamp = "2026-12-02T01:09:06.700Z".parse().unwrap();
        let with = |value: Option<&str>| {
            let mut cm = ConfigMap::default();
            if let Some(value) = value {
                cm.annotations_mut()
                    .insert(SYNC_REQUESTED_ANNOTATION.into(), value.into());
            }
            requested_within_the_second(&cm, now)
        };
        for (value, again) in [
            (Some("2026-12-02T01:09:06.500Z"), true),
            (Some("2026-12-02T01:09:06Z"), true),
            // A request dated later (a skewed clock) is not looked at every second.
            (Some("2026-12-02T01:09:07.100Z"), false),
            (Some("2026-12-02T01:09:05.999Z"), false),
            (Some("2026-12-02T02:09:06.5+01:00"), true),
            (Some("yesterday"), false),
            (None, false),
        ] {
            assert_eq!(with(value), again, "{value:?}");
        }
    }

    #[test]
    fn durations_parse_like_kubernetes() {
        assert_eq!(
            parse_duration("24h"),
            Some(jiff::SignedDuration::from_hours(24))
        );
        assert_eq!(
            parse_duration("1h30m"),
            Some(jiff::SignedDuration::from_mins(90))
        );
        assert_eq!(
            parse_duration("90s"),
            Some(jiff::SignedDuration::from_secs(90))
        );
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("5d"), None);
    }

    fn user(id: &str, created: Option<&str>, removed: bool) -> User {
        User {
            id: id.into(),
            created_date_time: created.map(String::from),
            removed: removed.then(|| crate::microsoft::graph::models::Removed {
                reason: "deleted".into(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_full_round_counts_every_present_item() {
        let page = [
            user("a", None, false),
            user("b", None, false),
            user("c", None, true),
        ];
        assert_eq!(tally(&page, None), (2, 0));
    }

    #[test]
    fn an_incremental_round_counts_new_and_removed_items_only() {
        let since: jiff::Timestamp = "2026-11-01T00:00:00Z".parse().unwrap();
        let page = [
            user("new", Some("2026-11-02T00:00:00Z"), false),
            user("changed", Some("2025-01-01T00:00:00Z"), false),
            user("unknown-age", None, false),
            user("gone", None, true),
        ];
        assert_eq!(tally(&page, Some(since)), (1, 1));
    }

    #[test]
    fn delta_state_round_trips_through_configmap_data() {
        let s = DeltaState {
            users_link: Some("https://graph/users/delta?$deltatoken=x".into()),
            groups_link: None,
            users: 12,
            groups: 3,
            stream: StreamState::default(),
        };
        let mut data = BTreeMap::new();
        s.write(&mut data);
        assert_eq!(DeltaState::from_data(&data), s);
    }
}
