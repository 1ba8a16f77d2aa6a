//! Webhook and e-mail notifications of token-validity transitions. A failed notification is a
//! Warning Event, never a failed reconcile.

use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};

use super::decide::Transition;
use super::tenant_clients::secret_data;
use crate::controller::context::Context;
use crate::notify::{Notice, NoticeKind, SmtpSettings};
use exo_api::exchange_service_account::ExchangeServiceAccount;

/// Sends the notifications configured on `esa` for transition `t`.
pub async fn notify(esa: &ExchangeServiceAccount, ctx: &Context, t: &Transition) {
    let Some(config) = &esa.spec.notifications else {
        return;
    };
    let namespace = esa.namespace().unwrap_or_default();
    let (kind, reason, message) = match t {
        Transition::TokenInvalid { reason, message } => {
            (NoticeKind::TokenInvalid, reason.clone(), message.clone())
        }
        Transition::TokenRecovered => (
            NoticeKind::TokenRecovered,
            "TokenValid".to_string(),
            "The access token is valid again.".to_string(),
        ),
        _ => return,
    };
    let notice = Notice {
        kind,
        account: format!("{namespace}/{}", esa.name_any()),
        tenant: esa.spec.tenant.clone(),
        reason,
        message,
        time: jiff::Timestamp::now().to_string(),
    };
    let mut failures = Vec::new();
    if let Some(webhook) = &config.webhook {
        let selector = &webhook.url_secret_ref;
        let url = match secret_data(&ctx.client, &namespace, &selector.name).await {
            Ok(Some(data)) => data
                .get(&selector.key)
                .and_then(|v| String::from_utf8(v.clone()).ok())
                .map(|s| s.trim().to_string()),
            _ => None,
        };
        match url {
            Some(url) => {
                if let Err(e) = ctx.notifier.webhook(&url, &notice).await {
                    failures.push(format!("webhook: {e}"));
                }
            }
            None => failures.push(format!(
                "webhook: Secret {} key {:?} not found",
                selector.name, selector.key
            )),
        }
    }
    if let Some(email) = &config.email {
        let settings = match secret_data(&ctx.client, &namespace, &email.smtp_secret_name).await {
            Ok(Some(data)) => SmtpSettings::from_secret(&email.smtp_secret_name, &data),
            _ => Err(format!("Secret {} not found", email.smtp_secret_name)),
        };
        match settings {
            Ok(smtp) => {
                if let Err(e) = ctx.notifier.email(&smtp, &email.recipients, &notice).await {
                    failures.push(format!("e-mail: {e}"));
                }
            }
            Err(e) => failures.push(format!("e-mail: {e}")),
        }
    }
    for failure in failures {
        tracing::warn!(account = %notice.account, %failure, "notification failed");
        let _ = ctx
            .recorder
            .publish(
                &Event {
                    type_: EventType::Warning,
                    reason: "NotificationFailed".into(),
                    note: Some(failure),
                    action: "Notify".into(),
                    secondary: None,
                },
                &esa.object_ref(&()),
            )
            .await;
    }
}
