//! `SegmentWriter`: appends group-commit records to the current WAL segment and
//! fsyncs before answering, so the supervisor acknowledges pushes only once
//! they are durable.
//!
//! Runs on a thread of its own with a channel for a mailbox ([`SegmentWriter::spawn`]),
//! not on a `SyncArbiter`: actix forwards a `SyncArbiter`'s messages and answers
//! through the system's arbiter, i.e. two more thread wake-ups per record for an
//! ingester whose supervisor runs on its front arbiter. Answers go straight back
//! to the awaiting supervisor. Only the `IngesterSupervisor` talks to it.
//!
//! A failed write (a full disk) is cut back off the file, so the segment stays a
//! clean sequence of frames, and reported to the caller.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

use tokio::sync::oneshot;

use super::record::{encode_batch, write_frame, TenantBatch};
use super::{segment_path, sync_dir, wal_metrics, WalError};

/// Write one group commit as record `seq`; the batches come back with the result.
pub struct WriteBatch {
    pub seq: u64,
    pub batches: Vec<TenantBatch>,
}

pub struct WriteDone {
    pub batches: Vec<TenantBatch>,
    /// Bytes written, or why the record is not durable.
    pub result: Result<usize, WalError>,
}

/// The writer's mailbox; the thread ends when the mailbox is dropped.
pub struct WriterMailbox {
    tx: std::sync::mpsc::Sender<Job>,
}

enum Job {
    Write(WriteBatch, oneshot::Sender<WriteDone>),
    /// Close the current segment; the next record starts a new one (a checkpoint is being written).
    Roll,
}

impl WriterMailbox {
    /// Writes one record; resolves once it is durable (or failed), or errs when the writer is gone.
    pub fn write(&self, batch: WriteBatch) -> oneshot::Receiver<WriteDone> {
        let (reply, rx) = oneshot::channel();
        // a send error drops `reply`, so the receiver reports the writer gone
        let _ = self.tx.send(Job::Write(batch, reply));
        rx
    }

    pub fn roll(&self) {
        let _ = self.tx.send(Job::Roll);
    }
}

struct Open {
    file: File,
    len: u64,
}

pub struct SegmentWriter {
    dir: PathBuf,
    segment_bytes: u64,
    zstd_level: i32,
    current: Option<Open>,
    buf: Vec<u8>,
}

impl SegmentWriter {
    pub fn new(dir: PathBuf, segment_bytes: u64, zstd_level: i32) -> Self {
        SegmentWriter { dir, segment_bytes, zstd_level, current: None, buf: Vec::new() }
    }

    fn open(&mut self, seq: u64) -> Result<&mut Open, WalError> {
        if self.current.is_none() {
            std::fs::create_dir_all(&self.dir)?;
            let file = std::fs::OpenOptions::new().create(true).append(true).open(segment_path(&self.dir, seq))?;
            sync_dir(&self.dir)?;
            self.current = Some(Open { file, len: 0 });
        }
        Ok(self.current.as_mut().expect("opened above"))
    }

    fn write(&mut self, seq: u64, batches: &[TenantBatch]) -> Result<usize, WalError> {
        let payload = encode_batch(batches, self.zstd_level);
        let mut frame = std::mem::take(&mut self.buf);
        frame.clear();
        write_frame(&mut frame, seq, &payload);
        let limit = self.segment_bytes;
        let n = frame.len();
        let result = self.open(seq).map(|open| {
            let r = open.file.write_all(&frame).and_then(|_| open.file.sync_data());
            (r, open.len)
        });
        self.buf = frame;
        let (result, good) = result?;
        match result {
            Ok(()) => {
                let open = self.current.as_mut().expect("opened above");
                open.len += n as u64;
                if open.len >= limit {
                    self.current = None;
                }
                Ok(n)
            }
            Err(e) => {
                // Cut the partial frame off so later records follow a clean one;
                // if even that fails, start a new segment for the next record.
                let open = self.current.as_mut().expect("opened above");
                if open.file.set_len(good).and_then(|_| open.file.sync_data()).is_err() {
                    self.current = None;
                }
                Err(e.into())
            }
        }
    }

    /// Starts the writer on its own thread ("wal-writer").
    pub fn spawn(mut self) -> std::io::Result<WriterMailbox> {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new().name("wal-writer".into()).spawn(move || {
            while let Ok(job) = rx.recv() {
                match job {
                    Job::Write(batch, reply) => {
                        let _ = reply.send(self.handle_write(batch));
                    }
                    Job::Roll => self.current = None,
                }
            }
        })?;
        Ok(WriterMailbox { tx })
    }

    fn handle_write(&mut self, msg: WriteBatch) -> WriteDone {
        let result = self.write(msg.seq, &msg.batches);
        match &result {
            Ok(n) => {
                let m = wal_metrics();
                m.records_logged.inc();
                m.logged_bytes.inc_by(*n as u64);
            }
            Err(e) => {
                wal_metrics().failures.inc();
                tracing::error!(seq = msg.seq, error = %e, "WAL write failed; the pushes in this record are refused");
            }
        }
        WriteDone { batches: msg.batches, result }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actors::ingester::wal::list;
    use crate::actors::ingester::wal::record::{decode_batch, scan};
    use crate::model::{Entry, Labels, StreamPush};

    #[test]
    fn records_go_to_segments_named_by_first_seq() {
        let dir = std::env::temp_dir().join(format!("skald-seg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut w = SegmentWriter::new(dir.clone(), 100, 1);
        let batch = |i: i64| {
            let s = StreamPush::new(Labels::parse(r#"{a="b"}"#).unwrap(), vec![Entry::new(i, format!("line {i}"))]);
            vec![TenantBatch { tenant: "t".into(), streams: vec![s] }]
        };
        for seq in 1..=10u64 {
            w.write(seq, &batch(seq as i64)).unwrap();
            if seq == 4 {
                w.current = None; // a roll
            }
        }
        let segs = list(&dir).unwrap().segments;
        assert!(segs.len() >= 3, "rolled by size and on request: {segs:?}");
        assert_eq!(segs[0].0, 1);
        assert!(segs.iter().any(|s| s.0 == 5));
        let mut seqs = Vec::new();
        for (_, p) in &segs {
            let buf = std::fs::read(p).unwrap();
            let s = scan(&buf);
            assert!(!s.torn && s.corruptions == 0);
            for f in s.frames {
                assert_eq!(decode_batch(&buf[f.payload]).unwrap(), batch(f.seq as i64));
                seqs.push(f.seq);
            }
        }
        assert_eq!(seqs, (1..=10).collect::<Vec<_>>());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
