//! `SplitQueryActor`: one per split `query_range` request, alive until the
//! query is answered. It sends the planned pieces through the queue, at most
//! `max_query_parallelism` at once, makes up to `query_range.max_retries`
//! attempts of a piece failing with a 5xx or a transport error, returns a piece's 4xx
//! as the whole query's answer, stops early once a limited log query has its
//! entries, and merges the pieces' answers.
//!
//! Started by the frontend's HTTP side, which awaits [`SplitQueryActor::run`].

use std::sync::Arc;

use actix::{Actor, ActorContext, ActorFutureExt, AsyncContext, Context, WrapFuture};
use serde_json::Value;
use tokio::sync::oneshot;

use super::merge::{entries, merge, MergeKind};
use super::metrics::frontend_metrics;
use super::results_cache::{CachedRequest, ResultsCache};
use super::QueueHandle;
use crate::proto::frontend::{Job, JobResult};

/// The whole query's answer: merged JSON, or one answer to pass on as-is.
pub type SplitOutcome = Result<Value, JobResult>;

/// What to run: one job per piece, in the order their answers are wanted.
pub struct SplitPlan {
    pub pieces: Vec<Job>,
    pub merge: MergeKind,
    pub max_parallel: usize,
    pub max_retries: usize,
    /// The results cache and, per piece, its request when the piece may be cached.
    pub cache: Option<(Arc<ResultsCache>, Vec<Option<CachedRequest>>)>,
}

pub struct SplitQueryActor {
    plan: SplitPlan,
    queue: QueueHandle,
    results: Vec<Option<Value>>,
    next: usize,
    in_flight: usize,
    reply: Option<oneshot::Sender<SplitOutcome>>,
}

impl SplitQueryActor {
    /// Runs `plan` to its answer.
    pub async fn run(plan: SplitPlan, queue: QueueHandle) -> SplitOutcome {
        let (tx, rx) = oneshot::channel();
        let n = plan.pieces.len();
        SplitQueryActor { plan, queue, results: vec![None; n], next: 0, in_flight: 0, reply: Some(tx) }.start();
        rx.await.unwrap_or_else(|_| Err(failure(500, "the split query stopped without an answer")))
    }

    /// Sends pieces until `max_parallel` are in flight.
    fn launch(&mut self, ctx: &mut Context<Self>) {
        let m = frontend_metrics();
        while self.in_flight < self.plan.max_parallel.max(1) && self.next < self.plan.pieces.len() {
            let i = self.next;
            self.next += 1;
            self.in_flight += 1;
            m.subqueries.inc();
            m.in_flight.inc();
            let (queue, job, retries) = (self.queue.clone(), self.plan.pieces[i].clone(), self.plan.max_retries);
            let cached = self.plan.cache.as_ref().and_then(|(c, keys)| Some((c.clone(), keys[i].clone()?)));
            let run = run_cached_piece(queue, job, retries, cached);
            ctx.spawn(run.into_actor(self).map(move |r, act, ctx| act.finished(i, r, ctx)));
        }
        if let Some(tenant) = self.plan.pieces.first().map(|j| j.tenant.as_str()) {
            let g = m.in_flight_max.with_label_values(&[tenant]);
            if (self.in_flight as i64) > g.get() {
                g.set(self.in_flight as i64);
            }
        }
    }

    fn finished(&mut self, i: usize, r: SplitOutcome, ctx: &mut Context<Self>) {
        self.in_flight -= 1;
        frontend_metrics().in_flight.dec();
        match r {
            Err(answer) => return self.answer(Err(answer), ctx),
            Ok(v) => self.results[i] = Some(v),
        }
        if self.reply.as_ref().is_none_or(|r| r.is_closed()) {
            return ctx.stop(); // the client went away
        }
        if self.complete() {
            let parts: Vec<Value> = self.results.iter().map_while(Option::clone).collect();
            return self.answer(Ok(merge(&parts, self.plan.merge)), ctx);
        }
        self.launch(ctx);
    }

    /// Every piece answered, or the answered leading pieces hold the limit.
    fn complete(&self) -> bool {
        let done = self.results.iter().take_while(|r| r.is_some()).count();
        if done == self.results.len() {
            return true;
        }
        match self.plan.merge {
            MergeKind::Streams { limit, .. } if limit > 0 => {
                self.results[..done].iter().flatten().map(entries).sum::<usize>() >= limit
            }
            _ => false,
        }
    }

    fn answer(&mut self, r: SplitOutcome, ctx: &mut Context<Self>) {
        if let Some(tx) = self.reply.take() {
            let _ = tx.send(r);
        }
        ctx.stop();
    }
}

impl Actor for SplitQueryActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        tracing::debug!(pieces = self.plan.pieces.len(), parallel = self.plan.max_parallel, "split query started");
        if self.plan.pieces.is_empty() {
            return self.answer(Ok(merge(&[], self.plan.merge)), ctx);
        }
        self.launch(ctx);
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        // pieces still in flight were dropped with the actor's futures
        frontend_metrics().in_flight.sub(self.in_flight as i64);
    }
}

pub(super) fn failure(status: u32, msg: &str) -> JobResult {
    JobResult { id: 0, status, headers: Vec::new(), body: msg.as_bytes().to_vec() }
}

/// One piece from the results cache when it is there; else run, and stored
/// when it succeeded.
async fn run_cached_piece(
    queue: QueueHandle,
    job: Job,
    max_retries: usize,
    cache: Option<(Arc<ResultsCache>, CachedRequest)>,
) -> SplitOutcome {
    let Some((cache, req)) = cache else { return run_piece(queue, job, max_retries).await };
    if let Some(v) = cache.get(&req).await {
        return Ok(v);
    }
    let r = run_piece(queue, job, max_retries).await;
    if let Some(entry) = r.as_ref().ok().and_then(|v| cache.put(&req, v)) {
        // memcached in the background: a slow one does not hold the answer up
        actix::spawn(async move { cache.put_remote(&req, &entry).await });
    }
    r
}

/// One piece with retries: its parsed JSON answer, or the answer to pass on.
async fn run_piece(queue: QueueHandle, job: Job, max_retries: usize) -> SplitOutcome {
    let r = queue.run_with_retries(job, max_retries).await;
    if !(200..300).contains(&r.status) {
        return Err(r);
    }
    serde_json::from_slice(&r.body)
        .map_err(|e| failure(500, &format!("a querier answered something that is not JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use actix::Actor;
    use serde_json::json;

    use super::*;
    use crate::actors::scheduler::{JobDone, NextJob, QueueActor};

    fn piece(i: usize) -> Job {
        Job { tenant: "t".into(), method: "GET".into(), path: format!("/{i}"), ..Job::default() }
    }

    /// A worker answering each job with `answer(path, attempt)`.
    fn fake_worker(q: actix::Addr<QueueActor>, answer: fn(&str, usize) -> (u32, String)) {
        actix::spawn(async move {
            let mut seen: Vec<String> = Vec::new();
            while let Ok(rx) = q.send(NextJob { worker: 1 }).await {
                let Ok(job) = rx.await else { return };
                let attempt = seen.iter().filter(|p| **p == job.path).count();
                seen.push(job.path.clone());
                let (status, body) = answer(&job.path, attempt);
                let result = JobResult { id: job.id, status, headers: Vec::new(), body: body.into_bytes() };
                let _ = q.send(JobDone { worker: 1, result }).await;
            }
        });
    }

    fn matrix_answer(path: &str) -> String {
        let t: i64 = path.trim_start_matches('/').parse().unwrap_or(0);
        json!({"status": "success", "data": {"resultType": "matrix", "result": [
            {"metric": {"a": "b"}, "values": [[t, t.to_string()]]}], "stats": {}}})
        .to_string()
    }

    fn plan(n: usize) -> SplitPlan {
        SplitPlan {
            pieces: (0..n).map(piece).collect(),
            merge: MergeKind::MATRIX,
            max_parallel: 2,
            max_retries: 2,
            cache: None,
        }
    }

    #[actix::test]
    async fn failed_pieces_are_retried_and_answers_merged_in_order() {
        let q = QueueActor::new(0).start();
        fake_worker(q.clone(), |path, attempt| match (path, attempt) {
            ("/1", 0) => (500, "boom".into()),
            _ => (200, matrix_answer(path)),
        });
        let v = SplitQueryActor::run(plan(3), QueueHandle::Local(q)).await.expect("answer");
        assert_eq!(v["data"]["result"][0]["values"], json!([[0, "0"], [1, "1"], [2, "2"]]));
        assert!(frontend_metrics().retries.get() >= 1);
    }

    #[actix::test]
    async fn a_client_error_is_the_answer_and_retries_end() {
        let q = QueueActor::new(0).start();
        fake_worker(q.clone(), |path, _| match path {
            "/2" => (400, "parse error".into()),
            "/9" => (503, "down".into()),
            _ => (200, matrix_answer(path)),
        });
        let r = SplitQueryActor::run(plan(4), QueueHandle::Local(q.clone())).await.unwrap_err();
        assert_eq!((r.status, r.body.as_slice()), (400, b"parse error".as_slice()));
        let one = SplitPlan { pieces: vec![piece(9)], max_retries: 2, ..plan(0) };
        let r = SplitQueryActor::run(one, QueueHandle::Local(q)).await.unwrap_err();
        assert_eq!((r.status, r.body.as_slice()), (503, b"down".as_slice()), "the last failure after the retries");
    }
}
