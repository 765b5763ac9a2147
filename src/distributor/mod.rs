//! The distributor: decodes push bodies (`decode`), validates them against the
//! tenant's limits (`validate`) and hands the valid streams to the ingester.
//!
//! Called by the HTTP push handlers and the gRPC Pusher service. It reaches the
//! ingester through a `Recipient<Push>` (single process) or the `RingRouter`
//! (gossip on: replication sets of local or remote ingesters).

pub mod decode;
pub mod labels;
pub mod levels;
pub mod memory;
pub mod ratelimit;
pub mod router;
pub mod validate;

use std::sync::Arc;

use actix::Recipient;

use crate::actors::ingester::{IngesterError, Push};
use crate::config::Limits;
use crate::config::{DistributorConfig, Overrides};
use crate::metrics::metrics;
use crate::model::StreamPush;
pub use decode::{decode_push, PushBody, RawStream};
pub use labels::LabelCache;
pub use validate::GroupedErrors;

/// A push failure with the HTTP status Loki would answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    NoStreams(String),
    #[error("{0}")]
    RateLimited(String),
    #[error("{0}")]
    Unavailable(String),
    /// The ingester could not make the push durable (WAL write failed).
    #[error("{0}")]
    Internal(String),
}

impl PushError {
    pub fn status(&self) -> u16 {
        match self {
            PushError::BadRequest(_) => 400,
            PushError::TooLarge(_) => 413,
            PushError::NoStreams(_) => 422,
            PushError::RateLimited(_) => 429,
            PushError::Unavailable(_) => 503,
            PushError::Internal(_) => 500,
        }
    }
}

#[derive(Clone)]
pub struct Distributor {
    /// This process's ingester, when pushes are not routed over the ring.
    ingester: Option<Recipient<Push>>,
    limits: Arc<Overrides>,
    cfg: DistributorConfig,
    labels: Arc<LabelCache>,
    rate: Arc<ratelimit::RateLimiter>,
    memory: Arc<memory::MemoryBudget>,
    /// Ring routing to every ingester (gossip on); `None`: the local ingester only.
    router: Option<router::SharedRouter>,
}

impl Distributor {
    /// `limits`: per-tenant limits (service_name discovery uses the defaults' list).
    pub fn new(ingester: Option<Recipient<Push>>, limits: Arc<Overrides>, cfg: DistributorConfig) -> Self {
        let labels = Arc::new(LabelCache::new(limits.defaults().discover_service_name.clone()));
        let rate = Arc::new(ratelimit::RateLimiter::new());
        let memory = Arc::new(memory::MemoryBudget::new(0));
        Distributor { ingester, limits, cfg, labels, rate, memory, router: None }
    }

    /// Sends streams to their replication sets on the ingester ring.
    pub fn with_router(mut self, router: router::SharedRouter) -> Self {
        self.router = Some(router);
        self
    }

    /// Refuses pushes (429) past the ingester's memory budget.
    pub fn with_memory_budget(mut self, budget: Arc<memory::MemoryBudget>) -> Self {
        self.memory = budget;
        self
    }

    /// Resolves push label strings (parse, service_name discovery, cache).
    pub fn label_cache(&self) -> &LabelCache {
        &self.labels
    }

    pub fn config(&self) -> &DistributorConfig {
        &self.cfg
    }

    /// Rejects the whole request (429) when its valid bytes exceed the tenant's rate;
    /// returns those bytes.
    fn check_rate(&self, tenant: &str, limits: &Limits, valid: &[StreamPush]) -> Result<u64, PushError> {
        let (lines, bytes) = valid
            .iter()
            .flat_map(|s| &s.entries)
            .fold((0u64, 0u64), |(l, b), e| (l + 1, b + (e.line.len() + e.metadata_size()) as u64));
        // `global` divides the rate (not the burst) by the healthy distributors of the cluster
        let mut rate = ratelimit::Rate::from_mb(limits.ingestion_rate_mb, limits.ingestion_burst_size_mb);
        if limits.ingestion_rate_strategy == "global" {
            let n = self.router.as_ref().map(|r| r.healthy_distributors()).unwrap_or(1).max(1);
            rate.per_sec /= n as f64;
        }
        if lines == 0 || self.rate.allow(tenant, bytes, rate, std::time::Instant::now()) {
            return Ok(bytes);
        }
        metrics().discard("rate_limited", tenant, lines, bytes);
        tracing::debug!(tenant, lines, bytes, "push over the ingestion rate");
        Err(PushError::RateLimited(format!(
            "Ingestion rate limit exceeded for user {tenant} (limit: {} bytes/sec) while attempting to ingest '{lines}' lines totaling '{bytes}' bytes, reduce log volume or contact your Loki administrator to see if the limit can be increased",
            rate.per_sec as u64
        )))
    }

    /// Validates and writes decoded streams. Valid streams are written even when
    /// others are rejected; the rejections then come back as one 400.
    pub async fn push(&self, tenant: &str, streams: Vec<RawStream>) -> Result<(), PushError> {
        if streams.is_empty() {
            return Err(PushError::NoStreams("error at least one valid stream is required for ingestion".into()));
        }
        let (lines, bytes) = streams.iter().fold((0u64, 0u64), |(l, b), s| {
            (
                l + s.entries.len() as u64,
                b + s.entries.iter().map(|e| (e.line.len() + e.metadata_size()) as u64).sum::<u64>(),
            )
        });
        metrics().lines_received.with_label_values(&[tenant]).inc_by(lines);
        metrics().bytes_received.with_label_values(&[tenant]).inc_by(bytes);

        let limits = self.limits.get(tenant);
        let mut errors = GroupedErrors::default();
        let valid = validate::validate(tenant, streams, &limits, crate::model::time::now_ns(), &mut errors);
        let bytes = self.check_rate(tenant, &limits, &valid)?;
        if !valid.is_empty() {
            self.memory.admit(tenant, bytes)?;
            let outcome = match &self.router {
                Some(r) => r.push(tenant, valid).await?,
                None => self
                    .ingester
                    .as_ref()
                    .ok_or_else(|| PushError::Unavailable("no ingester to send to".into()))?
                    .send(Push { tenant: tenant.to_string(), streams: valid })
                    .await
                    .map_err(|e| PushError::Unavailable(e.to_string()))?
                    .map_err(|e| match e {
                        IngesterError::Wal(_) => PushError::Internal(e.to_string()),
                        e => PushError::Unavailable(e.to_string()),
                    })?,
            };
            if let Some(last) = outcome.errors.last() {
                // Loki returns the ingester's text for the rejected stream as is (429 for limits).
                return Err(if outcome.too_many_requests {
                    PushError::RateLimited(last.clone())
                } else {
                    PushError::BadRequest(last.clone())
                });
            }
        }
        match errors.render() {
            Some(msg) => Err(PushError::BadRequest(msg)),
            None => Ok(()),
        }
    }
}
