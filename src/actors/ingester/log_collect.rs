//! One stream's answer to a log query, gathered chunk by chunk: the LogQL
//! pipeline on every entry in range, exact duplicates removed, at most `limit`
//! entries in the request's direction, grouped by result label set.
//!
//! Once `limit` entries are kept, the worst of their timestamps is a bound: an
//! entry, block or chunk strictly beyond it cannot be in the answer, so it is
//! skipped before the pipeline runs, before a block is decompressed, and (for
//! the store reader) before a chunk is fetched. Chunks and blocks are offered
//! newest first for backward queries and oldest first for forward ones, so the
//! bound is found early and most of a long range is never read. Only queries
//! with an `interval` read everything (which entries an interval keeps depends
//! on all of them).
//!
//! Used by `Stream::query` (ingester memory) and by the querier's store reader.

use std::borrow::Cow;

use super::stream_query::Groups;
use super::{Direction, LogRequest, ScanStats, StreamEntries};
use crate::model::{Entry, Labels};
use crate::storage::chunk::{ChunkError, MemChunk};

/// Kept entries: (entry as stored, group, rewritten line).
type Kept = (Entry, usize, Option<String>);

pub(crate) struct LogCollector<'q> {
    req: &'q LogRequest,
    groups: Groups,
    out: Vec<Kept>,
    /// Entries in `out` when it was last compacted.
    compacted: usize,
    /// The worst timestamp among `limit` kept entries, once there are that many.
    bound: Option<i64>,
    buf: Vec<u8>,
    pub stats: ScanStats,
}

impl<'q> LogCollector<'q> {
    pub fn new(req: &'q LogRequest) -> Self {
        LogCollector {
            req,
            groups: Groups::default(),
            out: Vec::new(),
            compacted: 0,
            bound: None,
            buf: Vec::new(),
            stats: ScanStats::default(),
        }
    }

    /// Whether data spanning `[min_ts, max_ts]` may hold entries of the answer.
    pub fn wants(&self, min_ts: i64, max_ts: i64) -> bool {
        if max_ts < self.req.start || min_ts >= self.req.end {
            return false;
        }
        match (self.bound, self.req.direction) {
            (Some(b), Direction::Forward) => min_ts <= b,
            (Some(b), Direction::Backward) => max_ts >= b,
            (None, _) => true,
        }
    }

    fn beyond_bound(&self, ts: i64) -> bool {
        match (self.bound, self.req.direction) {
            (Some(b), Direction::Forward) => ts > b,
            (Some(b), Direction::Backward) => ts < b,
            (None, _) => false,
        }
    }

    /// Offers chunks in the order that finds the bound soonest.
    pub fn order<T>(&self, items: &mut [T], span: impl Fn(&T) -> (i64, i64)) {
        match self.req.direction {
            Direction::Forward => items.sort_by_key(|t| span(t).0),
            Direction::Backward => items.sort_by_key(|t| std::cmp::Reverse(span(t).1)),
        }
    }

    /// Runs the query over one chunk of the stream labelled `stream`.
    pub fn add_chunk(&mut self, c: &MemChunk, stream: &[(String, String)]) -> Result<(), ChunkError> {
        if c.count == 0 || !self.wants(c.min_ts, c.max_ts) {
            return Ok(());
        }
        self.stats.chunks += 1;
        let n = c.block_count();
        let backward = self.req.direction == Direction::Backward;
        let mut buf = std::mem::take(&mut self.buf);
        for k in 0..n {
            let i = if backward { n - 1 - k } else { k };
            let (min, max) = c.part_span(i);
            if !self.wants(min, max) {
                continue;
            }
            let (start, end) = (self.req.start, self.req.end);
            let r = c.for_each_in_part(i, start, end, &mut buf, |e| self.entry(e, stream));
            if let Err(e) = r {
                self.buf = buf;
                return Err(e);
            }
            self.compact_if_due();
        }
        self.buf = buf;
        Ok(())
    }

    fn entry(&mut self, e: crate::storage::chunk::block::EntryRef<'_>, stream: &[(String, String)]) {
        if self.beyond_bound(e.ts) {
            return;
        }
        self.stats.lines += 1;
        self.stats.bytes += e.line.len() as u64;
        let pipeline = &self.req.expr.pipeline;
        if pipeline.filters_only() && !e.has_metadata() {
            if pipeline.keep_line(e.line) {
                let g = self.groups.stream_only(stream);
                self.out.push((e.to_entry(), g, None));
            }
            return;
        }
        // only entries that survive are copied out of the chunk
        let meta = if e.has_metadata() { e.metadata() } else { Vec::new() };
        let line = match std::str::from_utf8(e.line) {
            Ok(l) => Cow::Borrowed(l),
            Err(_) => String::from_utf8_lossy(e.line),
        };
        let (g, new_line) = match pipeline.process(e.ts, &line, stream, &meta) {
            Some(p) => (self.groups.find_or_add(&p.labels), p.line),
            None => return,
        };
        let entry = Entry { ts: e.ts, line: bytes::Bytes::copy_from_slice(e.line), metadata: meta };
        self.out.push((entry, g, new_line));
    }

    /// Sorts, drops duplicates and keeps the best `limit` once enough arrived
    /// since the last time (never with an interval: see the module note).
    fn compact_if_due(&mut self) {
        let limit = self.req.limit;
        if self.req.interval_ns > 0 || limit == 0 || self.out.len() < limit.max(self.compacted * 2) {
            return;
        }
        self.sort_dedup();
        if self.out.len() > limit {
            match self.req.direction {
                Direction::Forward => self.out.truncate(limit),
                Direction::Backward => drop(self.out.drain(..self.out.len() - limit)),
            }
        }
        if self.out.len() == limit {
            self.bound = match self.req.direction {
                Direction::Forward => self.out.last().map(|k| k.0.ts),
                Direction::Backward => self.out.first().map(|k| k.0.ts),
            };
        }
        self.compacted = self.out.len();
    }

    /// Orders by timestamp, line, then metadata (a total order on what dedup
    /// compares, so the answer does not depend on the order chunks were read in).
    fn sort_dedup(&mut self) {
        self.out.sort_by(|a, b| {
            a.0.ts.cmp(&b.0.ts).then_with(|| a.0.line.cmp(&b.0.line)).then_with(|| a.0.metadata.cmp(&b.0.metadata))
        });
        self.out.dedup_by(|a, b| a.0.ts == b.0.ts && a.0.line == b.0.line && a.0.metadata == b.0.metadata);
    }

    /// The answer: groups with their entries in the request's direction.
    pub fn finish(mut self, labels: &Labels) -> Vec<StreamEntries> {
        self.sort_dedup();
        let req = self.req;
        let mut out = self.out;
        if req.direction == Direction::Backward {
            out.reverse();
        }
        if req.interval_ns > 0 {
            let mut last: Option<i64> = None;
            out.retain(|(e, _, _)| {
                let keep = last.is_none_or(|l| (e.ts - l).abs() >= req.interval_ns);
                if keep {
                    last = Some(e.ts);
                }
                keep
            });
        }
        out.truncate(req.limit);
        let mut used = vec![false; self.groups.len()];
        for k in &out {
            used[k.1] = true;
        }
        let mut result: Vec<StreamEntries> = self.groups.into_streams(labels, &used);
        for (mut e, g, line) in out {
            if let Some(l) = line {
                e.line = bytes::Bytes::from(l);
            }
            result[g].entries.push(e);
        }
        result.retain(|s| !s.entries.is_empty());
        result
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::actors::ingester::stream::Stream;
    use crate::actors::ingester::test_settings;
    use crate::logql::{parse, Expr};

    fn request(q: &str, limit: usize, direction: Direction) -> LogRequest {
        let Expr::Log(l) = parse(q).unwrap() else { panic!("log query expected") };
        LogRequest { expr: Arc::new(l), start: 0, end: i64::MAX, limit, direction, interval_ns: 0 }
    }

    /// (ts, line, structured metadata): the order the answer is cut in.
    type Flat = (i64, String, Vec<(String, String)>);

    fn flat(r: &[StreamEntries]) -> Vec<Flat> {
        let mut v: Vec<_> = r
            .iter()
            .flat_map(|s| {
                s.entries.iter().map(|e| (e.ts, String::from_utf8_lossy(&e.line).into_owned(), s.structured.clone()))
            })
            .collect();
        v.sort();
        v
    }

    /// Entries equal in timestamp and line but not in metadata, in different
    /// blocks: whichever block is read first, the cut falls in the same place.
    #[test]
    fn ties_on_timestamp_and_line_are_cut_by_metadata() {
        let s = test_settings();
        let mut st = Stream::new(Labels::parse(r#"{app="a"}"#).unwrap());
        let with = |ts: i64, line: &str, m: &str| {
            let mut e = Entry::new(ts, line.to_string());
            e.metadata = vec![("a".to_string(), m.to_string())];
            e
        };
        st.push(&[with(5, "x", "1")], &s, "t", 0);
        let filler: Vec<Entry> = (0..40).map(|i| Entry::new(6 + i, format!("filler line {i}"))).collect();
        st.push(&filler, &s, "t", 0);
        st.push(&[with(5, "x", "2")], &s, "t", 0);
        st.push(&filler.iter().map(|e| Entry::new(e.ts + 100, "more filler")).collect::<Vec<_>>(), &s, "t", 0);
        for dir in [Direction::Forward, Direction::Backward] {
            let all = st.query(&request(r#"{app="a"} |= "x""#, usize::MAX, dir), &mut ScanStats::default()).unwrap();
            assert_eq!(flat(&all).len(), 2, "both twins are kept");
            let one = st.query(&request(r#"{app="a"} |= "x""#, 1, dir), &mut ScanStats::default()).unwrap();
            let want = if dir == Direction::Forward { "1" } else { "2" };
            assert_eq!(flat(&one)[0].2, vec![("a".to_string(), want.to_string())], "{dir:?}");
        }
    }

    /// Many small chunks and blocks, timestamps that repeat (ties at the bound)
    /// and arrive out of order: every limit and direction must give the same
    /// answer as reading everything, while reading less.
    #[test]
    fn stops_early_with_the_same_answer_as_a_full_scan() {
        let s = test_settings();
        let mut st = Stream::new(Labels::parse(r#"{app="a"}"#).unwrap());
        let mut x = 7u64;
        for round in 0..40i64 {
            let mut batch: Vec<Entry> = (0..25i64)
                .map(|i| {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let ts = 1_000 + round * 100 + i * 3 - (x >> 60) as i64; // a little out of order, with ties
                    Entry::new(ts, format!("level={} n={}", ["info", "error"][(x >> 33) as usize % 2], x >> 40))
                })
                .collect();
            st.push(&batch, &s, "t", 0);
            // twins: the same timestamp and line with other metadata, in a later push (often another block)
            for e in batch.iter_mut().step_by(4) {
                e.metadata = vec![("m".to_string(), round.to_string())];
            }
            st.push(&batch[..batch.len() / 2], &s, "t", 0);
        }
        assert!(st.chunk_count() > 3, "the test needs several chunks");
        for q in [r#"{app="a"}"#, r#"{app="a"} |= "error""#, r#"{app="a"} | logfmt | level="error""#] {
            for dir in [Direction::Forward, Direction::Backward] {
                let mut all_stats = ScanStats::default();
                let all = flat(&st.query(&request(q, usize::MAX, dir), &mut all_stats).unwrap());
                for limit in [1, 7, 30, 200, 5000] {
                    let mut stats = ScanStats::default();
                    let got = flat(&st.query(&request(q, limit, dir), &mut stats).unwrap());
                    let mut want = all.clone();
                    if dir == Direction::Forward {
                        want.truncate(limit);
                    } else {
                        want.drain(..want.len().saturating_sub(limit));
                    }
                    assert_eq!(got, want, "{q} {dir:?} limit {limit}");
                    if limit <= 30 {
                        assert!(
                            stats.lines * 2 < all_stats.lines,
                            "{q} {dir:?} limit {limit}: read {} of {}",
                            stats.lines,
                            all_stats.lines
                        );
                    }
                }
            }
        }
    }
}
