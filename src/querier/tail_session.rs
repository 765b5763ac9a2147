//! One open live tail on the querier side: runs the LogQL pipeline over the raw
//! entries the ingester shards send, holds them `delay_for` and releases them in
//! timestamp order, in frames of at most 100 entries (Loki's
//! `maxEntriesPerTailResponse`), with what the shards dropped for this tail.
//!
//! Built by `Querier::tail` with the replayed history; driven by the tail API
//! handler, which writes every frame to the WebSocket. While the handler waits
//! on a slow client nothing reads the subscription channel, so it fills and the
//! shards count drops instead of slowing down.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::actors::ingester::stream_query::Groups;
use crate::actors::ingester::{DropLog, Dropped, StreamEntries, TailBatch};
use crate::logql::LogExpr;
use crate::model::time::now_ns;

/// Entries per frame, as Loki.
pub const MAX_ENTRIES_PER_FRAME: usize = 100;
/// Entries held for `delay_for` at most; beyond, the oldest go out early.
const MAX_PENDING: usize = 10_000;
/// How often a waiting session looks for drops to report.
const DROP_CHECK: Duration = Duration::from_secs(1);
/// How long the identity of a live entry is remembered: every replica of an
/// entry (one per ingester holding the stream) arriving within it counts once.
const REPLICA_WINDOW_NS: i64 = 10_000_000_000;

/// One entry after the pipeline, with its (shared) result labels.
#[derive(Clone, Debug)]
pub struct TailItem {
    pub ts: i64,
    pub line: Bytes,
    /// Labels of the entry: full set, stream part, structured metadata, parsed (no entries).
    pub group: Arc<StreamEntries>,
}

/// What one WebSocket frame carries.
#[derive(Debug, Default)]
pub struct TailFrame {
    pub items: Vec<TailItem>,
    pub dropped: Dropped,
}

/// Identity of an entry for removing the overlap of history and live entries.
pub fn key(i: &TailItem) -> u64 {
    let mut h = foldhash::fast::FixedState::with_seed(11).build_hasher();
    h.write_u64(i.group.labels.fingerprint());
    h.write_i64(i.ts);
    h.write(&i.line);
    h.finish()
}

/// A live entry waiting for its release time, ordered by timestamp then arrival.
struct Pending {
    ts: i64,
    seq: u64,
    item: TailItem,
}

impl PartialEq for Pending {
    fn eq(&self, o: &Self) -> bool {
        (self.ts, self.seq) == (o.ts, o.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Pending {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.ts, self.seq).cmp(&(o.ts, o.seq))
    }
}

pub struct TailSession {
    /// Ready to send, in order (the history first).
    ready: VecDeque<TailItem>,
    pending: BinaryHeap<Reverse<Pending>>,
    seq: u64,
    rx: mpsc::Receiver<Arc<TailBatch>>,
    drops: Arc<DropLog>,
    /// Line bytes in `rx` (the shards' budget; given back as batches are taken).
    queued: Arc<AtomicUsize>,
    expr: Arc<LogExpr>,
    delay_ns: i64,
    /// Live entries seen within [`REPLICA_WINDOW_NS`], by [`key`], and their arrival order.
    recent: HashSet<u64>,
    arrivals: VecDeque<(i64, u64)>,
}

impl TailSession {
    /// `history`: replayed entries, oldest first. Live entries already waiting in
    /// `rx` were appended while the history was read: those the history holds are
    /// skipped (every shard publishes an append before it answers a later query).
    pub fn new(
        history: Vec<TailItem>,
        mut rx: mpsc::Receiver<Arc<TailBatch>>,
        drops: Arc<DropLog>,
        queued: Arc<AtomicUsize>,
        expr: Arc<LogExpr>,
        delay_ns: i64,
    ) -> TailSession {
        let seen: HashSet<u64> = history.iter().map(key).collect();
        let arrived = now_ns();
        let arrivals = seen.iter().map(|k| (arrived, *k)).collect();
        let mut s = TailSession {
            ready: history.into(),
            pending: BinaryHeap::new(),
            seq: 0,
            rx: mpsc::channel(1).1,
            drops,
            queued,
            expr,
            delay_ns,
            recent: seen.clone(),
            arrivals,
        };
        while let Ok(b) = rx.try_recv() {
            b.received(&s.queued);
            for item in s.process(&b) {
                if !seen.contains(&key(&item)) {
                    s.hold(item);
                }
            }
        }
        s.rx = rx;
        s
    }

    /// The next frame: waits until an entry is due or drops are to be reported.
    /// `None` when the ingester ended the subscription. Cancel-safe.
    pub async fn next_frame(&mut self) -> Option<TailFrame> {
        loop {
            self.release(now_ns());
            if !self.ready.is_empty() {
                let n = self.ready.len().min(MAX_ENTRIES_PER_FRAME);
                return Some(TailFrame { items: self.ready.drain(..n).collect(), dropped: self.drops.take() });
            }
            let dropped = self.drops.take();
            if !dropped.is_empty() {
                return Some(TailFrame { items: Vec::new(), dropped });
            }
            let wait = self
                .pending
                .peek()
                .map(|Reverse(p)| Duration::from_nanos((p.ts.saturating_add(self.delay_ns) - now_ns()).max(0) as u64))
                .map_or(DROP_CHECK, |d| d.min(DROP_CHECK));
            tokio::select! {
                b = self.rx.recv() => {
                    let b = b?;
                    self.receive(&b);
                    while self.pending.len() < MAX_PENDING {
                        let Ok(b) = self.rx.try_recv() else { break };
                        self.receive(&b);
                    }
                }
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    fn receive(&mut self, b: &TailBatch) {
        b.received(&self.queued);
        for item in self.process(b) {
            self.hold(item);
        }
    }

    /// Queues a live entry unless a replica of it already arrived.
    fn hold(&mut self, item: TailItem) {
        let now = now_ns();
        while self.arrivals.front().is_some_and(|(t, _)| *t < now - REPLICA_WINDOW_NS) {
            if let Some((_, k)) = self.arrivals.pop_front() {
                self.recent.remove(&k);
            }
        }
        let k = key(&item);
        if !self.recent.insert(k) {
            return;
        }
        self.arrivals.push_back((now, k));
        self.seq += 1;
        self.pending.push(Reverse(Pending { ts: item.ts, seq: self.seq, item }));
    }

    /// Moves entries whose `ts + delay_for` has passed (Loki's rule) to `ready`;
    /// past [`MAX_PENDING`] the oldest go regardless.
    fn release(&mut self, now: i64) {
        while let Some(Reverse(p)) = self.pending.peek() {
            if p.ts.saturating_add(self.delay_ns) > now && self.pending.len() <= MAX_PENDING {
                break;
            }
            if let Some(Reverse(p)) = self.pending.pop() {
                self.ready.push_back(p.item);
            }
        }
    }

    /// The pipeline over one batch of raw entries.
    fn process(&self, b: &TailBatch) -> Vec<TailItem> {
        let pipeline = &self.expr.pipeline;
        let stream = b.labels.pairs();
        let mut groups = Groups::default();
        let mut kept: Vec<(usize, i64, Bytes)> = Vec::new();
        for e in &b.entries {
            if pipeline.filters_only() && e.metadata.is_empty() {
                if pipeline.keep_line(&e.line) {
                    kept.push((groups.stream_only(stream), e.ts, e.line.clone()));
                }
                continue;
            }
            let line = String::from_utf8_lossy(&e.line);
            if let Some(p) = pipeline.process(e.ts, &line, stream, &e.metadata) {
                let g = groups.find_or_add(&p.labels);
                kept.push((g, e.ts, p.line.map_or_else(|| e.line.clone(), Bytes::from)));
            }
        }
        let groups: Vec<Arc<StreamEntries>> = groups.into_streams(&b.labels, &[]).into_iter().map(Arc::new).collect();
        kept.into_iter().map(|(g, ts, line)| TailItem { ts, line, group: groups[g].clone() }).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logql::{parse, Expr};
    use crate::model::{Entry, Labels};

    fn expr(q: &str) -> Arc<LogExpr> {
        let Expr::Log(l) = parse(q).unwrap() else { panic!("log query expected") };
        Arc::new(l)
    }

    fn batch(ts: &[i64]) -> Arc<TailBatch> {
        let entries = ts.iter().map(|t| Entry::new(*t, format!("level=info n={t}"))).collect();
        Arc::new(TailBatch { labels: Labels::parse(r#"{app="a"}"#).unwrap(), entries })
    }

    #[tokio::test]
    async fn orders_within_delay_and_skips_the_history_overlap() {
        let now = now_ns();
        let (tx, rx) = mpsc::channel(16);
        let e = expr(&format!(r#"{{app="a"}} | logfmt | n != "{}""#, now - 5));
        let probe = TailSession::new(Vec::new(), mpsc::channel(1).1, Arc::default(), Arc::default(), e.clone(), 0);
        let history = probe.process(&batch(&[now - 10]));
        // appended while the history was read: the first entry is in both
        tx.send(batch(&[now - 10, now - 9])).await.unwrap();
        let mut s = TailSession::new(history, rx, Arc::default(), Arc::default(), e, 0);
        tx.send(batch(&[now - 3, now - 5, now - 4])).await.unwrap();
        let mut got = Vec::new();
        while got.len() < 4 {
            let f = tokio::time::timeout(Duration::from_secs(5), s.next_frame()).await.unwrap().unwrap();
            got.extend(f.items.iter().map(|i| i.ts - now));
        }
        assert_eq!(got, vec![-10, -9, -4, -3], "history once, one entry filtered, released by timestamp");
        let f = s.process(&batch(&[now]));
        assert_eq!(f[0].group.labels.to_string(), format!(r#"{{app="a", level="info", n="{now}"}}"#));
        assert_eq!(f[0].group.stream.to_string(), r#"{app="a"}"#);
        // the same entries again from a second ingester holding a replica
        tx.send(batch(&[now - 3, now - 2])).await.unwrap();
        let f = tokio::time::timeout(Duration::from_secs(5), s.next_frame()).await.unwrap().unwrap();
        assert_eq!(f.items.iter().map(|i| i.ts - now).collect::<Vec<_>>(), vec![-2], "replicas count once");
        drop(tx);
        assert!(s.next_frame().await.is_none(), "a closed subscription ends the session");
    }
}
