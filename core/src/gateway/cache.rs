//! Short-lived caches for the hot path: who a key belongs to, and model configs. Each entry
//! lives at most `GatewayConfig::cache_ttl`; every change made through this gateway clears them at
//! once, so one replica never serves stale state, and other replicas see a change within the TTL.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

use crate::clock::Timestamp;
use crate::domain::{ModelConfig, Provider};

use super::AgentPrincipal;
use super::outbound::InstanceCredentials;

/// Entries one cache holds before it starts afresh (a bound on memory, not an LRU).
const MAX_ENTRIES: usize = 10_000;

/// A map whose entries expire.
pub(super) struct TtlCache<K, V> {
    ttl: chrono::Duration,
    entries: Mutex<HashMap<K, (V, Timestamp)>>,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    pub(super) fn new(ttl: chrono::Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn enabled(&self) -> bool {
        self.ttl > chrono::Duration::zero()
    }

    pub(super) fn get(&self, key: &K, now: Timestamp) -> Option<V> {
        if !self.enabled() {
            return None;
        }
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(_, at)| now - *at < self.ttl && now >= *at)
            .map(|(v, _)| v.clone())
    }

    pub(super) fn put(&self, key: K, value: V, now: Timestamp) {
        if !self.enabled() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (value, now));
    }

    pub(super) fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

/// The gateway's caches.
pub(super) struct Caches {
    /// Key hash → the principal it authenticated as.
    pub(super) principals: TtlCache<String, AgentPrincipal>,
    /// Model config id → the config (or its absence).
    pub(super) models: TtlCache<String, Option<ModelConfig>>,
    /// (instance, provider) → the credentials its calls use.
    pub(super) credentials: TtlCache<(String, Provider), InstanceCredentials>,
}

impl Caches {
    pub(super) fn new(ttl: chrono::Duration) -> Self {
        Self {
            principals: TtlCache::new(ttl),
            models: TtlCache::new(ttl),
            credentials: TtlCache::new(ttl),
        }
    }

    pub(super) fn clear(&self) {
        self.principals.clear();
        self.models.clear();
        self.credentials.clear();
    }
}
