//! kube-rs as the operator uses it: API semantics (conflicts, status subresource, no-op
//! writes, finalizers, owner references, the write audit), watches that lag or resume after
//! 410, and a runtime Controller.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde_json::json;

use exo_api::exchange_service_account::ExchangeServiceAccount;
use exo_sim_kube::EmulatorOptions;

use super::cluster::wait::until;
use super::{Cluster, TIMEOUT, create_config_map, example_account, kubectl, refusal, repo};

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
        let dependent = secret(owned_by(&name, &owner));
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

/// A Secret with `metadata` (and no data).
fn secret(metadata: ObjectMeta) -> Secret {
    Secret {
        metadata,
        ..Default::default()
    }
}

/// Metadata of an object `name` owned (as its controller) by `owner`.
fn owned_by(name: &str, owner: &ExchangeServiceAccount) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        owner_references: Some(vec![owner.controller_owner_ref(&()).unwrap()]),
        ..Default::default()
    }
}

/// Create, a stale update (409), generateName, a stored object sent back to create, and a
/// namespace that does not exist.
async fn secrets_conflict_and_are_named(secrets: &Api<Secret>, client: &kube::Client) {
    let post = PostParams::default();
    let s = Secret {
        string_data: Some([("k".to_string(), "v".to_string())].into()),
        ..secret(ObjectMeta {
            name: Some("a".into()),
            ..Default::default()
        })
    };
    let s = secrets.create(&post, &s).await.unwrap();
    assert!(s.metadata.uid.is_some() && s.metadata.creation_timestamp.is_some());
    assert_eq!(s.data.as_ref().unwrap()["k"].0, b"v");
    let mut stale = s.clone();
    secrets.replace("a", &post, &s).await.unwrap();
    stale.metadata.labels = Some([("x".to_string(), "y".to_string())].into());
    let mut updated = secrets.get("a").await.unwrap();
    updated.metadata.labels = Some([("x".to_string(), "z".to_string())].into());
    secrets.replace("a", &post, &updated).await.unwrap();
    let err = refusal(secrets.replace("a", &post, &stale).await);
    assert_eq!(err.code, 409, "{err:?}");
    let generated = secret(ObjectMeta {
        generate_name: Some("gen-".into()),
        ..Default::default()
    });
    let generated = secrets.create(&post, &generated).await.unwrap();
    assert!(generated.name_any().starts_with("gen-") && generated.name_any().len() == 9);
    // A stored object sent back to create: its resourceVersion is refused first.
    let err = refusal(secrets.create(&post, &generated).await);
    assert!(
        err.code == 500
            && err.message == "resourceVersion should not be set on objects to be created",
        "{err:?}"
    );
    let mut again = generated.clone();
    again.metadata.resource_version = None;
    let err = refusal(secrets.create(&post, &again).await);
    assert!(err.code == 409 && err.reason == "AlreadyExists", "{err:?}");
    assert!(secrets.get_opt("missing").await.unwrap().is_none());
    let elsewhere: Api<Secret> = Api::namespaced(client.clone(), "nowhere");
    again.metadata.namespace = None;
    let err = refusal(elsewhere.create(&post, &again).await);
    assert_eq!(err.code, 404, "{err:?}");
}

/// The status subresource and generation: each write changes only its part, and the same
/// patch twice stores nothing the second time.
async fn status_is_a_subresource(c: &Cluster, esas: &Api<ExchangeServiceAccount>) {
    let esa: ExchangeServiceAccount =
        serde_saphyr::from_str(&example_account("api-all-users.yaml")).unwrap();
    let created = esas.create(&PostParams::default(), &esa).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    // A merge patch of the account, to its status subresource or to the object.
    let merge = async |patch: serde_json::Value, status: bool| {
        let (patch, params) = (Patch::Merge(patch), PatchParams::default());
        let written = match status {
            true => esas.patch_status("contoso", &params, &patch).await,
            false => esas.patch("contoso", &params, &patch).await,
        };
        written.unwrap()
    };
    let with_status = merge(
        json!({"status": {"message": "hi"}, "spec": {"tenant": "ignored.example.com"}}),
        true,
    )
    .await;
    assert_eq!(with_status.metadata.generation, Some(1));
    assert_eq!(with_status.spec.tenant, "contoso.onmicrosoft.com");
    assert_eq!(with_status.status.unwrap().message.as_deref(), Some("hi"));
    let changed = merge(
        json!({"spec": {"policies": ["Strict"]}, "status": {"message": "ignored"}}),
        false,
    )
    .await;
    assert_eq!(changed.metadata.generation, Some(2));
    assert_eq!(changed.status.unwrap().message.as_deref(), Some("hi"));
    // The same patch twice: the second changes nothing and stores nothing. (Seen once on a
    // fresh kube-apiserver 1.31: the first repetition after a change got a new
    // resourceVersion; the next one never does.)
    let noop = json!({"spec": {"policies": ["Strict"]}});
    let once = merge(noop.clone(), false).await;
    let same = merge(noop, false).await;
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
}

/// Finalizers hold deletion; owner references collect dependents.
async fn finalizers_hold_and_owners_collect(
    c: &Cluster,
    esas: &Api<ExchangeServiceAccount>,
    secrets: &Api<Secret>,
) {
    if c.emulator.is_none() {
        wait_for_the_garbage_collector(esas, secrets, &esas.get("contoso").await.unwrap()).await;
    }
    esas.patch("contoso", &PatchParams::default(), &Patch::Json::<()>(serde_json::from_value(json!([{"op": "add", "path": "/metadata/finalizers", "value": ["exo-operator.io/cleanup"]}])).unwrap()))
        .await
        .unwrap();
    let owner = esas.get("contoso").await.unwrap();
    let dependent = secret(owned_by("owned", &owner));
    secrets
        .create(&PostParams::default(), &dependent)
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
    until(TIMEOUT, Duration::from_millis(100), async || match secrets
        .get_opt("owned")
        .await
        .unwrap()
    {
        None => Ok(()),
        Some(_) => Err("the dependent to be garbage-collected".to_string()),
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_client_gets_real_semantics() {
    let c = Cluster::start().await;
    let client = c.client.clone();
    c.install_crds().await;
    let secrets: Api<Secret> = Api::default_namespaced(client.clone());
    secrets_conflict_and_are_named(&secrets, &client).await;
    let esas: Api<ExchangeServiceAccount> = Api::default_namespaced(client.clone());
    status_is_a_subresource(&c, &esas).await;
    finalizers_hold_and_owners_collect(&c, &esas, &secrets).await;
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
    // The test's own namespace: a real server is shared with other tests running at once.
    let esas: Api<ExchangeServiceAccount> = Api::default_namespaced(client.clone());
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
        Arc::new(Api::<ExchangeServiceAccount>::default_namespaced(
            client.clone(),
        )),
    );
    let run = tokio::spawn(controller.for_each(|_| async {}));
    let api: Api<ExchangeServiceAccount> = Api::default_namespaced(client.clone());
    until(TIMEOUT, Duration::from_millis(50), async || {
        let all = api.list(&Default::default()).await.unwrap();
        let seen = |e: &ExchangeServiceAccount| {
            e.status.as_ref().and_then(|s| s.message.as_deref()) == Some("seen")
        };
        // The count goes up once a reconcile's write has returned: after the status shows it.
        let counted = reconciled.load(Ordering::SeqCst) >= all.items.len();
        match all.items.iter().all(seen) && counted {
            true => Ok(()),
            false => Err("every object to be reconciled".to_string()),
        }
    })
    .await;
    run.abort();
    assert!(reconciled.load(Ordering::SeqCst) >= 4);
}

/// Server-side apply of a status, as the operator writes every status: the manager owns what
/// it applied, so a field it stops applying is removed; a `resourceVersion` in the apply
/// configuration is a precondition (409 when the object has moved on).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_apply_owns_its_fields_and_honours_a_resource_version() {
    use exo_api::sync_target_list::SyncTargetList;
    let c = Cluster::start().await;
    c.install_crds().await;
    let lists: Api<SyncTargetList> = Api::default_namespaced(c.client.clone());
    let list: SyncTargetList = serde_json::from_value(json!({
        "apiVersion": "exo-operator.io/v1alpha1", "kind": "SyncTargetList",
        "metadata": {"name": "finance"},
        "spec": {"serviceAccountRef": {"name": "a"}, "users": ["a@contoso.com"]},
    }))
    .unwrap();
    let list = lists.create(&PostParams::default(), &list).await.unwrap();
    let apply = |status: serde_json::Value, version: Option<String>| {
        let mut metadata = json!({"name": "finance"});
        if let Some(v) = version {
            metadata["resourceVersion"] = json!(v);
        }
        Patch::Apply(json!({
            "apiVersion": "exo-operator.io/v1alpha1", "kind": "SyncTargetList",
            "metadata": metadata, "status": status,
        }))
    };
    let params = PatchParams::apply("exo-operator").force();
    let first = lists
        .patch_status(
            "finance",
            &params,
            &apply(
                json!({"userCount": 1, "unresolved": [{"entry": "x@contoso.com", "reason": "NotFound"}]}),
                None,
            ),
        )
        .await
        .unwrap();
    assert_eq!(first.status.as_ref().unwrap().unresolved.len(), 1);
    let second = lists
        .patch_status("finance", &params, &apply(json!({"userCount": 2}), None))
        .await
        .unwrap();
    let status = second.status.clone().unwrap();
    assert_eq!(status.user_count, 2);
    assert!(status.unresolved.is_empty(), "{status:?}");

    // Applied to the version it was computed from: refused once the object has moved on.
    let stale = apply(json!({"userCount": 3}), list.resource_version());
    let err = refusal(lists.patch_status("finance", &params, &stale).await);
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
    let current = apply(json!({"userCount": 3}), second.resource_version());
    let third = lists
        .patch_status("finance", &params, &current)
        .await
        .unwrap();
    assert_eq!(third.status.unwrap().user_count, 3);

    // A map applied empty, then with members: the members stay (it is their parent).
    let mut esa: ExchangeServiceAccount =
        serde_saphyr::from_str(&example_account("inline-inbound.yaml")).unwrap();
    esa.metadata.namespace = None;
    let esas: Api<ExchangeServiceAccount> = Api::default_namespaced(c.client.clone());
    let esa = esas.create(&PostParams::default(), &esa).await.unwrap();
    let status = |mail_flow: serde_json::Value| {
        Patch::Apply(json!({
            "apiVersion": "exo-operator.io/v1alpha1", "kind": "ExchangeServiceAccount",
            "metadata": {"name": esa.name_any()}, "status": {"mailFlow": mail_flow},
        }))
    };
    esas.patch_status(&esa.name_any(), &params, &status(json!({})))
        .await
        .unwrap();
    let filled = esas
        .patch_status(
            &esa.name_any(),
            &params,
            &status(json!({"objects": ["TransportRule/r"]})),
        )
        .await
        .unwrap();
    let mail_flow = filled.status.and_then(|s| s.mail_flow);
    assert_eq!(
        mail_flow.map(|m| m.objects),
        Some(vec!["TransportRule/r".to_string()])
    );
    c.shutdown().await;
}
