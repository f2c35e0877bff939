//! Import of QONNX models (as exported by Brevitas, cleaned by `qonnx.util.cleanup`, or streamlined
//! by FINN) into the IR, for dense networks. See `docs/import.md` for what is supported and how each
//! construct maps to `net.toml`.
//!
//! - [`proto`]: the ONNX protobuf types (prost, from the vendored `proto/onnx.proto`);
//! - [`graph`]: decoding, the opset check, initializers, attributes;
//! - [`lower`]: the graph → [`Network`] + [`FloatIo`] by symbolic evaluation;
//! - [`chain`]: a layer's float32 ops up to its quantizer, and the threshold search on them that
//!   reproduces the graph's float32 rounding.

mod chain;
pub mod graph;
mod lower;
pub mod proto;

use crate::error::{Error, Result};
use crate::frontend::float_io::{self, FloatIo};
use crate::ir::Network;
use std::path::Path;

/// Largest model file read, in bytes.
const MAX_FILE: u64 = 1 << 30;

/// Imports `path` (an `.onnx` file): the network (activations already as integer thresholds, default
/// folding) and its float input/output conventions.
pub fn import(path: &Path) -> Result<(Network, FloatIo)> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.len() > MAX_FILE {
        return Err(Error::invalid(
            path.display().to_string(),
            "larger than 1 GiB: not a small quantized network",
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    import_bytes(&bytes, &path.display().to_string(), &net_name(path))
}

/// [`import`] on the bytes of a file named `file`.
pub fn import_bytes(bytes: &[u8], file: &str, name: &str) -> Result<(Network, FloatIo)> {
    let model = graph::decode(bytes, file)?;
    lower::lower(&model, name)
}

/// A valid network name from the file stem (`[A-Za-z_][A-Za-z0-9_-]*`).
fn net_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let mut name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        name.insert(0, '_');
    }
    name
}

/// Writes an imported network into `dir` as `net.toml` (with `[input.quantizer]` and `[output]`)
/// plus `.npy` files.
pub fn write(net: &Network, io: &FloatIo, dir: &Path) -> Result<()> {
    let mut files = crate::frontend::export::to_files(net, &Default::default()).map_err(|e| {
        Error::Unsupported(format!(
            "cannot write the imported network as net.toml: {e}\nhelp: `run`, `check`, `build` and `verify` take the .onnx file directly"
        ))
    })?;
    let (_, toml) = files.last_mut().expect("net.toml is last");
    toml.extend_from_slice(float_io::to_toml(io).as_bytes());
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    for (name, bytes) in &files {
        let p = dir.join(name);
        std::fs::write(&p, bytes).map_err(|e| Error::io(&p, e))?;
    }
    Ok(())
}
