//! Deletion: what the operator started in the tenant is stopped and removed (or left, with
//! deletionPolicy Orphan), and the Secret and ConfigMap it created for the account deleted.

use crate::controller::fail_point;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};

use super::delivery::Handoff;
use super::delivery::state::StreamState;
use super::report::write_status;
use super::tenant_clients::TenantClients;
use super::{activity, authorize, directory, inline, service};
use crate::controller::context::Context;
use crate::controller::error::Result;
use exo_api::exchange_service_account::{
    DeletionPolicy, ExchangeServiceAccount, ManagementPolicy, Mode,
};

/// Deletes the Secret and ConfigMap the operator created for the account (those it owns).
async fn delete_owned(esa: &ExchangeServiceAccount, ctx: &Context) -> Result<()> {
    use k8s_openapi::api::core::v1::{ConfigMap, Secret};
    use kube::api::DeleteParams;
    let namespace = esa.namespace().unwrap_or_default();
    let uid = esa.uid();
    let owned = |meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        meta.owner_references
            .iter()
            .flatten()
            .any(|o| Some(&o.uid) == uid.as_ref())
    };
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let name = authorize::grant_secret_name(esa);
    if let Some(s) = secrets.get_opt(&name).await?
        && owned(&s.metadata)
    {
        let params = DeleteParams::default();
        let delete = secrets.delete(&name, &params);
        fail_point::around("grant Secret deletion", delete).await?;
    }
    let maps: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &namespace);
    let name = directory::state_name(esa);
    if let Some(cm) = maps.get_opt(&name).await?
        && owned(&cm.metadata)
    {
        let params = DeleteParams::default();
        let delete = maps.delete(&name, &params);
        fail_point::around("sync state deletion", delete).await?;
    }
    Ok(())
}

/// Deregisters the tenant from the service it was streamed to (the service forgets it and
/// what it received). Nothing to do when nothing was registered.
async fn deregister(
    esa: &ExchangeServiceAccount,
    service: &service::EffectiveService,
    ctx: &Context,
) -> Result<()> {
    let Some(Ok(handoff)) = Handoff::load(esa, service, ctx).await? else {
        return Ok(());
    };
    let namespace = esa.namespace().unwrap_or_default();
    let maps: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(ctx.client.clone(), &namespace);
    let data = maps
        .get_opt(&directory::state_name(esa))
        .await?
        .and_then(|cm| cm.data)
        .unwrap_or_default();
    let recorded = StreamState::from_data(&data);
    let (Some(endpoint), Some(tenant)) = (recorded.endpoint, recorded.tenant) else {
        return Ok(());
    };
    if endpoint != handoff.endpoint {
        // The service's endpoint changed since: the registration is not reachable from here.
        return Ok(());
    }
    match handoff.deregister(&tenant).await {
        Ok(_) => {
            let note = format!("The {} deregistered the tenant.", handoff.service);
            let object = esa.object_ref(&());
            ctx.publish_event(&object, EventType::Normal, "Deregistered", "Cleanup", note)
                .await;
            Ok(())
        }
        Err(e) => {
            let message = format!(
                "Deletion is waiting for the {} to deregister the tenant: {e}.",
                handoff.service
            );
            let object = esa.object_ref(&());
            ctx.publish_event(
                &object,
                EventType::Warning,
                "CleanupIncomplete",
                "Cleanup",
                message,
            )
            .await;
            Err(e.into())
        }
    }
}

/// Releases what the account holds in the tenant (deletionPolicy Delete) and in the cluster
/// before its finalizer is removed.
pub async fn cleanup(esa: &ExchangeServiceAccount, ctx: &Context) -> Result<Action> {
    let key = TenantClients::key_of(esa);
    // Without its service (deleted first), the account cannot reach the tenant: what it
    // started there is left as it is.
    let service = service::resolve(esa, ctx, false).await?.ok();
    // An observing account writes nothing to the tenant or the service, not even when it goes.
    let observing = esa.spec.management_policy == ManagementPolicy::Observe;
    let delete = esa.spec.deletion_policy == DeletionPolicy::Delete;
    if delete
        && !observing
        && let Some(service) = &service
        && let Ok(Ok(account)) = TenantClients::load(esa, service, ctx).await
        && let Ok(Ok(credential)) = account.credential(ctx).await
    {
        if esa.spec.mode == Mode::Inline
            && let Err(e) = inline::cleanup(esa, &account, &credential, ctx).await
        {
            // The finalizer stays until everything owned is gone; say what is left.
            let message = format!(
                "Deletion is waiting: {e}. Fix access (or set deletionPolicy Orphan) to let it finish."
            );
            let object = esa.object_ref(&());
            let (warning, note) = (EventType::Warning, message.clone());
            ctx.publish_event(&object, warning, "CleanupIncomplete", "Cleanup", note)
                .await;
            let mut status = esa.status.clone().unwrap_or_default();
            status.message = Some(message);
            let _ = write_status(ctx, esa, &status).await;
            return Err(e);
        }
        activity::stop(esa, &account, &credential, ctx).await;
        super::protect::release(esa, &account, &credential, ctx).await;
    }
    if let Some(uid) = esa.uid() {
        ctx.protection.stop(&uid);
    }
    if delete {
        if let Some(service) = &service
            && !observing
        {
            deregister(esa, service, ctx).await?;
        }
        delete_owned(esa, ctx).await?;
    }
    if let Some(service) = &service {
        ctx.tokens
            .forget(&esa.spec.tenant, &service.application.client_id);
    }
    ctx.forget(&key);
    crate::telemetry::metrics::metrics()
        .forget_account(&esa.namespace().unwrap_or_default(), &esa.name_any());
    let reference = esa.object_ref(&());
    let note = match (esa.spec.deletion_policy, observing) {
        (_, true) => "Left the tenant and the service as they are (managementPolicy Observe).",
        (DeletionPolicy::Delete, false) => "Stopped what the operator started in the tenant.",
        (DeletionPolicy::Orphan, false) => "Left the tenant as it is (deletionPolicy Orphan).",
    };
    ctx.publish_event(
        &reference,
        EventType::Normal,
        "Deleted",
        "Cleanup",
        note.into(),
    )
    .await;
    Ok(Action::await_change())
}
