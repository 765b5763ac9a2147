//! A `MemChunk` taken apart for a WAL checkpoint and put back together on replay:
//! the cut blocks as they are (compressed, shared `Bytes`), the head block's raw
//! entries, and the counters.
//!
//! Taken by ingester streams when the WAL checkpoints; rebuilt by replay.

use bytes::Bytes;

use super::{Block, ChunkError, Encoding, HeadBlock, MemChunk};

#[derive(Debug, Clone)]
pub struct ChunkSnapshot {
    pub encoding: Encoding,
    pub block_size: usize,
    pub blocks: Vec<Block>,
    /// Raw (uncompressed) entries of the head block, in arrival order.
    pub head: Bytes,
    pub min_ts: i64,
    pub max_ts: i64,
    pub count: u64,
    pub line_bytes: u64,
    pub closed: bool,
}

impl MemChunk {
    pub fn snapshot(&self) -> ChunkSnapshot {
        ChunkSnapshot {
            encoding: self.encoding,
            block_size: self.block_size,
            blocks: self.blocks.clone(),
            head: Bytes::from(self.head.rows()),
            min_ts: self.min_ts,
            max_ts: self.max_ts,
            count: self.count,
            line_bytes: self.line_bytes,
            closed: self.closed,
        }
    }

    /// Rebuilds the chunk; fails when the head block's entries do not decode.
    pub fn restore(s: ChunkSnapshot) -> Result<MemChunk, ChunkError> {
        let head = HeadBlock::from_rows(&s.head)?;
        Ok(MemChunk {
            encoding: s.encoding,
            block_size: s.block_size,
            compressed_bytes: s.blocks.iter().map(|b| b.data.len()).sum(),
            blocks: s.blocks,
            head,
            min_ts: s.min_ts,
            max_ts: s.max_ts,
            count: s.count,
            line_bytes: s.line_bytes,
            closed: s.closed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_round_trip_keeps_every_entry_and_the_duplicate_check() {
        let mut c = MemChunk::new(Encoding::Snappy, 48);
        for i in [5i64, 3, 9, 1, 7, 20, 11, 2, 30, 4] {
            c.append(i, format!("line {i}").as_bytes(), &[("k".into(), format!("v{i}"))]);
        }
        assert!(c.cut_blocks().len() > 1, "some blocks were cut");
        let r = MemChunk::restore(c.snapshot()).unwrap();
        let collect = |c: &MemChunk| {
            let mut v = Vec::new();
            c.for_each_in_range(i64::MIN, i64::MAX, |e| v.push((e.ts, e.line.to_vec(), e.metadata()))).unwrap();
            v
        };
        assert_eq!(collect(&r), collect(&c));
        assert_eq!((r.count, r.min_ts, r.max_ts, r.size()), (c.count, c.min_ts, c.max_ts, c.size()));
        assert_eq!(r.head_contains(4, b"line 4"), c.head_contains(4, b"line 4"));
        let mut bad = c.snapshot();
        bad.head = Bytes::from_static(&[1, 2, 3]);
        assert!(MemChunk::restore(bad).is_err());
    }
}
