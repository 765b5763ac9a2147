//! The query queue's metrics (one queue per process: a query-scheduler's or a
//! query-frontend's own), registered in the process registry on first use.
//! Loki names its equivalents per component; these are Skald's.

use std::sync::OnceLock;

use prometheus::{IntCounter, IntGauge};

use crate::metrics::{own_counter, own_gauge};

pub struct QueueMetrics {
    /// Jobs waiting for a worker.
    pub queued: IntGauge,
    /// Jobs a worker holds.
    pub in_flight: IntGauge,
    /// Querier worker streams connected.
    pub workers: IntGauge,
    /// Jobs queued again after their worker went away.
    pub requeued: IntCounter,
    /// Jobs refused because the tenant's queue was full.
    pub rejected: IntCounter,
}

pub fn queue_metrics() -> &'static QueueMetrics {
    static M: OnceLock<QueueMetrics> = OnceLock::new();
    M.get_or_init(|| QueueMetrics {
        queued: own_gauge("skald_query_queue_length", "Jobs waiting in the query queue."),
        in_flight: own_gauge("skald_query_queue_in_flight", "Jobs a querier worker holds."),
        workers: own_gauge("skald_query_queue_connected_workers", "Querier worker streams connected to the queue."),
        requeued: own_counter("skald_query_queue_requeued_total", "Jobs queued again after their querier went away."),
        rejected: own_counter("skald_query_queue_rejected_total", "Jobs refused: the tenant's queue was full."),
    })
}
