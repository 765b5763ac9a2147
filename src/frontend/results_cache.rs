//! The query-frontend's results cache (`query_range.cache_results`): the answers
//! of metric query pieces whose last step is older than the tenant's
//! `max_cache_freshness_per_query`, kept in the embedded cache or memcached
//! (`query_range.results_cache.cache`, Loki's keys) for at most
//! `embedded_cache.ttl` (1h). A piece found there is not queued. Only complete
//! answers are stored: not errors, not answers with warnings (data left out).
//! Log queries are not cached (Loki's log results cache keeps only empty
//! answers). The planner picks the cacheable pieces ([`ResultsCache::request`]);
//! `SplitQueryActor` looks them up and stores them.
//!
//! An entry holds its request next to the answer and is used only for that
//! exact request, so a collision of the hashed keys is a miss, never a wrong
//! answer.

use std::hash::{Hash, Hasher};
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::metrics::frontend_metrics;
use crate::config::cache::CacheConfig;
use crate::model::time::now_ns;
use crate::proto::frontend::Job;
use crate::storage::cache::ChunkCache;

/// Bumped when the entries' shape changes, so old entries are not read.
const VERSION: &str = "qr2";

pub struct ResultsCache {
    cache: ChunkCache,
    ttl: Duration,
}

/// A piece's request as the cache knows it: the exact text and its key.
#[derive(Clone, Debug)]
pub struct CachedRequest {
    pub key: String,
    request: String,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    request: String,
    stored_ns: i64,
    answer: Value,
}

impl ResultsCache {
    pub fn from_config(c: &CacheConfig) -> ResultsCache {
        ResultsCache::new(ChunkCache::from_config(c), c.embedded_cache.ttl.0)
    }

    pub fn new(cache: ChunkCache, ttl: Duration) -> ResultsCache {
        ResultsCache { cache, ttl }
    }

    /// A piece's request (tenant, method, path with its parameters as sent) and
    /// its key, that request hashed to 128 bits.
    pub fn request(job: &Job) -> CachedRequest {
        let request = format!("{}\n{}\n{}", job.tenant, job.method, job.path);
        let h = |salt: u8| {
            let mut s = std::hash::DefaultHasher::new();
            salt.hash(&mut s);
            request.hash(&mut s);
            s.finish()
        };
        CachedRequest { key: format!("{VERSION}:{:016x}{:016x}", h(1), h(2)), request }
    }

    /// The cached answer to `req`, if stored for that very request within the
    /// TTL; counted as a hit or a miss.
    pub async fn get(&self, req: &CachedRequest) -> Option<Value> {
        let entry: Option<Entry> = self.cache.get(&req.key).await.and_then(|b| serde_json::from_slice(&b).ok());
        let max_age = self.ttl.as_nanos() as i64;
        let answer = entry
            .filter(|e| e.request == req.request && now_ns().saturating_sub(e.stored_ns) <= max_age)
            .map(|e| e.answer);
        let m = frontend_metrics();
        if answer.is_some() { &m.cache_hits } else { &m.cache_misses }.inc();
        answer
    }

    /// Stores a complete answer (status success, no warnings; others are not
    /// kept) in the embedded layer at once; the entry is returned for
    /// [`ResultsCache::put_remote`].
    pub fn put(&self, req: &CachedRequest, answer: &Value) -> Option<Bytes> {
        let complete = answer["status"] == "success" && answer.get("warnings").is_none_or(Value::is_null);
        if !complete {
            return None;
        }
        let entry = Entry { request: req.request.clone(), stored_ns: now_ns(), answer: answer.clone() };
        let b = Bytes::from(serde_json::to_vec(&entry).ok()?);
        self.cache.put_memory(&req.key, &b);
        Some(b)
    }

    /// Stores an entry from [`ResultsCache::put`] in memcached, when configured.
    pub async fn put_remote(&self, req: &CachedRequest, entry: &Bytes) {
        self.cache.put_memcached(&req.key, entry).await;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::storage::cache::ObjectCache;

    fn job(tenant: &str, path: &str) -> Job {
        Job { tenant: tenant.into(), method: "GET".into(), path: path.into(), ..Job::default() }
    }

    fn cache(ttl: Duration) -> ResultsCache {
        ResultsCache::new(ChunkCache::new(Some(ObjectCache::new(1 << 20)), None), ttl)
    }

    fn answer() -> Value {
        json!({"status": "success", "data": {"resultType": "matrix", "result": []}})
    }

    #[test]
    fn keys_name_tenant_and_request_exactly() {
        let r = |t: &str, p: &str| ResultsCache::request(&job(t, p)).key;
        let a = r("t", "/loki/api/v1/query_range?query=x&start=1&end=2&step=1s");
        assert_eq!(a, r("t", "/loki/api/v1/query_range?query=x&start=1&end=2&step=1s"));
        assert_ne!(a, r("u", "/loki/api/v1/query_range?query=x&start=1&end=2&step=1s"));
        assert_ne!(a, r("t", "/loki/api/v1/query_range?query=x&start=1&end=3&step=1s"));
        // repeated parameters answer by their first value: another order is another request
        assert_ne!(r("t", "/q?query=a&query=b"), r("t", "/q?query=b&query=a"));
        assert!(a.len() < 64 && a.bytes().all(|c| c.is_ascii_graphic()), "a valid memcached key");
    }

    #[actix::test]
    async fn complete_answers_round_trip_and_are_counted() {
        let c = cache(Duration::from_secs(60));
        let req = ResultsCache::request(&job("t", "/a"));
        let m = frontend_metrics();
        let (h0, m0) = (m.cache_hits.get(), m.cache_misses.get());
        assert!(c.get(&req).await.is_none());
        c.put(&req, &answer());
        assert_eq!(c.get(&req).await, Some(answer()));
        assert!(m.cache_hits.get() > h0 && m.cache_misses.get() > m0);
    }

    #[actix::test]
    async fn partial_answers_errors_and_stale_or_foreign_entries_are_not_used() {
        let c = cache(Duration::from_secs(60));
        let req = ResultsCache::request(&job("t", "/warned"));
        let mut warned = answer();
        warned["warnings"] = json!(["object store unavailable, stored data left out"]);
        c.put(&req, &warned);
        assert!(c.get(&req).await.is_none(), "an answer with warnings is not kept");
        c.put(&req, &json!({"status": "error"}));
        assert!(c.get(&req).await.is_none(), "an error is not kept");

        // an entry under this key written for another request (a collision) is a miss
        let other = CachedRequest { key: req.key.clone(), request: "t\nGET\n/other".into() };
        c.put(&other, &answer());
        assert!(c.get(&req).await.is_none());

        // an entry stored two hours ago, with a one-hour TTL
        let req = ResultsCache::request(&job("t", "/old"));
        let old = Entry { request: req.request.clone(), stored_ns: now_ns() - 7_200_000_000_000, answer: answer() };
        let hour = cache(Duration::from_secs(3600));
        hour.cache.put_memory(&req.key, &Bytes::from(serde_json::to_vec(&old).unwrap()));
        assert!(hour.get(&req).await.is_none(), "older than the TTL");
        hour.put(&req, &answer());
        assert!(hour.get(&req).await.is_some(), "a fresh entry for the same request is used");
    }
}
