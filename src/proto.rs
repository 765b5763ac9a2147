//! Generated protobuf messages and gRPC services (from proto/ by build.rs).

#[allow(clippy::all, clippy::pedantic)]
pub mod logproto {
    tonic::include_proto!("logproto");
}
