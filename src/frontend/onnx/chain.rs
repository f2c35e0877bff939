//! What the float graph computes from one layer's integer accumulator up to the next quantizer,
//! per output channel, and the integer thresholds that reproduce it.
//!
//! The graph computes in float32, op by op, in its own order: the MatMul/Conv output, then bias,
//! BatchNormalization, Mul/Div/Add/Sub, Relu, then the quantizer's `x / scale + zero_point` and
//! rounding. Folding those ops into one real affine map and rounding that in f64 gives the same
//! integers almost everywhere, but not where a reachable accumulator puts the pre-activation within
//! a few float32 ulps of a rounding boundary; then the two round to different levels. So
//! [`Chain::level`] evaluates exactly the graph's float32 sequence, and [`threshold_row`] searches
//! the thresholds on it:
//!
//! - **MatMul/Conv output.** The exact real value `dot_scale[c]·acc + dot_offset[c]`, rounded once
//!   to float32. This is what the graph's float32 sum gives whenever its terms and partial sums are
//!   exact (power-of-two scales, small integers, as in bipolar/ternary nets and the planted test);
//!   with other scales the graph's sum has its own rounding errors, which no function of the
//!   accumulator can reproduce, and a correctly rounded dot product is the closest model.
//! - **BatchNormalization** as onnxruntime computes it (which qonnx `execute_onnx` calls for every
//!   standard op): `inv = 1 / sqrt(var + eps)`, `a = inv·γ`, `b = β − mean·a`, then `x·a + b`, every
//!   step rounded to float32, no fused multiply-add (measured bit-exact on onnxruntime 1.32 against
//!   that formula, 0 differences in 400,000 values, while the ONNX formula `(x − mean)/sqrt(var +
//!   eps)·γ + β` differs in 30 %).
//! - **Mul, Div, Add, Sub, Relu, bias** each one float32 operation.
//! - **Quantizers** as qonnx's numpy code: `Quant` computes `x / scale + zero_point` in float32,
//!   clamps, rounds; `BipolarQuant` tests `x ≥ 0`; `MultiThreshold` compares with its float32
//!   thresholds.
//!
//! Each float32 operation is monotone (non-strictly: neighbouring accumulators can round to the
//! same float), so `acc ↦ level` is a monotone step function per channel, rising or falling with
//! the sign of the product of the multipliers. Its thresholds are found by binary search over the
//! finite accumulator range for the first (rising) or last (falling) accumulator that reaches each
//! level; a non-strict step is no obstacle, as the predicate `level(acc) ≥ k` stays monotone.

use crate::frontend::float_io::{self, Rounding};
use crate::ir::Compare;
use crate::passes::thresholds::{first_true, last_true};
use ndarray::Array2;

/// One per-channel float op after a layer's MatMul/Conv output (vectors of length C or 1).
#[derive(Clone, Debug)]
pub(super) enum ChainOp {
    Mul(Vec<f64>),
    Div(Vec<f64>),
    Add(Vec<f64>),
    Sub(Vec<f64>),
    /// `v − x`
    SubFrom(Vec<f64>),
    Relu,
    /// ONNX BatchNormalization (inference), per channel.
    BatchNorm {
        gamma: Vec<f64>,
        beta: Vec<f64>,
        mean: Vec<f64>,
        var: Vec<f64>,
        eps: f64,
    },
}

pub(super) fn at(v: &[f64], c: usize) -> f64 {
    v[if v.len() == 1 { 0 } else { c }]
}

/// A graph constant (a float32 in the file, held as f64) back as the float32 the graph uses.
fn at32(v: &[f64], c: usize) -> f32 {
    at(v, c) as f32
}

fn sign(v: f64) -> i32 {
    if v > 0.0 {
        1
    } else if v < 0.0 {
        -1
    } else {
        0
    }
}

impl ChainOp {
    /// The op in exact (f64) arithmetic, as the ONNX spec writes it.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) fn eval_f64(&self, c: usize, x: f64) -> f64 {
        match self {
            ChainOp::Mul(v) => x * at(v, c),
            ChainOp::Div(v) => x / at(v, c),
            ChainOp::Add(v) => x + at(v, c),
            ChainOp::Sub(v) => x - at(v, c),
            ChainOp::SubFrom(v) => at(v, c) - x,
            ChainOp::Relu => x.max(0.0),
            ChainOp::BatchNorm {
                gamma,
                beta,
                mean,
                var,
                eps,
            } => (x - at(mean, c)) / (at(var, c) + eps).sqrt() * at(gamma, c) + at(beta, c),
        }
    }

    /// The op as the graph computes it in float32 (onnxruntime's order for BatchNormalization).
    pub(super) fn eval_f32(&self, c: usize, x: f32) -> f32 {
        match self {
            ChainOp::Mul(v) => x * at32(v, c),
            ChainOp::Div(v) => x / at32(v, c),
            ChainOp::Add(v) => x + at32(v, c),
            ChainOp::Sub(v) => x - at32(v, c),
            ChainOp::SubFrom(v) => at32(v, c) - x,
            ChainOp::Relu => x.max(0.0),
            ChainOp::BatchNorm {
                gamma,
                beta,
                mean,
                var,
                eps,
            } => {
                let (a, b) = bn_f32(
                    at32(gamma, c),
                    at32(beta, c),
                    at32(mean, c),
                    at32(var, c),
                    *eps as f32,
                );
                x * a + b
            }
        }
    }

    /// The op applied to the real affine map `acc ↦ a·acc + b` (None for Relu, which is not
    /// affine), to fold the ops after the last layer into the output affine.
    pub(super) fn compose(&self, c: usize, a: f64, b: f64) -> Option<(f64, f64)> {
        Some(match self {
            ChainOp::Mul(v) => (a * at(v, c), b * at(v, c)),
            ChainOp::Div(v) => (a / at(v, c), b / at(v, c)),
            ChainOp::Add(v) => (a, b + at(v, c)),
            ChainOp::Sub(v) => (a, b - at(v, c)),
            ChainOp::SubFrom(v) => (-a, at(v, c) - b),
            ChainOp::Relu => return None,
            ChainOp::BatchNorm {
                gamma,
                beta,
                mean,
                var,
                eps,
            } => {
                let (g, d) = (at(gamma, c), (at(var, c) + eps).sqrt());
                (a / d * g, (b - at(mean, c)) / d * g + at(beta, c))
            }
        })
    }

    /// +1 rising, −1 falling, 0 constant (Relu is nondecreasing: +1).
    pub(super) fn slope(&self, c: usize) -> i32 {
        match self {
            ChainOp::Mul(v) | ChainOp::Div(v) => sign(at(v, c)),
            ChainOp::SubFrom(_) => -1,
            ChainOp::BatchNorm { gamma, .. } => sign(at(gamma, c)),
            _ => 1,
        }
    }
}

/// onnxruntime's float32 BatchNormalization coefficients: `x ↦ x·a + b`.
fn bn_f32(gamma: f32, beta: f32, mean: f32, var: f32, eps: f32) -> (f32, f32) {
    let inv = 1.0 / (var + eps).sqrt();
    let a = inv * gamma;
    (a, beta - mean * a)
}

/// A layer's output channel by channel up to the next quantizer: the MatMul/Conv output
/// `dot_scale[c]·acc + dot_offset[c]` (input scale × weight scale × Gemm α, and the input's zero
/// point times the row sum), then `ops` in graph order.
#[derive(Clone, Debug)]
pub(super) struct Chain {
    pub dot_scale: Vec<f64>,
    pub dot_offset: Vec<f64>,
    pub ops: Vec<ChainOp>,
}

impl Chain {
    /// In exact arithmetic (f64), for a real accumulator value.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) fn eval_f64(&self, c: usize, acc: f64) -> f64 {
        let x = self.dot_scale[c] * acc + self.dot_offset[c];
        self.ops.iter().fold(x, |x, op| op.eval_f64(c, x))
    }

    /// As the graph computes it: the MatMul/Conv output rounded once to float32, then each op in
    /// float32.
    pub(super) fn eval_f32(&self, c: usize, acc: i64) -> f32 {
        let x = (self.dot_scale[c] * acc as f64 + self.dot_offset[c]) as f32;
        self.ops.iter().fold(x, |x, op| op.eval_f32(c, x))
    }

    /// The graph's quantized level of channel `c` for the accumulator `acc`.
    pub(super) fn level(&self, q: &ActQuant, c: usize, acc: i64) -> i64 {
        q.apply_f32(c, self.eval_f32(c, acc))
    }

    /// +1 when the pre-activation rises with the accumulator, −1 when it falls, 0 when constant.
    pub(super) fn slope(&self, c: usize) -> i32 {
        sign(self.dot_scale[c]) * self.ops.iter().map(|op| op.slope(c)).product::<i32>()
    }
}

/// The quantizer of a layer's activation: the integer q for a float value y of channel c.
#[derive(Clone, Debug)]
pub(super) enum ActQuant {
    Bipolar,
    Uniform {
        scale: f64,
        zero_point: f64,
        lo: i64,
        hi: i64,
        rounding: Rounding,
    },
    /// FINN MultiThreshold: q = count + `base` (`bipolar`: 2·count − 1).
    Multi {
        thresholds: Array2<f64>,
        base: i64,
        bipolar: bool,
    },
}

impl ActQuant {
    /// In exact arithmetic (f64).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) fn apply_f64(&self, c: usize, y: f64) -> i64 {
        match self {
            ActQuant::Bipolar => float_io::bipolar(y >= 0.0),
            ActQuant::Uniform {
                scale,
                zero_point,
                lo,
                hi,
                rounding,
            } => float_io::clamp_round(y / scale + zero_point, *lo, *hi, *rounding),
            ActQuant::Multi { .. } => self.apply_f32(c, y as f32),
        }
    }

    /// As qonnx computes it, in float32: `Quant`'s `y / scale + zero_point` is two float32 steps
    /// before the clamp and rounding (which are exact); thresholds are float32 values.
    pub(super) fn apply_f32(&self, c: usize, y: f32) -> i64 {
        match self {
            ActQuant::Bipolar => float_io::bipolar(y >= 0.0),
            ActQuant::Uniform {
                scale,
                zero_point,
                lo,
                hi,
                rounding,
            } => {
                let v = y / *scale as f32 + *zero_point as f32;
                float_io::clamp_round(v as f64, *lo, *hi, *rounding)
            }
            ActQuant::Multi {
                thresholds,
                base,
                bipolar,
            } => {
                let row = thresholds.row(if thresholds.nrows() == 1 { 0 } else { c });
                let met = row.iter().filter(|&&t| y >= t as f32).count();
                float_io::threshold_level(met, *base, *bipolar)
            }
        }
    }
}

/// The thresholds of channel `c` (one per level after the first of `levels`, ascending) that give,
/// for every accumulator in `lo..=hi`, the level `level(acc)` the graph computes. `negated`: the
/// hardware's accumulator is `−acc` (the weight row was negated to make a falling channel rise).
/// `compare` says how the thresholds are met: `Ge` needs `level` rising in the hardware's
/// accumulator, `Le` falling. A level reached nowhere gets a threshold just outside the range.
pub(super) fn threshold_row(
    level: impl Fn(i64) -> i64,
    (lo, hi): (i64, i64),
    levels: &[i64],
    negated: bool,
    compare: Compare,
) -> Vec<i64> {
    let g = |a: i64| if negated { level(-a) } else { level(a) };
    let mut row: Vec<i64> = levels[1..]
        .iter()
        .map(|&k| match compare {
            Compare::Ge => first_true(lo, hi, |a| g(a) >= k).unwrap_or(hi + 1),
            Compare::Le => last_true(lo, hi, |a| g(a) >= k).unwrap_or(lo - 1),
        })
        .collect();
    row.sort_unstable();
    row
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Thresholds;

    /// A planted boundary: `(channel, accumulator, float32 level, f64 level)`.
    type Planted = (usize, i64, i64, i64);

    /// Channels 0 to 3 of `tests/models/handmade/boundary.onnx` (made by
    /// `scripts/export_brevitas.py --only boundary`): uint4 input with scale 1/16, int3 weights with
    /// scales 1/2, 1/4, 1/2, 1/8, BatchNormalization, Relu, a uint4 quantizer with scale 0.1, and
    /// per channel an accumulator value (reached by frames there) whose pre-activation sits a few
    /// float32 ulps from a rounding boundary: `(channel, acc, float32 level, f64 level)`.
    fn boundary_channels() -> (Chain, ActQuant, [Planted; 4]) {
        let f =
            |bits: &[u32]| -> Vec<f64> { bits.iter().map(|&b| f32::from_bits(b) as f64).collect() };
        let bn = ChainOp::BatchNorm {
            gamma: f(&[0x3fafa720, 0xbf14b13b, 0x3f9b8111, 0xbf815d9e]),
            beta: f(&[0xc05186d1, 0x3d991e91, 0xbfd2b778, 0x4039b89c]),
            mean: f(&[0xbeeeae0a, 0xbe7c26aa, 0xbf7f7e19, 0xbfaec5ef]),
            var: f(&[0x3f8e4082, 0x3fcb82a9, 0x3fc47c47, 0x3f1c9772]),
            eps: 1e-5f32 as f64,
        };
        let chain = Chain {
            dot_scale: [0.5, 0.25, 0.5, 0.125].iter().map(|s| s / 16.0).collect(),
            dot_offset: vec![0.0; 4],
            ops: vec![bn, ChainOp::Relu],
        };
        let q = ActQuant::Uniform {
            scale: 0.1f32 as f64,
            zero_point: 0.0,
            lo: 0,
            hi: 15,
            rounding: Rounding::HalfEven,
        };
        (
            chain,
            q,
            [(0, 84, 8, 7), (1, -54, 4, 3), (2, 43, 6, 7), (3, 78, 3, 4)],
        )
    }

    /// The planted boundary: float32 and f64 evaluation give different levels at the planted
    /// accumulator, and the thresholds searched on the float32 sequence reproduce the float32
    /// level on every accumulator of the range, in each hardware form (rising `≥`, falling `≤`,
    /// and a falling channel with its row negated).
    #[test]
    fn thresholds_reproduce_the_float32_graph_at_a_planted_boundary() {
        let (chain, q, planted) = boundary_channels();
        let levels: Vec<i64> = (0..=15).collect();
        let range = (-300, 300);
        for (c, acc, l32, l64) in planted {
            assert_eq!(chain.level(&q, c, acc), l32, "channel {c}: float32 level");
            assert_eq!(
                q.apply_f64(c, chain.eval_f64(c, acc as f64)),
                l64,
                "channel {c}: f64 level"
            );
            let level = |a: i64| chain.level(&q, c, a);
            let rising = chain.slope(c) > 0;
            assert_eq!(rising, c % 2 == 0, "channel {c}: slope");
            let forms: Vec<(bool, Compare)> = if rising {
                vec![(false, Compare::Ge)]
            } else {
                vec![(false, Compare::Le), (true, Compare::Ge)]
            };
            for (negated, compare) in forms {
                let row = threshold_row(level, range, &levels, negated, compare);
                let t = Thresholds {
                    values: Array2::from_shape_vec((1, row.len()), row.clone()).unwrap(),
                    compare: vec![compare],
                    out_bias: 0,
                    out_dtype: crate::datatype::DataType::UInt(4),
                };
                for a in range.0..=range.1 {
                    let hw = if negated { -a } else { a };
                    assert_eq!(
                        t.apply(0, hw),
                        level(a),
                        "channel {c} ({negated}, {compare:?}): acc {a}, thresholds {row:?}"
                    );
                }
                // the planted accumulator sits right at its threshold
                let k = if negated { -acc } else { acc };
                // level >= k needs acc >= row[k - 1] (Ge), or acc <= row[len - k] (Le)
                let k_level = usize::try_from(l32.max(l64)).unwrap();
                let edge = match compare {
                    Compare::Ge => row[k_level - 1],
                    Compare::Le => row[row.len() - k_level],
                };
                assert!(
                    (edge - k).abs() <= 1,
                    "channel {c}: threshold {edge} next to {k}"
                );
            }
            // the f64 rule would put the threshold on the other side of the planted accumulator
            let row64 = threshold_row(
                |a| q.apply_f64(c, chain.eval_f64(c, a as f64)),
                range,
                &levels,
                false,
                if rising { Compare::Ge } else { Compare::Le },
            );
            let row32 = threshold_row(
                level,
                range,
                &levels,
                false,
                if rising { Compare::Ge } else { Compare::Le },
            );
            assert_ne!(row64, row32, "channel {c}");
        }
    }

    /// Float32 steps are monotone but not strictly: with a tiny slope many accumulators round to
    /// the same float32, and the search still finds the first accumulator of each level.
    #[test]
    fn thresholds_on_a_flat_float32_function() {
        let chain = Chain {
            dot_scale: vec![1e-9],
            dot_offset: vec![1.0],
            ops: vec![ChainOp::Mul(vec![-1.0]), ChainOp::Add(vec![2.0])],
        };
        let q = ActQuant::Uniform {
            scale: 1e-7f32 as f64,
            zero_point: -1e7,
            lo: -8,
            hi: 7,
            rounding: Rounding::Floor,
        };
        let levels: Vec<i64> = (-8..=7).collect();
        let level = |a: i64| chain.level(&q, 0, a);
        let row = threshold_row(level, (-2000, 2000), &levels, false, Compare::Le);
        let t = Thresholds {
            values: Array2::from_shape_vec((1, row.len()), row.clone()).unwrap(),
            compare: vec![Compare::Le],
            out_bias: -8,
            out_dtype: crate::datatype::DataType::Int(4),
        };
        let mut distinct = std::collections::BTreeSet::new();
        for a in -2000..=2000 {
            assert_eq!(t.apply(0, a), level(a), "acc {a}, thresholds {row:?}");
            distinct.insert(level(a));
        }
        assert!(
            distinct.len() > 2,
            "the test spans several levels: {distinct:?}"
        );
    }

    #[test]
    fn batchnorm_in_float32_is_onnxruntimes_fused_form() {
        let bn = ChainOp::BatchNorm {
            gamma: vec![1.5],
            beta: vec![0.25],
            mean: vec![0.5],
            var: vec![2.0],
            eps: 1e-5,
        };
        let x = 3.0f32;
        let inv = 1.0f32 / (2.0f32 + 1e-5f32).sqrt();
        assert_eq!(
            bn.eval_f32(0, x),
            x * (inv * 1.5) + (0.25 - 0.5 * (inv * 1.5))
        );
        let (a, b) = bn.compose(0, 1.0, 0.0).unwrap();
        assert!((bn.eval_f64(0, 3.0) - (a * 3.0 + b)).abs() < 1e-12);
        assert_eq!(bn.slope(0), 1);
    }
}
