//! The process-wide token cache: one token per tenant, application, credential and resource,
//! fetched at most once at a time (concurrent callers wait for the same request), replaced
//! before it expires, and dropped on demand (a rotated credential, a new role assignment, a
//! deleted account).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use super::token::AccessToken;

/// What a cached token is for.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct CacheKey {
    /// Tenant id or domain, as the account names it.
    pub tenant: String,
    /// Application (client) id.
    pub client_id: String,
    /// `.default` scope of the resource.
    pub scope: String,
    /// Fingerprint of the credential (or of the refresh token's owner for delegated tokens), so
    /// that a rotated credential never reuses a token obtained with the old one.
    pub credential: String,
}

type Slot = Arc<tokio::sync::Mutex<Option<AccessToken>>>;

/// Cached access tokens, shared by all reconcilers.
#[derive(Default)]
pub struct TokenCache {
    slots: Mutex<HashMap<CacheKey, Slot>>,
}

impl TokenCache {
    /// The cached token for `key` when it is still fresh at `now`; otherwise runs `fetch` (only
    /// one caller per key at a time) and caches its result. Errors are not cached.
    pub async fn get_or_fetch<F, Fut, E>(
        &self,
        key: &CacheKey,
        now: impl Fn() -> jiff::Timestamp,
        fetch: F,
    ) -> Result<AccessToken, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<AccessToken, E>>,
    {
        let slot = self.slot(key);
        let mut guard = slot.lock().await;
        if let Some(token) = guard.as_ref()
            && !token.needs_refresh(now())
        {
            return Ok(token.clone());
        }
        let token = fetch().await?;
        *guard = Some(token.clone());
        Ok(token)
    }

    /// Caches `token` for `key` (a token obtained outside [`Self::get_or_fetch`], e.g. by a
    /// device-code sign-in).
    pub async fn insert(&self, key: &CacheKey, token: AccessToken) {
        let slot = self.slot(key);
        *slot.lock().await = Some(token);
    }

    /// The cached token for `key`, fresh or not, without fetching.
    pub fn peek(&self, key: &CacheKey) -> Option<AccessToken> {
        let slot = self.slots.lock().unwrap().get(key).cloned()?;
        let guard = slot.try_lock().ok()?;
        guard.clone()
    }

    /// Drops every token of a tenant and application (after a role assignment or a credential
    /// change, or when the account is deleted).
    pub fn forget(&self, tenant: &str, client_id: &str) {
        self.slots
            .lock()
            .unwrap()
            .retain(|k, _| !(k.tenant == tenant && k.client_id == client_id));
    }

    /// Drops the token of one key (a token that must be issued again to carry a new role).
    pub fn forget_key(&self, key: &CacheKey) {
        self.slots.lock().unwrap().remove(key);
    }

    /// Number of cached keys.
    pub fn len(&self) -> usize {
        self.slots.lock().unwrap().len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn slot(&self, key: &CacheKey) -> Slot {
        self.slots
            .lock()
            .unwrap()
            .entry(key.clone())
            .or_default()
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    fn key(scope: &str) -> CacheKey {
        CacheKey {
            tenant: "t".into(),
            client_id: "c".into(),
            scope: scope.into(),
            credential: "f".into(),
        }
    }

    fn token(now: jiff::Timestamp) -> AccessToken {
        AccessToken::new("v".into(), Some(Duration::from_secs(3600)), now)
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_fetch() {
        let cache = Arc::new(TokenCache::default());
        let fetches = Arc::new(AtomicU32::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (cache, fetches) = (cache.clone(), fetches.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .get_or_fetch(&key("graph"), jiff::Timestamp::now, || async {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok::<_, ()>(token(jiff::Timestamp::now()))
                    })
                    .await
                    .unwrap()
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    /// `get_or_fetch` of the graph key at `now`, fetching `result` when due.
    async fn fetch_graph_at(
        cache: &TokenCache,
        now: jiff::Timestamp,
        result: Result<AccessToken, &'static str>,
    ) -> Result<AccessToken, &'static str> {
        cache
            .get_or_fetch(&key("graph"), || now, || async { result })
            .await
    }

    #[tokio::test]
    async fn refetches_when_due_and_does_not_cache_errors() {
        let cache = TokenCache::default();
        let start = jiff::Timestamp::from_second(1_000_000).unwrap();
        let first = fetch_graph_at(&cache, start, Ok(token(start)))
            .await
            .unwrap();
        // Still fresh: no fetch.
        let same = fetch_graph_at(&cache, start, Err("must not fetch"))
            .await
            .unwrap();
        assert_eq!(same.issued_at, first.issued_at);
        // Due for refresh: the fetch runs, and its error is returned, not cached.
        let later = start + jiff::SignedDuration::from_mins(50);
        let err = fetch_graph_at(&cache, later, Err("down"))
            .await
            .unwrap_err();
        assert_eq!(err, "down");
        let renewed = fetch_graph_at(&cache, later, Ok(token(later)))
            .await
            .unwrap();
        assert_eq!(renewed.issued_at, later);
    }

    #[tokio::test]
    async fn forget_drops_one_tenant_and_application() {
        let cache = TokenCache::default();
        let now = jiff::Timestamp::now();
        for scope in ["graph", "exchange"] {
            cache
                .get_or_fetch(&key(scope), || now, || async { Ok::<_, ()>(token(now)) })
                .await
                .unwrap();
        }
        assert!(cache.peek(&key("graph")).is_some());
        cache.forget("other", "c");
        assert_eq!(cache.len(), 2);
        cache.forget("t", "c");
        assert!(cache.is_empty());
    }
}
