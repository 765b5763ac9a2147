//! WAL frames and the batch records inside them.
//!
//! A frame is `magic u32 | len u32 | crc32 u32 | seq u64 | payload[len]` (little
//! endian; the CRC covers seq and payload). The magic lets a reader find the next
//! frame after a damaged one. A record payload holds one group commit: the pushes
//! of every request acknowledged together, zstd-compressed. Checkpoints reuse the
//! framing. Written by `SegmentWriter`/`CheckpointWriter`, read by `replay`.

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

fn decompress(data: &[u8], len: usize) -> Result<Vec<u8>, WalError> {
    crate::storage::zstd_ctx::decompress(data, len).map_err(|_| WalError::Corrupt("zstd"))
}

/// Decodes a record payload written by [`encode_batch`].
pub fn decode_batch(payload: &[u8]) -> Result<Vec<TenantBatch>, WalError> {
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
            Bytes::from(decompress(&rest[r.pos..], len)?)
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
