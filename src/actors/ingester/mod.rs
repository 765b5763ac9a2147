//! The ingester: `IngesterSupervisor` -> `TenantActor` (one per tenant: stream
//! index, label postings) -> `StreamShardActor` (each owns a shard of the tenant's
//! streams: head blocks and chunks; appends and in-memory queries).
//!
//! Callers (the distributor and the querier) talk only to the supervisor, through
//! the messages re-exported here; live tails subscribe there too (`tail.rs`). See docs/architecture.md for why streams are
//! grouped into shard actors rather than one actor per stream.

pub mod flush;
pub(crate) mod log_collect;
pub mod samples;
pub mod shard;
pub mod stream;
pub(crate) mod stream_query;
pub mod supervisor;
pub mod tail;
pub mod tenant;
mod tenant_limits;
pub mod volume;
pub mod wal;

use std::sync::Arc;

use crate::config::IngesterConfig;
use crate::logql::{LogExpr, Matcher};
use crate::model::{Entry, Labels};
use crate::storage::chunk::Encoding;

pub use supervisor::{
    FlushAll, IngesterError, IngesterSupervisor, LabelQuery, LogQuery, Push, SampleQuery, SeriesQuery, ShutdownWal,
    SupervisorCounters,
};
pub use tail::{DropLog, Dropped, Subscriber, Tail, TailBatch, TailersCount};
pub use volume::{StreamVolume, VolumeQuery, VolumeRequest, VolumeResult};

/// Chunk and ordering settings shared by every stream.
#[derive(Clone, Debug)]
pub struct StreamSettings {
    pub encoding: Encoding,
    pub block_size: usize,
    pub target_size: usize,
    pub max_chunk_age_ns: i64,
    pub idle_period_ns: i64,
    /// Entries older than the stream's newest minus this are rejected (max_chunk_age / 2).
    pub ooo_window_ns: i64,
    /// How long a flushed chunk stays queryable in memory (`chunk_retain_period`).
    pub retain_ns: i64,
}

/// Small chunks and blocks, Loki's windows: the settings the stream unit tests share.
#[cfg(test)]
pub(crate) fn test_settings() -> StreamSettings {
    StreamSettings {
        encoding: Encoding::Snappy,
        block_size: 256,
        target_size: 2048,
        max_chunk_age_ns: 7200 * 1_000_000_000,
        idle_period_ns: 1800 * 1_000_000_000,
        ooo_window_ns: 3600 * 1_000_000_000,
        retain_ns: 0,
    }
}

impl StreamSettings {
    pub fn from_config(c: &IngesterConfig) -> StreamSettings {
        let age = c.max_chunk_age.as_nanos_i64();
        StreamSettings {
            encoding: Encoding::parse(&c.chunk_encoding).unwrap_or(Encoding::Gzip),
            block_size: c.chunk_block_size.0 as usize,
            target_size: c.chunk_target_size.0 as usize,
            max_chunk_age_ns: age,
            idle_period_ns: c.chunk_idle_period.as_nanos_i64(),
            ooo_window_ns: age / 2,
            retain_ns: c.chunk_retain_period.as_nanos_i64(),
        }
    }
}

/// The result of appending to an ingester: counts and per-stream rejection texts.
#[derive(Clone, Debug, Default)]
pub struct PushOutcome {
    pub accepted: u64,
    pub accepted_bytes: u64,
    /// One text per stream with rejected entries (Loki's out-of-order wording).
    pub errors: Vec<String>,
    /// The last error is a limit (stream count, per-stream rate): Loki answers 429.
    pub too_many_requests: bool,
}

impl PushOutcome {
    pub fn merge(&mut self, o: PushOutcome) {
        self.accepted += o.accepted;
        self.accepted_bytes += o.accepted_bytes;
        if !o.errors.is_empty() {
            self.too_many_requests = o.too_many_requests;
        }
        self.errors.extend(o.errors);
    }
}

/// Query direction for log queries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Forward,
    Backward,
}

/// Parameters of an in-memory log query.
#[derive(Clone, Debug)]
pub struct LogRequest {
    pub expr: Arc<LogExpr>,
    pub start: i64,
    pub end: i64,
    pub limit: usize,
    pub direction: Direction,
    /// Skip entries closer than this to the previous one kept (0 = keep all).
    pub interval_ns: i64,
}

/// Entries of one stream sharing one result label set, in the query's direction.
#[derive(Clone, Debug)]
pub struct StreamEntries {
    /// The full result label set: stream labels + structured metadata + extracted labels.
    pub labels: Labels,
    /// The stream's own labels (what categorize-labels answers put in `stream`).
    pub stream: Labels,
    /// The structured metadata and extracted parts of `labels`, by name.
    pub structured: Vec<(String, String)>,
    pub parsed: Vec<(String, String)>,
    pub entries: Vec<Entry>,
}

impl StreamEntries {
    /// A group whose result labels are the stream labels alone.
    pub fn plain(labels: Labels, entries: Vec<Entry>) -> StreamEntries {
        StreamEntries { stream: labels.clone(), labels, structured: Vec::new(), parsed: Vec::new(), entries }
    }
}

/// What a log query read: entries scanned in range and their bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct ScanStats {
    pub lines: u64,
    pub bytes: u64,
    pub chunks: u64,
}

impl ScanStats {
    pub fn add(&mut self, o: ScanStats) {
        self.lines += o.lines;
        self.bytes += o.bytes;
        self.chunks += o.chunks;
    }
}

/// Streams found by a log query plus what was scanned to find them.
#[derive(Clone, Debug, Default)]
pub struct LogResult {
    pub streams: Vec<StreamEntries>,
    pub stats: ScanStats,
    /// Problems that left data out of the answer (e.g. a corrupt stored chunk);
    /// rendered as the response's `warnings`.
    pub warnings: Vec<String>,
}

/// Parameters of a sample query: the entries of matching streams in
/// `[start, end]` (both inclusive) turned into samples.
#[derive(Clone, Debug)]
pub struct SampleRequest {
    pub select: Arc<crate::logql::metric::RangeSelect>,
    pub start: i64,
    pub end: i64,
}

/// Samples by result label set, plus what was scanned to extract them.
#[derive(Clone, Debug, Default)]
pub struct SampleResult {
    pub series: crate::logql::metric::SeriesMap,
    pub stats: ScanStats,
    pub warnings: Vec<String>,
}

impl SampleResult {
    pub fn merge(&mut self, o: SampleResult) {
        crate::logql::metric::merge_series(&mut self.series, o.series);
        self.stats.add(o.stats);
        self.warnings.extend(o.warnings);
    }
}

/// Label or series lookups restricted to streams overlapping `[start, end]`.
#[derive(Clone, Debug)]
pub struct TimeRange {
    pub start: i64,
    pub end: i64,
}

pub fn matches_any_group(groups: &[Vec<Matcher>], labels: &Labels) -> bool {
    groups.is_empty() || groups.iter().any(|g| crate::logql::matcher::matches_all(g, labels))
}
