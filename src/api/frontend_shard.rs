//! The query-frontend's stream sharding as its HTTP side plans it: how many
//! shards a query gets (an `/index/stats` job through the queue), and the plan
//! of a sharded instant query (`/loki/api/v1/query`: one job per shard, the
//! vectors combined by `frontend::merge`). Range queries are planned with their
//! time pieces in `super::frontend`; the shard logic itself is `frontend::shard`.

use actix_web::HttpRequest;

use super::error::ApiError;
use super::params::Params;
use crate::config::Limits;
use crate::frontend::merge::MergeKind;
use crate::frontend::shard::{self, Combine};
use crate::frontend::split_actor::SplitPlan;
use crate::frontend::Frontend;
use crate::logql::metric::SampleExpr;
use crate::logql::{parse, Expr};
use crate::proto::frontend::Job;

/// A query's stream shards: how their answers combine and each shard's text.
pub struct Shards {
    pub combine: Combine,
    pub queries: Vec<String>,
}

/// The shards of a metric query evaluated over `[start, end]`: `None` (run it
/// unsharded) when sharding is off, the query is not shardable, the index's
/// stats give it one shard, or a shard's text would be too long.
pub async fn shards_of(
    f: &Frontend,
    limits: &Limits,
    job: &Job,
    e: &SampleExpr,
    start: i64,
    end: i64,
) -> Option<Shards> {
    if !f.shard_queries {
        return None;
    }
    let combine = shard::plan(e)?;
    let n = shard_count(f, limits, job, e, start, end).await;
    if n <= 1 {
        return None;
    }
    Some(Shards { combine, queries: shard::shard_queries(e, n)? })
}

/// A GET sub-request of `job` (same tenant and headers, no body) for `path`.
pub fn sub_job(job: &Job, path: String) -> Job {
    Job {
        path,
        method: "GET".into(),
        headers: job.headers.iter().filter(|h| !h.name.eq_ignore_ascii_case("content-type")).cloned().collect(),
        body: Vec::new(),
        ..job.clone()
    }
}

/// The shards of a shardable instant metric query large enough by the index's
/// stats, each evaluated at the query's one time; `None` to send it whole.
pub async fn instant_plan(
    f: &Frontend,
    limits: &Limits,
    job: &Job,
    req: &HttpRequest,
    body: &[u8],
) -> Result<Option<SplitPlan>, ApiError> {
    let Ok(p) = Params::from_request(req, body) else { return Ok(None) };
    let (Ok(query), Ok(t)) = (p.query(), p.instant_time()) else { return Ok(None) };
    let Ok(Expr::Sample(e)) = parse(query) else { return Ok(None) };
    let Some(shards) = shards_of(f, limits, job, &e, t, t).await else { return Ok(None) };
    let keep: Vec<(String, String)> =
        p.pairs().iter().filter(|(k, _)| !matches!(k.as_str(), "query" | "time")).cloned().collect();
    let pieces = shards
        .queries
        .iter()
        .map(|text| {
            let mut q = keep.clone();
            // every shard at the same time, also when the request left it to "now"
            q.extend([("query".into(), text.clone()), ("time".into(), t.to_string())]);
            sub_job(job, format!("/loki/api/v1/query?{}", serde_urlencoded::to_string(&q).unwrap_or_default()))
        })
        .collect();
    tracing::debug!(tenant = %job.tenant, shards = shards.queries.len(), "instant query sharded");
    let merge = MergeKind::Vector { shards: shards.queries.len(), combine: shards.combine };
    Ok(Some(SplitPlan {
        pieces,
        merge,
        max_parallel: limits.tsdb_max_query_parallelism,
        max_retries: f.max_retries,
        cache: None,
    }))
}

/// How many stream shards a shardable query gets: from the bytes the index's
/// stats count for its selector over the data it reads (a job like any other),
/// at most `tsdb_max_bytes_per_shard` each; 1 (no sharding) when that fails.
async fn shard_count(f: &Frontend, limits: &Limits, job: &Job, e: &SampleExpr, start: i64, end: i64) -> u64 {
    let Some(selector) = shard::selector(e) else { return 1 };
    let (from, through) = shard::data_span(e, start, end);
    let q = [("query", selector), ("start", from.to_string()), ("end", through.to_string())];
    let stats =
        sub_job(job, format!("/loki/api/v1/index/stats?{}", serde_urlencoded::to_string(q).unwrap_or_default()));
    let r = f.queue.run_with_retries(stats, f.max_retries).await;
    let bytes = (r.status == 200)
        .then(|| serde_json::from_slice::<serde_json::Value>(&r.body).ok())
        .flatten()
        .and_then(|v| v["bytes"].as_u64());
    let Some(bytes) = bytes else {
        tracing::debug!(status = r.status, "index stats for sharding failed; the query runs unsharded");
        return 1;
    };
    shard::shard_count(bytes, limits.tsdb_max_bytes_per_shard.0, limits.tsdb_max_query_parallelism)
}
