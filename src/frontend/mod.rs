//! The query-frontend: it answers the HTTP query API by queueing each request
//! as a job for querier workers, through a query-scheduler
//! (`frontend.scheduler_address`) or its own queue, splits `query_range` by
//! time (one [`split_actor::SplitQueryActor`] per query) and shardable metric
//! queries by stream ([`shard`]) before merging the pieces' answers ([`merge`]).
//!
//! Built by the node's query-frontend module; the HTTP side (`api::frontend`)
//! holds a [`Frontend`] in the app state.

pub mod merge;
pub mod metrics;
pub mod results_cache;
pub mod schedulers;
pub mod shard;
pub mod split;
pub mod split_actor;

use std::sync::Arc;
use std::time::Duration;

use actix::Addr;

use crate::actors::scheduler::service::run_local;
use crate::actors::scheduler::QueueActor;
use crate::proto::frontend::{Job, JobResult};
use schedulers::Schedulers;

#[derive(Debug, thiserror::Error)]
pub enum FrontendError {
    #[error("query queue: {0}")]
    Queue(String),
    #[error("bad scheduler address {0:?}: {1}")]
    Address(String, String),
}

/// Where jobs go: this process's queue or remote query-schedulers.
#[derive(Clone)]
pub enum QueueHandle {
    Local(Addr<QueueActor>),
    Remote(Arc<Schedulers>),
}

impl QueueHandle {
    /// Clients of the query-schedulers `addr` (`host:port`) resolves to.
    pub fn remote(addr: &str, lookup_every: Duration) -> Result<QueueHandle, FrontendError> {
        Schedulers::start(addr, lookup_every).map(QueueHandle::Remote)
    }

    /// Runs `job` on some querier; its HTTP answer (a full queue answers 429).
    pub async fn run(&self, job: Job) -> Result<JobResult, FrontendError> {
        let r = match self {
            QueueHandle::Local(q) => run_local(q, job).await,
            QueueHandle::Remote(s) => match s.pick() {
                Some(mut c) => c.enqueue(job).await.map(tonic::Response::into_inner),
                None => Err(tonic::Status::unavailable("no query-scheduler")),
            },
        };
        r.map_err(|s| FrontendError::Queue(s.message().to_string()))
    }

    /// Runs `job`, again while it fails with a 5xx or a transport error, up to
    /// `max_retries` attempts in all (Loki counts the first); the first 2xx or
    /// 4xx answer, or the last failure.
    pub async fn run_with_retries(&self, job: Job, max_retries: usize) -> JobResult {
        let mut last = split_actor::failure(500, "no attempt made");
        for attempt in 0..max_retries.max(1) {
            if attempt > 0 {
                metrics::frontend_metrics().retries.inc();
                tracing::info!(path = %job.path, attempt, status = last.status, "retrying a query");
            }
            match self.run(job.clone()).await {
                Ok(r) if r.status < 500 => return r,
                Ok(r) => last = r,
                Err(e) => last = split_actor::failure(502, &e.to_string()),
            }
        }
        last
    }
}

/// The query-frontend as the HTTP side sees it.
#[derive(Clone)]
pub struct Frontend {
    pub queue: QueueHandle,
    /// `query_range.max_retries`.
    pub max_retries: usize,
    /// `query_range.split_queries_by_interval` when set (wins over the tenant limit).
    pub split_override: Option<Duration>,
    /// `frontend.tail_proxy_url` (empty: tail is not served).
    pub tail_proxy_url: String,
    /// `query_range.cache_results`: metric pieces' answers.
    pub results_cache: Option<Arc<results_cache::ResultsCache>>,
    /// `query_range.align_queries_with_step`: split metric queries start and end on multiples of their step.
    pub align_queries_with_step: bool,
    /// `query_range.parallelise_shardable_queries`: metric queries cut into stream shards.
    pub shard_queries: bool,
}

impl Frontend {
    /// Why the frontend is not ready yet (Loki's text): one with its own queue
    /// waits for a querier to connect. One using a scheduler is ready at once.
    pub fn not_ready(&self) -> Option<&'static str> {
        let workers = crate::actors::scheduler::metrics::queue_metrics().workers.get();
        match self.queue {
            QueueHandle::Local(_) if workers == 0 => {
                Some("not ready: number of queriers connected to query-frontend is 0")
            }
            _ => None,
        }
    }
}
