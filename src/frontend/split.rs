//! Time splitting of range queries (pure functions, no I/O).
//!
//! Log queries cover `[start, end)`: pieces end and start on multiples of the
//! split interval, so together they cover the range exactly once. Metric
//! queries are evaluated at steps `start + k*step` (up to `end` inclusive):
//! each piece gets the steps between two interval boundaries, starting on the
//! query's own step grid, so no step is computed twice and none is lost.
//!
//! Used by the query-frontend's HTTP side to plan a `SplitQueryActor`.

/// Pieces of a log query's `[start, end)`, oldest first (or newest first when
/// `backward`, the order a limited query wants them answered in).
pub fn log_pieces(start: i64, end: i64, interval: i64, backward: bool) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    if interval <= 0 || end <= start {
        return vec![(start, end)];
    }
    let mut from = start;
    while from < end {
        let boundary = (from.div_euclid(interval) + 1).saturating_mul(interval);
        let to = boundary.min(end);
        out.push((from, to));
        from = to;
    }
    if backward {
        out.reverse();
    }
    out
}

/// Pieces of a metric query's steps, oldest first: `(first step, last step)` of
/// each, both on the grid `start + k*step`, `end` inclusive.
pub fn metric_pieces(start: i64, end: i64, step: i64, interval: i64) -> Vec<(i64, i64)> {
    if interval <= 0 || step <= 0 || end <= start {
        return vec![(start, end)];
    }
    let last = start + (end - start) / step * step;
    let mut out = Vec::new();
    let mut first = start;
    while first <= last {
        let boundary = (first.div_euclid(interval) + 1).saturating_mul(interval);
        // the last step before the next boundary (at least `first` itself)
        let k = (boundary - 1 - first).div_euclid(step);
        let piece_last = (first + k * step).min(last);
        out.push((first, piece_last));
        first = piece_last + step;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000_000_000;
    const S: i64 = 1_000_000_000;

    #[test]
    fn log_pieces_cover_the_range_once_on_interval_boundaries() {
        let p = log_pieces(H / 2, 3 * H + 10, H, false);
        assert_eq!(p, vec![(H / 2, H), (H, 2 * H), (2 * H, 3 * H), (3 * H, 3 * H + 10)]);
        let b = log_pieces(H / 2, 3 * H + 10, H, true);
        assert_eq!(b.first(), Some(&(3 * H, 3 * H + 10)));
        assert_eq!(log_pieces(0, 10, 0, false), vec![(0, 10)]);
        assert_eq!(log_pieces(5, 9, H, false), vec![(5, 9)]);
    }

    #[test]
    fn metric_pieces_keep_every_step_exactly_once() {
        for (start, end, step, interval) in
            [(7 * S, 3 * H + 11 * S, 60 * S, H), (0, 2 * H, 3600 * S, H), (13, 5 * H, 7 * S, H / 2), (0, H, 7 * H, H)]
        {
            let want: Vec<i64> = (0..).map(|k| start + k * step).take_while(|t| *t <= end).collect();
            let got: Vec<i64> = metric_pieces(start, end, step, interval)
                .into_iter()
                .flat_map(|(a, b)| {
                    assert_eq!((a - start) % step, 0, "piece starts on the step grid");
                    (0..).map(move |k| a + k * step).take_while(move |t| *t <= b)
                })
                .collect();
            assert_eq!(got, want, "start {start} end {end} step {step} interval {interval}");
        }
        let p = metric_pieces(0, 2 * H, 60 * S, H);
        assert_eq!(p, vec![(0, H - 60 * S), (H, 2 * H - 60 * S), (2 * H, 2 * H)]);
    }
}
