//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`, minimized by `cargo fuzz cmin`, and
//! the hand-made seeds in `fuzz/seeds/<target>/`) through the same entry points the fuzz targets
//! call (`fuzz/entry.rs`), on stable Rust: every input the fuzzers found interesting, and every
//! crash they found (fixed since), must come back as an ordinary result, without a panic. See
//! fuzz/README.md for running the fuzzers themselves (nightly, cargo-fuzz).

#[path = "../fuzz/entry.rs"]
mod entry;

use std::path::{Path, PathBuf};
use std::time::Instant;

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// Every file of `fuzz/{corpus,seeds}/<target>/`, sorted.
fn inputs(target: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for group in ["corpus", "seeds"] {
        let d = fuzz_dir().join(group).join(target);
        if let Ok(rd) = std::fs::read_dir(&d) {
            files.extend(
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.is_file()),
            );
        }
    }
    files.sort();
    files
}

/// Feeds every input of `target` to `f`; a panic fails the test naming the file.
fn replay(target: &str, f: fn(&[u8])) {
    let files = inputs(target);
    assert!(
        files.len() >= 3,
        "fuzz/corpus/{target} and fuzz/seeds/{target} hold {} files: the corpus is missing",
        files.len()
    );
    let start = Instant::now();
    let mut slowest = (0.0, PathBuf::new());
    for path in &files {
        let data = std::fs::read(path).unwrap();
        let t = Instant::now();
        let r = std::panic::catch_unwind(|| f(&data));
        if r.is_err() {
            panic!("{target}: {} panics (see the message above)", show(path));
        }
        let s = t.elapsed().as_secs_f64();
        if s > slowest.0 {
            slowest = (s, path.clone());
        }
    }
    eprintln!(
        "{target}: {} inputs replayed in {:.2} s (slowest {:.3} s: {})",
        files.len(),
        start.elapsed().as_secs_f64(),
        slowest.0,
        show(&slowest.1)
    );
}

fn show(p: &Path) -> String {
    p.strip_prefix(fuzz_dir())
        .unwrap_or(p)
        .display()
        .to_string()
}

#[test]
fn net_dir_corpus() {
    replay("net_dir", entry::net_dir);
}

#[test]
fn onnx_corpus() {
    replay("onnx", entry::onnx);
}

#[test]
fn run_input_corpus() {
    replay("run_input", entry::run_input);
}

#[test]
fn split_dir_round_trips_and_rejects_paths() {
    let files = vec![
        ("a.npy".to_string(), b"\x93NUMPY..".to_vec()),
        ("b.npy".to_string(), Vec::new()),
    ];
    let joined = entry::join_dir(b"name = \"x\"\n", &files);
    let split = entry::split_dir(&joined);
    assert_eq!(split.len(), 3);
    assert_eq!(split[0], ("net.toml".to_string(), &b"name = \"x\"\n"[..]));
    assert_eq!(split[1].0, "a.npy");
    assert_eq!(split[1].1, b"\x93NUMPY..");
    assert_eq!(split[2], ("b.npy".to_string(), &b""[..]));
    let evil = entry::join_dir(b"", &[("../x".to_string(), b"1".to_vec())]);
    assert_eq!(
        entry::split_dir(&evil).len(),
        1,
        "a path outside the directory is dropped"
    );
}
