//! Query sharding (pure functions, no I/O): which metric queries the
//! query-frontend may run as `n` sub-queries over disjoint sets of streams, the
//! sub-queries' text, how their answers combine, and how many shards a query's
//! size asks for.
//!
//! A shard's sub-query is the query with `__stream_shard__="i_of_n"` added to its
//! selector (`logql::matcher::SHARD_LABEL`): queriers, ingesters and the index
//! keep only the streams of that shard. Used by the frontend's HTTP side
//! (`api::frontend`, `api::frontend_shard`) when it plans a `query_range` or an
//! instant `query`; the answers are combined by `merge` (values of one series at
//! one step).

use crate::logql::matcher::{MatchOp, Matcher, SHARD_LABEL};
use crate::logql::metric::ast::VecOp;
use crate::logql::metric::{RangeAgg, RangeOp, SampleExpr};
use crate::logql::Stage;

/// How the shards' values of one series at one step become the answer's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Combine {
    Sum,
    Max,
    Min,
}

impl Combine {
    pub fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            Combine::Sum => a + b,
            Combine::Max => a.max(b),
            Combine::Min => a.min(b),
        }
    }
}

/// How a query splits into stream shards: `None` when it may not.
///
/// Shardable: `sum`, `count`, `max` or `min` (any grouping) directly over one
/// range aggregation without its own grouping. When the pipeline can merge
/// streams into one series (`drop`, `keep`, `label_format`, and `unwrap`, which
/// removes the unwrapped label), a series may draw on streams of several shards;
/// then only what the shards' partial answers still give exactly is sharded:
/// `sum` over an additive range function (`count_over_time`, `rate`,
/// `bytes_over_time`, `bytes_rate`, `sum_over_time`), `max` over
/// `max_over_time` and `min` over `min_over_time`.
pub fn plan(expr: &SampleExpr) -> Option<Combine> {
    let SampleExpr::Vector { op, param: None, .. } = expr else { return None };
    let r = range_agg(expr)?;
    if r.grouping.is_some() || r.op == RangeOp::Absent || r.range.log.matchers.iter().any(|m| m.name == SHARD_LABEL) {
        return None;
    }
    let merges_streams = r.range.unwrap.is_some()
        || r.range.log.stages.iter().any(|s| matches!(s, Stage::Drop(_) | Stage::Keep(_) | Stage::LabelFormat(_)));
    let additive = matches!(r.op, RangeOp::Count | RangeOp::Rate | RangeOp::Bytes | RangeOp::BytesRate | RangeOp::Sum);
    let combine = match op {
        VecOp::Sum => Combine::Sum,
        VecOp::Count => Combine::Sum,
        VecOp::Max => Combine::Max,
        VecOp::Min => Combine::Min,
        _ => return None,
    };
    match (merges_streams, op, r.op) {
        (false, _, _) => Some(combine),
        (true, VecOp::Sum, _) if additive => Some(combine),
        (true, VecOp::Max, RangeOp::Max) | (true, VecOp::Min, RangeOp::Min) => Some(combine),
        _ => None,
    }
}

/// The range aggregation directly under the query's outer vector aggregation.
fn range_agg(expr: &SampleExpr) -> Option<&RangeAgg> {
    match expr {
        SampleExpr::Vector { inner, .. } => match inner.as_ref() {
            SampleExpr::Range(r) => Some(r),
            _ => None,
        },
        _ => None,
    }
}

/// The sub-query text of shard `i` of `n` of a query `plan` accepted.
pub fn shard_query(expr: &SampleExpr, i: u64, n: u64) -> String {
    let mut e = expr.clone();
    if let SampleExpr::Vector { inner, .. } = &mut e {
        if let SampleExpr::Range(RangeAgg { range, .. }) = inner.as_mut() {
            if let Ok(m) = Matcher::new(SHARD_LABEL, MatchOp::Eq, format!("{i}_of_{n}")) {
                range.log.matchers.push(m);
            }
        }
    }
    e.to_string()
}

/// The texts of all `n` shards, in shard order; `None` when one of them would
/// pass the query length limit (the query then runs unsharded).
pub fn shard_queries(expr: &SampleExpr, n: u64) -> Option<Vec<String>> {
    let texts: Vec<String> = (0..n).map(|i| shard_query(expr, i, n)).collect();
    texts.iter().all(|t| t.len() <= crate::logql::parser::MAX_QUERY_LEN).then_some(texts)
}

/// The selector and pipeline the query reads (what `/index/stats` is asked about).
pub fn selector(expr: &SampleExpr) -> Option<String> {
    range_agg(expr).map(|r| crate::rpc::wire::selector_text(&r.range.log.matchers))
}

/// The time the query's data spans: its steps' range widened by the range
/// aggregation's window and offset.
pub fn data_span(expr: &SampleExpr, start: i64, end: i64) -> (i64, i64) {
    let (range, offset) = range_agg(expr).map_or((0, 0), |r| (r.range.range_ns, r.range.offset_ns));
    (start.saturating_sub(range).saturating_sub(offset), end.saturating_sub(offset))
}

/// Shards for `bytes` of data: a power of two giving each shard at most
/// `per_shard` bytes (Loki's `tsdb_max_bytes_per_shard`), at most `max` (its
/// `tsdb_max_query_parallelism`); 1 means the query runs whole.
pub fn shard_count(bytes: u64, per_shard: u64, max: usize) -> u64 {
    if per_shard == 0 || max <= 1 {
        return 1;
    }
    let wanted = bytes.div_ceil(per_shard).max(1).checked_next_power_of_two().unwrap_or(u64::MAX);
    let cap = 1u64 << (usize::BITS - 1 - max.leading_zeros()); // the largest power of two <= max
    wanted.min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logql::{parse, Expr};

    fn sample(q: &str) -> SampleExpr {
        match parse(q).unwrap() {
            Expr::Sample(s) => s,
            Expr::Log(_) => panic!("{q} is a log query"),
        }
    }

    #[test]
    fn which_queries_shard() {
        for (q, want) in [
            (r#"sum by (level) (count_over_time({app="a"} | logfmt [1m]))"#, Some(Combine::Sum)),
            (r#"count(rate({app="a"}[5m]))"#, Some(Combine::Sum)),
            (r#"max without (pod) (max_over_time({app="a"} | unwrap d [1m]))"#, Some(Combine::Max)),
            (r#"min(min_over_time({app="a"} | drop pod | unwrap d [1m]))"#, Some(Combine::Min)),
            (r#"sum(rate({app="a"} | unwrap d [1m]))"#, Some(Combine::Sum)),
            (r#"count(max_over_time({app="a"} | unwrap d [1m]))"#, None),
            (r#"max(avg_over_time({app="a"} | unwrap d [1m]))"#, None),
            (r#"min(bytes_rate({app="a"}[1m]))"#, Some(Combine::Min)),
            (r#"sum(count_over_time({app="a"} | drop pod [1m]))"#, Some(Combine::Sum)),
            (r#"sum(max_over_time({app="a"} | drop pod | unwrap d [1m]))"#, None),
            (r#"max(count_over_time({app="a"} | label_format x=pod [1m]))"#, None),
            (r#"count_over_time({app="a"}[1m])"#, None),
            (r#"avg(count_over_time({app="a"}[1m]))"#, None),
            (r#"topk(2, count_over_time({app="a"}[1m]))"#, None),
            (r#"sum(absent_over_time({app="a"}[1m]))"#, None),
            (r#"sum(max_over_time({app="a"} | unwrap d [1m]) by (pod))"#, None),
            (r#"sum(count_over_time({app="a"}[1m])) / 2"#, None),
            (r#"sum(count_over_time({app="a", __stream_shard__="0_of_2"}[1m]))"#, None),
        ] {
            assert_eq!(plan(&sample(q)), want, "{q}");
        }
    }

    #[test]
    fn a_shard_query_keeps_the_query_and_adds_the_shard() {
        let e = sample(r#"sum by (level) (count_over_time({app="a"} |= "x" | logfmt [5m] offset 1m))"#);
        let q = shard_query(&e, 3, 8);
        assert!(q.contains(r#"__stream_shard__="3_of_8""#), "{q}");
        let back = sample(&q);
        assert_eq!(plan(&back), None, "a shard is not sharded again");
        let SampleExpr::Vector { inner, .. } = &back else { panic!() };
        let SampleExpr::Range(r) = inner.as_ref() else { panic!() };
        assert_eq!(r.range.log.matchers.iter().find_map(Matcher::shard), Some((3, 8)));
        assert_eq!(selector(&e).as_deref(), Some(r#"{app="a"}"#));
        let all = shard_queries(&e, 4).unwrap();
        assert_eq!(all.len(), 4);
        assert!(all[2].contains(r#"__stream_shard__="2_of_4""#), "{}", all[2]);
        assert_eq!(
            data_span(&e, 1000 * 60_000_000_000, 1010 * 60_000_000_000),
            (994 * 60_000_000_000, 1009 * 60_000_000_000)
        );
    }

    #[test]
    fn shard_counts_are_powers_of_two_within_bounds() {
        const MB: u64 = 1 << 20;
        assert_eq!(shard_count(0, 600 * MB, 128), 1);
        assert_eq!(shard_count(600 * MB, 600 * MB, 128), 1);
        assert_eq!(shard_count(601 * MB, 600 * MB, 128), 2);
        assert_eq!(shard_count(2700 * MB, 600 * MB, 128), 8);
        assert_eq!(shard_count(u64::MAX, 1, 128), 128);
        assert_eq!(shard_count(u64::MAX, 1, 100), 64);
        assert_eq!(shard_count(10 * MB, 0, 128), 1);
        assert_eq!(shard_count(10 * MB, MB, 1), 1);
    }
}
