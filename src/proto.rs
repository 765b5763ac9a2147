//! Generated protobuf messages and gRPC services (from proto/ by build.rs).

#[allow(clippy::all, clippy::pedantic)]
pub mod logproto {
    tonic::include_proto!("logproto");
}

/// Skald's internal services (package `skald.*`; generated code refers to
/// `logproto` two levels up, hence the nesting).
pub mod skald {
    /// The ingester service (distributor -> ingester across processes).
    #[allow(clippy::all, clippy::pedantic)]
    pub mod ingester {
        tonic::include_proto!("skald.ingester");
    }

    /// The index gateway service (querier -> index-gateway).
    #[allow(clippy::all, clippy::pedantic)]
    pub mod indexgateway {
        tonic::include_proto!("skald.indexgateway");
    }

    /// The query queue (frontend/scheduler <-> querier workers).
    #[allow(clippy::all, clippy::pedantic)]
    pub mod frontend {
        tonic::include_proto!("skald.frontend");
    }
}

pub use skald::{frontend, indexgateway, ingester};
