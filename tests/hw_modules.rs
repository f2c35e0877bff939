//! Tests of the hand-written RTL library in `hw/`.
//!
//! Every module is built with Verilator (`-Wall`, no waivers) against the
//! generic AXI-Stream harness `sim/axis_tb.cpp`, driven with random data and
//! the project's random stall pattern (see `sim/README.md`), and every output
//! word is compared with a reference model written in this file. Cycle
//! counts are checked against the timing documented in `docs/hw-modules.md`
//! (e.g. the MVTU must take exactly NF*SF cycles per vector without stalls).
//! There are also lint, Icarus and yosys checks.
//!
//! Only `std` and the shared helpers of `tests/common/mod.rs` are used; the
//! reference models do not depend on the bnn_gen library (the one exception:
//! the window-generator test sizes its buffer with
//! `bnn_gen::passes::window::Window::depth()`, as the generator does).
//! Required tools: verilator (5.x), iverilog, yosys; a missing tool makes
//! the tests FAIL (never skip) with an installation hint.
//! Work files go to `<target>/hw-tests/<test>/<config>/`.

mod common;

use common::{
    build, check_cmd, hw, mask, mvtu_stimulus, param, require_tool, root, run_cmd, run_jobs, tail,
    work_dir_in, Job, MvtuCfg, MvtuStim, Rng,
};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

// ===========================================================================
// infrastructure
// ===========================================================================

fn work_dir(test: &str, cfg: &str) -> PathBuf {
    work_dir_in("hw-tests", test, cfg)
}

/// Panics (test failure, never a skip) when `tool` cannot be run.
fn require(tool: &str) {
    require_tool(tool, "tests/hw_modules.rs", "verilator iverilog yosys")
}

/// Arbitrary-width bit vector (LSB = bit 0) for stream words.
#[derive(Clone, PartialEq, Eq, Debug)]
struct Bits {
    n: usize,
    v: Vec<bool>,
}
impl Bits {
    fn new(n: usize) -> Self {
        Bits {
            n,
            v: vec![false; n],
        }
    }
    fn set(&mut self, pos: usize, width: usize, val: u64) {
        for i in 0..width {
            self.v[pos + i] = if i < 64 { (val >> i) & 1 == 1 } else { false };
        }
    }
    fn hex(&self) -> String {
        let digits = self.n.div_ceil(4).max(1);
        let mut s = String::with_capacity(digits);
        for d in (0..digits).rev() {
            let mut nib = 0u32;
            for b in 0..4 {
                let i = d * 4 + b;
                if i < self.n && self.v[i] {
                    nib |= 1 << b;
                }
            }
            s.push(char::from_digit(nib, 16).unwrap());
        }
        s
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Writes a `$readmemh` file: exactly `words.len()` lines, final newline.
fn write_mem(path: &Path, words: &[Bits]) {
    let mut s = String::new();
    for w in words {
        s.push_str(&w.hex());
        s.push('\n');
    }
    fs::write(path, s).expect("write mem file");
}

struct RunOut {
    outs: Vec<(String, u64)>,
    in_cycles: Vec<u64>,
    code: i32,
    log: String,
}

#[allow(clippy::too_many_arguments)]
fn run_tb(
    exe: &Path,
    dir: &Path,
    tag: &str,
    inputs: &[Bits],
    expect: usize,
    seed: u32,
    stall_in: f64,
    stall_out: f64,
    timeout: u64,
    extra: u64,
) -> Result<RunOut, String> {
    let inp = dir.join(format!("{tag}.in.hex"));
    let outp = dir.join(format!("{tag}.out.txt"));
    let cycp = dir.join(format!("{tag}.incyc.txt"));
    let mut s = String::new();
    for w in inputs {
        s.push_str(&w.hex());
        s.push('\n');
    }
    fs::write(&inp, s).map_err(|e| e.to_string())?;
    let (st, log) = run_cmd(
        Command::new(exe)
            .arg("--in")
            .arg(&inp)
            .arg("--out")
            .arg(&outp)
            .arg("--in-cycles")
            .arg(&cycp)
            .args(["--expect", &expect.to_string()])
            .args(["--timeout", &timeout.to_string()])
            .args(["--seed", &seed.to_string()])
            .args(["--stall-in", &stall_in.to_string()])
            .args(["--stall-out", &stall_out.to_string()])
            .args(["--extra", &extra.to_string()]),
    )?;
    let outs = fs::read_to_string(&outp)
        .map_err(|e| e.to_string())?
        .lines()
        .map(|l| {
            let mut it = l.split_whitespace();
            let h = it.next().unwrap_or("").to_string();
            let c = it.next().and_then(|c| c.parse().ok()).unwrap_or(u64::MAX);
            (h, c)
        })
        .collect();
    let in_cycles = fs::read_to_string(&cycp)
        .map_err(|e| e.to_string())?
        .lines()
        .map(|l| l.trim().parse().unwrap_or(u64::MAX))
        .collect();
    Ok(RunOut {
        outs,
        in_cycles,
        code: st.code().unwrap_or(-1),
        log,
    })
}

/// The stall settings every module is run with: (seed, p_in, p_out).
const STALLS: [(u32, f64, f64); 4] = [
    (1, 0.0, 0.0),
    (7, 0.3, 0.3),
    (99, 0.3, 0.3),
    (2024, 0.0, 0.6),
];

/// Compares the data of a run with the expected words.
fn check_data(tag: &str, run: &RunOut, expected: &[Bits]) -> Result<(), String> {
    if run.code != 0 {
        return Err(format!(
            "{tag}: harness exit code {} \n{}",
            run.code,
            tail(&run.log, 10)
        ));
    }
    if run.outs.len() != expected.len() {
        return Err(format!(
            "{tag}: got {} output words, expected {}",
            run.outs.len(),
            expected.len()
        ));
    }
    for (i, ((got, cyc), exp)) in run.outs.iter().zip(expected).enumerate() {
        if *got != exp.hex() {
            return Err(format!(
                "{tag}: output word {i} (cycle {cyc}) is {got}, expected {}",
                exp.hex()
            ));
        }
    }
    Ok(())
}

// ===========================================================================
// cycle-accurate timing models (written from docs/hw-modules.md and
// sim/README.md; every run's handshake cycles must match them exactly)
// ===========================================================================

/// Control-path model of a streaming module (data is checked separately).
trait Timing {
    /// s_axis_tready in the current cycle.
    fn s_ready(&self, s_valid: bool, m_ready: bool) -> bool;
    /// m_axis_tvalid in the current cycle.
    fn m_valid(&self, s_valid: bool) -> bool;
    /// The rising edge.
    fn edge(&mut self, s_valid: bool, m_ready: bool, in_hs: bool, out_hs: bool);
}

fn xorshift32(x: &mut u32) -> u32 {
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    *x
}

fn stall_threshold(p: f64) -> u64 {
    if p.is_nan() || p <= 0.0 {
        return 0;
    }
    ((p * 4294967296.0).floor() as u64).min(u32::MAX as u64)
}

/// The harness of sim/README.md around a timing model: returns the cycles of
/// the input and of the first `n_out` output handshakes.
fn simulate<T: Timing>(
    dut: &mut T,
    n_in: usize,
    n_out: usize,
    seed: u32,
    p_in: f64,
    p_out: f64,
) -> (Vec<u64>, Vec<u64>) {
    let mut s_in = if seed == 0 { 1 } else { seed };
    let mut s_out = seed ^ 0x9E37_79B9;
    if s_out == 0 {
        s_out = 1;
    }
    let (t_in, t_out) = (stall_threshold(p_in), stall_threshold(p_out));
    let (mut ins, mut outs) = (Vec::new(), Vec::new());
    let mut s_valid = false;
    let mut cycle = 0u64;
    while outs.len() < n_out && cycle < 1_000_000 {
        xorshift32(&mut s_in);
        xorshift32(&mut s_out);
        if !s_valid && ins.len() < n_in && (s_in as u64) >= t_in {
            s_valid = true;
        }
        let m_ready = (s_out as u64) >= t_out;
        let in_hs = s_valid && dut.s_ready(s_valid, m_ready);
        let out_hs = dut.m_valid(s_valid) && m_ready;
        dut.edge(s_valid, m_ready, in_hs, out_hs);
        if in_hs {
            ins.push(cycle);
            s_valid = false;
        }
        if out_hs {
            outs.push(cycle);
        }
        cycle += 1;
    }
    (ins, outs)
}

/// Compares a run's handshake cycles with the model's.
fn check_timing<T: Timing>(
    tag: &str,
    run: &RunOut,
    mut dut: T,
    n_in: usize,
    seed: u32,
    pi: f64,
    po: f64,
) -> Result<(), String> {
    let (ins, outs) = simulate(&mut dut, n_in, run.outs.len(), seed, pi, po);
    let got_outs: Vec<u64> = run.outs.iter().map(|o| o.1).collect();
    // the harness stops after the last expected output (+ extra cycles), so
    // compare the inputs accepted up to the last output
    let last = *got_outs.last().unwrap_or(&0);
    let ins: Vec<u64> = ins.into_iter().filter(|&c| c <= last).collect();
    let got_ins: Vec<u64> = run
        .in_cycles
        .iter()
        .copied()
        .filter(|&c| c <= last)
        .collect();
    for (what, got, want) in [("input", &got_ins, &ins), ("output", &got_outs, &outs)] {
        if got != want {
            let i = got
                .iter()
                .zip(want.iter())
                .position(|(a, b)| a != b)
                .unwrap_or(got.len().min(want.len()));
            return Err(format!(
                "{tag}: {what} handshake cycles differ from the documented timing model at #{i}: \
                 rtl {:?} vs model {:?} (counts {} / {})",
                &got[i.saturating_sub(2)..(i + 3).min(got.len())],
                &want[i.saturating_sub(2)..(i + 3).min(want.len())],
                got.len(),
                want.len()
            ));
        }
    }
    Ok(())
}

/// The bnn_mvtu v2 pipeline constants of a configuration (docs/mvtu-spec.md,
/// section 3): `(LAT, Q)`.
fn mvtu_lat_q(c: &MvtuCfg) -> (usize, usize) {
    let (w0, i0) = (c.wtype == 0, c.itype == 0);
    let mac = !w0 && !i0 && !((c.wtype == 1 && c.wbits == 1) || (c.itype == 1 && c.ibits == 1));
    let offset = w0 != i0;
    let ts = if c.simd > 1 {
        (usize::BITS - (c.simd - 1).leading_zeros()) as usize
    } else {
        1
    };
    let lat = 4 + mac as usize + ts + offset as usize;
    (lat, (lat + 1) / c.sf() + 2)
}

/// bnn_mvtu v2 control path (docs/mvtu-spec.md, section 4): the issue stage
/// with its credits, a fixed LAT-edge pipeline, the Q-word output queue.
struct MvtuTiming {
    /// bnn_vvau: every beat reads the stream (s_axis_tready = can).
    vvau: bool,
    nf: usize,
    sf: usize,
    a_nf: usize,
    a_sf: usize,
    credits: usize,
    /// `issue && a_last` of the last LAT edges, oldest first
    pipe: std::collections::VecDeque<bool>,
    q_cnt: usize,
}
impl MvtuTiming {
    fn new(c: &MvtuCfg) -> Self {
        let (lat, q) = mvtu_lat_q(c);
        MvtuTiming {
            vvau: false,
            nf: c.nf(),
            sf: c.sf(),
            a_nf: 0,
            a_sf: 0,
            credits: q,
            pipe: std::iter::repeat_n(false, lat).collect(),
            q_cnt: 0,
        }
    }
    fn can(&self) -> bool {
        self.a_sf != self.sf - 1 || self.credits != 0
    }
}
impl Timing for MvtuTiming {
    fn s_ready(&self, _: bool, _: bool) -> bool {
        (self.vvau || self.a_nf == 0) && self.can()
    }
    fn m_valid(&self, _: bool) -> bool {
        self.q_cnt != 0
    }
    fn edge(&mut self, s_valid: bool, _: bool, _: bool, out_hs: bool) {
        let a_last = self.a_sf == self.sf - 1;
        let issue = ((!self.vvau && self.a_nf != 0) || s_valid) && self.can();
        let push = self.pipe.pop_front().unwrap();
        self.pipe.push_back(issue && a_last);
        if issue {
            self.a_sf = if a_last { 0 } else { self.a_sf + 1 };
            if a_last {
                self.a_nf = (self.a_nf + 1) % self.nf;
            }
        }
        self.credits = self.credits + out_hs as usize - (issue && a_last) as usize;
        self.q_cnt = self.q_cnt + push as usize - out_hs as usize;
    }
}

/// bnn_fifo control path.
struct FifoTiming {
    depth: usize,
    mcnt: usize,
    o_valid: bool,
}
impl Timing for FifoTiming {
    fn s_ready(&self, _: bool, _: bool) -> bool {
        self.mcnt != self.depth - 1
    }
    fn m_valid(&self, _: bool) -> bool {
        self.o_valid
    }
    fn edge(&mut self, _: bool, m_ready: bool, push: bool, _: bool) {
        let load = (!self.o_valid || m_ready) && (self.mcnt != 0 || push);
        if load {
            self.o_valid = true;
        } else if m_ready {
            self.o_valid = false;
        }
        self.mcnt = self.mcnt + push as usize - load as usize;
    }
}

/// bnn_dwc control path (all four implementations).
struct DwcTiming {
    ib: usize,
    ob: usize,
    // up-sizer
    cnt: usize,
    o_valid: bool,
    // down-sizer
    r: usize,
    in_valid: bool,
    // general
    n: usize,
    bw: usize,
}
impl DwcTiming {
    fn new(ib: usize, ob: usize) -> Self {
        let bw = ib + ob + ib.max(ob) - gcd(ib, ob);
        DwcTiming {
            ib,
            ob,
            cnt: 0,
            o_valid: false,
            r: 0,
            in_valid: false,
            n: 0,
            bw,
        }
    }
}
impl Timing for DwcTiming {
    fn s_ready(&self, _: bool, m_ready: bool) -> bool {
        let (ib, ob) = (self.ib, self.ob);
        if ib == ob {
            m_ready
        } else if ob % ib == 0 {
            !(self.cnt == ob / ib - 1 && self.o_valid)
        } else if ib % ob == 0 {
            !self.in_valid
        } else {
            self.n + ib <= self.bw
        }
    }
    fn m_valid(&self, s_valid: bool) -> bool {
        let (ib, ob) = (self.ib, self.ob);
        if ib == ob {
            s_valid
        } else if ob % ib == 0 {
            self.o_valid
        } else if ib % ob == 0 {
            self.r != 0
        } else {
            self.n >= ob
        }
    }
    fn edge(&mut self, _: bool, _: bool, push: bool, pop: bool) {
        let (ib, ob) = (self.ib, self.ob);
        if ib == ob {
            // pass-through: no state
        } else if ob % ib == 0 {
            let k = ob / ib;
            if push && self.cnt == k - 1 {
                self.o_valid = true;
            } else if pop {
                self.o_valid = false;
            }
            if push {
                self.cnt = (self.cnt + 1) % k;
            }
        } else if ib % ob == 0 {
            let k = ib / ob;
            let free = self.r == 0 || (self.r == 1 && pop);
            if free && self.in_valid {
                self.r = k;
                self.in_valid = false;
            } else if free && push {
                self.r = k;
            } else {
                if pop {
                    self.r -= 1;
                }
                if push {
                    self.in_valid = true;
                }
            }
        } else {
            self.n = self.n - if pop { ob } else { 0 } + if push { ib } else { 0 };
        }
    }
}

/// bnn_topk control path: `stages` holds, per stage (the input register and L = clog2 ELEMS
/// tournament levels), whether it holds a word and whether that word is the last of its vector.
struct TopkTiming {
    nw: usize,
    k: usize,
    w: usize,
    out_cnt: usize,
    stages: Vec<Option<bool>>,
}
impl TopkTiming {
    fn new(nw: usize, k: usize, elems: usize) -> Self {
        let levels = (usize::BITS - (elems.max(1) - 1).leading_zeros()) as usize;
        TopkTiming {
            nw,
            k,
            w: 0,
            out_cnt: 0,
            stages: vec![None; levels + 1],
        }
    }
    fn adv(&self, m_ready: bool) -> bool {
        let merge_last = self.stages.last() == Some(&Some(true));
        !merge_last || self.out_cnt == 0 || (self.out_cnt == 1 && m_ready)
    }
}
impl Timing for TopkTiming {
    fn s_ready(&self, _: bool, m_ready: bool) -> bool {
        self.adv(m_ready)
    }
    fn m_valid(&self, _: bool) -> bool {
        self.out_cnt != 0
    }
    fn edge(&mut self, s_valid: bool, m_ready: bool, push: bool, pop: bool) {
        let last = self.w == self.nw - 1;
        let mut merged_last = false;
        if self.adv(m_ready) {
            let incoming = s_valid.then_some(last);
            self.stages.rotate_right(1);
            let at_merge = std::mem::replace(&mut self.stages[0], incoming);
            merged_last = at_merge == Some(true);
        }
        if push {
            self.w = if last { 0 } else { self.w + 1 };
        }
        if merged_last {
            self.out_cnt = self.k;
        } else if pop {
            self.out_cnt -= 1;
        }
    }
}

// ===========================================================================
// MVTU
// ===========================================================================

struct MvtuCase {
    acc_bits: usize,
    tbits: usize,
    obits: usize,
    inputs: Vec<Bits>,
    expected: Vec<Bits>,
    wmem: Vec<Vec<Bits>>, // per PE
    tmem: Vec<Vec<Bits>>, // per PE
}

fn mvtu_case(c: &MvtuCfg, seed: u32) -> MvtuCase {
    let (nf, sf) = (c.nf(), c.sf());
    let xnor = c.xnor();
    let MvtuStim {
        acc_bits,
        tbits,
        obits,
        w,
        xs,
        accs,
        thr,
        dir,
    } = mvtu_stimulus(c, seed);

    // expected outputs, one word per (vector, nf)
    let mut expected = Vec::new();
    for acc in &accs {
        for n in 0..nf {
            let mut word = Bits::new(c.pe * obits);
            for p in 0..c.pe {
                let r = n * c.pe + p;
                let a = acc[r];
                let v = if c.nsteps == 0 {
                    if xnor {
                        2 * a - c.fanin as i64
                    } else {
                        a
                    }
                } else {
                    let cnt = thr[r]
                        .iter()
                        .filter(|&&t| if dir[r] { a <= t } else { a >= t })
                        .count() as i64;
                    cnt + c.out_bias
                };
                word.set(p * obits, obits, mask(v, obits));
            }
            expected.push(word);
        }
    }

    // input words
    let mut inputs = Vec::new();
    for x in &xs {
        for s in 0..sf {
            let mut word = Bits::new(c.simd * c.ibits);
            for l in 0..c.simd {
                word.set(l * c.ibits, c.ibits, x[s * c.simd + l]);
            }
            inputs.push(word);
        }
    }

    // ROM images
    let tw = c.nsteps * tbits + 1;
    let mut wmem = Vec::new();
    let mut tmem = Vec::new();
    for p in 0..c.pe {
        let mut wl = Vec::new();
        for n in 0..nf {
            for s in 0..sf {
                let mut word = Bits::new(c.simd * c.wbits);
                for l in 0..c.simd {
                    word.set(l * c.wbits, c.wbits, w[n * c.pe + p][s * c.simd + l]);
                }
                wl.push(word);
            }
        }
        wmem.push(wl);
        let mut tl = Vec::new();
        for n in 0..nf {
            let r = n * c.pe + p;
            let mut word = Bits::new(tw);
            // T' = T for dir = 0, T + 1 for dir = 1 (docs/mvtu-spec.md, section 5)
            for (i, &t) in thr[r].iter().enumerate() {
                let tp = if dir[r] { t + 1 } else { t };
                word.set(i * tbits, tbits, mask(tp, tbits));
            }
            word.set(c.nsteps * tbits, 1, dir[r] as u64);
            tl.push(word);
        }
        tmem.push(tl);
    }
    MvtuCase {
        acc_bits,
        tbits,
        obits,
        inputs,
        expected,
        wmem,
        tmem,
    }
}

fn mvtu_sources() -> Vec<String> {
    let mut v = vec![root()
        .join("tests/hw/mvtu_tb_top.v")
        .to_string_lossy()
        .into_owned()];
    for f in [
        "bnn_mvtu.v",
        "bnn_dot.v",
        "bnn_addtree.v",
        "bnn_thresh.v",
        "bnn_resize.v",
        "bnn_rom.v",
        "bnn_vvau.v",
    ] {
        v.push(hw(f));
    }
    v
}

fn mvtu_params(c: &MvtuCfg, case: &MvtuCase) -> Vec<(String, String)> {
    vec![
        param("MW", c.mw),
        param("MH", c.mh),
        param("PE", c.pe),
        param("SIMD", c.simd),
        param("WBITS", c.wbits),
        param("IBITS", c.ibits),
        param("WTYPE", c.wtype),
        param("ITYPE", c.itype),
        param("ACC_BITS", case.acc_bits),
        param("NSTEPS", c.nsteps),
        param("OBITS", case.obits),
        param("TBITS", case.tbits),
        param("OUT_BIAS", c.out_bias),
        param("XNOR_FANIN", c.fanin),
    ]
}

fn mvtu_configs() -> Vec<MvtuCfg> {
    let base = MvtuCfg {
        name: "",
        mw: 16,
        mh: 8,
        pe: 2,
        simd: 4,
        wbits: 1,
        ibits: 1,
        wtype: 0,
        itype: 0,
        nsteps: 1,
        obits: 1,
        out_bias: 0,
        fanin: 16,
        dirs: false,
        vectors: 8,
    };
    vec![
        // W1A1, XNOR-popcount with thresholds
        MvtuCfg {
            name: "w1a1_thr",
            ..base.clone()
        },
        // PE = 1, SIMD = 1
        MvtuCfg {
            name: "w1a1_pe1_simd1",
            mw: 6,
            mh: 3,
            pe: 1,
            simd: 1,
            fanin: 6,
            ..base.clone()
        },
        // full unfolding: PE = MH, SIMD = MW (NF = SF = 1)
        MvtuCfg {
            name: "w1a1_full_unfold",
            mw: 12,
            mh: 6,
            pe: 6,
            simd: 12,
            fanin: 12,
            vectors: 16,
            ..base.clone()
        },
        // W1A1 without activation, padded fan-in (K = 17 of MW = 20)
        MvtuCfg {
            name: "w1a1_noact_pad",
            mw: 20,
            mh: 4,
            pe: 2,
            simd: 4,
            nsteps: 0,
            fanin: 17,
            ..base.clone()
        },
        // W2A2: signed 2-bit weights, unsigned 2-bit inputs, negative-direction channels
        MvtuCfg {
            name: "w2a2_dir",
            mw: 16,
            mh: 8,
            pe: 4,
            simd: 2,
            wbits: 2,
            ibits: 2,
            wtype: 2,
            itype: 1,
            nsteps: 3,
            obits: 2,
            dirs: true,
            ..base.clone()
        },
        // W4A4, non-power-of-two folding PE = 3, SIMD = 5
        MvtuCfg {
            name: "w4a4_pe3_simd5",
            mw: 15,
            mh: 9,
            pe: 3,
            simd: 5,
            wbits: 4,
            ibits: 4,
            wtype: 2,
            itype: 1,
            nsteps: 15,
            obits: 4,
            dirs: true,
            ..base.clone()
        },
        // W4A4 signed x signed, signed int4 output (bias -8)
        MvtuCfg {
            name: "w4a4_signed_out",
            mw: 8,
            mh: 4,
            pe: 2,
            simd: 4,
            wbits: 4,
            ibits: 4,
            wtype: 2,
            itype: 2,
            nsteps: 15,
            obits: 4,
            out_bias: -8,
            ..base.clone()
        },
        // bipolar weights x uint8 inputs, binary output (first layer style), SF = 9
        MvtuCfg {
            name: "bip_x_u8_thr",
            mw: 27,
            mh: 8,
            pe: 4,
            simd: 3,
            ibits: 8,
            itype: 1,
            ..base.clone()
        },
        // bipolar x uint8 without activation, NF = SF = 1, 72-bit in / wide out (VlWide)
        MvtuCfg {
            name: "bip_x_u8_noact_wide",
            mw: 18,
            mh: 6,
            pe: 6,
            simd: 9,
            ibits: 8,
            itype: 1,
            nsteps: 0,
            ..base.clone()
        },
        // SF = 1 with NF > 1 (single-word input buffer), unsigned x signed
        MvtuCfg {
            name: "u3_x_s3_sf1",
            mw: 4,
            mh: 8,
            pe: 2,
            simd: 4,
            wbits: 3,
            ibits: 3,
            wtype: 1,
            itype: 2,
            nsteps: 0,
            ..base.clone()
        },
        // NF = 1 with SF > 1, W1A1, 3-step thresholds with bias
        MvtuCfg {
            name: "w1a1_nf1",
            mw: 32,
            mh: 4,
            pe: 4,
            simd: 8,
            fanin: 32,
            nsteps: 3,
            obits: 2,
            ..base.clone()
        },
        // XNOR, SIMD 64 (6 tree stages), padded fan-in, negative-direction channels
        MvtuCfg {
            name: "w1a1_simd64_dir",
            mw: 128,
            mh: 8,
            pe: 4,
            simd: 64,
            fanin: 120,
            dirs: true,
            ..base.clone()
        },
        // binary (uint1) inputs x bipolar weights (LFC layer 0): OFFSET, shared SUM x
        MvtuCfg {
            name: "bin_x_bip_simd64",
            mw: 192,
            mh: 6,
            pe: 3,
            simd: 64,
            ibits: 1,
            itype: 1,
            dirs: true,
            ..base.clone()
        },
        // bipolar inputs x binary weights: OFFSET, per-PE SUM w
        MvtuCfg {
            name: "bip_x_binw_simd3",
            mw: 9,
            mh: 4,
            pe: 2,
            simd: 3,
            wbits: 1,
            wtype: 1,
            nsteps: 3,
            obits: 2,
            dirs: true,
            ..base.clone()
        },
        // bipolar inputs x int4 weights, 15 thresholds, signed output
        MvtuCfg {
            name: "bip_x_s4w_simd5",
            mw: 10,
            mh: 6,
            pe: 3,
            simd: 5,
            wbits: 4,
            wtype: 2,
            nsteps: 15,
            obits: 4,
            out_bias: -8,
            dirs: true,
            ..base.clone()
        },
        // bipolar weights x int3 inputs, SIMD 1, no activation (OFFSET, signed SUM x)
        MvtuCfg {
            name: "bipw_x_s3_simd1_noact",
            mw: 5,
            mh: 4,
            pe: 2,
            simd: 1,
            ibits: 3,
            itype: 2,
            nsteps: 0,
            ..base.clone()
        },
        // uint1 weights x int4 inputs: SEL on the weight side, NF = 1
        MvtuCfg {
            name: "u1w_x_s4_sel",
            mw: 15,
            mh: 4,
            pe: 4,
            simd: 5,
            wbits: 1,
            wtype: 1,
            ibits: 4,
            itype: 2,
            nsteps: 3,
            obits: 2,
            dirs: true,
            ..base.clone()
        },
        // uint4 weights x uint1 inputs: SEL on the input side, SF = 1, 15 thresholds
        MvtuCfg {
            name: "u4w_x_u1_sel_sf1",
            mw: 3,
            mh: 8,
            pe: 2,
            simd: 3,
            wbits: 4,
            wtype: 1,
            ibits: 1,
            itype: 1,
            nsteps: 15,
            obits: 4,
            dirs: true,
            ..base.clone()
        },
        // int4 weights x uint1 inputs, SIMD 64, SF = 1, no activation (SEL, signed values)
        MvtuCfg {
            name: "s4w_x_u1_simd64_noact",
            mw: 64,
            mh: 4,
            pe: 2,
            simd: 64,
            wbits: 4,
            wtype: 2,
            ibits: 1,
            itype: 1,
            nsteps: 0,
            ..base.clone()
        },
        // uint1 x uint1 (SEL, both binary), SIMD 1, PE 1
        MvtuCfg {
            name: "u1_x_u1_simd1",
            mw: 4,
            mh: 2,
            pe: 1,
            simd: 1,
            wbits: 1,
            wtype: 1,
            ibits: 1,
            itype: 1,
            dirs: true,
            ..base.clone()
        },
        // uint2 x uint3 MAC (unsigned products), SIMD 1, NF = 1
        MvtuCfg {
            name: "u2_x_u3_mac_simd1",
            mw: 3,
            mh: 2,
            pe: 2,
            simd: 1,
            wbits: 2,
            wtype: 1,
            ibits: 3,
            itype: 1,
            nsteps: 3,
            obits: 2,
            dirs: true,
            ..base
        },
    ]
}

fn mvtu_job(c: MvtuCfg) -> Result<(), String> {
    let dir = work_dir("mvtu", c.name);
    let case = mvtu_case(&c, 0xC0FFEE ^ (c.name.len() as u32 * 7919));
    for (p, w) in case.wmem.iter().enumerate() {
        write_mem(&dir.join(format!("w{p:03}.mem")), w);
    }
    if c.nsteps > 0 {
        for (p, t) in case.tmem.iter().enumerate() {
            write_mem(&dir.join(format!("t{p:03}.mem")), t);
        }
    }
    let mut params = mvtu_params(&c, &case);
    params.push(param("MEM_DIR", format!("\"{}\"", dir.display())));
    let exe = build(
        &dir,
        "mvtu_tb_top",
        &mvtu_sources(),
        &params,
        c.simd * c.ibits,
        c.pe * case.obits,
    )?;
    let (nf, sf) = (c.nf() as u64, c.sf() as u64);
    let lat = mvtu_lat_q(&c).0 as u64;
    let timeout = (case.inputs.len() as u64 * nf + 100) * 20;
    for (seed, pi, po) in STALLS {
        let tag = format!("s{seed}_{pi}_{po}");
        let run = run_tb(
            &exe,
            &dir,
            &tag,
            &case.inputs,
            case.expected.len(),
            seed,
            pi,
            po,
            timeout,
            64,
        )?;
        check_data(&format!("{} {tag}", c.name), &run, &case.expected)?;
        check_timing(
            &format!("{} {tag}", c.name),
            &run,
            MvtuTiming::new(&c),
            case.inputs.len(),
            seed,
            pi,
            po,
        )?;
        if pi == 0.0 && po == 0.0 {
            // exact timing without stalls: NF*SF cycles per vector, latency LAT
            for (i, &cy) in run.in_cycles.iter().enumerate() {
                let (v, s) = (i as u64 / sf, i as u64 % sf);
                let want = v * nf * sf + s;
                if cy != want {
                    return Err(format!(
                        "{}: input word {i} accepted at cycle {cy}, expected {want}",
                        c.name
                    ));
                }
            }
            for (i, (_, cy)) in run.outs.iter().enumerate() {
                let (v, n) = (i as u64 / nf, i as u64 % nf);
                let want = v * nf * sf + n * sf + sf - 1 + lat + 1;
                if *cy != want {
                    return Err(format!(
                        "{}: output word {i} at cycle {cy}, expected {want}",
                        c.name
                    ));
                }
            }
        }
    }
    Ok(())
}

#[test]
fn mvtu_random_stalls() {
    require("verilator");
    let jobs: Vec<(String, Job)> = mvtu_configs()
        .into_iter()
        .map(|c| (c.name.to_string(), Box::new(move || mvtu_job(c)) as Job))
        .collect();
    run_jobs("bnn_mvtu", jobs);
}

// ===========================================================================
// VVAU (depthwise)
// ===========================================================================

/// A bnn_vvau case: `c.mw` kernel positions, `c.mh` channels, `c.vectors` windows. The
/// stimulus is [`mvtu_stimulus`] over `vectors · MH` input vectors: vector `v·MH + r` is
/// channel `r`'s window of window `v`, met only by weight row `r`.
fn vvau_case(c: &MvtuCfg, seed: u32) -> MvtuCase {
    let (nf, sf) = (c.nf(), c.sf());
    let stim_cfg = MvtuCfg {
        vectors: c.vectors * c.mh,
        ..c.clone()
    };
    let MvtuStim {
        acc_bits,
        tbits,
        obits,
        w,
        xs,
        accs,
        thr,
        dir,
    } = mvtu_stimulus(&stim_cfg, seed);
    let mut expected = Vec::new();
    let mut inputs = Vec::new();
    for v in 0..c.vectors {
        for n in 0..nf {
            // input words (nf outer, sf inner): lane l*PE + p is kernel position
            // sf*SIMD + l of channel nf*PE + p
            for s in 0..sf {
                let mut word = Bits::new(c.pe * c.simd * c.ibits);
                for l in 0..c.simd {
                    for p in 0..c.pe {
                        let x = &xs[v * c.mh + n * c.pe + p];
                        word.set((l * c.pe + p) * c.ibits, c.ibits, x[s * c.simd + l]);
                    }
                }
                inputs.push(word);
            }
            let mut word = Bits::new(c.pe * obits);
            for p in 0..c.pe {
                let r = n * c.pe + p;
                let a = accs[v * c.mh + r][r];
                let val = if c.nsteps == 0 {
                    if c.xnor() {
                        2 * a - c.fanin as i64
                    } else {
                        a
                    }
                } else {
                    let cnt = thr[r]
                        .iter()
                        .filter(|&&t| if dir[r] { a <= t } else { a >= t })
                        .count() as i64;
                    cnt + c.out_bias
                };
                word.set(p * obits, obits, mask(val, obits));
            }
            expected.push(word);
        }
    }
    // ROM images: the MVTU's layout
    let tw = c.nsteps * tbits + 1;
    let mut wmem = Vec::new();
    let mut tmem = Vec::new();
    for p in 0..c.pe {
        let mut wl = Vec::new();
        for n in 0..nf {
            for s in 0..sf {
                let mut word = Bits::new(c.simd * c.wbits);
                for l in 0..c.simd {
                    word.set(l * c.wbits, c.wbits, w[n * c.pe + p][s * c.simd + l]);
                }
                wl.push(word);
            }
        }
        wmem.push(wl);
        let mut tl = Vec::new();
        for n in 0..nf {
            let r = n * c.pe + p;
            let mut word = Bits::new(tw);
            for (i, &t) in thr[r].iter().enumerate() {
                let tp = if dir[r] { t + 1 } else { t };
                word.set(i * tbits, tbits, mask(tp, tbits));
            }
            word.set(c.nsteps * tbits, 1, dir[r] as u64);
            tl.push(word);
        }
        tmem.push(tl);
    }
    MvtuCase {
        acc_bits,
        tbits,
        obits,
        inputs,
        expected,
        wmem,
        tmem,
    }
}

fn vvau_job(c: MvtuCfg) -> Result<(), String> {
    let dir = work_dir("vvau", c.name);
    let case = vvau_case(&c, 0xD3E9 ^ (c.name.len() as u32 * 7919));
    for (p, w) in case.wmem.iter().enumerate() {
        write_mem(&dir.join(format!("w{p:03}.mem")), w);
    }
    if c.nsteps > 0 {
        for (p, t) in case.tmem.iter().enumerate() {
            write_mem(&dir.join(format!("t{p:03}.mem")), t);
        }
    }
    let mut params = mvtu_params(&c, &case);
    params.push(param("DEPTHWISE", 1));
    params.push(param("MEM_DIR", format!("\"{}\"", dir.display())));
    let exe = build(
        &dir,
        "mvtu_tb_top",
        &mvtu_sources(),
        &params,
        c.pe * c.simd * c.ibits,
        c.pe * case.obits,
    )?;
    let (nf, sf) = (c.nf() as u64, c.sf() as u64);
    let lat = mvtu_lat_q(&c).0 as u64;
    let timeout = (case.inputs.len() as u64 + 100) * 20;
    for (seed, pi, po) in STALLS {
        let tag = format!("s{seed}_{pi}_{po}");
        let run = run_tb(
            &exe,
            &dir,
            &tag,
            &case.inputs,
            case.expected.len(),
            seed,
            pi,
            po,
            timeout,
            64,
        )?;
        check_data(&format!("{} {tag}", c.name), &run, &case.expected)?;
        let mut timing = MvtuTiming::new(&c);
        timing.vvau = true;
        check_timing(
            &format!("{} {tag}", c.name),
            &run,
            timing,
            case.inputs.len(),
            seed,
            pi,
            po,
        )?;
        if pi == 0.0 && po == 0.0 {
            // exact timing without stalls: one beat per cycle, latency LAT
            for (i, &cy) in run.in_cycles.iter().enumerate() {
                if cy != i as u64 {
                    return Err(format!(
                        "{}: input word {i} accepted at cycle {cy}, expected {i}",
                        c.name
                    ));
                }
            }
            for (i, (_, cy)) in run.outs.iter().enumerate() {
                let (v, n) = (i as u64 / nf, i as u64 % nf);
                let want = v * nf * sf + n * sf + sf - 1 + lat + 1;
                if *cy != want {
                    return Err(format!(
                        "{}: output word {i} at cycle {cy}, expected {want}",
                        c.name
                    ));
                }
            }
        }
    }
    Ok(())
}

/// bnn_vvau in every datapath mode the types select, with channel folds (NF > 1), several
/// kernel positions per beat (SIMD > 1, a partial PE group), falling thresholds and no
/// activation, under random stalls: data against the exact per-channel dot products, every
/// handshake cycle against the control-path model, and the stall-free timing exactly.
#[test]
fn vvau_random_stalls() {
    require("verilator");
    let jobs: Vec<(String, Job)> = vvau_configs()
        .into_iter()
        .map(|c| (c.name.to_string(), Box::new(move || vvau_job(c)) as Job))
        .collect();
    run_jobs("bnn_vvau", jobs);
}

/// The VVAU configurations of [`vvau_random_stalls`] (also linted by
/// [`verilator_lint_all_modules`]).
fn vvau_configs() -> Vec<MvtuCfg> {
    let base = MvtuCfg {
        name: "",
        mw: 9,
        mh: 6,
        pe: 2,
        simd: 1,
        wbits: 1,
        ibits: 1,
        wtype: 0,
        itype: 0,
        nsteps: 1,
        obits: 1,
        out_bias: 0,
        fanin: 9,
        dirs: true,
        vectors: 6,
    };
    vec![
        // XNOR, 3x3 kernel one position per beat, NF 3
        MvtuCfg {
            name: "xnor_nf3",
            ..base.clone()
        },
        // MAC: int3 weights x uint2 inputs, SIMD 3 of 9 positions, 2-bit out, PE 4 of 8
        MvtuCfg {
            name: "w3a2_simd3",
            mh: 8,
            pe: 4,
            simd: 3,
            wbits: 3,
            ibits: 2,
            wtype: 2,
            itype: 1,
            nsteps: 3,
            obits: 2,
            out_bias: 0,
            ..base.clone()
        },
        // OFFSET, bipolar weights x int2 inputs (per-PE SUM x), 2x2 kernel in 2 beats,
        // no activation
        MvtuCfg {
            name: "bipw_a2_noact",
            mw: 4,
            mh: 5,
            pe: 5,
            simd: 2,
            ibits: 2,
            itype: 2,
            nsteps: 0,
            fanin: 4,
            ..base.clone()
        },
        // OFFSET, int2 weights x bipolar inputs (per-PE SUM w), PE 1
        MvtuCfg {
            name: "w2_bipx_pe1",
            mw: 3,
            mh: 3,
            pe: 1,
            simd: 1,
            wbits: 2,
            wtype: 2,
            fanin: 3,
            ..base.clone()
        },
    ]
}

// ===========================================================================
// FIFO
// ===========================================================================

const FIFO_CFGS: [(usize, usize); 4] = [(8, 2), (70, 5), (16, 3), (33, 64)];

fn fifo_job(width: usize, depth: usize) -> Result<(), String> {
    let name = format!("w{width}_d{depth}");
    let dir = work_dir("fifo", &name);
    let exe = build(
        &dir,
        "bnn_fifo",
        &[hw("bnn_fifo.v")],
        &[param("WIDTH", width), param("DEPTH", depth)],
        width,
        width,
    )?;
    let mut rng = Rng::new(width as u32 * 31 + depth as u32);
    let words: Vec<Bits> = (0..200)
        .map(|_| {
            let mut b = Bits::new(width);
            let mut pos = 0;
            while pos < width {
                let n = (width - pos).min(32);
                b.set(pos, n, rng.bits(n));
                pos += n;
            }
            b
        })
        .collect();
    for (seed, pi, po) in STALLS {
        let tag = format!("s{seed}_{pi}_{po}");
        let run = run_tb(
            &exe,
            &dir,
            &tag,
            &words,
            words.len(),
            seed,
            pi,
            po,
            100_000,
            64,
        )?;
        check_data(&format!("{name} {tag}"), &run, &words)?;
        let model = FifoTiming {
            depth,
            mcnt: 0,
            o_valid: false,
        };
        check_timing(
            &format!("{name} {tag}"),
            &run,
            model,
            words.len(),
            seed,
            pi,
            po,
        )?;
        if pi == 0.0 && po == 0.0 {
            for (i, (&ci, (_, co))) in run.in_cycles.iter().zip(&run.outs).enumerate() {
                if ci != i as u64 || *co != i as u64 + 1 {
                    return Err(format!(
                        "{name}: word {i} in at {ci} out at {co}, expected {i} / {}",
                        i + 1
                    ));
                }
            }
        }
    }
    // capacity: the consumer never takes a word, so exactly DEPTH are accepted
    let run = run_tb(
        &exe,
        &dir,
        "capacity",
        &words,
        1,
        5,
        0.0,
        1.0,
        depth as u64 + 40,
        0,
    )?;
    if run.code != 2 || run.in_cycles.len() != depth {
        return Err(format!(
            "{name}: capacity run accepted {} words (exit {}), expected DEPTH = {depth}",
            run.in_cycles.len(),
            run.code
        ));
    }
    Ok(())
}

#[test]
fn fifo_random_stalls() {
    require("verilator");
    let jobs: Vec<(String, Job)> = FIFO_CFGS
        .iter()
        .map(|&(w, d)| {
            (
                format!("fifo w{w} d{d}"),
                Box::new(move || fifo_job(w, d)) as Job,
            )
        })
        .collect();
    run_jobs("bnn_fifo", jobs);
}

// ===========================================================================
// data-width converter
// ===========================================================================

const DWC_CFGS: [(usize, usize); 8] = [
    (8, 32),
    (32, 8),
    (48, 32),
    (24, 64),
    (16, 16),
    (70, 14),
    (12, 80),
    (3, 5),
];

fn dwc_job(ib: usize, ob: usize) -> Result<(), String> {
    let name = format!("{ib}_to_{ob}");
    let dir = work_dir("dwc", &name);
    let exe = build(
        &dir,
        "bnn_dwc",
        &[hw("bnn_dwc.v")],
        &[param("IN_BITS", ib), param("OUT_BITS", ob)],
        ib,
        ob,
    )?;
    let lcm = ib / gcd(ib, ob) * ob;
    let frames = (40 * ib).div_ceil(lcm).max(2);
    let total = frames * lcm;
    let mut rng = Rng::new((ib * 1000 + ob) as u32);
    let stream: Vec<bool> = (0..total).map(|_| rng.next() & 1 == 1).collect();
    let chunk = |w: usize| -> Vec<Bits> {
        stream
            .chunks(w)
            .map(|c| Bits {
                n: w,
                v: c.to_vec(),
            })
            .collect()
    };
    let inputs = chunk(ib);
    let expected = chunk(ob);
    for (seed, pi, po) in STALLS {
        let tag = format!("s{seed}_{pi}_{po}");
        let run = run_tb(
            &exe,
            &dir,
            &tag,
            &inputs,
            expected.len(),
            seed,
            pi,
            po,
            100_000,
            64,
        )?;
        check_data(&format!("{name} {tag}"), &run, &expected)?;
        check_timing(
            &format!("{name} {tag}"),
            &run,
            DwcTiming::new(ib, ob),
            inputs.len(),
            seed,
            pi,
            po,
        )?;
        if pi == 0.0 && po == 0.0 {
            if ib <= ob {
                // the narrow input side runs at one word per cycle
                for (i, &c) in run.in_cycles.iter().enumerate() {
                    if c != i as u64 {
                        return Err(format!(
                            "{name}: input {i} accepted at cycle {c}, expected {i}"
                        ));
                    }
                }
                // and an output word leaves the cycle after its last input bit
                for (j, (_, c)) in run.outs.iter().enumerate() {
                    let last_in = ((j + 1) * ob).div_ceil(ib) - 1;
                    let want = run.in_cycles[last_in] + if ib == ob { 0 } else { 1 };
                    if *c != want {
                        return Err(format!("{name}: output {j} at cycle {c}, expected {want}"));
                    }
                }
            }
            if ib >= ob {
                // the narrow output side runs at one word per cycle
                let first = if ib == ob { 0 } else { 1 };
                for (j, (_, c)) in run.outs.iter().enumerate() {
                    if *c != first + j as u64 {
                        return Err(format!(
                            "{name}: output {j} at cycle {c}, expected {}",
                            first + j as u64
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

#[test]
fn dwc_random_stalls() {
    require("verilator");
    let jobs: Vec<(String, Job)> = DWC_CFGS
        .iter()
        .map(|&(i, o)| {
            (
                format!("dwc {i}->{o}"),
                Box::new(move || dwc_job(i, o)) as Job,
            )
        })
        .collect();
    run_jobs("bnn_dwc", jobs);
}

// ===========================================================================
// top-k
// ===========================================================================

#[derive(Clone, Copy, Debug)]
struct TopkCfg {
    n: usize,
    elems: usize,
    ebits: usize,
    signed: bool,
    k: usize,
    idx_bits: usize,
}

const TOPK_CFGS: [TopkCfg; 7] = [
    TopkCfg {
        n: 10,
        elems: 1,
        ebits: 8,
        signed: true,
        k: 1,
        idx_bits: 8,
    },
    TopkCfg {
        n: 10,
        elems: 4,
        ebits: 4,
        signed: false,
        k: 3,
        idx_bits: 8,
    },
    TopkCfg {
        n: 7,
        elems: 8,
        ebits: 5,
        signed: true,
        k: 7,
        idx_bits: 3,
    },
    TopkCfg {
        n: 16,
        elems: 16,
        ebits: 3,
        signed: false,
        k: 1,
        idx_bits: 4,
    },
    // LFC's head: ten 16-bit values in one word, four tournament levels
    TopkCfg {
        n: 10,
        elems: 10,
        ebits: 16,
        signed: true,
        k: 1,
        idx_bits: 8,
    },
    // odd lane count (a pass-through list at each level), K > lanes per word
    TopkCfg {
        n: 11,
        elems: 3,
        ebits: 4,
        signed: true,
        k: 4,
        idx_bits: 5,
    },
    // one word per vector, K = N
    TopkCfg {
        n: 5,
        elems: 5,
        ebits: 2,
        signed: false,
        k: 5,
        idx_bits: 3,
    },
];

fn topk_job(c: TopkCfg) -> Result<(), String> {
    let name = format!(
        "n{}_e{}_b{}_{}_k{}",
        c.n,
        c.elems,
        c.ebits,
        if c.signed { "s" } else { "u" },
        c.k
    );
    let dir = work_dir("topk", &name);
    let exe = build(
        &dir,
        "bnn_topk",
        &[hw("bnn_topk.v"), hw("bnn_topk_merge.v"), hw("bnn_resize.v")],
        &[
            param("N", c.n),
            param("ELEMS", c.elems),
            param("ELEM_BITS", c.ebits),
            param("SIGNED", c.signed as u32),
            param("K", c.k),
            param("IDX_BITS", c.idx_bits),
        ],
        c.elems * c.ebits,
        c.idx_bits,
    )?;
    let nw = c.n.div_ceil(c.elems);
    let nv = 30;
    let mut rng = Rng::new((c.n * 100 + c.elems * 10 + c.k) as u32);
    let mut inputs = Vec::new();
    let mut expected = Vec::new();
    for v in 0..nv {
        // narrow value ranges give many ties
        let spread: i64 = if v % 3 == 0 { 2 } else { (1i64 << c.ebits) / 2 };
        let vals: Vec<i64> = (0..nw * c.elems)
            .map(|_| {
                if c.signed {
                    rng.range(
                        -spread.min(1 << (c.ebits - 1)),
                        (spread - 1).min((1 << (c.ebits - 1)) - 1),
                    )
                } else {
                    rng.range(0, (2 * spread - 1).min((1 << c.ebits) - 1))
                }
            })
            .collect();
        for w in 0..nw {
            let mut word = Bits::new(c.elems * c.ebits);
            for e in 0..c.elems {
                word.set(e * c.ebits, c.ebits, mask(vals[w * c.elems + e], c.ebits));
            }
            inputs.push(word);
        }
        let mut idx: Vec<usize> = (0..c.n).collect();
        idx.sort_by(|&a, &b| vals[b].cmp(&vals[a]).then(a.cmp(&b)));
        for &i in idx.iter().take(c.k) {
            let mut word = Bits::new(c.idx_bits);
            word.set(0, c.idx_bits, i as u64);
            expected.push(word);
        }
    }
    for (seed, pi, po) in STALLS {
        let tag = format!("s{seed}_{pi}_{po}");
        let run = run_tb(
            &exe,
            &dir,
            &tag,
            &inputs,
            expected.len(),
            seed,
            pi,
            po,
            100_000,
            64,
        )?;
        check_data(&format!("{name} {tag}"), &run, &expected)?;
        let model = TopkTiming::new(nw, c.k, c.elems);
        check_timing(
            &format!("{name} {tag}"),
            &run,
            model,
            inputs.len(),
            seed,
            pi,
            po,
        )?;
        if pi == 0.0 && po == 0.0 {
            // first output L + 1 cycles after the NW input words of a vector (L = clog2 ELEMS)
            let period = nw.max(c.k) as u64;
            let levels = TopkTiming::new(nw, c.k, c.elems).stages.len() as u64;
            for (i, (_, cy)) in run.outs.iter().enumerate() {
                let (v, j) = ((i / c.k) as u64, (i % c.k) as u64);
                let want = nw as u64 + levels + v * period + j;
                if *cy != want {
                    return Err(format!("{name}: output {i} at cycle {cy}, expected {want}"));
                }
            }
        }
    }
    Ok(())
}

#[test]
fn topk_random_stalls() {
    require("verilator");
    let jobs: Vec<(String, Job)> = TOPK_CFGS
        .iter()
        .map(|&c| (format!("topk {c:?}"), Box::new(move || topk_job(c)) as Job))
        .collect();
    run_jobs("bnn_topk", jobs);
}

// ===========================================================================
// multi-instance test tops: many parameter sets in one Verilator build
// ===========================================================================

/// One instance of a multi-instance test top: parameter overrides (Verilog
/// expressions) and the instance's stream widths.
struct Inst {
    params: Vec<(String, String)>,
    in_bits: usize,
    out_bits: usize,
}

/// Verilog text of a test top `name` that holds one `module` per entry of
/// `insts` (a Verilator build per parameter set would dominate the test
/// time). The first input word after reset selects instance k (value k in
/// its low bits) and is consumed by the top; from then on the top's stream
/// ports are wired to instance k (data zero-extended to the top's widths,
/// the other instances see tvalid = tready = 0), so every handshake of
/// instance k happens in the same cycle as the top's. Returns the text and
/// the top's input and output widths.
fn multi_top(name: &str, module: &str, insts: &[Inst]) -> (String, usize, usize) {
    let n = insts.len();
    let ib = insts.iter().map(|i| i.in_bits).max().unwrap();
    let ob = insts.iter().map(|i| i.out_bits).max().unwrap();
    let selw = (usize::BITS - (n.max(2) - 1).leading_zeros()) as usize;
    assert!(selw <= ib, "{name}: {n} instances need {selw} select bits");
    let mut v = format!(
        "// generated by tests/hw_modules.rs: {n} x {module}, selected by the first input word\n\
         `default_nettype none\n\
         module {name} (\n\
         \x20   input  wire          ap_clk,\n\
         \x20   input  wire          ap_rst_n,\n\
         \x20   input  wire [{ib}-1:0] s_axis_tdata,\n\
         \x20   input  wire          s_axis_tvalid,\n\
         \x20   output wire          s_axis_tready,\n\
         \x20   output wire [{ob}-1:0] m_axis_tdata,\n\
         \x20   output wire          m_axis_tvalid,\n\
         \x20   input  wire          m_axis_tready\n\
         );\n\
         \x20   reg            sel_ok;\n\
         \x20   reg [{selw}-1:0] sel;\n\
         \x20   always @(posedge ap_clk) begin\n\
         \x20       if (!ap_rst_n) begin\n\
         \x20           sel_ok <= 1'b0;\n\
         \x20       end else if (s_axis_tvalid) begin\n\
         \x20           sel_ok <= 1'b1;\n\
         \x20       end\n\
         \x20   end\n\
         \x20   always @(posedge ap_clk) begin\n\
         \x20       if (s_axis_tvalid && !sel_ok) begin\n\
         \x20           sel <= s_axis_tdata[{selw}-1:0];\n\
         \x20       end\n\
         \x20   end\n\
         \x20   wire [{n}-1:0] rdy;\n\
         \x20   wire [{n}-1:0] vld;\n\
         \x20   wire [{ob}-1:0] dat [0:{n}-1];\n"
    );
    for (k, inst) in insts.iter().enumerate() {
        let ps: Vec<String> = inst
            .params
            .iter()
            .map(|(p, x)| format!(".{p}({x})"))
            .collect();
        let (ibk, obk) = (inst.in_bits, inst.out_bits);
        let ext = if obk < ob {
            format!("{{{{{}{{1'b0}}}}, d{k}}}", ob - obk)
        } else {
            format!("d{k}")
        };
        v.push_str(&format!(
            "    wire on{k} = sel_ok && (sel == {selw}'d{k});\n\
             \x20   wire [{obk}-1:0] d{k};\n\
             \x20   {module} #({}) u{k} (\n\
             \x20       .ap_clk(ap_clk), .ap_rst_n(ap_rst_n),\n\
             \x20       .s_axis_tdata(s_axis_tdata[{ibk}-1:0]), .s_axis_tvalid(s_axis_tvalid && on{k}),\n\
             \x20       .s_axis_tready(rdy[{k}]),\n\
             \x20       .m_axis_tdata(d{k}), .m_axis_tvalid(vld[{k}]), .m_axis_tready(m_axis_tready && on{k}));\n\
             \x20   assign dat[{k}] = {ext};\n",
            ps.join(", ")
        ));
    }
    v.push_str(
        "    assign s_axis_tready = !sel_ok || rdy[sel];\n\
         \x20   assign m_axis_tvalid = sel_ok && vld[sel];\n\
         \x20   assign m_axis_tdata  = dat[sel];\n\
         endmodule\n\
         `default_nettype wire\n",
    );
    (v, ib, ob)
}

/// Builds a multi-instance top (in a job slot); returns the binary and the
/// top's input/output widths.
fn build_multi(
    test: &str,
    module: &str,
    srcs: &[String],
    insts: &[Inst],
) -> (PathBuf, usize, usize) {
    let dir = work_dir(test, "build");
    let top = format!("{module}_multi");
    let (text, ib, ob) = multi_top(&top, module, insts);
    let file = dir.join(format!("{top}.v"));
    fs::write(&file, text).expect("write the test top");
    let mut all = srcs.to_vec();
    all.push(file.to_string_lossy().into_owned());
    let exe = std::sync::Arc::new(std::sync::Mutex::new(None));
    let slot = exe.clone();
    run_jobs(
        &format!("{module} build"),
        vec![(
            top.clone(),
            Box::new(move || {
                let e = build(&dir, &top, &all, &[], ib, ob)?;
                *slot.lock().unwrap() = Some(e);
                Ok(())
            }) as Job,
        )],
    );
    let exe = exe.lock().unwrap().take().expect("built");
    (exe, ib, ob)
}

/// The selection word of instance `k` followed by the data words (all `ib`
/// bits wide, values in the low bits).
fn select_and(k: usize, ib: usize, words: &[u64]) -> Vec<Bits> {
    let mut v = Vec::with_capacity(words.len() + 1);
    let mut sel = Bits::new(ib);
    sel.set(0, 16.min(ib), k as u64);
    v.push(sel);
    for &w in words {
        let mut b = Bits::new(ib);
        b.set(0, 64.min(ib), w);
        v.push(b);
    }
    v
}

/// Stall settings of the window-generator and pool tests: (seed, p_in, p_out).
const WIN_STALLS: [(u32, f64, f64); 6] = [
    (1, 0.0, 0.0),
    (7, 0.3, 0.3),
    (99, 0.6, 0.0),
    (2024, 0.0, 0.6),
    (5, 0.6, 0.6),
    (31, 0.3, 0.6),
];

// ===========================================================================
// sliding-window generator
// ===========================================================================

#[derive(Clone, Copy, Debug)]
struct SwgCfg {
    ih: usize,
    iw: usize,
    cw: usize,
    wbits: usize,
    k: (usize, usize),
    s: (usize, usize),
    p: (usize, usize),
    /// buffer words beyond `Window::depth()`
    extra: usize,
    /// `DEPTHWISE = 1`: per window the channel words outermost, kx innermost
    dw: bool,
}

impl SwgCfg {
    fn oh(&self) -> usize {
        (self.ih + 2 * self.p.0 - self.k.0) / self.s.0 + 1
    }
    fn ow(&self) -> usize {
        (self.iw + 2 * self.p.1 - self.k.1) / self.s.1 + 1
    }
    fn frame_words(&self) -> usize {
        self.ih * self.iw * self.cw
    }
    fn out_words(&self) -> usize {
        self.oh() * self.ow() * self.k.0 * self.k.1 * self.cw
    }
    /// The buffer depth the generator uses (the only library function the
    /// tests call), plus `extra`.
    fn depth(&self) -> usize {
        bnn_gen::passes::window::Window {
            ih: self.ih,
            iw: self.iw,
            cw: self.cw,
            kh: self.k.0,
            kw: self.k.1,
            sh: self.s.0,
            sw: self.s.1,
            ph: self.p.0,
            pw: self.p.1,
        }
        .depth()
            + self.extra
    }
    /// A pad word per channel word (distinct, seed-dependent).
    fn pad_words(&self, seed: u32) -> Vec<u64> {
        let mut rng = Rng::new(seed ^ 0x5EED);
        (0..self.cw).map(|_| rng.bits(self.wbits)).collect()
    }
    fn params(&self, pad: &[u64]) -> Vec<(String, String)> {
        let mut lit = Bits::new(self.cw * self.wbits);
        for (c, &p) in pad.iter().enumerate() {
            lit.set(c * self.wbits, self.wbits, p);
        }
        vec![
            param("IH", self.ih),
            param("IW", self.iw),
            param("CW", self.cw),
            param("WBITS", self.wbits),
            param("KH", self.k.0),
            param("KW", self.k.1),
            param("SH", self.s.0),
            param("SW", self.s.1),
            param("PH", self.p.0),
            param("PW", self.p.1),
            param("DEPTH", self.depth()),
            param("PAD", format!("{}'h{}", self.cw * self.wbits, lit.hex())),
            param("DEPTHWISE", u32::from(self.dw)),
        ]
    }

    /// The beats `(ky, kx, cw)` of one window in stream order.
    fn window_beats(&self) -> Vec<(usize, usize, usize)> {
        let mut v = Vec::new();
        for a in 0..self.k.0 * self.k.1 * self.cw {
            v.push(if self.dw {
                let (cw, r) = (a / (self.k.0 * self.k.1), a % (self.k.0 * self.k.1));
                (r / self.k.1, r % self.k.1, cw)
            } else {
                let (r, cw) = (a / self.cw, a % self.cw);
                (r / self.k.1, r % self.k.1, cw)
            });
        }
        v
    }
}

/// im2col reference: per frame, per output pixel (raster order), per
/// (ky, kx, cw) (cw innermost; depthwise: cw outermost, kx innermost) the
/// input word or the pad word; `true` marks input words.
fn swg_reference(c: &SwgCfg, pad: &[u64], frames: &[Vec<u64>]) -> Vec<(u64, bool)> {
    let mut out = Vec::new();
    for f in frames {
        for oy in 0..c.oh() {
            for ox in 0..c.ow() {
                for (ky, kx, cw) in c.window_beats() {
                    let iy = (oy * c.s.0 + ky) as i64 - c.p.0 as i64;
                    let ix = (ox * c.s.1 + kx) as i64 - c.p.1 as i64;
                    let inside = iy >= 0 && ix >= 0 && iy < c.ih as i64 && ix < c.iw as i64;
                    out.push(if inside {
                        (f[(iy as usize * c.iw + ix as usize) * c.cw + cw], true)
                    } else {
                        (pad[cw], false)
                    });
                }
            }
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
const fn swg(
    ih: usize,
    iw: usize,
    cw: usize,
    wbits: usize,
    k: (usize, usize),
    s: (usize, usize),
    p: (usize, usize),
    extra: usize,
) -> SwgCfg {
    SwgCfg {
        ih,
        iw,
        cw,
        wbits,
        k,
        s,
        p,
        extra,
        dw: false,
    }
}

/// [`swg`] in the depthwise order (`DEPTHWISE = 1`).
#[allow(clippy::too_many_arguments)]
const fn swg_dw(
    ih: usize,
    iw: usize,
    cw: usize,
    wbits: usize,
    k: (usize, usize),
    s: (usize, usize),
    p: (usize, usize),
    extra: usize,
) -> SwgCfg {
    SwgCfg {
        dw: true,
        ..swg(ih, iw, cw, wbits, k, s, p, extra)
    }
}

/// (IH, IW, CW, WBITS, (KH, KW), (SH, SW), (PH, PW), extra depth)
const SWG_CFGS: [SwgCfg; 35] = [
    // 3x3 stride 1, padding 1 / 0 (CNV style)
    swg(5, 7, 1, 1, (3, 3), (1, 1), (1, 1), 0),
    swg(5, 7, 2, 8, (3, 3), (1, 1), (0, 0), 0),
    swg(7, 5, 3, 12, (3, 3), (1, 1), (1, 1), 0),
    swg(6, 6, 1, 3, (3, 3), (1, 1), (1, 1), 3),
    // 3x3 stride 2
    swg(7, 5, 3, 12, (3, 3), (2, 2), (1, 1), 0),
    swg(8, 6, 1, 5, (3, 3), (2, 2), (0, 0), 0),
    // one row / one column images
    swg(1, 9, 1, 4, (1, 3), (1, 1), (0, 1), 0),
    swg(9, 1, 2, 3, (3, 1), (1, 1), (1, 0), 0),
    swg(1, 10, 1, 3, (1, 1), (1, 2), (0, 0), 0),
    swg(1, 6, 2, 6, (3, 3), (1, 1), (1, 1), 0),
    swg(1, 1, 1, 5, (1, 1), (1, 1), (0, 0), 0),
    swg(1, 1, 2, 7, (3, 3), (1, 1), (1, 1), 0),
    // 2x2 stride 2 (max-pool windows), odd sizes drop the last row/column
    swg(6, 6, 1, 2, (2, 2), (2, 2), (0, 0), 0),
    swg(7, 7, 2, 6, (2, 2), (2, 2), (0, 0), 0),
    swg(5, 9, 3, 1, (2, 2), (2, 2), (0, 0), 3),
    // non-square kernels / strides / padding
    swg(5, 7, 1, 7, (3, 2), (1, 1), (1, 0), 0),
    swg(5, 7, 2, 5, (3, 2), (2, 1), (0, 2), 0),
    swg(4, 6, 2, 11, (2, 3), (1, 1), (1, 2), 0),
    // 5x5
    swg(7, 7, 1, 1, (5, 5), (1, 1), (2, 2), 0),
    swg(6, 8, 1, 8, (5, 5), (2, 2), (2, 2), 0),
    swg(5, 5, 2, 9, (5, 5), (1, 1), (0, 0), 3),
    // stride > kernel
    swg(7, 5, 2, 4, (1, 1), (3, 3), (0, 0), 0),
    swg(8, 7, 1, 9, (2, 2), (3, 3), (1, 1), 0),
    swg(9, 8, 1, 10, (2, 2), (3, 2), (0, 1), 3),
    // kernel = stride
    swg(5, 5, 3, 2, (3, 3), (3, 3), (2, 2), 0),
    // padding >= kernel: whole windows of padding
    swg(4, 4, 1, 6, (1, 1), (1, 1), (1, 1), 0),
    swg(3, 3, 1, 10, (3, 3), (1, 1), (2, 2), 0),
    swg(3, 5, 2, 4, (2, 3), (1, 2), (2, 2), 0),
    // depthwise order: channel words outer, kernel positions inner
    swg_dw(5, 7, 3, 4, (3, 3), (1, 1), (1, 1), 0),
    swg_dw(7, 5, 2, 6, (3, 3), (2, 2), (1, 1), 0),
    swg_dw(5, 7, 1, 5, (3, 3), (1, 1), (1, 1), 0),
    swg_dw(6, 5, 2, 3, (2, 3), (1, 2), (0, 1), 3),
    swg_dw(1, 9, 3, 2, (1, 3), (1, 1), (0, 1), 0),
    swg_dw(3, 3, 2, 7, (3, 3), (1, 1), (2, 2), 0),
    swg_dw(7, 7, 2, 1, (1, 1), (1, 1), (0, 0), 0),
];

/// Frames per run.
const SWG_FRAMES: usize = 3;

fn swg_run(k: usize, c: SwgCfg, exe: &Path, ib: usize, ob: usize) -> Result<(), String> {
    let name = format!("#{k} {c:?} depth {}", c.depth());
    let dir = work_dir("swg", &format!("c{k}"));
    let seed = 1000 + k as u32;
    let pad = c.pad_words(seed);
    let mut rng = Rng::new(seed);
    let frames: Vec<Vec<u64>> = (0..SWG_FRAMES)
        .map(|_| (0..c.frame_words()).map(|_| rng.bits(c.wbits)).collect())
        .collect();
    let flat: Vec<u64> = frames.iter().flatten().copied().collect();
    let inputs = select_and(k, ib, &flat);
    let word = |w: u64| {
        let mut b = Bits::new(ob);
        b.set(0, c.wbits, w);
        b
    };
    let reference = swg_reference(&c, &pad, &frames);
    let expected: Vec<Bits> = reference.iter().map(|&(w, _)| word(w)).collect();
    // After the last frame the generator runs on into the next frame's
    // leading padding beats (they need no input word) and stops at the first
    // beat that needs one (a read, or a release at a window end; the frame's
    // last beat always waits for the whole frame). Those words are the
    // correct start of a frame F+1; at most `spill_max` of them are allowed,
    // and their number must not depend on the stalls.
    let frame0 = &reference[..c.out_words()];
    let spill_max = frame0
        .iter()
        .position(|&(_, real)| real)
        .unwrap_or(c.out_words() - 1);
    let (fw, ow) = (c.frame_words() as u64, c.out_words() as u64);
    let f = SWG_FRAMES as u64;
    let timeout = (f * (fw + ow) + 200) * 20;
    let mut spill_seen: Option<usize> = None;
    for (s, pi, po) in WIN_STALLS {
        let tag = format!("s{s}_{pi}_{po}");
        let run = run_tb(
            exe,
            &dir,
            &tag,
            &inputs,
            expected.len(),
            s,
            pi,
            po,
            timeout,
            100 + 5 * spill_max as u64,
        )?;
        let what = format!("{name} {tag}");
        let n = expected.len();
        let spill = run.outs.len().saturating_sub(n);
        if !(run.code == 0 || (run.code == 3 && spill > 0)) {
            return Err(format!(
                "{what}: harness exit code {} \n{}",
                run.code,
                tail(&run.log, 10)
            ));
        }
        let mut head = run;
        let extra = head.outs.split_off(n.min(head.outs.len()));
        head.code = 0;
        check_data(&what, &head, &expected)?;
        if spill > spill_max {
            return Err(format!(
                "{what}: {spill} words after the last frame, at most {spill_max} \
                 (the next frame's leading padding) allowed"
            ));
        }
        for (i, ((got, cyc), &(w, _))) in extra.iter().zip(frame0).enumerate() {
            if *got != word(w).hex() {
                return Err(format!(
                    "{what}: word {i} after the last frame (cycle {cyc}) is {got}, \
                     expected the pad word {}",
                    word(w).hex()
                ));
            }
        }
        if *spill_seen.get_or_insert(spill) != spill {
            return Err(format!(
                "{what}: {spill} words after the last frame, {} with other stalls",
                spill_seen.unwrap()
            ));
        }
        if head.in_cycles.len() != inputs.len() {
            return Err(format!(
                "{what}: {} of {} input words accepted",
                head.in_cycles.len(),
                inputs.len()
            ));
        }
        if pi == 0.0 && po == 0.0 {
            // throughput: the selection word is taken at cycle 0, the module
            // sees its first word at cycle 1
            let used = head.outs.last().map_or(0, |o| o.1);
            let bound = (f * ow).max(f * fw) + (c.k.0 * c.iw * c.cw) as u64 + 16;
            if used > bound {
                return Err(format!(
                    "{name}: {f} frames took {used} cycles without stalls, bound {bound} \
                     (out {ow} / in {fw} words per frame)"
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn swg_random_stalls() {
    require("verilator");
    let cfgs = SWG_CFGS;
    let insts: Vec<Inst> = cfgs
        .iter()
        .enumerate()
        .map(|(k, c)| Inst {
            params: c.params(&c.pad_words(1000 + k as u32)),
            in_bits: c.wbits,
            out_bits: c.wbits,
        })
        .collect();
    let (exe, ib, ob) = build_multi("swg", "bnn_swg", &[hw("bnn_swg.v")], &insts);
    let jobs: Vec<(String, Job)> = cfgs
        .iter()
        .enumerate()
        .map(|(k, &c)| {
            let exe = exe.clone();
            (
                format!("swg #{k} {c:?}"),
                Box::new(move || swg_run(k, c, &exe, ib, ob)) as Job,
            )
        })
        .collect();
    run_jobs("bnn_swg", jobs);
}

// ===========================================================================
// max-pool reduction
// ===========================================================================

#[derive(Clone, Copy, Debug)]
struct PoolCfg {
    cw: usize,
    lanes: usize,
    ebits: usize,
    signed: bool,
    kk: usize,
}

const fn pool(cw: usize, lanes: usize, ebits: usize, signed: bool, kk: usize) -> PoolCfg {
    PoolCfg {
        cw,
        lanes,
        ebits,
        signed,
        kk,
    }
}

/// (CW, LANES, EBITS, SIGNED, KK)
const POOL_CFGS: [PoolCfg; 14] = [
    pool(1, 1, 1, false, 1),
    pool(2, 4, 1, false, 4),
    pool(3, 8, 1, false, 9),
    pool(1, 3, 1, true, 2),
    pool(2, 5, 3, true, 4),
    pool(3, 8, 8, true, 9),
    pool(1, 2, 8, false, 9),
    pool(2, 7, 5, false, 2),
    pool(3, 6, 4, true, 1),
    pool(1, 8, 2, true, 4),
    pool(2, 1, 7, true, 9),
    pool(3, 2, 6, false, 4),
    pool(1, 4, 4, false, 2),
    pool(2, 3, 2, false, 1),
];

fn pool_run(k: usize, c: PoolCfg, exe: &Path, ib: usize, ob: usize) -> Result<(), String> {
    let name = format!("#{k} {c:?}");
    let dir = work_dir("pool", &format!("c{k}"));
    let mut rng = Rng::new(2000 + k as u32);
    let pixels = 40;
    let eb = c.ebits;
    let decode = |raw: u64| -> i64 {
        if c.signed && (raw >> (eb - 1)) & 1 == 1 {
            raw as i64 - (1i64 << eb)
        } else {
            raw as i64
        }
    };
    let mut words = Vec::new();
    let mut expected = Vec::new();
    for px in 0..pixels {
        // some pixels with a narrow value range (many ties) or extreme values
        let raw: Vec<Vec<u64>> = (0..c.kk * c.cw)
            .map(|_| {
                (0..c.lanes)
                    .map(|_| match px % 4 {
                        0 => rng.bits(1),
                        1 => {
                            let extremes = [0, 1, 1u64 << (eb - 1), (1u64 << eb) - 1];
                            extremes[rng.below(4) as usize]
                        }
                        _ => rng.bits(eb),
                    })
                    .collect()
            })
            .collect();
        for w in &raw {
            words.push(
                w.iter()
                    .enumerate()
                    .fold(0u64, |a, (l, &v)| a | (v << (l * eb))),
            );
        }
        for cw in 0..c.cw {
            let mut best = raw[cw].clone();
            for p in 1..c.kk {
                for (m, &v) in best.iter_mut().zip(&raw[p * c.cw + cw]) {
                    if decode(v) > decode(*m) {
                        *m = v;
                    }
                }
            }
            let mut b = Bits::new(ob);
            for (l, &v) in best.iter().enumerate() {
                b.set(l * eb, eb, v);
            }
            expected.push(b);
        }
    }
    let inputs = select_and(k, ib, &words);
    for (s, pi, po) in WIN_STALLS {
        let tag = format!("s{s}_{pi}_{po}");
        let run = run_tb(
            exe,
            &dir,
            &tag,
            &inputs,
            expected.len(),
            s,
            pi,
            po,
            (inputs.len() as u64 + 100) * 20,
            64,
        )?;
        check_data(&format!("{name} {tag}"), &run, &expected)?;
        if pi == 0.0 && po == 0.0 {
            // one word per cycle in; a pixel's word cw leaves the cycle after
            // its last input word (cycle 0 is the selection word)
            for (i, &cy) in run.in_cycles.iter().enumerate() {
                if cy != i as u64 {
                    return Err(format!("{name}: input {i} at cycle {cy}, expected {i}"));
                }
            }
            for (j, (_, cy)) in run.outs.iter().enumerate() {
                let last_in = (j / c.cw) * c.kk * c.cw + (c.kk - 1) * c.cw + j % c.cw;
                let want = last_in as u64 + 2;
                if *cy != want {
                    return Err(format!("{name}: output {j} at cycle {cy}, expected {want}"));
                }
            }
        }
    }
    Ok(())
}

#[test]
fn pool_random_stalls() {
    require("verilator");
    let insts: Vec<Inst> = POOL_CFGS
        .iter()
        .map(|c| Inst {
            params: vec![
                param("CW", c.cw),
                param("LANES", c.lanes),
                param("EBITS", c.ebits),
                param("SIGNED", c.signed as u32),
                param("KK", c.kk),
            ],
            in_bits: c.lanes * c.ebits,
            out_bits: c.lanes * c.ebits,
        })
        .collect();
    let (exe, ib, ob) = build_multi("pool", "bnn_pool", &[hw("bnn_pool.v")], &insts);
    let jobs: Vec<(String, Job)> = POOL_CFGS
        .iter()
        .enumerate()
        .map(|(k, &c)| {
            let exe = exe.clone();
            (
                format!("pool #{k} {c:?}"),
                Box::new(move || pool_run(k, c, &exe, ib, ob)) as Job,
            )
        })
        .collect();
    run_jobs("bnn_pool", jobs);
}

// ===========================================================================
// global average pool (sum over the pixels of a frame)
// ===========================================================================

#[derive(Clone, Copy, Debug)]
struct GapCfg {
    cw: usize,
    lanes: usize,
    pixels: usize,
    channels: usize,
    itype: u32,
    ibits: usize,
    abits: usize,
}

const fn gap(
    cw: usize,
    lanes: usize,
    pixels: usize,
    channels: usize,
    itype: u32,
    ibits: usize,
    abits: usize,
) -> GapCfg {
    GapCfg {
        cw,
        lanes,
        pixels,
        channels,
        itype,
        ibits,
        abits,
    }
}

impl GapCfg {
    fn params(&self) -> Vec<(String, String)> {
        vec![
            param("CW", self.cw),
            param("LANES", self.lanes),
            param("PIXELS", self.pixels),
            param("CHANNELS", self.channels),
            param("ITYPE", self.itype),
            param("IBITS", self.ibits),
            param("ABITS", self.abits),
        ]
    }
}

/// (CW, LANES, PIXELS, CHANNELS, ITYPE, IBITS, ABITS): odd and non-power-of-two pixel counts
/// (15 = 3x5, 7, 9, 25), one pixel, padded slots (CHANNELS < CW*LANES, for bipolar data too),
/// sums that just fit ABITS at both ends of the range.
const GAP_CFGS: [GapCfg; 9] = [
    gap(1, 1, 1, 1, 1, 1, 2),
    gap(2, 3, 15, 5, 0, 1, 5),
    gap(3, 2, 7, 6, 0, 1, 4),
    gap(1, 4, 15, 4, 1, 2, 6),
    gap(2, 2, 9, 3, 2, 3, 7),
    gap(3, 3, 25, 7, 2, 2, 7),
    gap(1, 8, 3, 8, 1, 8, 10),
    gap(4, 1, 5, 4, 2, 8, 11),
    gap(2, 5, 16, 10, 1, 1, 5),
];

fn gap_run(k: usize, c: GapCfg, exe: &Path, ib: usize, ob: usize) -> Result<(), String> {
    let name = format!("#{k} {c:?}");
    let dir = work_dir("gap", &format!("c{k}"));
    let mut rng = Rng::new(3000 + k as u32);
    let frames = 6;
    let decode = |raw: u64| -> i64 {
        match c.itype {
            0 => 2 * raw as i64 - 1,
            2 if (raw >> (c.ibits - 1)) & 1 == 1 => raw as i64 - (1i64 << c.ibits),
            _ => raw as i64,
        }
    };
    let mut words = Vec::new();
    let mut expected = Vec::new();
    for f in 0..frames {
        // frame 0: all minimum, frame 1: all maximum (the sum's extremes), then random
        let raws: Vec<Vec<u64>> = (0..c.pixels * c.cw)
            .map(|_| {
                (0..c.lanes)
                    .map(|_| match (f, c.itype) {
                        (0, 2) => 1u64 << (c.ibits - 1),
                        (0, _) => 0,
                        (1, 2) => (1u64 << (c.ibits - 1)) - 1,
                        (1, _) => (1u64 << c.ibits) - 1,
                        _ => rng.bits(c.ibits),
                    })
                    .collect()
            })
            .collect();
        for w in &raws {
            words.push(
                w.iter()
                    .enumerate()
                    .fold(0u64, |a, (l, &v)| a | (v << (l * c.ibits))),
            );
        }
        for cw in 0..c.cw {
            let mut b = Bits::new(ob);
            let mut sums = vec![0i64; c.lanes];
            for p in 0..c.pixels {
                for (s, &raw) in sums.iter_mut().zip(&raws[p * c.cw + cw]) {
                    *s += decode(raw);
                }
            }
            for (l, sum) in sums.into_iter().enumerate() {
                let v = if cw * c.lanes + l < c.channels {
                    sum
                } else {
                    0
                };
                b.set(l * c.abits, c.abits, mask(v, c.abits));
            }
            expected.push(b);
        }
    }
    let inputs = select_and(k, ib, &words);
    for (s, pi, po) in WIN_STALLS {
        let tag = format!("s{s}_{pi}_{po}");
        let run = run_tb(
            exe,
            &dir,
            &tag,
            &inputs,
            expected.len(),
            s,
            pi,
            po,
            (inputs.len() as u64 + 100) * 20,
            64,
        )?;
        check_data(&format!("{name} {tag}"), &run, &expected)?;
        if pi == 0.0 && po == 0.0 {
            // one word per cycle in; the last pixel's word cw leaves the cycle after it
            // (cycle 0 is the selection word)
            for (i, &cy) in run.in_cycles.iter().enumerate() {
                if cy != i as u64 {
                    return Err(format!("{name}: input {i} at cycle {cy}, expected {i}"));
                }
            }
            for (j, (_, cy)) in run.outs.iter().enumerate() {
                let last_in = (j / c.cw) * c.pixels * c.cw + (c.pixels - 1) * c.cw + j % c.cw;
                let want = last_in as u64 + 2;
                if *cy != want {
                    return Err(format!("{name}: output {j} at cycle {cy}, expected {want}"));
                }
            }
        }
    }
    Ok(())
}

#[test]
fn gap_random_stalls() {
    require("verilator");
    let insts: Vec<Inst> = GAP_CFGS
        .iter()
        .map(|c| Inst {
            params: c.params(),
            in_bits: c.lanes * c.ibits,
            out_bits: c.lanes * c.abits,
        })
        .collect();
    let (exe, ib, ob) = build_multi("gap", "bnn_gap", &[hw("bnn_gap.v")], &insts);
    let jobs: Vec<(String, Job)> = GAP_CFGS
        .iter()
        .enumerate()
        .map(|(k, &c)| {
            let exe = exe.clone();
            (
                format!("gap #{k} {c:?}"),
                Box::new(move || gap_run(k, c, &exe, ib, ob)) as Job,
            )
        })
        .collect();
    run_jobs("bnn_gap", jobs);
}

// ===========================================================================
// lint, Icarus, yosys
// ===========================================================================

/// (top, sources, parameters) for every module and swept parameter set.
/// (top module, source files, -G parameters)
type LintTarget = (String, Vec<String>, Vec<(String, String)>);

fn lint_targets() -> Vec<LintTarget> {
    let mut t = Vec::new();
    let mvtu_core: Vec<String> = [
        "bnn_mvtu.v",
        "bnn_dot.v",
        "bnn_addtree.v",
        "bnn_thresh.v",
        "bnn_resize.v",
    ]
    .iter()
    .map(|f| hw(f))
    .collect();
    for c in mvtu_configs() {
        let case = mvtu_case(&c, 1);
        let p = mvtu_params(&c, &case);
        t.push(("bnn_mvtu".to_string(), mvtu_core.clone(), p.clone()));
        let mut pw = p;
        pw.push(param("MEM_DIR", "\"/nonexistent\""));
        t.push(("mvtu_tb_top".to_string(), mvtu_sources(), pw));
    }
    let mut vvau_core = mvtu_core.clone();
    vvau_core.push(hw("bnn_vvau.v"));
    for c in vvau_configs() {
        let case = vvau_case(&c, 1);
        let p = mvtu_params(&c, &case);
        t.push(("bnn_vvau".to_string(), vvau_core.clone(), p));
    }
    for (w, d) in FIFO_CFGS {
        t.push((
            "bnn_fifo".into(),
            vec![hw("bnn_fifo.v")],
            vec![param("WIDTH", w), param("DEPTH", d)],
        ));
    }
    for (i, o) in DWC_CFGS {
        t.push((
            "bnn_dwc".into(),
            vec![hw("bnn_dwc.v")],
            vec![param("IN_BITS", i), param("OUT_BITS", o)],
        ));
    }
    for c in TOPK_CFGS {
        t.push((
            "bnn_topk".into(),
            vec![hw("bnn_topk.v"), hw("bnn_topk_merge.v"), hw("bnn_resize.v")],
            vec![
                param("N", c.n),
                param("ELEMS", c.elems),
                param("ELEM_BITS", c.ebits),
                param("SIGNED", c.signed as u32),
                param("K", c.k),
                param("IDX_BITS", c.idx_bits),
            ],
        ));
    }
    for c in [
        swg(5, 7, 2, 8, (3, 3), (1, 1), (1, 1), 0),
        swg(4, 4, 1, 1, (1, 1), (1, 1), (0, 0), 0),
        swg(1, 9, 1, 4, (1, 3), (1, 2), (0, 1), 0),
        swg(32, 32, 1, 1, (3, 3), (1, 1), (0, 0), 0),
        swg(9, 8, 3, 12, (2, 2), (3, 2), (0, 1), 5),
        swg(1, 1, 1, 1, (1, 1), (1, 1), (0, 0), 0),
    ] {
        let pad: Vec<u64> = (0..c.cw as u64).collect();
        t.push(("bnn_swg".into(), vec![hw("bnn_swg.v")], c.params(&pad)));
    }
    for c in [
        pool(1, 1, 1, false, 1),
        pool(2, 4, 1, false, 4),
        pool(3, 8, 8, true, 9),
        pool(1, 3, 1, true, 2),
        pool(3, 1, 5, true, 1),
    ] {
        t.push((
            "bnn_pool".into(),
            vec![hw("bnn_pool.v")],
            vec![
                param("CW", c.cw),
                param("LANES", c.lanes),
                param("EBITS", c.ebits),
                param("SIGNED", c.signed as u32),
                param("KK", c.kk),
            ],
        ));
    }
    for c in [
        gap(1, 1, 1, 1, 1, 1, 2),
        gap(2, 3, 15, 5, 0, 1, 5),
        gap(3, 2, 7, 1, 2, 3, 6),
        gap(1, 8, 25, 8, 1, 8, 13),
    ] {
        t.push(("bnn_gap".into(), vec![hw("bnn_gap.v")], c.params()));
    }
    for (w, d) in [(1, 1), (8, 13), (100, 64)] {
        t.push((
            "bnn_rom".into(),
            vec![hw("bnn_rom.v")],
            vec![param("WIDTH", w), param("DEPTH", d)],
        ));
    }
    for (simd, wb, ib, wt, it, acc) in [
        (1, 1, 1, 0, 0, 2),
        (7, 1, 8, 0, 1, 12),
        (3, 8, 8, 2, 2, 10),
        (4, 2, 3, 1, 2, 4),
        (64, 1, 1, 0, 1, 9),
        (5, 4, 1, 2, 0, 8),
        (3, 1, 3, 1, 2, 6),
        (2, 3, 1, 1, 1, 6),
        (1, 2, 2, 1, 2, 5),
    ] {
        t.push((
            "bnn_dot".into(),
            vec![hw("bnn_dot.v"), hw("bnn_addtree.v"), hw("bnn_resize.v")],
            vec![
                param("SIMD", simd),
                param("WBITS", wb),
                param("IBITS", ib),
                param("WTYPE", wt),
                param("ITYPE", it),
                param("ACC_BITS", acc),
            ],
        ));
    }
    for (n, w, sg, st, ow) in [
        (1, 1, 0, 1, 2),
        (2, 1, 0, 1, 2),
        (3, 1, 0, 2, 4),
        (64, 1, 0, 6, 9),
        (5, 3, 1, 3, 6),
        (7, 8, 0, 3, 10),
        (9, 4, 1, 5, 5),
    ] {
        t.push((
            "bnn_addtree".into(),
            vec![hw("bnn_addtree.v"), hw("bnn_resize.v")],
            vec![
                param("N", n),
                param("W", w),
                param("SIGNED", sg),
                param("STAGES", st),
                param("OUT_W", ow),
            ],
        ));
    }
    for (acc, n, tb, ob, bias) in [(1, 1, 1, 1, 0), (10, 15, 12, 4, -8), (40, 3, 8, 2, 1)] {
        t.push((
            "bnn_thresh".into(),
            vec![hw("bnn_thresh.v"), hw("bnn_resize.v")],
            vec![
                param("ACC_BITS", acc),
                param("NSTEPS", n),
                param("TBITS", tb),
                param("OBITS", ob),
                param("OUT_BIAS", bias),
            ],
        ));
    }
    // simulation only (tests/axis_monitor.rs runs it); lint-clean all the same
    for (w, r) in [(1, 1), (8, 8), (100, 3)] {
        t.push((
            "bnn_axis_monitor".into(),
            vec![hw("bnn_axis_monitor.v")],
            vec![
                param("WIDTH", w),
                param("LINK", "\"l0_fc0 (u_l0_fc0 -> u_l1_fc1)\""),
                param("MAX_REPORTS", r),
            ],
        ));
    }
    for (i, o, s) in [(8, 16, 1), (16, 8, 0), (5, 5, 1), (1, 3, 0)] {
        t.push((
            "bnn_resize".into(),
            vec![hw("bnn_resize.v")],
            vec![param("IN_W", i), param("OUT_W", o), param("SIGNED", s)],
        ));
    }
    t
}

#[test]
fn verilator_lint_all_modules() {
    require("verilator");
    let targets = lint_targets();
    // every file of hw/ must be covered
    let covered: std::collections::BTreeSet<String> =
        targets.iter().flat_map(|t| t.1.clone()).collect();
    for e in fs::read_dir(root().join("hw")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "v") {
            let s = p.to_string_lossy().into_owned();
            assert!(
                covered.contains(&s),
                "hw module {s} is not linted by tests/hw_modules.rs"
            );
        }
    }
    let jobs: Vec<(String, Job)> = targets
        .into_iter()
        .enumerate()
        .map(|(i, (top, srcs, params))| {
            let name = format!("{i}:{top}");
            let job: Job = Box::new(move || {
                let mut cmd = Command::new("verilator");
                cmd.args(["--lint-only", "-Wall", "--top-module", &top]);
                for (k, v) in &params {
                    cmd.arg(format!("-G{k}={v}"));
                }
                cmd.args(&srcs);
                let out = check_cmd(&mut cmd)?;
                if out.contains("%Warning") {
                    return Err(format!("warnings for {params:?}:\n{out}"));
                }
                Ok(())
            });
            (name, job)
        })
        .collect();
    run_jobs("verilator --lint-only -Wall", jobs);
}

/// Parameter errors must stop elaboration with the rule in the message.
#[test]
fn parameter_checks_stop_elaboration() {
    require("verilator");
    type Case = (
        &'static str,
        Vec<String>,
        Vec<(String, String)>,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            "bnn_mvtu",
            [
                "bnn_mvtu.v",
                "bnn_dot.v",
                "bnn_addtree.v",
                "bnn_thresh.v",
                "bnn_resize.v",
            ]
            .iter()
            .map(|f| hw(f))
            .collect(),
            vec![param("MW", 15), param("SIMD", 4), param("XNOR_FANIN", 15)],
            "ERROR_bnn_mvtu_SIMD_must_divide_MW",
        ),
        (
            "bnn_mvtu",
            [
                "bnn_mvtu.v",
                "bnn_dot.v",
                "bnn_addtree.v",
                "bnn_thresh.v",
                "bnn_resize.v",
            ]
            .iter()
            .map(|f| hw(f))
            .collect(),
            vec![param("MH", 9), param("PE", 2)],
            "ERROR_bnn_mvtu_PE_must_divide_MH",
        ),
        (
            "bnn_fifo",
            vec![hw("bnn_fifo.v")],
            vec![param("DEPTH", 1)],
            "ERROR_bnn_fifo_DEPTH_must_be_at_least_2",
        ),
        (
            "bnn_topk",
            vec![hw("bnn_topk.v"), hw("bnn_topk_merge.v"), hw("bnn_resize.v")],
            vec![param("N", 3), param("K", 4)],
            "ERROR_bnn_topk_K_must_be_in_1_to_N",
        ),
        (
            "bnn_swg",
            vec![hw("bnn_swg.v")],
            vec![param("IH", 2), param("KH", 5), param("PH", 1)],
            "ERROR_bnn_swg_kernel_larger_than_padded_image",
        ),
        (
            "bnn_swg",
            vec![hw("bnn_swg.v")],
            vec![param("DEPTH", 0)],
            "ERROR_bnn_swg_DEPTH_must_be_at_least_1",
        ),
        (
            "bnn_pool",
            vec![hw("bnn_pool.v")],
            vec![param("KK", 0)],
            "ERROR_bnn_pool_CW_LANES_EBITS_KK_must_be_positive",
        ),
        (
            "bnn_gap",
            vec![hw("bnn_gap.v")],
            vec![param("CW", 1), param("LANES", 2), param("CHANNELS", 3)],
            "ERROR_bnn_gap_CW_LANES_PIXELS_positive_and_CHANNELS_1_to_CW_times_LANES",
        ),
        (
            "bnn_gap",
            vec![hw("bnn_gap.v")],
            vec![param("IBITS", 4), param("ABITS", 4)],
            "ERROR_bnn_gap_ABITS_must_exceed_IBITS_and_be_2_to_63",
        ),
        (
            "bnn_axis_monitor",
            vec![hw("bnn_axis_monitor.v")],
            vec![param("MAX_REPORTS", 0)],
            "ERROR_bnn_axis_monitor_MAX_REPORTS_must_be_at_least_1",
        ),
    ];
    for (top, srcs, params, msg) in cases {
        let mut cmd = Command::new("verilator");
        cmd.args(["--lint-only", "-Wall", "--top-module", top]);
        for (k, v) in &params {
            cmd.arg(format!("-G{k}={v}"));
        }
        cmd.args(&srcs);
        let (st, out) = run_cmd(&mut cmd).unwrap();
        assert!(
            !st.success() && out.contains(msg),
            "{top} {params:?} should fail with {msg}:\n{out}"
        );
    }
}

#[test]
fn icarus_compiles_all_modules() {
    require("iverilog");
    let dir = work_dir("icarus", "all");
    let mut srcs: Vec<String> = fs::read_dir(root().join("hw"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "v"))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    srcs.sort();
    srcs.push(
        root()
            .join("tests/hw/mvtu_tb_top.v")
            .to_string_lossy()
            .into_owned(),
    );
    let mut jobs: Vec<(String, Job)> = Vec::new();
    // default parameters of every module as tops, then the MVTU sweep
    {
        let srcs = srcs.clone();
        let out = dir.join("all.vvp");
        jobs.push((
            "defaults".into(),
            Box::new(move || {
                check_cmd(
                    Command::new("iverilog")
                        .args(["-g2005", "-Wall", "-o"])
                        .arg(&out)
                        .args(&srcs),
                )
                .map(|_| ())
            }),
        ));
    }
    for c in mvtu_configs() {
        let case = mvtu_case(&c, 1);
        let params = mvtu_params(&c, &case);
        let srcs = srcs.clone();
        let out = dir.join(format!("{}.vvp", c.name));
        jobs.push((
            c.name.to_string(),
            Box::new(move || {
                let mut cmd = Command::new("iverilog");
                cmd.args(["-g2005", "-s", "mvtu_tb_top", "-o"]).arg(&out);
                for (k, v) in &params {
                    cmd.arg(format!("-Pmvtu_tb_top.{k}={v}"));
                }
                cmd.args(&srcs);
                check_cmd(&mut cmd).map(|_| ())
            }),
        ));
    }
    // the window generator / pool parameter sets of the lint test (Icarus
    // evaluates the width arithmetic independently of Verilator)
    for (i, (top, srcs, params)) in lint_targets()
        .into_iter()
        .filter(|t| t.0 == "bnn_swg" || t.0 == "bnn_pool")
        .enumerate()
    {
        let out = dir.join(format!("{top}_{i}.vvp"));
        jobs.push((
            format!("{top} {params:?}"),
            Box::new(move || {
                let mut cmd = Command::new("iverilog");
                cmd.args(["-g2005", "-Wall", "-s", &top, "-o"]).arg(&out);
                for (k, v) in &params {
                    cmd.arg(format!("-P{top}.{k}={v}"));
                }
                cmd.args(&srcs);
                let text = check_cmd(&mut cmd)?;
                if text.contains("warning") {
                    return Err(format!("warnings for {params:?}:\n{text}"));
                }
                Ok(())
            }),
        ));
    }
    run_jobs("iverilog -g2005", jobs);
}

#[test]
fn yosys_synth_xilinx() {
    require("yosys");
    let mut jobs: Vec<(String, Job)> = Vec::new();
    // an MVTU with its ROMs (W2A2, thresholds)
    {
        let c = mvtu_configs()
            .into_iter()
            .find(|c| c.name == "w2a2_dir")
            .unwrap();
        let dir = work_dir("yosys", "mvtu");
        let case = mvtu_case(&c, 3);
        for (p, w) in case.wmem.iter().enumerate() {
            write_mem(&dir.join(format!("w{p:03}.mem")), w);
        }
        for (p, t) in case.tmem.iter().enumerate() {
            write_mem(&dir.join(format!("t{p:03}.mem")), t);
        }
        let mut params = mvtu_params(&c, &case);
        params.push(param("MEM_DIR", format!("\"{}\"", dir.display())));
        let chparam: String = params
            .iter()
            .map(|(k, v)| format!(" -set {k} {v}"))
            .collect();
        let script = format!(
            "read_verilog {}; chparam{chparam} mvtu_tb_top; synth_xilinx -family xc7 -noiopad -noclkbuf -top mvtu_tb_top; stat",
            mvtu_sources().join(" ")
        );
        jobs.push((
            "mvtu".into(),
            Box::new(move || yosys(&dir, &script, &["FDRE"])),
        ));
    }
    // a weight-ROM-sized bnn_rom must become block RAM
    {
        let dir = work_dir("yosys", "rom");
        let mut rng = Rng::new(77);
        let words: Vec<Bits> = (0..1024)
            .map(|_| {
                let mut b = Bits::new(64);
                b.set(0, 32, rng.bits(32));
                b.set(32, 32, rng.bits(32));
                b
            })
            .collect();
        let mem = dir.join("rom.mem");
        write_mem(&mem, &words);
        let script = format!(
            "read_verilog {}; chparam -set WIDTH 64 -set DEPTH 1024 -set INIT_FILE \"{}\" bnn_rom; \
             synth_xilinx -family xc7 -noiopad -noclkbuf -top bnn_rom; stat",
            hw("bnn_rom.v"),
            mem.display()
        );
        jobs.push((
            "rom".into(),
            Box::new(move || yosys(&dir, &script, &["RAMB"])),
        ));
    }
    for (name, top, srcs, sets, need) in [
        (
            "fifo",
            "bnn_fifo",
            vec![hw("bnn_fifo.v")],
            " -set WIDTH 32 -set DEPTH 1024",
            "RAMB",
        ),
        (
            "fifo_small",
            "bnn_fifo",
            vec![hw("bnn_fifo.v")],
            " -set WIDTH 16 -set DEPTH 32",
            "RAM32M",
        ),
        (
            "dwc_gen",
            "bnn_dwc",
            vec![hw("bnn_dwc.v")],
            " -set IN_BITS 48 -set OUT_BITS 32",
            "FDRE",
        ),
        (
            "dwc_up",
            "bnn_dwc",
            vec![hw("bnn_dwc.v")],
            " -set IN_BITS 8 -set OUT_BITS 32",
            "FDRE",
        ),
        (
            "dwc_down",
            "bnn_dwc",
            vec![hw("bnn_dwc.v")],
            " -set IN_BITS 64 -set OUT_BITS 16",
            "FDRE",
        ),
        (
            "topk",
            "bnn_topk",
            vec![hw("bnn_topk.v"), hw("bnn_topk_merge.v"), hw("bnn_resize.v")],
            " -set N 10 -set ELEMS 2 -set K 3",
            "FDRE",
        ),
    ] {
        let dir = work_dir("yosys", name);
        let script = format!(
            "read_verilog {}; chparam{sets} {top}; synth_xilinx -family xc7 -noiopad -noclkbuf -top {top}; stat",
            srcs.join(" ")
        );
        jobs.push((name.into(), Box::new(move || yosys(&dir, &script, &[need]))));
    }
    // window generators: a CNV-sized buffer must become block RAM, a small
    // one LUTRAM; a pool's running maxima LUTRAM
    for (name, c, need) in [
        ("swg", swg(32, 32, 4, 16, (3, 3), (1, 1), (1, 1), 0), "RAMB"),
        (
            "swg_small",
            swg(8, 8, 1, 8, (3, 3), (1, 1), (0, 0), 0),
            "RAM64M",
        ),
    ] {
        let dir = work_dir("yosys", name);
        let pad: Vec<u64> = (0..c.cw as u64).collect();
        let sets: String = c
            .params(&pad)
            .iter()
            .map(|(k, v)| format!(" -set {k} {v}"))
            .collect();
        let script = format!(
            "read_verilog {}; chparam{sets} bnn_swg; synth_xilinx -family xc7 -noiopad -noclkbuf -top bnn_swg; stat",
            hw("bnn_swg.v")
        );
        jobs.push((name.into(), Box::new(move || yosys(&dir, &script, &[need]))));
    }
    {
        let dir = work_dir("yosys", "pool");
        let script = format!(
            "read_verilog {}; chparam -set CW 4 -set LANES 8 -set EBITS 4 -set SIGNED 1 -set KK 4 bnn_pool; \
             synth_xilinx -family xc7 -noiopad -noclkbuf -top bnn_pool; stat",
            hw("bnn_pool.v")
        );
        jobs.push((
            "pool".into(),
            Box::new(move || yosys(&dir, &script, &["RAM32M", "FDRE"])),
        ));
    }
    run_jobs("yosys synth_xilinx", jobs);
}

/// Runs a yosys script; the final netlist statistics must mention every
/// cell type in `need` (e.g. RAMB for block RAM inference).
fn yosys(dir: &Path, script: &str, need: &[&str]) -> Result<(), String> {
    let log = dir.join("yosys.log");
    let out = check_cmd(
        Command::new("yosys")
            .arg("-q")
            .arg("-l")
            .arg(&log)
            .arg("-p")
            .arg(script),
    )?;
    let text = fs::read_to_string(&log).unwrap_or_default() + &out;
    if text.contains("ERROR") {
        return Err(tail(&text, 30));
    }
    let stat = &text[text.rfind("Printing statistics").unwrap_or(0)..];
    for n in need {
        if !stat.contains(n) {
            return Err(format!("no {n} cell in the netlist:\n{}", tail(stat, 60)));
        }
    }
    Ok(())
}
