//! The supervisor's read side: the querier's [`LogQuery`], [`SampleQuery`],
//! [`LabelQuery`], [`SeriesQuery`] and [`VolumeQuery`], each passed to the
//! tenant's actor (which fans it out to its shards); a tenant this ingester has
//! never seen answers empty.
//!
//! Sent by the querier (locally, or through `rpc::service` for a remote one).

use actix::{Context, Handler, Message, ResponseFuture};

use super::{unavailable, IngesterError, IngesterSupervisor};
use crate::actors::ingester::tenant::{TenantActor, TenantLabels, TenantLogs, TenantSamples, TenantSeries};
use crate::actors::ingester::volume::{TenantVolume, VolumeQuery, VolumeResult};
use crate::actors::ingester::{LogRequest, LogResult, SampleRequest, SampleResult, TimeRange};
use crate::logql::Matcher;
use crate::model::Labels;

#[derive(Message)]
#[rtype(result = "Result<LogResult, IngesterError>")]
pub struct LogQuery {
    pub tenant: String,
    pub req: LogRequest,
}

/// Samples of one range aggregation (metric queries), extracted in the shards.
#[derive(Message)]
#[rtype(result = "Result<SampleResult, IngesterError>")]
pub struct SampleQuery {
    pub tenant: String,
    pub req: SampleRequest,
}

#[derive(Message)]
#[rtype(result = "Result<Vec<String>, IngesterError>")]
pub struct LabelQuery {
    pub tenant: String,
    pub name: Option<String>,
    pub matchers: Vec<Matcher>,
    pub range: TimeRange,
}

#[derive(Message)]
#[rtype(result = "Result<Vec<Labels>, IngesterError>")]
pub struct SeriesQuery {
    pub tenant: String,
    pub groups: Vec<Vec<Matcher>>,
    pub range: TimeRange,
}

/// A tenant actor's answer as the supervisor's reply: reads that can fail answer
/// a `Result`, the label and series lookups their values.
trait Reply<T> {
    fn reply(self) -> Result<T, IngesterError>;
}

impl<T> Reply<T> for Result<T, IngesterError> {
    fn reply(self) -> Result<T, IngesterError> {
        self
    }
}

impl Reply<Vec<String>> for Vec<String> {
    fn reply(self) -> Result<Vec<String>, IngesterError> {
        Ok(self)
    }
}

impl Reply<Vec<Labels>> for Vec<Labels> {
    fn reply(self) -> Result<Vec<Labels>, IngesterError> {
        Ok(self)
    }
}

impl IngesterSupervisor {
    /// `msg` to `tenant`'s actor; `T::default()` (nothing) when this ingester never saw the tenant.
    fn ask_tenant<M, T>(&self, tenant: &str, msg: M) -> ResponseFuture<Result<T, IngesterError>>
    where
        M: Message + Send + 'static,
        M::Result: Send + Reply<T>,
        T: Default + Send + 'static,
        TenantActor: Handler<M>,
    {
        let Some(t) = self.existing(tenant) else { return Box::pin(async { Ok(T::default()) }) };
        let req = t.send(msg);
        Box::pin(async move { req.await.map_err(unavailable)?.reply() })
    }
}

impl Handler<LogQuery> for IngesterSupervisor {
    type Result = ResponseFuture<Result<LogResult, IngesterError>>;
    fn handle(&mut self, msg: LogQuery, _: &mut Context<Self>) -> Self::Result {
        self.ask_tenant(&msg.tenant, TenantLogs { req: msg.req })
    }
}

impl Handler<SampleQuery> for IngesterSupervisor {
    type Result = ResponseFuture<Result<SampleResult, IngesterError>>;
    fn handle(&mut self, msg: SampleQuery, _: &mut Context<Self>) -> Self::Result {
        self.ask_tenant(&msg.tenant, TenantSamples { req: msg.req })
    }
}

impl Handler<LabelQuery> for IngesterSupervisor {
    type Result = ResponseFuture<Result<Vec<String>, IngesterError>>;
    fn handle(&mut self, msg: LabelQuery, _: &mut Context<Self>) -> Self::Result {
        self.ask_tenant(&msg.tenant, TenantLabels { name: msg.name, matchers: msg.matchers, range: msg.range })
    }
}

impl Handler<SeriesQuery> for IngesterSupervisor {
    type Result = ResponseFuture<Result<Vec<Labels>, IngesterError>>;
    fn handle(&mut self, msg: SeriesQuery, _: &mut Context<Self>) -> Self::Result {
        self.ask_tenant(&msg.tenant, TenantSeries { groups: msg.groups, range: msg.range })
    }
}

impl Handler<VolumeQuery> for IngesterSupervisor {
    type Result = ResponseFuture<Result<VolumeResult, IngesterError>>;
    fn handle(&mut self, msg: VolumeQuery, _: &mut Context<Self>) -> Self::Result {
        self.ask_tenant(&msg.tenant, TenantVolume { req: msg.req })
    }
}
