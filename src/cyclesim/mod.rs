//! The cycle-accurate simulator: a Rust model of every module of `hw/`, composed the way the
//! Verilog generator composes them, stepped once per clock.
//!
//! It is the third, independent model of a design, next to the golden model ([`crate::golden`],
//! functional) and Verilator (the generated RTL): it does not call the golden model and is not
//! generated from the Verilog. Its registers and handshakes mirror the RTL of `hw/*.v`
//! (cycle-exact timing in each file's header), so that for the same input words and the same
//! stall seed it produces the same output words **at the same cycles**, accepts every input word
//! at the same cycle, and runs the same number of cycles as the Verilator harness
//! `sim/axis_tb.cpp` (whose stall pattern and cycle numbering [`Pipeline::run`] reproduces, see
//! `sim/README.md`).
//!
//! # Structure
//!
//! - [`Mvtu`] (`bnn_mvtu` + one weight and one threshold `bnn_rom` per PE; built with
//!   [`Mvtu::new_depthwise`] it is `bnn_vvau`, which is `bnn_mvtu` with `DEPTHWISE = 1`: the
//!   same control, the depthwise datapath of `vvau.rs`), [`Swg`] (`bnn_swg`, the sliding-window
//!   generator of conv and max-pool layers), [`Pool`] (`bnn_pool`), [`Gap`] (`bnn_gap`),
//!   [`Fifo`] (`bnn_fifo`), [`Dwc`] (`bnn_dwc`; equal widths are wires and no block), [`TopK`]
//!   (`bnn_topk`): each has `s_ready`, `m_valid`, `m_data` (combinational outputs of the current
//!   registers; only `bnn_topk`'s `s_ready` also depends on its `m_ready`), and `tick(push, pop)`
//!   (the rising edge, given this cycle's handshakes).
//! - [`Pipeline`]: a chain of blocks between the input port and the output port. Each block's
//!   `tvalid`, registered `tready` and "an edge without a handshake changes nothing"
//!   (`idle_edge()`) are cached at its tick (they depend on its registers only), as bit sets
//!   over all blocks. Each cycle the pipeline resolves the `tready` of top-k (the one
//!   combinational path, back to front), forms every link's handshake with a few word
//!   operations on the bit sets, then ticks, back to front so that every consumer sees its
//!   producer's pre-edge data, only the blocks with a handshake on a port or a non-idle edge (a
//!   FIFO or pool between two busy layers, an MVTU waiting for its next input word with nothing
//!   in flight are skipped). An MVTU in the middle of a fold over its stored input vector
//!   sleeps through the beats that only advance its counters and catches up in one step when
//!   it is next ticked (`Mvtu::quiet_edges`).
//! - [`CycleSim`]: a pipeline built from the hardware IR ([`HwNetwork`], the struct the Verilog
//!   generator renders, so both see identical padded weights and thresholds), with frame packing
//!   and per-frame results.
//!
//! # Speed
//!
//! Weights are pre-decoded (packed bits for XNOR layers, bit planes met with AND-popcount for
//! narrow multi-bit types, one `i16` per lane otherwise; see `dot.rs`), the popcount loops use
//! the `popcnt` instruction when the CPU has it, and an MVTU computes the dot products of a whole
//! neuron fold at once, when its last beat issues (the output word only depends on the fold's
//! input words, all in the input buffer by then; the MVTU's free-running pipeline is a delay
//! line of output words), from weights stored fold-major so that one PE's fold is one
//! contiguous run; nothing is allocated per cycle. Input words are split into bit planes or
//! decoded lanes once, when stored. Narrow multi-bit types with up to 64 lanes per beat use
//! unrolled bit-plane kernels (W2A2: four AND-popcounts per PE); MAC lanes are `i16` products
//! summed in eight packed `i32` lanes. The window generator keeps incremental counters and a
//! precomputed `hold` table. `scripts/bench-sim` (`tests/sim_speed.rs`) measures it against Verilator -O3 on
//! LFC-W1A1, a W2A2 MLP, CNV and a W4A4 conv net (figures in `docs/performance.md`).

pub mod batch;
mod bits;
mod dot;
mod dwc;
mod fifo;
mod gap;
mod mvtu;
mod pool;
mod queue;
mod stall;
mod swg;
mod topk;
mod vvau;

pub use bits::{from_hex, limbs, to_hex};
pub use dwc::Dwc;
pub use fifo::Fifo;
pub use gap::{Gap, GapParams};
pub use mvtu::{Mvtu, MvtuMode, MvtuParams};
pub use pool::{Pool, PoolParams};
pub use stall::{threshold as stall_threshold, StallGen, Stalls};
pub use swg::{Swg, SwgParams};
pub use topk::{TopK, TopkParams};

use crate::datatype::DataType;
use crate::error::{Error, Result};
use crate::hwir::{
    type_code, HwActivation, HwElement, HwGap, HwKind, HwLayer, HwMvtu, HwNetwork, HwWindow,
    StreamFormat,
};
use crate::ir::Network;
use crate::passes::pad;
use ndarray::ArrayViewD;

// ---------------------------------------------------------------------------------------------
// Words
// ---------------------------------------------------------------------------------------------

/// A list of stream words of one width, stored flat (little-endian `u64` limbs per word).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Words {
    bits: usize,
    stride: usize,
    data: Vec<u64>,
}

impl Words {
    /// An empty list of `bits`-bit words.
    pub fn new(bits: usize) -> Self {
        Words {
            bits,
            stride: limbs(bits),
            data: Vec::new(),
        }
    }

    pub fn with_capacity(bits: usize, n: usize) -> Self {
        let mut w = Words::new(bits);
        w.data.reserve(n * w.stride);
        w
    }

    /// Word width in bits.
    pub fn bits(&self) -> usize {
        self.bits
    }

    pub fn len(&self) -> usize {
        self.data.len() / self.stride
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Word `i` as limbs.
    pub fn get(&self, i: usize) -> &[u64] {
        &self.data[i * self.stride..(i + 1) * self.stride]
    }

    /// Word `i` as mutable limbs (bits at or above the width must stay zero).
    pub fn get_mut(&mut self, i: usize) -> &mut [u64] {
        &mut self.data[i * self.stride..(i + 1) * self.stride]
    }

    /// Appends a word (missing limbs are zero, bits at or above the width are cleared).
    pub fn push(&mut self, w: &[u64]) {
        let start = self.data.len();
        self.data
            .extend((0..self.stride).map(|i| w.get(i).copied().unwrap_or(0)));
        bits::truncate(&mut self.data[start..], self.bits);
    }

    /// Appends a word given as a number (widths up to 64 bits; higher bits cleared).
    pub fn push_u64(&mut self, v: u64) {
        self.push(&[v]);
    }

    /// Word `i` as the harness prints it: ⌈bits/4⌉ lowercase hex digits.
    pub fn hex(&self, i: usize) -> String {
        to_hex(self.get(i), self.bits)
    }

    /// Parses one hex word per line (blank lines skipped), as the harness's `--in` file.
    pub fn from_hex_lines(text: &str, bits: usize) -> Result<Self> {
        let mut w = Words::new(bits);
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let word = from_hex(line, bits).ok_or_else(|| {
                Error::invalid(
                    format!("line {}", n + 1),
                    format!("bad hex word for {bits} bits: {line}"),
                )
            })?;
            w.push(&word);
        }
        Ok(w)
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u64]> {
        self.data.chunks(self.stride)
    }
}

// ---------------------------------------------------------------------------------------------
// Blocks and the pipeline
// ---------------------------------------------------------------------------------------------

/// One stream block of a design.
#[derive(Clone, Debug)]
pub enum Block {
    Mvtu(Box<Mvtu>),
    Fifo(Fifo),
    Dwc(Dwc),
    TopK(TopK),
    Swg(Box<Swg>),
    Pool(Pool),
    Gap(Gap),
}

impl Block {
    #[inline]
    fn s_ready(&self, m_ready: bool) -> bool {
        match self {
            Block::Mvtu(b) => b.s_ready(),
            Block::Fifo(b) => b.s_ready(),
            Block::Dwc(b) => b.s_ready(),
            Block::TopK(b) => b.s_ready(m_ready),
            Block::Swg(b) => b.s_ready(),
            Block::Pool(b) => b.s_ready(),
            Block::Gap(b) => b.s_ready(),
        }
    }

    #[inline]
    fn m_data(&self) -> &[u64] {
        match self {
            Block::Mvtu(b) => b.m_data(),
            Block::Fifo(b) => b.m_data(),
            Block::Dwc(b) => b.m_data(),
            Block::TopK(b) => b.m_data(),
            Block::Swg(b) => b.m_data(),
            Block::Pool(b) => b.m_data(),
            Block::Gap(b) => b.m_data(),
        }
    }

    /// After an edge: what the pipeline caches of this block until its next tick (all three
    /// depend on registers only).
    #[inline]
    fn flags(&self) -> Flags {
        match self {
            Block::Mvtu(b) => Flags::new(b.s_ready(), b.m_valid(), b.idle_edge()),
            Block::Fifo(b) => Flags::new(b.s_ready(), b.m_valid(), b.idle_edge()),
            Block::Dwc(b) => Flags::new(b.s_ready(), b.m_valid(), b.idle_edge()),
            Block::TopK(b) => Flags {
                s_ready: SReady::Ask,
                m_valid: b.m_valid(),
                idle: b.idle_edge(),
                quiet: 0,
            },
            Block::Swg(b) => Flags::new(b.s_ready(), b.m_valid(), b.idle_edge()),
            Block::Pool(b) => Flags::new(b.s_ready(), b.m_valid(), b.idle_edge()),
            Block::Gap(b) => Flags::new(b.s_ready(), b.m_valid(), b.idle_edge()),
        }
    }

    /// The block's `tick`, then [`Block::flags`], in one dispatch.
    #[inline]
    fn tick_flags(&mut self, push: Option<&[u64]>, pop: bool) -> Flags {
        match self {
            Block::Mvtu(b) => {
                b.tick(push, pop);
                let mut f = Flags::new(b.s_ready(), b.m_valid(), b.idle_edge());
                f.quiet = b.quiet_edges();
                f
            }
            Block::Fifo(b) => {
                b.tick(push, pop);
                Flags::new(b.s_ready(), b.m_valid(), b.idle_edge())
            }
            Block::Dwc(b) => {
                b.tick(push, pop);
                Flags::new(b.s_ready(), b.m_valid(), b.idle_edge())
            }
            Block::TopK(b) => {
                b.tick(push, pop);
                Flags {
                    s_ready: SReady::Ask,
                    m_valid: b.m_valid(),
                    idle: b.idle_edge(),
                    quiet: 0,
                }
            }
            Block::Swg(b) => {
                b.tick(push, pop);
                Flags::new(b.s_ready(), b.m_valid(), b.idle_edge())
            }
            Block::Pool(b) => {
                b.tick(push, pop);
                Flags::new(b.s_ready(), b.m_valid(), b.idle_edge())
            }
            Block::Gap(b) => {
                b.tick(push, pop);
                Flags::new(b.s_ready(), b.m_valid(), b.idle_edge())
            }
        }
    }

    /// Applies `n` edges without a handshake that the block's last [`Flags::quiet`] promised
    /// change nothing but its internal counters.
    fn skip_quiet(&mut self, n: usize) {
        match self {
            Block::Mvtu(b) => b.skip_quiet(n),
            _ => debug_assert!(false, "only MVTUs sleep"),
        }
    }

    fn reset(&mut self) {
        match self {
            Block::Mvtu(b) => b.reset(),
            Block::Fifo(b) => b.reset(),
            Block::Dwc(b) => b.reset(),
            Block::TopK(b) => b.reset(),
            Block::Swg(b) => b.reset(),
            Block::Pool(b) => b.reset(),
            Block::Gap(b) => b.reset(),
        }
    }

    /// `mvtu`, `vvau`, `fifo`, `dwc-up`, `dwc-down`, `dwc-general`, `topk`, `swg`, `pool`, `gap`.
    pub fn kind(&self) -> String {
        match self {
            Block::Mvtu(m) if m.is_depthwise() => "vvau".into(),
            Block::Mvtu(_) => "mvtu".into(),
            Block::Fifo(_) => "fifo".into(),
            Block::Dwc(d) => format!("dwc-{}", d.kind()),
            Block::TopK(_) => "topk".into(),
            Block::Swg(_) => "swg".into(),
            Block::Pool(_) => "pool".into(),
            Block::Gap(_) => "gap".into(),
        }
    }
}

/// A block's `s_axis_tready` as the pipeline caches it between its ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SReady {
    No,
    Yes,
    /// Depends on this cycle's `m_axis_tready` (top-k): ask the block.
    Ask,
}

/// What the pipeline keeps of a block between two of its ticks.
#[derive(Clone, Copy, Debug)]
struct Flags {
    s_ready: SReady,
    m_valid: bool,
    /// An edge without a handshake would leave every register unchanged, so the pipeline skips
    /// the block's tick in such cycles (each module's `idle_edge`).
    idle: bool,
    /// The next `quiet` edges without a handshake change nothing but counters internal to the
    /// block (not its `tready` nor `tvalid`; an MVTU in the middle of a fold over a stored input
    /// vector, see `Mvtu::quiet_edges`): the block sleeps through them and catches up in one
    /// step ([`Block::skip_quiet`]) when it is ticked again.
    quiet: usize,
}

impl Flags {
    #[inline]
    fn new(s_ready: bool, m_valid: bool, idle: bool) -> Self {
        Flags {
            s_ready: if s_ready { SReady::Yes } else { SReady::No },
            m_valid,
            idle,
            quiet: 0,
        }
    }
}

/// The [`Flags`] of every block as bit sets (bit `j % 64` of word `j / 64`: block j), so that a
/// cycle's handshakes take a few word operations whatever the number of blocks, and only the
/// blocks with something to do are visited.
#[derive(Clone, Debug, Default)]
struct FlagSets {
    /// Registered `s_axis_tready` (rewritten every cycle for the blocks in `ask`).
    s_ready: Vec<u64>,
    m_valid: Vec<u64>,
    idle: Vec<u64>,
    /// Blocks whose `tready` depends on their `m_ready` ([`SReady::Ask`]), ascending.
    ask: Vec<usize>,
    /// This cycle's input handshakes, output handshakes, and the blocks to tick.
    push: Vec<u64>,
    pop: Vec<u64>,
    tick: Vec<u64>,
}

impl FlagSets {
    /// Room for `n` blocks.
    fn grow(&mut self, n: usize) {
        let words = n.div_ceil(64);
        for v in [
            &mut self.s_ready,
            &mut self.m_valid,
            &mut self.idle,
            &mut self.push,
            &mut self.pop,
            &mut self.tick,
        ] {
            v.resize(words, 0);
        }
    }

    #[inline]
    fn bit(&self, set: &[u64], j: usize) -> bool {
        (set[j / 64] >> (j % 64)) & 1 == 1
    }

    #[inline]
    fn put(set: &mut [u64], j: usize, on: bool) {
        let m = 1u64 << (j % 64);
        if on {
            set[j / 64] |= m;
        } else {
            set[j / 64] &= !m;
        }
    }

    /// Block j's flags after its tick.
    #[inline(always)]
    fn set(&mut self, j: usize, f: Flags) {
        let (w, b) = (j / 64, j % 64);
        let keep = !(1u64 << b);
        if f.s_ready == SReady::Ask {
            if !self.ask.contains(&j) {
                self.ask.push(j);
                self.ask.sort_unstable();
            }
        } else {
            self.s_ready[w] = (self.s_ready[w] & keep) | (u64::from(f.s_ready == SReady::Yes) << b);
        }
        self.m_valid[w] = (self.m_valid[w] & keep) | (u64::from(f.m_valid) << b);
        self.idle[w] = (self.idle[w] & keep) | (u64::from(f.idle) << b);
    }

    /// `push`, `pop` and `tick` of `nb` blocks from the flags (every `ask` block's `s_ready`
    /// resolved), the input port's `tvalid` and the output port's `tready`.
    #[inline]
    fn handshakes(&mut self, nb: usize, in_valid: bool, out_ready: bool) {
        let nw = self.tick.len();
        for w in 0..nw {
            let v = self.m_valid[w];
            let r = self.s_ready[w];
            // tvalid into block j: block j − 1's (the input port's for block 0)
            let carry_in = if w == 0 {
                u64::from(in_valid)
            } else {
                self.m_valid[w - 1] >> 63
            };
            let v_in = (v << 1) | carry_in;
            // tready at block j's output: block j + 1's (the output port's for the last)
            let r_next = if w + 1 < nw {
                (r >> 1) | (self.s_ready[w + 1] << 63)
            } else {
                let top = (nb - 1) % 64;
                ((r >> 1) & !(1u64 << top)) | (u64::from(out_ready) << top)
            };
            let live = if w + 1 < nw || nb.is_multiple_of(64) {
                u64::MAX
            } else {
                (1u64 << (nb % 64)) - 1
            };
            let push = v_in & r & live;
            let pop = v & r_next & live;
            self.push[w] = push;
            self.pop[w] = pop;
            self.tick[w] = (push | pop | !self.idle[w]) & live;
        }
    }
}

/// `Pipeline::wake_at` of a block that is awake.
const NEVER: u64 = u64::MAX;

/// How a run is driven: the harness's `--seed`/`--stall-in`/`--stall-out`, `--timeout` and
/// `--extra`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunConfig {
    pub stalls: Stalls,
    /// Cycles 0 .. timeout−1 are simulated at most.
    pub timeout: u64,
    /// Cycles simulated after the last expected output word (further words are recorded as
    /// extra, which the harness treats as a failure).
    pub extra: u64,
}

impl RunConfig {
    pub fn new(stalls: Stalls, timeout: u64) -> Self {
        RunConfig {
            stalls,
            timeout,
            extra: 0,
        }
    }
}

/// Occupancy statistics of one FIFO of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FifoStat {
    /// Instance name in the generated top (`link<i>_fifo`).
    pub name: String,
    pub depth: usize,
    pub max_occupancy: usize,
}

/// Activity of one MVTU of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MvtuStat {
    pub name: String,
    /// Beats issued (one (nf, sf) step each).
    pub beats: u64,
    /// Cycles in which the issue stage waited for an output credit (back-pressure; the
    /// datapath behind it never stalls).
    pub stall_cycles: u64,
}

/// What a run produced, in the harness's terms.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    /// Every output word received (`m_axis_tdata`, the output port width), in order...
    pub outputs: Words,
    /// ... and the cycle of its handshake.
    pub out_cycles: Vec<u64>,
    /// The cycle of every accepted input word.
    pub in_cycles: Vec<u64>,
    /// Cycles simulated (the harness's `cycles:` line: the last simulated cycle + 1).
    pub cycles: u64,
    /// Output words received beyond the expected count (during the `extra` cycles).
    pub extra_words: usize,
    /// The timeout was reached before the expected number of output words.
    pub timed_out: bool,
    pub fifos: Vec<FifoStat>,
    pub mvtus: Vec<MvtuStat>,
}

impl RunResult {
    /// Output lines as the harness writes them to `--out`: `<hex> <cycle>`.
    pub fn out_lines(&self) -> Vec<String> {
        (0..self.outputs.len())
            .map(|i| format!("{} {}", self.outputs.hex(i), self.out_cycles[i]))
            .collect()
    }
}

/// A chain of blocks between an AXI-Stream input port and an output port.
#[derive(Clone, Debug)]
pub struct Pipeline {
    blocks: Vec<Block>,
    names: Vec<String>,
    in_bits: usize,
    out_bits: usize,
    /// The blocks' flags since their last ticks (see [`Flags`]), as bit sets.
    flags: FlagSets,
    /// Sleeping blocks ([`Flags::quiet`]): the cycle whose edge must tick block j (`NEVER`: it
    /// is awake), and the first edge it has not applied; the earliest wake-up of all.
    wake_at: Vec<u64>,
    synced: Vec<u64>,
    next_wake: u64,
    /// Skip the ticks of idle blocks (the default; off only to check that skipping changes
    /// nothing).
    skip_idle: bool,
}

impl Pipeline {
    /// A pipeline with ports of `in_bits` and `out_bits` TDATA bits. Input bits above what the
    /// first block uses are ignored (the generated top truncates them); output words are
    /// zero-extended to `out_bits`.
    pub fn new(in_bits: usize, out_bits: usize) -> Self {
        Pipeline {
            blocks: Vec::new(),
            names: Vec::new(),
            in_bits,
            out_bits,
            flags: FlagSets::default(),
            wake_at: Vec::new(),
            synced: Vec::new(),
            next_wake: NEVER,
            skip_idle: true,
        }
    }

    /// A pipeline of one block, ports as wide as the block's streams (the module testbenches).
    pub fn single(block: Block, in_bits: usize, out_bits: usize) -> Self {
        let mut p = Pipeline::new(in_bits, out_bits);
        p.push("dut", block);
        p
    }

    /// Appends a block at the output end.
    pub fn push(&mut self, name: impl Into<String>, block: Block) {
        self.flags.grow(self.blocks.len() + 1);
        self.flags.set(self.blocks.len(), block.flags());
        self.wake_at.push(NEVER);
        self.synced.push(0);
        self.blocks.push(block);
        self.names.push(name.into());
    }

    pub fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn in_bits(&self) -> usize {
        self.in_bits
    }

    pub fn out_bits(&self) -> usize {
        self.out_bits
    }

    /// Whether blocks with nothing to do are skipped in cycles without a handshake on their
    /// ports (default on). The results are the same either way; the switch exists so that
    /// tests can prove it.
    pub fn set_skip_idle(&mut self, on: bool) {
        self.skip_idle = on;
    }

    /// Synchronous reset of every block (as the harness's 4 reset cycles).
    pub fn reset(&mut self) {
        self.blocks.iter_mut().for_each(Block::reset);
        for (j, b) in self.blocks.iter().enumerate() {
            let mut f = b.flags();
            f.idle &= self.skip_idle;
            self.flags.set(j, f);
        }
        self.wake_at.iter_mut().for_each(|w| *w = NEVER);
        self.next_wake = NEVER;
    }

    /// Resets, then drives the pipeline exactly as `sim/axis_tb.cpp` drives a Verilated top:
    /// offers `inputs` in order with the stall pattern of `cfg.stalls`, and stops `cfg.extra`
    /// cycles after the `expect`-th output word, or at `cfg.timeout`.
    pub fn run(&mut self, inputs: &Words, expect: usize, cfg: &RunConfig) -> RunResult {
        self.reset();
        let nb = self.blocks.len();
        let n_in = inputs.len();
        let mut gen = StallGen::new(&cfg.stalls);
        let mut outputs = Words::with_capacity(self.out_bits, expect);
        let mut out_cycles = Vec::with_capacity(expect);
        let mut in_cycles = Vec::with_capacity(n_in);
        let mut in_valid = false;
        let mut next_in = 0usize;
        let (mut n_out, mut n_extra) = (0usize, 0usize);
        let mut stop_at: Option<u64> = None;
        let mut timed_out = false;
        let mut cycle: u64 = 0;
        let empty: [u64; 1] = [0];
        loop {
            if let Some(s) = stop_at {
                if cycle > s {
                    break;
                }
            }
            if cycle >= cfg.timeout {
                timed_out = stop_at.is_none();
                break;
            }
            let (gap, out_ready) = gen.step();
            if !in_valid && next_in < n_in && !gap {
                in_valid = true;
            }
            let in_word: &[u64] = if in_valid {
                inputs.get(next_in)
            } else {
                &empty
            };
            // The handshakes of every link from the blocks' cached flags, as bit sets (bit j:
            // block j). Only top-k's `tready` depends on its `m_ready`: those are resolved back
            // to front first. Block j's input handshake is `tvalid` of block j − 1 (the port for
            // j = 0) and its own `tready`; its output handshake its `tvalid` and the `tready` of
            // block j + 1 (the port for the last).
            let fl = &mut self.flags;
            for &j in fl.ask.iter().rev() {
                let rn = if j + 1 == nb {
                    out_ready
                } else {
                    fl.bit(&fl.s_ready, j + 1)
                };
                let r = self.blocks[j].s_ready(rn);
                FlagSets::put(&mut fl.s_ready, j, r);
            }
            let out_hs = if nb == 0 {
                in_valid && out_ready
            } else {
                fl.bit(&fl.m_valid, nb - 1) && out_ready
            };
            if out_hs {
                let data = if nb == 0 {
                    in_word
                } else {
                    self.blocks[nb - 1].m_data()
                };
                outputs.push(data);
                out_cycles.push(cycle);
            }
            let in_hs = if nb == 0 {
                in_valid && out_ready
            } else {
                in_valid && fl.bit(&fl.s_ready, 0)
            };
            if cycle >= self.next_wake {
                // sleepers due at this edge are ticked (after catching up)
                let mut next = NEVER;
                for (j, &w) in self.wake_at.iter().enumerate() {
                    if w <= cycle {
                        FlagSets::put(&mut fl.idle, j, false);
                    } else {
                        next = next.min(w);
                    }
                }
                self.next_wake = next;
            }
            fl.handshakes(nb, in_valid, out_ready);
            // rising edge, back to front: every consumer reads its producer's pre-edge data.
            // A block whose flags say idle is skipped in a cycle without a handshake on its
            // ports: its edge would change nothing.
            for w in (0..self.flags.tick.len()).rev() {
                let mut m = self.flags.tick[w];
                while m != 0 {
                    let b = 63 - m.leading_zeros() as usize;
                    m &= !(1u64 << b);
                    let j = w * 64 + b;
                    let push = (self.flags.push[w] >> b) & 1 == 1;
                    let pop = (self.flags.pop[w] >> b) & 1 == 1;
                    let (head, tail) = self.blocks.split_at_mut(j);
                    let block = &mut tail[0];
                    if self.wake_at[j] != NEVER {
                        // the quiet edges it slept through, then this one
                        block.skip_quiet((cycle - self.synced[j]) as usize);
                        self.wake_at[j] = NEVER;
                    }
                    let data: Option<&[u64]> = if !push {
                        None
                    } else if j == 0 {
                        Some(in_word)
                    } else {
                        Some(head[j - 1].m_data())
                    };
                    let mut f = block.tick_flags(data, pop);
                    f.idle &= self.skip_idle;
                    if f.quiet > 0 && self.skip_idle {
                        f.idle = true;
                        let wake = cycle + 1 + f.quiet as u64;
                        self.wake_at[j] = wake;
                        self.synced[j] = cycle + 1;
                        self.next_wake = self.next_wake.min(wake);
                    }
                    self.flags.set(j, f);
                }
            }
            if in_hs {
                in_cycles.push(cycle);
                next_in += 1;
                in_valid = false;
            }
            if out_hs {
                if n_out < expect {
                    n_out += 1;
                } else {
                    n_extra += 1;
                }
                if n_out == expect && stop_at.is_none() && n_extra == 0 {
                    stop_at = Some(cycle + cfg.extra);
                }
            }
            if expect == 0 && stop_at.is_none() {
                stop_at = Some(cycle + cfg.extra);
            }
            cycle += 1;
        }
        // blocks asleep at the end apply the edges they slept through (their statistics)
        for (j, b) in self.blocks.iter_mut().enumerate() {
            if self.wake_at[j] != NEVER {
                b.skip_quiet((cycle - self.synced[j]) as usize);
                self.wake_at[j] = NEVER;
            }
        }
        let mut fifos = Vec::new();
        let mut mvtus = Vec::new();
        for (b, name) in self.blocks.iter().zip(&self.names) {
            match b {
                Block::Fifo(f) => fifos.push(FifoStat {
                    name: name.clone(),
                    depth: f.depth(),
                    max_occupancy: f.max_occupancy,
                }),
                Block::Mvtu(m) => mvtus.push(MvtuStat {
                    name: name.clone(),
                    beats: m.beats,
                    stall_cycles: m.stall_cycles,
                }),
                _ => {}
            }
        }
        RunResult {
            outputs,
            out_cycles,
            in_cycles,
            cycles: cycle,
            extra_words: n_extra,
            timed_out,
            fifos,
            mvtus,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A whole design
// ---------------------------------------------------------------------------------------------

/// The parameters of the `bnn_mvtu` the generator instantiates for `layer` (as its layer
/// wrapper sets them).
pub fn mvtu_params(layer: &HwMvtu) -> MvtuParams {
    let (nsteps, tbits, out_bias) = match &layer.activation {
        HwActivation::Thresholds(t) => (t.nsteps(), t.tbits, t.out_bias),
        HwActivation::Identity => (0, 1, 0),
    };
    MvtuParams {
        mw: layer.mw_pad,
        mh: layer.mh_pad,
        pe: layer.pe,
        simd: layer.simd,
        wbits: layer.wbits(),
        ibits: layer.ibits(),
        wtype: type_code(layer.weight_dtype),
        itype: type_code(layer.input_dtype),
        acc_bits: layer.acc_bits,
        nsteps,
        obits: layer.obits(),
        tbits,
        out_bias,
        xnor_fanin: layer.mw,
    }
}

/// The ROM images of `layer` (`[pe][addr]` weight words, `[pe][nf]` threshold words), the
/// contents of its `.mem` files.
#[allow(clippy::type_complexity)]
pub fn rom_images(layer: &HwMvtu) -> (Vec<Vec<Vec<u64>>>, Vec<Vec<Vec<u64>>>) {
    let (nf, sf, pe, simd) = (layer.nf(), layer.sf(), layer.pe, layer.simd);
    let wb = layer.wbits() as usize;
    let wrom = (0..pe)
        .map(|p| {
            let mut words = Vec::with_capacity(nf * sf);
            for n in 0..nf {
                let row = layer.weights.row(n * pe + p);
                for s in 0..sf {
                    let mut w = vec![0u64; limbs(simd * wb)];
                    for l in 0..simd {
                        let v = row[s * simd + l];
                        bits::set(&mut w, l * wb, wb, layer.weight_dtype.encode(i64::from(v)));
                    }
                    words.push(w);
                }
            }
            words
        })
        .collect();
    let trom = match &layer.activation {
        HwActivation::Thresholds(t) => {
            let tb = t.tbits as usize;
            (0..pe)
                .map(|p| {
                    (0..nf)
                        .map(|n| {
                            let c = n * pe + p;
                            let mut w = vec![0u64; limbs(layer.tmem_width())];
                            // T' (T + 1 for a falling channel), as the generator's .mem files
                            for j in 0..t.nsteps() {
                                bits::set(&mut w, j * tb, tb, t.rom_value(c, j) as u64);
                            }
                            bits::set(&mut w, t.nsteps() * tb, 1, u64::from(t.le[c]));
                            w
                        })
                        .collect()
                })
                .collect()
        }
        HwActivation::Identity => Vec::new(),
    };
    (wrom, trom)
}

/// One frame's results.
#[derive(Clone, Debug, PartialEq)]
pub struct FrameRun {
    /// Per frame, the decoded output: the k class indices with a head, else the true channels.
    pub outputs: Vec<Vec<i64>>,
    /// Per frame: cycle of its last output handshake − cycle of its first input handshake (the
    /// definition of `report.json`'s `latency_cycles_estimate`).
    pub latency: Vec<u64>,
    /// Steady-state cycles per frame: the mean spacing of the last output words over the second
    /// half of the frames (`None` for a single frame).
    pub cycles_per_frame: Option<f64>,
    /// Everything the harness would report.
    pub run: RunResult,
}

/// Appends the blocks of layer `i` as the generated top instantiates them: the window
/// generator `l<i>_swg` (conv and max-pool layers), then the MVTU `l<i>_<ident>` or the pool
/// `l<i>_pool`.
fn push_layer(p: &mut Pipeline, i: usize, l: &HwLayer) -> std::result::Result<(), String> {
    if let Some(w) = &l.window {
        p.push(
            format!("l{i}_swg"),
            Block::Swg(Box::new(Swg::new(&swg_params(w))?)),
        );
    }
    match &l.kind {
        HwKind::Mvtu(m) => {
            let (wrom, trom) = rom_images(m);
            let b = Mvtu::new(&mvtu_params(m), &wrom, &trom)?;
            p.push(format!("l{i}_{}", l.ident), Block::Mvtu(Box::new(b)));
        }
        HwKind::Vvau(m) => {
            // bnn_vvau is bnn_mvtu with DEPTHWISE = 1: the same control, its own datapath
            let (wrom, trom) = rom_images(m);
            let b = Mvtu::new_depthwise(&mvtu_params(m), &wrom, &trom)?;
            p.push(format!("l{i}_{}", l.ident), Block::Mvtu(Box::new(b)));
        }
        HwKind::Pool(q) => {
            let b = Pool::new(&PoolParams {
                cw: q.cw,
                lanes: q.lanes,
                ebits: q.element.bits() as usize,
                signed: q.element.signed(),
                kk: q.kk,
            })?;
            p.push(format!("l{i}_{}", l.ident), Block::Pool(b));
        }
        HwKind::Gap(g) => {
            let b = Gap::new(&gap_params(g))?;
            p.push(format!("l{i}_{}", l.ident), Block::Gap(b));
        }
    }
    Ok(())
}

/// The parameters of the `bnn_gap` the generator instantiates for `g`.
pub fn gap_params(g: &HwGap) -> GapParams {
    let itype = match g.in_element {
        HwElement::Data(DataType::Bipolar) => 0,
        e if e.signed() => 2,
        _ => 1,
    };
    GapParams {
        cw: g.cw,
        lanes: g.lanes,
        pixels: g.pixels,
        channels: g.channels,
        itype,
        ibits: g.in_element.bits() as usize,
        abits: g.out_dtype.bits() as usize,
    }
}

/// The parameters of the `bnn_swg` the generator instantiates for `w`.
pub fn swg_params(w: &HwWindow) -> SwgParams {
    let wbits = w.word_bits();
    let eb = w.ebits as usize;
    let mut pad = vec![0u64; limbs(w.geom.cw * wbits)];
    for (s, &v) in w.pad.iter().enumerate() {
        bits::set(&mut pad, s * eb, eb, v);
    }
    SwgParams {
        window: w.geom,
        wbits,
        depth: w.depth,
        pad,
        depthwise: w.depthwise,
    }
}

/// A cycle model of a whole generated design.
#[derive(Clone, Debug)]
pub struct CycleSim {
    hw: HwNetwork,
    pipeline: Pipeline,
    input: StreamFormat,
    output: StreamFormat,
}

impl CycleSim {
    /// The model of the design [`crate::codegen::generate`] renders for `hw`: per layer an MVTU
    /// with its ROMs, per link a width converter (if the widths differ) and a FIFO (if the link
    /// has one), then the top-k head; the top's input port truncated to the first layer's width
    /// and the output zero-extended to the output TDATA width.
    pub fn new(hw: &HwNetwork) -> Result<Self> {
        let input = hw.input_stream();
        let output = hw.output_stream();
        let mut p = Pipeline::new(input.tdata_bits, output.tdata_bits);
        let err = |m: String| Error::Unsupported(format!("cycle simulator: {m}"));
        for (i, l) in hw.layers.iter().enumerate() {
            push_layer(&mut p, i, l).map_err(err)?;
            if let Some(link) = hw.links.get(i) {
                if link.dwc() {
                    let d = Dwc::new(link.in_bits, link.out_bits).map_err(err)?;
                    p.push(format!("link{i}_dwc"), Block::Dwc(d));
                }
                if let Some(depth) = link.fifo_depth {
                    let f = Fifo::new(link.out_bits, depth).map_err(err)?;
                    p.push(format!("link{i}_fifo"), Block::Fifo(f));
                }
            }
        }
        if let Some(h) = &hw.head {
            let t = TopK::new(&TopkParams {
                n: h.n,
                elems: h.elems,
                elem_bits: h.elem_bits,
                signed: h.signed,
                k: h.k,
                idx_bits: h.idx_bits,
            })
            .map_err(err)?;
            p.push("head", Block::TopK(t));
        }
        Ok(CycleSim {
            hw: hw.clone(),
            pipeline: p,
            input,
            output,
        })
    }

    /// [`CycleSim::new`] of `pad::pad(net)` (the network must be lowered and dense).
    pub fn from_network(net: &Network) -> Result<Self> {
        Self::new(&pad::pad(net)?)
    }

    pub fn hw(&self) -> &HwNetwork {
        &self.hw
    }

    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// The block chain, to drive it word by word ([`Pipeline::run`]).
    pub fn pipeline_mut(&mut self) -> &mut Pipeline {
        &mut self.pipeline
    }

    pub fn input_format(&self) -> &StreamFormat {
        &self.input
    }

    pub fn output_format(&self) -> &StreamFormat {
        &self.output
    }

    /// Appends the input words of one frame of true values (NHWC-flattened) to `words`: element
    /// `e` in slot `s` of the input layout, slot `s` in word `s / E` at bits `[(s % E)·b, …)`,
    /// padding slots and spare TDATA bits zero.
    pub fn pack_frame_into(&self, frame: &[i64], words: &mut Words) -> Result<()> {
        let f = &self.input;
        if frame.len() != f.elements {
            return Err(Error::invalid(
                "input frame",
                format!("has {} values, expected {}", frame.len(), f.elements),
            ));
        }
        let dt = self.hw.input_dtype;
        let b = f.element.bits() as usize;
        let e_per_w = f.elements_per_word;
        let first = words.len();
        let zero = vec![0u64; limbs(f.tdata_bits)];
        for _ in 0..f.words_per_frame {
            words.push(&zero);
        }
        for (e, &v) in frame.iter().enumerate() {
            if !dt.contains(v) {
                return Err(Error::invalid(
                    format!("input frame, element {e}"),
                    format!("value {v} is not a {dt} value"),
                ));
            }
            let s = f.layout.slot(e);
            bits::set(
                words.get_mut(first + s / e_per_w),
                (s % e_per_w) * b,
                b,
                dt.encode(v),
            );
        }
        Ok(())
    }

    /// The input words of one frame.
    pub fn pack_frame(&self, frame: &[i64]) -> Result<Words> {
        let mut w = Words::with_capacity(self.input.tdata_bits, self.input.words_per_frame);
        self.pack_frame_into(frame, &mut w)?;
        Ok(w)
    }

    /// The values one frame's output words carry (`words` holds at least one frame from word
    /// `first` on): the class indices with a head, else the true channels, decoded.
    pub fn unpack_frame(&self, words: &Words, first: usize) -> Vec<i64> {
        let f = &self.output;
        let b = f.element.bits() as usize;
        (0..f.elements)
            .map(|e| {
                let s = f.layout.slot(e);
                let (wi, i) = (s / f.elements_per_word, s % f.elements_per_word);
                f.element.decode(bits::get(words.get(first + wi), i * b, b))
            })
            .collect()
    }

    /// A timeout that no correct run of `frames` frames reaches: the ideal time (ideal
    /// interval per frame, pipeline fill) stretched for the stall probabilities, with margin.
    pub fn default_timeout(&self, frames: usize, stalls: &Stalls) -> u64 {
        let words = (self.input.words_per_frame + self.output.words_per_frame) as u64;
        let ii = self.hw.ideal_ii().max(1) as u64;
        let fill: u64 = self
            .hw
            .layers
            .iter()
            .map(|l| l.cycles() as u64 + 8)
            .sum::<u64>()
            + 64;
        let base = (frames as u64 + 2) * (ii + words) + fill;
        let slow =
            1.0 / ((1.0 - stalls.p_in.clamp(0.0, 0.999)) * (1.0 - stalls.p_out.clamp(0.0, 0.999)));
        ((base as f64) * slow * 4.0) as u64 + 10_000
    }

    /// Runs the words of any number of frames; `expect` output words. As [`Pipeline::run`].
    pub fn run_words(&mut self, inputs: &Words, expect: usize, cfg: &RunConfig) -> RunResult {
        self.pipeline.run(inputs, expect, cfg)
    }

    /// Streams `frames` (`[N, *input dims]`, or any array whose elements are N frames back to
    /// back) through the design with `stalls`, and decodes the results. Errors on a bad frame
    /// and when the run times out (`timeout`: `None` = [`CycleSim::default_timeout`]).
    pub fn run_frames(
        &mut self,
        frames: ArrayViewD<i64>,
        stalls: Stalls,
        timeout: Option<u64>,
    ) -> Result<FrameRun> {
        let len = self.input.elements;
        let flat: Vec<i64> = frames.iter().copied().collect();
        if len == 0 || !flat.len().is_multiple_of(len) {
            return Err(Error::invalid(
                "input frames",
                format!(
                    "{} values are not a whole number of {len}-value frames",
                    flat.len()
                ),
            ));
        }
        let n = flat.len() / len;
        let mut words = Words::with_capacity(self.input.tdata_bits, n * self.input.words_per_frame);
        for f in 0..n {
            self.pack_frame_into(&flat[f * len..(f + 1) * len], &mut words)
                .map_err(|e| Error::invalid(format!("frame {f}"), e.to_string()))?;
        }
        let (wi, wo) = (self.input.words_per_frame, self.output.words_per_frame);
        let cfg = RunConfig {
            stalls,
            timeout: timeout.unwrap_or_else(|| self.default_timeout(n, &stalls)),
            extra: 0,
        };
        let run = self.pipeline.run(&words, n * wo, &cfg);
        if run.timed_out {
            return Err(Error::Unsupported(format!(
                "cycle simulator: timeout after {} cycles: {} of {} output words ({} of {} input words accepted)",
                run.cycles,
                run.outputs.len(),
                n * wo,
                run.in_cycles.len(),
                words.len()
            )));
        }
        let outputs = (0..n)
            .map(|f| self.unpack_frame(&run.outputs, f * wo))
            .collect();
        let latency = (0..n)
            .map(|f| run.out_cycles[(f + 1) * wo - 1] - run.in_cycles[f * wi])
            .collect();
        let cycles_per_frame = (n >= 2).then(|| {
            let h = (n - 1) / 2;
            let last = |f: usize| run.out_cycles[(f + 1) * wo - 1];
            (last(n - 1) - last(h)) as f64 / (n - 1 - h) as f64
        });
        Ok(FrameRun {
            outputs,
            latency,
            cycles_per_frame,
            run,
        })
    }
}

#[cfg(test)]
mod tests;
