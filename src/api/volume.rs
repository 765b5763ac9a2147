//! Index statistics and volume endpoints: `/loki/api/v1/index/stats`,
//! `/index/volume` and `/index/volume_range` (GET and POST form, like the query
//! endpoints). Parses Loki's parameters, asks `Querier::volume`, renders.
//!
//! Mounted by `api::configure` when the process runs a querier.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::params::Params;
use super::query::{check_query_length, step_ns};
use super::read::{get_and_post, lookback_range, ReadRequest};
use super::state::AppState;
use crate::actors::ingester::VolumeRequest;
use crate::config::Limits;
use crate::logql::{parse, parse_selector, Matcher};
use crate::querier::volume::{aggregate, totals, AggregateBy, VolumeSeries};
use crate::querier::Querier;

pub fn configure(cfg: &mut web::ServiceConfig) {
    let routes = [
        ("/loki/api/v1/index/stats", Kind::Stats),
        ("/loki/api/v1/index/volume", Kind::Volume),
        ("/loki/api/v1/index/volume_range", Kind::VolumeRange),
    ];
    get_and_post(cfg, &routes, dispatch);
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Stats,
    Volume,
    VolumeRange,
}

async fn dispatch(
    kind: Kind,
    req: HttpRequest,
    body: web::Bytes,
    st: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let r = ReadRequest::new(&req, &body, &st)?;
    r.answer(answer(kind, &r.params, r.querier, &r.tenants, &r.limits)).await
}

async fn answer(kind: Kind, p: &Params, q: &Querier, tenants: &[String], limits: &Limits) -> Result<Value, ApiError> {
    let matchers = matchers_only(p.query()?)?;
    let (start, end) = lookback_range(p, limits)?;
    let value = if kind == Kind::Stats {
        let r = q.volume_for(tenants, request(matchers, start, end, None)).await?;
        let t = totals(&r);
        json!({"streams": t.streams, "chunks": t.chunks, "bytes": t.bytes, "entries": t.entries})
    } else {
        if !limits.volume_enabled {
            return Err(ApiError::new(404, "volume not enabled"));
        }
        let limit = volume_limit(p)?.min(limits.volume_max_series.max(1));
        let by = match p.get("aggregateBy") {
            None | Some("series") => AggregateBy::Series,
            Some("labels") => AggregateBy::Labels,
            Some(_) => return Err(ApiError::bad_request("invalid aggregation option")),
        };
        let targets: Vec<String> = p
            .get("targetLabels")
            .map(|t| t.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect())
            .unwrap_or_default();
        check_query_length(limits, start, end)?;
        let step = match kind {
            Kind::VolumeRange => Some(step_ns(p, start, end)?),
            _ => None,
        };
        let r = q.volume_for(tenants, request(matchers.clone(), start, end, step)).await?;
        let series = aggregate(&r, &matchers, &targets, by, limit);
        match step {
            None => vector(&series, end),
            Some(step) => matrix(&series, step),
        }
    };
    Ok(value)
}

fn request(matchers: Vec<Matcher>, start: i64, end: i64, step: Option<i64>) -> VolumeRequest {
    VolumeRequest { matchers, start, end, step, include_flushed: false }
}

/// A bare selector; a query with a pipeline or a metric query is refused.
fn matchers_only(query: &str) -> Result<Vec<Matcher>, ApiError> {
    match parse_selector(query) {
        Ok(m) => Ok(m),
        Err(e) => match parse(query) {
            Ok(_) => Err(ApiError::bad_request("only label matchers are supported")),
            Err(_) => Err(e.into()),
        },
    }
}

/// `limit`: default 100, and 0 also means 100.
fn volume_limit(p: &Params) -> Result<usize, ApiError> {
    match p.get("limit") {
        None => Ok(100),
        Some(v) => match v.parse::<u64>() {
            Ok(0) => Ok(100),
            Ok(n) => Ok(n as usize),
            Err(_) => Err(ApiError::bad_request(format!("strconv.Atoi: parsing {v:?}: invalid syntax"))),
        },
    }
}

fn metric(labels: &[(String, String)]) -> Value {
    Value::Object(labels.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect::<Map<_, _>>())
}

fn secs(ns: i64) -> Value {
    let ms = ns.div_euclid(1_000_000);
    if ms % 1000 == 0 {
        json!(ms / 1000)
    } else {
        json!(ms as f64 / 1000.0)
    }
}

fn vector(series: &[VolumeSeries], end: i64) -> Value {
    let result: Vec<Value> = series
        .iter()
        .map(|s| json!({"metric": metric(&s.labels), "value": [secs(end), s.total.to_string()]}))
        .collect();
    json!({"status": "success", "data": {"resultType": "vector", "result": result}})
}

/// Each bucket is stamped at its end minus 1 ms, as Loki 3.x does.
fn matrix(series: &[VolumeSeries], step: i64) -> Value {
    let result: Vec<Value> = series
        .iter()
        .map(|s| {
            let values: Vec<Value> =
                s.buckets.iter().map(|(b, n)| json!([secs(b + step - 1_000_000), n.to_string()])).collect();
            json!({"metric": metric(&s.labels), "values": values})
        })
        .collect();
    json!({"status": "success", "data": {"resultType": "matrix", "result": result}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_and_rendering() {
        assert_eq!(matchers_only(r#"{a="b"}"#).unwrap().len(), 1);
        assert_eq!(matchers_only(r#"{a="b"} |= "x""#).unwrap_err().msg, "only label matchers are supported");
        assert_eq!(matchers_only("{").unwrap_err().status.as_u16(), 400);
        assert_eq!(volume_limit(&Params::parse("limit=0", None).unwrap()).unwrap(), 100);
        assert_eq!(volume_limit(&Params::parse("limit=3", None).unwrap()).unwrap(), 3);
        assert!(volume_limit(&Params::parse("limit=x", None).unwrap()).is_err());
        let s = VolumeSeries {
            labels: vec![("app".into(), "a".into())],
            total: 5,
            buckets: [(0, 5)].into_iter().collect(),
        };
        let m = matrix(std::slice::from_ref(&s), 60_000_000_000);
        assert_eq!(m["data"]["result"][0]["values"][0], json!([59.999, "5"]));
        let v = vector(&[s], 120_000_000_000);
        assert_eq!(v["data"]["result"][0]["value"], json!([120, "5"]));
    }
}
