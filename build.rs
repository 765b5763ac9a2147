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
        .compile_fds(fds)?;
    Ok(())
}
