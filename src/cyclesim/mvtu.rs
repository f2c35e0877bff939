//! Cycle model of `hw/bnn_mvtu.v` v2 (the pipelined, credit-controlled MVTU) with its weight and
//! threshold ROMs (`hw/bnn_rom.v`, one synchronous-read ROM per PE, as the generated layer
//! wrappers and `tests/hw/mvtu_tb_top.v` wire them), written from `docs/mvtu-spec.md`.
//!
//! Its parameter `DEPTHWISE` is the datapath the control below drives, chosen at construction
//! as the RTL chooses it at elaboration: [`Mvtu::new`] (`DEPTHWISE = 0`: one input vector of SF
//! words, stored in the input buffer and broadcast to every PE, `dot.rs`) or
//! [`Mvtu::new_depthwise`] (`DEPTHWISE = 1`, which is all `hw/bnn_vvau.v` is: every beat reads a
//! stream word of PE·SIMD lanes and each PE dots its own lanes, `vvau.rs`). The control is one
//! for both, as in the RTL; the only difference in it is stage A's `a_in` (`reads_stream`):
//! with DEPTHWISE every beat reads the stream, so such an MVTU never sleeps through quiet
//! beats ([`Mvtu::quiet_edges`] is 0).
//!
//! Only the issue stage can stall; every register after it shifts every cycle, so a beat issued
//! at edge `t` reaches the output queue exactly `LAT` edges later ([`MvtuParams::latency`]).
//! The model therefore keeps the spec's stall state as registers and replaces the free-running
//! stages by a delay line:
//!
//! | spec (section) | here |
//! |---|---|
//! | stage A: `a_nf`, `a_sf`, `a_addr` (4) | `a_nf`, `a_sf` (`a_addr` is always `a_nf·SF + a_sf`) |
//! | the SF-word input buffer (4) | the datapath's: the model stores every stream word as beat `a_sf`'s (the spec only needs it for NF > 1; DEPTHWISE has none, every beat reads the stream) |
//! | `credits` (4) | `credits` |
//! | the output queue, capacity `Q`, count (4) | `queue` (a ring of `Q` words), `q_head`, `q_count` |
//! | stage B (the beat's word, ROM address, flags), stage X (broadcast copy, weight-ROM `rdata`), products, tree levels (3) | nothing: what a beat contributes depends only on its input word and ROM address (the ROMs are constant) |
//! | the accumulators `acc` / `acc_v` (3) | `acc`: the exact sum of a whole fold per PE, computed at the issue edge of the fold's last beat from the SF words of the input buffer |
//! | `fin`, the threshold-ROM register, `hit` / the registered output value (3) | `line`: a delay line of `LAT` slots, one per edge mod `LAT`; the issue of a fold's last beat writes the fold's output word into the slot of its edge, which is read again (and pushed into the queue) `LAT` edges later |
//!
//! Why the delay line is exact: valid flags travel with the beats and nothing after stage A ever
//! holds, so what a beat contributes depends only on its input word and ROM address, the
//! accumulators combine a fold's beats in issue order, and only the last beat of a fold pushes.
//! The output word of a fold is therefore known at the issue edge of its last beat (all SF input
//! words of the fold are in the buffer by then, and a word is only overwritten by a later
//! vector's, or with DEPTHWISE a later fold's, word) and appears in the queue at edge `t + LAT`
//! whatever happens in between. Sums are kept exact (`i64`) and wrapped to ACC_BITS when the
//! result is formed; the RTL's modulo-2^ACC_BITS arithmetic (also OFFSET mode's `2·A − acc_v`)
//! gives the same low ACC_BITS bits.
//!
//! Weights are stored pre-decoded (see `dot.rs`, `vvau.rs`); thresholds as the sign-extended
//! stored `T'` per (neuron fold, PE) with the direction bit (spec section 5). Dot products are
//! computed a whole fold at a time, once per output word, so the per-beat work is stage A's
//! counters; nothing is allocated per cycle.

use super::bits::{self, limbs, sext};
use super::dot::DotUnit;
use super::vvau::DepthwiseDot;

/// The parameters of one `bnn_mvtu` instance, exactly its Verilog parameters but `PE_GROUP`
/// (no timing effect) and `DEPTHWISE`, which selects the datapath ([`Mvtu::new_depthwise`]) and
/// changes neither `LAT` nor `Q` (the cost model and the report share these parameters for both).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MvtuParams {
    pub mw: usize,
    pub mh: usize,
    pub pe: usize,
    pub simd: usize,
    pub wbits: u32,
    pub ibits: u32,
    /// 0 bipolar, 1 unsigned, 2 signed.
    pub wtype: u32,
    pub itype: u32,
    pub acc_bits: u32,
    /// 0: no activation.
    pub nsteps: usize,
    pub obits: u32,
    pub tbits: u32,
    pub out_bias: i64,
    pub xnor_fanin: usize,
}

/// The datapath mode the MVTU derives from its types (`docs/mvtu-spec.md`, section 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MvtuMode {
    /// Bipolar × bipolar: XNOR-popcount.
    Xnor,
    /// Exactly one operand bipolar: `2·Σ u·v − Σ v`, with a final `2·A − acc_v` stage.
    Offset,
    /// An unsigned 1-bit operand (and no bipolar one): a select per lane.
    Sel,
    /// Anything else: exact products, with a product register.
    Mac,
}

impl MvtuParams {
    pub fn nf(&self) -> usize {
        self.mh / self.pe
    }

    pub fn sf(&self) -> usize {
        self.mw / self.simd
    }

    pub fn xnor(&self) -> bool {
        self.wtype == 0 && self.itype == 0
    }

    /// XNOR when both types are bipolar; OFFSET when exactly one is; SEL when one operand is
    /// unsigned 1-bit (WTYPE = 1, WBITS = 1 or ITYPE = 1, IBITS = 1); MAC otherwise.
    pub fn mode(&self) -> MvtuMode {
        let bipolar = (self.wtype == 0, self.itype == 0);
        let uint1 = |ty: u32, bits: u32| ty == 1 && bits == 1;
        match bipolar {
            (true, true) => MvtuMode::Xnor,
            (true, false) | (false, true) => MvtuMode::Offset,
            _ if uint1(self.wtype, self.wbits) || uint1(self.itype, self.ibits) => MvtuMode::Sel,
            _ => MvtuMode::Mac,
        }
    }

    /// `PROD = (mode == MAC) ? 1 : 0`: the product register.
    pub fn product_stages(&self) -> usize {
        usize::from(self.mode() == MvtuMode::Mac)
    }

    /// `TS = max(1, clog2(SIMD))`: one adder level per stage (the lane terms when SIMD = 1).
    pub fn tree_stages(&self) -> usize {
        let clog2 = (usize::BITS - self.simd.saturating_sub(1).leading_zeros()) as usize;
        clog2.max(1)
    }

    /// `FIN = (mode == OFFSET) ? 1 : 0`: the `2·A − acc_v` register.
    pub fn fin_stages(&self) -> usize {
        usize::from(self.mode() == MvtuMode::Offset)
    }

    /// `LAT = 4 + PROD + TS + FIN`: edges from the issue of a fold's last beat to the push of
    /// its output word into the queue (stage B, stage X, products, tree, accumulate, FIN,
    /// compare, push). v1's was 3. Without back-pressure output word `(v, nf)` is taken at
    /// cycle `v·NF·SF + nf·SF + SF − 1 + LAT + 1`.
    pub fn latency(&self) -> usize {
        4 + self.product_stages() + self.tree_stages() + self.fin_stages()
    }

    /// `Q = floor((LAT + 1) / SF) + 2`: the output queue's capacity and the credits at reset.
    /// It covers the round trip of a credit (reserved at the issue edge, pushed `LAT` edges
    /// later, popped one cycle after at the earliest, usable the cycle after that), so a ready
    /// consumer never makes the issue stage wait.
    pub fn queue_depth(&self) -> usize {
        (self.latency() + 1) / self.sf() + 2
    }

    /// Input stream width SIMD·IBITS (`DEPTHWISE = 0`).
    pub fn in_bits(&self) -> usize {
        self.simd * self.ibits as usize
    }

    /// Input stream width PE·SIMD·IBITS of the depthwise datapath (`DEPTHWISE = 1`).
    pub fn depthwise_in_bits(&self) -> usize {
        self.pe * self.in_bits()
    }

    /// Output stream width PE·OBITS.
    pub fn out_bits(&self) -> usize {
        self.pe * self.obits as usize
    }

    /// Weight ROM word width SIMD·WBITS.
    pub fn wrom_bits(&self) -> usize {
        self.simd * self.wbits as usize
    }

    /// Threshold ROM word width NSTEPS·TBITS + 1.
    pub fn trom_bits(&self) -> usize {
        self.nsteps * self.tbits as usize + 1
    }

    /// The RTL's elaboration checks (plus the widths this model supports).
    pub fn check(&self) -> Result<(), String> {
        let e = |m: &str| Err(format!("bnn_mvtu: {m} ({self:?})"));
        if self.pe < 1 || self.simd < 1 || self.mw < 1 || self.mh < 1 {
            return e("MW, MH, PE, SIMD must be positive");
        }
        if !self.mw.is_multiple_of(self.simd) {
            return e("SIMD must divide MW");
        }
        if !self.mh.is_multiple_of(self.pe) {
            return e("PE must divide MH");
        }
        if self.nsteps == 0 && self.obits != self.acc_bits {
            return e("OBITS must equal ACC_BITS when NSTEPS is 0");
        }
        if self.nsteps > 0 && (self.tbits < 1 || self.obits < 1 || self.tbits > 64) {
            return e("TBITS must be 1..64 and OBITS positive");
        }
        if self.acc_bits < 2 || self.acc_bits > 62 || self.obits > 64 {
            return e("ACC_BITS must be 2..62 and OBITS at most 64");
        }
        if self.wtype > 2 || self.itype > 2 {
            return e("WTYPE and ITYPE must be 0, 1 or 2");
        }
        if (self.wtype == 0 && self.wbits != 1) || (self.itype == 0 && self.ibits != 1) {
            return e("a bipolar type needs 1 bit");
        }
        if !(1..=8).contains(&self.wbits) || !(1..=8).contains(&self.ibits) {
            return e("WBITS and IBITS must be 1..8");
        }
        if self.xnor() && (self.xnor_fanin < 1 || self.xnor_fanin > self.mw) {
            return e("XNOR_FANIN must be in 1..MW");
        }
        Ok(())
    }
}

/// The dot products the issue stage's beats feed: what `DEPTHWISE` selects in the RTL.
// One per MVTU, built once and never moved in the cycle loop: no box in front of the dense
// unit's per-beat `load`.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
enum Datapath {
    /// `DEPTHWISE = 0`: the input buffer's SF words broadcast to every PE.
    Dense(DotUnit),
    /// `DEPTHWISE = 1` (`bnn_vvau`): each PE dots its own lanes of every stream word.
    Depthwise(DepthwiseDot),
}

impl Datapath {
    /// Stores the stream word of beat `slot` (`a_sf`).
    #[inline]
    fn load(&mut self, slot: usize, x: &[u64]) {
        match self {
            Datapath::Dense(d) => d.load(slot, x),
            Datapath::Depthwise(d) => d.load(slot, x),
        }
    }

    /// The exact sums per PE of fold `nf` over the stored words.
    #[inline]
    fn fold(&mut self, nf: usize, acc: &mut [i64]) {
        match self {
            Datapath::Dense(d) => d.fold(nf, acc),
            Datapath::Depthwise(d) => d.fold(nf, acc),
        }
    }
}

/// One `bnn_mvtu` (or `bnn_vvau`, its `DEPTHWISE = 1` form) plus its ROMs.
#[derive(Clone, Debug)]
pub struct Mvtu {
    p: MvtuParams,
    nf: usize,
    sf: usize,
    xnor: bool,
    /// `LAT` and `Q` of the spec.
    lat: usize,
    q: usize,
    /// Limbs of an output word.
    ol: usize,
    /// `DEPTHWISE`: every beat reads the stream (stage A's `a_in`).
    depthwise: bool,
    /// Input stream width (SIMD·IBITS, or PE·SIMD·IBITS with DEPTHWISE).
    in_bits: usize,
    /// The weight ROMs, pre-decoded, the stored input words and the dot-product kernel.
    dot: Datapath,
    /// `[nf][pe][nsteps]` sign-extended stored thresholds `T'`, `[nf][pe]` direction bits.
    thr: Vec<i64>,
    dir: Vec<bool>,
    acc_mask: u64,
    obits_mask: u64,

    // ---- stall state (registers of the spec)
    a_nf: usize,
    a_sf: usize,
    credits: usize,
    /// `Q` output words, the oldest at `q_head`.
    queue: Vec<u64>,
    q_head: usize,
    q_count: usize,

    // ---- the free-running datapath
    /// The exact sum per PE of the fold whose last beat issues at this edge.
    acc: Vec<i64>,
    /// `LAT` output-word slots and their valid flags; `line_pos` is this edge's slot.
    line: Vec<u64>,
    line_valid: Vec<bool>,
    line_pos: usize,
    /// Valid slots of `line` (words in flight).
    line_n: usize,

    /// Beats issued (statistics).
    pub beats: u64,
    /// Cycles in which the issue stage was at a fold's last beat with no credit free
    /// (statistics).
    pub stall_cycles: u64,
}

impl Mvtu {
    /// Builds the model of `bnn_mvtu` (`DEPTHWISE = 0`) from raw ROM images: `wrom[pe][addr]`
    /// (NF·SF words of SIMD·WBITS bits) and `trom[pe][nf]` (NF words of NSTEPS·TBITS+1 bits,
    /// `{dir, T'[NSTEPS-1], …, T'[0]}`; ignored when NSTEPS = 0), each word as little-endian
    /// limbs — the contents of the `$readmemh` files.
    pub fn new(
        p: &MvtuParams,
        wrom: &[Vec<Vec<u64>>],
        trom: &[Vec<Vec<u64>>],
    ) -> Result<Self, String> {
        Self::build(p, wrom, trom, false)
    }

    /// Builds the model of `bnn_vvau` (`bnn_mvtu` with `DEPTHWISE = 1`: MW kernel positions, MH
    /// channels, input words of PE·SIMD lanes) from ROM images laid out as for [`Mvtu::new`].
    pub fn new_depthwise(
        p: &MvtuParams,
        wrom: &[Vec<Vec<u64>>],
        trom: &[Vec<Vec<u64>>],
    ) -> Result<Self, String> {
        Self::build(p, wrom, trom, true)
    }

    fn build(
        p: &MvtuParams,
        wrom: &[Vec<Vec<u64>>],
        trom: &[Vec<Vec<u64>>],
        depthwise: bool,
    ) -> Result<Self, String> {
        let module = if depthwise { "bnn_vvau" } else { "bnn_mvtu" };
        p.check().map_err(|e| e.replacen("bnn_mvtu", module, 1))?;
        let (nf, sf) = (p.nf(), p.sf());
        let depth = nf * sf;
        if wrom.len() != p.pe || wrom.iter().any(|r| r.len() != depth) {
            return Err(format!(
                "{module}: need {} weight ROMs of {depth} words",
                p.pe
            ));
        }
        if p.nsteps > 0 && (trom.len() != p.pe || trom.iter().any(|r| r.len() != nf)) {
            return Err(format!(
                "{module}: need {} threshold ROMs of {nf} words",
                p.pe
            ));
        }
        let ol = limbs(p.out_bits());
        let (simd, wb, ib, wt, it) = (p.simd, p.wbits, p.ibits, p.wtype, p.itype);
        let (dot, in_bits) = if depthwise {
            let d = DepthwiseDot::new(wrom, nf, sf, simd, wb, ib, wt, it);
            (Datapath::Depthwise(d), p.depthwise_in_bits())
        } else {
            let d = DotUnit::new(wrom, nf, sf, simd, wb, ib, wt, it);
            (Datapath::Dense(d), p.in_bits())
        };
        let mut thr = Vec::new();
        let mut dir = Vec::new();
        if p.nsteps > 0 {
            let tb = p.tbits as usize;
            for n in 0..nf {
                for rom in trom {
                    let word = &rom[n];
                    for i in 0..p.nsteps {
                        thr.push(sext(bits::get(word, i * tb, tb), p.tbits));
                    }
                    dir.push(bits::get(word, p.nsteps * tb, 1) == 1);
                }
            }
        }
        let (lat, q) = (p.latency(), p.queue_depth());
        Ok(Mvtu {
            nf,
            sf,
            xnor: p.xnor(),
            lat,
            q,
            ol,
            depthwise,
            in_bits,
            dot,
            thr,
            dir,
            acc_mask: bits::ones(p.acc_bits as usize),
            obits_mask: bits::ones(p.obits as usize),
            a_nf: 0,
            a_sf: 0,
            credits: q,
            queue: vec![0; q * ol],
            q_head: 0,
            q_count: 0,
            acc: vec![0; p.pe],
            line: vec![0; lat * ol],
            line_valid: vec![false; lat],
            line_pos: 0,
            line_n: 0,
            beats: 0,
            stall_cycles: 0,
            p: p.clone(),
        })
    }

    pub fn params(&self) -> &MvtuParams {
        &self.p
    }

    /// `DEPTHWISE` (the model of `bnn_vvau`).
    pub fn is_depthwise(&self) -> bool {
        self.depthwise
    }

    /// Input stream width: SIMD·IBITS, or PE·SIMD·IBITS with DEPTHWISE.
    pub fn in_bits(&self) -> usize {
        self.in_bits
    }

    /// Synchronous reset: counters 0, `credits = Q`, the queue empty, no valid beat in the
    /// pipeline. The data registers (input buffer, accumulators, words) keep their values; they
    /// are only read behind valid flags.
    pub fn reset(&mut self) {
        self.a_nf = 0;
        self.a_sf = 0;
        self.credits = self.q;
        self.q_head = 0;
        self.q_count = 0;
        self.line_valid.iter_mut().for_each(|v| *v = false);
        self.line_pos = 0;
        self.line_n = 0;
        self.beats = 0;
        self.stall_cycles = 0;
    }

    /// `a_in`: the beat at stage A reads the stream (the first neuron fold of a vector; with
    /// DEPTHWISE every beat), else the input buffer.
    #[inline]
    fn reads_stream(&self) -> bool {
        self.depthwise || self.a_nf == 0
    }

    /// `can`: the beat at stage A may issue (it does not finish a fold, or a credit is free).
    #[inline]
    fn can_issue(&self) -> bool {
        self.a_sf != self.sf - 1 || self.credits != 0
    }

    /// `s_axis_tready = a_in && can` (registers only).
    #[inline]
    pub fn s_ready(&self) -> bool {
        self.reads_stream() && self.can_issue()
    }

    #[inline]
    pub fn m_valid(&self) -> bool {
        self.q_count != 0
    }

    /// The queue's head word (meaningful while `m_valid`).
    #[inline]
    pub fn m_data(&self) -> &[u64] {
        &self.queue[self.q_head * self.ol..(self.q_head + 1) * self.ol]
    }

    /// Free output credits.
    pub fn credits(&self) -> usize {
        self.credits
    }

    /// Words in the output queue.
    pub fn queued(&self) -> usize {
        self.q_count
    }

    /// Output words in the pipeline (reserved, not yet pushed).
    pub fn in_flight(&self) -> usize {
        self.line_n
    }

    /// An edge without a handshake would change no register that is read later: no beat can
    /// issue (stage A waits for an input word and would not stall on a credit) and no word is
    /// in flight (the delay line's position then does not matter: every slot is empty).
    #[inline]
    pub fn idle_edge(&self) -> bool {
        self.reads_stream() && self.line_n == 0 && self.can_issue()
    }

    /// How many of the next edges, if none has a handshake, would only advance stage A inside
    /// a fold over the stored input vector: `a_in` is 0 (`a_nf > 0` and not DEPTHWISE, so
    /// `s_axis_tready` is 0 and no word arrives), every beat issues (none is a fold's last, so no credit is needed and no word
    /// is formed), and no word in flight reaches the queue (so `m_axis_tvalid` and the queue
    /// keep their values). [`Mvtu::skip_quiet`] applies such edges in one step.
    #[inline]
    pub fn quiet_edges(&self) -> usize {
        if self.reads_stream() || self.a_sf + 1 >= self.sf {
            return 0;
        }
        let beats = self.sf - 1 - self.a_sf;
        if self.line_n == 0 {
            return beats;
        }
        let mut pos = self.line_pos;
        for d in 0..beats {
            if self.line_valid[pos] {
                return d;
            }
            pos = if pos + 1 == self.lat { 0 } else { pos + 1 };
        }
        beats
    }

    /// `n` edges without a handshake, `n` at most [`Mvtu::quiet_edges`]: as many calls of
    /// `tick(None, false)`.
    pub fn skip_quiet(&mut self, n: usize) {
        debug_assert!(n <= self.quiet_edges(), "skip_quiet beyond the quiet edges");
        self.a_sf += n;
        self.beats += n as u64;
        self.line_pos = (self.line_pos + n) % self.lat;
    }

    /// Whether nothing is in flight: every credit free (no queued or reserved word), at a
    /// vector boundary.
    pub fn idle(&self) -> bool {
        self.credits == self.q && self.a_nf == 0 && self.a_sf == 0
    }

    /// The output word of the fold just finished (`acc`, neuron fold `nf`) into `out`.
    fn result_into(&self, nf: usize, out: &mut [u64]) {
        let p = &self.p;
        let ob = p.obits as usize;
        let (pe, ns) = (p.pe, p.nsteps);
        let acc = &self.acc[..pe];
        if p.out_bits() <= 64 {
            let mut word = 0u64;
            if ns > 0 {
                let thr = &self.thr[nf * pe * ns..(nf + 1) * pe * ns];
                let dir = &self.dir[nf * pe..(nf + 1) * pe];
                for (k, ((&a, ts), &d)) in acc.iter().zip(thr.chunks_exact(ns)).zip(dir).enumerate()
                {
                    word |= self.threshold(a, ts, d) << (k * ob);
                }
            } else {
                for (k, &a) in acc.iter().enumerate() {
                    word |= self.no_activation(a) << (k * ob);
                }
            }
            out[0] = word;
        } else {
            out.iter_mut().for_each(|w| *w = 0);
            for (k, &a) in acc.iter().enumerate() {
                let v = if ns > 0 {
                    let ch = nf * pe + k;
                    self.threshold(a, &self.thr[ch * ns..(ch + 1) * ns], self.dir[ch])
                } else {
                    self.no_activation(a)
                };
                bits::set(out, k * ob, ob, v);
            }
        }
    }

    /// The output bits (OBITS) of a channel with thresholds `ts` and direction `dir` whose fold
    /// summed to `acc`: one `acc ≥ T'` comparator per threshold, the count inverted by `dir`.
    #[inline]
    fn threshold(&self, acc: i64, ts: &[i64], dir: bool) -> u64 {
        let p = &self.p;
        let a = sext((acc as u64) & self.acc_mask, p.acc_bits);
        let hits = ts.iter().map(|&t| usize::from(a >= t)).sum::<usize>();
        let count = if dir { p.nsteps - hits } else { hits } as i64;
        (count + p.out_bias) as u64 & self.obits_mask
    }

    /// The output bits of a channel without activation (OBITS = ACC_BITS): the wrapped sum, for
    /// XNOR `2·popcount − fan-in`.
    #[inline]
    fn no_activation(&self, acc: i64) -> u64 {
        let wrapped = (acc as u64) & self.acc_mask;
        if self.xnor {
            (wrapped
                .wrapping_add(wrapped)
                .wrapping_sub(self.p.xnor_fanin as u64))
                & self.acc_mask
        } else {
            wrapped
        }
    }

    /// Which dot-product kernel the model uses ("xnor", "planes", "mac", or "depthwise"; all
    /// exact).
    pub fn datapath(&self) -> &'static str {
        match &self.dot {
            Datapath::Dense(d) => d.kind(),
            Datapath::Depthwise(_) => "depthwise",
        }
    }

    /// One rising edge. `push`: the input word if `s_axis_tvalid && s_axis_tready`; `pop`:
    /// `m_axis_tvalid && m_axis_tready`.
    pub fn tick(&mut self, push: Option<&[u64]>, pop: bool) {
        let a_in = self.reads_stream();
        let a_last = self.a_sf == self.sf - 1;
        let can = self.can_issue();
        debug_assert!(push.is_none() || (a_in && can), "push while not ready");
        debug_assert!(!pop || self.q_count != 0, "pop from an empty queue");
        let a_valid = !a_in || push.is_some();
        let issue = a_valid && can;
        if !can {
            self.stall_cycles += 1;
        }

        // the queue drops its head and appends the word pushed at this edge (LAT edges after
        // its fold's last beat was issued); the credits guarantee room
        if pop {
            self.q_head = if self.q_head + 1 == self.q {
                0
            } else {
                self.q_head + 1
            };
            self.q_count -= 1;
        }
        let slot = self.line_pos;
        let ol = self.ol;
        if self.line_valid[slot] {
            debug_assert!(self.q_count < self.q, "output queue overflow");
            let mut tail = self.q_head + self.q_count;
            if tail >= self.q {
                tail -= self.q;
            }
            self.queue[tail * ol..(tail + 1) * ol]
                .copy_from_slice(&self.line[slot * ol..(slot + 1) * ol]);
            self.q_count += 1;
            self.line_valid[slot] = false;
            self.line_n -= 1;
        }

        if issue {
            self.beats += 1;
            if let Some(w) = push {
                self.dot.load(self.a_sf, w);
            }
            if a_last {
                // the fold's sums (the accumulators after its last beat) and output word,
                // pushed LAT edges from now (the slot comes round again then)
                self.dot.fold(self.a_nf, &mut self.acc);
                let mut line = std::mem::take(&mut self.line);
                self.result_into(self.a_nf, &mut line[slot * ol..(slot + 1) * ol]);
                self.line = line;
                self.line_valid[slot] = true;
                self.line_n += 1;
                self.credits -= 1;
            }
            // stage A counters: sf inner, nf outer
            if a_last {
                self.a_sf = 0;
                self.a_nf = if self.a_nf == self.nf - 1 {
                    0
                } else {
                    self.a_nf + 1
                };
            } else {
                self.a_sf += 1;
            }
        }
        if pop {
            self.credits += 1;
        }
        self.line_pos = if slot + 1 == self.lat { 0 } else { slot + 1 };
    }

    /// Output word limbs.
    pub fn out_limbs(&self) -> usize {
        self.ol
    }

    /// `LAT` ([`MvtuParams::latency`]).
    pub fn latency(&self) -> usize {
        self.lat
    }

    /// `Q` ([`MvtuParams::queue_depth`]).
    pub fn queue_depth(&self) -> usize {
        self.q
    }
}
