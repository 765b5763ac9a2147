//! Cross-process calls between components. Each remote component has a bridging
//! actor that handles the same messages as the local actor, so callers hold a
//! `Recipient<M>` (or a [`pool::Peer`]) and never know whether the peer is in
//! this process.
//!
//! The ingester: [`ingester`] (the `IngesterBridge` and pushes),
//! [`ingester_read`] (queries), [`ingester_tail`] (live tails), [`wire`] (the
//! protobuf forms; [`samples_wire`] for a metric query's samples), [`service`] (the ingester's gRPC side) and [`pool`] (the ring
//! and one peer per ingester, shared by distributor and querier), [`push_wire`]
//! (the push request, encoded by hand; [`push_decode`] reads it), [`push_fast`] (the ingester's `Push`
//! read without tonic's receive copy). The index
//! gateway: [`index_gateway`]. Every service's codec: [`codec`].

pub mod codec;
pub mod index_gateway;
pub mod ingester;
pub mod ingester_read;
pub mod ingester_tail;
pub mod pool;
pub mod push_decode;
pub mod push_fast;
pub mod push_wire;
pub mod samples_wire;
pub mod service;
pub mod wire;
