//! The `IngesterBridge`'s query side: the querier's messages to a remote
//! ingester (logs, samples, labels, series, volume, open tails), each one unary
//! gRPC call with the request and result in their wire form (`wire`).

use std::future::Future;

use actix::{Context, Handler, ResponseFuture};
use tonic::transport::Channel;
use tonic::Status;

use super::ingester::IngesterBridge;
use super::{samples_wire, wire};
use crate::actors::ingester::{
    IngesterError, LabelQuery, LogQuery, LogResult, SampleQuery, SampleResult, SeriesQuery, TailersCount, VolumeQuery,
    VolumeResult,
};
use crate::model::Labels;
use crate::proto::ingester::ingester_client::IngesterClient;
use crate::proto::ingester::TailersCountRequest;

impl IngesterBridge {
    /// Runs one call on the client; transport and server errors become `Unavailable`.
    fn call<T, F, Fut>(&mut self, f: F) -> ResponseFuture<Result<T, IngesterError>>
    where
        F: FnOnce(IngesterClient<Channel>) -> Fut + 'static,
        Fut: Future<Output = Result<T, Status>> + 'static,
        T: 'static,
    {
        let client = self.client();
        let addr = self.addr.clone();
        Box::pin(async move {
            f(client?).await.map_err(|s| IngesterError::Unavailable(format!("ingester {addr}: {}", s.message())))
        })
    }
}

impl Handler<LogQuery> for IngesterBridge {
    type Result = ResponseFuture<Result<LogResult, IngesterError>>;
    fn handle(&mut self, m: LogQuery, _: &mut Context<Self>) -> Self::Result {
        let req = wire::logs_request(&m);
        self.call(|mut c| async move { Ok(wire::logs_result(c.query_logs(req).await?.into_inner())) })
    }
}

impl Handler<SampleQuery> for IngesterBridge {
    type Result = ResponseFuture<Result<SampleResult, IngesterError>>;
    fn handle(&mut self, m: SampleQuery, _: &mut Context<Self>) -> Self::Result {
        let req = samples_wire::samples_request(&m);
        self.call(|mut c| async move {
            samples_wire::samples_result(c.query_samples(req).await?.into_inner()).map_err(|e| Status::internal(e.0))
        })
    }
}

impl Handler<LabelQuery> for IngesterBridge {
    type Result = ResponseFuture<Result<Vec<String>, IngesterError>>;
    fn handle(&mut self, m: LabelQuery, _: &mut Context<Self>) -> Self::Result {
        let req = wire::labels_request(&m);
        self.call(|mut c| async move { Ok(c.labels(req).await?.into_inner().values) })
    }
}

impl Handler<SeriesQuery> for IngesterBridge {
    type Result = ResponseFuture<Result<Vec<Labels>, IngesterError>>;
    fn handle(&mut self, m: SeriesQuery, _: &mut Context<Self>) -> Self::Result {
        let req = wire::series_request(&m);
        self.call(|mut c| async move { Ok(wire::series_result(c.series(req).await?.into_inner())) })
    }
}

impl Handler<VolumeQuery> for IngesterBridge {
    type Result = ResponseFuture<Result<VolumeResult, IngesterError>>;
    fn handle(&mut self, m: VolumeQuery, _: &mut Context<Self>) -> Self::Result {
        let req = wire::volume_request(&m);
        self.call(|mut c| async move { Ok(wire::volume_result(c.volume(req).await?.into_inner())) })
    }
}

impl Handler<TailersCount> for IngesterBridge {
    type Result = ResponseFuture<Result<usize, IngesterError>>;
    fn handle(&mut self, m: TailersCount, _: &mut Context<Self>) -> Self::Result {
        let req = TailersCountRequest { tenant: m.tenant };
        self.call(|mut c| async move { Ok(c.tailers_count(req).await?.into_inner().count as usize) })
    }
}
