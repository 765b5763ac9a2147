//! `QuerierWorker`: one concurrency slot of a querier. It keeps one `Process`
//! stream open to a queue (query-scheduler or query-frontend), says hello,
//! receives one job at a time, runs it as an HTTP request against this node's
//! own API (loopback, `127.0.0.1:server.http_listen_port`) and sends back the
//! answer. A broken stream is opened again with backoff.
//!
//! Started and stopped by the [`super::manager::WorkerManager`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, ActorContext, ActorFutureExt, AsyncContext, Context, Handler, Message, MessageResult, WrapFuture};
use serde::Serialize;
use tokio::sync::mpsc;
use tonic::transport::Endpoint;

use super::WORKER_HEADER;
use crate::actors::Observe;
use crate::proto::frontend::queue_client::QueueClient;
use crate::proto::frontend::worker_message::Kind;
use crate::proto::frontend::{Header, Hello, Job, JobResult, WorkerMessage};

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
enum WorkerError {
    #[error("connecting to {0}: {1}")]
    Connect(String, String),
    #[error("stream: {0}")]
    Stream(String),
}

/// Stops the worker (its address left the queue's membership).
pub struct Stop;

impl Message for Stop {
    type Result = ();
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct WorkerCounters {
    pub jobs: u64,
    pub connects: u64,
}

/// What the worker's loop shares with the actor.
#[derive(Default)]
struct Shared {
    jobs: AtomicU64,
    connects: AtomicU64,
}

pub struct QuerierWorker {
    /// The queue's gRPC `host:port`.
    addr: String,
    /// This node's HTTP API, e.g. `http://127.0.0.1:3100`.
    local: String,
    querier_id: String,
    http: reqwest::Client,
    shared: Arc<Shared>,
}

impl QuerierWorker {
    pub fn new(addr: String, local: String, querier_id: String, http: reqwest::Client) -> QuerierWorker {
        QuerierWorker { addr, local, querier_id, http, shared: Arc::default() }
    }
}

impl Actor for QuerierWorker {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let (addr, local, id, http, shared) =
            (self.addr.clone(), self.local.clone(), self.querier_id.clone(), self.http.clone(), self.shared.clone());
        let run = async move {
            let mut backoff = MIN_BACKOFF;
            loop {
                match process(&addr, &local, &id, &http, &shared).await {
                    Ok(()) => backoff = MIN_BACKOFF,
                    Err(e) => tracing::debug!(queue = %addr, error = %e, "querier worker stream ended"),
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        };
        ctx.spawn(run.into_actor(self).map(|(), _, _| ()));
    }
}

impl Handler<Stop> for QuerierWorker {
    type Result = ();
    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        tracing::info!(queue = %self.addr, "querier worker stopped");
        ctx.stop();
    }
}

impl Handler<Observe<WorkerCounters>> for QuerierWorker {
    type Result = MessageResult<Observe<WorkerCounters>>;
    fn handle(&mut self, _: Observe<WorkerCounters>, _: &mut Context<Self>) -> Self::Result {
        MessageResult(WorkerCounters {
            jobs: self.shared.jobs.load(Ordering::Relaxed),
            connects: self.shared.connects.load(Ordering::Relaxed),
        })
    }
}

/// One stream's life: connect, hello, then job after job until it breaks.
async fn process(
    addr: &str,
    local: &str,
    id: &str,
    http: &reqwest::Client,
    shared: &Shared,
) -> Result<(), WorkerError> {
    let endpoint = Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| WorkerError::Connect(addr.into(), e.to_string()))?
        .connect_timeout(Duration::from_secs(5))
        // a queue host that vanished without closing the connection is noticed
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(5))
        .keep_alive_while_idle(true);
    let channel = endpoint.connect().await.map_err(|e| WorkerError::Connect(addr.into(), e.to_string()))?;
    let (tx, rx) = mpsc::channel::<WorkerMessage>(1);
    tx.send(WorkerMessage { kind: Some(Kind::Hello(Hello { querier_id: id.to_string() })) })
        .await
        .map_err(|e| WorkerError::Stream(e.to_string()))?;
    let outbound = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|m| (m, rx)) });
    let mut inbound = QueueClient::new(channel)
        .max_decoding_message_size(crate::actors::scheduler::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(crate::actors::scheduler::MAX_MESSAGE_BYTES)
        .process(outbound)
        .await
        .map_err(|e| WorkerError::Stream(e.to_string()))?
        .into_inner();
    shared.connects.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(queue = %addr, "querier worker connected");
    while let Some(job) = inbound.message().await.map_err(|e| WorkerError::Stream(e.to_string()))? {
        let result = execute(local, http, job).await;
        shared.jobs.fetch_add(1, Ordering::Relaxed);
        tx.send(WorkerMessage { kind: Some(Kind::Result(result)) })
            .await
            .map_err(|e| WorkerError::Stream(e.to_string()))?;
    }
    Ok(())
}

/// Runs `job` against this node's HTTP API; failures become 5xx answers.
pub async fn execute(local: &str, http: &reqwest::Client, job: Job) -> JobResult {
    let fail = |status: u32, msg: String| JobResult { id: job.id, status, headers: Vec::new(), body: msg.into_bytes() };
    if !job.path.starts_with('/') {
        return fail(400, format!("bad path {:?}: a job runs against this querier's own API", job.path));
    }
    let Ok(method) = reqwest::Method::from_bytes(job.method.as_bytes()) else {
        return fail(400, format!("bad method {:?}", job.method));
    };
    let mut req = http.request(method, format!("{local}{}", job.path)).header(WORKER_HEADER, "1");
    for h in &job.headers {
        if !matches!(
            h.name.to_ascii_lowercase().as_str(),
            "host" | "content-length" | "connection" | "accept-encoding" | "upgrade"
        ) {
            req = req.header(h.name.as_str(), h.value.as_str());
        }
    }
    let started = std::time::Instant::now();
    let resp = match req.body(job.body.clone()).send().await {
        Ok(r) => r,
        Err(e) => return fail(502, format!("querier: {e}")),
    };
    let status = u32::from(resp.status().as_u16());
    let headers = resp
        .headers()
        .iter()
        .filter(|(n, _)| matches!(n.as_str(), "content-type" | "content-encoding"))
        .filter_map(|(n, v)| Some(Header { name: n.to_string(), value: v.to_str().ok()?.to_string() }))
        .collect();
    match resp.bytes().await {
        Ok(body) => {
            tracing::debug!(job = job.id, tenant = %job.tenant, status, took = ?started.elapsed(), "job done");
            JobResult { id: job.id, status, headers, body: body.to_vec() }
        }
        Err(e) => fail(502, format!("querier: reading the answer: {e}")),
    }
}
