//! Lowers every activation to canonical integer thresholds.
//!
//! **Batch-norm folding.** FINN streamlines BN into thresholds algebraically (`T −= B`, `T /= A`,
//! `ceil`), which needs a special case for A < 0 and trusts float rounding at the boundaries. We do
//! not derive the thresholds from a formula; we *search* for them on the float reference itself.
//! Per channel, `f(acc) = quantize(BN(α·acc + bias))` evaluated in f64 is monotone in `acc`: every
//! IEEE operation in it (multiply by a constant, add, divide by a positive number, round, clamp) is
//! monotone, and the slope's sign is sign(α)·sign(γ). So for each output level v_k the set
//! `{acc : f(acc) ≥ v_k}` is an interval reaching one end of the accumulator range, and a binary
//! search over the integers finds its boundary. The result reproduces the reference on every
//! reachable accumulator *by construction*, including exact ties, γ = 0 (constant output: every
//! threshold lands on "always" or "never") and levels that are never reached (clamped).
//!
//! A channel whose output falls as the accumulator rises (sign(α)·sign(γ) < 0) gets `Compare::Le`
//! rather than negated weights: negating an int8 weight row overflows at −128 (hlslib issue #9).
//!
//! **Explicit thresholds** (net.toml form (b)) are sorted per row (the count does not depend on the
//! order) and clamped into the accumulator range, which changes no output.
//!
//! **After a global average pool** the hardware feeds the layer the per-channel *sums* over H·W
//! pixels, not the averages, so its accumulator is `acc_sum = H·W · acc_avg` and there is no
//! divider anywhere. The division is folded here, exactly:
//! - batch-norm: the search evaluates the float reference at `acc_sum / (H·W)` (the correctly
//!   rounded f64 quotient, [`BatchNorm::reference_at`]), so the thresholds land on the sum's
//!   integers with the float model's own rounding; dividing by a positive constant keeps `f`
//!   monotone, so the search stays valid;
//! - explicit thresholds are written for the average's dot product, so `acc_avg ≥ T ⟺ acc_sum ≥
//!   H·W·T` (and the same for `≤`): every value is multiplied by H·W, exactly, in integers;
//! - no activation: the layer outputs `H·W` times the average's dot product; the float output
//!   affine (`[output] scale`) absorbs the factor (`frontend::float_io`).

use crate::datatype::DataType;
use crate::error::{Error, Result};
use crate::ir::*;
use ndarray::Array2;

/// Lowers the activations of every matvec layer in `net` (see the module docs).
pub fn lower_activations(net: &mut Network) -> Result<()> {
    // H·W of a global average pool right before the layer: its accumulator is H·W times the
    // float model's.
    let mut divisor = 1i64;
    for layer in &mut net.layers {
        // Depthwise layers fold the same way: `acc_range` is over the per-channel fan-in.
        let Some(mv) = layer.op.matvec_mut() else {
            divisor = match &layer.op {
                Op::GlobalAvgPool(g) => g.pixels() as i64,
                _ => 1,
            };
            continue;
        };
        let div = std::mem::replace(&mut divisor, 1);
        let in_dtype = layer.input.dtype.as_data().ok_or_else(|| {
            Error::Unsupported(format!(
                "layer \"{}\": its input is raw accumulators",
                layer.name
            ))
        })?;
        let (lo, hi) = mv.acc_range(in_dtype);
        mv.activation = match &mv.activation {
            Activation::BatchNorm(bn) => {
                Activation::Thresholds(fold_batchnorm_divided(bn, lo, hi, div))
            }
            Activation::Thresholds(t) => Activation::Thresholds(canonical(&scaled(t, div), lo, hi)),
            Activation::Identity => Activation::Identity,
        };
    }
    Ok(())
}

/// The integer thresholds equal to `bn` for every accumulator in `lo..=hi`.
pub fn fold_batchnorm(bn: &BatchNorm, lo: i64, hi: i64) -> Thresholds {
    fold_batchnorm_divided(bn, lo, hi, 1)
}

/// The integer thresholds on `acc` (in `lo..=hi`) equal to `bn` evaluated at `acc / divisor`
/// (module docs: after a global average pool of `divisor` pixels). `divisor` ≥ 1.
pub fn fold_batchnorm_divided(bn: &BatchNorm, lo: i64, hi: i64, divisor: i64) -> Thresholds {
    debug_assert!(divisor >= 1);
    let out_dtype = bn.quantizer.out_dtype();
    let levels = output_levels(out_dtype);
    let steps = levels.len() - 1;
    let channels = bn.channels();
    let mut values = Array2::<i64>::zeros((channels, steps));
    let mut compare = Vec::with_capacity(channels);

    for c in 0..channels {
        // For divisor 1 the quotient is acc itself (exact in f64 for |acc| < 2^53).
        let f = |acc: i64| bn.reference_at(c, acc as f64 / divisor as f64);
        let falling = slope_sign(bn, c) < 0;
        compare.push(if falling { Compare::Le } else { Compare::Ge });
        for (k, &level) in levels[1..].iter().enumerate() {
            values[[c, k]] = if falling {
                // Largest acc with f(acc) ≥ level; f falls, so that set is [lo, U].
                last_true(lo, hi, |a| f(a) >= level).unwrap_or(lo - 1)
            } else {
                // Smallest acc with f(acc) ≥ level; f rises (or is constant), so that set is [T, hi].
                first_true(lo, hi, |a| f(a) >= level).unwrap_or(hi + 1)
            };
        }
        // A falling channel's boundaries come out descending (higher level, smaller U); the count
        // does not depend on the order, and the hardware and readers expect ascending rows.
        let mut row: Vec<i64> = values.row(c).to_vec();
        row.sort_unstable();
        values
            .row_mut(c)
            .iter_mut()
            .zip(row)
            .for_each(|(v, r)| *v = r);
    }
    let out_bias = levels[0];
    Thresholds {
        values,
        compare,
        out_bias,
        out_dtype,
    }
}

/// Explicit thresholds on the average's dot product moved to the sum's: every value × `divisor`
/// (saturating: a value past the accumulator range is clamped by [`canonical`] anyway).
pub fn scaled(t: &Thresholds, divisor: i64) -> Thresholds {
    Thresholds {
        values: t.values.mapv(|v| v.saturating_mul(divisor)),
        ..t.clone()
    }
}

/// Sorts each row and clamps it into the accumulator range, per its comparison direction.
pub fn canonical(t: &Thresholds, lo: i64, hi: i64) -> Thresholds {
    let mut values = t.values.clone();
    for (c, mut row) in values.rows_mut().into_iter().enumerate() {
        let (min, max) = Thresholds::clamp_range(t.compare[c], lo, hi);
        let mut sorted: Vec<i64> = row.iter().map(|v| (*v).clamp(min, max)).collect();
        sorted.sort_unstable();
        row.iter_mut().zip(sorted).for_each(|(r, v)| *r = v);
    }
    Thresholds {
        values,
        ..t.clone()
    }
}

/// The output values of a datatype in ascending order: count k of thresholds met gives `levels[k]`.
fn output_levels(dt: DataType) -> Vec<i64> {
    match dt {
        DataType::Bipolar => vec![-1, 1],
        _ => (dt.min()..=dt.max()).collect(),
    }
}

/// Sign of the channel's slope, from the signs alone (a product of tiny α and γ may underflow).
fn slope_sign(bn: &BatchNorm, c: usize) -> i32 {
    let sign = |v: f64| {
        if v > 0.0 {
            1
        } else if v < 0.0 {
            -1
        } else {
            0
        }
    };
    let alpha = bn.alpha.as_ref().map_or(1.0, |a| a[c]);
    sign(alpha) * sign(bn.gamma[c])
}

/// Smallest `a` in `lo..=hi` with `p(a)`, for a predicate that is false then true.
pub(crate) fn first_true(lo: i64, hi: i64, p: impl Fn(i64) -> bool) -> Option<i64> {
    if !p(hi) {
        return None;
    }
    let (mut a, mut b) = (lo, hi); // invariant: p(b)
    while a < b {
        let mid = a + (b - a) / 2;
        if p(mid) {
            b = mid;
        } else {
            a = mid + 1;
        }
    }
    Some(b)
}

/// Largest `a` in `lo..=hi` with `p(a)`, for a predicate that is true then false.
pub(crate) fn last_true(lo: i64, hi: i64, p: impl Fn(i64) -> bool) -> Option<i64> {
    if !p(lo) {
        return None;
    }
    let (mut a, mut b) = (lo, hi); // invariant: p(a)
    while a < b {
        let mid = a + (b - a + 1) / 2;
        if p(mid) {
            a = mid;
        } else {
            b = mid - 1;
        }
    }
    Some(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bn(gamma: f64, beta: f64, mean: f64, var: f64, eps: f64, quantizer: Quantizer) -> BatchNorm {
        BatchNorm {
            gamma: vec![gamma],
            beta: vec![beta],
            mean: vec![mean],
            var: vec![var],
            eps,
            alpha: None,
            bias: None,
            quantizer,
        }
    }

    fn assert_exact(bn: &BatchNorm, lo: i64, hi: i64) {
        let t = fold_batchnorm(bn, lo, hi);
        for c in 0..bn.channels() {
            for acc in lo..=hi {
                assert_eq!(
                    t.apply(c, acc),
                    bn.reference(c, acc),
                    "channel {c}, acc {acc}, {bn:?}, {t:?}"
                );
            }
        }
        // Canonical form: rows ascending, inside the clamp range.
        for c in 0..t.channels() {
            let (min, max) = Thresholds::clamp_range(t.compare[c], lo, hi);
            let row = t.values.row(c);
            assert!(
                row.iter().all(|v| (min..=max).contains(v)),
                "{row:?} outside [{min}, {max}]"
            );
            assert!(
                row.windows(2).into_iter().all(|w| w[0] <= w[1]),
                "{row:?} not ascending"
            );
        }
    }

    #[test]
    fn sign_with_tie_at_an_integer_is_plus_one() {
        // y = (acc − 3) / 2: exactly 0 at acc = 3, which sign maps to +1.
        let b = bn(1.0, 0.0, 3.0, 3.75, 0.25, Quantizer::Sign);
        let t = fold_batchnorm(&b, -10, 10);
        assert_eq!(t.values[[0, 0]], 3);
        assert_eq!(t.compare[0], Compare::Ge);
        assert_exact(&b, -10, 10);
    }

    #[test]
    fn negative_gamma_flips_the_comparison() {
        let b = bn(-2.0, 0.5, 1.0, 1.0, 1e-5, Quantizer::Sign);
        let t = fold_batchnorm(&b, -8, 8);
        assert_eq!(t.compare[0], Compare::Le);
        assert_exact(&b, -8, 8);
    }

    #[test]
    fn zero_gamma_is_constant() {
        for beta in [-1.0, 0.0, 1.0] {
            let b = bn(
                0.0,
                beta,
                1.0,
                1.0,
                1e-5,
                Quantizer::Uniform {
                    bits: 2,
                    signed: false,
                    scale: 0.5,
                },
            );
            let t = fold_batchnorm(&b, -20, 20);
            assert!(t.values.iter().all(|&v| v == -20 || v == 21), "{t:?}");
            assert_exact(&b, -20, 20);
        }
    }

    #[test]
    fn thresholds_beyond_the_range_are_clamped() {
        // The output saturates within the range on both sides.
        let b = bn(
            100.0,
            0.0,
            0.0,
            1.0,
            1e-5,
            Quantizer::Uniform {
                bits: 3,
                signed: true,
                scale: 1.0,
            },
        );
        assert_exact(&b, -3, 3);
        // The whole range maps to one level far away: every threshold is always or never met.
        let far = bn(
            1.0,
            1e6,
            0.0,
            1.0,
            1e-5,
            Quantizer::Uniform {
                bits: 4,
                signed: false,
                scale: 1.0,
            },
        );
        let t = fold_batchnorm(&far, -5, 5);
        assert!(t.values.iter().all(|&v| v == -5), "{t:?}");
        assert_exact(&far, -5, 5);
    }

    #[test]
    fn explicit_thresholds_are_sorted_and_clamped_without_changing_outputs() {
        let t = Thresholds {
            values: ndarray::array![[50, -100, 2], [3, 3, -1]],
            compare: vec![Compare::Ge, Compare::Ge],
            out_bias: 0,
            out_dtype: DataType::UInt(2),
        };
        let c = canonical(&t, -10, 10);
        assert_eq!(c.values, ndarray::array![[-10, 2, 11], [-1, 3, 3]]);
        for ch in 0..2 {
            for acc in -10..=10 {
                assert_eq!(c.apply(ch, acc), t.apply(ch, acc));
            }
        }
    }

    /// Datatype pairs and the largest fan-in that keeps the exhaustive check quick.
    fn precisions() -> impl Strategy<Value = (DataType, DataType)> {
        let dt = prop_oneof![
            Just(DataType::Bipolar),
            Just(DataType::BINARY),
            Just(DataType::Ternary),
            (2u8..=8).prop_map(DataType::UInt),
            (2u8..=8).prop_map(DataType::Int),
        ];
        (dt.clone(), dt)
    }

    fn quantizers() -> impl Strategy<Value = Quantizer> {
        prop_oneof![
            Just(Quantizer::Sign),
            (
                1u8..=4,
                any::<bool>(),
                prop_oneof![Just(0.25), Just(0.5), Just(1.0), 0.01f64..8.0]
            )
                .prop_map(|(bits, signed, scale)| Quantizer::Uniform {
                    bits: if signed { bits.max(2) } else { bits },
                    signed,
                    scale
                }),
        ]
    }

    /// Values that produce exact ties (integers, halves, zero) as well as arbitrary ones.
    fn param(range: f64) -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(0.0),
            (-8i32..=8).prop_map(f64::from),
            (-16i32..=16).prop_map(|v| f64::from(v) / 2.0),
            -range..range,
        ]
    }

    fn batchnorm(channels: usize, acc_span: f64) -> impl Strategy<Value = BatchNorm> {
        let per = move |s: BoxedStrategy<f64>| proptest::collection::vec(s, channels);
        (
            per(param(4.0).boxed()),
            per(param(acc_span / 4.0 + 4.0).boxed()),
            per(param(acc_span).boxed()),
            per(prop_oneof![Just(3.75), Just(0.0), 0.0f64..100.0].boxed()),
            prop_oneof![Just(0.25), Just(1e-5), 1e-6f64..1.0],
            proptest::option::of(per(param(3.0).boxed())),
            proptest::option::of(per(param(acc_span / 2.0 + 1.0).boxed())),
            quantizers(),
        )
            .prop_map(
                |(gamma, beta, mean, var, eps, alpha, bias, quantizer)| BatchNorm {
                    gamma,
                    beta,
                    mean,
                    var,
                    eps,
                    alpha,
                    bias,
                    quantizer,
                },
            )
    }

    fn matvec(k: usize, weight_dtype: DataType) -> MatVec {
        MatVec {
            conv: None,
            weights: Array2::zeros((1, k)),
            weight_dtype,
            activation: Activation::Identity,
            folding: Folding::new(1, 1),
        }
    }

    /// A layer's accumulator range, with the fan-in bounded so the range has at most ~2^17 values.
    fn layer_case() -> impl Strategy<Value = (i64, i64, BatchNorm)> {
        (precisions(), 1usize..=300).prop_flat_map(|((w, a), k)| {
            let unit = matvec(1, w).acc_range(a);
            let per_input = (unit.1 - unit.0).max(1) as usize;
            let k = k.min((1 << 17) / per_input).max(1);
            let (lo, hi) = matvec(k, w).acc_range(a);
            batchnorm(3, (hi - lo) as f64).prop_map(move |bn| (lo, hi, bn))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        /// The threshold form equals the float reference over the *whole* accumulator range, for
        /// random BN parameters (γ of both signs and 0, α of both signs and 0), fan-ins and
        /// precisions, multi-bit weights included.
        #[test]
        fn folding_is_exact_over_the_whole_accumulator_range((lo, hi, bn) in layer_case()) {
            assert_exact(&bn, lo, hi);
        }

        /// Canonicalising explicit thresholds (any order, any magnitude) changes no output.
        #[test]
        fn canonical_thresholds_keep_every_output(
            rows in proptest::collection::vec(proptest::collection::vec(-300i64..300, 3), 1..4),
            le in any::<bool>(),
        ) {
            let channels = rows.len();
            let t = Thresholds {
                values: Array2::from_shape_vec((channels, 3), rows.concat()).unwrap(),
                compare: vec![if le { Compare::Le } else { Compare::Ge }; channels],
                out_bias: -2,
                out_dtype: DataType::Int(2),
            };
            let c = canonical(&t, -100, 100);
            for ch in 0..channels {
                for acc in -100..=100 {
                    prop_assert_eq!(c.apply(ch, acc), t.apply(ch, acc));
                }
            }
        }

        /// After a global pool of `divisor` pixels: the thresholds on the sum's accumulator
        /// equal the float reference at `acc / divisor` over the whole range, for random BN
        /// parameters (γ of both signs and 0), and explicit thresholds scaled by the divisor
        /// compare the sum exactly as the originals compare the (rational) average.
        #[test]
        fn divided_folding_is_exact((lo, hi, bn) in layer_case(), divisor in 1i64..50) {
            let t = fold_batchnorm_divided(&bn, lo, hi, divisor);
            for c in 0..bn.channels() {
                for acc in lo..=hi {
                    prop_assert_eq!(
                        t.apply(c, acc),
                        bn.reference_at(c, acc as f64 / divisor as f64)
                    );
                }
            }
            let explicit = Thresholds {
                values: Array2::from_shape_fn((1, 3), |(_, j)| lo / divisor.max(1) + j as i64 * 2 - 1),
                compare: vec![Compare::Ge],
                out_bias: -2,
                out_dtype: DataType::Int(2),
            };
            let s = canonical(&scaled(&explicit, divisor), lo, hi);
            for acc in lo..=hi {
                // avg ≥ T ⟺ acc ≥ T·divisor, counted by hand on the rational average
                let count = explicit
                    .values
                    .row(0)
                    .iter()
                    .filter(|&&t| acc >= t * divisor)
                    .count() as i64;
                prop_assert_eq!(s.apply(0, acc), -2 + count);
            }
        }
    }

    /// A boundary the average meets exactly: 3 pixels, y = acc/3 − 5/3 (σ = 1), so acc = 5 gives
    /// y = 0 and sign(0) = +1 in the float model (5/3 and the mean are the same f64). Scaling α
    /// by 1/3 instead computes (1/3)·5 = 1.6666666666666665 < 5/3 and moves the threshold to 6;
    /// evaluating the quotient keeps the float model's answer at the tie.
    #[test]
    fn a_tie_on_the_average_is_exact() {
        let mut b = bn(1.0, 0.0, 5.0 / 3.0, 0.75, 0.25, Quantizer::Sign);
        let t = fold_batchnorm_divided(&b, -9, 9, 3);
        assert_eq!(t.values[[0, 0]], 5, "{t:?}");
        assert_eq!((t.apply(0, 4), t.apply(0, 5)), (-1, 1));
        let alpha_scaled = BatchNorm {
            alpha: Some(vec![1.0 / 3.0]),
            ..b.clone()
        };
        assert_eq!(fold_batchnorm(&alpha_scaled, -9, 9).values[[0, 0]], 6);
        // γ = 0: constant +1 (β ≥ 0) whatever the average
        b.gamma[0] = 0.0;
        let t = fold_batchnorm_divided(&b, -9, 9, 3);
        assert!((-9..=9).all(|a| t.apply(0, a) == 1));
        // γ < 0: falls, compares ≤, the tie still on the +1 side
        b.gamma[0] = -1.0;
        let t = fold_batchnorm_divided(&b, -9, 9, 3);
        assert_eq!(t.compare[0], Compare::Le);
        assert_eq!((t.apply(0, 5), t.apply(0, 6)), (1, -1));
    }
}
