//! Reads flushed data back from the object store: index segments per tenant and
//! 24h table (listed on every query, downloaded once, cached), chunk objects
//! (cached), decoded into read-only streams and queried like ingester memory.
//!
//! The `Querier` calls it next to the ingester and merges both answers. With an
//! index gateway configured, index lookups go there (`rpc::index_gateway`).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use actix::Recipient;
use bytes::Bytes;

use crate::actors::ingester::log_collect::LogCollector;
use crate::actors::ingester::stream::Stream;
use crate::actors::ingester::{
    LogRequest, LogResult, SampleRequest, SampleResult, StreamVolume, TimeRange, VolumeRequest, VolumeResult,
};
use crate::logql::Matcher;
use crate::metrics::metrics;
use crate::model::Labels;
use crate::rpc::index_gateway::ChunkRefsQuery;
use crate::storage::cache::{ChunkCache, ObjectCache};
use crate::storage::chunk::{ChunkFile, MemChunk};
use crate::storage::index::{segment_prefix, tables_between, ChunkRef, Segment, TableIndex};
use crate::storage::object::{ObjectClient, StorageError};

/// A merged table index and the segment keys it was built from.
struct CachedTable {
    keys: Vec<String>,
    index: Arc<TableIndex>,
}

pub struct StoreReader {
    store: ObjectClient,
    prefix: String,
    chunks: ChunkCache,
    segments: ObjectCache,
    tables: Mutex<HashMap<(String, String), CachedTable>>,
    /// Index lookups go to an index gateway instead of local index files.
    gateway: Option<Recipient<ChunkRefsQuery>>,
}

impl StoreReader {
    pub fn new(store: ObjectClient, index_prefix: String, chunks: ChunkCache) -> StoreReader {
        StoreReader {
            store,
            prefix: index_prefix,
            chunks,
            segments: ObjectCache::new(256 << 20),
            tables: Mutex::new(HashMap::new()),
            gateway: None,
        }
    }

    /// Index lookups through an index gateway (`index_gateway_client.server_address`).
    pub fn with_gateway(mut self, gateway: Recipient<ChunkRefsQuery>) -> StoreReader {
        self.gateway = Some(gateway);
        self
    }

    async fn fetch_segment(&self, key: &str) -> Result<Bytes, StorageError> {
        if let Some(b) = self.segments.get(key) {
            return Ok(b);
        }
        let b = self.store.get(key).await?;
        self.segments.put(key, b.clone());
        Ok(b)
    }

    async fn fetch_chunk(&self, key: &str) -> Result<Bytes, StorageError> {
        if let Some(b) = self.chunks.get(key).await {
            return Ok(b);
        }
        let b = self.store.get(key).await?;
        self.chunks.put(key, &b).await;
        Ok(b)
    }

    /// The tenant's index of one table, rebuilt only when its segment list changed.
    async fn table(&self, tenant: &str, table: &str) -> Result<Arc<TableIndex>, StorageError> {
        let listed: Vec<String> =
            self.store.list(&segment_prefix(table, tenant)).await?.into_iter().map(|o| o.key).collect();
        let cache_key = (tenant.to_string(), table.to_string());
        if let Some(t) = self.tables.lock().unwrap_or_else(|e| e.into_inner()).get(&cache_key) {
            if t.keys == listed {
                return Ok(t.index.clone());
            }
        }
        let mut index = TableIndex::default();
        for key in &listed {
            let data = self.fetch_segment(key).await?;
            match Segment::decode(&data) {
                Ok(seg) => index.add(seg),
                Err(e) => {
                    metrics().corrupt_objects.with_label_values(&["index"]).inc();
                    tracing::error!(key, error = %e, "skipping corrupt index segment");
                    index.skipped.push(format!("skipped corrupt index segment {key}: {e}"));
                }
            }
        }
        let index = Arc::new(index);
        self.tables
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(cache_key, CachedTable { keys: listed, index: index.clone() });
        Ok(index)
    }

    /// Series matching `matchers` with their chunk refs in `[start, end]`: from
    /// the index gateway when there is one, else from the index files.
    async fn select(
        &self,
        tenant: &str,
        matchers: &[Matcher],
        start: i64,
        end: i64,
        warnings: &mut Vec<String>,
    ) -> Result<Vec<(Labels, Vec<ChunkRef>)>, StorageError> {
        let Some(g) = &self.gateway else {
            return self.select_local(tenant, matchers, start, end, warnings).await;
        };
        let q = ChunkRefsQuery { tenant: tenant.to_string(), matchers: matchers.to_vec(), start, end };
        let (series, w) = g.send(q).await.map_err(|e| StorageError::Unavailable(format!("index gateway: {e}")))??;
        warnings.extend(w);
        Ok(series)
    }

    /// [`StoreReader::select`] on this process's own copy of the index files
    /// (what an index gateway runs for its queriers).
    pub async fn select_local(
        &self,
        tenant: &str,
        matchers: &[Matcher],
        start: i64,
        end: i64,
        warnings: &mut Vec<String>,
    ) -> Result<Vec<(Labels, Vec<ChunkRef>)>, StorageError> {
        let mut by_series: HashMap<Labels, Vec<ChunkRef>> = HashMap::new();
        for table in tables_between(&self.prefix, start, end) {
            let index = self.table(tenant, &table).await?;
            warnings.extend(index.skipped.iter().cloned());
            for (labels, refs) in index.select(matchers, start, end) {
                let slot = by_series.entry(labels).or_default();
                for r in refs {
                    if !slot.iter().any(|x| x.key == r.key) {
                        slot.push(r);
                    }
                }
            }
        }
        Ok(by_series.into_iter().collect())
    }

    /// Streams matching `matchers` with chunks in `[start, end]`, decoded.
    async fn load_streams(
        &self,
        tenant: &str,
        matchers: &[Matcher],
        start: i64,
        end: i64,
        warnings: &mut Vec<String>,
    ) -> Result<Vec<Stream>, StorageError> {
        let selected = self.select(tenant, matchers, start, end, warnings).await?;
        let mut out = Vec::with_capacity(selected.len());
        for (labels, refs) in selected {
            out.push(self.decode_stream(labels, &refs, warnings).await?);
        }
        Ok(out)
    }

    /// One stream over the given stored chunks (corrupt ones skipped with a warning).
    async fn decode_stream(
        &self,
        labels: Labels,
        refs: &[ChunkRef],
        warnings: &mut Vec<String>,
    ) -> Result<Stream, StorageError> {
        let mut chunks = Vec::with_capacity(refs.len());
        for r in refs {
            chunks.extend(self.read_chunk(r, warnings).await?);
        }
        Ok(Stream::from_chunks(labels, chunks))
    }

    /// One stored chunk, decoded; a corrupt one is counted, logged, reported in
    /// `warnings` and skipped (`None`).
    async fn read_chunk(&self, r: &ChunkRef, warnings: &mut Vec<String>) -> Result<Option<MemChunk>, StorageError> {
        let data = self.fetch_chunk(&r.key).await?;
        match ChunkFile::decode(&data) {
            Ok((_, c)) => Ok(Some(c)),
            Err(e) => {
                metrics().corrupt_objects.with_label_values(&["chunk"]).inc();
                tracing::error!(key = r.key, error = %e, "skipping corrupt chunk");
                warnings.push(format!("skipped corrupt chunk {}: {e}", r.key));
                Ok(None)
            }
        }
    }

    /// Log queries fetch a stream's chunks one at a time, newest first for
    /// backward queries (oldest first for forward ones), and stop fetching once
    /// the stream's answer is complete (`LogCollector`): a query with a limit over
    /// a long range reads a few chunks, not all of them.
    pub async fn select_logs(&self, tenant: &str, req: &LogRequest) -> Result<LogResult, StorageError> {
        let mut out = LogResult::default();
        let selected =
            self.select(tenant, &req.expr.matchers, req.start, req.end.saturating_sub(1), &mut out.warnings).await?;
        for (labels, mut refs) in selected {
            let mut c = LogCollector::new(req);
            c.order(&mut refs, |r| (r.from, r.through));
            let mut failed = None;
            for r in &refs {
                if !c.wants(r.from, r.through) {
                    continue;
                }
                let Some(chunk) = self.read_chunk(r, &mut out.warnings).await? else { continue };
                if let Err(e) = c.add_chunk(&chunk, labels.pairs()) {
                    failed = Some(e);
                    break;
                }
            }
            out.stats.add(std::mem::take(&mut c.stats));
            match failed {
                None => out.streams.extend(c.finish(&labels)),
                Some(e) => corrupt_stream(&labels, &e, &mut out.warnings),
            }
        }
        Ok(out)
    }

    pub async fn select_samples(&self, tenant: &str, req: &SampleRequest) -> Result<SampleResult, StorageError> {
        let mut out = SampleResult::default();
        let streams =
            self.load_streams(tenant, &req.select.log.matchers, req.start, req.end, &mut out.warnings).await?;
        for stream in streams {
            match stream.samples(req, &mut out.stats) {
                Ok(r) => crate::logql::metric::merge_series(&mut out.series, r),
                Err(e) => corrupt_stream(&stream.labels, &e, &mut out.warnings),
            }
        }
        Ok(out)
    }

    /// Per-stream counts of stored chunks in `[req.start, req.end]`. A chunk
    /// wholly inside the range is counted from its index entry; the others (and
    /// every chunk of a `volume_range`, which needs per-bucket bytes) are read.
    pub async fn volume(&self, tenant: &str, req: &VolumeRequest) -> Result<VolumeResult, StorageError> {
        let mut out = VolumeResult::default();
        let mut warnings = Vec::new();
        let req = VolumeRequest { include_flushed: true, ..req.clone() };
        for (labels, refs) in self.select(tenant, &req.matchers, req.start, req.end, &mut warnings).await? {
            let mut v = StreamVolume::empty(labels.clone());
            let (from_index, to_read): (Vec<ChunkRef>, Vec<ChunkRef>) = refs
                .into_iter()
                .partition(|r| req.step.is_none() && r.from >= req.start && r.through <= req.end && r.line_bytes > 0);
            for r in &from_index {
                v.chunks += 1;
                v.entries += r.entries;
                v.bytes += r.line_bytes;
            }
            if !to_read.is_empty() {
                let stream = self.decode_stream(labels, &to_read, &mut warnings).await?;
                match stream.volume(&req) {
                    Ok(read) => v.add(read.unwrap_or_else(|| StreamVolume::empty(stream.labels.clone()))),
                    Err(e) => corrupt_stream(&stream.labels, &e, &mut warnings),
                }
            }
            if v.entries > 0 {
                out.streams.push(v);
            }
        }
        Ok(out)
    }

    pub async fn labels(
        &self,
        tenant: &str,
        name: Option<&str>,
        matchers: &[Matcher],
        r: &TimeRange,
    ) -> Result<Vec<String>, StorageError> {
        let mut out = BTreeSet::new();
        for (labels, _) in self.select(tenant, matchers, r.start, r.end, &mut Vec::new()).await? {
            match name {
                None => out.extend(labels.pairs().iter().map(|(n, _)| n.clone())),
                Some(n) => out.extend(labels.get(n).map(str::to_string)),
            }
        }
        Ok(out.into_iter().collect())
    }

    pub async fn series(
        &self,
        tenant: &str,
        groups: &[Vec<Matcher>],
        r: &TimeRange,
    ) -> Result<Vec<Labels>, StorageError> {
        let mut out = BTreeSet::new();
        let all = [Vec::new()];
        for g in if groups.is_empty() { &all[..] } else { groups } {
            for (labels, _) in self.select(tenant, g, r.start, r.end, &mut Vec::new()).await? {
                out.insert(labels);
            }
        }
        Ok(out.into_iter().collect())
    }
}

fn corrupt_stream(labels: &Labels, e: &crate::storage::chunk::ChunkError, warnings: &mut Vec<String>) {
    metrics().corrupt_objects.with_label_values(&["chunk"]).inc();
    tracing::error!(stream = %labels, error = %e, "skipping a stream with a corrupt block");
    warnings.push(format!("skipped stored data of {labels} (corrupt block: {e})"));
}
