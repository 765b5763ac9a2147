//! LogQL metric queries: the AST ([`ast`]), its parser (`parse`, part of the
//! query parser), sample extraction ([`extract`], run where the data is) and
//! evaluation ([`eval`]: range functions, vector aggregations, binary
//! operations, step alignment). A library: no actors, no HTTP.
//!
//! The query API parses a query; the querier fetches the samples of every
//! range aggregation with a [`RangeSelect`] (from ingester memory and the store)
//! and hands them to [`eval::evaluate`].

pub mod ast;
pub mod binop;
pub mod eval;
pub mod extract;
pub mod format;
mod parse;
mod parse_range;
pub mod range_fn;
pub mod vector_fn;

use std::collections::BTreeMap;

pub use ast::{RangeAgg, RangeOp, SampleExpr};
pub use extract::Extractor;

use crate::logql::ast::LogExpr;
use crate::logql::error::ParseError;

/// What the ingester needs to turn one range aggregation's entries into samples.
#[derive(Debug)]
pub struct RangeSelect {
    pub log: LogExpr,
    pub extractor: Extractor,
    /// The aggregation it came from: printed, it travels to remote ingesters.
    pub agg: RangeAgg,
}

impl RangeSelect {
    pub fn new(r: &RangeAgg) -> Result<RangeSelect, ParseError> {
        Ok(RangeSelect { log: r.range.log.clone(), extractor: Extractor::new(r)?, agg: r.clone() })
    }

    /// The aggregation as LogQL text ([`RangeSelect::parse`] reads it back).
    pub fn text(&self) -> String {
        SampleExpr::Range(self.agg.clone()).to_string()
    }

    /// Reads one range aggregation printed by [`RangeSelect::text`].
    pub fn parse(text: &str) -> Result<RangeSelect, ParseError> {
        match crate::logql::parse(text)? {
            crate::logql::Expr::Sample(SampleExpr::Range(r)) => RangeSelect::new(&r),
            _ => Err(ParseError::Invalid("expected one range aggregation".into())),
        }
    }
}

/// One extracted sample. `key` identifies the entry it came from (stream, line
/// and metadata hashed) so that memory and store answers can be deduplicated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    pub ts: i64,
    pub value: f64,
    pub key: u64,
}

/// Samples by result label set (sorted label pairs), each list sorted by time.
pub type SeriesMap = BTreeMap<Vec<(String, String)>, Vec<Sample>>;

/// Merges sample sets, removing exact duplicates (same labels, time and entry).
pub fn merge_series(into: &mut SeriesMap, from: SeriesMap) {
    for (labels, samples) in from {
        let slot = into.entry(labels).or_default();
        if slot.is_empty() {
            // a new series: take the list as is (no copy)
            *slot = samples;
            continue;
        }
        let sorted_append = slot.last().is_none_or(|l| samples.first().is_none_or(|f| f.ts > l.ts));
        slot.extend(samples);
        if !sorted_append {
            sort_dedup(slot);
        }
    }
}

/// Sorts samples by time and entry key and drops exact duplicates.
pub fn sort_dedup(s: &mut Vec<Sample>) {
    s.sort_by(|a, b| a.ts.cmp(&b.ts).then(a.key.cmp(&b.key)));
    s.dedup_by(|a, b| a.ts == b.ts && a.key == b.key);
}

#[cfg(test)]
mod tests {
    use super::{merge_series, Sample, SeriesMap};
    use crate::logql::metric::ast::BinOp;
    use crate::logql::metric::SampleExpr;
    use crate::logql::{parse, Expr, ParseError};

    #[test]
    fn merging_removes_exact_duplicates_only() {
        let s = |ts: i64, key: u64| Sample { ts, value: 1.0, key };
        let l = vec![("a".to_string(), "1".to_string())];
        let mut memory = SeriesMap::new();
        memory.insert(l.clone(), vec![s(1, 10), s(2, 20), s(2, 21)]);
        let mut store = SeriesMap::new();
        store.insert(l.clone(), vec![s(1, 10), s(2, 21), s(3, 30)]);
        store.insert(vec![], vec![s(1, 10)]);
        merge_series(&mut memory, store);
        let got: Vec<(i64, u64)> = memory[&l].iter().map(|x| (x.ts, x.key)).collect();
        assert_eq!(got, vec![(1, 10), (2, 20), (2, 21), (3, 30)]);
        assert_eq!(memory.len(), 2, "other label sets are never merged into each other");
    }

    #[test]
    fn printing_round_trips() {
        for q in [
            r#"count_over_time({app="a"}[5m])"#,
            r#"count_over_time({app="a"}[5m] |= "x" | json)"#,
            r#"avg_over_time({app="a"} | logfmt | unwrap duration(took) | __error__="" [1m] offset 5m) by (pod)"#,
            r#"quantile_over_time(0.99, {app="a"} | json | unwrap bytes(size) [10m]) without (x)"#,
            r#"sum by (a, b) (rate({app="a"}[5m])) / ignoring (b) group_left (c) sum(rate({app="a"}[5m]))"#,
            r#"SUM(count_over_time({app="a"}[5m])) > bool 2 or vector(0)"#,
            r#"topk(3, sum(count_over_time({app="a"}[5m])) by (pod)) and on (pod) sort_desc(avg(bytes_rate({app="a"}[1h])))"#,
            r#"label_replace(rate({app="a"}[5m]), "dst", "$1", "src", "(.*)")"#,
            r#"-1.5 + 2 * 3 ^ 2 ^ 2 % 4 - (1 + 2)"#,
            r#"count_over_time(({app="a"} |= "x")[5m]) or vector(0)"#,
            r#"sum(count_over_time({app="a"} |= "x" or "y" | status >= 400 or status < 200 [5m])) by (x) == bool 0"#,
            r#"bytes_over_time({app="a"}[5m] offset 1h30m) unless on () absent_over_time({app="a"}[1m])"#,
            r#"rate_counter({app="a"} | logfmt | unwrap value [5m]) unless stddev_over_time({app="a"} | unwrap duration_seconds(d) [5m]) by (x)"#,
        ] {
            let e = parse(q).unwrap_or_else(|err| panic!("{q}: {err}"));
            assert!(matches!(e, Expr::Sample(_)), "{q}");
            let printed = e.to_string();
            assert_eq!(parse(&printed).unwrap(), e, "{q} printed as {printed}");
        }
    }

    #[test]
    fn precedence() {
        let Expr::Sample(e) = parse("1 + 2 * 3 ^ 2").unwrap() else { panic!("metric") };
        let SampleExpr::Binary { op: BinOp::Add, rhs, .. } = &e else { panic!("+ at the top") };
        assert!(matches!(**rhs, SampleExpr::Binary { op: BinOp::Mul, .. }));
        assert_eq!(e.to_string(), "1 + 2 * 3 ^ 2");
        let Expr::Sample(e) = parse("2 ^ 3 ^ 2").unwrap() else { panic!("metric") };
        assert!(matches!(&e, SampleExpr::Binary { rhs, .. } if matches!(**rhs, SampleExpr::Binary { .. })));
        assert_eq!(e.to_string(), "2 ^ 3 ^ 2");
        assert_eq!(parse("(2 ^ 3) ^ 2").unwrap().to_string(), "(2 ^ 3) ^ 2");
        assert_eq!(parse("(1 - 2) - (3 - 4)").unwrap().to_string(), "1 - 2 - (3 - 4)");
    }

    #[test]
    fn validity_errors_have_loki_texts() {
        let err = |q: &str| parse(q).unwrap_err().to_string();
        assert_eq!(
            err(r#"sum_over_time({app="p"} | json [5m])"#),
            "parse error : invalid aggregation sum_over_time without unwrap"
        );
        assert_eq!(
            err(r#"count_over_time({app="p"} | json | unwrap amount [5m])"#),
            "parse error : invalid aggregation count_over_time with unwrap"
        );
        assert_eq!(
            err(r#"count_over_time({app="p"}[5m]) by (x)"#),
            "parse error : grouping not allowed for count_over_time aggregation"
        );
        assert_eq!(err(r#"sum(rate({app="nginx"}))"#), "parse error at line 1, col 23: syntax error: unexpected )");
        assert_eq!(
            err(r#"count_over_time({app="nginx"}[5x])"#),
            r#"parse error at line 0, col 30: unknown unit "x" in duration "5x""#
        );
        assert_eq!(
            err(r#"foo_over_time({app="nginx"}[5m])"#),
            "parse error at line 1, col 1: syntax error: unexpected IDENTIFIER"
        );
        assert!(matches!(
            parse(r#"foo_over_time({app="nginx"}[5m])"#),
            Err(ParseError::Syntax { line: 1, col: 1, .. })
        ));
        assert!(parse(r#"{app="a"} | unwrap x"#).is_err());
        assert_eq!(err("1 > 2"), "parse error : comparisons between scalars must use BOOL modifier");
        assert_eq!(err("1 + bool 2"), "parse error : bool modifier can only be used on comparison operators");
        assert_eq!(err("1 and 2"), "parse error : set operator and not allowed in binary scalar expression");
        assert!(parse(r#"count_over_time({app=~".*"}[5m])"#).is_err());
        let deep = format!("{}1{}", "(".repeat(1000), ")".repeat(1000));
        assert!(err(&deep).contains("nested too deeply"));
        let nested = format!("{}count_over_time({{a=\"b\"}}[1m]){}", "sum(".repeat(40), ")".repeat(40));
        assert!(parse(&nested).is_ok());
    }
}
