//! The columnar block layout: a cut block's timestamps apart from its lines.
//!
//! ```text
//! count       uvarint: entries in the block
//! ts_len      uvarint: bytes of the timestamp column
//! ts column   count zigzag varints: each timestamp minus the previous one (the first minus 0)
//! entries     per entry: line length (uvarint), line, metadata pair count (uvarint), pairs
//! ```
//! Entries of a cut block are time-sorted, so the deltas are small and alike and
//! compress to almost nothing, and lines follow each other without an 8-byte
//! timestamp between them, so the compressor finds longer matches: lz4 goes from
//! 6.5 to 7.5 on access logs (docs/benchmarks.md). The head block keeps its
//! entries' bodies in this layout already and writes the column at its cut (`head`).
//!
//! Used by `block` (iteration), `head` (cut) and the chunk benchmark (`compress_rows`);
//! `Block::columnar` says which layout a block has.

use super::block::{put_uvarint, read_uvarint, RawIter};

/// Timestamps read back from a column, one per entry.
#[derive(Debug)]
pub struct TsColumn<'a> {
    col: &'a [u8],
    pos: usize,
    prev: i64,
}

impl TsColumn<'_> {
    pub(super) fn is_done(&self) -> bool {
        self.pos >= self.col.len()
    }

    pub(super) fn next(&mut self) -> Option<i64> {
        let z = read_uvarint(self.col, &mut self.pos)?;
        let d = (z >> 1) as i64 ^ -((z & 1) as i64);
        self.prev = self.prev.wrapping_add(d);
        Some(self.prev)
    }
}

/// Iterates a columnar block's entries; a malformed header gives an iterator
/// that yields nothing and is marked corrupt.
pub fn iter(raw: &[u8]) -> RawIter<'_> {
    let mut pos = 0;
    let parts = (|| {
        let _count = read_uvarint(raw, &mut pos)?;
        let ts_len = usize::try_from(read_uvarint(raw, &mut pos)?).ok()?;
        let col = raw.get(pos..pos.checked_add(ts_len)?)?;
        Some((col, pos + ts_len))
    })();
    match parts {
        Some((col, body)) => {
            RawIter { b: &raw[body..], pos: 0, ts: Some(TsColumn { col, pos: 0, prev: 0 }), corrupt: false }
        }
        None => RawIter { b: &[], pos: 0, ts: None, corrupt: true },
    }
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Compresses time-sorted row-layout entries as a columnar block: (compressed
/// bytes, raw length, columnar). Rows that do not decode (never expected) are
/// compressed as they are, in the row layout.
pub fn compress_rows(row: &[u8], count: u32, encoding: super::Encoding) -> (Vec<u8>, u32, bool) {
    SCRATCH.with_borrow_mut(|buf| match from_rows(row, count, buf) {
        Some(()) => (encoding.compress(buf), buf.len() as u32, true),
        None => (encoding.compress(row), row.len() as u32, false),
    })
}

/// Rewrites time-sorted row-layout entries (`row`, `count` of them) in the
/// columnar layout into `out` (cleared first). `None` when `row` does not decode.
pub fn from_rows(row: &[u8], count: u32, out: &mut Vec<u8>) -> Option<()> {
    out.clear();
    let mut col = Vec::with_capacity(count as usize * 2);
    let mut it = RawIter::new(row);
    let mut prev = 0i64;
    let mut starts = Vec::with_capacity(count as usize + 1);
    loop {
        starts.push(row.len() - it.remaining());
        let Some(e) = it.next() else { break };
        let d = e.ts.wrapping_sub(prev);
        prev = e.ts;
        put_uvarint(&mut col, ((d << 1) ^ (d >> 63)) as u64);
    }
    if it.corrupt || starts.len() != count as usize + 1 {
        return None;
    }
    put_uvarint(out, u64::from(count));
    put_uvarint(out, col.len() as u64);
    out.reserve(col.len() + row.len() - 8 * count as usize);
    out.extend_from_slice(&col);
    for w in starts.windows(2) {
        // the entry without its leading 8-byte timestamp
        out.extend_from_slice(&row[w[0] + 8..w[1]]);
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::chunk::block::encode_entry;

    #[test]
    fn round_trips_and_damage_is_corrupt_not_a_panic() {
        let mut row = Vec::new();
        let meta = vec![("trace_id".to_string(), "abc".to_string())];
        let ts = [i64::MIN, -5, 0, 0, 7, 1_700_000_000_000_000_000, i64::MAX];
        for (i, t) in ts.iter().enumerate() {
            encode_entry(&mut row, *t, format!("line {i}").as_bytes(), if i % 2 == 0 { &meta } else { &[] });
        }
        let mut col = Vec::new();
        from_rows(&row, ts.len() as u32, &mut col).unwrap();
        assert!(col.len() < row.len());
        let want: Vec<_> = RawIter::new(&row).map(|e| (e.ts, e.line.to_vec(), e.metadata())).collect();
        let mut it = iter(&col);
        let got: Vec<_> = it.by_ref().map(|e| (e.ts, e.line.to_vec(), e.metadata())).collect();
        assert!(!it.corrupt);
        assert_eq!(got, want);
        assert!(from_rows(&row, ts.len() as u32 + 1, &mut col).is_none(), "count must match");
        // every truncation and every flipped byte: an error or other entries, never a panic
        let mut good = Vec::new();
        from_rows(&row, ts.len() as u32, &mut good).unwrap();
        for n in 0..good.len() {
            let _ = iter(&good[..n]).count();
            let mut bad = good.clone();
            bad[n] ^= 0xa5;
            let _ = iter(&bad).count();
        }
        assert!(iter(&[0xff]).corrupt);
    }
}
