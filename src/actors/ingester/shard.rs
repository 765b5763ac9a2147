//! `StreamShardActor`: owns a shard of one tenant's streams (head blocks and
//! chunks), appends entries with Loki's ordering rules and serves in-memory reads.
//!
//! Started by the `TenantActor` on one of the ingester's arbiters; the tenant
//! actor routes each stream to a shard by fingerprint and is its only caller.

use std::sync::Arc;

use actix::{Actor, AsyncContext, Context, Handler, Message, MessageResult};
use serde::Serialize;

use super::stream::Stream;
use super::{LogRequest, LogResult, PushOutcome, StreamSettings};
use crate::actors::Observe;
use crate::metrics::metrics;
use crate::model::time::now_ns;
use crate::model::{FastMap, Fingerprint, StreamPush};
use crate::storage::chunk::ChunkError;

/// Append validated entries to streams of this shard (fingerprints already unique).
#[derive(Message)]
#[rtype(result = "PushOutcome")]
pub struct Append {
    pub streams: Vec<StreamPush>,
}

/// Read entries of the given streams.
#[derive(Message)]
#[rtype(result = "Result<LogResult, ChunkError>")]
pub struct QueryStreams {
    pub fingerprints: Vec<Fingerprint>,
    pub req: LogRequest,
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
}

pub struct StreamShardActor {
    tenant: Arc<str>,
    settings: Arc<StreamSettings>,
    check_period: std::time::Duration,
    streams: FastMap<Fingerprint, Stream>,
    counters: ShardCounters,
}

impl StreamShardActor {
    pub fn new(tenant: Arc<str>, settings: Arc<StreamSettings>, check_period: std::time::Duration) -> Self {
        StreamShardActor {
            tenant,
            settings,
            check_period,
            streams: FastMap::default(),
            counters: ShardCounters::default(),
        }
    }

    fn append(&mut self, msg: Append) -> PushOutcome {
        let now = now_ns();
        let mut out = PushOutcome::default();
        for sp in msg.streams {
            let stream = self.streams.entry(sp.fingerprint).or_insert_with(|| Stream::new(sp.labels.clone()));
            let (st, err) = stream.push(&sp.entries, &self.settings, &self.tenant, now);
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

    fn cut_due_chunks(&mut self) {
        let now = now_ns();
        for s in self.streams.values_mut() {
            s.cut_if_due(&self.settings, now);
        }
    }

    fn observe(&mut self) -> ShardCounters {
        self.counters.streams = self.streams.len();
        self.counters.memory_bytes = self.streams.values().map(Stream::memory_bytes).sum();
        self.counters.clone()
    }
}

impl Actor for StreamShardActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(64);
        ctx.run_interval(self.check_period, |a, _| a.cut_due_chunks());
    }
}

impl Handler<Append> for StreamShardActor {
    type Result = MessageResult<Append>;
    fn handle(&mut self, msg: Append, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.append(msg))
    }
}

impl Handler<QueryStreams> for StreamShardActor {
    type Result = Result<LogResult, ChunkError>;
    fn handle(&mut self, msg: QueryStreams, _: &mut Context<Self>) -> Self::Result {
        self.query(msg)
    }
}

impl Handler<Observe<ShardCounters>> for StreamShardActor {
    type Result = MessageResult<Observe<ShardCounters>>;
    fn handle(&mut self, _: Observe<ShardCounters>, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.observe())
    }
}
