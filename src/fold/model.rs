//! What a folding costs and how fast it runs, without building the hardware IR: the same link
//! padding as [`crate::passes::pad`] (it calls the shared [`tensor_layouts`]), the same cycles as
//! [`crate::hwir::HwLayer::cycles`], and the calibrated cost model of `src/codegen/cost.rs`
//! ([`MvtuShape`] with every ROM bit counted, not the varying bits only: an upper bound for block
//! RAM). `tests` check it against `pad` + `cost` on random foldings.
//!
//! Padding a layer's matrix is not free: padded columns are more SIMD lanes' work (SF rounds up),
//! padded rows more PE work (NF rounds up), and a tensor whose slots must suit both the
//! producer's PE and the consumer's SIMD (a "link padding") raises NF or SF beyond the plain
//! ceiling. All three show up here, in the cycles and in the ROM shapes.

use crate::codegen::cost::{self, MvtuShape, RomShape};
use crate::codegen::stream_cost;
use crate::cyclesim::{mvtu_params, MvtuParams};
use crate::error::{Error, Result};
use crate::hwir::{mask, signed_bits, HwActivation, HwMemory, HwWindow, Layout, MemKind};
use crate::ir::{Network, Op, RamStyle, Shape, WeightStorage};
use crate::passes::pad::tensor_layouts;
use crate::passes::window::Window;
use std::cell::RefCell;
use std::collections::HashMap;

use super::devices::Device;
use super::pruning::Pruned;

/// The folding of one layer: PE, SIMD and the ROM styles (ignored for max-pools).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerFold {
    pub pe: usize,
    pub simd: usize,
    pub ram_style: RamStyle,
    pub threshold_ram_style: RamStyle,
}

impl LayerFold {
    pub fn new(pe: usize, simd: usize) -> LayerFold {
        LayerFold {
            pe,
            simd,
            ram_style: RamStyle::Auto,
            threshold_ram_style: RamStyle::Auto,
        }
    }
}

/// A ROM set built from block RAM: `count` ROMs of `depth` × `width` bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockRom {
    pub count: u64,
    pub depth: u64,
    pub width: u64,
}

/// Cycles and estimated resources of one layer (with its window generator).
#[derive(Clone, Debug, PartialEq)]
pub struct LayerCost {
    /// Ideal cycles per frame ([`crate::hwir::HwLayer::cycles`]).
    pub cycles: usize,
    /// NF, SF of an MVTU (0 for a pool).
    pub nf: usize,
    pub sf: usize,
    /// Padded matrix of an MVTU (0 for a pool).
    pub mw_pad: usize,
    pub mh_pad: usize,
    /// LUT6, FF, RAMB18-equivalents (xc7) and DSPs, by `src/codegen/cost.rs`.
    pub luts: u64,
    pub ffs: u64,
    pub bram18: u64,
    pub dsps: u64,
    /// The ROM kinds the styles give (weights, thresholds).
    pub weight_kind: Option<MemKind>,
    pub threshold_kind: Option<MemKind>,
    /// Every ROM in block RAM (weights, thresholds, window buffer), for other devices' counts.
    pub block_roms: Vec<BlockRom>,
}

impl LayerCost {
    /// Block RAMs of this layer on `device`.
    pub fn blocks(&self, device: &Device) -> u64 {
        self.block_roms
            .iter()
            .map(|r| r.count * device.rom_blocks(r.depth, r.width))
            .sum()
    }
}

/// Resource totals.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Totals {
    pub luts: u64,
    pub ffs: u64,
    pub bram18: u64,
    pub dsps: u64,
}

/// One link between layers `from` and `from + 1`, as `pad` builds it ([`crate::hwir::HwLink`]):
/// a width converter when the producer's and the consumer's words differ, a FIFO in front of a
/// consumer that replays its input (dense or 1×1 conv with NF > 1).
#[derive(Clone, Debug, PartialEq)]
pub struct LinkCost {
    pub in_bits: usize,
    pub out_bits: usize,
    pub fifo_depth: Option<usize>,
    /// LUT6 and RAMB18 equivalents (xc7) of the converter and the FIFO
    /// (`src/codegen/stream_cost.rs`).
    pub luts: u64,
    pub bram18: u64,
    /// The FIFO's memory when it is block RAM, for other devices' counts.
    pub block_roms: Vec<BlockRom>,
}

/// A whole folding, evaluated.
#[derive(Clone, Debug, PartialEq)]
pub struct NetCost {
    pub layers: Vec<LayerCost>,
    /// The links between consecutive layers (n − 1 of them).
    pub links: Vec<LinkCost>,
    /// The top-k head's LUTs (0 without a head).
    pub head_luts: u64,
    /// The ideal initiation interval: the slowest layer's cycles.
    pub cycles: usize,
    /// Everything the build instantiates: layers, links and head.
    pub totals: Totals,
}

impl NetCost {
    /// Block RAMs on `device`.
    pub fn blocks(&self, device: &Device) -> u64 {
        let roms = |r: &BlockRom| r.count * device.rom_blocks(r.depth, r.width);
        self.layers.iter().map(|l| l.blocks(device)).sum::<u64>()
            + self
                .links
                .iter()
                .flat_map(|k| &k.block_roms)
                .map(roms)
                .sum::<u64>()
    }

    /// The fraction of `device` this design fills: LUT + block RAM + DSP fractions (the cost the
    /// search minimizes; each resource weighs by its scarcity on the device).
    pub fn area(&self, device: &Device) -> f64 {
        device.luts_of(self.totals.luts) as f64 / device.luts as f64
            + self.blocks(device) as f64 / device.blocks as f64
            + self.totals.dsps as f64 / device.dsps.max(1) as f64
    }

    /// Index of the slowest layer (the first of equals).
    pub fn bottleneck(&self) -> usize {
        self.layers
            .iter()
            .position(|l| l.cycles == self.cycles)
            .unwrap_or(0)
    }
}

/// What an MVTU layer's cost depends on beyond its folding.
#[derive(Clone, Debug)]
struct MvtuInfo {
    mh: usize,
    /// The `bnn_mvtu` parameters of the unpadded layer (PE = SIMD = 1).
    params: MvtuParams,
    /// `TBITS` once padded channels are added (their thresholds are the accumulator's
    /// extremes), or `None` when no threshold count encodes to zero bits (`pad` refuses).
    padded_tbits: Option<u32>,
    /// Input element bits.
    ebits: u32,
    conv: Option<crate::ir::ConvGeometry>,
    /// A depthwise layer (`bnn_vvau`): PE channels in parallel, one kernel position a cycle
    /// (SIMD = 1), fed by the window generator in its depthwise order.
    depthwise: bool,
    /// Input image (h, w) of a conv layer.
    image: (usize, usize),
    /// Weights as logic (`weight_storage = "logic"`): the fraction of non-zero weights; the
    /// layer's `ram_style` is then moot (no weight ROM).
    weight_density: Option<f64>,
}

#[derive(Clone, Debug)]
enum Info {
    Mvtu(Box<MvtuInfo>),
    Pool {
        kernel: [usize; 2],
        stride: [usize; 2],
        image: (usize, usize),
        ebits: u32,
    },
    /// A global average pool: no folding of its own; its lanes are the producer's PE.
    Gap {
        pixels: usize,
        channels: usize,
        ebits: u32,
        abits: u32,
    },
}

/// A lowered network prepared for evaluating many foldings.
pub struct Problem<'a> {
    pub net: &'a Network,
    info: Vec<Info>,
    /// The dead-channel removal the net went through, when priced for `build`: foldings at
    /// which `build`'s pass would remove other channels are refused ([`Pruned::admits`]).
    pruned: Option<&'a Pruned>,
    /// Per layer: what its PE and its SIMD must divide for the search, next to a depthwise
    /// layer (see [`Problem::plain_layer`]); `None`: anything.
    divides: Vec<(Option<usize>, Option<usize>)>,
    /// Window buffer depths by (layer, words per pixel, NF).
    depths: RefCell<HashMap<(usize, usize, usize), usize>>,
}

impl<'a> Problem<'a> {
    /// Prepares `net` (lowered, see [`crate::passes::lower`]). Errors: whatever `pad` rejects
    /// at the fully folded design (PE = SIMD = 1), which no folding changes.
    pub fn new(net: &'a Network) -> Result<Problem<'a>> {
        Self::build(net, None)
    }

    /// [`Problem::new`] for a net after the dead-channel removal ([`Pruned::for_search`]): only
    /// foldings at which `build`'s pass removes the same channels are priced.
    pub fn pruned(p: &'a Pruned) -> Result<Problem<'a>> {
        Self::build(&p.net, Some(p))
    }

    fn build(net: &'a Network, pruned: Option<&'a Pruned>) -> Result<Problem<'a>> {
        let mut plain = net.clone();
        for l in &mut plain.layers {
            if let Some(mv) = l.op.matvec_mut() {
                mv.folding.pe = 1;
                mv.folding.simd = 1;
            }
        }
        let hw = crate::passes::pad::pad(&plain)?;
        let mut info = Vec::with_capacity(net.layers.len());
        for (layer, hl) in net.layers.iter().zip(&hw.layers) {
            let image = match layer.input.shape {
                Shape::Image { h, w, .. } => (h, w),
                Shape::Flat(_) => (1, 1),
            };
            info.push(match (&layer.op, hl.mvtu()) {
                (Op::MatVec(mv) | Op::Depthwise(mv), Some(m)) => {
                    let params = mvtu_params(m);
                    let padded_tbits = match &m.activation {
                        HwActivation::Identity => Some(params.tbits),
                        HwActivation::Thresholds(t) => {
                            let steps = t.nsteps();
                            let obits = t.out_dtype.bits();
                            let zero = (0..=steps as i64)
                                .find(|&c| ((c + t.out_bias) as u64) & mask(obits) == 0);
                            zero.map(|zero| {
                                // As pad: the ROM values of the true rows (T + 1 for `le`),
                                // and the padded rows' acc_lo / acc_hi + 1.
                                let (mut lo, mut hi) = (0i64, 0i64);
                                for c in 0..m.mh_pad {
                                    for j in 0..steps {
                                        let v = t.rom_value(c, j);
                                        (lo, hi) = (lo.min(v), hi.max(v));
                                    }
                                }
                                if zero > 0 {
                                    lo = lo.min(m.acc_lo);
                                }
                                if (zero as usize) < steps {
                                    hi = hi.max(m.acc_hi + 1);
                                }
                                signed_bits(lo, hi)
                            })
                        }
                    };
                    Info::Mvtu(Box::new(MvtuInfo {
                        mh: m.mh,
                        params,
                        padded_tbits,
                        ebits: m.ibits(),
                        conv: mv.conv,
                        depthwise: matches!(layer.op, Op::Depthwise(_)),
                        image,
                        weight_density: (mv.folding.weight_storage == WeightStorage::Logic)
                            .then(|| cost::weight_density(mv.weights.view())),
                    }))
                }
                (Op::GlobalAvgPool(g), None) => match &hl.kind {
                    crate::hwir::HwKind::Gap(hg) => Info::Gap {
                        pixels: g.pixels(),
                        channels: hg.channels,
                        ebits: hg.in_element.bits(),
                        abits: hg.out_dtype.bits(),
                    },
                    _ => {
                        return Err(Error::Unsupported(format!(
                            "layer \"{}\": the hardware IR does not match the network",
                            layer.name
                        )))
                    }
                },
                (Op::MaxPool(p), None) => Info::Pool {
                    kernel: p.kernel,
                    stride: p.stride,
                    image,
                    ebits: hl.in_ebits(),
                },
                _ => {
                    return Err(Error::Unsupported(format!(
                        "layer \"{}\": the hardware IR does not match the network",
                        layer.name
                    )))
                }
            });
        }
        let divides = depthwise_neighbours(net);
        Ok(Problem {
            net,
            info,
            pruned,
            divides,
            depths: RefCell::new(HashMap::new()),
        })
    }

    /// Number of layers.
    pub fn len(&self) -> usize {
        self.info.len()
    }

    pub fn is_empty(&self) -> bool {
        self.info.is_empty()
    }

    /// Whether layer `i` is an MVTU (has a folding).
    pub fn is_mvtu(&self, i: usize) -> bool {
        matches!(self.info[i], Info::Mvtu(_))
    }

    /// Whether MVTU layer `i` is a conv layer (its SIMD must suit the channels per pixel).
    pub fn is_conv(&self, i: usize) -> bool {
        matches!(&self.info[i], Info::Mvtu(m) if m.conv.is_some())
    }

    /// Whether layer `i` is a depthwise convolution (a VVAU: SIMD = 1, PE over the channels).
    pub fn is_depthwise(&self, i: usize) -> bool {
        matches!(&self.info[i], Info::Mvtu(m) if m.depthwise)
    }

    /// MH (output channels) of MVTU layer `i`.
    pub fn rows(&self, i: usize) -> usize {
        match &self.info[i] {
            Info::Mvtu(m) => m.mh,
            Info::Pool { .. } | Info::Gap { .. } => 0,
        }
    }

    /// The dimension SIMD folds: MW of a dense layer, the input channels of a conv layer; 1 for
    /// a depthwise layer (the VVAU takes one kernel position a cycle: `passes::pad` refuses
    /// SIMD > 1 there).
    pub fn simd_dim(&self, i: usize) -> usize {
        let layer = &self.net.layers[i];
        match &self.info[i] {
            Info::Mvtu(m) if m.depthwise => 1,
            Info::Mvtu(m) if m.conv.is_some() => layer.input.shape.channels(),
            Info::Mvtu(_) => layer.input.shape.len(),
            Info::Pool { .. } | Info::Gap { .. } => 0,
        }
    }

    /// MW of MVTU layer `i` (fan-in).
    pub fn cols(&self, i: usize) -> usize {
        match &self.info[i] {
            Info::Mvtu(m) => match m.conv {
                Some(g) => g.kernel[0] * g.kernel[1] * self.net.layers[i].input.shape.channels(),
                None => self.net.layers[i].input.shape.len(),
            },
            Info::Pool { .. } | Info::Gap { .. } => 0,
        }
    }

    /// The fully folded design (PE = SIMD = 1, size-rule ROM styles).
    pub fn folded(&self) -> Vec<LayerFold> {
        vec![LayerFold::new(1, 1); self.len()]
    }

    /// The current folding of the network as loaded.
    pub fn current(&self) -> Vec<LayerFold> {
        self.net
            .layers
            .iter()
            .map(|l| match &l.op {
                Op::MatVec(mv) | Op::Depthwise(mv) => LayerFold {
                    pe: mv.folding.pe,
                    simd: mv.folding.simd,
                    ram_style: mv.folding.ram_style,
                    threshold_ram_style: mv.folding.threshold_ram_style,
                },
                Op::MaxPool(_) | Op::GlobalAvgPool(_) => LayerFold::new(1, 1),
            })
            .collect()
    }

    /// The window generator in front of MVTU/VVAU layer `i` (convolution `g`, `in_slots`
    /// channel slots per input pixel), as `pad` builds it: words of `elems` channel slots (SIMD
    /// for an MVTU; PE for a VVAU, whose `depthwise` order puts kernel positions innermost), its
    /// line buffer sized for `nf` neuron folds.
    #[allow(clippy::too_many_arguments)]
    fn mvtu_window(
        &self,
        i: usize,
        m: &MvtuInfo,
        g: &crate::ir::ConvGeometry,
        in_slots: usize,
        elems: usize,
        nf: usize,
        depthwise: bool,
    ) -> HwWindow {
        let geom = Window::of_conv(m.image, in_slots / elems, g);
        let depth = self.depth(i, &geom, nf);
        HwWindow {
            geom,
            elems,
            ebits: m.ebits,
            depth,
            rule_depth: depth,
            pad: Vec::new(),
            depthwise,
        }
    }

    fn depth(&self, i: usize, geom: &Window, nf: usize) -> usize {
        *self
            .depths
            .borrow_mut()
            .entry((i, geom.cw, nf))
            .or_insert_with(|| geom.depth_for(nf))
    }

    /// Evaluates a whole folding exactly as `pad` would build it. Errors (as text): a folding
    /// `pad` rejects (padded channels in front of a top-k head over an image, padded channels
    /// whose thresholds cannot encode zero bits).
    pub fn evaluate(&self, folds: &[LayerFold]) -> std::result::Result<NetCost, String> {
        if let Some(p) = self.pruned {
            if !p.admits(&|j| folds[j].pe, &|j| folds[j].simd) {
                return Err(NOT_AS_PRUNED.to_string());
            }
        }
        let layouts = tensor_layouts(self.net, &|i| (folds[i].pe, folds[i].simd), None);
        let n = self.len();
        if self.net.head.is_some() {
            let last = layouts[n];
            if last.pixels > 1 && last.padded() {
                return Err(format!(
                    "the top-k head reads an image with {} channels in {} slots",
                    last.channels, last.slots
                ));
            }
        }
        let mut layers = Vec::with_capacity(n);
        // (input, output) word bits of each layer
        let mut words = Vec::with_capacity(n);
        let mut lanes = layouts[0].slots;
        for i in 0..n {
            let c = self.layer(i, layouts[i], layouts[i + 1], &folds[i], lanes)?;
            words.push(self.word_bits(i, &folds[i], lanes));
            if self.is_mvtu(i) {
                lanes = folds[i].pe;
            }
            layers.push(c);
        }
        let links = (0..n.saturating_sub(1))
            .map(|i| {
                let (in_bits, out_bits) = (words[i].1, words[i + 1].0);
                let fifo_depth = self.fifo_depth(i + 1, &layers[i + 1]);
                let bram18 = fifo_depth.map_or(0, |d| stream_cost::fifo_bram18(d, out_bits));
                LinkCost {
                    in_bits,
                    out_bits,
                    fifo_depth,
                    luts: stream_cost::link_luts(in_bits, out_bits, fifo_depth),
                    bram18,
                    block_roms: match fifo_depth {
                        Some(d) if bram18 > 0 => vec![BlockRom {
                            count: 1,
                            depth: d as u64 - 1,
                            width: out_bits as u64,
                        }],
                        _ => Vec::new(),
                    },
                }
            })
            .collect();
        let head_luts = match (&self.net.head, n) {
            (Some(h), 1..) => {
                let classes = self.net.layers[n - 1].output.shape.len();
                // as pad: the index zero-extended to a multiple of 8 bits
                let idx_bits = crate::hwir::unsigned_bits(classes as u64 - 1).div_ceil(8) * 8;
                let (elems, ebits) = (lanes, self.out_ebits(n - 1));
                stream_cost::topk_luts(h.k, elems, ebits, idx_bits as usize)
            }
            _ => 0,
        };
        Ok(summed(layers, links, head_luts))
    }

    /// Bits per output element of layer `i`.
    fn out_ebits(&self, i: usize) -> u32 {
        match &self.info[i] {
            Info::Mvtu(m) => m.params.obits,
            Info::Pool { ebits, .. } => *ebits,
            Info::Gap { abits, .. } => *abits,
        }
    }

    /// (input, output) word bits of layer `i` at folding `f`, `lanes` the producer's PE: an
    /// MVTU (or its window generator) reads SIMD elements a word and writes PE; a pool or a
    /// global pool passes the producer's lanes.
    fn word_bits(&self, i: usize, f: &LayerFold, lanes: usize) -> (usize, usize) {
        let out = self.out_ebits(i) as usize;
        match &self.info[i] {
            // The VVAU's window generator emits PE channels of one kernel position a word.
            Info::Mvtu(m) if m.depthwise => (f.pe * f.simd * m.ebits as usize, f.pe * out),
            Info::Mvtu(m) => (f.simd * m.ebits as usize, f.pe * out),
            Info::Pool { ebits, .. } | Info::Gap { ebits, .. } => {
                (lanes * *ebits as usize, lanes * out)
            }
        }
    }

    /// The FIFO in front of layer `i` (`c` its cost), as [`crate::passes::pad::rule_fifo_depth`]
    /// gives it (a dense or 1×1 conv MVTU with NF > 1 gets one frame, SF words, at least 2),
    /// or `net.toml`'s `fifo_depth` when the rule gives one.
    fn fifo_depth(&self, i: usize, c: &LayerCost) -> Option<usize> {
        let Info::Mvtu(m) = &self.info[i] else {
            return None;
        };
        if m.depthwise || m.conv.is_some_and(|g| !g.is_pointwise()) || c.nf <= 1 {
            return None;
        }
        let set = match &self.net.layers[i].op {
            Op::MatVec(mv) => mv.folding.fifo_depth,
            _ => None,
        };
        Some(set.unwrap_or(c.sf.max(2)))
    }

    /// One layer's cycles and cost, for input and output layouts `lin`, `lout`; `lanes` is the
    /// producer's PE (a max-pool's word).
    pub fn layer(
        &self,
        i: usize,
        lin: Layout,
        lout: Layout,
        f: &LayerFold,
        lanes: usize,
    ) -> std::result::Result<LayerCost, String> {
        match &self.info[i] {
            &Info::Gap {
                pixels,
                channels,
                ebits,
                abits,
            } => Ok(gap_cost(lin, lanes, pixels, channels, ebits, abits)),
            Info::Pool {
                kernel,
                stride,
                image,
                ebits,
            } => {
                let geom = Window {
                    ih: image.0,
                    iw: image.1,
                    cw: lin.slots / lanes,
                    kh: kernel[0],
                    kw: kernel[1],
                    sh: stride[0],
                    sw: stride[1],
                    ph: 0,
                    pw: 0,
                };
                let window = HwWindow {
                    geom,
                    elems: lanes,
                    ebits: *ebits,
                    depth: self.depth(i, &geom, 1),
                    rule_depth: self.depth(i, &geom, 1),
                    pad: Vec::new(),
                    depthwise: false,
                };
                let core = lout.pixels * kernel[0] * kernel[1] * geom.cw;
                let cycles = geom
                    .frame_words()
                    .max(geom.out_words())
                    .max(core)
                    .max(lin.total_slots() / lanes);
                Ok(with_window(
                    LayerCost {
                        cycles,
                        nf: 0,
                        sf: 0,
                        mw_pad: 0,
                        mh_pad: 0,
                        luts: stream_cost::pool_luts(lanes * *ebits as usize),
                        ffs: 0,
                        bram18: 0,
                        dsps: 0,
                        weight_kind: None,
                        threshold_kind: None,
                        block_roms: Vec::new(),
                    },
                    &window,
                ))
            }
            Info::Mvtu(m) => {
                let (pe, simd) = (f.pe, f.simd);
                let mh_pad = lout.slots;
                let (window, mw_pad, vectors) = match m.conv {
                    // Depthwise (`passes::pad::depthwise_unit`): the generator's word is PE
                    // channels of one kernel position (CW = slots / PE), the VVAU reads one a
                    // cycle; row = channel, column = kernel position.
                    Some(g) if m.depthwise => {
                        if simd != 1 {
                            return Err(format!(
                                "layer \"{}\": a depthwise layer needs SIMD 1",
                                self.net.layers[i].name
                            ));
                        }
                        if lout.slots != lin.slots {
                            return Err(format!(
                                "layer \"{}\": a depthwise layer needs the same channel slots \
                                 in ({}) and out ({})",
                                self.net.layers[i].name, lin.slots, lout.slots
                            ));
                        }
                        let window = self.mvtu_window(i, m, &g, lin.slots, pe, 1, true);
                        (Some(window), g.kernel[0] * g.kernel[1], lout.pixels)
                    }
                    None => (None, lin.total_slots(), 1),
                    // 1×1 conv: no window generator (passes::pad, "1×1 convolutions")
                    Some(g) if g.is_pointwise() => (None, lin.slots, lout.pixels),
                    Some(g) => {
                        let window =
                            self.mvtu_window(i, m, &g, lin.slots, simd, mh_pad / pe, false);
                        let words = window.geom.window_words() * simd;
                        (Some(window), words, lout.pixels)
                    }
                };
                let tbits = if mh_pad > m.mh {
                    m.padded_tbits.ok_or_else(|| {
                        format!(
                            "layer \"{}\": padded channels cannot encode zero bits",
                            self.net.layers[i].name
                        )
                    })?
                } else {
                    m.params.tbits
                };
                let params = MvtuParams {
                    mw: mw_pad,
                    mh: mh_pad,
                    pe,
                    simd,
                    tbits,
                    ..m.params.clone()
                };
                let (nf, sf) = (mh_pad / pe, mw_pad / simd);
                // Weights as logic: LUT tables whatever the style (as `pad` builds them).
                let wstyle = match m.weight_density {
                    Some(_) => RamStyle::Logic,
                    None => f.ram_style,
                };
                let wmem = HwMemory::choose(wstyle, nf * sf, simd * params.wbits as usize);
                let tmem_width = if params.nsteps > 0 {
                    params.nsteps * tbits as usize + 1
                } else {
                    0
                };
                let tmem = (params.nsteps > 0)
                    .then(|| HwMemory::choose(f.threshold_ram_style, nf, tmem_width));
                let shape = MvtuShape {
                    weights: RomShape {
                        kind: wmem.kind,
                        depth: nf * sf,
                        width: simd * params.wbits as usize,
                        varying: Vec::new(),
                    },
                    thresholds: tmem.map(|t| RomShape {
                        kind: t.kind,
                        depth: nf,
                        width: tmem_width,
                        varying: Vec::new(),
                    }),
                    params,
                    weight_density: m.weight_density,
                };
                let mut block_roms = Vec::new();
                if wmem.kind == MemKind::Block {
                    block_roms.push(BlockRom {
                        count: pe as u64,
                        depth: (nf * sf) as u64,
                        width: shape.weights.width as u64,
                    });
                }
                if let Some(t) = tmem.filter(|t| t.kind == MemKind::Block) {
                    let _ = t;
                    block_roms.push(BlockRom {
                        count: pe as u64,
                        depth: nf as u64,
                        width: tmem_width as u64,
                    });
                }
                let core = vectors * nf * sf;
                let in_elems = window.as_ref().map_or(simd, |w| w.elems);
                let wcycles = window
                    .as_ref()
                    .map_or(0, |w| w.geom.frame_words().max(w.geom.out_words()));
                let c = LayerCost {
                    cycles: core.max(wcycles).max(lin.total_slots() / in_elems),
                    nf,
                    sf,
                    mw_pad,
                    mh_pad,
                    luts: cost::shape_luts(&shape),
                    ffs: cost::shape_ffs(&shape),
                    bram18: cost::shape_bram18(&shape),
                    dsps: cost::shape_dsp(&shape),
                    weight_kind: Some(wmem.kind),
                    threshold_kind: tmem.map(|t| t.kind),
                    block_roms,
                };
                Ok(match &window {
                    Some(w) => with_window(c, w),
                    None => c,
                })
            }
        }
    }
}

impl Problem<'_> {
    /// Layer `i` (an MVTU) alone at folding `f`, as if its input and output carried the plain
    /// padding (input slots the smallest count that suits its SIMD, output slots a multiple of
    /// its PE), with the max-pool it feeds, if any (the pool reads the MVTU's PE-wide words, so
    /// the MVTU's PE sets its pace). What the per-layer search and the SetFolding baseline rank
    /// candidates by; [`Problem::evaluate`] then sees the real links.
    pub fn plain_layer(&self, i: usize, f: &LayerFold) -> std::result::Result<LayerCost, String> {
        if let Some(p) = self.pruned.filter(|_| self.is_mvtu(i)) {
            if !p.admits_layer(i, f.pe, f.simd) {
                return Err(NOT_AS_PRUNED.to_string());
            }
        }
        let (pe_div, simd_div) = self.divides[i];
        if pe_div.is_some_and(|d| d % f.pe != 0) || simd_div.is_some_and(|d| d % f.simd != 0) {
            return Err(format!(
                "layer \"{}\": next to a depthwise layer, PE must divide {pe_div:?} and SIMD \
                 {simd_div:?}",
                self.net.layers[i].name
            ));
        }
        let layer = &self.net.layers[i];
        let (s, o) = (layer.input.shape, layer.output.shape);
        let (pixels, c) = (s.pixels(), s.channels());
        let lin = if self.is_depthwise(i) {
            // The depthwise window generator's word is PE channels of one pixel.
            Layout {
                pixels,
                channels: c,
                slots: c.div_ceil(f.pe) * f.pe,
            }
        } else if self.is_conv(i) {
            Layout {
                pixels,
                channels: c,
                slots: c.div_ceil(f.simd) * f.simd,
            }
        } else if pixels == 1 {
            Layout {
                pixels: 1,
                channels: c,
                slots: c.div_ceil(f.simd) * f.simd,
            }
        } else {
            let slots = (c..)
                .find(|&cs| (pixels * cs).is_multiple_of(f.simd))
                .expect("a multiple exists");
            Layout {
                pixels,
                channels: c,
                slots,
            }
        };
        let lout = Layout {
            pixels: o.pixels(),
            channels: o.channels(),
            slots: o.channels().div_ceil(f.pe) * f.pe,
        };
        let mut cost = self.layer(i, lin, lout, f, 1)?;
        let mut j = i + 1;
        let mut pin = lout;
        while j < self.len() && !self.is_mvtu(j) {
            let po = self.net.layers[j].output.shape;
            let pout = Layout {
                pixels: po.pixels(),
                channels: pin.channels,
                slots: pin.slots,
            };
            let p = self.layer(j, pin, pout, &LayerFold::new(1, 1), f.pe)?;
            cost.cycles = cost.cycles.max(p.cycles);
            cost.luts += p.luts;
            cost.bram18 += p.bram18;
            cost.block_roms.extend(p.block_roms);
            pin = pout;
            j += 1;
        }
        Ok(cost)
    }
}

/// What the PE and the SIMD of each layer must divide so that every depthwise layer meets its
/// channel slots with the same count on both sides (`passes::pad` refuses a VVAU whose input and
/// output slots differ): its producer's PE, its own PE and its consumer's SIMD all divide its
/// channel count C (a dense consumer's SIMD its MW), so the tensors on both sides hold exactly
/// C slots. Non-dividing folds next to a VVAU would pad one side and not the other, depending on
/// the neighbours' folds, which a per-layer front cannot see; the divisors keep every pick
/// consistent, and SetFolding's divisors and the full unfolding meet them anyway.
fn depthwise_neighbours(net: &Network) -> Vec<(Option<usize>, Option<usize>)> {
    let n = net.layers.len();
    let mut out = vec![(None, None); n];
    let gcd = |a: usize, b: usize| {
        let (mut a, mut b) = (a, b);
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    };
    let both = |old: Option<usize>, new: usize| Some(old.map_or(new, |o| gcd(o, new)));
    for d in 0..n {
        if !matches!(net.layers[d].op, Op::Depthwise(_)) {
            continue;
        }
        let c = net.layers[d].input.shape.channels();
        out[d].0 = both(out[d].0, c);
        if let Some(p) = (0..d).rev().find(|&p| net.layers[p].op.matvec().is_some()) {
            out[p].0 = both(out[p].0, c);
        }
        if let Some(q) = (d + 1..n).find(|&q| net.layers[q].op.matvec().is_some()) {
            if let Op::MatVec(mv) = &net.layers[q].op {
                let m = match mv.conv {
                    Some(_) => c,
                    None => net.layers[q].input.shape.len(),
                };
                out[q].1 = both(out[q].1, m);
            }
        }
    }
    out
}

/// Why [`Problem::evaluate`] refuses a folding of a pruned net that `build` would prune
/// differently.
const NOT_AS_PRUNED: &str = "at this folding build's dead-channel removal would keep channels \
     the pruned net lacks (PE or SIMD divides the unpruned channel count but not the removed \
     count)";

/// The share of `device` one layer's estimate fills (see [`NetCost::area`]).
pub fn layer_area(c: &LayerCost, device: &Device) -> f64 {
    device.luts_of(c.luts) as f64 / device.luts as f64
        + c.blocks(device) as f64 / device.blocks as f64
        + c.dsps as f64 / device.dsps.max(1) as f64
}

/// A `bnn_gap` reading `lanes`-element words of `lin` (the producer's PE): one word per cycle,
/// so `pixels · CW` cycles. LUTs by [`stream_cost::gap_luts`] (its header's resource list);
/// flip-flops: the output queue (two words), the running sum when CW = 1 (else LUT RAM), the two
/// counters and the flags. Against yosys `synth_xilinx` (xc7) of `hw/bnn_gap.v`: 38 / 38 FF
/// (CW 2, LANES 3, ABITS 5), 139 / 140 (CW 4, LANES 8, ABITS 8).
fn gap_cost(
    lin: Layout,
    lanes: usize,
    pixels: usize,
    channels: usize,
    ebits: u32,
    abits: u32,
) -> LayerCost {
    let cw = (lin.slots / lanes.max(1)).max(1);
    let luts = stream_cost::gap_luts(cw, lanes, pixels, channels < lin.slots, ebits, abits);
    let (lanes, abits) = (lanes as u64, u64::from(abits));
    let word = lanes * abits;
    let acc_ffs = if cw == 1 { word } else { 0 };
    let counters =
        u64::from(usize::BITS - pixels.leading_zeros() + usize::BITS - cw.leading_zeros());
    LayerCost {
        cycles: pixels * cw,
        nf: 0,
        sf: 0,
        mw_pad: 0,
        mh_pad: 0,
        luts,
        ffs: 2 * word + acc_ffs + counters + 2,
        bram18: 0,
        dsps: 0,
        weight_kind: None,
        threshold_kind: None,
        block_roms: Vec::new(),
    }
}

/// Adds a window generator's estimate to a layer's.
fn with_window(mut c: LayerCost, w: &HwWindow) -> LayerCost {
    c.luts += cost::swg_luts(w);
    let b = cost::swg_bram18(w);
    c.bram18 += b;
    if b > 0 {
        c.block_roms.push(BlockRom {
            count: 1,
            depth: w.depth as u64,
            width: w.word_bits() as u64,
        });
    }
    c
}

/// The totals and the slowest layer of `layers` with their `links` and head.
pub fn summed(layers: Vec<LayerCost>, links: Vec<LinkCost>, head_luts: u64) -> NetCost {
    let mut totals = Totals::default();
    for l in &layers {
        totals.luts += l.luts;
        totals.ffs += l.ffs;
        totals.bram18 += l.bram18;
        totals.dsps += l.dsps;
    }
    for k in &links {
        totals.luts += k.luts;
        totals.bram18 += k.bram18;
    }
    totals.luts += head_luts;
    NetCost {
        cycles: layers.iter().map(|l| l.cycles).max().unwrap_or(0),
        layers,
        links,
        head_luts,
        totals,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{self, RandomLimits, Rng};

    const STYLES: [RamStyle; 4] = [
        RamStyle::Auto,
        RamStyle::Block,
        RamStyle::Distributed,
        RamStyle::Logic,
    ];

    /// A random folding of `problem`'s layers (PE and SIMD anywhere in their ranges).
    fn random_folds(problem: &Problem, rng: &mut Rng) -> Vec<LayerFold> {
        (0..problem.len())
            .map(|i| {
                if !problem.is_mvtu(i) {
                    return LayerFold::new(1, 1);
                }
                LayerFold {
                    pe: rng.range_usize(1, problem.rows(i)),
                    simd: rng.range_usize(1, problem.simd_dim(i)),
                    ram_style: rng.pick(&STYLES),
                    threshold_ram_style: rng.pick(&STYLES),
                }
            })
            .collect()
    }

    /// `model` equals `pad` + `cost` of `hw` on every layer, link and the head.
    fn assert_matches(model: &NetCost, hw: &crate::hwir::HwNetwork, folds: &[LayerFold], at: &str) {
        assert_eq!(model.cycles, hw.ideal_ii(), "{at} {folds:?}");
        for (l, (c, hl)) in model.layers.iter().zip(&hw.layers).enumerate() {
            let what = format!("{at} layer {l} {:?}", folds[l]);
            assert_eq!(c.cycles, hl.cycles(), "{what}");
            let (mut luts, mut bram) = (0, 0);
            match &hl.kind {
                crate::hwir::HwKind::Pool(p) => {
                    luts += stream_cost::pool_luts(p.lanes * p.element.bits() as usize);
                }
                // as report.rs's `global_pool.estimated_luts`
                crate::hwir::HwKind::Gap(g) => {
                    luts += stream_cost::gap_luts(
                        g.cw,
                        g.lanes,
                        g.pixels,
                        hl.input.padded(),
                        g.in_element.bits(),
                        g.out_dtype.bits(),
                    );
                }
                crate::hwir::HwKind::Mvtu(_) | crate::hwir::HwKind::Vvau(_) => {}
            }
            if let Some(w) = &hl.window {
                luts += cost::swg_luts(w);
                bram += cost::swg_bram18(w);
            }
            if let Some(m) = hl.mvtu() {
                assert_eq!((c.nf, c.sf), (m.nf(), m.sf()), "{what}");
                assert_eq!((c.mw_pad, c.mh_pad), (m.mw_pad, m.mh_pad), "{what}");
                assert_eq!(c.weight_kind, Some(m.weight_mem.kind), "{what}");
                assert_eq!(c.threshold_kind, m.threshold_mem.map(|t| t.kind), "{what}");
                let s = MvtuShape::of(m, false);
                assert_eq!(s.params, mvtu_params(m), "{what}");
                luts += cost::shape_luts(&s);
                bram += cost::shape_bram18(&s);
                assert_eq!(c.ffs, cost::shape_ffs(&s), "{what}");
                assert_eq!(c.dsps, cost::shape_dsp(&s), "{what}");
            }
            assert_eq!((c.luts, c.bram18), (luts, bram), "{what}");
            let xc7 = Device::by_name("xc7z020").unwrap();
            assert_eq!(c.blocks(&xc7), c.bram18, "{what}");
        }
        assert_eq!(model.links.len(), hw.links.len(), "{at}");
        for (l, (c, k)) in model.links.iter().zip(&hw.links).enumerate() {
            let what = format!("{at} link {l} {folds:?}");
            assert_eq!((c.in_bits, c.out_bits), (k.in_bits, k.out_bits), "{what}");
            assert_eq!(c.fifo_depth, k.fifo_depth, "{what}");
            let luts = stream_cost::link_luts(k.in_bits, k.out_bits, k.fifo_depth);
            assert_eq!(c.luts, luts, "{what}");
        }
        let head = hw.head.map_or(0, |h| {
            stream_cost::topk_luts(h.k, h.elems, h.elem_bits, h.idx_bits)
        });
        assert_eq!(model.head_luts, head, "{at}");
        let xc7 = Device::by_name("xc7z020").unwrap();
        assert_eq!(model.blocks(&xc7), model.totals.bram18, "{at}");
    }

    /// The model equals `pad` + `cost` (cycles, NF, SF, padded matrices, ROM kinds, LUT, FF,
    /// BRAM18 without contents, DSP, window estimates) on random nets with random foldings.
    #[test]
    fn model_equals_pad_and_cost() {
        let mut rng = Rng::new(0xF01D);
        let limits = RandomLimits::default();
        let mut checked = 0;
        for seed in 0..60u64 {
            let mut net = if seed % 2 == 0 {
                synth::mlp(&synth::random_mlp_spec(seed, &limits), seed)
            } else {
                synth::cnn(&synth::random_cnn_spec(seed, &limits), seed)
            };
            crate::passes::lower(&mut net).unwrap();
            let Ok(problem) = Problem::new(&net) else {
                continue;
            };
            for _ in 0..4 {
                let folds = random_folds(&problem, &mut rng);
                let mut folded = net.clone();
                apply_folds(&mut folded, &folds);
                let model = problem.evaluate(&folds);
                let hw = crate::passes::pad::pad(&folded);
                let (model, hw) = match (model, hw) {
                    (Ok(m), Ok(h)) => (m, h),
                    (Err(_), Err(_)) => continue,
                    (m, h) => panic!("seed {seed}: model {:?} vs pad {:?}", m.err(), h.err()),
                };
                assert_matches(&model, &hw, &folds, &format!("seed {seed}"));
                checked += 1;
            }
        }
        assert!(checked >= 100, "only {checked} foldings checked");
    }

    /// Makes channel `c` of matvec layer `i` constant over its reachable accumulator range: its
    /// thresholds all below it (`high`: the top count always) or all above (count 0).
    fn plant_constant(net: &mut Network, i: usize, c: usize, high: bool) {
        let input = net.layers[i].input.dtype.as_data().unwrap();
        let Op::MatVec(mv) = &mut net.layers[i].op else {
            return;
        };
        let (lo, hi) = mv.acc_range(input);
        let crate::ir::Activation::Thresholds(t) = &mut mv.activation else {
            return;
        };
        let ge = t.compare[c] == crate::ir::Compare::Ge;
        let v = match (ge, high) {
            (true, true) => lo,
            (true, false) => hi + 1,
            (false, true) => hi,
            (false, false) => lo - 1,
        };
        t.values.row_mut(c).fill(v);
    }

    /// Random nets with planted constant channels, priced after the dead-channel removal
    /// (`Pruned::for_search`): at every folding the model admits, `build`'s path (the folding
    /// set on the unpruned net, then `passes::prune`, then `pad`) removes the same channels and
    /// `pad` + `cost` equal the model on every layer, link and the head. Most random foldings
    /// are admitted, and channels are removed.
    #[test]
    fn pruned_model_equals_build() {
        let mut rng = Rng::new(0xDEAD);
        let limits = RandomLimits::default();
        let (mut checked, mut refused, mut removed) = (0, 0, 0);
        for seed in 0..48u64 {
            let mut net = if seed % 2 == 0 {
                synth::mlp(&synth::random_mlp_spec(seed, &limits), seed)
            } else {
                synth::cnn(&synth::random_cnn_spec(seed, &limits), seed)
            };
            crate::passes::lower(&mut net).unwrap();
            for i in 0..net.layers.len().saturating_sub(1) {
                let rows = net.layers[i].op.matvec().map_or(0, |m| m.rows());
                for c in 0..rows {
                    if rng.below(3) == 0 {
                        plant_constant(&mut net, i, c, rng.chance(0.5));
                    }
                }
            }
            let pruned = super::super::Pruned::for_search(&net, true).unwrap();
            removed += pruned.report.as_ref().map_or(0, |r| r.removed());
            let Ok(problem) = Problem::pruned(&pruned) else {
                continue;
            };
            for _ in 0..6 {
                let folds = random_folds(&problem, &mut rng);
                let model = match problem.evaluate(&folds) {
                    Ok(m) => m,
                    Err(e) if e == NOT_AS_PRUNED => {
                        refused += 1;
                        continue;
                    }
                    Err(_) => continue,
                };
                let mut built = net.clone();
                apply_folds(&mut built, &folds);
                let report = crate::passes::prune::prune(&mut built).unwrap();
                assert_eq!(
                    Some(report.removed()),
                    pruned.report.as_ref().map(|r| r.removed()),
                    "seed {seed} {folds:?}"
                );
                let hw = crate::passes::pad::pad(&built)
                    .unwrap_or_else(|e| panic!("seed {seed} {folds:?}: {e}"));
                assert_matches(&model, &hw, &folds, &format!("pruned seed {seed}"));
                checked += 1;
            }
        }
        assert!(removed >= 20, "only {removed} channels removed");
        assert!(checked >= 100, "only {checked} foldings checked");
        assert!(
            refused < checked,
            "{refused} refused against {checked} admitted"
        );
    }

    /// The MobileNet-style net (`tests/models/mobilenet-digits`: a conv, two depthwise-separable
    /// blocks with 1×1 convs, a global average pool and a dense layer): at random foldings (PE
    /// a divisor of the channels or anything, SIMD anything; depthwise SIMD 1), the model and
    /// `pad` agree on which foldings build, and the model equals `pad` + `cost` on every VVAU,
    /// window generator (depthwise order), global pool, link and the rest.
    #[test]
    fn depthwise_model_equals_pad_and_cost() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/models/mobilenet-digits/clean.onnx");
        let (mut net, _) = crate::frontend::onnx::import(&path).unwrap();
        crate::passes::lower(&mut net).unwrap();
        let problem = Problem::new(&net).unwrap();
        assert!((0..problem.len()).any(|i| problem.is_depthwise(i)));
        let mut rng = Rng::new(0xD3);
        let (mut checked, mut tried, mut padded) = (0, 0, 0);
        let divisors = super::super::setfolding::divisors;
        for k in 0..160 {
            let mut folds = random_folds(&problem, &mut rng);
            // A third anything; a third divisors (every tensor at its channel count); a third
            // one non-dividing factor on every layer (padded slots that agree on both sides of
            // each VVAU).
            let common = rng.pick(&[3usize, 5, 6, 7]);
            for (i, f) in folds.iter_mut().enumerate() {
                if !problem.is_mvtu(i) {
                    continue;
                }
                let (rows, simd_dim) = (problem.rows(i), problem.simd_dim(i));
                match k % 3 {
                    0 => {}
                    1 => {
                        f.pe = rng.pick(&divisors(rows));
                        f.simd = rng.pick(&divisors(simd_dim));
                    }
                    _ => {
                        f.pe = common.min(rows);
                        f.simd = common.min(simd_dim);
                    }
                }
            }
            let mut folded = net.clone();
            apply_folds(&mut folded, &folds);
            tried += 1;
            let (model, hw) = match (problem.evaluate(&folds), crate::passes::pad::pad(&folded)) {
                (Ok(m), Ok(h)) => (m, h),
                (Err(_), Err(_)) => continue,
                (m, h) => panic!("model {:?} vs pad {:?} at {folds:?}", m.err(), h.err()),
            };
            assert_matches(&model, &hw, &folds, "mobilenet");
            checked += 1;
            padded += hw
                .layers
                .iter()
                .filter(|l| matches!(l.kind, crate::hwir::HwKind::Vvau(_)) && l.input.padded())
                .count();
        }
        assert!(checked >= 40, "only {checked} of {tried} foldings build");
        assert!(
            padded >= 10,
            "only {padded} VVAUs with padded channel slots"
        );
    }

    /// Sets `folds` on every MVTU layer of `net`.
    pub(crate) fn apply_folds(net: &mut Network, folds: &[LayerFold]) {
        super::super::apply(net, folds);
    }
}
