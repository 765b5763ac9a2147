//! `QueueService`: the gRPC `skald.frontend.Queue` service in front of a
//! [`QueueActor`]. Served on the gRPC port of a query-scheduler, and of a
//! query-frontend that keeps its own queue.
//!
//! `Enqueue` is a frontend's call and returns once a worker answered (a full
//! tenant queue answers 429 in-band); `Process` is one querier worker's stream:
//! the service asks the queue for a job on the worker's behalf, sends it, waits
//! for the worker's result and repeats until the stream ends.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use actix::Addr;
use futures::Stream;
use tokio::sync::mpsc;
use tonic::{Request, Response, Status, Streaming};

use super::metrics::queue_metrics;
use super::queue::{Enqueue, JobDone, NextJob, QueueActor, QueueError, WorkerGone, TOO_MANY_OUTSTANDING};
use crate::proto::frontend::queue_server::Queue;
use crate::proto::frontend::worker_message::Kind;
use crate::proto::frontend::{Job, JobResult, WorkerMessage};

pub struct QueueService {
    queue: Addr<QueueActor>,
    next_worker: Arc<AtomicU64>,
}

impl QueueService {
    pub fn new(queue: Addr<QueueActor>) -> QueueService {
        QueueService { queue, next_worker: Arc::new(AtomicU64::new(1)) }
    }
}

/// Runs `job` through `queue`; a full tenant queue becomes Loki's 429 answer.
pub async fn run_local(queue: &Addr<QueueActor>, job: Job) -> Result<JobResult, Status> {
    let id = job.id;
    match queue.send(Enqueue { job }).await {
        Err(_) => Err(Status::unavailable("the query queue stopped")),
        Ok(Err(QueueError::TooManyOutstanding)) => {
            Ok(JobResult { id, status: 429, headers: Vec::new(), body: TOO_MANY_OUTSTANDING.as_bytes().to_vec() })
        }
        Ok(Ok(rx)) => rx.await.map_err(|_| Status::unavailable("the query queue dropped the job")),
    }
}

#[tonic::async_trait]
impl Queue for QueueService {
    async fn enqueue(&self, req: Request<Job>) -> Result<Response<JobResult>, Status> {
        run_local(&self.queue, req.into_inner()).await.map(Response::new)
    }

    type ProcessStream = Pin<Box<dyn Stream<Item = Result<Job, Status>> + Send>>;

    async fn process(&self, req: Request<Streaming<WorkerMessage>>) -> Result<Response<Self::ProcessStream>, Status> {
        let worker = self.next_worker.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel::<Result<Job, Status>>(1);
        tokio::spawn(serve_worker(self.queue.clone(), worker, req.into_inner(), tx));
        let out = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|j| (j, rx)) });
        Ok(Response::new(Box::pin(out)))
    }
}

/// One worker's stream: job out, result in, until either side goes away.
async fn serve_worker(
    queue: Addr<QueueActor>,
    worker: u64,
    mut inbound: Streaming<WorkerMessage>,
    tx: mpsc::Sender<Result<Job, Status>>,
) {
    let querier = match inbound.message().await {
        Ok(Some(WorkerMessage { kind: Some(Kind::Hello(h)) })) => h.querier_id,
        _ => String::new(),
    };
    tracing::info!(worker, querier = %querier, "querier worker connected");
    queue_metrics().workers.inc();
    loop {
        let Ok(next) = queue.send(NextJob { worker }).await else { break };
        tokio::pin!(next);
        let job = tokio::select! {
            j = &mut next => match j { Ok(j) => j, Err(_) => break },
            _ = inbound.message() => break, // only results are expected, and none is due
        };
        if tx.send(Ok(job)).await.is_err() {
            break;
        }
        match inbound.message().await {
            Ok(Some(WorkerMessage { kind: Some(Kind::Result(result)) })) => {
                if queue.send(JobDone { worker, result }).await.is_err() {
                    break;
                }
            }
            _ => break,
        }
    }
    tracing::info!(worker, querier = %querier, "querier worker disconnected");
    queue_metrics().workers.dec();
    queue.do_send(WorkerGone { worker });
}
