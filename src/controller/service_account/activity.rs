//! Activity data: the `ActivityFeed.Read` permission on the Office 365 Management APIs,
//! verified from an app-only token, and the activity-feed subscriptions started once per token.

use super::decide::ActivityObservation;
use super::pass::AccountPass;
use super::tenant_clients::TenantClients;
use crate::controller::context::Context;
use crate::controller::fail_point;
use crate::controller::planned::{Action, Change, Target};
use crate::microsoft::identity::credential::ClientCredential;
use crate::microsoft::identity::token::AccessToken;
use crate::microsoft::management::{CONTENT_TYPES, ManagementClient};
use crate::microsoft::permissions::ACTIVITY_FEED_READ;
use exo_api::exchange_service_account::ExchangeServiceAccount;

/// Verifies the permission and starts missing subscriptions (`None` when activity data is
/// not asked for). What it finds is worded in [`ActivityObservation::condition`].
pub async fn ensure(
    pass: &AccountPass<'_>,
    graph_token: &AccessToken,
) -> Option<ActivityObservation> {
    let AccountPass {
        esa,
        ctx,
        clients: account,
        credential,
        ..
    } = *pass;
    if !esa.spec.activity_data {
        return None;
    }
    let scope = &account.endpoints.management_scope;
    let token = match account.app_token(ctx, credential, scope).await {
        Ok(t) => t,
        Err(e) => return Some(ActivityObservation::NoToken(e.to_string())),
    };
    if !token
        .claims
        .roles
        .iter()
        .any(|r| r == ACTIVITY_FEED_READ.name)
    {
        ctx.tokens.forget(&account.tenant, &account.client_id);
        let consent_url = account.consent_url(esa);
        return Some(ActivityObservation::PermissionMissing { consent_url });
    }
    if ctx.memo(&account.key).activity_verified == Some(token.issued_at) {
        return Some(ActivityObservation::Subscribed);
    }
    let Some(tenant_id) = token.claims.tid.clone().or(graph_token.claims.tid.clone()) else {
        return Some(ActivityObservation::TenantUnknown);
    };
    let client = ManagementClient::new(account.http.clone(), &account.endpoints, &tenant_id);
    if ctx.is_planning() {
        return Some(match client.missing(&token).await {
            Ok(missing) => {
                for content_type in missing {
                    let what = format!("activity feed subscription {content_type}");
                    ctx.planning(|| Change::new(Target::Tenant, Action::Create, what));
                }
                ActivityObservation::Subscribed
            }
            Err(e) if e.needs_human() => ActivityObservation::Forbidden(e.to_string()),
            Err(e) => ActivityObservation::Unavailable(e.to_string()),
        });
    }
    let started = client.ensure(&token);
    Some(
        match fail_point::around("activity subscriptions", started).await {
            Ok(_) => {
                ctx.update_memo(&account.key, |m| {
                    m.activity_verified = Some(token.issued_at)
                });
                ActivityObservation::Subscribed
            }
            Err(e) if e.needs_human() => ActivityObservation::Forbidden(e.to_string()),
            Err(e) => ActivityObservation::Unavailable(e.to_string()),
        },
    )
}

/// Stops the subscriptions the operator started (deletion with policy Delete). Failures are
/// logged: a tenant that cannot be reached must not block deletion forever.
pub async fn stop(
    esa: &ExchangeServiceAccount,
    account: &TenantClients,
    credential: &ClientCredential,
    ctx: &Context,
) {
    if !esa.spec.activity_data {
        return;
    }
    let Ok(token) = account
        .app_token(ctx, credential, &account.endpoints.management_scope)
        .await
    else {
        tracing::warn!(account = %account.key, "cannot stop activity subscriptions: no token");
        return;
    };
    let Some(tenant_id) = token.claims.tid.clone() else {
        return;
    };
    let client = ManagementClient::new(account.http.clone(), &account.endpoints, &tenant_id);
    for content_type in CONTENT_TYPES {
        let stop = client.stop(&token, content_type);
        if let Err(e) = fail_point::around("activity subscription stop", stop).await {
            tracing::warn!(account = %account.key, error = %e, "cannot stop an activity subscription");
        }
    }
}
