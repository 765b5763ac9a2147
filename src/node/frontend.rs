//! The read path's module inits: the query-scheduler's queue, the
//! query-frontend (its own queue or a remote scheduler's), and the querier's
//! frontend workers. `node` calls these from its module table and serves the
//! queue on its gRPC port.

use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr};

use crate::actors::querier::manager::WorkerManager;
use crate::actors::scheduler::QueueActor;
use crate::config::Config;
use crate::frontend::results_cache::ResultsCache;
use crate::frontend::{Frontend, QueueHandle};

/// What the read-path modules built.
#[derive(Default)]
pub struct ReadPath {
    /// The queue this node serves over gRPC (scheduler, or a frontend's own).
    pub queue: Option<Addr<QueueActor>>,
    pub frontend: Option<Frontend>,
}

pub fn init_scheduler(cfg: &Config, rp: &mut ReadPath) {
    let max = cfg.query_scheduler.max_outstanding_requests_per_tenant;
    tracing::info!(max_outstanding_requests_per_tenant = max, "query-scheduler queue ready");
    rp.queue = Some(QueueActor::new(max).start());
}

/// `runs_querier`: this node also runs a querier. Then the frontend answers
/// queries only when the querier's workers are configured to pull from a queue;
/// otherwise (the single binary) the querier answers them directly.
pub fn init_frontend(cfg: &Config, runs_querier: bool, rp: &mut ReadPath) -> anyhow::Result<()> {
    if runs_querier && cfg.frontend_worker.address().is_none() {
        tracing::info!("query-frontend idle: the local querier answers queries (no frontend_worker address)");
        return Ok(());
    }
    let queue = if cfg.frontend.scheduler_address.is_empty() {
        let max = cfg.frontend.max_outstanding_per_tenant;
        let q = rp.queue.get_or_insert_with(|| QueueActor::new(max).start());
        tracing::info!(max_outstanding_per_tenant = max, "query-frontend uses its own queue");
        QueueHandle::Local(q.clone())
    } else {
        tracing::info!(scheduler = %cfg.frontend.scheduler_address, "query-frontend uses a query-scheduler");
        QueueHandle::remote(&cfg.frontend.scheduler_address, cfg.frontend.scheduler_dns_lookup_period.0)?
    };
    rp.frontend = Some(Frontend {
        queue,
        max_retries: cfg.query_range.max_retries,
        split_override: cfg.query_range.split_queries_by_interval.map(|d| d.0),
        tail_proxy_url: cfg.frontend.tail_proxy_url.clone(),
        results_cache: cfg
            .query_range
            .cache_results
            .then(|| Arc::new(ResultsCache::from_config(&cfg.query_range.results_cache.cache))),
        align_queries_with_step: cfg.query_range.align_queries_with_step,
        shard_queries: cfg.query_range.parallelise_shardable_queries,
    });
    Ok(())
}

/// Starts the querier's workers when `frontend_worker` names a queue.
pub fn start_workers(cfg: &Config, runs_querier: bool, querier_id: String) -> Option<Addr<WorkerManager>> {
    let addr = cfg.frontend_worker.address().filter(|_| runs_querier)?;
    let w = &cfg.frontend_worker;
    let n = if w.match_max_concurrent { cfg.querier.max_concurrent } else { w.parallelism };
    let host = match cfg.server.http_listen_address.as_str() {
        "" | "0.0.0.0" | "::" => "127.0.0.1",
        h => h,
    };
    let local = format!("http://{host}:{}", cfg.server.http_listen_port);
    tracing::info!(queue = addr, workers = n, "querier pulls queries from a queue");
    let every = w.dns_lookup_duration.0.max(Duration::from_millis(100));
    Some(WorkerManager::new(addr.to_string(), n, local, querier_id, every).start())
}
