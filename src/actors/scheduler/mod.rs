//! The query queue shared by the query-scheduler and a query-frontend without a
//! scheduler: [`queue::QueueActor`] (per-tenant fair queues, workers waiting for
//! jobs) and [`service::QueueService`], its gRPC face (`skald.frontend.Queue`)
//! that frontends enqueue through and querier workers pull from.

pub mod metrics;
pub mod queue;
pub mod service;

/// The largest job or answer on the queue's gRPC streams (Loki's gRPC client default).
pub const MAX_MESSAGE_BYTES: usize = 100 << 20;

pub use queue::{Enqueue, JobDone, NextJob, QueueActor, QueueCounters, QueueError, WorkerGone};
