//! Scope `Selected`: the selected users (at most 100) are the tenant's directory for the
//! service and its protected set. When the resolved set differs from the one the service
//! acknowledged, or the service needs a delivery (a resynchronisation asked for, deliveries
//! lost, a round cut short), a full snapshot of the set and the protected set are sent,
//! recorded as a pending round before the first delivery.

use std::convert::Infallible;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::state::PendingRound;
use super::{DeliveryObservation, Handoff, needs_delivery, verified};
use crate::controller::error::Result;
use crate::controller::service_account::directory::StateStore;
use crate::controller::service_account::tenant_clients::TenantClients;
use crate::controller::targets::SelectedDirectory;
use crate::microsoft::identity::token::AccessToken;
use crate::service::protocol::Message;
#[cfg(test)]
use crate::service::protocol::User;
use crate::service::send::{self, SendError, Sender};
use crate::service::stream::{Pending, RoundKind};
use exo_api::exchange_service_account::{DeliveryStatus, ExchangeServiceAccount};

/// What the handoff of a selected set came to.
pub enum Selected {
    /// Delivered, or nothing to deliver, or the service failed: what to report.
    Done(DeliveryObservation),
    /// The service needs the set and this pass did not resolve it: resolve it, then call again.
    NeedsUsers,
}

/// The fingerprint of a selection (sorted by id): what the service was last given.
pub fn fingerprint(selection: &SelectedDirectory) -> String {
    let json =
        serde_json::to_vec(&(&selection.users, &selection.groups)).expect("a selection serializes");
    let digest = ring::digest::digest(&ring::digest::SHA256, &json);
    URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16])
}

/// Registers the tenant and hands the selected `users` (when resolved in this pass) to the
/// service if it does not hold them yet.
pub async fn deliver(
    handoff: &Handoff,
    tenant: &str,
    selection: Option<&SelectedDirectory>,
    esa: &ExchangeServiceAccount,
    account: &TenantClients,
    token: &AccessToken,
    client: &kube::Client,
) -> Result<Selected> {
    let (store, mut state) = StateStore::load(esa, account, client).await?;
    let domains = account.graph.domains(token).await?;
    let registered = match handoff.register(tenant, verified(&domains)).await {
        Ok(r) => r,
        Err(e) => {
            return Ok(Selected::Done(DeliveryObservation::failed(
                &handoff.service,
                &e,
            )));
        }
    };
    let mut stream = state.stream.for_target(&handoff.endpoint, tenant);
    let previous = esa
        .status
        .as_ref()
        .and_then(|s| s.delivery.clone())
        .filter(|d| d.service == handoff.service);
    let now = selection.map(fingerprint);
    let changed = now.is_some() && now != stream.selected;
    let acknowledged = |watermark: u64, users: i64| {
        DeliveryObservation::Acknowledged(DeliveryStatus {
            service: handoff.service.clone(),
            watermark: watermark as i64,
            users,
            accepted_policies: registered.accepted_policies.clone(),
            unknown_policies: registered.unknown_policies.clone(),
        })
    };
    let needed = needs_delivery(&registered.cursor, &stream) || previous.is_none();
    if !needed && !changed {
        let held = previous.map(|p| p.users).unwrap_or_default();
        return Ok(Selected::Done(acknowledged(stream.watermark, held)));
    }
    let Some(selection) = selection else {
        return Ok(Selected::NeedsUsers);
    };
    let users = &selection.users;
    // Recorded before the first delivery: a round cut short is sent again whole.
    let next = registered.cursor.watermark + 1;
    stream.watermark = registered.cursor.watermark;
    stream.pending = Some(PendingRound {
        round: Pending {
            kind: RoundKind::Snapshot,
            first: next,
            last: None,
        },
        link: None,
        users: users.len() as i64,
    });
    state.stream = stream.clone();
    store.save(&state).await?;
    let id = super::message_id("selected", "s");
    let mut sender = Sender::new(&handoff.client, tenant, &id, next);
    let pages = futures::stream::iter([Ok::<_, Infallible>(users.to_vec())]);
    let groups = selection.groups.clone();
    let sent = match send::snapshot(&mut sender, &id, pages, groups).await {
        Ok(sent) => sent,
        Err(SendError::Source(never)) => match never {},
        Err(SendError::Service(e)) => {
            return Ok(Selected::Done(DeliveryObservation::failed(
                &handoff.service,
                &e,
            )));
        }
    };
    let protected = Message::ProtectedSet {
        added: users.iter().map(|u| u.id.clone()).collect(),
        removed: Vec::new(),
        replace: true,
    };
    if let Err(e) = sender.send(&protected).await {
        return Ok(Selected::Done(DeliveryObservation::failed(
            &handoff.service,
            &e,
        )));
    }
    stream.pending = None;
    stream.watermark = sender.next() - 1;
    stream.selected = now;
    state.stream = stream.clone();
    store.save(&state).await?;
    Ok(Selected::Done(acknowledged(
        stream.watermark,
        sent.users as i64,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, enabled: bool) -> User {
        User {
            id: id.into(),
            user_principal_name: format!("{id}@contoso.com"),
            mail: None,
            display_name: None,
            account_enabled: enabled,
        }
    }

    #[test]
    fn a_fingerprint_changes_with_any_field_of_the_set() {
        let of = |users: Vec<User>, members: &[&str]| {
            let groups = vec![crate::service::protocol::Group {
                id: "g".into(),
                display_name: None,
                members: members.iter().map(|m| m.to_string()).collect(),
            }];
            fingerprint(&SelectedDirectory { users, groups })
        };
        let base = of(vec![user("a", true), user("b", true)], &["a"]);
        assert_eq!(base, of(vec![user("a", true), user("b", true)], &["a"]));
        assert_ne!(base, of(vec![user("a", true)], &["a"]));
        assert_ne!(base, of(vec![user("a", true), user("b", false)], &["a"]));
        assert_ne!(
            base,
            of(vec![user("a", true), user("b", true)], &["a", "b"])
        );
        assert_eq!(base.len(), 22);
    }
}
