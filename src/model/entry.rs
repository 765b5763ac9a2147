//! Log entries and the per-stream batches that travel from distributor to ingester.

use bytes::Bytes;

use super::labels::{Fingerprint, Labels};

/// One log line with its timestamp (Unix nanoseconds) and structured metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub ts: i64,
    /// UTF-8 text (checked by the distributor); `Bytes` so decoding can slice the request.
    pub line: Bytes,
    pub metadata: Vec<(String, String)>,
}

impl Entry {
    pub fn new(ts: i64, line: impl Into<Bytes>) -> Entry {
        Entry { ts, line: line.into(), metadata: Vec::new() }
    }

    pub fn line_str(&self) -> &str {
        // The distributor only admits valid UTF-8; fall back to a lossy view for safety.
        std::str::from_utf8(&self.line).unwrap_or("")
    }

    /// Bytes counted against size limits and `bytes_over_time`: line plus metadata.
    pub fn metadata_size(&self) -> usize {
        self.metadata.iter().map(|(n, v)| n.len() + v.len()).sum()
    }
}

/// Unix nanoseconds as a protobuf `Timestamp`'s (seconds, nanos), nanos in `0..1e9`.
pub fn ts_to_parts(ts: i64) -> (i64, i32) {
    (ts.div_euclid(1_000_000_000), ts.rem_euclid(1_000_000_000) as i32)
}

/// A protobuf `Timestamp`'s (seconds, nanos) as Unix nanoseconds, saturating.
pub fn ts_from_parts(seconds: i64, nanos: i32) -> i64 {
    seconds.saturating_mul(1_000_000_000).saturating_add(i64::from(nanos))
}

/// Entries for one stream, validated and ready for an ingester.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamPush {
    pub labels: Labels,
    pub fingerprint: Fingerprint,
    pub entries: Vec<Entry>,
}

impl StreamPush {
    pub fn new(labels: Labels, entries: Vec<Entry>) -> StreamPush {
        StreamPush { fingerprint: labels.fingerprint(), labels, entries }
    }
}
