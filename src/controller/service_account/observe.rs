//! Observe: every read of the account's world (its Secrets, tokens, grants, directory, target
//! list and tenant), concurrent where the reads are independent. Inline mode's act step runs
//! within, once access is granted: its plan ([`inline`]) needs this pass's reads, and its
//! writes to the tenant are recorded before they are made (the intent log). Nothing here
//! writes the account's status: that is [`super::report`].

use std::time::Duration;

use kube::ResourceExt;

use super::authorize::{self, Authorization};
use super::decide::{
    ActivityObservation, AuthorizationObservation, ConfigProblem, InlineCheck, InlineObservation,
    Observation, PolicyObservation, SyncObservation, TokenObservation,
};
use super::delivery::{self, DeliveryObservation};
use super::pass::AccountPass;
use super::tenant_clients::TenantClients;
use super::{activity, directory, inline, protect, selected, service};
use crate::controller::conditions;
use crate::controller::context::Context;
use crate::controller::error::{Error, Result};
use crate::controller::planned::{Action, Change, Target};
use crate::microsoft::graph::GraphFailure;
use crate::microsoft::identity::token::AccessToken;
use exo_api::exchange_service_account::{
    AuthorizationMethod, ExchangeServiceAccount, Mode, SyncScope,
};

/// What one observation found, and how soon the tenant asked to be looked at again (a role
/// still propagating, a device code to poll).
pub struct Observed {
    /// The facts the decision is made from.
    pub observation: Observation,
    /// The earliest next look an observer asked for.
    pub requeue_hint: Option<Duration>,
}

/// Observes the account (and carries out inline mode's plan).
pub async fn observe(
    esa: &ExchangeServiceAccount,
    ctx: &Context,
    now: jiff::Timestamp,
) -> Result<Observed> {
    let service = match service::resolve(esa, ctx, true).await? {
        Ok(s) => s,
        Err(problem) => return Ok(Observed::config_problem(esa, problem)),
    };
    let clients = match TenantClients::load(esa, &service, ctx).await? {
        Ok(a) => a,
        Err(problem) => return Ok(Observed::config_problem(esa, problem)),
    };
    let credential = match clients.credential(ctx).await? {
        Ok(c) => c,
        Err(problem) => {
            ctx.tokens.forget(&clients.tenant, &clients.client_id);
            return Ok(Observed::config_problem(esa, problem));
        }
    };
    // A rotated credential drops every token obtained with the old one.
    let fingerprint = credential.fingerprint();
    if ctx.memo(&clients.key).credential.as_deref() != Some(fingerprint.as_str()) {
        ctx.tokens.forget(&clients.tenant, &clients.client_id);
        ctx.update_memo(&clients.key, |m| {
            m.credential = Some(fingerprint.clone());
            m.verified_token = None;
        });
    }
    // A service whose ingestion cannot be used is reported; the tenant-side work goes on.
    let handoff = match delivery::Handoff::load(esa, &service, ctx).await? {
        None => Ingestion::None,
        Some(Ok(h)) => Ingestion::Ready(Box::new(h)),
        Some(Err(problem)) => Ingestion::Broken(DeliveryObservation::Failed {
            reason: problem.reason.to_string(),
            message: problem.message,
            needs_human: true,
            retry_after: None,
        }),
    };
    let pass = AccountPass {
        esa,
        ctx,
        service: &service,
        clients: &clients,
        credential: &credential,
        now,
    };
    pass.observe(&handoff).await
}

/// The service's ingestion, as far as this pass can use it.
enum Ingestion {
    /// The service has no ingestion endpoint.
    None,
    /// Deliveries can be made.
    Ready(Box<delivery::Handoff>),
    /// The ingestion is misconfigured: this is what is reported.
    Broken(DeliveryObservation),
}

impl AccountPass<'_> {
    /// The grant first; then the directory and activity data, and inline mode's pass.
    async fn observe(&self, handoff: &Ingestion) -> Result<Observed> {
        let (authorized, ()) = futures::join!(self.authorize(), self.prefetch_exchange_token());
        let (auth, early_selection) = authorized?;
        if let Some(holder) = self.claimed_by_another(&auth) {
            return Ok(self.standing_aside(auth, holder));
        }
        let granted = auth.grant == AuthorizationObservation::Granted;
        let ready_handoff = match handoff {
            Ingestion::Ready(h) => Some(&**h),
            _ => None,
        };
        let keeping = self.keep_protection(&auth, ready_handoff);
        let sync_and_activity = self.sync_and_activity(&auth, granted, early_selection, handoff);
        let inline_pass = self.inline_pass(&auth, granted);
        // The mail flow of scope Selected follows the list the sync has just written; that of
        // scope All needs nothing from the sync and runs alongside it.
        let (synced, inlined) = if self.esa.spec.sync.scope == SyncScope::Selected {
            let synced = sync_and_activity.await;
            (synced, inline_pass.await)
        } else {
            futures::join!(sync_and_activity, inline_pass)
        };
        let ((sync, delivery), activity) = synced?;
        // Then the health of the access, once the stream has what this pass delivered.
        let handoff = match self.ctx.is_planning() {
            true => &Ingestion::None,
            false => handoff,
        };
        if let Ingestion::Ready(handoff) = handoff
            && let Some(state) = delivery::health::state_of(&auth.token, &auth.grant)
        {
            let (esa, clients, ctx) = (self.esa, self.clients, self.ctx);
            let sent =
                delivery::health::report(handoff, state, esa, clients, &ctx.client, self.now);
            if let Some(e) = sent.await? {
                tracing::warn!(account = %clients.key, reason = e.reason(), error = %e, "token health not delivered; tried again on the next look");
            }
        }
        if let Ingestion::Ready(handoff) = handoff {
            let (esa, clients, ctx) = (self.esa, self.clients, self.ctx);
            delivery::catch_up::deliver(handoff, &ctx.protection, esa, clients, &ctx.client)
                .await?;
        }
        let (inline, inline_requeue) = inlined?;
        let requeue_hint = match (auth.requeue, inline_requeue) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let observation = Observation {
            config: None,
            token: auth.token.clone(),
            authorization: auth.grant.clone(),
            service_principal: auth.service_principal.clone(),
            sync,
            delivery,
            policies: self.policies(),
            activity,
            inline,
            claimed_by: None,
            observing: None,
            protection: match &keeping {
                protect::Keeping::Planned(config) => Some(self.plan_protection(config).await?),
                k => k.observation(&self.ctx.protection),
            },
        };
        Ok(Observed {
            observation,
            requeue_hint,
        })
    }

    /// The account that manages this tenant, if not this one (the token tells the tenant's
    /// GUID, so that a tenant named by another of its domains is recognised).
    fn claimed_by_another(&self, auth: &Authorization) -> Option<String> {
        let tenant_id = auth
            .graph_token
            .as_ref()
            .and_then(|t| t.claims.tid.as_deref());
        let accounts = self.ctx.accounts();
        let mine = (self.esa.uid(), self.clients.client_id.clone());
        let application = |esa: &ExchangeServiceAccount| match esa.uid() == mine.0 {
            true => Some(mine.1.clone()),
            false => self.ctx.application_of(esa),
        };
        super::claim::held_by_another(
            self.esa,
            tenant_id,
            accounts.iter().map(AsRef::as_ref),
            application,
        )
    }

    /// What is reported while another account manages the tenant: the token and grant as
    /// found, nothing read or written in the tenant.
    fn standing_aside(&self, auth: Authorization, holder: String) -> Observed {
        let previous = self.esa.status.as_ref().and_then(|s| s.sync.clone());
        let observation = Observation {
            config: None,
            token: auth.token,
            authorization: auth.grant,
            service_principal: auth.service_principal,
            sync: previous
                .map(SyncObservation::Synced)
                .unwrap_or(SyncObservation::NotStarted),
            delivery: None,
            policies: self.policies(),
            activity: None,
            inline: None,
            claimed_by: Some(holder),
            observing: None,
            protection: None,
        };
        Observed {
            observation,
            requeue_hint: Some(self.ctx.settings.consent_poll),
        }
    }

    /// The grant and a token. A selected list is resolved while a new token's grants are
    /// confirmed: both need only the token, and what the resolution found is written only once
    /// the grants hold.
    async fn authorize(&self) -> Result<(Authorization, Option<Result<selected::Prepared>>)> {
        let (esa, clients, ctx) = (self.esa, self.clients, self.ctx);
        Ok(match esa.spec.authorization.method {
            AuthorizationMethod::ApplicationConsent => {
                match authorize::consent_token(esa, clients, self.credential, ctx).await? {
                    authorize::ConsentStep::Done(auth) => (*auth, None),
                    authorize::ConsentStep::Confirm(token)
                        if esa.spec.sync.scope == SyncScope::Selected =>
                    {
                        let (auth, prepared) = futures::join!(
                            authorize::confirm_grants(esa, clients, ctx, (*token).clone()),
                            selected::prepare(esa, clients, &token, ctx, self.now, false)
                        );
                        (auth?, Some(prepared))
                    }
                    authorize::ConsentStep::Confirm(token) => (
                        authorize::confirm_grants(esa, clients, ctx, *token).await?,
                        None,
                    ),
                }
            }
            AuthorizationMethod::DeviceCode => (
                authorize::device_code(esa, clients, Some(self.credential), ctx).await?,
                None,
            ),
        })
    }

    /// Inline mode's Exchange token needs only the credential: it is fetched meanwhile.
    async fn prefetch_exchange_token(&self) {
        if self.esa.spec.mode == Mode::Inline {
            inline::prefetch_exchange_token(self.clients, self.credential, self.ctx).await;
        }
    }

    /// The directory (or the selected list) and activity data, once access is granted.
    async fn sync_and_activity(
        &self,
        auth: &Authorization,
        granted: bool,
        early_selection: Option<Result<selected::Prepared>>,
        handoff: &Ingestion,
    ) -> Result<(
        (SyncObservation, Option<DeliveryObservation>),
        Option<ActivityObservation>,
    )> {
        let esa = self.esa;
        let Some(token) = auth.graph_token.as_ref().filter(|_| granted) else {
            if esa.spec.sync.scope == SyncScope::Selected {
                selected::mark_account_not_ready(esa, self.ctx, auth, self.now).await?;
            }
            let waiting = esa
                .spec
                .activity_data
                .then_some(ActivityObservation::WaitingForGrant);
            let delivery = match handoff {
                Ingestion::None => None,
                Ingestion::Broken(problem) => Some(problem.clone()),
                Ingestion::Ready(_) => Some(DeliveryObservation::WaitingForGrant),
            };
            return Ok(((SyncObservation::NotStarted, delivery), waiting));
        };
        let activity = activity::ensure(self, token);
        let (sync, activity) = futures::join!(self.sync(token, early_selection, handoff), activity);
        Ok((sync?, activity))
    }

    /// The policies asked for and those the service offers, `None` when none are asked for.
    fn policies(&self) -> Option<PolicyObservation> {
        let asked = &self.esa.spec.policies;
        (!asked.is_empty()).then(|| PolicyObservation {
            asked: asked.clone(),
            offered: self.service.offered_policies.clone(),
        })
    }

    /// A planning pass: the service's first deliveries for the tenant, if it has not
    /// acknowledged any (the registration and the directory, or the selected users). Routine
    /// rounds of directory changes are not changes of the account's configuration, and are
    /// not planned.
    async fn plan_delivery(&self, handoff: &delivery::Handoff, tenant: &str) -> Result<()> {
        let (esa, ctx) = (self.esa, self.ctx);
        let recorded = directory::recorded_stream(esa, self.clients, &ctx.client).await?;
        if recorded.for_target(&handoff.endpoint, tenant).watermark > 0 {
            return Ok(());
        }
        let what = match esa.spec.sync.scope {
            SyncScope::All => "the directory's users",
            SyncScope::Selected => "the selected users",
        };
        let object = format!(
            "registration of tenant {tenant} and {what} with the {}",
            self.service.named
        );
        ctx.planning(|| Change::new(Target::Service, Action::Send, object));
        Ok(())
    }

    /// Directory synchronisation when due (scope All), or the selected list's resolution.
    async fn sync(
        &self,
        token: &AccessToken,
        early_selection: Option<Result<selected::Prepared>>,
        handoff: &Ingestion,
    ) -> Result<(SyncObservation, Option<DeliveryObservation>)> {
        let (esa, ctx, now) = (self.esa, self.ctx, self.now);
        let previous = esa.status.as_ref().and_then(|s| s.sync.clone());
        let tenant = token.claims.tid.as_deref();
        let (target, mut delivery) = match (handoff, esa.spec.sync.scope, tenant) {
            (Ingestion::None, _, _) => (None, None),
            (Ingestion::Broken(problem), _, _) => (None, Some(problem.clone())),
            (Ingestion::Ready(_), _, None) => (
                None,
                Some(DeliveryObservation::Failed {
                    reason: "TenantIdUnknown".into(),
                    message: "The access token names no tenant id, which the service's registration needs.".into(),
                    needs_human: true,
                    retry_after: None,
                }),
            ),
            (Ingestion::Ready(h), _, Some(t)) => (Some((&**h, t)), None),
        };
        let target = match target {
            Some((handoff, tenant)) if ctx.is_planning() => {
                self.plan_delivery(handoff, tenant).await?;
                delivery = esa
                    .status
                    .as_ref()
                    .and_then(|s| s.delivery.clone())
                    .map(DeliveryObservation::Acknowledged);
                None
            }
            other => other,
        };
        if esa.spec.sync.scope == SyncScope::Selected {
            let (mut observation, mut users) = match early_selection {
                Some(prepared) => selected::commit(prepared?, ctx).await?,
                None => selected::sync_selected(esa, self.clients, token, ctx, now, false).await?,
            };
            if users.is_none()
                && matches!(observation, SyncObservation::Synced(_))
                && esa
                    .uid()
                    .is_some_and(|uid| ctx.protection.needs_users(&uid))
            {
                // The subscriptions' task (new since a restart) needs the selected users:
                // the list is resolved now, once.
                (observation, users) =
                    selected::sync_selected(esa, self.clients, token, ctx, now, true).await?;
            }
            if let (Some(d), Some(uid)) = (&users, esa.metadata.uid.as_deref()) {
                ctx.protection
                    .replace_users(uid, super::protect::selected_ids(d));
            }
            let Some((handoff, tenant)) = target else {
                return Ok((observation, delivery));
            };
            if !matches!(observation, SyncObservation::Synced(_)) {
                // A list that does not resolve (or is over the limit) is not handed over; the
                // service keeps the last set it acknowledged.
                return Ok((observation, delivery));
            }
            let (esa, clients, client) = (self.esa, self.clients, &ctx.client);
            let mut done = None;
            for _ in 0..2 {
                let given = users.as_ref();
                match delivery::selected::deliver(
                    handoff, tenant, given, esa, clients, token, client,
                )
                .await?
                {
                    delivery::selected::Selected::Done(d) => {
                        done = Some(d);
                        break;
                    }
                    // The service needs the set: resolve the list now, once.
                    delivery::selected::Selected::NeedsUsers => {
                        (observation, users) =
                            selected::sync_selected(esa, clients, token, ctx, now, true).await?;
                        if let (Some(d), Some(uid)) = (&users, esa.metadata.uid.as_deref()) {
                            ctx.protection
                                .replace_users(uid, super::protect::selected_ids(d));
                        }
                        if !matches!(observation, SyncObservation::Synced(_)) {
                            break;
                        }
                    }
                }
            }
            let done = done.unwrap_or_else(|| DeliveryObservation::Failed {
                reason: "SelectedUsersNotResolved".into(),
                message: "The selected users could not be resolved for the service; retrying."
                    .into(),
                needs_human: false,
                retry_after: None,
            });
            return Ok((observation, Some(done)));
        }
        let mut due = directory::due(esa, now);
        if !due && let Some((handoff, tenant)) = target {
            // Between rounds, the service's cursor tells whether it needs a delivery now.
            let recorded = directory::recorded_stream(esa, self.clients, &ctx.client).await?;
            let recorded = recorded.for_target(&handoff.endpoint, tenant);
            let previous_delivery = esa
                .status
                .as_ref()
                .and_then(|s| s.delivery.clone())
                .filter(|d| d.service == handoff.service);
            // Registering again (idempotent) keeps the registration's fields and policies
            // current, and answers with the cursor.
            let domains = self.clients.graph.domains(token).await?;
            let verified = delivery::verified(&domains);
            match handoff.register(tenant, verified).await {
                Ok(registered) => {
                    due = delivery::needs_delivery(&registered.cursor, &recorded)
                        || previous_delivery.is_none();
                    delivery = previous_delivery.map(|mut d| {
                        d.accepted_policies = registered.accepted_policies;
                        d.unknown_policies = registered.unknown_policies;
                        DeliveryObservation::Acknowledged(d)
                    });
                }
                Err(e) => delivery = Some(DeliveryObservation::failed(&handoff.service, &e)),
            }
        }
        let synced = match esa.spec.sync.scope {
            SyncScope::All if due => {
                let protected = esa
                    .metadata
                    .uid
                    .as_deref()
                    .map(|uid| (&*ctx.protection, uid));
                match directory::sync_all(esa, self.clients, token, ctx, now, target, protected)
                    .await
                {
                    Ok(synced) => Ok((
                        SyncObservation::Synced(synced.summary),
                        synced.delivery.or(delivery),
                    )),
                    Err(Error::Graph(e)) => {
                        // A token refused before its expiry (a clock ahead, a revoked session)
                        // is replaced once; if the new one is refused too, the account backs
                        // off with it.
                        if e.failure == GraphFailure::TokenRejected
                            && ctx.memo(&self.clients.key).failures == 0
                        {
                            ctx.tokens
                                .forget(&self.clients.tenant, &self.clients.client_id);
                        }
                        Ok((sync_failed(&e, previous), delivery))
                    }
                    Err(e) => Err(e),
                }
            }
            _ => Ok((
                previous
                    .map(SyncObservation::Synced)
                    .unwrap_or(SyncObservation::NotStarted),
                delivery,
            )),
        };
        if let Some(uid) = esa.uid() {
            // No snapshot said the whole set (none was due, a delta round said only its
            // changes, or the round failed): the subscriptions' task takes its own baseline.
            ctx.protection.users_not_said(&uid);
        }
        synced
    }

    /// Inline mode's role and mail flow, once access is granted.
    async fn inline_pass(
        &self,
        auth: &Authorization,
        granted: bool,
    ) -> Result<(Option<InlineObservation>, Option<Duration>)> {
        let esa = self.esa;
        Ok(match (&auth.graph_token, granted, esa.spec.mode) {
            (_, _, Mode::Api) => (None, None),
            (Some(token), true, Mode::Inline) => {
                let principal = auth
                    .service_principal
                    .as_ref()
                    .or(esa
                        .status
                        .as_ref()
                        .and_then(|s| s.service_principal.as_ref()))
                    .and_then(|sp| sp.object_id.clone());
                let outcome = inline::ensure(self, token, principal).await?;
                (Some(outcome.observation), outcome.requeue)
            }
            _ => (waiting_for_grant(esa), None),
        })
    }
}

impl Observed {
    /// What is known when the account's own configuration is at fault: nothing is called.
    fn config_problem(esa: &ExchangeServiceAccount, problem: ConfigProblem) -> Self {
        let observation = Observation {
            config: Some(problem),
            token: TokenObservation::NotAttempted,
            authorization: AuthorizationObservation::Unknown,
            service_principal: None,
            sync: SyncObservation::NotStarted,
            delivery: None,
            policies: (!esa.spec.policies.is_empty()).then(|| PolicyObservation {
                asked: esa.spec.policies.clone(),
                offered: Vec::new(),
            }),
            activity: None,
            inline: waiting_for_grant(esa),
            claimed_by: None,
            observing: None,
            protection: None,
        };
        Self {
            observation,
            requeue_hint: None,
        }
    }
}

/// Inline mode before access is granted: the role and mail flow wait for it.
fn waiting_for_grant(esa: &ExchangeServiceAccount) -> Option<InlineObservation> {
    (esa.spec.mode == Mode::Inline).then(|| InlineObservation {
        checks: vec![
            InlineCheck::positive(
                conditions::ROLE_ASSIGNED,
                false,
                "WaitingForGrant",
                "The Exchange Administrator role is assigned once access is granted.".into(),
            ),
            InlineCheck::positive(
                conditions::MAIL_FLOW_CONFIGURED,
                false,
                "WaitingForGrant",
                "Mail flow is configured once access is granted.".into(),
            ),
        ],
        status: None,
        failed: false,
    })
}

/// The observation of a directory read that failed.
pub fn sync_failed(
    e: &crate::microsoft::graph::GraphError,
    previous: Option<exo_api::exchange_service_account::SyncSummary>,
) -> SyncObservation {
    SyncObservation::Failed {
        reason: e.failure.reason().to_string(),
        message: match e.failure {
            GraphFailure::PermissionDenied => {
                format!("{e}; a permission is missing: grant admin consent again.")
            }
            _ => format!("{e}; retrying."),
        },
        needs_human: e.failure == GraphFailure::PermissionDenied,
        previous,
        retry_after: e.retry_after,
    }
}
