//! Wiring of the controllers: what each watches, how changes map to the account (or service)
//! that must look again, and a shared shutdown. Per watch (a namespace, or every one): the
//! accounts', the lists' and the namespaced services' controllers; once per operator: the
//! cluster services' controller.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::WatchStreamExt;
use kube::runtime::controller::Config as ControllerConfig;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher::{self, watcher};
use tokio::sync::{mpsc, watch};

use super::cache::{self, Cache};
use super::context::Context;
use super::{email_security_service, service_account, sync_target_list};
use exo_api::email_security_service::{
    ClusterEmailSecurityService, EmailSecurityService, ServiceKind,
};
use exo_api::exchange_service_account::{AuthorizationMethod, ExchangeServiceAccount};
use exo_api::sync_target_list::SyncTargetList;

/// Where the controllers look.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    /// Only these namespaces (one pair of controllers each); every namespace when empty.
    pub namespaces: Vec<String>,
}

impl Scope {
    /// Every namespace.
    pub fn all() -> Self {
        Self::default()
    }

    /// Only `namespace`.
    pub fn namespace(namespace: &str) -> Self {
        Self {
            namespaces: vec![namespace.to_string()],
        }
    }

    /// One watch per namespace (or one over every namespace).
    fn watches(&self) -> Vec<Watch> {
        if self.namespaces.is_empty() {
            return vec![Watch { namespace: None }];
        }
        let mut names = self.namespaces.clone();
        names.sort();
        names.dedup();
        names
            .into_iter()
            .map(|n| Watch { namespace: Some(n) })
            .collect()
    }
}

/// What one pair of controllers watches: one namespace, or every namespace.
#[derive(Clone, Debug)]
struct Watch {
    namespace: Option<String>,
}

impl Watch {
    fn api<K>(&self, client: &kube::Client) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        match &self.namespace {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        }
    }
}

/// How long a stop waits for running reconciles (Kubernetes gives a pod 30 s by default).
pub const STOP_GRACE: Duration = Duration::from_secs(20);

/// Handles to the running controllers, for the health server and the consent callback.
#[derive(Clone, Default)]
pub struct Handles {
    watches: Vec<WatchHandle>,
    protection: Option<Arc<crate::protection::Keeper>>,
}

#[derive(Clone)]
struct WatchHandle {
    namespace: Option<String>,
    accounts: Cache<ExchangeServiceAccount>,
    trigger: mpsc::Sender<ObjectRef<ExchangeServiceAccount>>,
}

impl Handles {
    /// The subscription keeper, for the lifecycle notifications the HTTP port receives.
    pub fn protection(&self) -> Option<&Arc<crate::protection::Keeper>> {
        self.protection.as_ref()
    }

    /// Waits until every accounts' cache has been filled by its first list.
    pub async fn wait_until_ready(&self) -> bool {
        for watch in &self.watches {
            if !watch.accounts.filled().await {
                return false;
            }
        }
        true
    }

    /// Whether account `namespace/name` exists, as the cache of the controller watching its
    /// namespace has it; `None` when no controller watches that namespace or its cache is not
    /// filled yet.
    pub fn account_exists(&self, namespace: &str, name: &str) -> Option<bool> {
        let part = self
            .watches
            .iter()
            .find(|p| p.namespace.as_deref().is_none_or(|n| n == namespace))?;
        if !part.accounts.is_filled() {
            return None;
        }
        let key = ObjectRef::new(name).within(namespace);
        Some(part.accounts.store().get(&key).is_some())
    }

    /// Asks for a reconcile of account `namespace/name` now; false when no controller watches
    /// that namespace.
    pub async fn trigger(&self, namespace: &str, name: &str) -> bool {
        let Some(part) = self
            .watches
            .iter()
            .find(|p| p.namespace.as_deref().is_none_or(|n| n == namespace))
        else {
            return false;
        };
        part.trigger
            .send(ObjectRef::new(name).within(namespace))
            .await
            .is_ok()
    }
}

/// Secrets of the account's namespace that should wake `esa`: its own application's
/// credentials, notification settings and refresh token. (Its service's Secrets wake it
/// through the service, see [`accounts_referring_to`].)
pub fn referenced_secrets(esa: &ExchangeServiceAccount) -> Vec<String> {
    let spec = &esa.spec;
    let mut names = Vec::new();
    if let Some(own) = &spec.application {
        names.push(own.credentials.secret_name.clone());
    }
    if let Some(n) = &spec.notifications {
        if let Some(w) = &n.webhook {
            names.push(w.url_secret_ref.name.clone());
        }
        if let Some(e) = &n.email {
            names.push(e.smtp_secret_name.clone());
        }
    }
    if spec.authorization.method == AuthorizationMethod::DeviceCode
        && let Some(rt) = &spec.authorization.refresh_token_secret_name
    {
        // A Secret the user manages (not one the operator writes) wakes the account too.
        names.push(rt.clone());
    }
    names
}

/// Runs both controllers of one watch until `shutdown` turns true. `ready` receives the
/// handles once the controllers are wired.
async fn run(
    ctx: Arc<Context>,
    scope: Watch,
    shutdown: watch::Receiver<bool>,
    ready: Option<tokio::sync::oneshot::Sender<Handles>>,
) {
    let client = ctx.client.clone();
    let accounts: Api<ExchangeServiceAccount> = scope.api(&client);
    let lists: Api<SyncTargetList> = scope.api(&client);
    let services: Api<EmailSecurityService> = scope.api(&client);
    let secrets = || -> Api<PartialObjectMeta<Secret>> {
        match &scope.namespace {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        }
    };
    let config = ControllerConfig::default().concurrency(ctx.settings.concurrency);
    let (trigger_tx, trigger_rx) = mpsc::channel::<ObjectRef<ExchangeServiceAccount>>(64);
    ctx.protection
        .add_trigger(scope.namespace.clone(), trigger_tx.clone());
    let watched = Watched {
        ctx: &ctx,
        config,
        shutdown: &shutdown,
    };
    let (store, accounts_run) = watched.accounts_controller(
        accounts.clone(),
        lists.clone(),
        services.clone(),
        secrets(),
        trigger_rx,
    );
    let (lists_store, lists_run) = watched.lists_controller(lists, accounts.clone());
    let (services_store, services_run) = watched.services_controller(services, accounts, secrets());
    let forced = forced_stop(shutdown.clone(), store.clone(), lists_store, services_store);

    if let Some(ready) = ready {
        let _ = ready.send(Handles {
            watches: vec![WatchHandle {
                namespace: scope.namespace.clone(),
                accounts: store,
                trigger: trigger_tx,
            }],
            protection: Some(ctx.protection.clone()),
        });
    }
    tracing::info!(
        namespace = scope.namespace.as_deref().unwrap_or("*"),
        "controllers started"
    );
    tokio::select! {
        _ = futures::future::join3(accounts_run, lists_run, services_run) => {}
        _ = forced => {}
    }
    // No subscription is kept by a replica whose controllers stopped (another may lead now).
    ctx.protection.stop_all();
    tracing::info!("controllers stopped");
}

/// What the controllers of one watch share.
struct Watched<'a> {
    ctx: &'a Arc<Context>,
    config: ControllerConfig,
    shutdown: &'a watch::Receiver<bool>,
}

impl Watched<'_> {
    /// The accounts' controller: woken by the account, its list, its service (of either kind),
    /// the Secrets it or its service references, and on-demand triggers. Returns its cache and
    /// its run.
    fn accounts_controller(
        &self,
        accounts: Api<ExchangeServiceAccount>,
        lists: Api<SyncTargetList>,
        services: Api<EmailSecurityService>,
        secrets: Api<PartialObjectMeta<Secret>>,
        triggers: mpsc::Receiver<ObjectRef<ExchangeServiceAccount>>,
    ) -> (
        Cache<ExchangeServiceAccount>,
        impl std::future::Future<Output = ()> + use<>,
    ) {
        let (controller, cache) = cache::controller(accounts, watcher::Config::default());
        self.ctx.watch_accounts(cache.clone());
        let store = cache.store().clone();
        let (secret_store, service_store, cluster_store) =
            (store.clone(), store.clone(), store.clone());
        let ctx = self.ctx.clone();
        let secret_changes = watcher(secrets, watcher::Config::default())
            .touched_objects()
            .default_backoff();
        let cluster_services: Api<ClusterEmailSecurityService> = Api::all(self.ctx.client.clone());
        let run = controller
            .watches(lists, watcher::Config::default(), |stl: SyncTargetList| {
                let ns = stl.namespace().unwrap_or_default();
                Some(ObjectRef::new(&stl.spec.service_account_ref.name).within(&ns))
            })
            .watches(services, watcher::Config::default(), move |ess| {
                accounts_of_service(
                    &service_store,
                    ServiceKind::EmailSecurityService,
                    ess.namespace().as_deref(),
                    &ess.name_any(),
                )
            })
            .watches(cluster_services, watcher::Config::default(), move |cess| {
                accounts_of_service(
                    &cluster_store,
                    ServiceKind::ClusterEmailSecurityService,
                    None,
                    &cess.name_any(),
                )
            })
            .watches_stream(secret_changes, move |secret| {
                accounts_referring_to(&secret_store, &ctx, &secret)
            })
            .reconcile_on(tokio_stream_from(triggers))
            .with_config(self.config.clone())
            .graceful_shutdown_on(stopped(self.shutdown.clone()))
            .run(
                service_account::reconcile,
                service_account::error_policy,
                self.ctx.clone(),
            )
            .for_each(|result| log_incomplete("account", result));
        (cache, run)
    }

    /// The namespaced services' controller: woken by the service, by any account of its
    /// namespace (whose count it keeps) and by the Secrets it names. Its cache tells the
    /// accounts' controller which Secrets a service names.
    fn services_controller(
        &self,
        services: Api<EmailSecurityService>,
        accounts: Api<ExchangeServiceAccount>,
        secrets: Api<PartialObjectMeta<Secret>>,
    ) -> (
        Cache<EmailSecurityService>,
        impl std::future::Future<Output = ()> + use<>,
    ) {
        let (controller, cache) = cache::controller(services, watcher::Config::default());
        self.ctx.watch_services(cache.store().clone());
        let store = cache.store().clone();
        let (by_account, by_secret) = (store.clone(), store.clone());
        let secret_changes = watcher(secrets, watcher::Config::default())
            .touched_objects()
            .default_backoff();
        let run = controller
            .watches(accounts, watcher::Config::default(), move |esa| {
                // Every service of the namespace: the account may have left one for another.
                let ns = esa.namespace();
                by_account
                    .state()
                    .into_iter()
                    .filter(|s| s.namespace() == ns)
                    .map(|s| ObjectRef::from_obj(&*s))
                    .collect::<Vec<_>>()
            })
            .watches_stream(secret_changes, move |secret| {
                let (ns, name) = (secret.namespace(), secret.name_any());
                by_secret
                    .state()
                    .into_iter()
                    .filter(|s| {
                        s.namespace() == ns
                            && email_security_service::referenced_secrets(&s.spec).contains(&name)
                    })
                    .map(|s| ObjectRef::from_obj(&*s))
                    .collect::<Vec<_>>()
            })
            .with_config(self.config.clone())
            .graceful_shutdown_on(stopped(self.shutdown.clone()))
            .run(
                email_security_service::reconcile,
                email_security_service::error_policy,
                self.ctx.clone(),
            )
            .for_each(|result| log_incomplete("service", result));
        (cache, run)
    }

    /// The lists' controller: woken by the list and by the accounts that name it. Returns its
    /// cache and its run.
    fn lists_controller(
        &self,
        lists: Api<SyncTargetList>,
        accounts: Api<ExchangeServiceAccount>,
    ) -> (
        Cache<SyncTargetList>,
        impl std::future::Future<Output = ()> + use<>,
    ) {
        let (controller, cache) = cache::controller(lists, watcher::Config::default());
        let referring_lists = cache.store().clone();
        let run = controller
            .watches(accounts, watcher::Config::default(), move |esa| {
                lists_of(&referring_lists, &esa)
            })
            .with_config(self.config.clone())
            .graceful_shutdown_on(stopped(self.shutdown.clone()))
            .run(
                sync_target_list::reconcile,
                sync_target_list::error_policy,
                self.ctx.clone(),
            )
            .for_each(|result| log_incomplete("list", result));
        (cache, run)
    }
}

/// The cluster services' controller, once per operator: woken by the service, by any account
/// of the watched namespaces (whose count it keeps) and by the Secrets of the cluster resource
/// namespace it names. Its cache tells the accounts' controllers which Secrets it names.
async fn cluster_services(ctx: Arc<Context>, scope: Scope, shutdown: watch::Receiver<bool>) {
    // A cluster-scoped object has one status: only an operator that sees every namespace
    // (and so every account) writes it; operators scoped to namespaces only read it.
    let owns_status = scope.namespaces.is_empty();
    let client = ctx.client.clone();
    let services: Api<ClusterEmailSecurityService> = Api::all(client.clone());
    let (controller, filled) = cache::controller(services, watcher::Config::default());
    ctx.watch_cluster_services(filled.store().clone());
    let store = filled.store().clone();
    let account_changes = futures::stream::select_all(scope.watches().into_iter().map(|w| {
        watcher(
            w.api::<ExchangeServiceAccount>(&client),
            watcher::Config::default(),
        )
        .touched_objects()
        .default_backoff()
        .boxed()
    }));
    let secrets: Api<PartialObjectMeta<Secret>> =
        Api::namespaced(client, &ctx.settings.cluster_resource_namespace);
    let secret_changes = watcher(secrets, watcher::Config::default())
        .touched_objects()
        .default_backoff();
    let (by_account, by_secret) = (store.clone(), store);
    let config = ControllerConfig::default().concurrency(ctx.settings.concurrency);
    // As for the other controllers: a stop before the cache is filled ends at once, a
    // reconcile that outlives the grace period is cancelled.
    let graceful = stopped(shutdown.clone());
    let forced = async move {
        stopped(shutdown).await;
        if filled.is_filled() {
            tokio::time::sleep(STOP_GRACE).await;
        }
    };
    let run = controller
        .watches_stream(account_changes, move |_esa| {
            // Every cluster service: the account may have left one for another.
            by_account
                .state()
                .into_iter()
                .map(|s| ObjectRef::from_obj(&*s))
                .collect::<Vec<_>>()
        })
        .watches_stream(secret_changes, move |secret| {
            let name = secret.name_any();
            by_secret
                .state()
                .into_iter()
                .filter(|s| email_security_service::referenced_secrets(&s.spec).contains(&name))
                .map(|s| ObjectRef::from_obj(&*s))
                .collect::<Vec<_>>()
        })
        .with_config(config)
        .graceful_shutdown_on(graceful)
        .run(
            move |service, ctx| async move {
                match owns_status {
                    true => email_security_service::reconcile_cluster(service, ctx).await,
                    false => Ok(kube::runtime::controller::Action::await_change()),
                }
            },
            email_security_service::error_policy,
            ctx,
        )
        .for_each(|result| log_incomplete("cluster service", result));
    tokio::select! {
        _ = run => {}
        _ = forced => {}
    }
}

/// Resolves once `shutdown` turns true.
async fn stopped(mut shutdown: watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// A graceful stop waits for running reconciles, which only start once the caches are
/// filled; a stop before that (or a reconcile that outlives the grace period) ends at once.
async fn forced_stop(
    shutdown: watch::Receiver<bool>,
    accounts: Cache<ExchangeServiceAccount>,
    lists: Cache<SyncTargetList>,
    services: Cache<EmailSecurityService>,
) {
    stopped(shutdown).await;
    if accounts.is_filled() && lists.is_filled() && services.is_filled() {
        tokio::time::sleep(STOP_GRACE).await;
        tracing::warn!(grace = ?STOP_GRACE, "reconciles still running at shutdown were cancelled");
    }
}

/// The accounts that name `secret`, or whose service (in the secret's namespace) names it.
fn accounts_referring_to(
    accounts: &Store<ExchangeServiceAccount>,
    ctx: &Context,
    secret: &PartialObjectMeta<Secret>,
) -> Vec<ObjectRef<ExchangeServiceAccount>> {
    let ns = secret.namespace().unwrap_or_default();
    let name = secret.name_any();
    accounts
        .state()
        .into_iter()
        .filter(|esa| {
            let own = esa.namespace().as_deref() == Some(ns.as_str())
                && referenced_secrets(esa).contains(&name);
            own || ctx.service_of(esa).is_some_and(|(spec, service_ns)| {
                service_ns == ns
                    && email_security_service::referenced_secrets(&spec).contains(&name)
            })
        })
        .map(|esa| ObjectRef::from_obj(&*esa))
        .collect()
}

/// The accounts that name the service `kind`/`name` (of `namespace`, for a namespaced one).
fn accounts_of_service(
    accounts: &Store<ExchangeServiceAccount>,
    kind: ServiceKind,
    namespace: Option<&str>,
    name: &str,
) -> Vec<ObjectRef<ExchangeServiceAccount>> {
    accounts
        .state()
        .into_iter()
        .filter(|esa| {
            let r = &esa.spec.service_ref;
            r.kind == kind
                && r.name == name
                && (namespace.is_none() || esa.namespace().as_deref() == namespace)
        })
        .map(|esa| ObjectRef::from_obj(&*esa))
        .collect()
}

/// The list the account selects, and every list that names the account (whose report of a
/// missing or non-selecting account may have just become false).
fn lists_of(
    lists: &Store<SyncTargetList>,
    esa: &ExchangeServiceAccount,
) -> Vec<ObjectRef<SyncTargetList>> {
    let ns = esa.namespace().unwrap_or_default();
    let name = esa.name_any();
    let mut refs: Vec<ObjectRef<SyncTargetList>> = lists
        .state()
        .into_iter()
        .filter(|stl| {
            stl.namespace().as_deref() == Some(ns.as_str())
                && stl.spec.service_account_ref.name == name
        })
        .map(|stl| ObjectRef::from_obj(&*stl))
        .collect();
    if let Some(r) = &esa.spec.sync.target_list_ref {
        let selected = ObjectRef::new(&r.name).within(&ns);
        if !refs.contains(&selected) {
            refs.push(selected);
        }
    }
    refs
}

/// Logs a reconcile that did not complete (its error policy has already scheduled the retry).
async fn log_incomplete<T, E: std::fmt::Display>(what: &'static str, result: Result<T, E>) {
    if let Err(e) = result {
        tracing::debug!(error = %e, what, "reconcile did not complete");
    }
}

fn tokio_stream_from<T: Send + 'static>(
    mut rx: mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// A running operator: both controllers and the HTTP port, stopped with [`Operator::stop`].
pub struct Operator {
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Address of the HTTP port, when one was given.
    pub http_addr: Option<std::net::SocketAddr>,
    /// Handles for an HTTP port served apart from the operator (leader election).
    pub handles: Handles,
}

impl Operator {
    /// Starts the controllers with `ctx` in `scope`, and serves `http` (health, readiness,
    /// consent callback) when given.
    pub async fn start(
        ctx: Arc<Context>,
        scope: Scope,
        http: Option<tokio::net::TcpListener>,
    ) -> Operator {
        let (shutdown, rx) = watch::channel(false);
        ctx.forget_account_caches();
        let mut tasks = Vec::new();
        let mut handles = Handles::default();
        for w in scope.watches() {
            let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
            tasks.push(tokio::spawn(run(
                ctx.clone(),
                w,
                rx.clone(),
                Some(ready_tx),
            )));
            let part = ready_rx
                .await
                .expect("the controllers report their handles");
            handles.watches.extend(part.watches);
            handles.protection = handles.protection.or(part.protection);
        }
        tasks.push(tokio::spawn(cluster_services(
            ctx.clone(),
            scope,
            rx.clone(),
        )));
        let http_addr = http.as_ref().and_then(|l| l.local_addr().ok());
        if let Some(listener) = http {
            let (handles_tx, handles_rx) = watch::channel(Some(handles.clone()));
            let rx = rx.clone();
            let client = ctx.client.clone();
            tasks.push(tokio::spawn(async move {
                // Keep the sender alive as long as the server runs.
                let _handles_tx = handles_tx;
                if let Err(e) =
                    crate::telemetry::server::serve(listener, client, handles_rx, rx, false).await
                {
                    tracing::error!(error = %e, "the HTTP port failed");
                }
            }));
        }
        Operator {
            shutdown,
            tasks,
            http_addr,
            handles,
        }
    }

    /// Ends the operator at once, as a killed process would: running reconciles are cancelled
    /// at their next await point, whatever they were doing.
    pub async fn kill(self) {
        for task in &self.tasks {
            task.abort();
        }
        for task in self.tasks {
            let _ = task.await;
        }
    }

    /// Stops the controllers (letting running reconciles finish) and the HTTP port.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
