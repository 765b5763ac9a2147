//! `FlushActor`: writes closed chunks to the object store and their references
//! to the index, retrying with backoff until the store takes them.
//!
//! Stream shard actors send [`FlushChunks`]; the reply names the chunks now
//! safely stored, and only then may the shard let them go (after
//! `chunk_retain_period`). A pool of these actors runs on the ingester's arbiters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Context, Handler, Message, MessageResult, ResponseFuture};
use bytes::Bytes;
use serde::Serialize;

use crate::actors::Observe;
use crate::metrics::metrics;
use crate::model::{Fingerprint, Labels};
use crate::storage::index::{segment_prefix, tables_between, ChunkRef, Segment, SeriesEntry};
use crate::storage::object::ObjectClient;

/// One encoded chunk ready for the store.
#[derive(Debug, Clone)]
pub struct FlushItem {
    /// The shard's id of the chunk, echoed back when it is stored.
    pub chunk_id: u64,
    pub fingerprint: Fingerprint,
    pub labels: Labels,
    pub key: String,
    pub data: Bytes,
    pub from: i64,
    pub through: i64,
    pub entries: u64,
    pub line_bytes: u64,
}

/// Flush these chunks; the reply lists the (fingerprint, chunk id) pairs stored.
#[derive(Message)]
#[rtype(result = "Vec<(Fingerprint, u64)>")]
pub struct FlushChunks {
    pub tenant: Arc<str>,
    pub items: Vec<FlushItem>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct FlushCounters {
    pub chunks_flushed: u64,
    pub bytes_flushed: u64,
    pub failed_attempts: u64,
    pub index_segments: u64,
}

#[derive(Default)]
struct Shared {
    chunks: AtomicU64,
    bytes: AtomicU64,
    failures: AtomicU64,
    segments: AtomicU64,
}

pub struct FlushActor {
    store: ObjectClient,
    index_prefix: String,
    node: String,
    backoff_max: Duration,
    shared: Arc<Shared>,
}

impl FlushActor {
    pub fn new(store: ObjectClient, index_prefix: String, node: String, backoff_max: Duration) -> Self {
        FlushActor { store, index_prefix, node, backoff_max, shared: Arc::default() }
    }

    fn flush(&self, msg: FlushChunks) -> ResponseFuture<Vec<(Fingerprint, u64)>> {
        let store = self.store.clone();
        let shared = self.shared.clone();
        let max = self.backoff_max;
        let prefix = self.index_prefix.clone();
        // unique across every flush actor of the process (they share the node name)
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let seg_name =
            format!("{}-{:x}-{:x}", self.node, crate::model::time::now_ns(), SEQ.fetch_add(1, Ordering::Relaxed));
        Box::pin(async move {
            let tenant = msg.tenant;
            for it in &msg.items {
                put_with_retry(&store, &it.key, it.data.clone(), max, &shared).await;
            }
            for seg in segments(&tenant, &prefix, &msg.items) {
                let key = format!("{}{seg_name}.skidx", segment_prefix(&seg.table, &tenant));
                put_with_retry(&store, &key, seg.encode(), max, &shared).await;
                shared.segments.fetch_add(1, Ordering::Relaxed);
            }
            // only now is every chunk findable: counted as flushed
            for it in &msg.items {
                shared.chunks.fetch_add(1, Ordering::Relaxed);
                shared.bytes.fetch_add(it.data.len() as u64, Ordering::Relaxed);
                metrics().chunks_flushed.inc();
            }
            msg.items.iter().map(|i| (i.fingerprint, i.chunk_id)).collect()
        })
    }
}

/// One index segment per table the flushed chunks touch.
fn segments(tenant: &str, prefix: &str, items: &[FlushItem]) -> Vec<Segment> {
    let mut by_table: std::collections::BTreeMap<String, Vec<SeriesEntry>> = Default::default();
    for it in items {
        let r = ChunkRef {
            key: it.key.clone(),
            from: it.from,
            through: it.through,
            bytes: it.data.len() as u64,
            entries: it.entries,
            line_bytes: it.line_bytes,
        };
        for table in tables_between(prefix, it.from, it.through) {
            let series = by_table.entry(table).or_default();
            match series.iter_mut().find(|s| s.fingerprint == it.fingerprint) {
                Some(s) => s.chunks.push(r.clone()),
                None => series.push(SeriesEntry {
                    fingerprint: it.fingerprint,
                    labels: it.labels.to_string(),
                    chunks: vec![r.clone()],
                }),
            }
        }
    }
    by_table.into_iter().map(|(table, series)| Segment { tenant: tenant.to_string(), table, series }).collect()
}

/// Puts until the store accepts, backing off from 100 ms to `max`. Data stays in
/// the ingester meanwhile, so waiting is always safe.
async fn put_with_retry(store: &ObjectClient, key: &str, data: Bytes, max: Duration, shared: &Shared) {
    let mut wait = Duration::from_millis(100);
    loop {
        match store.put(key, data.clone()).await {
            Ok(()) => return,
            Err(e) => {
                shared.failures.fetch_add(1, Ordering::Relaxed);
                metrics().flush_failures.inc();
                tracing::warn!(key, error = %e, retry_in = ?wait, "flush to object store failed; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(max);
            }
        }
    }
}

impl Actor for FlushActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(64);
    }
}

impl Handler<FlushChunks> for FlushActor {
    type Result = ResponseFuture<Vec<(Fingerprint, u64)>>;
    fn handle(&mut self, msg: FlushChunks, _: &mut Context<Self>) -> Self::Result {
        self.flush(msg)
    }
}

impl Handler<Observe<FlushCounters>> for FlushActor {
    type Result = MessageResult<Observe<FlushCounters>>;
    fn handle(&mut self, _: Observe<FlushCounters>, _: &mut Context<Self>) -> Self::Result {
        let s = &self.shared;
        MessageResult(FlushCounters {
            chunks_flushed: s.chunks.load(Ordering::Relaxed),
            bytes_flushed: s.bytes.load(Ordering::Relaxed),
            failed_attempts: s.failures.load(Ordering::Relaxed),
            index_segments: s.segments.load(Ordering::Relaxed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::index::TableIndex;

    #[actix::test]
    async fn stores_chunks_and_index_segments() {
        let store = ObjectClient::memory();
        let a = FlushActor::new(store.clone(), "index_".into(), "n1".into(), Duration::from_secs(1)).start();
        let labels = Labels::parse(r#"{app="x"}"#).unwrap();
        let day = crate::storage::index::DAY_NS;
        let item = |id: u64, key: &str, from: i64| FlushItem {
            chunk_id: id,
            fingerprint: labels.fingerprint(),
            labels: labels.clone(),
            key: key.into(),
            data: Bytes::from_static(b"chunk"),
            from,
            through: from + 10,
            entries: 3,
            line_bytes: 12,
        };
        let done = a
            .send(FlushChunks {
                tenant: "t".into(),
                items: vec![item(1, "t/chunks/a", day - 5), item(2, "t/chunks/b", 5)],
            })
            .await
            .unwrap();
        assert_eq!(done, vec![(labels.fingerprint(), 1), (labels.fingerprint(), 2)]);
        assert_eq!(&store.get("t/chunks/b").await.unwrap()[..], b"chunk");
        // the first chunk crosses midnight: referenced from both days' tables
        let day0 = store.list("index/index_0/t").await.unwrap();
        let day1 = store.list("index/index_1/t").await.unwrap();
        assert_eq!((day0.len(), day1.len()), (1, 1));
        let mut idx = TableIndex::default();
        idx.add(Segment::decode(&store.get(&day0[0].key).await.unwrap()).unwrap());
        let m = vec![crate::logql::Matcher::new("app", crate::logql::MatchOp::Eq, "x").unwrap()];
        assert_eq!(idx.select(&m, 0, day).len(), 1);
        let c = a.send(Observe::<FlushCounters>::new()).await.unwrap();
        assert_eq!((c.chunks_flushed, c.index_segments, c.failed_attempts), (2, 2, 0));

        // a second actor of the same process never overwrites the first one's segments
        let b = FlushActor::new(store.clone(), "index_".into(), "n1".into(), Duration::from_secs(1)).start();
        b.send(FlushChunks { tenant: "t".into(), items: vec![item(3, "t/chunks/c", 7)] }).await.unwrap();
        a.send(FlushChunks { tenant: "t".into(), items: vec![item(4, "t/chunks/d", 8)] }).await.unwrap();
        assert_eq!(store.list("index/index_0/t").await.unwrap().len(), 3);
    }
}
