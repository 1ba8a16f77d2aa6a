//! Real `kubectl`: apply, get -o wide, describe with Events, explain, wait, delete, invalid
//! manifests, server-side apply conflicts, aggregated discovery; and the API without a token.

use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Resource;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use serde_json::json;

use exo_api::exchange_service_account::ExchangeServiceAccount;

use super::{Cluster, TIMEOUT, apply, kubectl, refusal, repo};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_applies_crds_and_examples_and_reads_them_back() {
    let c = Cluster::start().await;
    // On a shared real server another test may create or update the CRDs at the same moment
    // (AlreadyExists, or a stale resourceVersion): apply again, as a user would, a bounded
    // number of times.
    let mut attempts = 0;
    let (ok, out, err) = loop {
        attempts += 1;
        let (ok, out, err) = kubectl(&c.kubeconfig, &["apply", "-f", &repo("crds")]).await;
        if ok || attempts == 3 || !(err.contains("AlreadyExists") || err.contains("modified")) {
            break (ok, out, err);
        }
    };
    assert!(ok, "{out}{err}");
    // Created; or, on a shared cluster that has them already, configured or unchanged.
    assert!(
        ["created", "configured", "unchanged"].iter().any(|what| out.contains(&format!(
            "customresourcedefinition.apiextensions.k8s.io/exchangeserviceaccounts.exo-operator.io {what}"
        ))),
        "{out}"
    );
    let (ok, out, err) = kubectl(&c.kubeconfig, &["apply", "-f", &repo("examples")]).await;
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("exchangeserviceaccount.exo-operator.io/contoso created"),
        "{out}"
    );
    // Applying again changes nothing.
    let (ok, out, _) = kubectl(&c.kubeconfig, &["apply", "-f", &repo("examples")]).await;
    assert!(
        ok && out.contains("exchangeserviceaccount.exo-operator.io/contoso unchanged"),
        "{out}"
    );

    let (ok, out, err) = kubectl(&c.kubeconfig, &["get", "esa", "-o", "wide"]).await;
    assert!(ok, "{err}");
    let header = out.lines().next().unwrap();
    for column in [
        "NAME",
        "TENANT",
        "MODE",
        "READY",
        "TOKEN",
        "USERS",
        "REASON",
        "TOKEN-EXPIRES",
        "AGE",
    ] {
        assert!(header.contains(column), "{header}");
    }
    assert!(out.contains("contoso.onmicrosoft.com"), "{out}");
    // The token's expiry reads as a time to come, not as an age ("0s").
    let (ok, _, err) = kubectl(
        &c.kubeconfig,
        &[
            "patch",
            "esa",
            "contoso",
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"token":{"expiresAt":"2030-01-02T03:04:05Z"}}}"#,
        ],
    )
    .await;
    assert!(ok, "{err}");
    let (ok, out, err) = kubectl(&c.kubeconfig, &["get", "esa", "contoso", "-o", "wide"]).await;
    assert!(ok && out.contains("2030-01-02T03:04:05Z"), "{out}{err}");
    let (ok, out, _) = kubectl(&c.kubeconfig, &["get", "stl"]).await;
    assert!(ok && out.contains("fabrikam-vip"), "{out}");

    let (ok, out, _) = kubectl(
        &c.kubeconfig,
        &[
            "get",
            "secret",
            "email-security-app-credentials",
            "-o",
            "jsonpath={.data.client-secret}",
        ],
    )
    .await;
    assert!(
        ok && !out.is_empty(),
        "stringData is folded into data: {out}"
    );

    let (ok, out, err) = kubectl(&c.kubeconfig, &["get", "esa", "contoso", "-o", "yaml"]).await;
    assert!(ok, "{err}");
    assert!(
        out.contains("tenant: contoso.onmicrosoft.com") && out.contains("generation: 1"),
        "{out}"
    );

    let (ok, out, err) = kubectl(&c.kubeconfig, &["explain", "esa.spec.sync"]).await;
    assert!(ok, "{err}");
    assert!(out.contains("targetListRef"), "{out}");

    let (ok, out, err) = kubectl(&c.kubeconfig, &["delete", "-f", &repo("examples")]).await;
    assert!(ok, "{out}{err}");
    let (_, out, _) = kubectl(&c.kubeconfig, &["get", "esa"]).await;
    assert!(!out.contains("contoso"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_manifests_are_rejected_with_the_field_named() {
    let c = Cluster::start().await;
    c.install_crds().await;
    let account = |name: &str, sync: &str| {
        format!(
            "apiVersion: exo-operator.io/v1alpha1\nkind: ExchangeServiceAccount\nmetadata:\n  name: {name}\nspec:\n  tenant: contoso.com\n  mode: Api\n  serviceRef: {{name: mail-security}}\n  sync: {sync}\n"
        )
    };
    let bad = account("bad", "{scope: Selected}");
    let (ok, out, err) = apply(&c, "bad.yaml", &bad, &[]).await;
    assert!(!ok, "{out}");
    assert!(
        err.contains("is invalid") && err.contains("spec.sync"),
        "{err}"
    );

    // The same through kube-rs: a 422 whose causes name the field.
    let api: Api<ExchangeServiceAccount> = Api::default_namespaced(c.client.clone());
    let mut esa: ExchangeServiceAccount = serde_saphyr::from_str(&bad).unwrap();
    esa.spec.tenant = "not a tenant!".into();
    let s = refusal(api.create(&PostParams::default(), &esa).await);
    assert_eq!(s.code, 422);
    assert_eq!(s.reason, "Invalid");
    assert!(s.message.contains("spec.tenant"), "{}", s.message);

    // An unknown field: kubectl validates strictly by default and the field is named; with
    // validation off it is pruned, as the API server does.
    let typo = account("typo", "{scope: All, intervall: 1h}");
    let (ok, out, err) = apply(&c, "typo.yaml", &typo, &[]).await;
    assert!(!ok, "{out}");
    assert!(
        err.contains("strict decoding error")
            && err.contains(r#"unknown field "spec.sync.intervall""#),
        "{err}"
    );
    let (ok, _, err) = apply(&c, "typo.yaml", &typo, &["--validate=false"]).await;
    assert!(ok, "{err}");
    let stored = api.get("typo").await.unwrap();
    assert_eq!(stored.spec.sync.interval, "24h", "pruned, then defaulted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_conflicts_between_managers_unless_forced() {
    let c = Cluster::start().await;
    let shared = |a: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: shared}}\ndata: {{a: \"{a}\"}}\n"
        )
    };
    let (ok, _, err) = apply(&c, "cm.yaml", &shared("1"), &["--server-side"]).await;
    assert!(ok, "{err}");
    let other = ["--server-side", "--field-manager=other"];
    let (ok, _, err) = apply(&c, "cm.yaml", &shared("2"), &other).await;
    assert!(
        !ok && err.contains("conflict with \"kubectl\"") && err.contains(".data.a"),
        "{err}"
    );
    let forced = [
        "--server-side",
        "--field-manager=other",
        "--force-conflicts",
    ];
    let (ok, _, err) = apply(&c, "cm.yaml", &shared("2"), &forced).await;
    assert!(ok, "{err}");
    let api: Api<ConfigMap> = Api::default_namespaced(c.client.clone());
    assert_eq!(api.get("shared").await.unwrap().data.unwrap()["a"], "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_and_describe_follow_status_and_events() {
    let c = Cluster::start().await;
    let client = c.client.clone();
    c.install_crds().await;
    let (ok, _, err) = kubectl(
        &c.kubeconfig,
        &["apply", "-f", &repo("examples/api-all-users.yaml")],
    )
    .await;
    assert!(ok, "{err}");
    let api: Api<ExchangeServiceAccount> = Api::default_namespaced(client.clone());
    let esa = api.get("contoso").await.unwrap();
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "exo-test".into(),
            instance: None,
        },
    );
    recorder
        .publish(
            &Event {
                type_: EventType::Normal,
                reason: "Ready".into(),
                note: Some("all good".into()),
                action: "Test".into(),
                secondary: None,
            },
            &esa.object_ref(&()),
        )
        .await
        .unwrap();

    let waiter = {
        let kc = c.kubeconfig.clone();
        tokio::spawn(async move {
            kubectl(
                &kc,
                &[
                    "wait",
                    "--for=condition=Ready",
                    "esa/contoso",
                    "--timeout=15s",
                ],
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    api.patch_status(
        "contoso",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Ready", "message": "ok", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}})),
    )
    .await
    .unwrap();
    let (ok, out, err) = tokio::time::timeout(TIMEOUT, waiter)
        .await
        .unwrap()
        .unwrap();
    assert!(ok, "{out}{err}");
    assert!(out.contains("condition met"), "{out}");

    let (ok, out, err) = kubectl(&c.kubeconfig, &["describe", "esa", "contoso"]).await;
    assert!(ok, "{err}");
    assert!(out.contains("Events:") && out.contains("all good"), "{out}");
    let (ok, out, _) = kubectl(&c.kubeconfig, &["get", "esa", "contoso"]).await;
    assert!(ok && out.lines().nth(1).unwrap().contains("True"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregated_discovery_serves_kubectl_and_kube_rs() {
    let c = Cluster::start().await;
    let client = c.client.clone();
    c.install_crds().await;

    // kube-rs parses the APIGroupDiscoveryList documents of /api and /apis.
    let discovery = kube::Discovery::new(client.clone())
        .run_aggregated()
        .await
        .unwrap();
    let (esa, caps) = discovery
        .resolve_gvk(&kube::api::GroupVersionKind::gvk(
            "exo-operator.io",
            "v1alpha1",
            "ExchangeServiceAccount",
        ))
        .expect("the custom resource is discovered");
    assert_eq!(esa.plural, "exchangeserviceaccounts");
    assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);
    assert!(
        caps.subresources
            .iter()
            .any(|(sub, _)| sub.plural == "status"),
        "{:?}",
        caps.subresources
    );
    let core = discovery.get("").expect("the core group");
    assert!(
        core.recommended_resources()
            .iter()
            .any(|(r, _)| r.plural == "secrets")
    );

    // kubectl asks for aggregated discovery first and gets it.
    let (ok, out, err) = kubectl(&c.kubeconfig, &["api-resources", "-v=8"]).await;
    assert!(ok, "{err}");
    assert!(
        err.contains("as=APIGroupDiscoveryList"),
        "kubectl did not receive aggregated discovery: {err}"
    );
    let row = out
        .lines()
        .find(|l| l.starts_with("exchangeserviceaccounts"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        row.contains("esa") && row.contains("ExchangeServiceAccount"),
        "{row}"
    );
    assert!(out.lines().any(|l| l.starts_with("namespaces ")), "{out}");
}

#[tokio::test]
async fn requests_without_the_token_are_unauthorized() {
    let c = Cluster::start().await;
    let http = reqwest::Client::builder()
        .tls_certs_merge(reqwest::Certificate::from_pem_bundle(c.ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let response = http
        .get(format!("{}/api/v1/namespaces", c.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["kind"], "Status");
    assert_eq!(body["reason"], "Unauthorized");
}
