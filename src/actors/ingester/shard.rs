//! `StreamShardActor`: owns a shard of one tenant's streams (head blocks and
//! chunks), appends entries with Loki's ordering rules and serves in-memory reads.
//!
//! Started by the `TenantActor` on one of the ingester's arbiters; the tenant
//! actor routes each stream to a shard by fingerprint and is its only caller.

use std::sync::Arc;

use actix::{
    Actor, ActorFutureExt, AsyncContext, Context, Handler, Message, MessageResult, Recipient, ResponseActFuture,
    WrapFuture,
};
use serde::Serialize;

mod snapshot;

pub use snapshot::{ShardRestore, ShardSnapshot};

use super::flush::FlushChunks;
use super::stream::Stream;
use super::tail::TailRegistry;
use super::volume::{ShardVolume, VolumeResult};
use super::{LogRequest, LogResult, PushOutcome, SampleRequest, SampleResult, StreamSettings};
use crate::actors::Observe;
use crate::metrics::metrics;
use crate::model::time::now_ns;
use crate::model::{FastMap, Fingerprint, StreamPush};
use crate::storage::chunk::ChunkError;

/// Append validated entries to streams of this shard (fingerprints already unique).
/// Sent with `do_send` so appends (and WAL checkpoint markers) keep their order;
/// the outcome goes to `reply`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Append {
    pub streams: Vec<StreamPush>,
    pub reply: tokio::sync::oneshot::Sender<PushOutcome>,
}

/// Close every open chunk and flush all unflushed chunks; answers when the
/// store has them (or the flusher is gone).
#[derive(Message)]
#[rtype(result = "()")]
pub struct FlushNow;

/// Read entries of the given streams.
#[derive(Message)]
#[rtype(result = "Result<LogResult, ChunkError>")]
pub struct QueryStreams {
    pub fingerprints: Vec<Fingerprint>,
    pub req: LogRequest,
}

/// Extract samples from the given streams (metric queries).
#[derive(Message)]
#[rtype(result = "Result<SampleResult, ChunkError>")]
pub struct QuerySamples {
    pub fingerprints: Vec<Fingerprint>,
    pub req: SampleRequest,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ShardCounters {
    pub streams: usize,
    pub chunks: usize,
    pub entries_appended: u64,
    pub bytes_appended: u64,
    pub duplicates_dropped: u64,
    pub entries_rejected: u64,
    pub memory_bytes: usize,
    pub chunks_flushed: u64,
    pub unflushed_chunks: usize,
}

pub struct StreamShardActor {
    tenant: Arc<str>,
    settings: Arc<StreamSettings>,
    check_period: std::time::Duration,
    streams: FastMap<Fingerprint, Stream>,
    counters: ShardCounters,
    /// Where closed chunks go; `None` keeps everything in memory (no store).
    flusher: Option<Recipient<FlushChunks>>,
    /// Open live tails (`tail.rs`): appended entries of matching streams go to them.
    pub(super) tails: TailRegistry,
}

impl StreamShardActor {
    pub fn new(
        tenant: Arc<str>,
        settings: Arc<StreamSettings>,
        check_period: std::time::Duration,
        flusher: Option<Recipient<FlushChunks>>,
    ) -> Self {
        StreamShardActor {
            tenant,
            settings,
            check_period,
            streams: FastMap::default(),
            counters: ShardCounters::default(),
            flusher,
            tails: TailRegistry::default(),
        }
    }

    fn append(&mut self, streams: Vec<StreamPush>) -> PushOutcome {
        let now = now_ns();
        let mut out = PushOutcome::default();
        for sp in streams {
            let stream = self.streams.entry(sp.fingerprint).or_insert_with(|| Stream::new(sp.labels.clone()));
            let mut accepted = self.tails.wants(sp.fingerprint, &sp.labels).then(Vec::new);
            let (st, err) = stream.push_tracked(&sp.entries, &self.settings, &self.tenant, now, accepted.as_mut());
            out.accepted += st.accepted;
            out.accepted_bytes += st.accepted_bytes;
            self.counters.entries_appended += st.accepted;
            self.counters.bytes_appended += st.accepted_bytes;
            self.counters.duplicates_dropped += st.duplicates;
            self.counters.entries_rejected += st.rejected;
            self.counters.chunks += st.chunks_created as usize;
            if st.chunks_created > 0 {
                metrics().chunks_created.inc_by(st.chunks_created);
                metrics().memory_chunks.add(st.chunks_created as i64);
            }
            if st.rejected > 0 {
                metrics().discard("too_far_behind", &self.tenant, st.rejected, st.rejected_bytes);
            }
            out.errors.extend(err);
            if let Some(accepted) = accepted {
                self.tails.publish(sp.fingerprint, &sp.labels, sp.entries, &accepted);
            }
        }
        self.counters.streams = self.streams.len();
        out
    }

    fn query(&self, msg: QueryStreams) -> Result<LogResult, ChunkError> {
        let mut out = LogResult::default();
        for fp in msg.fingerprints {
            if let Some(s) = self.streams.get(&fp) {
                out.streams.extend(s.query(&msg.req, &mut out.stats)?);
            }
        }
        Ok(out)
    }

    fn samples(&self, msg: QuerySamples) -> Result<SampleResult, ChunkError> {
        let mut out = SampleResult::default();
        for fp in msg.fingerprints {
            if let Some(s) = self.streams.get(&fp) {
                let series = s.samples(&msg.req, &mut out.stats)?;
                crate::logql::metric::merge_series(&mut out.series, series);
            }
        }
        Ok(out)
    }

    /// The periodic check: close idle and old chunks, let go of retained ones, flush.
    fn tick(&mut self, ctx: &mut Context<Self>) {
        let now = now_ns();
        let mut dropped = 0;
        for s in self.streams.values_mut() {
            s.cut_if_due(&self.settings, now);
            dropped += s.drop_retained(now, self.settings.retain_ns);
        }
        self.chunks_dropped(dropped);
        if let Some(f) = self.flush_pending() {
            ctx.spawn(f);
        }
    }

    fn chunks_dropped(&mut self, n: usize) {
        metrics().memory_chunks.sub(n as i64);
        self.counters.chunks = self.counters.chunks.saturating_sub(n);
    }

    /// Sends every pending closed chunk to the flusher; the returned future records
    /// the outcome in the streams.
    fn flush_pending(&mut self) -> Option<ResponseActFuture<Self, ()>> {
        let flusher = self.flusher.clone()?;
        let tenant = self.tenant.clone();
        let items: Vec<_> = self.streams.iter_mut().flat_map(|(fp, s)| s.take_flushable(&tenant, *fp)).collect();
        if items.is_empty() {
            return None;
        }
        let req = flusher.send(FlushChunks { tenant, items });
        Some(Box::pin(req.into_actor(self).map(|res, act, _| act.flush_done(res.unwrap_or_default()))))
    }

    fn flush_done(&mut self, stored: Vec<(Fingerprint, u64)>) {
        let now = now_ns();
        self.counters.chunks_flushed += stored.len() as u64;
        let mut by_stream: FastMap<Fingerprint, Vec<u64>> = FastMap::default();
        for (fp, id) in stored {
            by_stream.entry(fp).or_default().push(id);
        }
        let mut dropped = 0;
        for (fp, s) in self.streams.iter_mut() {
            s.flush_done(by_stream.get(fp).map(Vec::as_slice).unwrap_or(&[]), now);
            dropped += s.drop_retained(now, self.settings.retain_ns);
        }
        self.chunks_dropped(dropped);
    }

    fn flush_now(&mut self) -> ResponseActFuture<Self, ()> {
        for s in self.streams.values_mut() {
            s.close_now();
        }
        self.flush_pending().unwrap_or_else(|| Box::pin(actix::fut::ready(())))
    }

    fn observe(&mut self) -> ShardCounters {
        self.counters.streams = self.streams.len();
        self.counters.memory_bytes = self.streams.values().map(Stream::memory_bytes).sum();
        self.counters.unflushed_chunks = self.streams.values().map(Stream::unflushed).sum();
        self.counters.clone()
    }
}

impl Actor for StreamShardActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(64);
        ctx.run_interval(self.check_period, |a, ctx| a.tick(ctx));
    }
}

impl Handler<Append> for StreamShardActor {
    type Result = ();
    fn handle(&mut self, msg: Append, _: &mut Context<Self>) {
        let _ = msg.reply.send(self.append(msg.streams));
    }
}

impl Handler<FlushNow> for StreamShardActor {
    type Result = ResponseActFuture<Self, ()>;
    fn handle(&mut self, _: FlushNow, _: &mut Context<Self>) -> Self::Result {
        self.flush_now()
    }
}

impl Handler<QueryStreams> for StreamShardActor {
    type Result = Result<LogResult, ChunkError>;
    fn handle(&mut self, msg: QueryStreams, _: &mut Context<Self>) -> Self::Result {
        self.query(msg)
    }
}

impl Handler<QuerySamples> for StreamShardActor {
    type Result = Result<SampleResult, ChunkError>;
    fn handle(&mut self, msg: QuerySamples, _: &mut Context<Self>) -> Self::Result {
        self.samples(msg)
    }
}

impl Handler<ShardVolume> for StreamShardActor {
    type Result = Result<VolumeResult, ChunkError>;
    fn handle(&mut self, msg: ShardVolume, _: &mut Context<Self>) -> Self::Result {
        let mut out = VolumeResult::default();
        for fp in msg.fingerprints {
            if let Some(v) = self.streams.get(&fp).map(|s| s.volume(&msg.req)).transpose()?.flatten() {
                out.streams.push(v);
            }
        }
        Ok(out)
    }
}

impl Handler<Observe<ShardCounters>> for StreamShardActor {
    type Result = MessageResult<Observe<ShardCounters>>;
    fn handle(&mut self, _: Observe<ShardCounters>, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.observe())
    }
}
