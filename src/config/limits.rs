//! Per-tenant limits (`limits_config`), with Loki's defaults.
//!
//! The distributor validates pushes against these, the ingester's tenant actors
//! apply the stream limits, and the query API checks query limits. Each tenant's
//! values come from [`super::overrides::Overrides`] (runtime config file over
//! `limits_config`).

use serde::{Deserialize, Serialize};

use super::units::{ByteSize, Dur};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    pub ingestion_rate_strategy: String,
    pub ingestion_rate_mb: f64,
    pub ingestion_burst_size_mb: f64,
    pub max_label_name_length: usize,
    pub max_label_value_length: usize,
    pub max_label_names_per_series: usize,
    /// Bytes per second one stream may ingest, and its bucket (429 past them).
    pub per_stream_rate_limit: ByteSize,
    pub per_stream_rate_limit_burst: ByteSize,
    /// Streams per tenant in this ingester (0: no local limit).
    pub max_streams_per_user: usize,
    /// Streams per tenant across ingesters; one ingester per process holds all of them (0: none).
    pub max_global_streams_per_user: usize,
    pub max_line_size: ByteSize,
    pub max_line_size_truncate: bool,
    pub reject_old_samples: bool,
    pub reject_old_samples_max_age: Dur,
    pub creation_grace_period: Dur,
    pub allow_structured_metadata: bool,
    pub max_structured_metadata_size: ByteSize,
    pub max_structured_metadata_entries_count: usize,
    pub discover_service_name: Vec<String>,
    /// Add `detected_level` structured metadata to every entry (Loki 3.x turns
    /// this on by default; Skald leaves it off, see docs/configuration.md).
    pub discover_log_levels: bool,
    /// Where a level is looked for, in this order (labels, metadata, line fields).
    pub log_level_fields: Vec<String>,
    /// How deep into a JSON line the level fields are looked for (0: any depth).
    pub log_level_from_json_max_depth: usize,
    pub max_entries_limit_per_query: usize,
    pub max_query_length: Dur,
    /// Queries see nothing older than now minus this (0: no limit).
    pub max_query_lookback: Dur,
    /// A query running longer answers 504.
    pub query_timeout: Dur,
    pub max_streams_matchers_per_query: usize,
    /// Most series a metric query may answer at one step.
    pub max_query_series: usize,
    /// Kept per tenant for the compactor's retention (nothing deletes data yet).
    pub retention_period: Dur,
    /// Whether `/index/volume` and `/index/volume_range` answer.
    pub volume_enabled: bool,
    /// Most series a volume query may answer.
    pub volume_max_series: usize,
    /// Open live tails per tenant.
    pub max_concurrent_tail_requests: usize,
    /// The query-frontend splits range queries into pieces this long (0: no splitting).
    pub split_queries_by_interval: Dur,
    /// Sub-queries of one query the frontend runs at once.
    pub max_query_parallelism: usize,
    /// Most stream shards one sharded metric query is cut into.
    pub tsdb_max_query_parallelism: usize,
    /// Data (by the index's stats) one stream shard of a metric query should read at most.
    pub tsdb_max_bytes_per_shard: ByteSize,
    /// Results newer than this are never cached by the query-frontend (still in flux).
    pub max_cache_freshness_per_query: Dur,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            ingestion_rate_strategy: "global".into(),
            ingestion_rate_mb: 4.0,
            ingestion_burst_size_mb: 6.0,
            max_label_name_length: 1024,
            max_label_value_length: 2048,
            max_label_names_per_series: 15,
            per_stream_rate_limit: ByteSize(3 << 20),
            per_stream_rate_limit_burst: ByteSize(15 << 20),
            max_streams_per_user: 0,
            max_global_streams_per_user: 5000,
            max_line_size: ByteSize(256_000),
            max_line_size_truncate: false,
            reject_old_samples: true,
            reject_old_samples_max_age: Dur::secs(7 * 86400),
            creation_grace_period: Dur::secs(600),
            allow_structured_metadata: true,
            max_structured_metadata_size: ByteSize(64_000),
            max_structured_metadata_entries_count: 128,
            discover_service_name: [
                "service",
                "app",
                "application",
                "app_name",
                "name",
                "app_kubernetes_io_name",
                "container",
                "container_name",
                "k8s_container_name",
                "component",
                "workload",
                "job",
                "k8s_job_name",
            ]
            .map(String::from)
            .to_vec(),
            discover_log_levels: false,
            log_level_fields: [
                "level",
                "LEVEL",
                "Level",
                "log.level",
                "severity",
                "SEVERITY",
                "Severity",
                "SeverityText",
                "lvl",
                "LVL",
                "Lvl",
            ]
            .map(String::from)
            .to_vec(),
            log_level_from_json_max_depth: 2,
            max_entries_limit_per_query: 5000,
            max_query_length: Dur::secs(721 * 3600),
            max_query_lookback: Dur::secs(0),
            query_timeout: Dur::secs(60),
            max_streams_matchers_per_query: 1000,
            max_query_series: 500,
            retention_period: Dur::secs(0),
            volume_enabled: true,
            volume_max_series: 1000,
            max_concurrent_tail_requests: 10,
            split_queries_by_interval: Dur::secs(3600),
            max_query_parallelism: 32,
            tsdb_max_query_parallelism: 128,
            tsdb_max_bytes_per_shard: ByteSize(600 << 20),
            max_cache_freshness_per_query: Dur::secs(600),
        }
    }
}

impl Limits {
    /// The active-stream limit of one tenant in this ingester: the smaller non-zero of
    /// the local limit and the global one (one ingester, replication factor 1).
    pub fn stream_limit(&self) -> Option<usize> {
        [self.max_streams_per_user, self.max_global_streams_per_user].into_iter().filter(|n| *n > 0).min()
    }
}
