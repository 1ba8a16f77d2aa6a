//! `exo-operator plan`: what a reconcile of an account would change, without changing
//! anything. A planning pass ([`crate::controller::planned`]) reads the tenant with the
//! account's credentials, the service's record and the cluster, as the operator would, and
//! records each change instead of making it; the conditions it would report follow.

use kube::ResourceExt;
use kube::api::Api;
use serde::Serialize;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::controller::cache::{Cache, store_of};
use crate::controller::context::{Context, Settings};
use crate::controller::planned::Change;
use crate::controller::service_account::{decide, observe};
use exo_api::email_security_service::{ClusterEmailSecurityService, EmailSecurityService};
use exo_api::exchange_service_account::ExchangeServiceAccount;

/// The uid a planned account that does not exist yet goes by: nothing in a tenant is marked
/// with it, so nothing is taken for its own.
const NEW_ACCOUNT_UID: &str = "00000000-0000-0000-0000-000000000000";

/// One account's plan.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountPlan {
    /// The account's namespace.
    pub namespace: String,
    /// The account's name.
    pub name: String,
    /// Whether it exists in the cluster (planned from a file otherwise).
    pub exists: bool,
    /// The changes a reconcile would make: the tenant's first, then the service's, then the
    /// cluster's (in a stable order: a reconcile makes independent ones at once).
    pub changes: Vec<Change>,
    /// The conditions a reconcile would report from what it read (before its changes).
    pub conditions: Vec<PlannedCondition>,
}

/// A condition as the account would report it.
#[derive(Debug, Serialize)]
pub struct PlannedCondition {
    /// Its type.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// Its reason.
    pub reason: String,
    /// Its message.
    pub message: String,
}

/// The plan of every account asked for.
#[derive(Debug, Serialize)]
pub struct Plan {
    /// Per account.
    pub accounts: Vec<AccountPlan>,
    /// Changes in all.
    pub changes: usize,
}

/// Plans `accounts` (each as the cluster has it, or as given with the cluster's metadata and
/// status when it exists there), one after the other, seeing the accounts of `watched`
/// namespaces as the operator does (all when empty).
pub async fn plan(
    client: kube::Client,
    settings: Settings,
    accounts: Vec<ExchangeServiceAccount>,
    watched: &[String],
) -> anyhow::Result<Plan> {
    let mut ctx = Context::new(client.clone(), settings)?;
    let recorded = ctx.only_planning();
    see_the_cluster(&ctx, &client, watched).await;
    let mut plans = Vec::new();
    for given in accounts {
        let namespace = given.namespace().unwrap_or_else(|| "default".into());
        let api: Api<ExchangeServiceAccount> = Api::namespaced(client.clone(), &namespace);
        let existing = api.get_opt(&given.name_any()).await?;
        let exists = existing.is_some();
        let mut esa = given;
        esa.metadata.namespace = Some(namespace.clone());
        match existing {
            Some(current) => {
                esa.metadata = current.metadata;
                esa.status = current.status;
            }
            None => {
                esa.metadata.uid = Some(NEW_ACCOUNT_UID.into());
                esa.metadata.generation = Some(1);
                // Created now, it would be the newest account of its tenant.
                esa.metadata.creation_timestamp = Some(Time(jiff::Timestamp::now()));
                esa.status = None;
            }
        }
        let now = jiff::Timestamp::now();
        let observed = observe::observe(&esa, &ctx, now).await?;
        let (status, _) = decide::decide(
            esa.metadata.generation,
            esa.status.as_ref(),
            &observed.observation,
            now,
        );
        let conditions = status
            .conditions
            .iter()
            .map(|c| PlannedCondition {
                type_: c.type_.clone(),
                status: c.status.clone(),
                reason: c.reason.clone(),
                message: c.message.clone(),
            })
            .collect();
        let mut changes = recorded.take();
        changes.sort();
        plans.push(AccountPlan {
            namespace,
            name: esa.name_any(),
            exists,
            changes,
            conditions,
        });
    }
    let changes = plans.iter().map(|p| p.changes.len()).sum();
    Ok(Plan {
        accounts: plans,
        changes,
    })
}

/// Shows the context the accounts and services of the `watched` namespaces (all when empty),
/// as the operator's caches hold them, so that a plan tells which account manages a tenant.
/// Without the right to list them, a plan goes on without (and says so).
async fn see_the_cluster(ctx: &Context, client: &kube::Client, watched: &[String]) {
    match listed(client, watched).await {
        Ok((accounts, services, cluster)) => {
            ctx.watch_accounts(Cache::of(accounts));
            ctx.watch_services(store_of(services));
            ctx.watch_cluster_services(store_of(cluster));
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot list the accounts and services: the plan does not tell whether another account manages a tenant")
        }
    }
}

/// The accounts and services of the `watched` namespaces (all when empty), and the cluster's
/// services.
async fn listed(
    client: &kube::Client,
    watched: &[String],
) -> kube::Result<(
    Vec<ExchangeServiceAccount>,
    Vec<EmailSecurityService>,
    Vec<ClusterEmailSecurityService>,
)> {
    let all = Default::default();
    let cluster = Api::<ClusterEmailSecurityService>::all(client.clone())
        .list(&all)
        .await?
        .items;
    let scopes: Vec<Option<&String>> = match watched.is_empty() {
        true => vec![None],
        false => watched.iter().map(Some).collect(),
    };
    let (mut accounts, mut services) = (Vec::new(), Vec::new());
    for scope in scopes {
        let (a, s): (Api<ExchangeServiceAccount>, Api<EmailSecurityService>) = match scope {
            Some(ns) => (
                Api::namespaced(client.clone(), ns),
                Api::namespaced(client.clone(), ns),
            ),
            None => (Api::all(client.clone()), Api::all(client.clone())),
        };
        accounts.extend(a.list(&all).await?.items);
        services.extend(s.list(&all).await?.items);
    }
    Ok((accounts, services, cluster))
}

/// The plan for a person: per account, its changes (`+` create, `~` change, `-` remove,
/// `>` send) and where it would stand.
pub fn render(plan: &Plan) -> String {
    let mut out = String::new();
    for account in &plan.accounts {
        let new = if account.exists { "" } else { " (new)" };
        out.push_str(&format!(
            "ExchangeServiceAccount {}/{}{new}\n",
            account.namespace, account.name
        ));
        if account.changes.is_empty() {
            out.push_str("  no changes\n");
        }
        for c in &account.changes {
            let target = c.target.word();
            out.push_str(&format!("  {} {target:<7} {}", c.action.sign(), c.object));
            if !c.fields.is_empty() {
                out.push_str(&format!(" ({})", c.fields.join(", ")));
            }
            out.push('\n');
        }
        if let Some(ready) = account.conditions.iter().find(|c| c.type_ == "Ready") {
            out.push_str(&format!(
                "  status now: Ready {} ({}): {}\n",
                ready.status, ready.reason, ready.message
            ));
        }
    }
    let accounts = decide::counted(plan.accounts.len() as i64, "account", "accounts");
    let changes = decide::counted(plan.changes as i64, "change", "changes");
    out.push_str(&format!("Plan: {changes} to {accounts}.\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::planned::{Action, Target};

    #[test]
    fn a_plan_reads_as_signs_targets_and_fields() {
        let plan = Plan {
            accounts: vec![
                AccountPlan {
                    namespace: "mail".into(),
                    name: "contoso".into(),
                    exists: false,
                    changes: vec![
                        Change::new(Target::Tenant, Action::Change, "InboundConnector \"exo\"")
                            .fields(["EFSkipIPs"]),
                        Change::new(
                            Target::Cluster,
                            Action::Create,
                            "ConfigMap contoso-sync-state",
                        ),
                    ],
                    conditions: vec![PlannedCondition {
                        type_: "Ready".into(),
                        status: "False".into(),
                        reason: "Reconciling".into(),
                        message: "Working.".into(),
                    }],
                },
                AccountPlan {
                    namespace: "mail".into(),
                    name: "fabrikam".into(),
                    exists: true,
                    changes: vec![],
                    conditions: vec![],
                },
            ],
            changes: 2,
        };
        assert_eq!(
            render(&plan),
            "ExchangeServiceAccount mail/contoso (new)\n\
             \x20 ~ tenant  InboundConnector \"exo\" (EFSkipIPs)\n\
             \x20 + cluster ConfigMap contoso-sync-state\n\
             \x20 status now: Ready False (Reconciling): Working.\n\
             ExchangeServiceAccount mail/fabrikam\n\
             \x20 no changes\n\
             Plan: 2 changes to 2 accounts.\n"
        );
    }
}
