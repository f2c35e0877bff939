//! `bnn-gen verify`: builds the generated design, simulates it at the register-transfer level and
//! checks it word for word and cycle for cycle against the two other models of the project.
//!
//! 1. [`Bench::new`] generates the design ([`codegen::generate`]) into a directory `bnn-gen` owns
//!    (the `.bnn-gen` marker guard of [`codegen::write`]) and compiles the RTL simulator:
//!    Verilator with the generic AXI-Stream harness `sim/axis_tb.cpp` (IN_BITS/OUT_BITS from the
//!    stream formats), or Icarus with a generated Verilog testbench (`templates/tb_icarus.v`) that
//!    implements the same stall generator, cycle numbering and output files.
//! 2. [`Bench::verify`] packs the frames into input words ([`codegen::stream::pack_input`]), runs
//!    the simulator with pseudo-random back-pressure (tvalid gaps on the input, tready drops on
//!    the output, probability `stall`, the exact xorshift32 pattern of `sim/README.md`) and
//!    compares every output word bit-exactly with the golden model ([`GoldenModel`]); padding
//!    slots of a raw output are don't-care, spare TDATA bits must be zero.
//! 3. Three-way: the cycle-accurate simulator ([`crate::cyclesim::CycleSim`]) runs the same input
//!    words with the same stall seed; it must agree with golden on every output word and with the
//!    RTL on every output word, on the handshake cycle of every output word and of every accepted
//!    input word, and on the number of cycles simulated.
//! 4. Timing: from a run without stalls (the main run when `stall` is 0, else an extra run of the
//!    same frames, also fully checked) the steady-state cycles per frame (spacing of the frames'
//!    last output words over the second half of the frames) and the latency (first input
//!    handshake of a frame to its last output handshake), next to the ideal max over layers of
//!    NF·SF and `report.json`'s latency estimate.
//!
//! The first difference found is reported as a [`Failure`] naming the run, frame, word, cycle and
//! both values; [`run`] returns `Ok` with the failure inside the report (an `Err` means the
//! verification could not be carried out: a missing tool, a compile error, a bad input file).

mod monitor;
mod netlist;
mod sim;

pub use monitor::{MonitorLog, ProtocolViolation, Rule, When};
pub use netlist::NetlistSummary;
pub use sim::{build_verilator_runtime, SimRun, Simulator};

use crate::codegen::bits::Bits;
use crate::codegen::synthesis::Fpga;
use crate::codegen::{self, stream, BuildOptions, Design};
use crate::cyclesim::{CycleSim, RunConfig, Stalls, Words};
use crate::error::{Error, Result};
use crate::golden::GoldenModel;
use crate::hwir::{HwElement, HwKind, HwNetwork, StreamFormat};
use crate::ir::Network;
use crate::progress::Progress;
use ndarray::{ArrayD, ArrayViewD, Axis, Slice};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Frames verified when neither a count nor an input file is given.
pub const DEFAULT_FRAMES: usize = 100;

/// Options of [`run`] (the `verify` command line).
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    /// Frames to run: random ones when `input` is `None` ([`DEFAULT_FRAMES`] if unset), else the
    /// first `frames` of `input` (all if unset).
    pub frames: Option<usize>,
    /// Seed of the random frames ([`crate::synth::frames_for`]); its low 32 bits seed the stall
    /// generator.
    pub seed: u64,
    /// Stall probability on both streams (0 = none).
    pub stall: f64,
    pub simulator: Simulator,
    /// Explicit input frames `[N, *input shape]` (values of the input datatype).
    pub input: Option<ArrayD<i64>>,
    /// Design directory; `None` = `build/verify-<net>` (relative to the working directory). It
    /// must be empty, new, or written by bnn-gen.
    pub dir: Option<PathBuf>,
    /// Also run the cycle-accurate simulator and compare all three models.
    pub cycle_sim: bool,
    /// When `stall > 0`, also run the frames without stalls to measure throughput and latency.
    pub timing_run: bool,
    /// A prebuilt Verilator runtime library ([`build_verilator_runtime`]) to link.
    pub verilator_runtime: Option<PathBuf>,
    /// Show a progress bar (frames through the RTL simulator) on standard error when it is a
    /// terminal and the runs take longer than a second ([`crate::progress`]).
    pub progress: bool,
    /// Also synthesize the design for this family with yosys (the `build --synth` flow), write
    /// the gate-level netlist and simulate it with the family's cell models in Verilator, in the
    /// same harness: golden == netlist on every output word, RTL == netlist on every handshake
    /// cycle ([`netlist`]).
    pub netlist: Option<Fpga>,
    /// Build the Verilator model optimized (`-O3`, C++ at `-O2`): about a minute more to
    /// compile, several times faster to run; for long runs (`scripts/soak`). Default: `-O1`
    /// C++, which compiles fastest and suits the tests' short runs.
    pub optimize: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            frames: None,
            seed: 1,
            stall: 0.0,
            simulator: Simulator::Verilator,
            input: None,
            dir: None,
            cycle_sim: true,
            timing_run: true,
            verilator_runtime: None,
            progress: false,
            netlist: None,
            optimize: false,
        }
    }
}

impl VerifyOptions {
    /// The stall generator's seed: the low 32 bits of `seed`.
    pub fn stall_seed(&self) -> u32 {
        self.seed as u32
    }
}

/// The model that produced a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    Golden,
    CycleSim,
    Rtl(Simulator),
    /// The gate-level netlist yosys wrote for this family, in Verilator.
    Netlist(Fpga),
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Model::Golden => f.write_str("golden model"),
            Model::CycleSim => f.write_str("cycle simulator"),
            Model::Rtl(s) => write!(f, "{s}"),
            Model::Netlist(fpga) => write!(f, "the {} netlist (verilator)", fpga.name()),
        }
    }
}

/// What went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// An output word differs from the golden model.
    WrongOutput,
    /// Fewer output words than expected before the timeout.
    MissingOutput,
    /// More output words than expected.
    ExtraOutput,
    /// Not every input word was accepted although every output word arrived.
    InputNotAccepted,
    /// The cycle simulator and the RTL (or, with `--netlist`, the RTL and the netlist) disagree
    /// on a word, a handshake cycle or the run length.
    ModelsDiverge,
    /// An AXI-Stream protocol monitor of the RTL (`hw/bnn_axis_monitor.v`) saw a link break a
    /// rule; the failure names the link and the cycle.
    ProtocolViolation,
}

/// The first difference found.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    pub kind: FailureKind,
    /// The model that disagrees with the reference (golden, or the RTL for
    /// [`FailureKind::ModelsDiverge`]).
    pub model: Model,
    /// Stall probability of the run.
    pub stall: f64,
    pub frame: Option<usize>,
    /// Word within the frame (output word, or input word for an input handshake).
    pub word: Option<usize>,
    pub cycle: Option<u64>,
    /// The full description (frame, word, cycle, expected and actual values).
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, stall {}] {}", self.model, self.stall, self.message)
    }
}

/// One layer's share of the timing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerCycles {
    pub name: String,
    /// How the cycles come about: `NFxSF` (dense), `NFxSFxpixels` (conv), `KKxCWxpixels` (pool).
    pub formula: String,
    /// Ideal cycles per frame.
    pub cycles: u64,
}

/// One simulator run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    pub stall: f64,
    /// Cycles simulated.
    pub cycles: u64,
    /// Mean spacing of the frames' last output words over the second half of the frames.
    pub cycles_per_frame: Option<f64>,
    /// The cycle simulator was compared on this run.
    pub three_way: bool,
}

/// Throughput and latency, measured without stalls.
#[derive(Clone, Debug, PartialEq)]
pub struct Timing {
    /// Steady-state cycles per frame: (last(N−1) − last(h)) / (N−1−h), h = ⌊(N−1)/2⌋, with
    /// last(f) the handshake cycle of frame f's last output word (`None` for one frame).
    pub cycles_per_frame: Option<f64>,
    /// Smallest and largest spacing last(f) − last(f−1) over the same frames.
    pub interval_min: Option<u64>,
    pub interval_max: Option<u64>,
    /// Frame 0 through an idle pipeline: first input handshake to last output handshake.
    pub latency: u64,
    /// The largest such latency of any frame (frames queue behind the slowest layer).
    pub latency_max: u64,
}

/// The result of [`run`].
#[derive(Clone, Debug)]
pub struct VerifyReport {
    pub network: String,
    pub top: String,
    pub dir: PathBuf,
    pub simulator: Simulator,
    pub frames: usize,
    /// The frames were random (`synth::frames_for`), not given.
    pub random_input: bool,
    pub seed: u64,
    pub stall: f64,
    pub in_bits: usize,
    pub out_bits: usize,
    pub in_words_per_frame: usize,
    pub out_words_per_frame: usize,
    pub layers: Vec<LayerCycles>,
    /// max over layers of NF·SF.
    pub ideal_ii: u64,
    /// `report.json`'s `latency_cycles_estimate`.
    pub latency_estimate: u64,
    pub runs: Vec<RunSummary>,
    /// From the stall-free run (`None` if it was not made or failed).
    pub timing: Option<Timing>,
    /// The RTL's decoded result of every frame (class indices with a head, else the true
    /// output channels), when every frame arrived.
    pub outputs: Vec<Vec<i64>>,
    pub failure: Option<Failure>,
    /// The number of streams the RTL's AXI-Stream protocol monitors watched (ports and links).
    pub monitored_links: usize,
    /// `--netlist`: the netlist simulated beside the RTL on every run.
    pub netlist: Option<NetlistSummary>,
    /// The Verilator build was reused (same RTL as the last build in this directory).
    pub cached_build: bool,
    pub build_seconds: f64,
    pub sim_seconds: f64,
}

impl VerifyReport {
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let three = self.runs.iter().any(|r| r.three_way);
        writeln!(
            f,
            "verify {}: {} {} frame(s){}, stall {}, {}{}",
            self.network,
            self.frames,
            if self.random_input { "random" } else { "given" },
            if self.random_input {
                format!(" (seed {})", self.seed)
            } else {
                String::new()
            },
            self.stall,
            self.simulator,
            if three { " + cycle simulator" } else { "" }
        )?;
        writeln!(
            f,
            "  design:     {} (top {}; in {} bits x {} words/frame, out {} bits x {} words/frame)",
            self.dir.display(),
            self.top,
            self.in_bits,
            self.in_words_per_frame,
            self.out_bits,
            self.out_words_per_frame
        )?;
        match &self.failure {
            None => {
                let words = self.frames * self.out_words_per_frame;
                let inputs = self.frames * self.in_words_per_frame;
                if three {
                    writeln!(
                        f,
                        "  PASS:       golden == cycle simulator == {} on all {words} output words of every run; \
                         cycle simulator == {} on the handshake cycle of every output and all {inputs} input words",
                        self.simulator, self.simulator
                    )?;
                } else {
                    writeln!(
                        f,
                        "  PASS:       {} == golden on all {words} output words of every run",
                        self.simulator
                    )?;
                }
            }
            Some(fail) => writeln!(f, "  FAIL:       {fail}")?,
        }
        if self
            .failure
            .as_ref()
            .is_none_or(|f| f.kind != FailureKind::ProtocolViolation)
        {
            writeln!(
                f,
                "  protocol:   no AXI-Stream violation on the {} monitored streams (ports and every link between blocks){}",
                self.monitored_links,
                match self.simulator {
                    Simulator::Verilator => "; X/Z is invisible to Verilator (two-state), checked by --sim icarus",
                    Simulator::Icarus => ", X/Z on tvalid/tready included",
                }
            )?;
        }
        if let Some(n) = &self.netlist {
            let verdict = if self.failure.is_none() {
                format!(
                    "== golden on every output word, == {} on the handshake cycle of every input and output word",
                    self.simulator
                )
            } else {
                "see FAIL above".to_string()
            };
            writeln!(
                f,
                "  netlist:    {} {verdict} ({}, {}: {} cells, {} of them block or LUT RAM; synthesis {}, build {})",
                n.fpga.name(),
                n.path.display(),
                n.yosys,
                n.cells,
                n.memory_cells,
                if n.synth_cached {
                    "cached".to_string()
                } else {
                    format!("{:.1} s", n.synth_seconds)
                },
                if n.build_cached {
                    "cached".to_string()
                } else {
                    format!("{:.1} s", n.build_seconds)
                },
            )?;
        }
        let layers = self
            .layers
            .iter()
            .map(|l| format!("{} {}={}", l.name, l.formula, l.cycles))
            .collect::<Vec<_>>()
            .join(", ");
        if let Some(t) = &self.timing {
            match (t.cycles_per_frame, t.interval_min, t.interval_max) {
                (Some(c), Some(lo), Some(hi)) => writeln!(
                    f,
                    "  throughput: {c:.1} cycles/frame in steady state without stalls (spacing {lo}..{hi}); \
                     ideal {} cycles/frame, the slowest layer ({layers})",
                    self.ideal_ii
                )?,
                _ => writeln!(
                    f,
                    "  throughput: one frame only, not measured; ideal {} cycles/frame, the slowest layer ({layers})",
                    self.ideal_ii
                )?,
            }
            writeln!(
                f,
                "  latency:    {} cycles (frame 0, first input to last output handshake, idle pipeline; \
                 estimate {}); at most {} under back-to-back frames",
                t.latency, self.latency_estimate, t.latency_max
            )?;
        } else {
            writeln!(
                f,
                "  throughput: not measured; ideal {} cycles/frame, the slowest layer ({layers})",
                self.ideal_ii
            )?;
        }
        for r in &self.runs {
            write!(f, "  run:        stall {}: {} cycles", r.stall, r.cycles)?;
            if let Some(c) = r.cycles_per_frame {
                write!(f, ", {c:.1} cycles/frame")?;
            }
            writeln!(f)?;
        }
        write!(
            f,
            "  time:       build {:.1} s{}, simulation {:.1} s",
            self.build_seconds,
            if self.cached_build { " (cached)" } else { "" },
            self.sim_seconds
        )
    }
}

/// A generated design with a compiled simulator, ready to run frames.
pub struct Bench {
    design: Design,
    golden: GoldenModel,
    compiled: sim::Compiled,
    /// `--netlist`: the synthesized netlist and its simulator.
    netlist: Option<netlist::NetlistBench>,
    build_seconds: f64,
}

impl Bench {
    /// Generates the design of the lowered network `net` into `options.dir` (or
    /// `build/verify-<net>`) and compiles `options.simulator` for it.
    pub fn new(net: &Network, options: &VerifyOptions) -> Result<Bench> {
        Self::from_design(net, codegen::generate(net)?, options)
    }

    /// As [`Bench::new`], for a design already generated from `net` and possibly edited (a
    /// replaced library module, for instance: the protocol-monitor tests inject faulty blocks
    /// this way). The golden model and the cycle simulator still model the unedited design.
    pub fn from_design(net: &Network, design: Design, options: &VerifyOptions) -> Result<Bench> {
        let start = Instant::now();
        let golden = GoldenModel::new(net)?;
        let dir = match &options.dir {
            Some(d) => d.clone(),
            None => PathBuf::from("build").join(format!("verify-{}", design.hw.ident)),
        };
        codegen::write(&design, &dir, BuildOptions { force: false })?;
        let compiled = sim::compile(
            options.simulator,
            &dir,
            &design,
            options.verilator_runtime.as_deref(),
            options.optimize,
        )?;
        let netlist = match options.netlist {
            Some(fpga) => Some(netlist::NetlistBench::new(
                &compiled.dir,
                fpga,
                design.hw.input_stream().tdata_bits,
                design.hw.output_stream().tdata_bits,
                options.verilator_runtime.as_deref(),
            )?),
            None => None,
        };
        Ok(Bench {
            design,
            golden,
            compiled,
            netlist,
            build_seconds: start.elapsed().as_secs_f64(),
        })
    }

    /// The design directory (absolute).
    pub fn dir(&self) -> &Path {
        &self.compiled.dir
    }

    pub fn design(&self) -> &Design {
        &self.design
    }

    pub fn hw(&self) -> &HwNetwork {
        &self.design.hw
    }

    /// `--netlist`: the netlist file the bench simulates.
    pub fn netlist_path(&self) -> Option<&Path> {
        self.netlist.as_ref().map(|n| n.netlist.path.as_path())
    }

    /// `--netlist`: compiles the netlist's simulator again from the netlist file as it is on
    /// disk now (after an edit: `tests/netlist.rs` zeroes a ROM this way); no new synthesis.
    /// Writing the design again (a new [`Bench`]) would replace the edited netlist.
    pub fn reload_netlist(&mut self, options: &VerifyOptions) -> Result<()> {
        match &mut self.netlist {
            Some(n) => n.reload(options.verilator_runtime.as_deref()),
            None => Err(Error::Unsupported(
                "this bench has no netlist (VerifyOptions::netlist was None)".into(),
            )),
        }
    }

    /// Runs `frames` (`[N, *input shape]`) through the design as `options` says (stall, seed,
    /// cycle simulator, timing run) and compares them; see the module docs.
    pub fn verify(&self, frames: ArrayViewD<i64>, options: &VerifyOptions) -> Result<VerifyReport> {
        let hw = &self.design.hw;
        if !(0.0..1.0).contains(&options.stall) {
            return Err(Error::invalid(
                "stall",
                format!(
                    "the stall probability must be in [0, 1), found {}",
                    options.stall
                ),
            ));
        }
        let (fin, fout) = (hw.input_stream(), hw.output_stream());
        let expected = self.golden.run_batch(frames.view())?;
        let n = frames.shape()[0];
        if n == 0 {
            return Err(Error::invalid("input frames", "no frames to verify"));
        }
        let frames = frames.as_standard_layout();
        let flat = frames.as_slice().expect("standard layout");
        let frame_len = flat.len().checked_div(n).unwrap_or(0);
        let frame = |f: usize| &flat[f * frame_len..(f + 1) * frame_len];
        let expected_std = expected.as_standard_layout();
        let exp_flat = expected_std.as_slice().expect("standard layout");
        let exp_len = exp_flat.len().checked_div(n).unwrap_or(0);
        let golden_of = |f: usize| &exp_flat[f * exp_len..(f + 1) * exp_len];

        // Input words, as hex lines (the simulators' input file) and as cycle-simulator words.
        let mut hex = String::new();
        for f in 0..n {
            for w in stream::pack_input(hw, frame(f))
                .map_err(|e| Error::invalid(format!("frame {f}"), e.to_string()))?
            {
                hex.push_str(&w.to_hex());
                hex.push('\n');
            }
        }
        let in_words = Words::from_hex_lines(&hex, fin.tdata_bits)?;
        // Expected output words with their care masks.
        let mut want = Vec::with_capacity(n * fout.words_per_frame);
        for f in 0..n {
            want.extend(expected_words(&fout, golden_of(f)));
        }

        let n_in = n * fin.words_per_frame;
        let expect = n * fout.words_per_frame;
        let ii = hw.ideal_ii() as u64;
        let latency_estimate = codegen::report::latency(hw).0;
        let ctx = Ctx {
            bench: self,
            fout: &fout,
            wpi: fin.words_per_frame,
            wpo: fout.words_per_frame,
            want: &want,
            frame: &frame,
            golden_of: &golden_of,
        };

        let mut stalls = vec![options.stall];
        if options.stall > 0.0 && options.timing_run {
            stalls.push(0.0);
        }
        let start = Instant::now();
        let mut cyclesim = if options.cycle_sim {
            Some(CycleSim::new(hw)?)
        } else {
            None
        };
        let mut runs = Vec::new();
        let mut timing = None;
        let mut outputs = Vec::new();
        let mut failure = None;
        let bar = if options.progress {
            Progress::new(
                &format!("verify ({})", self.compiled.simulator),
                (n * stalls.len()) as u64,
            )
        } else {
            Progress::hidden()
        };
        for (r, &stall) in stalls.iter().enumerate() {
            let spec = sim::RunSpec {
                n_in,
                expect,
                timeout: timeout(hw, n, &fin, &fout, stall, latency_estimate),
                extra: ii.max(64) + 16,
                seed: options.stall_seed(),
                stall,
            };
            // The cycle simulator runs in a second thread while the RTL simulator runs.
            let (rtl, cyc) = std::thread::scope(|s| {
                let cyc = cyclesim.as_mut().map(|c| {
                    let in_words = &in_words;
                    s.spawn(move || {
                        let cfg = RunConfig {
                            stalls: Stalls::both(stall, spec.seed),
                            timeout: spec.timeout,
                            extra: spec.extra,
                        };
                        let r = c.run_words(in_words, expect, &cfg);
                        SimRun {
                            outputs: (0..r.outputs.len()).map(|i| r.outputs.hex(i)).collect(),
                            out_cycles: r.out_cycles,
                            in_cycles: r.in_cycles,
                            cycles: r.cycles,
                            monitors: MonitorLog::default(),
                        }
                    })
                });
                let rtl = if options.progress {
                    // Count the frames the RTL simulator has written while it runs.
                    self.compiled.clear_outputs();
                    let main = std::thread::current();
                    let hex = &hex;
                    let run = s.spawn(move || {
                        let r = self.compiled.run(hex, &spec);
                        main.unpark();
                        r
                    });
                    let mut words = sim::LineCount::new(self.compiled.out_file());
                    while !run.is_finished() {
                        bar.set((r * n + words.poll() / ctx.wpo) as u64);
                        std::thread::park_timeout(std::time::Duration::from_millis(100));
                    }
                    run.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
                } else {
                    self.compiled.run(&hex, &spec)
                };
                let cyc = cyc.map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
                (rtl, cyc)
            });
            bar.set(((r + 1) * n) as u64);
            let rtl = rtl?;
            self.check_monitors_ran(&rtl)?;
            if let Some(fail) = ctx.check(stall, n_in, expect, &rtl, cyc.as_ref()) {
                failure = Some(fail);
                break;
            }
            // The netlist after the RTL passed: its failures are then synthesis's alone.
            if let Some(nb) = &self.netlist {
                let nl = nb.compiled.run(&hex, &spec)?;
                let model = Model::Netlist(nb.netlist.fpga);
                let fail = ctx
                    .against_golden(model, stall, n_in, expect, &nl, Some((ctx.rtl(), &rtl)))
                    .or_else(|| ctx.diverge(stall, (ctx.rtl(), &rtl), (model, &nl)));
                if let Some(mut fail) = fail {
                    fail.message.push_str(&format!(
                        "\nhelp: the RTL passed, so synthesis changed the design: the netlist is {} \
                         ({}; ROM contents are the INIT/INITVAL parameters of its memory cells)",
                        nb.netlist.path.display(),
                        nb.netlist.synth_command
                    ));
                    failure = Some(fail);
                    break;
                }
            }
            let t = measure(&rtl, n, ctx.wpi, ctx.wpo);
            runs.push(RunSummary {
                stall,
                cycles: rtl.cycles,
                cycles_per_frame: t.cycles_per_frame,
                three_way: cyc.is_some(),
            });
            if stall == 0.0 {
                timing = Some(t);
            }
            if outputs.is_empty() {
                for f in 0..n {
                    let words = (0..ctx.wpo)
                        .map(|w| {
                            parse_word(&rtl.outputs[f * ctx.wpo + w], fout.tdata_bits)
                                .expect("checked")
                        })
                        .collect::<Vec<_>>();
                    outputs.push(stream::unpack_output(hw, &words)?);
                }
            }
        }
        Ok(VerifyReport {
            network: hw.name.clone(),
            top: self.design.top.clone(),
            dir: self.compiled.dir.clone(),
            simulator: self.compiled.simulator,
            frames: n,
            random_input: options.input.is_none(),
            seed: options.seed,
            stall: options.stall,
            in_bits: fin.tdata_bits,
            out_bits: fout.tdata_bits,
            in_words_per_frame: fin.words_per_frame,
            out_words_per_frame: fout.words_per_frame,
            layers: hw
                .layers
                .iter()
                .map(|l| LayerCycles {
                    name: l.name.clone(),
                    formula: match &l.kind {
                        HwKind::Mvtu(m) if m.vectors == 1 => format!("{}x{}", m.nf(), m.sf()),
                        HwKind::Mvtu(m) | HwKind::Vvau(m) => {
                            format!("{}x{}x{}", m.nf(), m.sf(), m.vectors)
                        }
                        HwKind::Pool(p) => format!("{}x{}x{}", p.kk, p.cw, p.pixels),
                        HwKind::Gap(g) => format!("{}x{}", g.pixels, g.cw),
                    },
                    cycles: l.cycles() as u64,
                })
                .collect(),
            ideal_ii: ii,
            latency_estimate,
            runs,
            timing,
            outputs,
            failure,
            monitored_links: self.design.monitored_links.len(),
            netlist: self.netlist.as_ref().map(|n| n.summary()),
            cached_build: self.compiled.cached,
            build_seconds: self.build_seconds,
            sim_seconds: start.elapsed().as_secs_f64(),
        })
    }
}

impl Bench {
    /// Every monitor of the design must have announced itself: otherwise the simulator was built
    /// without them and a clean run would prove nothing about the protocol.
    fn check_monitors_ran(&self, rtl: &SimRun) -> Result<()> {
        let want = &self.design.monitored_links;
        let got = &rtl.monitors.links;
        let missing: Vec<&String> = want.iter().filter(|l| !got.contains(l)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(Error::Unsupported(format!(
            "{}: {} of the {} AXI-Stream protocol monitors did not run (first missing: {}); \
             the simulator was not built from {}\nhelp: delete {} to force a rebuild",
            self.compiled.simulator,
            missing.len(),
            want.len(),
            missing[0],
            crate::codegen::SIM_FILE_LIST,
            self.compiled.dir.join("sim").display()
        )))
    }
}

/// The frames `options` asks for: the first `frames` of `input`, or random ones.
pub fn input_frames(net: &Network, options: &VerifyOptions) -> Result<ArrayD<i64>> {
    match &options.input {
        Some(a) => {
            if a.ndim() == 0 {
                return Err(Error::invalid(
                    "input frames",
                    "expected an array [N, *input shape]",
                ));
            }
            let n = options.frames.unwrap_or(a.shape()[0]).min(a.shape()[0]);
            Ok(a.slice_axis(Axis(0), Slice::from(..n)).to_owned())
        }
        None => Ok(crate::synth::frames_for(
            net,
            options.frames.unwrap_or(DEFAULT_FRAMES),
            options.seed,
        )),
    }
}

/// Builds the design of the lowered network `net`, runs the frames `options` asks for and
/// compares every model (see the module docs). `Ok` carries a report that may hold a
/// [`Failure`]; `Err` means the verification could not run.
pub fn run(net: &Network, options: &VerifyOptions) -> Result<VerifyReport> {
    let frames = input_frames(net, options)?;
    let bench = Bench::new(net, options)?;
    bench.verify(frames.view(), options)
}

// ---------------------------------------------------------------------------------------------
// Comparison
// ---------------------------------------------------------------------------------------------

/// One expected output word: the value bits and which bits matter.
struct Want {
    value: Bits,
    care: Bits,
}

/// The words of one frame's golden result `values` (class indices or true channels): element
/// slots past the true elements are don't-care, spare TDATA bits must be zero.
fn expected_words(fmt: &StreamFormat, values: &[i64]) -> Vec<Want> {
    let b = fmt.element.bits() as usize;
    let epw = fmt.elements_per_word;
    let mut words: Vec<(Bits, Bits)> = (0..fmt.words_per_frame)
        .map(|_| (Bits::zero(fmt.tdata_bits), Bits::zero(fmt.tdata_bits)))
        .collect();
    for (e, &v) in values.iter().enumerate().take(fmt.elements) {
        let s = fmt.layout.slot(e);
        let (value, care) = &mut words[s / epw];
        value.set((s % epw) * b, b, fmt.element.encode(v));
        care.set((s % epw) * b, b, u64::MAX);
    }
    words
        .into_iter()
        .map(|(value, mut care)| {
            let used = fmt.used_bits();
            let mut off = used;
            while off < fmt.tdata_bits {
                let k = (fmt.tdata_bits - off).min(64);
                care.set(off, k, u64::MAX);
                off += k;
            }
            Want { value, care }
        })
        .collect()
}

fn parse_word(text: &str, bits: usize) -> Option<Bits> {
    Bits::from_hex(text, bits)
        .ok()
        .filter(|_| text.len() == bits.div_ceil(4).max(1))
}

/// Whether `actual` equals `want` on the bits that matter.
fn matches(want: &Want, actual: &Bits) -> bool {
    let w = want.value.width();
    let mut off = 0;
    while off < w {
        let k = (w - off).min(64);
        let m = want.care.get(off, k);
        if (actual.get(off, k) & m) != (want.value.get(off, k) & m) {
            return false;
        }
        off += k;
    }
    true
}

/// The expected word in hex, with `-` for nibbles that do not matter.
fn want_hex(want: &Want) -> String {
    let v = want.value.to_hex();
    let c = want.care.to_hex();
    v.chars()
        .zip(c.chars())
        .map(|(v, c)| if c == '0' { '-' } else { v })
        .collect()
}

struct Ctx<'a> {
    bench: &'a Bench,
    fout: &'a StreamFormat,
    wpi: usize,
    wpo: usize,
    want: &'a [Want],
    frame: &'a dyn Fn(usize) -> &'a [i64],
    golden_of: &'a dyn Fn(usize) -> &'a [i64],
}

impl Ctx<'_> {
    fn rtl(&self) -> Model {
        Model::Rtl(self.bench.compiled.simulator)
    }

    /// The first problem of one run, in this order: RTL vs golden (words, then counts), cycle
    /// simulator vs golden, cycle simulator vs RTL (words and every handshake cycle).
    fn check(
        &self,
        stall: f64,
        n_in: usize,
        expect: usize,
        rtl: &SimRun,
        cyc: Option<&SimRun>,
    ) -> Option<Failure> {
        self.protocol(stall, rtl)
            .or_else(|| {
                self.against_golden(
                    self.rtl(),
                    stall,
                    n_in,
                    expect,
                    rtl,
                    cyc.map(|c| (Model::CycleSim, c)),
                )
            })
            .or_else(|| {
                cyc.and_then(|c| {
                    self.against_golden(
                        Model::CycleSim,
                        stall,
                        n_in,
                        expect,
                        c,
                        Some((self.rtl(), rtl)),
                    )
                })
            })
            .or_else(|| {
                cyc.and_then(|c| self.diverge(stall, (Model::CycleSim, c), (self.rtl(), rtl)))
            })
    }

    /// The earliest protocol violation the RTL's monitors printed: checked first, because a
    /// broken handshake explains any wrong word after it (and may leave every word right).
    fn protocol(&self, stall: f64, rtl: &SimRun) -> Option<Failure> {
        let log = &rtl.monitors;
        let first = log.first()?;
        let mut message = first.to_string();
        message.push_str(&format!(
            "; {} violation(s) printed on {} of the {} monitored link(s) in this run",
            log.violations.len(),
            log.links_violated(),
            log.links.len()
        ));
        if !log.suppressed.is_empty() {
            message.push_str(" (more counted but not printed)");
        }
        // "<stream> (<producer> -> <consumer>)"
        let (producer, consumer) = first
            .link
            .split_once(" (")
            .and_then(|(_, ends)| ends.trim_end_matches(')').split_once(" -> "))
            .unwrap_or(("the producer", "the consumer"));
        message.push_str(&format!(
            "\nhelp: {producer} drives this link's tvalid and tdata, {consumer} its tready; the design \
             is in {} (simulate it with bnn_gen_sim.f, which switches the monitors on, to see the \
             waveform around that cycle)",
            self.bench.compiled.dir.display()
        ));
        Some(Failure {
            kind: FailureKind::ProtocolViolation,
            model: self.rtl(),
            stall,
            frame: None,
            word: None,
            cycle: first.cycle(),
            message,
        })
    }

    fn against_golden(
        &self,
        model: Model,
        stall: f64,
        n_in: usize,
        expect: usize,
        run: &SimRun,
        other: Option<(Model, &SimRun)>,
    ) -> Option<Failure> {
        let fail = |kind, frame, word, cycle, message| Failure {
            kind,
            model,
            stall,
            frame,
            word,
            cycle,
            message,
        };
        let bits = self.fout.tdata_bits;
        for (i, (text, want)) in run.outputs.iter().zip(self.want).enumerate() {
            let ok = parse_word(text, bits).is_some_and(|a| matches(want, &a));
            if !ok {
                let (f, w) = (i / self.wpo, i % self.wpo);
                let cycle = run.out_cycles[i];
                let mut msg = format!(
                    "frame {f}, output word {w} (word {i} of the run, handshake at cycle {cycle}): \
                     expected {} (golden; - = don't care), {model} gave {text}",
                    want_hex(want)
                );
                msg.push_str(&self.explain(
                    f,
                    w,
                    text,
                    other.and_then(|(m, o)| o.outputs.get(i).map(|t| (m, t, o.out_cycles[i]))),
                ));
                return Some(fail(
                    FailureKind::WrongOutput,
                    Some(f),
                    Some(w),
                    Some(cycle),
                    msg,
                ));
            }
        }
        let got = run.outputs.len();
        if got < expect {
            let (f, w) = (got / self.wpo, got % self.wpo);
            return Some(fail(
                FailureKind::MissingOutput,
                Some(f),
                Some(w),
                None,
                format!(
                    "timeout after {} cycles: {got} of {expect} output words received (frame {f}, output \
                     word {w} never arrived); {} of {n_in} input words accepted",
                    run.cycles,
                    run.in_cycles.len()
                ),
            ));
        }
        if got > expect {
            return Some(fail(
                FailureKind::ExtraOutput,
                None,
                None,
                Some(run.out_cycles[expect]),
                format!(
                    "{} unexpected output word(s) after the last expected one, the first ({}) at cycle {}",
                    got - expect,
                    run.outputs[expect],
                    run.out_cycles[expect]
                ),
            ));
        }
        if run.in_cycles.len() != n_in {
            return Some(fail(
                FailureKind::InputNotAccepted,
                None,
                None,
                None,
                format!(
                    "{} of {n_in} input words accepted although every output word arrived",
                    run.in_cycles.len()
                ),
            ));
        }
        None
    }

    /// Details of a wrong word: the differing elements, what the other simulator gave, the golden
    /// last-layer values, and whether the hardware IR itself already differs from golden.
    fn explain(
        &self,
        f: usize,
        w: usize,
        text: &str,
        other: Option<(Model, &String, u64)>,
    ) -> String {
        let hw = &self.bench.design.hw;
        let fmt = self.fout;
        let mut s = String::new();
        if let Some(actual) = parse_word(text, fmt.tdata_bits) {
            let b = fmt.element.bits() as usize;
            let golden = (self.golden_of)(f);
            let what = match fmt.element {
                HwElement::Index(_) => "class index",
                _ => "output channel",
            };
            let mut diffs = Vec::new();
            let epw = fmt.elements_per_word;
            for (e, &want) in golden.iter().enumerate().take(fmt.elements) {
                let s = fmt.layout.slot(e);
                if s / epw == w {
                    let got = fmt.element.decode(actual.get((s % epw) * b, b));
                    if got != want {
                        diffs.push(format!("{what} {e}: expected {want}, got {got}"));
                    }
                }
            }
            let spare = (fmt.used_bits()..fmt.tdata_bits)
                .filter(|&k| actual.get(k, 1) == 1)
                .count();
            if spare > 0 {
                diffs.push(format!("{spare} spare TDATA bit(s) set"));
            }
            if !diffs.is_empty() {
                s.push_str(&format!(" [{}]", diffs.join("; ")));
            }
        } else {
            s.push_str(" [not a clean hex word]");
        }
        if let Some((other_model, t, c)) = other {
            let agrees = parse_word(t, fmt.tdata_bits)
                .is_some_and(|a| matches(&self.want[f * self.wpo + w], &a));
            s.push_str(&format!(
                "; the {other_model} gave {t} at cycle {c} ({})",
                if agrees {
                    "agrees with golden"
                } else {
                    "also wrong"
                }
            ));
        }
        let trace = self.bench.golden.infer_trace((self.frame)(f));
        if let (Some(last), Some(name)) = (trace.last(), self.bench.golden.layer_names().last()) {
            if hw.head.is_some() {
                let shown: Vec<String> = last.iter().take(32).map(|v| v.to_string()).collect();
                s.push_str(&format!(
                    "; golden {name} values: [{}{}]",
                    shown.join(", "),
                    if last.len() > 32 { ", ..." } else { "" }
                ));
            }
        }
        let model_out = hw.model((self.frame)(f));
        if model_out != (self.golden_of)(f) {
            s.push_str(&format!(
                "; note: the hardware IR (passes::pad, HwNetwork::model) already differs from golden \
                 on this frame ({model_out:?}): a lowering problem, not an RTL one"
            ));
        }
        s
    }

    /// Two cycle-level models (the reference `a`: the cycle simulator against the RTL, or the
    /// RTL against the netlist), the failure charged to `b`: the earliest differing output word
    /// (data or cycle) or input handshake, then the run length.
    fn diverge(
        &self,
        stall: f64,
        (a_model, cyc): (Model, &SimRun),
        (sim, rtl): (Model, &SimRun),
    ) -> Option<Failure> {
        let out = (0..rtl.outputs.len().max(cyc.outputs.len())).find(|&i| {
            rtl.outputs.get(i) != cyc.outputs.get(i)
                || rtl.out_cycles.get(i) != cyc.out_cycles.get(i)
        });
        let inp = (0..rtl.in_cycles.len().max(cyc.in_cycles.len()))
            .find(|&i| rtl.in_cycles.get(i) != cyc.in_cycles.get(i));
        let at = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(u64::MAX);
        let out_t = out.map(|i| at(&rtl.out_cycles, i).min(at(&cyc.out_cycles, i)));
        let in_t = inp.map(|i| at(&rtl.in_cycles, i).min(at(&cyc.in_cycles, i)));
        let show = |v: Option<&String>, c: Option<&u64>| match (v, c) {
            (Some(v), Some(c)) => format!("{v} at cycle {c}"),
            _ => "nothing".to_string(),
        };
        let showc = |c: Option<&u64>| c.map_or("never".to_string(), |c| format!("at cycle {c}"));
        let fail = |frame, word, cycle, message| {
            Some(Failure {
                kind: FailureKind::ModelsDiverge,
                model: sim,
                stall,
                frame: Some(frame),
                word: Some(word),
                cycle,
                message,
            })
        };
        match (out, out_t, inp, in_t) {
            (Some(i), Some(ot), _, it) if it.is_none_or(|it| ot <= it) => {
                let (f, w) = (i / self.wpo, i % self.wpo);
                fail(
                    f,
                    w,
                    Some(ot),
                    format!(
                        "{a_model} and {sim} diverge at frame {f}, output word {w} (word {i} of the run): \
                         {a_model} {}, {sim} {}",
                        show(cyc.outputs.get(i), cyc.out_cycles.get(i)),
                        show(rtl.outputs.get(i), rtl.out_cycles.get(i))
                    ),
                )
            }
            (_, _, Some(i), it) => {
                let (f, w) = (i / self.wpi, i % self.wpi);
                fail(
                    f,
                    w,
                    it,
                    format!(
                        "{a_model} and {sim} diverge at frame {f}, input word {w} (word {i} of the run): \
                         accepted {} by the {a_model}, {} by {sim}",
                        showc(cyc.in_cycles.get(i)),
                        showc(rtl.in_cycles.get(i))
                    ),
                )
            }
            _ if rtl.cycles != cyc.cycles => Some(Failure {
                kind: FailureKind::ModelsDiverge,
                model: sim,
                stall,
                frame: None,
                word: None,
                cycle: None,
                message: format!(
                    "{a_model} and {sim} agree on every word and handshake but ran {} vs {} cycles",
                    cyc.cycles, rtl.cycles
                ),
            }),
            _ => None,
        }
    }
}

/// Throughput and latency of a complete run (every word present).
fn measure(run: &SimRun, n: usize, wpi: usize, wpo: usize) -> Timing {
    let last = |f: usize| run.out_cycles[(f + 1) * wpo - 1];
    let first_in = |f: usize| run.in_cycles[f * wpi];
    let latency = if n > 0 { last(0) - first_in(0) } else { 0 };
    let latency_max = (0..n).map(|f| last(f) - first_in(f)).max().unwrap_or(0);
    let (mut cpf, mut lo, mut hi) = (None, None, None);
    if n >= 2 {
        let h = (n - 1) / 2;
        cpf = Some((last(n - 1) - last(h)) as f64 / (n - 1 - h) as f64);
        let gaps: Vec<u64> = (h + 1..n).map(|f| last(f) - last(f - 1)).collect();
        lo = gaps.iter().copied().min();
        hi = gaps.iter().copied().max();
    }
    Timing {
        cycles_per_frame: cpf,
        interval_min: lo,
        interval_max: hi,
        latency,
        latency_max,
    }
}

/// A timeout no correct run reaches: the ideal time (frames at the slowest of the layers and the
/// two ports, plus the pipeline fill) stretched for the stalls, with a wide margin.
fn timeout(
    hw: &HwNetwork,
    n: usize,
    fin: &StreamFormat,
    fout: &StreamFormat,
    stall: f64,
    latency: u64,
) -> u64 {
    let (wi, wo) = (fin.words_per_frame as u64, fout.words_per_frame as u64);
    let ii = (hw.ideal_ii() as u64).max(wi).max(wo);
    let fill: u64 = hw.layers.iter().map(|l| l.cycles() as u64 + 8).sum::<u64>() + latency + 64;
    let base = (n as u64 + 2) * (ii + wi + wo) + fill;
    let p = stall.clamp(0.0, 0.99);
    let slow = 1.0 / ((1.0 - p) * (1.0 - p));
    (base as f64 * slow * 4.0) as u64 + 10_000
}
