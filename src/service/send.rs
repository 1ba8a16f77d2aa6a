//! Sending a tenant's stream: numbered deliveries, each with an id that stays the same on its
//! retries, and a full snapshot streamed from pages as they are read (one page in memory at a
//! time, one delivery per page of at most the protocol's 1,000 users).

use std::collections::HashSet;

use futures::{Stream, TryStreamExt};

use super::client::ServiceClient;
use super::error::ServiceError;
use super::protocol::{Acknowledgement, Group, Message, User};

/// Most users (or groups) in one delivery, as the protocol allows.
pub const MAX_PAGE: usize = 1000;

/// A failure while streaming: reading the source, or delivering.
#[derive(Debug, thiserror::Error)]
pub enum SendError<E> {
    /// Reading the pages failed.
    #[error("{0}")]
    Source(E),
    /// The service did not acknowledge a delivery.
    #[error("{0}")]
    Service(ServiceError),
}

/// Sends one tenant's deliveries in order from sequence `next`.
pub struct Sender<'a> {
    client: &'a ServiceClient,
    tenant: &'a str,
    round: &'a str,
    next: u64,
}

impl<'a> Sender<'a> {
    /// A sender of `tenant`'s deliveries from sequence `next`, for the round named `round`
    /// (part of each delivery's id, so that ids are unique per message).
    pub fn new(client: &'a ServiceClient, tenant: &'a str, round: &'a str, next: u64) -> Self {
        Self {
            client,
            tenant,
            round,
            next,
        }
    }

    /// The sequence the next delivery gets.
    pub fn next(&self) -> u64 {
        self.next
    }

    /// Delivers `message` as the next sequence.
    pub async fn send(&mut self, message: &Message) -> Result<Acknowledgement, ServiceError> {
        let id = format!("{}.{}.{}", self.tenant, self.round, self.next);
        let ack = self
            .client
            .deliver(self.tenant, self.next, message, &id)
            .await?;
        self.next += 1;
        Ok(ack)
    }
}

/// What a snapshot delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotSent {
    /// Distinct users.
    pub users: u64,
    /// Deliveries it took, begin and end included.
    pub deliveries: u64,
}

/// Streams a full snapshot of `users` (pages as they are read, re-cut to at most
/// [`MAX_PAGE`]) and `groups`: begin, one delivery per page, end with the counts of distinct
/// users and groups.
pub async fn snapshot<E>(
    sender: &mut Sender<'_>,
    snapshot_id: &str,
    users: impl Stream<Item = Result<Vec<User>, E>>,
    groups: Vec<Group>,
) -> Result<SnapshotSent, SendError<E>> {
    let first = sender.next();
    let begin = Message::SnapshotBegin {
        snapshot_id: snapshot_id.to_string(),
    };
    sender.send(&begin).await.map_err(SendError::Service)?;
    let mut seen: HashSet<String> = HashSet::new();
    let mut users = std::pin::pin!(users);
    while let Some(page) = users.try_next().await.map_err(SendError::Source)? {
        let mut page = page.into_iter().peekable();
        while page.peek().is_some() {
            let chunk: Vec<User> = page.by_ref().take(MAX_PAGE).collect();
            seen.extend(chunk.iter().map(|u| u.id.clone()));
            let message = Message::SnapshotPage {
                snapshot_id: snapshot_id.to_string(),
                users: chunk,
                groups: Vec::new(),
            };
            sender.send(&message).await.map_err(SendError::Service)?;
        }
    }
    let group_count = groups.len() as u64;
    let mut groups = groups.into_iter().peekable();
    while groups.peek().is_some() {
        let message = Message::SnapshotPage {
            snapshot_id: snapshot_id.to_string(),
            users: Vec::new(),
            groups: groups.by_ref().take(MAX_PAGE).collect(),
        };
        sender.send(&message).await.map_err(SendError::Service)?;
    }
    let end = Message::SnapshotEnd {
        snapshot_id: snapshot_id.to_string(),
        user_count: seen.len() as u64,
        group_count,
    };
    sender.send(&end).await.map_err(SendError::Service)?;
    Ok(SnapshotSent {
        users: seen.len() as u64,
        deliveries: sender.next() - first,
    })
}
