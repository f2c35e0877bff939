#![no_main]
//! `cargo +nightly fuzz run run_input`: see fuzz/entry.rs.

#[path = "../entry.rs"]
mod entry;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entry::run_input(data));
