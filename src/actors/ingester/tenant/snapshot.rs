//! WAL checkpoint and replay messages of the `TenantActor`: collect the
//! snapshots of every shard's streams, and put restored streams back into the
//! stream index and their shards.
//!
//! Sent by the `IngesterSupervisor` with `do_send`, so a snapshot request lands
//! after every push sequenced before it and before every push after it.

use actix::{Context, Handler, Message};
use futures::future::join_all;
use tokio::sync::oneshot;

use super::TenantActor;
use crate::actors::ingester::shard::{ShardRestore, ShardSnapshot};
use crate::actors::ingester::stream::StreamSnapshot;
use crate::model::Fingerprint;

#[derive(Message)]
#[rtype(result = "()")]
pub struct TenantSnapshot {
    pub reply: oneshot::Sender<Vec<StreamSnapshot>>,
}

/// Streams rebuilt from a checkpoint; `reply` gets how many could not be restored.
#[derive(Message)]
#[rtype(result = "()")]
pub struct TenantRestore {
    pub streams: Vec<StreamSnapshot>,
    pub reply: oneshot::Sender<usize>,
}

impl Handler<TenantSnapshot> for TenantActor {
    type Result = ();
    fn handle(&mut self, msg: TenantSnapshot, _: &mut Context<Self>) {
        let parts: Vec<_> = self
            .shards
            .iter()
            .map(|s| {
                let (reply, rx) = oneshot::channel();
                s.do_send(ShardSnapshot { reply });
                rx
            })
            .collect();
        actix::spawn(async move {
            let all = join_all(parts).await.into_iter().flatten().flatten().collect();
            let _ = msg.reply.send(all);
        });
    }
}

impl Handler<TenantRestore> for TenantActor {
    type Result = ();
    fn handle(&mut self, msg: TenantRestore, _: &mut Context<Self>) {
        let n = self.shards.len();
        let mut per_shard: Vec<Vec<(Fingerprint, StreamSnapshot)>> = (0..n).map(|_| Vec::new()).collect();
        for s in msg.streams {
            let fp = self.resolve(&s.labels, s.labels.fingerprint());
            if let Some(m) = self.streams.get_mut(&fp) {
                m.min_ts = m.min_ts.min(s.min_ts());
                m.max_ts = m.max_ts.max(s.max_ts);
            }
            per_shard[self.shard_of(fp)].push((fp, s));
        }
        let replies: Vec<_> = per_shard
            .into_iter()
            .enumerate()
            .filter(|(_, v)| !v.is_empty())
            .map(|(i, streams)| {
                let (reply, rx) = oneshot::channel();
                self.shards[i].do_send(ShardRestore { streams, reply });
                rx
            })
            .collect();
        actix::spawn(async move {
            let failed = join_all(replies).await.into_iter().map(|r| r.unwrap_or(0)).sum();
            let _ = msg.reply.send(failed);
        });
    }
}
