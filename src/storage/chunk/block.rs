//! Raw entry encoding, the uncompressed head block and compressed blocks.
//!
//! An entry in a block's raw bytes: timestamp (i64 LE), line length (uvarint), line,
//! metadata pair count (uvarint), then for each pair name length, name, value
//! length, value. Entries in a cut block are sorted by timestamp.

use bytes::Bytes;

use super::{ChunkError, Encoding};
use crate::model::Entry;

/// A decoded entry borrowing the block's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRef<'a> {
    pub ts: i64,
    pub line: &'a [u8],
    meta: &'a [u8],
    meta_count: usize,
}

impl<'a> EntryRef<'a> {
    pub fn has_metadata(&self) -> bool {
        self.meta_count > 0
    }

    pub fn metadata(&self) -> Vec<(String, String)> {
        let mut out = Vec::with_capacity(self.meta_count);
        let mut pos = 0;
        for _ in 0..self.meta_count {
            let (Some(n), Some(v)) = (read_bytes(self.meta, &mut pos), read_bytes(self.meta, &mut pos)) else {
                break;
            };
            out.push((String::from_utf8_lossy(n).into_owned(), String::from_utf8_lossy(v).into_owned()));
        }
        out
    }

    pub fn to_entry(&self) -> Entry {
        Entry { ts: self.ts, line: Bytes::copy_from_slice(self.line), metadata: self.metadata() }
    }
}

/// Upper bound of an entry's encoded size.
fn encoded_len(line: &[u8], metadata: &[(String, String)]) -> usize {
    8 + 10 + line.len() + 10 + metadata.iter().map(|(n, v)| n.len() + v.len() + 20).sum::<usize>()
}

pub fn encode_entry(buf: &mut Vec<u8>, ts: i64, line: &[u8], metadata: &[(String, String)]) {
    // one reservation per entry: a fresh buffer gets exactly one entry's room
    // instead of doubling from 8 bytes through every small write
    buf.reserve(encoded_len(line, metadata));
    buf.extend_from_slice(&ts.to_le_bytes());
    put_uvarint(buf, line.len() as u64);
    buf.extend_from_slice(line);
    put_uvarint(buf, metadata.len() as u64);
    for (n, v) in metadata {
        put_uvarint(buf, n.len() as u64);
        buf.extend_from_slice(n.as_bytes());
        put_uvarint(buf, v.len() as u64);
        buf.extend_from_slice(v.as_bytes());
    }
}

pub(super) fn put_uvarint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

pub(super) fn read_uvarint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*pos)?;
        *pos += 1;
        v |= ((byte & 0x7f) as u64) << shift;
        if byte < 0x80 {
            return Some(v);
        }
    }
    None
}

fn read_bytes<'a>(b: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let n = read_uvarint(b, pos)? as usize;
    let s = b.get(*pos..pos.checked_add(n)?)?;
    *pos += n;
    Some(s)
}

/// Iterates the entries of raw block bytes; stops (with `corrupt` set) on bad data.
/// Row layout (`new`): each entry starts with its timestamp. Columnar layout
/// (`columnar::iter`): timestamps come from their own column (`ts`).
pub struct RawIter<'a> {
    pub(super) b: &'a [u8],
    pub(super) pos: usize,
    pub(super) ts: Option<super::columnar::TsColumn<'a>>,
    pub corrupt: bool,
}

impl<'a> RawIter<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        RawIter { b, pos: 0, ts: None, corrupt: false }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.b.len() - self.pos
    }
}

impl<'a> Iterator for RawIter<'a> {
    type Item = EntryRef<'a>;
    fn next(&mut self) -> Option<EntryRef<'a>> {
        if self.corrupt {
            return None;
        }
        if self.pos >= self.b.len() {
            // a columnar block's timestamps and entries must run out together
            if self.ts.as_ref().is_some_and(|c| !c.is_done()) {
                self.corrupt = true;
            }
            return None;
        }
        let r = (|| {
            let ts = match &mut self.ts {
                Some(col) => col.next()?,
                None => {
                    let ts = i64::from_le_bytes(self.b.get(self.pos..self.pos + 8)?.try_into().ok()?);
                    self.pos += 8;
                    ts
                }
            };
            let line = read_bytes(self.b, &mut self.pos)?;
            let meta_count = read_uvarint(self.b, &mut self.pos)? as usize;
            let meta_start = self.pos;
            for _ in 0..meta_count {
                read_bytes(self.b, &mut self.pos)?;
                read_bytes(self.b, &mut self.pos)?;
            }
            Some(EntryRef { ts, line, meta: &self.b[meta_start..self.pos], meta_count })
        })();
        if r.is_none() {
            self.corrupt = true;
        }
        r
    }
}

/// The block being appended to, uncompressed, with a time index.
///
/// `index` holds (timestamp, offset in `raw`) sorted by timestamp (arrival order
/// among equal timestamps). Entries mostly arrive in order, so an insert is a push
/// or a short move; the index makes the duplicate check a binary search and lets
/// an out-of-order block be cut in time order without decoding it.
#[derive(Debug, Default)]
pub struct HeadBlock {
    pub raw: Vec<u8>,
    pub(super) index: Vec<(i64, u32)>,
    pub count: u32,
    pub min_ts: i64,
    pub max_ts: i64,
    /// False once an entry arrived older than the newest one: reorder at cut time.
    pub sorted: bool,
}

impl HeadBlock {
    pub fn append(&mut self, ts: i64, line: &[u8], metadata: &[(String, String)]) {
        let offset = self.raw.len() as u32;
        if self.count == 0 {
            self.min_ts = ts;
            self.max_ts = ts;
            self.sorted = true;
            self.index.reserve_exact(1);
            self.index.push((ts, offset));
        } else if ts >= self.max_ts {
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
        if self.raw.capacity() - self.raw.len() < need {
            self.raw.reserve_exact((self.raw.len() / 2).max(need));
        }
        encode_entry(&mut self.raw, ts, line, metadata);
        self.count += 1;
    }

    /// Bytes of memory held, spare capacity included.
    pub fn memory_bytes(&self) -> usize {
        self.raw.capacity() + self.index.capacity() * std::mem::size_of::<(i64, u32)>()
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn iter(&self) -> RawIter<'_> {
        RawIter::new(&self.raw)
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
            .any(|&(_, off)| RawIter::new(&self.raw[off as usize..]).next().is_some_and(|e| e.line == line))
    }

    /// Orders (if needed), compresses and empties the head block. The emptied
    /// block keeps its buffers: a stream that fills a block goes on to fill the
    /// next, and reusing memory already touched saves faulting in fresh pages.
    pub fn cut(&mut self, encoding: Encoding) -> Block {
        let (data, raw_len, columnar) = if self.sorted {
            super::columnar::compress_rows(&self.raw, self.count, encoding)
        } else {
            super::columnar::compress_rows(&self.reorder(&self.raw), self.count, encoding)
        };
        let block = Block {
            min_ts: self.min_ts,
            max_ts: self.max_ts,
            count: self.count,
            raw_len,
            crc: crc32fast::hash(&data),
            data: Bytes::from(data),
            columnar,
        };
        let (mut raw, mut index) = (std::mem::take(&mut self.raw), std::mem::take(&mut self.index));
        raw.clear();
        index.clear();
        *self = HeadBlock { raw, index, ..HeadBlock::default() };
        block
    }
}

impl HeadBlock {
    /// Copies the entries of `raw` in index (time) order.
    fn reorder(&self, raw: &[u8]) -> Vec<u8> {
        // entry i ends where the entry appended after it starts
        let mut by_offset: Vec<u32> = self.index.iter().map(|e| e.1).collect();
        by_offset.sort_unstable();
        let end_of = |off: u32| {
            let i = by_offset.partition_point(|o| *o <= off);
            by_offset.get(i).map(|o| *o as usize).unwrap_or(raw.len())
        };
        let mut out = Vec::with_capacity(raw.len());
        for &(_, off) in &self.index {
            out.extend_from_slice(&raw[off as usize..end_of(off)]);
        }
        out
    }
}

/// A cut block: time-sorted entries, compressed, with a CRC-32 of the compressed bytes.
#[derive(Debug, Clone)]
pub struct Block {
    pub min_ts: i64,
    pub max_ts: i64,
    pub count: u32,
    pub raw_len: u32,
    pub crc: u32,
    pub data: Bytes,
    /// Columnar layout (`columnar.rs`, every block cut since chunk format 2);
    /// false: the row layout of the head block (format 1 objects, old checkpoints).
    pub columnar: bool,
}

impl Block {
    /// The entries of this block's decompressed bytes, in its layout.
    pub fn iter<'b>(&self, raw: &'b [u8]) -> RawIter<'b> {
        if self.columnar {
            super::columnar::iter(raw)
        } else {
            RawIter::new(raw)
        }
    }

    /// Checks the CRC, then decompresses.
    pub fn decompress(&self, encoding: Encoding) -> Result<Vec<u8>, ChunkError> {
        if crc32fast::hash(&self.data) != self.crc {
            return Err(ChunkError::Checksum("block"));
        }
        let raw = encoding.decompress(&self.data, self.raw_len as usize)?;
        if raw.len() != self.raw_len as usize {
            return Err(ChunkError::Corrupt("block length mismatch"));
        }
        Ok(raw)
    }

    /// Checks the CRC, then decompresses into the front of `buf` (see
    /// `Encoding::decompress_into`), returning the block's bytes.
    pub fn decompress_into<'b>(&self, encoding: Encoding, buf: &'b mut Vec<u8>) -> Result<&'b [u8], ChunkError> {
        if crc32fast::hash(&self.data) != self.crc {
            return Err(ChunkError::Checksum("block"));
        }
        let n = encoding.decompress_into(&self.data, self.raw_len as usize, buf)?;
        if n != self.raw_len as usize {
            return Err(ChunkError::Corrupt("block length mismatch"));
        }
        Ok(&buf[..n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_block_round_trip_and_sort() {
        let mut h = HeadBlock::default();
        let meta = vec![("trace_id".to_string(), "abc".to_string())];
        h.append(30, b"c", &[]);
        h.append(10, b"a", &meta);
        h.append(20, b"b", &[]);
        assert!(!h.sorted);
        assert!(h.contains(10, b"a"));
        assert!(!h.contains(10, b"x"));
        let b = h.cut(Encoding::Snappy);
        assert!(h.is_empty());
        let raw = b.decompress(Encoding::Snappy).unwrap();
        assert!(b.columnar, "cut blocks are columnar");
        #[allow(clippy::type_complexity)]
        let got: Vec<(i64, Vec<u8>, Vec<(String, String)>)> =
            b.iter(&raw).map(|e| (e.ts, e.line.to_vec(), e.metadata())).collect();
        assert_eq!(got, vec![(10, b"a".to_vec(), meta), (20, b"b".to_vec(), vec![]), (30, b"c".to_vec(), vec![])]);
        assert_eq!((b.min_ts, b.max_ts, b.count), (10, 30, 3));
    }

    #[test]
    fn out_of_order_entries_are_cut_in_time_order() {
        let mut h = HeadBlock::default();
        let meta = [("k".to_string(), "v".repeat(300))];
        let order = [5i64, 1, 9, 3, 3, 7, 2, 8];
        for (i, ts) in order.iter().enumerate() {
            let m = if i % 2 == 0 { &meta[..] } else { &[] };
            h.append(*ts, format!("line-{ts}-{i}").as_bytes(), m);
        }
        assert!(h.contains(3, b"line-3-4") && h.contains(3, b"line-3-3") && !h.contains(3, b"line-3-9"));
        let b = h.cut(Encoding::Lz4);
        let raw = b.decompress(Encoding::Lz4).unwrap();
        let got: Vec<(i64, String, usize)> =
            b.iter(&raw).map(|e| (e.ts, String::from_utf8(e.line.to_vec()).unwrap(), e.metadata().len())).collect();
        let ts: Vec<i64> = got.iter().map(|g| g.0).collect();
        assert_eq!(ts, vec![1, 2, 3, 3, 5, 7, 8, 9]);
        assert_eq!(got[2].1, "line-3-3", "equal timestamps keep arrival order");
        assert_eq!(got[4], (5, "line-5-0".to_string(), 1));
    }

    #[test]
    fn truncated_raw_is_flagged() {
        let mut buf = Vec::new();
        encode_entry(&mut buf, 1, b"hello", &[]);
        let mut it = RawIter::new(&buf[..buf.len() - 2]);
        assert!(it.next().is_none());
        assert!(it.corrupt);
    }
}
