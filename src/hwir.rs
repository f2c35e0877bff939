//! The hardware IR: a network lowered for the streaming hardware, as [`crate::passes::pad`]
//! produces it and the Verilog backend, the cycle simulator, the verify harness and the reports
//! consume it. Every matrix is padded to whole folds, thresholds are in the hardware's
//! accumulator domain, and every link has a fixed stream width and element count. The IR holds
//! what the hardware *is*; the pass that builds it ([`crate::passes::pad`]) says *why*.

use crate::datatype::DataType;
use crate::passes::window::Window;
use ndarray::Array2;

/// A network lowered for the streaming hardware.
#[derive(Clone, Debug, PartialEq)]
pub struct HwNetwork {
    /// The network's name as in `net.toml`.
    pub name: String,
    /// `name` as a Verilog identifier (`-` → `_`).
    pub ident: String,
    /// Network input datatype and true element count per frame.
    pub input_dtype: DataType,
    pub input_elements: usize,
    /// The input is an image (elements in NHWC order).
    pub input_is_image: bool,
    /// How the input frame is laid out in element slots (see [`Layout`]).
    pub input_layout: Layout,
    pub layers: Vec<HwLayer>,
    /// One per pair of consecutive layers.
    pub links: Vec<HwLink>,
    pub head: Option<HwHead>,
    /// Remarks about padding beyond the plain ceiling (cost the user may want to avoid).
    pub notes: Vec<String>,
}

/// How a tensor's elements sit in stream slots: `pixels` groups of `slots` slots, the first
/// `channels` of each group meaningful (NHWC order), the rest zero-bit padding. A flat vector is
/// one pixel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub pixels: usize,
    pub channels: usize,
    pub slots: usize,
}

impl Layout {
    /// Meaningful elements.
    pub fn elements(&self) -> usize {
        self.pixels * self.channels
    }

    /// Element slots per frame.
    pub fn total_slots(&self) -> usize {
        self.pixels * self.slots
    }

    /// The slot of meaningful element `e` (NHWC-flattened index).
    pub fn slot(&self, e: usize) -> usize {
        (e / self.channels) * self.slots + e % self.channels
    }

    /// Whether there are padding slots.
    pub fn padded(&self) -> bool {
        self.slots > self.channels
    }
}

/// One layer of the hardware: an MVTU or a max-pool, with the window generator in front of conv
/// and pool layers.
#[derive(Clone, Debug, PartialEq)]
pub struct HwLayer {
    pub name: String,
    /// `name` as a Verilog identifier (unique in the design).
    pub ident: String,
    /// The sliding-window generator in front (conv and max-pool layers).
    pub window: Option<HwWindow>,
    /// A 1×1 stride-1 unpadded conv layer reads its input stream directly: the generator it
    /// does *not* instantiate (`window` is `None`), kept for what the reports say it saves.
    pub bypassed_window: Option<HwWindow>,
    pub kind: HwKind,
    /// Input and output tensors in stream slots.
    pub input: Layout,
    pub output: Layout,
}

#[derive(Clone, Debug, PartialEq)]
pub enum HwKind {
    Mvtu(Box<HwMvtu>),
    /// A `bnn_vvau` (depthwise convolution) with its ROMs. The [`HwMvtu`] fields keep their
    /// meaning per channel: `mw` is the kernel positions KH·KW (fan-in of one output), `mh` the
    /// channels, `weights[c][ky·KW + kx]`, PE channels in parallel and SIMD kernel positions per
    /// beat; the input word is PE·SIMD elements (lane `l·PE + p`: kernel position `sf·SIMD + l`
    /// of channel `nf·PE + p`). The ROM images are the MVTU's.
    Vvau(Box<HwMvtu>),
    Pool(HwPool),
    Gap(HwGap),
}

/// A `bnn_swg` instance.
#[derive(Clone, Debug, PartialEq)]
pub struct HwWindow {
    pub geom: Window,
    /// Elements per word and their bits.
    pub elems: usize,
    pub ebits: u32,
    /// Buffer depth in words: `net.toml`'s `buffer_depth`, else `rule_depth`.
    pub depth: usize,
    /// The analytic depth ([`Window::depth_for`] the consumer's NF), whatever `depth` is: what
    /// the reports compare a sized buffer with.
    pub rule_depth: usize,
    /// Bit pattern of every element slot of a padding pixel (`cw · elems` slots).
    pub pad: Vec<u64>,
    /// The depthwise window order (`bnn_swg`'s `DEPTHWISE`): per window, the channel words
    /// outermost and the kernel positions innermost, for the VVAU; else channels innermost.
    pub depthwise: bool,
}

impl HwWindow {
    /// Bits per word.
    pub fn word_bits(&self) -> usize {
        self.elems * self.ebits as usize
    }

    /// What the line buffer is built from (`bnn_swg`'s `RAM_STYLE`): block RAM when the buffer
    /// fills at least half of its 18-Kbit RAMs, LUT RAM otherwise ([`MemKind::ram_by_rule`]).
    /// CNV's eight buffers (104–252 words of 16–32 bits, 12–44 % of a RAMB18) are LUT RAM.
    pub fn buffer_kind(&self) -> MemKind {
        MemKind::ram_by_rule(self.depth, self.word_bits())
    }
}

/// A `bnn_pool` instance: max over `kk` window positions of `cw` words of `lanes` elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HwPool {
    pub lanes: usize,
    pub cw: usize,
    pub kk: usize,
    pub element: HwElement,
    /// Output pixels per frame.
    pub pixels: usize,
}

/// A `bnn_gap` instance: per channel, the sum over `pixels` input pixels of `cw` words of
/// `lanes` elements each (global average pooling without the division, which the next layer's
/// thresholds or the output affine absorb).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HwGap {
    pub lanes: usize,
    pub cw: usize,
    /// H·W: pixels summed per frame.
    pub pixels: usize,
    /// True channels: slots `channels..cw·lanes` emit 0 (a padded bipolar slot carries −1).
    pub channels: usize,
    pub in_element: HwElement,
    /// The sum's type ([`crate::ir::GlobalAvgPool::sum_dtype`]): the accumulator width.
    pub out_dtype: DataType,
}

impl HwGap {
    /// The output element of slot `s` for the `pixels` input elements `v(p)` of that slot.
    pub fn sum_slot(&self, s: usize, v: impl Fn(usize) -> u64) -> u64 {
        if s >= self.channels {
            return 0;
        }
        let sum: i64 = (0..self.pixels).map(|p| self.in_element.decode(v(p))).sum();
        self.out_dtype.encode(sum)
    }
}

/// One matrix-vector-threshold unit (a `bnn_mvtu` with its ROMs).
#[derive(Clone, Debug, PartialEq)]
pub struct HwMvtu {
    /// True matrix width (fan-in K) and height (output channels).
    pub mw: usize,
    pub mh: usize,
    /// Padded: multiples of SIMD and PE.
    pub mw_pad: usize,
    pub mh_pad: usize,
    pub pe: usize,
    pub simd: usize,
    /// Vectors per frame: output pixels of a conv layer, 1 for dense.
    pub vectors: usize,
    pub input_dtype: DataType,
    pub weight_dtype: DataType,
    /// Bipolar weights × bipolar inputs: XNOR-popcount, accumulator = popcount P.
    pub xnor: bool,
    /// Signed accumulator width of the MVTU (holds every hardware accumulator value, and 2P − K
    /// for an XNOR layer without activation).
    pub acc_bits: u32,
    /// Range of the hardware accumulator: `[0, K]` for XNOR, the true range otherwise.
    pub acc_lo: i64,
    pub acc_hi: i64,
    /// `[mh_pad, mw_pad]` weight values (true values, padding included).
    pub weights: Array2<i32>,
    pub activation: HwActivation,
    /// Element type of the output stream.
    pub output: HwElement,
    /// ROMs or constants in the RTL (`net.toml` `weight_storage`). With
    /// [`crate::ir::WeightStorage::Logic`], `weight_mem` is `Logic`, forced, untiled: no block
    /// RAM, no `.mem` files.
    pub weight_storage: crate::ir::WeightStorage,
    /// Where the weight ROMs (one per PE, NF·SF words of SIMD·WBITS bits) live.
    pub weight_mem: HwMemory,
    /// Where the threshold ROMs (one per PE, NF words of `tmem_width()` bits) live; `None`
    /// without thresholds.
    pub threshold_mem: Option<HwMemory>,
}

/// The primitive a ROM is built from: `bnn_rom`'s `RAM_STYLE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemKind {
    /// Block RAM (RAMB18/36 on xc7, DP16KD on ECP5, SB_RAM40_4K on iCE40).
    Block,
    /// LUTs holding the contents, read into a flip-flop.
    Distributed,
    /// LUT logic and flip-flops (the smallest ROMs).
    Logic,
}

impl MemKind {
    /// The size rule of `docs/hardware.md` for a ROM of `words` × `bits`: up to
    /// [`MemKind::LOGIC_MAX_WORDS`] words every data bit is one LUT4 of the address (logic);
    /// otherwise block RAM when the ROM fills at least half of the 18-Kbit RAMs it needs
    /// ([`MemKind::block_fill`] ≥ [`MemKind::BLOCK_MIN_FILL`]) or is deeper than
    /// [`MemKind::DISTRIBUTED_MAX_WORDS`], LUTs (distributed) when not.
    ///
    /// Why the fill, not the size: a block RAM is spent whole. CNV's conv1 has 32 ROMs of 36 × 32
    /// bits, 6 % of a RAMB18 each: 32 RAMB18 as block RAM, about 1,000 LUT6 as LUT ROMs. At half
    /// fill the two cost about the same share of an xc7z020 (1 RAMB18 of 280 ≈ 190 of its 53,200
    /// LUTs; a LUT6 ROM holds 64 bits, so 9,216 bits take ~150 LUTs and their multiplexers).
    pub fn by_rule(words: usize, bits: usize) -> MemKind {
        if words <= Self::LOGIC_MAX_WORDS {
            MemKind::Logic
        } else {
            Self::ram_by_rule(words, bits)
        }
    }

    /// The fill rule alone, for RAMs that cannot be logic (the window generator's buffer): block
    /// RAM from half fill on or past [`MemKind::DISTRIBUTED_MAX_WORDS`] words, else LUT RAM.
    pub fn ram_by_rule(words: usize, bits: usize) -> MemKind {
        if words > Self::DISTRIBUTED_MAX_WORDS
            || Self::block_fill(words, bits) >= Self::BLOCK_MIN_FILL
        {
            MemKind::Block
        } else {
            MemKind::Distributed
        }
    }

    /// The share of its 18-Kbit block RAMs a `words` × `bits` memory fills: its bits over those
    /// of the fewest RAMB18 / DP16KD configurations that hold it
    /// ([`crate::codegen::cost::fewest_tiles`]). 36 × 32 → 0.06; 288 × 32 → 0.5; 416 × 64 → 0.72.
    pub fn block_fill(words: usize, bits: usize) -> f64 {
        use crate::codegen::cost::{fewest_tiles, BLOCK18_CONFIGS};
        let rams = fewest_tiles(words as u64, bits as u64, &BLOCK18_CONFIGS);
        if rams == 0 {
            return 0.0;
        }
        (words * bits) as f64 / (rams as f64 * Self::BLOCK18_BITS as f64)
    }

    /// Deepest ROM built as logic: 16 words, one LUT4 per data bit.
    pub const LOGIC_MAX_WORDS: usize = 16;
    /// Deepest memory built from LUTs: past 2048 words (the 9-bit configuration's depth) the
    /// read multiplexer behind the LUTs grows too deep for 100 MHz on a LUT4 fabric, whatever
    /// the fill (CNV's fc2 ROMs, 1536 × 1, are the deepest LUT ROMs of the examples).
    pub const DISTRIBUTED_MAX_WORDS: usize = 2048;
    /// Least fill of its block RAMs for a memory to go to block RAM.
    pub const BLOCK_MIN_FILL: f64 = 0.5;
    /// Bits of one 18-Kbit block RAM (RAMB18E1, DP16KD; data and parity bits).
    pub const BLOCK18_BITS: usize = 18 * 1024;

    /// `bnn_rom`'s `RAM_STYLE` value, and `report.json`'s name.
    pub fn name(self) -> &'static str {
        match self {
            MemKind::Block => "block",
            MemKind::Distributed => "distributed",
            MemKind::Logic => "logic",
        }
    }
}

/// One of a layer's ROM sets (one ROM per PE): what it is built from, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HwMemory {
    pub kind: MemKind,
    /// Whether `net.toml` forced the kind (`ram_style` / `threshold_ram_style`), rather than the
    /// size rule.
    pub forced: bool,
    /// How a deep block ROM is split into RAMs (`bnn_rom`'s tiled mode); `None` for one memory
    /// that the synthesis tool maps itself.
    pub tiling: Option<BlockTiling>,
}

/// A block ROM split by the generator into 18-Kbit RAMs that each hold one slice of one bank
/// (`hw/bnn_rom.v`, tiled mode). Left to itself, yosys stacks the RAMs of a deep ROM in depth
/// (18432 × 32 as 18 × 2 RAMs of 1024 × 18) behind a wide LUT multiplexer that sits between the
/// RAMs' unregistered outputs and the ROM's output register: CNV's conv5 placed at 92 MHz on the
/// ECP5 (80.9 MHz for that ROM alone, 121.1 MHz tiled). Tiled, every RAM holds a whole bank's
/// depth of a few bits (16384 × 1, 2048 × 9, ...), so the only logic after a RAM is the bank
/// multiplexer, 2:1 up to 32768 words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockTiling {
    /// Words per bank, a power of two; the last bank holds the rest.
    pub bank_depth: usize,
    pub banks: usize,
    /// Bits per slice in the full banks (the last slice of a bank may be narrower).
    pub tile_width: usize,
    /// Bits per slice in the last bank.
    pub last_tile_width: usize,
    /// RAMs in all.
    pub tiles: usize,
}

/// One RAM of a tiled ROM: words `first_word ..` of the bank, bits `lsb .. lsb + width`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tile {
    /// Its number: banks in order, slices LSB first (`bnn_rom`'s file `<stem>NNN.mem`).
    pub index: usize,
    pub first_word: usize,
    pub depth: usize,
    pub lsb: usize,
    pub width: usize,
}

impl BlockTiling {
    /// The tiling of a `words` × `bits` block ROM, or `None` where the tool's own mapping
    /// stacks nothing (at most 512 words: one 512 × 36 RAM per 36 bits) or where one RAM holds
    /// it all. Of the bank depths 512 … 16384 (the depths of the 18-Kbit configurations,
    /// [`crate::codegen::cost::BLOCK18_CONFIGS`]), each bank sliced as wide as one RAM of the
    /// bank's depth allows, it takes the fewest RAMs, then the fewest banks; and only if that is
    /// no more RAMs than the cheapest untiled mapping (the cost model's
    /// [`crate::codegen::cost::fewest_tiles`]), so tiling never costs block RAM by that count.
    /// (yosys can beat that count by packing words across the parity bits: 18432 × 32 in 32
    /// RAMs, against 36 tiled.)
    pub fn for_rom(words: usize, bits: usize) -> Option<BlockTiling> {
        use crate::codegen::cost::{fewest_tiles, BLOCK18_CONFIGS};
        if words <= 512 || bits == 0 {
            return None;
        }
        // The widest configuration that holds `depth` words.
        let width_for = |depth: usize| {
            BLOCK18_CONFIGS
                .iter()
                .filter(|&&(_, d)| d as usize >= depth)
                .map(|&(w, _)| w as usize)
                .max()
        };
        let best = BLOCK18_CONFIGS
            .iter()
            .filter_map(|&(_, d)| {
                // One bank: the shallowest configuration that holds every word (all the
                // deeper ones give the same tiles).
                let bank_depth = (d as usize).min(words.next_power_of_two());
                let banks = words.div_ceil(bank_depth);
                let last = words - (banks - 1) * bank_depth;
                let tile_width = width_for(bank_depth)?;
                let last_tile_width = width_for(last)?;
                let tiles =
                    (banks - 1) * bits.div_ceil(tile_width) + bits.div_ceil(last_tile_width);
                Some(BlockTiling {
                    bank_depth,
                    banks,
                    tile_width,
                    last_tile_width,
                    tiles,
                })
            })
            .min_by_key(|t| (t.tiles, t.banks))?;
        let untiled = fewest_tiles(words as u64, bits as u64, &BLOCK18_CONFIGS) as usize;
        (best.tiles > 1 && best.tiles <= untiled).then_some(best)
    }

    /// In words, e.g. "tiled into 36 RAMs: 1 bank of 16384 words in 1-bit slices, then 2048
    /// words in 9-bit slices (2:1 bank multiplexer)".
    pub fn describe(&self, words: usize, bits: usize) -> String {
        let last = words - (self.banks - 1) * self.bank_depth;
        let full = match self.banks {
            1 => String::new(),
            2 => format!(
                "1 bank of {} words in {}-bit slices, then ",
                self.bank_depth, self.tile_width
            ),
            n => format!(
                "{} banks of {} words in {}-bit slices, then ",
                n - 1,
                self.bank_depth,
                self.tile_width
            ),
        };
        let mux = if self.banks > 1 {
            format!(" ({}:1 bank multiplexer)", self.banks)
        } else {
            String::new()
        };
        let slices = bits.div_ceil(self.last_tile_width);
        format!(
            "tiled into {} RAMs: {full}{last} words in {} slice{} of {} bits{mux}",
            self.tiles,
            slices,
            if slices == 1 { "" } else { "s" },
            self.last_tile_width
        )
    }

    /// The RAMs of a `words` × `bits` ROM with this tiling, in file order.
    pub fn tiles(&self, words: usize, bits: usize) -> Vec<Tile> {
        let mut out = Vec::with_capacity(self.tiles);
        let per_full_bank = bits.div_ceil(self.tile_width);
        for b in 0..self.banks {
            let last = b + 1 == self.banks;
            let tw = if last {
                self.last_tile_width
            } else {
                self.tile_width
            };
            let first_word = b * self.bank_depth;
            let depth = if last {
                words - first_word
            } else {
                self.bank_depth
            };
            for s in 0..bits.div_ceil(tw) {
                out.push(Tile {
                    index: b * per_full_bank + s,
                    first_word,
                    depth,
                    lsb: s * tw,
                    width: tw.min(bits - s * tw),
                });
            }
        }
        out
    }
}

impl HwMemory {
    /// Why this kind, for reports and the generated comments: `net.toml <field>`, or the part of
    /// the size rule that chose it for a ROM of `words` × `bits`.
    pub fn reason(&self, field: &str, words: usize, bits: usize) -> String {
        if self.forced {
            return format!("net.toml {field} = \"{}\"", self.kind.name());
        }
        let fill = MemKind::block_fill(words, bits) * 100.0;
        let min_fill = MemKind::BLOCK_MIN_FILL * 100.0;
        match MemKind::by_rule(words, bits) {
            MemKind::Logic => format!(
                "size rule: {words} words <= {}, one LUT4 per bit",
                MemKind::LOGIC_MAX_WORDS
            ),
            MemKind::Block if words > MemKind::DISTRIBUTED_MAX_WORDS => format!(
                "size rule: {words} words > {}, too deep for LUTs",
                MemKind::DISTRIBUTED_MAX_WORDS
            ),
            MemKind::Block => format!(
                "size rule: {words} x {bits} bits fill {fill:.0} % of their block RAMs (>= \
                 {min_fill:.0} %)"
            ),
            MemKind::Distributed => format!(
                "size rule: {words} x {bits} bits would fill {fill:.0} % of their block RAMs \
                 (< {min_fill:.0} %), LUTs instead"
            ),
        }
    }

    /// [`HwMemory::reason`], and for a tiled ROM its tiling, for the generated comments.
    pub fn describe(&self, field: &str, words: usize, bits: usize) -> String {
        let reason = self.reason(field, words, bits);
        match self.tiling {
            None => reason,
            Some(t) => format!("{reason}; {}", t.describe(words, bits)),
        }
    }

    /// The style of a ROM of `words` × `bits`: `style` if forced, else the size rule.
    pub fn choose(style: crate::ir::RamStyle, words: usize, bits: usize) -> HwMemory {
        use crate::ir::RamStyle;
        let kind = match style {
            RamStyle::Auto => MemKind::by_rule(words, bits),
            RamStyle::Block => MemKind::Block,
            RamStyle::Distributed => MemKind::Distributed,
            RamStyle::Logic => MemKind::Logic,
        };
        HwMemory {
            kind,
            forced: style != RamStyle::Auto,
            tiling: match kind {
                MemKind::Block => BlockTiling::for_rom(words, bits),
                _ => None,
            },
        }
    }
}

/// The MVTU's activation in the hardware domain.
#[derive(Clone, Debug, PartialEq)]
pub enum HwActivation {
    Thresholds(HwThresholds),
    /// Raw accumulators out (`NSTEPS = 0`); XNOR layers output `2P − K`.
    Identity,
}

#[derive(Clone, Debug, PartialEq)]
pub struct HwThresholds {
    /// `[mh_pad, nsteps]`, in the hardware accumulator domain, rows ascending.
    pub values: Array2<i64>,
    /// Per padded channel: the comparison is `acc ≤ T` (direction bit 1).
    pub le: Vec<bool>,
    /// Signed width of the values the threshold ROMs store ([`HwThresholds::rom_value`]: `T`,
    /// or `T + 1` for `le` channels), the MVTU's `TBITS`.
    pub tbits: u32,
    /// Added to the count modulo 2^OBITS (0 for bipolar outputs).
    pub out_bias: i64,
    /// The IR's output datatype.
    pub out_dtype: DataType,
}

impl HwThresholds {
    pub fn nsteps(&self) -> usize {
        self.values.ncols()
    }

    /// Threshold `j` of channel `c` as its ROM word stores it (`T'` in `docs/mvtu-spec.md`,
    /// section 5). The MVTU has one `acc ≥ T'` comparator per threshold and no `≤` path: a
    /// falling channel stores `T + 1`, since `acc ≤ T ⟺ ¬(acc ≥ T + 1)`, and the hardware
    /// inverts the count by the direction bit (`NSTEPS − #{acc ≥ T'}`). `values` stays in the
    /// accumulator domain (`T`); this encoding belongs to the ROM words only.
    pub fn rom_value(&self, c: usize, j: usize) -> i64 {
        self.values[[c, j]] + i64::from(self.le[c])
    }

    /// The output bit pattern (low `out_dtype.bits()` bits) of channel `c` for hardware
    /// accumulator `acc`: exactly what `bnn_thresh` computes.
    pub fn apply_bits(&self, c: usize, acc: i64) -> u64 {
        let row = self.values.row(c);
        let count = if self.le[c] {
            row.iter().filter(|&&t| acc <= t).count()
        } else {
            row.iter().filter(|&&t| acc >= t).count()
        } as i64;
        let bits = self.out_dtype.bits();
        ((count + self.out_bias) as u64) & ((1u64 << bits) - 1)
    }
}

/// The element type of a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HwElement {
    Data(DataType),
    /// A raw accumulator, two's complement of this many bits.
    Acc(u32),
    /// A class index (top-k head output), unsigned, this many bits.
    Index(u32),
}

impl HwElement {
    pub fn bits(self) -> u32 {
        match self {
            HwElement::Data(d) => d.bits(),
            HwElement::Acc(b) | HwElement::Index(b) => b,
        }
    }

    /// Whether the bit pattern is two's complement.
    pub fn signed(self) -> bool {
        match self {
            HwElement::Data(d) => d.is_signed(),
            HwElement::Acc(_) => true,
            HwElement::Index(_) => false,
        }
    }

    /// The value of a bit pattern (the low `bits()` bits are used).
    pub fn decode(self, raw: u64) -> i64 {
        match self {
            HwElement::Data(d) => d.decode(raw),
            HwElement::Acc(b) => {
                let raw = raw & mask(b);
                ((raw << (64 - b)) as i64) >> (64 - b)
            }
            HwElement::Index(b) => (raw & mask(b)) as i64,
        }
    }

    /// The bit pattern of a value.
    pub fn encode(self, v: i64) -> u64 {
        match self {
            HwElement::Data(d) => d.encode(v),
            HwElement::Acc(b) | HwElement::Index(b) => (v as u64) & mask(b),
        }
    }

    /// `bipolar`, `uint2`, `int12`, ...
    pub fn name(self) -> String {
        match self {
            HwElement::Data(d) => d.to_string(),
            HwElement::Acc(b) => format!("int{b}"),
            HwElement::Index(b) => format!("uint{b}"),
        }
    }
}

pub(crate) fn mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// What sits between layer `from` and layer `from + 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HwLink {
    pub from: usize,
    /// Element slots per frame on the link.
    pub elements: usize,
    /// Producer word width and consumer word width, in bits.
    pub in_bits: usize,
    pub out_bits: usize,
    /// Depth (words of `out_bits`) of the FIFO in front of the consumer, if any: the
    /// consumer's `net.toml` `fifo_depth`, else `rule_fifo_depth`.
    pub fifo_depth: Option<usize>,
    /// The analytic depth (one consumer frame, [`crate::passes::pad`]), whatever `fifo_depth`
    /// is; `Some` exactly when `fifo_depth` is.
    pub rule_fifo_depth: Option<usize>,
}

impl HwLink {
    /// Whether a `bnn_dwc` is needed.
    pub fn dwc(&self) -> bool {
        self.in_bits != self.out_bits
    }
}

/// The top-k head (`bnn_topk`) after the last layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HwHead {
    pub k: usize,
    /// Classes: the last layer's true output elements.
    pub n: usize,
    /// Values per input word (the last layer's PE) and their bits.
    pub elems: usize,
    pub elem_bits: u32,
    pub signed: bool,
    /// Output word width: the index, zero-extended to a multiple of 8 bits.
    pub idx_bits: usize,
}

impl HwHead {
    /// Register stages of `bnn_topk` between its input and its merge stage: the input register
    /// and clog2(ELEMS) tournament levels.
    pub fn stages(&self) -> usize {
        1 + self.elems.next_power_of_two().trailing_zeros() as usize
    }
}

/// How a frame travels on an AXI stream port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamFormat {
    /// TDATA width (a multiple of 8).
    pub tdata_bits: usize,
    pub elements_per_word: usize,
    pub element: HwElement,
    pub words_per_frame: usize,
    /// Meaningful elements per frame.
    pub elements: usize,
    /// Element slots per frame (`words_per_frame · elements_per_word`); the slots `layout` does
    /// not map an element to are padding (zero on input, don't-care on output).
    pub slots: usize,
    pub layout: Layout,
}

impl StreamFormat {
    /// Bits of each word that carry elements (the rest of TDATA is zero).
    pub fn used_bits(&self) -> usize {
        self.elements_per_word * self.element.bits() as usize
    }

    /// A description of the padding slots for reports (ranges inclusive), or `None`: "slots
    /// 10..11" for a flat vector, "slots 3..3 of each 4-slot pixel" for an image.
    pub fn padding_text(&self) -> Option<String> {
        let l = &self.layout;
        if !l.padded() {
            None
        } else if l.pixels == 1 {
            Some(format!("slots {}..{}", l.channels, l.slots - 1))
        } else {
            Some(format!(
                "slots {}..{} of each {}-slot pixel",
                l.channels,
                l.slots - 1,
                l.slots
            ))
        }
    }
}

/// Rounds up to a multiple of 8 (AXI TDATA widths).
pub fn round8(bits: usize) -> usize {
    bits.div_ceil(8).max(1) * 8
}

/// The code `bnn_mvtu`'s WTYPE/ITYPE use: 0 bipolar, 1 unsigned, 2 signed.
pub fn type_code(dt: DataType) -> u32 {
    match dt {
        DataType::Bipolar => 0,
        DataType::UInt(_) => 1,
        DataType::Ternary | DataType::Int(_) => 2,
    }
}

/// Bits of the smallest two's complement number holding `lo..=hi` (at least 1).
pub fn signed_bits(lo: i64, hi: i64) -> u32 {
    let need = |v: i64| -> u32 {
        if v >= 0 {
            65 - (v as u64).leading_zeros()
        } else {
            65 - ((-(v + 1)) as u64).leading_zeros()
        }
    };
    need(lo).max(need(hi)).max(1)
}

/// Bits of `v` unsigned (at least 1).
pub fn unsigned_bits(v: u64) -> u32 {
    (64 - v.leading_zeros()).max(1)
}

/// `name` as a Verilog identifier: characters other than letters, digits and `_` become `_`, and a
/// leading digit gets a `_` in front.
pub fn verilog_ident(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

impl HwMvtu {
    pub fn nf(&self) -> usize {
        self.mh_pad / self.pe
    }

    pub fn sf(&self) -> usize {
        self.mw_pad / self.simd
    }

    /// Cycles per vector: NF·SF.
    pub fn vector_cycles(&self) -> usize {
        self.nf() * self.sf()
    }

    /// Cycles per frame: vectors · NF·SF.
    pub fn cycles(&self) -> usize {
        self.vectors * self.vector_cycles()
    }

    pub fn wbits(&self) -> u32 {
        self.weight_dtype.bits()
    }

    pub fn ibits(&self) -> u32 {
        self.input_dtype.bits()
    }

    pub fn obits(&self) -> u32 {
        self.output.bits()
    }

    pub fn nsteps(&self) -> usize {
        match &self.activation {
            HwActivation::Thresholds(t) => t.nsteps(),
            HwActivation::Identity => 0,
        }
    }

    /// Threshold ROM word width (`NSTEPS·TBITS + 1`), 0 without thresholds.
    pub fn tmem_width(&self) -> usize {
        match &self.activation {
            HwActivation::Thresholds(t) => t.nsteps() * t.tbits as usize + 1,
            HwActivation::Identity => 0,
        }
    }

    /// The pad value of weights (see the module docs).
    pub fn pad_weight(&self) -> i32 {
        pad_weight(self.weight_dtype)
    }

    /// Hardware accumulator of padded row `r` for padded input bit patterns `x` (values of the
    /// input datatype; padded slots hold the zero pattern, decoded): popcount for XNOR layers,
    /// the dot product otherwise. A model of `bnn_dot` + accumulation, for tests and checks.
    pub fn hw_acc(&self, r: usize, x_bits: &[u64]) -> i64 {
        let row = self.weights.row(r);
        if self.xnor {
            row.iter()
                .zip(x_bits)
                .filter(|(&w, &x)| u64::from(w > 0) == (x & 1))
                .count() as i64
        } else {
            row.iter()
                .zip(x_bits)
                .map(|(&w, &x)| i64::from(w) * self.input_dtype.decode(x))
                .sum()
        }
    }

    /// The output bit pattern of padded channel `r` for hardware accumulator `acc`: a model of
    /// the MVTU's result stage.
    pub fn hw_out(&self, r: usize, acc: i64) -> u64 {
        match &self.activation {
            HwActivation::Thresholds(t) => t.apply_bits(r, acc),
            HwActivation::Identity => {
                let v = if self.xnor {
                    2 * acc - self.mw as i64
                } else {
                    acc
                };
                self.output.encode(v)
            }
        }
    }
}

impl HwLayer {
    /// The MVTU or VVAU of the layer (both have ROMs of the same shape), `None` for a pool.
    pub fn mvtu(&self) -> Option<&HwMvtu> {
        match &self.kind {
            HwKind::Mvtu(m) | HwKind::Vvau(m) => Some(m),
            HwKind::Pool(_) | HwKind::Gap(_) => None,
        }
    }

    /// Elements per input word of the layer's MVTU or VVAU (after the window generator): SIMD,
    /// or PE·SIMD for a VVAU; 0 for a pool.
    pub fn in_elems_of_unit(&self) -> usize {
        match &self.kind {
            HwKind::Mvtu(m) => m.simd,
            HwKind::Vvau(m) => m.pe * m.simd,
            HwKind::Pool(_) | HwKind::Gap(_) => 0,
        }
    }

    /// Whether the layer's unit is a `bnn_vvau` (depthwise).
    pub fn is_vvau(&self) -> bool {
        matches!(self.kind, HwKind::Vvau(_))
    }

    /// Elements per input word: the window generator's, else the MVTU's SIMD.
    pub fn in_elems(&self) -> usize {
        match (&self.window, &self.kind) {
            (Some(w), _) => w.elems,
            (None, HwKind::Mvtu(m)) => m.simd,
            (None, HwKind::Vvau(m)) => m.pe * m.simd,
            (None, HwKind::Pool(p)) => p.lanes,
            (None, HwKind::Gap(g)) => g.lanes,
        }
    }

    /// Bits per input element.
    pub fn in_ebits(&self) -> u32 {
        match (&self.window, &self.kind) {
            (Some(w), _) => w.ebits,
            (None, HwKind::Mvtu(m) | HwKind::Vvau(m)) => m.ibits(),
            (None, HwKind::Pool(p)) => p.element.bits(),
            (None, HwKind::Gap(g)) => g.in_element.bits(),
        }
    }

    pub fn in_word_bits(&self) -> usize {
        self.in_elems() * self.in_ebits() as usize
    }

    /// Elements per output word: the MVTU's PE or the pool's lanes.
    pub fn out_elems(&self) -> usize {
        match &self.kind {
            HwKind::Mvtu(m) | HwKind::Vvau(m) => m.pe,
            HwKind::Pool(p) => p.lanes,
            HwKind::Gap(g) => g.lanes,
        }
    }

    pub fn out_element(&self) -> HwElement {
        match &self.kind {
            HwKind::Mvtu(m) | HwKind::Vvau(m) => m.output,
            HwKind::Pool(p) => p.element,
            HwKind::Gap(g) => HwElement::Data(g.out_dtype),
        }
    }

    pub fn out_word_bits(&self) -> usize {
        self.out_elems() * self.out_element().bits() as usize
    }

    /// Input words per frame.
    pub fn in_words(&self) -> usize {
        self.input.total_slots() / self.in_elems()
    }

    /// Output words per frame.
    pub fn out_words(&self) -> usize {
        self.output.total_slots() / self.out_elems()
    }

    /// Ideal cycles per frame: the busiest of the window generator's input (one word per cycle),
    /// its output and the MVTU's `vectors · NF·SF`.
    pub fn cycles(&self) -> usize {
        let window = self
            .window
            .as_ref()
            .map_or(0, |w| w.geom.frame_words().max(w.geom.out_words()));
        let core = match &self.kind {
            HwKind::Mvtu(m) | HwKind::Vvau(m) => m.cycles(),
            HwKind::Pool(p) => p.pixels * p.kk * p.cw,
            // One input word per cycle.
            HwKind::Gap(g) => g.pixels * g.cw,
        };
        window.max(core).max(self.in_words())
    }

    /// `dense`, `conv2d`, `depthwise`, `maxpool` or `globalavgpool`.
    pub fn kind_name(&self) -> &'static str {
        match (&self.kind, &self.window) {
            (HwKind::Mvtu(_), None) if self.bypassed_window.is_some() => "conv2d",
            (HwKind::Mvtu(_), None) => "dense",
            (HwKind::Mvtu(_), Some(_)) => "conv2d",
            (HwKind::Vvau(_), _) => "depthwise",
            (HwKind::Pool(_), _) => "maxpool",
            (HwKind::Gap(_), _) => "globalavgpool",
        }
    }
}

pub(crate) fn pad_weight(weight_dtype: DataType) -> i32 {
    if weight_dtype.contains(0) {
        0
    } else {
        1
    }
}

impl HwNetwork {
    /// The input stream: the first layer's input words (SIMD elements for an MVTU, whole pixels
    /// for a max-pool), slots as [`HwNetwork::input_layout`].
    pub fn input_stream(&self) -> StreamFormat {
        let l0 = &self.layers[0];
        let element = HwElement::Data(self.input_dtype);
        StreamFormat {
            tdata_bits: round8(l0.in_word_bits()),
            elements_per_word: l0.in_elems(),
            element,
            words_per_frame: l0.in_words(),
            elements: self.input_elements,
            slots: self.input_layout.total_slots(),
            layout: self.input_layout,
        }
    }

    /// The output stream: k index words with a head, else the last layer's output words.
    pub fn output_stream(&self) -> StreamFormat {
        match &self.head {
            Some(h) => StreamFormat {
                tdata_bits: h.idx_bits,
                elements_per_word: 1,
                element: HwElement::Index(h.idx_bits as u32),
                words_per_frame: h.k,
                elements: h.k,
                slots: h.k,
                layout: Layout {
                    pixels: 1,
                    channels: h.k,
                    slots: h.k,
                },
            },
            None => {
                let last = self.layers.last().expect("at least one layer");
                StreamFormat {
                    tdata_bits: round8(last.out_word_bits()),
                    elements_per_word: last.out_elems(),
                    element: last.out_element(),
                    words_per_frame: last.out_words(),
                    elements: last.output.elements(),
                    slots: last.output.total_slots(),
                    layout: last.output,
                }
            }
        }
    }

    /// The ideal initiation interval: the slowest layer's cycles per frame.
    pub fn ideal_ii(&self) -> usize {
        self.layers.iter().map(HwLayer::cycles).max().unwrap_or(0)
    }

    /// A bit-level model of the whole pipeline on one frame of true input values (for tests and
    /// as an executable statement of the stream conventions): lays the input out in slots with
    /// zero bit patterns in the padding, runs every layer in the hardware domain (windows with
    /// their pad pixels, padded matrices, pools on decoded elements), and returns what the output
    /// stream carries, decoded: the top-k indices with a head, else the true elements (NHWC).
    /// Panics if a padding slot feeding the next layer is not all-zero bits.
    pub fn model(&self, frame: &[i64]) -> Vec<i64> {
        let mut x: Vec<u64> = vec![0; self.input_layout.total_slots()];
        for (e, &v) in frame.iter().enumerate() {
            x[self.input_layout.slot(e)] = self.input_dtype.encode(v);
        }
        for (l, layer) in self.layers.iter().enumerate() {
            assert_eq!(x.len(), layer.input.total_slots(), "layer {}", layer.name);
            // Vectors the core sees: windows (window-major, then (ky, kx), slots innermost).
            let vectors: Vec<Vec<u64>> = match &layer.window {
                // a 1×1 conv without generator: one vector per pixel
                None if layer.bypassed_window.is_some() => {
                    x.chunks(layer.input.slots).map(<[u64]>::to_vec).collect()
                }
                None => vec![x.clone()],
                Some(w) => {
                    let g = &w.geom;
                    let cs = g.cw * w.elems;
                    let mut out = Vec::new();
                    for oy in 0..g.oh() {
                        for ox in 0..g.ow() {
                            let mut v = Vec::with_capacity(g.kh * g.kw * cs);
                            for ky in 0..g.kh {
                                for kx in 0..g.kw {
                                    let iy = (oy * g.sh + ky) as i64 - g.ph as i64;
                                    let ix = (ox * g.sw + kx) as i64 - g.pw as i64;
                                    if iy < 0 || ix < 0 || iy >= g.ih as i64 || ix >= g.iw as i64 {
                                        v.extend_from_slice(&w.pad);
                                    } else {
                                        let p = iy as usize * g.iw + ix as usize;
                                        v.extend_from_slice(&x[p * cs..(p + 1) * cs]);
                                    }
                                }
                            }
                            out.push(v);
                        }
                    }
                    out
                }
            };
            let mut out = Vec::with_capacity(layer.output.total_slots());
            for v in &vectors {
                match &layer.kind {
                    HwKind::Mvtu(m) => {
                        assert_eq!(v.len(), m.mw_pad, "layer {}", layer.name);
                        out.extend((0..m.mh_pad).map(|r| m.hw_out(r, m.hw_acc(r, v))));
                    }
                    HwKind::Vvau(m) => {
                        // Channel r meets its own slot of every kernel position (the window
                        // order of the stream does not matter to the result); padded kernel
                        // positions (SIMD ∤ KH·KW) hold the zero pattern.
                        let cs = layer.input.slots;
                        assert_eq!(v.len(), m.mw * cs, "layer {}", layer.name);
                        out.extend((0..m.mh_pad).map(|r| {
                            let mut x: Vec<u64> = (0..m.mw).map(|k| v[k * cs + r]).collect();
                            x.resize(m.mw_pad, 0);
                            m.hw_out(r, m.hw_acc(r, &x))
                        }));
                    }
                    HwKind::Pool(p) => {
                        let cs = p.cw * p.lanes;
                        out.extend((0..cs).map(|s| {
                            let best = (0..p.kk)
                                .map(|k| p.element.decode(v[k * cs + s]))
                                .max()
                                .expect("kk >= 1");
                            p.element.encode(best)
                        }));
                    }
                    HwKind::Gap(g) => {
                        let cs = g.cw * g.lanes;
                        out.extend((0..cs).map(|s| g.sum_slot(s, |p| v[p * cs + s])));
                    }
                }
            }
            let lo = layer.output;
            if l + 1 < self.layers.len() {
                for pix in 0..lo.pixels {
                    let pad = &out[pix * lo.slots + lo.channels..(pix + 1) * lo.slots];
                    assert!(
                        pad.iter().all(|&b| b == 0),
                        "layer {}: padded slots of pixel {pix} are not zero: {pad:?}",
                        layer.name
                    );
                }
            }
            x = out;
        }
        let last = self.layers.last().expect("at least one layer");
        let values: Vec<i64> = (0..last.output.elements())
            .map(|e| last.out_element().decode(x[last.output.slot(e)]))
            .collect();
        match &self.head {
            Some(h) => crate::golden::top_k(&values, h.k)
                .into_iter()
                .map(|i| i as i64)
                .collect(),
            None => values,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(bank_depth: usize, banks: usize, tw: usize, lw: usize, tiles: usize) -> BlockTiling {
        BlockTiling {
            bank_depth,
            banks,
            tile_width: tw,
            last_tile_width: lw,
            tiles,
        }
    }

    #[test]
    fn deep_rom_tilings() {
        // CNV conv5: 16384 x 1 (32 RAMs) and 2048 x 9 (4 RAMs), a 2:1 bank multiplexer.
        assert_eq!(BlockTiling::for_rom(18432, 32), Some(t(16384, 2, 1, 9, 36)));
        // CNV conv4: 2048 x 9 (4) and 512 x 36 (1), where yosys stacks 5 RAMs of 512 x 36.
        assert_eq!(BlockTiling::for_rom(2304, 32), Some(t(2048, 2, 9, 36, 5)));
        // CNV fc1: 2 banks of 16384 x 1, 8 bits each.
        assert_eq!(BlockTiling::for_rom(32768, 8), Some(t(16384, 2, 1, 1, 16)));
        assert_eq!(BlockTiling::for_rom(4608, 32), Some(t(4096, 2, 4, 36, 9)));
        // One bank, sliced: 1024 x 18 twice instead of two 512 x 36 stacked.
        assert_eq!(BlockTiling::for_rom(1024, 32), Some(t(1024, 1, 18, 18, 2)));
        // Nothing to stack or split.
        assert_eq!(BlockTiling::for_rom(512, 64), None);
        assert_eq!(BlockTiling::for_rom(1536, 1), None);
        assert_eq!(BlockTiling::for_rom(16384, 1), None);
    }

    #[test]
    fn tiling_never_needs_more_rams_than_the_untiled_estimate() {
        use crate::codegen::cost::{fewest_tiles, BLOCK18_CONFIGS};
        for words in (513..70_000).step_by(977) {
            for bits in [1, 3, 8, 9, 17, 32, 36, 64, 100] {
                if let Some(t) = BlockTiling::for_rom(words, bits) {
                    let untiled = fewest_tiles(words as u64, bits as u64, &BLOCK18_CONFIGS);
                    assert!(t.tiles as u64 <= untiled, "{words} x {bits}: {t:?}");
                    assert!(t.bank_depth.is_power_of_two());
                }
            }
        }
    }

    /// Every bit of every word is in exactly one tile, and every tile fits one 18-Kbit RAM.
    #[test]
    fn tiles_cover_the_rom_once() {
        for (words, bits) in [
            (18432, 32),
            (2304, 32),
            (32768, 8),
            (4608, 32),
            (1024, 32),
            (5000, 7),
        ] {
            let tiling = BlockTiling::for_rom(words, bits).unwrap();
            let tiles = tiling.tiles(words, bits);
            assert_eq!(tiles.len(), tiling.tiles);
            let mut seen = vec![0u8; words * bits];
            for (i, tile) in tiles.iter().enumerate() {
                assert_eq!(tile.index, i, "file order");
                assert!(tile.depth * tile.width <= 18 * 1024 && tile.depth <= 16384);
                for w in tile.first_word..tile.first_word + tile.depth {
                    for b in tile.lsb..tile.lsb + tile.width {
                        seen[w * bits + b] += 1;
                    }
                }
            }
            assert!(seen.iter().all(|&n| n == 1), "{words} x {bits}");
        }
    }
}
