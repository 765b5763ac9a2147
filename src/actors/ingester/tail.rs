//! Live tail subscriptions in the ingester: the [`TailRegistry`] every
//! `StreamShardActor` keeps, and the messages that open ([`Tail`]) and count
//! ([`TailersCount`]) subscriptions.
//!
//! The querier sends `Tail` and `TailersCount` to the `IngesterSupervisor`, which
//! hands the subscription to every shard of the tenant (creating the tenant, so a
//! tail opened before the first push still sees it). After each append a shard
//! passes the accepted entries (duplicates and rejected entries left out) of the
//! streams matching a subscriber's selector to that subscriber's bounded channel
//! with `try_send`: a full channel never blocks ingestion, the entries are counted
//! into the subscriber's [`DropLog`] instead. The LogQL pipeline runs on the
//! querier side, off the ingest path. A subscription ends when its receiver is
//! dropped; shards forget it at their next publish or count.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix::{Context, Handler, Message, MessageResult, ResponseFuture};
use futures::future::join_all;
use tokio::sync::mpsc;

use super::shard::StreamShardActor;
use super::supervisor::{IngesterError, IngesterSupervisor};
use crate::logql::Matcher;
use crate::model::{Entry, FastMap, Fingerprint, Labels};

/// Batches a subscriber's channel holds before the shards start dropping.
pub const TAIL_BUFFER: usize = 1024;
/// Line bytes a subscriber's channel holds before the shards start dropping.
pub const TAIL_BUFFER_BYTES: usize = 8 << 20;
/// Dropped entries listed per report (Loki's `maxDroppedEntriesPerTailResponse`);
/// more are counted only.
pub const MAX_DROPPED_LISTED: usize = 1000;

/// Entries of one stream accepted by one append.
#[derive(Debug)]
pub struct TailBatch {
    pub labels: Labels,
    pub entries: Vec<Entry>,
}

/// Entries a subscriber missed because its channel was full.
#[derive(Debug, Default)]
pub struct Dropped {
    /// Stream labels and timestamp of the first [`MAX_DROPPED_LISTED`] drops.
    pub entries: Vec<(Labels, i64)>,
    pub total: u64,
}

impl Dropped {
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}

/// Shared by the shards (which record) and the subscriber (which takes).
#[derive(Debug, Default)]
pub struct DropLog(Mutex<Dropped>);

impl DropLog {
    pub(crate) fn record(&self, labels: &Labels, entries: &[Entry]) {
        let mut d = self.0.lock().unwrap_or_else(|e| e.into_inner());
        d.total += entries.len() as u64;
        let room = MAX_DROPPED_LISTED.saturating_sub(d.entries.len());
        d.entries.extend(entries.iter().take(room).map(|e| (labels.clone(), e.ts)));
    }

    /// Adds drops another process reported (a remote ingester's subscription).
    pub(crate) fn add(&self, o: Dropped) {
        let mut d = self.0.lock().unwrap_or_else(|e| e.into_inner());
        d.total += o.total;
        let room = MAX_DROPPED_LISTED.saturating_sub(d.entries.len());
        d.entries.extend(o.entries.into_iter().take(room));
    }

    /// Everything dropped since the last call.
    pub fn take(&self) -> Dropped {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// One open tail: its selector and where matching entries go.
#[derive(Clone, Debug)]
pub struct Subscriber {
    pub matchers: Arc<Vec<Matcher>>,
    pub tx: mpsc::Sender<Arc<TailBatch>>,
    pub drops: Arc<DropLog>,
    /// Line bytes in the channel: added by the shards, subtracted by the receiver
    /// ([`TailBatch::received`]).
    pub queued: Arc<AtomicUsize>,
}

impl Subscriber {
    /// A subscriber and the receiving end of its bounded channel.
    pub fn new(matchers: Vec<Matcher>) -> (Subscriber, mpsc::Receiver<Arc<TailBatch>>) {
        let (tx, rx) = mpsc::channel(TAIL_BUFFER);
        (Subscriber { matchers: Arc::new(matchers), tx, drops: Arc::default(), queued: Arc::default() }, rx)
    }

    pub(crate) fn offer(&self, batch: &Arc<TailBatch>) -> Result<(), mpsc::error::TrySendError<()>> {
        let bytes = batch.bytes();
        let before = self.queued.fetch_add(bytes, Ordering::Relaxed);
        // one batch larger than the budget still goes through an empty channel
        let res = if before > 0 && before + bytes > TAIL_BUFFER_BYTES {
            Err(mpsc::error::TrySendError::Full(()))
        } else {
            self.tx.try_send(batch.clone()).map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => mpsc::error::TrySendError::Full(()),
                mpsc::error::TrySendError::Closed(_) => mpsc::error::TrySendError::Closed(()),
            })
        };
        if res.is_err() {
            self.queued.fetch_sub(bytes, Ordering::Relaxed);
        }
        res
    }
}

impl TailBatch {
    fn bytes(&self) -> usize {
        self.entries.iter().map(|e| e.line.len()).sum()
    }

    /// Called by the receiver for every batch it takes off the channel.
    pub fn received(&self, queued: &AtomicUsize) {
        queued.fetch_sub(self.bytes(), Ordering::Relaxed);
    }
}

/// Opens a subscription on every shard of `tenant`.
#[derive(Message)]
#[rtype(result = "Result<(), IngesterError>")]
pub struct Tail {
    pub tenant: String,
    pub subscriber: Subscriber,
}

/// Open subscriptions of `tenant` (for `max_concurrent_tail_requests`).
#[derive(Message)]
#[rtype(result = "Result<usize, IngesterError>")]
pub struct TailersCount {
    pub tenant: String,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct ShardSubscribe(pub Subscriber);

#[derive(Message)]
#[rtype(result = "usize")]
pub struct ShardTailers;

/// A shard's subscribers, with the subscribers of each stream cached by fingerprint.
#[derive(Default)]
pub struct TailRegistry {
    subs: Vec<Subscriber>,
    by_stream: FastMap<Fingerprint, Vec<usize>>,
}

impl TailRegistry {
    pub fn add(&mut self, s: Subscriber) {
        self.prune();
        self.subs.push(s);
        self.by_stream.clear();
    }

    pub fn count(&mut self) -> usize {
        self.prune();
        self.subs.len()
    }

    fn prune(&mut self) {
        let before = self.subs.len();
        self.subs.retain(|s| !s.tx.is_closed());
        if self.subs.len() != before {
            self.by_stream.clear();
        }
    }

    /// Whether any subscriber selects this stream (the append then tracks what it accepts).
    pub fn wants(&mut self, fp: Fingerprint, labels: &Labels) -> bool {
        if self.subs.is_empty() {
            return false;
        }
        let subs = &self.subs;
        let ids = self.by_stream.entry(fp).or_insert_with(|| {
            (0..subs.len()).filter(|&i| crate::logql::matcher::matches_all(&subs[i].matchers, labels)).collect()
        });
        !ids.is_empty()
    }

    /// Hands the accepted entries (`accepted`: ascending indices into `entries`)
    /// to every subscriber of the stream; a full channel counts them as dropped.
    pub fn publish(&mut self, fp: Fingerprint, labels: &Labels, entries: Vec<Entry>, accepted: &[usize]) {
        if accepted.is_empty() || !self.wants(fp, labels) {
            return;
        }
        let entries = if accepted.len() == entries.len() {
            entries
        } else {
            let mut next = accepted.iter().peekable();
            entries
                .into_iter()
                .enumerate()
                .filter(|(i, _)| next.next_if(|&&a| a == *i).is_some())
                .map(|(_, e)| e)
                .collect()
        };
        let batch = Arc::new(TailBatch { labels: labels.clone(), entries });
        let mut closed = false;
        for &i in &self.by_stream[&fp] {
            let s = &self.subs[i];
            match s.offer(&batch) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(())) => {
                    tracing::debug!(stream = %labels, entries = batch.entries.len(), "tail subscriber full; entries dropped");
                    s.drops.record(&batch.labels, &batch.entries);
                }
                Err(mpsc::error::TrySendError::Closed(_)) => closed = true,
            }
        }
        if closed {
            self.prune();
        }
    }
}

impl Handler<ShardSubscribe> for StreamShardActor {
    type Result = ();
    fn handle(&mut self, msg: ShardSubscribe, _: &mut Context<Self>) {
        self.tails.add(msg.0);
    }
}

impl Handler<ShardTailers> for StreamShardActor {
    type Result = MessageResult<ShardTailers>;
    fn handle(&mut self, _: ShardTailers, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.tails.count())
    }
}

fn unavailable(e: actix::MailboxError) -> IngesterError {
    IngesterError::Unavailable(e.to_string())
}

impl Handler<Tail> for IngesterSupervisor {
    type Result = ResponseFuture<Result<(), IngesterError>>;
    fn handle(&mut self, msg: Tail, _: &mut Context<Self>) -> Self::Result {
        let sends: Vec<_> =
            self.tenant_shards(&msg.tenant).iter().map(|s| s.send(ShardSubscribe(msg.subscriber.clone()))).collect();
        tracing::debug!(tenant = msg.tenant, shards = sends.len(), "tail subscription opened");
        Box::pin(async move {
            for r in join_all(sends).await {
                r.map_err(unavailable)?;
            }
            Ok(())
        })
    }
}

impl Handler<TailersCount> for IngesterSupervisor {
    type Result = ResponseFuture<Result<usize, IngesterError>>;
    fn handle(&mut self, msg: TailersCount, _: &mut Context<Self>) -> Self::Result {
        // every shard holds every subscription of its tenant: one answers for all
        let first = self.tenant_shards(&msg.tenant).first().map(|s| s.send(ShardTailers));
        Box::pin(async move {
            match first {
                Some(r) => r.await.map_err(unavailable),
                None => Ok(0),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logql::MatchOp;

    fn sub(app: &str) -> (Subscriber, mpsc::Receiver<Arc<TailBatch>>) {
        Subscriber::new(vec![Matcher::new("app", MatchOp::Eq, app).unwrap()])
    }

    #[test]
    fn publishes_accepted_entries_to_matching_subscribers() {
        let mut reg = TailRegistry::default();
        let (a, mut rx_a) = sub("a");
        let (b, mut rx_b) = sub("b");
        reg.add(a);
        reg.add(b);
        let la = Labels::parse(r#"{app="a"}"#).unwrap();
        assert!(reg.wants(la.fingerprint(), &la));
        let entries: Vec<Entry> = (0..4).map(|i| Entry::new(i, format!("l{i}"))).collect();
        reg.publish(la.fingerprint(), &la, entries, &[0, 2, 3]);
        let got = rx_a.try_recv().unwrap();
        assert_eq!(got.entries.iter().map(|e| e.ts).collect::<Vec<_>>(), vec![0, 2, 3]);
        assert!(rx_b.try_recv().is_err(), "the other selector gets nothing");
        drop(rx_b);
        assert_eq!(reg.count(), 1, "a dropped receiver ends its subscription");
    }

    #[test]
    fn a_full_channel_counts_drops_instead_of_blocking() {
        let mut reg = TailRegistry::default();
        let (s, mut rx) = sub("a");
        let drops = s.drops.clone();
        reg.add(s);
        let l = Labels::parse(r#"{app="a"}"#).unwrap();
        for i in 0..TAIL_BUFFER as i64 + 3 {
            reg.publish(l.fingerprint(), &l, vec![Entry::new(i, "x"), Entry::new(i, "y")], &[0, 1]);
        }
        let d = drops.take();
        assert_eq!(d.total, 6);
        assert_eq!(d.entries[0], (l.clone(), TAIL_BUFFER as i64));
        assert!(drops.take().is_empty(), "taking resets the log");
        assert_eq!(rx.try_recv().unwrap().entries[0].ts, 0, "what fit is delivered in order");
    }
}
