//! `report.json`: the machine-readable summary of a generated design.

use super::cost;
use super::stream_cost;
use crate::cyclesim::{mvtu_params, MvtuMode};
use crate::hwir::{
    HwActivation, HwElement, HwKind, HwLayer, HwMemory, HwMvtu, HwNetwork, HwWindow, StreamFormat,
};
use crate::ir::WeightStorage;
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct BuildReport {
    pub generator: String,
    pub network: String,
    pub target: &'static str,
    pub top: String,
    pub clock: &'static str,
    pub reset: &'static str,
    /// Default of the top's `MEM_DIR` parameter (relative to the tool's working directory).
    pub mem_dir: &'static str,
    pub input: StreamReport,
    pub output: StreamReport,
    pub layers: Vec<LayerReport>,
    pub links: Vec<LinkReport>,
    pub head: Option<HeadReport>,
    pub totals: Totals,
    /// Present when `net.toml` sets some FIFO or window-buffer depth other than the analytic
    /// rule's (`bnn-gen fold --size-fifos`): the buffers' bits against the rule's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buffer_sizing: Option<BufferSizingReport>,
    /// max over layers of their cycles per frame (`vectors·NF·SF` for an MVTU).
    pub ideal_ii_cycles: u64,
    /// First input word to last output word of one frame through an idle pipeline.
    pub latency_cycles_estimate: u64,
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct StreamReport {
    pub tdata_bits: usize,
    pub elements_per_word: usize,
    pub element_bits: u32,
    pub datatype: String,
    /// Two's complement elements.
    pub signed: bool,
    pub words_per_frame: usize,
    /// Meaningful elements per frame.
    pub elements_per_frame: usize,
    /// Element slots per frame (words · elements per word).
    pub slots_per_frame: usize,
    /// The padding slots: zero bits on input, don't-care on output; null when there are none.
    pub padding: Option<Padding>,
    /// TDATA bits above the elements (always zero).
    pub spare_tdata_bits: usize,
}

/// Slots `first_slot .. first_slot + count` of every group of `group_slots` slots (a pixel, or
/// the whole frame for a flat vector) are padding.
#[derive(Clone, Debug, Serialize)]
pub struct Padding {
    pub first_slot: usize,
    pub count: usize,
    pub group_slots: usize,
    pub groups: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct MemoryShape {
    /// One ROM per PE (with `style` `constants`: one constant table per PE).
    pub roms: usize,
    pub width_bits: usize,
    pub depth_words: usize,
    /// File name pattern in `mem/` (`PPP` = PE index, 3+ digits; `NNN` = tile index, 3 digits,
    /// for a tiled ROM); empty for `constants`.
    pub files: String,
    /// What each ROM is built from, `bnn_rom`'s `RAM_STYLE`: `block` (block RAM),
    /// `distributed` (LUT ROM) or `logic` (LUT logic and flip-flops); or `constants` for weights
    /// written into the RTL (`weight_storage = "logic"`, no ROM).
    pub style: &'static str,
    /// `rule` (the size rule of `docs/hardware.md`) or `net.toml` (`ram_style` /
    /// `threshold_ram_style`).
    pub chosen_by: &'static str,
    /// The rule's reasoning or the net.toml setting, in words.
    pub reason: String,
    /// Present when the generator splits each ROM into block RAMs itself (deep block ROMs,
    /// `hw/bnn_rom.v`'s tiled mode); `files` then names the tile files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tiling: Option<TilingShape>,
}

/// A tiled block ROM (`hwir::BlockTiling`): banks of `bank_depth` words (the last holds the
/// rest), each cut into slices `tile_width` bits wide (`last_tile_width` in the last bank), one
/// 18-Kbit RAM per slice.
#[derive(Clone, Debug, Serialize)]
pub struct TilingShape {
    pub bank_depth: usize,
    pub banks: usize,
    pub tile_width: usize,
    pub last_tile_width: usize,
    /// RAMs per ROM.
    pub tiles_per_rom: usize,
}

impl MemoryShape {
    /// Weights as logic (`weight_storage = "logic"`): constant tables in the layer's RTL, no
    /// ROM and no `.mem` file.
    fn constants(tables: usize, width_bits: usize, depth_words: usize) -> Self {
        MemoryShape {
            roms: tables,
            width_bits,
            depth_words,
            files: String::new(),
            style: "constants",
            chosen_by: "net.toml",
            reason: "weight_storage = \"logic\": constants in the layer's RTL, one case table \
                     per PE (synthesis folds zero weights and constant bits)"
                .to_string(),
            tiling: None,
        }
    }

    fn new(
        roms: usize,
        width_bits: usize,
        depth_words: usize,
        files: String,
        mem: HwMemory,
        field: &str,
    ) -> Self {
        MemoryShape {
            roms,
            width_bits,
            depth_words,
            files: match mem.tiling {
                Some(_) => files.replace(".mem", "_tNNN.mem"),
                None => files,
            },
            style: mem.kind.name(),
            chosen_by: if mem.forced { "net.toml" } else { "rule" },
            reason: mem.describe(field, depth_words, width_bits),
            tiling: mem.tiling.map(|t| TilingShape {
                bank_depth: t.bank_depth,
                banks: t.banks,
                tile_width: t.tile_width,
                last_tile_width: t.last_tile_width,
                tiles_per_rom: t.tiles,
            }),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct LayerReport {
    pub name: String,
    /// The generated module (MVTU layers) or the library module (pools).
    pub module: String,
    /// `dense`, `conv2d`, `depthwise` or `maxpool`.
    pub kind: &'static str,
    /// Cycles per frame at full speed (the busiest of its blocks).
    pub cycles_per_frame: u64,
    /// Input and output tensors: pixels · channels, in pixels · slots.
    pub input_layout: [usize; 3],
    pub output_layout: [usize; 3],
    /// The `bnn_swg` in front (conv, depthwise and max-pool layers).
    pub window: Option<WindowReport>,
    /// A 1×1 stride-1 unpadded conv layer has no window generator: what that saves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_bypass: Option<WindowBypassReport>,
    /// The `bnn_pool` (max-pool layers).
    pub pool: Option<PoolReport>,
    /// The `bnn_mvtu` (dense and conv layers).
    pub mvtu: Option<MvtuReport>,
    /// The `bnn_gap` (global average pool layers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub global_pool: Option<GlobalPoolReport>,
}

#[derive(Clone, Debug, Serialize)]
pub struct GlobalPoolReport {
    pub lanes: usize,
    pub words_per_pixel: usize,
    /// H·W: pixels summed per frame.
    pub pixels: usize,
    pub input_datatype: String,
    /// The sum's type: the accumulator width.
    pub sum_datatype: String,
    /// The average is `sum / divisor`; the hardware never divides.
    pub divisor: usize,
    /// Where the division went (`docs/hardware.md`, "Global pooling").
    pub divisor_folded_into: String,
    pub estimated_luts: u64,
}

/// The window generator a 1×1 conv layer does not instantiate (its MVTU reads the stream
/// directly): the line buffer and logic it would have cost, estimated as for a real one.
#[derive(Clone, Debug, Serialize)]
pub struct WindowBypassReport {
    pub saved_buffer_words: usize,
    pub saved_buffer_bits: u64,
    pub saved_estimated_luts: u64,
    pub saved_estimated_bram18: u64,
    /// The generator's 2 cycles of latency (stage R and its output queue) are saved too.
    pub saved_latency_cycles: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct WindowReport {
    /// Input image height, width.
    pub image: [usize; 2],
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub output: [usize; 2],
    pub words_per_pixel: usize,
    pub word_bits: usize,
    /// Line buffer depth in words (see `docs/hardware.md`), and in bits.
    pub buffer_depth_words: usize,
    pub buffer_bits: u64,
    /// What the buffer is built from, `bnn_swg`'s `RAM_STYLE`: `block` or `distributed` (LUT
    /// RAM), by the fill rule of `docs/hardware.md`; and why.
    pub buffer_style: &'static str,
    pub buffer_style_reason: String,
    /// The analytic depth, present when `net.toml`'s `buffer_depth` differs from it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buffer_depth_rule_words: Option<usize>,
    /// Output words per window and per frame.
    pub window_words: usize,
    pub words_per_frame: usize,
    pub estimated_luts: u64,
    pub estimated_bram18: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct PoolReport {
    pub lanes: usize,
    pub element_bits: u32,
    pub signed: bool,
    pub window_positions: usize,
    pub words_per_pixel: usize,
    /// The pool core (`bnn_pool`), without its window generator ([`WindowReport`]).
    pub estimated_luts: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct MvtuReport {
    /// The datapath mode `bnn_mvtu` derives from the operand types (`docs/mvtu-spec.md`,
    /// section 2): `xnor-popcount` (bipolar × bipolar), `offset` (exactly one operand bipolar:
    /// `2·Σ u·v − Σ v`), `select` (an unsigned 1-bit operand selects the other) or `mac` (exact
    /// products).
    pub mode: &'static str,
    pub input_datatype: String,
    pub weight_datatype: String,
    pub output_datatype: String,
    pub mw: usize,
    pub mh: usize,
    pub mw_padded: usize,
    pub mh_padded: usize,
    pub pe: usize,
    pub simd: usize,
    pub nf: usize,
    pub sf: usize,
    /// Matrix-vector products per frame (output pixels of a conv layer).
    pub vectors_per_frame: usize,
    /// MH·MW·weight bits (true matrix) and as stored (padded).
    pub weight_bits: u64,
    pub weight_bits_stored: u64,
    pub weight_memory: MemoryShape,
    pub threshold_memory: Option<MemoryShape>,
    pub thresholds_per_channel: usize,
    pub threshold_bits: u32,
    pub accumulator_bits: u32,
    /// Range of the hardware accumulator (popcount domain for XNOR layers).
    pub accumulator_range: [i64; 2],
    pub xnor_fanin: usize,
    pub estimated_luts: u64,
    pub estimated_bram18: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct LinkReport {
    pub from: String,
    pub to: String,
    pub elements_per_frame: usize,
    pub producer_word_bits: usize,
    pub consumer_word_bits: usize,
    /// A `bnn_dwc` converts the word width.
    pub dwc: bool,
    /// Depth of the `bnn_fifo` in front of the consumer (consumer words), if any.
    pub fifo_depth: Option<usize>,
    /// The analytic depth (one consumer frame), present when `net.toml`'s `fifo_depth`
    /// differs from it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fifo_depth_rule: Option<usize>,
    /// The width converter and the FIFO together (`src/codegen/stream_cost.rs`).
    pub estimated_luts: u64,
    pub estimated_bram18: u64,
}

/// FIFO and window-buffer bits of a design whose depths `net.toml` sets (`bnn-gen fold
/// --size-fifos`), against the analytic rules'.
#[derive(Clone, Debug, Serialize)]
pub struct BufferSizingReport {
    /// Every FIFO's and window buffer's bits (words × word bits) as built...
    pub bits: u64,
    /// ... with the analytic depths...
    pub rule_bits: u64,
    /// ... and the difference.
    pub saved_bits: i64,
    /// The buffers `net.toml` sizes: instance, depth, analytic depth.
    pub sized: Vec<SizedBuffer>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SizedBuffer {
    /// `link<i>_fifo` or `l<i>_swg`, as in the generated top.
    pub instance: String,
    pub word_bits: usize,
    pub depth: usize,
    pub rule_depth: usize,
}

/// The [`BufferSizingReport`] of `hw`, `None` when every depth is the rule's.
pub fn buffer_sizing(hw: &HwNetwork) -> Option<BufferSizingReport> {
    let mut all = Vec::new();
    for (i, l) in hw.layers.iter().enumerate() {
        if let Some(k) = i.checked_sub(1).map(|j| &hw.links[j]) {
            if let (Some(d), Some(r)) = (k.fifo_depth, k.rule_fifo_depth) {
                all.push((format!("link{}_fifo", i - 1), k.out_bits, d, r));
            }
        }
        if let Some(w) = &l.window {
            all.push((format!("l{i}_swg"), w.word_bits(), w.depth, w.rule_depth));
        }
    }
    if all.iter().all(|&(_, _, d, r)| d == r) {
        return None;
    }
    let bits: u64 = all.iter().map(|&(_, b, d, _)| (b * d) as u64).sum();
    let rule_bits: u64 = all.iter().map(|&(_, b, _, r)| (b * r) as u64).sum();
    Some(BufferSizingReport {
        bits,
        rule_bits,
        saved_bits: rule_bits as i64 - bits as i64,
        sized: all
            .into_iter()
            .filter(|&(_, _, d, r)| d != r)
            .map(|(instance, word_bits, depth, rule_depth)| SizedBuffer {
                instance,
                word_bits,
                depth,
                rule_depth,
            })
            .collect(),
    })
}

#[derive(Clone, Debug, Serialize)]
pub struct HeadReport {
    pub kind: &'static str,
    pub k: usize,
    pub classes: usize,
    pub values_per_word: usize,
    pub value_bits: u32,
    pub signed: bool,
    pub index_bits: usize,
    pub estimated_luts: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Totals {
    pub weight_bits: u64,
    pub weight_bits_stored: u64,
    pub threshold_bits_stored: u64,
    /// The whole design: MVTU wrappers, window generators, pool cores, global pools, link
    /// FIFOs and width converters, and the head (the top level has no logic of its own).
    pub estimated_luts: u64,
    pub estimated_bram18: u64,
}

/// The file name of weight (`'w'`) or threshold (`'t'`) ROM `pe` of `layer`, in `mem/`.
pub fn mem_file(layer: &HwLayer, kind: char, pe: usize) -> String {
    format!("{}_{kind}{pe:03}.mem", layer.ident)
}

/// The stem of a tiled ROM's tile files (`bnn_rom`'s `TILE_FILES`): tile n is
/// `<stem>NNN.mem`, [`tile_file`].
pub fn tile_stem(layer: &HwLayer, kind: char, pe: usize) -> String {
    format!("{}_{kind}{pe:03}_t", layer.ident)
}

/// The file of tile `n` of a tiled ROM with `stem` (three digits, as `bnn_rom` builds it).
pub fn tile_file(stem: &str, n: usize) -> String {
    format!("{stem}{n:03}.mem")
}

/// Latency estimate (see `docs/hardware.md`): the time from the first input word of a frame to
/// its last output word through an idle pipeline. Every stream is tracked by its first and last
/// word of the frame, the words in between assumed evenly spread; the input words arrive one per
/// cycle.
///
/// A layer is bounded by each of its input words: the beat that reads word `n` cannot issue
/// before `n` arrives, and the beats after it follow at one per cycle, so the layer's last output
/// word comes at least `arrival(n) + d + (beats after it) + out` cycles in, and the estimate is
/// the largest such bound. `d` is 3 behind a window generator (the word is written at one edge,
/// the beat reading it issues at the next and leaves its output register one later,
/// `docs/swg-pool-spec.md`) and 0 for a layer reading its stream directly; `out` is `LAT + 1`
/// for an MVTU or VVAU (its pipeline and output queue; [`crate::cyclesim::MvtuParams::latency`],
/// `docs/mvtu-spec.md`) and 1 for a pool. Behind a window generator, the words a window reads
/// last are the bottom-right pixel's, after which only its padding beats remain (and, for a
/// dense MVTU, the replay of the other NF − 1 neuron folds); a depthwise window reads its channel
/// words fold by fold. The first and the last window give the two classic bounds ("every window
/// at full speed" and "the last window after the last input word"); the windows in between
/// matter when the input arrives slower than the layer runs, as a depthwise layer fed by a 1×1
/// convolution: every window that reads the frame's last input pixel waits for it.
///
/// A width converter emits the r output words its last input word completes in the r following
/// cycles (r = 1 for an up-sizer, IN/OUT for a down-sizer); a FIFO adds 1 cycle; a global pool
/// emits each sum one cycle after the last pixel's word; the top-k head emits its k words in the
/// k cycles that follow the last value word's 1 + clog2(ELEMS) register stages (`hw/bnn_topk.v`).
/// Exact for dense pipelines without back-pressure inside a frame; an estimate otherwise (the
/// simulators are exact). Returns the total and the per-layer terms as text.
pub fn latency(hw: &HwNetwork) -> (u64, String) {
    let mut s = Arrivals {
        first: 0,
        last: hw.layers[0].in_words() as u64 - 1,
        words: hw.layers[0].in_words(),
    };
    let mut terms = vec![format!("{} (input words)", s.last)];
    for (l, layer) in hw.layers.iter().enumerate() {
        let before = s.last;
        s.words = layer.in_words();
        let (first, last) = match (&layer.kind, &layer.window) {
            (HwKind::Mvtu(m), None) => direct_mvtu(&s, m, false),
            (HwKind::Vvau(m), None) => direct_mvtu(&s, m, true),
            (HwKind::Mvtu(m), Some(w)) => {
                let (nf, sf) = (m.nf() as u64, m.sf() as u64);
                let out = mvtu_params(m).latency() as u64 + 1;
                // a window is fold 0; the other NF − 1 folds replay it
                windowed(&s, w, nf * sf, (nf - 1) * sf, out)
            }
            (HwKind::Vvau(m), Some(w)) => {
                let per = (m.nf() * m.sf()) as u64;
                windowed(&s, w, per, 0, mvtu_params(m).latency() as u64 + 1)
            }
            (HwKind::Pool(p), Some(w)) => windowed(&s, w, (p.kk * p.cw) as u64, 0, 1),
            // (pad.rs gives every pool a window generator; one reading its stream directly
            // would pass each window's last word on one cycle later)
            (HwKind::Pool(p), None) => (s.at(p.kk * p.cw - 1) + 1, s.last + 1),
            // bnn_gap: the last pixel's words each leave one cycle after they arrive.
            (HwKind::Gap(_), _) => (s.last + 1, s.last + 1),
        };
        s = Arrivals {
            first,
            last,
            words: layer.out_words(),
        };
        // (negative when the layer's last window is done before the input rows no window
        // reads have arrived)
        let term = s.last as i64 - before as i64;
        terms.push(format!("{term} ({})", layer.name));
        if let Some(link) = hw.links.get(l) {
            if link.dwc() {
                // The converter emits the output words its last input word completes, one per
                // cycle from the next cycle on: 1 for an up-sizer, IN/OUT for a down-sizer.
                let b = layer.out_element().bits() as usize;
                let frame = link.elements * b;
                let t = (frame / link.out_bits - (frame - link.in_bits) / link.out_bits) as u64;
                s.last += t;
                s.first += 1;
                terms.push(format!("{t} (converter)"));
            }
            if link.fifo_depth.is_some() {
                s.last += 1;
                s.first += 1;
                terms.push("1 (FIFO)".to_string());
            }
        }
    }
    if let Some(h) = &hw.head {
        let t = (h.k + h.stages()) as u64;
        s.last += t;
        terms.push(format!("{t} (top-k)"));
    }
    (s.last, terms.join(" + "))
}

/// One frame of a stream as [`latency`] sees it: `words` words, the first at cycle `first`, the
/// last at `last`, evenly spread in between.
struct Arrivals {
    first: u64,
    last: u64,
    words: usize,
}

impl Arrivals {
    /// When word `n` of the frame arrives. A one-word frame arrives at `last`: after an
    /// up-sizing converter `first` only bounds the converter's first input word.
    fn at(&self, n: usize) -> u64 {
        if self.words <= 1 {
            return self.last;
        }
        let span = (self.words - 1) as u64;
        self.first + (self.last - self.first) * n.min(self.words) as u64 / span
    }
}

/// (first, last) output word of an MVTU reading its stream directly (a dense layer, or a 1×1
/// convolution without a window generator): vector `i`'s neuron fold 0 reads its SF words, the
/// other folds replay them. A depthwise layer (`depthwise`) reads a new word at every beat.
fn direct_mvtu(s: &Arrivals, m: &HwMvtu, depthwise: bool) -> (u64, u64) {
    let (nf, sf, v) = (m.nf(), m.sf(), m.vectors);
    let out = mvtu_params(m).latency() as u64 + 1;
    let beats = (v * nf * sf) as u64;
    let mut last = 0;
    if depthwise {
        for n in 0..v * nf * sf {
            last = last.max(s.at(n) + beats - 1 - n as u64 + out);
        }
        (s.at(sf - 1) + out, last)
    } else {
        for i in 0..v {
            let after = ((nf - 1) * sf + (v - 1 - i) * nf * sf) as u64;
            last = last.max(s.at((i + 1) * sf - 1) + after + out);
        }
        (s.at(sf - 1) + out, last)
    }
}

/// (first, last) output word of a layer behind a window generator: the consumer takes `per`
/// cycles per window (NF·SF for an MVTU or VVAU, KK·CW for a pool), `tail` of them after the
/// window's last beat (a dense MVTU's replayed folds), and its output word leaves `out` cycles
/// after the beat that completes it.
fn windowed(s: &Arrivals, w: &HwWindow, per: u64, tail: u64, out: u64) -> (u64, u64) {
    let g = &w.geom;
    let (oh, ow, kk) = (g.oh(), g.ow(), (g.kh * g.kw) as u64);
    let windows = (oh * ow) as u64;
    // the SWG writes a word at one edge, issues its beat at the next, the consumer takes it at
    // the one after
    const SWG: u64 = 3;
    let (mut first, mut last) = (None, 0u64);
    for oy in 0..oh {
        for ox in 0..ow {
            let j = (oy * ow + ox) as u64;
            let Some(r) = g.last_read(oy, ox) else {
                continue;
            };
            // the last real kernel position (ky, kx order) and the padding positions after it
            let top = (oy * g.sh) as i64 - g.ph as i64;
            let left = (ox * g.sw) as i64 - g.pw as i64;
            let bottom = (top + g.kh as i64 - 1).min(g.ih as i64 - 1);
            let right = (left + g.kw as i64 - 1).min(g.iw as i64 - 1);
            let pos = ((bottom - top) * g.kw as i64 + (right - left)) as u64;
            let pads = kk - 1 - pos;
            let later = (windows - 1 - j) * per;
            // the window's last beat also releases the words no later window reads, and waits
            // until they are written: up to the next window's `hold`, the whole frame for the
            // last window (rows and columns no window reads included)
            let released = if j + 1 == windows {
                g.frame_words()
            } else {
                let next = j as usize + 1;
                g.hold(next / ow, next % ow)
            };
            if released > 0 {
                last = last.max(s.at(released - 1) + SWG + tail + later + out);
            }
            let bound = if w.depthwise {
                // channel word c of the pixel is read by fold c, the last position of which
                // is followed by its padding positions and the folds after it
                let cw = g.cw as u64;
                let fold = per / cw;
                let mut b = 0;
                for k in 0..cw.min(r as u64 + 1) {
                    b = b.max(s.at(r - k as usize) + SWG + pads + k * fold + later + out);
                }
                if first.is_none() {
                    let k = cw.min(r as u64 + 1) - 1;
                    first = Some(s.at(r - k as usize) + SWG + pads + out);
                }
                b
            } else {
                // channel words innermost: the pixel's last word is the window's last real read
                let b = s.at(r) + SWG + pads * g.cw as u64 + tail + later + out;
                if first.is_none() {
                    first = Some(s.at(r) + SWG + pads * g.cw as u64 + out);
                }
                b
            };
            last = last.max(bound);
        }
    }
    (first.unwrap_or(s.first + SWG + out), last)
}

fn stream_report(f: &StreamFormat) -> StreamReport {
    StreamReport {
        tdata_bits: f.tdata_bits,
        elements_per_word: f.elements_per_word,
        element_bits: f.element.bits(),
        datatype: f.element.name(),
        signed: f.element.signed(),
        words_per_frame: f.words_per_frame,
        elements_per_frame: f.elements,
        slots_per_frame: f.slots,
        padding: f.layout.padded().then(|| Padding {
            first_slot: f.layout.channels,
            count: f.layout.slots - f.layout.channels,
            group_slots: f.layout.slots,
            groups: f.layout.pixels,
        }),
        spare_tdata_bits: f.tdata_bits - f.used_bits(),
    }
}

/// Where the division of global pool `l` by H·W went: the next layer's thresholds, or (raw sums
/// or accumulators out) the float output scale of `[output]`, else nowhere (the integer outputs
/// are H·W times the average's).
fn divisor_sink(hw: &HwNetwork, l: &HwLayer) -> String {
    let next = hw
        .layers
        .iter()
        .position(|x| std::ptr::eq(x, l))
        .and_then(|i| hw.layers.get(i + 1));
    match next.and_then(HwLayer::mvtu) {
        Some(m) if matches!(m.activation, HwActivation::Thresholds(_)) => {
            format!("thresholds of layer {}", next.expect("some").name)
        }
        _ => {
            let n = gap_pixels(l);
            format!(
                "output scale: the integer outputs are {n} x the float model's (net.toml \
                 [output] scale is divided by {n} when present)"
            )
        }
    }
}

fn gap_pixels(l: &HwLayer) -> usize {
    match &l.kind {
        HwKind::Gap(g) => g.pixels,
        _ => 1,
    }
}

/// The report of a design (`build --synth` adds its `"synthesis"` section afterwards).
pub fn build_report(hw: &HwNetwork, top: &str, modules: &[String]) -> BuildReport {
    let layers: Vec<LayerReport> = hw
        .layers
        .iter()
        .zip(modules)
        .map(|(l, module)| LayerReport {
            name: l.name.clone(),
            module: module.clone(),
            kind: l.kind_name(),
            cycles_per_frame: l.cycles() as u64,
            input_layout: [l.input.pixels, l.input.channels, l.input.slots],
            output_layout: [l.output.pixels, l.output.channels, l.output.slots],
            window_bypass: l.bypassed_window.as_ref().map(|w| WindowBypassReport {
                saved_buffer_words: w.depth,
                saved_buffer_bits: (w.depth * w.word_bits()) as u64,
                saved_estimated_luts: cost::swg_luts(w),
                saved_estimated_bram18: cost::swg_bram18(w),
                saved_latency_cycles: 2,
            }),
            window: l.window.as_ref().map(|w| {
                let g = &w.geom;
                WindowReport {
                    image: [g.ih, g.iw],
                    kernel: [g.kh, g.kw],
                    stride: [g.sh, g.sw],
                    padding: [g.ph, g.pw],
                    output: [g.oh(), g.ow()],
                    words_per_pixel: g.cw,
                    word_bits: w.word_bits(),
                    buffer_depth_words: w.depth,
                    buffer_bits: (w.depth * w.word_bits()) as u64,
                    buffer_style: w.buffer_kind().name(),
                    buffer_style_reason: format!(
                        "fill rule: {} x {} bits {} {:.0} % of their block RAMs",
                        w.depth,
                        w.word_bits(),
                        if w.buffer_kind() == crate::hwir::MemKind::Block {
                            "fill"
                        } else {
                            "would fill"
                        },
                        crate::hwir::MemKind::block_fill(w.depth, w.word_bits()) * 100.0
                    ),
                    buffer_depth_rule_words: (w.depth != w.rule_depth).then_some(w.rule_depth),
                    window_words: g.window_words(),
                    words_per_frame: g.out_words(),
                    estimated_luts: cost::swg_luts(w),
                    estimated_bram18: cost::swg_bram18(w),
                }
            }),
            pool: match &l.kind {
                HwKind::Pool(p) => Some(PoolReport {
                    lanes: p.lanes,
                    element_bits: p.element.bits(),
                    signed: p.element.signed(),
                    window_positions: p.kk,
                    words_per_pixel: p.cw,
                    estimated_luts: stream_cost::pool_luts(p.lanes * p.element.bits() as usize),
                }),
                HwKind::Mvtu(_) | HwKind::Vvau(_) | HwKind::Gap(_) => None,
            },
            global_pool: match &l.kind {
                HwKind::Gap(g) => Some(GlobalPoolReport {
                    lanes: g.lanes,
                    words_per_pixel: g.cw,
                    pixels: g.pixels,
                    input_datatype: g.in_element.name(),
                    sum_datatype: g.out_dtype.to_string(),
                    divisor: g.pixels,
                    divisor_folded_into: divisor_sink(hw, l),
                    estimated_luts: stream_cost::gap_luts(
                        g.cw,
                        g.lanes,
                        g.pixels,
                        l.input.padded(),
                        g.in_element.bits(),
                        g.out_dtype.bits(),
                    ),
                }),
                _ => None,
            },
            mvtu: l.mvtu().map(|m| mvtu_report(l, m)),
        })
        .collect();
    let links: Vec<LinkReport> = hw
        .links
        .iter()
        .map(|k| LinkReport {
            from: hw.layers[k.from].name.clone(),
            to: hw.layers[k.from + 1].name.clone(),
            elements_per_frame: k.elements,
            producer_word_bits: k.in_bits,
            consumer_word_bits: k.out_bits,
            dwc: k.dwc(),
            fifo_depth: k.fifo_depth,
            fifo_depth_rule: k.rule_fifo_depth.filter(|&r| Some(r) != k.fifo_depth),
            estimated_luts: stream_cost::link_luts(k.in_bits, k.out_bits, k.fifo_depth),
            estimated_bram18: k
                .fifo_depth
                .map_or(0, |d| stream_cost::fifo_bram18(d, k.out_bits)),
        })
        .collect();
    let head = hw.head.map(|h| HeadReport {
        kind: if h.k == 1 { "argmax" } else { "topk" },
        k: h.k,
        classes: h.n,
        values_per_word: h.elems,
        value_bits: h.elem_bits,
        signed: h.signed,
        index_bits: h.idx_bits,
        estimated_luts: stream_cost::topk_luts(h.k, h.elems, h.elem_bits, h.idx_bits),
    });
    let mvtus = || layers.iter().filter_map(|l| l.mvtu.as_ref());
    let windows = || layers.iter().filter_map(|l| l.window.as_ref());
    let totals = Totals {
        weight_bits: mvtus().map(|m| m.weight_bits).sum(),
        weight_bits_stored: mvtus().map(|m| m.weight_bits_stored).sum(),
        threshold_bits_stored: hw
            .layers
            .iter()
            .filter_map(HwLayer::mvtu)
            .map(|m| (m.tmem_width() * m.nf() * m.pe) as u64)
            .sum(),
        estimated_luts: mvtus().map(|m| m.estimated_luts).sum::<u64>()
            + windows().map(|w| w.estimated_luts).sum::<u64>()
            + layers
                .iter()
                .filter_map(|l| l.pool.as_ref())
                .map(|p| p.estimated_luts)
                .sum::<u64>()
            + layers
                .iter()
                .filter_map(|l| l.global_pool.as_ref())
                .map(|g| g.estimated_luts)
                .sum::<u64>()
            + links
                .iter()
                .map(|k: &LinkReport| k.estimated_luts)
                .sum::<u64>()
            + head.as_ref().map_or(0, |h| h.estimated_luts),
        estimated_bram18: mvtus().map(|m| m.estimated_bram18).sum::<u64>()
            + windows().map(|w| w.estimated_bram18).sum::<u64>()
            + links
                .iter()
                .map(|k: &LinkReport| k.estimated_bram18)
                .sum::<u64>(),
    };
    BuildReport {
        generator: format!("bnn-gen {}", env!("CARGO_PKG_VERSION")),
        network: hw.name.clone(),
        target: "verilog",
        top: top.to_string(),
        clock: "ap_clk",
        reset: "ap_rst_n (synchronous, active low)",
        mem_dir: "mem",
        input: stream_report(&hw.input_stream()),
        output: stream_report(&hw.output_stream()),
        layers,
        links,
        head,
        totals,
        buffer_sizing: buffer_sizing(hw),
        ideal_ii_cycles: hw.ideal_ii() as u64,
        latency_cycles_estimate: latency(hw).0,
        notes: hw.notes.clone(),
    }
}

fn mvtu_report(l: &HwLayer, m: &HwMvtu) -> MvtuReport {
    let (tmem, steps, tbits) = match &m.activation {
        HwActivation::Thresholds(t) => (
            m.threshold_mem.map(|mem| {
                MemoryShape::new(
                    m.pe,
                    m.tmem_width(),
                    m.nf(),
                    format!("{}_tPPP.mem", l.ident),
                    mem,
                    "threshold_ram_style",
                )
            }),
            t.nsteps(),
            t.tbits,
        ),
        HwActivation::Identity => (None, 0, 0),
    };
    MvtuReport {
        mode: match mvtu_params(m).mode() {
            MvtuMode::Xnor => "xnor-popcount",
            MvtuMode::Offset => "offset",
            MvtuMode::Sel => "select",
            MvtuMode::Mac => "mac",
        },
        input_datatype: m.input_dtype.to_string(),
        weight_datatype: m.weight_dtype.to_string(),
        output_datatype: match m.output {
            HwElement::Acc(b) => format!("int{b} (raw accumulator)"),
            e => e.name(),
        },
        mw: m.mw,
        mh: m.mh,
        mw_padded: m.mw_pad,
        mh_padded: m.mh_pad,
        pe: m.pe,
        simd: m.simd,
        nf: m.nf(),
        sf: m.sf(),
        vectors_per_frame: m.vectors,
        weight_bits: (m.mw * m.mh) as u64 * u64::from(m.wbits()),
        weight_bits_stored: (m.mw_pad * m.mh_pad) as u64 * u64::from(m.wbits()),
        weight_memory: match m.weight_storage {
            WeightStorage::Rom => MemoryShape::new(
                m.pe,
                m.simd * m.wbits() as usize,
                m.nf() * m.sf(),
                format!("{}_wPPP.mem", l.ident),
                m.weight_mem,
                "ram_style",
            ),
            WeightStorage::Logic => {
                MemoryShape::constants(m.pe, m.simd * m.wbits() as usize, m.nf() * m.sf())
            }
        },
        threshold_memory: tmem,
        thresholds_per_channel: steps,
        threshold_bits: tbits,
        accumulator_bits: m.acc_bits,
        accumulator_range: [m.acc_lo, m.acc_hi],
        xnor_fanin: m.mw,
        // The layer wrapper (MVTU and ROMs), calibrated against yosys xc7 (docs/cost-model.md).
        estimated_luts: cost::luts(m),
        // The block RAMs of the weight and threshold ROMs that are in block RAM.
        estimated_bram18: cost::bram18(m),
    }
}

/// The JSON text (pretty, final newline).
pub fn to_json(report: &BuildReport) -> String {
    let mut s = serde_json::to_string_pretty(report).expect("the report serializes");
    s.push('\n');
    s
}
