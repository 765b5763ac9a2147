//! Evaluation of a metric expression at aligned steps (`start, start+step, …
//! <= end`; an instant query is one step). Range aggregations read their
//! windows `(t - offset - range, t - offset]` from samples fetched beforehand
//! (one [`SeriesMap`] per range aggregation, in [`SampleExpr::ranges`] order).
//!
//! Called by the query API after the querier fetched the samples.

use super::ast::{RangeAgg, RangeOp, SampleExpr};
use super::binop::{binary, Value};
use super::range_fn;
use super::vector_fn::{aggregate, Elem};
use super::{Sample, SeriesMap};
use crate::logql::matcher::MatchOp;
use crate::logql::pipeline::labels::ERROR_LABEL;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    #[error("pipeline error: '{kind}' for series: '{series}'.\nUse a label filter to intentionally skip this error. (e.g | __error__!=\"{kind}\").\nTo skip all potential errors you can match empty errors.(e.g __error__=\"\")\nThe label filter can also be specified after unwrap. (e.g | unwrap latency | __error__=\"\" )")]
    Pipeline { kind: String, series: String },
    #[error("maximum of series ({0}) reached for a single query")]
    MaxSeries(usize),
    #[error("{0}")]
    Matching(String),
}

/// The evaluation times `start, start+step, … <= end`.
pub fn steps(start: i64, end: i64, step: i64) -> Vec<i64> {
    let mut out = Vec::new();
    let mut t = start;
    while t <= end && step > 0 {
        out.push(t);
        match t.checked_add(step) {
            Some(n) => t = n,
            None => break,
        }
    }
    out
}

/// The sample window a range aggregation needs for these steps: `[from, to]`.
pub fn sample_bounds(r: &RangeAgg, first_step: i64, last_step: i64) -> (i64, i64) {
    let off = r.range.offset_ns;
    (first_step.saturating_sub(off).saturating_sub(r.range.range_ns).saturating_add(1), last_step.saturating_sub(off))
}

/// One value per step.
pub fn evaluate(
    expr: &SampleExpr,
    data: &[SeriesMap],
    steps: &[i64],
    max_series: usize,
) -> Result<Vec<Value>, EvalError> {
    let mut cursor = 0;
    let out = eval(expr, data, &mut cursor, steps)?;
    if max_series > 0 {
        // distinct series over all steps (a matrix counts each series once)
        let mut seen: std::collections::HashSet<&[(String, String)]> = std::collections::HashSet::new();
        for v in &out {
            if let Value::Vector(v) = v {
                seen.extend(v.iter().map(|e| e.labels.as_slice()));
                if seen.len() > max_series {
                    return Err(EvalError::MaxSeries(max_series));
                }
            }
        }
    }
    Ok(out)
}

fn eval(expr: &SampleExpr, data: &[SeriesMap], cursor: &mut usize, steps: &[i64]) -> Result<Vec<Value>, EvalError> {
    match expr {
        SampleExpr::Literal(v) => Ok(steps.iter().map(|_| Value::Scalar(*v)).collect()),
        SampleExpr::VectorLit(v) => {
            Ok(steps.iter().map(|_| Value::Vector(vec![Elem { labels: vec![], value: *v }])).collect())
        }
        SampleExpr::Range(r) => {
            let empty = SeriesMap::new();
            let series = data.get(*cursor).unwrap_or(&empty);
            *cursor += 1;
            range_agg(r, series, steps)
        }
        SampleExpr::Vector { op, grouping, param, inner } => {
            let vals = eval(inner, data, cursor, steps)?;
            Ok(vals
                .into_iter()
                .map(|v| match v {
                    Value::Vector(v) => Value::Vector(aggregate(*op, *param, grouping.as_ref(), v)),
                    s => s,
                })
                .collect())
        }
        SampleExpr::Binary { op, bool_mod, matching, lhs, rhs } => {
            let l = eval(lhs, data, cursor, steps)?;
            let r = eval(rhs, data, cursor, steps)?;
            l.into_iter().zip(r).map(|(a, b)| binary(*op, *bool_mod, matching, a, b)).collect()
        }
        SampleExpr::LabelReplace { inner, dst, replacement, src, regex } => {
            let re = regex::Regex::new(&format!("^(?:{regex})$")).map_err(|e| EvalError::Matching(e.to_string()))?;
            let vals = eval(inner, data, cursor, steps)?;
            Ok(vals
                .into_iter()
                .map(|v| match v {
                    Value::Vector(v) => {
                        Value::Vector(v.into_iter().map(|e| label_replace(e, &re, dst, replacement, src)).collect())
                    }
                    s => s,
                })
                .collect())
        }
    }
}

fn label_replace(mut e: Elem, re: &regex::Regex, dst: &str, replacement: &str, src: &str) -> Elem {
    let value = e.labels.iter().find(|(k, _)| k == src).map(|(_, v)| v.as_str()).unwrap_or("");
    let Some(caps) = re.captures(value) else { return e };
    let mut out = String::new();
    caps.expand(replacement, &mut out);
    e.labels.retain(|(k, _)| k != dst);
    if !out.is_empty() {
        e.labels.push((dst.to_string(), out));
        e.labels.sort();
    }
    e
}

/// The samples of `s` inside `(lo, hi]`.
fn window(s: &[Sample], lo: i64, hi: i64) -> &[Sample] {
    let a = s.partition_point(|p| p.ts <= lo);
    let b = s.partition_point(|p| p.ts <= hi);
    &s[a..b.max(a)]
}

fn range_agg(r: &RangeAgg, series: &SeriesMap, steps: &[i64]) -> Result<Vec<Value>, EvalError> {
    let range = r.range.range_ns;
    let off = r.range.offset_ns;
    let mut out = Vec::with_capacity(steps.len());
    for &t in steps {
        let hi = t.saturating_sub(off);
        let lo = hi.saturating_sub(range);
        let mut v = Vec::new();
        for (labels, samples) in series {
            let w = window(samples, lo, hi);
            if w.is_empty() {
                continue;
            }
            if let Some((_, kind)) = labels.iter().find(|(k, _)| k == ERROR_LABEL) {
                return Err(EvalError::Pipeline {
                    kind: kind.clone(),
                    series: crate::model::Labels::from_pairs_keep_empty(labels.clone()).to_string(),
                });
            }
            if r.op == RangeOp::Absent {
                continue;
            }
            if let Some(value) = range_fn::apply(r.op, r.param, w, range, hi) {
                v.push(Elem { labels: labels.clone(), value });
            }
        }
        if r.op == RangeOp::Absent && !series.values().any(|s| !window(s, lo, hi).is_empty()) {
            let mut labels: Vec<(String, String)> = r
                .range
                .log
                .matchers
                .iter()
                .filter(|m| m.op == MatchOp::Eq)
                .map(|m| (m.name.clone(), m.value.clone()))
                .collect();
            labels.sort();
            labels.dedup_by(|a, b| a.0 == b.0);
            v.push(Elem { labels, value: 1.0 });
        }
        out.push(Value::Vector(v));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logql::{parse, Expr};

    fn sample_expr(q: &str) -> SampleExpr {
        let Expr::Sample(s) = parse(q).unwrap() else { panic!("metric query expected") };
        s
    }

    fn series(labels: &[(&str, &str)], ts_s: &[i64]) -> SeriesMap {
        let mut m = SeriesMap::new();
        let l = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        m.insert(l, ts_s.iter().map(|&t| Sample { ts: t * 1_000_000_000, value: 1.0, key: t as u64 }).collect());
        m
    }

    const S: i64 = 1_000_000_000;

    #[test]
    fn windows_are_left_open_right_closed() {
        let e = sample_expr(r#"count_over_time({app="t"}[10s])"#);
        let data = vec![series(&[("app", "t")], &[0, 10, 20])];
        let out = evaluate(&e, &data, &steps(10 * S, 20 * S, 10 * S), 0).unwrap();
        let vals: Vec<f64> = out
            .iter()
            .map(|v| match v {
                Value::Vector(v) => v[0].value,
                _ => f64::NAN,
            })
            .collect();
        assert_eq!(vals, vec![1.0, 1.0]);
    }

    #[test]
    fn absent_offset_and_errors() {
        let e = sample_expr(r#"absent_over_time({app="t", x=~"y"}[5s])"#);
        let data = vec![series(&[("app", "t")], &[3])];
        let out = evaluate(&e, &data, &[5 * S, 20 * S], 0).unwrap();
        assert_eq!(out[0], Value::Vector(vec![]));
        assert_eq!(out[1], Value::Vector(vec![Elem { labels: vec![("app".into(), "t".into())], value: 1.0 }]));
        let e = sample_expr(r#"count_over_time({app="t"}[5s] offset 10s)"#);
        let out = evaluate(&e, &data, &[13 * S], 0).unwrap();
        assert!(matches!(&out[0], Value::Vector(v) if v.len() == 1));
        let e = sample_expr(r#"sum_over_time({app="t"} | unwrap x [5s])"#);
        let bad = vec![series(&[("__error__", "SampleExtractionErr"), ("app", "t")], &[3])];
        let err = evaluate(&e, &bad, &[5 * S], 0).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "pipeline error: 'SampleExtractionErr' for series: '{__error__=\"SampleExtractionErr\", app=\"t\"}'."
            ),
            "{err}"
        );
        let e = sample_expr(r#"count_over_time({app="t"}[5s])"#);
        assert_eq!(evaluate(&e, &data, &[5 * S], 0).unwrap().len(), 1);
    }

    #[test]
    fn literals_and_label_replace() {
        let e = sample_expr("(1 + 2) * 3 % 4");
        assert_eq!(evaluate(&e, &[], &[0], 0).unwrap(), vec![Value::Scalar(1.0)]);
        let e = sample_expr(r#"label_replace(vector(1), "dst", "$1", "src", "(.*)")"#);
        assert_eq!(evaluate(&e, &[], &[0], 0).unwrap(), vec![Value::Vector(vec![Elem { labels: vec![], value: 1.0 }])]);
    }
}
