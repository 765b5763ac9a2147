//! A bounded in-memory cache of immutable objects (chunks, index segments) by key,
//! evicting the least recently inserted entries first once over its byte budget.
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
        if i.map.contains_key(key) {
            return;
        }
        i.bytes += value.len();
        i.map.insert(key.to_string(), value);
        i.order.push_back(key.to_string());
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
    }
}
