//! The index gateway across processes. [`ChunkRefsQuery`] is the one index
//! lookup queriers make (series matching a selector with their chunk
//! references in a time range); [`IndexGatewayBridge`] answers it over gRPC
//! from a remote index-gateway, whose [`IndexGatewayService`] runs it on its own
//! `StoreReader` (index files downloaded and cached there once for all queriers).
//!
//! The querier's `StoreReader` sends `ChunkRefsQuery` to the bridge when
//! `index_gateway_client.server_address` is set.

use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Context, Handler, Message, ResponseFuture};
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status};

use super::wire;
use crate::logql::Matcher;
use crate::model::Labels;
use crate::proto::indexgateway as pb;
use crate::proto::indexgateway::index_gateway_client::IndexGatewayClient;
use crate::proto::indexgateway::index_gateway_server::IndexGateway;
use crate::querier::store::StoreReader;
use crate::storage::index::ChunkRef;
use crate::storage::object::StorageError;

/// Series and their chunk references, plus warnings about skipped index data.
pub type ChunkRefsAnswer = (Vec<(Labels, Vec<ChunkRef>)>, Vec<String>);

#[derive(Message)]
#[rtype(result = "Result<ChunkRefsAnswer, StorageError>")]
pub struct ChunkRefsQuery {
    pub tenant: String,
    pub matchers: Vec<Matcher>,
    pub start: i64,
    pub end: i64,
}

pub struct IndexGatewayBridge {
    addr: String,
    client: Option<IndexGatewayClient<Channel>>,
}

impl IndexGatewayBridge {
    pub fn new(addr: String) -> Self {
        IndexGatewayBridge { addr, client: None }
    }

    fn client(&mut self) -> Result<IndexGatewayClient<Channel>, StorageError> {
        if self.client.is_none() {
            let ep = Endpoint::from_shared(format!("http://{}", self.addr))
                .map_err(|e| StorageError::Unavailable(format!("index gateway address {}: {e}", self.addr)))?
                .connect_timeout(Duration::from_secs(2))
                .timeout(Duration::from_secs(60));
            self.client = Some(IndexGatewayClient::new(ep.connect_lazy()).max_decoding_message_size(usize::MAX));
        }
        Ok(self.client.clone().expect("set above"))
    }
}

impl Actor for IndexGatewayBridge {
    type Context = Context<Self>;
}

impl Handler<ChunkRefsQuery> for IndexGatewayBridge {
    type Result = ResponseFuture<Result<ChunkRefsAnswer, StorageError>>;
    fn handle(&mut self, m: ChunkRefsQuery, _: &mut Context<Self>) -> Self::Result {
        let client = self.client();
        let addr = self.addr.clone();
        let req = pb::ChunkRefsRequest {
            tenant: m.tenant,
            selector: wire::selector_text(&m.matchers),
            start: m.start,
            end: m.end,
        };
        Box::pin(async move {
            let r = client?
                .get_chunk_refs(req)
                .await
                .map_err(|s| StorageError::Unavailable(format!("index gateway {addr}: {}", s.message())))?;
            Ok(answer(r.into_inner()))
        })
    }
}

fn answer(r: pb::ChunkRefsResponse) -> ChunkRefsAnswer {
    let series = r
        .series
        .into_iter()
        .map(|s| {
            let labels = Labels::from_pairs_keep_empty(s.labels.into_iter().map(|p| (p.name, p.value)).collect());
            let refs = s
                .chunks
                .into_iter()
                .map(|c| ChunkRef {
                    key: c.key,
                    from: c.from,
                    through: c.through,
                    bytes: c.bytes,
                    entries: c.entries,
                    line_bytes: c.line_bytes,
                })
                .collect();
            (labels, refs)
        })
        .collect();
    (series, r.warnings)
}

fn response((series, warnings): ChunkRefsAnswer) -> pb::ChunkRefsResponse {
    let series = series
        .into_iter()
        .map(|(l, refs)| pb::SeriesRefs {
            labels: l.pairs().iter().map(|(n, v)| pb::Pair { name: n.clone(), value: v.clone() }).collect(),
            chunks: refs
                .into_iter()
                .map(|c| pb::ChunkRef {
                    key: c.key,
                    from: c.from,
                    through: c.through,
                    bytes: c.bytes,
                    entries: c.entries,
                    line_bytes: c.line_bytes,
                })
                .collect(),
        })
        .collect();
    pb::ChunkRefsResponse { series, warnings }
}

/// The index-gateway's gRPC side: lookups on its own store reader.
pub struct IndexGatewayService {
    pub store: Arc<StoreReader>,
}

#[tonic::async_trait]
impl IndexGateway for IndexGatewayService {
    async fn get_chunk_refs(
        &self,
        req: Request<pb::ChunkRefsRequest>,
    ) -> Result<Response<pb::ChunkRefsResponse>, Status> {
        let r = req.into_inner();
        crate::api::tenant::validate_tenant_id(&r.tenant).map_err(Status::invalid_argument)?;
        let matchers = wire::parse_matchers(&r.selector).map_err(|e| Status::invalid_argument(e.0))?;
        let mut warnings = Vec::new();
        let series = self
            .store
            .select_local(&r.tenant, &matchers, r.start, r.end, &mut warnings)
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        crate::metrics::metrics().index_gateway_lookups.inc();
        Ok(Response::new(response((series, warnings))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_survive_the_wire() {
        let l = Labels::parse(r#"{app="a"}"#).unwrap();
        let r = ChunkRef { key: "k".into(), from: 1, through: 2, bytes: 3, entries: 4, line_bytes: 5 };
        let a: ChunkRefsAnswer = (vec![(l, vec![r])], vec!["w".into()]);
        assert_eq!(answer(response(a.clone())), a);
    }
}
