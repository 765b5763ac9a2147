//! Index statistics and log volume of streams: entries, raw line bytes and
//! chunks per stream in a time range, optionally per step bucket.
//!
//! The shard actor answers [`ShardVolume`] for its streams (the tenant actor
//! selects them, the supervisor forwards [`VolumeQuery`]); the store reader runs
//! the same per-stream count over flushed chunks. The querier merges both.

use std::collections::BTreeMap;

use actix::Message;

use super::stream::Stream;
use super::supervisor::IngesterError;
use crate::logql::Matcher;
use crate::model::{Fingerprint, Labels};
use crate::storage::chunk::ChunkError;

/// What to count: streams matching `matchers`, entries in `[start, end]`.
#[derive(Clone, Debug)]
pub struct VolumeRequest {
    pub matchers: Vec<Matcher>,
    pub start: i64,
    pub end: i64,
    /// Bucket width for `volume_range` (buckets start at `start`); `None`: totals only.
    pub step: Option<i64>,
    /// Count chunks already stored too (only when no store answers for them).
    pub include_flushed: bool,
}

/// One stream's counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamVolume {
    pub labels: Labels,
    pub chunks: u64,
    pub entries: u64,
    pub bytes: u64,
    /// Bytes per bucket, keyed by the bucket's start.
    pub buckets: BTreeMap<i64, u64>,
}

impl StreamVolume {
    pub fn empty(labels: Labels) -> StreamVolume {
        StreamVolume { labels, chunks: 0, entries: 0, bytes: 0, buckets: BTreeMap::new() }
    }

    /// Adds counts of other chunks of the same stream.
    pub fn add(&mut self, o: StreamVolume) {
        self.chunks += o.chunks;
        self.entries += o.entries;
        self.bytes += o.bytes;
        for (b, n) in o.buckets {
            *self.buckets.entry(b).or_default() += n;
        }
    }
}

/// Counts of every matching stream with data in range.
#[derive(Clone, Debug, Default)]
pub struct VolumeResult {
    pub streams: Vec<StreamVolume>,
}

/// Supervisor message: counts of one tenant's in-memory streams.
#[derive(Message)]
#[rtype(result = "Result<VolumeResult, IngesterError>")]
pub struct VolumeQuery {
    pub tenant: String,
    pub req: VolumeRequest,
}

/// Tenant actor message (the supervisor's [`VolumeQuery`] for one tenant).
#[derive(Message)]
#[rtype(result = "Result<VolumeResult, IngesterError>")]
pub struct TenantVolume {
    pub req: VolumeRequest,
}

/// Shard actor message: counts of the given streams.
#[derive(Message)]
#[rtype(result = "Result<VolumeResult, ChunkError>")]
pub struct ShardVolume {
    pub fingerprints: Vec<Fingerprint>,
    pub req: VolumeRequest,
}

impl Stream {
    /// This stream's counts in `[req.start, req.end]`; `None` without data there.
    pub fn volume(&self, req: &VolumeRequest) -> Result<Option<StreamVolume>, ChunkError> {
        let mut v = StreamVolume::empty(self.labels.clone());
        for c in self.stats_chunks(req.include_flushed) {
            // a chunk wholly in range counts from its totals, undecoded (not for buckets, nor for a
            // chunk rebuilt from stored blocks, which does not know its line bytes)
            let inside = c.count > 0 && c.min_ts >= req.start && c.max_ts <= req.end;
            if inside && req.step.is_none() && c.line_bytes > 0 {
                v.entries += c.count;
                v.bytes += c.line_bytes;
                v.chunks += 1;
                continue;
            }
            let before = v.entries;
            c.for_each_in_range(req.start, req.end.saturating_add(1), |e| {
                let n = e.line.len() as u64;
                v.entries += 1;
                v.bytes += n;
                if let Some(step) = req.step.filter(|s| *s > 0) {
                    let b = req.start + (e.ts - req.start).div_euclid(step) * step;
                    *v.buckets.entry(b).or_default() += n;
                }
            })?;
            if v.entries > before {
                v.chunks += 1;
            }
        }
        Ok((v.entries > 0).then_some(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actors::ingester::StreamSettings;
    use crate::model::Entry;
    use crate::storage::chunk::Encoding;

    #[test]
    fn counts_range_and_buckets() {
        let settings = StreamSettings {
            encoding: Encoding::Snappy,
            block_size: 64,
            target_size: 4096,
            max_chunk_age_ns: 7_200_000_000_000,
            idle_period_ns: 1_800_000_000_000,
            ooo_window_ns: 3_600_000_000_000,
            retain_ns: 0,
        };
        let mut s = Stream::new(Labels::parse(r#"{a="1"}"#).unwrap());
        let entries: Vec<Entry> = (0..10).map(|i| Entry::new(i * 10, "abcd")).collect();
        s.push(&entries, &settings, "t", 0);
        let req = |start, end, step| VolumeRequest { matchers: vec![], start, end, step, include_flushed: false };
        let v = s.volume(&req(10, 50, Some(20))).unwrap().unwrap();
        assert_eq!((v.entries, v.bytes, v.chunks), (5, 20, 1), "both ends inclusive");
        assert_eq!(v.buckets.into_iter().collect::<Vec<_>>(), vec![(10, 8), (30, 8), (50, 4)]);
        assert!(s.volume(&req(200, 300, None)).unwrap().is_none());
        // the whole chunk in range: counted from its totals, the same as entry by entry
        let whole = s.volume(&req(0, 90, None)).unwrap().unwrap();
        assert_eq!((whole.entries, whole.bytes, whole.chunks), (10, 40, 1));
        let edge = s.volume(&req(0, 89, None)).unwrap().unwrap();
        assert_eq!((edge.entries, edge.bytes), (9, 36), "a chunk reaching past the end is read entry by entry");
    }
}
