//! The ingester's write-ahead log: every push is in a WAL segment (fsynced,
//! group-committed) before it is acknowledged; periodic checkpoints hold the
//! unflushed in-memory state so segments they cover can be deleted; replay on
//! start rebuilds streams from the newest checkpoint plus the segments after it.
//!
//! Files in `ingester.wal.dir`: `segment-<first seq>` (frames of [`record`]) and
//! `checkpoint-<seq>` (the state after every record up to `seq`). The
//! `IngesterSupervisor` sequences records and drives both writers
//! ([`segment::SegmentWriter`] on a thread of its own with a channel mailbox,
//! [`checkpoint::CheckpointWriter`] a `SyncArbiter` actor); [`replay`] reads the
//! directory back. Format:
//! docs/storage-format.md.

pub mod checkpoint;
pub mod codec;
pub mod driver;
mod hugepages;
pub mod record;
pub mod replay;
pub mod segment;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use prometheus::{IntCounter, IntGauge};

#[derive(Debug, thiserror::Error)]
pub enum WalError {
    #[error("corrupt WAL data: {0}")]
    Corrupt(&'static str),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("restoring a chunk: {0}")]
    Chunk(#[from] crate::storage::chunk::ChunkError),
}

/// WAL settings from `ingester.wal` (Loki's keys).
#[derive(Clone, Debug)]
pub struct WalSettings {
    pub dir: PathBuf,
    pub checkpoint_every: Duration,
    pub flush_on_shutdown: bool,
    pub replay_memory_ceiling: u64,
    /// A segment is closed once it is this large.
    pub segment_bytes: u64,
    pub zstd_level: i32,
}

impl WalSettings {
    pub fn from_config(cfg: &crate::config::Config) -> Option<WalSettings> {
        let w = &cfg.ingester.wal;
        w.enabled.then(|| WalSettings {
            dir: if w.dir.is_empty() { cfg.data_dir().join("wal") } else { PathBuf::from(&w.dir) },
            checkpoint_every: w.checkpoint_duration.0.max(Duration::from_millis(100)),
            flush_on_shutdown: w.flush_on_shutdown,
            replay_memory_ceiling: w.replay_memory_ceiling.0,
            segment_bytes: 64 << 20,
            zstd_level: 1,
        })
    }
}

pub fn segment_path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(format!("segment-{first_seq:020}"))
}

pub fn checkpoint_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("checkpoint-{seq:020}"))
}

/// Segments and checkpoints in `dir`, each sorted by sequence number.
#[derive(Debug, Default)]
pub struct Listing {
    pub segments: Vec<(u64, PathBuf)>,
    pub checkpoints: Vec<(u64, PathBuf)>,
}

pub fn list(dir: &Path) -> std::io::Result<Listing> {
    let mut l = Listing::default();
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(l),
        Err(e) => return Err(e),
    };
    for ent in rd {
        let ent = ent?;
        let name = ent.file_name();
        let name = name.to_string_lossy();
        let parse = |p: &str| name.strip_prefix(p).and_then(|n| n.parse::<u64>().ok());
        if let Some(seq) = parse("segment-") {
            l.segments.push((seq, ent.path()));
        } else if let Some(seq) = parse("checkpoint-") {
            l.checkpoints.push((seq, ent.path()));
        }
    }
    l.segments.sort();
    l.checkpoints.sort();
    Ok(l)
}

/// Makes renames and new files in `dir` durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Deletes segments whose every record is covered by the checkpoint at `seq`
/// (the next segment starts at or before `seq + 1`). The newest segment is kept.
pub fn remove_covered_segments(dir: &Path, seq: u64) -> std::io::Result<usize> {
    let segs = list(dir)?.segments;
    let mut removed = 0;
    for w in segs.windows(2) {
        if w[1].0 <= seq.saturating_add(1) {
            std::fs::remove_file(&w[0].1)?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Loki's WAL metric names where Loki has one.
pub struct WalMetrics {
    pub corruptions: IntCounter,
    pub records_logged: IntCounter,
    pub logged_bytes: IntCounter,
    pub failures: IntCounter,
    pub checkpoints: IntCounter,
    pub checkpoint_failures: IntCounter,
    pub bytes_in_use: IntGauge,
    pub replay_active: IntGauge,
}

pub fn wal_metrics() -> &'static WalMetrics {
    static M: OnceLock<WalMetrics> = OnceLock::new();
    M.get_or_init(|| {
        let r = &crate::metrics::metrics().registry;
        let c = |name: &str, help: &str| {
            let c = IntCounter::new(name, help).expect("valid metric");
            r.register(Box::new(c.clone())).expect("unique metric");
            c
        };
        let g = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("valid metric");
            r.register(Box::new(g.clone())).expect("unique metric");
            g
        };
        WalMetrics {
            corruptions: c("loki_ingester_wal_corruptions_total", "Total number of WAL corruptions encountered."),
            records_logged: c("loki_ingester_wal_records_logged_total", "Total number of WAL records logged."),
            logged_bytes: c("loki_ingester_wal_logged_bytes_total", "Total number of bytes written to the WAL."),
            failures: c("loki_ingester_wal_disk_full_failures_total", "Total number of WAL write failures."),
            checkpoints: c("loki_ingester_checkpoint_creations_total", "Total number of checkpoints created."),
            checkpoint_failures: c(
                "loki_ingester_checkpoint_creations_failed_total",
                "Total number of checkpoint creations that failed.",
            ),
            bytes_in_use: g("loki_ingester_wal_bytes_in_use", "Bytes of WAL segments and checkpoints on disk."),
            replay_active: g("loki_ingester_wal_replay_active", "Whether the WAL is replaying."),
        }
    })
}

/// Bytes of WAL files on disk (for `loki_ingester_wal_bytes_in_use` and benchmarks).
pub fn disk_bytes(dir: &Path) -> u64 {
    list(dir)
        .map(|l| l.segments.iter().chain(&l.checkpoints).filter_map(|(_, p)| p.metadata().ok()).map(|m| m.len()).sum())
        .unwrap_or(0)
}
