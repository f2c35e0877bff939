//! Post-synthesis netlist simulation (`verify --netlist xc7|ecp5`): the design is synthesized
//! with the `build --synth` yosys flow ([`crate::codegen::synthesis::netlist`]), and the
//! gate-level netlist runs in the Verilator harness with the cell models of the same yosys, on
//! the same input words and the same stall pattern as the RTL. [`super::Bench::verify`] then
//! checks it against golden on every output word and against the RTL on the handshake cycle of
//! every input and output word and on the run length: synthesis must change neither the values
//! nor the cycle behaviour. The netlist reads no `.mem` file, so ROM contents that did not reach
//! it show up as wrong words.

use super::sim::{self, Compiled};
use crate::codegen::synthesis::netlist::{self as synth_netlist, Netlist};
use crate::codegen::synthesis::Fpga;
use crate::error::Result;
use std::path::Path;
use std::time::Instant;

/// A netlist with its compiled simulator.
pub(crate) struct NetlistBench {
    pub netlist: Netlist,
    pub compiled: Compiled,
    /// Seconds spent in the Verilator build (0 when cached).
    pub build_seconds: f64,
}

/// What the report says about the netlist.
#[derive(Clone, Debug, PartialEq)]
pub struct NetlistSummary {
    pub fpga: Fpga,
    /// The netlist file (absolute).
    pub path: std::path::PathBuf,
    /// `Yosys 0.70 (git sha1 ...)`.
    pub yosys: String,
    pub synth_command: String,
    /// Leaf cells, and how many of them hold memory contents (block RAM, LUT RAM).
    pub cells: usize,
    pub memory_cells: usize,
    pub synth_seconds: f64,
    /// The netlist of a previous run with the same sources and ROM files was reused.
    pub synth_cached: bool,
    pub build_seconds: f64,
    pub build_cached: bool,
}

impl NetlistBench {
    /// Synthesizes the design written in `dir` for `fpga` (or reuses its netlist) and compiles
    /// its simulator.
    pub fn new(
        dir: &Path,
        fpga: Fpga,
        in_bits: usize,
        out_bits: usize,
        runtime: Option<&Path>,
    ) -> Result<NetlistBench> {
        let netlist = synth_netlist::synthesize(dir, fpga, None, &|_| {})?;
        let start = Instant::now();
        let compiled = sim::compile_netlist(&netlist, in_bits, out_bits, runtime)?;
        Ok(NetlistBench {
            netlist,
            build_seconds: if compiled.cached {
                0.0
            } else {
                start.elapsed().as_secs_f64()
            },
            compiled,
        })
    }

    /// Compiles the simulator again from the netlist file as it is now on disk, e.g. after an
    /// edit (a ROM corrupted on purpose, a hand fix being tried); the synthesis is not rerun.
    pub fn reload(&mut self, runtime: Option<&Path>) -> Result<()> {
        let start = Instant::now();
        let (i, o) = (self.compiled.in_bits, self.compiled.out_bits);
        self.compiled = sim::compile_netlist(&self.netlist, i, o, runtime)?;
        self.build_seconds = if self.compiled.cached {
            0.0
        } else {
            start.elapsed().as_secs_f64()
        };
        self.netlist.cached = true;
        self.netlist.seconds = 0.0;
        Ok(())
    }

    pub fn summary(&self) -> NetlistSummary {
        NetlistSummary {
            fpga: self.netlist.fpga,
            path: self.netlist.path.clone(),
            yosys: self.netlist.yosys.version.clone(),
            synth_command: self.netlist.synth_command.clone(),
            cells: self.netlist.cells.iter().map(|(_, n)| n).sum(),
            memory_cells: self.netlist.memory_cells(),
            synth_seconds: self.netlist.seconds,
            synth_cached: self.netlist.cached,
            build_seconds: self.build_seconds,
            build_cached: self.compiled.cached,
        }
    }
}
