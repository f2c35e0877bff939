//! Deterministic pseudo-random networks and input frames, for examples, tests and sweeps.
//!
//! Everything here is a pure function of a `u64` seed: the same seed gives the same network, bit for
//! bit, on every platform (the generator is SplitMix64 and uses no transcendental functions, whose
//! last bits may differ between C libraries).
//!
//! - [`Rng`]: the generator, with helpers for datatype values.
//! - [`network`] (alias [`cnn`]) builds a fully typed [`Network`] from a [`NetSpec`]: dense, conv2d and
//!   maxpool layers with random weights and random activations ([`ActSpec`]); [`mlp`] is the
//!   dense-only shorthand from an [`MlpSpec`].
//! - [`random_mlp_spec`] / [`random_cnn_spec`] draw a whole random (valid, exportable) spec, for sweeps.
//! - [`frames`] draws random input frames.
//! - [`example`] / [`write_example`] give the named example networks under `examples/`.
//!
//! Random parameters are chosen so that the interesting cases occur: batch-norm γ of both signs and
//! exactly 0, channels whose output is constant, accumulators that hit a batch-norm boundary exactly
//! (`y = 0` for `sign`, a rounding tie for `uniform`), explicit thresholds unsorted and partly outside
//! the accumulator range. The networks are in the form `frontend::load` returns (batch-norm in
//! float, explicit thresholds as written): run `passes::lower` before the golden model or a backend.
//! Every float parameter is exactly an `f32`, so a network may be exported with float32 arrays.
//! Every layer's weights and activation are drawn from their own stream (seed, layer index), so
//! changing one layer of a spec does not change the others.

use std::path::Path;

use ndarray::{Array2, ArrayD, IxDyn};

use crate::datatype::DataType;
use crate::error::{Error, Result};
use crate::frontend::export::{write_network_with, ExportOptions, WeightLayout};
use crate::ir::{
    window_out, Activation, BatchNorm, Compare, ConvGeometry, Folding, Layer, MatVec, MaxPool,
    Network, Op, Quantizer, Shape, TensorType, Thresholds, TopK, ValueType,
};

// ---------------------------------------------------------------------------------------------
// The generator
// ---------------------------------------------------------------------------------------------

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 finaliser: a bijective 64-bit mix.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A small deterministic pseudo-random generator (SplitMix64). Not cryptographic.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    /// An independent generator for sub-stream `stream` of `seed` (e.g. one per layer).
    pub fn stream(seed: u64, stream: u64) -> Self {
        Rng::new(mix64(
            seed ^ mix64(stream.wrapping_add(1).wrapping_mul(GOLDEN)),
        ))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        mix64(self.state)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below(0)");
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        assert!(lo <= hi, "Rng::range({lo}, {hi})");
        let span = (i128::from(hi) - i128::from(lo) + 1) as u128;
        if span > u128::from(u64::MAX) {
            return self.next_u64() as i64;
        }
        (i128::from(lo) + i128::from(self.below(span as u64))) as i64
    }

    /// Uniform in `lo..=hi` (usize).
    pub fn range_usize(&mut self, lo: usize, hi: usize) -> usize {
        self.range(lo as i64, hi as i64) as usize
    }

    /// Uniform in `[0, 1)`, 53 random bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Approximately standard normal (Irwin–Hall with 12 terms; support ±6).
    pub fn normal(&mut self) -> f64 {
        (0..12).map(|_| self.unit()).sum::<f64>() - 6.0
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A uniformly chosen element.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }

    /// A uniformly chosen value of `dt` (bipolar: −1 or +1).
    pub fn value(&mut self, dt: DataType) -> i64 {
        match dt {
            DataType::Bipolar => {
                if self.next_u64() >> 63 == 1 {
                    1
                } else {
                    -1
                }
            }
            _ => self.range(dt.min(), dt.max()),
        }
    }
}

/// `x` rounded to the nearest `f32`, as `f64`: every generated float parameter goes through this.
fn f32v(x: f64) -> f64 {
    x as f32 as f64
}

// ---------------------------------------------------------------------------------------------
// Specs
// ---------------------------------------------------------------------------------------------

/// The activation of a dense or conv layer; its parameters are drawn at random.
#[derive(Clone, Debug, PartialEq)]
pub enum ActSpec {
    /// Float batch-norm then `quantizer`. Per channel: γ of both signs (some exactly ±0), β, μ and
    /// σ² ≥ 0 (some exactly 0) scaled to the accumulator statistics so that boundaries fall inside
    /// the reachable range, some channels constant, some hitting a boundary exactly.
    /// `alpha` / `bias`: also draw the optional per-channel α (some negative) and bias.
    BatchNorm {
        quantizer: Quantizer,
        alpha: bool,
        bias: bool,
    },
    /// Explicit integer thresholds (FINN MultiThreshold) with output datatype `out_dtype`; the
    /// output bias is `out_dtype.min()` (the only one that fits 2^n − 1 thresholds; −1 for
    /// bipolar). Rows are as a user may write them (net.toml form (b)): unsorted, about one value
    /// in five outside the accumulator range (always or never met); `passes::lower` sorts and
    /// clamps them into the canonical form of [`Thresholds`].
    /// `falling`: about a third of the channels compare with `acc ≤ T` ([`Compare::Le`], as
    /// batch-norm folding produces); such a network cannot be exported to `net.toml`.
    Thresholds { out_dtype: DataType, falling: bool },
    /// Raw accumulators out. Only the last dense/conv layer may have it (maxpool may follow).
    None,
}

impl ActSpec {
    /// Batch-norm then `sign`, without α or bias: the W1A1 activation.
    pub const SIGN: ActSpec = ActSpec::BatchNorm {
        quantizer: Quantizer::Sign,
        alpha: false,
        bias: false,
    };

    /// Explicit thresholds, all comparisons `acc ≥ T`.
    pub fn thresholds(out_dtype: DataType) -> Self {
        ActSpec::Thresholds {
            out_dtype,
            falling: false,
        }
    }
}

/// A dense layer.
#[derive(Clone, Debug, PartialEq)]
pub struct DenseSpec {
    pub out_features: usize,
    pub weight_dtype: DataType,
    pub activation: ActSpec,
    /// Output lanes, `1..=out_features`.
    pub pe: usize,
    /// Input lanes, `1..=in_features`.
    pub simd: usize,
}

/// A conv2d layer on an NHWC image.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvSpec {
    pub out_channels: usize,
    /// `[kh, kw]`.
    pub kernel: [usize; 2],
    /// `[sh, sw]`.
    pub stride: [usize; 2],
    /// `[ph, pw]`, the same on both sides; each smaller than the kernel.
    pub padding: [usize; 2],
    /// Value of the padded border (a value of the input datatype). `None`: the loader's default,
    /// 0 (or the datatype's minimum when it has no 0, i.e. −1 for bipolar, which is only allowed
    /// without padding).
    pub pad_value: Option<i64>,
    pub weight_dtype: DataType,
    pub activation: ActSpec,
    /// Output lanes, `1..=out_channels`.
    pub pe: usize,
    /// Input lanes, `1..=in_channels` (the sliding window streams SIMD channels of one pixel).
    pub simd: usize,
}

/// A max-pool layer.
#[derive(Clone, Debug, PartialEq)]
pub struct PoolSpec {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
}

#[derive(Clone, Debug, PartialEq)]
pub enum LayerSpec {
    Dense(DenseSpec),
    Conv(ConvSpec),
    MaxPool(PoolSpec),
    /// Global average pool over the whole image (the sum; `passes::thresholds` folds the
    /// division into the next layer).
    GlobalAvgPool,
}

/// A whole network: input, layers in order, optional top-k head.
#[derive(Clone, Debug, PartialEq)]
pub struct NetSpec {
    /// `[A-Za-z_][A-Za-z0-9_-]*`.
    pub name: String,
    pub input_shape: Shape,
    pub input_dtype: DataType,
    pub layers: Vec<LayerSpec>,
    /// `Some(k)`: a top-k head (k = 1 is argmax); needs a flat output with at least k elements.
    pub head: Option<usize>,
}

/// The spec of a conv net; any [`NetSpec`] (dense-only nets too).
pub type CnnSpec = NetSpec;

/// A dense-only network.
#[derive(Clone, Debug, PartialEq)]
pub struct MlpSpec {
    pub name: String,
    pub in_features: usize,
    pub input_dtype: DataType,
    pub layers: Vec<DenseSpec>,
    /// `Some(k)`: a top-k head (k = 1 is argmax).
    pub head: Option<usize>,
}

impl MlpSpec {
    pub fn to_net_spec(&self) -> NetSpec {
        NetSpec {
            name: self.name.clone(),
            input_shape: Shape::Flat(self.in_features),
            input_dtype: self.input_dtype,
            layers: self.layers.iter().cloned().map(LayerSpec::Dense).collect(),
            head: self.head,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------------------------

/// A random dense-only network. Same as [`network`] on [`MlpSpec::to_net_spec`].
///
/// # Panics
/// When the spec is inconsistent (see [`network`]).
pub fn mlp(spec: &MlpSpec, seed: u64) -> Network {
    network(&spec.to_net_spec(), seed)
}

/// A random network of any layers; the same as [`network`].
///
/// # Panics
/// When the spec is inconsistent (see [`network`]).
pub fn cnn(spec: &CnnSpec, seed: u64) -> Network {
    network(spec, seed)
}

/// A random network from `spec`, with every layer's input and output type set: weights uniform over
/// the weight datatype, activation parameters as described at [`ActSpec`]. Layers are named
/// `fc<i>`, `conv<i>`, `pool<i>` (counted per kind).
///
/// # Panics
/// When the spec is inconsistent: folding out of range, a window that does not fit, conv on a flat
/// input, a dense/conv layer after an activation `none`, a missing bipolar pad value, a head on a
/// non-flat output or with k out of range.
pub fn network(spec: &NetSpec, seed: u64) -> Network {
    let input = TensorType {
        shape: spec.input_shape,
        dtype: ValueType::Data(spec.input_dtype),
    };
    assert!(
        !input.shape.is_empty(),
        "network {}: empty input",
        spec.name
    );
    let mut ty = input;
    let mut layers = Vec::with_capacity(spec.layers.len());
    let (mut n_fc, mut n_conv, mut n_pool) = (0, 0, 0);
    for (index, layer_spec) in spec.layers.iter().enumerate() {
        let mut rng = Rng::stream(seed, index as u64);
        let layer = match layer_spec {
            LayerSpec::Dense(d) => {
                let name = format!("fc{n_fc}");
                n_fc += 1;
                matvec_layer(
                    name,
                    ty,
                    None,
                    Shape::Flat(d.out_features),
                    d.weight_dtype,
                    &d.activation,
                    Folding::new(d.pe, d.simd),
                    &mut rng,
                )
            }
            LayerSpec::Conv(c) => {
                let name = format!("conv{n_conv}");
                n_conv += 1;
                let Shape::Image { h, w, .. } = ty.shape else {
                    panic!(
                        "layer {name}: conv2d needs an image input, got [{}]",
                        ty.shape
                    );
                };
                let oh = window_out(h, c.kernel[0], c.stride[0], c.padding[0]);
                let ow = window_out(w, c.kernel[1], c.stride[1], c.padding[1]);
                let (Some(oh), Some(ow)) = (oh, ow) else {
                    panic!(
                        "layer {name}: a {:?} kernel does not fit a {h}x{w} input",
                        c.kernel
                    );
                };
                assert!(
                    c.padding[0] < c.kernel[0] && c.padding[1] < c.kernel[1],
                    "layer {name}: padding {:?} must be smaller than the kernel {:?}",
                    c.padding,
                    c.kernel
                );
                let padded = c.padding != [0, 0];
                let pad_value = match (c.pad_value, ty.dtype) {
                    (Some(v), ValueType::Data(d)) => {
                        assert!(d.contains(v), "layer {name}: pad value {v} is not a {d}");
                        v
                    }
                    (None, ValueType::Data(DataType::Bipolar)) if padded => {
                        panic!("layer {name}: padding a bipolar input needs a pad value of ±1")
                    }
                    (None, ValueType::Data(d)) if !d.contains(0) => d.min(),
                    _ => 0,
                };
                let geometry = ConvGeometry {
                    kernel: c.kernel,
                    stride: c.stride,
                    padding: c.padding,
                    pad_value,
                };
                matvec_layer(
                    name,
                    ty,
                    Some(geometry),
                    Shape::Image {
                        h: oh,
                        w: ow,
                        c: c.out_channels,
                    },
                    c.weight_dtype,
                    &c.activation,
                    Folding::new(c.pe, c.simd),
                    &mut rng,
                )
            }
            LayerSpec::MaxPool(p) => {
                let name = format!("pool{n_pool}");
                n_pool += 1;
                let Shape::Image { h, w, c } = ty.shape else {
                    panic!(
                        "layer {name}: maxpool needs an image input, got [{}]",
                        ty.shape
                    );
                };
                let oh = window_out(h, p.kernel[0], p.stride[0], 0);
                let ow = window_out(w, p.kernel[1], p.stride[1], 0);
                let (Some(oh), Some(ow)) = (oh, ow) else {
                    panic!(
                        "layer {name}: a {:?} window does not fit a {h}x{w} input",
                        p.kernel
                    );
                };
                Layer {
                    name,
                    input: ty,
                    output: TensorType {
                        shape: Shape::Image { h: oh, w: ow, c },
                        dtype: ty.dtype,
                    },
                    op: Op::MaxPool(MaxPool {
                        kernel: p.kernel,
                        stride: p.stride,
                        buffer_depth: None,
                    }),
                }
            }
            LayerSpec::GlobalAvgPool => {
                let name = format!("gap{n_pool}");
                n_pool += 1;
                let (Shape::Image { h, w, c }, ValueType::Data(in_dt)) = (ty.shape, ty.dtype)
                else {
                    panic!("layer {name}: globalavgpool needs an image of a declared datatype");
                };
                let g = crate::ir::GlobalAvgPool { h, w };
                Layer {
                    name,
                    input: ty,
                    output: TensorType {
                        shape: Shape::Flat(c),
                        dtype: ValueType::Data(g.sum_dtype(in_dt)),
                    },
                    op: Op::GlobalAvgPool(g),
                }
            }
        };
        ty = layer.output;
        layers.push(layer);
    }
    if let Some(k) = spec.head {
        let Shape::Flat(classes) = ty.shape else {
            panic!(
                "network {}: a head needs a flat output, got [{}]",
                spec.name, ty.shape
            );
        };
        assert!(
            (1..=classes).contains(&k),
            "network {}: top-{k} of {classes} classes",
            spec.name
        );
    }
    Network {
        name: spec.name.clone(),
        input,
        layers,
        head: spec.head.map(|k| TopK { k }),
    }
}

/// Mean and variance of a value drawn uniformly from `dt`.
fn value_stats(dt: DataType) -> (f64, f64) {
    let values: Vec<f64> = (dt.min()..=dt.max())
        .filter(|&v| dt.contains(v))
        .map(|v| v as f64)
        .collect();
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    (mean, var)
}

#[allow(clippy::too_many_arguments)]
fn matvec_layer(
    name: String,
    input: TensorType,
    conv: Option<ConvGeometry>,
    out_shape: Shape,
    weight_dtype: DataType,
    act: &ActSpec,
    folding: Folding,
    rng: &mut Rng,
) -> Layer {
    let Some(in_dt) = input.dtype.as_data() else {
        panic!(
            "layer {name}: its input is raw accumulators; only the last dense/conv layer may have \
             activation none"
        );
    };
    let rows = out_shape.channels();
    let cols = match conv {
        None => input.shape.len(),
        Some(g) => g.kernel[0] * g.kernel[1] * input.shape.channels(),
    };
    assert!(
        rows > 0 && cols > 0,
        "layer {name}: empty weight matrix {rows}x{cols}"
    );
    assert!(
        (1..=rows).contains(&folding.pe),
        "layer {name}: pe = {} must be in 1..={rows}",
        folding.pe
    );
    assert!(
        (1..=cols).contains(&folding.simd),
        "layer {name}: simd = {} must be in 1..={cols}",
        folding.simd
    );
    if conv.is_some() {
        let ifm = input.shape.channels();
        assert!(
            folding.simd <= ifm,
            "layer {name}: conv simd = {} must be at most the {ifm} input channels",
            folding.simd
        );
    }
    let weights = Array2::from_shape_simple_fn((rows, cols), || rng.value(weight_dtype) as i32);
    let mut mv = MatVec {
        conv,
        weights,
        weight_dtype,
        activation: Activation::Identity,
        folding,
    };
    let (lo, hi) = mv.acc_range(in_dt);
    // Per output channel: mean and standard deviation of the accumulator for uniform inputs.
    let (x_mean, x_var) = value_stats(in_dt);
    let stats: Vec<AccStats> = mv
        .weights
        .rows()
        .into_iter()
        .map(|row| {
            let sum: f64 = row.iter().map(|&w| f64::from(w)).sum();
            let sq: f64 = row.iter().map(|&w| f64::from(w) * f64::from(w)).sum();
            AccStats {
                lo,
                hi,
                center: sum * x_mean,
                sd: (sq * x_var).sqrt().max(1.0),
            }
        })
        .collect();
    let (activation, out_dtype) = match act {
        ActSpec::BatchNorm {
            quantizer,
            alpha,
            bias,
        } => (
            Activation::BatchNorm(random_batchnorm(*quantizer, *alpha, *bias, &stats, rng)),
            ValueType::Data(quantizer.out_dtype()),
        ),
        ActSpec::Thresholds { out_dtype, falling } => (
            Activation::Thresholds(random_thresholds(*out_dtype, *falling, &stats, rng)),
            ValueType::Data(*out_dtype),
        ),
        ActSpec::None => (Activation::Identity, ValueType::Accumulator { lo, hi }),
    };
    mv.activation = activation;
    Layer {
        name,
        input,
        output: TensorType {
            shape: out_shape,
            dtype: out_dtype,
        },
        op: Op::MatVec(mv),
    }
}

/// Accumulator statistics of one output channel.
struct AccStats {
    lo: i64,
    hi: i64,
    center: f64,
    sd: f64,
}

fn is_power_of_two(x: f64) -> bool {
    x > 0.0 && x.is_finite() && x.to_bits() & ((1u64 << 52) - 1) == 0
}

fn random_batchnorm(
    quantizer: Quantizer,
    with_alpha: bool,
    with_bias: bool,
    stats: &[AccStats],
    rng: &mut Rng,
) -> BatchNorm {
    if let Quantizer::Uniform { scale, .. } = quantizer {
        assert!(
            scale > 0.0 && scale.is_finite(),
            "quantizer scale {scale} must be > 0"
        );
    }
    let c = stats.len();
    let (mut gamma, mut beta, mut mean, mut var) = (vec![], vec![], vec![], vec![]);
    let mut alpha = with_alpha.then(Vec::new);
    let mut bias = with_bias.then(Vec::new);
    for s in stats {
        let a = if with_alpha {
            let sign = if rng.chance(0.2) { -1.0 } else { 1.0 };
            f32v(sign * rng.uniform(0.25, 2.0))
        } else {
            1.0
        };
        let b = if with_bias {
            f32v(rng.uniform(-1.0, 1.0) * s.sd * a.abs())
        } else {
            0.0
        };
        // x = a·acc + b: its centre, spread and extremes.
        let x_center = a * s.center + b;
        let x_sd = a.abs() * s.sd;
        let (x_lo, x_hi) = {
            let (p, q) = (a * s.lo as f64 + b, a * s.hi as f64 + b);
            (p.min(q), p.max(q))
        };
        let v = if rng.chance(0.05) {
            0.0
        } else {
            f32v((x_sd * rng.uniform(0.5, 2.0)).powi(2))
        };
        let magnitude = match quantizer {
            Quantizer::Sign => rng.uniform(0.25, 2.0),
            Quantizer::Uniform { scale, .. } => {
                let dt = quantizer.out_dtype();
                let span = scale * (dt.max() - dt.min() + 1) as f64;
                span / 4.0 * rng.uniform(0.5, 2.0)
            }
        };
        let g = match rng.below(25) {
            0 => 0.0,
            1 => -0.0,
            2..=11 => -f32v(magnitude),
            _ => f32v(magnitude),
        };
        // Channel kind: 0 = constant output (mean far outside), 1..=2 = exact boundary at an
        // integer accumulator, else ordinary.
        let kind = rng.below(12);
        let exact_tie_possible = !with_alpha && !with_bias;
        let (m, bt) = if kind == 0 {
            let far = (x_hi - x_lo) + 2.0 * x_sd + 1.0;
            let m = if rng.chance(0.5) {
                x_lo - far
            } else {
                x_hi + far
            };
            (f32v(m), random_beta(quantizer, g, rng))
        } else if kind <= 2 && exact_tie_possible {
            // y = beta exactly at acc = mean (x − mean = 0): make beta a boundary.
            let acc = (s.center + s.sd * rng.uniform(-1.0, 1.0))
                .round()
                .clamp(s.lo as f64, s.hi as f64);
            let bt = match quantizer {
                Quantizer::Sign => 0.0,
                Quantizer::Uniform { scale, .. } if is_power_of_two(scale) => {
                    let dt = quantizer.out_dtype();
                    let k = rng.range(dt.min(), dt.max() - 1) as f64;
                    f32v(scale * (k + 0.5))
                }
                Quantizer::Uniform { .. } => random_beta(quantizer, g, rng),
            };
            (f32v(acc), bt)
        } else {
            let m = x_center + x_sd * rng.uniform(-1.5, 1.5);
            (f32v(m), random_beta(quantizer, g, rng))
        };
        gamma.push(g);
        beta.push(bt);
        mean.push(m);
        var.push(v);
        if let Some(al) = alpha.as_mut() {
            al.push(a);
        }
        if let Some(bi) = bias.as_mut() {
            bi.push(b);
        }
    }
    debug_assert_eq!(gamma.len(), c);
    BatchNorm {
        gamma,
        beta,
        mean,
        var,
        eps: 1e-5,
        alpha,
        bias,
        quantizer,
    }
}

/// β: near the middle of the quantizer's input range.
fn random_beta(quantizer: Quantizer, gamma: f64, rng: &mut Rng) -> f64 {
    match quantizer {
        Quantizer::Sign => f32v(rng.uniform(-0.5, 0.5) * gamma.abs().max(0.25)),
        Quantizer::Uniform { scale, .. } => {
            let dt = quantizer.out_dtype();
            let span = scale * (dt.max() - dt.min() + 1) as f64;
            let mid = scale * (dt.min() + dt.max()) as f64 / 2.0;
            f32v(mid + span * rng.uniform(-0.25, 0.25))
        }
    }
}

fn random_thresholds(
    out_dtype: DataType,
    falling: bool,
    stats: &[AccStats],
    rng: &mut Rng,
) -> Thresholds {
    let steps = (1usize << out_dtype.bits()) - 1;
    let channels = stats.len();
    let mut values = Array2::<i64>::zeros((channels, steps));
    let mut compare = Vec::with_capacity(channels);
    for (c, s) in stats.iter().enumerate() {
        let cmp = if falling && rng.chance(0.35) {
            Compare::Le
        } else {
            Compare::Ge
        };
        for j in 0..steps {
            values[[c, j]] = match rng.below(10) {
                // Beyond the range: always or never met.
                0 => s.lo - rng.range(0, s.sd.ceil() as i64 + 1),
                1 => s.hi + rng.range(0, s.sd.ceil() as i64 + 1),
                _ => (s.center + s.sd * 0.75 * rng.normal()).round() as i64,
            };
        }
        compare.push(cmp);
    }
    Thresholds {
        values,
        compare,
        out_bias: out_dtype.min(),
        out_dtype,
    }
}

// ---------------------------------------------------------------------------------------------
// Frames
// ---------------------------------------------------------------------------------------------

/// `n` random input frames of `shape`, each value uniform over `dtype`: an array `[n, *shape.dims()]`,
/// the layout of `bnn-gen run --input`.
pub fn frames(dtype: DataType, shape: Shape, n: usize, seed: u64) -> ArrayD<i64> {
    let mut rng = Rng::stream(seed, u64::MAX);
    let mut dims = vec![n];
    dims.extend(shape.dims());
    ArrayD::from_shape_simple_fn(IxDyn(&dims), || rng.value(dtype))
}

/// `n` random input frames for `net`'s input.
pub fn frames_for(net: &Network, n: usize, seed: u64) -> ArrayD<i64> {
    let dtype = net
        .input
        .dtype
        .as_data()
        .expect("a network input is a datatype, not raw accumulators");
    frames(dtype, net.input.shape, n, seed)
}

// ---------------------------------------------------------------------------------------------
// Random specs for sweeps
// ---------------------------------------------------------------------------------------------

/// Size limits of [`random_mlp_spec`] and [`random_cnn_spec`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RandomLimits {
    /// Dense/conv/pool layers at most (at least 1).
    pub max_layers: usize,
    /// Dense widths (input features and outputs) at most.
    pub max_features: usize,
    /// Image height and width at most.
    pub max_image: usize,
    /// Image channels at most.
    pub max_channels: usize,
    /// Largest bit width of any datatype drawn (1..=8).
    pub max_bits: u8,
}

impl Default for RandomLimits {
    fn default() -> Self {
        RandomLimits {
            max_layers: 4,
            max_features: 48,
            max_image: 9,
            max_channels: 6,
            max_bits: 4,
        }
    }
}

/// A datatype for network inputs and activation outputs (no ternary).
fn random_data_dtype(rng: &mut Rng, max_bits: u8) -> DataType {
    let max_bits = max_bits.clamp(1, 8);
    match rng.below(5) {
        0 => DataType::Bipolar,
        1 => DataType::BINARY,
        2 | 3 => DataType::UInt(rng.range(1, i64::from(max_bits)) as u8),
        _ => DataType::Int(rng.range(2, i64::from(max_bits.max(2))) as u8),
    }
}

fn random_weight_dtype(rng: &mut Rng, max_bits: u8) -> DataType {
    if rng.chance(1.0 / 6.0) {
        DataType::Ternary
    } else {
        random_data_dtype(rng, max_bits)
    }
}

/// A random activation; `last`: may also be `none` (the last dense/conv layer).
fn random_act(rng: &mut Rng, last: bool, max_bits: u8) -> ActSpec {
    if last && rng.chance(0.5) {
        return ActSpec::None;
    }
    match rng.below(20) {
        0..=6 => ActSpec::BatchNorm {
            quantizer: Quantizer::Sign,
            alpha: rng.chance(0.3),
            bias: rng.chance(0.3),
        },
        7..=11 => {
            let signed = rng.chance(0.4);
            let hi = i64::from(max_bits.clamp(2, 8)).min(4);
            let bits = if signed {
                rng.range(2, hi)
            } else {
                rng.range(1, hi)
            } as u8;
            let scale = if rng.chance(0.5) {
                rng.pick(&[0.125, 0.25, 0.5, 1.0, 2.0])
            } else {
                f32v(rng.uniform(0.1, 2.0))
            };
            ActSpec::BatchNorm {
                quantizer: Quantizer::Uniform {
                    bits,
                    signed,
                    scale,
                },
                alpha: rng.chance(0.3),
                bias: rng.chance(0.3),
            }
        }
        _ => ActSpec::thresholds(random_data_dtype(rng, max_bits.min(4))),
    }
}

/// Folding lanes for a dimension of `n`: a divisor half the time, else anything in `1..=n`.
fn random_lanes(rng: &mut Rng, n: usize) -> usize {
    if rng.chance(0.5) {
        let divisors: Vec<usize> = (1..=n).filter(|&d| n.is_multiple_of(d)).collect();
        rng.pick(&divisors)
    } else {
        rng.range_usize(1, n)
    }
}

/// A random valid, exportable dense-only spec (no [`Compare::Le`] thresholds): 1 to
/// `max_layers` layers, all datatypes, random folding (dividing or not), `none` only last, a
/// top-k head on some.
pub fn random_mlp_spec(seed: u64, limits: &RandomLimits) -> MlpSpec {
    let mut rng = Rng::stream(seed, 0x5EED_0001);
    let max_f = limits.max_features.max(1);
    let in_features = rng.range_usize(1, max_f);
    let n_layers = rng.range_usize(1, limits.max_layers.max(1));
    let mut layers = Vec::with_capacity(n_layers);
    let mut fan_in = in_features;
    for i in 0..n_layers {
        let out = rng.range_usize(1, max_f);
        let activation = random_act(&mut rng, i + 1 == n_layers, limits.max_bits);
        layers.push(DenseSpec {
            out_features: out,
            weight_dtype: random_weight_dtype(&mut rng, limits.max_bits),
            activation,
            pe: random_lanes(&mut rng, out),
            simd: random_lanes(&mut rng, fan_in),
        });
        fan_in = out;
    }
    let head = rng.chance(0.6).then(|| rng.range_usize(1, fan_in.min(3)));
    MlpSpec {
        name: format!("rand-mlp-{seed}"),
        in_features,
        input_dtype: random_data_dtype(&mut rng, limits.max_bits),
        layers,
        head,
    }
}

/// A random valid, exportable conv-net spec: an image input, conv2d layers (kernels 1–3, possibly
/// non-square, strides 1–2, padding 0–1 with random pad values) and max-pools while the image
/// allows, then possibly dense layers; `none` only on the last dense/conv layer, which ends the
/// network; a top-k head on some flat outputs.
pub fn random_cnn_spec(seed: u64, limits: &RandomLimits) -> CnnSpec {
    let mut rng = Rng::stream(seed, 0x5EED_0002);
    let max_img = limits.max_image.max(1);
    let max_ch = limits.max_channels.max(1);
    let (mut h, mut w) = (rng.range_usize(1, max_img), rng.range_usize(1, max_img));
    let mut c = rng.range_usize(1, max_ch);
    let input_shape = Shape::Image { h, w, c };
    let input_dtype = random_data_dtype(&mut rng, limits.max_bits.max(1));
    let mut dtype = input_dtype;
    let n_layers = rng.range_usize(1, limits.max_layers.max(1));
    let mut layers = Vec::with_capacity(n_layers);
    let mut flat: Option<usize> = None;
    for i in 0..n_layers {
        let last = i + 1 == n_layers;
        let choice = rng.below(10);
        if flat.is_none() && choice < 6 {
            // conv2d
            let kernel = [
                rng.range_usize(1, 3.min(h + 2)),
                rng.range_usize(1, 3.min(w + 2)),
            ];
            let mut padding = [0, 0];
            for d in 0..2 {
                let size = [h, w][d];
                // The kernel is at most size + 2, so padding 1 always makes it fit; padding must be
                // smaller than the kernel.
                if kernel[d] >= 2 && (size < kernel[d] || rng.chance(0.3)) {
                    padding[d] = 1;
                }
            }
            let stride = [rng.range_usize(1, 2), rng.range_usize(1, 2)];
            let pad_value = (padding != [0, 0]).then(|| rng.value(dtype));
            let out_channels = rng.range_usize(1, max_ch);
            let activation = random_act(&mut rng, last, limits.max_bits);
            let oh = window_out(h, kernel[0], stride[0], padding[0]).expect("fits");
            let ow = window_out(w, kernel[1], stride[1], padding[1]).expect("fits");
            layers.push(LayerSpec::Conv(ConvSpec {
                out_channels,
                kernel,
                stride,
                padding,
                pad_value,
                weight_dtype: random_weight_dtype(&mut rng, limits.max_bits),
                pe: random_lanes(&mut rng, out_channels),
                simd: random_lanes(&mut rng, c),
                activation: activation.clone(),
            }));
            (h, w, c) = (oh, ow, out_channels);
            match activation {
                ActSpec::None => break,
                ActSpec::BatchNorm { quantizer, .. } => dtype = quantizer.out_dtype(),
                ActSpec::Thresholds { out_dtype, .. } => dtype = out_dtype,
            }
        } else if flat.is_none() && choice < 8 && h.max(w) >= 2 {
            let kernel = [rng.range_usize(1, 3.min(h)), rng.range_usize(1, 3.min(w))];
            let kernel = if kernel == [1, 1] {
                [h.min(2), w.min(2)]
            } else {
                kernel
            };
            let stride = if rng.chance(0.7) {
                kernel
            } else {
                [rng.range_usize(1, kernel[0]), rng.range_usize(1, kernel[1])]
            };
            layers.push(LayerSpec::MaxPool(PoolSpec { kernel, stride }));
            h = window_out(h, kernel[0], stride[0], 0).expect("fits");
            w = window_out(w, kernel[1], stride[1], 0).expect("fits");
        } else {
            let fan_in = flat.unwrap_or(h * w * c);
            let out = rng.range_usize(1, limits.max_features.max(1));
            let activation = random_act(&mut rng, last, limits.max_bits);
            layers.push(LayerSpec::Dense(DenseSpec {
                out_features: out,
                weight_dtype: random_weight_dtype(&mut rng, limits.max_bits),
                pe: random_lanes(&mut rng, out),
                simd: random_lanes(&mut rng, fan_in),
                activation: activation.clone(),
            }));
            flat = Some(out);
            match activation {
                ActSpec::None => break,
                ActSpec::BatchNorm { quantizer, .. } => dtype = quantizer.out_dtype(),
                ActSpec::Thresholds { out_dtype, .. } => dtype = out_dtype,
            }
        }
    }
    let head = match flat {
        Some(n) if rng.chance(0.6) => Some(rng.range_usize(1, n.min(3))),
        _ => None,
    };
    NetSpec {
        name: format!("rand-cnn-{seed}"),
        input_shape,
        input_dtype,
        layers,
        head,
    }
}

// ---------------------------------------------------------------------------------------------
// Named examples
// ---------------------------------------------------------------------------------------------

/// The names [`example`] knows, in the order `scripts/gen-examples` writes them.
pub const EXAMPLES: [&str; 5] = ["tiny", "w2a2", "cnv-small", "lfc", "cnv"];

fn dense(
    out_features: usize,
    weight_dtype: DataType,
    activation: ActSpec,
    pe: usize,
    simd: usize,
) -> LayerSpec {
    LayerSpec::Dense(DenseSpec {
        out_features,
        weight_dtype,
        activation,
        pe,
        simd,
    })
}

fn conv3x3(
    out_channels: usize,
    padding: usize,
    pad_value: Option<i64>,
    pe: usize,
    simd: usize,
) -> LayerSpec {
    LayerSpec::Conv(ConvSpec {
        out_channels,
        kernel: [3, 3],
        stride: [1, 1],
        padding: [padding, padding],
        pad_value,
        weight_dtype: DataType::Bipolar,
        activation: ActSpec::SIGN,
        pe,
        simd,
    })
}

fn pool2() -> LayerSpec {
    LayerSpec::MaxPool(PoolSpec {
        kernel: [2, 2],
        stride: [2, 2],
    })
}

/// The spec and seed of a named example.
pub fn example_spec(name: &str) -> Option<(NetSpec, u64)> {
    use DataType::{Bipolar, Int, UInt};
    let bin = DataType::BINARY;
    let spec = match name {
        // W1A1 MLP, 20-12-10, binary input, folding that divides.
        "tiny" => NetSpec {
            name: "tiny".into(),
            input_shape: Shape::Flat(20),
            input_dtype: bin,
            layers: vec![
                dense(12, Bipolar, ActSpec::SIGN, 4, 5),
                dense(10, Bipolar, ActSpec::None, 5, 6),
            ],
            head: Some(1),
        },
        // W2A2 MLP 64-64-32-10 with explicit thresholds: uint2 out, then int2 out (bias −2).
        "w2a2" => NetSpec {
            name: "w2a2".into(),
            input_shape: Shape::Flat(64),
            input_dtype: UInt(2),
            layers: vec![
                dense(64, Int(2), ActSpec::thresholds(UInt(2)), 8, 16),
                dense(32, Int(2), ActSpec::thresholds(Int(2)), 4, 8),
                dense(10, Int(2), ActSpec::None, 2, 8),
            ],
            head: Some(1),
        },
        // CNV-shaped W1A1 conv net on a 12x12x3 uint8 image: 12 →conv 10 →conv(pad 1, −1) 10
        // →pool 5 →conv 3, then dense 64, dense 10.
        "cnv-small" => NetSpec {
            name: "cnv-small".into(),
            input_shape: Shape::Image { h: 12, w: 12, c: 3 },
            input_dtype: UInt(8),
            layers: vec![
                conv3x3(16, 0, None, 4, 3),
                conv3x3(16, 1, Some(-1), 8, 16),
                pool2(),
                conv3x3(32, 0, None, 8, 16),
                dense(64, Bipolar, ActSpec::SIGN, 8, 32),
                dense(10, Bipolar, ActSpec::None, 2, 8),
            ],
            head: Some(1),
        },
        // BNN-PYNQ LFC-W1A1: 784-1024-1024-1024-10, (SIMD, PE) = 64/32, 32/64, 64/32, 8/16. The
        // last layer's PE is 10, not 16: our schema requires pe <= out_features.
        "lfc" => NetSpec {
            name: "lfc".into(),
            input_shape: Shape::Flat(784),
            input_dtype: bin,
            layers: vec![
                dense(1024, Bipolar, ActSpec::SIGN, 32, 64),
                dense(1024, Bipolar, ActSpec::SIGN, 64, 32),
                dense(1024, Bipolar, ActSpec::SIGN, 32, 64),
                dense(10, Bipolar, ActSpec::None, 10, 8),
            ],
            head: Some(1),
        },
        // BNN-PYNQ CNV-W1A1 on 32x32x3 uint8: 32 →30 →28 →pool 14 →12 →10 →pool 5 →3 →1, then
        // dense 512, 512, 10; (PE, SIMD) as in BNN-PYNQ's config.h.
        "cnv" => NetSpec {
            name: "cnv".into(),
            input_shape: Shape::Image { h: 32, w: 32, c: 3 },
            input_dtype: UInt(8),
            layers: vec![
                conv3x3(64, 0, None, 16, 3),
                conv3x3(64, 0, None, 32, 32),
                pool2(),
                conv3x3(128, 0, None, 16, 32),
                conv3x3(128, 0, None, 16, 32),
                pool2(),
                conv3x3(256, 0, None, 4, 32),
                conv3x3(256, 0, None, 1, 32),
                dense(512, Bipolar, ActSpec::SIGN, 1, 4),
                dense(512, Bipolar, ActSpec::SIGN, 1, 8),
                dense(10, Bipolar, ActSpec::None, 4, 1),
            ],
            head: Some(1),
        },
        _ => return None,
    };
    let seed = match name {
        "tiny" => 0x7111,
        "w2a2" => 0x2222,
        "cnv-small" => 0xC5A1,
        "lfc" => 0x1FC0,
        _ => 0xC4F0,
    };
    Some((spec, seed))
}

/// A named example network (see [`EXAMPLES`] and `examples/README.md`) and how to export it:
/// `tiny` stores its weights and batch-norm parameters as float32, `cnv-small` uses
/// the Keras/Larq layouts (`hwio`, `io`, `input_order = "hwc"`), `lfc` and `cnv` the defaults
/// (PyTorch layouts, int8 weights, float64 batch-norm).
pub fn example(name: &str) -> Option<(Network, ExportOptions)> {
    let (spec, seed) = example_spec(name)?;
    let net = network(&spec, seed);
    let options = match name {
        "tiny" => ExportOptions {
            float_weights: true,
            float32_params: true,
            ..ExportOptions::default()
        },
        "cnv-small" => ExportOptions {
            layout: WeightLayout::Keras,
            ..ExportOptions::default()
        },
        _ => ExportOptions::default(),
    };
    Some((net, options))
}

/// Writes the named example into `dir` (`net.toml` and its `.npy` files) and returns the network.
/// An unknown name is an [`Error::Invalid`] that lists the known ones.
pub fn write_example(name: &str, dir: &Path) -> Result<Network> {
    let (net, options) = example(name).ok_or_else(|| {
        Error::invalid(
            "gen-example",
            format!(
                "unknown example \"{name}\" (known: {})",
                EXAMPLES.join(", ")
            ),
        )
    })?;
    write_network_with(&net, dir, &options)?;
    Ok(net)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_deterministic_and_spread() {
        let a: Vec<u64> = {
            let mut r = Rng::new(42);
            (0..8).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = Rng::new(42);
            (0..8).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        // SplitMix64 reference value for seed 0 (first output).
        assert_eq!(Rng::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
        let mut r = Rng::new(7);
        let mut hist = [0usize; 4];
        for _ in 0..4000 {
            hist[r.range(-2, 1).wrapping_add(2) as usize] += 1;
        }
        assert!(hist.iter().all(|&n| (800..1200).contains(&n)), "{hist:?}");
        for dt in [
            DataType::Bipolar,
            DataType::Ternary,
            DataType::Int(3),
            DataType::UInt(8),
        ] {
            let seen: std::collections::BTreeSet<i64> = (0..2000).map(|_| r.value(dt)).collect();
            let all: std::collections::BTreeSet<i64> =
                (dt.min()..=dt.max()).filter(|&v| dt.contains(v)).collect();
            assert_eq!(seen, all, "{dt}");
        }
    }

    /// Checks every layer's types against its neighbours and its parameters.
    pub(crate) fn check_consistent(net: &Network) {
        let mut ty = net.input;
        for layer in &net.layers {
            assert_eq!(layer.input, ty, "layer {} input", layer.name);
            match &layer.op {
                Op::MatVec(m) => {
                    let in_dt = layer.input.dtype.as_data().expect("data input");
                    let (lo, hi) = m.acc_range(in_dt);
                    assert!(m.folding.pe >= 1 && m.folding.pe <= m.rows());
                    assert!(m.folding.simd >= 1 && m.folding.simd <= m.cols());
                    if m.conv.is_some() {
                        assert!(m.folding.simd <= layer.input.shape.channels());
                    }
                    assert!(m
                        .weights
                        .iter()
                        .all(|&w| m.weight_dtype.contains(i64::from(w))));
                    assert_eq!(m.rows(), layer.output.shape.channels());
                    match m.conv {
                        None => {
                            assert_eq!(m.cols(), layer.input.shape.len());
                            assert_eq!(layer.output.shape, Shape::Flat(m.rows()));
                        }
                        Some(g) => {
                            let (Shape::Image { h, w, c }, Shape::Image { h: oh, w: ow, .. }) =
                                (layer.input.shape, layer.output.shape)
                            else {
                                panic!("conv on non-images")
                            };
                            assert_eq!(m.cols(), g.kernel[0] * g.kernel[1] * c);
                            assert_eq!(
                                Some(oh),
                                window_out(h, g.kernel[0], g.stride[0], g.padding[0])
                            );
                            assert_eq!(
                                Some(ow),
                                window_out(w, g.kernel[1], g.stride[1], g.padding[1])
                            );
                            if g.padding != [0, 0] {
                                assert!(in_dt.contains(g.pad_value));
                            }
                        }
                    }
                    match &m.activation {
                        Activation::Identity => {
                            assert_eq!(layer.output.dtype, ValueType::Accumulator { lo, hi })
                        }
                        Activation::BatchNorm(bn) => {
                            assert_eq!(
                                layer.output.dtype,
                                ValueType::Data(bn.quantizer.out_dtype())
                            );
                            assert_eq!(bn.channels(), m.rows());
                            for v in [&bn.gamma, &bn.beta, &bn.mean, &bn.var] {
                                assert_eq!(v.len(), m.rows());
                                assert!(v.iter().all(|&x| f32v(x) == x && x.is_finite()));
                            }
                            assert!(bn.var.iter().all(|&v| v >= 0.0));
                        }
                        Activation::Thresholds(t) => {
                            assert_eq!(layer.output.dtype, ValueType::Data(t.out_dtype));
                            assert_eq!(t.channels(), m.rows());
                            assert_eq!(t.compare.len(), m.rows());
                            assert_eq!(t.steps(), (1 << t.out_dtype.bits()) - 1);
                            for k in 0..=t.steps() as i64 {
                                assert!(t.out_dtype.contains(t.value_of_count(k)));
                            }
                        }
                    }
                }
                Op::Depthwise(_) => panic!(
                    "layer {}: synth builds no depthwise layers (tests/depthwise.rs does)",
                    layer.name
                ),
                Op::MaxPool(p) => {
                    assert_eq!(layer.output.dtype, layer.input.dtype);
                    let (
                        Shape::Image { h, w, c },
                        Shape::Image {
                            h: oh,
                            w: ow,
                            c: oc,
                        },
                    ) = (layer.input.shape, layer.output.shape)
                    else {
                        panic!("pool on non-images")
                    };
                    assert_eq!(c, oc);
                    assert_eq!(Some(oh), window_out(h, p.kernel[0], p.stride[0], 0));
                    assert_eq!(Some(ow), window_out(w, p.kernel[1], p.stride[1], 0));
                }
                Op::GlobalAvgPool(g) => {
                    let in_dt = layer.input.dtype.as_data().expect("data input");
                    assert_eq!(layer.input.shape.pixels(), g.pixels());
                    assert_eq!(
                        layer.output.shape,
                        Shape::Flat(layer.input.shape.channels())
                    );
                    assert_eq!(layer.output.dtype, ValueType::Data(g.sum_dtype(in_dt)));
                }
            }
            ty = layer.output;
        }
        if let Some(TopK { k }) = net.head {
            let Shape::Flat(n) = ty.shape else {
                panic!("head on an image")
            };
            assert!(k >= 1 && k <= n);
        }
    }

    #[test]
    fn examples_are_deterministic_and_consistent() {
        for name in EXAMPLES {
            let (a, _) = example(name).unwrap();
            let (b, _) = example(name).unwrap();
            assert_eq!(a, b, "{name}");
            check_consistent(&a);
        }
        assert!(example("nope").is_none());
    }

    #[test]
    fn example_shapes() {
        let (net, _) = example("cnv-small").unwrap();
        let shapes: Vec<String> = net
            .layers
            .iter()
            .map(|l| l.output.shape.to_string())
            .collect();
        assert_eq!(
            shapes,
            ["10x10x16", "10x10x16", "5x5x16", "3x3x32", "64", "10"]
        );
        let (cnv, seed) = example_spec("cnv").unwrap();
        let net = network(&cnv, seed);
        check_consistent(&net);
        let shapes: Vec<String> = net
            .layers
            .iter()
            .map(|l| l.output.shape.to_string())
            .collect();
        assert_eq!(
            shapes,
            [
                "30x30x64",
                "28x28x64",
                "14x14x64",
                "12x12x128",
                "10x10x128",
                "5x5x128",
                "3x3x256",
                "1x1x256",
                "512",
                "512",
                "10"
            ]
        );
        let folds: Vec<(usize, usize)> = net
            .layers
            .iter()
            .filter_map(|l| match &l.op {
                Op::MatVec(m) | Op::Depthwise(m) => Some((m.folding.pe, m.folding.simd)),
                Op::MaxPool(_) | Op::GlobalAvgPool(_) => None,
            })
            .collect();
        assert_eq!(
            folds,
            [
                (16, 3),
                (32, 32),
                (16, 32),
                (16, 32),
                (4, 32),
                (1, 32),
                (1, 4),
                (1, 8),
                (4, 1)
            ]
        );
        let (w2a2, _) = example("w2a2").unwrap();
        let Op::MatVec(m) = &w2a2.layers[1].op else {
            panic!()
        };
        let Activation::Thresholds(t) = &m.activation else {
            panic!()
        };
        assert_eq!((t.out_dtype, t.out_bias), (DataType::Int(2), -2));
    }

    #[test]
    fn random_specs_build_consistent_networks() {
        let limits = RandomLimits::default();
        for seed in 0..300 {
            let spec = random_mlp_spec(seed, &limits);
            let a = mlp(&spec, seed);
            assert_eq!(a, mlp(&spec, seed), "seed {seed}");
            check_consistent(&a);
            let spec = random_cnn_spec(seed, &limits);
            let b = cnn(&spec, seed);
            assert_eq!(b, cnn(&spec, seed), "seed {seed}");
            check_consistent(&b);
        }
        assert_ne!(
            mlp(&random_mlp_spec(1, &limits), 1),
            mlp(&random_mlp_spec(1, &limits), 2)
        );
    }

    #[test]
    fn batchnorm_covers_the_edge_cases() {
        // Over many channels: γ of both signs and zero, zero variances, constant channels,
        // and exact ties (y == 0 at an integer accumulator).
        let spec = MlpSpec {
            name: "bn".into(),
            in_features: 40,
            input_dtype: DataType::Bipolar,
            layers: vec![DenseSpec {
                out_features: 600,
                weight_dtype: DataType::Bipolar,
                activation: ActSpec::SIGN,
                pe: 1,
                simd: 1,
            }],
            head: None,
        };
        let net = mlp(&spec, 3);
        let Op::MatVec(m) = &net.layers[0].op else {
            panic!()
        };
        let Activation::BatchNorm(bn) = &m.activation else {
            panic!()
        };
        let (lo, hi) = m.acc_range(DataType::Bipolar);
        let count = |f: &dyn Fn(usize) -> bool| (0..bn.channels()).filter(|&c| f(c)).count();
        assert!(count(&|c| bn.gamma[c] > 0.0) > 100);
        assert!(count(&|c| bn.gamma[c] < 0.0) > 100);
        assert!(count(&|c| bn.gamma[c] == 0.0) > 5);
        assert!(count(&|c| bn.var[c] == 0.0) > 5);
        let outputs = |c: usize| -> std::collections::BTreeSet<i64> {
            (lo..=hi).map(|a| bn.reference(c, a)).collect()
        };
        let constant = count(&|c| bn.gamma[c] != 0.0 && outputs(c).len() == 1);
        let varying = count(&|c| outputs(c).len() == 2);
        assert!(constant > 10, "{constant}");
        assert!(varying > 300, "{varying}");
        let ties = count(&|c| {
            bn.gamma[c] != 0.0
                && (lo..=hi).any(|a| {
                    let s = (bn.var[c] + bn.eps).sqrt();
                    (a as f64 - bn.mean[c]) / s * bn.gamma[c] + bn.beta[c] == 0.0
                })
        });
        assert!(ties > 20, "{ties}");
    }

    #[test]
    fn thresholds_are_raw_and_cover_always_and_never() {
        let spec = MlpSpec {
            name: "thr".into(),
            in_features: 30,
            input_dtype: DataType::UInt(2),
            layers: vec![DenseSpec {
                out_features: 200,
                weight_dtype: DataType::Int(2),
                activation: ActSpec::Thresholds {
                    out_dtype: DataType::UInt(2),
                    falling: true,
                },
                pe: 1,
                simd: 1,
            }],
            head: None,
        };
        let net = mlp(&spec, 9);
        check_consistent(&net);
        let Op::MatVec(m) = &net.layers[0].op else {
            panic!()
        };
        let Activation::Thresholds(t) = &m.activation else {
            panic!()
        };
        let (lo, hi) = m.acc_range(DataType::UInt(2));
        assert!(t.values.iter().filter(|&&v| v < lo).count() > 10);
        assert!(t.values.iter().filter(|&&v| v > hi + 1).count() > 10);
        let unsorted = t
            .values
            .rows()
            .into_iter()
            .filter(|r| r.iter().zip(r.iter().skip(1)).any(|(a, b)| a > b))
            .count();
        assert!(unsorted > 50, "{unsorted}");
        // Most outputs vary over the accumulator range.
        let varying = (0..t.channels())
            .filter(|&c| {
                let outs: std::collections::BTreeSet<i64> =
                    (lo..=hi).map(|a| t.apply(c, a)).collect();
                outs.len() >= 2
            })
            .count();
        assert!(varying > 150, "{varying}");
        assert!(t.compare.contains(&Compare::Le) && t.compare.contains(&Compare::Ge));
    }

    #[test]
    fn frames_have_the_datatype_and_shape() {
        let f = frames(DataType::Int(3), Shape::Image { h: 4, w: 5, c: 2 }, 7, 1);
        assert_eq!(f.shape(), &[7, 4, 5, 2]);
        assert!(f.iter().all(|&v| DataType::Int(3).contains(v)));
        assert_eq!(
            f,
            frames(DataType::Int(3), Shape::Image { h: 4, w: 5, c: 2 }, 7, 1)
        );
        assert_ne!(
            f,
            frames(DataType::Int(3), Shape::Image { h: 4, w: 5, c: 2 }, 7, 2)
        );
        let b = frames(DataType::Bipolar, Shape::Flat(100), 3, 0);
        assert!(b.iter().all(|&v| v == 1 || v == -1));
    }

    #[test]
    #[should_panic(expected = "only the last dense/conv layer")]
    fn none_in_the_middle_is_rejected() {
        let spec = MlpSpec {
            name: "bad".into(),
            in_features: 4,
            input_dtype: DataType::Bipolar,
            layers: vec![
                DenseSpec {
                    out_features: 4,
                    weight_dtype: DataType::Bipolar,
                    activation: ActSpec::None,
                    pe: 1,
                    simd: 1,
                },
                DenseSpec {
                    out_features: 2,
                    weight_dtype: DataType::Bipolar,
                    activation: ActSpec::SIGN,
                    pe: 1,
                    simd: 1,
                },
            ],
            head: None,
        };
        mlp(&spec, 0);
    }
}
