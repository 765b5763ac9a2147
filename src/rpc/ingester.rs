//! `IngesterBridge`: an actor per remote ingester (and calling arbiter, see
//! `pool`), holding its tonic client and
//! handling the ingester's messages exactly as the local `IngesterSupervisor`
//! does: `Push` here, the queries in `ingester_read`, live tails in
//! `ingester_tail`. The receiving side is `service::IngesterService`.
//!
//! Created by the `IngesterPool` for every ring member that is not this process.

use std::time::Duration;

use actix::{Actor, Context, Handler, ResponseFuture};
use tonic::transport::{Channel, Endpoint};

use super::push_wire::{PushRequest, PushStream};
use crate::actors::ingester::{IngesterError, Push, PushOutcome};
use crate::distributor::labels::LabelCache;
use crate::model::entry::ts_to_parts;
use crate::model::StreamPush;
use crate::proto::ingester::ingester_client::IngesterClient;
use crate::proto::logproto::{EntryAdapter, LabelPairAdapter, StreamAdapter};

/// How long one remote query may take before it counts as failed (Loki's default query timeout).
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Streams as Loki's `StreamAdapter`s (a `logproto.PushRequest` for the Pusher API).
pub fn to_proto(streams: Vec<StreamPush>) -> Vec<StreamAdapter> {
    streams
        .into_iter()
        .map(|s| StreamAdapter {
            labels: s.labels.rendered().to_owned(),
            entries: s
                .entries
                .into_iter()
                .map(|e| EntryAdapter {
                    timestamp: Some({
                        let (seconds, nanos) = ts_to_parts(e.ts);
                        prost_types::Timestamp { seconds, nanos }
                    }),
                    line: e.line,
                    structured_metadata: e
                        .metadata
                        .into_iter()
                        .map(|(name, value)| LabelPairAdapter { name, value })
                        .collect(),
                    parsed: vec![],
                })
                .collect(),
            hash: 0,
        })
        .collect()
}

/// The push back from its wire form; `labels` resolves label strings (the same
/// streams arrive push after push, so a cache hit replaces a parse). Entries move.
pub fn from_wire(streams: Vec<PushStream>, labels: &LabelCache) -> Result<Vec<StreamPush>, String> {
    streams
        .into_iter()
        .map(|s| {
            let l = labels.resolve(&s.labels).map_err(|e| format!("stream labels {:?}: {e}", s.labels))?;
            Ok(StreamPush::new(l, s.entries))
        })
        .collect()
}

/// The push in its wire form: label strings, entries moved.
pub fn to_wire(tenant: String, streams: Vec<StreamPush>) -> PushRequest {
    PushRequest {
        tenant,
        streams: streams
            .into_iter()
            .map(|s| PushStream { labels: s.labels.rendered().to_owned(), entries: s.entries })
            .collect(),
    }
}

pub struct IngesterBridge {
    pub(super) addr: String,
    client: Option<IngesterClient<Channel>>,
    /// `ingester_client.remote_timeout`: how long one push may take.
    push_timeout: Duration,
}

impl IngesterBridge {
    /// `addr`: the remote ingester's gRPC `host:port`.
    pub fn new(addr: String, push_timeout: Duration) -> Self {
        IngesterBridge { addr, client: None, push_timeout }
    }

    pub(super) fn client(&mut self) -> Result<IngesterClient<Channel>, IngesterError> {
        if self.client.is_none() {
            let ep = Endpoint::from_shared(format!("http://{}", self.addr))
                .map_err(|e| IngesterError::Unavailable(format!("ingester address {}: {e}", self.addr)))?
                .connect_timeout(Duration::from_secs(2))
                .timeout(CALL_TIMEOUT);
            self.client = Some(
                IngesterClient::new(ep.connect_lazy())
                    .max_decoding_message_size(usize::MAX)
                    .max_encoding_message_size(usize::MAX),
            );
        }
        Ok(self.client.clone().expect("set above"))
    }
}

impl Actor for IngesterBridge {
    type Context = Context<Self>;
}

impl Handler<Push> for IngesterBridge {
    type Result = ResponseFuture<Result<PushOutcome, IngesterError>>;
    fn handle(&mut self, msg: Push, _: &mut Context<Self>) -> Self::Result {
        let client = self.client();
        let (addr, timeout) = (self.addr.clone(), self.push_timeout);
        Box::pin(async move {
            let mut client = client?;
            let mut req = tonic::Request::new(to_wire(msg.tenant, msg.streams));
            req.set_timeout(timeout);
            let r = client
                .push(req)
                .await
                .map_err(|s| IngesterError::Unavailable(format!("ingester {addr}: {}", s.message())))?;
            let r = r.into_inner();
            Ok(PushOutcome {
                accepted: r.accepted,
                accepted_bytes: r.accepted_bytes,
                errors: r.errors,
                too_many_requests: r.too_many_requests,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Entry, Labels};

    #[test]
    fn streams_round_trip_through_the_wire_form() {
        let mut e = Entry::new(-1_500_000_000, "before 1970");
        e.metadata = vec![("trace_id".into(), "abc".into())];
        let streams =
            vec![StreamPush::new(Labels::parse(r#"{app="a", env="x"}"#).unwrap(), vec![e, Entry::new(7, "x")])];
        let cache = LabelCache::new(vec![]);
        use prost::Message;
        let wire = |s: &Vec<StreamPush>| {
            let bytes = to_wire("t".into(), s.clone()).encode_to_vec();
            PushRequest::decode(bytes::Bytes::from(bytes)).unwrap().streams
        };
        let first = from_wire(wire(&streams), &cache).unwrap();
        assert_eq!(first, streams);
        // the second time round the label set comes from the cache: the same allocation
        // (a clone shares its cached rendering, a fresh parse would render anew)
        let again = from_wire(wire(&streams), &cache).unwrap();
        assert_eq!(again, streams);
        assert!(std::ptr::eq(first[0].labels.rendered(), again[0].labels.rendered()));
        assert!(!std::ptr::eq(streams[0].labels.rendered(), again[0].labels.rendered()));
        let bad = vec![PushStream { labels: "not labels".into(), entries: vec![] }];
        assert!(from_wire(bad, &cache).is_err());
    }
}
