//! API mode's live protection, as a pass sees it: the subscription keeper
//! ([`crate::protection`]) is handed the account's configuration and token once access is
//! granted, the selected users when they are resolved (scope `All` feeds it from the users
//! round), and its summary becomes the `ProtectionActive` observation.

use std::collections::HashSet;

use kube::ResourceExt;

use super::authorize::Authorization;
use super::decide::{AuthorizationObservation, ProtectionObservation};
use super::delivery::Handoff;
use super::pass::AccountPass;
use super::selected;
use crate::controller::error::{Error, Result};
use crate::controller::planned::{Action, Change, Target};
use crate::controller::targets::SelectedDirectory;
use crate::protection::index::{self, Folder, Guid, parse_guid};
use crate::protection::{Config, Keeper};
use exo_api::exchange_service_account::{Direction, Mode, SyncScope};

/// Whether this pass keeps subscriptions, and if not, why.
pub enum Keeping {
    /// The account has none to keep (inline mode, or a service without a notification URL).
    None,
    /// It has, but cannot now: this is what is observed.
    Not(ProtectionObservation),
    /// The keeper has its configuration; `uid` names the account to it.
    Kept {
        /// The account's uid.
        uid: String,
    },
    /// A planning pass: the configuration the keeper would be handed.
    Planned(Box<Config>),
}

impl AccountPass<'_> {
    /// Hands the keeper this pass's configuration (before the directory is read, so that the
    /// users round can hand it the protected set).
    pub fn keep_protection(&self, auth: &Authorization, handoff: Option<&Handoff>) -> Keeping {
        let (esa, keeper) = (self.esa, &self.ctx.protection);
        let Some(uid) = esa.uid() else {
            return Keeping::None;
        };
        let granted = auth.grant == AuthorizationObservation::Granted;
        let token = auth.graph_token.as_ref().filter(|_| granted);
        let url = match (&esa.spec.mode, &self.service.notification_url) {
            (Mode::Api, Some(url)) => url,
            _ if self.ctx.is_planning() => {
                if !self.ctx.writes_nothing() {
                    keeper.stop(&uid);
                }
                return Keeping::None;
            }
            _ => {
                // What the account kept is deleted (with a token), not left to notify a
                // service that no longer asked for it.
                match token {
                    Some(token) => keeper.retire(&uid, token),
                    None => keeper.stop(&uid),
                }
                return Keeping::None;
            }
        };
        let Some(handoff) = handoff else {
            return Keeping::Not(ProtectionObservation::NotPossible {
                reason: "IngestionRequired",
                message: format!(
                    "The {} has spec.notificationUrl but no usable spec.ingestion: the subscriptions' clientState is derived from the ingestion credential, and the service is told through it what to catch up on.",
                    self.service.named
                ),
            });
        };
        let Some((token, tenant)) = token.and_then(|t| Some((t, t.claims.tid.clone()?))) else {
            return Keeping::Not(ProtectionObservation::WaitingForGrant);
        };
        let direction = esa
            .spec
            .api
            .as_ref()
            .map(|a| a.direction)
            .unwrap_or_default();
        let folders = match direction {
            Direction::Inbound => vec![Folder::Inbox],
            Direction::InboundOutbound => vec![Folder::Inbox, Folder::SentItems],
        };
        let lifecycle_url = keeper
            .settings()
            .lifecycle_url
            .as_deref()
            .map(|base| format!("{}/{uid}", base.trim_end_matches('/')));
        let client_state = handoff.client.client_state(&tenant);
        let config = Config {
            namespace: esa.namespace().unwrap_or_default(),
            name: esa.name_any(),
            uid: uid.clone(),
            notification_url: index::marked_url(url, &uid, &client_state),
            client_state,
            tenant_id: tenant,
            graph: self.clients.graph.clone(),
            token: token.clone(),
            lifecycle_url,
            folders,
            whole_directory: esa.spec.sync.scope == SyncScope::All,
        };
        if self.ctx.is_planning() {
            if !self.ctx.writes_nothing() {
                // Observing: this operator keeps nothing (a task it kept under Manage stops;
                // what it made stays in Graph until it expires).
                keeper.stop(&uid);
            }
            return Keeping::Planned(Box::new(config));
        }
        keeper.keep(config);
        Keeping::Kept { uid }
    }

    /// A planning pass: the subscriptions the keeper would create and delete now for the
    /// protected set (the directory's users, or the list's), recorded; its summary as the
    /// keeper would report it. Renewals are routine and not planned.
    pub async fn plan_protection(&self, config: &Config) -> Result<ProtectionObservation> {
        let (esa, ctx) = (self.esa, self.ctx);
        let wanted = match esa.spec.sync.scope {
            SyncScope::All => crate::protection::task::directory_users(config)
                .await
                .map_err(Error::Graph)?,
            SyncScope::Selected => {
                let prepared =
                    selected::prepare(esa, self.clients, &config.token, ctx, self.now, true)
                        .await?;
                prepared.directory().map(selected_ids).unwrap_or_default()
            }
        };
        let work = crate::protection::task::planned(config, &wanted, ctx.protection.settings())
            .await
            .map_err(Error::Graph)?;
        if work.creates > 0 {
            let what = format!(
                "{} Microsoft Graph change-notification subscriptions to mailbox folders",
                work.creates
            );
            ctx.planning(|| Change::new(Target::Tenant, Action::Create, what));
        }
        if work.deletes > 0 {
            let what = format!(
                "{} Microsoft Graph change-notification subscriptions of this account",
                work.deletes
            );
            ctx.planning(|| Change::new(Target::Tenant, Action::Remove, what));
        }
        Ok(ProtectionObservation::Kept(work.summary))
    }
}

impl Keeping {
    /// The observation once the directory was read.
    pub fn observation(&self, keeper: &Keeper) -> Option<ProtectionObservation> {
        match self {
            Keeping::None => None,
            Keeping::Not(o) => Some(o.clone()),
            Keeping::Kept { uid } => Some(ProtectionObservation::Kept(
                keeper.summary(uid).unwrap_or_default(),
            )),
            Keeping::Planned(_) => None,
        }
    }
}

/// The ids of the selected users.
pub fn selected_ids(directory: &SelectedDirectory) -> HashSet<Guid> {
    directory
        .users
        .iter()
        .filter_map(|u| parse_guid(&u.id))
        .collect()
}

/// Deletion with deletionPolicy Delete: the account's task stops and every subscription it
/// owns (marked with its uid) is deleted. Best effort: what is left expires within days.
pub async fn release(
    esa: &exo_api::exchange_service_account::ExchangeServiceAccount,
    account: &super::tenant_clients::TenantClients,
    credential: &crate::microsoft::identity::credential::ClientCredential,
    ctx: &crate::controller::context::Context,
) {
    use futures::TryStreamExt;
    let Some(uid) = esa.uid() else {
        return;
    };
    ctx.protection.stop(&uid);
    if esa.spec.mode != Mode::Api {
        return;
    }
    let scope = &account.endpoints.graph_scope;
    let Ok(token) = account.app_token(ctx, credential, scope).await else {
        return;
    };
    let mut owned = Vec::new();
    let mut pages = std::pin::pin!(account.graph.subscription_pages(&token));
    loop {
        match pages.try_next().await {
            Ok(Some(page)) => owned.extend(
                page.value
                    .into_iter()
                    .filter(|s| index::owner_of(&s.notification_url) == Some(uid.as_str()))
                    .map(|s| s.id),
            ),
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(account = %account.key, error = %e, "subscriptions not listed for deletion; they expire by themselves");
                return;
            }
        }
    }
    let mut failed = 0;
    for chunk in owned.chunks(8) {
        let deletes = chunk
            .iter()
            .map(|id| account.graph.delete_subscription(&token, id));
        let results = futures::future::join_all(deletes).await;
        failed += results.iter().filter(|r| r.is_err()).count();
    }
    if failed > 0 {
        tracing::warn!(account = %account.key, failed, "subscriptions not deleted; they expire by themselves");
    }
}
