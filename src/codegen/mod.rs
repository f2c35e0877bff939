//! The Verilog backend: `bnn-gen build NET --target verilog -o DIR`.
//!
//! [`generate`] turns a lowered network into the files of a synthesizable design, in memory and
//! deterministic (same input, same bytes); [`build`] writes them into a directory it owns. The
//! hardware-specific lowering (padding, popcount-domain thresholds, link sizes) is
//! [`crate::passes::pad`]; the askama templates in `templates/` only lay out wiring and data; all
//! logic is in the hand-written modules of `hw/` ([`hwlib`]). Conventions: `docs/hardware.md`.
//!
//! Layout of DIR:
//!
//! | path | |
//! |---|---|
//! | `.bnn-gen` | marker: this directory was written by `bnn-gen build` |
//! | `rtl/<net>_top.v`, `rtl/<net>_<layer>.v`, `rtl/bnn_*.v` | the design |
//! | `rtl/bnn_axis_monitor.v`, `bnn_gen_sim.f` | simulation only: the AXI-Stream protocol monitors and the file list that switches them on |
//! | `mem/<layer>_w<PE>.mem`, `mem/<layer>_t<PE>.mem` | ROM contents |
//! | `bnn_gen.f`, `synth_yosys.ys`, `vivado.tcl` | file list and synthesis scripts |
//! | `README.md`, `report.json` | documentation and the machine-readable summary |
//! | `synth/<target>/` | `build --synth`: the synthesis and place-and-route runs ([`synthesis`]) |

pub mod bits;
pub mod cost;
pub mod hwlib;
pub mod report;
pub mod stream;
pub mod stream_cost;
pub mod synthesis;
mod verilog;
pub mod yosys;

pub use verilog::{SIM_FILE_LIST, SIM_MONITOR_DEFINE};

use crate::error::{Error, Result};
use crate::hwir::HwNetwork;
use crate::ir::Network;
use crate::passes::pad;
use std::path::{Path, PathBuf};

/// Name of the marker file `build` leaves in every directory it writes.
pub const MARKER: &str = ".bnn-gen";

/// The marker's contents.
const MARKER_TEXT: &str =
    "This directory was written by `bnn-gen build`; the next build overwrites it.\n";

/// Files (relative to DIR) a build writes outside `rtl/` and `mem/`, plus what `--synth` adds;
/// removed before a rebuild so nothing stale survives.
const TOP_FILES: [&str; 8] = [
    "bnn_gen.f",
    verilog::SIM_FILE_LIST,
    "synth_yosys.ys",
    "vivado.tcl",
    "README.md",
    "report.json",
    yosys::STAT_FILE,
    yosys::LOG_FILE,
];

/// One generated file: its path relative to the output directory and its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedFile {
    pub path: String,
    pub contents: Vec<u8>,
}

/// A generated design, in memory.
#[derive(Clone, Debug)]
pub struct Design {
    pub hw: HwNetwork,
    /// The top module's name (`<net>_top`).
    pub top: String,
    /// Every file, in a fixed order.
    pub files: Vec<GeneratedFile>,
    /// The streams the simulation-only protocol monitors watch (`bnn_gen_sim.f`), as their
    /// violations name them: the ports and every stream between two blocks.
    pub monitored_links: Vec<String>,
}

impl Design {
    /// The contents of generated file `path` (e.g. `"report.json"`).
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        self.files
            .iter()
            .find(|f| f.path == path)
            .map(|f| f.contents.as_slice())
    }
}

/// Options of [`build`].
#[derive(Clone, Copy, Debug, Default)]
pub struct BuildOptions {
    /// Write into an existing non-empty directory without the `.bnn-gen` marker.
    pub force: bool,
}

/// Generates the design of a lowered network (see the module docs). Errors for networks the
/// backend does not support yet (conv2d, maxpool) come from [`pad::pad`].
pub fn generate(net: &Network) -> Result<Design> {
    let hw = pad::pad(net)?;
    verilog::generate(hw)
}

/// Generates the design of `net` and writes it into `dir` (created if missing). Refuses a
/// directory that exists, is not empty and has no [`MARKER`], unless `options.force`. A directory
/// with the marker is cleaned of the previous build's files first.
pub fn build(net: &Network, dir: &Path, options: BuildOptions) -> Result<Design> {
    let design = generate(net)?;
    write(&design, dir, options)?;
    Ok(design)
}

/// Writes a generated design into `dir` (see [`build`]).
pub fn write(design: &Design, dir: &Path, options: BuildOptions) -> Result<()> {
    prepare_dir(dir, options)?;
    for f in &design.files {
        let path = dir.join(&f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        std::fs::write(&path, &f.contents).map_err(|e| Error::io(&path, e))?;
    }
    let marker = dir.join(MARKER);
    std::fs::write(&marker, MARKER_TEXT).map_err(|e| Error::io(&marker, e))?;
    Ok(())
}

fn prepare_dir(dir: &Path, options: BuildOptions) -> Result<()> {
    if dir.exists() {
        if !dir.is_dir() {
            return Err(Error::invalid(
                dir.display().to_string(),
                "exists and is not a directory".to_string(),
            ));
        }
        let ours = dir.join(MARKER).is_file();
        let empty = std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .next()
            .is_none();
        if !ours && !empty && !options.force {
            return Err(Error::invalid(
                dir.display().to_string(),
                format!(
                    "the directory exists, is not empty and was not written by bnn-gen (no {MARKER} \
                     file); choose another output directory or pass --force to write into it"
                ),
            ));
        }
        if ours {
            for sub in ["rtl", "mem", synthesis::SYNTH_DIR] {
                let p = dir.join(sub);
                if p.is_dir() {
                    std::fs::remove_dir_all(&p).map_err(|e| Error::io(&p, e))?;
                }
            }
            for f in TOP_FILES {
                let p = dir.join(f);
                if p.is_file() {
                    std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
                }
            }
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))
}

/// Runs the system yosys on a built design in `dir` with its generated `synth_yosys.ys` (Xilinx
/// 7-series) and returns the cell counts of its `stat`. `build --synth` is the full flow (pinned
/// tools, per-layer counts, place and route) and writes `report.json`; this is the quick check
/// that the emitted script works with whatever yosys is on `PATH`.
pub fn synth_yosys(dir: &Path, top: &str) -> Result<yosys::ResourceCounts> {
    yosys::run_yosys(dir, top)
}

/// The path of the generated top file in `dir`.
pub fn top_file(dir: &Path, design: &Design) -> PathBuf {
    dir.join("rtl").join(format!("{}.v", design.top))
}
