//! The network IR: a linear list of layers on typed tensors, with integer weights.
//!
//! The front end (`frontend`) builds it from `net.toml`; passes (`passes`) transform it (batch-norm
//! folding turns every [`Activation::BatchNorm`] into [`Activation::Thresholds`]); the golden model,
//! the cycle simulator and the Verilog generator consume the lowered form.
//!
//! Conventions held everywhere:
//! - Values are true integers (bipolar is −1/+1); bit encodings exist only in the backends.
//! - Tensors are NHWC; a flat vector is a `Shape::Flat`.
//! - A matrix-vector layer's weights are `[MH, MW]` rows = output channels, columns = inputs in
//!   stream order. For conv, column `(ky·KW + kx)·IFM + ic` (FINN's OFM, kh, kw, IFM order), so that
//!   an im2col window with channels innermost meets its weights in order.

use crate::datatype::{DataType, IntWidth};
use ndarray::Array2;

/// A whole network.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    pub name: String,
    pub input: TensorType,
    pub layers: Vec<Layer>,
    /// Optional final top-k head (argmax is k = 1).
    pub head: Option<TopK>,
}

/// Shape of one frame (the batch dimension is not part of the IR).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// A vector of C features.
    Flat(usize),
    /// An image, NHWC.
    Image { h: usize, w: usize, c: usize },
}

impl Shape {
    /// Elements per frame.
    pub fn len(self) -> usize {
        match self {
            Shape::Flat(c) => c,
            Shape::Image { h, w, c } => h * w * c,
        }
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// Channels: the innermost dimension.
    pub fn channels(self) -> usize {
        match self {
            Shape::Flat(c) | Shape::Image { c, .. } => c,
        }
    }

    /// Pixels (H·W); 1 for a flat vector.
    pub fn pixels(self) -> usize {
        match self {
            Shape::Flat(_) => 1,
            Shape::Image { h, w, .. } => h * w,
        }
    }

    /// The dimensions as a list, as in `net.toml` and in npy files (without N).
    pub fn dims(self) -> Vec<usize> {
        match self {
            Shape::Flat(c) => vec![c],
            Shape::Image { h, w, c } => vec![h, w, c],
        }
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shape::Flat(c) => write!(f, "{c}"),
            Shape::Image { h, w, c } => write!(f, "{h}x{w}x{c}"),
        }
    }
}

/// The type of a tensor flowing between layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorType {
    pub shape: Shape,
    /// Element type. A raw-accumulator output is wider than 8 bits, see [`ValueType`].
    pub dtype: ValueType,
}

/// The element type of a tensor: a declared datatype, or a raw accumulator of some width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    Data(DataType),
    /// Raw accumulator values in `lo..=hi` (a layer with no activation).
    Accumulator {
        lo: i64,
        hi: i64,
    },
}

impl ValueType {
    pub fn min(self) -> i64 {
        match self {
            ValueType::Data(d) => d.min(),
            ValueType::Accumulator { lo, .. } => lo,
        }
    }

    pub fn max(self) -> i64 {
        match self {
            ValueType::Data(d) => d.max(),
            ValueType::Accumulator { hi, .. } => hi,
        }
    }

    /// Bits of the hardware encoding.
    pub fn bits(self) -> u32 {
        match self {
            ValueType::Data(d) => d.bits(),
            ValueType::Accumulator { lo, hi } => DataType::width_for_range(lo, hi).bits,
        }
    }

    pub fn as_data(self) -> Option<DataType> {
        match self {
            ValueType::Data(d) => Some(d),
            ValueType::Accumulator { .. } => None,
        }
    }
}

impl std::fmt::Display for ValueType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ValueType::Data(d) => d.fmt(f),
            ValueType::Accumulator { lo, hi } => DataType::width_for_range(*lo, *hi).fmt(f),
        }
    }
}

/// One layer with its input and output types (inferred by the front end).
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    pub name: String,
    pub input: TensorType,
    pub output: TensorType,
    pub op: Op,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Dense or convolution: a matrix-vector product per output pixel, then an activation.
    MatVec(MatVec),
    /// Depthwise convolution (`conv2d` with `groups = in_channels`, depth multiplier 1): channel
    /// `c` of the output is the k×k window of input channel `c` alone, dotted with row `c` of
    /// the weights, then the activation.
    ///
    /// Why a variant of its own that reuses [`MatVec`], and not a `groups` field in
    /// [`ConvGeometry`]: every field of `MatVec` keeps its meaning with the roles of the matrix
    /// transposed per channel — `weights` is `[C, KH·KW]` (row = channel, column `ky·KW + kx`),
    /// `cols()` is the true fan-in of one output (so [`MatVec::acc_range`], batch-norm folding
    /// and the threshold form apply unchanged), `folding.pe` is channels in parallel and
    /// `folding.simd` kernel positions per beat (FINN's VVAU). What differs is the dataflow, and
    /// that differs everywhere a layer is consumed (golden kernel, window order, hardware unit),
    /// so a distinct variant makes every consumer decide explicitly instead of silently treating
    /// a depthwise layer as a dense `[C, KH·KW·C]` product. `conv` is always `Some`.
    Depthwise(MatVec),
    MaxPool(MaxPool),
    /// Global average pooling, computed as the per-channel integer *sum* over H·W; the division
    /// by H·W is folded into the next layer (`passes::thresholds`) or the output affine.
    GlobalAvgPool(GlobalAvgPool),
}

impl Op {
    /// The matrix-vector-activation layer of a dense, conv or depthwise layer (the fields both
    /// share), `None` for a pool.
    pub fn matvec(&self) -> Option<&MatVec> {
        match self {
            Op::MatVec(m) | Op::Depthwise(m) => Some(m),
            Op::MaxPool(_) | Op::GlobalAvgPool(_) => None,
        }
    }

    /// [`Op::matvec`], mutable.
    pub fn matvec_mut(&mut self) -> Option<&mut MatVec> {
        match self {
            Op::MatVec(m) | Op::Depthwise(m) => Some(m),
            Op::MaxPool(_) | Op::GlobalAvgPool(_) => None,
        }
    }
}

/// A matrix-vector-activation layer (FINN's MVAU). Dense is the 1-pixel case of conv.
#[derive(Clone, Debug, PartialEq)]
pub struct MatVec {
    /// `None` for dense; the window geometry for conv.
    pub conv: Option<ConvGeometry>,
    /// `[MH, MW]`: rows are output channels, columns inputs in stream order (see module docs).
    pub weights: Array2<i32>,
    pub weight_dtype: DataType,
    pub activation: Activation,
    pub folding: Folding,
}

impl MatVec {
    /// MH: output channels.
    pub fn rows(&self) -> usize {
        self.weights.nrows()
    }

    /// MW: fan-in of one output (kh·kw·IFM for conv).
    pub fn cols(&self) -> usize {
        self.weights.ncols()
    }

    /// The range of every accumulator this layer can produce for inputs of `input` type, from the
    /// datatype ranges: fan-in × the extreme products. Exact for the datatypes, independent of the
    /// particular weights, so it is the range the hardware must hold.
    pub fn acc_range(&self, input: DataType) -> (i64, i64) {
        let w = self.weight_dtype;
        let products = [
            w.min() * input.min(),
            w.min() * input.max(),
            w.max() * input.min(),
            w.max() * input.max(),
        ];
        let k = self.cols() as i64;
        let lo = *products.iter().min().expect("four products");
        let hi = *products.iter().max().expect("four products");
        (k * lo, k * hi)
    }

    pub fn acc_width(&self, input: DataType) -> IntWidth {
        let (lo, hi) = self.acc_range(input);
        DataType::width_for_range(lo, hi)
    }
}

/// Convolution window geometry. Kernel, stride and padding are `[vertical, horizontal]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    /// Value of the padded border, a value of the input datatype (explicit for bipolar inputs).
    pub pad_value: i64,
}

impl ConvGeometry {
    /// A 1×1 kernel, stride 1, no padding: every output pixel is its input pixel, so the
    /// hardware needs no window generator (`docs/hardware.md`, "1×1 convolutions").
    pub fn is_pointwise(&self) -> bool {
        self.kernel == [1, 1] && self.stride == [1, 1] && self.padding == [0, 0]
    }
}

/// Max-pool window geometry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxPool {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    /// Words of the window generator's buffer (`net.toml` `buffer_depth`, chosen by `bnn-gen
    /// fold --size-fifos`); `None`: the analytic rule, [`crate::passes::window::Window::depth_for`].
    pub buffer_depth: Option<usize>,
}

/// Global average pooling over an `h`×`w` image: output `Flat(C)`, element `c` = the integer
/// sum of channel `c` over all `h·w` pixels. Its output type is the smallest `uintN`/`intN`
/// holding `h·w·min … h·w·max` of the input type ([`GlobalAvgPool::sum_dtype`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GlobalAvgPool {
    pub h: usize,
    pub w: usize,
}

impl GlobalAvgPool {
    /// The sum's widest allowed encoding: it is the next MVTU's input element, and `bnn_dot`
    /// (and the cycle simulator's dot unit, `IBITS` 1..8) take at most 8 bits.
    pub const MAX_SUM_BITS: u32 = 8;

    /// H·W: the divisor folded into the next layer.
    pub fn pixels(self) -> usize {
        self.h * self.w
    }

    /// The exact range of the sum for inputs of type `input`.
    pub fn sum_range(self, input: DataType) -> (i64, i64) {
        let n = self.pixels() as i64;
        (n * input.min(), n * input.max())
    }

    /// The datatype carrying the sum: `uintN` when it cannot be negative, else `intN`, with N
    /// from [`DataType::width_for_range`] of [`GlobalAvgPool::sum_range`].
    pub fn sum_dtype(self, input: DataType) -> DataType {
        let (lo, hi) = self.sum_range(input);
        let w = DataType::width_for_range(lo, hi);
        let bits = w.bits.max(if w.signed { 2 } else { 1 }) as u8;
        if w.signed {
            DataType::Int(bits)
        } else {
            DataType::UInt(bits)
        }
    }
}

/// Output size of a window sweep along one dimension, or `None` when the window does not fit.
pub fn window_out(size: usize, kernel: usize, stride: usize, pad: usize) -> Option<usize> {
    let padded = size + 2 * pad;
    (kernel >= 1 && stride >= 1 && padded >= kernel).then(|| (padded - kernel) / stride + 1)
}

/// Folding: PE output lanes × SIMD input lanes, and which primitive holds the layer's memories.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Folding {
    pub pe: usize,
    pub simd: usize,
    /// Where the weights live (`net.toml` `weight_storage`): ROMs (styled by `ram_style`) or
    /// constants in the generated RTL.
    pub weight_storage: WeightStorage,
    /// The weight ROMs (`net.toml` `ram_style`); `Auto` with [`WeightStorage::Logic`].
    pub ram_style: RamStyle,
    /// The threshold ROMs (`net.toml` `threshold_ram_style`).
    pub threshold_ram_style: RamStyle,
    /// Depth in words of the FIFO in front of a dense layer (`net.toml` `fifo_depth`, chosen by
    /// `bnn-gen fold --size-fifos`); `None`: the analytic rule of [`crate::passes::pad`] (one
    /// frame of the consumer). Only where the rule places a FIFO.
    pub fifo_depth: Option<usize>,
    /// Words of the window generator's buffer in front of a conv layer (`net.toml`
    /// `buffer_depth`); `None`: [`crate::passes::window::Window::depth_for`] the layer's NF.
    pub buffer_depth: Option<usize>,
}

/// Which primitive a layer's ROMs are built from (`net.toml` `ram_style`, `docs/net-format.md`).
/// `Auto` leaves the choice to the size rule of [`crate::hwir::MemKind::by_rule`]
/// (`docs/hardware.md`); the others force it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RamStyle {
    #[default]
    Auto,
    /// Block RAM: RAMB18/36 (xc7), DP16KD (ECP5), SB_RAM40_4K (iCE40).
    Block,
    /// LUTs holding the contents (a LUT is a small ROM), then the read register.
    Distributed,
    /// LUT logic and flip-flops, for the smallest ROMs.
    Logic,
}

impl RamStyle {
    /// Every style, as `net.toml` spells it.
    pub const NAMES: [&'static str; 4] = ["auto", "block", "distributed", "logic"];

    pub fn name(self) -> &'static str {
        match self {
            RamStyle::Auto => "auto",
            RamStyle::Block => "block",
            RamStyle::Distributed => "distributed",
            RamStyle::Logic => "logic",
        }
    }

    /// The style named `s` (one of [`RamStyle::NAMES`]).
    pub fn parse(s: &str) -> Option<RamStyle> {
        match s {
            "auto" => Some(RamStyle::Auto),
            "block" => Some(RamStyle::Block),
            "distributed" => Some(RamStyle::Distributed),
            "logic" => Some(RamStyle::Logic),
            _ => None,
        }
    }
}

/// Where a layer's weights live (`net.toml` `weight_storage`, `docs/net-format.md`).
///
/// Not to be confused with [`RamStyle::Logic`]: that is still a ROM, whose contents a `.mem`
/// file gives at elaboration (`$readmemh`) and which the tool maps to LUTs; here the weights are
/// written into the Verilog source as constants, one `case` per PE over the fold address, so a
/// design's weights are part of its RTL and synthesis folds every constant (zero weights and
/// bits equal in every fold) into the datapath. Same two-cycle read either way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WeightStorage {
    /// Weight ROMs (`bnn_rom`), one per PE, with `.mem` contents.
    #[default]
    Rom,
    /// Constants in the RTL: a generated `case` per PE, registered like `bnn_rom`.
    Logic,
}

impl WeightStorage {
    /// Every storage, as `net.toml` spells it.
    pub const NAMES: [&'static str; 2] = ["rom", "logic"];

    pub fn name(self) -> &'static str {
        match self {
            WeightStorage::Rom => "rom",
            WeightStorage::Logic => "logic",
        }
    }

    /// The storage named `s` (one of [`WeightStorage::NAMES`]).
    pub fn parse(s: &str) -> Option<WeightStorage> {
        match s {
            "rom" => Some(WeightStorage::Rom),
            "logic" => Some(WeightStorage::Logic),
            _ => None,
        }
    }
}

impl Folding {
    /// PE × SIMD with every memory style `Auto`.
    pub fn new(pe: usize, simd: usize) -> Folding {
        Folding {
            pe,
            simd,
            weight_storage: WeightStorage::Rom,
            ram_style: RamStyle::Auto,
            threshold_ram_style: RamStyle::Auto,
            fifo_depth: None,
            buffer_depth: None,
        }
    }

    /// Neuron folds NF = ⌈MH / PE⌉ (the hardware pads MH up to NF·PE when PE does not divide it).
    pub fn nf(self, mh: usize) -> usize {
        mh.div_ceil(self.pe)
    }

    /// Synapse folds SF = ⌈MW / SIMD⌉.
    pub fn sf(self, mw: usize) -> usize {
        mw.div_ceil(self.simd)
    }
}

/// What turns accumulators into a layer's outputs.
#[derive(Clone, Debug, PartialEq)]
pub enum Activation {
    /// Float batch-norm then a quantizer: the front end's form, removed by `passes::fold_batchnorm`.
    BatchNorm(BatchNorm),
    /// Integer thresholds, the lowered form.
    Thresholds(Thresholds),
    /// Raw accumulators out.
    Identity,
}

/// Per-channel float parameters, as trained; evaluated in f64 as documented in `docs/net-format.md`.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchNorm {
    pub gamma: Vec<f64>,
    pub beta: Vec<f64>,
    pub mean: Vec<f64>,
    pub var: Vec<f64>,
    pub eps: f64,
    /// Per-channel scale on the accumulator before batch-norm (XNOR-Net's α); `None` = 1.
    pub alpha: Option<Vec<f64>>,
    /// Per-channel bias after α; `None` = 0.
    pub bias: Option<Vec<f64>>,
    pub quantizer: Quantizer,
}

impl BatchNorm {
    /// The float reference for channel `c`: the quantized output value for accumulator `acc`.
    /// This is the definition the threshold form must reproduce exactly.
    pub fn reference(&self, c: usize, acc: i64) -> i64 {
        self.reference_at(c, acc as f64)
    }

    /// [`BatchNorm::reference`] at a real accumulator value: after a global average pool the
    /// float model's accumulator is `sum_acc / (H·W)`, which the threshold search evaluates here
    /// as the correctly rounded f64 quotient (`passes::thresholds`).
    pub fn reference_at(&self, c: usize, acc: f64) -> i64 {
        let alpha = self.alpha.as_ref().map_or(1.0, |a| a[c]);
        let bias = self.bias.as_ref().map_or(0.0, |b| b[c]);
        let x = alpha * acc + bias;
        let y = (x - self.mean[c]) / (self.var[c] + self.eps).sqrt() * self.gamma[c] + self.beta[c];
        self.quantizer.quantize(y)
    }

    /// Whether channel `c`'s output rises (+1), falls (−1) or is constant (0) with the accumulator.
    pub fn direction(&self, c: usize) -> i32 {
        let alpha = self.alpha.as_ref().map_or(1.0, |a| a[c]);
        let slope = alpha * self.gamma[c];
        if slope > 0.0 {
            1
        } else if slope < 0.0 {
            -1
        } else {
            0
        }
    }

    pub fn channels(&self) -> usize {
        self.gamma.len()
    }
}

/// The activation quantizer after batch-norm.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Quantizer {
    /// +1 when y ≥ 0, else −1.
    Sign,
    /// clamp(round_half_even(y / scale), min, max) of a `bits`-bit (un)signed integer.
    Uniform { bits: u8, signed: bool, scale: f64 },
}

impl Quantizer {
    pub fn out_dtype(self) -> DataType {
        match self {
            Quantizer::Sign => DataType::Bipolar,
            Quantizer::Uniform {
                bits,
                signed: false,
                ..
            } => DataType::UInt(bits),
            Quantizer::Uniform {
                bits, signed: true, ..
            } => DataType::Int(bits),
        }
    }

    pub fn quantize(self, y: f64) -> i64 {
        match self {
            Quantizer::Sign => {
                if y >= 0.0 {
                    1
                } else {
                    -1
                }
            }
            Quantizer::Uniform { scale, .. } => {
                let dt = self.out_dtype();
                let q = (y / scale).round_ties_even();
                // Clamp in f64 first so that huge values and infinities do not wrap.
                q.clamp(dt.min() as f64, dt.max() as f64) as i64
            }
        }
    }
}

/// FINN MultiThreshold, per channel c: `count = #{i : acc ≥ T[c,i]}` (or `acc ≤ T[c,i]` when
/// `compare[c]` is `Le`), and the output value is `out_bias + count` (bipolar: `2·count − 1`).
#[derive(Clone, Debug, PartialEq)]
pub struct Thresholds {
    /// `[channels, steps]`, steps = 2^n − 1 for an n-bit output; each row ascending, each value
    /// clamped into the accumulator range (see [`Thresholds::clamp_range`]).
    pub values: Array2<i64>,
    /// Per channel: which way the comparison goes.
    pub compare: Vec<Compare>,
    pub out_bias: i64,
    pub out_dtype: DataType,
}

/// Comparison direction of a threshold channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compare {
    /// `acc ≥ T`: the output rises with the accumulator (the usual case).
    Ge,
    /// `acc ≤ T`: the output falls as the accumulator rises. Produced by batch-norm folding for a
    /// channel with γ·α < 0, instead of negating the weights, which overflows multi-bit datatypes
    /// (−(−128) is not an int8).
    Le,
}

impl Thresholds {
    pub fn steps(&self) -> usize {
        self.values.ncols()
    }

    pub fn channels(&self) -> usize {
        self.values.nrows()
    }

    /// The output value for `count` thresholds met.
    pub fn value_of_count(&self, count: i64) -> i64 {
        match self.out_dtype {
            DataType::Bipolar => 2 * count - 1,
            _ => self.out_bias + count,
        }
    }

    /// The output value of channel `c` for accumulator `acc`.
    pub fn apply(&self, c: usize, acc: i64) -> i64 {
        let row = self.values.row(c);
        let count = match self.compare[c] {
            Compare::Ge => row.iter().filter(|&&t| acc >= t).count(),
            Compare::Le => row.iter().filter(|&&t| acc <= t).count(),
        };
        self.value_of_count(count as i64)
    }

    /// The interval thresholds are clamped into for accumulators in `acc_lo..=acc_hi`: one past the
    /// range on the side where a threshold is never met, so every value is "always", "never" or a
    /// real boundary. `Ge`: `[lo, hi + 1]`; `Le`: `[lo − 1, hi]`.
    pub fn clamp_range(compare: Compare, acc_lo: i64, acc_hi: i64) -> (i64, i64) {
        match compare {
            Compare::Ge => (acc_lo, acc_hi + 1),
            Compare::Le => (acc_lo - 1, acc_hi),
        }
    }
}

/// Top-k head: the k largest of the last layer's outputs, best first, ties to the lower index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TopK {
    pub k: usize,
}

impl Network {
    /// The output type of the last layer (the network input when there are no layers).
    pub fn body_output(&self) -> TensorType {
        self.layers.last().map_or(self.input, |l| l.output)
    }

    /// The factor by which the network's integer outputs exceed the float model's: H·W when they
    /// are the sums of a final global average pool, or the raw accumulators of a layer right
    /// after one (the division that thresholds absorb elsewhere, `passes::thresholds`); else 1.
    /// `run` divides the `[output]` scale by it (`frontend::float_io::OutputAffine::divided`).
    pub fn output_divisor(&self) -> usize {
        let n = self.layers.len();
        let gap = |i: usize| match self.layers.get(i).map(|l| &l.op) {
            Some(Op::GlobalAvgPool(g)) => Some(g.pixels()),
            _ => None,
        };
        match self.layers.last().map(|l| &l.op) {
            Some(Op::GlobalAvgPool(g)) => g.pixels(),
            Some(Op::MatVec(m)) if matches!(m.activation, Activation::Identity) && n >= 2 => {
                gap(n - 2).unwrap_or(1)
            }
            _ => 1,
        }
    }

    /// Whether every activation is in its integer (lowered) form.
    pub fn is_lowered(&self) -> bool {
        self.layers.iter().all(|l| match &l.op {
            Op::MatVec(m) | Op::Depthwise(m) => !matches!(m.activation, Activation::BatchNorm(_)),
            Op::MaxPool(_) | Op::GlobalAvgPool(_) => true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_sizes() {
        assert_eq!(window_out(32, 3, 1, 0), Some(30));
        assert_eq!(window_out(32, 3, 1, 1), Some(32));
        assert_eq!(window_out(7, 3, 2, 0), Some(3));
        assert_eq!(window_out(2, 3, 1, 0), None);
        assert_eq!(window_out(5, 2, 2, 0), Some(2));
    }

    #[test]
    fn quantizer_rounds_half_to_even_and_clamps() {
        let q = Quantizer::Uniform {
            bits: 2,
            signed: false,
            scale: 1.0,
        };
        assert_eq!(q.quantize(0.5), 0);
        assert_eq!(q.quantize(1.5), 2);
        assert_eq!(q.quantize(2.5), 2);
        assert_eq!(q.quantize(99.0), 3);
        assert_eq!(q.quantize(f64::NEG_INFINITY), 0);
        let s = Quantizer::Uniform {
            bits: 3,
            signed: true,
            scale: 0.5,
        };
        assert_eq!(s.quantize(-10.0), -4);
        assert_eq!(s.quantize(1.75), 3);
        assert_eq!(Quantizer::Sign.quantize(0.0), 1);
        assert_eq!(Quantizer::Sign.quantize(-0.0), 1, "−0.0 ≥ 0 holds in IEEE");
    }

    #[test]
    fn threshold_semantics() {
        let t = Thresholds {
            values: ndarray::array![[-2, 0, 3], [-2, 0, 3]],
            compare: vec![Compare::Ge, Compare::Le],
            out_bias: -2,
            out_dtype: DataType::Int(2),
        };
        assert_eq!(t.apply(0, -3), -2);
        assert_eq!(t.apply(0, 0), 0);
        assert_eq!(t.apply(0, 3), 1);
        assert_eq!(t.apply(1, -3), 1);
        assert_eq!(t.apply(1, 4), -2);
    }
}
