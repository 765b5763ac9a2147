//! The query-frontend's results cache (`query_range.cache_results`): the answers
//! of metric query pieces whose last step is older than the tenant's
//! `max_cache_freshness_per_query`, kept in the embedded cache or memcached
//! (`query_range.results_cache.cache`, Loki's keys). A piece found there is not
//! queued. Log queries are not cached (Loki's log results cache keeps only
//! empty answers). The planner picks the cacheable pieces
//! ([`ResultsCache::key`]); `SplitQueryActor` looks them up and stores them.
//!
//! Keys name the tenant and the piece's request with its parameters sorted, so
//! the same piece of a dashboard refreshed later is found again.

use std::hash::{Hash, Hasher};

use bytes::Bytes;
use serde_json::Value;

use super::metrics::frontend_metrics;
use crate::config::cache::CacheConfig;
use crate::proto::frontend::Job;
use crate::storage::cache::ChunkCache;

/// Bumped when the answers' shape changes, so old entries are not read.
const VERSION: &str = "qr1";

pub struct ResultsCache {
    cache: ChunkCache,
}

impl ResultsCache {
    pub fn from_config(c: &CacheConfig) -> ResultsCache {
        ResultsCache::new(ChunkCache::from_config(c))
    }

    pub fn new(cache: ChunkCache) -> ResultsCache {
        ResultsCache { cache }
    }

    /// The cache key of a piece: tenant, method and path with its query
    /// parameters in sorted order, hashed to 128 bits.
    pub fn key(job: &Job) -> String {
        let (path, query) = job.path.split_once('?').unwrap_or((&job.path, ""));
        let mut pairs: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
        pairs.sort_unstable();
        let canonical = format!("{}\n{}\n{}\n{}", job.tenant, job.method, path, pairs.join("&"));
        let h = |salt: u8| {
            let mut s = std::hash::DefaultHasher::new();
            salt.hash(&mut s);
            canonical.hash(&mut s);
            s.finish()
        };
        format!("{VERSION}:{:016x}{:016x}", h(1), h(2))
    }

    /// A cached answer, counted as a hit or a miss.
    pub async fn get(&self, key: &str) -> Option<Value> {
        let v = self.cache.get(key).await.and_then(|b| serde_json::from_slice(&b).ok());
        let m = frontend_metrics();
        if v.is_some() { &m.cache_hits } else { &m.cache_misses }.inc();
        v
    }

    pub async fn put(&self, key: &str, answer: &Value) {
        if let Ok(b) = serde_json::to_vec(answer) {
            self.cache.put(key, &Bytes::from(b)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::cache::ObjectCache;

    fn job(tenant: &str, path: &str) -> Job {
        Job { tenant: tenant.into(), method: "GET".into(), path: path.into(), ..Job::default() }
    }

    #[test]
    fn keys_ignore_parameter_order_but_not_tenant_or_values() {
        let a = ResultsCache::key(&job("t", "/loki/api/v1/query_range?query=x&start=1&end=2&step=1s"));
        let b = ResultsCache::key(&job("t", "/loki/api/v1/query_range?step=1s&end=2&start=1&query=x"));
        assert_eq!(a, b);
        assert_ne!(a, ResultsCache::key(&job("u", "/loki/api/v1/query_range?query=x&start=1&end=2&step=1s")));
        assert_ne!(a, ResultsCache::key(&job("t", "/loki/api/v1/query_range?query=x&start=1&end=3&step=1s")));
        assert!(a.len() < 64 && a.bytes().all(|c| c.is_ascii_graphic()), "a valid memcached key");
    }

    #[actix::test]
    async fn answers_round_trip_and_are_counted() {
        let c = ResultsCache::new(ChunkCache::new(Some(ObjectCache::new(1 << 20)), None));
        let m = frontend_metrics();
        let (h0, m0) = (m.cache_hits.get(), m.cache_misses.get());
        assert!(c.get("k").await.is_none());
        let v = serde_json::json!({"status": "success", "data": {"resultType": "matrix", "result": []}});
        c.put("k", &v).await;
        assert_eq!(c.get("k").await, Some(v));
        assert!(m.cache_hits.get() > h0 && m.cache_misses.get() > m0);
    }
}
