//! The head block: what a stream appended since its last cut, uncompressed,
//! laid out so that a cut compresses it in place as a columnar block.
//!
//! `buf` holds a gap, then the entries' bodies (line and metadata: the columnar
//! layout's entry part, see `columnar`). Timestamps live apart: in `index`
//! (timestamp, offset of the body in `buf`) sorted by time, arrival order among
//! equal timestamps, which makes the duplicate check a binary search; and, while
//! the block is in time order, in `tscol`, the columnar timestamp column. A cut
//! of a block in time order writes the block header and that column into the gap
//! in front of the bodies and compresses the buffer as it stands, with no copy.
//! A block out of order, or one whose gap is too small (a stream's first block),
//! is assembled in a scratch buffer. The emptied block keeps its buffers and sizes
//! its next gap from this cut's header.
//!
//! Owned by `MemChunk`; `snapshot` exports and restores it in the row layout.

use bytes::Bytes;

use super::block::{encode_body, encoded_len, put_uvarint, read_body, EntryRef, RawIter};
use super::{Block, ChunkError, Encoding};

/// Largest gap kept in front of the bodies.
const MAX_GAP: usize = 64 * 1024;

#[derive(Debug, Default)]
pub struct HeadBlock {
    buf: Vec<u8>,
    /// Bytes reserved at the front of `buf` for the cut's header and timestamp column.
    gap: usize,
    pub(super) index: Vec<(i64, u32)>,
    /// Zigzag-delta timestamp column in arrival order; valid while `sorted`.
    tscol: Vec<u8>,
    pub count: u32,
    pub min_ts: i64,
    pub max_ts: i64,
    /// False once an entry arrived older than the newest one: reorder at cut time.
    pub sorted: bool,
    /// The entries' size in the row layout (timestamp plus body): what block and
    /// chunk sizes are measured in.
    row_len: usize,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn zigzag(d: i64) -> u64 {
    ((d << 1) ^ (d >> 63)) as u64
}

impl HeadBlock {
    pub fn append(&mut self, ts: i64, line: &[u8], metadata: &[(String, String)]) {
        if self.count == 0 && self.buf.len() < self.gap {
            self.buf.resize(self.gap, 0);
        }
        let offset = self.buf.len() as u32;
        if self.count == 0 {
            (self.min_ts, self.max_ts, self.sorted) = (ts, ts, true);
            self.tscol.clear();
            put_uvarint(&mut self.tscol, zigzag(ts));
            self.index.reserve_exact(1);
            self.index.push((ts, offset));
        } else if ts >= self.max_ts {
            if self.sorted {
                put_uvarint(&mut self.tscol, zigzag(ts.wrapping_sub(self.max_ts)));
            }
            self.max_ts = ts;
            self.index.push((ts, offset));
        } else {
            self.sorted = false;
            self.min_ts = self.min_ts.min(ts);
            let at = self.index.partition_point(|e| e.0 <= ts);
            self.index.insert(at, (ts, offset));
        }
        // Grow by half rather than doubling: thousands of head blocks live at once,
        // and doubling leaves up to half of each unused.
        let need = encoded_len(line, metadata);
        if self.buf.capacity() - self.buf.len() < need {
            self.buf.reserve_exact((self.buf.len() / 2).max(need));
        }
        let before = self.buf.len();
        encode_body(&mut self.buf, line, metadata);
        self.row_len += 8 + self.buf.len() - before;
        self.count += 1;
    }

    /// Room for `bytes` more of entries without growing (a stream that fills blocks).
    pub fn reserve(&mut self, bytes: usize) {
        let want = self.gap.max(self.buf.len()) + bytes;
        if self.buf.capacity() < want {
            self.buf.reserve_exact(want - self.buf.len());
        }
    }

    /// The entries' size in the row layout (see `block`): timestamps plus bodies.
    pub fn raw_len(&self) -> usize {
        self.row_len
    }

    /// Bytes of memory held, spare capacity included.
    pub fn memory_bytes(&self) -> usize {
        self.buf.capacity() + self.index.capacity() * std::mem::size_of::<(i64, u32)>() + self.tscol.capacity()
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The entries in time order (arrival order among equal timestamps).
    pub fn iter(&self) -> impl Iterator<Item = EntryRef<'_>> {
        self.index.iter().filter_map(|&(ts, off)| read_body(&self.buf, &mut (off as usize), ts))
    }

    /// True when an entry with exactly this timestamp and line is already here.
    pub fn contains(&self, ts: i64, line: &[u8]) -> bool {
        if self.count == 0 || ts < self.min_ts || ts > self.max_ts {
            return false;
        }
        let from = self.index.partition_point(|e| e.0 < ts);
        self.index[from..]
            .iter()
            .take_while(|e| e.0 == ts)
            .any(|&(_, off)| read_body(&self.buf, &mut (off as usize), ts).is_some_and(|e| e.line == line))
    }

    /// Compresses the entries as a columnar block in time order and empties the
    /// head block, which keeps its buffers (a stream that fills a block goes on to
    /// fill the next, and memory already touched is cheaper than fresh pages).
    pub fn cut(&mut self, encoding: Encoding) -> Block {
        let mut header = Vec::with_capacity(20);
        put_uvarint(&mut header, u64::from(self.count));
        let (data, raw_len) = if self.sorted {
            put_uvarint(&mut header, self.tscol.len() as u64);
            let p = header.len() + self.tscol.len();
            if p <= self.gap {
                let start = self.gap - p;
                self.buf[start..start + header.len()].copy_from_slice(&header);
                self.buf[start + header.len()..self.gap].copy_from_slice(&self.tscol);
                (encoding.compress(&self.buf[start..]), self.buf.len() - start)
            } else {
                let bodies = &self.buf[self.gap..];
                SCRATCH.with_borrow_mut(|s| {
                    s.clear();
                    s.reserve(p + bodies.len());
                    s.extend_from_slice(&header);
                    s.extend_from_slice(&self.tscol);
                    s.extend_from_slice(bodies);
                    (encoding.compress(s), s.len())
                })
            }
        } else {
            self.assemble_reordered(&mut header, encoding)
        };
        let block = Block {
            min_ts: self.min_ts,
            max_ts: self.max_ts,
            count: self.count,
            raw_len: raw_len as u32,
            crc: crc32fast::hash(&data),
            data: Bytes::from(data),
            columnar: true,
        };
        // the next block of this stream will likely need a header of this size
        let used = header.len() + if self.sorted { self.tscol.len() } else { 5 * self.count as usize };
        let (mut buf, mut index, mut tscol) =
            (std::mem::take(&mut self.buf), std::mem::take(&mut self.index), std::mem::take(&mut self.tscol));
        buf.clear();
        index.clear();
        tscol.clear();
        let gap = (used + used / 8 + 16).min(MAX_GAP);
        *self = HeadBlock { buf, index, tscol, gap, ..HeadBlock::default() };
        block
    }

    /// An out-of-order block in time order, assembled in the scratch buffer:
    /// (compressed bytes, raw length). `header` holds the count; the column's
    /// length is added here.
    fn assemble_reordered(&self, header: &mut Vec<u8>, encoding: Encoding) -> (Vec<u8>, usize) {
        // a body ends where the next appended one starts
        let mut ends: Vec<u32> = self.index.iter().map(|e| e.1).collect();
        ends.sort_unstable();
        let end_of = |off: u32| {
            let i = ends.partition_point(|o| *o <= off);
            ends.get(i).map_or(self.buf.len(), |o| *o as usize)
        };
        let mut col = Vec::with_capacity(self.index.len() * 3);
        let mut prev = 0i64;
        for &(ts, _) in &self.index {
            put_uvarint(&mut col, zigzag(ts.wrapping_sub(prev)));
            prev = ts;
        }
        put_uvarint(header, col.len() as u64);
        SCRATCH.with_borrow_mut(|s| {
            s.clear();
            s.reserve(header.len() + col.len() + self.buf.len() - self.gap);
            s.extend_from_slice(header);
            s.extend_from_slice(&col);
            for &(_, off) in &self.index {
                s.extend_from_slice(&self.buf[off as usize..end_of(off)]);
            }
            (encoding.compress(s), s.len())
        })
    }

    /// The entries in arrival order in the row layout (timestamp, then body):
    /// what a WAL checkpoint stores.
    pub fn rows(&self) -> Vec<u8> {
        let mut by_offset: Vec<(u32, i64)> = self.index.iter().map(|&(ts, off)| (off, ts)).collect();
        by_offset.sort_unstable();
        let mut out = Vec::with_capacity(self.row_len);
        for (i, &(off, ts)) in by_offset.iter().enumerate() {
            let end = by_offset.get(i + 1).map_or(self.buf.len(), |n| n.0 as usize);
            out.extend_from_slice(&ts.to_le_bytes());
            out.extend_from_slice(&self.buf[off as usize..end]);
        }
        out
    }

    /// A head block holding the row-layout entries `raw` (from [`rows`](Self::rows)).
    pub fn from_rows(raw: &[u8]) -> Result<HeadBlock, ChunkError> {
        let mut h = HeadBlock::default();
        let mut it = RawIter::new(raw);
        for e in it.by_ref() {
            h.append(e.ts, e.line, &e.metadata());
        }
        if it.corrupt {
            return Err(ChunkError::Corrupt("head block entries"));
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests;
