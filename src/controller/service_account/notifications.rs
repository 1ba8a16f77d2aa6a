//! Webhook and e-mail notifications of token-validity transitions. A failed notification is a
//! Warning Event of its own channel (`WebhookFailed`, `EmailFailed`), never a failed reconcile.

use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};

use super::decide::Transition;
use super::tenant_clients::secret_data;
use crate::controller::context::Context;
use crate::notify::{Notice, NoticeKind, SmtpSettings};
use exo_api::common::SecretKeySelector;
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
    if let Some(webhook) = &config.webhook
        && let Err(e) = send_webhook(ctx, &namespace, &webhook.url_secret_ref, &notice).await
    {
        failures.push((Channel::Webhook, e));
    }
    if let Some(email) = &config.email {
        let settings = match secret_data(&ctx.client, &namespace, &email.smtp_secret_name).await {
            Ok(Some(data)) => SmtpSettings::from_secret(&email.smtp_secret_name, &data),
            _ => Err(format!("Secret {} not found", email.smtp_secret_name)),
        };
        let sent = match settings {
            Ok(smtp) => ctx.notifier.email(&smtp, &email.recipients, &notice).await,
            Err(e) => Err(e),
        };
        if let Err(e) = sent {
            failures.push((Channel::Email, e));
        }
    }
    for (channel, failure) in failures {
        tracing::warn!(account = %notice.account, channel = channel.name(), %failure, "notification failed");
        let note = format!("{} notification failed: {failure}", channel.name());
        let object = esa.object_ref(&());
        ctx.publish_event(
            &object,
            EventType::Warning,
            channel.reason(),
            channel.action(),
            note,
        )
        .await;
    }
}

/// A notification channel, each with its own failure Event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Channel {
    Webhook,
    Email,
}

impl Channel {
    fn name(self) -> &'static str {
        match self {
            Self::Webhook => "Webhook",
            Self::Email => "E-mail",
        }
    }

    /// The Event reason of a failure.
    fn reason(self) -> &'static str {
        match self {
            Self::Webhook => "WebhookFailed",
            Self::Email => "EmailFailed",
        }
    }

    /// The Event action (distinct per channel, so the recorder never merges the two).
    fn action(self) -> &'static str {
        match self {
            Self::Webhook => "NotifyWebhook",
            Self::Email => "NotifyEmail",
        }
    }
}

/// Posts `notice` to the webhook whose URL is in Secret key `selector`; errors name the Secret
/// and key, or the class of the failure, never the URL.
async fn send_webhook(
    ctx: &Context,
    namespace: &str,
    selector: &SecretKeySelector,
    notice: &Notice,
) -> Result<(), String> {
    let url = match secret_data(&ctx.client, namespace, &selector.name).await {
        Ok(Some(data)) => data
            .get(&selector.key)
            .and_then(|v| String::from_utf8(v.clone()).ok())
            .map(|s| s.trim().to_string()),
        _ => None,
    };
    let Some(url) = url else {
        return Err(format!(
            "Secret {} key {:?} not found",
            selector.name, selector.key
        ));
    };
    // The notifier refuses plain http off loopback; the Secret that holds the URL is named.
    ctx.notifier.webhook(&url, notice).await.map_err(|e| {
        format!(
            "{e} (URL from Secret {} key {:?})",
            selector.name, selector.key
        )
    })
}
