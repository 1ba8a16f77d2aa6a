//! The operator's client of the delivery protocol (`src/service/`) against the service
//! simulator (`exo-sim service`), over loopback HTTPS: two sides written separately from
//! `docs/protocol/`, judging each other.

use std::time::Duration;

use exo_operator::microsoft::http::RetryPolicy;
use exo_operator::microsoft::retry::Backoff;
use exo_operator::service::client::ServiceClient;
use exo_operator::service::error::ServiceError;
use exo_operator::service::protocol::{Message, Registration, User};
use exo_sim_service::{Service, ServiceOptions};
use serde_json::{Value, json};

const SECRET: &str = "whsec_c2VydmljZS1zaGFyZWQtc2VjcmV0";
const TENANT: &str = "5b1c6e8a-2f4d-4a7b-9c3e-1d2f3a4b5c6d";

/// A service over loopback HTTPS.
async fn service() -> Service {
    exo_operator::microsoft::http::install_crypto_provider();
    let mut opts = ServiceOptions::new(SECRET);
    opts.tls = true;
    Service::start(opts).await.unwrap()
}

/// Few, quick retries.
fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 2,
        backoff: Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_millis(50),
        },
        max_wait: Duration::from_secs(2),
        timeout: Duration::from_secs(10),
    }
}

fn client(service: &Service, secret: &str) -> ServiceClient {
    let ca = service.ca_pem().unwrap();
    ServiceClient::new(
        &service.url(),
        secret.as_bytes(),
        Some(ca.as_bytes()),
        policy(),
    )
    .unwrap()
}

/// The simulator's control API.
async fn control(service: &Service, method: reqwest::Method, path: &str, body: Value) -> Value {
    let ca = reqwest::Certificate::from_pem(service.ca_pem().unwrap().as_bytes()).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let answer = http
        .request(method, format!("{}{path}", service.url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{path}: {}", answer.status());
    answer.json().await.unwrap()
}

/// How many users the service holds for the tenant (its read API).
async fn users_received(service: &Service) -> usize {
    let path = format!("/_sim/tenants/{TENANT}/users");
    let users = control(service, reqwest::Method::GET, &path, json!({})).await;
    users["users"].as_array().map_or(0, Vec::len)
}

fn registration() -> Registration {
    Registration {
        tenant_id: TENANT.into(),
        cloud: "Global".into(),
        mode: "Api".into(),
        direction: None,
        scope: "All".into(),
        verified_domains: vec!["contoso.com".into()],
        policies: vec!["strict".into(), "NoSuchPolicy".into()],
    }
}

fn user(n: u32) -> User {
    User {
        id: format!("00000000-0000-0000-0000-{n:012}"),
        user_principal_name: format!("user{n}@contoso.com"),
        mail: Some(format!("user{n}@contoso.com")),
        display_name: Some(format!("User {n}")),
        account_enabled: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_is_registered_and_its_directory_delivered_once() {
    let service = service().await;
    let c = client(&service, SECRET);
    c.health("probe-1").await.unwrap();
    let registered = c.register(&registration(), "reg-1").await.unwrap();
    assert_eq!(registered.accepted_policies, ["Strict"]);
    assert_eq!(registered.unknown_policies, ["NoSuchPolicy"]);
    assert_eq!(registered.cursor.watermark, 0);
    let snapshot = "snap-1".to_string();
    let stream = [
        Message::SnapshotBegin {
            snapshot_id: snapshot.clone(),
        },
        Message::SnapshotPage {
            snapshot_id: snapshot.clone(),
            users: vec![user(1), user(2)],
            groups: vec![],
        },
        Message::SnapshotEnd {
            snapshot_id: snapshot.clone(),
            user_count: 2,
            group_count: 0,
        },
    ];
    for (i, message) in stream.iter().enumerate() {
        let sequence = i as u64 + 1;
        let ack = c
            .deliver(TENANT, sequence, message, &format!("d-{sequence}"))
            .await
            .unwrap();
        assert_eq!((ack.acknowledged, ack.duplicate), (sequence, false));
    }
    // A retry whose answer was lost is a duplicate, applied once.
    let again = c.deliver(TENANT, 3, &stream[2], "d-3").await.unwrap();
    assert!(again.duplicate);
    let cursor = c.cursor(TENANT, "cursor-1").await.unwrap();
    assert_eq!(cursor.watermark, 3);
    assert!(cursor.snapshot_complete && !cursor.resync_requested);
    assert_eq!(users_received(&service).await, 2);
    // A gap names the sequence expected.
    let gap = c.deliver(TENANT, 9, &stream[0], "d-9").await.unwrap_err();
    assert!(matches!(gap, ServiceError::Gap { expected: 4 }), "{gap:?}");
    // A resync request shows in the next answers.
    control(
        &service,
        reqwest::Method::POST,
        &format!("/_sim/tenants/{TENANT}/resync"),
        json!({}),
    )
    .await;
    assert!(c.cursor(TENANT, "cursor-2").await.unwrap().resync_requested);
    // Deregistered once; a second time there is nothing left.
    assert!(c.deregister(TENANT, "dereg-1").await.unwrap());
    assert!(!c.deregister(TENANT, "dereg-2").await.unwrap());
    let err = c.cursor(TENANT, "cursor-3").await.unwrap_err();
    assert!(matches!(err, ServiceError::NotRegistered), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_credential_and_an_unavailable_service_are_told_apart() {
    let service = service().await;
    let wrong = client(&service, "not-the-secret");
    let err = wrong.register(&registration(), "reg-1").await.unwrap_err();
    match &err {
        ServiceError::Unauthorized { reason } => assert_eq!(reason, "NoMatchingSignature"),
        other => panic!("{other:?}"),
    }
    assert!(!err.is_transient());
    assert!(!format!("{err}").contains("not-the-secret"));
    // 503 with Retry-After for longer than the client waits: unavailable, with the delay.
    control(
        &service,
        reqwest::Method::POST,
        "/_sim/faults",
        json!({"status": 503, "retryAfter": 60, "count": 5}),
    )
    .await;
    let right = client(&service, SECRET);
    let err = right.register(&registration(), "reg-2").await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(60)));
    assert_eq!(err.reason(), "ServiceUnavailable");
}

#[test]
fn the_credential_never_goes_in_the_clear_over_a_network() {
    let err = ServiceClient::new("http://ingest.example.com", b"s", None, policy()).unwrap_err();
    assert!(matches!(err, ServiceError::InsecureUrl));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_is_streamed_page_by_page_with_one_delivery_per_page() {
    use exo_operator::service::send::{Sender, snapshot};
    let service = service().await;
    let c = client(&service, SECRET);
    c.register(&registration(), "reg-1").await.unwrap();
    // Graph's pages of 999, and one larger page re-cut to the protocol's 1,000.
    let pages: Vec<Result<Vec<User>, std::convert::Infallible>> = vec![
        Ok((0..999).map(user).collect()),
        Ok((999..1998).map(user).collect()),
        Ok((1998..3500).map(user).collect()),
    ];
    // And a group whose members are two of them.
    let groups = vec![exo_operator::service::protocol::Group {
        id: "g-1".into(),
        display_name: Some("Research".into()),
        members: vec![user(1).id, user(2).id],
    }];
    let mut sender = Sender::new(&c, TENANT, "snap-1", 1);
    let sent = snapshot(&mut sender, "snap-1", futures::stream::iter(pages), groups)
        .await
        .unwrap();
    // Begin, 999, 999, 1,000 and 502, the groups' page, end.
    assert_eq!(sent.users, 3500);
    assert_eq!(sent.deliveries, 7);
    let cursor = c.cursor(TENANT, "cursor-1").await.unwrap();
    assert_eq!(cursor.watermark, 7);
    assert!(cursor.snapshot_complete);
    assert_eq!(users_received(&service).await, 3500);
    let path = format!("/_sim/tenants/{TENANT}/groups");
    let groups = control(&service, reqwest::Method::GET, &path, json!({})).await;
    assert_eq!(
        groups["groups"][0]["members"],
        json!([user(1).id, user(2).id])
    );
}
