//! Reading the WAL directory back on start: the newest checkpoint, then every
//! record after it, in sequence order. Torn tails (a crash mid-write) are cut
//! off; damaged records in the middle are skipped, logged and counted in
//! `loki_ingester_wal_corruptions_total`. Nothing here panics or stops the start.
//!
//! [`read_dir`] runs on a plain thread and hands items to the supervisor's
//! replay driver; [`ReplayStatus`] is what `/ready` reports meanwhile.

use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use super::checkpoint::{self, Loaded};
use super::record::{decode_batch_in, scan, BufferPool, TenantBatch};
use super::{list, wal_metrics, WalError};
use crate::actors::ingester::stream::StreamSnapshot;
use crate::model::{FastMap, Fingerprint};

/// Progress of the replay, shared with `/ready`.
#[derive(Default, Debug)]
pub struct ReplayStatus {
    total: AtomicU64,
    done: AtomicU64,
    /// 0: not started, 1: replaying, 2: finished.
    state: AtomicU8,
}

impl ReplayStatus {
    /// Why the ingester is not ready yet, as `/ready` shows it.
    pub fn blocker(&self) -> Option<String> {
        match self.state.load(Ordering::Acquire) {
            2 => None,
            0 => Some("replaying WAL: 0%".into()),
            _ => {
                let (d, t) = (self.done.load(Ordering::Relaxed), self.total.load(Ordering::Relaxed));
                let pct = (d.min(t) * 100).checked_div(t).unwrap_or(0).min(99);
                Some(format!("replaying WAL: {pct}%"))
            }
        }
    }

    pub fn finish(&self) {
        self.state.store(2, Ordering::Release);
    }

    pub fn is_finished(&self) -> bool {
        self.state.load(Ordering::Acquire) == 2
    }

    fn start(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
        self.state.store(1, Ordering::Release);
    }

    fn advance(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }
}

pub enum ReplayItem {
    /// Streams from the checkpoint (tenant, snapshot).
    Streams(Vec<(String, StreamSnapshot)>),
    Record {
        seq: u64,
        batches: Vec<TenantBatch>,
    },
}

#[derive(Debug, Default, Clone, Copy)]
pub struct ReplaySummary {
    pub checkpoint_seq: u64,
    /// The last record replayed (or the checkpoint's sequence number).
    pub last_seq: u64,
    /// The first sequence number new records may use (past every segment name).
    pub next_seq: u64,
    pub streams: u64,
    pub records: u64,
    pub corruptions: usize,
    pub bytes: u64,
    /// Line bytes decoded from segment records (the replay speed's numerator).
    pub raw_bytes: u64,
    /// Line bytes the checkpoint brought back as they were in memory (not decoded again).
    pub checkpoint_line_bytes: u64,
}

fn corruption(path: &Path, n: usize, what: &str) {
    if n > 0 {
        wal_metrics().corruptions.inc_by(n as u64);
        tracing::error!(path = %path.display(), count = n, "WAL CORRUPTION: {what}; replay continues without it");
    }
}

/// Consecutive records merged into one item: fewer messages and wake-ups
/// between the reader and the actors that apply them (a record holds only the
/// pushes of one group commit). A stream's pushes in the merged records become
/// one push (its entries in record order), so the tenant and shard actors handle
/// each stream once per item instead of once per record. Order is kept: every
/// stream's entries are appended in record order.
#[derive(Default)]
struct Coalesced {
    seq: u64,
    batches: Vec<TenantBatch>,
    /// (tenant's index in `batches`, fingerprint) -> the stream's push in that batch.
    index: FastMap<(usize, Fingerprint), usize>,
    raw: u64,
}

/// Raw line bytes gathered before a merged record is handed on.
const COALESCE_BYTES: u64 = 2 << 20;

impl Coalesced {
    /// Adds a record; true once enough is gathered to hand on.
    fn add(&mut self, seq: u64, batches: Vec<TenantBatch>, raw: u64) -> bool {
        self.seq = seq;
        self.raw += raw;
        for b in batches {
            let t = match self.batches.iter().position(|p| p.tenant == b.tenant) {
                Some(t) => t,
                None => {
                    self.batches.push(TenantBatch { tenant: b.tenant, streams: Vec::with_capacity(b.streams.len()) });
                    self.batches.len() - 1
                }
            };
            let streams = &mut self.batches[t].streams;
            for s in b.streams {
                match self.index.get(&(t, s.fingerprint)) {
                    // Equal fingerprints with other labels (a collision) stay apart.
                    Some(&i) if streams[i].labels == s.labels => streams[i].entries.extend(s.entries),
                    Some(_) => streams.push(s),
                    None => {
                        self.index.insert((t, s.fingerprint), streams.len());
                        streams.push(s);
                    }
                }
            }
        }
        self.raw >= COALESCE_BYTES
    }

    /// Hands on what is gathered (if anything); false when replay must stop.
    fn emit(&mut self, emit: &mut impl FnMut(ReplayItem) -> bool) -> bool {
        if self.batches.is_empty() {
            return true;
        }
        self.raw = 0;
        self.index.clear();
        emit(ReplayItem::Record { seq: self.seq, batches: std::mem::take(&mut self.batches) })
    }
}

/// Reads everything replay needs; `emit` gets items in order and returns false
/// to stop early (shutdown during replay).
pub fn read_dir(
    dir: &Path,
    status: &ReplayStatus,
    mut emit: impl FnMut(ReplayItem) -> bool,
) -> Result<ReplaySummary, WalError> {
    let l = list(dir)?;
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten().filter(|e| e.file_name().to_string_lossy().ends_with(".tmp")) {
            let _ = std::fs::remove_file(e.path());
        }
    }
    let size = |p: &Path| p.metadata().map(|m| m.len()).unwrap_or(0);
    let ckpt = l.checkpoints.last().cloned();
    let total = ckpt.iter().map(|c| size(&c.1)).sum::<u64>() + l.segments.iter().map(|s| size(&s.1)).sum::<u64>();
    status.start(total);
    let mut sum = ReplaySummary { bytes: total, ..ReplaySummary::default() };

    if let Some((seq, path)) = &ckpt {
        let Loaded { streams, corruptions, .. } = checkpoint::read(path, *seq).unwrap_or_else(|e| {
            tracing::error!(path = %path.display(), error = %e, "the WAL checkpoint is unreadable");
            Loaded { seq: *seq, streams: Vec::new(), corruptions: 1 }
        });
        corruption(path, corruptions, "damaged entries in the checkpoint");
        sum.corruptions += corruptions;
        sum.checkpoint_seq = *seq;
        sum.last_seq = *seq;
        sum.streams = streams.len() as u64;
        sum.checkpoint_line_bytes = streams
            .iter()
            .flat_map(|(_, s)| s.closed.iter().map(|(_, c)| c).chain(s.open.as_ref()))
            .map(|c| c.line_bytes)
            .sum::<u64>();
        let mut streams = streams;
        while !streams.is_empty() {
            let rest = streams.split_off(streams.len().min(1000));
            if !emit(ReplayItem::Streams(std::mem::replace(&mut streams, rest))) {
                return Ok(sum);
            }
        }
        status.advance(size(path));
    }

    let mut pending = Coalesced::default();
    let pool = BufferPool::default();
    for (first, path) in &l.segments {
        sum.next_seq = sum.next_seq.max(first + 1);
        let buf = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                corruption(path, 1, &format!("unreadable segment ({e})"));
                sum.corruptions += 1;
                continue;
            }
        };
        let s = scan(&buf);
        if s.torn {
            tracing::warn!(path = %path.display(), valid = s.valid_end, size = buf.len(), "WAL segment has a torn tail (crash mid-write); cutting it off");
            if let Err(e) =
                std::fs::OpenOptions::new().write(true).open(path).and_then(|f| f.set_len(s.valid_end as u64))
            {
                tracing::warn!(path = %path.display(), error = %e, "could not cut the torn tail; it is skipped on every replay");
            }
        }
        corruption(path, s.corruptions, "damaged records in the middle of a segment");
        sum.corruptions += s.corruptions;
        let mut progress = 0u64;
        for f in s.frames {
            let len = (f.payload.end - progress as usize) as u64;
            status.advance(len);
            progress = f.payload.end as u64;
            if f.seq <= sum.last_seq {
                continue;
            }
            match decode_batch_in(&buf[f.payload], Some(&pool)) {
                Ok(batches) => {
                    let raw = batches
                        .iter()
                        .flat_map(|b| &b.streams)
                        .flat_map(|s| &s.entries)
                        .map(|e| e.line.len() as u64)
                        .sum::<u64>();
                    sum.raw_bytes += raw;
                    sum.records += 1;
                    sum.last_seq = f.seq;
                    if pending.add(f.seq, batches, raw) && !pending.emit(&mut emit) {
                        return Ok(sum);
                    }
                }
                Err(e) => {
                    corruption(path, 1, &format!("undecodable record {} ({e})", f.seq));
                    sum.corruptions += 1;
                }
            }
        }
        if !pending.emit(&mut emit) {
            return Ok(sum);
        }
        status.advance((buf.len() as u64).saturating_sub(progress));
    }
    sum.next_seq = sum.next_seq.max(sum.last_seq + 1);
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actors::ingester::stream::Stream;
    use crate::actors::ingester::test_settings;
    use crate::actors::ingester::wal::checkpoint::{CheckpointWriter, WriteCheckpoint};
    use crate::actors::ingester::wal::record::{encode_batch, write_frame};
    use crate::actors::ingester::wal::segment_path;
    use crate::model::{Entry, Labels, StreamPush};

    fn record(seq: u64) -> Vec<u8> {
        let s = StreamPush::new(Labels::parse(r#"{a="b"}"#).unwrap(), vec![Entry::new(seq as i64, format!("r{seq}"))]);
        let mut out = Vec::new();
        write_frame(&mut out, seq, &encode_batch(&[TenantBatch { tenant: "t".into(), streams: vec![s] }], 1));
        out
    }

    #[test]
    fn replays_records_after_the_checkpoint_in_order_and_reports_progress() {
        let dir = std::env::temp_dir().join(format!("skald-replay-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(segment_path(&dir, 1), [record(1), record(2), record(3)].concat()).unwrap();
        std::fs::write(segment_path(&dir, 4), [record(4), record(5)].concat()).unwrap();
        let mut st = Stream::new(Labels::parse(r#"{a="c"}"#).unwrap());
        st.push(&[Entry::new(1, "in the checkpoint")], &test_settings(), "t", 0);
        let snap = st.snapshot().unwrap();
        CheckpointWriter::new(dir.clone())
            .write_for_test(WriteCheckpoint { seq: 2, tenants: vec![("t".into(), vec![snap])] });
        std::fs::write(dir.join("checkpoint-00000000000000000009.tmp"), b"half written").unwrap();

        let status = ReplayStatus::default();
        assert_eq!(status.blocker().as_deref(), Some("replaying WAL: 0%"));
        let (mut seqs, mut lines) = (Vec::new(), Vec::new());
        let sum = read_dir(&dir, &status, |item| {
            if let ReplayItem::Record { seq, batches } = item {
                seqs.push(seq);
                lines.extend(batches.iter().flat_map(|b| &b.streams).flat_map(|s| &s.entries).map(|e| e.line.clone()));
            }
            true
        })
        .unwrap();
        assert_eq!(lines, ["r3", "r4", "r5"], "records up to the checkpoint are in it; the rest in order");
        assert_eq!(seqs, vec![3, 5], "small records are merged, up to the end of each segment");
        assert_eq!((sum.checkpoint_seq, sum.last_seq, sum.next_seq, sum.records), (2, 5, 6, 3));
        assert_eq!(sum.raw_bytes, 6, "line bytes decoded from records");
        assert_eq!(sum.checkpoint_line_bytes, 17, "line bytes the checkpoint brought back");
        assert_eq!(status.blocker().as_deref(), Some("replaying WAL: 99%"), "done until the driver finishes");
        status.finish();
        assert!(status.blocker().is_none());
        assert!(!dir.join("checkpoint-00000000000000000009.tmp").exists(), "leftover temp files are removed");
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn push(labels: &str, lines: &[&str]) -> StreamPush {
        let entries = lines.iter().enumerate().map(|(i, l)| Entry::new(i as i64, l.to_string())).collect();
        StreamPush::new(Labels::parse(labels).unwrap(), entries)
    }

    fn batch(tenant: &str, streams: Vec<StreamPush>) -> TenantBatch {
        TenantBatch { tenant: tenant.into(), streams }
    }

    #[test]
    fn merged_records_hold_one_push_per_stream_with_entries_in_record_order() {
        let mut c = Coalesced::default();
        assert!(!c.add(1, vec![batch("t", vec![push(r#"{a="1"}"#, &["x1", "x2"]), push(r#"{a="2"}"#, &["y1"])])], 3));
        // A fingerprint collision: same fingerprint as {a="1"}, other labels. It must stay apart.
        let mut twin = push(r#"{a="twin"}"#, &["z1"]);
        twin.fingerprint = Labels::parse(r#"{a="1"}"#).unwrap().fingerprint();
        let r2 =
            vec![batch("u", vec![push(r#"{a="1"}"#, &["u1"])]), batch("t", vec![twin, push(r#"{a="1"}"#, &["x3"])])];
        assert!(!c.add(2, r2, 3));
        assert!(c.add(3, vec![batch("t", vec![push(r#"{a="2"}"#, &["y2"])])], COALESCE_BYTES));
        let mut out = Vec::new();
        assert!(c.emit(&mut |item| {
            out.push(item);
            true
        }));
        let [ReplayItem::Record { seq: 3, batches }] = &out[..] else { panic!("one merged record, seq 3") };
        type View<'a> = Vec<(&'a str, Vec<(String, Vec<&'a [u8]>)>)>;
        let view: View = batches
            .iter()
            .map(|b| {
                let streams = b
                    .streams
                    .iter()
                    .map(|s| (s.labels.to_string(), s.entries.iter().map(|e| &e.line[..]).collect()))
                    .collect();
                (b.tenant.as_str(), streams)
            })
            .collect();
        let t = vec![
            (r#"{a="1"}"#.to_string(), vec![&b"x1"[..], b"x2", b"x3"]),
            (r#"{a="2"}"#.to_string(), vec![&b"y1"[..], b"y2"]),
            (r#"{a="twin"}"#.to_string(), vec![&b"z1"[..]]),
        ];
        assert_eq!(view, vec![("t", t), ("u", vec![(r#"{a="1"}"#.to_string(), vec![&b"u1"[..]])])]);
        assert!(c.batches.is_empty() && c.index.is_empty() && c.raw == 0, "emptied for the next item");
    }
}
