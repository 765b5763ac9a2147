//! Live tails across processes. Caller side: [`OpenTail`] makes an
//! `IngesterBridge` open a server-streaming `Tail` call and pump what arrives
//! into the querier's [`Subscriber`] with the same bounded, never-blocking offer
//! the local shards use (a full channel counts drops). Callee side:
//! [`tail_stream`] subscribes on the local ingester and streams its batches and,
//! once a second, what that subscription dropped.
//!
//! The querier's `IngesterFanout` sends `OpenTail` to every ingester and opens it
//! again when the returned signal says the stream ended.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use actix::{Addr, Context, Handler, Message, ResponseFuture};
use futures::Stream;
use tokio::sync::{mpsc, oneshot};
use tonic::{Status, Streaming};

use super::ingester::IngesterBridge;
use super::wire;
use crate::actors::ingester::{Dropped, IngesterError, IngesterSupervisor, Subscriber, Tail, TailBatch};
use crate::proto::ingester::{DroppedEntry, TailRequest, TailResponse};

/// Opens a tail on a remote ingester; the reply's receiver resolves (or errors)
/// when the stream is over.
#[derive(Message)]
#[rtype(result = "Result<oneshot::Receiver<()>, IngesterError>")]
pub struct OpenTail {
    pub tenant: String,
    pub subscriber: Subscriber,
}

impl Handler<OpenTail> for IngesterBridge {
    type Result = ResponseFuture<Result<oneshot::Receiver<()>, IngesterError>>;
    fn handle(&mut self, m: OpenTail, _: &mut Context<Self>) -> Self::Result {
        let client = self.client();
        let addr = self.addr.clone();
        Box::pin(async move {
            let req = TailRequest { tenant: m.tenant, selector: wire::selector_text(&m.subscriber.matchers) };
            let stream = client?
                .tail(req)
                .await
                .map_err(|s| IngesterError::Unavailable(format!("ingester {addr}: {}", s.message())))?
                .into_inner();
            let (done_tx, done_rx) = oneshot::channel();
            actix::spawn(async move {
                pump(stream, m.subscriber, &addr).await;
                let _ = done_tx.send(());
            });
            Ok(done_rx)
        })
    }
}

/// Forwards one remote stream until either side goes away.
async fn pump(mut stream: Streaming<TailResponse>, sub: Subscriber, addr: &str) {
    loop {
        tokio::select! {
            _ = sub.tx.closed() => return,
            msg = stream.message() => match msg {
                Ok(Some(r)) => deliver(&sub, r),
                Ok(None) => {
                    tracing::debug!(ingester = addr, "tail stream ended");
                    return;
                }
                Err(e) => {
                    tracing::warn!(ingester = addr, error = %e.message(), "tail stream broken");
                    return;
                }
            }
        }
    }
}

fn deliver(sub: &Subscriber, r: TailResponse) {
    if r.dropped_total > 0 {
        let entries = r.dropped.into_iter().map(|d| (wire::labels(d.labels), d.ts)).collect();
        sub.drops.add(Dropped { entries, total: r.dropped_total });
    }
    if r.entries.is_empty() {
        return;
    }
    let batch = Arc::new(TailBatch {
        labels: wire::labels(r.labels),
        entries: r.entries.into_iter().map(wire::unentry).collect(),
    });
    if let Err(mpsc::error::TrySendError::Full(())) = sub.offer(&batch) {
        sub.drops.record(&batch.labels, &batch.entries);
    }
}

pub type TailStream = Pin<Box<dyn Stream<Item = Result<TailResponse, Status>> + Send>>;

/// How often a streaming subscription reports its drops.
const DROP_REPORT: Duration = Duration::from_secs(1);

/// The callee's side: subscribes on the local ingester, then streams.
pub async fn tail_stream(ingester: Addr<IngesterSupervisor>, req: TailRequest) -> Result<TailStream, Status> {
    let matchers = wire::parse_matchers(&req.selector).map_err(|e| Status::invalid_argument(e.0))?;
    let (sub, rx) = Subscriber::new(matchers);
    let (drops, queued) = (sub.drops.clone(), sub.queued.clone());
    ingester
        .send(Tail { tenant: req.tenant, subscriber: sub })
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let mut tick = tokio::time::interval(DROP_REPORT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let state = (rx, tick, drops, queued);
    let s = futures::stream::unfold(state, |(mut rx, mut tick, drops, queued)| async move {
        loop {
            tokio::select! {
                b = rx.recv() => {
                    let b = b?;
                    b.received(&queued);
                    let r = TailResponse {
                        labels: wire::pairs(b.labels.pairs()),
                        entries: b.entries.iter().map(wire::entry).collect(),
                        ..Default::default()
                    };
                    return Some((Ok(r), (rx, tick, drops, queued)));
                }
                _ = tick.tick() => {
                    let d = drops.take();
                    if d.is_empty() {
                        continue;
                    }
                    let dropped = d.entries.iter().map(|(l, ts)| DroppedEntry { labels: wire::pairs(l.pairs()), ts: *ts }).collect();
                    let r = TailResponse { dropped, dropped_total: d.total, ..Default::default() };
                    return Some((Ok(r), (rx, tick, drops, queued)));
                }
            }
        }
    });
    Ok(Box::pin(s))
}
