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
    let (mut net, io) = lower::lower(&model, name)?;
    balance(&mut net);
    Ok((net, io))
}

/// Balances the default folding (`lower`: per layer PE ≤ 16 and SIMD ≤ 32, the largest
/// divisors, blind to the other layers): the auto-folding (`crate::fold`) chooses the cheapest
/// PE and SIMD, by its cost model, that keep the default's cycles per frame (its slowest
/// layer's), so no layer runs faster than the bottleneck lets it. The network `build` makes is
/// priced (after the dead-channel removal). The ROM styles stay `auto` (net.toml's default, which
/// `weight_storage = "logic"` needs), and the result is priced again with them; the default
/// stays where that is not cheaper or the auto-folding cannot price the net (an error there is
/// the build's to report, with its own message).
fn balance(net: &mut Network) {
    let price = |n: &Network| {
        let mut lowered = n.clone();
        crate::passes::lower(&mut lowered).ok()?;
        crate::fold::keep(&lowered, true).ok().map(|d| (d, lowered))
    };
    let Some((default, lowered)) = price(net) else {
        return;
    };
    let request = crate::fold::Request {
        target: Some(crate::fold::Target::Cycles(default.cost.cycles as u64)),
        ..crate::fold::Request::default()
    };
    let Ok(balanced) = crate::fold::fold(&lowered, &request) else {
        return;
    };
    let mut candidate = net.clone();
    for (layer, f) in candidate.layers.iter_mut().zip(&balanced.folds) {
        if let Some(mv) = layer.op.matvec_mut() {
            (mv.folding.pe, mv.folding.simd) = (f.pe, f.simd);
        }
    }
    let Some((priced, _)) = price(&candidate) else {
        return;
    };
    let area = |d: &crate::fold::Design| d.cost.area(&d.device);
    if priced.cost.cycles <= default.cost.cycles && area(&priced) < area(&default) {
        *net = candidate;
    }
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
