//! WAL checkpoint and replay messages of the `StreamShardActor`: snapshot every
//! stream's unflushed chunks; restore streams from a checkpoint.
//!
//! Sent by the shard's `TenantActor` with `do_send`, in order with `Append`.

use actix::{Context, Handler, Message};
use tokio::sync::oneshot;

use super::StreamShardActor;
use crate::actors::ingester::stream::{Stream, StreamSnapshot};
use crate::metrics::metrics;
use crate::model::time::now_ns;
use crate::model::Fingerprint;

#[derive(Message)]
#[rtype(result = "()")]
pub struct ShardSnapshot {
    pub reply: oneshot::Sender<Vec<StreamSnapshot>>,
}

/// Streams to rebuild; `reply` gets how many failed (damaged head blocks).
#[derive(Message)]
#[rtype(result = "()")]
pub struct ShardRestore {
    pub streams: Vec<(Fingerprint, StreamSnapshot)>,
    pub reply: oneshot::Sender<usize>,
}

impl Handler<ShardSnapshot> for StreamShardActor {
    type Result = ();
    fn handle(&mut self, msg: ShardSnapshot, _: &mut Context<Self>) {
        let _ = msg.reply.send(self.streams.values().filter_map(Stream::snapshot).collect());
    }
}

impl Handler<ShardRestore> for StreamShardActor {
    type Result = ();
    fn handle(&mut self, msg: ShardRestore, _: &mut Context<Self>) {
        let now = now_ns();
        let mut failed = 0;
        for (fp, snap) in msg.streams {
            let labels = snap.labels.clone();
            match Stream::restore(snap, now) {
                Ok(s) => {
                    let chunks = s.chunk_count();
                    self.counters.chunks += chunks;
                    metrics().memory_chunks.add(chunks as i64);
                    if let Some(old) = self.streams.insert(fp, s) {
                        self.chunks_dropped(old.chunk_count());
                    }
                }
                Err(e) => {
                    failed += 1;
                    tracing::error!(tenant = %self.tenant, stream = %labels, error = %e, "WAL checkpoint stream could not be restored");
                }
            }
        }
        self.counters.streams = self.streams.len();
        let _ = msg.reply.send(failed);
    }
}
