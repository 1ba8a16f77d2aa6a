//! A controller's cache with a "filled" signal that any number of tasks may await.
//!
//! kube-runtime's `Store::wait_until_ready` keeps one waker only: of two tasks awaiting it
//! (the controller holding its reconciles, and a reconcile of another controller or the
//! readiness probe), the one that polled first is never woken. The operator's own waiters
//! use [`Cache::filled`] instead, which is set by the same event that readies the store.

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::controller::Controller;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::{self, watcher};
use tokio::sync::watch;

/// The cache of a controller's main resource, and whether its first list is in.
#[derive(Clone)]
pub struct Cache<K: kube::Resource<DynamicType = ()> + 'static> {
    store: Store<K>,
    filled: watch::Receiver<bool>,
}

impl<K: kube::Resource<DynamicType = ()> + Clone + 'static> Cache<K> {
    /// The objects, as the watch last saw them.
    pub fn store(&self) -> &Store<K> {
        &self.store
    }

    /// Whether the first list has been applied to the cache.
    pub fn is_filled(&self) -> bool {
        *self.filled.borrow()
    }

    /// Waits until the first list has been applied; false when the watch ended before.
    pub async fn filled(&self) -> bool {
        self.filled.clone().wait_for(|f| *f).await.is_ok()
    }
}

/// A controller of the objects of `api` (watched with `config`) and its cache.
pub fn controller<K>(api: Api<K>, config: watcher::Config) -> (Controller<K>, Cache<K>)
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (store, writer) = reflector::store();
    let (tx, filled) = watch::channel(false);
    // The reflector applies an event to the store before passing it on: once `InitDone` is
    // seen here, the store holds the first list.
    let objects = reflector::reflector(writer, watcher(api, config))
        .inspect(move |event| {
            if matches!(event, Ok(watcher::Event::InitDone)) {
                tx.send_replace(true);
            }
        })
        .applied_objects();
    let controller = Controller::for_stream(objects, store.clone());
    (controller, Cache { store, filled })
}

/// A store holding `objects`, as a first list leaves it (for a one-off pass, such as `plan`,
/// that watches nothing).
pub fn store_of<K>(objects: impl IntoIterator<Item = K>) -> Store<K>
where
    K: kube::Resource<DynamicType = ()> + Clone + 'static,
{
    let (store, mut writer) = reflector::store();
    writer.apply_watcher_event(&watcher::Event::Init);
    for object in objects {
        writer.apply_watcher_event(&watcher::Event::InitApply(object));
    }
    writer.apply_watcher_event(&watcher::Event::InitDone);
    store
}

impl<K: kube::Resource<DynamicType = ()> + Clone + 'static> Cache<K> {
    /// A filled cache holding `objects` (see [`store_of`]).
    pub fn of(objects: impl IntoIterator<Item = K>) -> Self {
        Cache {
            store: store_of(objects),
            filled: watch::channel(true).1,
        }
    }
}
