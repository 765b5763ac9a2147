//! The ingester's per-tenant write limits, applied by the `TenantActor` before
//! entries reach the shards: the active stream limit (`max_streams_per_user`,
//! `max_global_streams_per_user`) and the per-stream rate limit
//! (`per_stream_rate_limit` / `_burst`), with Loki's texts, 429 status and
//! `loki_discarded_samples_total` reasons (`stream_limit`, `per_stream_rate_limit`).

use std::time::Instant;

use super::stream::go_time;
use super::PushOutcome;
use crate::config::Limits;
use crate::metrics::metrics;
use crate::model::time::base2_bytes;
use crate::model::{Labels, StreamPush};

/// At most this many rejected entries are listed in one error text.
const MAX_LISTED: usize = 10;

/// One stream's token bucket of bytes (per-stream rate limit).
#[derive(Debug)]
pub struct StreamRate {
    tokens: f64,
    last: Instant,
}

impl StreamRate {
    pub fn new(limits: &Limits, now: Instant) -> StreamRate {
        StreamRate { tokens: limits.per_stream_rate_limit_burst.0 as f64, last: now }
    }

    fn allow(&mut self, bytes: u64, rate: f64, burst: f64, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.last = now;
        if bytes as f64 <= self.tokens {
            self.tokens -= bytes as f64;
            true
        } else {
            false
        }
    }
}

/// Records a stream refused by the active stream limit; the outcome answers 429.
pub fn reject_new_stream(tenant: &str, sp: &StreamPush, out: &mut PushOutcome) {
    let bytes = sp.entries.iter().map(|e| (e.line.len() + e.metadata_size()) as u64).sum();
    metrics().discard("stream_limit", tenant, sp.entries.len() as u64, bytes);
    tracing::debug!(tenant, stream = %sp.labels, "active stream limit reached");
    out.errors.push(format!(
        "Maximum active stream limit exceeded when trying to create stream {}, reduce the number of active streams (reduce labels or reduce label values), or contact your Loki administrator to see if the limit can be increased, user: '{tenant}'",
        sp.labels
    ));
    out.too_many_requests = true;
}

/// Drops the entries of `sp` over its stream's rate; records them as Loki's ingester does.
pub fn apply_stream_rate(
    tenant: &str,
    labels: &Labels,
    rate: &mut StreamRate,
    limits: &Limits,
    sp: &mut StreamPush,
    now: Instant,
    out: &mut PushOutcome,
) {
    let limit = limits.per_stream_rate_limit.0;
    if limit == 0 {
        return;
    }
    let burst = limits.per_stream_rate_limit_burst.0.max(limit) as f64;
    let total = sp.entries.len();
    let (mut listed, mut dropped, mut dropped_bytes) = (Vec::new(), 0u64, 0u64);
    sp.entries.retain(|e| {
        let bytes = (e.line.len() + e.metadata_size()) as u64;
        if rate.allow(bytes, limit as f64, burst, now) {
            return true;
        }
        dropped += 1;
        dropped_bytes += bytes;
        if listed.len() < MAX_LISTED {
            listed.push(format!(
                "entry with timestamp {} ignored, reason: 'Per stream rate limit exceeded (limit: {}/sec) while attempting to ingest for stream '{labels}' totaling {}, consider splitting a stream via additional labels or contact your Loki administrator to see if the limit can be increased',",
                go_time(e.ts),
                base2_bytes(limit),
                base2_bytes(bytes)
            ));
        }
        false
    });
    if dropped == 0 {
        return;
    }
    metrics().discard("per_stream_rate_limit", tenant, dropped, dropped_bytes);
    tracing::debug!(tenant, stream = %labels, dropped, "per-stream rate limit");
    out.errors.push(format!(
        "{}\nuser '{tenant}', total ignored: {dropped} out of {total} for stream: {labels}",
        listed.join("\n")
    ));
    out.too_many_requests = true;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::units::ByteSize;
    use crate::model::Entry;

    #[test]
    fn stream_rate_drops_entries_over_the_burst() {
        let limits = Limits {
            per_stream_rate_limit: ByteSize(1000),
            per_stream_rate_limit_burst: ByteSize(1500),
            ..Limits::default()
        };
        let labels = Labels::parse(r#"{app="a"}"#).unwrap();
        let now = Instant::now();
        let mut rate = StreamRate::new(&limits, now);
        let mut sp = StreamPush::new(labels.clone(), (0..3).map(|i| Entry::new(i, "x".repeat(600))).collect());
        let mut out = PushOutcome::default();
        apply_stream_rate("t", &labels, &mut rate, &limits, &mut sp, now, &mut out);
        assert_eq!(sp.entries.len(), 2, "1500 bytes of burst hold two 600-byte lines");
        assert!(out.too_many_requests);
        let err = &out.errors[0];
        assert!(err.starts_with("entry with timestamp 1970-01-01 00:00:00.000000002 +0000 UTC ignored, reason: 'Per stream rate limit exceeded (limit: 1000B/sec) while attempting to ingest for stream '{app=\"a\"}' totaling 600B,"), "{err}");
        assert!(err.ends_with("user 't', total ignored: 1 out of 3 for stream: {app=\"a\"}"), "{err}");
        let mut later = StreamPush::new(labels.clone(), vec![Entry::new(5, "x".repeat(600))]);
        apply_stream_rate(
            "t",
            &labels,
            &mut rate,
            &limits,
            &mut later,
            now + std::time::Duration::from_secs(1),
            &mut out,
        );
        assert_eq!(later.entries.len(), 1, "one second refills the rate");
    }
}
