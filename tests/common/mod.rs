//! Shared helpers of the integration tests: paths, work directories, tool checks, command and
//! job runners (all tests that run tools), the MVTU stimulus generator (`tests/hw_modules.rs`
//! and `tests/cyclesim_modules.rs`), and for the cycle-simulator tests (`tests/cyclesim_*.rs`)
//! Verilator builds against the AXI-Stream harness `sim/axis_tb.cpp`, harness runs, and the
//! cycle-exact comparison of a harness run with [`bnn_gen::cyclesim::Pipeline::run`].
//! Std-only apart from `bnn_gen`.
#![allow(dead_code)]

use bnn_gen::cyclesim::{Pipeline, RunConfig, RunResult, Stalls, Words};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Condvar, Mutex, OnceLock};
use std::thread;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn hw(file: &str) -> String {
    root().join("hw").join(file).to_string_lossy().into_owned()
}

pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => {
            let p = PathBuf::from(d);
            if p.is_absolute() {
                p
            } else {
                root().join(p)
            }
        }
        None => root().join("target"),
    }
}

/// A fresh, empty work directory `<target>/<group>/<test>/<cfg>/`.
pub fn work_dir_in(group: &str, test: &str, cfg: &str) -> PathBuf {
    let d = target_dir().join(group).join(test).join(cfg);
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).expect("create work dir");
    d
}

/// A fresh work directory `<target>/cyclesim-tests/<test>/<cfg>/`.
pub fn work_dir(test: &str, cfg: &str) -> PathBuf {
    work_dir_in("cyclesim-tests", test, cfg)
}

/// Panics (test failure, never a skip) when `tool` cannot be run; the message names the test
/// (`who`) and the Debian/Ubuntu `packages` to install.
pub fn require_tool(tool: &str, who: &str, packages: &str) {
    let arg = if tool == "iverilog" {
        "-V"
    } else {
        "--version"
    };
    if let Err(e) = Command::new(tool).arg(arg).output() {
        panic!(
            "`{tool}` is required by {who} but could not be run ({e}). Install it \
             (Debian/Ubuntu: `apt-get install {packages}`); CI must install it too."
        );
    }
}

/// Panics (test failure, never a skip) when `tool` cannot be run.
pub fn require(tool: &str) {
    require_tool(tool, "the cycle-simulator tests", "verilator");
}

/// Global limit on concurrently running tool processes (cargo runs the test functions in
/// parallel and each of them runs its configs in threads).
struct Slots {
    free: Mutex<usize>,
    cv: Condvar,
}
struct SlotGuard;
impl Drop for SlotGuard {
    fn drop(&mut self) {
        let s = slots();
        *s.free.lock().unwrap() += 1;
        s.cv.notify_one();
    }
}
fn slots() -> &'static Slots {
    static S: OnceLock<Slots> = OnceLock::new();
    S.get_or_init(|| Slots {
        free: Mutex::new(
            thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
                .max(1),
        ),
        cv: Condvar::new(),
    })
}
fn slot() -> SlotGuard {
    let s = slots();
    let mut f = s.free.lock().unwrap();
    while *f == 0 {
        f = s.cv.wait(f).unwrap();
    }
    *f -= 1;
    SlotGuard
}

pub type Job = Box<dyn FnOnce() -> Result<(), String> + Send>;

/// Runs the jobs in threads (bounded by the number of cores over all tests of the binary) and
/// fails with every error message if any failed.
pub fn run_jobs(what: &str, jobs: Vec<(String, Job)>) {
    let handles: Vec<_> = jobs
        .into_iter()
        .map(|(name, job)| {
            (
                name,
                thread::spawn(move || {
                    let _g = slot();
                    job()
                }),
            )
        })
        .collect();
    let mut errors = Vec::new();
    for (name, h) in handles {
        match h.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => errors.push(format!("[{name}] {e}")),
            Err(_) => errors.push(format!("[{name}] panicked")),
        }
    }
    if !errors.is_empty() {
        panic!(
            "{what}: {} failure(s):\n{}",
            errors.len(),
            errors.join("\n\n")
        );
    }
}

pub fn run_cmd(cmd: &mut Command) -> Result<(std::process::ExitStatus, String), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Ok((out.status, text))
}

/// Runs `cmd`; its output, or an error with the tail of the output if it failed.
pub fn check_cmd(cmd: &mut Command) -> Result<String, String> {
    let desc = format!("{cmd:?}");
    let (st, text) = run_cmd(cmd)?;
    if st.success() {
        Ok(text)
    } else {
        Err(format!(
            "command failed ({st}): {desc}\n{}",
            tail(&text, 60)
        ))
    }
}

pub fn tail(s: &str, lines: usize) -> String {
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

/// The Verilator runtime (`verilated.cpp`, `verilated_threads.cpp`) as a static library, built
/// once and shared by every test binary: `<target>/verilator-runtime/`, through
/// [`bnn_gen::verify::build_verilator_runtime`], which is safe when binaries running side by
/// side (scripts/run-test-binaries) build it at the same moment. Its compile is about 7 s of
/// CPU, more than half of a small design's build. `None` when it cannot be built (callers then
/// compile the runtime into each design, as Verilator does by default).
pub fn verilator_runtime() -> Option<PathBuf> {
    static LIB: OnceLock<Option<PathBuf>> = OnceLock::new();
    LIB.get_or_init(|| {
        match bnn_gen::verify::build_verilator_runtime(&target_dir().join("verilator-runtime")) {
            Ok(lib) => Some(lib),
            Err(e) => {
                eprintln!(
                    "note: no prebuilt Verilator runtime ({e}); building each design in full"
                );
                None
            }
        }
    })
    .clone()
}

/// Verilator `-MAKEFLAGS` for a quick build (the simulations are short: compile time over run
/// time), linking the shared runtime `lib` instead of compiling the runtime sources.
pub fn quick_makeflags(lib: Option<&Path>) -> String {
    let mut makeflags = String::from("OPT_FAST=-O1 OPT_SLOW=-O0 OPT_GLOBAL=-O1");
    if let Some(lib) = lib {
        makeflags.push_str(&format!(
            " VM_GLOBAL_FAST= VM_GLOBAL_SLOW= LDLIBS={}",
            lib.display()
        ));
    }
    makeflags
}

/// Verilator-builds `top` with the harness (fast compile, as `tests/hw_modules.rs`), linking the
/// shared runtime ([`verilator_runtime`]); returns the binary. Falls back to a full build when
/// the runtime library does not link.
pub fn build(
    dir: &Path,
    top: &str,
    srcs: &[String],
    params: &[(String, String)],
    in_bits: usize,
    out_bits: usize,
) -> Result<PathBuf, String> {
    if let Some(lib) = verilator_runtime() {
        if let Ok(exe) = build_with(dir, top, srcs, params, in_bits, out_bits, Some(&lib)) {
            return Ok(exe);
        }
    }
    build_with(dir, top, srcs, params, in_bits, out_bits, None)
}

fn build_with(
    dir: &Path,
    top: &str,
    srcs: &[String],
    params: &[(String, String)],
    in_bits: usize,
    out_bits: usize,
    runtime: Option<&Path>,
) -> Result<PathBuf, String> {
    let obj = dir.join("obj");
    let _ = fs::remove_dir_all(&obj);
    let mut cmd = Command::new("verilator");
    cmd.args([
        "--cc", "--exe", "--build", "-O2", "-Wall", "--prefix", "Vtop", "-j", "1",
    ])
    .args(["--top-module", top])
    .arg("-Mdir")
    .arg(&obj)
    .args(["-MAKEFLAGS", &quick_makeflags(runtime)])
    .args(["-CFLAGS", &format!("-DIN_BITS={in_bits}")])
    .args(["-CFLAGS", &format!("-DOUT_BITS={out_bits}")]);
    for (k, v) in params {
        cmd.arg(format!("-G{k}={v}"));
    }
    cmd.args(srcs);
    cmd.arg(root().join("sim").join("axis_tb.cpp"));
    let desc = format!("{cmd:?}");
    let (st, text) = run_cmd(&mut cmd)?;
    if !st.success() {
        return Err(format!(
            "verilator failed ({st}): {desc}\n{}",
            tail(&text, 60)
        ));
    }
    Ok(obj.join("Vtop"))
}

pub fn param(k: &str, v: impl ToString) -> (String, String) {
    (k.to_string(), v.to_string())
}

/// What one harness run wrote.
#[derive(Debug)]
pub struct TbRun {
    /// `<hex> <cycle>` lines of `--out`.
    pub out_lines: Vec<String>,
    pub in_cycles: Vec<u64>,
    pub cycles: u64,
    pub code: i32,
    pub log: String,
}

/// Runs the harness `exe` in `cwd` (the generated tops read their ROMs relative to it).
#[allow(clippy::too_many_arguments)]
pub fn run_tb(
    exe: &Path,
    dir: &Path,
    cwd: &Path,
    tag: &str,
    inputs: &Words,
    expect: usize,
    cfg: &RunConfig,
) -> Result<TbRun, String> {
    let inp = dir.join(format!("{tag}.in.hex"));
    let outp = dir.join(format!("{tag}.out.txt"));
    let cycp = dir.join(format!("{tag}.incyc.txt"));
    let mut s = String::with_capacity(inputs.len() * (inputs.bits() / 4 + 2));
    for i in 0..inputs.len() {
        s.push_str(&inputs.hex(i));
        s.push('\n');
    }
    fs::write(&inp, s).map_err(|e| e.to_string())?;
    let (st, log) = run_cmd(
        Command::new(exe)
            .current_dir(cwd)
            .arg("--in")
            .arg(&inp)
            .arg("--out")
            .arg(&outp)
            .arg("--in-cycles")
            .arg(&cycp)
            .args(["--expect", &expect.to_string()])
            .args(["--timeout", &cfg.timeout.to_string()])
            .args(["--seed", &cfg.stalls.seed.to_string()])
            .args(["--stall-in", &format!("{:?}", cfg.stalls.p_in)])
            .args(["--stall-out", &format!("{:?}", cfg.stalls.p_out)])
            .args(["--extra", &cfg.extra.to_string()]),
    )?;
    let out_lines = fs::read_to_string(&outp)
        .map_err(|e| e.to_string())?
        .lines()
        .map(str::to_string)
        .collect();
    let in_cycles = fs::read_to_string(&cycp)
        .map_err(|e| e.to_string())?
        .lines()
        .map(|l| l.trim().parse().unwrap_or(u64::MAX))
        .collect();
    let cycles = log
        .lines()
        .find_map(|l| {
            l.strip_prefix("cycles: ")
                .and_then(|c| c.trim().parse().ok())
        })
        .ok_or_else(|| {
            format!(
                "no `cycles:` line in the harness output:\n{}",
                tail(&log, 10)
            )
        })?;
    Ok(TbRun {
        out_lines,
        in_cycles,
        cycles,
        code: st.code().unwrap_or(-1),
        log,
    })
}

/// The exit code the harness gives a run with this result.
pub fn expected_code(r: &RunResult) -> i32 {
    if r.timed_out {
        2
    } else if r.extra_words > 0 {
        3
    } else {
        0
    }
}

/// Runs Verilator (`exe`) and the cycle model on the same words and stall settings and requires
/// identical output words with identical handshake cycles, identical input handshake cycles,
/// the same number of simulated cycles and the same exit status. `min_out`: the run must deliver
/// at least this many words (so that a comparison is never vacuous). Returns the model's result.
#[allow(clippy::too_many_arguments)]
pub fn compare(
    name: &str,
    exe: &Path,
    dir: &Path,
    cwd: &Path,
    sim: &mut Pipeline,
    inputs: &Words,
    expect: usize,
    cfg: &RunConfig,
    min_out: usize,
) -> Result<RunResult, String> {
    let st = cfg.stalls;
    let tag = format!("s{}_{}_{}", st.seed, st.p_in, st.p_out);
    let tb = run_tb(exe, dir, cwd, &tag, inputs, expect, cfg)?;
    let r = sim.run(inputs, expect, cfg);
    let what = format!(
        "{name} seed {} p_in {} p_out {}",
        st.seed, st.p_in, st.p_out
    );
    let mine = r.out_lines();
    if tb.out_lines.len() < min_out {
        return Err(format!(
            "{what}: Verilator delivered only {} output words (exit {}):\n{}",
            tb.out_lines.len(),
            tb.code,
            tail(&tb.log, 10)
        ));
    }
    if let Some(i) =
        (0..mine.len().max(tb.out_lines.len())).find(|&i| mine.get(i) != tb.out_lines.get(i))
    {
        return Err(format!(
            "{what}: output word {i} differs: Verilator {:?}, cycle model {:?} ({} vs {} words)",
            tb.out_lines.get(i),
            mine.get(i),
            tb.out_lines.len(),
            mine.len()
        ));
    }
    if let Some(i) = (0..r.in_cycles.len().max(tb.in_cycles.len()))
        .find(|&i| r.in_cycles.get(i) != tb.in_cycles.get(i))
    {
        return Err(format!(
            "{what}: input word {i} accepted at cycle {:?} by Verilator, {:?} by the cycle model",
            tb.in_cycles.get(i),
            r.in_cycles.get(i)
        ));
    }
    if tb.cycles != r.cycles {
        return Err(format!(
            "{what}: Verilator ran {} cycles, the cycle model {}",
            tb.cycles, r.cycles
        ));
    }
    if tb.code != expected_code(&r) {
        return Err(format!(
            "{what}: harness exit code {}, the cycle model implies {}\n{}",
            tb.code,
            expected_code(&r),
            tail(&tb.log, 10)
        ));
    }
    Ok(r)
}

/// The stall settings of the module comparisons: (seed, p_in, p_out).
pub const STALLS: [(u32, f64, f64); 5] = [
    (1, 0.0, 0.0),
    (7, 0.3, 0.3),
    (99, 0.3, 0.3),
    (2024, 0.0, 0.6),
    (5, 0.5, 0.0),
];

pub fn stalls(s: (u32, f64, f64)) -> Stalls {
    Stalls {
        seed: s.0,
        p_in: s.1,
        p_out: s.2,
    }
}

/// Tiny xorshift32 generator for stimulus.
pub struct Rng(u32);
impl Rng {
    pub fn new(seed: u32) -> Self {
        Rng(if seed == 0 { 0x1234_5678 } else { seed })
    }
    pub fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
    /// uniform in [0, n)
    pub fn below(&mut self, n: u64) -> u64 {
        let v = ((self.next() as u64) << 32) | self.next() as u64;
        v % n.max(1)
    }
    /// uniform in [lo, hi]
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
    pub fn bits(&mut self, n: usize) -> u64 {
        let v = ((self.next() as u64) << 32) | self.next() as u64;
        if n >= 64 {
            v
        } else {
            v & ((1u64 << n) - 1)
        }
    }
    /// A random word of `bits` bits as limbs.
    pub fn word(&mut self, bits: usize) -> Vec<u64> {
        let mut w = vec![0u64; bits.div_ceil(64).max(1)];
        for (i, l) in w.iter_mut().enumerate() {
            let n = (bits - i * 64).min(64);
            *l = self.bits(n);
        }
        w
    }
}

/// Writes a `$readmemh` file: one word per line, final newline.
pub fn write_mem(path: &Path, words: &[Vec<u64>], bits: usize) {
    let mut s = String::new();
    for w in words {
        s.push_str(&bnn_gen::cyclesim::to_hex(w, bits));
        s.push('\n');
    }
    fs::write(path, s).expect("write mem file");
}

// ===========================================================================
// MVTU stimulus (tests/hw_modules.rs, tests/cyclesim_modules.rs)
// ===========================================================================

pub fn mask(v: i64, bits: usize) -> u64 {
    if bits >= 64 {
        v as u64
    } else {
        (v as u64) & ((1u64 << bits) - 1)
    }
}

/// Value range of a datatype code (0 bipolar, 1 unsigned, 2 signed) of `bits` bits.
pub fn val_range(ty: u32, bits: usize) -> (i64, i64) {
    match ty {
        0 => (-1, 1),
        1 => (0, (1i64 << bits) - 1),
        _ => (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1),
    }
}

/// The value of the raw `bits`-bit pattern `raw` of datatype code `ty`.
pub fn decode(raw: u64, ty: u32, bits: usize) -> i64 {
    match ty {
        0 => {
            if raw & 1 == 1 {
                1
            } else {
                -1
            }
        }
        1 => raw as i64,
        _ => {
            let v = raw as i64;
            if v >= (1i64 << (bits - 1)) {
                v - (1i64 << bits)
            } else {
                v
            }
        }
    }
}

/// Smallest signed width (>= 2) holding [lo, hi].
pub fn signed_bits(lo: i64, hi: i64) -> usize {
    let mut b = 2;
    while !(-(1i64 << (b - 1)) <= lo && hi < (1i64 << (b - 1))) {
        b += 1;
    }
    b
}

/// One MVTU configuration of the module tests.
#[derive(Clone, Debug)]
pub struct MvtuCfg {
    pub name: &'static str,
    pub mw: usize,
    pub mh: usize,
    pub pe: usize,
    pub simd: usize,
    pub wbits: usize,
    pub ibits: usize,
    pub wtype: u32, // 0 bipolar, 1 unsigned, 2 signed
    pub itype: u32,
    pub nsteps: usize, // 0 = no activation
    pub obits: usize,  // ignored when nsteps == 0
    pub out_bias: i64,
    pub fanin: usize, // XNOR_FANIN (true fan-in, columns >= fanin are padding)
    pub dirs: bool,   // random direction bits
    pub vectors: usize,
}

impl MvtuCfg {
    pub fn nf(&self) -> usize {
        self.mh / self.pe
    }
    pub fn sf(&self) -> usize {
        self.mw / self.simd
    }
    pub fn xnor(&self) -> bool {
        self.wtype == 0 && self.itype == 0
    }
}

/// Random MVTU stimulus: raw weights and inputs, the exact accumulators, and thresholds near the
/// reached accumulators (some at the extremes).
pub struct MvtuStim {
    pub acc_bits: usize,
    pub tbits: usize,
    pub obits: usize,
    /// raw weights, `[mh][mw]`
    pub w: Vec<Vec<u64>>,
    /// raw input vectors, `[vectors][mw]`
    pub xs: Vec<Vec<u64>>,
    /// accumulators, `[vectors][mh]`
    pub accs: Vec<Vec<i64>>,
    /// thresholds, `[mh][nsteps]`
    pub thr: Vec<Vec<i64>>,
    /// direction bits (true: `acc <= T`), `[mh]`
    pub dir: Vec<bool>,
}

pub fn mvtu_stimulus(c: &MvtuCfg, seed: u32) -> MvtuStim {
    let mut rng = Rng::new(seed);
    let xnor = c.xnor();
    // accumulator range and width (what the generator computes)
    let (acc_lo, acc_hi) = if xnor {
        (-(c.fanin as i64), c.fanin as i64)
    } else {
        let (wl, wh) = val_range(c.wtype, c.wbits);
        let (xl, xh) = val_range(c.itype, c.ibits);
        let prods = [wl * xl, wl * xh, wh * xl, wh * xh];
        let pl = *prods.iter().min().unwrap();
        let ph = *prods.iter().max().unwrap();
        (pl * c.mw as i64, ph * c.mw as i64)
    };
    let acc_bits = signed_bits(acc_lo, acc_hi);
    let tbits = acc_bits + 1;
    let obits = if c.nsteps == 0 { acc_bits } else { c.obits };

    // raw weights / inputs
    let mut w = vec![vec![0u64; c.mw]; c.mh];
    for row in w.iter_mut() {
        for (k, x) in row.iter_mut().enumerate() {
            // XNOR padding columns: weight +1 against input -1 never match
            *x = if xnor && k >= c.fanin {
                1
            } else {
                rng.bits(c.wbits)
            };
        }
    }
    let xs: Vec<Vec<u64>> = (0..c.vectors)
        .map(|_| {
            (0..c.mw)
                .map(|k| {
                    if xnor && k >= c.fanin {
                        0
                    } else {
                        rng.bits(c.ibits)
                    }
                })
                .collect()
        })
        .collect();

    // exact accumulators: popcount in XNOR mode, dot product otherwise
    let accs: Vec<Vec<i64>> = xs
        .iter()
        .map(|x| {
            (0..c.mh)
                .map(|r| {
                    if xnor {
                        (0..c.mw).filter(|&k| w[r][k] == x[k]).count() as i64
                    } else {
                        (0..c.mw)
                            .map(|k| {
                                decode(w[r][k], c.wtype, c.wbits) * decode(x[k], c.itype, c.ibits)
                            })
                            .sum()
                    }
                })
                .collect()
        })
        .collect();

    // thresholds: near the observed accumulators, some at the extremes
    let (t_lo, t_hi) = if xnor {
        (0, c.fanin as i64 + 1)
    } else {
        (acc_lo - 1, acc_hi + 1)
    };
    let mut thr = vec![vec![0i64; c.nsteps]; c.mh];
    let mut dir = vec![false; c.mh];
    for r in 0..c.mh {
        dir[r] = c.dirs && rng.below(2) == 1;
        for t in thr[r].iter_mut() {
            *t = match rng.below(8) {
                0 => t_lo,
                1 => t_hi,
                _ => {
                    let v = accs[rng.below(accs.len() as u64) as usize][r];
                    (v + rng.range(-1, 1)).clamp(t_lo, t_hi)
                }
            };
        }
    }
    MvtuStim {
        acc_bits,
        tbits,
        obits,
        w,
        xs,
        accs,
        thr,
        dir,
    }
}
