//! E-mail notifications through an SMTP relay described by a Secret (keys `host`, `port`,
//! `username`, `password`, `from`, `tls`).

use std::collections::BTreeMap;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

use super::Notice;

/// Time allowed for one SMTP session.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// How the connection to the relay is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpTls {
    /// STARTTLS on a plain connection (port 587), required.
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No TLS: only for a relay on loopback.
    None,
}

/// An SMTP relay.
#[derive(Clone, Debug)]
pub struct SmtpSettings {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Login, if the relay needs one.
    pub username: Option<String>,
    /// Password for `username`.
    pub password: Option<SecretString>,
    /// Sender address.
    pub from: String,
    /// Transport security.
    pub tls: SmtpTls,
}

impl SmtpSettings {
    /// Reads the settings from a Secret's data; errors name the key, never a value.
    pub fn from_secret(secret: &str, data: &BTreeMap<String, Vec<u8>>) -> Result<Self, String> {
        let text = |key: &str| -> Result<Option<String>, String> {
            match data.get(key) {
                None => Ok(None),
                Some(v) => String::from_utf8(v.clone())
                    .map(|s| Some(s.trim().to_string()).filter(|s| !s.is_empty()))
                    .map_err(|_| format!("Secret {secret} key {key:?} is not UTF-8 text")),
            }
        };
        let host = text("host")?.ok_or(format!("Secret {secret} has no key \"host\""))?;
        let from = text("from")?.ok_or(format!("Secret {secret} has no key \"from\""))?;
        from.parse::<Mailbox>()
            .map_err(|_| format!("Secret {secret} key \"from\" is not an e-mail address"))?;
        let tls = match text("tls")?.as_deref() {
            None | Some("starttls") => SmtpTls::StartTls,
            Some("tls") => SmtpTls::Tls,
            Some("none") => SmtpTls::None,
            Some(_) => {
                return Err(format!(
                    "Secret {secret} key \"tls\" must be starttls, tls or none"
                ));
            }
        };
        let port = match text("port")? {
            None => match tls {
                SmtpTls::Tls => 465,
                _ => 587,
            },
            Some(p) => p
                .parse()
                .map_err(|_| format!("Secret {secret} key \"port\" is not a port number"))?,
        };
        if tls == SmtpTls::None && !is_loopback(&host) {
            return Err(format!(
                "Secret {secret}: tls \"none\" is only allowed for a relay on loopback"
            ));
        }
        Ok(Self {
            host,
            port,
            username: text("username")?,
            password: text("password")?.map(SecretString::from),
            from,
            tls,
        })
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Sends `notice` to `recipients`.
pub async fn send(
    smtp: &SmtpSettings,
    recipients: &[String],
    notice: &Notice,
) -> Result<(), String> {
    let mut message = Message::builder()
        .from(smtp.from.parse::<Mailbox>().map_err(|e| e.to_string())?)
        .subject(notice.subject());
    for r in recipients {
        message = message.to(r
            .parse::<Mailbox>()
            .map_err(|_| format!("{r:?} is not an e-mail address"))?);
    }
    let message = message.body(notice.text()).map_err(|e| e.to_string())?;
    let builder = match smtp.tls {
        SmtpTls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)
            .map_err(|e| format!("SMTP relay {}: {e}", smtp.host))?,
        SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)
            .map_err(|e| format!("SMTP relay {}: {e}", smtp.host))?,
        SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
    };
    let mut builder = builder.port(smtp.port).timeout(Some(SMTP_TIMEOUT));
    if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
        builder = builder.credentials(Credentials::new(
            user.clone(),
            password.expose_secret().to_string(),
        ));
    }
    builder
        .build()
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| {
            format!(
                "SMTP relay {}:{} failed: {}",
                smtp.host,
                smtp.port,
                smtp_failure(&e)
            )
        })
}

/// The class of a failed SMTP session: the relay's reply code, or what failed on the way
/// (`connection refused`, `TLS`, `timed out`, `connection failed`).
fn smtp_failure(e: &lettre::transport::smtp::Error) -> String {
    if let Some(code) = e.status() {
        let kind = if e.is_transient() {
            "temporary"
        } else {
            "permanent"
        };
        return format!("SMTP {code} ({kind} error)");
    }
    if e.is_timeout() {
        return "timed out".into();
    }
    match crate::microsoft::http::failure_kind(e) {
        "request failed" => "connection failed".into(),
        kind => kind.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn reads_relay_settings_with_defaults() {
        let s = SmtpSettings::from_secret(
            "smtp",
            &data(&[
                ("host", "smtp.example.com"),
                ("from", "ops@example.com"),
                ("username", "u"),
                ("password", "p"),
            ]),
        )
        .unwrap();
        assert_eq!((s.port, s.tls), (587, SmtpTls::StartTls));
        assert!(!format!("{s:?}").contains("\"p\""));
        let tls = SmtpSettings::from_secret(
            "smtp",
            &data(&[
                ("host", "smtp.example.com"),
                ("from", "ops@example.com"),
                ("tls", "tls"),
            ]),
        )
        .unwrap();
        assert_eq!(tls.port, 465);
    }

    #[test]
    fn rejects_plain_text_off_loopback_and_bad_values() {
        let err = SmtpSettings::from_secret(
            "smtp",
            &data(&[
                ("host", "smtp.example.com"),
                ("from", "ops@example.com"),
                ("tls", "none"),
            ]),
        )
        .unwrap_err();
        assert!(err.contains("loopback"), "{err}");
        assert!(
            SmtpSettings::from_secret(
                "smtp",
                &data(&[
                    ("host", "127.0.0.1"),
                    ("from", "ops@example.com"),
                    ("tls", "none")
                ]),
            )
            .is_ok()
        );
        let err = SmtpSettings::from_secret("smtp", &data(&[("host", "h")])).unwrap_err();
        assert!(err.contains("\"from\""), "{err}");
        let err = SmtpSettings::from_secret(
            "smtp",
            &data(&[("host", "h"), ("from", "ops@example.com"), ("port", "x")]),
        )
        .unwrap_err();
        assert!(err.contains("port"), "{err}");
    }
}
