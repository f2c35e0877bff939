//! Lowers a (lowered, dense-only) network to the *hardware IR* the Verilog backend emits: every
//! matrix padded to whole folds, thresholds moved into the hardware's accumulator domain, and the
//! stream width and element count of every link fixed.
//!
//! # Padding (see `docs/hardware.md`)
//!
//! The MVTU needs `SIMD | MW` and `PE | MH`. When the folding does not divide, the matrix is padded
//! and the padding is made invisible:
//!
//! - **Padded input elements carry the all-zero bit pattern.** The host zero-pads the last input
//!   word; between layers the producer's padded channels emit zero bits (below).
//! - **Padded weight columns contribute nothing.** A zero bit pattern is the value 0 for binary,
//!   `uintN` and `intN` inputs, so any weight works there; it is −1 for a bipolar input, so the
//!   padded weight is 0 whenever the weight datatype has a 0 (ternary, binary, `uintN`, `intN`).
//!   The only weight type without a 0 is bipolar, and bipolar × bipolar runs in XNOR mode: the
//!   padded weight bit is 1 (+1), and XNOR(0, 1) = 0 adds nothing to the popcount.
//! - **XNOR thresholds move to the popcount domain with the true fan-in K** (not the padded one):
//!   `acc = 2P − K`, so `acc ≥ T ⟺ P ≥ ⌈(T+K)/2⌉` and `acc ≤ T ⟺ P ≤ ⌊(T+K)/2⌋`, and the
//!   MVTU's `XNOR_FANIN` is K. Multi-bit paths keep the true accumulator domain.
//! - **Padded output channels emit the all-zero bit pattern**: their thresholds are "always met"
//!   (the hardware accumulator's minimum) for the first `c` steps and "never met" (maximum + 1) for
//!   the rest, with `c` the count that encodes to zero bits (`(c + OUT_BIAS) mod 2^OBITS = 0`: 0
//!   for bipolar and unsigned outputs, 2^(n−1) for `intN` with bias −2^(n−1)). Padded rows have
//!   padded weights. Without an activation (the last layer) the padded channels are don't-care
//!   padding, which the report lists.
//!
//! # Links
//!
//! Layer l emits `MH_pad(l)` elements per frame, layer l+1 consumes `MW_pad(l+1)`; the data-width
//! converter between them (`bnn_dwc`) is a plain bit-stream converter, so both counts must be the
//! same number, a multiple of `PE(l)` and of `SIMD(l+1)`. The pass pads both to the smallest
//! multiple of lcm(PE(l), SIMD(l+1)) that holds MH(l). This is ⌈MH/PE⌉·PE = ⌈MW/SIMD⌉·SIMD in the
//! usual cases; when it is more, NF(l) or SF(l+1) grows beyond the ceiling and [`HwNetwork::notes`]
//! says so. (A frame-aware element-count resizer in `hw/` would remove that cost.)

use crate::datatype::DataType;
use crate::error::{Error, Result};
use crate::ir::*;
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
    pub layers: Vec<HwLayer>,
    /// One per pair of consecutive layers.
    pub links: Vec<HwLink>,
    pub head: Option<HwHead>,
    /// Remarks about padding beyond the plain ceiling (cost the user may want to avoid).
    pub notes: Vec<String>,
}

/// One matrix-vector-threshold layer (a `bnn_mvtu` with its ROMs).
#[derive(Clone, Debug, PartialEq)]
pub struct HwLayer {
    pub name: String,
    /// `name` as a Verilog identifier.
    pub ident: String,
    /// True matrix width (fan-in K) and height (output channels).
    pub mw: usize,
    pub mh: usize,
    /// Padded: multiples of SIMD and PE.
    pub mw_pad: usize,
    pub mh_pad: usize,
    pub pe: usize,
    pub simd: usize,
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
    /// Signed width holding every value.
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

fn mask(bits: u32) -> u64 {
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
    /// Elements per frame on the link (= MH_pad of `from` = MW_pad of `from + 1`).
    pub elements: usize,
    /// Producer word width PE·b and consumer word width SIMD·b.
    pub in_bits: usize,
    pub out_bits: usize,
    /// Depth (words of `out_bits`) of the FIFO in front of the consumer, if any.
    pub fifo_depth: Option<usize>,
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
    /// Classes: the last layer's true MH.
    pub n: usize,
    /// Values per input word (the last layer's PE) and their bits.
    pub elems: usize,
    pub elem_bits: u32,
    pub signed: bool,
    /// Output word width: the index, zero-extended to a multiple of 8 bits.
    pub idx_bits: usize,
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
    /// Element slots per frame (`words_per_frame · elements_per_word`); slots from `elements` on
    /// are padding (zero on input, don't-care on output).
    pub slots: usize,
}

impl StreamFormat {
    /// Bits of each word that carry elements (the rest of TDATA is zero).
    pub fn used_bits(&self) -> usize {
        self.elements_per_word * self.element.bits() as usize
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

impl HwLayer {
    pub fn nf(&self) -> usize {
        self.mh_pad / self.pe
    }

    pub fn sf(&self) -> usize {
        self.mw_pad / self.simd
    }

    /// Cycles per frame: NF·SF.
    pub fn cycles(&self) -> usize {
        self.nf() * self.sf()
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

fn pad_weight(weight_dtype: DataType) -> i32 {
    if weight_dtype.contains(0) {
        0
    } else {
        1
    }
}

fn lcm(a: usize, b: usize) -> usize {
    fn gcd(a: usize, b: usize) -> usize {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    a / gcd(a, b) * b
}

/// Lowers `net` (already through [`super::lower`]) to the hardware IR.
///
/// Errors: conv2d and maxpool layers (not supported by the Verilog backend yet), a batch-norm
/// activation (run `passes::lower` first), a network without layers.
pub fn pad(net: &Network) -> Result<HwNetwork> {
    let input_dtype = net.input.dtype.as_data().ok_or_else(|| {
        Error::invalid("network input", "the input must have a declared datatype")
    })?;
    if net.layers.is_empty() {
        return Err(Error::Unsupported(format!(
            "network \"{}\" has no layers: the Verilog backend needs at least one dense layer",
            net.name
        )));
    }
    // Check everything is dense first, so the error names the first unsupported layer.
    let mut mvs = Vec::with_capacity(net.layers.len());
    for layer in &net.layers {
        match &layer.op {
            Op::MatVec(mv) if mv.conv.is_some() => {
                return Err(Error::Unsupported(format!(
                    "conv2d layers are not supported by the Verilog backend yet (layer \"{}\"); \
                     only dense networks can be built for now (`bnn-gen run` simulates conv nets)",
                    layer.name
                )))
            }
            Op::MatVec(mv) => mvs.push((layer, mv)),
            Op::MaxPool(_) => {
                return Err(Error::Unsupported(format!(
                    "maxpool layers are not supported by the Verilog backend yet (layer \"{}\"); \
                     only dense networks can be built for now (`bnn-gen run` simulates them)",
                    layer.name
                )))
            }
        }
    }

    // Padded sizes: MW_pad of the first layer is a plain ceiling (the host pads the input); each
    // link is a common multiple of PE(l) and SIMD(l+1); the last MH is a plain ceiling.
    let n = mvs.len();
    let mut mw_pad = vec![0usize; n];
    let mut mh_pad = vec![0usize; n];
    let mut notes = Vec::new();
    {
        let (_, mv0) = mvs[0];
        mw_pad[0] = mv0.folding.sf(mv0.cols()) * mv0.folding.simd;
    }
    for l in 0..n {
        let (layer, mv) = mvs[l];
        let pe = mv.folding.pe;
        if l + 1 < n {
            let (next, mv1) = mvs[l + 1];
            let simd = mv1.folding.simd;
            let unit = lcm(pe, simd);
            let e = mv.rows().div_ceil(unit) * unit;
            mh_pad[l] = e;
            mw_pad[l + 1] = e;
            let (nf_ceil, sf_ceil) = (mv.folding.nf(mv.rows()), mv1.folding.sf(mv1.cols()));
            if e / pe > nf_ceil || e / simd > sf_ceil {
                notes.push(format!(
                    "the link {} -> {} carries {e} elements per frame (a multiple of PE {pe} and \
                     SIMD {simd}) for {} channels: {} runs NF = {} (not {nf_ceil}) and {} runs \
                     SF = {} (not {sf_ceil}); a PE of {} that divides {} or a SIMD of {} that \
                     matches avoids this",
                    layer.name,
                    next.name,
                    mv.rows(),
                    layer.name,
                    e / pe,
                    next.name,
                    e / simd,
                    layer.name,
                    mv.rows(),
                    next.name
                ));
            }
        } else {
            mh_pad[l] = mv.folding.nf(mv.rows()) * pe;
        }
    }

    let mut layers = Vec::with_capacity(n);
    let mut used = std::collections::BTreeSet::new();
    for (l, &(layer, mv)) in mvs.iter().enumerate() {
        let in_dtype = layer.input.dtype.as_data().ok_or_else(|| {
            Error::Unsupported(format!(
                "layer \"{}\": its input is raw accumulators",
                layer.name
            ))
        })?;
        let mut ident = verilog_ident(&layer.name);
        while !used.insert(ident.clone()) {
            ident = format!("{ident}_{l}");
        }
        layers.push(pad_layer(layer, mv, in_dtype, mw_pad[l], mh_pad[l], ident)?);
    }

    let mut links = Vec::new();
    for l in 0..n.saturating_sub(1) {
        let (a, b) = (&layers[l], &layers[l + 1]);
        let bits = a.obits() as usize;
        debug_assert_eq!(a.obits(), b.ibits());
        links.push(HwLink {
            from: l,
            elements: a.mh_pad,
            in_bits: a.pe * bits,
            out_bits: b.simd * b.ibits() as usize,
            // A consumer with NF > 1 reads its input only during the first neuron fold; a FIFO of
            // one frame (SF words) lets the producer run a whole frame ahead meanwhile.
            fifo_depth: (b.nf() > 1).then(|| b.sf().max(2)),
        });
    }

    let head = net.head.map(|h| {
        let last = layers.last().expect("at least one layer");
        HwHead {
            k: h.k,
            n: last.mh,
            elems: last.pe,
            elem_bits: last.obits(),
            signed: last.output.signed(),
            // bnn_topk needs at least clog2(N) bits; TDATA is a multiple of 8.
            idx_bits: round8(unsigned_bits(last.mh as u64 - 1) as usize),
        }
    });

    Ok(HwNetwork {
        name: net.name.clone(),
        ident: verilog_ident(&net.name),
        input_dtype,
        input_elements: net.input.shape.len(),
        input_is_image: matches!(net.input.shape, Shape::Image { .. }),
        layers,
        links,
        head,
        notes,
    })
}

fn pad_layer(
    layer: &Layer,
    mv: &MatVec,
    in_dtype: DataType,
    mw_pad: usize,
    mh_pad: usize,
    ident: String,
) -> Result<HwLayer> {
    let (mh, mw) = (mv.rows(), mv.cols());
    let xnor = mv.weight_dtype == DataType::Bipolar && in_dtype == DataType::Bipolar;
    let k = mw as i64;
    let (acc_lo, acc_hi) = if xnor { (0, k) } else { mv.acc_range(in_dtype) };
    let pw = pad_weight(mv.weight_dtype);
    let mut weights = Array2::from_elem((mh_pad, mw_pad), pw);
    weights
        .slice_mut(ndarray::s![..mh, ..mw])
        .assign(&mv.weights);

    let (activation, output, acc_bits) = match &mv.activation {
        Activation::BatchNorm(_) => {
            return Err(Error::Unsupported(format!(
                "layer \"{}\": batch-norm must be folded into thresholds first (passes::lower)",
                layer.name
            )))
        }
        Activation::Identity => {
            // XNOR: the output 2P − K lies in [−K, K]; the popcount [0, K] fits that too.
            let (lo, hi) = if xnor { (-k, k) } else { (acc_lo, acc_hi) };
            let bits = signed_bits(lo, hi).max(2);
            (HwActivation::Identity, HwElement::Acc(bits), bits)
        }
        Activation::Thresholds(t) => {
            let steps = t.steps();
            let out_bias = if t.out_dtype == DataType::Bipolar {
                0
            } else {
                t.out_bias
            };
            let obits = t.out_dtype.bits();
            let mut values = Array2::<i64>::zeros((mh_pad, steps));
            let mut le: Vec<bool> = t.compare.iter().map(|&c| c == Compare::Le).collect();
            le.resize(mh_pad, false);
            for (c, &falling) in le.iter().enumerate().take(mh) {
                let mut row: Vec<i64> = t
                    .values
                    .row(c)
                    .iter()
                    .map(|&v| match (xnor, falling) {
                        (false, _) => v,
                        // acc = 2P − K ≥ T ⟺ P ≥ ⌈(T + K) / 2⌉
                        (true, false) => (v + k).div_euclid(2) + (v + k).rem_euclid(2),
                        // acc = 2P − K ≤ T ⟺ P ≤ ⌊(T + K) / 2⌋
                        (true, true) => (v + k).div_euclid(2),
                    })
                    .collect();
                row.sort_unstable();
                values
                    .row_mut(c)
                    .iter_mut()
                    .zip(row)
                    .for_each(|(d, s)| *d = s);
            }
            // Padded channels: `zero` thresholds always met, the rest never, so the count
            // encodes to the all-zero bit pattern.
            let zero = (0..=steps as i64)
                .find(|&c| ((c + out_bias) as u64) & mask(obits) == 0)
                .ok_or_else(|| {
                    Error::Unsupported(format!(
                        "layer \"{}\": no threshold count gives the zero bit pattern for padded \
                         channels ({steps} thresholds, output bias {out_bias}, {obits} bits)",
                        layer.name
                    ))
                })? as usize;
            for c in mh..mh_pad {
                for j in 0..steps {
                    values[[c, j]] = if j < zero { acc_lo } else { acc_hi + 1 };
                }
            }
            let (tlo, thi) = values
                .iter()
                .fold((0i64, 0i64), |(lo, hi), &v| (lo.min(v), hi.max(v)));
            let tbits = signed_bits(tlo, thi);
            let acc_bits = signed_bits(acc_lo, acc_hi).max(2);
            (
                HwActivation::Thresholds(HwThresholds {
                    values,
                    le,
                    tbits,
                    out_bias,
                    out_dtype: t.out_dtype,
                }),
                HwElement::Data(t.out_dtype),
                acc_bits,
            )
        }
    };

    Ok(HwLayer {
        name: layer.name.clone(),
        ident,
        mw,
        mh,
        mw_pad,
        mh_pad,
        pe: mv.folding.pe,
        simd: mv.folding.simd,
        input_dtype: in_dtype,
        weight_dtype: mv.weight_dtype,
        xnor,
        acc_bits,
        acc_lo,
        acc_hi,
        weights,
        activation,
        output,
    })
}

impl HwNetwork {
    /// The input stream: the first layer's SIMD elements per word, SF words per frame.
    pub fn input_stream(&self) -> StreamFormat {
        let l0 = &self.layers[0];
        let element = HwElement::Data(self.input_dtype);
        StreamFormat {
            tdata_bits: round8(l0.simd * element.bits() as usize),
            elements_per_word: l0.simd,
            element,
            words_per_frame: l0.sf(),
            elements: self.input_elements,
            slots: l0.mw_pad,
        }
    }

    /// The output stream: k index words with a head, else the last layer's PE elements per word,
    /// NF words per frame.
    pub fn output_stream(&self) -> StreamFormat {
        match &self.head {
            Some(h) => StreamFormat {
                tdata_bits: h.idx_bits,
                elements_per_word: 1,
                element: HwElement::Index(h.idx_bits as u32),
                words_per_frame: h.k,
                elements: h.k,
                slots: h.k,
            },
            None => {
                let last = self.layers.last().expect("at least one layer");
                StreamFormat {
                    tdata_bits: round8(last.pe * last.obits() as usize),
                    elements_per_word: last.pe,
                    element: last.output,
                    words_per_frame: last.nf(),
                    elements: last.mh,
                    slots: last.mh_pad,
                }
            }
        }
    }

    /// The ideal initiation interval: the slowest layer's NF·SF.
    pub fn ideal_ii(&self) -> usize {
        self.layers.iter().map(HwLayer::cycles).max().unwrap_or(0)
    }

    /// A bit-level model of the whole pipeline on one frame of true input values (for tests and
    /// as an executable statement of the stream conventions): pads the input with zero bit
    /// patterns, runs every padded layer in the hardware domain, and returns what the output
    /// stream carries, decoded: the top-k indices with a head, else the true channels.
    /// Panics if a padded channel feeding the next layer is not all-zero bits.
    pub fn model(&self, frame: &[i64]) -> Vec<i64> {
        let l0 = &self.layers[0];
        let mut x: Vec<u64> = vec![0; l0.mw_pad];
        for (d, &v) in x.iter_mut().zip(frame) {
            *d = self.input_dtype.encode(v);
        }
        let mut values = Vec::new();
        for (l, layer) in self.layers.iter().enumerate() {
            assert_eq!(x.len(), layer.mw_pad, "layer {}: link size", layer.name);
            let out: Vec<u64> = (0..layer.mh_pad)
                .map(|r| layer.hw_out(r, layer.hw_acc(r, &x)))
                .collect();
            if l + 1 < self.layers.len() {
                assert!(
                    out[layer.mh..].iter().all(|&b| b == 0),
                    "layer {}: padded channels are not zero: {:?}",
                    layer.name,
                    &out[layer.mh..]
                );
            }
            values = out[..layer.mh]
                .iter()
                .map(|&b| layer.output.decode(b))
                .collect();
            x = out;
        }
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
    use crate::synth::{self, ActSpec, DenseSpec, MlpSpec, RandomLimits, Rng};

    fn lowered(spec: &MlpSpec, seed: u64) -> Network {
        let mut net = synth::mlp(spec, seed);
        crate::passes::lower(&mut net).unwrap();
        net
    }

    #[test]
    fn helpers() {
        assert_eq!(signed_bits(0, 0), 1);
        assert_eq!(signed_bits(-1, 0), 1);
        assert_eq!(signed_bits(0, 1), 2);
        assert_eq!(signed_bits(-2, 1), 2);
        assert_eq!(signed_bits(0, 784), 11);
        assert_eq!(signed_bits(-1024, 1024), 12);
        assert_eq!(signed_bits(-1025, 0), 12);
        assert_eq!(round8(1), 8);
        assert_eq!(round8(64), 64);
        assert_eq!(round8(65), 72);
        assert_eq!(verilog_ident("cnv-small"), "cnv_small");
        assert_eq!(verilog_ident("1x"), "_1x");
        assert_eq!(lcm(4, 6), 12);
    }

    /// The padded, hardware-domain form of one layer equals `Thresholds::apply` (or the raw
    /// accumulator) on the true accumulator for every input vector (all of them when few, else
    /// many random ones), for random datatypes, non-dividing folding and falling thresholds; and
    /// padded channels are all-zero bits.
    #[test]
    fn padded_layer_equals_the_true_layer() {
        let dts = [
            DataType::Bipolar,
            DataType::BINARY,
            DataType::Ternary,
            DataType::UInt(2),
            DataType::Int(2),
            DataType::Int(3),
            DataType::UInt(3),
        ];
        let out_dts = [
            DataType::Bipolar,
            DataType::BINARY,
            DataType::UInt(2),
            DataType::Int(2),
            DataType::Int(3),
        ];
        let mut rng = Rng::new(0xBAD5EED);
        for case in 0..300 {
            let in_dtype = rng.pick(&dts[..]);
            let in_dtype = if in_dtype == DataType::Ternary {
                DataType::Bipolar
            } else {
                in_dtype
            };
            let weight_dtype = if rng.chance(0.4) {
                DataType::Bipolar
            } else {
                rng.pick(&dts[..])
            };
            let mw = rng.range_usize(1, 12);
            let mh = rng.range_usize(1, 9);
            let last = rng.chance(0.25);
            let activation = if last {
                ActSpec::None
            } else if rng.chance(0.3) {
                ActSpec::BatchNorm {
                    quantizer: crate::ir::Quantizer::Sign,
                    alpha: true,
                    bias: true,
                }
            } else {
                ActSpec::Thresholds {
                    out_dtype: rng.pick(&out_dts[..]),
                    falling: true,
                }
            };
            let spec = MlpSpec {
                name: format!("case{case}"),
                in_features: mw,
                input_dtype: in_dtype,
                layers: vec![DenseSpec {
                    out_features: mh,
                    weight_dtype,
                    activation,
                    pe: rng.range_usize(1, mh),
                    simd: rng.range_usize(1, mw),
                }],
                head: None,
            };
            let net = lowered(&spec, case);
            let hw = pad(&net).unwrap();
            let layer = &hw.layers[0];
            let Op::MatVec(mv) = &net.layers[0].op else {
                unreachable!()
            };
            assert_eq!(layer.mw_pad % layer.simd, 0);
            assert_eq!(layer.mh_pad % layer.pe, 0);
            assert_eq!(
                layer.xnor,
                in_dtype == DataType::Bipolar && weight_dtype == DataType::Bipolar
            );

            let values: Vec<i64> = (in_dtype.min()..=in_dtype.max())
                .filter(|&v| in_dtype.contains(v))
                .collect();
            let total = (values.len() as f64).powi(mw as i32);
            let vectors: Vec<Vec<i64>> = if total <= 4096.0 {
                (0..total as usize)
                    .map(|mut i| {
                        (0..mw)
                            .map(|_| {
                                let v = values[i % values.len()];
                                i /= values.len();
                                v
                            })
                            .collect()
                    })
                    .collect()
            } else {
                (0..2000)
                    .map(|_| (0..mw).map(|_| rng.pick(&values[..])).collect())
                    .collect()
            };
            for x in vectors {
                let mut bits = vec![0u64; layer.mw_pad];
                for (b, &v) in bits.iter_mut().zip(&x) {
                    *b = in_dtype.encode(v);
                }
                for r in 0..layer.mh_pad {
                    let acc_hw = layer.hw_acc(r, &bits);
                    assert!((layer.acc_lo..=layer.acc_hi).contains(&acc_hw));
                    assert!(signed_bits(acc_hw, acc_hw) <= layer.acc_bits);
                    let out = layer.hw_out(r, acc_hw);
                    if r >= layer.mh {
                        if !last {
                            assert_eq!(out, 0, "case {case}: padded channel {r}");
                        }
                        continue;
                    }
                    let acc: i64 = mv
                        .weights
                        .row(r)
                        .iter()
                        .zip(&x)
                        .map(|(&w, &v)| i64::from(w) * v)
                        .sum();
                    let expected = match &mv.activation {
                        Activation::Thresholds(t) => t.apply(r, acc),
                        _ => acc,
                    };
                    assert_eq!(
                        layer.output.decode(out),
                        expected,
                        "case {case}: {spec:?} row {r} x {x:?} acc {acc} hw acc {acc_hw}"
                    );
                    if let HwActivation::Thresholds(t) = &layer.activation {
                        for &v in t.values.row(r) {
                            assert!(signed_bits(v, v) <= t.tbits);
                        }
                    }
                }
            }
        }
    }

    /// The bit-level pipeline model equals the golden model on random networks (all datatypes,
    /// random folding, heads), including the padded links.
    #[test]
    fn pipeline_model_equals_golden() {
        let limits = RandomLimits {
            max_layers: 4,
            max_features: 40,
            max_bits: 4,
            ..RandomLimits::default()
        };
        for seed in 0..150 {
            let spec = synth::random_mlp_spec(seed, &limits);
            let net = lowered(&spec, seed);
            let hw = pad(&net).unwrap();
            for link in &hw.links {
                let (a, b) = (&hw.layers[link.from], &hw.layers[link.from + 1]);
                assert_eq!(a.mh_pad, b.mw_pad);
                assert_eq!(link.elements % a.pe, 0);
                assert_eq!(link.elements % b.simd, 0);
            }
            let golden = crate::golden::GoldenModel::new(&net).unwrap();
            let frames = synth::frames_for(&net, 20, seed);
            let len = net.input.shape.len();
            let data = frames.as_slice().unwrap();
            for f in 0..20 {
                let frame = &data[f * len..(f + 1) * len];
                assert_eq!(
                    hw.model(frame),
                    golden.infer(frame),
                    "seed {seed} frame {f}: {spec:?}"
                );
            }
        }
    }

    #[test]
    fn link_padding_uses_a_common_multiple() {
        let spec = MlpSpec {
            name: "odd".into(),
            in_features: 20,
            input_dtype: DataType::Bipolar,
            layers: vec![
                DenseSpec {
                    out_features: 10,
                    weight_dtype: DataType::Bipolar,
                    activation: ActSpec::SIGN,
                    pe: 4,
                    simd: 8,
                },
                DenseSpec {
                    out_features: 6,
                    weight_dtype: DataType::Bipolar,
                    activation: ActSpec::None,
                    pe: 3,
                    simd: 6,
                },
            ],
            head: Some(2),
        };
        let hw = pad(&lowered(&spec, 1)).unwrap();
        assert_eq!(hw.layers[0].mw_pad, 24);
        assert_eq!(hw.layers[0].mh_pad, 12);
        assert_eq!(hw.layers[1].mw_pad, 12);
        assert_eq!(hw.layers[1].mh_pad, 6);
        assert!(hw.notes.is_empty(), "{:?}", hw.notes);
        let head = hw.head.unwrap();
        assert_eq!((head.n, head.elems, head.idx_bits), (6, 3, 8));
        // lcm(4, 8) = 8 > ceil: 10 channels -> 16 elements, NF 4 instead of 3.
        let mut spec2 = spec.clone();
        spec2.layers[1].simd = 8;
        let hw = pad(&lowered(&spec2, 1)).unwrap();
        assert_eq!(hw.layers[0].mh_pad, 16);
        assert_eq!(hw.layers[1].mw_pad, 16);
        assert_eq!(hw.notes.len(), 1);
    }

    #[test]
    fn conv_and_pool_are_refused() {
        let (net, _) = synth::example("cnv-small").unwrap();
        let err = pad(&net).unwrap_err().to_string();
        assert!(
            err.starts_with("conv2d layers are not supported by the Verilog backend yet"),
            "{err}"
        );
    }
}
