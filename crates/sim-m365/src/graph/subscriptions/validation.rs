//! What a subscription request must say (Learn: "Create subscription", "subscription resource
//! type", "Set up notifications for changes in resource data"): the resource (a mailbox's
//! messages, or those of its Inbox or Sent Items), `changeType`, the notification URLs, the
//! client state and the expiration time. Pure: text in, a validated value or Graph's error out.

use serde::Deserialize;

use crate::state::MailFolder;

/// A refusal in Graph's error shape: status, `error.code` and the message naming what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// HTTP status.
    pub status: u16,
    /// `error.code`.
    pub code: &'static str,
    /// `error.message`.
    pub message: String,
}

/// A 400 with `code` and `message`.
pub(super) fn bad(code: &'static str, message: impl Into<String>) -> Refused {
    Refused {
        status: 400,
        code,
        message: message.into(),
    }
}

/// The shortest lifetime: an earlier expiration is raised to this far ahead (Learn,
/// "subscription resource type": values under 45 minutes are raised).
pub const MIN_LIFETIME: jiff::SignedDuration = jiff::SignedDuration::from_mins(45);

/// The longest `clientState` (Learn: 128 characters).
pub const MAX_CLIENT_STATE: usize = 128;

/// What a subscription resource watches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    /// The user, as the path names it (object id or UPN).
    pub user: String,
    /// The folder; all messages when `None`.
    pub folder: Option<MailFolder>,
}

/// Parses `users/{id-or-upn}/messages` or `users/{id-or-upn}/mailFolders('{inbox|sentitems}')/messages`
/// (leading `/` allowed, names case-insensitive).
pub fn resource(text: &str) -> Result<Resource, Refused> {
    let unsupported = || {
        bad(
            "InvalidRequest",
            format!(
                "Invalid 'resource' value: '{text}'. The simulator supports users/{{id}}/messages and users/{{id}}/mailFolders('inbox'|'sentitems')/messages."
            ),
        )
    };
    let segments: Vec<&str> = text.trim_start_matches('/').split('/').collect();
    let (user, folder) = match segments.as_slice() {
        [users, user, messages] if is(users, "users") && is(messages, "messages") => (*user, None),
        [users, user, folder, messages] if is(users, "users") && is(messages, "messages") => {
            (*user, Some(folder_of(folder).ok_or_else(unsupported)?))
        }
        _ => return Err(unsupported()),
    };
    if user.is_empty() {
        return Err(unsupported());
    }
    Ok(Resource {
        user: user.to_string(),
        folder,
    })
}

fn is(segment: &str, name: &str) -> bool {
    segment.eq_ignore_ascii_case(name)
}

/// The folder of a `mailFolders('inbox')` segment (single or double quotes).
fn folder_of(segment: &str) -> Option<MailFolder> {
    let (name, rest) = segment.split_once('(')?;
    if !is(name, "mailFolders") {
        return None;
    }
    let inner = rest.strip_suffix(')')?;
    let unquoted = inner
        .strip_prefix('\'')
        .and_then(|s| s.strip_suffix('\''))
        .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')))?;
    MailFolder::parse(unquoted)
}

/// Checks `changeType`: a non-empty, comma-separated set of `created`, `updated`, `deleted`.
pub fn change_type(text: &str) -> Result<(), Refused> {
    let invalid = || {
        bad(
            "InvalidRequest",
            format!("Invalid 'changeType' attribute: '{text}'."),
        )
    };
    let mut seen: Vec<&str> = Vec::new();
    for part in text.split(',').map(str::trim) {
        if !matches!(part, "created" | "updated" | "deleted") || seen.contains(&part) {
            return Err(invalid());
        }
        seen.push(part);
    }
    Ok(())
}

/// Checks a notification URL: `https`, or `http` on a loopback host (127.0.0.1, localhost,
/// [::1]) — a simulator relaxation, since tests serve plain HTTP on loopback.
pub fn notification_url(field: &str, text: &str) -> Result<(), Refused> {
    let invalid = |why: &str| {
        bad(
            "ValidationError",
            format!("Invalid '{field}' value: '{text}'. {why}"),
        )
    };
    let url = reqwest::Url::parse(text).map_err(|_| invalid("It is not an absolute URL."))?;
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return Err(invalid("It has no host."));
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(invalid("The URL must use https.")),
    }
}

/// Checks `clientState`: at most [`MAX_CLIENT_STATE`] characters.
pub fn client_state(text: &str) -> Result<(), Refused> {
    if text.chars().count() > MAX_CLIENT_STATE {
        return Err(bad(
            "InvalidRequest",
            format!("clientState is longer than the maximum of {MAX_CLIENT_STATE} characters."),
        ));
    }
    Ok(())
}

/// The expiration a client asks for, as Graph keeps it: in the past is refused, beyond
/// `max_minutes` from `now` too (ExtensionError), and under 45 minutes ahead it is raised.
pub fn expiration(
    text: &str,
    now: jiff::Timestamp,
    max_minutes: i64,
) -> Result<jiff::Timestamp, Refused> {
    let at = parse_time(text).ok_or_else(|| {
        bad(
            "InvalidRequest",
            format!("Invalid 'expirationDateTime' value: '{text}'. It must be a date and time in ISO 8601 (RFC 3339) format."),
        )
    })?;
    if at <= now {
        return Err(bad(
            "InvalidRequest",
            format!("Subscription expiration date and time '{text}' is in the past."),
        ));
    }
    if at > now + jiff::SignedDuration::from_mins(max_minutes) {
        return Err(bad(
            "ExtensionError",
            format!("Subscription expiration can only be {max_minutes} minutes in the future."),
        ));
    }
    Ok(ticks(at.max(now + MIN_LIFETIME)))
}

/// `at` truncated to Graph's precision, 100 ns (the time it answers is the time it keeps).
fn ticks(at: jiff::Timestamp) -> jiff::Timestamp {
    let ns = at.as_nanosecond();
    jiff::Timestamp::from_nanosecond(ns - ns.rem_euclid(100)).unwrap_or(at)
}

/// An RFC 3339 time; one without an offset is taken as UTC (as Graph reads it).
fn parse_time(text: &str) -> Option<jiff::Timestamp> {
    let text = text.trim();
    text.parse::<jiff::Timestamp>().ok().or_else(|| {
        text.parse::<jiff::civil::DateTime>()
            .ok()?
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp())
    })
}

/// A time as Graph writes it: UTC with seven fractional digits (`2025-01-07T10:00:00.0000000Z`).
pub fn graph_time(at: jiff::Timestamp) -> String {
    format!(
        "{}.{:07}Z",
        at.strftime("%Y-%m-%dT%H:%M:%S"),
        at.subsec_nanosecond().max(0) / 100
    )
}

/// The TLS versions `latestSupportedTlsVersion` may name.
const TLS_VERSIONS: &[&str] = &["v1_0", "v1_1", "v1_2", "v1_3"];

/// The body of `POST /subscriptions` (other properties are ignored).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct CreateBody {
    /// `resource`.
    pub resource: Option<String>,
    /// `changeType`.
    pub change_type: Option<String>,
    /// `notificationUrl`.
    pub notification_url: Option<String>,
    /// `lifecycleNotificationUrl`.
    pub lifecycle_notification_url: Option<String>,
    /// `clientState`.
    pub client_state: Option<String>,
    /// `expirationDateTime`.
    pub expiration_date_time: Option<String>,
    /// `includeResourceData`.
    pub include_resource_data: Option<bool>,
    /// `encryptionCertificate`.
    pub encryption_certificate: Option<String>,
    /// `latestSupportedTlsVersion`.
    pub latest_supported_tls_version: Option<String>,
}

/// A create request that passed validation (the mailbox is checked against the world later).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSubscription {
    /// `resource` as given.
    pub resource: String,
    /// What it watches.
    pub target: Resource,
    /// `changeType` as given.
    pub change_type: String,
    /// `notificationUrl`.
    pub notification_url: String,
    /// `lifecycleNotificationUrl`.
    pub lifecycle_notification_url: Option<String>,
    /// `clientState`.
    pub client_state: Option<String>,
    /// The expiration Graph keeps.
    pub expiration: jiff::Timestamp,
    /// `latestSupportedTlsVersion` (`v1_2` when absent).
    pub tls: String,
}

/// A required property, or 400 naming it.
fn required<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, Refused> {
    value
        .as_deref()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| {
            bad(
                "InvalidRequest",
                format!("The '{name}' property is required."),
            )
        })
}

impl CreateBody {
    /// Validates every property, in the order Graph reads them.
    pub fn validate(
        &self,
        now: jiff::Timestamp,
        max_minutes: i64,
    ) -> Result<NewSubscription, Refused> {
        let resource_text = required(&self.resource, "resource")?;
        let target = resource(resource_text)?;
        let change = required(&self.change_type, "changeType")?;
        change_type(change)?;
        let url = required(&self.notification_url, "notificationUrl")?;
        notification_url("notificationUrl", url)?;
        if let Some(l) = &self.lifecycle_notification_url {
            notification_url("lifecycleNotificationUrl", l)?;
        }
        if let Some(c) = &self.client_state {
            client_state(c)?;
        }
        if self.include_resource_data == Some(true) {
            if self.encryption_certificate.is_none() {
                return Err(bad(
                    "InvalidRequest",
                    "encryptionCertificate is required when includeResourceData is true.",
                ));
            }
            // Rich notifications would need the resource data encrypted with the client's
            // certificate: not simulated.
            return Err(bad(
                "InvalidRequest",
                "includeResourceData is not supported by the simulator.",
            ));
        }
        let tls = self
            .latest_supported_tls_version
            .clone()
            .unwrap_or_else(|| "v1_2".into());
        if !TLS_VERSIONS.contains(&tls.as_str()) {
            return Err(bad(
                "InvalidRequest",
                format!("Invalid 'latestSupportedTlsVersion' value: '{tls}'."),
            ));
        }
        let at = required(&self.expiration_date_time, "expirationDateTime")?;
        Ok(NewSubscription {
            resource: resource_text.to_string(),
            target,
            change_type: change.to_string(),
            notification_url: url.to_string(),
            lifecycle_notification_url: self.lifecycle_notification_url.clone(),
            client_state: self.client_state.clone(),
            expiration: expiration(at, now, max_minutes)?,
            tls,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> jiff::Timestamp {
        "2025-01-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn resources_name_a_mailbox_and_maybe_a_folder() {
        let r = resource("users/ada@contoso.com/mailFolders('inbox')/messages").unwrap();
        assert_eq!(
            (r.user.as_str(), r.folder),
            ("ada@contoso.com", Some(MailFolder::Inbox))
        );
        let r = resource("/Users/abc/MailFolders('SentItems')/Messages").unwrap();
        assert_eq!(r.folder, Some(MailFolder::SentItems));
        assert_eq!(
            resource("users/abc/mailFolders(\"Inbox\")/messages")
                .unwrap()
                .folder,
            Some(MailFolder::Inbox)
        );
        assert_eq!(resource("users/abc/messages").unwrap().folder, None);
        for wrong in [
            "users/abc",
            "me/messages",
            "users//messages",
            "users/abc/mailFolders('drafts')/messages",
            "users/abc/mailFolders(inbox)/messages",
            "users/abc/events",
            "groups/abc/conversations",
        ] {
            let e = resource(wrong).unwrap_err();
            assert_eq!((e.status, e.code), (400, "InvalidRequest"), "{wrong}");
            assert!(e.message.contains(wrong), "{}", e.message);
        }
    }

    #[test]
    fn change_types_are_a_set_of_three() {
        assert!(change_type("created").is_ok());
        assert!(change_type("created,updated,deleted").is_ok());
        for wrong in ["", "created,", "created,created", "moved", "Created"] {
            assert!(change_type(wrong).is_err(), "{wrong}");
        }
    }

    #[test]
    fn urls_are_https_except_on_loopback() {
        assert!(notification_url("notificationUrl", "https://hooks.example.com/x?a=1").is_ok());
        assert!(notification_url("notificationUrl", "http://127.0.0.1:8080/x").is_ok());
        assert!(notification_url("notificationUrl", "http://localhost/x").is_ok());
        assert!(notification_url("notificationUrl", "http://[::1]:9/x").is_ok());
        let e = notification_url("notificationUrl", "http://hooks.example.com/x").unwrap_err();
        assert_eq!(e.code, "ValidationError");
        assert!(e.message.contains("notificationUrl"));
        assert!(notification_url("lifecycleNotificationUrl", "ftp://127.0.0.1/").is_err());
        assert!(notification_url("notificationUrl", "/relative").is_err());
    }

    #[test]
    fn client_state_is_at_most_128_characters() {
        assert!(client_state(&"é".repeat(128)).is_ok());
        assert!(client_state(&"x".repeat(129)).is_err());
    }

    #[test]
    fn expirations_are_bounded_and_raised_to_45_minutes() {
        let at = |s: &str| expiration(s, now(), 10_080);
        assert_eq!(
            at("2025-01-01T00:10:00Z").unwrap(),
            now() + MIN_LIFETIME,
            "raised"
        );
        assert_eq!(
            at("2025-01-03T00:00:00Z").unwrap(),
            "2025-01-03T00:00:00Z".parse::<jiff::Timestamp>().unwrap()
        );
        assert_eq!(
            at("2025-01-03T00:00:00").unwrap(),
            at("2025-01-03T00:00:00Z").unwrap(),
            "UTC without an offset"
        );
        assert_eq!(at("2024-12-31T23:00:00Z").unwrap_err().status, 400);
        let e = at("2025-01-08T00:00:01Z").unwrap_err();
        assert_eq!(e.code, "ExtensionError");
        assert_eq!(
            e.message,
            "Subscription expiration can only be 10080 minutes in the future."
        );
        assert!(at("2025-01-08T00:00:00Z").is_ok());
        assert!(at("tomorrow").is_err());
    }

    #[test]
    fn times_are_written_with_seven_fractional_digits() {
        let t: jiff::Timestamp = "2025-01-07T10:00:00.123456789Z".parse().unwrap();
        assert_eq!(graph_time(t), "2025-01-07T10:00:00.1234567Z");
    }

    #[test]
    fn a_create_body_is_validated_in_order() {
        let body: CreateBody = serde_json::from_value(serde_json::json!({
            "resource": "users/a/messages", "changeType": "created",
            "notificationUrl": "https://h.example/n", "expirationDateTime": "2025-01-02T00:00:00Z",
            "clientState": "s"
        }))
        .unwrap();
        let ok = body.validate(now(), 10_080).unwrap();
        assert_eq!(ok.tls, "v1_2");
        assert_eq!(ok.client_state.as_deref(), Some("s"));
        let missing = CreateBody {
            notification_url: None,
            ..serde_json::from_value(
                serde_json::json!({"resource": "users/a/messages", "changeType": "created"}),
            )
            .unwrap()
        };
        let e = missing.validate(now(), 10_080).unwrap_err();
        assert!(e.message.contains("notificationUrl"), "{}", e.message);
        let rich = CreateBody {
            include_resource_data: Some(true),
            ..serde_json::from_value(serde_json::json!({"resource": "users/a/messages", "changeType": "created", "notificationUrl": "https://h.example/n"})).unwrap()
        };
        assert!(
            rich.validate(now(), 10_080)
                .unwrap_err()
                .message
                .contains("encryptionCertificate")
        );
    }
}
