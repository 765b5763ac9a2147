//! Cross-process calls between components. Each remote component has a bridging
//! actor that handles the same messages as the local actor, so callers hold a
//! `Recipient<M>` and never know whether the peer is in this process.
//!
//! [`ingester`]: the distributor's `IngesterBridge` and the ingester's gRPC side.

pub mod ingester;
