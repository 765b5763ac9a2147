//! A growing chunk: compressed blocks cut at `chunk_block_size` plus the head block.
//!
//! Owned by one stream inside an ingester shard actor; the actor decides when to
//! close it (`chunk_target_size`, `max_chunk_age`, `chunk_idle_period`).

use super::block::EntryRef;
use super::{Block, ChunkError, Encoding, HeadBlock};

#[derive(Debug)]
pub struct MemChunk {
    pub(super) encoding: Encoding,
    pub(super) block_size: usize,
    pub(super) blocks: Vec<Block>,
    pub(super) head: HeadBlock,
    pub(super) compressed_bytes: usize,
    pub min_ts: i64,
    pub max_ts: i64,
    pub count: u64,
    /// Raw line bytes appended (what index stats report); 0 when rebuilt from storage.
    pub line_bytes: u64,
    pub closed: bool,
}

impl MemChunk {
    pub fn new(encoding: Encoding, block_size: usize) -> MemChunk {
        MemChunk {
            encoding,
            block_size,
            blocks: Vec::new(),
            head: HeadBlock::default(),
            compressed_bytes: 0,
            min_ts: i64::MAX,
            max_ts: i64::MIN,
            count: 0,
            line_bytes: 0,
            closed: false,
        }
    }

    pub fn append(&mut self, ts: i64, line: &[u8], metadata: &[(String, String)]) {
        self.head.append(ts, line, metadata);
        self.min_ts = self.min_ts.min(ts);
        self.max_ts = self.max_ts.max(ts);
        self.count += 1;
        self.line_bytes += line.len() as u64;
        if self.head.raw_len() >= self.block_size {
            self.cut_head();
            // This stream fills blocks: size the next head block once instead of
            // growing it step by step (each step a realloc and a copy).
            self.head.reserve(self.block_size + self.block_size / 16);
        }
    }

    fn cut_head(&mut self) {
        if !self.head.is_empty() {
            let b = self.head.cut(self.encoding);
            self.compressed_bytes += b.data.len();
            self.blocks.push(b);
        }
    }

    /// Compresses the head block; no more appends are expected.
    pub fn close(&mut self) {
        self.cut_head();
        self.head = HeadBlock::default();
        self.closed = true;
    }

    /// Compressed bytes plus the uncompressed head: what `chunk_target_size` is compared with.
    pub fn size(&self) -> usize {
        self.compressed_bytes + self.head.raw_len()
    }

    /// Bytes held in memory, including the head block's spare capacity.
    pub fn memory_bytes(&self) -> usize {
        self.compressed_bytes + self.head.memory_bytes() + self.blocks.capacity() * std::mem::size_of::<Block>()
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// A closed chunk rebuilt from stored blocks (read path).
    pub fn from_blocks(encoding: Encoding, blocks: Vec<Block>) -> MemChunk {
        let mut c = MemChunk::new(encoding, 0);
        c.min_ts = blocks.iter().map(|b| b.min_ts).min().unwrap_or(i64::MAX);
        c.max_ts = blocks.iter().map(|b| b.max_ts).max().unwrap_or(i64::MIN);
        c.count = blocks.iter().map(|b| b.count as u64).sum();
        c.compressed_bytes = blocks.iter().map(|b| b.data.len()).sum();
        c.blocks = blocks;
        c.closed = true;
        c
    }

    /// The compressed blocks; the head block must be cut first (see `close`).
    pub fn cut_blocks(&self) -> &[Block] {
        &self.blocks
    }

    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    pub fn block_count(&self) -> usize {
        self.blocks.len() + usize::from(!self.head.is_empty())
    }

    /// True when the head block already holds an entry with this timestamp and
    /// line. As in Loki, the write-time check covers the head block only; queries
    /// drop any exact duplicates left in cut blocks.
    pub fn head_contains(&self, ts: i64, line: &[u8]) -> bool {
        self.head.contains(ts, line)
    }

    /// Calls `f` for every entry with `start <= ts < end`, blocks in time order
    /// (each block's entries, the head block's too, in time order).
    pub fn for_each_in_range(&self, start: i64, end: i64, mut f: impl FnMut(EntryRef<'_>)) -> Result<(), ChunkError> {
        if self.count == 0 || self.max_ts < start || self.min_ts >= end {
            return Ok(());
        }
        let mut buf = Vec::new();
        for i in 0..self.block_count() {
            let (min, max) = self.part_span(i);
            if max >= start && min < end {
                self.for_each_in_part(i, start, end, &mut buf, &mut f)?;
            }
        }
        Ok(())
    }

    /// The smallest and largest timestamp of part `i` (parts: the cut blocks in
    /// time order, then the head block when it holds entries; `block_count` of
    /// them). Readers that can stop early (log queries with a limit) walk parts by
    /// their spans and skip the ones that cannot matter, undecoded.
    pub fn part_span(&self, i: usize) -> (i64, i64) {
        match self.blocks.get(i) {
            Some(b) => (b.min_ts, b.max_ts),
            None => (self.head.min_ts, self.head.max_ts),
        }
    }

    /// Calls `f` for every entry of part `i` with `start <= ts < end`; `buf` is
    /// the decompression buffer, reused across calls.
    pub fn for_each_in_part(
        &self,
        i: usize,
        start: i64,
        end: i64,
        buf: &mut Vec<u8>,
        mut f: impl FnMut(EntryRef<'_>),
    ) -> Result<(), ChunkError> {
        let Some(b) = self.blocks.get(i) else {
            for e in self.head.iter().filter(|e| e.ts >= start && e.ts < end) {
                f(e);
            }
            return Ok(());
        };
        let raw = b.decompress_into(self.encoding, buf)?;
        let mut it = b.iter(raw);
        for e in it.by_ref().filter(|e| e.ts >= start && e.ts < end) {
            f(e);
        }
        if it.corrupt {
            return Err(ChunkError::Corrupt("truncated entry"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_blocks_and_reads_ranges() {
        let mut c = MemChunk::new(Encoding::Lz4, 64);
        for i in 0..100i64 {
            c.append(i, format!("line {i}").as_bytes(), &[]);
        }
        assert!(c.block_count() > 5, "small block size cuts many blocks");
        let mut got = Vec::new();
        c.for_each_in_range(10, 20, |e| got.push(e.ts)).unwrap();
        assert_eq!(got, (10..20).collect::<Vec<_>>());
        c.append(200, b"tail", &[]);
        assert!(c.head_contains(200, b"tail"));
        assert!(!c.head_contains(200, b"line 98"));
        c.close();
        let mut n = 0;
        c.for_each_in_range(i64::MIN, i64::MAX, |_| n += 1).unwrap();
        assert_eq!(n, 101);
    }
}
