//! Compiles the protobuf definitions in proto/ with protox (no protoc needed)
//! and generates prost messages and tonic services for them.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = ["proto/push.proto", "proto/ingester.proto", "proto/indexgateway.proto", "proto/frontend.proto"];
    for p in &protos {
        println!("cargo:rerun-if-changed={p}");
    }
    let fds = protox::compile(protos, ["proto"])?;
    tonic_prost_build::configure()
        .bytes(".logproto.EntryAdapter.line")
        .bytes(".skald.ingester.WireEntry.line")
        // the push is written and read by hand (src/rpc/push_wire.rs), same bytes
        .extern_path(".skald.ingester.IngesterPushRequest", "crate::rpc::push_wire::PushRequest")
        // wire-identical to tonic-prost's codec; reserves each message's size before encoding
        .codec_path("crate::rpc::codec::SizedCodec")
        .compile_fds(fds)?;
    Ok(())
}
