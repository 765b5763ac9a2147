//! WAL frames and the batch records inside them.
//!
//! A frame is `magic u32 | len u32 | crc32 u32 | seq u64 | payload[len]` (little
//! endian; the CRC covers seq and payload). The magic lets a reader find the next
//! frame after a damaged one. A record payload holds one group commit: the pushes
//! of every request acknowledged together, zstd-compressed. Checkpoints reuse the
//! framing. Written by `SegmentWriter`/`CheckpointWriter`, read by `replay`.

use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::codec::{Reader, Writer};
use super::WalError;
use crate::model::{Entry, Labels, StreamPush};

pub const FRAME_MAGIC: [u8; 4] = *b"SKWR";
pub const HEADER_LEN: usize = 20;
/// A frame longer than this is taken for damage, not data.
const MAX_FRAME: usize = 1 << 30;

const RAW: u8 = 0;
const ZSTD: u8 = 1;

/// One tenant's part of a group commit.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantBatch {
    pub tenant: String,
    pub streams: Vec<StreamPush>,
}

pub fn write_frame(out: &mut Vec<u8>, seq: u64, payload: &[u8]) {
    let mut h = crc32fast::Hasher::new();
    h.update(&seq.to_le_bytes());
    h.update(payload);
    out.extend_from_slice(&FRAME_MAGIC);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&h.finalize().to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(payload);
}

/// A frame found by [`scan`]: its sequence number and payload position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub seq: u64,
    pub payload: std::ops::Range<usize>,
}

/// What a scan of a segment or checkpoint found.
#[derive(Debug, Default)]
pub struct Scan {
    pub frames: Vec<Frame>,
    /// Damaged regions followed by a valid frame (data lost in the middle).
    pub corruptions: usize,
    /// Where the last valid frame ends; bytes past it are a torn tail when `torn`.
    pub valid_end: usize,
    pub torn: bool,
}

fn frame_at(buf: &[u8], pos: usize) -> Option<Frame> {
    let h = buf.get(pos..pos + HEADER_LEN)?;
    if h[0..4] != FRAME_MAGIC {
        return None;
    }
    let len = u32::from_le_bytes(h[4..8].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(h[8..12].try_into().ok()?);
    if len > MAX_FRAME {
        return None;
    }
    let start = pos + HEADER_LEN;
    let payload = buf.get(start..start.checked_add(len)?)?;
    let mut hs = crc32fast::Hasher::new();
    hs.update(&h[12..20]);
    hs.update(payload);
    (hs.finalize() == crc)
        .then(|| Frame { seq: u64::from_le_bytes(h[12..20].try_into().expect("8 bytes")), payload: start..start + len })
}

/// Finds every valid frame. After a damaged frame the scan resynchronises on the
/// next magic that starts a valid frame; damage with no valid frame after it is a
/// torn tail (a crash mid-write), not corruption.
pub fn scan(buf: &[u8]) -> Scan {
    let mut s = Scan::default();
    let mut pos = 0;
    while pos < buf.len() {
        if let Some(f) = frame_at(buf, pos) {
            pos = f.payload.end;
            s.valid_end = pos;
            s.frames.push(f);
            continue;
        }
        let next = memchr::memmem::find_iter(&buf[pos + 1..], &FRAME_MAGIC)
            .map(|i| pos + 1 + i)
            .find(|&p| frame_at(buf, p).is_some());
        match next {
            Some(p) => {
                s.corruptions += 1;
                pos = p;
            }
            None => {
                s.torn = true;
                break;
            }
        }
    }
    s
}

/// Encodes and compresses one group commit.
pub fn encode_batch(batches: &[TenantBatch], zstd_level: i32) -> Vec<u8> {
    let cap: usize = batches.iter().flat_map(|b| &b.streams).flat_map(|s| &s.entries).map(|e| e.line.len() + 8).sum();
    let mut w = Writer::with_capacity(cap + 64);
    w.uvarint(batches.len() as u64);
    for b in batches {
        w.str(&b.tenant);
        w.uvarint(b.streams.len() as u64);
        for s in &b.streams {
            w.pairs(s.labels.pairs());
            w.uvarint(s.entries.len() as u64);
            let mut prev = 0i64;
            for e in &s.entries {
                w.varint(e.ts.wrapping_sub(prev));
                prev = e.ts;
                w.bytes(&e.line);
                w.pairs(&e.metadata);
            }
        }
    }
    match compress(&w.buf, zstd_level) {
        Ok(z) if z.len() < w.buf.len() => {
            let mut out = Writer::with_capacity(z.len() + 11);
            out.buf.push(ZSTD);
            out.uvarint(w.buf.len() as u64);
            out.buf.extend_from_slice(&z);
            out.buf
        }
        _ => {
            w.buf.insert(0, RAW);
            w.buf
        }
    }
}

fn compress(raw: &[u8], level: i32) -> std::io::Result<Vec<u8>> {
    crate::storage::zstd_ctx::compress(raw, crate::storage::zstd_ctx::Params::level(level))
}

/// Decompression buffers handed back when the last line slicing one is dropped,
/// so that a replay decompresses into memory it has already touched instead of
/// faulting in (and zeroing) fresh pages for every record. Shared by the replay
/// reader and whoever drops the lines (the ingester shards); holds at most
/// [`POOL_BUFFERS`] buffers and is freed with its last user.
#[derive(Clone, Default)]
pub struct BufferPool(Arc<Mutex<Vec<Vec<u8>>>>);

const POOL_BUFFERS: usize = 128;

impl BufferPool {
    /// An empty buffer with room for `len` bytes: a pooled one when one is big
    /// enough, else a new one rounded up to a power of two so that it fits the
    /// next records of about this size too.
    fn take(&self, len: usize) -> Vec<u8> {
        let mut free = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match free.iter().rposition(|b| b.capacity() >= len) {
            Some(i) => free.swap_remove(i),
            None => Vec::with_capacity(len.next_power_of_two()),
        }
    }
}

/// A pooled buffer holding one decompressed record; goes back to the pool on drop.
struct Pooled {
    buf: Vec<u8>,
    pool: BufferPool,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let mut free = self.pool.0.lock().unwrap_or_else(|e| e.into_inner());
        if free.len() < POOL_BUFFERS {
            free.push(buf);
        }
    }
}

fn decompress(data: &[u8], len: usize, pool: Option<&BufferPool>) -> Result<Bytes, WalError> {
    let corrupt = |_| WalError::Corrupt("zstd");
    let Some(pool) = pool else {
        return crate::storage::zstd_ctx::decompress(data, len).map(Bytes::from).map_err(corrupt);
    };
    let mut buf = pool.take(len);
    let n = crate::storage::zstd_ctx::decompress_into(data, &mut buf).map_err(corrupt)?;
    if n != len {
        // a pooled buffer may have room for more than the record declared
        return Err(WalError::Corrupt("record length"));
    }
    Ok(Bytes::from_owner(Pooled { buf, pool: pool.clone() }))
}

/// Decodes a record payload written by [`encode_batch`].
pub fn decode_batch(payload: &[u8]) -> Result<Vec<TenantBatch>, WalError> {
    decode_batch_in(payload, None)
}

/// [`decode_batch`], decompressing into a buffer from `pool` when one is given
/// (replay: the lines slice the buffer, which returns to the pool with the last).
pub fn decode_batch_in(payload: &[u8], pool: Option<&BufferPool>) -> Result<Vec<TenantBatch>, WalError> {
    let (&kind, rest) = payload.split_first().ok_or(WalError::Corrupt("empty record"))?;
    // Lines are slices of one buffer per record: no allocation per entry.
    let body = match kind {
        RAW => Bytes::copy_from_slice(rest),
        ZSTD => {
            let mut r = Reader::new(rest);
            let len = r.uvarint()? as usize;
            if len > MAX_FRAME * 16 {
                return Err(WalError::Corrupt("record too large"));
            }
            decompress(&rest[r.pos..], len, pool)?
        }
        _ => return Err(WalError::Corrupt("unknown record compression")),
    };
    let mut r = Reader::new(&body);
    let n = r.count()?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let tenant = r.string()?;
        let ns = r.count()?;
        let mut streams = Vec::with_capacity(ns);
        for _ in 0..ns {
            let labels = Labels::from_pairs_keep_empty(r.pairs()?);
            let ne = r.count()?;
            let mut entries = Vec::with_capacity(ne);
            let mut prev = 0i64;
            for _ in 0..ne {
                let ts = prev.wrapping_add(r.varint()?);
                prev = ts;
                let line = body.slice(r.bytes_range()?);
                entries.push(Entry { ts, line, metadata: r.pairs()? });
            }
            streams.push(StreamPush::new(labels, entries));
        }
        out.push(TenantBatch { tenant, streams });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch() -> Vec<TenantBatch> {
        let mut e = Entry::new(1_700_000_000_000_000_000, "level=info msg=\"hello\" took=3ms");
        e.metadata = vec![("trace_id".into(), "abc".into())];
        let streams = vec![
            StreamPush::new(Labels::parse(r#"{app="a", env="prod"}"#).unwrap(), vec![e, Entry::new(-5, "neg")]),
            StreamPush::new(Labels::parse(r#"{app="b"}"#).unwrap(), vec![Entry::new(i64::MAX, "x".repeat(500))]),
        ];
        vec![TenantBatch { tenant: "t1".into(), streams }, TenantBatch { tenant: "t2".into(), streams: vec![] }]
    }

    #[test]
    fn batches_round_trip_compressed_and_raw() {
        for level in [1, 3] {
            let b = batch();
            let payload = encode_batch(&b, level);
            assert_eq!(decode_batch(&payload).unwrap(), b);
        }
        let tiny = vec![TenantBatch { tenant: "t".into(), streams: vec![] }];
        assert_eq!(encode_batch(&tiny, 1)[0], RAW, "incompressible records are stored raw");
        assert_eq!(decode_batch(&encode_batch(&tiny, 1)).unwrap(), tiny);
    }

    #[test]
    fn pooled_buffers_come_back_and_are_reused() {
        let pool = BufferPool::default();
        let payload = encode_batch(&batch(), 1);
        let first = decode_batch_in(&payload, Some(&pool)).unwrap();
        assert_eq!(first, batch());
        assert!(pool.0.lock().unwrap().is_empty(), "the lines still hold the buffer");
        let line = first[0].streams[0].entries[0].line.clone();
        let ptr = line.as_ptr();
        drop(first);
        assert!(pool.0.lock().unwrap().is_empty(), "one line still holds it");
        drop(line);
        assert_eq!(pool.0.lock().unwrap().len(), 1, "back once the last line is gone");
        let again = decode_batch_in(&payload, Some(&pool)).unwrap();
        assert_eq!(again, batch());
        assert_eq!(again[0].streams[0].entries[0].line.as_ptr(), ptr, "decoded into the same memory");
        // a frame longer than its record declares is corrupt even when the buffer has room
        let mut long = encode_batch(&batch(), 1);
        long[1] -= 1; // the declared length (its first uvarint byte) one less
        assert!(decode_batch_in(&long, Some(&pool)).is_err());
        assert!(decode_batch(&long).is_err());
    }

    #[test]
    fn damaged_payloads_are_errors_not_panics() {
        let payload = encode_batch(&batch(), 1);
        for cut in 0..payload.len() {
            let _ = decode_batch(&payload[..cut]);
        }
        let mut raw = vec![RAW];
        raw.extend_from_slice(&[0xff; 12]);
        assert!(decode_batch(&raw).is_err());
    }

    fn frames(n: u64) -> Vec<u8> {
        let mut out = Vec::new();
        for seq in 1..=n {
            write_frame(&mut out, seq, format!("payload {seq}").as_bytes());
        }
        out
    }

    #[test]
    fn scan_finds_frames_torn_tails_and_corruption() {
        let buf = frames(5);
        let s = scan(&buf);
        assert_eq!(s.frames.iter().map(|f| f.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);
        assert!(!s.torn && s.corruptions == 0 && s.valid_end == buf.len());

        // a crash mid-write: the last frame is cut short
        let torn = &buf[..buf.len() - 3];
        let s = scan(torn);
        assert_eq!(s.frames.len(), 4);
        assert!(s.torn);
        assert_eq!(s.valid_end, buf.len() - (HEADER_LEN + "payload 5".len()));

        // a flipped byte inside frame 2: frames 1, 3, 4, 5 survive
        let mut bad = buf.clone();
        bad[HEADER_LEN + "payload 1".len() + HEADER_LEN + 2] ^= 0xff;
        let s = scan(&bad);
        assert_eq!(s.frames.iter().map(|f| f.seq).collect::<Vec<_>>(), vec![1, 3, 4, 5]);
        assert_eq!((s.corruptions, s.torn), (1, false));

        // garbage everywhere: no panic, nothing found
        let s = scan(&[0x53; 100]);
        assert!(s.frames.is_empty() && s.torn);
    }
}
