//! `RingRouter`: sends each stream of a push to its replication set on the
//! ingester ring and succeeds when every stream reached a quorum (`rf/2+1`) of
//! its replicas; one batch per ingester per push.
//!
//! Used by the distributor when gossip membership is on. Ingesters are reached
//! through the `IngesterPool`: this process's supervisor for itself, an
//! `IngesterBridge` (gRPC) for every other member.

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::join_all;

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
        // per instance: (recipient, stream indexes); per stream: failures allowed
        let mut batches: HashMap<String, (Peer, Vec<usize>)> = HashMap::new();
        let mut allowed: Vec<usize> = Vec::with_capacity(streams.len());
        for (i, s) in streams.iter().enumerate() {
            let token = token_for(tenant, &s.labels.to_string());
            let set = ring
                .replication_set(token, self.rf, Op::Write, now_ms)
                .map_err(|e| PushError::Internal(e.to_string()))?;
            allowed.push(set.max_errors);
            for inst in set.instances {
                batches.entry(inst.id.clone()).or_insert_with(|| (self.pool.peer(inst), Vec::new())).1.push(i);
            }
        }
        let calls = batches.into_values().map(|(r, idx)| {
            let part: Vec<StreamPush> = idx.iter().map(|&i| streams[i].clone()).collect();
            let req = r.send(Push { tenant: tenant.to_string(), streams: part });
            async move { (idx, req.await) }
        });
        let mut failures = vec![0usize; streams.len()];
        let mut last_error = String::new();
        let mut outcome = PushOutcome::default();
        let mut seen_errors = std::collections::HashSet::new();
        for (idx, res) in join_all(calls).await {
            match res.map_err(|e| IngesterError::Unavailable(e.to_string())).and_then(|r| r) {
                Ok(o) => {
                    // every replica reports the same rejections: keep each once
                    let errors: Vec<String> =
                        o.errors.iter().filter(|e| seen_errors.insert((*e).clone())).cloned().collect();
                    outcome.merge(PushOutcome { errors, ..o });
                }
                Err(e) => {
                    last_error = e.to_string();
                    for i in idx {
                        failures[i] += 1;
                    }
                }
            }
        }
        if failures.iter().zip(&allowed).any(|(f, a)| f > a) {
            tracing::warn!(tenant, error = %last_error, "push failed on too many replicas");
            return Err(PushError::Internal(last_error));
        }
        Ok(outcome)
    }
}

/// Shared so clones of the distributor use one bridge pool.
pub type SharedRouter = Arc<RingRouter>;
