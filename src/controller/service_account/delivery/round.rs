//! The users delta round of scope `All` when the service receives the directory: one Graph
//! round both counts the users and feeds the stream. After registering, the stream resumes
//! where both sides agree ([`crate::service::stream::plan`]): a full snapshot streamed from the
//! round's pages, or the round's changes (read whole first, then recorded as a pending round
//! with the link it ends with, then sent). The users' delta link advances only once the
//! service acknowledged what it covers.

use std::sync::Mutex;

use futures::TryStreamExt;

use super::state::{PendingRound, StreamState};
use super::{DeliveryObservation, Handoff};
use crate::controller::error::Result;
use crate::controller::service_account::directory::{self, DeltaState, StateStore};
use crate::controller::service_account::tenant_clients::TenantClients;
use crate::microsoft::graph::directory::DeltaStart;
use crate::microsoft::graph::{GraphError, GraphFailure};
use crate::microsoft::identity::token::AccessToken;
use crate::service::directory::changes_of;
use crate::service::protocol::{Message, User};
use crate::service::send::{self, MAX_PAGE, SendError, Sender};
use crate::service::stream::{self, Action, Pending, RoundKind};
use exo_api::exchange_service_account::DeliveryStatus;

/// What the round leaves to record.
pub struct Delivered {
    /// The users' delta link and count once the service acknowledged them; `None` when it did
    /// not (they stay as they were).
    pub users: Option<(Option<String>, i64)>,
    /// The stream as it now stands.
    pub stream: StreamState,
    /// What the service acknowledged, or why it did not.
    pub observation: DeliveryObservation,
}

/// What one round needs besides the Graph clients.
pub struct RoundInput<'a> {
    /// The handoff to the service.
    pub handoff: &'a Handoff,
    /// The tenant's GUID.
    pub tenant: &'a str,
    /// The tenant's verified domains.
    pub domains: Vec<String>,
    /// What was recorded before this pass.
    pub state: &'a DeltaState,
    /// After when a user counts as new.
    pub since: Option<jiff::Timestamp>,
    /// Where the pending round is recorded before it is sent.
    pub store: &'a StateStore,
    /// The subscription keeper and the account's uid: told the protected users once the
    /// service acknowledged them.
    pub protected: Option<(&'a crate::protection::Keeper, &'a str)>,
}

/// Registers the tenant, then runs the users round that the stream's state calls for.
pub async fn users_round(
    input: RoundInput<'_>,
    account: &TenantClients,
    token: &AccessToken,
) -> Result<Delivered> {
    let RoundInput {
        handoff,
        tenant,
        domains,
        state,
        since,
        store,
        protected,
    } = input;
    let recorded = state.stream.for_target(&handoff.endpoint, tenant);
    let failed = |stream: StreamState, e: &crate::service::error::ServiceError| Delivered {
        users: None,
        stream,
        observation: DeliveryObservation::failed(&handoff.service, e),
    };
    let registered = match handoff.register(tenant, domains).await {
        Ok(r) => r,
        Err(e) => return Ok(failed(recorded, &e)),
    };
    let plan = stream::plan(
        &recorded.recorded(state.users_link.is_some()),
        &registered.cursor,
    );
    let mut stream = recorded.clone();
    let (mut link, mut count) = (state.users_link.clone(), state.users);
    if plan.adopt_pending
        && let Some(p) = stream.pending.take()
    {
        // The service acknowledged the whole round before the operator recorded its end.
        link = p.link;
        count = p.users;
    }
    stream.pending = None;
    stream.watermark = registered.cursor.watermark;
    let acknowledged = |stream: &StreamState, users: i64| DeliveryStatus {
        service: handoff.service.clone(),
        watermark: stream.watermark as i64,
        users,
        accepted_policies: registered.accepted_policies.clone(),
        unknown_policies: registered.unknown_policies.clone(),
    };
    let context = Context {
        handoff,
        tenant,
        account,
        token,
        store,
        state,
        protected,
    };
    let mut outcome = match (plan.action, link) {
        (Action::Incremental, Some(link)) => {
            context
                .changes(&mut stream, plan.next, link, count, since)
                .await?
        }
        _ => Outcome::Resync,
    };
    if matches!(outcome, Outcome::Resync) {
        outcome = context.snapshot(&mut stream, plan.next).await?;
    }
    Ok(match outcome {
        Outcome::Done { link, count } => Delivered {
            observation: DeliveryObservation::Acknowledged(acknowledged(&stream, count)),
            users: Some((link, count)),
            stream,
        },
        Outcome::Failed(e) => failed(stream, &e),
        Outcome::Resync => unreachable!("a snapshot ends done or failed"),
    })
}

/// How a round ended.
enum Outcome {
    /// Acknowledged: the users' link and count to record.
    Done { link: Option<String>, count: i64 },
    /// The delta link expired: a snapshot must follow.
    Resync,
    /// The service did not acknowledge.
    Failed(crate::service::error::ServiceError),
}

struct Context<'a> {
    handoff: &'a Handoff,
    tenant: &'a str,
    account: &'a TenantClients,
    token: &'a AccessToken,
    store: &'a StateStore,
    state: &'a DeltaState,
    protected: Option<(&'a crate::protection::Keeper, &'a str)>,
}

impl Context<'_> {
    /// Records `pending` in the stream and saves it (with the links as they were).
    async fn begin(&self, stream: &mut StreamState, pending: PendingRound) -> Result<()> {
        stream.pending = Some(pending);
        let mut state = self.state.clone();
        state.stream = stream.clone();
        self.store.save(&state).await
    }

    /// The changes of the round from `link`, delivered as numbered `changes` messages.
    async fn changes(
        &self,
        stream: &mut StreamState,
        next: u64,
        link: String,
        count: i64,
        since: Option<jiff::Timestamp>,
    ) -> Result<Outcome> {
        let pages = self
            .account
            .graph
            .users_delta(self.token, DeltaStart::Link(link));
        let mut pages = std::pin::pin!(pages);
        let (mut upserts, mut removed) = (Vec::new(), Vec::new());
        let (mut count, mut new_link) = (count, None);
        loop {
            let page = match pages.try_next().await {
                Ok(Some(page)) => page,
                Ok(None) => break,
                Err(GraphError {
                    failure: GraphFailure::ResyncRequired,
                    ..
                }) => {
                    tracing::info!(account = %self.account.key, "users delta link expired; a full snapshot follows");
                    return Ok(Outcome::Resync);
                }
                Err(e) => return Err(e.into()),
            };
            let (added, gone) = directory::tally(&page.value, since);
            count = (count + added - gone).max(0);
            let (u, r) = changes_of(&page.value);
            upserts.extend(u);
            removed.extend(r);
            if page.delta_link.is_some() {
                new_link = page.delta_link;
            }
        }
        let ids = |v: &mut dyn Iterator<Item = &str>| -> Vec<u128> {
            v.filter_map(crate::protection::index::parse_guid).collect()
        };
        let (added, gone) = (
            ids(&mut upserts.iter().map(|u: &User| u.id.as_str())),
            ids(&mut removed.iter().map(String::as_str)),
        );
        let tell = || {
            if let Some((keeper, uid)) = self.protected {
                keeper.change_users(uid, &added, &gone);
            }
        };
        let messages = changes_messages(upserts, removed);
        if messages.is_empty() {
            tell();
            return Ok(Outcome::Done {
                link: new_link,
                count,
            });
        }
        let last = next + messages.len() as u64 - 1;
        let pending = PendingRound {
            round: Pending {
                kind: RoundKind::Changes,
                first: next,
                last: Some(last),
            },
            link: new_link.clone(),
            users: count,
        };
        self.begin(stream, pending).await?;
        let round = super::message_id("changes", "round");
        let mut sender = Sender::new(&self.handoff.client, self.tenant, &round, next);
        for message in &messages {
            match sender.send(message).await {
                Ok(ack) => stream.watermark = ack.watermark.max(stream.watermark),
                Err(e) => return Ok(Outcome::Failed(e)),
            }
        }
        stream.pending = None;
        stream.watermark = last;
        tell();
        Ok(Outcome::Done {
            link: new_link,
            count,
        })
    }

    /// A full snapshot, streamed from the pages of a full users round.
    async fn snapshot(&self, stream: &mut StreamState, next: u64) -> Result<Outcome> {
        let pending = PendingRound {
            round: Pending {
                kind: RoundKind::Snapshot,
                first: next,
                last: None,
            },
            link: None,
            users: 0,
        };
        self.begin(stream, pending).await?;
        let link: Mutex<Option<String>> = Mutex::new(None);
        let seen: Mutex<std::collections::HashSet<u128>> = Mutex::default();
        let pages = self
            .account
            .graph
            .users_delta(self.token, DeltaStart::Initial)
            .map_ok(|page| {
                if page.delta_link.is_some() {
                    *link.lock().unwrap() = page.delta_link.clone();
                }
                let users = changes_of(&page.value).0;
                if self.protected.is_some() {
                    let mut seen = seen.lock().unwrap();
                    seen.extend(
                        users
                            .iter()
                            .filter_map(|u| crate::protection::index::parse_guid(&u.id)),
                    );
                }
                users
            });
        let id = super::message_id("snapshot", "s");
        let mut sender = Sender::new(&self.handoff.client, self.tenant, &id, next);
        match send::snapshot(&mut sender, &id, pages, Vec::new()).await {
            Ok(sent) => {
                if let Some((keeper, uid)) = self.protected {
                    keeper.replace_users(uid, seen.into_inner().unwrap());
                }
                stream.pending = None;
                stream.watermark = next + sent.deliveries - 1;
                Ok(Outcome::Done {
                    link: link.into_inner().unwrap(),
                    count: sent.users as i64,
                })
            }
            Err(SendError::Source(e)) => Err(e.into()),
            Err(SendError::Service(e)) => Ok(Outcome::Failed(e)),
        }
    }
}

/// The `changes` messages of a round: users and removed ids cut into lists of at most
/// [`MAX_PAGE`] each, in order.
pub fn changes_messages(users: Vec<User>, removed: Vec<String>) -> Vec<Message> {
    let mut users = users.into_iter().peekable();
    let mut removed = removed.into_iter().peekable();
    let mut messages = Vec::new();
    while users.peek().is_some() || removed.peek().is_some() {
        messages.push(Message::Changes {
            users: users.by_ref().take(MAX_PAGE).collect(),
            removed_users: removed.by_ref().take(MAX_PAGE).collect(),
            groups: Vec::new(),
            removed_groups: Vec::new(),
        });
    }
    messages
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(i: usize) -> User {
        User {
            id: format!("u{i}"),
            user_principal_name: format!("u{i}@contoso.com"),
            mail: None,
            display_name: None,
            account_enabled: true,
        }
    }

    #[test]
    fn changes_are_cut_into_messages_of_at_most_a_thousand_per_list() {
        let sizes = |users: usize, removed: usize| {
            changes_messages(
                (0..users).map(user).collect(),
                (0..removed).map(|i| format!("r{i}")).collect(),
            )
            .into_iter()
            .map(|m| match m {
                Message::Changes {
                    users,
                    removed_users,
                    ..
                } => (users.len(), removed_users.len()),
                _ => unreachable!(),
            })
            .collect::<Vec<_>>()
        };
        assert_eq!(sizes(0, 0), []);
        assert_eq!(sizes(100, 0), [(100, 0)]);
        assert_eq!(sizes(60, 40), [(60, 40)]);
        assert_eq!(sizes(1000, 1), [(1000, 1)]);
        assert_eq!(sizes(2500, 1001), [(1000, 1000), (1000, 1), (500, 0)]);
    }
}
