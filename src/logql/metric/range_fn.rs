//! Range aggregation functions over the samples of one window `(t - range, t]`:
//! counts, sums, rates (plain and counter-style with Prometheus extrapolation),
//! order statistics and moments. Called by `eval` for every step and series.

use super::ast::RangeOp;
use super::Sample;

/// The value of `op` over `points` (sorted by time, all inside the window that
/// ends at `end` and spans `range_ns`); `None` for an empty window (no output).
pub fn apply(op: RangeOp, param: Option<f64>, points: &[Sample], range_ns: i64, end: i64) -> Option<f64> {
    if points.is_empty() {
        return None;
    }
    let secs = range_ns as f64 / 1e9;
    let values = || points.iter().map(|p| p.value);
    let sum = || values().sum::<f64>();
    Some(match op {
        RangeOp::Count => points.len() as f64,
        RangeOp::Bytes | RangeOp::Sum => sum(),
        RangeOp::Rate | RangeOp::BytesRate => sum() / secs,
        RangeOp::Avg => sum() / points.len() as f64,
        RangeOp::Min => values().fold(f64::NAN, |a, v| if a.is_nan() || v < a { v } else { a }),
        RangeOp::Max => values().fold(f64::NAN, |a, v| if a.is_nan() || v > a { v } else { a }),
        RangeOp::Stdvar => variance(points),
        RangeOp::Stddev => variance(points).sqrt(),
        RangeOp::Quantile => quantile(param.unwrap_or(f64::NAN), values().collect()),
        RangeOp::First => points[0].value,
        RangeOp::Last => points[points.len() - 1].value,
        RangeOp::RateCounter => return counter_rate(points, end.saturating_sub(range_ns), end, secs),
        RangeOp::Absent => 1.0,
    })
}

/// Population variance.
pub fn variance(points: &[Sample]) -> f64 {
    let n = points.len() as f64;
    let mean = points.iter().map(|p| p.value).sum::<f64>() / n;
    points.iter().map(|p| (p.value - mean) * (p.value - mean)).sum::<f64>() / n
}

/// Prometheus' quantile: linear interpolation between the closest ranks.
pub fn quantile(q: f64, mut v: Vec<f64>) -> f64 {
    if v.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0) as usize;
    let upper = (lower + 1).min(v.len() - 1);
    let weight = rank - rank.floor();
    v[lower] * (1.0 - weight) + v[upper] * weight
}

/// Per-second increase of a counter over the window, with counter resets
/// handled and the result extrapolated to the window bounds (Prometheus `rate`).
pub fn counter_rate(points: &[Sample], start: i64, end: i64, range_secs: f64) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let (first, last) = (points[0], points[points.len() - 1]);
    let mut result = last.value - first.value;
    let mut prev = 0.0;
    for p in points {
        if p.value < prev {
            result += prev;
        }
        prev = p.value;
    }
    // widened: a saturated window bound must not overflow
    let secs = |a: i64, b: i64| (a as i128 - b as i128) as f64 / 1e9;
    let mut to_start = secs(first.ts, start);
    let to_end = secs(end, last.ts);
    let sampled = secs(last.ts, first.ts);
    if sampled <= 0.0 {
        return None;
    }
    let avg_gap = sampled / (points.len() - 1) as f64;
    if result > 0.0 && first.value >= 0.0 {
        let to_zero = sampled * (first.value / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    let threshold = avg_gap * 1.1;
    let mut interval = sampled;
    interval += if to_start < threshold { to_start } else { avg_gap / 2.0 };
    interval += if to_end < threshold { to_end } else { avg_gap / 2.0 };
    Some(result * (interval / sampled) / range_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(v: &[(i64, f64)]) -> Vec<Sample> {
        v.iter().map(|&(ts, value)| Sample { ts: ts * 1_000_000_000, value, key: 0 }).collect()
    }

    #[test]
    fn simple_functions() {
        let p = pts(&[(1, 2.0), (2, 4.0), (3, 9.0)]);
        let r = 10_000_000_000;
        let end = 10_000_000_000;
        assert_eq!(apply(RangeOp::Count, None, &p, r, end), Some(3.0));
        assert_eq!(apply(RangeOp::Rate, None, &p, r, end), Some(1.5));
        assert_eq!(apply(RangeOp::Sum, None, &p, r, end), Some(15.0));
        assert_eq!(apply(RangeOp::Avg, None, &p, r, end), Some(5.0));
        assert_eq!(apply(RangeOp::Min, None, &p, r, end), Some(2.0));
        assert_eq!(apply(RangeOp::Max, None, &p, r, end), Some(9.0));
        assert_eq!(apply(RangeOp::First, None, &p, r, end), Some(2.0));
        assert_eq!(apply(RangeOp::Last, None, &p, r, end), Some(9.0));
        assert_eq!(apply(RangeOp::Quantile, Some(0.5), &p, r, end), Some(4.0));
        assert_eq!(apply(RangeOp::Quantile, Some(0.75), &p, r, end), Some(6.5));
        assert!((apply(RangeOp::Stdvar, None, &p, r, end).unwrap() - 8.666666666666666).abs() < 1e-12);
        assert_eq!(apply(RangeOp::Count, None, &[], r, end), None);
    }

    #[test]
    fn counter_rate_handles_resets() {
        // 1..=10 s, reset at 5 s: an increase of 8 over 9 s sampled, extrapolated to the 10 s window
        let p = pts(&[
            (0, 0.0),
            (1, 1.0),
            (2, 2.0),
            (3, 3.0),
            (4, 4.0),
            (5, 0.0),
            (6, 1.0),
            (7, 2.0),
            (8, 3.0),
            (9, 4.0),
            (10, 5.0),
        ]);
        let v = counter_rate(&p[1..], 0, 10_000_000_000, 10.0).unwrap();
        assert!((v - 8.0 / 9.0).abs() < 1e-9, "{v}");
        assert_eq!(counter_rate(&p[..1], 0, 1, 1.0), None);
    }
}
