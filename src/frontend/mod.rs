//! The query-frontend: it answers the HTTP query API by queueing each request
//! as a job for querier workers, through a query-scheduler
//! (`frontend.scheduler_address`) or its own queue, and splits `query_range`
//! by time (one [`split_actor::SplitQueryActor`] per query) before merging the
//! pieces' answers ([`merge`]).
//!
//! Built by the node's query-frontend module; the HTTP side (`api::frontend`)
//! holds a [`Frontend`] in the app state.

pub mod merge;
pub mod metrics;
pub mod split;
pub mod split_actor;

use std::time::Duration;

use actix::Addr;
use tonic::transport::Channel;

use crate::actors::scheduler::service::run_local;
use crate::actors::scheduler::QueueActor;
use crate::proto::frontend::queue_client::QueueClient;
use crate::proto::frontend::{Job, JobResult};

#[derive(Debug, thiserror::Error)]
pub enum FrontendError {
    #[error("query queue: {0}")]
    Queue(String),
    #[error("bad scheduler address {0:?}: {1}")]
    Address(String, String),
}

/// Where jobs go: this process's queue or a remote query-scheduler.
#[derive(Clone)]
pub enum QueueHandle {
    Local(Addr<QueueActor>),
    Remote(QueueClient<Channel>),
}

impl QueueHandle {
    /// A lazily connected client of the query-scheduler at `addr` (`host:port`).
    pub fn remote(addr: &str) -> Result<QueueHandle, FrontendError> {
        let ep = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| FrontendError::Address(addr.into(), e.to_string()))?
            .connect_timeout(Duration::from_secs(5));
        let client = QueueClient::new(ep.connect_lazy())
            .max_decoding_message_size(crate::actors::scheduler::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(crate::actors::scheduler::MAX_MESSAGE_BYTES);
        Ok(QueueHandle::Remote(client))
    }

    /// Runs `job` on some querier; its HTTP answer (a full queue answers 429).
    pub async fn run(&self, job: Job) -> Result<JobResult, FrontendError> {
        let r = match self {
            QueueHandle::Local(q) => run_local(q, job).await,
            QueueHandle::Remote(c) => c.clone().enqueue(job).await.map(tonic::Response::into_inner),
        };
        r.map_err(|s| FrontendError::Queue(s.message().to_string()))
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
