//! Webhook notifications: one JSON POST per transition, retried by the shared transport. The
//! URL must be https, except to a loopback host (127.0.0.0/8, ::1, localhost).

use reqwest::Method;

use super::Notice;
use crate::microsoft::http::{HttpClient, Request, TransportError};

/// Why a webhook URL is refused; `None` when it may be used: https, or plain http to a
/// loopback host. The answer never quotes the URL (it often holds a token).
fn refused(url: &str) -> Option<&'static str> {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return Some("is not a valid URL");
    };
    match parsed.scheme() {
        "https" => None,
        "http" if is_loopback(&parsed) => None,
        "http" => {
            Some("uses plain http; a webhook must use https (plain http only to a loopback host)")
        }
        _ => Some("must be an https URL"),
    }
}

/// Whether the URL's host is loopback: 127.0.0.0/8, ::1 or localhost.
fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// POSTs `notice` as JSON to `url`. The error names the class of the failure (`HTTP 500`,
/// `connection refused`, `TLS`, `timed out`), never the URL.
pub async fn post(http: &HttpClient, url: &str, notice: &Notice) -> Result<(), String> {
    if let Some(why) = refused(url) {
        return Err(format!("the webhook URL {why}"));
    }
    let body = serde_json::to_vec(notice).map_err(|e| e.to_string())?;
    let request = Request {
        api: "webhook",
        method: Method::POST,
        url: url.to_string(),
        headers: vec![("content-type".into(), "application/json".into())],
        body,
    };
    let response = http.send(&request).await.map_err(|e| match e {
        TransportError::Unreachable { kind, .. } => format!("the webhook failed: {kind}"),
        _ => "the webhook failed: request failed".to_string(),
    })?;
    if response.status.is_success() {
        Ok(())
    } else {
        Err(format!(
            "the webhook failed: HTTP {}",
            response.status.as_u16()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::refused;

    #[test]
    fn plain_http_is_refused_except_to_loopback() {
        for (url, ok) in [
            ("https://hooks.example.com/services/x?token=1", true),
            ("http://127.0.0.1:8080/hook", true),
            ("http://127.1.2.3/hook", true),
            ("http://[::1]:9000/hook", true),
            ("http://localhost/hook", true),
            ("http://LOCALHOST:80/hook", true),
            ("http://hooks.example.com/hook", false),
            ("http://10.0.0.1/hook", false),
            ("http://localhost.example.com/hook", false),
            ("http://[::2]/hook", false),
            ("ftp://127.0.0.1/hook", false),
            ("not a url", false),
        ] {
            assert_eq!(refused(url).is_none(), ok, "{url}");
        }
        let why = refused("http://hooks.example.com/secret-path?token=s3").unwrap();
        assert!(!why.contains("secret") && !why.contains("s3"), "{why}");
    }
}
