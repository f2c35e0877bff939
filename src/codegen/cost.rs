//! Resource estimates of one MVTU layer (the layer wrapper: `bnn_mvtu` and its weight and
//! threshold ROMs) and of a window generator, calibrated against yosys 0.70 `synth_xilinx`
//! (xc7, hierarchy kept). See `docs/cost-model.md` for the model, the fit and its residuals.
//!
//! The model is structural: it counts the bits of every adder-tree level, accumulator,
//! comparator, product and ROM the RTL (`hw/bnn_mvtu.v`, `bnn_dot.v`, `bnn_addtree.v`,
//! `bnn_thresh.v`, `bnn_rom.v`) instantiates for the layer's shape, and weighs each count with a
//! coefficient fitted by least squares (relative error) to the measurements in
//! `docs/cost-calibration.csv`. `scripts/calibrate-cost measure` re-measures,
//! `scripts/calibrate-cost fit` re-fits (its feature code mirrors [`features`]). Block RAM is
//! not fitted: [`rom_blocks`] is yosys's own choice of RAMB18E1/RAMB36E1 for each block ROM.
//!
//! Only the ROMs' shapes are used, not their contents: weight ROM bits are costed as random
//! (what trained binarized weights look like to the LUT mapper), threshold ROM bits with a
//! fitted fraction.

use crate::cyclesim::{mvtu_params, rom_images, MvtuMode, MvtuParams};
use crate::hwir::{BlockTiling, HwMvtu, HwWindow, MemKind};
use crate::ir::WeightStorage;

/// One ROM set of a layer: one ROM per PE, `depth` words of `width` bits, built as `kind`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RomShape {
    pub kind: MemKind,
    pub depth: usize,
    pub width: usize,
    /// Per ROM, the data bits that are not the same in every word (yosys drops the constant
    /// ones before it picks a block RAM configuration); empty: all `width`.
    pub varying: Vec<usize>,
}

/// Per ROM of a set (`[rom][word]` limbs), the bits that differ between its words.
fn varying_bits(images: &[Vec<Vec<u64>>]) -> Vec<usize> {
    images
        .iter()
        .map(|words| {
            let limbs = words.first().map_or(0, Vec::len);
            (0..limbs)
                .map(|i| {
                    let or = words.iter().fold(0u64, |a, w| a | w[i]);
                    let and = words.iter().fold(u64::MAX, |a, w| a & w[i]);
                    (or & !and).count_ones() as usize
                })
                .sum()
        })
        .collect()
}

/// Everything the estimate depends on: the `bnn_mvtu` parameters and the two ROM sets.
#[derive(Clone, Debug)]
pub struct MvtuShape {
    pub params: MvtuParams,
    /// With weights as logic: the shape of the constant tables (`kind` [`MemKind::Logic`]).
    pub weights: RomShape,
    /// `None` without thresholds.
    pub thresholds: Option<RomShape>,
    /// Weights as logic (`weight_storage = "logic"`): the fraction of non-zero weights, which
    /// scales the layer's LUTs ([`LOGIC_LUT_SCALE_FOLDED`]); `None` for weight ROMs.
    pub weight_density: Option<f64>,
}

/// The fraction of non-zero weights of a matrix (1 for an empty one).
pub fn weight_density(weights: ndarray::ArrayView2<i32>) -> f64 {
    let n = weights.len();
    if n == 0 {
        return 1.0;
    }
    weights.iter().filter(|&&w| w != 0).count() as f64 / n as f64
}

/// Weights as logic: the layer's LUTs are the model's LUTs (LUT-ROM weight tables, the MVTU as
/// for ROM weights) times `k0 + k1·d`, d the fraction of non-zero weights. The wrapper is
/// flattened for synthesis (`docs/hardware.md`), so the constants reach the datapath: with one
/// fold word per PE (NF·SF = 1) every weight is a constant of its product, which collapses, and
/// zero weights remove their adder-tree inputs too; with more folds each weight bit stays a LUT
/// function of the fold address and only bits constant over all folds go. Fitted (least squares
/// per regime; refitted to the smallest largest error with the base model of 2026-11-30) to the
/// six `weight_storage = "logic"` builds of `scripts/bench-weights-logic` (a W2A2 layer unrolled
/// and folded to 32 words per PE, at 0, 50 and 90 % zeros; yosys 0.70 xc7;
/// `docs/performance.md`): within 9 % (unrolled) and 5 % (folded) of those builds. Two shapes,
/// so a first calibration, not a fit over shapes. Flip-flops are not scaled (the MVTU's
/// registers stay; measured 2–3 % fewer than with ROMs, up to 45 % fewer for the unrolled layer
/// at 90 % zeros, which the estimate then overstates).
pub const LOGIC_LUT_SCALE_UNROLLED: (f64, f64) = (0.248, 0.207);
/// The same for layers with more than one fold word per PE.
pub const LOGIC_LUT_SCALE_FOLDED: (f64, f64) = (0.679, 0.125);

fn logic_scale(s: &MvtuShape) -> f64 {
    s.weight_density.map_or(1.0, |d| {
        let (k0, k1) = if s.weights.depth <= 1 {
            LOGIC_LUT_SCALE_UNROLLED
        } else {
            LOGIC_LUT_SCALE_FOLDED
        };
        k0 + k1 * d.clamp(0.0, 1.0)
    })
}

impl MvtuShape {
    /// The shape of a layer; with `contents`, the varying bits of its block ROMs (reads every
    /// ROM word), else all bits.
    pub fn of(layer: &HwMvtu, contents: bool) -> MvtuShape {
        let block = layer.weight_mem.kind == MemKind::Block
            || layer
                .threshold_mem
                .is_some_and(|m| m.kind == MemKind::Block);
        let (wv, tv) = if contents && block {
            let (w, t) = rom_images(layer);
            (varying_bits(&w), varying_bits(&t))
        } else {
            (Vec::new(), Vec::new())
        };
        let weight_density = (layer.weight_storage == WeightStorage::Logic)
            .then(|| weight_density(layer.weights.slice(ndarray::s![..layer.mh, ..layer.mw])));
        MvtuShape {
            weight_density,
            params: mvtu_params(layer),
            weights: RomShape {
                kind: layer.weight_mem.kind,
                depth: layer.nf() * layer.sf(),
                width: layer.simd * layer.wbits() as usize,
                varying: wv,
            },
            thresholds: layer.threshold_mem.map(|m| RomShape {
                kind: m.kind,
                depth: layer.nf(),
                width: layer.tmem_width(),
                varying: tv,
            }),
        }
    }
}

/// The fitted LUT coefficients, in the order of [`Features`]' fields (`scripts/calibrate-cost
/// fit` on `docs/cost-calibration.csv`, yosys 0.70 xc7; see `docs/cost-model.md`).
const LUT_COEF: Features = Features {
    one: 11.2567,
    pe: 5.6664,
    ctrl: 1.0802,
    ibuf: 0.8753,
    tree1: 1.0866,
    treew: 1.0,
    sel: 0.8522,
    acc: 1.0899,
    prod: 1.7821,
    prod_pp: 1.6141,
    thr: 0.8127,
    thr_c: 0.7111,
    tcount: 0.0,
    xout: 0.3511,
    wrom: 1.0146,
    trom: 0.7069,
    trom_deep: 0.8188,
    bankmux: 1.0,
};

/// The fitted flip-flop coefficients (same fit), over [`ff_features`].
const FF_COEF: FfFeatures = FfFeatures {
    one: 37.8084,
    ctrl: 0.2422,
    x: 1.1219,
    tree: 1.01,
    acc: 0.995,
    prod: 1.0146,
    thr: 1.04,
    rom: 0.9257,
    romreg: 1.0,
};

/// The structural LUT features of a layer (counts of bits; see `docs/cost-model.md`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Features {
    /// 1 (the fixed control: issue stage, credits, output queue).
    pub one: f64,
    /// PE: each PE's fixed logic (accumulator and compare-stage control, its output lane).
    pub pe: f64,
    /// Counter bits: clog2 NF + clog2 SF + clog2 (NF·SF).
    pub ctrl: f64,
    /// The input-buffer replay multiplexer: SIMD·A bits when NF > 1.
    pub ibuf: f64,
    /// Adder-tree bits (all levels, all PEs, and the SUM v trees of the offset mode) of trees of
    /// 1-bit terms (XNOR, AND: a full-adder first level).
    pub tree1: f64,
    /// The same for trees of multi-bit terms (select, offset with a multi-bit operand, MAC).
    pub treew: f64,
    /// Select lanes of multi-bit terms (offset and select modes): PE · SIMD · term bits.
    pub sel: f64,
    /// Accumulator adder bits (and the offset mode's SUM v accumulators and `2A − acc_v`
    /// stage); none when SF = 1, where every beat starts a fold (the `2A − acc_v` stage stays).
    pub acc: f64,
    /// MAC products of at most 6 input bits (W + A ≤ 6): PE · SIMD · (W + A), one LUT per
    /// product bit.
    pub prod: f64,
    /// Wider MAC products in LUTs (7 ≤ W + A < 9; from 9 bits on they are DSPs): PE · SIMD ·
    /// partial-product bits ([`partial_products`]).
    pub prod_pp: f64,
    /// Comparator bits: PE · thresholds · max(acc bits, threshold bits), when NF > 1.
    pub thr: f64,
    /// The same when NF = 1 (the thresholds are constants).
    pub thr_c: f64,
    /// Threshold-count inputs: PE · thresholds, when there are at least 2.
    pub tcount: f64,
    /// XNOR without activation: the `2P − K` output adder, PE · acc bits.
    pub xout: f64,
    /// LUTs of the weight ROMs in LUTs (random contents; [`rom_luts`]).
    pub wrom: f64,
    /// The same for threshold ROMs of at most [`SHALLOW_ROM_WORDS`] words.
    pub trom: f64,
    /// The same for deeper threshold ROMs.
    pub trom_deep: f64,
    /// The bank multiplexer of tiled block ROMs ([`bank_mux_luts`]); coefficient 1.
    pub bankmux: f64,
}

impl Features {
    fn dot(&self, c: &Features) -> f64 {
        self.one * c.one
            + self.pe * c.pe
            + self.ctrl * c.ctrl
            + self.ibuf * c.ibuf
            + self.tree1 * c.tree1
            + self.treew * c.treew
            + self.sel * c.sel
            + self.acc * c.acc
            + self.prod * c.prod
            + self.prod_pp * c.prod_pp
            + self.thr * c.thr
            + self.thr_c * c.thr_c
            + self.tcount * c.tcount
            + self.xout * c.xout
            + self.wrom * c.wrom
            + self.trom * c.trom
            + self.trom_deep * c.trom_deep
            + self.bankmux * c.bankmux
    }
}

/// The structural flip-flop features of a layer.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FfFeatures {
    pub one: f64,
    /// Counter bits, and the nf flags carried to the threshold ROM address.
    pub ctrl: f64,
    /// Input word registers: stage B and one copy per PE group (and the shared tree's).
    pub x: f64,
    /// Adder-tree registers (all levels, delay stages).
    pub tree: f64,
    /// Accumulator (and offset) registers.
    pub acc: f64,
    /// Product registers of the MAC mode in LUTs.
    pub prod: f64,
    /// Compare-stage registers: PE · (thresholds + 1), or PE · acc bits without activation.
    pub thr: f64,
    /// Read and address registers of the ROMs in LUTs (one per distinct data bit, clog2 depth
    /// address bits), per PE.
    pub rom: f64,
    /// Output registers of the block ROMs (`bnn_rom`'s second read stage, in the fabric: yosys
    /// absorbs neither into RAMB18/36 nor DP16KD): one per varying data bit, coefficient 1.
    pub romreg: f64,
}

impl FfFeatures {
    fn dot(&self, c: &FfFeatures) -> f64 {
        self.one * c.one
            + self.ctrl * c.ctrl
            + self.x * c.x
            + self.tree * c.tree
            + self.acc * c.acc
            + self.prod * c.prod
            + self.thr * c.thr
            + self.rom * c.rom
            + self.romreg * c.romreg
    }
}

fn clog2(n: usize) -> usize {
    if n <= 1 {
        0
    } else {
        (usize::BITS - (n - 1).leading_zeros()) as usize
    }
}

/// `bnn_addtree` of `n` terms of `w` bits: (the bits of all its levels, the final width, the
/// number of levels). A full-adder first level (3 one-bit unsigned terms → 2 bits) when `w` = 1
/// and unsigned and `n` ≥ 3; then pairwise adders one bit wider per level, capped at `out_w`.
pub fn tree_geometry(n: usize, w: usize, signed: bool, out_w: usize) -> (usize, usize, usize) {
    let c3 = w == 1 && !signed && n >= 3;
    let (mut bits, mut nk, mut wk, mut levels) = (0, n, w, 0);
    while nk > 1 {
        levels += 1;
        if levels == 1 && c3 {
            nk = nk.div_ceil(3);
            wk = 2;
        } else {
            nk = nk.div_ceil(2);
            wk += 1;
        }
        wk = wk.min(out_w);
        bits += nk * wk;
    }
    (bits, wk.min(out_w), levels)
}

/// Expected number of data bits of a random `depth` × `width` ROM that need a LUT of their own.
/// A bit and its complement share one LUT (and an inverter), constants and copies of an address
/// bit need none: of the F/2 complement classes of the F = 2^D functions of a bit, 1 + clog2 D
/// are free, and W random bits hit `(F/2 − 1 − clog2 D)·(1 − (1 − 2/F)^W)` of the others. From
/// 20 words on this is W.
pub fn rom_distinct_bits(depth: usize, width: usize) -> f64 {
    if depth >= 20 {
        return width as f64;
    }
    let f = (depth as f64).exp2();
    let free = 1.0 + clog2(depth) as f64;
    ((f / 2.0 - free) * (1.0 - (1.0 - 2.0 / f).powi(width as i32))).max(0.0)
}

/// LUT6s per distinct data bit of a LUT ROM with random contents. Up to 8 address bits abc maps
/// a bit as one LUT6, LUT7 (2 LUT6 + MUXF7) or LUT8 (4 LUT6 + MUXF7 + MUXF8): 1, 2 or 4 (144
/// words: 4, measured). Deeper, one LUT6 per 64 words and a tree of LUT6 4:1 multiplexers over
/// them (each takes three inputs off): ⌈D/64⌉ + ⌈(⌈D/64⌉ − 1)/3⌉, within −21 … +21 % of the
/// measured 320- to 1,920-word ROMs (`docs/cost-model.md`).
pub fn rom_luts_per_bit(depth: usize) -> f64 {
    if depth <= 1 {
        return 0.0;
    }
    if depth <= 256 {
        return (1usize << clog2(depth).saturating_sub(6)) as f64;
    }
    let k = depth.div_ceil(64);
    (k + (k - 1).div_ceil(3)) as f64
}

/// LUTs of the bank multiplexer of a set of `roms` tiled block ROMs
/// ([`crate::hwir::BlockTiling`]): per data bit a banks:1 multiplexer between the RAMs' read
/// registers and the ROM's output register, one LUT3 for 2 banks (CNV conv4: 4 × 32, measured
/// 128) and one LUT6 per 3 more banks; 0 for a ROM the tool maps itself.
pub fn bank_mux_luts(rom: &RomShape, roms: usize) -> f64 {
    if rom.kind != MemKind::Block {
        return 0.0;
    }
    BlockTiling::for_rom(rom.depth, rom.width).map_or(0.0, |t| {
        (roms * rom.width * (t.banks - 1).div_ceil(3)) as f64
    })
}

/// The deepest threshold ROM costed with [`Features::trom`]'s coefficient; deeper ones use
/// [`Features::trom_deep`]'s. Up to 32 words a data bit is a function of at most 5 address bits,
/// and the measured threshold ROMs take mostly 0.4–1.0 of the LUTs of random bits (fitted: 0.71;
/// the high bits of clustered thresholds repeat each other); deeper, every bit fills LUT6s and
/// their multiplexers, and the measured ones take 0.67–1.1 (fitted: 0.82; CNV's fc0, 512 × 11:
/// 0.91).
pub const SHALLOW_ROM_WORDS: usize = 32;

/// LUTs of one ROM set (`roms` ROMs) built in LUTs, before the fitted coefficient; 0 in block RAM.
pub fn rom_luts(rom: &RomShape, roms: usize) -> f64 {
    match rom.kind {
        MemKind::Block => 0.0,
        MemKind::Distributed | MemKind::Logic => {
            roms as f64 * rom_distinct_bits(rom.depth, rom.width) * rom_luts_per_bit(rom.depth)
        }
    }
}

struct Datapath {
    mode: MvtuMode,
    /// Tree bits of 1-bit-term and multi-bit-term trees, tree registers (bits + delay stages).
    tree1: usize,
    treew: usize,
    tree_ff: usize,
    /// Selected lane bits (offset/select with multi-bit terms).
    sel: usize,
    acc: usize,
    /// Accumulator adder bits (see [`Features::acc`]).
    acc_add: usize,
    /// Whether the products use DSPs.
    dsp: bool,
    g: usize,
}

fn datapath(p: &MvtuParams) -> Datapath {
    let mode = p.mode();
    let (pe, simd, ab) = (p.pe, p.simd, p.acc_bits as usize);
    let (wb, ib) = (p.wbits as usize, p.ibits as usize);
    let ts = clog2(simd).max(1);
    // a tree of `simd` terms, with its delay stages, for `copies` copies
    let (mut tree1, mut treew, mut tree_ff) = (0, 0, 0);
    let mut add_tree = |w: usize, signed: bool, copies: usize| {
        let (bits, wl, levels) = tree_geometry(simd, w, signed, ab);
        if w == 1 {
            tree1 += copies * bits;
        } else {
            treew += copies * bits;
        }
        tree_ff += copies * (bits + (ts - levels) * wl);
    };
    let (tw, tsg) = match mode {
        MvtuMode::Xnor => (1, false),
        MvtuMode::Mac => (wb + ib, p.wtype == 2 || p.itype == 2),
        MvtuMode::Offset | MvtuMode::Sel => {
            let sel_w = if mode == MvtuMode::Offset {
                p.wtype == 0
            } else {
                p.wtype == 1 && p.wbits == 1
            };
            if sel_w {
                (ib, p.itype == 2)
            } else {
                (wb, p.wtype == 2)
            }
        }
    };
    add_tree(tw, tsg, pe);
    let sel = if matches!(mode, MvtuMode::Offset | MvtuMode::Sel) && tw > 1 {
        pe * simd * tw
    } else {
        0
    };
    let g = pe.div_ceil(8);
    let mut acc = pe * ab;
    if mode == MvtuMode::Offset {
        if p.itype == 0 {
            // SUM w per PE: a second tree and accumulator per PE
            add_tree(wb, p.wtype == 2, pe);
            acc += pe * ab;
        }
        if p.wtype == 0 {
            // SUM x: one shared tree, an accumulator per PE group
            add_tree(ib, p.itype == 2, 1);
            acc += g * ab;
        }
    }
    let sf = p.mw / simd;
    let fin = if mode == MvtuMode::Offset { pe * ab } else { 0 }; // fin = 2·acc − acc_v
    let acc_add = if sf > 1 { acc } else { 0 } + fin;
    acc += fin;
    Datapath {
        mode,
        tree1,
        treew,
        tree_ff,
        sel,
        acc,
        acc_add,
        dsp: mode == MvtuMode::Mac && product_uses_dsp(wb as u32, ib as u32),
        g,
    }
}

/// Partial-product bits of one MAC lane: both operands are extended to PW = W + A bits and
/// multiplied signed, the product truncated to PW bits; yosys keeps PW bits of a signed operand
/// and narrows a zero-extended one to its bits + 1 (its bits when both are unsigned).
pub fn partial_products(p: &MvtuParams) -> usize {
    let (wb, ib) = (p.wbits as usize, p.ibits as usize);
    let pw = wb + ib;
    let (ea, eb) = if p.wtype != 2 && p.itype != 2 {
        (wb, ib)
    } else {
        (
            if p.wtype == 2 { pw } else { pw.min(wb + 1) },
            if p.itype == 2 { pw } else { pw.min(ib + 1) },
        )
    };
    (0..ea).map(|i| eb.min(pw - i)).sum()
}

/// The structural LUT features of a layer.
pub fn features(s: &MvtuShape) -> Features {
    let p = &s.params;
    let d = datapath(p);
    let (pe, simd, ab) = (p.pe, p.simd, p.acc_bits as usize);
    let (nf, sf) = (p.mh / pe, p.mw / simd);
    let ns = p.nsteps;
    let lut_prod = d.mode == MvtuMode::Mac && !d.dsp;
    let pw = (p.wbits + p.ibits) as usize;
    let prod = if lut_prod && pw <= 6 {
        pe * simd * pw
    } else {
        0
    };
    let prod_pp = if lut_prod && pw > 6 {
        pe * simd * partial_products(p)
    } else {
        0
    };
    let cw = ab.max(p.tbits as usize);
    Features {
        one: 1.0,
        pe: pe as f64,
        ctrl: (clog2(nf) + clog2(sf) + clog2(nf * sf)) as f64,
        ibuf: if nf > 1 {
            (simd * p.ibits as usize) as f64
        } else {
            0.0
        },
        tree1: d.tree1 as f64,
        treew: d.treew as f64,
        sel: d.sel as f64,
        acc: d.acc_add as f64,
        prod: prod as f64,
        prod_pp: prod_pp as f64,
        thr: if nf > 1 { (pe * ns * cw) as f64 } else { 0.0 },
        thr_c: if nf == 1 { (pe * ns * cw) as f64 } else { 0.0 },
        tcount: if ns > 1 { (pe * ns) as f64 } else { 0.0 },
        xout: if ns == 0 && d.mode == MvtuMode::Xnor {
            (pe * ab) as f64
        } else {
            0.0
        },
        wrom: rom_luts(&s.weights, pe),
        trom: s
            .thresholds
            .as_ref()
            .filter(|t| t.depth <= SHALLOW_ROM_WORDS)
            .map_or(0.0, |t| rom_luts(t, pe)),
        trom_deep: s
            .thresholds
            .as_ref()
            .filter(|t| t.depth > SHALLOW_ROM_WORDS)
            .map_or(0.0, |t| rom_luts(t, pe)),
        bankmux: bank_mux_luts(&s.weights, pe)
            + s.thresholds.as_ref().map_or(0.0, |t| bank_mux_luts(t, pe)),
    }
}

/// The structural flip-flop features of a layer.
pub fn ff_features(s: &MvtuShape) -> FfFeatures {
    let p = &s.params;
    let d = datapath(p);
    let (pe, simd, ab) = (p.pe, p.simd, p.acc_bits as usize);
    let (nf, sf) = (p.mh / pe, p.mw / simd);
    let xw = simd * p.ibits as usize;
    let shared = usize::from(d.mode == MvtuMode::Offset && p.wtype == 0);
    let prod = if d.mode == MvtuMode::Mac && !d.dsp {
        pe * simd * (p.wbits + p.ibits) as usize
    } else {
        0
    };
    // a LUT ROM's read register (one per distinct data bit) and registered address
    let rom_bits = |r: &RomShape| match r.kind {
        MemKind::Block => 0.0,
        _ if r.depth <= 1 => 0.0,
        _ => pe as f64 * (rom_distinct_bits(r.depth, r.width) + clog2(r.depth) as f64),
    };
    let block_reg_bits = |r: &RomShape| match r.kind {
        MemKind::Block if r.varying.is_empty() => (pe * r.width) as f64,
        MemKind::Block => r.varying.iter().sum::<usize>() as f64,
        _ => 0.0,
    };
    let ts = clog2(simd).max(1);
    FfFeatures {
        one: 1.0,
        ctrl: (clog2(nf) + clog2(sf) + clog2(nf * sf) + (ts + 3) * clog2(nf)) as f64,
        x: ((1 + d.g + shared) * xw) as f64,
        tree: d.tree_ff as f64,
        acc: d.acc as f64,
        prod: prod as f64,
        thr: if p.nsteps > 0 {
            (pe * (p.nsteps + 1)) as f64
        } else {
            (pe * ab) as f64
        },
        rom: rom_bits(&s.weights) + s.thresholds.as_ref().map_or(0.0, rom_bits),
        romreg: block_reg_bits(&s.weights) + s.thresholds.as_ref().map_or(0.0, block_reg_bits),
    }
}

/// LUT estimate of a layer wrapper (MVTU and ROMs), for a shape.
pub fn shape_luts(s: &MvtuShape) -> u64 {
    (features(s).dot(&LUT_COEF).max(0.0) * logic_scale(s)).round() as u64
}

/// Flip-flop estimate of a layer wrapper, for a shape.
pub fn shape_ffs(s: &MvtuShape) -> u64 {
    ff_features(s).dot(&FF_COEF).max(0.0).round() as u64
}

/// DSP48E1s of a layer: one per MAC lane when the product is 9 bits or wider (yosys maps such
/// multipliers to DSPs, narrower ones to LUTs).
pub fn shape_dsp(s: &MvtuShape) -> u64 {
    if datapath(&s.params).dsp {
        (s.params.pe * s.params.simd) as u64
    } else {
        0
    }
}

/// BRAM18 equivalents of a layer: its block ROMs (RAMB36 = 2), as yosys maps them, and the
/// input buffer where yosys puts it in block RAM ([`ibuf_bram18`]).
pub fn shape_bram18(s: &MvtuShape) -> u64 {
    let set = |r: &RomShape| match r.kind {
        MemKind::Block => {
            let blocks = |w: usize| {
                let (b18, b36) = rom_blocks(r.depth as u64, w as u64);
                b18 + 2 * b36
            };
            if r.varying.is_empty() {
                s.params.pe as u64 * blocks(r.width)
            } else {
                r.varying.iter().map(|&w| blocks(w)).sum()
            }
        }
        _ => 0,
    };
    set(&s.weights) + s.thresholds.as_ref().map_or(0, set) + ibuf_bram18(&s.params)
}

/// The (address bits, width) options of yosys's xc7 LUT RAMs for a memory with one write and
/// one read port (`lutrams_xc5v.txt`: `$__XILINX_LUTRAM_SDP_` 32 × 6 and 64 × 3,
/// `$__XILINX_LUTRAM_DP_` 32 × 4, 64 × 2 and 128 × 1), each at cost 8.
const LUTRAM_CONFIGS: [(u32, u64); 5] = [(5, 6), (6, 3), (5, 4), (6, 2), (7, 1)];

/// BRAM18 equivalents of `bnn_mvtu`'s input buffer (`ibuf`, SF words × SIMD·A bits, when
/// NF > 1 and SF > 1): yosys's `memory_libmap` builds it from whichever is cheaper, LUT RAM
/// (cost 8 per cell, [`LUTRAM_CONFIGS`] tiled) or block RAM (129 per RAMB18, 257 per RAMB36,
/// [`rom_blocks`]). 72 × 32 (CNV conv5) costs 144 in LUT RAM and takes one RAMB18; 64 × 32
/// costs 88 and stays in LUT RAM.
pub fn ibuf_bram18(p: &MvtuParams) -> u64 {
    let (nf, sf) = (p.mh / p.pe, (p.mw / p.simd) as u64);
    let width = (p.simd * p.ibits as usize) as u64;
    if nf <= 1 || sf <= 1 || width == 0 {
        return 0;
    }
    memory_bram18(sf, width)
}

/// BRAM18 equivalents of a `depth` × `width` memory (one write, one read port) that the RTL
/// leaves to yosys (no `RAM_STYLE`: `bnn_mvtu`'s input buffer, `bnn_fifo`): `memory_libmap`
/// takes the cheaper of LUT RAM (cost 8 per cell, [`LUTRAM_CONFIGS`] tiled) and block RAM (129
/// per RAMB18, 257 per RAMB36, [`rom_blocks`]); 0 when LUT RAM wins.
pub fn memory_bram18(depth: u64, width: u64) -> u64 {
    if depth <= 1 || width == 0 {
        return 0;
    }
    let lutram = LUTRAM_CONFIGS
        .iter()
        .map(|&(abits, w)| 8 * depth.div_ceil(1 << abits) * width.div_ceil(w))
        .min()
        .unwrap_or(u64::MAX);
    let (b18, b36) = rom_blocks(depth, width);
    if 129 * b18 + 257 * b36 < lutram {
        b18 + 2 * b36
    } else {
        0
    }
}

/// LUT estimate of a layer wrapper: the MVTU with its weight and threshold ROMs.
pub fn luts(layer: &HwMvtu) -> u64 {
    shape_luts(&MvtuShape::of(layer, false))
}

/// Flip-flop estimate of a layer wrapper.
pub fn ffs(layer: &HwMvtu) -> u64 {
    shape_ffs(&MvtuShape::of(layer, false))
}

/// Whether a MAC lane's product of a `wbits`-bit weight and an `ibits`-bit input goes to a DSP:
/// yosys's `synth_xilinx` maps a product of 9 bits or more to a DSP48E1 (`DSP_Y_MINWIDTH = 9`),
/// narrower ones to LUTs. `build --synth ecp5` follows the same rule (`-nodsp` when no product
/// reaches it: `synth_ecp5` alone would put even a 2×2-bit product in a MULT18X18D).
pub fn product_uses_dsp(wbits: u32, ibits: u32) -> bool {
    wbits + ibits >= 9
}

/// DSP estimate of a layer.
pub fn dsp(layer: &HwMvtu) -> u64 {
    shape_dsp(&MvtuShape::of(layer, false))
}

/// BRAM18 equivalents of a layer's weight and threshold ROMs that are in block RAM (from the
/// ROM contents: their constant bits need no block RAM).
pub fn bram18(layer: &HwMvtu) -> u64 {
    shape_bram18(&MvtuShape::of(layer, true))
}

/// The (width, depth) configurations of an 18-Kbit block RAM: RAMB18E1 (xc7) and DP16KD (ECP5)
/// alike.
pub const BLOCK18_CONFIGS: [(u64, u64); 6] = [
    (1, 16384),
    (2, 8192),
    (4, 4096),
    (9, 2048),
    (18, 1024),
    (36, 512),
];

/// The fewest blocks one `depth` × `width` ROM takes when it is tiled ⌈width/w⌉ · ⌈depth/d⌉
/// times with one of the (w, d) `configs`.
pub fn fewest_tiles(depth: u64, width: u64, configs: &[(u64, u64)]) -> u64 {
    configs
        .iter()
        .map(|&(w, d)| width.div_ceil(w) * depth.div_ceil(d))
        .min()
        .unwrap_or(0)
}

/// The block RAMs yosys (`memory_libmap`, `brams_xc4v.txt` for xc7) builds one `depth` ×
/// `width` ROM from, as (RAMB18E1, RAMB36E1): the cheapest of RAMB18 (cost 129) as 16K × 1 …
/// 1K × 18 or 512 × 36 and RAMB36 (cost 257) as 32K × 1 … 1K × 36 or 512 × 72, each
/// configuration tiled ⌈width/w⌉ · ⌈depth/d⌉ times.
pub fn rom_blocks(depth: u64, width: u64) -> (u64, u64) {
    const B36: [(u64, u64); 7] = [
        (1, 32768),
        (2, 16384),
        (4, 8192),
        (9, 4096),
        (18, 2048),
        (36, 1024),
        (72, 512),
    ];
    let n18 = fewest_tiles(depth, width, &BLOCK18_CONFIGS);
    let n36 = fewest_tiles(depth, width, &B36);
    if n36 * 257 < n18 * 129 {
        (0, n36)
    } else {
        (n18, 0)
    }
}

/// The window generator's buffer: its block RAMs when [`HwWindow::buffer_kind`] puts it in block
/// RAM (at least half full), else none (LUT RAM, counted by [`swg_luts`]).
pub fn swg_bram18(w: &HwWindow) -> u64 {
    match w.buffer_kind() {
        MemKind::Block => {
            let (b18, b36) = rom_blocks(w.depth as u64, w.word_bits() as u64);
            b18 + 2 * b36
        }
        _ => 0,
    }
}

/// LUTs (LUT1–LUT6 cells) of a window generator: 20.5 + 2.91 per word bit (the pad/data
/// multiplexer and the output queue's word registers) + 22.4 per bit of buffer address (the
/// read and write address arithmetic, counters and compares grow with clog2 of the buffer
/// depth). A buffer in LUT RAM adds its LUT RAM cells, which the synthesis counts apart, as it
/// does for the MVTU wrappers. Fitted to the 15 generators of docs/cost-calibration-swg.csv
/// (digits-cnn, cnv-small, CNV under the fill rule; 4 to 32 bit words, 20 to 252 words): within
/// −13 … +14 % except CNV conv5 (144 × 32, +26 %); the former `150 + 1.5·bits + LUT RAM as
/// LUTs` was −9 … +41 % on CNV.
pub fn swg_luts(w: &HwWindow) -> u64 {
    let bits = w.word_bits() as u64;
    let aw = clog2(w.depth.max(2)) as u64;
    (2050 + 291 * bits + 2235 * aw).div_ceil(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_rom_mapping() {
        // LFC layer 0 ROM per PE: 416 x 64 -> one RAMB36 as 512 x 72.
        assert_eq!(rom_blocks(416, 64), (0, 1));
        assert_eq!(rom_blocks(32, 32), (1, 0));
        assert_eq!(rom_blocks(1024, 1), (1, 0));
        assert_eq!(rom_blocks(2048, 18), (0, 1));
    }

    #[test]
    fn tree_geometry_matches_bnn_addtree() {
        // 64 one-bit XNOR lanes: 22 x 2, 11 x 3, 6 x 4, 3 x 5, 2 x 6, 1 x 7
        assert_eq!(tree_geometry(64, 1, false, 16), (135, 7, 6));
        assert_eq!(tree_geometry(1, 4, true, 8), (0, 4, 0));
        assert_eq!(tree_geometry(5, 4, true, 6), (3 * 5 + 2 * 6 + 6, 6, 3));
    }

    /// A `DataType` name of report.json → (bits, bnn_mvtu type code).
    fn dtype(name: &str) -> (u32, u32) {
        match name {
            "bipolar" => (1, 0),
            "binary" => (1, 1),
            "ternary" => (2, 2),
            _ => {
                let (code, rest) = match name.strip_prefix("uint") {
                    Some(r) => (1, r),
                    None => (2, name.strip_prefix("int").expect("an integer type")),
                };
                (rest.parse().expect("bits"), code)
            }
        }
    }

    fn kind(style: &str) -> Option<MemKind> {
        match style {
            "block" => Some(MemKind::Block),
            "distributed" => Some(MemKind::Distributed),
            "logic" => Some(MemKind::Logic),
            _ => None,
        }
    }

    fn list(s: &str) -> Vec<usize> {
        s.split(';')
            .filter(|x| !x.is_empty())
            .map(|x| x.parse().expect("a bit count"))
            .collect()
    }

    /// The shape of one row of docs/cost-calibration.csv.
    fn shape(row: &std::collections::HashMap<&str, &str>) -> MvtuShape {
        let n = |k: &str| -> usize { row[k].parse().unwrap_or_else(|_| panic!("{k}: {}", row[k])) };
        let (wbits, wtype) = dtype(row["wtype"]);
        let (ibits, itype) = dtype(row["itype"]);
        let (pe, simd) = (n("pe"), n("simd"));
        let mw = simd * n("sf");
        MvtuShape {
            params: MvtuParams {
                mw,
                mh: pe * n("nf"),
                pe,
                simd,
                wbits,
                ibits,
                wtype,
                itype,
                acc_bits: n("acc_bits") as u32,
                nsteps: n("nsteps"),
                obits: dtype(row["otype"]).0,
                tbits: n("tbits").max(1) as u32,
                out_bias: 0,
                xnor_fanin: mw,
            },
            weights: RomShape {
                kind: kind(row["wmem_style"]).expect("weight ROM style"),
                depth: n("wmem_depth"),
                width: n("wmem_width"),
                varying: list(row["wmem_varying"]),
            },
            thresholds: kind(row["tmem_style"]).map(|k| RomShape {
                kind: k,
                depth: n("tmem_depth"),
                width: n("tmem_width"),
                varying: list(row["tmem_varying"]),
            }),
            weight_density: None,
        }
    }

    /// Every measured layer of docs/cost-calibration.csv (yosys 0.70 xc7, per layer wrapper):
    /// LUTs within ±15 %, flip-flops within ±15 %, BRAM and DSP exact. At least 10 random
    /// configurations and the example networks' layers.
    #[test]
    fn calibration_rows_within_tolerance() {
        let text = include_str!("../../docs/cost-calibration.csv");
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
        let (mut random, mut example) = (0, 0);
        let mut failures = Vec::new();
        for line in lines {
            let row: std::collections::HashMap<&str, &str> =
                header.iter().copied().zip(line.split(',')).collect();
            let s = shape(&row);
            let name = format!("{} {}", row["source"], row["layer"]);
            let meas = |k: &str| -> f64 { row[k].parse().expect("a count") };
            let rel = |est: u64, m: f64| est as f64 / m.max(1.0) - 1.0;
            let (l, f) = (shape_luts(&s), shape_ffs(&s));
            // the script's copy of the model (its est_ columns) agrees with this one
            if (l as f64 - meas("est_luts")).abs() > 1.0 || (f as f64 - meas("est_ffs")).abs() > 1.0
            {
                failures.push(format!(
                    "{name}: estimates {l} LUT, {f} FF; scripts/calibrate-cost says {} and {}",
                    row["est_luts"], row["est_ffs"]
                ));
            }
            if rel(l, meas("luts")).abs() > 0.15 {
                failures.push(format!(
                    "{name}: LUT estimate {l}, measured {}",
                    row["luts"]
                ));
            }
            if rel(f, meas("ffs")).abs() > 0.15 {
                failures.push(format!("{name}: FF estimate {f}, measured {}", row["ffs"]));
            }
            if shape_bram18(&s) as f64 != meas("bram18") {
                failures.push(format!(
                    "{name}: BRAM18 estimate {}, measured {}",
                    shape_bram18(&s),
                    row["bram18"]
                ));
            }
            if shape_dsp(&s) as f64 != meas("dsp") {
                failures.push(format!(
                    "{name}: DSP estimate {}, measured {}",
                    shape_dsp(&s),
                    row["dsp"]
                ));
            }
            match row["group"] {
                "random" => random += 1,
                _ => example += 1,
            }
        }
        assert!(random >= 10, "only {random} random configurations");
        assert!(example >= 1, "no example layers");
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// Weights as logic: the estimates of the six measured builds of `scripts/bench-weights-logic`
    /// (`docs/performance.md`) within the stated error, and no block RAM.
    #[test]
    fn weights_as_logic_estimates_match_the_measured_builds() {
        use crate::datatype::DataType;
        use crate::ir::{Op, WeightStorage};
        use crate::synth::{self, ActSpec, DenseSpec, MlpSpec};
        // (in, out, PE, SIMD, zeros %, measured LUT6, tolerance)
        let cases = [
            (64, 64, 8, 16, 0, 1846, 0.05),
            (64, 64, 8, 16, 50, 1849, 0.05),
            (64, 64, 8, 16, 90, 1587, 0.05),
            (32, 16, 16, 32, 0, 2908, 0.09),
            (32, 16, 16, 32, 50, 2681, 0.09),
            (32, 16, 16, 32, 90, 1720, 0.09),
        ];
        for (i, o, pe, simd, zeros, measured, tol) in cases {
            let mut net = synth::mlp(
                &MlpSpec {
                    name: "logic".into(),
                    in_features: i,
                    input_dtype: DataType::UInt(2),
                    layers: vec![DenseSpec {
                        out_features: o,
                        weight_dtype: DataType::Int(2),
                        activation: ActSpec::thresholds(DataType::UInt(2)),
                        pe,
                        simd,
                    }],
                    head: None,
                },
                14,
            );
            crate::passes::lower(&mut net).unwrap();
            let Op::MatVec(mv) = &mut net.layers[0].op else {
                unreachable!()
            };
            mv.folding.weight_storage = WeightStorage::Logic;
            // non-zero weights, then the first `zeros` % zeroed
            let n = mv.weights.len();
            for (k, w) in mv.weights.iter_mut().enumerate() {
                *w = if k < n * zeros / 100 { 0 } else { 1 };
            }
            let hw = crate::passes::pad::pad(&net).unwrap();
            let m = hw.layers[0].mvtu().unwrap();
            let est = luts(m) as f64;
            let err = (est - measured as f64).abs() / measured as f64;
            assert!(
                err <= tol,
                "{i}->{o} PE {pe} SIMD {simd}, {zeros} % zeros: estimate {est}, measured {measured}"
            );
            assert_eq!(bram18(m), 0, "weights as logic use no block RAM");
        }
    }
}
