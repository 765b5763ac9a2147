//! The query-frontend's metrics, registered in the process registry on first
//! use: sub-queries sent and retried, sub-queries in flight, and the most
//! sub-queries one query of a tenant had in flight at once (what
//! `max_query_parallelism` bounds), and the results cache's hits and misses.

use std::sync::OnceLock;

use prometheus::{IntCounter, IntGauge, IntGaugeVec, Opts};

use crate::metrics::{own_counter, own_gauge};

pub struct FrontendMetrics {
    pub subqueries: IntCounter,
    pub retries: IntCounter,
    pub in_flight: IntGauge,
    pub in_flight_max: IntGaugeVec,
    pub cache_hits: IntCounter,
    pub cache_misses: IntCounter,
}

pub fn frontend_metrics() -> &'static FrontendMetrics {
    static M: OnceLock<FrontendMetrics> = OnceLock::new();
    M.get_or_init(|| {
        let in_flight_max = IntGaugeVec::new(
            Opts::new(
                "skald_frontend_query_parallelism_max",
                "The most sub-queries one query of the tenant had in flight at once.",
            ),
            &["tenant"],
        )
        .expect("valid metric");
        let _ = crate::metrics::metrics().registry.register(Box::new(in_flight_max.clone()));
        FrontendMetrics {
            subqueries: own_counter("skald_frontend_subqueries_total", "Sub-queries the query-frontend sent."),
            retries: own_counter("skald_frontend_subquery_retries_total", "Sub-queries sent again after a failure."),
            in_flight: own_gauge("skald_frontend_subqueries_in_flight", "Sub-queries waiting for an answer."),
            in_flight_max,
            cache_hits: own_counter(
                "skald_frontend_results_cache_hits_total",
                "Query pieces answered from the results cache.",
            ),
            cache_misses: own_counter(
                "skald_frontend_results_cache_misses_total",
                "Cacheable query pieces not in the results cache (run, then stored).",
            ),
        }
    })
}
