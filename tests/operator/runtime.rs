//! The operator at work: retries of 429 and 5xx, a lagging watch cache, deletion policies, no
//! secret in logs, Events or status, the HTTP port, and the watched namespaces.

use std::time::Duration;

use exo_sim_m365::tenants::{DEMO_CLIENT_ID, DEMO_SECRET};
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use serde_json::json;

use super::env::{self, Env, TIMEOUT, consent_url, is, reason, settled, until, user_code};
use super::{contoso_list, events_once_arrived};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_5xx_bursts_are_retried() {
    let env = Env::start(Env::fast()).await;
    env.consent("contoso.com").await;
    env.fault(json!({"path": "GET /v1.0/users/delta", "status": 429, "retryAfter": 1, "count": 1}))
        .await;
    env.fault(json!({"path": "GET /v1.0/domains", "status": 503, "count": 2}))
        .await;
    env.fault(json!({"path": "/oauth2/v2.0/token", "status": 503, "count": 1}))
        .await;
    let started = std::time::Instant::now();
    env.apply_example("api-all-users.yaml").await;
    env.wait_ready("contoso").await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
    assert_eq!(
        env.m365.count("GET /v1.0/users/delta"),
        2,
        "one throttled, one served"
    );
    assert!(env.m365.count("GET /v1.0/domains") >= 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_watch_cache_does_not_make_the_operator_redo_its_work() {
    // Every watch event arrives 400 ms after its write: reconciles queued behind the first
    // one read a cache without its status.
    let env = Env::start_with(
        Env::fast(),
        exo_sim_kube::EmulatorOptions {
            watch_delay: Duration::from_millis(400),
            ..Default::default()
        },
    )
    .await;
    env.consent("contoso.com").await;
    contoso_list(
        &env,
        "few",
        json!({"users": ["ada@contoso.com", "grace@contoso.com"]}),
    )
    .await;
    env.create(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "contoso-app"}, "stringData": {"client-secret": DEMO_SECRET}})).await;
    env.create(env.point_at_simulator(json!({"apiVersion": "exo-operator.io/v1alpha1", "kind": "ExchangeServiceAccount", "metadata": {"name": "contoso"}, "spec": {
        "tenant": "contoso.onmicrosoft.com", "mode": "Api",
        "application": {"clientId": DEMO_CLIENT_ID, "credentials": {"secretName": "contoso-app"}},
        "sync": {"scope": "Selected", "targetListRef": {"name": "few"}}}}))).await;
    env.wait_ready("contoso").await;
    env.settle().await;

    assert_eq!(env.m365.count("GET /v1.0/users/ada@contoso.com"), 1);
    assert_eq!(env.m365.count("/appRoleAssignments"), 1);
    assert_eq!(events_once_arrived(&env, "contoso", "Ready", 1).await, 1);
    let audit = env.audit();
    let status_writes = |resource: &str| {
        audit
            .iter()
            .filter(|a| {
                a.resource.ends_with(resource) && a.subresource.as_deref() == Some("status")
            })
            .count()
    };
    assert_eq!(status_writes("/exchangeserviceaccounts"), 1, "{audit:?}");
    assert_eq!(status_writes("/synctargetlists"), 1, "{audit:?}");
    assert!(
        !audit
            .iter()
            .any(|a| a.resource.ends_with("/events") && a.verb == "patch"),
        "no Event was published twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_stops_what_was_started_or_leaves_the_tenant_alone() {
    let env = Env::start(Env::fast()).await;
    env.consent("contoso.com").await;
    env.apply_example("api-all-users.yaml").await;
    env.wait_ready("contoso").await;
    let subs = || {
        env.m365.with_world(|w| {
            w.tenant("contoso.com")
                .unwrap()
                .subscriptions
                .values()
                .filter(|v| **v)
                .count()
        })
    };
    assert_eq!(subs(), 3);
    env.delete_account("contoso").await;
    assert_eq!(subs(), 0, "deletionPolicy Delete stops the subscriptions");
    let maps: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::default_namespaced(env.client.clone());
    assert!(maps.get_opt("contoso-sync-state").await.unwrap().is_none());

    // Orphan: the tenant keeps what was started.
    let mut esa: serde_json::Value = serde_saphyr::from_str(
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/api-all-users.yaml"
        ))
        .unwrap()
        .split("\n---")
        .find(|d| d.contains("kind: ExchangeServiceAccount"))
        .unwrap(),
    )
    .unwrap();
    esa["spec"]["deletionPolicy"] = json!("Orphan");
    env.create(env.point_at_simulator(esa)).await;
    env.wait_ready("contoso").await;
    assert_eq!(subs(), 3);
    env.delete_account("contoso").await;
    assert_eq!(
        subs(),
        3,
        "deletionPolicy Orphan leaves the tenant as it is"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_secret_or_refresh_token_reaches_logs_events_or_status() {
    let env = Env::start(Env::short_tokens(3)).await;
    env.apply_example("api-all-users.yaml").await;
    env.apply_example("api-selected-users.yaml").await;
    let esa = env
        .wait_reason("contoso", "Authorized", "ConsentRequired")
        .await;
    env.open(&consent_url(&esa)).await;
    let esa = env
        .wait_reason("fabrikam", "Authorized", "AwaitingSignIn")
        .await;
    env.approve(&user_code(&esa)).await;
    env.wait_ready("contoso").await;
    env.wait_ready("fabrikam").await;
    // Refreshes happen (3 s tokens), then a failure path: revoked refresh tokens.
    tokio::time::sleep(Duration::from_secs(4)).await;
    env.control("/tenants/fabrikam.com/refresh-tokens/revoke", json!({}))
        .await;
    env.wait_account("fabrikam", "revoked", |e| {
        reason(e, "TokenValid", "RefreshTokenRevoked") || reason(e, "Authorized", "AwaitingSignIn")
    })
    .await;

    let secrets: Api<Secret> = Api::default_namespaced(env.client.clone());
    let mut forbidden: Vec<String> = vec![DEMO_SECRET.to_string()];
    let refresh_tokens = env
        .m365
        .with_world(|w| w.refresh_tokens.keys().cloned().collect::<Vec<_>>());
    assert!(!refresh_tokens.is_empty());
    forbidden.extend(refresh_tokens);
    let device_codes = env.m365.with_world(|w| {
        w.device_codes
            .iter()
            .map(|d| d.device_code.clone())
            .collect::<Vec<_>>()
    });
    forbidden.extend(device_codes);
    if let Some(grant) = secrets.get_opt("fabrikam-device-grant").await.unwrap() {
        for v in grant.data.unwrap_or_default().values() {
            forbidden.push(String::from_utf8_lossy(&v.0).into_owned());
        }
    }
    forbidden.retain(|f| f.len() >= 16);

    let events: Api<k8s_openapi::api::core::v1::Event> =
        Api::default_namespaced(env.client.clone());
    let mut seen =
        serde_json::to_string(&events.list(&Default::default()).await.unwrap().items).unwrap();
    seen.push_str(
        &serde_json::to_string(
            &env.accounts()
                .list(&Default::default())
                .await
                .unwrap()
                .items,
        )
        .unwrap(),
    );
    seen.push_str(
        &serde_json::to_string(&env.lists().list(&Default::default()).await.unwrap().items)
            .unwrap(),
    );
    let logs = String::from_utf8_lossy(&env::LOGS.lock().unwrap()).into_owned();
    assert!(logs.contains("reconcile"), "logs were captured");
    for (what, text) in [("logs", &logs), ("events and status", &seen)] {
        for secret in &forbidden {
            assert!(
                !text.contains(secret.as_str()),
                "a secret value appears in {what}"
            );
        }
        assert!(
            !text.contains("eyJ0eXAiOiJKV1Qi"),
            "an access token appears in {what}"
        );
        assert!(
            !text.contains("Bearer "),
            "an authorization header appears in {what}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_port_serves_health_metrics_and_the_consent_callback() {
    let mut env = Env::start(Env::fast()).await;
    // Consent is checked only every 10 minutes: the callback must wake the account.
    env.stop_operator().await;
    env.start_operator_with(Duration::from_secs(600)).await;
    let base = env.operator_url();
    assert_eq!(env.get(&format!("{base}/healthz")).await.0, 200);
    let ready = settled(
        50,
        Duration::from_millis(100),
        async || env.get(&format!("{base}/readyz")).await.0,
        |status| *status == 200,
    )
    .await;
    assert_eq!(ready, 200, "/readyz after the caches filled");
    env.apply_example("api-all-users.yaml").await;
    let esa = env
        .wait_reason("contoso", "Authorized", "ConsentRequired")
        .await;
    // The administrator consents; the identity platform redirects to the callback with the state.
    env.open(&consent_url(&esa)).await;
    let (status, page) = env.get(&format!("{base}/consent/callback?admin_consent=True&tenant=5b1c6e8a-2f4d-4a7b-9c3e-1d2f3a4b5c6d&state={}/contoso", env.ns())).await;
    assert_eq!(status, 200);
    assert!(page.contains("recorded"), "{page}");
    env.wait_account("contoso", "Ready after the callback", |e| is(e, "Ready"))
        .await;
    let (status, _) = env
        .get(&format!("{base}/consent/callback?state=nonsense"))
        .await;
    assert_eq!(status, 400);
    // An account this operator does not have: nothing is said to be recorded.
    let (status, page) = env
        .get(&format!(
            "{base}/consent/callback?admin_consent=True&tenant=t&state={}/nobody",
            env.ns()
        ))
        .await;
    assert_eq!(status, 404, "{page}");
    assert!(!page.contains("recorded for"), "{page}");
    // Other tests in this process share the registry, so only the series' presence is
    // checked here; its value is checked by the unit tests.
    env.wait_metrics(&[
        "exo_reconciles_total{controller=\"exchangeserviceaccount\"}".to_string(),
        "exo_external_requests_total{api=\"graph\",class=\"2xx\"}".to_string(),
        format!(
            "exo_token_valid{{namespace=\"{}\",name=\"contoso\"}} ",
            env.ns()
        ),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_watched_namespaces_are_reconciled() {
    use exo_api::exchange_service_account::ExchangeServiceAccount;
    use exo_operator::controller::run::Scope;
    let mut env = Env::start(Env::fast()).await;
    env.stop_operator().await;
    // Namespaces of their own on a shared server: the test's name with a suffix.
    let [a, b, c] = ["a", "b", "c"].map(|team| format!("{}-team-{team}", env.ns()));
    env.start_operator_in(
        Duration::from_millis(300),
        Scope {
            namespaces: vec![a.clone(), b.clone()],
        },
    )
    .await;
    for ns in [&a, &b, &c] {
        env.cluster.create_namespace(ns).await;
        env.create(json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "app", "namespace": ns},
            "stringData": {"client-secret": DEMO_SECRET}}))
            .await;
        env.create(env.point_at_simulator(json!({
            "apiVersion": "exo-operator.io/v1alpha1", "kind": "ExchangeServiceAccount",
            "metadata": {"name": "contoso", "namespace": ns},
            "spec": {"tenant": "contoso.com", "mode": "Api",
                "application": {"clientId": DEMO_CLIENT_ID, "credentials": {"secretName": "app"}}},
        })))
        .await;
    }
    let status_of = |ns: &str| {
        let api: Api<ExchangeServiceAccount> = Api::namespaced(env.client.clone(), ns);
        async move { api.get("contoso").await.unwrap().status }
    };
    until(TIMEOUT, Duration::from_millis(100), async || {
        if status_of(&a).await.is_none() || status_of(&b).await.is_none() {
            return Err("the watched namespaces to be reconciled".to_string());
        }
        Ok(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        status_of(&c).await.is_none(),
        "an unwatched namespace was reconciled"
    );
}
