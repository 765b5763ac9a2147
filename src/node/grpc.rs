//! The gRPC server (tonic): Loki's
//! `logproto.Pusher` service in front of the distributor, Skald's internal
//! `skald.ingester.Ingester` service (pushes, queries, tails) in front of the
//! local ingester, the index gateway's `skald.indexgateway.IndexGateway`, and
//! the query queue `skald.frontend.Queue` of a query-scheduler or query-frontend.
//!
//! Where it runs: in a process with an ingester, on the ingester's front arbiter
//! (the thread of its supervisor and tenant actors), so a remote push reaches
//! the supervisor without a thread wake-up (docs/benchmarks.md, "Microservices
//! mode", Session 9). Elsewhere, on a two-worker tokio runtime of its own.

use std::net::TcpListener;
use std::sync::Arc;

use anyhow::Context as _;
use tokio::sync::oneshot;
use tonic::{Request, Response, Status};

use crate::config::Config;
use crate::distributor::decode::from_proto_stream;
use crate::distributor::{Distributor, PushError};
use crate::proto::frontend::queue_server::QueueServer;
use crate::proto::indexgateway::index_gateway_server::IndexGatewayServer;
use crate::proto::logproto::pusher_server::{Pusher, PusherServer};
use crate::proto::logproto::{PushRequest, PushResponse};

pub struct GrpcServer {
    stop: Option<oneshot::Sender<()>>,
    /// Answers (or hangs up) once the server has finished.
    done: Option<oneshot::Receiver<()>>,
    /// How long `stop` waits for the calls in flight (`server.graceful_shutdown_timeout`).
    grace: std::time::Duration,
}

impl GrpcServer {
    /// Stops accepting calls and waits (at most the grace period) until the calls in flight are answered.
    /// Awaited, not blocking: calls in flight may need actors on the caller's arbiter.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(done) = self.done.take() {
            if tokio::time::timeout(self.grace, done).await.is_err() {
                tracing::warn!(grace = ?self.grace, "gRPC calls still in flight at shutdown");
            }
        }
    }
}

struct PusherService {
    distributor: Distributor,
    cfg: Arc<Config>,
}

#[tonic::async_trait]
impl Pusher for PusherService {
    async fn push(&self, req: Request<PushRequest>) -> Result<Response<PushResponse>, Status> {
        let tenant = if self.cfg.auth_enabled {
            req.metadata()
                .get("x-scope-orgid")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
                .ok_or_else(|| Status::unauthenticated("no org id"))?
        } else {
            self.cfg.no_auth_tenant.clone()
        };
        crate::api::tenant::validate_tenant_id(&tenant).map_err(Status::invalid_argument)?;
        let streams = req
            .into_inner()
            .streams
            .into_iter()
            .map(|s| from_proto_stream(s, self.distributor.label_cache()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(to_status)?;
        self.distributor.push(&tenant, streams).await.map_err(to_status)?;
        Ok(Response::new(PushResponse {}))
    }
}

fn to_status(e: PushError) -> Status {
    match e {
        PushError::BadRequest(m) | PushError::NoStreams(m) => Status::invalid_argument(m),
        PushError::TooLarge(m) | PushError::RateLimited(m) => Status::resource_exhausted(m),
        PushError::Unavailable(m) => Status::unavailable(m),
        PushError::Internal(m) => Status::internal(m),
    }
}

/// Binds the gRPC port now (so a taken port fails start-up) and serves on `home`
/// (the ingester's front arbiter) or, without one, on a thread of its own.
/// `ingester`: this process's ingester, served to remote distributors.
pub fn start(
    cfg: &Arc<Config>,
    distributor: Option<Distributor>,
    ingester: Option<actix::Addr<crate::actors::ingester::IngesterSupervisor>>,
    index_gateway: Option<Arc<crate::querier::store::StoreReader>>,
    queue: Option<actix::Addr<crate::actors::scheduler::QueueActor>>,
    home: Option<actix::ArbiterHandle>,
) -> anyhow::Result<GrpcServer> {
    let addr = if cfg.server.grpc_listen_address.is_empty() { "0.0.0.0" } else { &cfg.server.grpc_listen_address };
    let listener = TcpListener::bind((addr, cfg.server.grpc_listen_port))
        .with_context(|| format!("binding gRPC to {addr}:{}", cfg.server.grpc_listen_port))?;
    listener.set_nonblocking(true)?;
    let (tx, rx) = oneshot::channel::<()>();
    let cfg = cfg.clone();
    let (done_tx, done) = oneshot::channel::<()>();
    let grace = cfg.server.graceful_shutdown_timeout.0.max(std::time::Duration::from_secs(1));
    let serve = async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "gRPC listener");
                return;
            }
        };
        // serve_with_incoming ignores the builder's tcp_nodelay: without it small answers wait on Nagle
        let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        let max_recv = cfg.server.grpc_server_max_recv_msg_size.0 as usize;
        let max_send = cfg.server.grpc_server_max_send_msg_size.0 as usize;
        let pusher = distributor.map(|d| {
            PusherServer::new(PusherService { distributor: d, cfg: cfg.clone() })
                .max_decoding_message_size(max_recv)
                .max_encoding_message_size(max_send)
        });
        // pushes are read by hand (rpc::push_fast), the other methods by the generated server
        let ingester = ingester.map(|i| {
            crate::rpc::push_fast::PushFastPath::new(
                crate::rpc::service::IngesterService::new(i),
                max_recv.max(64 << 20),
            )
        });
        let index_gateway = index_gateway.map(|store| {
            IndexGatewayServer::new(crate::rpc::index_gateway::IndexGatewayService { store })
                .max_decoding_message_size(max_recv)
                .max_encoding_message_size(usize::MAX)
        });
        let queue = queue.map(|q| {
            QueueServer::new(crate::actors::scheduler::service::QueueService::new(q))
                .max_decoding_message_size(crate::actors::scheduler::MAX_MESSAGE_BYTES)
                .max_encoding_message_size(crate::actors::scheduler::MAX_MESSAGE_BYTES)
        });
        // pings notice peers that vanished without closing (a querier holding a job)
        let res = tonic::transport::Server::builder()
            .http2_keepalive_interval(Some(std::time::Duration::from_secs(10)))
            .http2_keepalive_timeout(Some(std::time::Duration::from_secs(5)))
            .max_frame_size(Some(1 << 20))
            .add_optional_service(pusher)
            .add_optional_service(ingester)
            .add_optional_service(index_gateway)
            .add_optional_service(queue)
            .serve_with_incoming_shutdown(incoming, async {
                let _ = rx.await;
            })
            .await;
        if let Err(e) = res {
            tracing::error!(error = %e, "gRPC server failed");
        }
        let _ = done_tx.send(());
    };
    match home {
        Some(arbiter) => {
            if !arbiter.spawn(serve) {
                anyhow::bail!("the ingester's arbiter stopped before the gRPC server started");
            }
        }
        None => {
            std::thread::Builder::new().name("grpc".into()).spawn(move || {
                match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
                    Ok(rt) => rt.block_on(serve),
                    Err(e) => tracing::error!(error = %e, "cannot start the gRPC runtime"),
                }
            })?;
        }
    }
    Ok(GrpcServer { stop: Some(tx), done: Some(done), grace })
}
