//! The supervisor's side of the WAL: sequencing and group commit, checkpoints,
//! replay application and the WAL part of shutdown.
//!
//! Pushes wait in `pending` while one record is being written; when it is
//! durable the next record takes everything that arrived meanwhile (group
//! commit: one fsync for many pushes). A durable record's pushes are dispatched
//! to the tenants in sequence order with `do_send`, so a checkpoint marker sent
//! after record N reaches every shard after N's appends and before N+1's.

use std::future::Future;
use std::sync::Arc;

use actix::{
    ActorFutureExt, Addr, AsyncContext, Context, Handler, Message, ResponseActFuture, SyncArbiter, WrapFuture,
};
use futures::future::{join_all, BoxFuture};
use tokio::sync::oneshot;

use super::{IngesterError, IngesterSupervisor, Push};
use crate::actors::ingester::tenant::{PushReply, TenantRestore, TenantSnapshot};
use crate::actors::ingester::wal::checkpoint::{CheckpointWriter, WriteCheckpoint};
use crate::actors::ingester::wal::record::TenantBatch;
use crate::actors::ingester::wal::replay::{ReplayItem, ReplaySummary};
use crate::actors::ingester::wal::segment::{SegmentWriter, WriteBatch, WriteDone, WriterMailbox};
use crate::actors::ingester::wal::{disk_bytes, wal_metrics, WalSettings};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Replaying,
    Active,
    Stopped,
}

pub(super) struct WalState {
    settings: Arc<WalSettings>,
    writer: WriterMailbox,
    checkpointer: Addr<CheckpointWriter>,
    phase: Phase,
    next_seq: u64,
    /// The newest record whose pushes went to the tenants.
    dispatched: u64,
    checkpointed: u64,
    checkpointing: bool,
    in_flight: bool,
    pending: Vec<(TenantBatch, PushReply)>,
    /// Waiting for `pending` and the record in flight to drain (shutdown).
    idle_waiters: Vec<oneshot::Sender<()>>,
}

impl WalState {
    /// Fails only when the writer's thread cannot be started.
    pub(super) fn start(settings: WalSettings) -> std::io::Result<WalState> {
        let (dir, size, level) = (settings.dir.clone(), settings.segment_bytes, settings.zstd_level);
        let writer = SegmentWriter::new(dir, size, level).spawn()?;
        let dir = settings.dir.clone();
        let checkpointer = SyncArbiter::start(1, move || CheckpointWriter::new(dir.clone()));
        Ok(WalState {
            settings: Arc::new(settings),
            writer,
            checkpointer,
            phase: Phase::Replaying,
            next_seq: 1,
            dispatched: 0,
            checkpointed: 0,
            checkpointing: false,
            in_flight: false,
            pending: Vec::new(),
            idle_waiters: Vec::new(),
        })
    }

    fn idle(&self) -> bool {
        !self.in_flight && self.pending.is_empty()
    }
}

/// Apply one item read back from the WAL; `reply` fires once it is in memory.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ReplayApply {
    pub item: ReplayItem,
    pub reply: oneshot::Sender<()>,
}

/// Replay is over: accept pushes, continue the sequence after `summary.next_seq`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ReplayDone {
    pub summary: ReplaySummary,
}

/// Stop accepting pushes, let the records in flight finish, flush every chunk
/// when `flush` is set, and write a last checkpoint.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ShutdownWal {
    pub flush: bool,
}

fn refuse(reply: PushReply, e: IngesterError) {
    let _ = reply.send(Err(e));
}

impl IngesterSupervisor {
    pub(super) fn submit(&mut self, msg: Push, reply: PushReply, ctx: &mut Context<Self>) {
        let Some(w) = self.wal.as_mut() else { return };
        match w.phase {
            Phase::Active => {
                w.pending.push((TenantBatch { tenant: msg.tenant, streams: msg.streams }, reply));
                self.write_next(ctx);
            }
            Phase::Replaying => {
                refuse(reply, IngesterError::Unavailable("the ingester is replaying its WAL".into()));
            }
            Phase::Stopped => refuse(reply, IngesterError::Unavailable("Ingester is shutting down".into())),
        }
    }

    /// Starts writing everything pending as one record, unless a write is in flight.
    fn write_next(&mut self, ctx: &mut Context<Self>) {
        let Some(w) = self.wal.as_mut() else { return };
        if w.in_flight || w.pending.is_empty() {
            return;
        }
        let (batches, replies): (Vec<_>, Vec<_>) = std::mem::take(&mut w.pending).into_iter().unzip();
        let seq = w.next_seq;
        w.next_seq += 1;
        w.in_flight = true;
        let req = w.writer.write(WriteBatch { seq, batches });
        ctx.spawn(req.into_actor(self).map(move |res, act, ctx| act.written(seq, res, replies, ctx)));
    }

    fn written(
        &mut self,
        seq: u64,
        res: Result<WriteDone, oneshot::error::RecvError>,
        replies: Vec<PushReply>,
        ctx: &mut Context<Self>,
    ) {
        match res.map_err(|e| e.to_string()).and_then(|d| d.result.map(|_| d.batches).map_err(|e| e.to_string())) {
            Ok(batches) => {
                for (b, reply) in batches.into_iter().zip(replies) {
                    self.dispatch(&b.tenant, b.streams, reply, false);
                }
                if let Some(w) = self.wal.as_mut() {
                    w.dispatched = seq;
                }
            }
            Err(e) => replies.into_iter().for_each(|r| refuse(r, IngesterError::Wal(e.clone()))),
        }
        let Some(w) = self.wal.as_mut() else { return };
        w.in_flight = false;
        self.write_next(ctx);
        if let Some(w) = self.wal.as_mut().filter(|w| w.idle()) {
            for t in w.idle_waiters.drain(..) {
                let _ = t.send(());
            }
        }
    }

    /// Snapshots every stream after the last dispatched record and writes the
    /// checkpoint; resolves when it is on disk (or failed).
    fn checkpoint(&mut self, force: bool) -> Option<impl Future<Output = ()> + 'static> {
        let w = self.wal.as_mut()?;
        if w.checkpointing || w.phase == Phase::Replaying || (!force && w.dispatched == w.checkpointed) {
            return None;
        }
        w.checkpointing = true;
        let seq = w.dispatched;
        w.writer.roll();
        let (checkpointer, dir) = (w.checkpointer.clone(), w.settings.dir.clone());
        let parts: Vec<_> = self
            .tenants
            .iter()
            .map(|(name, h)| {
                let (reply, rx) = oneshot::channel();
                h.addr.do_send(TenantSnapshot { reply });
                (name.clone(), rx)
            })
            .collect();
        Some(async move {
            let mut tenants = Vec::with_capacity(parts.len());
            for (name, rx) in parts {
                tenants.push((name, rx.await.unwrap_or_default()));
            }
            let _ = checkpointer.send(WriteCheckpoint { seq, tenants }).await;
            wal_metrics().bytes_in_use.set(disk_bytes(&dir) as i64);
        })
    }

    fn checkpoint_in_background(&mut self, ctx: &mut Context<Self>) {
        let seq = self.wal.as_ref().map(|w| w.dispatched).unwrap_or(0);
        if let Some(f) = self.checkpoint(false) {
            ctx.spawn(f.into_actor(self).map(move |_, act, _| {
                if let Some(w) = act.wal.as_mut() {
                    w.checkpointing = false;
                    w.checkpointed = seq;
                }
            }));
        }
    }

    /// The last checkpoint at shutdown; a periodic one still running is
    /// overtaken (the checkpoint with the higher sequence number wins on disk).
    fn final_checkpoint(&mut self) -> Option<impl Future<Output = ()> + 'static> {
        if let Some(w) = self.wal.as_mut() {
            w.checkpointing = false;
        }
        self.checkpoint(true)
    }
}

impl Handler<ReplayApply> for IngesterSupervisor {
    type Result = ();
    fn handle(&mut self, msg: ReplayApply, _: &mut Context<Self>) {
        let mut waits: Vec<BoxFuture<'static, ()>> = Vec::new();
        match msg.item {
            ReplayItem::Streams(streams) => {
                let mut by_tenant: std::collections::HashMap<String, Vec<_>> = Default::default();
                for (t, s) in streams {
                    by_tenant.entry(t).or_default().push(s);
                }
                for (t, streams) in by_tenant {
                    let (reply, rx) = oneshot::channel();
                    self.tenant(&t).addr.do_send(TenantRestore { streams, reply });
                    waits.push(Box::pin(async move {
                        let _ = rx.await;
                    }));
                }
            }
            ReplayItem::Record { seq, batches } => {
                for b in batches {
                    let (reply, rx) = oneshot::channel();
                    self.dispatch(&b.tenant, b.streams, reply, true);
                    waits.push(Box::pin(async move {
                        let _ = rx.await;
                    }));
                }
                if let Some(w) = self.wal.as_mut() {
                    w.dispatched = seq;
                }
            }
        }
        actix::spawn(async move {
            join_all(waits).await;
            let _ = msg.reply.send(());
        });
    }
}

impl Handler<ReplayDone> for IngesterSupervisor {
    type Result = ();
    fn handle(&mut self, msg: ReplayDone, ctx: &mut Context<Self>) {
        let Some(w) = self.wal.as_mut() else { return };
        let s = msg.summary;
        w.next_seq = s.next_seq.max(w.next_seq);
        w.dispatched = s.last_seq;
        w.checkpointed = s.checkpoint_seq;
        if w.phase == Phase::Replaying {
            w.phase = Phase::Active;
        }
        let every = w.settings.checkpoint_every;
        tracing::info!(
            records = s.records,
            streams = s.streams,
            corruptions = s.corruptions,
            next_seq = w.next_seq,
            "WAL replay finished; accepting pushes"
        );
        // A checkpoint now lets the replayed segments go and makes the next start fast.
        self.checkpoint_in_background(ctx);
        ctx.run_interval(every, |act, ctx| act.checkpoint_in_background(ctx));
    }
}

impl Handler<ShutdownWal> for IngesterSupervisor {
    type Result = ResponseActFuture<Self, ()>;
    fn handle(&mut self, msg: ShutdownWal, _: &mut Context<Self>) -> Self::Result {
        let Some(w) = self.wal.as_mut() else { return Box::pin(actix::fut::ready(())) };
        let replaying = w.phase == Phase::Replaying;
        w.phase = Phase::Stopped;
        let drained = (!w.idle()).then(|| {
            let (tx, rx) = oneshot::channel();
            w.idle_waiters.push(tx);
            rx
        });
        let drain = async move {
            if let Some(rx) = drained {
                let _ = rx.await;
            }
        };
        Box::pin(
            drain
                .into_actor(self)
                .then(move |_, act, _| {
                    let flush = msg.flush.then(|| act.flush_all());
                    async move {
                        if let Some(f) = flush {
                            f.await;
                        }
                    }
                    .into_actor(act)
                })
                .then(move |_, act, _| {
                    // A partial replay must never replace the checkpoint it came from.
                    let ckpt = if replaying { None } else { act.final_checkpoint() };
                    async move {
                        if let Some(c) = ckpt {
                            c.await;
                        }
                    }
                    .into_actor(act)
                }),
        )
    }
}
