//! Per-tenant ingestion rate limiting (`ingestion_rate_mb`, `ingestion_burst_size_mb`):
//! a token bucket of bytes per tenant, as Loki's distributor keeps.
//!
//! With the `global` strategy Loki divides the limit by the number of healthy
//! distributors; until the distributor ring exists every process counts as one.

use std::sync::Mutex;
use std::time::Instant;

use dashmap::DashMap;

const BYTES_PER_MB: f64 = 1_048_576.0;

struct Bucket {
    tokens: f64,
    last: Instant,
}

pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: DashMap<String, Mutex<Bucket>, foldhash::fast::RandomState>,
}

impl RateLimiter {
    /// `rate_mb` per second with a bucket of `burst_mb`, both in MiB as Loki counts them.
    pub fn new(rate_mb: f64, burst_mb: f64) -> RateLimiter {
        RateLimiter {
            rate: rate_mb * BYTES_PER_MB,
            burst: burst_mb * BYTES_PER_MB,
            buckets: DashMap::with_hasher(foldhash::fast::RandomState::default()),
        }
    }

    /// Bytes per second allowed (what Loki's message reports).
    pub fn limit(&self) -> u64 {
        self.rate as u64
    }

    /// Takes `bytes` tokens if the tenant has them; a request larger than the burst never fits.
    pub fn allow(&self, tenant: &str, bytes: u64, now: Instant) -> bool {
        if self.rate <= 0.0 {
            return true;
        }
        let bytes = bytes as f64;
        if !self.buckets.contains_key(tenant) {
            self.buckets.insert(tenant.to_string(), Mutex::new(Bucket { tokens: self.burst, last: now }));
        }
        let Some(entry) = self.buckets.get(tenant) else { return true };
        let mut b = entry.lock().unwrap_or_else(|e| e.into_inner());
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rate).min(self.burst);
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
        let l = RateLimiter::new(1.0, 2.0);
        let t0 = Instant::now();
        assert!(l.allow("a", 2 * 1_048_576, t0), "a full burst fits");
        assert!(!l.allow("a", 1, t0), "then nothing");
        assert!(l.allow("b", 1_048_576, t0), "tenants are separate");
        assert!(l.allow("a", 1_048_576, t0 + Duration::from_secs(1)), "one second refills one MB");
        assert!(!l.allow("a", 3 * 1_048_576, t0 + Duration::from_secs(100)), "more than the burst never fits");
        assert!(RateLimiter::new(0.0, 0.0).allow("x", u64::MAX, t0), "rate 0 disables the limit");
    }
}
