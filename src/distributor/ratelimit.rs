//! Per-tenant ingestion rate limiting (`ingestion_rate_mb`, `ingestion_burst_size_mb`):
//! a token bucket of bytes per tenant, as Loki's distributor keeps.
//!
//! With the `global` strategy the distributor divides the rate by the number of
//! healthy distributors in the cluster (gossip membership); alone it counts one.
//! The rate and burst come with each call (the tenant's current limits), so a
//! runtime override takes effect on the next push.

use std::sync::Mutex;
use std::time::Instant;

use dashmap::DashMap;

const BYTES_PER_MB: f64 = 1_048_576.0;

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// A tenant's rate in bytes per second and its burst, from `_mb` limits (MiB as Loki counts them).
#[derive(Clone, Copy, Debug)]
pub struct Rate {
    pub per_sec: f64,
    pub burst: f64,
}

impl Rate {
    pub fn from_mb(rate_mb: f64, burst_mb: f64) -> Rate {
        Rate { per_sec: rate_mb * BYTES_PER_MB, burst: burst_mb * BYTES_PER_MB }
    }
}

#[derive(Default)]
pub struct RateLimiter {
    buckets: DashMap<String, Mutex<Bucket>, foldhash::fast::RandomState>,
}

impl RateLimiter {
    pub fn new() -> RateLimiter {
        RateLimiter::default()
    }

    /// Takes `bytes` tokens if the tenant has them; a request larger than the burst never fits.
    pub fn allow(&self, tenant: &str, bytes: u64, rate: Rate, now: Instant) -> bool {
        if rate.per_sec <= 0.0 {
            return true;
        }
        let bytes = bytes as f64;
        if !self.buckets.contains_key(tenant) {
            self.buckets.insert(tenant.to_string(), Mutex::new(Bucket { tokens: rate.burst, last: now }));
        }
        let Some(entry) = self.buckets.get(tenant) else { return true };
        let mut b = entry.lock().unwrap_or_else(|e| e.into_inner());
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate.per_sec).min(rate.burst);
        b.last = now;
        if bytes <= b.tokens {
            b.tokens -= bytes;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_refills_at_the_rate() {
        let (l, r) = (RateLimiter::new(), Rate::from_mb(1.0, 2.0));
        let t0 = Instant::now();
        assert!(l.allow("a", 2 * 1_048_576, r, t0), "a full burst fits");
        assert!(!l.allow("a", 1, r, t0), "then nothing");
        assert!(l.allow("b", 1_048_576, r, t0), "tenants are separate");
        assert!(l.allow("a", 1_048_576, r, t0 + Duration::from_secs(1)), "one second refills one MB");
        assert!(!l.allow("a", 3 * 1_048_576, r, t0 + Duration::from_secs(100)), "more than the burst never fits");
        assert!(l.allow("x", u64::MAX, Rate::from_mb(0.0, 0.0), t0), "rate 0 disables the limit");
    }
}
