//! The ONNX protobuf types, generated at build time by prost from the vendored `proto/onnx.proto`
//! (see `build.rs`). Only decoding is used.

#![allow(clippy::all, missing_docs, dead_code)]

include!(concat!(env!("OUT_DIR"), "/onnx.rs"));
