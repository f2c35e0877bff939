//! The entry points the fuzz targets (`fuzz/fuzz_targets/*.rs`, `cargo +nightly fuzz run`) and the
//! corpus replay (`tests/fuzz_corpus.rs`, stable `cargo test`) both call, so CI replays every
//! committed corpus file through exactly the code the fuzzer ran. Each returns normally for any
//! input: a bad input must be an `Err` from bnn-gen, never a panic, a hang or an abort.

#![allow(dead_code)]

use bnn_gen::golden::GoldenModel;
use bnn_gen::{frontend, passes};
use std::path::PathBuf;

/// The marker that starts a file section in a network-directory input.
pub const FILE_MARKER: &[u8] = b"\n#@file ";

/// A scratch directory of this process and thread, emptied.
fn scratch(what: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "bnn-gen-fuzz-{what}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch directory");
    d
}

/// Splits a network-directory input into files: everything before the first `\n#@file NAME\n`
/// is `net.toml`; each marker starts a file `NAME` (a plain file name: no `/`, no `..`) holding
/// the bytes up to the next marker. The corpus is the examples' directories in this form
/// (`tests/fuzz_corpus.rs` writes them), so the fuzzer mutates TOML text and `.npy` bytes alike.
pub fn split_dir(data: &[u8]) -> Vec<(String, &[u8])> {
    let mut files = Vec::new();
    let mut name = "net.toml".to_string();
    let mut rest = data;
    loop {
        let at = rest
            .windows(FILE_MARKER.len())
            .position(|w| w == FILE_MARKER);
        let Some(at) = at else {
            files.push((name, rest));
            break;
        };
        files.push((name, &rest[..at]));
        rest = &rest[at + FILE_MARKER.len()..];
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        name = String::from_utf8_lossy(&rest[..end]).into_owned();
        rest = &rest[(end + 1).min(rest.len())..];
    }
    files
        .into_iter()
        .filter(|(n, _)| {
            !n.is_empty() && !n.contains('/') && !n.contains('\\') && n != "." && n != ".."
        })
        .collect()
}

/// The inverse of [`split_dir`] (seeds the corpus from a network directory's files).
pub fn join_dir(toml: &[u8], files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = toml.to_vec();
    for (name, bytes) in files {
        out.extend_from_slice(FILE_MARKER);
        out.extend_from_slice(name.as_bytes());
        out.push(b'\n');
        out.extend_from_slice(bytes);
    }
    out
}

/// The net.toml + .npy loader: writes the files, loads, lowers, and runs one all-minimum frame
/// through the golden model.
pub fn net_dir(data: &[u8]) {
    let dir = scratch("net");
    for (name, bytes) in split_dir(data) {
        let _ = std::fs::write(dir.join(&name), bytes);
    }
    if let Ok(mut net) = frontend::load(&dir.join("net.toml")) {
        if passes::lower(&mut net).is_ok() {
            exercise(&net);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The golden model on one frame of each input datatype's minimum (a cheap end-to-end run).
fn exercise(net: &bnn_gen::ir::Network) {
    if let Ok(g) = GoldenModel::new(net) {
        let len = net.input.shape.len();
        if len <= 1 << 16 {
            let min = match net.input.dtype {
                bnn_gen::ir::ValueType::Data(d) => d.min(),
                _ => return,
            };
            let _ = g.infer(&vec![min; len]);
        }
    }
}

/// The ONNX/QONNX importer on the bytes of a model, then lowering and one golden frame.
pub fn onnx(data: &[u8]) {
    if let Ok((mut net, _io)) = frontend::onnx::import_bytes(data, "fuzz.onnx", "fuzz") {
        if passes::lower(&mut net).is_ok() {
            exercise(&net);
        }
    }
}

/// The `run` input reader: the bytes as `--input X.npy` for the tiny example, read as integers
/// (`npy::read_int`) and as any array (`npy::read`), and the integer frames through the golden
/// model when their shape fits (what `bnn-gen run` does with them).
pub fn run_input(data: &[u8]) {
    use std::sync::OnceLock;
    static TINY: OnceLock<Option<GoldenModel>> = OnceLock::new();
    let golden = TINY.get_or_init(|| {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/tiny/net.toml");
        let path = if path.is_file() {
            path
        } else {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/tiny/net.toml")
        };
        let mut net = frontend::load(&path).ok()?;
        passes::lower(&mut net).ok()?;
        GoldenModel::new(&net).ok()
    });
    let dir = scratch("run");
    let path = dir.join("x.npy");
    if std::fs::write(&path, data).is_ok() {
        let _ = frontend::npy::read(&path);
        if let Ok(frames) = frontend::npy::read_int(&path) {
            if let Some(g) = golden {
                let _ = g.run_batch(frames.view());
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
