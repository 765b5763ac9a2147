//! Prometheus metrics with Loki's names, so Loki's dashboards and alerts carry over.
//!
//! One process-wide registry; components record through [`metrics()`] and
//! `GET /metrics` renders it.

use std::sync::OnceLock;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

pub struct Metrics {
    pub registry: Registry,
    pub lines_received: IntCounterVec,
    pub bytes_received: IntCounterVec,
    pub discarded_samples: IntCounterVec,
    pub discarded_bytes: IntCounterVec,
    pub memory_streams: IntGaugeVec,
    pub streams_created: IntCounterVec,
    pub memory_chunks: IntGauge,
    pub chunks_created: IntCounter,
    pub chunks_flushed: IntCounter,
    pub corrupt_objects: IntCounterVec,
    pub flush_failures: IntCounter,
    pub request_duration: HistogramVec,
    pub tail_active: IntGauge,
    pub tail_bytes: IntCounter,
    pub tail_dropped: IntCounter,
    pub index_gateway_lookups: IntCounter,
    pub autoforgotten: IntCounter,
}

fn counter_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(c.clone())).expect("unique metric");
    c
}

fn counter(r: &Registry, name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).expect("valid metric");
    r.register(Box::new(c.clone())).expect("unique metric");
    c
}

impl Metrics {
    fn new() -> Metrics {
        let r = Registry::new();
        let memory_streams = IntGaugeVec::new(
            Opts::new("loki_ingester_memory_streams", "The total number of streams in memory per tenant."),
            &["tenant"],
        )
        .expect("valid metric");
        r.register(Box::new(memory_streams.clone())).expect("unique metric");
        let memory_chunks = IntGauge::new("loki_ingester_memory_chunks", "The total number of chunks in memory.")
            .expect("valid metric");
        r.register(Box::new(memory_chunks.clone())).expect("unique metric");
        let chunks_created = IntCounter::new(
            "loki_ingester_chunks_created_total",
            "The total number of chunks created in the ingester.",
        )
        .expect("valid metric");
        r.register(Box::new(chunks_created.clone())).expect("unique metric");
        let chunks_flushed =
            IntCounter::new("loki_ingester_chunks_flushed_total", "Total flushed chunks.").expect("valid metric");
        r.register(Box::new(chunks_flushed.clone())).expect("unique metric");
        let flush_failures = IntCounter::new(
            "loki_ingester_chunks_flush_failures_total",
            "Total number of flush failures (each retry counts).",
        )
        .expect("valid metric");
        r.register(Box::new(flush_failures.clone())).expect("unique metric");
        let request_duration = HistogramVec::new(
            HistogramOpts::new("loki_request_duration_seconds", "Time (in seconds) spent serving HTTP requests.")
                .buckets(vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0]),
            &["method", "route", "status_code", "ws"],
        )
        .expect("valid metric");
        r.register(Box::new(request_duration.clone())).expect("unique metric");
        let build = IntGaugeVec::new(
            Opts::new("loki_build_info", "A metric with a constant '1' value labeled by version and revision."),
            &["version", "revision", "branch", "goversion"],
        )
        .expect("valid metric");
        r.register(Box::new(build.clone())).expect("unique metric");
        build.with_label_values(&[crate::VERSION, "", "", "rust"]).set(1);
        let tail_active = IntGauge::new("loki_querier_tail_active", "Number of active tailers").expect("valid metric");
        r.register(Box::new(tail_active.clone())).expect("unique metric");
        Metrics {
            corrupt_objects: counter_vec(
                &r,
                "skald_storage_corrupt_objects_total",
                "Objects read from the store that failed their checksum or format check (skipped).",
                &["kind"],
            ),
            lines_received: counter_vec(
                &r,
                "loki_distributor_lines_received_total",
                "The total number of lines received per tenant.",
                &["tenant"],
            ),
            bytes_received: counter_vec(
                &r,
                "loki_distributor_bytes_received_total",
                "The total number of uncompressed bytes received per tenant.",
                &["tenant"],
            ),
            discarded_samples: counter_vec(
                &r,
                "loki_discarded_samples_total",
                "The total number of samples that were discarded.",
                &["reason", "tenant"],
            ),
            discarded_bytes: counter_vec(
                &r,
                "loki_discarded_bytes_total",
                "The total number of bytes that were discarded.",
                &["reason", "tenant"],
            ),
            streams_created: counter_vec(
                &r,
                "loki_ingester_streams_created_total",
                "The total number of streams created per tenant.",
                &["tenant"],
            ),
            tail_bytes: counter(&r, "loki_querier_tail_bytes_total", "Number of bytes tailed"),
            tail_dropped: counter(
                &r,
                "skald_tail_dropped_entries_total",
                "Entries live tails missed because their client read too slowly (reported as dropped_entries).",
            ),
            index_gateway_lookups: counter(
                &r,
                "skald_index_gateway_lookups_total",
                "Index lookups (chunk references of a selector) this index gateway answered.",
            ),
            autoforgotten: counter(
                &r,
                "loki_ingester_autoforget_unhealthy_ingesters_total",
                "Total number of ingesters automatically forgotten",
            ),
            registry: r,
            tail_active,
            memory_streams,
            memory_chunks,
            chunks_created,
            chunks_flushed,
            flush_failures,
            request_duration,
        }
    }

    pub fn discard(&self, reason: &str, tenant: &str, samples: u64, bytes: u64) {
        self.discarded_samples.with_label_values(&[reason, tenant]).inc_by(samples);
        self.discarded_bytes.with_label_values(&[reason, tenant]).inc_by(bytes);
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

pub fn metrics() -> &'static Metrics {
    static M: OnceLock<Metrics> = OnceLock::new();
    M.get_or_init(Metrics::new)
}

/// A counter in the process registry, for components that keep their own
/// metrics (registered on first use; a second registration keeps the first).
pub fn own_counter(name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).expect("valid metric");
    let _ = metrics().registry.register(Box::new(c.clone()));
    c
}

/// A gauge in the process registry (see [`own_counter`]).
pub fn own_gauge(name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).expect("valid metric");
    let _ = metrics().registry.register(Box::new(g.clone()));
    g
}
