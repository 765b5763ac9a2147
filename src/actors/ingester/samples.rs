//! The sample path of a stream: entries in range run through the query's log
//! pipeline and the extractor, so that only samples (time, value, result
//! labels) leave the shard. Exact duplicates (time, line, metadata) are removed
//! before extraction, as the log path does.
//!
//! Called by `StreamShardActor` for in-memory streams and by the querier's store
//! reader for streams read back from the object store.

use std::hash::{BuildHasher, Hasher};

use super::stream::Stream;
use super::{SampleRequest, ScanStats};
use crate::logql::metric::{sort_dedup, Sample, SeriesMap};
use crate::storage::chunk::ChunkError;

impl Stream {
    /// Samples of the entries in `[req.start, req.end]`, by result label set.
    pub fn samples(&self, req: &SampleRequest, stats: &mut ScanStats) -> Result<SeriesMap, ChunkError> {
        let sel = &req.select;
        let pipeline = &sel.log.pipeline;
        let stream = self.labels.pairs();
        let fp = self.labels.fingerprint();
        let mut out = SeriesMap::new();
        for c in self.chunks() {
            stats.chunks += 1;
            c.for_each_in_range(req.start, req.end.saturating_add(1), |e| {
                stats.lines += 1;
                stats.bytes += e.line.len() as u64;
                let meta = if e.has_metadata() { e.metadata() } else { Vec::new() };
                let line = String::from_utf8_lossy(e.line);
                let Some(p) = pipeline.process(e.ts, &line, stream, &meta) else { return };
                let len = p.line.as_ref().map_or(e.line.len(), String::len);
                let Some((value, labels)) = sel.extractor.extract(p.labels, len) else { return };
                let mut h = foldhash::fast::FixedState::with_seed(11).build_hasher();
                h.write_u64(fp);
                h.write(e.line);
                for (k, v) in &meta {
                    h.write(k.as_bytes());
                    h.write_u8(0xff);
                    h.write(v.as_bytes());
                }
                out.entry(labels).or_default().push(Sample { ts: e.ts, value, key: h.finish() });
            })?;
        }
        for s in out.values_mut() {
            sort_dedup(s);
        }
        Ok(out)
    }
}
