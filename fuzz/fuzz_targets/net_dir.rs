#![no_main]
//! `cargo +nightly fuzz run net_dir`: see fuzz/entry.rs.

#[path = "../entry.rs"]
mod entry;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entry::net_dir(data));
