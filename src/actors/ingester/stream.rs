//! One stream's in-memory state: its chunks and Loki's ordering rules.
//!
//! Owned by a `StreamShardActor`; plain data and methods, no messages.

mod snapshot;

pub use snapshot::StreamSnapshot;

use super::flush::FlushItem;
use super::StreamSettings;
use crate::model::time::rfc3339_secs;
use crate::model::{Entry, Labels};
use crate::storage::chunk::{ChunkFile, MemChunk};
use crate::storage::index::chunk_key;

pub struct Stream {
    pub labels: Labels,
    /// The chunk being appended to, inline: one pointer chase fewer per append.
    open: Option<MemChunk>,
    /// Closed chunks, oldest first, with their flush state.
    closed: Vec<ClosedChunk>,
    /// Last chunk id handed out (ids are per stream).
    next_id: u64,
    /// Newest timestamp accepted so far.
    max_ts: i64,
    /// Wall-clock time (ns) the open chunk was created and last appended to.
    open_created: i64,
    last_append: i64,
    pub entries: u64,
}

/// Where a closed chunk is on its way to the object store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlushState {
    Pending,
    Flushing,
    /// Stored at this wall-clock time (ns); kept for `chunk_retain_period`.
    Flushed(i64),
}

pub struct ClosedChunk {
    pub id: u64,
    pub chunk: MemChunk,
    pub state: FlushState,
}

/// Counts of one append call.
#[derive(Default, Debug, Clone, Copy)]
pub struct AppendStats {
    pub accepted: u64,
    pub accepted_bytes: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub rejected_bytes: u64,
    pub chunks_created: u64,
}

impl Stream {
    pub fn new(labels: Labels) -> Stream {
        Stream {
            labels,
            open: None,
            closed: Vec::new(),
            next_id: 0,
            max_ts: i64::MIN,
            open_created: 0,
            last_append: 0,
            entries: 0,
        }
    }

    /// A read-only stream over chunks loaded from the object store.
    pub fn from_chunks(labels: Labels, chunks: Vec<MemChunk>) -> Stream {
        let mut s = Stream::new(labels);
        for chunk in chunks {
            s.max_ts = s.max_ts.max(chunk.max_ts);
            s.next_id += 1;
            s.closed.push(ClosedChunk { id: s.next_id, chunk, state: FlushState::Flushed(0) });
        }
        s
    }

    /// Appends entries with Loki's rules; returns counts and, when entries were
    /// rejected, the error text for this stream.
    pub fn push(
        &mut self,
        entries: &[Entry],
        s: &StreamSettings,
        tenant: &str,
        now: i64,
    ) -> (AppendStats, Option<String>) {
        self.push_tracked(entries, s, tenant, now, None)
    }

    /// [`Stream::push`] that also records the indices of the accepted entries
    /// (what live tails receive).
    pub fn push_tracked(
        &mut self,
        entries: &[Entry],
        s: &StreamSettings,
        tenant: &str,
        now: i64,
        mut accepted: Option<&mut Vec<usize>>,
    ) -> (AppendStats, Option<String>) {
        let mut st = AppendStats::default();
        let mut failed: Vec<String> = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            if self.max_ts != i64::MIN && e.ts < self.max_ts.saturating_sub(s.ooo_window_ns) {
                st.rejected += 1;
                st.rejected_bytes += e.line.len() as u64;
                if failed.len() < 10 {
                    let oldest = self.max_ts.saturating_sub(s.ooo_window_ns);
                    failed.push(format!(
                        "entry with timestamp {} ignored, reason: 'entry too far behind, entry timestamp is: {}, oldest acceptable timestamp is: {}',",
                        go_time(e.ts),
                        rfc3339_secs(e.ts),
                        rfc3339_secs(oldest)
                    ));
                }
                continue;
            }
            if self.is_duplicate(e) {
                st.duplicates += 1;
                continue;
            }
            st.chunks_created += self.append(e, s, now);
            if let Some(a) = accepted.as_deref_mut() {
                a.push(i);
            }
            st.accepted += 1;
            st.accepted_bytes += e.line.len() as u64;
        }
        let err = (!failed.is_empty()).then(|| {
            format!(
                "{}\nuser '{}', total ignored: {} out of {} for stream: {}",
                failed.join("\n"),
                tenant,
                st.rejected,
                entries.len(),
                self.labels
            )
        });
        (st, err)
    }

    /// An exact duplicate (timestamp and line) of an entry in the open head block.
    fn is_duplicate(&self, e: &Entry) -> bool {
        e.ts <= self.max_ts && self.open.as_ref().is_some_and(|c| c.head_contains(e.ts, &e.line))
    }

    fn append(&mut self, e: &Entry, s: &StreamSettings, now: i64) -> u64 {
        let mut created = 0;
        let chunk = self.open.get_or_insert_with(|| {
            created = 1;
            MemChunk::new(s.encoding, s.block_size)
        });
        if created == 1 {
            self.open_created = now;
        }
        chunk.append(e.ts, &e.line, &e.metadata);
        if chunk.size() >= s.target_size {
            self.close_open();
        }
        self.max_ts = self.max_ts.max(e.ts);
        self.last_append = now;
        self.entries += 1;
        created
    }

    fn close_open(&mut self) {
        if let Some(mut chunk) = self.open.take() {
            chunk.close();
            self.next_id += 1;
            self.closed.push(ClosedChunk { id: self.next_id, chunk, state: FlushState::Pending });
        }
    }

    /// Closes the open chunk now (flush everything, shutdown).
    pub fn close_now(&mut self) {
        self.close_open();
    }

    /// Encodes every pending closed chunk for the flusher and marks it flushing.
    pub fn take_flushable(&mut self, tenant: &str, fp: crate::model::Fingerprint) -> Vec<FlushItem> {
        let labels = self.labels.to_string();
        let mut out = Vec::new();
        for c in self.closed.iter_mut().filter(|c| c.state == FlushState::Pending) {
            c.state = FlushState::Flushing;
            let data = ChunkFile::encode(tenant, &labels, fp, &c.chunk);
            let (from, through) = (c.chunk.min_ts, c.chunk.max_ts);
            out.push(FlushItem {
                chunk_id: c.id,
                fingerprint: fp,
                labels: self.labels.clone(),
                key: chunk_key(tenant, fp, from, through, crc32fast::hash(&data)),
                data,
                from,
                through,
                entries: c.chunk.count,
                line_bytes: c.chunk.line_bytes,
            });
        }
        out
    }

    /// Records the outcome of a flush: stored chunks start their retain period;
    /// the others go back to pending.
    pub fn flush_done(&mut self, stored: &[u64], now: i64) {
        for c in self.closed.iter_mut().filter(|c| c.state == FlushState::Flushing) {
            c.state = if stored.contains(&c.id) { FlushState::Flushed(now) } else { FlushState::Pending };
        }
    }

    /// Drops stored chunks whose retain period is over; returns how many.
    pub fn drop_retained(&mut self, now: i64, retain_ns: i64) -> usize {
        let before = self.closed.len();
        self.closed.retain(|c| !matches!(c.state, FlushState::Flushed(at) if now - at >= retain_ns));
        before - self.closed.len()
    }

    /// Chunks not yet acknowledged by the store.
    pub fn unflushed(&self) -> usize {
        usize::from(self.open.is_some())
            + self.closed.iter().filter(|c| !matches!(c.state, FlushState::Flushed(_))).count()
    }

    /// Closes the open chunk when it is idle or too old (wall clock). Returns true if closed.
    pub fn cut_if_due(&mut self, s: &StreamSettings, now: i64) -> bool {
        if self.open.is_none() {
            return false;
        }
        let due = now - self.last_append >= s.idle_period_ns || now - self.open_created >= s.max_chunk_age_ns;
        if due {
            self.close_open();
        }
        due
    }

    /// All chunks, oldest first (closed ones, then the open one).
    pub(super) fn chunks(&self) -> impl Iterator<Item = &MemChunk> {
        self.closed.iter().map(|c| &c.chunk).chain(self.open.as_ref())
    }

    /// Chunks for index statistics: stored ones only with `include_flushed`
    /// (otherwise the store counts them).
    pub(super) fn stats_chunks(&self, include_flushed: bool) -> impl Iterator<Item = &MemChunk> {
        self.closed
            .iter()
            .filter(move |c| include_flushed || !matches!(c.state, FlushState::Flushed(_)))
            .map(|c| &c.chunk)
            .chain(self.open.as_ref())
    }

    pub fn chunk_count(&self) -> usize {
        self.closed.len() + usize::from(self.open.is_some())
    }

    pub fn memory_bytes(&self) -> usize {
        self.chunks().map(MemChunk::memory_bytes).sum::<usize>() + std::mem::size_of::<Stream>()
    }

    pub fn time_bounds(&self) -> Option<(i64, i64)> {
        let min = self.chunks().map(|c| c.min_ts).min()?;
        Some((min, self.max_ts))
    }
}
/// Go's default `time.Time` String() form used in Loki's out-of-order texts:
/// `2006-01-02 15:04:05.999999999 +0000 UTC`.
pub(super) fn go_time(ns: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ns as i128).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let frac = t.nanosecond();
    let mut s = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    if frac != 0 {
        let f = format!("{frac:09}");
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    s.push_str(" +0000 UTC");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actors::ingester::{Direction, LogRequest, ScanStats};
    use crate::logql::{parse, Expr};
    use std::sync::Arc;

    use crate::actors::ingester::test_settings as settings;

    fn all(dir: Direction, limit: usize) -> LogRequest {
        let Expr::Log(l) = parse(r#"{a="b"}"#).unwrap() else { panic!("log query expected") };
        LogRequest { expr: Arc::new(l), start: i64::MIN, end: i64::MAX, limit, direction: dir, interval_ns: 0 }
    }

    #[test]
    fn ordering_rules() {
        let s = settings();
        let mut st = Stream::new(Labels::parse(r#"{a="b"}"#).unwrap());
        let h = 3600 * 1_000_000_000i64;
        let base = 10 * h;
        let (r, err) = st.push(&[Entry::new(base, "x"), Entry::new(base, "x"), Entry::new(base, "y")], &s, "t", 0);
        assert_eq!((r.accepted, r.duplicates), (2, 1));
        assert!(err.is_none());
        // within the window (30 minutes back): accepted; a non-adjacent duplicate: dropped
        let (r, _) =
            st.push(&[Entry::new(base - h / 2, "old"), Entry::new(base + 1, "z"), Entry::new(base, "y")], &s, "t", 0);
        assert_eq!((r.accepted, r.duplicates), (2, 1));
        // too far behind: rejected with Loki's text
        let (r, err) = st.push(&[Entry::new(base - 2 * h, "ancient")], &s, "t", 0);
        assert_eq!(r.rejected, 1);
        let err = err.unwrap();
        assert!(err.contains("entry too far behind"), "{err}");
        assert!(err.ends_with(r#"total ignored: 1 out of 1 for stream: {a="b"}"#), "{err}");
        let q = |d, n| -> Vec<i64> {
            let r = st.query(&all(d, n), &mut ScanStats::default()).unwrap();
            assert_eq!(r.len(), 1);
            r[0].entries.iter().map(|e| e.ts).collect()
        };
        assert_eq!(q(Direction::Forward, 100), vec![base - h / 2, base, base, base + 1]);
        assert_eq!(q(Direction::Backward, 2), vec![base + 1, base]);
    }

    #[test]
    fn cuts_chunks_by_size_and_idle() {
        let s = settings();
        let mut st = Stream::new(Labels::parse(r#"{a="b"}"#).unwrap());
        let entries: Vec<Entry> = (0..500).map(|i| Entry::new(i, format!("line number {i} with some text"))).collect();
        let (r, _) = st.push(&entries, &s, "t", 0);
        assert!(r.chunks_created > 1, "target size 2048 cuts several chunks");
        assert!(!st.cut_if_due(&s, 1));
        assert!(st.cut_if_due(&s, s.idle_period_ns));
        assert_eq!(st.query(&all(Direction::Forward, 1000), &mut ScanStats::default()).unwrap()[0].entries.len(), 500);
        assert_eq!(go_time(1_500_000_000), "1970-01-01 00:00:01.5 +0000 UTC");
    }
}
