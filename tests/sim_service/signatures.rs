//! Signatures: the Standard Webhooks forms accepted, every fault refused with 401 naming
//! why, and never the secret or a signature in an answer.

use reqwest::Method;
use serde_json::json;

use super::*;

/// Sends `out` and expects 401 with `reason`.
async fn refused(h: &Harness, out: Outgoing<'_>, reason: &str) {
    let signature = out.signature.clone().unwrap_or_default();
    let a = h.send_raw(out).await;
    assert_problem(&a, 401, "signature");
    assert_eq!(a.body["reason"], reason, "{}", a.body);
    let text = a.body.to_string();
    assert!(!text.contains(SECRET));
    assert!(
        signature.len() < 4 || !text.contains(&signature[3..]),
        "{text}"
    );
}

#[tokio::test]
async fn bad_signatures_are_refused_naming_why() {
    let h = start().await;
    let path = format!("/v1/tenants/{CONTOSO}");
    let body = json!({"tenantId": CONTOSO, "cloud": "Global", "mode": "Api", "scope": "All"});

    let mut out = h.outgoing(Method::PUT, &path, Some(&body));
    out.signature = Some(sign(b"another secret", &out.id, out.timestamp, &out.body));
    refused(&h, out, "NoMatchingSignature").await;

    let mut out = h.outgoing(Method::PUT, &path, Some(&body));
    out.body = serde_json::to_vec(
        &json!({"tenantId": CONTOSO, "cloud": "China", "mode": "Api", "scope": "All"}),
    )
    .unwrap();
    refused(&h, out, "NoMatchingSignature").await;

    let mut out = h.outgoing(Method::PUT, &path, Some(&body));
    out.timestamp = now() - 301;
    out.signature = Some(sign(&h.key, &out.id, out.timestamp, &out.body));
    refused(&h, out, "TimestampTooOld").await;

    let mut out = h.outgoing(Method::PUT, &path, Some(&body));
    out.timestamp = now() + 400;
    out.signature = Some(sign(&h.key, &out.id, out.timestamp, &out.body));
    refused(&h, out, "TimestampTooNew").await;

    let mut out = h.outgoing(Method::PUT, &path, Some(&body));
    out.signature = None;
    let a = h.send_raw(out).await;
    assert_eq!(a.body["reason"], "MissingHeader");
    assert!(
        a.body["detail"]
            .as_str()
            .unwrap()
            .contains("webhook-signature")
    );

    let mut out = h.outgoing(Method::PUT, &path, Some(&body));
    out.signature = Some("v2,c29tZXRoaW5n".into());
    refused(&h, out, "MalformedSignature").await;

    // Unsigned reads are refused as well; nothing was registered by any of these.
    let a = h
        .http
        .get(h.url(&format!("{path}/cursor")))
        .send()
        .await
        .unwrap();
    assert_eq!(a.status(), 401);
    assert_eq!(h.read("/_sim/tenants").await["tenants"], json!([]));
    assert_eq!(h.read("/_sim/counters").await["signatureRefused"], 7);
}

#[tokio::test]
async fn several_signatures_and_the_whsec_form_are_accepted() {
    // 24 random-looking bytes in base64, as Standard Webhooks secrets are.
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let h = start_with(ServiceOptions::new(secret)).await;
    let path = format!("/v1/tenants/{CONTOSO}");
    let body = json!({"tenantId": CONTOSO, "cloud": "Global", "mode": "Api", "scope": "All"});
    let a = h.send(Method::PUT, &path, Some(body.clone())).await;
    assert_eq!(a.status, 200, "{}", a.body);

    // During a rotation: the old key's signature first, then the current one.
    let mut out = h.outgoing(Method::PUT, &path, Some(&body));
    let old = sign(b"the previous secret", &out.id, out.timestamp, &out.body);
    out.signature = Some(format!("{old} {}", out.signature.unwrap()));
    assert_eq!(h.send_raw(out).await.status, 200);

    // The secret's text taken as the key (its prefix not decoded) is another key.
    let mut out = h.outgoing(Method::PUT, &path, Some(&body));
    out.signature = Some(sign(secret.as_bytes(), &out.id, out.timestamp, &out.body));
    refused(&h, out, "NoMatchingSignature").await;
}

#[tokio::test]
async fn health_answers_unsigned_and_checks_a_signature_when_given() {
    let h = start().await;
    let a = answer(h.http.get(h.url("/v1/health")).send().await.unwrap()).await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.body,
        json!({"status": "ok", "version": "1.0.0", "authenticated": false})
    );
    let signed = h.send(Method::GET, "/v1/health", None).await;
    assert_eq!(signed.body["authenticated"], true);
    let mut out = h.outgoing(Method::GET, "/v1/health", None);
    out.signature = Some(sign(b"wrong", &out.id, out.timestamp, b""));
    refused(&h, out, "NoMatchingSignature").await;
}
