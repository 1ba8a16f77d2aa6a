//! One inline pass against Exchange Online: reads, the intent log, and the writes of the plan.

use std::collections::BTreeSet;

use futures::{StreamExt, TryStreamExt};
use kube::Resource;
use kube::runtime::events::EventType;
use serde_json::{Map, Value, json};

use super::desired::{DesiredObject, Kind, Names, Owner};
use super::inputs::Gathered;
use super::plan::{
    AllowChange, Current, PENDING_ENTRY, PassResult, Plan, Step, allow_list_change, has,
    mail_flow_checks, make_plan, owned_objects, pending_entry,
};
use super::{checks, desired};
use crate::controller::conditions::MAIL_FLOW_CONFIGURED;
use crate::controller::context::Context;
use crate::controller::planned::{Action, Change, Target};
use crate::controller::service_account::decide::InlineCheck;
use crate::microsoft::exchange::{ExchangeClient, ExchangeError, ExchangeFailure};
use crate::microsoft::identity::token::AccessToken;
use exo_api::email_security_service::ServiceMailFlow;
use exo_api::exchange_service_account::{
    DriftPolicy, ExchangeServiceAccount, InlineSpec, MailFlowStatus, ManagementPolicy,
};

/// How many group-membership changes run at once.
pub(super) const MEMBER_CONCURRENCY: usize = 8;

/// A failed pass: the status reached so far (objects recorded) and the failure.
pub(super) struct SessionError {
    pub(super) status: MailFlowStatus,
    pub(super) error: ExchangeError,
}

/// One pass over the tenant's mail flow.
pub(super) struct MailFlowSession<'a> {
    pub(super) esa: &'a ExchangeServiceAccount,
    pub(super) ctx: &'a Context,
    pub(super) exchange: &'a ExchangeClient,
    pub(super) token: &'a AccessToken,
    pub(super) spec: &'a InlineSpec,
    /// Where the service receives mail (its relay, certificate and addresses).
    pub(super) service: &'a ServiceMailFlow,
    /// The account, as its ownership markers name it.
    pub(super) owner: Owner<'a>,
    /// Planning or observing: the changes recorded instead of made.
    pub(super) planned: std::sync::atomic::AtomicUsize,
}

pub(super) fn params(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

pub(super) fn name_of(v: &Value) -> &str {
    v.get("Name").and_then(Value::as_str).unwrap_or("")
}

impl MailFlowSession<'_> {
    pub(super) async fn run(
        &self,
        cmdlet: &str,
        p: Value,
    ) -> std::result::Result<Vec<Value>, ExchangeError> {
        if cmdlet.starts_with("Get-") {
            return self.exchange.invoke(self.token, cmdlet, params(p)).await;
        }
        if self.ctx.planning(|| planned_cmdlet(cmdlet, &p)) {
            self.count_planned();
            return Ok(Vec::new());
        }
        let call = self.exchange.invoke(self.token, cmdlet, params(p));
        crate::controller::fail_point::around(cmdlet, call).await
    }

    fn count_planned(&self) {
        self.planned
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// The `IPAllowList` of the Default connection filter policy.
    pub(super) async fn allow_list(&self) -> std::result::Result<Vec<String>, ExchangeError> {
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

    pub(super) async fn list(&self, kind: Kind) -> std::result::Result<Vec<Value>, ExchangeError> {
        self.run(&format!("Get-{}", kind.noun()), json!({})).await
    }

    /// Publishes an Event about object `id`. The object is part of the action, so that events
    /// about different objects are not folded into one series.
    pub(super) async fn event(&self, reason: &str, id: &str, note: String) {
        self.publish(EventType::Normal, reason, id, note).await;
    }

    /// Publishes an Event of `type_` about object `id`.
    pub(super) async fn publish(&self, type_: EventType, reason: &str, id: &str, note: String) {
        let action = format!("{reason} {id}");
        let object = self.esa.object_ref(&());
        self.ctx
            .publish_event(&object, type_, reason, &action, note)
            .await;
    }

    /// Reads the objects of `kinds` and the allow list, all at once.
    pub(super) async fn read(
        &self,
        kinds: &BTreeSet<Kind>,
    ) -> std::result::Result<Current, ExchangeError> {
        let lists = futures::future::try_join_all(kinds.iter().map(|k| self.list(*k)));
        let (lists, allow) = futures::try_join!(lists, self.allow_list())?;
        Ok(Current {
            objects: kinds.iter().copied().zip(lists).collect(),
            allow,
        })
    }

    /// Carries out one object's step: creates or corrects it, then brings a group's members in
    /// line. Returns whether a new object was created.
    pub(super) async fn carry_out(
        &self,
        object: &DesiredObject,
        step: &Step,
    ) -> std::result::Result<bool, ExchangeError> {
        let id = object.id();
        let mut created = false;
        let planning = self.ctx.is_planning();
        if planning && let Some(change) = planned_step(object, step) {
            self.ctx.planning(|| change);
            self.count_planned();
        }
        match step {
            Step::Create { .. } | Step::Correct(_) if planning => {}
            Step::Create { recreate } => {
                let mut p = object.params.clone();
                p.extend(object.create_only.clone());
                p.insert("Name".into(), json!(object.name));
                let after = desired::follow_ups(object.kind, "New", &object.name, &mut p);
                self.run(&format!("New-{}", object.kind.noun()), Value::Object(p))
                    .await?;
                for (cmdlet, p) in after {
                    self.run(&cmdlet, p).await?;
                }
                if *recreate {
                    self.event(
                        "MailFlowCorrected",
                        &id,
                        format!("Re-created {id}, which was deleted outside the operator."),
                    )
                    .await;
                } else {
                    self.event("MailFlowCreated", &id, format!("Created {id}."))
                        .await;
                    created = true;
                }
            }
            Step::Correct(fields) => {
                let mut p = object.params.clone();
                p.insert("Identity".into(), json!(object.name));
                let after = desired::follow_ups(object.kind, "Set", &object.name, &mut p);
                self.run(&format!("Set-{}", object.kind.noun()), Value::Object(p))
                    .await?;
                for (cmdlet, p) in after {
                    self.run(&cmdlet, p).await?;
                }
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
            // A group just created (or only planned) has no members yet.
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
                let p = json!({"Identity": object.name, "Member": member, "BypassSecurityGroupManagerCheck": true});
                calls.push(async move {
                    match self.run(cmdlet, p).await {
                        // A member gone from the directory (or already out) is done.
                        Err(e)
                            if e.failure == ExchangeFailure::NotFound
                                && cmdlet.starts_with("Remove-") =>
                        {
                            Ok(Vec::new())
                        }
                        other => other,
                    }
                });
            }
            futures::stream::iter(calls)
                .buffer_unordered(MEMBER_CONCURRENCY)
                .try_collect::<Vec<_>>()
                .await?;
        }
        Ok(created)
    }

    /// Carries out the plan of a pass: the intent log, the creates and corrections, the
    /// allow list, the removal of what is no longer wanted, then the security settings read
    /// back. Returns the new mail-flow status and the pass's checks, or the status as far as
    /// it got with the failure.
    pub(super) async fn apply(
        &self,
        wanted: &[DesiredObject],
        status: MailFlowStatus,
        inputs: &Gathered,
        current: std::result::Result<Current, ExchangeError>,
    ) -> std::result::Result<(MailFlowStatus, Vec<InlineCheck>), SessionError> {
        let current = match current {
            Ok(c) => c,
            Err(error) => return Err(SessionError { status, error }),
        };
        let report = self.spec.mail_flow.drift_policy == DriftPolicy::Report;
        let observing = self.esa.spec.management_policy == ManagementPolicy::Observe;
        let mut plan = make_plan(wanted, &current, &status, &self.owner, report, observing);
        let ips = &self.service.service_ip_ranges;
        let allow = allow_list_change(ips, &current.allow, &status, report);
        plan.drift.extend(allow.drift.iter().cloned());

        for drift in plan.drift.iter().filter(|d| !status.drift.contains(d)) {
            let id = drift.split(':').next().unwrap_or_default();
            let note = format!("Drift found (drift policy Report, left for a human): {drift}.");
            self.publish(EventType::Warning, "DriftFound", id, note)
                .await;
        }
        let status = self.record_intent(status, &plan, &allow).await?;
        let (status, created) = self.write(wanted, &plan, &allow, status).await?;
        let mut status = self.remove_unwanted(wanted, status).await?;
        let failed = match self.security_settings(inputs).await {
            Ok(failed) => failed,
            Err(error) => return Err(SessionError { status, error }),
        };
        status.failed_checks = failed.clone();
        status.drift = plan.drift.clone();
        let mut checks = mail_flow_checks(&PassResult {
            wanted: wanted.len(),
            created: &created,
            conflicts: &plan.conflicts,
            failed: &failed,
            drift: &plan.drift,
        });
        let planned = self.planned.load(std::sync::atomic::Ordering::Relaxed);
        if planned > 0 {
            // Nothing was made: the mail flow is as it was read.
            for check in checks
                .iter_mut()
                .filter(|c| c.type_ == MAIL_FLOW_CONFIGURED)
            {
                *check = not_planned_yet(planned);
            }
        }
        Ok((status, checks))
    }

    /// The intent log: every object about to be created and every allow-list entry about to
    /// be added is recorded as pending in one write before any of them exists.
    async fn record_intent(
        &self,
        status: MailFlowStatus,
        plan: &Plan,
        allow: &AllowChange,
    ) -> std::result::Result<MailFlowStatus, SessionError> {
        if self.ctx.is_planning() {
            // Nothing is created: nothing to record.
            return Ok(status);
        }
        let mut intent = status.clone();
        let entries = allow.add.iter().map(|ip| pending_entry(ip));
        for id in plan.new_ids.iter().cloned().chain(entries) {
            if !intent.pending.contains(&id) {
                intent.pending.push(id);
            }
        }
        if intent.pending != status.pending
            && let Err(e) = super::record(self.esa, self.ctx, &intent).await
        {
            tracing::warn!(error = %e, "cannot record Exchange objects before creating them");
            return Err(SessionError {
                status,
                error: ExchangeError::from_response("record", 503, b"", None),
            });
        }
        Ok(intent)
    }

    /// Creates and corrects the wanted objects and changes the allow list. Groups and
    /// connectors do not depend on one another, nor on the allow list: they are written at
    /// once. Rules name them, and are created one by one in their order. Returns the ids of
    /// the objects created.
    async fn write(
        &self,
        wanted: &[DesiredObject],
        plan: &Plan,
        allow: &AllowChange,
        status: MailFlowStatus,
    ) -> std::result::Result<(MailFlowStatus, Vec<String>), SessionError> {
        if self.ctx.is_planning() {
            // Each step recorded, the status as it was (nothing was made), with what is there
            // to adopt.
            for (object, step) in wanted.iter().zip(plan.steps.iter()) {
                if let Err(error) = self.carry_out(object, step).await {
                    return Err(SessionError { status, error });
                }
            }
            if let Err(error) = self.write_allow_list(allow).await {
                return Err(SessionError { status, error });
            }
            let mut status = status;
            status.adoptable.clone_from(&plan.adoptable);
            return Ok((status, Vec::new()));
        }
        let (first, rules): (Vec<_>, Vec<_>) = wanted
            .iter()
            .zip(plan.steps.iter())
            .partition(|(o, _)| o.kind != Kind::TransportRule);
        let objects = futures::future::join_all(first.iter().map(|(o, s)| self.carry_out(o, s)));
        let (objects, allow_written) = futures::join!(objects, self.write_allow_list(allow));
        let mut created = Vec::new();
        let mut status = status;
        for ((object, step), outcome) in first.iter().zip(objects) {
            match outcome {
                Ok(new) => confirm(&mut status, &mut created, object, step, new),
                Err(error) => return Err(SessionError { status, error }),
            }
        }
        if let Err(error) = allow_written {
            return Err(SessionError { status, error });
        }
        let ips = &self.service.service_ip_ranges;
        // The list is written: its pending entries are settled, the wanted ones are the
        // operator's.
        status.allow_list_entries.retain(|e| has(ips, e));
        for ip in allow.add.iter().chain(&allow.adopt) {
            if !has(&status.allow_list_entries, ip) {
                status.allow_list_entries.push(ip.clone());
            }
        }
        status.pending.retain(|p| !p.starts_with(PENDING_ENTRY));
        for (object, step) in rules {
            match self.carry_out(object, step).await {
                Ok(new) => confirm(&mut status, &mut created, object, step, new),
                Err(error) => return Err(SessionError { status, error }),
            }
        }
        // Whatever was adoptable is adopted now, or was not there to adopt.
        status.adoptable.clear();
        Ok((status, created))
    }

    /// Adds and removes the allow-list entries of the change, if any.
    async fn write_allow_list(
        &self,
        allow: &AllowChange,
    ) -> std::result::Result<Vec<Value>, ExchangeError> {
        if allow.add.is_empty() && allow.remove.is_empty() {
            return Ok(Vec::new());
        }
        let planned = || {
            let added = allow.add.iter().map(|ip| format!("IPAllowList +{ip}"));
            let removed = allow.remove.iter().map(|ip| format!("IPAllowList -{ip}"));
            Change::new(
                Target::Tenant,
                Action::Change,
                "HostedConnectionFilterPolicy \"Default\"",
            )
            .fields(added.chain(removed))
        };
        if self.ctx.planning(planned) {
            self.count_planned();
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
    }

    /// Removes owned objects no longer wanted (e.g. the outbound set after a change back to
    /// Inbound): rules first, then connectors, then groups.
    async fn remove_unwanted(
        &self,
        wanted: &[DesiredObject],
        mut status: MailFlowStatus,
    ) -> std::result::Result<MailFlowStatus, SessionError> {
        let wanted_ids: Vec<String> = wanted.iter().map(DesiredObject::id).collect();
        if !self.ctx.is_planning() {
            // Adopted objects no longer wanted are released: left in the tenant, forgotten.
            let released: Vec<String> = status
                .adopted
                .iter()
                .filter(|id| !wanted_ids.contains(id))
                .cloned()
                .collect();
            status.adopted.retain(|id| !released.contains(id));
            status.objects.retain(|id| !released.contains(id));
        }
        let mut stale = owned_objects(&status);
        stale.retain(|id| !wanted_ids.contains(id));
        for id in stale {
            let (noun, name) = id.split_once('/').unwrap_or(("", ""));
            let removed = self
                .run(
                    &format!("Remove-{noun}"),
                    json!({"Identity": name, "Confirm": false}),
                )
                .await;
            match removed {
                Ok(_) if self.ctx.is_planning() => continue,
                Ok(_) => {}
                Err(e) if e.failure == ExchangeFailure::NotFound => {}
                Err(error) => return Err(SessionError { status, error }),
            }
            status.objects.retain(|o| o != &id);
            status.pending.retain(|o| o != &id);
            let note = format!("Removed {id}, no longer needed.");
            self.event("MailFlowRemoved", &id, note).await;
        }
        Ok(status)
    }

    /// The security settings, read back after the changes: what fails.
    async fn security_settings(
        &self,
        inputs: &Gathered,
    ) -> std::result::Result<Vec<String>, ExchangeError> {
        let (rules, inbound, allow) = futures::try_join!(
            self.list(Kind::TransportRule),
            self.list(Kind::InboundConnector),
            self.allow_list()
        )?;
        let names = Names::new(&self.spec.mail_flow.name_prefix);
        let return_connector = inbound
            .iter()
            .find(|c| name_of(c).eq_ignore_ascii_case(&names.return_connector()));
        Ok(checks::failed(&checks::Tenant {
            service_ips: &self.service.service_ip_ranges,
            return_connector,
            allow_list: &allow,
            rules: &rules,
            inbound_rule: &names.inbound_rule(),
            protected_domains: &inputs.protected_domains,
            mail_domains: &inputs.mail_domains,
        }))
    }
}

/// `MailFlowConfigured` of a pass that planned `n` changes and made none.
fn not_planned_yet(n: usize) -> InlineCheck {
    let changes =
        crate::controller::service_account::decide::counted(n as i64, "change", "changes");
    super::not_configured(
        "ChangesPlanned",
        format!("{changes} to the mail flow would be made (managementPolicy Observe makes none)."),
    )
}

/// The change a step of the plan would make (none for one left as it is).
fn planned_step(object: &DesiredObject, step: &Step) -> Option<Change> {
    let what = format!("{} \"{}\"", object.kind.noun(), object.name);
    let mut fields: Vec<String> = object
        .params
        .keys()
        .chain(object.create_only.keys())
        .cloned()
        .collect();
    fields.sort();
    match step {
        Step::Create { .. } => {
            Some(Change::new(Target::Tenant, Action::Create, what).fields(fields))
        }
        Step::Correct(changed) => {
            Some(Change::new(Target::Tenant, Action::Change, what).fields(changed.clone()))
        }
        Step::Keep | Step::Skip => None,
    }
}

/// The change an Exchange cmdlet other than a `Get-` would make.
fn planned_cmdlet(cmdlet: &str, p: &Value) -> Change {
    let (verb, noun) = cmdlet.split_once('-').unwrap_or(("", cmdlet));
    let identity = p
        .get("Identity")
        .or(p.get("Name"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let action = match verb {
        "New" | "Add" => Action::Create,
        "Remove" => Action::Remove,
        _ => Action::Change,
    };
    let object = match p.get("Member").and_then(Value::as_str) {
        Some(member) => format!("member {member} of DistributionGroup \"{identity}\""),
        None => format!("{noun} \"{identity}\""),
    };
    let mut fields: Vec<String> = p
        .as_object()
        .map(|m| {
            m.keys()
                .filter(|k| !matches!(k.as_str(), "Identity" | "Name" | "Member" | "Confirm"))
                .filter(|k| !k.starts_with("Bypass"))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    fields.sort();
    Change::new(Target::Tenant, action, object).fields(fields)
}

/// Moves an object that exists now (created, or found and kept) from the intent log to the
/// created objects; `new`: this pass created it.
fn confirm(
    status: &mut MailFlowStatus,
    created: &mut Vec<String>,
    object: &DesiredObject,
    step: &Step,
    new: bool,
) {
    if *step == Step::Skip {
        return;
    }
    let id = object.id();
    status.pending.retain(|p| p != &id);
    if !status.objects.contains(&id) {
        status.objects.push(id.clone());
    }
    if status.adoptable.contains(&id) {
        status.adoptable.retain(|a| a != &id);
        // Found under its name while observing, and now kept: adopted, never deleted (one
        // made again meanwhile is the operator's own).
        if !matches!(step, Step::Create { .. }) && !status.adopted.contains(&id) {
            status.adopted.push(id.clone());
        }
    }
    if new {
        created.push(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cmdlet_is_planned_as_its_change() {
        let rows = [
            (
                "Add-DistributionGroupMember",
                json!({"Identity": "exo Inbound", "Member": "ada@contoso.com", "BypassSecurityGroupManagerCheck": true}),
                "+ member ada@contoso.com of DistributionGroup \"exo Inbound\" ()",
            ),
            (
                "Remove-TransportRule",
                json!({"Identity": "exo Rule", "Confirm": false}),
                "- TransportRule \"exo Rule\" ()",
            ),
            (
                "Set-HostedConnectionFilterPolicy",
                json!({"Identity": "Default", "IPAllowList": {}}),
                "~ HostedConnectionFilterPolicy \"Default\" (IPAllowList)",
            ),
            (
                "New-InboundConnector",
                json!({"Name": "exo From", "SenderIPAddresses": [], "Enabled": true}),
                "+ InboundConnector \"exo From\" (Enabled, SenderIPAddresses)",
            ),
        ];
        for (cmdlet, params, want) in rows {
            let c = planned_cmdlet(cmdlet, &params);
            assert_eq!(c.target, Target::Tenant);
            let got = format!("{} {} ({})", c.action.sign(), c.object, c.fields.join(", "));
            assert_eq!(got, want, "{cmdlet}");
        }
    }
}
