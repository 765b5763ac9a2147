//! Metric queries over HTTP: fetches the samples of every range aggregation
//! through the querier, evaluates with `logql::metric::eval` and renders Loki's
//! `matrix`, `vector` and `scalar` results (float-second timestamps, scalar
//! timestamps in milliseconds as Loki 3.x does, Prometheus value formatting).
//!
//! Called by the `query_range` and `query` handlers in `query`.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::{json, Map, Value as Json};

use super::error::ApiError;
use super::render::stats_json;
use crate::actors::ingester::ScanStats;
use crate::config::Limits;
use crate::logql::metric::binop::Value;
use crate::logql::metric::eval::{evaluate, sample_bounds};
use crate::logql::metric::format::prom_float;
use crate::logql::metric::SampleExpr;
use crate::querier::Querier;

/// What a metric evaluation produced, one value per step.
pub struct Evaluated {
    pub steps: Vec<i64>,
    pub values: Vec<Value>,
    pub stats: ScanStats,
    pub warnings: Vec<String>,
}

pub async fn run(
    q: &Querier,
    tenants: &[String],
    expr: &SampleExpr,
    steps: Vec<i64>,
    limits: &Limits,
) -> Result<Evaluated, ApiError> {
    let mut ranges = Vec::new();
    expr.ranges(&mut ranges);
    for r in &ranges {
        // a shard's own matcher (added by the query-frontend) does not count
        let n = r.range.log.matchers.iter().filter(|m| m.shard().is_none()).count();
        if n > limits.max_streams_matchers_per_query {
            return Err(ApiError::bad_request(format!(
                "max streams matchers per query exceeded, matchers-count > limit ({n} > {})",
                limits.max_streams_matchers_per_query
            )));
        }
    }
    let max_series = limits.max_query_series;
    let (first, last) = (steps.first().copied().unwrap_or(0), steps.last().copied().unwrap_or(0));
    let mut data = Vec::with_capacity(ranges.len());
    let mut stats = ScanStats::default();
    let mut warnings = Vec::new();
    for r in ranges {
        let (start, end) = sample_bounds(r, first, last);
        let res = q.samples_for(tenants, r, start, end).await?;
        stats.add(res.stats);
        warnings.extend(res.warnings);
        data.push(res.series);
    }
    let values = evaluate(expr, &data, &steps, max_series).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(Evaluated { steps, values, stats, warnings })
}

fn secs(ns: i64) -> Json {
    let ms = ns.div_euclid(1_000_000);
    if ms % 1000 == 0 {
        json!(ms / 1000)
    } else {
        json!(ms as f64 / 1000.0)
    }
}

fn metric(labels: &[(String, String)]) -> Json {
    Json::Object(labels.iter().map(|(k, v)| (k.clone(), Json::String(v.clone()))).collect::<Map<_, _>>())
}

/// `matrix`: one series per label set over all steps (scalars become a label-less series).
pub fn matrix(e: &Evaluated) -> (Json, usize) {
    let mut series: BTreeMap<Vec<(String, String)>, Vec<Json>> = BTreeMap::new();
    for (t, v) in e.steps.iter().zip(&e.values) {
        match v {
            Value::Scalar(s) => series.entry(Vec::new()).or_default().push(json!([secs(*t), prom_float(*s)])),
            Value::Vector(v) => {
                for el in v {
                    series.entry(el.labels.clone()).or_default().push(json!([secs(*t), prom_float(el.value)]));
                }
            }
        }
    }
    let n = series.values().map(Vec::len).sum();
    let out = series.into_iter().map(|(l, values)| json!({"metric": metric(&l), "values": values})).collect();
    (Json::Array(out), n)
}

/// `vector` or `scalar` for an instant query (one step).
pub fn instant(e: &Evaluated) -> (&'static str, Json, usize) {
    let t = e.steps.first().copied().unwrap_or(0);
    match e.values.first() {
        Some(Value::Scalar(s)) => ("scalar", json!([t.div_euclid(1_000_000), prom_float(*s)]), 1),
        Some(Value::Vector(v)) => {
            let out: Vec<Json> = v
                .iter()
                .map(|el| json!({"metric": metric(&el.labels), "value": [secs(t), prom_float(el.value)]}))
                .collect();
            let n = out.len();
            ("vector", Json::Array(out), n)
        }
        None => ("vector", json!([]), 0),
    }
}

/// The whole success body of a metric query.
pub fn body(result_type: &str, result: Json, returned: usize, e: &Evaluated, started: Instant) -> Json {
    let stats = stats_json(started.elapsed().as_secs_f64(), returned, &e.stats, returned);
    let mut out = json!({"status": "success", "data": {"resultType": result_type, "result": result, "stats": stats}});
    if !e.warnings.is_empty() {
        out["warnings"] = json!(e.warnings);
    }
    out
}
