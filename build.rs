//! Compiles the vendored ONNX protobuf schema (proto/onnx.proto) into Rust types with prost.
//! protox is a protobuf compiler written in Rust, so no `protoc` binary is needed to build.

fn main() {
    println!("cargo:rerun-if-changed=proto/onnx.proto");
    let descriptors =
        protox::compile(["onnx.proto"], ["proto"]).expect("proto/onnx.proto compiles");
    prost_build::Config::new()
        .compile_fds(descriptors)
        .expect("prost generates the ONNX types");
}
