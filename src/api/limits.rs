//! Query limits that wrap whole requests: `query_timeout` (504 with Loki's text)
//! and `max_query_lookback` (start clamped; a range entirely older is a 400).
//!
//! Used by the query, volume and detected-fields handlers with the calling tenant's limits.

use std::future::Future;
use std::sync::Arc;

use super::error::ApiError;
use crate::config::{Limits, Overrides};
use crate::model::time::{go_duration, now_ns};

/// The query limits of a read over `tenants`: with several, the smallest positive
/// value of each query limit, as Loki combines them.
pub fn for_tenants(overrides: &Overrides, tenants: &[String]) -> Arc<Limits> {
    let mut all = tenants.iter().map(|t| overrides.get(t));
    let Some(first) = all.next() else { return Arc::new(overrides.defaults().clone()) };
    let rest: Vec<Arc<Limits>> = all.collect();
    if rest.is_empty() {
        return first;
    }
    let mut l = (*first).clone();
    for o in rest {
        l.max_entries_limit_per_query = min_pos(l.max_entries_limit_per_query, o.max_entries_limit_per_query);
        l.max_query_series = min_pos(l.max_query_series, o.max_query_series);
        l.max_query_length = min_pos(l.max_query_length, o.max_query_length);
        l.max_query_lookback = min_pos(l.max_query_lookback, o.max_query_lookback);
        l.query_timeout = min_pos(l.query_timeout, o.query_timeout);
        l.tsdb_max_query_parallelism = min_pos(l.tsdb_max_query_parallelism, o.tsdb_max_query_parallelism);
        l.tsdb_max_bytes_per_shard.0 = min_pos(l.tsdb_max_bytes_per_shard.0, o.tsdb_max_bytes_per_shard.0);
        // results newer than any tenant's freshness limit are not cached (Loki takes the largest)
        l.max_cache_freshness_per_query = l.max_cache_freshness_per_query.max(o.max_cache_freshness_per_query);
    }
    Arc::new(l)
}

/// The smaller of two limits where zero means "no limit".
fn min_pos<T: PartialOrd + Default + Copy>(a: T, b: T) -> T {
    let zero = T::default();
    match (a > zero, b > zero) {
        (true, true) if b < a => b,
        (false, true) => b,
        _ => a,
    }
}

/// Runs `f` under the tenant's `query_timeout` (0: no timeout).
pub async fn with_timeout<T>(
    limits: &Limits,
    tenant: &str,
    f: impl Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    if limits.query_timeout.is_zero() {
        return f.await;
    }
    match tokio::time::timeout(limits.query_timeout.0, f).await {
        Ok(r) => r,
        Err(_) => {
            tracing::info!(tenant, timeout = ?limits.query_timeout.0, "query timed out");
            Err(ApiError::new(
                504,
                "request timed out, decrease the duration of the request or add more label matchers (prefer exact match over regex match) to reduce the amount of data processed",
            ))
        }
    }
}

/// The start of `[start, end]` moved up to now minus `max_query_lookback`; a range
/// wholly before that answers 400.
pub fn clamp_lookback(limits: &Limits, start: i64, end: i64) -> Result<i64, ApiError> {
    if limits.max_query_lookback.is_zero() {
        return Ok(start);
    }
    let lookback = limits.max_query_lookback.as_nanos_i64();
    let oldest = now_ns().saturating_sub(lookback);
    if end < oldest {
        return Err(ApiError::bad_request(format!(
            "this data is no longer available, it is past now - max_query_lookback ({})",
            go_duration(lookback)
        )));
    }
    Ok(start.max(oldest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::units::Dur;

    #[test]
    fn lookback_clamps_or_refuses() {
        let l = Limits { max_query_lookback: Dur::secs(3600), ..Limits::default() };
        let now = now_ns();
        let h = 3_600_000_000_000;
        assert!(clamp_lookback(&l, now - 2 * h, now).unwrap() >= now - h);
        assert_eq!(clamp_lookback(&l, now - h / 2, now).unwrap(), now - h / 2);
        let e = clamp_lookback(&l, now - 3 * h, now - 2 * h).unwrap_err();
        assert_eq!(e.msg, "this data is no longer available, it is past now - max_query_lookback (1h0m0s)");
        assert_eq!(clamp_lookback(&Limits::default(), i64::MIN, i64::MIN).unwrap(), i64::MIN);
    }

    #[test]
    fn several_tenants_share_the_smallest_positive_limit() {
        let defaults = Limits { max_entries_limit_per_query: 100, max_query_series: 0, ..Limits::default() };
        let o = Overrides::new(defaults);
        let both = for_tenants(&o, &["a".to_string(), "b".to_string()]);
        assert_eq!(both.max_entries_limit_per_query, 100);
        assert_eq!(both.max_query_series, 0, "zero (no limit) everywhere stays zero");
        assert_eq!(for_tenants(&o, &["a".to_string()]).max_entries_limit_per_query, 100);
        assert_eq!(min_pos(0usize, 5), 5);
        assert_eq!(min_pos(7usize, 5), 5);
        assert_eq!(min_pos(3usize, 0), 3);
    }
}
