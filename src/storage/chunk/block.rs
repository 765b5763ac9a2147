//! Raw entry encoding and compressed blocks (the head block is in `head`).
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
pub(super) fn encoded_len(line: &[u8], metadata: &[(String, String)]) -> usize {
    8 + 10 + line.len() + 10 + metadata.iter().map(|(n, v)| n.len() + v.len() + 20).sum::<usize>()
}

pub fn encode_entry(buf: &mut Vec<u8>, ts: i64, line: &[u8], metadata: &[(String, String)]) {
    // one reservation per entry: a fresh buffer gets exactly one entry's room
    // instead of doubling from 8 bytes through every small write
    buf.reserve(encoded_len(line, metadata));
    buf.extend_from_slice(&ts.to_le_bytes());
    encode_body(buf, line, metadata);
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

/// An entry's body (line, metadata: what follows the timestamp in the row layout)
/// at `pos`, which moves past it.
pub(super) fn read_body<'a>(b: &'a [u8], pos: &mut usize, ts: i64) -> Option<EntryRef<'a>> {
    let line = read_bytes(b, pos)?;
    let meta_count = read_uvarint(b, pos)? as usize;
    let meta_start = *pos;
    for _ in 0..meta_count {
        read_bytes(b, pos)?;
        read_bytes(b, pos)?;
    }
    Some(EntryRef { ts, line, meta: &b[meta_start..*pos], meta_count })
}

/// Writes an entry's body (see [`read_body`]).
pub(super) fn encode_body(buf: &mut Vec<u8>, line: &[u8], metadata: &[(String, String)]) {
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
            read_body(self.b, &mut self.pos, ts)
        })();
        if r.is_none() {
            self.corrupt = true;
        }
        r
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
    fn truncated_raw_is_flagged() {
        let mut buf = Vec::new();
        encode_entry(&mut buf, 1, b"hello", &[]);
        let mut it = RawIter::new(&buf[..buf.len() - 2]);
        assert!(it.next().is_none());
        assert!(it.corrupt);
    }
}
