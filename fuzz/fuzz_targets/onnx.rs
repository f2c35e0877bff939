#![no_main]
//! `cargo +nightly fuzz run onnx`: see fuzz/entry.rs.

#[path = "../entry.rs"]
mod entry;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entry::onnx(data));
