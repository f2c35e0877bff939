//! The RTL simulators `verify` drives: Verilator with the generic AXI-Stream harness
//! (`sim/axis_tb.cpp`, embedded in the binary) and Icarus Verilog with a generated testbench
//! (`templates/tb_icarus.v`). Both run from the design directory (so that `MEM_DIR = "mem"`
//! finds the ROM files), read the same input hex file and write the same output files:
//! `<hex> <cycle>` per output word and one cycle per accepted input word.

use super::monitor::MonitorLog;
use crate::codegen::synthesis::netlist::fingerprint;
use crate::codegen::SIM_FILE_LIST;
use crate::error::{Error, Result};
use askama::Template;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The harness, written next to each design as `sim/axis_tb.cpp`.
const AXIS_TB: &str = include_str!("../../sim/axis_tb.cpp");

/// Work files of `verify`, relative to the design directory.
pub(crate) const SIM_DIR: &str = "sim";
const IN_HEX: &str = "sim/in.hex";
const OUT_TXT: &str = "sim/out.txt";
const IN_CYCLES: &str = "sim/in_cycles.txt";
const OBJ_DIR: &str = "sim/obj";
const STAMP: &str = "sim/obj/bnn_gen_build.stamp";
const TB_ICARUS: &str = "sim/tb_icarus.v";
const VVP: &str = "sim/tb_icarus.vvp";

/// Which RTL simulator runs the generated design.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Simulator {
    /// Verilator with the generic harness `sim/axis_tb.cpp`.
    #[default]
    Verilator,
    /// Icarus Verilog with the generated testbench `templates/tb_icarus.v`.
    Icarus,
}

impl std::fmt::Display for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Simulator::Verilator => "verilator",
            Simulator::Icarus => "icarus",
        })
    }
}

/// What one simulator run produced (the harness's files and its `cycles:` line).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimRun {
    /// Every output word received, as printed (⌈OUT_BITS/4⌉ hex digits; Icarus may print `x`).
    pub outputs: Vec<String>,
    /// The handshake cycle of each output word.
    pub out_cycles: Vec<u64>,
    /// The handshake cycle of each accepted input word.
    pub in_cycles: Vec<u64>,
    /// Cycles simulated (last simulated cycle + 1).
    pub cycles: u64,
    /// What the AXI-Stream protocol monitors printed (empty for the cycle simulator).
    pub monitors: MonitorLog,
}

/// How one run is driven (the harness's command line).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RunSpec {
    pub n_in: usize,
    pub expect: usize,
    pub timeout: u64,
    pub extra: u64,
    pub seed: u32,
    pub stall: f64,
}

/// A design directory with a compiled simulator.
#[derive(Clone, Debug)]
pub(crate) struct Compiled {
    pub simulator: Simulator,
    pub dir: PathBuf,
    pub top: String,
    pub in_bits: usize,
    pub out_bits: usize,
    /// Verilator: the build was skipped (same sources as the last build in this directory).
    pub cached: bool,
}

fn tool_error(tool: &str, e: std::io::Error) -> Error {
    Error::Unsupported(format!(
        "cannot run `{tool}` ({e}); install it (Debian/Ubuntu: `apt-get install verilator iverilog`) \
         or choose the other simulator with --sim"
    ))
}

/// Runs `cmd`, returning its stdout + stderr; errors (with the output's tail) on failure unless
/// the exit code is in `ok_codes`.
fn run_cmd(tool: &str, cmd: &mut Command, ok_codes: &[i32]) -> Result<String> {
    let out = cmd.output().map_err(|e| tool_error(tool, e))?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    let code = out.status.code();
    if out.status.success() || code.is_some_and(|c| ok_codes.contains(&c)) {
        Ok(text)
    } else {
        Err(Error::Unsupported(format!(
            "{tool} failed ({}): {cmd:?}\n{}",
            out.status,
            tail(&text, 40)
        )))
    }
}

fn tail(s: &str, lines: usize) -> String {
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(p) = path.parent() {
        fs::create_dir_all(p).map_err(|e| Error::io(p, e))?;
    }
    fs::write(path, text).map_err(|e| Error::io(path, e))
}

/// Verilator is two-state: it cannot hold X. Instead every `x` it would assign and every
/// register's power-up value become a pseudo-random value chosen at run time
/// (`+verilator+rand+reset+2`, seeded per run), so a handshake that depends on an unreset register
/// or an `x` shows up as a difference from the cycle simulator or as a protocol violation.
const X_FLAGS: [&str; 4] = ["--x-assign", "unique", "--x-initial", "unique"];

fn build_jobs() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4)
}

/// Compiles the simulator for the design already written into `dir` (`rtl/`, `bnn_gen.f`).
///
/// Verilator: the harness is written to `sim/axis_tb.cpp` and the model built in `sim/obj/`; a
/// build is skipped when the RTL, the harness and the flags are identical to the previous build
/// in this directory (the ROM contents are read at run time and do not matter). `runtime` is a
/// prebuilt Verilator runtime library ([`build_verilator_runtime`]) to link instead of compiling
/// the runtime sources again. Icarus compiles per run (the testbench holds the run's settings),
/// so here only the tool is checked.
pub(crate) fn compile(
    simulator: Simulator,
    dir: &Path,
    design: &crate::codegen::Design,
    runtime: Option<&Path>,
    optimize: bool,
) -> Result<Compiled> {
    let in_bits = design.hw.input_stream().tdata_bits;
    let out_bits = design.hw.output_stream().tdata_bits;
    let dir = dir.canonicalize().map_err(|e| Error::io(dir, e))?;
    let mut compiled = Compiled {
        simulator,
        dir: dir.clone(),
        top: design.top.clone(),
        in_bits,
        out_bits,
        cached: false,
    };
    match simulator {
        Simulator::Icarus => {
            run_cmd("iverilog", Command::new("iverilog").arg("-V"), &[1])?;
        }
        Simulator::Verilator => {
            let mut parts: Vec<&[u8]> = Vec::new();
            for f in &design.files {
                if f.path.starts_with("rtl/") || f.path == SIM_FILE_LIST {
                    parts.push(f.path.as_bytes());
                    parts.push(&f.contents);
                }
            }
            let sources = ["-f", SIM_FILE_LIST].map(std::ffi::OsString::from).to_vec();
            let opt = if optimize { Opt::Fast } else { Opt::Quick };
            compiled.cached = verilator_build(&compiled, runtime, opt, &[], &sources, parts)?;
        }
    }
    Ok(compiled)
}

/// How hard Verilator and the C++ compiler optimize the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Opt {
    /// Verilator's default optimization, C++ `-O1`/`-O0`: the quickest build, for the tests'
    /// short runs.
    Quick,
    /// Verilator `-O3`, C++ `-O2`/`-O1` (the flags of `scripts/bench-sim`): for long runs.
    Fast,
}

/// Builds the Verilator model of `c.top` with the harness in `c.dir/sim/obj/Vtop`, from
/// `sources` (command-line arguments naming the Verilog), with `flags` added; skipped (returns
/// `true`) when the harness, the flags, the Verilator version and `inputs` (the contents the
/// model is a function of) are those of the previous build in this directory.
fn verilator_build(
    c: &Compiled,
    runtime: Option<&Path>,
    opt: Opt,
    flags: &[&str],
    sources: &[std::ffi::OsString],
    inputs: Vec<&[u8]>,
) -> Result<bool> {
    let dir = &c.dir;
    let tb = dir.join(SIM_DIR).join("axis_tb.cpp");
    write(&tb, AXIS_TB)?;
    let obj = dir.join(OBJ_DIR);
    // The stamp leaves out the prebuilt runtime: linking it or compiling the same
    // sources gives the same model.
    let (opt_flags, verilator_opt) = match opt {
        Opt::Quick => ("OPT_FAST=-O1 OPT_SLOW=-O0 OPT_GLOBAL=-O1", &[][..]),
        Opt::Fast => ("OPT_FAST=-O2 OPT_SLOW=-O1 OPT_GLOBAL=-O2", &["-O3"][..]),
    };
    let opt_stamp = verilator_opt.concat();
    let mut makeflags = String::from(opt_flags);
    if let Some(lib) = runtime {
        makeflags.push_str(&format!(
            " VM_GLOBAL_FAST= VM_GLOBAL_SLOW= LDLIBS={}",
            lib.display()
        ));
    }
    let defines = [
        format!("-DIN_BITS={}", c.in_bits),
        format!("-DOUT_BITS={}", c.out_bits),
    ];
    let version = run_cmd("verilator", Command::new("verilator").arg("--version"), &[])?;
    let x_flags = X_FLAGS.join(" ");
    let extra = flags.join(" ");
    let mut parts: Vec<&[u8]> = vec![
        AXIS_TB.as_bytes(),
        opt_flags.as_bytes(),
        opt_stamp.as_bytes(),
        defines[0].as_bytes(),
        defines[1].as_bytes(),
        x_flags.as_bytes(),
        extra.as_bytes(),
        c.top.as_bytes(),
        version.as_bytes(),
    ];
    parts.extend(inputs);
    let stamp = fingerprint(&parts);
    let exe = obj.join("Vtop");
    let stamp_path = dir.join(STAMP);
    if exe.is_file() && fs::read_to_string(&stamp_path).is_ok_and(|s| s == stamp) {
        return Ok(true);
    }
    let _ = fs::remove_file(&stamp_path);
    let mut cmd = Command::new("verilator");
    cmd.args(["--cc", "--exe", "--build", "-Wno-fatal", "--prefix", "Vtop"])
        .args(verilator_opt)
        .args(["-j", &build_jobs().to_string()])
        .args(["--top-module", &c.top])
        .arg("-Mdir")
        .arg(&obj)
        .args(["-MAKEFLAGS", &makeflags])
        .args(["-CFLAGS", &defines[0], "-CFLAGS", &defines[1]])
        .args(X_FLAGS)
        .args(flags)
        .args(sources)
        .arg(&tb)
        .current_dir(dir);
    run_cmd("verilator", &mut cmd, &[])?;
    if !exe.is_file() {
        return Err(Error::Unsupported(format!(
            "verilator did not produce {}",
            exe.display()
        )));
    }
    write(&stamp_path, &stamp)?;
    Ok(false)
}

/// Compiles the Verilator harness for the gate-level netlist `netlist` (written by
/// [`crate::codegen::synthesis::netlist::synthesize`]) with the family's cell models, in the
/// netlist's directory. The netlist reads no ROM file: its contents are cell parameters.
pub(crate) fn compile_netlist(
    netlist: &crate::codegen::synthesis::netlist::Netlist,
    in_bits: usize,
    out_bits: usize,
    runtime: Option<&Path>,
) -> Result<Compiled> {
    let (models, include) =
        crate::codegen::synthesis::netlist::cell_models(netlist.fpga, &netlist.yosys)?;
    let mut compiled = Compiled {
        simulator: Simulator::Verilator,
        dir: netlist.dir.clone(),
        top: netlist.top.clone(),
        in_bits,
        out_bits,
        cached: false,
    };
    let text = fs::read(&netlist.path).map_err(|e| Error::io(&netlist.path, e))?;
    let model_text = fs::read(&models).map_err(|e| Error::io(&models, e))?;
    let mut inc = std::ffi::OsString::from("-I");
    inc.push(&include);
    let sources = vec![inc, netlist.path.clone().into(), models.clone().into()];
    // The vendor models are not lint-clean (yosys's ECP5 models include cells_ff.vh twice):
    // only errors matter here.
    let flags = ["-Wno-lint", "-Wno-style", "-Wno-MODDUP", "-Wno-UNOPTFLAT"];
    compiled.cached = verilator_build(
        &compiled,
        runtime,
        Opt::Quick,
        &flags,
        &sources,
        vec![&text, &model_text],
    )?;
    Ok(compiled)
}

/// Builds the Verilator runtime (`verilated.cpp` and friends) once, as the static library
/// `dir/libverilated_runtime.a`, for [`super::VerifyOptions::verilator_runtime`]: linking it
/// saves most of the C++ compile time of every later build. Reuses a library already there.
///
/// Safe when several processes build into the same `dir` at once (test binaries run side by
/// side share one): each compiles in its own subdirectory and renames its archive into place,
/// an atomic replace of one identical library by another.
pub fn build_verilator_runtime(dir: &Path) -> Result<PathBuf> {
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let dir = dir.canonicalize().map_err(|e| Error::io(dir, e))?;
    let lib = dir.join("libverilated_runtime.a");
    if lib.is_file() {
        return Ok(lib);
    }
    if lib.to_string_lossy().contains(char::is_whitespace) {
        return Err(Error::Unsupported(format!(
            "{}: the runtime library path must not contain spaces",
            lib.display()
        )));
    }
    let work = dir.join(format!("build-{}", std::process::id()));
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).map_err(|e| Error::io(&work, e))?;
    let v = work.join("rt_top.v");
    write(
        &v,
        "module rt_top (\n    input wire ap_clk, input wire ap_rst_n,\n    \
         input wire [7:0] s_axis_tdata, input wire s_axis_tvalid, output wire s_axis_tready,\n    \
         output wire [7:0] m_axis_tdata, output wire m_axis_tvalid, input wire m_axis_tready\n);\n    \
         assign m_axis_tdata = s_axis_tdata;\n    assign m_axis_tvalid = s_axis_tvalid;\n    \
         assign s_axis_tready = m_axis_tready;\nendmodule\n",
    )?;
    let tb = work.join("axis_tb.cpp");
    write(&tb, AXIS_TB)?;
    let obj = work.join("obj");
    let mut cmd = Command::new("verilator");
    cmd.args(["--cc", "--exe", "--build", "-Wno-fatal", "--prefix", "Vtop"])
        .args(["-j", &build_jobs().to_string()])
        .args(["--top-module", "rt_top", "-Mdir"])
        .arg(&obj)
        .args(["-MAKEFLAGS", "OPT_FAST=-O1 OPT_SLOW=-O0 OPT_GLOBAL=-O1"])
        .args(["-CFLAGS", "-DIN_BITS=8", "-CFLAGS", "-DOUT_BITS=8"])
        .arg(&v)
        .arg(&tb);
    run_cmd("verilator", &mut cmd, &[])?;
    let objs: Vec<PathBuf> = fs::read_dir(&obj)
        .map_err(|e| Error::io(&obj, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.file_name().unwrap_or_default().to_string_lossy();
            n.starts_with("verilated") && n.ends_with(".o")
        })
        .collect();
    if objs.is_empty() {
        return Err(Error::Unsupported(format!(
            "no verilated*.o in {}",
            obj.display()
        )));
    }
    let tmp = work.join("libverilated_runtime.a");
    run_cmd(
        "ar",
        Command::new("ar").arg("rcs").arg(&tmp).args(&objs),
        &[],
    )?;
    fs::rename(&tmp, &lib).map_err(|e| Error::io(&lib, e))?;
    let _ = fs::remove_dir_all(&work);
    Ok(lib)
}

#[derive(Template)]
#[template(path = "tb_icarus.v")]
struct IcarusTb<'a> {
    version: &'a str,
    top: &'a str,
    in_bits: usize,
    out_bits: usize,
    n_in: usize,
    n_mem: usize,
    expect: usize,
    timeout: u64,
    extra: u64,
    seed: u32,
    thr_in: u64,
    thr_out: u64,
    in_file: &'a str,
    out_file: &'a str,
    cyc_file: &'a str,
    tb_file: &'a str,
    vvp_file: &'a str,
}

impl Compiled {
    /// Removes the output files of the previous run (so that nothing reads them as this run's).
    pub fn clear_outputs(&self) {
        for f in [OUT_TXT, IN_CYCLES] {
            let _ = fs::remove_file(self.dir.join(f));
        }
    }

    /// The output-word file a run writes as it goes (flushed every 16,384 cycles).
    pub fn out_file(&self) -> PathBuf {
        self.dir.join(OUT_TXT)
    }

    /// Writes `in_hex` (one word per line, final newline) to `sim/in.hex`, runs the simulator
    /// and reads its output files. A timeout or extra output words are not errors here (the
    /// caller compares counts); a crash, a compile error or a missing file is.
    pub fn run(&self, in_hex: &str, spec: &RunSpec) -> Result<SimRun> {
        write(&self.dir.join(IN_HEX), in_hex)?;
        self.clear_outputs();
        let log = match self.simulator {
            Simulator::Verilator => {
                let mut cmd = Command::new(self.dir.join(OBJ_DIR).join("Vtop"));
                cmd.args(["--in", IN_HEX, "--out", OUT_TXT, "--in-cycles", IN_CYCLES])
                    .args(["--expect", &spec.expect.to_string()])
                    .args(["--timeout", &spec.timeout.to_string()])
                    .args(["--seed", &spec.seed.to_string()])
                    .args(["--stall", &format!("{:e}", spec.stall)])
                    .args(["--extra", &spec.extra.to_string()])
                    .arg("+verilator+rand+reset+2")
                    // Seed 0 would mean "from the system's random source": not reproducible.
                    .arg(format!("+verilator+seed+{}", spec.seed.max(1)))
                    .current_dir(&self.dir);
                // 2: timeout, 3: extra words; the caller reports both from the files.
                run_cmd("the Verilator model", &mut cmd, &[2, 3])?
            }
            Simulator::Icarus => {
                let tb = IcarusTb {
                    version: env!("CARGO_PKG_VERSION"),
                    top: &self.top,
                    in_bits: self.in_bits,
                    out_bits: self.out_bits,
                    n_in: spec.n_in,
                    n_mem: spec.n_in.max(1),
                    expect: spec.expect,
                    timeout: spec.timeout,
                    extra: spec.extra,
                    seed: spec.seed,
                    thr_in: crate::cyclesim::stall_threshold(spec.stall),
                    thr_out: crate::cyclesim::stall_threshold(spec.stall),
                    in_file: IN_HEX,
                    out_file: OUT_TXT,
                    cyc_file: IN_CYCLES,
                    tb_file: TB_ICARUS,
                    vvp_file: VVP,
                };
                let mut text = tb.render().map_err(|e| {
                    Error::Unsupported(format!("internal error rendering tb_icarus.v: {e}"))
                })?;
                if !text.ends_with('\n') {
                    text.push('\n');
                }
                write(&self.dir.join(TB_ICARUS), &text)?;
                run_cmd(
                    "iverilog",
                    Command::new("iverilog")
                        .args([
                            "-g2005",
                            "-s",
                            "bnn_gen_tb",
                            "-o",
                            VVP,
                            "-c",
                            SIM_FILE_LIST,
                            TB_ICARUS,
                        ])
                        .current_dir(&self.dir),
                    &[],
                )?;
                run_cmd(
                    "vvp",
                    Command::new("vvp").args(["-n", VVP]).current_dir(&self.dir),
                    &[],
                )?
            }
        };
        let cycles = log
            .lines()
            .find_map(|l| l.strip_prefix("cycles: "))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| {
                Error::Unsupported(format!(
                    "{}: no `cycles:` line in the simulator output:\n{}",
                    self.simulator,
                    tail(&log, 20)
                ))
            })?;
        let read = |rel: &str| -> Result<String> {
            let p = self.dir.join(rel);
            fs::read_to_string(&p).map_err(|e| Error::io(&p, e))
        };
        let mut run = SimRun {
            cycles,
            monitors: MonitorLog::parse(&log),
            ..SimRun::default()
        };
        let out_path = self.dir.join(OUT_TXT);
        for (n, line) in read(OUT_TXT)?.lines().enumerate() {
            let bad = || {
                Error::invalid(
                    format!("{}:{}", out_path.display(), n + 1),
                    format!("expected `<hex> <cycle>`, found \"{line}\""),
                )
            };
            let mut it = line.split_whitespace();
            let (Some(w), Some(c), None) = (it.next(), it.next(), it.next()) else {
                return Err(bad());
            };
            run.outputs.push(w.to_ascii_lowercase());
            run.out_cycles.push(c.parse().map_err(|_| bad())?);
        }
        let cyc_path = self.dir.join(IN_CYCLES);
        for (n, line) in read(IN_CYCLES)?.lines().enumerate() {
            run.in_cycles.push(line.trim().parse().map_err(|_| {
                Error::invalid(
                    format!("{}:{}", cyc_path.display(), n + 1),
                    format!("expected a cycle number, found \"{line}\""),
                )
            })?);
        }
        Ok(run)
    }
}

/// Counts the lines of a file that another process is still writing, reading only what was
/// appended since the last call.
pub(crate) struct LineCount {
    path: PathBuf,
    read: u64,
    lines: usize,
}

impl LineCount {
    pub fn new(path: PathBuf) -> Self {
        LineCount {
            path,
            read: 0,
            lines: 0,
        }
    }

    /// Complete lines so far (0 while the file does not exist).
    pub fn poll(&mut self) -> usize {
        use std::io::{Read, Seek, SeekFrom};
        let Ok(mut f) = fs::File::open(&self.path) else {
            return self.lines;
        };
        if f.seek(SeekFrom::Start(self.read)).is_err() {
            return self.lines;
        }
        let mut buf = Vec::new();
        if let Ok(k) = f.read_to_end(&mut buf) {
            self.read += k as u64;
            self.lines += buf.iter().filter(|&&b| b == b'\n').count();
        }
        self.lines
    }
}
