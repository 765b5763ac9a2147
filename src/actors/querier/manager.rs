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

use actix::{Actor, ActorFutureExt, Addr, AsyncContext, Context, Handler, MessageResult, WrapFuture};
use serde::Serialize;

use super::worker::{QuerierWorker, Stop};
use crate::actors::Observe;

#[derive(Clone, Debug, Default, Serialize)]
pub struct ManagerCounters {
    /// Queue addresses with workers.
    pub addresses: Vec<String>,
    pub workers: usize,
}

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
        crate::tls::ensure_crypto_provider();
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
        let (gone, new, per_addr) = membership_change(self.workers.keys(), &addrs, self.concurrency);
        for a in gone {
            tracing::info!(queue = %a, "queue address gone: stopping its workers");
            for w in self.workers.remove(&a).unwrap_or_default() {
                w.do_send(Stop);
            }
        }
        for a in new {
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

    fn observe(&self) -> ManagerCounters {
        let mut addresses: Vec<String> = self.workers.keys().cloned().collect();
        addresses.sort();
        ManagerCounters { addresses, workers: self.workers.values().map(Vec::len).sum() }
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

impl Handler<Observe<ManagerCounters>> for WorkerManager {
    type Result = MessageResult<Observe<ManagerCounters>>;
    fn handle(&mut self, _: Observe<ManagerCounters>, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.observe())
    }
}

/// Addresses whose workers stop, addresses that get workers, and how many
/// workers each new address gets. An empty lookup changes nothing (the name
/// may resolve again later).
pub(crate) fn membership_change<'a>(
    current: impl Iterator<Item = &'a String>,
    resolved: &BTreeSet<String>,
    concurrency: usize,
) -> (Vec<String>, Vec<String>, usize) {
    let current: BTreeSet<&String> = current.collect();
    if resolved.is_empty() {
        return (Vec::new(), Vec::new(), 0);
    }
    let gone = current.iter().filter(|a| !resolved.contains(**a)).map(|a| (*a).clone()).collect();
    let new = resolved.iter().filter(|a| !current.contains(a)).cloned().collect();
    (gone, new, (concurrency / resolved.len()).max(1))
}

impl Actor for WorkerManager {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.lookup(ctx);
        ctx.run_interval(self.lookup_every, |act, ctx| act.lookup(ctx));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(a: &[&str]) -> BTreeSet<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn workers_follow_the_addresses_a_name_resolves_to() {
        let current = set(&["10.0.0.1:9095", "10.0.0.2:9095"]);
        let resolved = set(&["10.0.0.2:9095", "10.0.0.3:9095"]);
        let (gone, new, per) = membership_change(current.iter(), &resolved, 4);
        assert_eq!((gone, new, per), (vec!["10.0.0.1:9095".to_string()], vec!["10.0.0.3:9095".to_string()], 2));
        let (gone, new, per) = membership_change(current.iter(), &set(&[]), 4);
        assert!(gone.is_empty() && new.is_empty() && per == 0, "a failed lookup keeps the workers");
        let three = set(&["a:1", "b:1", "c:1"]);
        assert_eq!(membership_change(std::iter::empty(), &three, 2).2, 1, "at least one worker per address");
    }

    #[actix::test]
    async fn the_manager_starts_its_workers_for_the_resolved_address() {
        let m = WorkerManager::new(
            "127.0.0.1:1".into(),
            3,
            "http://127.0.0.1:1".into(),
            "q".into(),
            Duration::from_secs(60),
        )
        .start();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let c = m.send(Observe::<ManagerCounters>::new()).await.unwrap();
            if c.workers > 0 {
                assert_eq!((c.addresses, c.workers), (vec!["127.0.0.1:1".to_string()], 3));
                break;
            }
            assert!(std::time::Instant::now() < deadline, "no workers started");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
