//! `WorkerManager`: keeps a querier's workers connected to its queue. It
//! resolves the configured address (a DNS name may stand for several
//! query-schedulers or query-frontends) now and every `dns_lookup_duration`,
//! starts workers for every new address (the querier's concurrency divided
//! among the addresses, at least one each, as Loki does) and stops those of
//! addresses that are gone.
//!
//! Started by the node when it runs a querier with `frontend_worker` set.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use actix::{Actor, ActorFutureExt, Addr, AsyncContext, Context, WrapFuture};

use super::worker::{QuerierWorker, Stop};

pub struct WorkerManager {
    /// The queue's address as configured (`host:port`).
    target: String,
    concurrency: usize,
    local: String,
    querier_id: String,
    lookup_every: Duration,
    http: reqwest::Client,
    workers: HashMap<String, Vec<Addr<QuerierWorker>>>,
}

impl WorkerManager {
    /// `local`: this node's HTTP API (`http://127.0.0.1:<port>`).
    pub fn new(target: String, concurrency: usize, local: String, querier_id: String, lookup_every: Duration) -> Self {
        let http = reqwest::Client::builder().pool_max_idle_per_host(concurrency.max(1)).build().unwrap_or_default();
        WorkerManager {
            target,
            concurrency: concurrency.max(1),
            local,
            querier_id,
            lookup_every: lookup_every.max(Duration::from_millis(100)),
            http,
            workers: HashMap::new(),
        }
    }

    fn resolved(&mut self, addrs: BTreeSet<String>) {
        if addrs.is_empty() {
            return; // keep what we have until the name resolves again
        }
        let gone: Vec<String> = self.workers.keys().filter(|a| !addrs.contains(*a)).cloned().collect();
        for a in gone {
            tracing::info!(queue = %a, "queue address gone: stopping its workers");
            for w in self.workers.remove(&a).unwrap_or_default() {
                w.do_send(Stop);
            }
        }
        let per_addr = (self.concurrency / addrs.len()).max(1);
        for a in addrs {
            if self.workers.contains_key(&a) {
                continue;
            }
            tracing::info!(queue = %a, workers = per_addr, "starting querier workers");
            let ws = (0..per_addr)
                .map(|_| {
                    QuerierWorker::new(a.clone(), self.local.clone(), self.querier_id.clone(), self.http.clone())
                        .start()
                })
                .collect();
            self.workers.insert(a, ws);
        }
    }

    fn lookup(&self, ctx: &mut Context<Self>) {
        let target = self.target.clone();
        let fut = async move {
            match tokio::net::lookup_host(target.as_str()).await {
                Ok(it) => it.map(|a| a.to_string()).collect(),
                Err(e) => {
                    tracing::warn!(queue = %target, error = %e, "cannot resolve the queue address");
                    BTreeSet::new()
                }
            }
        };
        ctx.spawn(fut.into_actor(self).map(|addrs, act, _| act.resolved(addrs)));
    }
}

impl Actor for WorkerManager {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.lookup(ctx);
        ctx.run_interval(self.lookup_every, |act, ctx| act.lookup(ctx));
    }
}
