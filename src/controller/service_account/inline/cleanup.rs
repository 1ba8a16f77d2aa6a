//! Deletion in inline mode: every object the account owns removed, rules first.

use serde_json::{Map, json};

use super::desired::{Kind, Mark, Owner};
use super::plan::{owned_objects, pending_entries};
use super::session::{name_of, params};
use super::{exchange_client, previous_status};
use crate::controller::context::Context;
use crate::controller::error::{Error, Result};
use crate::controller::fail_point;
use crate::controller::service_account::tenant_clients::TenantClients;
use crate::microsoft::exchange::ExchangeFailure;
use crate::microsoft::identity::credential::ClientCredential;
use exo_api::exchange_service_account::{
    ExchangeServiceAccount, MailFlowStatus, RoleAssignmentMode,
};

/// Deletion with policy Delete: removes every owned object, the operator's allow-list entries
/// and (when the operator assigned it) the role, then verifies nothing owned is left.
pub async fn cleanup(
    esa: &ExchangeServiceAccount,
    account: &TenantClients,
    credential: &ClientCredential,
    ctx: &Context,
) -> Result<()> {
    let Some(spec) = esa.spec.inline.as_ref() else {
        return Ok(());
    };
    let status = previous_status(esa);
    let in_exchange = !(status.objects.is_empty()
        && status.pending.is_empty()
        && status.allow_list_entries.is_empty());
    // Exchange first, while the role still lets the application in; what is gone is then
    // recorded, so that a deletion stopped after the role's removal resumes with the role alone
    // (an account that stood aside for another owns nothing at all).
    if in_exchange {
        remove_mail_flow(esa, account, credential, ctx, &status).await?;
        let left = MailFlowStatus {
            role_assignment_owned: status.role_assignment_owned,
            ..Default::default()
        };
        super::record(esa, ctx, &left).await?;
    }
    // The role only when this account assigned it: never one an administrator (or another
    // account) gave.
    if spec.role_assignment.mode == RoleAssignmentMode::Automatic && status.role_assignment_owned {
        remove_role(esa, account, credential, ctx).await?;
    }
    Ok(())
}

/// Removes every owned (or pending) object no other account's marker is on and the
/// operator's allow-list entries, then verifies that none is left.
async fn remove_mail_flow(
    esa: &ExchangeServiceAccount,
    account: &TenantClients,
    credential: &ClientCredential,
    ctx: &Context,
    status: &MailFlowStatus,
) -> Result<()> {
    let token = account
        .app_token(ctx, credential, &account.endpoints.exchange_scope)
        .await
        .map_err(|e| Error::CleanupIncomplete(format!("no Exchange token: {e}")))?;
    let exchange = exchange_client(account, &token);
    let owner = Owner {
        account: &account.key,
        uid: esa.metadata.uid.as_deref().unwrap_or_default(),
    };
    // What the account created or was about to create, less what another account's marker
    // is on (never removed, whatever the status says).
    let tenant = read_all(&exchange, &token).await?;
    let mut objects = owned_objects(status);
    objects.retain(|id| {
        !tenant.iter().any(|(found, comment)| {
            found == id && matches!(owner.recognise(comment), Mark::Another(_))
        })
    });
    for id in &objects {
        let (noun, name) = id.split_once('/').unwrap_or(("", ""));
        let cmdlet = format!("Remove-{noun}");
        let remove = exchange.invoke(
            &token,
            &cmdlet,
            params(json!({"Identity": name, "Confirm": false})),
        );
        match fail_point::around("Remove", remove).await {
            Ok(_) => {}
            Err(e) if e.failure == ExchangeFailure::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    // The entries added, and those about to be added when a kill came (they were not in the
    // list before: the intent log records only new ones).
    let mut entries = status.allow_list_entries.clone();
    entries.extend(pending_entries(status));
    if !entries.is_empty() {
        let change = json!({"@odata.type": "#Exchange.GenericHashTable", "Remove": entries});
        let remove = exchange.invoke(
            &token,
            "Set-HostedConnectionFilterPolicy",
            params(json!({"Identity": "Default", "IPAllowList": change})),
        );
        fail_point::around("Set-HostedConnectionFilterPolicy", remove).await?;
    }
    // Verify: nothing owned is left.
    let left: Vec<String> = read_all(&exchange, &token)
        .await?
        .into_iter()
        .map(|(id, _)| id)
        .filter(|id| objects.contains(id))
        .collect();
    if !left.is_empty() {
        return Err(Error::CleanupIncomplete(format!(
            "still in the tenant: {}",
            left.join(", ")
        )));
    }
    Ok(())
}

/// Removes the Exchange Administrator role the account assigned.
async fn remove_role(
    esa: &ExchangeServiceAccount,
    account: &TenantClients,
    credential: &ClientCredential,
    ctx: &Context,
) -> Result<()> {
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
        let remove = account.graph.remove_role(
            &graph_token,
            &principal,
            crate::microsoft::graph::roles::EXCHANGE_ADMINISTRATOR,
        );
        fail_point::around("role removal", remove).await?;
    }
    Ok(())
}

/// Every mail-flow object of the tenant: its `Kind/Name` and its ownership comment.
async fn read_all(
    exchange: &crate::microsoft::exchange::ExchangeClient,
    token: &crate::microsoft::identity::token::AccessToken,
) -> Result<Vec<(String, String)>> {
    let kinds = [
        Kind::TransportRule,
        Kind::OutboundConnector,
        Kind::InboundConnector,
        Kind::Group,
    ];
    let cmdlets = kinds.map(|k| format!("Get-{}", k.noun()));
    let lists = futures::future::try_join_all(
        cmdlets
            .iter()
            .map(|cmdlet| exchange.invoke(token, cmdlet, Map::new())),
    )
    .await?;
    Ok(kinds
        .iter()
        .zip(lists)
        .flat_map(|(kind, found)| {
            found.into_iter().map(move |o| {
                let comment = kind
                    .comment_field()
                    .and_then(|f| o.get(f).and_then(serde_json::Value::as_str))
                    .unwrap_or_default()
                    .to_string();
                (format!("{}/{}", kind.noun(), name_of(&o)), comment)
            })
        })
        .collect())
}
