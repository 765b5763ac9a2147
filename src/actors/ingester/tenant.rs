//! `TenantActor`: one per tenant. Owns the tenant's stream index (labels ->
//! fingerprint, label postings, time bounds) and routes entries to the tenant's
//! `StreamShardActor`s; answers label and series lookups from the index.
//!
//! Created and addressed only by the `IngesterSupervisor`.

use std::collections::BTreeSet;
use std::sync::Arc;

use actix::{Actor, Addr, Context, Handler, Message, MessageResult, ResponseFuture};
use futures::future::join_all;
use serde::Serialize;

use super::shard::{Append, QuerySamples, QueryStreams, StreamShardActor};
use super::tenant_limits::{apply_stream_rate, reject_new_stream, StreamRate};
use super::volume::{ShardVolume, TenantVolume, VolumeResult};
use super::{matches_any_group, LogRequest, LogResult, PushOutcome, SampleRequest, SampleResult, TimeRange};
use crate::actors::Observe;
use crate::config::Overrides;
use crate::logql::Matcher;
use crate::metrics::metrics;
use crate::model::{FastMap, Fingerprint, Labels, StreamPush};

use super::supervisor::IngesterError;

mod snapshot;

pub use snapshot::{TenantRestore, TenantSnapshot};

/// Where a push's outcome goes.
pub type PushReply = tokio::sync::oneshot::Sender<Result<PushOutcome, IngesterError>>;

/// Append to the tenant's streams. Sent with `do_send`: pushes reach the shards
/// in the order the supervisor sequenced them (the WAL's order).
#[derive(Message)]
#[rtype(result = "()")]
pub struct TenantPush {
    pub streams: Vec<StreamPush>,
    pub reply: PushReply,
    /// Replayed from the WAL: already acknowledged, so stream and rate limits do
    /// not apply again (a fast replay would trip every rate limit).
    pub replay: bool,
}

#[derive(Message)]
#[rtype(result = "Result<LogResult, IngesterError>")]
pub struct TenantLogs {
    pub req: LogRequest,
}

#[derive(Message)]
#[rtype(result = "Result<SampleResult, IngesterError>")]
pub struct TenantSamples {
    pub req: SampleRequest,
}

/// Label names (`name: None`) or the values of one label, for matching streams.
#[derive(Message)]
#[rtype(result = "Vec<String>")]
pub struct TenantLabels {
    pub name: Option<String>,
    pub matchers: Vec<Matcher>,
    pub range: TimeRange,
}

#[derive(Message)]
#[rtype(result = "Vec<Labels>")]
pub struct TenantSeries {
    pub groups: Vec<Vec<Matcher>>,
    pub range: TimeRange,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct TenantCounters {
    pub streams: usize,
    pub streams_created: u64,
    pub fingerprint_collisions: u64,
}

struct StreamMeta {
    labels: Labels,
    min_ts: i64,
    max_ts: i64,
    rate: StreamRate,
    /// The shard that holds the stream.
    shard: usize,
}

pub struct TenantActor {
    tenant: Arc<str>,
    shards: Vec<Addr<StreamShardActor>>,
    streams: FastMap<Fingerprint, StreamMeta>,
    /// label name -> value -> fingerprints
    postings: FastMap<String, FastMap<String, Vec<Fingerprint>>>,
    /// label sets whose natural fingerprint was taken by another set
    remapped: FastMap<Labels, Fingerprint>,
    counters: TenantCounters,
    limits: Arc<Overrides>,
    /// Streams per shard: a new stream goes to the shard with the fewest, so a
    /// tenant with a few streams still spreads them evenly (hashing 100 streams
    /// over two shards measured 58/42, and the busier shard set the pace).
    per_shard: Vec<usize>,
}

impl TenantActor {
    pub fn new(tenant: Arc<str>, shards: Vec<Addr<StreamShardActor>>, limits: Arc<Overrides>) -> Self {
        let n = shards.len();
        TenantActor {
            tenant,
            shards,
            limits,
            streams: FastMap::default(),
            postings: FastMap::default(),
            remapped: FastMap::default(),
            counters: TenantCounters::default(),
            per_shard: vec![0; n],
        }
    }

    /// The shard holding the stream stored under `fp`.
    fn shard_of(&self, fp: Fingerprint) -> usize {
        self.streams.get(&fp).map(|m| m.shard).unwrap_or((fp % self.shards.len() as u64) as usize)
    }

    /// Whether the label set already has a stream.
    fn exists(&self, labels: &Labels, natural: Fingerprint) -> bool {
        self.streams.get(&natural).is_some_and(|m| m.labels == *labels) || self.remapped.contains_key(labels)
    }

    /// The fingerprint a label set is stored under, creating the stream if new.
    fn resolve(&mut self, labels: &Labels, natural: Fingerprint) -> Fingerprint {
        if let Some(m) = self.streams.get(&natural) {
            if m.labels == *labels {
                return natural;
            }
            if let Some(fp) = self.remapped.get(labels) {
                return *fp;
            }
            self.counters.fingerprint_collisions += 1;
            let mut fp = natural.wrapping_add(1);
            while self.streams.contains_key(&fp) {
                fp = fp.wrapping_add(1);
            }
            self.remapped.insert(labels.clone(), fp);
            self.create(labels, fp);
            return fp;
        }
        self.create(labels, natural);
        natural
    }

    fn create(&mut self, labels: &Labels, fp: Fingerprint) {
        for (n, v) in labels.pairs() {
            // most values belong to one stream: start with room for exactly one
            self.postings
                .entry(n.clone())
                .or_default()
                .entry(v.clone())
                .or_insert_with(|| Vec::with_capacity(1))
                .push(fp);
        }
        let rate = StreamRate::new(&self.limits.get(&self.tenant), std::time::Instant::now());
        let shard = (0..self.per_shard.len()).min_by_key(|&i| self.per_shard[i]).unwrap_or(0);
        self.per_shard[shard] += 1;
        self.streams.insert(fp, StreamMeta { labels: labels.clone(), min_ts: i64::MAX, max_ts: i64::MIN, rate, shard });
        self.counters.streams_created += 1;
        metrics().memory_streams.with_label_values(&[&self.tenant]).inc();
        metrics().streams_created.with_label_values(&[&self.tenant]).inc();
    }

    fn push(&mut self, msg: TenantPush) {
        let n = self.shards.len();
        let mut per_shard: Vec<Vec<StreamPush>> = (0..n).map(|_| Vec::new()).collect();
        let (limits, now) = (self.limits.get(&self.tenant), std::time::Instant::now());
        let mut refused = PushOutcome::default();
        for mut sp in msg.streams {
            let max_streams = if msg.replay { usize::MAX } else { limits.stream_limit().unwrap_or(usize::MAX) };
            if self.streams.len() >= max_streams && !self.exists(&sp.labels, sp.fingerprint) {
                reject_new_stream(&self.tenant, &sp, &mut refused);
                continue;
            }
            sp.fingerprint = self.resolve(&sp.labels, sp.fingerprint);
            if let Some(m) = self.streams.get_mut(&sp.fingerprint) {
                if !msg.replay {
                    apply_stream_rate(&self.tenant, &m.labels, &mut m.rate, &limits, &mut sp, now, &mut refused);
                }
                for e in &sp.entries {
                    m.min_ts = m.min_ts.min(e.ts);
                    m.max_ts = m.max_ts.max(e.ts);
                }
            }
            if !sp.entries.is_empty() {
                per_shard[self.shard_of(sp.fingerprint)].push(sp);
            }
        }
        let replies: Vec<_> = per_shard
            .into_iter()
            .enumerate()
            .filter(|(_, v)| !v.is_empty())
            .map(|(i, streams)| {
                let (reply, rx) = tokio::sync::oneshot::channel();
                self.shards[i].do_send(Append { streams, reply });
                rx
            })
            .collect();
        let reply = msg.reply;
        actix::spawn(async move {
            let mut out = refused;
            for r in join_all(replies).await {
                match r {
                    Ok(o) => out.merge(o),
                    Err(_) => {
                        let _ = reply.send(Err(IngesterError::Unavailable("ingester shard stopped".into())));
                        return;
                    }
                }
            }
            let _ = reply.send(Ok(out));
        });
    }

    /// Streams matching every matcher whose time bounds overlap `[start, end]`.
    fn select(&self, matchers: &[Matcher], start: i64, end: i64) -> Vec<Fingerprint> {
        let candidates: Vec<Fingerprint> = matchers
            .iter()
            .filter(|m| m.uses_postings())
            .map(|m| self.postings.get(&m.name).and_then(|vals| vals.get(&m.value)).map(Vec::as_slice).unwrap_or(&[]))
            .min_by_key(|fps| fps.len())
            .map(<[Fingerprint]>::to_vec)
            .unwrap_or_else(|| self.streams.keys().copied().collect());
        candidates
            .into_iter()
            .filter(|fp| {
                self.streams.get(fp).is_some_and(|m| {
                    m.max_ts >= start && m.min_ts <= end && crate::logql::matcher::matches_all(matchers, &m.labels)
                })
            })
            .collect()
    }

    /// Sends one message per shard holding any of `fps`.
    fn per_shard<M>(
        &self,
        fps: Vec<Fingerprint>,
        msg: impl Fn(Vec<Fingerprint>) -> M,
    ) -> Vec<actix::dev::Request<StreamShardActor, M>>
    where
        M: actix::Message + Send + 'static,
        M::Result: Send,
        StreamShardActor: Handler<M>,
    {
        let n = self.shards.len();
        let mut groups: Vec<Vec<Fingerprint>> = (0..n).map(|_| Vec::new()).collect();
        for fp in fps {
            groups[self.shard_of(fp)].push(fp);
        }
        groups
            .into_iter()
            .enumerate()
            .filter(|(_, g)| !g.is_empty())
            .map(|(i, g)| self.shards[i].send(msg(g)))
            .collect()
    }

    fn logs(&self, msg: TenantLogs) -> ResponseFuture<Result<LogResult, IngesterError>> {
        let fps = self.select(&msg.req.expr.matchers, msg.req.start, msg.req.end.saturating_sub(1));
        let sends = self.per_shard(fps, |fingerprints| QueryStreams { fingerprints, req: msg.req.clone() });
        Box::pin(async move {
            let mut out = LogResult::default();
            for r in join_all(sends).await {
                let r = r.map_err(|e| IngesterError::Unavailable(e.to_string()))?.map_err(IngesterError::Chunk)?;
                out.streams.extend(r.streams);
                out.stats.add(r.stats);
            }
            Ok(out)
        })
    }

    fn samples(&self, msg: TenantSamples) -> ResponseFuture<Result<SampleResult, IngesterError>> {
        let fps = self.select(&msg.req.select.log.matchers, msg.req.start, msg.req.end);
        let sends = self.per_shard(fps, |fingerprints| QuerySamples { fingerprints, req: msg.req.clone() });
        Box::pin(async move {
            let mut out = SampleResult::default();
            for r in join_all(sends).await {
                out.merge(r.map_err(|e| IngesterError::Unavailable(e.to_string()))?.map_err(IngesterError::Chunk)?);
            }
            Ok(out)
        })
    }

    fn volume(&self, msg: TenantVolume) -> ResponseFuture<Result<VolumeResult, IngesterError>> {
        let fps = self.select(&msg.req.matchers, msg.req.start, msg.req.end);
        let sends = self.per_shard(fps, |fingerprints| ShardVolume { fingerprints, req: msg.req.clone() });
        Box::pin(async move {
            let mut out = VolumeResult::default();
            for r in join_all(sends).await {
                let r = r.map_err(|e| IngesterError::Unavailable(e.to_string()))?.map_err(IngesterError::Chunk)?;
                out.streams.extend(r.streams);
            }
            Ok(out)
        })
    }

    fn labels(&self, msg: TenantLabels) -> Vec<String> {
        let mut out = BTreeSet::new();
        let r = &msg.range;
        let fps = self.select(&msg.matchers, r.start, r.end);
        for fp in fps {
            let Some(m) = self.streams.get(&fp) else { continue };
            match &msg.name {
                None => out.extend(m.labels.pairs().iter().map(|(n, _)| n.clone())),
                Some(name) => out.extend(m.labels.get(name).map(str::to_string)),
            }
        }
        out.into_iter().collect()
    }

    fn series(&self, msg: TenantSeries) -> Vec<Labels> {
        let r = &msg.range;
        let mut out: Vec<Labels> = self
            .streams
            .values()
            .filter(|m| m.max_ts >= r.start && m.min_ts <= r.end && matches_any_group(&msg.groups, &m.labels))
            .map(|m| m.labels.clone())
            .collect();
        out.sort();
        out
    }
}

impl Actor for TenantActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(256);
    }
}

impl Handler<TenantPush> for TenantActor {
    type Result = ();
    fn handle(&mut self, msg: TenantPush, _: &mut Context<Self>) {
        self.push(msg)
    }
}

impl Handler<TenantLogs> for TenantActor {
    type Result = ResponseFuture<Result<LogResult, IngesterError>>;
    fn handle(&mut self, msg: TenantLogs, _: &mut Context<Self>) -> Self::Result {
        self.logs(msg)
    }
}

impl Handler<TenantSamples> for TenantActor {
    type Result = ResponseFuture<Result<SampleResult, IngesterError>>;
    fn handle(&mut self, msg: TenantSamples, _: &mut Context<Self>) -> Self::Result {
        self.samples(msg)
    }
}

impl Handler<TenantVolume> for TenantActor {
    type Result = ResponseFuture<Result<VolumeResult, IngesterError>>;
    fn handle(&mut self, msg: TenantVolume, _: &mut Context<Self>) -> Self::Result {
        self.volume(msg)
    }
}

impl Handler<TenantLabels> for TenantActor {
    type Result = MessageResult<TenantLabels>;
    fn handle(&mut self, msg: TenantLabels, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.labels(msg))
    }
}

impl Handler<TenantSeries> for TenantActor {
    type Result = MessageResult<TenantSeries>;
    fn handle(&mut self, msg: TenantSeries, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.series(msg))
    }
}

impl Handler<Observe<TenantCounters>> for TenantActor {
    type Result = MessageResult<Observe<TenantCounters>>;
    fn handle(&mut self, _: Observe<TenantCounters>, _: &mut Context<Self>) -> Self::Result {
        self.counters.streams = self.streams.len();
        MessageResult(self.counters.clone())
    }
}

#[cfg(test)]
mod tests;
