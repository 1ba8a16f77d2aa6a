//! Deletion in inline mode: every object the account owns removed, rules first.

use serde_json::{Map, json};

use super::plan::removal_rank;
use super::session::{name_of, params};
use super::{exchange_client, previous_status};
use crate::controller::context::Context;
use crate::controller::error::{Error, Result};
use crate::controller::service_account::tenant_clients::TenantClients;
use crate::microsoft::exchange::ExchangeFailure;
use crate::microsoft::identity::credential::ClientCredential;
use exo_api::exchange_service_account::{ExchangeServiceAccount, RoleAssignmentMode};

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
    let token = account
        .app_token(ctx, credential, &account.endpoints.exchange_scope)
        .await
        .map_err(|e| Error::CleanupIncomplete(format!("no Exchange token: {e}")))?;
    let exchange = exchange_client(account, &token);
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
