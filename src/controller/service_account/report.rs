//! Report: the account's only status writer, its Events and notifications, and its gauges.
//! Everything reported was decided in [`super::decide`]; nothing here decides.

use kube::api::Api;
use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};

use super::decide::{self, Transition};
use super::notifications;
use super::tenant_clients::TenantClients;
use crate::controller::conditions;
use crate::controller::context::Context;
use crate::controller::error::Result;
use crate::controller::report as status_writer;
use exo_api::exchange_service_account::{ExchangeServiceAccount, ExchangeServiceAccountStatus};

/// Writes the account's status (when it changed) through the one status writer, and remembers
/// the version written so that the next reconcile does not decide from a cache that has not
/// caught up with it (the intent log of inline mode is written mid-pass, and must not be
/// overwritten from a stale copy).
pub async fn write_status(
    ctx: &Context,
    esa: &ExchangeServiceAccount,
    status: &ExchangeServiceAccountStatus,
) -> Result<Option<ExchangeServiceAccount>> {
    if ctx.writes_nothing() {
        return Ok(None);
    }
    let api: Api<ExchangeServiceAccount> =
        Api::namespaced(ctx.client.clone(), &esa.namespace().unwrap_or_default());
    let written =
        status_writer::write_status(&api, esa, status, status_writer::Precondition::None).await?;
    if let Some(written) = &written {
        ctx.update_memo(&TenantClients::key_of(esa), |m| {
            m.written_version = written.resource_version();
        });
    }
    Ok(written)
}

/// Writes the decided status if it changed, announces the transitions (Events, and
/// notifications for the token's), and updates the account's gauges.
pub async fn report(
    esa: &ExchangeServiceAccount,
    ctx: &Context,
    status: &ExchangeServiceAccountStatus,
    transitions: &[Transition],
) -> Result<()> {
    if ctx.writes_nothing() {
        return Ok(());
    }
    write_status(ctx, esa, status).await?;
    // The gauges say what the status now says, before the Events (which take requests).
    record_gauges(esa, status);
    announce(esa, ctx, transitions).await;
    Ok(())
}

fn record_gauges(
    esa: &ExchangeServiceAccount,
    status: &exo_api::exchange_service_account::ExchangeServiceAccountStatus,
) {
    use crate::telemetry::metrics::{AccountLabels, metrics};
    let labels = AccountLabels {
        namespace: esa.namespace().unwrap_or_default(),
        name: esa.name_any(),
    };
    let m = metrics();
    let valid = conditions::is_true(&status.conditions, conditions::TOKEN_VALID);
    m.token_valid.get_or_create(&labels).set(i64::from(valid));
    if let Some(expires) = status.token.as_ref().and_then(|t| t.expires_at.as_ref()) {
        m.token_expiry
            .get_or_create(&labels)
            .set(expires.0.as_millisecond() as f64 / 1000.0);
    }
    match conditions::get(&status.conditions, conditions::SERVICE_REGISTERED) {
        Some(c) => {
            let registered = i64::from(c.status == "True");
            m.service_registered.get_or_create(&labels).set(registered);
        }
        None => {
            m.service_registered.remove(&labels);
        }
    }
    match &status.protection {
        Some(p) => {
            m.protected_mailboxes
                .get_or_create(&labels)
                .set(p.protected);
            m.subscribed_mailboxes
                .get_or_create(&labels)
                .set(p.subscribed);
            m.failed_mailboxes.get_or_create(&labels).set(p.failed);
            match &p.next_renewal_time {
                Some(t) => {
                    m.next_renewal.get_or_create(&labels).set(t.0.as_second());
                }
                None => {
                    m.next_renewal.remove(&labels);
                }
            }
        }
        None => {
            for family in [
                &m.protected_mailboxes,
                &m.subscribed_mailboxes,
                &m.failed_mailboxes,
                &m.next_renewal,
            ] {
                family.remove(&labels);
            }
        }
    }
    if let Some(delivery) = &status.delivery {
        m.delivery_watermark
            .get_or_create(&labels)
            .set(delivery.watermark);
    }
    if let Some(sync) = &status.sync {
        m.synced_users.get_or_create(&labels).set(sync.users);
        if let Some(t) = &sync.last_sync_time {
            m.last_sync
                .get_or_create(&labels)
                .set(t.0.as_millisecond() as f64 / 1000.0);
        }
    }
}

async fn announce(esa: &ExchangeServiceAccount, ctx: &Context, transitions: &[Transition]) {
    let reference = esa.object_ref(&());
    for t in transitions {
        let mut action = "Reconcile".to_string();
        let (type_, reason, note) = match t {
            Transition::BecameReady => (
                EventType::Normal,
                "Ready",
                decide::READY_MESSAGE.to_string(),
            ),
            Transition::TokenInvalid { reason, message } => (
                EventType::Warning,
                "TokenInvalid",
                format!("{reason}: {message}"),
            ),
            Transition::TokenRecovered => (
                EventType::Normal,
                "TokenRecovered",
                "The access token is valid again.".to_string(),
            ),
            Transition::ConsentRequired { message } => {
                (EventType::Warning, "ConsentRequired", message.clone())
            }
            Transition::DeviceCodeIssued { message, user_code } => {
                // One Event per prompt: the recorder merges Events of the same reason and
                // action, keeping the first note (an expired code).
                action = device_code_action(user_code);
                (EventType::Normal, "DeviceCodeIssued", message.clone())
            }
            Transition::SignInEnded { reason, message } => {
                (EventType::Warning, reason.as_str(), message.clone())
            }
            Transition::Synced { message } => (EventType::Normal, "Synced", message.clone()),
            Transition::TenantConflict { message } => {
                (EventType::Warning, "TenantConflict", message.clone())
            }
            Transition::ServiceRegistered { message } => {
                (EventType::Normal, "ServiceRegistered", message.clone())
            }
            Transition::DeliveryFailing { reason, message } => (
                EventType::Warning,
                "DeliveryFailing",
                format!("{reason}: {message}"),
            ),
        };
        ctx.publish_event(&reference, type_, reason, &action, note)
            .await;
        if matches!(
            t,
            Transition::TokenInvalid { .. } | Transition::TokenRecovered
        ) {
            notifications::notify(esa, ctx, t).await;
        }
    }
}

/// The Event action of the prompt with `user_code`: its own for each prompt.
fn device_code_action(user_code: &str) -> String {
    let id: String = user_code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(32)
        .collect();
    format!("IssueDeviceCode-{id}")
}

#[cfg(test)]
mod tests {
    use super::device_code_action;

    #[test]
    fn each_prompt_has_its_own_event_action() {
        assert_eq!(device_code_action("ABCD-1234"), "IssueDeviceCode-ABCD1234");
        assert_ne!(device_code_action("AAAA"), device_code_action("BBBB"));
        assert!(device_code_action(&"X".repeat(500)).len() <= 128);
    }
}
