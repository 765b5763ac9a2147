//! The read-path sections of Loki's config that the query-frontend, the
//! query-scheduler and the querier workers act on: `frontend`,
//! `frontend_worker`, `query_scheduler` and `query_range`, with Loki's defaults.
//!
//! The per-tenant parts (`split_queries_by_interval`, `max_query_parallelism`)
//! live in `limits_config` ([`super::Limits`]).

use serde::{Deserialize, Serialize};

use super::units::Dur;

/// `frontend`: the query-frontend.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct FrontendConfig {
    /// A query-scheduler's gRPC `host:port`; empty: the frontend keeps its own queue.
    pub scheduler_address: String,
    /// How often `scheduler_address` is resolved again (jobs go to every address in turn).
    pub scheduler_dns_lookup_period: Dur,
    /// Queued requests per tenant in the frontend's own queue (429 past it).
    pub max_outstanding_per_tenant: usize,
    /// A querier's HTTP URL that live tails are proxied to.
    pub tail_proxy_url: String,
}

impl Default for FrontendConfig {
    fn default() -> Self {
        FrontendConfig {
            scheduler_address: String::new(),
            scheduler_dns_lookup_period: Dur::secs(10),
            max_outstanding_per_tenant: 2048,
            tail_proxy_url: String::new(),
        }
    }
}

/// `frontend_worker`: the querier's workers that pull queries.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct FrontendWorkerConfig {
    /// A query-frontend's gRPC `host:port` (used when no scheduler address is set).
    pub frontend_address: String,
    /// A query-scheduler's gRPC `host:port`.
    pub scheduler_address: String,
    /// Workers when `match_max_concurrent` is false (Loki 2.x; Loki 3.x always uses `querier.max_concurrent`).
    pub parallelism: usize,
    /// Use `querier.max_concurrent` workers (Loki 2.9 default true).
    pub match_max_concurrent: bool,
    /// How often the address is resolved again (every address it resolves to gets workers).
    pub dns_lookup_duration: Dur,
}

impl Default for FrontendWorkerConfig {
    fn default() -> Self {
        FrontendWorkerConfig {
            frontend_address: String::new(),
            scheduler_address: String::new(),
            parallelism: 10,
            match_max_concurrent: true,
            dns_lookup_duration: Dur::secs(3),
        }
    }
}

impl FrontendWorkerConfig {
    /// The queue the workers pull from: the scheduler if set, else the frontend.
    pub fn address(&self) -> Option<&str> {
        [self.scheduler_address.as_str(), self.frontend_address.as_str()].into_iter().find(|a| !a.is_empty())
    }
}

/// `query_scheduler`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct QuerySchedulerConfig {
    /// Queued requests per tenant (429 past it); Loki 3.x default 32000.
    pub max_outstanding_requests_per_tenant: usize,
}

impl Default for QuerySchedulerConfig {
    fn default() -> Self {
        QuerySchedulerConfig { max_outstanding_requests_per_tenant: 32000 }
    }
}

/// `query_range`: how the frontend runs split queries.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct QueryRangeConfig {
    /// Attempts of a sub-query while it fails with a 5xx or a transport error (Loki counts the first).
    pub max_retries: usize,
    /// The older place of `limits_config.split_queries_by_interval`; wins when set.
    pub split_queries_by_interval: Option<Dur>,
    /// Cache metric query pieces' answers (`results_cache`).
    pub cache_results: bool,
    /// Move a split metric query's start and end down to multiples of its step.
    pub align_queries_with_step: bool,
    /// Cut metric queries into stream shards run in parallel (`frontend::shard`).
    pub parallelise_shardable_queries: bool,
    pub results_cache: ResultsCacheConfig,
}

impl Default for QueryRangeConfig {
    fn default() -> Self {
        QueryRangeConfig {
            max_retries: 5,
            split_queries_by_interval: None,
            cache_results: false,
            align_queries_with_step: false,
            parallelise_shardable_queries: true,
            results_cache: ResultsCacheConfig::default(),
        }
    }
}

/// `query_range.results_cache`: where cached answers live (the embedded cache,
/// or memcached with Loki's `memcached_client` keys).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ResultsCacheConfig {
    pub cache: super::cache::CacheConfig,
}
