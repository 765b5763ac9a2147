//! `/loki/api/v1/detected_labels`, `/detected_fields` and
//! `/detected_field/{name}/values` (GET and POST form): what Grafana's query
//! builder and Logs Drilldown offer as filters. Parses Loki's parameters, asks
//! the querier for series (labels) or a sample of log lines (fields), and
//! renders what `querier::detected` makes of them.
//!
//! Mounted by `api::configure` when the process runs a querier; the
//! query-frontend forwards these paths to its queriers unchanged.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::error::ApiError;
use super::params::Params;
use super::query::{check_log_query, step_ns};
use super::read::{get_and_post, lookback_range, ReadRequest};
use super::state::AppState;
use crate::actors::ingester::{Direction, LogRequest, TimeRange};
use crate::config::Limits;
use crate::logql::error::{ParseError, EMPTY_COMPATIBLE};
use crate::logql::{parse, parse_selector, Expr};
use crate::querier::detected::{detected_fields, detected_labels};
use crate::querier::Querier;

/// Lines sampled for field detection unless `line_limit` says otherwise.
const DEFAULT_LINE_LIMIT: usize = 100;
/// Fields (or values) returned unless `limit` (or `field_limit`) says otherwise.
const DEFAULT_FIELD_LIMIT: usize = 1000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    let routes = [
        ("/loki/api/v1/detected_labels", Kind::Labels),
        ("/loki/api/v1/detected_fields", Kind::Fields),
        ("/loki/api/v1/detected_field/{name}/values", Kind::Values),
    ];
    get_and_post(cfg, &routes, dispatch);
}

#[derive(Clone, Copy)]
enum Kind {
    Labels,
    Fields,
    Values,
}

async fn dispatch(
    kind: Kind,
    req: HttpRequest,
    body: web::Bytes,
    st: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let r = ReadRequest::new(&req, &body, &st)?;
    let (q, tenants, p, limits) = (r.querier, &r.tenants, &r.params, &r.limits);
    let name = req.match_info().get("name");
    r.answer(async {
        match kind {
            Kind::Labels => labels(q, tenants, p, limits).await,
            Kind::Fields => fields(q, tenants, p, limits, None).await,
            Kind::Values => fields(q, tenants, p, limits, name).await,
        }
    })
    .await
}

async fn labels(q: &Querier, tenants: &[String], p: &Params, limits: &Limits) -> Result<Value, ApiError> {
    let (start, end) = lookback_range(p, limits)?;
    // An empty query asks about every stream; `{}` is refused like any selector
    // without a matcher that needs a value.
    let groups = match p.get("query") {
        None => Vec::new(),
        Some(query) => {
            let m = parse_selector(query)?;
            if m.iter().all(|m| m.matches_empty()) {
                return Err(ParseError::Invalid(EMPTY_COMPATIBLE.into()).into());
            }
            vec![m]
        }
    };
    let series = q.series_for(tenants, groups, TimeRange { start, end }).await?;
    let out: Vec<Value> =
        detected_labels(&series).into_iter().map(|l| json!({"label": l.label, "cardinality": l.cardinality})).collect();
    Ok(json!({ "detectedLabels": out }))
}

async fn fields(
    q: &Querier,
    tenants: &[String],
    p: &Params,
    limits: &Limits,
    only: Option<&str>,
) -> Result<Value, ApiError> {
    let expr = match parse(p.query()?)? {
        Expr::Log(l) => l,
        Expr::Sample(_) => return Err(ApiError::bad_request("only log selector is supported")),
    };
    let (start, end) = lookback_range(p, limits)?;
    let line_limit = p.positive(&["line_limit"], DEFAULT_LINE_LIMIT)?;
    let limit = p.positive(&["limit", "field_limit"], DEFAULT_FIELD_LIMIT)?;
    step_ns(p, start, end)?;
    // the sample is a log query: the same bounds as query_range's
    check_log_query(limits, expr.matchers.len(), line_limit, start, end)?;
    let req = LogRequest {
        expr: Arc::new(expr),
        start,
        end,
        limit: line_limit,
        direction: Direction::Backward,
        interval_ns: 0,
    };
    let r = q.logs_for(tenants, req).await?;
    let found = detected_fields(&r.streams, limit, only);
    if only.is_some() {
        let values: Vec<&String> = found.values().flat_map(|f| &f.values).take(limit).collect();
        return Ok(json!({"values": values, "limit": limit}));
    }
    let out: Vec<Value> = found
        .iter()
        .map(|(name, f)| {
            let mut v = json!({"label": name, "type": f.kind, "cardinality": f.values.len()});
            if !f.parsers.is_empty() {
                v["parsers"] = json!(f.parsers);
            }
            v
        })
        .collect();
    Ok(json!({"fields": out, "limit": limit}))
}
