//! `RingRouter`: sends each stream of a push to its replication set on the
//! ingester ring and succeeds as soon as every stream reached a quorum
//! (`rf/2+1`) of its replicas (slower replicas finish in the background, so a
//! hung ingester does not hold pushes up); one batch per ingester per push.
//!
//! Used by the distributor when gossip membership is on. Ingesters are reached
//! through the `IngesterPool`: this process's supervisor for itself, an
//! `IngesterBridge` (gRPC) for every other member.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::stream::{FuturesUnordered, StreamExt};

use super::PushError;
use crate::actors::ingester::{IngesterError, Push, PushOutcome};
use crate::cluster::keys;
use crate::cluster::ring::{token_for, Op};
use crate::model::time::now_ns;
use crate::model::StreamPush;
use crate::rpc::pool::{IngesterPool, Peer};

pub struct RingRouter {
    pool: Arc<IngesterPool>,
    rf: usize,
}

impl RingRouter {
    pub fn new(pool: Arc<IngesterPool>, rf: usize) -> Self {
        RingRouter { pool, rf }
    }

    /// Live members running a distributor (for the `global` rate-limit strategy).
    pub fn healthy_distributors(&self) -> usize {
        let v = self.pool.view().read().unwrap_or_else(|e| e.into_inner());
        v.members
            .iter()
            .filter(|m| m.live)
            .filter(|m| m.keys.get(keys::TARGETS).is_some_and(|t| keys::runs_distributor(t)))
            .count()
    }

    pub async fn push(&self, tenant: &str, streams: Vec<StreamPush>) -> Result<PushOutcome, PushError> {
        let ring = self.pool.ring();
        let now_ms = now_ns() / 1_000_000;
        // per instance: (recipient, stream indexes); per stream: acks needed and failures allowed
        let mut batches: HashMap<String, (Peer, Vec<usize>)> = HashMap::new();
        let mut allowed: Vec<usize> = Vec::with_capacity(streams.len());
        let mut needed: Vec<usize> = Vec::with_capacity(streams.len());
        for (i, s) in streams.iter().enumerate() {
            let token = token_for(tenant, s.labels.rendered());
            let set = ring
                .replication_set(token, self.rf, Op::Write, now_ms)
                .map_err(|e| PushError::Internal(e.to_string()))?;
            allowed.push(set.max_errors);
            needed.push(set.quorum());
            for inst in set.instances {
                // most streams go to an instance already seen: look up before cloning its id
                match batches.get_mut(&inst.id) {
                    Some(b) => b.1.push(i),
                    None => {
                        batches.insert(inst.id.clone(), (self.pool.peer(inst), vec![i]));
                    }
                }
            }
        }
        // a stream is cloned for all but the last batch that carries it, and moved into that one
        let mut uses = vec![0usize; streams.len()];
        batches.values().flat_map(|(_, idx)| idx).for_each(|&i| uses[i] += 1);
        let mut slots: Vec<Option<StreamPush>> = streams.into_iter().map(Some).collect();
        let mut take = |i: usize| {
            uses[i] -= 1;
            if uses[i] == 0 {
                slots[i].take()
            } else {
                slots[i].clone()
            }
        };
        let mut calls: FuturesUnordered<_> = batches
            .into_values()
            .map(|(r, idx)| {
                let part: Vec<StreamPush> = idx.iter().filter_map(|&i| take(i)).collect();
                let req = r.send(Push { tenant: tenant.to_string(), streams: part });
                async move { (idx, req.await) }
            })
            .collect();
        let mut tally = Tally::new(needed, allowed);
        while let Some((idx, res)) = calls.next().await {
            tally.record(&idx, res.map_err(|e| IngesterError::Unavailable(e.to_string())).and_then(|r| r));
            if tally.settled() {
                break;
            }
        }
        if !calls.is_empty() {
            // quorum reached: the slower replicas still get their copy, without holding up the client
            // (tokio, not actix: gRPC pushes run this in tonic's tasks, outside any actix LocalSet)
            tokio::spawn(async move { while calls.next().await.is_some() {} });
        }
        tally.result(tenant)
    }
}

/// Shared so clones of the distributor use one bridge pool.
pub type SharedRouter = Arc<RingRouter>;

/// What the replicas answered so far, per stream.
struct Tally {
    needed: Vec<usize>,
    allowed: Vec<usize>,
    acked: Vec<usize>,
    failed: Vec<usize>,
    outcome: PushOutcome,
    seen_errors: HashSet<String>,
    last_error: String,
}

impl Tally {
    fn new(needed: Vec<usize>, allowed: Vec<usize>) -> Tally {
        let n = needed.len();
        Tally {
            needed,
            allowed,
            acked: vec![0; n],
            failed: vec![0; n],
            outcome: PushOutcome::default(),
            seen_errors: HashSet::new(),
            last_error: String::new(),
        }
    }

    fn record(&mut self, idx: &[usize], res: Result<PushOutcome, IngesterError>) {
        match res {
            Ok(o) => {
                // every replica reports the same rejections: keep each once
                let errors: Vec<String> =
                    o.errors.iter().filter(|e| self.seen_errors.insert((*e).clone())).cloned().collect();
                self.outcome.merge(PushOutcome { errors, ..o });
                idx.iter().for_each(|&i| self.acked[i] += 1);
            }
            Err(e) => {
                self.last_error = e.to_string();
                idx.iter().for_each(|&i| self.failed[i] += 1);
            }
        }
    }

    fn failed(&self) -> bool {
        self.failed.iter().zip(&self.allowed).any(|(f, a)| f > a)
    }

    /// Every stream has its quorum, or one can no longer get it.
    fn settled(&self) -> bool {
        self.failed() || self.acked.iter().zip(&self.needed).all(|(a, n)| a >= n)
    }

    fn result(self, tenant: &str) -> Result<PushOutcome, PushError> {
        if self.failed() {
            tracing::warn!(tenant, error = %self.last_error, "push failed on too many replicas");
            return Err(PushError::Internal(self.last_error));
        }
        Ok(self.outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> Result<PushOutcome, IngesterError> {
        Ok(PushOutcome { accepted: 1, ..Default::default() })
    }

    #[test]
    fn settles_at_quorum_or_at_the_first_stream_past_its_failures() {
        // two streams, three replicas each, quorum two
        let mut t = Tally::new(vec![2, 2], vec![1, 1]);
        t.record(&[0, 1], ok());
        assert!(!t.settled());
        t.record(&[0], Err(IngesterError::Unavailable("down".into())));
        t.record(&[0, 1], ok());
        assert!(t.settled(), "both streams have two acks");
        assert_eq!(t.result("t").unwrap().accepted, 2);

        let mut t = Tally::new(vec![2], vec![1]);
        t.record(&[0], Err(IngesterError::Unavailable("a".into())));
        assert!(!t.settled());
        t.record(&[0], Err(IngesterError::Unavailable("b".into())));
        assert!(t.settled());
        assert!(matches!(t.result("t"), Err(PushError::Internal(m)) if m.contains('b')));
    }
}
