//! Mailboxes whose Graph change notifications may have been lost (a `missed` lifecycle
//! notification, a subscription Graph removed, one that waited for reauthorization): the
//! service is told to catch up on them with `mailboxCatchUp` messages, the next sequences of
//! the tenant's stream. What is not acknowledged is given back to the keeper for the next look.

use std::collections::BTreeMap;

use super::Handoff;
use crate::controller::error::Result;
use crate::controller::service_account::directory::StateStore;
use crate::controller::service_account::tenant_clients::TenantClients;
use crate::protection::index::format_guid;
use crate::protection::{CatchUp, Keeper};
use crate::service::error::ServiceError;
use crate::service::protocol::Message;
use crate::service::send::Sender;
use exo_api::exchange_service_account::ExchangeServiceAccount;

/// The messages of `catch_ups`: one per reason, from the earliest time, at most 1,000 users
/// each.
pub fn messages(catch_ups: &[CatchUp]) -> Vec<Message> {
    let mut by_reason: BTreeMap<&str, (i64, Vec<String>)> = BTreeMap::new();
    for c in catch_ups {
        let entry = by_reason.entry(c.reason).or_insert((c.since, Vec::new()));
        entry.0 = entry.0.min(c.since);
        entry.1.push(format_guid(c.user));
    }
    let mut out = Vec::new();
    for (reason, (since, mut users)) in by_reason {
        users.sort();
        users.dedup();
        let since = jiff::Timestamp::from_second(since)
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
            .to_string();
        for chunk in users.chunks(1000) {
            out.push(Message::MailboxCatchUp {
                user_ids: chunk.to_vec(),
                since: since.clone(),
                reason: reason.to_string(),
            });
        }
    }
    out
}

/// Delivers the keeper's catch-ups of `esa` (when the stream is between rounds).
pub async fn deliver(
    handoff: &Handoff,
    keeper: &Keeper,
    esa: &ExchangeServiceAccount,
    account: &TenantClients,
    client: &kube::Client,
) -> Result<()> {
    let Some(uid) = esa.metadata.uid.as_deref() else {
        return Ok(());
    };
    let catch_ups = keeper.take_catch_ups(uid);
    if catch_ups.is_empty() {
        return Ok(());
    }
    let (store, mut recorded) = StateStore::load(esa, account, client).await?;
    let stream = &mut recorded.stream;
    let tenant = stream.tenant.clone();
    let (Some(tenant), false) = (tenant, stream.pending.is_some()) else {
        keeper.give_back(uid, catch_ups);
        return Ok(());
    };
    if stream.endpoint.as_deref() != Some(handoff.endpoint.as_str()) {
        keeper.give_back(uid, catch_ups);
        return Ok(());
    }
    let id = super::message_id("catch-up", "c");
    let mut sender = Sender::new(&handoff.client, &tenant, &id, stream.watermark + 1);
    for message in messages(&catch_ups) {
        match sender.send(&message).await {
            Ok(ack) => stream.watermark = ack.watermark.max(stream.watermark + 1),
            Err(e) if !e.is_transient() && !matches!(e, ServiceError::Gap { .. }) => {
                // A refusal (a service that does not know the message): the hint is dropped.
                tracing::warn!(account = %account.key, reason = e.reason(), error = %e, "catch-up refused by the service; dropped");
                break;
            }
            Err(e) => {
                tracing::warn!(account = %account.key, reason = e.reason(), error = %e, "catch-up not delivered; tried again on the next look");
                // Those already acknowledged are sent again: the service catches up twice.
                keeper.give_back(uid, catch_ups);
                break;
            }
        }
    }
    store.save(&recorded).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catch_ups_are_grouped_by_reason_from_the_earliest_time() {
        let c = |user, since, reason| CatchUp {
            user,
            since,
            reason,
        };
        let got = messages(&[
            c(2, 200, "Missed"),
            c(1, 100, "Missed"),
            c(3, 300, "SubscriptionRemoved"),
        ]);
        assert_eq!(got.len(), 2);
        match &got[0] {
            Message::MailboxCatchUp {
                user_ids,
                since,
                reason,
            } => {
                assert_eq!(reason, "Missed");
                assert_eq!(since, "1970-01-01T00:01:40Z");
                assert_eq!(user_ids, &vec![format_guid(1), format_guid(2)]);
            }
            other => panic!("{other:?}"),
        }
    }
}
