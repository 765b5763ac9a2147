//! The replay driver: reads the WAL directory on a plain thread and feeds the
//! items to the `IngesterSupervisor` in order, a few in flight at a time, then
//! tells it replay is over. Flushes when in-memory data passes
//! `replay_memory_ceiling` so a long WAL never runs the process out of memory.
//!
//! Started by the node once the HTTP server is up, so `/ready` can report progress.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use actix::Addr;
use tokio::sync::{mpsc, oneshot};

use super::replay::{read_dir, ReplayItem, ReplayStatus, ReplaySummary};
use super::{wal_metrics, WalSettings};
use crate::actors::ingester::supervisor::{ReplayApply, ReplayDone};
use crate::actors::ingester::{FlushAll, IngesterSupervisor, SupervisorCounters};
use crate::actors::Observe;

/// Items applied concurrently (in order; each waits for its tenants). An item
/// holds ~2 MB of lines (records are merged by the reader), so 8 in flight and 8
/// queued keep both cores busy with ~32 MB in the pipeline.
const IN_FLIGHT: usize = 8;
/// How often (in items) memory is compared with the ceiling.
const CHECK_EVERY: usize = 2;

async fn flush_over_ceiling(sup: &Addr<IngesterSupervisor>, memory: u64, ceiling: u64) {
    tracing::info!(memory, ceiling, "replay_memory_ceiling reached; flushing");
    let _ = sup.send(FlushAll).await;
}

pub async fn replay(
    sup: Addr<IngesterSupervisor>,
    settings: WalSettings,
    status: Arc<ReplayStatus>,
    can_flush: bool,
    stop: Arc<AtomicBool>,
) -> ReplaySummary {
    let started = Instant::now();
    let small_pages = super::hugepages::HugePagesOff::new();
    wal_metrics().replay_active.set(1);
    let (tx, mut rx) = mpsc::channel::<ReplayItem>(8);
    let (done_tx, done_rx) = oneshot::channel();
    let (dir, st, halt) = (settings.dir.clone(), status.clone(), stop.clone());
    std::thread::Builder::new()
        .name("wal-replay".into())
        .spawn(move || {
            let r = read_dir(&dir, &st, |item| !halt.load(Ordering::Relaxed) && tx.blocking_send(item).is_ok());
            let _ = done_tx.send(r);
        })
        .expect("spawn the WAL replay thread");

    let mut in_flight: VecDeque<oneshot::Receiver<()>> = VecDeque::new();
    let over_ceiling = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut since_check = 0;
    while let Some(item) = rx.recv().await {
        let (reply, done) = oneshot::channel();
        sup.do_send(ReplayApply { item, reply });
        in_flight.push_back(done);
        if in_flight.len() >= IN_FLIGHT {
            let _ = in_flight.pop_front().expect("non-empty").await;
        }
        since_check += 1;
        if can_flush && since_check >= CHECK_EVERY {
            since_check = 0;
            // Ask without waiting: the answer queues behind the appends in flight, and
            // waiting for it here would stall the pipeline every CHECK_EVERY items.
            let (obs, over) = (sup.send(Observe::<SupervisorCounters>::new()), over_ceiling.clone());
            let ceiling = settings.replay_memory_ceiling;
            actix::spawn(async move {
                let mem = obs.await.map(|c| c.memory_bytes as u64).unwrap_or(0);
                if mem > ceiling {
                    over.store(mem, Ordering::Relaxed);
                }
            });
        }
        let mem = over_ceiling.swap(0, Ordering::Relaxed);
        if mem > 0 {
            for d in in_flight.drain(..) {
                let _ = d.await;
            }
            flush_over_ceiling(&sup, mem, settings.replay_memory_ceiling).await;
        }
    }
    for d in in_flight {
        let _ = d.await;
    }
    if can_flush && !stop.load(Ordering::Relaxed) {
        // The last items were only checked in the background (or, for a short WAL
        // merged into one item, not at all): check once more, now that they are in.
        let mem = sup.send(Observe::<SupervisorCounters>::new()).await.map(|c| c.memory_bytes as u64).unwrap_or(0);
        if mem > settings.replay_memory_ceiling {
            flush_over_ceiling(&sup, mem, settings.replay_memory_ceiling).await;
        }
    }
    let summary = match done_rx.await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::error!(dir = %settings.dir.display(), error = %e, "reading the WAL failed; starting with what was replayed");
            ReplaySummary::default()
        }
        Err(_) => ReplaySummary::default(),
    };
    wal_metrics().replay_active.set(0);
    drop(small_pages);
    let secs = started.elapsed().as_secs_f64();
    tracing::info!(
        seconds = secs,
        bytes = summary.bytes,
        checkpoint_line_bytes = summary.checkpoint_line_bytes,
        raw_mb_per_s = summary.raw_bytes as f64 / 1e6 / secs.max(1e-9),
        "WAL replayed"
    );
    if !stop.load(Ordering::Relaxed) {
        let _ = sup.send(ReplayDone { summary }).await;
    }
    status.finish();
    summary
}
