//! The in-memory key cache: a presented key's grant (key, member, workspace) is read from the
//! store at most once per [`TTL`] per node, so checking a key costs a hash and a map lookup.
//!
//! Revocation takes effect at once on the node that revoked (it forgets the key) and within one
//! [`TTL`] on every other node (their entries expire and are read again), well inside the 2 s
//! bound. Unknown keys are cached too, so a client repeating a bad key does not load the store.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use baton_store::{AnyStore, AuthStore, KeyGrant, StoreError};

/// How long a grant read from the store is trusted.
pub(crate) const TTL: Duration = Duration::from_secs(1);

/// Most cached keys; beyond it the expired entries are dropped, then all of them.
const MAX_ENTRIES: usize = 10_000;

/// A key's last use is written at most this often (ms) per node.
const TOUCH_INTERVAL_MS: i64 = 60_000;

struct Entry {
    grant: Option<KeyGrant>,
    fetched: Instant,
}

/// Grants by key hash.
#[derive(Default)]
pub(crate) struct KeyCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl KeyCache {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The grant of the key whose hash is `hash` (`None`: no such key), from the cache while
    /// fresh, else from the store.
    pub(crate) async fn grant(&self, store: &AnyStore, hash: &str, now: i64) -> Result<Option<KeyGrant>, StoreError> {
        if let Some(entry) = self.lock().get(hash)
            && entry.fetched.elapsed() < TTL
        {
            return Ok(entry.grant.clone());
        }
        let grant = store.key_grant(hash).await?;
        if let Some(grant) = &grant
            && grant.key.last_used_at.is_none_or(|at| now - at >= TOUCH_INTERVAL_MS)
        {
            let (store, key_id) = (store.clone(), grant.key.id.clone());
            tokio::spawn(async move {
                if let Err(err) = store.touch_key(&key_id, now).await {
                    tracing::debug!(key_id, error = %err, "cannot record the key's last use");
                }
            });
        }
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, entry| entry.fetched.elapsed() < TTL);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(hash.to_owned(), Entry { grant: grant.clone(), fetched: Instant::now() });
        Ok(grant)
    }

    /// Drops the entry of key `key_id`.
    pub(crate) fn forget_key(&self, key_id: &str) {
        self.lock().retain(|_, entry| entry.grant.as_ref().is_none_or(|grant| grant.key.id != key_id));
    }

    pub(crate) fn clear(&self) {
        self.lock().clear();
    }
}
