//! Notifications of token-validity transitions beyond Events: a JSON webhook and e-mail to
//! the account's administrators through an SMTP relay. A notice never carries a token, a
//! secret or Microsoft's error text: only the account, the reason and the operator's advice.

pub mod email;
pub mod webhook;

use serde::Serialize;

use crate::microsoft::http::HttpClient;

pub use self::email::{SmtpSettings, SmtpTls};

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum NoticeKind {
    /// The token became invalid.
    TokenInvalid,
    /// The token is valid again.
    TokenRecovered,
}

/// One notification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Notice {
    /// What happened.
    pub kind: NoticeKind,
    /// `namespace/name` of the ExchangeServiceAccount.
    pub account: String,
    /// The tenant, as in the spec.
    pub tenant: String,
    /// The `TokenValid` reason.
    pub reason: String,
    /// The `TokenValid` message (scrubbed).
    pub message: String,
    /// When it happened (RFC 3339).
    pub time: String,
}

impl Notice {
    /// The e-mail subject line.
    pub fn subject(&self) -> String {
        match self.kind {
            NoticeKind::TokenInvalid => format!(
                "[exo-operator] Access to tenant {} is no longer valid ({})",
                self.tenant, self.reason
            ),
            NoticeKind::TokenRecovered => {
                format!(
                    "[exo-operator] Access to tenant {} is valid again",
                    self.tenant
                )
            }
        }
    }

    /// The plain-text body.
    pub fn text(&self) -> String {
        format!(
            "Account: {}\nTenant: {}\nState: {}\nReason: {}\n\n{}\n\nTime: {}\n",
            self.account,
            self.tenant,
            match self.kind {
                NoticeKind::TokenInvalid => "token invalid",
                NoticeKind::TokenRecovered => "token valid",
            },
            self.reason,
            self.message,
            self.time
        )
    }
}

/// Sends notices.
#[derive(Clone, Debug)]
pub struct Notifier {
    http: HttpClient,
}

impl Notifier {
    /// A notifier posting webhooks with `http`.
    pub fn new(http: HttpClient) -> Self {
        Self { http }
    }

    /// POSTs `notice` to `url`.
    pub async fn webhook(&self, url: &str, notice: &Notice) -> Result<(), String> {
        webhook::post(&self.http, url, notice).await
    }

    /// E-mails `notice` to `recipients` through `smtp`.
    pub async fn email(
        &self,
        smtp: &SmtpSettings,
        recipients: &[String],
        notice: &Notice,
    ) -> Result<(), String> {
        email::send(smtp, recipients, notice).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_name_the_account_and_reason() {
        let n = Notice {
            kind: NoticeKind::TokenInvalid,
            account: "tenants/contoso".into(),
            tenant: "contoso.com".into(),
            reason: "RefreshTokenRevoked".into(),
            message: "sign in again".into(),
            time: "2026-11-22T10:00:00Z".into(),
        };
        assert!(n.subject().contains("contoso.com") && n.subject().contains("RefreshTokenRevoked"));
        assert!(n.text().contains("tenants/contoso"));
        let json = serde_json::to_value(&n).unwrap();
        assert_eq!(json["kind"], "TokenInvalid");
        assert_eq!(json["account"], "tenants/contoso");
    }
}
