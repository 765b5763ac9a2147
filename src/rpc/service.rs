//! `IngesterService`: the ingester's gRPC side, served on its gRPC port. Each
//! call is turned back into the ingester's own message (`wire`) and sent to the
//! local `IngesterSupervisor`; pushes from remote distributors, queries and
//! tails from remote queriers.

use actix::dev::ToEnvelope;
use actix::{Addr, Handler, Message};
use tonic::{Request, Response, Status};

use super::ingester::from_wire;
use super::ingester_tail::{tail_stream, TailStream};
use super::push_wire::PushRequest;
use super::samples_wire;
use super::wire::{self, WireError};
use crate::actors::ingester::{IngesterError, IngesterSupervisor, Push, TailersCount};
use crate::distributor::labels::LabelCache;
use crate::proto::ingester as pb;
use crate::proto::ingester::ingester_server::Ingester;

pub struct IngesterService {
    ingester: Addr<IngesterSupervisor>,
    /// Label strings of pushed streams, parsed once (no `service_name` discovery:
    /// the distributor has done it).
    labels: LabelCache,
}

fn status(e: IngesterError) -> Status {
    match e {
        IngesterError::Unavailable(m) => Status::unavailable(m),
        e => Status::internal(e.to_string()),
    }
}

fn bad(e: WireError) -> Status {
    Status::invalid_argument(e.0)
}

impl IngesterService {
    pub fn new(ingester: Addr<IngesterSupervisor>) -> Self {
        IngesterService { ingester, labels: LabelCache::new(vec![]) }
    }

    /// Sends one message to the local ingester and maps both error layers.
    async fn ask<M, T>(&self, m: M) -> Result<T, Status>
    where
        M: Message<Result = Result<T, IngesterError>> + Send + 'static,
        T: Send + 'static,
        IngesterSupervisor: Handler<M>,
        <IngesterSupervisor as actix::Actor>::Context: ToEnvelope<IngesterSupervisor, M>,
    {
        self.ingester.send(m).await.map_err(|e| Status::unavailable(e.to_string()))?.map_err(status)
    }
}

#[tonic::async_trait]
impl Ingester for IngesterService {
    async fn push(&self, req: Request<PushRequest>) -> Result<Response<pb::IngesterPushResponse>, Status> {
        let req = req.into_inner();
        crate::api::tenant::validate_tenant_id(&req.tenant).map_err(Status::invalid_argument)?;
        let streams = from_wire(req.streams, &self.labels).map_err(Status::invalid_argument)?;
        let out = self.ask(Push { tenant: req.tenant, streams }).await?;
        Ok(Response::new(pb::IngesterPushResponse {
            accepted: out.accepted,
            accepted_bytes: out.accepted_bytes,
            errors: out.errors,
            too_many_requests: out.too_many_requests,
        }))
    }

    async fn query_logs(&self, req: Request<pb::LogsRequest>) -> Result<Response<pb::LogsResponse>, Status> {
        let q = wire::logs_query(req.into_inner()).map_err(bad)?;
        Ok(Response::new(wire::logs_response(self.ask(q).await?)))
    }

    async fn query_samples(&self, req: Request<pb::SamplesRequest>) -> Result<Response<pb::SamplesResponse>, Status> {
        let (q, compact) = samples_wire::samples_query(req.into_inner()).map_err(bad)?;
        Ok(Response::new(samples_wire::samples_response(self.ask(q).await?, compact)))
    }

    async fn labels(&self, req: Request<pb::LabelsRequest>) -> Result<Response<pb::LabelsResponse>, Status> {
        let q = wire::labels_query(req.into_inner()).map_err(bad)?;
        Ok(Response::new(pb::LabelsResponse { values: self.ask(q).await? }))
    }

    async fn series(&self, req: Request<pb::SeriesRequest>) -> Result<Response<pb::SeriesResponse>, Status> {
        let q = wire::series_query(req.into_inner()).map_err(bad)?;
        Ok(Response::new(wire::series_response(self.ask(q).await?)))
    }

    async fn volume(&self, req: Request<pb::VolumeRequest>) -> Result<Response<pb::VolumeResponse>, Status> {
        let q = wire::volume_query(req.into_inner()).map_err(bad)?;
        Ok(Response::new(wire::volume_response(self.ask(q).await?)))
    }

    async fn tailers_count(
        &self,
        req: Request<pb::TailersCountRequest>,
    ) -> Result<Response<pb::TailersCountResponse>, Status> {
        let n = self.ask(TailersCount { tenant: req.into_inner().tenant }).await?;
        Ok(Response::new(pb::TailersCountResponse { count: n as u64 }))
    }

    type TailStream = TailStream;

    async fn tail(&self, req: Request<pb::TailRequest>) -> Result<Response<Self::TailStream>, Status> {
        Ok(Response::new(tail_stream(self.ingester.clone(), req.into_inner()).await?))
    }
}
