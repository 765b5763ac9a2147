//! WAL checkpoints: the unflushed state of every stream after record `seq`,
//! written to `checkpoint-<seq>.tmp`, fsynced and renamed, after which older
//! checkpoints and the segments it covers are deleted.
//!
//! `CheckpointWriter` runs on its own `SyncArbiter` thread so a large checkpoint
//! never delays group commits; the `IngesterSupervisor` sends it the stream
//! snapshots. [`read`] is used by replay.

use std::io::Write;
use std::path::{Path, PathBuf};

use actix::{Actor, Handler, Message, SyncContext};
use bytes::Bytes;

use super::codec::{Reader, Writer};
use super::record::{scan, write_frame};
use super::{checkpoint_path, list, remove_covered_segments, sync_dir, wal_metrics, WalError};
use crate::actors::ingester::stream::StreamSnapshot;
use crate::model::Labels;
use crate::storage::chunk::{Block, ChunkSnapshot, Encoding};

/// Version 2: stream frames tagged `T` carry each block's layout (a byte after its
/// CRC: 1 columnar, 0 row). Version 1 frames (`S`, every block in the row layout)
/// are still read.
const HEADER: &[u8] = b"HSKCP2";

/// Snapshots of one tenant's streams.
pub type TenantStreams = (String, Vec<StreamSnapshot>);

#[derive(Message)]
#[rtype(result = "Result<CheckpointStats, WalError>")]
pub struct WriteCheckpoint {
    pub seq: u64,
    pub tenants: Vec<TenantStreams>,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct CheckpointStats {
    pub bytes: u64,
    pub streams: u64,
    pub segments_removed: usize,
}

pub struct CheckpointWriter {
    dir: PathBuf,
}

impl CheckpointWriter {
    pub fn new(dir: PathBuf) -> Self {
        CheckpointWriter { dir }
    }

    fn write(&self, msg: WriteCheckpoint) -> Result<CheckpointStats, WalError> {
        let path = checkpoint_path(&self.dir, msg.seq);
        let tmp = path.with_extension("tmp");
        let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
        let mut frame = Vec::new();
        let mut stats = CheckpointStats::default();
        write_frame(&mut frame, msg.seq, HEADER);
        for (tenant, streams) in &msg.tenants {
            for s in streams {
                let payload = encode_stream(tenant, s);
                write_frame(&mut frame, msg.seq, &payload);
                f.write_all(&frame)?;
                stats.bytes += frame.len() as u64;
                stats.streams += 1;
                frame.clear();
            }
        }
        let mut end = Writer::default();
        end.buf.push(b'E');
        end.uvarint(stats.streams);
        write_frame(&mut frame, msg.seq, &end.buf);
        f.write_all(&frame)?;
        stats.bytes += frame.len() as u64;
        let f = f.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        sync_dir(&self.dir)?;
        for (seq, old) in list(&self.dir)?.checkpoints {
            if seq < msg.seq {
                std::fs::remove_file(old)?;
            }
        }
        stats.segments_removed = remove_covered_segments(&self.dir, msg.seq)?;
        Ok(stats)
    }
}

#[cfg(test)]
impl CheckpointWriter {
    pub fn write_for_test(&self, msg: WriteCheckpoint) -> CheckpointStats {
        self.write(msg).expect("checkpoint written")
    }
}

impl Actor for CheckpointWriter {
    type Context = SyncContext<Self>;
}

impl Handler<WriteCheckpoint> for CheckpointWriter {
    type Result = Result<CheckpointStats, WalError>;
    fn handle(&mut self, msg: WriteCheckpoint, _: &mut SyncContext<Self>) -> Self::Result {
        let seq = msg.seq;
        let r = self.write(msg);
        match &r {
            Ok(s) => {
                wal_metrics().checkpoints.inc();
                tracing::info!(
                    seq,
                    bytes = s.bytes,
                    streams = s.streams,
                    segments_removed = s.segments_removed,
                    "WAL checkpoint written"
                );
            }
            Err(e) => {
                wal_metrics().checkpoint_failures.inc();
                tracing::error!(seq, error = %e, "writing the WAL checkpoint failed; segments are kept");
            }
        }
        r
    }
}

/// `layouts`: write each block's layout byte (version 2; false only to test reading version 1).
fn encode_chunk(w: &mut Writer, c: &ChunkSnapshot, layouts: bool) {
    w.str(c.encoding.name());
    w.uvarint(c.block_size as u64);
    w.varint(c.min_ts);
    w.varint(c.max_ts);
    w.uvarint(c.count);
    w.uvarint(c.line_bytes);
    w.buf.push(u8::from(c.closed));
    w.uvarint(c.blocks.len() as u64);
    for b in &c.blocks {
        w.varint(b.min_ts);
        w.varint(b.max_ts);
        w.uvarint(u64::from(b.count));
        w.uvarint(u64::from(b.raw_len));
        w.uvarint(u64::from(b.crc));
        if layouts {
            w.buf.push(u8::from(b.columnar));
        }
        w.bytes(&b.data);
    }
    match crate::storage::zstd_ctx::compress(&c.head, crate::storage::zstd_ctx::Params::level(1)) {
        Ok(z) if z.len() < c.head.len() => {
            w.buf.push(1);
            w.uvarint(c.head.len() as u64);
            w.bytes(&z);
        }
        _ => {
            w.buf.push(0);
            w.bytes(&c.head);
        }
    }
}

fn encode_stream(tenant: &str, s: &StreamSnapshot) -> Vec<u8> {
    encode_stream_as(tenant, s, true)
}

fn encode_stream_as(tenant: &str, s: &StreamSnapshot, v2: bool) -> Vec<u8> {
    let mut w = Writer::default();
    w.buf.push(if v2 { b'T' } else { b'S' });
    w.str(tenant);
    w.pairs(s.labels.pairs());
    w.uvarint(s.next_id);
    w.varint(s.max_ts);
    w.uvarint(s.entries);
    w.uvarint(s.closed.len() as u64);
    for (id, c) in &s.closed {
        w.uvarint(*id);
        encode_chunk(&mut w, c, v2);
    }
    w.buf.push(u8::from(s.open.is_some()));
    if let Some(c) = &s.open {
        encode_chunk(&mut w, c, v2);
    }
    w.buf
}

/// Decodes one chunk; block data are slices of `file` (no copy).
/// `layouts`: the blocks carry a layout byte (version 2 frames).
fn decode_chunk(r: &mut Reader<'_>, file: &Bytes, base: usize, layouts: bool) -> Result<ChunkSnapshot, WalError> {
    let encoding = Encoding::parse(&r.string()?).map_err(|_| WalError::Corrupt("unknown chunk encoding"))?;
    let block_size = r.uvarint()? as usize;
    let (min_ts, max_ts, count, line_bytes) = (r.varint()?, r.varint()?, r.uvarint()?, r.uvarint()?);
    let closed = r.byte()? != 0;
    let n = r.count()?;
    let mut blocks = Vec::with_capacity(n);
    for _ in 0..n {
        let (bmin, bmax, bcount, raw_len, crc) = (r.varint()?, r.varint()?, r.uvarint()?, r.uvarint()?, r.uvarint()?);
        let columnar = layouts && r.byte()? != 0;
        let range = r.bytes_range()?;
        let data = file.slice(base + range.start..base + range.end);
        blocks.push(Block {
            min_ts: bmin,
            max_ts: bmax,
            count: bcount as u32,
            raw_len: raw_len as u32,
            crc: crc as u32,
            data,
            columnar,
        });
    }
    let head = match r.byte()? {
        0 => Bytes::copy_from_slice(r.bytes()?),
        _ => {
            let len = r.uvarint()? as usize;
            let z = r.bytes()?;
            if len > 1 << 30 {
                return Err(WalError::Corrupt("head block too large"));
            }
            Bytes::from(crate::storage::zstd_ctx::decompress(z, len).map_err(|_| WalError::Corrupt("head block zstd"))?)
        }
    };
    Ok(ChunkSnapshot { encoding, block_size, blocks, head, min_ts, max_ts, count, line_bytes, closed })
}

fn decode_stream(payload: &[u8], file: &Bytes, base: usize) -> Result<(String, StreamSnapshot), WalError> {
    let mut r = Reader::new(payload);
    let layouts = match r.byte()? {
        b'S' => false,
        b'T' => true,
        _ => return Err(WalError::Corrupt("not a stream entry")),
    };
    let tenant = r.string()?;
    let labels = Labels::from_pairs_keep_empty(r.pairs()?);
    let (next_id, max_ts, entries) = (r.uvarint()?, r.varint()?, r.uvarint()?);
    let n = r.count()?;
    let mut closed = Vec::with_capacity(n);
    for _ in 0..n {
        let id = r.uvarint()?;
        closed.push((id, decode_chunk(&mut r, file, base, layouts)?));
    }
    let open = match r.byte()? {
        0 => None,
        _ => Some(decode_chunk(&mut r, file, base, layouts)?),
    };
    Ok((tenant, StreamSnapshot { labels, next_id, max_ts, entries, closed, open }))
}

/// A checkpoint read back: its sequence number and the streams it holds.
#[derive(Debug, Default)]
pub struct Loaded {
    pub seq: u64,
    pub streams: Vec<(String, StreamSnapshot)>,
    /// Damaged stream entries skipped, or a missing end marker.
    pub corruptions: usize,
}

pub fn read(path: &Path, seq: u64) -> Result<Loaded, WalError> {
    let file = Bytes::from(std::fs::read(path)?);
    let s = scan(&file);
    let mut out = Loaded { seq, corruptions: s.corruptions + usize::from(s.torn), ..Loaded::default() };
    let mut complete = false;
    for f in &s.frames {
        let payload = &file[f.payload.clone()];
        match payload.first() {
            Some(b'S' | b'T') => match decode_stream(payload, &file, f.payload.start) {
                Ok(st) => out.streams.push(st),
                Err(e) => {
                    out.corruptions += 1;
                    tracing::error!(path = %path.display(), error = %e, "skipping a damaged stream in the WAL checkpoint");
                }
            },
            Some(b'E') => {
                let n = Reader::new(&payload[1..]).uvarint().unwrap_or(u64::MAX);
                complete = n == out.streams.len() as u64;
            }
            _ => {}
        }
    }
    if !complete {
        out.corruptions += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actors::ingester::stream::Stream;
    use crate::actors::ingester::test_settings;
    use crate::model::Entry;

    #[test]
    fn write_read_round_trip_and_segment_cleanup() {
        let dir = std::env::temp_dir().join(format!("skald-ckpt-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for first in [1u64, 5, 9] {
            std::fs::write(super::super::segment_path(&dir, first), b"x").unwrap();
        }
        let mut st = Stream::new(Labels::parse(r#"{app="a"}"#).unwrap());
        let entries: Vec<Entry> =
            (0..200).map(|i| Entry::new(i, format!("entry {i} of the checkpoint test"))).collect();
        st.push(&entries, &test_settings(), "t", 0);
        let snap = st.snapshot().unwrap();
        let w = CheckpointWriter::new(dir.clone());
        let stats = w.write(WriteCheckpoint { seq: 8, tenants: vec![("t".into(), vec![snap.clone()])] }).unwrap();
        assert_eq!((stats.streams, stats.segments_removed), (1, 2), "segments 1..4 and 5..8 are covered");
        let l = read(&checkpoint_path(&dir, 8), 8).unwrap();
        assert_eq!(l.corruptions, 0);
        assert_eq!(l.streams.len(), 1);
        let (tenant, got) = &l.streams[0];
        assert_eq!(tenant, "t");
        let r = Stream::restore(got.clone(), 0).unwrap();
        let count = |x: &Stream| x.stats_chunks(false).map(|c| c.count).sum::<u64>();
        assert_eq!(count(&r), 200);
        // a newer checkpoint replaces the older one
        w.write(WriteCheckpoint { seq: 9, tenants: vec![] }).unwrap();
        let l = list(&dir).unwrap();
        assert_eq!(l.checkpoints.iter().map(|c| c.0).collect::<Vec<_>>(), vec![9]);
        assert_eq!(l.segments.iter().map(|c| c.0).collect::<Vec<_>>(), vec![9]);
        // a version 1 stream frame: no layout bytes, every block taken as a row block (these
        // blocks are really columnar, so this checks the frame structure, not their entries)
        let v1 = encode_stream_as("t", &snap, false);
        let file = Bytes::from(v1.clone());
        let (_, back) = decode_stream(&v1, &file, 0).unwrap();
        let blocks: Vec<_> =
            back.closed.iter().map(|(_, c)| c).chain(back.open.iter()).flat_map(|c| &c.blocks).collect();
        assert!(!blocks.is_empty() && blocks.iter().all(|b| !b.columnar));
        assert_eq!(Stream::restore(back, 0).unwrap().entries, r.entries);
        // damage: the stream is skipped and counted, no panic
        let p = checkpoint_path(&dir, 9);
        std::fs::write(&p, b"garbage").unwrap();
        assert!(read(&p, 9).unwrap().corruptions > 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
