//! `IngesterFanout`: the querier's view of every ingester when gossip is on. It
//! handles the ingester's query messages (logs, samples, labels, series,
//! volume, tails) by asking every ingester of the ring's read set (this
//! process's supervisor directly, the others through their `IngesterBridge`),
//! tolerating as many failures (or stragglers) as the replication factor
//! allows, and merging the replicas' answers with duplicates removed.
//!
//! `node` builds the `Querier` with this actor's recipients instead of the local
//! supervisor's, so the querier code is the same in both modes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use actix::dev::ToEnvelope;
use actix::{Actor, Context, Handler, Message, ResponseFuture};
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::oneshot;

use crate::actors::ingester::{
    IngesterError, IngesterSupervisor, LabelQuery, LogQuery, LogResult, SampleQuery, SampleResult, SeriesQuery,
    StreamVolume, Subscriber, Tail, TailersCount, VolumeQuery, VolumeResult,
};
use crate::model::time::now_ns;
use crate::model::Labels;
use crate::rpc::ingester::IngesterBridge;
use crate::rpc::ingester_tail::OpenTail;
use crate::rpc::pool::{IngesterPool, Peer};

/// How often an open tail looks for ingesters it is not (or no longer) subscribed to.
const TAIL_RESUBSCRIBE: Duration = Duration::from_secs(2);

pub struct IngesterFanout {
    pool: Arc<IngesterPool>,
    rf: usize,
}

impl IngesterFanout {
    pub fn new(pool: Arc<IngesterPool>, rf: usize) -> Self {
        IngesterFanout { pool, rf }
    }

    /// The peers to ask and how many of them may fail.
    fn targets(&self) -> Result<(Vec<Peer>, usize), IngesterError> {
        let ring = self.pool.ring();
        let set =
            ring.read_set(self.rf, now_ns() / 1_000_000).map_err(|e| IngesterError::Unavailable(e.to_string()))?;
        let peers = set.instances.iter().map(|i| self.pool.peer(i)).collect();
        Ok((peers, set.max_errors))
    }

    /// Sends `make()` to every target; the successful answers, or the last error
    /// when more than the allowed number failed.
    fn gather<M, T>(&self, make: impl Fn() -> M) -> ResponseFuture<Result<Vec<T>, IngesterError>>
    where
        M: Message<Result = Result<T, IngesterError>> + Send + 'static,
        T: Send + 'static,
        IngesterSupervisor: Handler<M>,
        IngesterBridge: Handler<M>,
        <IngesterSupervisor as Actor>::Context: ToEnvelope<IngesterSupervisor, M>,
        <IngesterBridge as Actor>::Context: ToEnvelope<IngesterBridge, M>,
    {
        let prepared =
            self.targets().map(|(peers, max)| (peers.into_iter().map(|p| p.send(make())).collect::<Vec<_>>(), max));
        Box::pin(async move {
            let (calls, max_errors) = prepared?;
            // every stream has a replica among any `n - max_errors` ingesters: the slowest are not waited for
            let enough = calls.len().saturating_sub(max_errors);
            let mut calls: FuturesUnordered<_> = calls.into_iter().collect();
            let mut ok = Vec::new();
            let mut failed: Vec<String> = Vec::new();
            while let Some(r) = calls.next().await {
                match r.map_err(|e| IngesterError::Unavailable(e.to_string())).and_then(|r| r) {
                    Ok(v) => ok.push(v),
                    Err(e) => failed.push(e.to_string()),
                }
                if ok.len() >= enough || failed.len() > max_errors {
                    break;
                }
            }
            if failed.len() > max_errors {
                return Err(IngesterError::Unavailable(failed.join("; ")));
            }
            if !failed.is_empty() {
                tracing::warn!(failed = failed.len(), error = %failed[0], "ingesters failed a read within the allowed replicas");
            }
            Ok(ok)
        })
    }
}

impl Actor for IngesterFanout {
    type Context = Context<Self>;
}

impl Handler<LogQuery> for IngesterFanout {
    type Result = ResponseFuture<Result<LogResult, IngesterError>>;
    fn handle(&mut self, m: LogQuery, _: &mut Context<Self>) -> Self::Result {
        let dir = m.req.direction;
        let all = self.gather(|| LogQuery { tenant: m.tenant.clone(), req: m.req.clone() });
        Box::pin(async move {
            let mut out = LogResult::default();
            for r in all.await? {
                out.stats.add(r.stats);
                out.warnings.extend(r.warnings);
                out.streams = super::merge_streams(std::mem::take(&mut out.streams), r.streams, dir);
            }
            Ok(out)
        })
    }
}

impl Handler<SampleQuery> for IngesterFanout {
    type Result = ResponseFuture<Result<SampleResult, IngesterError>>;
    fn handle(&mut self, m: SampleQuery, _: &mut Context<Self>) -> Self::Result {
        let all = self.gather(|| SampleQuery { tenant: m.tenant.clone(), req: m.req.clone() });
        Box::pin(async move {
            let mut out = SampleResult::default();
            for r in all.await? {
                out.merge(r); // samples carry their entry's identity: replicas collapse
            }
            Ok(out)
        })
    }
}

impl Handler<LabelQuery> for IngesterFanout {
    type Result = ResponseFuture<Result<Vec<String>, IngesterError>>;
    fn handle(&mut self, m: LabelQuery, _: &mut Context<Self>) -> Self::Result {
        let all = self.gather(|| LabelQuery {
            tenant: m.tenant.clone(),
            name: m.name.clone(),
            matchers: m.matchers.clone(),
            range: m.range.clone(),
        });
        Box::pin(async move { Ok(all.await?.into_iter().flatten().collect::<BTreeSet<_>>().into_iter().collect()) })
    }
}

impl Handler<SeriesQuery> for IngesterFanout {
    type Result = ResponseFuture<Result<Vec<Labels>, IngesterError>>;
    fn handle(&mut self, m: SeriesQuery, _: &mut Context<Self>) -> Self::Result {
        let all =
            self.gather(|| SeriesQuery { tenant: m.tenant.clone(), groups: m.groups.clone(), range: m.range.clone() });
        Box::pin(async move { Ok(all.await?.into_iter().flatten().collect::<BTreeSet<_>>().into_iter().collect()) })
    }
}

impl Handler<VolumeQuery> for IngesterFanout {
    type Result = ResponseFuture<Result<VolumeResult, IngesterError>>;
    fn handle(&mut self, m: VolumeQuery, _: &mut Context<Self>) -> Self::Result {
        let all = self.gather(|| VolumeQuery { tenant: m.tenant.clone(), req: m.req.clone() });
        Box::pin(async move { Ok(max_of_replicas(all.await?)) })
    }
}

/// Replicas count the same stream: per stream, the largest count of any replica.
fn max_of_replicas(all: Vec<VolumeResult>) -> VolumeResult {
    let mut by: BTreeMap<Labels, StreamVolume> = BTreeMap::new();
    for s in all.into_iter().flat_map(|r| r.streams) {
        match by.get_mut(&s.labels) {
            None => {
                by.insert(s.labels.clone(), s);
            }
            Some(e) if (s.entries, s.bytes) > (e.entries, e.bytes) => *e = s,
            Some(_) => {}
        }
    }
    VolumeResult { streams: by.into_values().collect() }
}

impl Handler<TailersCount> for IngesterFanout {
    type Result = ResponseFuture<Result<usize, IngesterError>>;
    fn handle(&mut self, m: TailersCount, _: &mut Context<Self>) -> Self::Result {
        // every tail subscribes on every ingester: the busiest one has them all
        let all = self.gather(|| TailersCount { tenant: m.tenant.clone() });
        Box::pin(async move { Ok(all.await?.into_iter().max().unwrap_or(0)) })
    }
}

/// One subscription per ingester; `None` for this process's own (it lasts as long as the tail).
type Subscriptions = HashMap<String, Option<oneshot::Receiver<()>>>;

impl Handler<Tail> for IngesterFanout {
    type Result = ResponseFuture<Result<(), IngesterError>>;
    fn handle(&mut self, m: Tail, _: &mut Context<Self>) -> Self::Result {
        let pool = self.pool.clone();
        Box::pin(async move {
            let mut subs = Subscriptions::new();
            let opened = subscribe_missing(&pool, &m.tenant, &m.subscriber, &mut subs).await;
            if opened == 0 {
                return Err(IngesterError::Unavailable("no ingester accepted the tail".into()));
            }
            actix::spawn(keep_subscribed(pool, m.tenant, m.subscriber, subs));
            Ok(())
        })
    }
}

/// Re-subscribes where a stream ended and on ingesters that joined, until the tail closes.
async fn keep_subscribed(pool: Arc<IngesterPool>, tenant: String, sub: Subscriber, mut subs: Subscriptions) {
    loop {
        tokio::select! {
            _ = sub.tx.closed() => return,
            _ = tokio::time::sleep(TAIL_RESUBSCRIBE) => {}
        }
        subscribe_missing(&pool, &tenant, &sub, &mut subs).await;
    }
}

/// Subscribes on every live ingester without an open subscription; how many are open.
async fn subscribe_missing(pool: &IngesterPool, tenant: &str, sub: &Subscriber, subs: &mut Subscriptions) -> usize {
    let ring = pool.ring();
    let now_ms = now_ns() / 1_000_000;
    let timeout = pool.heartbeat_timeout_ms();
    subs.retain(|_, s| s.as_mut().is_none_or(|rx| matches!(rx.try_recv(), Err(oneshot::error::TryRecvError::Empty))));
    for inst in ring.instances() {
        let fresh = timeout <= 0 || now_ms - inst.heartbeat_ms <= timeout;
        if !fresh || subs.contains_key(&inst.id) {
            continue;
        }
        let opened = match pool.peer(inst) {
            Peer::Local(a) => a
                .send(Tail { tenant: tenant.to_string(), subscriber: sub.clone() })
                .await
                .ok()
                .and_then(|r| r.ok())
                .map(|_| None),
            Peer::Remote(b) => {
                let r = b.send(OpenTail { tenant: tenant.to_string(), subscriber: sub.clone() }).await;
                r.ok()
                    .and_then(|r| {
                        r.map_err(|e| tracing::debug!(ingester = %inst.id, error = %e, "tail not opened")).ok()
                    })
                    .map(Some)
            }
        };
        if let Some(s) = opened {
            tracing::debug!(ingester = %inst.id, tenant, "tail subscribed");
            subs.insert(inst.id.clone(), s);
        }
    }
    subs.len()
}
