//! Dead-channel removal: an output channel whose thresholds give the same value for every
//! accumulator its weights can reach is a constant. The pass deletes it (its weight row and
//! threshold row), folds the constant into the next matvec layer (its thresholds move by the
//! constant's contribution) and deletes that layer's matching weight columns. L1-norm filter
//! pruning makes such channels on purpose (γ = 0, or β far outside the range); so does training
//! now and then.
//!
//! The pass runs on the lowered IR (after [`super::lower`]) and keeps the outputs bit-exact
//! (`tests` below check that on random networks with planted constant channels). It is
//! conservative: it removes a channel only where it can prove the result the same.
//! - **Reachable range.** Channel `r`'s accumulator lies in `[Σ min(w·x), Σ max(w·x)]` over its
//!   weights and the input datatype's extremes (a padded border holds `pad_value`, a value of
//!   that datatype, so it is inside). The thresholds are monotone in the accumulator, so equal
//!   outputs at both ends mean a constant channel.
//! - **Consumers.** Only a dense or conv layer (`Op::MatVec`), possibly behind max-pools (the
//!   maximum of a constant is that constant), with thresholds. Any other op between or as the
//!   consumer, or none (the network's outputs), leaves the channel alone. So does a consumer
//!   without activation: the IR has no bias to take the contribution, so only a zero
//!   contribution (every matching weight 0, or the constant 0) is removed there.
//! - **Padding.** A padded conv consumer sees `pad_value`, not the constant, at the border: the
//!   pass prunes into it only when `pad_value` equals the constant.
//! - **Folding.** PE of the producer and SIMD of the consumer keep dividing their dimensions
//!   where they did: the pass removes a multiple of the step that keeps both (fewer channels than
//!   found, possibly none) and reports the rest as kept.
//! - The last layer's channels (the network's outputs) are never removed, and every layer keeps
//!   at least one channel.

use crate::datatype::DataType;
use crate::error::{Error, Result};
use crate::ir::*;
use crate::passes::thresholds::canonical;

/// What the pass did to one layer's output channels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerPrune {
    /// Index and name of the producing layer.
    pub layer: usize,
    pub name: String,
    /// Output channels before the pass.
    pub channels: usize,
    /// The channels removed (indices before the pass), ascending.
    pub removed: Vec<usize>,
    /// Constant channels found but kept, and why.
    pub kept: Vec<(usize, String)>,
}

/// The pass's result: one entry per matvec layer that had a constant channel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PruneReport {
    pub layers: Vec<LayerPrune>,
}

impl PruneReport {
    /// Channels removed over the whole network.
    pub fn removed(&self) -> usize {
        self.layers.iter().map(|l| l.removed.len()).sum()
    }

    /// For `bnn-gen check`: one line per layer with constant channels (removed and kept, with
    /// the reasons), or a line saying there were none.
    pub fn summary(&self) -> String {
        if self.layers.is_empty() {
            return "dead-channel removal: no constant channels\n".to_string();
        }
        let mut s = format!(
            "dead-channel removal: {} channel(s) removed (--no-prune keeps them)\n",
            self.removed()
        );
        for l in &self.layers {
            s.push_str(&format!(
                "  {}: {} of {} channels removed{}\n",
                l.name,
                l.removed.len(),
                l.channels,
                if l.removed.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", list(&l.removed))
                }
            ));
            // Group the kept channels by reason.
            let mut reasons: Vec<(&str, Vec<usize>)> = Vec::new();
            for (c, why) in &l.kept {
                match reasons.iter_mut().find(|(w, _)| *w == why.as_str()) {
                    Some((_, cs)) => cs.push(*c),
                    None => reasons.push((why, vec![*c])),
                }
            }
            for (why, cs) in reasons {
                s.push_str(&format!("    kept constant {}: {why}\n", list(&cs)));
            }
        }
        s
    }
}

fn list(cs: &[usize]) -> String {
    const SHOWN: usize = 12;
    let mut s: Vec<String> = cs.iter().take(SHOWN).map(usize::to_string).collect();
    if cs.len() > SHOWN {
        s.push(format!("... {} more", cs.len() - SHOWN));
    }
    format!(
        "channel{} {}",
        if cs.len() == 1 { "" } else { "s" },
        s.join(", ")
    )
}

/// The range `[lo, hi]` of row `r`'s accumulator over every input of datatype `x`.
fn reachable(weights: &ndarray::Array2<i32>, r: usize, x: DataType) -> (i64, i64) {
    weights.row(r).iter().fold((0, 0), |(lo, hi), &w| {
        let (a, b) = (i64::from(w) * x.min(), i64::from(w) * x.max());
        (lo + a.min(b), hi + a.max(b))
    })
}

/// The constant output of each channel of a lowered matvec layer (`None`: not constant).
fn constant_channels(mv: &MatVec, input: DataType) -> Vec<Option<i64>> {
    let Activation::Thresholds(t) = &mv.activation else {
        return vec![None; mv.rows()];
    };
    (0..mv.rows())
        .map(|r| {
            let (lo, hi) = reachable(&mv.weights, r, input);
            let v = t.apply(r, lo);
            (v == t.apply(r, hi)).then_some(v)
        })
        .collect()
}

/// The columns of a consumer that read input channel `ch` of `channels`: for a conv, the column
/// at every kernel position; for a dense layer, the channel at every pixel of the (flattened)
/// input.
fn columns(mv: &MatVec, channels: usize, ch: usize) -> Vec<usize> {
    (0..mv.cols()).filter(|k| k % channels == ch).collect()
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

fn lcm(a: usize, b: usize) -> usize {
    a / gcd(a, b) * b
}

fn with_channels(shape: Shape, c: usize) -> Shape {
    match shape {
        Shape::Flat(_) => Shape::Flat(c),
        Shape::Image { h, w, .. } => Shape::Image { h, w, c },
    }
}

/// The folding of a producer's consumer, as far as the pass cares: whether SIMD runs over the
/// channels of a pixel (conv) or over MW (dense), MW, and SIMD.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConsumerFold {
    pub conv: bool,
    pub cols: usize,
    pub simd: usize,
}

/// How many of `candidates` removable constant channels (of the producer's `channels`) the pass
/// removes at the producer's `pe` and the consumer's folding, and the step they go in: a
/// multiple of the step that keeps PE and SIMD dividing what they divided, small enough that PE
/// and SIMD stay within what is left, and never every channel. Which channels are constant does
/// not depend on the folding; how many go does (the auto-folding, `src/fold/pruning.rs`, keeps
/// its choices to foldings where every candidate goes).
pub fn removable(
    channels: usize,
    candidates: usize,
    pe: usize,
    consumer: ConsumerFold,
) -> (usize, usize) {
    let simd = consumer.simd;
    let mut step = 1;
    if channels.is_multiple_of(pe) {
        step = lcm(step, pe);
    }
    // Columns per input channel: kernel positions (conv) or pixels (dense on an image).
    let pixels = consumer.cols / channels;
    match consumer.conv {
        // Conv: SIMD runs over the channels of one pixel.
        true if channels.is_multiple_of(simd) => step = lcm(step, simd),
        // Dense: over MW = pixels · C.
        false if consumer.cols.is_multiple_of(simd) => step = lcm(step, simd / gcd(simd, pixels)),
        _ => {}
    }
    let mut n = candidates.min(channels - 1);
    n -= n % step;
    // PE and SIMD must not exceed what is left.
    while n > 0
        && (pe > channels - n
            || (consumer.conv && simd > channels - n)
            || simd > consumer.cols - n * pixels)
    {
        n -= step;
    }
    (n, step)
}

/// Removes the constant output channels of every layer but the last (see the module docs).
/// `net` must be lowered ([`super::lower`]).
pub fn prune(net: &mut Network) -> Result<PruneReport> {
    if !net.is_lowered() {
        return Err(Error::Unsupported(
            "internal: dead-channel removal runs on the lowered network".into(),
        ));
    }
    let mut report = PruneReport::default();
    for i in 0..net.layers.len().saturating_sub(1) {
        if let Some(l) = prune_layer(net, i) {
            report.layers.push(l);
        }
    }
    Ok(report)
}

/// Prunes the constant output channels of layer `i` into its consumer; `None` when it has none.
fn prune_layer(net: &mut Network, i: usize) -> Option<LayerPrune> {
    let layer = &net.layers[i];
    let Op::MatVec(mv) = &layer.op else {
        return None;
    };
    let input = layer.input.dtype.as_data()?;
    let consts = constant_channels(mv, input);
    if consts.iter().all(Option::is_none) {
        return None;
    }
    let channels = mv.rows();
    let mut out = LayerPrune {
        layer: i,
        name: layer.name.clone(),
        channels,
        removed: Vec::new(),
        kept: Vec::new(),
    };
    let keep_all = |out: &mut LayerPrune, why: &str| {
        for (c, v) in consts.iter().enumerate() {
            if v.is_some() {
                out.kept.push((c, why.to_string()));
            }
        }
    };

    // The consumer: the next matvec layer, through max-pools only.
    let mut j = i + 1;
    while j < net.layers.len() && matches!(net.layers[j].op, Op::MaxPool(_)) {
        j += 1;
    }
    let consumer = match net.layers.get(j).map(|l| &l.op) {
        Some(Op::MatVec(c)) => c,
        Some(_) => {
            keep_all(&mut out, "its consumer is not a dense or conv layer");
            return Some(out);
        }
        None => {
            keep_all(&mut out, "max-pools lead to the network's outputs");
            return Some(out);
        }
    };

    // Which constant channels the consumer can absorb, and each one's contribution per
    // consumer row.
    let mut candidates: Vec<(usize, Vec<i64>)> = Vec::new();
    for (c, v) in consts.iter().enumerate() {
        let Some(v) = *v else { continue };
        if let Some(g) = consumer.conv {
            if g.padding != [0, 0] && g.pad_value != v {
                out.kept.push((
                    c,
                    format!(
                        "the next conv pads with {} but the channel is {v}",
                        g.pad_value
                    ),
                ));
                continue;
            }
        }
        let cols = columns(consumer, channels, c);
        let contrib: Vec<i64> = (0..consumer.rows())
            .map(|r| {
                cols.iter()
                    .map(|&k| i64::from(consumer.weights[[r, k]]) * v)
                    .sum()
            })
            .collect();
        if consumer.activation == Activation::Identity && contrib.iter().any(|&x| x != 0) {
            out.kept.push((
                c,
                "the next layer has no activation to absorb the contribution".into(),
            ));
            continue;
        }
        candidates.push((c, contrib));
    }

    // Folding: remove a multiple of `step` channels so that PE (producer) and SIMD (consumer)
    // divide what they divided; and keep at least one channel.
    let (pe, simd) = (mv.folding.pe, consumer.folding.simd);
    let consumer_fold = ConsumerFold {
        conv: consumer.conv.is_some(),
        cols: consumer.cols(),
        simd,
    };
    let (n, step) = removable(channels, candidates.len(), pe, consumer_fold);
    for (c, _) in &candidates[n..] {
        out.kept.push((
            *c,
            format!(
                "removal would break the folding (PE {pe} of \"{}\", SIMD {simd} of \"{}\": \
                 channels go in steps of {step})",
                net.layers[i].name, net.layers[j].name
            ),
        ));
    }
    out.kept.sort();
    candidates.truncate(n);
    if candidates.is_empty() {
        return Some(out);
    }
    out.removed = candidates.iter().map(|(c, _)| *c).collect();
    apply(net, i, j, &candidates);
    Some(out)
}

/// Deletes channels `removed` (with their contributions) of layer `i` and the matching columns
/// of consumer `j`, and updates every type in between.
fn apply(net: &mut Network, i: usize, j: usize, removed: &[(usize, Vec<i64>)]) {
    let gone = |c: usize| removed.iter().any(|(r, _)| *r == c);
    let Op::MatVec(mv) = &mut net.layers[i].op else {
        unreachable!("the producer is a matvec layer")
    };
    let channels = mv.rows();
    let keep_rows: Vec<usize> = (0..channels).filter(|&c| !gone(c)).collect();
    let left = keep_rows.len();
    mv.weights = mv.weights.select(ndarray::Axis(0), &keep_rows);
    if let Activation::Thresholds(t) = &mut mv.activation {
        t.values = t.values.select(ndarray::Axis(0), &keep_rows);
        t.compare = keep_rows.iter().map(|&c| t.compare[c]).collect();
    }
    // The producer's output and every max-pool's tensors lose the channels.
    for k in i..j {
        let l = &mut net.layers[k];
        if k > i {
            l.input.shape = with_channels(l.input.shape, left);
        }
        l.output.shape = with_channels(l.output.shape, left);
    }
    let consumer = &mut net.layers[j];
    consumer.input.shape = with_channels(consumer.input.shape, left);
    let in_dtype = consumer.input.dtype.as_data();
    let Op::MatVec(c) = &mut consumer.op else {
        unreachable!("the consumer is a matvec layer")
    };
    let keep_cols: Vec<usize> = (0..c.cols()).filter(|k| !gone(k % channels)).collect();
    c.weights = c.weights.select(ndarray::Axis(1), &keep_cols);
    let in_dtype = in_dtype.expect("a thresholded producer feeds data");
    let (lo, hi) = c.acc_range(in_dtype);
    match &mut c.activation {
        Activation::Thresholds(t) => {
            // acc_old = acc_new + Σ contributions: acc_old ≥ T ⇔ acc_new ≥ T − Σ (and ≤ alike).
            for (r, mut row) in t.values.rows_mut().into_iter().enumerate() {
                let shift: i64 = removed.iter().map(|(_, contrib)| contrib[r]).sum();
                row.iter_mut().for_each(|v| *v -= shift);
            }
            // Clamp into the smaller range, as lowering would have.
            *t = canonical(t, lo, hi);
        }
        Activation::Identity => {
            // Only zero contributions reach here; the raw output's range shrinks with MW.
            consumer.output.dtype = ValueType::Accumulator { lo, hi };
        }
        Activation::BatchNorm(_) => unreachable!("the network is lowered"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::golden::GoldenModel;
    use crate::synth::{self, Rng};
    use ndarray::{array, ArrayD};
    use proptest::prelude::*;

    /// Makes channel `c` of matvec layer `i` constant: its thresholds all below (or above) the
    /// whole accumulator range, so the count is NSTEPS (or 0) for every input.
    fn plant(net: &mut Network, i: usize, c: usize, high: bool) {
        let input = net.layers[i].input.dtype.as_data().unwrap();
        let Op::MatVec(mv) = &mut net.layers[i].op else {
            panic!("layer {i} is a matvec layer")
        };
        let (lo, hi) = mv.acc_range(input);
        let Activation::Thresholds(t) = &mut mv.activation else {
            panic!("layer {i} has thresholds")
        };
        let ge = t.compare[c] == Compare::Ge;
        // Ge: T = lo is always met, T = hi + 1 never; Le: T = hi always, lo − 1 never.
        let v = match (ge, high) {
            (true, true) => lo,
            (true, false) => hi + 1,
            (false, true) => hi,
            (false, false) => lo - 1,
        };
        t.values.row_mut(c).fill(v);
    }

    /// Whether layer `i`'s weight datatype has a zero (not bipolar).
    fn mv_zero_ok(net: &Network, i: usize) -> bool {
        matches!(&net.layers[i].op, Op::MatVec(mv) if mv.weight_dtype.contains(0))
    }

    fn outputs(net: &Network, frames: &ArrayD<i64>) -> ArrayD<i64> {
        GoldenModel::new(net)
            .expect("the golden model takes the network")
            .run_batch(frames.view())
            .expect("the golden model runs")
    }

    /// Random nets (dense and conv, with and without max-pools, odd folding) with constant
    /// channels planted in every hidden layer, some of them only constant over the layer's
    /// reachable range (a zeroed weight row with a mid-range threshold): the pruned network gives
    /// the unpruned one's outputs on random frames, and removed something where it could.
    fn check_exact(seed: u64, conv: bool) -> usize {
        let mut rng = Rng::new(seed);
        let limits = synth::RandomLimits::default();
        let (mut net, _) = if conv {
            let spec = synth::random_cnn_spec(seed, &limits);
            (synth::cnn(&spec, seed), ())
        } else {
            let spec = synth::random_mlp_spec(seed, &limits);
            (synth::mlp(&spec, seed), ())
        };
        crate::passes::lower(&mut net).unwrap();
        let n = net.layers.len();
        for i in 0..n.saturating_sub(1) {
            let Op::MatVec(mv) = &mut net.layers[i].op else {
                continue;
            };
            if !matches!(mv.activation, Activation::Thresholds(_)) {
                continue;
            }
            let rows = mv.rows();
            for c in 0..rows {
                match rng.below(4) {
                    0 => plant(&mut net, i, c, rng.chance(0.5)),
                    1 if mv_zero_ok(&net, i) => {
                        // A zero weight row: the accumulator is 0 whatever the input.
                        let Op::MatVec(mv) = &mut net.layers[i].op else {
                            unreachable!()
                        };
                        mv.weights.row_mut(c).fill(0);
                    }
                    _ => {}
                }
            }
        }
        let frames = synth::frames_for(&net, 24, seed ^ 0x5EED);
        let want = outputs(&net, &frames);
        let mut pruned = net.clone();
        let report = prune(&mut pruned).unwrap();
        let got = outputs(&pruned, &frames);
        assert_eq!(got, want, "seed {seed}: {}", report.summary());
        // The network's outputs keep their channels (a raw accumulator output may narrow).
        assert_eq!(pruned.body_output().shape, net.body_output().shape);
        // The pruned network still builds (folding legal, padding encodable).
        if crate::passes::pad::pad(&net).is_ok() {
            crate::passes::pad::pad(&pruned)
                .unwrap_or_else(|e| panic!("seed {seed}: the pruned network does not pad: {e}"));
        }
        report.removed()
    }

    /// The property is not vacuous: over a fixed set of seeds the pass removes channels from
    /// dense and from conv networks.
    #[test]
    fn planted_channels_are_removed() {
        for conv in [false, true] {
            let removed: usize = (0..40).map(|seed| check_exact(seed, conv)).sum();
            assert!(
                removed >= 10,
                "conv {conv}: {removed} channels removed in 40 nets"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn pruned_dense_nets_are_exact(seed in any::<u64>()) {
            check_exact(seed, false);
        }

        #[test]
        fn pruned_conv_nets_are_exact(seed in any::<u64>()) {
            check_exact(seed, true);
        }
    }

    fn dense(
        name: &str,
        rows: usize,
        cols: usize,
        input: DataType,
        t: Option<Thresholds>,
    ) -> Layer {
        let weights =
            ndarray::Array2::from_shape_fn(
                (rows, cols),
                |(r, c)| {
                    if (r + 2 * c) % 3 == 0 {
                        -1
                    } else {
                        1
                    }
                },
            );
        let activation = t.map_or(Activation::Identity, Activation::Thresholds);
        let mv = MatVec {
            conv: None,
            weights,
            weight_dtype: DataType::Bipolar,
            folding: Folding::new(1, 1),
            activation,
        };
        let output = match &mv.activation {
            Activation::Thresholds(t) => ValueType::Data(t.out_dtype),
            _ => {
                let (lo, hi) = mv.acc_range(input);
                ValueType::Accumulator { lo, hi }
            }
        };
        Layer {
            name: name.into(),
            input: TensorType {
                shape: Shape::Flat(cols),
                dtype: ValueType::Data(input),
            },
            output: TensorType {
                shape: Shape::Flat(rows),
                dtype: output,
            },
            op: Op::MatVec(mv),
        }
    }

    /// A hand-made case: 4 → 3 → 2 bipolar, channel 1 of the hidden layer always +1 (threshold
    /// below the range), channel 2 always −1 (above): both go, the next layer's thresholds move by
    /// their weight sums, and the check summary says so.
    #[test]
    fn constant_channels_fold_into_the_next_thresholds() {
        let sign = |vals: ndarray::Array2<i64>| Thresholds {
            compare: vec![Compare::Ge; vals.nrows()],
            values: vals,
            out_bias: -1,
            out_dtype: DataType::Bipolar,
        };
        let mut net = Network {
            name: "hand".into(),
            input: TensorType {
                shape: Shape::Flat(4),
                dtype: ValueType::Data(DataType::Bipolar),
            },
            layers: vec![
                dense(
                    "h",
                    3,
                    4,
                    DataType::Bipolar,
                    Some(sign(array![[0], [-4], [5]])),
                ),
                dense("o", 2, 3, DataType::Bipolar, Some(sign(array![[1], [-1]]))),
            ],
            head: None,
        };
        let frames = synth::frames_for(&net, 16, 3);
        let want = outputs(&net, &frames);
        let report = prune(&mut net).unwrap();
        assert_eq!(report.layers[0].removed, vec![1, 2]);
        assert_eq!(outputs(&net, &frames), want);
        assert_eq!(net.layers[0].output.shape, Shape::Flat(1));
        assert_eq!(net.layers[1].input.shape, Shape::Flat(1));
        assert!(report
            .summary()
            .contains("h: 2 of 3 channels removed (channels 1, 2)"));
        // A second run finds nothing more.
        assert_eq!(prune(&mut net).unwrap().removed(), 0);
    }

    /// Kept: a constant channel feeding a layer without activation (no bias to absorb a non-zero
    /// contribution), and PE 2 over 4 channels with one constant channel (removing one would
    /// break PE | MH).
    #[test]
    fn keeps_what_it_cannot_prove_or_fold() {
        let sign = |vals: ndarray::Array2<i64>| Thresholds {
            compare: vec![Compare::Ge; vals.nrows()],
            values: vals,
            out_bias: -1,
            out_dtype: DataType::Bipolar,
        };
        let mut net = Network {
            name: "keep".into(),
            input: TensorType {
                shape: Shape::Flat(4),
                dtype: ValueType::Data(DataType::Bipolar),
            },
            layers: vec![
                dense("h", 2, 4, DataType::Bipolar, Some(sign(array![[0], [-9]]))),
                dense("o", 2, 2, DataType::Bipolar, None),
            ],
            head: None,
        };
        let report = prune(&mut net).unwrap();
        assert_eq!(report.removed(), 0);
        assert!(
            report.summary().contains("no activation"),
            "{}",
            report.summary()
        );

        let mut net = Network {
            name: "fold".into(),
            input: TensorType {
                shape: Shape::Flat(4),
                dtype: ValueType::Data(DataType::Bipolar),
            },
            layers: vec![
                dense(
                    "h",
                    4,
                    4,
                    DataType::Bipolar,
                    Some(sign(array![[0], [-9], [0], [1]])),
                ),
                dense("o", 2, 4, DataType::Bipolar, Some(sign(array![[0], [2]]))),
            ],
            head: None,
        };
        let Op::MatVec(mv) = &mut net.layers[0].op else {
            unreachable!()
        };
        mv.folding.pe = 2;
        let report = prune(&mut net).unwrap();
        assert_eq!(report.removed(), 0);
        assert!(
            report.summary().contains("would break the folding"),
            "{}",
            report.summary()
        );
    }
}
