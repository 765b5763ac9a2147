//! `QueueActor`: per-tenant FIFO queues served round-robin to waiting querier
//! workers, with Loki's per-tenant bound on queued requests.
//!
//! Frontends send [`Enqueue`] (locally, or through the gRPC `Queue` service) and
//! await the job's result; each querier worker stream sends [`NextJob`], runs
//! the job, answers [`JobDone`], and [`WorkerGone`] when its stream ends. A job
//! whose worker went away is queued again once, then fails with a 5xx.

use std::collections::{HashMap, VecDeque};

use actix::{Actor, Context, Handler, Message, MessageResult};
use serde::Serialize;
use tokio::sync::oneshot;

use super::metrics::queue_metrics;
use crate::actors::Observe;
use crate::proto::frontend::{Job, JobResult};

/// Loki's answer when a tenant's queue is full (HTTP 429).
pub const TOO_MANY_OUTSTANDING: &str = "too many outstanding requests";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    #[error("too many outstanding requests")]
    TooManyOutstanding,
}

/// Queue a job; the receiver yields its result.
pub struct Enqueue {
    pub job: Job,
}

impl Message for Enqueue {
    type Result = Result<oneshot::Receiver<JobResult>, QueueError>;
}

/// A worker is free: the receiver yields its next job.
pub struct NextJob {
    pub worker: u64,
}

impl Message for NextJob {
    type Result = oneshot::Receiver<Job>;
}

/// A worker's answer to the job it holds.
pub struct JobDone {
    pub worker: u64,
    pub result: JobResult,
}

impl Message for JobDone {
    type Result = ();
}

/// A worker's stream ended (the querier stopped or crashed).
pub struct WorkerGone {
    pub worker: u64,
}

impl Message for WorkerGone {
    type Result = ();
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct QueueCounters {
    pub enqueued: u64,
    pub rejected: u64,
    pub dispatched: u64,
    pub completed: u64,
    pub requeued: u64,
    pub failed: u64,
    pub cancelled: u64,
    /// Jobs waiting in the queues now.
    pub queued: usize,
    /// Jobs a worker holds now.
    pub in_flight: usize,
    /// Workers waiting for a job now.
    pub idle_workers: usize,
}

struct Pending {
    job: Job,
    requeued: bool,
    reply: oneshot::Sender<JobResult>,
}

pub struct QueueActor {
    max_per_tenant: usize,
    queues: HashMap<String, VecDeque<Pending>>,
    /// Tenants with queued jobs, in the order they are served.
    rotation: VecDeque<String>,
    waiting: VecDeque<(u64, oneshot::Sender<Job>)>,
    in_hand: HashMap<u64, Pending>,
    next_id: u64,
    counters: QueueCounters,
}

impl QueueActor {
    /// `max_per_tenant`: queued jobs one tenant may have (0: no bound).
    pub fn new(max_per_tenant: usize) -> QueueActor {
        QueueActor {
            max_per_tenant,
            queues: HashMap::new(),
            rotation: VecDeque::new(),
            waiting: VecDeque::new(),
            in_hand: HashMap::new(),
            next_id: 1,
            counters: QueueCounters::default(),
        }
    }

    fn enqueue(&mut self, mut job: Job) -> Result<oneshot::Receiver<JobResult>, QueueError> {
        let len = self.queues.get(&job.tenant).map_or(0, VecDeque::len);
        if self.max_per_tenant > 0 && len >= self.max_per_tenant {
            self.counters.rejected += 1;
            queue_metrics().rejected.inc();
            tracing::debug!(tenant = %job.tenant, queued = len, "tenant queue full");
            return Err(QueueError::TooManyOutstanding);
        }
        job.id = self.next_id;
        self.next_id += 1;
        let (tx, rx) = oneshot::channel();
        self.counters.enqueued += 1;
        self.push(Pending { job, requeued: false, reply: tx }, false);
        self.dispatch();
        Ok(rx)
    }

    /// Queues `p` at the back of its tenant's queue, or at the front (a retry).
    fn push(&mut self, p: Pending, front: bool) {
        let tenant = p.job.tenant.clone();
        let q = self.queues.entry(tenant.clone()).or_default();
        if front {
            q.push_front(p);
        } else {
            q.push_back(p);
        }
        if !self.rotation.contains(&tenant) {
            if front {
                self.rotation.push_front(tenant);
            } else {
                self.rotation.push_back(tenant);
            }
        }
    }

    /// The next job in tenant round-robin order, skipping jobs nobody awaits.
    fn pop(&mut self) -> Option<Pending> {
        while let Some(tenant) = self.rotation.pop_front() {
            let Some(q) = self.queues.get_mut(&tenant) else { continue };
            let next = q.pop_front();
            if q.is_empty() {
                self.queues.remove(&tenant);
            } else {
                self.rotation.push_back(tenant);
            }
            match next {
                Some(p) if p.reply.is_closed() => self.counters.cancelled += 1,
                Some(p) => return Some(p),
                None => {}
            }
        }
        None
    }

    /// Hands queued jobs to waiting workers.
    fn dispatch(&mut self) {
        while let Some((worker, tx)) = self.waiting.pop_front() {
            if tx.is_closed() {
                continue;
            }
            let Some(p) = self.pop() else {
                self.waiting.push_front((worker, tx));
                break;
            };
            match tx.send(p.job.clone()) {
                Ok(()) => {
                    self.counters.dispatched += 1;
                    tracing::debug!(worker, job = p.job.id, tenant = %p.job.tenant, "job dispatched");
                    self.in_hand.insert(worker, p);
                }
                Err(_) => self.push(p, true),
            }
        }
    }

    fn next_job(&mut self, worker: u64) -> oneshot::Receiver<Job> {
        let (tx, rx) = oneshot::channel();
        self.waiting.push_back((worker, tx));
        self.dispatch();
        rx
    }

    fn job_done(&mut self, worker: u64, result: JobResult) {
        match self.in_hand.remove(&worker) {
            Some(p) if p.job.id == result.id => {
                self.counters.completed += 1;
                let _ = p.reply.send(result);
            }
            Some(p) => {
                tracing::warn!(worker, job = p.job.id, answered = result.id, "a worker answered another job");
                self.in_hand.insert(worker, p);
            }
            None => tracing::debug!(worker, job = result.id, "answer for a job no longer held"),
        }
    }

    fn worker_gone(&mut self, worker: u64) {
        self.waiting.retain(|(w, _)| *w != worker);
        let Some(mut p) = self.in_hand.remove(&worker) else { return };
        if p.requeued {
            self.counters.failed += 1;
            tracing::warn!(worker, job = p.job.id, tenant = %p.job.tenant, "job failed: its queriers went away twice");
            let _ = p.reply.send(JobResult {
                id: p.job.id,
                status: 500,
                headers: Vec::new(),
                body: b"the querier running the query went away".to_vec(),
            });
        } else {
            self.counters.requeued += 1;
            queue_metrics().requeued.inc();
            tracing::info!(worker, job = p.job.id, tenant = %p.job.tenant, "querier went away: job queued again");
            p.requeued = true;
            self.push(p, true);
            self.dispatch();
        }
    }

    /// Publishes the queue's current sizes as metrics.
    fn publish(&self) {
        let m = queue_metrics();
        m.queued.set(self.queues.values().map(VecDeque::len).sum::<usize>() as i64);
        m.in_flight.set(self.in_hand.len() as i64);
    }

    fn observe(&self) -> QueueCounters {
        QueueCounters {
            queued: self.queues.values().map(VecDeque::len).sum(),
            in_flight: self.in_hand.len(),
            idle_workers: self.waiting.len(),
            ..self.counters.clone()
        }
    }
}

impl Actor for QueueActor {
    type Context = Context<Self>;
}

impl Handler<Enqueue> for QueueActor {
    type Result = Result<oneshot::Receiver<JobResult>, QueueError>;
    fn handle(&mut self, m: Enqueue, _: &mut Context<Self>) -> Self::Result {
        let r = self.enqueue(m.job);
        self.publish();
        r
    }
}

impl Handler<NextJob> for QueueActor {
    type Result = MessageResult<NextJob>;
    fn handle(&mut self, m: NextJob, _: &mut Context<Self>) -> Self::Result {
        let rx = self.next_job(m.worker);
        self.publish();
        MessageResult(rx)
    }
}

impl Handler<JobDone> for QueueActor {
    type Result = ();
    fn handle(&mut self, m: JobDone, _: &mut Context<Self>) {
        self.job_done(m.worker, m.result);
        self.publish();
    }
}

impl Handler<WorkerGone> for QueueActor {
    type Result = ();
    fn handle(&mut self, m: WorkerGone, _: &mut Context<Self>) {
        self.worker_gone(m.worker);
        self.publish();
    }
}

impl Handler<Observe<QueueCounters>> for QueueActor {
    type Result = MessageResult<Observe<QueueCounters>>;
    fn handle(&mut self, _: Observe<QueueCounters>, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.observe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(tenant: &str, path: &str) -> Job {
        Job { tenant: tenant.into(), path: path.into(), method: "GET".into(), ..Job::default() }
    }

    fn answer(id: u64) -> JobResult {
        JobResult { id, status: 200, ..JobResult::default() }
    }

    /// Takes the next job for `worker` and answers it at once; its path.
    fn serve(q: &mut QueueActor, worker: u64) -> Option<String> {
        let mut rx = q.next_job(worker);
        let j = rx.try_recv().ok()?;
        q.job_done(worker, answer(j.id));
        Some(j.path)
    }

    #[test]
    fn tenants_are_served_round_robin() {
        let mut q = QueueActor::new(0);
        let mut keep = Vec::new();
        for i in 0..4 {
            keep.push(q.enqueue(job("a", &format!("a{i}"))).unwrap());
        }
        keep.push(q.enqueue(job("b", "b0")).unwrap());
        keep.push(q.enqueue(job("c", "c0")).unwrap());
        keep.push(q.enqueue(job("b", "b1")).unwrap());
        let order: Vec<String> = std::iter::from_fn(|| serve(&mut q, 1)).collect();
        assert_eq!(order, ["a0", "b0", "c0", "a1", "b1", "a2", "a3"]);
        let c = q.observe();
        assert_eq!((c.enqueued, c.completed, c.queued), (7, 7, 0));
    }

    #[test]
    fn a_full_tenant_queue_rejects_only_that_tenant() {
        let mut q = QueueActor::new(2);
        let _a = [q.enqueue(job("a", "1")).unwrap(), q.enqueue(job("a", "2")).unwrap()];
        let err = q.enqueue(job("a", "3")).unwrap_err();
        assert_eq!(err, QueueError::TooManyOutstanding);
        assert_eq!(err.to_string(), TOO_MANY_OUTSTANDING);
        let _b = q.enqueue(job("b", "1")).unwrap();
        // a dispatched job no longer counts as queued
        assert_eq!(serve(&mut q, 1).as_deref(), Some("1"));
        let _a3 = q.enqueue(job("a", "3")).unwrap();
        assert_eq!(q.observe().rejected, 1);
    }

    #[test]
    fn waiting_workers_get_jobs_as_they_arrive() {
        let mut q = QueueActor::new(0);
        let mut w1 = q.next_job(1);
        let mut w2 = q.next_job(2);
        assert_eq!(q.observe().idle_workers, 2);
        let mut r = q.enqueue(job("a", "x")).unwrap();
        let j = w1.try_recv().expect("the first waiting worker gets it");
        assert!(w2.try_recv().is_err());
        q.job_done(1, JobResult { id: j.id, status: 204, ..JobResult::default() });
        assert_eq!(r.try_recv().unwrap().status, 204);
    }

    #[test]
    fn a_vanished_worker_job_is_requeued_once_then_fails() {
        let mut q = QueueActor::new(0);
        let mut r = q.enqueue(job("a", "x")).unwrap();
        let first = q.next_job(1).try_recv().unwrap();
        q.worker_gone(1);
        let again = q.next_job(2).try_recv().expect("requeued");
        assert_eq!(again.id, first.id);
        q.worker_gone(2);
        let res = r.try_recv().expect("failed");
        assert_eq!(res.status, 500);
        assert_eq!(q.observe().requeued, 1);
        assert_eq!(q.observe().failed, 1);
    }

    #[test]
    fn jobs_nobody_awaits_are_skipped() {
        let mut q = QueueActor::new(0);
        drop(q.enqueue(job("a", "gone")).unwrap());
        let _r = q.enqueue(job("a", "kept")).unwrap();
        assert_eq!(serve(&mut q, 1).as_deref(), Some("kept"));
        assert_eq!(q.observe().cancelled, 1);
    }
}
