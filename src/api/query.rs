//! Query endpoints: query_range, query (instant), labels, label values, series,
//! and their legacy `/api/prom/` forms (reshaped by `legacy`). Every endpoint
//! answers GET and POST (form body), as Loki does. Metric queries are evaluated
//! and rendered by `metric`.

use std::sync::Arc;
use std::time::Instant;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::error::ApiError;
use super::params::Params;
use super::read::{get_and_post, ReadRequest};
use super::render::{stats_json, streams_json, CATEGORIZE_LABELS, ENCODING_FLAGS_HEADER};
use super::state::AppState;
use crate::actors::ingester::{Direction, LogRequest, TimeRange};
use crate::config::Limits;
use crate::logql::{parse, parse_selector, Expr, Matcher};
use crate::model::time::{format_prom_duration, go_duration, parse_duration_ns};
use crate::querier::Querier;

const MAX_POINTS: i64 = 11_000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // (path, (handler, legacy: the v1 answer reshaped by `legacy`))
    let routes = [
        ("/loki/api/v1/query_range", (Handler::QueryRange, false)),
        ("/loki/api/v1/query", (Handler::Instant, false)),
        ("/loki/api/v1/labels", (Handler::Labels, false)),
        ("/loki/api/v1/label", (Handler::Labels, false)),
        ("/loki/api/v1/label/{name}/values", (Handler::LabelValues, false)),
        ("/loki/api/v1/series", (Handler::Series, false)),
        ("/api/prom/query", (Handler::QueryRange, true)),
        ("/api/prom/label", (Handler::Labels, true)),
        ("/api/prom/label/{name}/values", (Handler::LabelValues, true)),
        ("/api/prom/series", (Handler::Series, true)),
    ];
    get_and_post(cfg, &routes, |(handler, legacy), req, body, st| dispatch(handler, legacy, req, body, st));
}

#[derive(Clone, Copy)]
enum Handler {
    QueryRange,
    Instant,
    Labels,
    LabelValues,
    Series,
}

async fn dispatch(
    h: Handler,
    legacy: bool,
    req: HttpRequest,
    body: web::Bytes,
    st: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut r = ReadRequest::new(&req, &body, &st)?;
    if legacy && matches!(h, Handler::QueryRange) {
        r.params = super::legacy::query_params(&r.params)?;
    }
    let (q, tenants, params, limits) = (r.querier, &r.tenants, &r.params, &r.limits);
    r.answer(async {
        let v1 = match h {
            Handler::QueryRange => query_range(&req, q, tenants, params, limits).await,
            Handler::Instant => instant(q, tenants, params, limits).await,
            Handler::Labels => labels(q, tenants, params, None, limits).await,
            Handler::LabelValues => {
                let name = req.match_info().get("name").unwrap_or_default().to_string();
                labels(q, tenants, params, Some(&name), limits).await
            }
            Handler::Series => series(q, tenants, params, limits).await,
        }?;
        Ok(match h {
            _ if !legacy => v1,
            Handler::QueryRange => super::legacy::streams(v1),
            Handler::Labels | Handler::LabelValues => super::legacy::values(v1),
            Handler::Instant | Handler::Series => v1,
        })
    })
    .await
}

/// `step` as float seconds or a duration; default `max(floor(range/250s), 1s)`.
pub(super) fn step_ns(p: &Params, start: i64, end: i64) -> Result<i64, ApiError> {
    let step = match p.get("step") {
        None => ((end.saturating_sub(start) / 1_000_000_000) / 250).max(1) * 1_000_000_000,
        Some(s) => match s.parse::<f64>() {
            Ok(f) => (f * 1e9) as i64,
            Err(_) => parse_duration_ns(s)
                .map_err(|_| ApiError::bad_request(format!("cannot parse {s:?} to a valid duration")))?,
        },
    };
    if step <= 0 {
        return Err(ApiError::bad_request(
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    if end.saturating_sub(start) / step > MAX_POINTS {
        return Err(ApiError::bad_request(
            "exceeded maximum resolution of 11,000 points per time series. Try increasing the value of the step parameter",
        ));
    }
    Ok(step)
}

async fn query_range(
    req: &HttpRequest,
    q: &Querier,
    tenants: &[String],
    p: &Params,
    limits: &Limits,
) -> Result<Value, ApiError> {
    let started = Instant::now();
    let query = p.query()?;
    let (start, end) = p.ordered_bounds()?;
    let limit = p.limit()?;
    let direction = p.direction()?;
    let step = step_ns(p, start, end)?;
    let start = super::limits::clamp_lookback(limits, start, end)?;
    let interval_ns = match p.get("interval") {
        None => 0,
        Some(s) => {
            let v = match s.parse::<f64>() {
                Ok(f) => (f * 1e9) as i64,
                Err(_) => parse_duration_ns(s)
                    .map_err(|_| ApiError::bad_request(format!("cannot parse {s:?} to a valid duration")))?,
            };
            if v < 0 {
                return Err(ApiError::bad_request("interval must be >= 0"));
            }
            v
        }
    };
    let expr = match parse(query)? {
        Expr::Log(l) => l,
        Expr::Sample(e) => {
            check_query_length(limits, start, end)?;
            let steps = crate::logql::metric::eval::steps(start, end, step);
            let ev = super::metric::run(q, tenants, &e, steps, limits).await?;
            let (result, n) = super::metric::matrix(&ev);
            return Ok(super::metric::body("matrix", result, n, &ev, started));
        }
    };
    check_log_query(limits, expr.matchers.len(), limit, start, end)?;
    let r = q.logs_for(tenants, LogRequest { expr: Arc::new(expr), start, end, limit, direction, interval_ns }).await?;
    let categorize = req
        .headers()
        .get(ENCODING_FLAGS_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|f| f.trim() == CATEGORIZE_LABELS));
    let returned: usize = r.streams.iter().map(|s| s.entries.len()).sum();
    let stats = stats_json(started.elapsed().as_secs_f64(), returned, &r.stats, returned);
    let mut data = json!({"resultType": "streams", "result": streams_json(&r.streams, categorize, direction == Direction::Backward), "stats": stats});
    if categorize {
        data["encodingFlags"] = json!([CATEGORIZE_LABELS]);
    }
    let mut out = json!({"status": "success", "data": data});
    if !r.warnings.is_empty() {
        out["warnings"] = json!(r.warnings);
    }
    Ok(out)
}

/// A log query's limits, in Loki's order: entries, time range, matchers.
pub(super) fn check_log_query(
    limits: &Limits,
    matchers: usize,
    limit: usize,
    start: i64,
    end: i64,
) -> Result<(), ApiError> {
    if limit > limits.max_entries_limit_per_query && limits.max_entries_limit_per_query > 0 {
        return Err(ApiError::bad_request(format!(
            "max entries limit per query exceeded, limit > max_entries_limit_per_query ({limit} > {})",
            limits.max_entries_limit_per_query
        )));
    }
    check_query_length(limits, start, end)?;
    if matchers > limits.max_streams_matchers_per_query {
        return Err(ApiError::bad_request(format!(
            "max streams matchers per query exceeded, matchers-count > limit ({matchers} > {})",
            limits.max_streams_matchers_per_query
        )));
    }
    Ok(())
}

pub(super) fn check_query_length(limits: &Limits, start: i64, end: i64) -> Result<(), ApiError> {
    let max = limits.max_query_length;
    if !max.is_zero() && end.saturating_sub(start) > max.as_nanos_i64() {
        return Err(ApiError::bad_request(format!(
            "the query time range exceeds the limit (query length: {}, limit: {})",
            go_duration(end.saturating_sub(start)),
            format_prom_duration(max.0)
        )));
    }
    Ok(())
}

async fn instant(q: &Querier, tenants: &[String], p: &Params, limits: &Limits) -> Result<Value, ApiError> {
    let started = Instant::now();
    let query = p.query()?;
    p.limit()?;
    p.direction()?;
    let t = p.instant_time()?;
    super::limits::clamp_lookback(limits, t, t)?;
    match parse(query)? {
        Expr::Log(_) => Err(ApiError::bad_request(
            "log queries are not supported as an instant query type, please change your query to a range query type",
        )),
        Expr::Sample(e) => {
            let ev = super::metric::run(q, tenants, &e, vec![t], limits).await?;
            let (kind, result, n) = super::metric::instant(&ev);
            Ok(super::metric::body(kind, result, n, &ev, started))
        }
    }
}

/// Matchers of the optional `query` parameter of the labels endpoints.
fn optional_selector(p: &Params) -> Result<Vec<Matcher>, ApiError> {
    match p.get("query") {
        None => Ok(Vec::new()),
        Some(q) => match parse_selector(q) {
            Ok(m) => Ok(m),
            Err(_) => match parse(q)? {
                Expr::Log(l) => Ok(l.matchers),
                Expr::Sample(_) => Err(ApiError::bad_request("only log queries select streams here")),
            },
        },
    }
}

async fn labels(
    q: &Querier,
    tenants: &[String],
    p: &Params,
    name: Option<&str>,
    limits: &Limits,
) -> Result<Value, ApiError> {
    let (start, end) = p.bounds()?;
    let start = super::limits::clamp_lookback(limits, start, end)?;
    let matchers = optional_selector(p)?;
    let range = TimeRange { start, end };
    let values = match name {
        None => q.labels_for(tenants, None, matchers, range).await?,
        Some(n) => q.labels_for(tenants, Some(n), matchers, range).await?,
    };
    // Loki omits `data` when there is nothing to return.
    Ok(if values.is_empty() { json!({"status": "success"}) } else { json!({"status": "success", "data": values}) })
}

async fn series(q: &Querier, tenants: &[String], p: &Params, limits: &Limits) -> Result<Value, ApiError> {
    let (start, end) = p.bounds()?;
    let start = super::limits::clamp_lookback(limits, start, end)?;
    let mut raw = p.all("match[]");
    raw.extend(p.all("match"));
    let groups = raw
        .into_iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| parse_selector(s).map_err(ApiError::from))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .collect::<Vec<_>>();
    // `{}` in any group selects every series.
    let groups = if groups.iter().any(Vec::is_empty) { Vec::new() } else { groups };
    let series = q.series_for(tenants, groups, TimeRange { start, end }).await?;
    let data: Vec<Value> = series
        .iter()
        .map(|l| Value::Object(l.pairs().iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect()))
        .collect();
    Ok(json!({"status": "success", "data": data}))
}
