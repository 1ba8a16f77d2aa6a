//! Kubernetes as clients see it, driven by real `kubectl` and by kube-rs as the operator uses
//! it: against the API emulator and, with `EXO_TEST_BACKEND=apiserver`, against a real
//! kube-apiserver (the same assertions; see `support/cluster.rs`). Tests of the emulator's own
//! options (watch delay, a short history) start an emulator whatever the backend.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde_json::json;

use exo_api::exchange_service_account::ExchangeServiceAccount;
use exo_sim_kube::EmulatorOptions;

#[path = "support/cluster.rs"]
mod cluster;
use cluster::Cluster;

const TIMEOUT: Duration = Duration::from_secs(20);

/// Runs kubectl (blocking, off the runtime) and returns (success, stdout, stderr).
async fn kubectl(kubeconfig: &Path, args: &[&str]) -> (bool, String, String) {
    let kubeconfig = kubeconfig.to_path_buf();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let out = Command::new("kubectl")
            .env("KUBECONFIG", &kubeconfig)
            .env_remove("HTTPS_PROXY")
            .args(&args)
            .output()
            .expect("kubectl is installed");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .display()
        .to_string()
}

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
    let (ok, out, _) = kubectl(&c.kubeconfig, &["get", "stl"]).await;
    assert!(ok && out.contains("fabrikam-vip"), "{out}");

    let (ok, out, _) = kubectl(
        &c.kubeconfig,
        &[
            "get",
            "secret",
            "contoso-app-credentials",
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
    let bad = c.dir().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: exo-operator.io/v1alpha1\nkind: ExchangeServiceAccount\nmetadata:\n  name: bad\nspec:\n  tenant: contoso.com\n  mode: Api\n  application:\n    clientId: 3f1c2a4e-8b7d-4c6e-9a2b-1d0e5f6a7b8c\n    credentials: {secretName: app}\n  sync: {scope: Selected}\n",
    )
    .unwrap();
    let (ok, out, err) = kubectl(&c.kubeconfig, &["apply", "-f", bad.to_str().unwrap()]).await;
    assert!(!ok, "{out}");
    assert!(
        err.contains("is invalid") && err.contains("spec.sync"),
        "{err}"
    );

    // The same through kube-rs: a 422 whose causes name the field.
    let api: Api<ExchangeServiceAccount> = Api::default_namespaced(c.client.clone());
    let mut esa: ExchangeServiceAccount =
        serde_saphyr::from_str(&std::fs::read_to_string(&bad).unwrap()).unwrap();
    esa.spec.tenant = "not a tenant!".into();
    let err = api.create(&PostParams::default(), &esa).await.unwrap_err();
    match err {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 422);
            assert_eq!(s.reason, "Invalid");
            assert!(s.message.contains("spec.tenant"), "{}", s.message);
        }
        other => panic!("{other}"),
    }

    // An unknown field: kubectl validates strictly by default and the field is named; with
    // validation off it is pruned, as the API server does.
    let typo = c.dir().join("typo.yaml");
    std::fs::write(
        &typo,
        "apiVersion: exo-operator.io/v1alpha1\nkind: ExchangeServiceAccount\nmetadata:\n  name: typo\nspec:\n  tenant: contoso.com\n  mode: Api\n  application:\n    clientId: 3f1c2a4e-8b7d-4c6e-9a2b-1d0e5f6a7b8c\n    credentials: {secretName: app}\n  sync: {scope: All, intervall: 1h}\n",
    )
    .unwrap();
    let (ok, out, err) = kubectl(&c.kubeconfig, &["apply", "-f", typo.to_str().unwrap()]).await;
    assert!(!ok, "{out}");
    assert!(
        err.contains("strict decoding error")
            && err.contains(r#"unknown field "spec.sync.intervall""#),
        "{err}"
    );
    let (ok, _, err) = kubectl(
        &c.kubeconfig,
        &["apply", "--validate=false", "-f", typo.to_str().unwrap()],
    )
    .await;
    assert!(ok, "{err}");
    let stored = api.get("typo").await.unwrap();
    assert_eq!(stored.spec.sync.interval, "24h", "pruned, then defaulted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_conflicts_between_managers_unless_forced() {
    let c = Cluster::start().await;
    let cm = c.dir().join("cm.yaml");
    std::fs::write(
        &cm,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\ndata: {a: \"1\"}\n",
    )
    .unwrap();
    let (ok, _, err) = kubectl(
        &c.kubeconfig,
        &["apply", "--server-side", "-f", cm.to_str().unwrap()],
    )
    .await;
    assert!(ok, "{err}");
    std::fs::write(
        &cm,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\ndata: {a: \"2\"}\n",
    )
    .unwrap();
    let (ok, _, err) = kubectl(
        &c.kubeconfig,
        &[
            "apply",
            "--server-side",
            "--field-manager=other",
            "-f",
            cm.to_str().unwrap(),
        ],
    )
    .await;
    assert!(
        !ok && err.contains("conflict with \"kubectl\"") && err.contains(".data.a"),
        "{err}"
    );
    let (ok, _, err) = kubectl(
        &c.kubeconfig,
        &[
            "apply",
            "--server-side",
            "--field-manager=other",
            "--force-conflicts",
            "-f",
            cm.to_str().unwrap(),
        ],
    )
    .await;
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

/// Waits (bounded) until a real controller manager's garbage collector watches the accounts.
/// It looks for new resource kinds every 30 s, and an owner deleted before it watches its kind
/// leaves its dependents behind: Kubernetes' behaviour for any CRD applied a moment ago. Each
/// probe is an account with a dependent, deleted at once.
async fn wait_for_the_garbage_collector(
    esas: &Api<ExchangeServiceAccount>,
    secrets: &Api<Secret>,
    template: &ExchangeServiceAccount,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    for probe in 0.. {
        let name = format!("gc-probe-{probe}");
        let mut owner = ExchangeServiceAccount::new(&name, template.spec.clone());
        owner = esas.create(&PostParams::default(), &owner).await.unwrap();
        let dependent = Secret {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                owner_references: Some(vec![owner.controller_owner_ref(&()).unwrap()]),
                ..Default::default()
            },
            ..Default::default()
        };
        secrets
            .create(&PostParams::default(), &dependent)
            .await
            .unwrap();
        esas.delete(&name, &DeleteParams::default()).await.unwrap();
        let collected_by = tokio::time::Instant::now() + Duration::from_secs(5);
        while tokio::time::Instant::now() < collected_by {
            if secrets.get_opt(&name).await.unwrap().is_none() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        secrets
            .delete(&name, &DeleteParams::default())
            .await
            .unwrap();
        assert!(
            tokio::time::Instant::now() < deadline,
            "the garbage collector never collected a dependent of an account"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_client_gets_real_semantics() {
    let c = Cluster::start().await;
    let client = c.client.clone();
    c.install_crds().await;
    let secrets: Api<Secret> = Api::default_namespaced(client.clone());

    // Create, stale update, generateName.
    let s = secrets
        .create(
            &PostParams::default(),
            &Secret {
                metadata: ObjectMeta {
                    name: Some("a".into()),
                    ..Default::default()
                },
                string_data: Some([("k".to_string(), "v".to_string())].into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(s.metadata.uid.is_some() && s.metadata.creation_timestamp.is_some());
    assert_eq!(s.data.as_ref().unwrap()["k"].0, b"v");
    let mut stale = s.clone();
    secrets
        .replace("a", &PostParams::default(), &s)
        .await
        .unwrap();
    stale.metadata.labels = Some([("x".to_string(), "y".to_string())].into());
    let mut updated = secrets.get("a").await.unwrap();
    updated.metadata.labels = Some([("x".to_string(), "z".to_string())].into());
    secrets
        .replace("a", &PostParams::default(), &updated)
        .await
        .unwrap();
    let err = secrets
        .replace("a", &PostParams::default(), &stale)
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 409),
        "{err}"
    );
    let generated = secrets
        .create(
            &PostParams::default(),
            &Secret {
                metadata: ObjectMeta {
                    generate_name: Some("gen-".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(generated.name_any().starts_with("gen-") && generated.name_any().len() == 9);
    // A stored object sent back to create: its resourceVersion is refused first.
    let err = secrets
        .create(&PostParams::default(), &generated)
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 500
            && s.message == "resourceVersion should not be set on objects to be created"),
        "{err:?}"
    );
    let mut again = generated.clone();
    again.metadata.resource_version = None;
    let err = secrets
        .create(&PostParams::default(), &again)
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 409 && s.reason == "AlreadyExists"),
        "{err:?}"
    );
    assert!(secrets.get_opt("missing").await.unwrap().is_none());
    let elsewhere: Api<Secret> = Api::namespaced(client.clone(), "nowhere");
    let mut generated = generated;
    generated.metadata.namespace = None;
    generated.metadata.resource_version = None;
    assert!(
        matches!(elsewhere.create(&PostParams::default(), &generated).await.unwrap_err(), kube::Error::Api(ref s) if s.code == 404)
    );

    // Status subresource and generation.
    let esas: Api<ExchangeServiceAccount> = Api::default_namespaced(client.clone());
    let manifest = std::fs::read_to_string(repo("examples/api-all-users.yaml")).unwrap();
    let doc = manifest
        .split("\n---")
        .find(|d| d.contains("kind: ExchangeServiceAccount"))
        .unwrap();
    let esa: ExchangeServiceAccount = serde_saphyr::from_str(doc).unwrap();
    let created = esas.create(&PostParams::default(), &esa).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    let with_status = esas
        .patch_status(
            "contoso",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"status": {"message": "hi"}, "spec": {"tenant": "ignored.example.com"}}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(with_status.metadata.generation, Some(1));
    assert_eq!(with_status.spec.tenant, "contoso.onmicrosoft.com");
    assert_eq!(with_status.status.unwrap().message.as_deref(), Some("hi"));
    let changed = esas
        .patch(
            "contoso",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"spec": {"policies": ["Strict"]}, "status": {"message": "ignored"}}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(changed.metadata.generation, Some(2));
    assert_eq!(changed.status.unwrap().message.as_deref(), Some("hi"));
    // The same patch twice: the second changes nothing and stores nothing. (Seen once on a
    // fresh kube-apiserver 1.31: the first repetition after a change got a new
    // resourceVersion; the next one never does.)
    let noop = Patch::Merge(json!({"spec": {"policies": ["Strict"]}}));
    let once = esas
        .patch("contoso", &PatchParams::default(), &noop)
        .await
        .unwrap();
    let same = esas
        .patch("contoso", &PatchParams::default(), &noop)
        .await
        .unwrap();
    assert_eq!(
        same.metadata.resource_version, once.metadata.resource_version,
        "a no-op write stores nothing"
    );
    if c.emulator.is_some() {
        assert_eq!(
            once.metadata.resource_version,
            changed.metadata.resource_version
        );
    }

    // Finalizers hold deletion; owner references collect dependents.
    if c.emulator.is_none() {
        wait_for_the_garbage_collector(&esas, &secrets, &esas.get("contoso").await.unwrap()).await;
    }
    esas.patch("contoso", &PatchParams::default(), &Patch::Json::<()>(serde_json::from_value(json!([{"op": "add", "path": "/metadata/finalizers", "value": ["exo-operator.io/cleanup"]}])).unwrap()))
        .await
        .unwrap();
    let owner = esas
        .get("contoso")
        .await
        .unwrap()
        .controller_owner_ref(&())
        .unwrap();
    secrets
        .create(
            &PostParams::default(),
            &Secret {
                metadata: ObjectMeta {
                    name: Some("owned".into()),
                    owner_references: Some(vec![owner]),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    esas.delete("contoso", &DeleteParams::default())
        .await
        .unwrap();
    let marked = esas.get("contoso").await.unwrap();
    assert!(marked.metadata.deletion_timestamp.is_some());
    assert!(secrets.get_opt("owned").await.unwrap().is_some());
    esas.patch(
        "contoso",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert!(esas.get_opt("contoso").await.unwrap().is_none());
    // Dependents are garbage-collected (at once by the emulator, soon by the real controller
    // manager).
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while secrets.get_opt("owned").await.unwrap().is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the dependent was not garbage-collected"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The write audit (the emulator's, or the real server's audit log).
    let writes = c.writes();
    assert!(
        writes
            .iter()
            .any(|e| e.verb == "create" && e.resource == "v1/secrets")
    );
    assert!(
        writes
            .iter()
            .any(|e| e.verb == "patch" && e.subresource.as_deref() == Some("status"))
    );
    // The emulator also counts requests, and says which writes changed nothing.
    if let Some(emulator) = &c.emulator {
        let stats = emulator.stats();
        assert!(
            stats
                .requests
                .keys()
                .any(|k| k.starts_with("create v1/secrets"))
        );
        assert!(stats.audit.iter().any(|e| e.verb == "patch" && !e.changed));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_events_can_lag_behind_writes() {
    let c = Cluster::start_emulator(EmulatorOptions {
        watch_delay: Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    let client = c.client.clone();
    let maps: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let mut events = maps
        .watch(&kube::api::WatchParams::default().timeout(10), "0")
        .await
        .unwrap()
        .boxed();
    let written = std::time::Instant::now();
    create_config_map(&maps, "late").await;
    // The write is readable at once; its watch event comes 300 ms later.
    assert!(maps.get_opt("late").await.unwrap().is_some());
    let event = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("the event arrives")
        .unwrap()
        .unwrap();
    assert!(matches!(event, kube::api::WatchEvent::Added(ref m) if m.name_any() == "late"));
    assert!(
        written.elapsed() >= Duration::from_millis(300),
        "{:?}",
        written.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_resume_and_relist_after_410() {
    let c = Cluster::start_emulator(EmulatorOptions {
        history_limit: 5,
        bookmark_interval: Duration::from_millis(200),
        ..Default::default()
    })
    .await;
    let client = c.client.clone();
    let maps: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let first = create_config_map(&maps, "m0").await;
    let old_rv = first.resource_version().unwrap();
    for i in 1..10 {
        create_config_map(&maps, &format!("m{i}")).await;
    }
    // A watch from a version the history no longer holds is answered with 410 Gone.
    let events = maps
        .watch(&kube::api::WatchParams::default(), &old_rv)
        .await
        .unwrap();
    let err = std::pin::pin!(events).next().await.unwrap();
    match err {
        Ok(kube::api::WatchEvent::Error(e)) => assert_eq!(e.code, 410),
        other => panic!("{other:?}"),
    }
    // kubectl's watch with a too-old version fails the same way; kube-rs' watcher relists.
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let stream = watcher(maps.clone(), watcher::Config::default());
    let task = tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(ev) = stream.next().await {
            if let Ok(watcher::Event::Apply(cm)) | Ok(watcher::Event::InitApply(cm)) = ev
                && cm.name_any() == "late"
            {
                counter.fetch_add(1, Ordering::SeqCst);
                return;
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    create_config_map(&maps, "late").await;
    tokio::time::timeout(TIMEOUT, task).await.unwrap().unwrap();
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kube_runtime_controller_reconciles_every_object() {
    let c = Cluster::start().await;
    let client = c.client.clone();
    c.install_crds().await;
    let (ok, _, err) = kubectl(&c.kubeconfig, &["apply", "-f", &repo("examples")]).await;
    assert!(ok, "{err}");
    let esas: Api<ExchangeServiceAccount> = Api::all(client.clone());
    let reconciled = Arc::new(AtomicUsize::new(0));
    let count = reconciled.clone();
    let controller = kube::runtime::Controller::new(esas, watcher::Config::default()).run(
        move |esa: Arc<ExchangeServiceAccount>, ctx: Arc<Api<ExchangeServiceAccount>>| {
            let count = count.clone();
            async move {
                let api: Api<ExchangeServiceAccount> = Api::namespaced(
                    ctx.as_ref().clone().into_client(),
                    &esa.namespace().unwrap(),
                );
                api.patch_status(
                    &esa.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(json!({"status": {"message": "seen"}})),
                )
                .await?;
                count.fetch_add(1, Ordering::SeqCst);
                Ok::<_, kube::Error>(Action::await_change())
            }
        },
        |_, _, _| Action::requeue(Duration::from_secs(1)),
        Arc::new(Api::<ExchangeServiceAccount>::all(client.clone())),
    );
    let run = tokio::spawn(controller.for_each(|_| async {}));
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    let api: Api<ExchangeServiceAccount> = Api::all(client.clone());
    loop {
        let all = api.list(&Default::default()).await.unwrap();
        if all
            .items
            .iter()
            .all(|e| e.status.as_ref().and_then(|s| s.message.as_deref()) == Some("seen"))
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not every object was reconciled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    run.abort();
    assert!(reconciled.load(Ordering::SeqCst) >= 4);
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

/// Creates an empty ConfigMap named `name` and returns it as the API server has it.
async fn create_config_map(maps: &Api<ConfigMap>, name: &str) -> ConfigMap {
    maps.create(
        &PostParams::default(),
        &ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .await
    .unwrap()
}
