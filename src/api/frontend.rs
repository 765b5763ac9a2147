//! The query-frontend's HTTP side: when the node runs a query-frontend, every
//! query endpoint is answered through the queue instead of a local querier.
//! `query_range` is split by time (`split_queries_by_interval`) into pieces run
//! by a `SplitQueryActor`, and shardable metric queries (range and instant,
//! `super::frontend_shard`) also by stream; everything else is one job. Answers
//! (and errors) are the queriers' own, so texts and status codes are Loki's.
//!
//! Mounted by [`super::configure`] before the querier's routes; when the node
//! also runs a querier, requests from its own workers (marked with
//! `WORKER_HEADER`) skip these routes and reach the querier.

use actix_web::{guard, web, HttpRequest, HttpResponse};

use super::error::ApiError;
use super::frontend_shard::{shards_of, sub_job, Shards};
use super::params::Params;
use super::state::AppState;
use super::tenant::tenants_of;
use crate::actors::querier::WORKER_HEADER;
use crate::config::Limits;
use crate::frontend::merge::MergeKind;
use crate::frontend::results_cache::{CachedRequest, ResultsCache};
use crate::frontend::split::{log_pieces, metric_pieces};
use crate::frontend::split_actor::{SplitPlan, SplitQueryActor};
use crate::frontend::Frontend;
use crate::logql::{parse, Expr};
use crate::proto::frontend::{Header, Job, JobResult};

/// Every read endpoint a querier (or the frontend itself) answers.
const PATHS: &[&str] = &[
    "/loki/api/v1/query",
    "/loki/api/v1/labels",
    "/loki/api/v1/label",
    "/loki/api/v1/label/{name}/values",
    "/loki/api/v1/series",
    "/loki/api/v1/index/stats",
    "/loki/api/v1/index/volume",
    "/loki/api/v1/index/volume_range",
    "/loki/api/v1/detected_labels",
    "/loki/api/v1/detected_fields",
    "/loki/api/v1/detected_field/{name}/values",
    "/loki/api/v1/patterns",
    "/api/prom/query",
    "/api/prom/label",
    "/api/prom/label/{name}/values",
    "/api/prom/series",
];

/// Mounts the frontend's routes. When the node also runs a querier, its
/// workers' requests skip them, and tail stays with the querier unless
/// `tail_proxy_url` sends it elsewhere.
pub fn configure(cfg: &mut web::ServiceConfig, state: &AppState) {
    let guarded = state.querier.is_some();
    let proxy_tail = state.frontend.as_ref().is_some_and(|f| !f.tail_proxy_url.is_empty());
    let not_worker = move |ctx: &guard::GuardContext| !guarded || !ctx.head().headers().contains_key(WORKER_HEADER);
    let mut add = |path: &str, split: bool| {
        let h = move |req: HttpRequest, body: web::Bytes, st: web::Data<AppState>| handle(split, req, body, st);
        cfg.route(path, web::get().guard(guard::fn_guard(not_worker)).to(h));
        cfg.route(path, web::post().guard(guard::fn_guard(not_worker)).to(h));
    };
    add("/loki/api/v1/query_range", true);
    for p in PATHS {
        add(p, false);
    }
    if proxy_tail || !guarded {
        super::frontend_tail::configure(cfg);
    }
}

async fn handle(
    split: bool,
    req: HttpRequest,
    body: web::Bytes,
    st: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let f = st.frontend.as_ref().ok_or_else(|| ApiError::new(404, "this process runs no query-frontend"))?;
    let tenants = tenants_of(&req, &st.config)?;
    let limits = super::limits::for_tenants(&st.limits, &tenants);
    let tenant = tenants.join("|");
    let job = job_of(&req, &body, &tenant);
    let run = async {
        let plan = match split {
            true => plan(f, &limits, &job, &req, &body).await?,
            false if req.path() == "/loki/api/v1/query" => {
                super::frontend_shard::instant_plan(f, &limits, &job, &req, &body).await?
            }
            false => None,
        };
        let answer = match plan {
            None => f.queue.run_with_retries(job, f.max_retries).await,
            Some(plan) => {
                let sharded = plan.merge.shards() > 1;
                match SplitQueryActor::run(plan, f.queue.clone()).await {
                    // each shard stayed under the series limit; the whole answer must too
                    Ok(v) if sharded && too_many_series(&v, limits.max_query_series) => {
                        let msg = format!("maximum of series ({}) reached for a single query", limits.max_query_series);
                        return Err(ApiError::new(400, msg));
                    }
                    Ok(v) => return Ok(json_response(&v)),
                    Err(r) => r,
                }
            }
        };
        Ok(respond(answer))
    };
    super::limits::with_timeout(&limits, &tenant, run).await
}

fn too_many_series(answer: &serde_json::Value, max: usize) -> bool {
    max > 0 && answer["data"]["result"].as_array().is_some_and(|r| r.len() > max)
}

/// The request as a job: method, path with query string, headers, body.
fn job_of(req: &HttpRequest, body: &[u8], tenant: &str) -> Job {
    let path = match req.query_string() {
        "" => req.path().to_string(),
        q => format!("{}?{q}", req.path()),
    };
    let headers = req
        .headers()
        .iter()
        .filter_map(|(n, v)| Some(Header { name: n.to_string(), value: v.to_str().ok()?.to_string() }))
        .collect();
    Job { id: 0, tenant: tenant.to_string(), method: req.method().to_string(), path, headers, body: body.to_vec() }
}

fn respond(r: JobResult) -> HttpResponse {
    let status = u16::try_from(r.status)
        .ok()
        .and_then(|s| actix_web::http::StatusCode::from_u16(s).ok())
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut b = HttpResponse::build(status);
    for h in &r.headers {
        b.insert_header((h.name.as_str(), h.value.as_str()));
    }
    b.body(r.body)
}

fn json_response(v: &serde_json::Value) -> HttpResponse {
    HttpResponse::Ok().content_type("application/json; charset=UTF-8").body(v.to_string())
}

/// The pieces of a `query_range`, or `None` to send it whole (not split, or
/// not valid: the querier then answers with its own error). A shardable metric
/// query large enough by the index's stats is also cut into stream shards (and
/// only that when splitting is off).
async fn plan(
    f: &Frontend,
    limits: &Limits,
    job: &Job,
    req: &HttpRequest,
    body: &[u8],
) -> Result<Option<SplitPlan>, ApiError> {
    let interval = f.split_override.unwrap_or(limits.split_queries_by_interval.0).as_nanos() as i64;
    let Ok(p) = Params::from_request(req, body) else { return Ok(None) };
    let (Ok(query), Ok((start, end)), Ok(limit), Ok(direction)) = (p.query(), p.bounds(), p.limit(), p.direction())
    else {
        return Ok(None);
    };
    if end <= start {
        return Ok(None);
    }
    let step = super::query::step_ns(&p, start, end)?;
    super::query::check_query_length(limits, start, end)?;
    let backward = direction == crate::actors::ingester::Direction::Backward;
    let parsed = parse(query);
    // query_range.align_queries_with_step: metric queries evaluated on multiples of their step
    let (start, end) = match &parsed {
        Ok(Expr::Sample(_)) if f.align_queries_with_step && interval > 0 => {
            (start.div_euclid(step) * step, end.div_euclid(step) * step)
        }
        _ => (start, end),
    };
    let mut shards: Option<Shards> = None;
    let (pieces, merge) = match parsed {
        Err(_) => return Ok(None),
        Ok(Expr::Sample(e)) => {
            shards = shards_of(f, limits, job, &e, start, end).await;
            let merge = match &shards {
                Some(s) => MergeKind::Matrix { shards: s.queries.len(), combine: s.combine },
                None if interval <= 0 => return Ok(None), // neither split nor sharded: one job
                None => MergeKind::MATRIX,
            };
            (metric_pieces(start, end, step, interval), merge)
        }
        Ok(Expr::Log(_)) if interval <= 0 || p.get("interval").is_some() => return Ok(None),
        Ok(Expr::Log(_)) => (log_pieces(start, end, interval, backward), MergeKind::Streams { backward, limit }),
    };
    let step_param = if step % 1_000_000_000 == 0 {
        format!("{}s", step / 1_000_000_000)
    } else {
        format!("{}ms", step / 1_000_000)
    };
    let keep: Vec<(String, String)> =
        p.pairs().iter().filter(|(k, _)| !matches!(k.as_str(), "start" | "end" | "since" | "step")).cloned().collect();
    // each time piece once per shard, its shards side by side (as `merge` expects them)
    let queries: Vec<Option<&String>> = match &shards {
        None => vec![None],
        Some(s) => s.queries.iter().map(Some).collect(),
    };
    let spans: Vec<(i64, i64)> = pieces.iter().flat_map(|s| queries.iter().map(move |_| *s)).collect();
    let pieces: Vec<Job> = spans
        .iter()
        .zip(queries.iter().cycle())
        .map(|(&(s, e), query)| {
            let mut q = keep.clone();
            if let Some(text) = query {
                q.iter_mut().filter(|(k, _)| k == "query").for_each(|(_, v)| v.clone_from(text));
            }
            q.extend([
                ("start".into(), s.to_string()),
                ("end".into(), e.to_string()),
                ("step".into(), step_param.clone()),
            ]);
            sub_job(job, format!("/loki/api/v1/query_range?{}", serde_urlencoded::to_string(&q).unwrap_or_default()))
        })
        .collect();
    let cache = cache_keys(f, limits, &pieces, &spans, merge);
    tracing::debug!(tenant = %job.tenant, pieces = pieces.len(), shards = queries.len(), interval_ns = interval, "query_range split");
    let max_parallel = if shards.is_some() { limits.tsdb_max_query_parallelism } else { limits.max_query_parallelism };
    Ok(Some(SplitPlan { pieces, merge, max_parallel, max_retries: f.max_retries, cache }))
}

/// With the results cache on: the cache request of each metric piece whose last
/// step is older than `max_cache_freshness_per_query` (newer answers may still
/// change) and, under `max_query_lookback`, whose first step is within the
/// lookback (an older cached answer would outlive the limit).
fn cache_keys(
    f: &Frontend,
    limits: &Limits,
    pieces: &[Job],
    spans: &[(i64, i64)],
    merge: MergeKind,
) -> Option<(std::sync::Arc<ResultsCache>, Vec<Option<CachedRequest>>)> {
    let cache = f.results_cache.clone()?;
    if !matches!(merge, MergeKind::Matrix { .. }) {
        return None;
    }
    let now = crate::model::time::now_ns();
    let newest = now.saturating_sub(limits.max_cache_freshness_per_query.0.as_nanos() as i64);
    let oldest = match limits.max_query_lookback.0.as_nanos() as i64 {
        0 => i64::MIN,
        lookback => now.saturating_sub(lookback),
    };
    let cacheable = |&(first, last): &(i64, i64)| last <= newest && first >= oldest;
    let reqs = pieces.iter().zip(spans).map(|(j, span)| cacheable(span).then(|| ResultsCache::request(j))).collect();
    Some((cache, reqs))
}
