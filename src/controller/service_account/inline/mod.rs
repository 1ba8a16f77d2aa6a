//! Inline mode: the Exchange Administrator role ([`role`]), the mail-flow objects
//! ([`desired`]) created, kept and removed through the Exchange admin API, drift handling, and
//! the security-settings checks ([`checks`]).
//!
//! The objects a pass is about to create are first recorded in `status.mailFlow.objects` (an
//! intent log, one write for the pass), so an operator stopped between two Exchange writes
//! recognises its objects after a restart and never creates one twice. Writes that do not
//! depend on one another run at once; rules, which name connectors and groups, come after them
//! in their order.

pub mod checks;
pub mod desired;
pub mod role;

use std::collections::{BTreeMap, BTreeSet};

use futures::{StreamExt, TryStreamExt};
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, ObjectMeta};
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use serde_json::{Map, Value, json};

use self::desired::{DesiredObject, Inputs, Kind, Names};
use super::account::Account;
use super::decide::{InlineCheck, InlineObservation};
use super::directory::{self, SYNC_REQUESTED_ANNOTATION};
use crate::controller::conditions::{
    self, MAIL_FLOW_CONFIGURED, MAIL_FLOW_DRIFTED, SECURITY_SETTINGS_VERIFIED,
};
use crate::controller::context::Context;
use crate::controller::error::{Error, Result};
use crate::microsoft::exchange::{ExchangeClient, ExchangeError, ExchangeFailure};
use crate::microsoft::identity::credential::ClientCredential;
use crate::microsoft::identity::token::AccessToken;
use crate::microsoft::permissions::EXCHANGE_MANAGE_AS_APP;
use exo_api::exchange_service_account::{
    DriftPolicy, ExchangeServiceAccount, InlineSpec, MailFlowStatus, RoleAssignmentMode, SyncScope,
};
use exo_api::sync_target_list::SyncTargetList;

/// Key of the routing token in the account's mail-flow Secret.
const TOKEN_KEY: &str = "routing-token";
/// How soon to look again after a transient Exchange failure.
const RETRY: Duration = Duration::from_secs(30);

/// Name of the Secret holding the tenant's routing token.
pub fn secret_name(esa: &ExchangeServiceAccount) -> String {
    format!("{}-mail-flow", esa.name_any())
}

/// What the inline pass produced.
pub struct InlineOutcome {
    /// Conditions and status.
    pub observation: InlineObservation,
    /// When to look again, if sooner than usual.
    pub requeue: Option<Duration>,
}

/// The account's app-only Exchange token (from the cache when fresh).
async fn exchange_token(
    account: &Account,
    credential: &ClientCredential,
    ctx: &Context,
) -> std::result::Result<AccessToken, crate::microsoft::identity::TokenError> {
    account
        .app_token(ctx, credential, &account.endpoints.exchange_scope)
        .await
}

/// Fetches the Exchange token into the cache while the Graph grant is being confirmed; a
/// failure is left for the inline pass to report.
pub async fn prefetch_exchange_token(
    account: &Account,
    credential: &ClientCredential,
    ctx: &Context,
) {
    if let Err(e) = exchange_token(account, credential, ctx).await {
        tracing::debug!(error = %e, "Exchange token not available yet");
    }
}

fn forget_exchange_token(account: &Account, credential: &ClientCredential, ctx: &Context) {
    let key = account.cache_key(&account.endpoints.exchange_scope, &credential.fingerprint());
    ctx.tokens.forget_key(&key);
}

fn previous_status(esa: &ExchangeServiceAccount) -> MailFlowStatus {
    esa.status
        .as_ref()
        .and_then(|s| s.mail_flow.clone())
        .unwrap_or_default()
}

fn not_configured(reason: &str, message: String) -> InlineCheck {
    InlineCheck::positive(MAIL_FLOW_CONFIGURED, false, reason, message)
}

/// The inline pass of a reconcile, once Graph access is granted.
pub async fn ensure(
    esa: &ExchangeServiceAccount,
    account: &Account,
    credential: &ClientCredential,
    ctx: &Context,
    graph_token: &AccessToken,
    principal: Option<String>,
    now: jiff::Timestamp,
) -> Result<InlineOutcome> {
    let Some(spec) = esa.spec.inline.as_ref() else {
        return Ok(InlineOutcome {
            observation: InlineObservation {
                checks: vec![not_configured(
                    "InlineSettingsMissing",
                    "spec.inline is required in Inline mode.".into(),
                )],
                status: None,
            },
            requeue: None,
        });
    };
    let mut previous = previous_status(esa);
    let token = match exchange_token(account, credential, ctx).await {
        Ok(t) => t,
        Err(e) => {
            return Ok(waiting_outcome(
                not_configured(
                    "ExchangeTokenFailed",
                    format!("{e}; the Exchange Online token is needed to configure mail flow."),
                ),
                Some(RETRY),
            ));
        }
    };
    if !token
        .claims
        .roles
        .iter()
        .any(|r| r == EXCHANGE_MANAGE_AS_APP.name)
    {
        forget_exchange_token(account, credential, ctx);
        return Ok(waiting_outcome(
            not_configured(
                "ExchangePermissionMissing",
                format!(
                    "{} is not granted on Office 365 Exchange Online; a Global Administrator must grant admin consent at {}",
                    EXCHANGE_MANAGE_AS_APP.name,
                    account.consent_url(esa)
                ),
            )
            .needing_a_human(),
            Some(ctx.settings.consent_poll),
        ));
    }
    let principal = match principal {
        Some(p) => p,
        None => match account
            .graph
            .service_principal(graph_token, &account.client_id)
            .await?
        {
            Some(sp) => sp.id,
            None => {
                return Ok(waiting_outcome(
                    not_configured(
                        "ServicePrincipalNotFound",
                        "The application has no service principal in the tenant yet.".into(),
                    ),
                    Some(RETRY),
                ));
            }
        },
    };
    let mut role = role::ensure(spec, account, ctx, graph_token, &token, &principal).await?;
    role.check = role::bound_propagation(role.check, esa, now);
    if !role.assigned {
        forget_exchange_token(account, credential, ctx);
        previous.role_request_id = role.request_id.clone();
        return Ok(InlineOutcome {
            observation: InlineObservation {
                checks: vec![
                    role.check,
                    not_configured(
                        "WaitingForRole",
                        "Mail flow is configured once the Exchange Administrator role is in effect.".into(),
                    ),
                ],
                status: Some(previous),
            },
            requeue: role.requeue,
        });
    }
    previous.role_request_id = None;

    let tenant = token
        .claims
        .tid
        .clone()
        .unwrap_or_else(|| account.tenant.clone());
    let exchange = ExchangeClient::new(account.http.clone(), &account.endpoints, &tenant);
    let pass = Pass {
        esa,
        ctx,
        exchange: &exchange,
        token: &token,
        spec,
    };
    // A tenant due for a look is read while the inputs are gathered (the reads need only the
    // Exchange token); a settled one is read only if the desired state turns out to differ.
    let settled = settled(esa, &previous, now);
    let kinds = kinds_to_read(spec, esa.spec.sync.scope, &previous);
    let (inputs, current) = if settled {
        (gather(esa, account, graph_token, ctx, true).await?, None)
    } else {
        let (inputs, current) = futures::join!(
            gather(esa, account, graph_token, ctx, false),
            pass.read(&kinds)
        );
        (inputs?, Some(current))
    };
    let inputs = match inputs {
        Ok(i) => i,
        Err(check) => return Ok(waiting_outcome(check, Some(RETRY))),
    };
    let wanted = desired::desired(&Inputs {
        account: &account.key,
        inline: spec,
        scope: esa.spec.sync.scope,
        members: &inputs.members,
        domains: &inputs.mail_domains,
        token: &inputs.routing_token,
    });
    let fingerprint = fingerprint(&wanted);
    if settled && previous.applied.as_deref() == Some(fingerprint.as_str()) {
        return Ok(InlineOutcome {
            observation: InlineObservation {
                checks: vec![role.check]
                    .into_iter()
                    .chain(kept_checks(esa))
                    .collect(),
                status: Some(previous),
            },
            requeue: None,
        });
    }
    let current = match current {
        Some(c) => c,
        None => pass.read(&kinds).await,
    };
    match pass
        .apply(&wanted, previous.clone(), &inputs, current)
        .await
    {
        Ok((mut status, mut checks)) => {
            status.applied = Some(fingerprint);
            status.last_check_time = Some(Time(now));
            checks.insert(0, role.check);
            Ok(InlineOutcome {
                observation: InlineObservation {
                    checks,
                    status: Some(status),
                },
                requeue: None,
            })
        }
        Err(PassError { status, error }) => {
            let (reason, message, requeue, human) = match error.failure {
                ExchangeFailure::Forbidden => (
                    "RolePropagating",
                    format!(
                        "{error}; the role was assigned recently and Exchange Online has not picked it up yet. If this lasts more than an hour, check the role assignment."
                    ),
                    role::PROPAGATION_POLL,
                    false,
                ),
                ExchangeFailure::TokenRejected => {
                    forget_exchange_token(account, credential, ctx);
                    ("ExchangeTokenRejected", error.to_string(), RETRY, false)
                }
                ExchangeFailure::Invalid | ExchangeFailure::AlreadyExists => (
                    error.failure.reason(),
                    format!("{error}; check spec.inline.mailFlow."),
                    ctx.settings.consent_poll,
                    true,
                ),
                ExchangeFailure::Throttled
                | ExchangeFailure::Transient
                | ExchangeFailure::NotFound => (
                    error.failure.reason(),
                    format!("{error}; retrying."),
                    error.retry_after.unwrap_or(RETRY),
                    false,
                ),
            };
            if error.failure == ExchangeFailure::Forbidden {
                forget_exchange_token(account, credential, ctx);
            }
            let check = not_configured(reason, message);
            Ok(InlineOutcome {
                observation: InlineObservation {
                    checks: vec![
                        role.check,
                        if human {
                            check.needing_a_human()
                        } else {
                            check
                        },
                    ],
                    status: Some(status),
                },
                requeue: Some(requeue),
            })
        }
    }
}

fn waiting_outcome(check: InlineCheck, requeue: Option<Duration>) -> InlineOutcome {
    InlineOutcome {
        observation: InlineObservation {
            checks: vec![check],
            status: None,
        },
        requeue,
    }
}

/// The inline conditions as they are, when nothing needs to be looked at again.
fn kept_checks(esa: &ExchangeServiceAccount) -> Vec<InlineCheck> {
    let conds = esa
        .status
        .as_ref()
        .map(|s| s.conditions.clone())
        .unwrap_or_default();
    [
        MAIL_FLOW_CONFIGURED,
        SECURITY_SETTINGS_VERIFIED,
        MAIL_FLOW_DRIFTED,
    ]
    .into_iter()
    .filter_map(|t| {
        let c = conditions::get(&conds, t)?;
        let status = c.status == "True";
        Some(InlineCheck {
            type_: t,
            status,
            healthy: if t == MAIL_FLOW_DRIFTED {
                !status
            } else {
                status
            },
            reason: c.reason.clone(),
            message: c.message.clone(),
            needs_human: false,
        })
    })
    .collect()
}

/// Whether the tenant needs no look unless the desired state changed: its mail flow was
/// configured, the interval has not passed since the last look, and no check was asked for.
fn settled(esa: &ExchangeServiceAccount, previous: &MailFlowStatus, now: jiff::Timestamp) -> bool {
    if previous.applied.is_none() {
        return false;
    }
    let configured = esa
        .status
        .as_ref()
        .is_some_and(|s| conditions::is_true(&s.conditions, MAIL_FLOW_CONFIGURED));
    if !configured {
        return false;
    }
    let Some(last) = previous.last_check_time.as_ref().map(|t| t.0) else {
        return false;
    };
    if last + directory::interval(esa) <= now {
        return false;
    }
    esa.annotations()
        .get(SYNC_REQUESTED_ANNOTATION)
        .and_then(|v| v.parse::<jiff::Timestamp>().ok())
        .is_none_or(|requested| requested <= last)
}

/// The kinds a pass reads: those it wants (they depend only on the spec), those it owns, and
/// the rules and inbound connectors the security checks look at.
fn kinds_to_read(spec: &InlineSpec, scope: SyncScope, previous: &MailFlowStatus) -> BTreeSet<Kind> {
    desired::kinds(spec, scope)
        .into_iter()
        .chain(
            previous
                .objects
                .iter()
                .filter_map(|id| Kind::from_noun(id.split_once('/').map(|(k, _)| k).unwrap_or(""))),
        )
        .chain([Kind::TransportRule, Kind::InboundConnector])
        .collect()
}

fn fingerprint(wanted: &[DesiredObject]) -> String {
    let text = format!("{wanted:?}");
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    digest.as_ref()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What the desired state is computed from.
struct Gathered {
    members: Vec<String>,
    mail_domains: Vec<String>,
    protected_domains: Vec<String>,
    routing_token: String,
}

/// The inputs of the desired state: the mail domains (those last read when `reuse_domains`
/// and known), the protected members and the routing token.
async fn gather(
    esa: &ExchangeServiceAccount,
    account: &Account,
    graph_token: &AccessToken,
    ctx: &Context,
    reuse_domains: bool,
) -> Result<std::result::Result<Gathered, InlineCheck>> {
    let known = reuse_domains
        .then(|| ctx.memo(&account.key).mail_domains)
        .flatten();
    let mail_domains: Vec<String> = match known {
        Some(d) => d,
        None => {
            let domains: Vec<String> = account
                .graph
                .domains(graph_token)
                .await?
                .iter()
                .filter(|d| d.is_mail_domain())
                .map(|d| d.id.to_lowercase())
                .collect();
            ctx.update_memo(&account.key, |m| m.mail_domains = Some(domains.clone()));
            domains
        }
    };
    let members = match esa.spec.sync.scope {
        SyncScope::All => Vec::new(),
        SyncScope::Selected => {
            let Some(reference) = &esa.spec.sync.target_list_ref else {
                return Ok(Err(not_configured(
                    "TargetListNotSet",
                    "spec.sync.targetListRef must name a SyncTargetList when scope is Selected."
                        .into(),
                )));
            };
            let api: Api<SyncTargetList> =
                Api::namespaced(ctx.client.clone(), &esa.namespace().unwrap_or_default());
            match api.get_opt(&reference.name).await?.and_then(|s| s.status) {
                Some(status) if status.last_resolved_time.is_some() => status
                    .resolved_users
                    .iter()
                    .map(|u| u.user_principal_name.clone())
                    .collect(),
                _ => {
                    return Ok(Err(not_configured(
                        "WaitingForTargetList",
                        format!(
                            "Mail flow is configured once the SyncTargetList {} is resolved.",
                            reference.name
                        ),
                    )));
                }
            }
        }
    };
    let protected_domains = match esa.spec.sync.scope {
        SyncScope::All => mail_domains.clone(),
        SyncScope::Selected => members
            .iter()
            .filter_map(|m| m.rsplit_once('@').map(|(_, d)| d.to_lowercase()))
            .collect(),
    };
    let routing_token = routing_token(esa, ctx).await?;
    Ok(Ok(Gathered {
        members,
        mail_domains,
        protected_domains,
        routing_token,
    }))
}

/// The tenant's routing token from the account's Secret, created on first use. It marks mail
/// the service has seen; being secret, external senders cannot forge it.
async fn routing_token(esa: &ExchangeServiceAccount, ctx: &Context) -> Result<String> {
    let namespace = esa.namespace().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let name = secret_name(esa);
    if let Some(secret) = api.get_opt(&name).await?
        && let Some(value) = secret.data.as_ref().and_then(|d| d.get(TOKEN_KEY))
        && let Ok(token) = String::from_utf8(value.0.clone())
    {
        return Ok(token);
    }
    let mut bytes = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| Error::Internal("no random numbers available".into()))?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(namespace),
            owner_references: super::account::Account::owner_reference(esa).map(|o| vec![o]),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/managed-by".to_string(),
                "exo-operator".to_string(),
            )])),
            ..Default::default()
        },
        data: Some(BTreeMap::from([(
            TOKEN_KEY.to_string(),
            ByteString(token.clone().into_bytes()),
        )])),
        ..Default::default()
    };
    match api
        .create(&crate::controller::field_manager::post(), &secret)
        .await
    {
        Ok(_) => Ok(token),
        // Created meanwhile (another replica or a retried reconcile): use that one.
        Err(kube::Error::Api(e)) if e.code == 409 => {
            let existing = api.get(&name).await?;
            Ok(existing
                .data
                .and_then(|d| {
                    d.get(TOKEN_KEY)
                        .map(|v| String::from_utf8_lossy(&v.0).into_owned())
                })
                .unwrap_or(token))
        }
        Err(e) => Err(e.into()),
    }
}

/// A failed pass: the status reached so far (objects recorded) and the failure.
struct PassError {
    status: MailFlowStatus,
    error: ExchangeError,
}

/// One pass over the tenant's mail flow.
struct Pass<'a> {
    esa: &'a ExchangeServiceAccount,
    ctx: &'a Context,
    exchange: &'a ExchangeClient,
    token: &'a AccessToken,
    spec: &'a InlineSpec,
}

fn params(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn name_of(v: &Value) -> &str {
    v.get("Name").and_then(Value::as_str).unwrap_or("")
}

impl Pass<'_> {
    async fn run(&self, cmdlet: &str, p: Value) -> std::result::Result<Vec<Value>, ExchangeError> {
        self.exchange.invoke(self.token, cmdlet, params(p)).await
    }

    /// The `IPAllowList` of the Default connection filter policy.
    async fn allow_list(&self) -> std::result::Result<Vec<String>, ExchangeError> {
        let policy = self
            .run(
                "Get-HostedConnectionFilterPolicy",
                json!({"Identity": "Default"}),
            )
            .await?;
        Ok(policy
            .first()
            .and_then(|p| p.get("IPAllowList"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn list(&self, kind: Kind) -> std::result::Result<Vec<Value>, ExchangeError> {
        self.run(&format!("Get-{}", kind.noun()), json!({})).await
    }

    /// Records `objects` in status before the object is created (the intent log).
    async fn record(&self, status: &MailFlowStatus) -> Result<()> {
        let mut full = self.esa.status.clone().unwrap_or_default();
        let mail_flow = full.mail_flow.get_or_insert_with(Default::default);
        mail_flow.objects = status.objects.clone();
        mail_flow.allow_list_entries = status.allow_list_entries.clone();
        super::write_status(self.ctx, self.esa, &full).await?;
        Ok(())
    }

    /// Publishes an Event about object `id`. The object is part of the action, so that events
    /// about different objects are not folded into one series.
    async fn event(&self, reason: &str, id: &str, note: String) {
        let event = Event {
            type_: EventType::Normal,
            reason: reason.into(),
            note: Some(note),
            action: format!("{reason} {id}").chars().take(128).collect(),
            secondary: None,
        };
        if let Err(e) = self
            .ctx
            .recorder
            .publish(&event, &self.esa.object_ref(&()))
            .await
        {
            tracing::warn!(error = %e, reason, "cannot publish Event");
        }
    }

    /// Reads the objects of `kinds` and the allow list, all at once.
    async fn read(&self, kinds: &BTreeSet<Kind>) -> std::result::Result<Current, ExchangeError> {
        let lists = futures::future::try_join_all(kinds.iter().map(|k| self.list(*k)));
        let (lists, allow) = futures::try_join!(lists, self.allow_list())?;
        Ok(Current {
            objects: kinds.iter().copied().zip(lists).collect(),
            allow,
        })
    }

    /// Carries out one object's step: creates or corrects it, then brings a group's members in
    /// line. Returns whether a new object was created.
    async fn carry_out(
        &self,
        object: &DesiredObject,
        step: &Step,
    ) -> std::result::Result<bool, ExchangeError> {
        let id = object.id();
        let mut created = false;
        match step {
            Step::Create { recreate } => {
                let mut p = object.params.clone();
                p.extend(object.create_only.clone());
                p.insert("Name".into(), json!(object.name));
                self.run(&format!("New-{}", object.kind.noun()), Value::Object(p))
                    .await?;
                if *recreate {
                    self.event(
                        "MailFlowCorrected",
                        &id,
                        format!("Re-created {id}, which was deleted outside the operator."),
                    )
                    .await;
                } else {
                    created = true;
                }
            }
            Step::Correct(fields) => {
                let mut p = object.params.clone();
                p.insert("Identity".into(), json!(object.name));
                self.run(&format!("Set-{}", object.kind.noun()), Value::Object(p))
                    .await?;
                self.event(
                    "MailFlowCorrected",
                    &id,
                    format!("Restored {} of {id}.", fields.join(", ")),
                )
                .await;
            }
            Step::Keep => {}
            Step::Skip => return Ok(false),
        }
        if let Some(members) = &object.members {
            // A group just created has no members yet.
            let now: Vec<String> = if matches!(step, Step::Create { .. }) {
                Vec::new()
            } else {
                self.run(
                    "Get-DistributionGroupMember",
                    json!({"Identity": object.name}),
                )
                .await?
                .iter()
                .filter_map(|m| {
                    m.get("PrimarySmtpAddress")
                        .or(m.get("Name"))
                        .and_then(Value::as_str)
                        .map(String::from)
                })
                .collect()
            };
            let (add, remove) = desired::membership_changes(members, &now);
            let mut calls = Vec::new();
            for (cmdlet, member) in add
                .into_iter()
                .map(|m| ("Add-DistributionGroupMember", m))
                .chain(
                    remove
                        .into_iter()
                        .map(|m| ("Remove-DistributionGroupMember", m)),
                )
            {
                calls.push(self.run(
                    cmdlet,
                    json!({"Identity": object.name, "Member": member, "BypassSecurityGroupManagerCheck": true}),
                ));
            }
            futures::stream::iter(calls)
                .buffer_unordered(MEMBER_CONCURRENCY)
                .try_collect::<Vec<_>>()
                .await?;
        }
        Ok(created)
    }

    async fn apply(
        &self,
        wanted: &[DesiredObject],
        mut status: MailFlowStatus,
        inputs: &Gathered,
        current: std::result::Result<Current, ExchangeError>,
    ) -> std::result::Result<(MailFlowStatus, Vec<InlineCheck>), PassError> {
        macro_rules! attempt {
            ($e:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(error) => return Err(PassError { status, error }),
                }
            };
        }
        let current = attempt!(current);
        let report = self.spec.mail_flow.drift_policy == DriftPolicy::Report;
        let mut plan = plan(wanted, &current, &status, report);
        let ips = &self.spec.mail_flow.service_ip_ranges;
        let allow = allow_list_change(ips, &current.allow, &status.allow_list_entries, report);
        plan.drift.extend(allow.drift.iter().cloned());

        // The intent log: every object about to be created and every allow-list entry about to
        // be added is recorded in one write before any of them exists.
        let mut intent = status.clone();
        intent.objects.extend(plan.new_ids.iter().cloned());
        for ip in &allow.add {
            if !has(&intent.allow_list_entries, ip) {
                intent.allow_list_entries.push(ip.clone());
            }
        }
        let writes_ahead = plan.creates || !allow.add.is_empty();
        if writes_ahead
            && (intent.objects != status.objects
                || intent.allow_list_entries != status.allow_list_entries)
            && let Err(e) = self.record(&intent).await
        {
            tracing::warn!(error = %e, "cannot record Exchange objects before creating them");
            return Err(PassError {
                status,
                error: ExchangeError::from_response("record", 503, b"", None),
            });
        }
        status = intent;

        // Groups and connectors do not depend on one another, nor on the allow list: they are
        // written at once. Rules name them, and are created one by one in their order.
        let (first, rules): (Vec<_>, Vec<_>) = wanted
            .iter()
            .zip(plan.steps.iter())
            .partition(|(o, _)| o.kind != Kind::TransportRule);
        let objects = futures::future::join_all(first.iter().map(|(o, s)| self.carry_out(o, s)));
        let allow_write = async {
            if allow.add.is_empty() && allow.remove.is_empty() {
                return Ok(Vec::new());
            }
            let mut change = json!({"@odata.type": "#Exchange.GenericHashTable"});
            if !allow.add.is_empty() {
                change["Add"] = json!(allow.add);
            }
            if !allow.remove.is_empty() {
                change["Remove"] = json!(allow.remove);
            }
            self.run(
                "Set-HostedConnectionFilterPolicy",
                json!({"Identity": "Default", "IPAllowList": change}),
            )
            .await
        };
        let (objects, allow_written) = futures::join!(objects, allow_write);
        let mut created = Vec::new();
        for ((object, _), outcome) in first.iter().zip(objects) {
            if attempt!(outcome) {
                created.push(object.id());
            }
        }
        attempt!(allow_written);
        status.allow_list_entries.retain(|e| has(ips, e));
        for (object, step) in rules {
            if attempt!(self.carry_out(object, step).await) {
                created.push(object.id());
            }
        }

        // Owned objects no longer wanted (e.g. the outbound set after a change back to
        // Inbound): rules first, then connectors, then groups.
        let wanted_ids: Vec<String> = wanted.iter().map(DesiredObject::id).collect();
        let mut stale: Vec<String> = status
            .objects
            .iter()
            .filter(|id| !wanted_ids.contains(id))
            .cloned()
            .collect();
        stale.sort_by_key(|id| std::cmp::Reverse(removal_rank(id)));
        for id in stale {
            let (noun, name) = id.split_once('/').unwrap_or(("", ""));
            match self
                .run(
                    &format!("Remove-{noun}"),
                    json!({"Identity": name, "Confirm": false}),
                )
                .await
            {
                Ok(_) => {}
                Err(e) if e.failure == ExchangeFailure::NotFound => {}
                Err(error) => return Err(PassError { status, error }),
            }
            status.objects.retain(|o| o != &id);
            self.event(
                "MailFlowRemoved",
                &id,
                format!("Removed {id}, no longer needed."),
            )
            .await;
        }
        let Plan {
            drift, conflicts, ..
        } = plan;

        // Security settings, read back after the changes.
        let (rules, inbound, allow) = attempt!(futures::try_join!(
            self.list(Kind::TransportRule),
            self.list(Kind::InboundConnector),
            self.allow_list()
        ));
        let names = Names::new(&self.spec.mail_flow.name_prefix);
        let return_connector = inbound
            .iter()
            .find(|c| name_of(c).eq_ignore_ascii_case(&names.return_connector()));
        let failed = checks::failed(&checks::Tenant {
            service_ips: ips,
            return_connector,
            allow_list: &allow,
            rules: &rules,
            inbound_rule: &names.inbound_rule(),
            protected_domains: &inputs.protected_domains,
            mail_domains: &inputs.mail_domains,
        });
        status.failed_checks = failed.clone();
        status.drift = drift.clone();

        let mut out = Vec::new();
        if conflicts.is_empty() {
            let what = if created.is_empty() {
                format!("{} Exchange objects match the desired state.", wanted.len())
            } else {
                format!(
                    "{} Exchange objects configured; created {}.",
                    wanted.len(),
                    created.join(", ")
                )
            };
            out.push(InlineCheck::positive(
                MAIL_FLOW_CONFIGURED,
                true,
                "Configured",
                what,
            ));
        } else {
            out.push(
                not_configured(
                    "NameConflict",
                    format!(
                        "Objects with these names exist and were not created by exo-operator: {}. Rename them or choose another spec.inline.mailFlow.namePrefix.",
                        conflicts.join(", ")
                    ),
                )
                .needing_a_human(),
            );
        }
        out.push(if failed.is_empty() {
            InlineCheck::positive(
                SECURITY_SETTINGS_VERIFIED,
                true,
                "Verified",
                "Enhanced filtering, the allow list, rule order and mail domains are right.".into(),
            )
        } else {
            InlineCheck::positive(
                SECURITY_SETTINGS_VERIFIED,
                false,
                "ChecksFailed",
                failed.join("; "),
            )
        });
        out.push(if drift.is_empty() {
            InlineCheck {
                type_: MAIL_FLOW_DRIFTED,
                status: false,
                healthy: true,
                reason: "InSync".into(),
                message: "Owned Exchange objects match the desired state.".into(),
                needs_human: false,
            }
        } else {
            InlineCheck {
                type_: MAIL_FLOW_DRIFTED,
                status: true,
                healthy: false,
                reason: "Drifted".into(),
                message: format!(
                    "Changed outside the operator (drift policy Report, nothing was changed): {}",
                    drift.join("; ")
                ),
                needs_human: false,
            }
        });
        Ok((status, out))
    }
}

/// How many group-membership changes run at once.
const MEMBER_CONCURRENCY: usize = 8;

/// What the tenant has, read at the start of a pass.
struct Current {
    objects: BTreeMap<Kind, Vec<Value>>,
    allow: Vec<String>,
}

/// What a pass does with one wanted object.
#[derive(Debug, PartialEq)]
enum Step {
    /// Create it (`recreate`: it was owned, and deleted outside the operator).
    Create { recreate: bool },
    /// Set these fields back.
    Correct(Vec<String>),
    /// Leave it (a group's members are still brought in line).
    Keep,
    /// Leave it alone entirely (a name conflict, or a deletion only reported).
    Skip,
}

/// A pass decided from what the tenant has: a step per wanted object, in order.
#[derive(Debug, Default)]
struct Plan {
    steps: Vec<Step>,
    /// Objects to add to `status.mailFlow.objects`, created or adopted, in order.
    new_ids: Vec<String>,
    /// Whether any object is created.
    creates: bool,
    drift: Vec<String>,
    conflicts: Vec<String>,
}

fn plan(
    wanted: &[DesiredObject],
    current: &Current,
    status: &MailFlowStatus,
    report: bool,
) -> Plan {
    let mut plan = Plan::default();
    for object in wanted {
        let id = object.id();
        let owned = status.objects.contains(&id);
        let found = current.objects.get(&object.kind).and_then(|l| {
            l.iter()
                .find(|o| name_of(o).eq_ignore_ascii_case(&object.name))
        });
        let step = match found {
            None if owned && report => {
                plan.drift.push(format!("{id}: deleted"));
                Step::Skip
            }
            None => {
                if !owned {
                    plan.new_ids.push(id);
                }
                plan.creates = true;
                Step::Create { recreate: owned }
            }
            Some(actual) => {
                let marked = object
                    .kind
                    .comment_field()
                    .and_then(|f| actual.get(f).and_then(Value::as_str))
                    .is_some_and(desired::is_marked);
                if !owned && !marked {
                    plan.conflicts.push(id);
                    Step::Skip
                } else {
                    if !owned {
                        plan.new_ids.push(id.clone());
                    }
                    let fields = desired::differences(object, actual);
                    if fields.is_empty() {
                        Step::Keep
                    } else if report {
                        plan.drift.push(format!("{id}: {}", fields.join(", ")));
                        Step::Keep
                    } else {
                        Step::Correct(fields)
                    }
                }
            }
        };
        plan.steps.push(step);
    }
    plan
}

/// The change to the connection-filter allow list: the service's ranges merged in, the
/// operator's former entries taken out, other entries never touched.
#[derive(Debug, Default, PartialEq)]
struct AllowChange {
    add: Vec<String>,
    remove: Vec<String>,
    drift: Vec<String>,
}

fn allow_list_change(
    ips: &[String],
    allow: &[String],
    entries: &[String],
    report: bool,
) -> AllowChange {
    let mut change = AllowChange::default();
    for ip in ips {
        if has(allow, ip) {
            continue;
        }
        if has(entries, ip) && report {
            change.drift.push(format!(
                "HostedConnectionFilterPolicy/Default: IPAllowList lacks {ip}"
            ));
        } else {
            change.add.push(ip.clone());
        }
    }
    change.remove = entries
        .iter()
        .filter(|e| !has(ips, e) && has(allow, e))
        .cloned()
        .collect();
    change
}

fn has(list: &[String], ip: &str) -> bool {
    list.iter().any(|x| x.eq_ignore_ascii_case(ip))
}

/// Removal order: rules, then connectors, then groups.
fn removal_rank(id: &str) -> u8 {
    match id.split_once('/').map(|(k, _)| k) {
        Some("TransportRule") => 3,
        Some("OutboundConnector" | "InboundConnector") => 2,
        _ => 1,
    }
}

/// Deletion with policy Delete: removes every owned object, the operator's allow-list entries
/// and (when the operator assigned it) the role, then verifies nothing owned is left.
pub async fn cleanup(
    esa: &ExchangeServiceAccount,
    account: &Account,
    credential: &ClientCredential,
    ctx: &Context,
) -> Result<()> {
    let Some(spec) = esa.spec.inline.as_ref() else {
        return Ok(());
    };
    let status = previous_status(esa);
    let token = exchange_token(account, credential, ctx)
        .await
        .map_err(|e| Error::CleanupIncomplete(format!("no Exchange token: {e}")))?;
    let tenant = token
        .claims
        .tid
        .clone()
        .unwrap_or_else(|| account.tenant.clone());
    let exchange = ExchangeClient::new(account.http.clone(), &account.endpoints, &tenant);
    let mut objects = status.objects.clone();
    objects.sort_by_key(|id| std::cmp::Reverse(removal_rank(id)));
    for id in &objects {
        let (noun, name) = id.split_once('/').unwrap_or(("", ""));
        match exchange
            .invoke(
                &token,
                &format!("Remove-{noun}"),
                params(json!({"Identity": name, "Confirm": false})),
            )
            .await
        {
            Ok(_) => {}
            Err(e) if e.failure == ExchangeFailure::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    if !status.allow_list_entries.is_empty() {
        exchange
            .invoke(
                &token,
                "Set-HostedConnectionFilterPolicy",
                params(json!({"Identity": "Default", "IPAllowList": {"@odata.type": "#Exchange.GenericHashTable", "Remove": status.allow_list_entries}})),
            )
            .await?;
    }
    // Verify: nothing owned is left.
    let mut left = Vec::new();
    for noun in [
        "TransportRule",
        "OutboundConnector",
        "InboundConnector",
        "DistributionGroup",
    ] {
        let found = exchange
            .invoke(&token, &format!("Get-{noun}"), Map::new())
            .await?;
        for o in found {
            let id = format!("{noun}/{}", name_of(&o));
            if objects.contains(&id) {
                left.push(id);
            }
        }
    }
    if !left.is_empty() {
        return Err(Error::CleanupIncomplete(format!(
            "still in the tenant: {}",
            left.join(", ")
        )));
    }
    if spec.role_assignment.mode == RoleAssignmentMode::Automatic {
        let graph_token = account
            .app_token(ctx, credential, &account.endpoints.graph_scope)
            .await
            .map_err(|e| Error::CleanupIncomplete(format!("no Graph token: {e}")))?;
        let principal = esa
            .status
            .as_ref()
            .and_then(|s| s.service_principal.as_ref())
            .and_then(|s| s.object_id.clone());
        if let Some(principal) = principal {
            account
                .graph
                .remove_role(
                    &graph_token,
                    &principal,
                    crate::microsoft::graph::roles::EXCHANGE_ADMINISTRATOR,
                )
                .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(kind: Kind, name: &str) -> DesiredObject {
        DesiredObject {
            kind,
            name: name.into(),
            params: params(json!({"Enabled": true})),
            create_only: Map::new(),
            members: None,
        }
    }

    fn tenant(objects: Vec<(Kind, Value)>) -> Current {
        let mut current = Current {
            objects: BTreeMap::new(),
            allow: Vec::new(),
        };
        for (kind, o) in objects {
            current.objects.entry(kind).or_default().push(o);
        }
        current
    }

    #[test]
    fn a_plan_creates_adopts_corrects_and_leaves_others_objects_alone() {
        let wanted = [
            object(Kind::OutboundConnector, "new"),
            object(Kind::InboundConnector, "marked"),
            object(Kind::InboundConnector, "foreign"),
            object(Kind::TransportRule, "owned"),
        ];
        let current = tenant(vec![
            (
                Kind::InboundConnector,
                json!({"Name": "Marked", "Enabled": true, "Comment": desired::marker("d/a")}),
            ),
            (
                Kind::InboundConnector,
                json!({"Name": "foreign", "Enabled": true, "Comment": "theirs"}),
            ),
            (
                Kind::TransportRule,
                json!({"Name": "owned", "Enabled": false}),
            ),
        ]);
        let status = MailFlowStatus {
            objects: vec!["TransportRule/owned".into()],
            ..Default::default()
        };
        let p = plan(&wanted, &current, &status, false);
        assert_eq!(
            p.steps,
            [
                Step::Create { recreate: false },
                Step::Keep,
                Step::Skip,
                Step::Correct(vec!["Enabled".into()]),
            ]
        );
        assert_eq!(
            p.new_ids,
            ["OutboundConnector/new", "InboundConnector/marked"]
        );
        assert!(p.creates);
        assert_eq!(p.conflicts, ["InboundConnector/foreign"]);
        assert!(p.drift.is_empty());

        // Drift policy Report: nothing is set back or re-created, everything is named.
        let gone = tenant(vec![(
            Kind::TransportRule,
            json!({"Name": "owned", "Enabled": false}),
        )]);
        let status = MailFlowStatus {
            objects: vec!["TransportRule/owned".into(), "OutboundConnector/new".into()],
            ..Default::default()
        };
        let p = plan(&wanted[..1], &gone, &status, true);
        assert_eq!(p.steps, [Step::Skip]);
        assert!(!p.creates);
        assert_eq!(p.drift, ["OutboundConnector/new: deleted"]);
        let p = plan(&wanted[3..], &gone, &status, true);
        assert_eq!(p.steps, [Step::Keep]);
        assert_eq!(p.drift, ["TransportRule/owned: Enabled"]);
    }

    #[test]
    fn the_allow_list_change_adds_ours_removes_our_former_entries_and_keeps_theirs() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let change = allow_list_change(
            &s(&["203.0.113.0/24", "198.51.100.10"]),
            &s(&["192.0.2.1", "198.51.100.10", "198.51.100.99"]),
            &s(&["198.51.100.10", "198.51.100.99"]),
            false,
        );
        assert_eq!(change.add, s(&["203.0.113.0/24"]));
        assert_eq!(change.remove, s(&["198.51.100.99"]));
        assert!(change.drift.is_empty());
        // Reported, not restored: an entry of ours taken out by someone else.
        let change = allow_list_change(&s(&["203.0.113.0/24"]), &[], &s(&["203.0.113.0/24"]), true);
        assert!(change.add.is_empty());
        assert_eq!(
            change.drift,
            ["HostedConnectionFilterPolicy/Default: IPAllowList lacks 203.0.113.0/24"]
        );
    }
}
