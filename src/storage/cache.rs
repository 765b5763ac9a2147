//! A bounded in-memory cache of objects (chunks, index segments, query results) by
//! key, evicting the least recently inserted entries first once over its byte budget.
//!
//! Used by the store reader; memcached can stand behind the same calls later.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use bytes::Bytes;

pub struct ObjectCache {
    max_bytes: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    map: HashMap<String, Bytes>,
    order: VecDeque<String>,
    bytes: usize,
    hits: u64,
    misses: u64,
}

impl ObjectCache {
    pub fn new(max_bytes: usize) -> ObjectCache {
        ObjectCache { max_bytes, inner: Mutex::new(Inner::default()) }
    }

    pub fn get(&self, key: &str) -> Option<Bytes> {
        let mut i = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let v = i.map.get(key).cloned();
        if v.is_some() {
            i.hits += 1;
        } else {
            i.misses += 1;
        }
        v
    }

    pub fn put(&self, key: &str, value: Bytes) {
        if value.len() > self.max_bytes {
            return;
        }
        let mut i = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        i.bytes += value.len();
        // a key stored again keeps its place in the eviction order with the new value
        // (chunks never change; a results-cache entry is replaced once expired)
        match i.map.insert(key.to_string(), value) {
            Some(old) => i.bytes -= old.len(),
            None => i.order.push_back(key.to_string()),
        }
        while i.bytes > self.max_bytes {
            let Some(old) = i.order.pop_front() else { break };
            if let Some(v) = i.map.remove(&old) {
                i.bytes -= v.len();
            }
        }
    }

    /// (entries, bytes, hits, misses)
    pub fn stats(&self) -> (usize, usize, u64, u64) {
        let i = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        (i.map.len(), i.bytes, i.hits, i.misses)
    }
}

/// The chunk cache: the embedded cache, memcached, or both (memory first).
#[derive(Default)]
pub struct ChunkCache {
    memory: Option<ObjectCache>,
    memcached: Option<super::memcached::Memcached>,
}

impl ChunkCache {
    pub fn new(memory: Option<ObjectCache>, memcached: Option<super::memcached::Memcached>) -> ChunkCache {
        ChunkCache { memory, memcached }
    }

    pub fn from_config(c: &crate::config::cache::CacheConfig) -> ChunkCache {
        let e = &c.embedded_cache;
        let memory = e.enabled.then(|| ObjectCache::new((e.max_size_mb as usize) << 20));
        let mc = &c.memcached_client;
        let max_item = if mc.max_item_size.0 == 0 { 1 << 20 } else { mc.max_item_size.0 as usize };
        let memcached =
            super::memcached::Memcached::new(&mc.servers(), mc.timeout.0, c.memcached.expiration.0, max_item);
        ChunkCache { memory, memcached }
    }

    pub async fn get(&self, key: &str) -> Option<Bytes> {
        if let Some(v) = self.memory.as_ref().and_then(|m| m.get(key)) {
            return Some(v);
        }
        let v = self.memcached.as_ref()?.get(key).await?;
        if let Some(m) = &self.memory {
            m.put(key, v.clone());
        }
        Some(v)
    }

    pub async fn put(&self, key: &str, value: &Bytes) {
        self.put_memory(key, value);
        self.put_memcached(key, value).await;
    }

    /// The embedded layer only, at once.
    pub fn put_memory(&self, key: &str, value: &Bytes) {
        if let Some(m) = &self.memory {
            m.put(key, value.clone());
        }
    }

    /// Memcached only (nothing without it).
    pub async fn put_memcached(&self, key: &str, value: &Bytes) {
        if let Some(mc) = &self.memcached {
            mc.set(key, value).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_by_bytes() {
        let c = ObjectCache::new(10);
        c.put("a", Bytes::from_static(b"12345"));
        c.put("b", Bytes::from_static(b"12345"));
        assert!(c.get("a").is_some());
        c.put("c", Bytes::from_static(b"1"));
        assert!(c.get("a").is_none(), "oldest evicted");
        assert!(c.get("b").is_some() && c.get("c").is_some());
        c.put("huge", Bytes::from(vec![0u8; 11]));
        assert!(c.get("huge").is_none());
        assert_eq!(c.stats().0, 2);
        c.put("b", Bytes::from_static(b"xy"));
        assert_eq!(c.get("b").as_deref(), Some(&b"xy"[..]), "a key stored again holds the new value");
        assert_eq!(c.stats().1, 3, "and its bytes are counted once");
    }
}
