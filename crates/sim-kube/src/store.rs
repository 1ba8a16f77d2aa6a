//! The emulator's state: served types, objects by type and `(namespace, name)`, one global
//! resourceVersion, a bounded history of watch events, request counters and the write audit.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use serde_json::Value;
use tokio::sync::broadcast;

use super::types::ResourceType;

/// A change, as watchers see it (the object in its stored shape).
#[derive(Clone, Debug)]
pub struct Change {
    /// resourceVersion of the change.
    pub rv: u64,
    /// Storage key of the object's type.
    pub storage: String,
    /// `ADDED`, `MODIFIED` or `DELETED`.
    pub kind: &'static str,
    /// The object after the change (before it, for `DELETED`).
    pub object: Value,
    /// When the change was made.
    pub at: std::time::Instant,
}

/// One write request, for tests and benchmarks.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// When (RFC 3339).
    pub time: String,
    /// `create`, `update`, `patch`, `delete`.
    pub verb: String,
    /// `group/version/plural` (`v1/secrets` for core).
    pub resource: String,
    /// Namespace, if any.
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// Subresource (`status`), if any.
    pub subresource: Option<String>,
    /// The field manager given, if any.
    pub field_manager: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: String,
    /// HTTP status of the answer.
    pub code: u16,
    /// Whether the object changed (a write that changes nothing stores nothing).
    pub changed: bool,
}

/// Counters and audit log.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Stats {
    /// Requests by `verb resource` (e.g. `list v1/secrets`).
    pub requests: BTreeMap<String, u64>,
    /// Every write request, in order.
    pub audit: Vec<AuditEntry>,
}

impl Stats {
    /// Write requests sent by clients whose `User-Agent` starts with `agent`.
    pub fn writes_by(&self, agent: &str) -> Vec<&AuditEntry> {
        self.audit
            .iter()
            .filter(|e| e.user_agent.starts_with(agent))
            .collect()
    }
}

/// Mutable state, under one lock.
pub struct Inner {
    /// Last resourceVersion handed out.
    pub rv: u64,
    /// Served types.
    pub types: Vec<ResourceType>,
    /// Objects by storage key, then `(namespace, name)` (namespace empty when cluster-scoped).
    pub objects: HashMap<String, BTreeMap<(String, String), Value>>,
    history: VecDeque<Arc<Change>>,
    history_limit: usize,
    /// resourceVersion of the oldest change still in the history, minus one.
    pub oldest: u64,
    /// The revision history was last compacted at (as kube-apiserver has etcd compact it),
    /// 0 when never: reads from before it are refused as etcd refuses them.
    pub compacted: u64,
    /// Counters and audit.
    pub stats: Stats,
    tx: broadcast::Sender<Arc<Change>>,
}

impl Inner {
    /// The next resourceVersion.
    pub fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    /// The type served at `group/version/plural`.
    pub fn find_type(&self, group: &str, version: &str, plural: &str) -> Option<ResourceType> {
        self.types
            .iter()
            .find(|t| t.group == group && t.version == version && t.plural == plural)
            .cloned()
    }

    /// Objects of a storage key.
    pub fn objects_of(&mut self, storage: &str) -> &mut BTreeMap<(String, String), Value> {
        self.objects.entry(storage.to_string()).or_default()
    }

    /// The stored object of type `rt` at `key`.
    pub fn object(&self, rt: &ResourceType, key: &(String, String)) -> Option<&Value> {
        self.objects.get(&rt.storage).and_then(|m| m.get(key))
    }

    /// Hands out the next resourceVersion and writes it into `object`'s metadata.
    pub fn stamp(&mut self, object: &mut Value) -> u64 {
        let rv = self.next_rv();
        object["metadata"]["resourceVersion"] = serde_json::json!(rv.to_string());
        rv
    }

    /// Stores `object` at `key` and records the change (`ADDED` or `MODIFIED`) at `rv`.
    pub fn put(
        &mut self,
        storage: &str,
        key: (String, String),
        object: Value,
        kind: &'static str,
        rv: u64,
    ) {
        self.objects_of(storage).insert(key, object.clone());
        self.record(storage, kind, object, rv);
    }

    /// Records that `object`, already taken out of the store, is deleted (at a new
    /// resourceVersion; the object keeps its last one).
    pub fn record_removed(&mut self, storage: &str, object: Value) {
        let rv = self.next_rv();
        self.record(storage, "DELETED", object, rv);
    }

    /// Records a change and sends it to watchers.
    pub fn record(&mut self, storage: &str, kind: &'static str, object: Value, rv: u64) {
        let change = Arc::new(Change {
            rv,
            storage: storage.to_string(),
            kind,
            object,
            at: std::time::Instant::now(),
        });
        self.history.push_back(change.clone());
        // Sent while the lock is held, so watchers see changes in resourceVersion order.
        let _ = self.tx.send(change);
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.oldest = old.rv;
            }
        }
    }

    /// Forgets every change before the current resourceVersion, as an etcd compaction at the
    /// current revision does: watches, exact lists and continue tokens from before it get 410.
    pub fn compact(&mut self) {
        let rv = self.rv;
        self.history.retain(|c| c.rv >= rv);
        self.oldest = rv - 1;
        self.compacted = rv;
    }

    /// Changes after `rv`, or `None` when they are no longer in the history (410 Gone).
    pub fn changes_since(&self, rv: u64) -> Option<Vec<Arc<Change>>> {
        if rv < self.oldest {
            return None;
        }
        Some(self.history.iter().filter(|c| c.rv > rv).cloned().collect())
    }
}

/// The shared store.
pub struct Store {
    inner: Mutex<Inner>,
    tx: broadcast::Sender<Arc<Change>>,
}

impl Store {
    /// An empty store serving `types`, keeping `history_limit` changes for watchers.
    pub fn new(types: Vec<ResourceType>, history_limit: usize) -> Self {
        let (tx, _) = broadcast::channel(history_limit.max(1024));
        Self {
            inner: Mutex::new(Inner {
                rv: 1,
                types,
                objects: HashMap::new(),
                history: VecDeque::new(),
                history_limit,
                oldest: 0,
                compacted: 0,
                stats: Stats::default(),
                tx: tx.clone(),
            }),
            tx,
        }
    }

    /// Locks the state.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A receiver of future changes.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store with changes at resourceVersions 2, 3 and 4.
    fn store_with_three_changes() -> Store {
        let store = Store::new(Vec::new(), 100);
        let mut st = store.lock();
        for name in ["a", "b", "c"] {
            let rv = st.next_rv();
            let object = serde_json::json!({"metadata": {"name": name}});
            st.put("/t", (String::new(), name.into()), object, "ADDED", rv);
        }
        drop(st);
        store
    }

    #[test]
    fn compaction_keeps_what_a_watch_from_the_revision_before_needs() {
        let store = store_with_three_changes();
        let mut st = store.lock();
        assert_eq!(st.changes_since(1).map(|c| c.len()), Some(3));
        st.compact();
        assert_eq!(st.compacted, 4);
        // As etcd after a compaction at revision 4: a watch from 3 starts at 4 and is served.
        assert_eq!(st.changes_since(3).map(|c| c.len()), Some(1));
        assert!(st.changes_since(2).is_none());
        assert_eq!(st.changes_since(4).map(|c| c.len()), Some(0));
    }
}
