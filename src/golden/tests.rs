//! Hand-computed tiny networks, and property tests of every fast path against a per-element
//! reference written here from the IR's definitions.

use super::*;
use crate::datatype::DataType;
use crate::ir::{
    self, Activation, Compare, ConvGeometry, Folding, Layer, MatVec, MaxPool, Network, Op, Shape,
    TensorType, Thresholds, TopK, ValueType,
};
use ndarray::{Array2, ArrayD, IxDyn};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// Building networks by hand.

fn tt(shape: Shape, dt: DataType) -> TensorType {
    TensorType {
        shape,
        dtype: ValueType::Data(dt),
    }
}

fn out_type(shape: Shape, m: &MatVec, input: DataType) -> TensorType {
    let dtype = match &m.activation {
        Activation::Thresholds(t) => ValueType::Data(t.out_dtype),
        Activation::Identity => {
            let (lo, hi) = m.acc_range(input);
            ValueType::Accumulator { lo, hi }
        }
        Activation::BatchNorm(b) => ValueType::Data(b.quantizer.out_dtype()),
    };
    TensorType { shape, dtype }
}

fn matvec(
    weights: Array2<i32>,
    wdt: DataType,
    conv: Option<ConvGeometry>,
    act: Activation,
) -> MatVec {
    MatVec {
        conv,
        weights,
        weight_dtype: wdt,
        activation: act,
        folding: Folding::new(1, 1),
    }
}

fn dense(
    name: &str,
    input: TensorType,
    weights: Array2<i32>,
    wdt: DataType,
    act: Activation,
) -> Layer {
    let m = matvec(weights, wdt, None, act);
    let output = out_type(Shape::Flat(m.rows()), &m, input.dtype.as_data().unwrap());
    Layer {
        name: name.into(),
        input,
        output,
        op: Op::MatVec(m),
    }
}

#[allow(clippy::too_many_arguments)]
fn conv(
    name: &str,
    input: TensorType,
    weights: Array2<i32>,
    wdt: DataType,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    pad_value: i64,
    act: Activation,
) -> Layer {
    let Shape::Image { h, w, .. } = input.shape else {
        panic!("conv needs an image")
    };
    let g = ConvGeometry {
        kernel,
        stride,
        padding,
        pad_value,
    };
    let oh = ir::window_out(h, kernel[0], stride[0], padding[0]).unwrap();
    let ow = ir::window_out(w, kernel[1], stride[1], padding[1]).unwrap();
    let m = matvec(weights, wdt, Some(g), act);
    let output = out_type(
        Shape::Image {
            h: oh,
            w: ow,
            c: m.rows(),
        },
        &m,
        input.dtype.as_data().unwrap(),
    );
    Layer {
        name: name.into(),
        input,
        output,
        op: Op::MatVec(m),
    }
}

fn pool(name: &str, input: TensorType, kernel: [usize; 2], stride: [usize; 2]) -> Layer {
    let Shape::Image { h, w, c } = input.shape else {
        panic!("pool needs an image")
    };
    let oh = ir::window_out(h, kernel[0], stride[0], 0).unwrap();
    let ow = ir::window_out(w, kernel[1], stride[1], 0).unwrap();
    Layer {
        name: name.into(),
        input,
        output: TensorType {
            shape: Shape::Image { h: oh, w: ow, c },
            dtype: input.dtype,
        },
        op: Op::MaxPool(MaxPool {
            kernel,
            stride,
            buffer_depth: None,
        }),
    }
}

fn thresholds(
    values: Array2<i64>,
    compare: Vec<Compare>,
    out_bias: i64,
    out: DataType,
) -> Activation {
    Activation::Thresholds(Thresholds {
        values,
        compare,
        out_bias,
        out_dtype: out,
    })
}

/// Bipolar output: +1 where acc ≥ t[c].
fn sign(t: &[i64]) -> Activation {
    let values = Array2::from_shape_vec((t.len(), 1), t.to_vec()).unwrap();
    thresholds(values, vec![Compare::Ge; t.len()], -1, DataType::Bipolar)
}

fn network(input: TensorType, layers: Vec<Layer>, head: Option<usize>) -> Network {
    Network {
        name: "t".into(),
        input,
        layers,
        head: head.map(|k| TopK { k }),
    }
}

fn w2(rows: usize, cols: usize, v: &[i32]) -> Array2<i32> {
    Array2::from_shape_vec((rows, cols), v.to_vec()).unwrap()
}

/// Runs `net` on `frame` with every available kernel, checks they agree, returns the output.
fn run_all(net: &Network, frame: &[i64]) -> Vec<i64> {
    let mut result = None;
    for k in Kernel::available() {
        let g = GoldenModel::with_kernel(net, k).unwrap();
        let out = g.infer(frame);
        match &result {
            None => result = Some(out),
            Some(r) => assert_eq!(&out, r, "kernel {k} disagrees"),
        }
    }
    result.unwrap()
}

// ---------------------------------------------------------------------------------------------
// Hand-computed.

#[test]
fn dense_bipolar_by_hand() {
    let input = tt(Shape::Flat(3), DataType::Bipolar);
    let l = dense(
        "fc",
        input,
        w2(2, 3, &[1, 1, 1, -1, 1, -1]),
        DataType::Bipolar,
        Activation::Identity,
    );
    let net = network(input, vec![l], None);
    // [1, −1, 1]·[1, 1, 1] = 1; ·[−1, 1, −1] = −3.
    assert_eq!(run_all(&net, &[1, -1, 1]), vec![1, -3]);

    // Thresholds on the same accumulators: +1 when acc ≥ T.
    let l = dense(
        "fc",
        input,
        w2(2, 3, &[1, 1, 1, -1, 1, -1]),
        DataType::Bipolar,
        sign(&[2, -3]),
    );
    let net = network(input, vec![l], None);
    assert_eq!(run_all(&net, &[1, -1, 1]), vec![-1, 1]);
}

#[test]
fn dense_bipolar_across_word_boundaries() {
    // K = 70: all-(+1) input, weight +1 at multiples of 3 (24 of them): 24 − 46 = −22.
    // K = 64 and K = 1 too.
    for k in [1usize, 63, 64, 65, 70, 128, 129] {
        let input = tt(Shape::Flat(k), DataType::Bipolar);
        let w: Vec<i32> = (0..k).map(|i| if i % 3 == 0 { 1 } else { -1 }).collect();
        let plus = (0..k).filter(|i| i % 3 == 0).count() as i64;
        let net = network(
            input,
            vec![dense(
                "fc",
                input,
                w2(1, k, &w),
                DataType::Bipolar,
                Activation::Identity,
            )],
            None,
        );
        assert_eq!(
            run_all(&net, &vec![1; k]),
            vec![plus - (k as i64 - plus)],
            "K = {k}"
        );
        assert_eq!(
            run_all(&net, &vec![-1; k]),
            vec![(k as i64 - plus) - plus],
            "K = {k}"
        );
    }
}

#[test]
fn binary_input_bipolar_weights() {
    let input = tt(Shape::Flat(4), DataType::BINARY);
    let l = dense(
        "fc",
        input,
        w2(2, 4, &[1, -1, -1, 1, -1, 1, -1, -1]),
        DataType::Bipolar,
        Activation::Identity,
    );
    let net = network(input, vec![l], None);
    // [1,0,1,1]·[1,−1,−1,1] = 1; ·[−1,1,−1,−1] = −3.
    assert_eq!(run_all(&net, &[1, 0, 1, 1]), vec![1, -3]);
    assert_eq!(run_all(&net, &[0, 0, 0, 0]), vec![0, 0]);
}

#[test]
fn multibit_inputs_and_weights() {
    // uint2 × int2: the generic multiply-accumulate path.
    let input = tt(Shape::Flat(3), DataType::UInt(2));
    let l = dense(
        "fc",
        input,
        w2(2, 3, &[-2, 1, 1, 1, -1, -2]),
        DataType::Int(2),
        Activation::Identity,
    );
    let net = network(input, vec![l], None);
    // [3,0,2]·[−2,1,1] = −4; ·[1,−1,−2] = −1.
    assert_eq!(run_all(&net, &[3, 0, 2]), vec![-4, -1]);

    // uint2 × bipolar: bit planes.
    let l = dense(
        "fc",
        input,
        w2(1, 3, &[1, -1, 1]),
        DataType::Bipolar,
        Activation::Identity,
    );
    assert_eq!(run_all(&network(input, vec![l], None), &[3, 0, 2]), vec![5]);

    // int4 × bipolar: the sign plane weighs −8.
    let input = tt(Shape::Flat(3), DataType::Int(4));
    let l = dense(
        "fc",
        input,
        w2(2, 3, &[1, 1, -1, -1, 1, 1]),
        DataType::Bipolar,
        Activation::Identity,
    );
    assert_eq!(
        run_all(&network(input, vec![l], None), &[-8, 7, -1]),
        vec![0, 14]
    );

    // bipolar × binary weights and bipolar × ternary weights.
    let input = tt(Shape::Flat(3), DataType::Bipolar);
    let l = dense(
        "fc",
        input,
        w2(1, 3, &[1, 0, 1]),
        DataType::BINARY,
        Activation::Identity,
    );
    assert_eq!(
        run_all(&network(input, vec![l], None), &[-1, 1, -1]),
        vec![-2]
    );
    let l = dense(
        "fc",
        input,
        w2(1, 3, &[1, 0, -1]),
        DataType::Ternary,
        Activation::Identity,
    );
    assert_eq!(
        run_all(&network(input, vec![l], None), &[-1, 1, -1]),
        vec![0]
    );
}

/// 3×3 bipolar image, 3×3 kernel, stride 2, padding 1 → 2×2. Channel 0 sums the window; channel 1
/// is +1 at the centre and −1 elsewhere (2·centre − sum), which fixes the weight order.
fn conv_net(pad_value: i64) -> Network {
    let input = tt(Shape::Image { h: 3, w: 3, c: 1 }, DataType::Bipolar);
    let mut w = vec![1; 9];
    w.extend((0..9).map(|i| if i == 4 { 1 } else { -1 }));
    let l = conv(
        "c",
        input,
        w2(2, 9, &w),
        DataType::Bipolar,
        [3, 3],
        [2, 2],
        [1, 1],
        pad_value,
        Activation::Identity,
    );
    network(input, vec![l], None)
}

const CONV_IMAGE: [i64; 9] = [1, -1, 1, -1, -1, 1, 1, 1, -1];

#[test]
fn conv_stride2_pad_plus_one() {
    // Window sums with 5 pad positions each: −2+5, 0+5, 0+5, 0+5. Centres 1, 1, 1, −1.
    assert_eq!(
        run_all(&conv_net(1), &CONV_IMAGE),
        vec![3, -1, 5, -3, 5, -3, 5, -7]
    );
}

#[test]
fn conv_stride2_pad_minus_one() {
    assert_eq!(
        run_all(&conv_net(-1), &CONV_IMAGE),
        vec![-7, 9, -5, 7, -5, 7, -5, 3]
    );
}

#[test]
fn conv_channels_innermost_then_kx() {
    // 1×2 image with 2 channels, 1×2 kernel: columns (kx, ic) = (0,0) (0,1) (1,0) (1,1).
    let input = tt(Shape::Image { h: 1, w: 2, c: 2 }, DataType::Bipolar);
    let l = conv(
        "c",
        input,
        w2(1, 4, &[1, -1, -1, 1]),
        DataType::Bipolar,
        [1, 2],
        [1, 1],
        [0, 0],
        1,
        Activation::Identity,
    );
    // 1·1 + (−1)(−1) + (−1)(−1) + 1·(−1) = 2.
    assert_eq!(
        run_all(&network(input, vec![l], None), &[1, -1, -1, -1]),
        vec![2]
    );
}

#[test]
fn conv_multibit_input_with_padding() {
    // uint8 input, 1 channel, 2×2 kernel, padding 1 with pad value 7, bipolar weights (planes) and
    // int2 weights (multiply-accumulate); 1×1 image so every window is mostly padding.
    let input = tt(Shape::Image { h: 1, w: 1, c: 1 }, DataType::UInt(8));
    for (wdt, w) in [
        (DataType::Bipolar, [1, -1, 1, 1]),
        (DataType::Int(2), [1, -1, 1, 1]),
    ] {
        let l = conv(
            "c",
            input,
            w2(1, 4, &w),
            wdt,
            [2, 2],
            [1, 1],
            [1, 1],
            7,
            Activation::Identity,
        );
        // Output 2×2; the image pixel (200) sits at kernel position (1,1), (1,0), (0,1), (0,0).
        let out = run_all(&network(input, vec![l], None), &[200]);
        let sum: i64 = w.iter().map(|&v| i64::from(v) * 7).sum();
        let want: Vec<i64> = [3, 2, 1, 0]
            .iter()
            .map(|&p| sum + i64::from(w[p]) * (200 - 7))
            .collect();
        assert_eq!(out, want, "{wdt}");
    }
}

#[test]
fn maxpool_bipolar_and_signed() {
    // Bipolar 2×2×2 → 1×1×2 (the bit-OR path).
    let input = tt(Shape::Image { h: 2, w: 2, c: 2 }, DataType::Bipolar);
    let net = network(input, vec![pool("p", input, [2, 2], [2, 2])], None);
    assert_eq!(run_all(&net, &[-1, -1, -1, 1, -1, -1, -1, -1]), vec![-1, 1]);

    // int4 3×3×1, window 2 stride 1 → 2×2.
    let input = tt(Shape::Image { h: 3, w: 3, c: 1 }, DataType::Int(4));
    let net = network(input, vec![pool("p", input, [2, 2], [1, 1])], None);
    assert_eq!(
        run_all(&net, &[-8, -3, -5, -7, -6, 2, 0, -8, -8]),
        vec![-3, 2, 0, 2]
    );

    // Odd size, pool 2 stride 2 drops the last row and column: 3×3 → 1×1.
    let net = network(input, vec![pool("p", input, [2, 2], [2, 2])], None);
    assert_eq!(run_all(&net, &[-8, -3, 7, -7, -6, 2, 7, 7, 7]), vec![-3]);
}

#[test]
fn maxpool_between_layers_stays_packed() {
    // conv (bipolar out) → pool → dense: the pool works on bits and feeds the dense layer bits.
    let input = tt(Shape::Image { h: 2, w: 2, c: 1 }, DataType::Bipolar);
    let c = conv(
        "c",
        input,
        w2(2, 1, &[1, -1]),
        DataType::Bipolar,
        [1, 1],
        [1, 1],
        [0, 0],
        1,
        sign(&[0, 0]),
    );
    let p = pool("p", c.output, [2, 2], [2, 2]);
    let d = dense(
        "fc",
        p.output,
        w2(1, 2, &[1, 1]),
        DataType::Bipolar,
        Activation::Identity,
    );
    let net = network(input, vec![c, p, d], None);
    // Channel 0 = x, channel 1 = −x; pool = [max x, max −x].
    assert_eq!(run_all(&net, &[1, -1, -1, -1]), vec![2]);
    assert_eq!(run_all(&net, &[1, 1, 1, 1]), vec![0]);
    assert_eq!(run_all(&net, &[-1, -1, -1, -1]), vec![0]);
    let g = GoldenModel::new(&net).unwrap();
    assert_eq!(
        g.infer_trace(&[1, -1, -1, -1]),
        vec![vec![1, -1, -1, 1, -1, 1, -1, 1], vec![1, 1], vec![2]]
    );
}

#[test]
fn thresholds_ge_and_le() {
    // acc = the input value on both channels; thresholds [−2, 0, 3], int2 output, out_bias −2.
    let input = tt(Shape::Flat(1), DataType::Int(8));
    let values = ndarray::array![[-2, 0, 3], [-2, 0, 3]];
    for wdt in [DataType::Bipolar, DataType::Int(2)] {
        let act = thresholds(
            values.clone(),
            vec![Compare::Ge, Compare::Le],
            -2,
            DataType::Int(2),
        );
        let net = network(
            input,
            vec![dense("fc", input, w2(2, 1, &[1, 1]), wdt, act)],
            None,
        );
        let got: Vec<Vec<i64>> = [-3, 0, 3, 4].iter().map(|&a| run_all(&net, &[a])).collect();
        assert_eq!(
            got,
            vec![vec![-2, 1], vec![0, 0], vec![1, -1], vec![1, -2]],
            "{wdt}"
        );
    }
}

#[test]
fn thresholds_broadcast_and_out_of_range() {
    // One threshold row for all channels; thresholds far outside the accumulator range.
    let input = tt(Shape::Flat(2), DataType::Bipolar);
    let act = thresholds(
        ndarray::array![[-100, 0, 100]],
        vec![Compare::Ge],
        0,
        DataType::UInt(2),
    );
    let l = dense(
        "fc",
        input,
        w2(2, 2, &[1, 1, -1, -1]),
        DataType::Bipolar,
        act,
    );
    let net = network(input, vec![l], None);
    // acc = ±2: counts 2 and 1.
    assert_eq!(run_all(&net, &[1, 1]), vec![2, 1]);
}

#[test]
fn thresholds_multibit_output_feeds_next_layer() {
    // uint2 activations between two layers travel as bit planes.
    let input = tt(Shape::Flat(2), DataType::Bipolar);
    let act = thresholds(
        ndarray::array![[-2, 0, 2]],
        vec![Compare::Ge],
        0,
        DataType::UInt(2),
    );
    let l0 = dense(
        "fc0",
        input,
        w2(3, 2, &[1, 1, 1, -1, -1, -1]),
        DataType::Bipolar,
        act,
    );
    let l1 = dense(
        "fc1",
        l0.output,
        w2(1, 3, &[1, -1, 1]),
        DataType::Bipolar,
        Activation::Identity,
    );
    let net = network(input, vec![l0, l1], None);
    // accs 2, 0, −2 → 3, 2, 1; then 3 − 2 + 1 = 2.
    assert_eq!(run_all(&net, &[1, 1]), vec![2]);
    let g = GoldenModel::new(&net).unwrap();
    assert_eq!(g.infer_trace(&[1, 1]), vec![vec![3, 2, 1], vec![2]]);
}

#[test]
fn top_k_ties_go_to_the_lower_index() {
    assert_eq!(top_k(&[3, 5, 5, 1, 5], 3), vec![1, 2, 4]);
    assert_eq!(top_k(&[3, 5, 5, 1, 5], 1), vec![1]);
    assert_eq!(top_k(&[3, 5, 5, 1, 5], 5), vec![1, 2, 4, 0, 3]);
    assert_eq!(top_k(&[0, 0, 0], 2), vec![0, 1]);
    assert_eq!(top_k(&[-1, 2, 7, 7], 2), vec![2, 3]);

    // Through a network head: accumulators [2, 2, 0, 2].
    let input = tt(Shape::Flat(2), DataType::Bipolar);
    let l = dense(
        "fc",
        input,
        w2(4, 2, &[1, 1, 1, 1, 1, -1, 1, 1]),
        DataType::Bipolar,
        Activation::Identity,
    );
    let net = network(input, vec![l], Some(2));
    assert_eq!(run_all(&net, &[1, 1]), vec![0, 1]);
    let g = GoldenModel::new(&net).unwrap();
    assert_eq!(g.output_dims(), vec![2]);
}

#[test]
fn no_layers_passes_the_input_through() {
    let input = tt(Shape::Flat(3), DataType::Int(3));
    assert_eq!(
        run_all(&network(input, vec![], None), &[1, -4, 3]),
        vec![1, -4, 3]
    );
    assert_eq!(
        run_all(&network(input, vec![], Some(1)), &[1, -4, 3]),
        vec![2]
    );
}

#[test]
fn batchnorm_is_refused_with_a_hint() {
    let input = tt(Shape::Flat(2), DataType::Bipolar);
    let bn = Activation::BatchNorm(ir::BatchNorm {
        gamma: vec![1.0],
        beta: vec![0.0],
        mean: vec![0.0],
        var: vec![1.0],
        eps: 1e-5,
        alpha: None,
        bias: None,
        quantizer: ir::Quantizer::Sign,
    });
    let net = network(
        input,
        vec![dense(
            "fc0",
            input,
            w2(1, 2, &[1, 1]),
            DataType::Bipolar,
            bn,
        )],
        None,
    );
    let err = GoldenModel::new(&net).unwrap_err();
    assert!(matches!(err, Error::Unsupported(_)), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("fc0") && msg.contains("passes::lower"),
        "{msg}"
    );
}

#[test]
fn malformed_networks_are_errors() {
    let input = tt(Shape::Flat(3), DataType::Bipolar);
    // Weight outside its datatype.
    let l = dense(
        "fc",
        input,
        w2(1, 3, &[1, 0, 1]),
        DataType::Bipolar,
        Activation::Identity,
    );
    let msg = GoldenModel::new(&network(input, vec![l], None))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("weight [0, 1]"), "{msg}");
    // Threshold output type that disagrees with the layer's.
    let mut l = dense(
        "fc",
        input,
        w2(1, 3, &[1, 1, 1]),
        DataType::Bipolar,
        sign(&[0]),
    );
    l.output.dtype = ValueType::Data(DataType::UInt(2));
    assert!(GoldenModel::new(&network(input, vec![l], None)).is_err());
    // Head larger than the output.
    let l = dense(
        "fc",
        input,
        w2(1, 3, &[1, 1, 1]),
        DataType::Bipolar,
        Activation::Identity,
    );
    assert!(GoldenModel::new(&network(input, vec![l], Some(2))).is_err());
}

#[test]
fn run_batch_checks_shape_and_values() {
    let input = tt(Shape::Image { h: 2, w: 2, c: 1 }, DataType::UInt(2));
    let l = dense(
        "fc",
        input,
        w2(1, 4, &[1, 1, 1, 1]),
        DataType::Bipolar,
        Activation::Identity,
    );
    let g = GoldenModel::new(&network(input, vec![l], None)).unwrap();

    let bad_shape = ArrayD::<i64>::zeros(IxDyn(&[3, 4]));
    let msg = g.run_batch(bad_shape.view()).unwrap_err().to_string();
    assert!(
        msg.contains("[N, 2, 2, 1]") && msg.contains("[3, 4]"),
        "{msg}"
    );

    let mut x = ArrayD::<i64>::zeros(IxDyn(&[5, 2, 2, 1]));
    x[[3, 1, 0, 0]] = 4;
    x[[4, 0, 0, 0]] = -1;
    let msg = g.run_batch(x.view()).unwrap_err().to_string();
    assert!(
        msg.contains("input frame 3") && msg.contains("[1, 0, 0]") && msg.contains("value 4"),
        "{msg}"
    );
    let msg = g.run_batch_threads(x.view(), 1).unwrap_err().to_string();
    assert!(msg.contains("input frame 3"), "{msg}");

    x[[3, 1, 0, 0]] = 3;
    x[[4, 0, 0, 0]] = 2;
    let y = g.run_batch(x.view()).unwrap();
    assert_eq!(y.shape(), &[5, 1]);
    assert_eq!(y.iter().copied().collect::<Vec<_>>(), vec![0, 0, 0, 3, 2]);

    let empty = ArrayD::<i64>::zeros(IxDyn(&[0, 2, 2, 1]));
    assert_eq!(g.run_batch(empty.view()).unwrap().shape(), &[0, 1]);
}

#[test]
fn model_is_shareable_and_auto_picks_the_best_kernel() {
    fn shareable<T: Send + Sync>() {}
    shareable::<GoldenModel>();
    let available = Kernel::available();
    assert_eq!(available[0], Kernel::Portable);
    let input = tt(Shape::Flat(2), DataType::Bipolar);
    let l = dense(
        "fc",
        input,
        w2(1, 2, &[1, 1]),
        DataType::Bipolar,
        Activation::Identity,
    );
    let g = GoldenModel::new(&network(input, vec![l], None)).unwrap();
    assert_eq!(g.kernel(), *available.last().unwrap());
}

#[test]
#[should_panic(expected = "value 0 is not a bipolar value")]
fn infer_panics_on_a_bad_value() {
    let input = tt(Shape::Flat(2), DataType::Bipolar);
    let l = dense(
        "fc",
        input,
        w2(1, 2, &[1, 1]),
        DataType::Bipolar,
        Activation::Identity,
    );
    GoldenModel::new(&network(input, vec![l], None))
        .unwrap()
        .infer(&[1, 0]);
}

// ---------------------------------------------------------------------------------------------
// The per-element reference.

/// Per-element evaluation straight from the IR's definitions. Returns every layer's output and
/// the network output.
fn reference(net: &Network, frame: &[i64]) -> (Vec<Vec<i64>>, Vec<i64>) {
    let mut x = frame.to_vec();
    let mut trace = Vec::new();
    for layer in &net.layers {
        let (h, w, c) = match layer.input.shape {
            Shape::Flat(c) => (1, 1, c),
            Shape::Image { h, w, c } => (h, w, c),
        };
        let at = |x: &[i64], y: usize, xx: usize, ch: usize| x[(y * w + xx) * c + ch];
        x = match &layer.op {
            Op::MatVec(m) => {
                let (oh, ow, mh) = match layer.output.shape {
                    Shape::Flat(n) => (1, 1, n),
                    Shape::Image { h, w, c } => (h, w, c),
                };
                let mut out = Vec::new();
                for oy in 0..oh {
                    for ox in 0..ow {
                        for r in 0..mh {
                            let mut acc = 0i64;
                            for k in 0..m.cols() {
                                let v = match m.conv {
                                    None => x[k],
                                    Some(g) => {
                                        let ky = k / (g.kernel[1] * c);
                                        let kx = (k / c) % g.kernel[1];
                                        let ic = k % c;
                                        let iy =
                                            (oy * g.stride[0] + ky) as i64 - g.padding[0] as i64;
                                        let ix =
                                            (ox * g.stride[1] + kx) as i64 - g.padding[1] as i64;
                                        if iy < 0 || ix < 0 || iy >= h as i64 || ix >= w as i64 {
                                            g.pad_value
                                        } else {
                                            at(&x, iy as usize, ix as usize, ic)
                                        }
                                    }
                                };
                                acc += i64::from(m.weights[[r, k]]) * v;
                            }
                            out.push(match &m.activation {
                                Activation::Identity => acc,
                                Activation::Thresholds(t) => full_thresholds(t, mh).apply(r, acc),
                                Activation::BatchNorm(_) => unreachable!(),
                            });
                        }
                    }
                }
                out
            }
            Op::GlobalAvgPool(_) => (0..c)
                .map(|ch| (0..h * w).map(|p| at(&x, p / w, p % w, ch)).sum())
                .collect(),
            Op::Depthwise(_) => unreachable!("the random nets have no depthwise layers"),
            Op::MaxPool(p) => {
                let Shape::Image { h: oh, w: ow, .. } = layer.output.shape else {
                    unreachable!()
                };
                let mut out = Vec::new();
                for oy in 0..oh {
                    for ox in 0..ow {
                        for ch in 0..c {
                            let mut best = i64::MIN;
                            for ky in 0..p.kernel[0] {
                                for kx in 0..p.kernel[1] {
                                    best = best.max(at(
                                        &x,
                                        oy * p.stride[0] + ky,
                                        ox * p.stride[1] + kx,
                                        ch,
                                    ));
                                }
                            }
                            out.push(best);
                        }
                    }
                }
                out
            }
        };
        trace.push(x.clone());
    }
    let out = match net.head {
        None => x,
        Some(TopK { k }) => {
            let mut idx: Vec<usize> = (0..x.len()).collect();
            idx.sort_by(|&a, &b| x[b].cmp(&x[a])); // stable: ties keep the lower index first
            idx[..k].iter().map(|&i| i as i64).collect()
        }
    };
    (trace, out)
}

/// `t` with a broadcast row (or direction) repeated for all `mh` channels.
fn full_thresholds(t: &Thresholds, mh: usize) -> Thresholds {
    let mut t = t.clone();
    if t.values.nrows() == 1 {
        t.values = ndarray::Array2::from_shape_fn((mh, t.steps()), |(_, s)| t.values[[0, s]]);
    }
    if t.compare.len() == 1 {
        t.compare = vec![t.compare[0]; mh];
    }
    t
}

// ---------------------------------------------------------------------------------------------
// Random networks.

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }

    fn value(&mut self, dt: DataType) -> i64 {
        match dt {
            DataType::Bipolar => {
                if self.next() & 1 == 1 {
                    1
                } else {
                    -1
                }
            }
            _ => self.range(dt.min(), dt.max()),
        }
    }

    fn values(&mut self, dt: DataType, n: usize) -> Vec<i64> {
        (0..n).map(|_| self.value(dt)).collect()
    }
}

const IN_TYPES: [DataType; 8] = [
    DataType::Bipolar,
    DataType::Bipolar,
    DataType::BINARY,
    DataType::UInt(2),
    DataType::UInt(8),
    DataType::Int(2),
    DataType::Int(4),
    DataType::Int(8),
];

const W_TYPES: [DataType; 7] = [
    DataType::Bipolar,
    DataType::Bipolar,
    DataType::BINARY,
    DataType::Ternary,
    DataType::Int(2),
    DataType::UInt(3),
    DataType::Int(8),
];

const OUT_TYPES: [DataType; 5] = [
    DataType::Bipolar,
    DataType::BINARY,
    DataType::UInt(2),
    DataType::Int(2),
    DataType::Int(3),
];

fn random_weights(rng: &mut Rng, wdt: DataType, rows: usize, cols: usize) -> Array2<i32> {
    Array2::from_shape_fn((rows, cols), |_| rng.value(wdt) as i32)
}

/// A random activation for accumulators in `lo..=hi`; `identity` allows raw accumulators.
fn random_activation(rng: &mut Rng, mh: usize, (lo, hi): (i64, i64), identity: bool) -> Activation {
    if identity && rng.below(3) == 0 {
        return Activation::Identity;
    }
    let out = OUT_TYPES[rng.below(OUT_TYPES.len())];
    let steps = if out == DataType::Bipolar {
        1
    } else {
        (1usize << out.bits()) - 1
    };
    let out_bias = match out {
        DataType::Bipolar => -1,
        _ => out.min(),
    };
    // Around the range, sometimes outside it; occasionally broadcast.
    let rows = if rng.below(5) == 0 { 1 } else { mh };
    let spread = (hi - lo).max(1) / 2 + 2;
    let mid = (lo + hi) / 2;
    let mut values = Array2::zeros((rows, steps));
    for mut row in values.rows_mut() {
        let mut t: Vec<i64> = (0..steps)
            .map(|_| rng.range(mid - spread, mid + spread))
            .collect();
        t.sort();
        row.assign(&ndarray::Array1::from(t));
    }
    let compare = (0..rows)
        .map(|_| {
            if rng.below(3) == 0 {
                Compare::Le
            } else {
                Compare::Ge
            }
        })
        .collect();
    thresholds(values, compare, out_bias, out)
}

fn random_dense(rng: &mut Rng, name: &str, input: TensorType, mh: usize, identity: bool) -> Layer {
    let in_dt = input.dtype.as_data().unwrap();
    let wdt = W_TYPES[rng.below(W_TYPES.len())];
    let k = input.shape.len();
    let m = matvec(
        random_weights(rng, wdt, mh, k),
        wdt,
        None,
        Activation::Identity,
    );
    let act = random_activation(rng, mh, m.acc_range(in_dt), identity);
    dense(name, input, m.weights, wdt, act)
}

#[allow(clippy::too_many_arguments)]
fn random_conv(
    rng: &mut Rng,
    name: &str,
    input: TensorType,
    mh: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    identity: bool,
) -> Layer {
    let in_dt = input.dtype.as_data().unwrap();
    let wdt = W_TYPES[rng.below(W_TYPES.len())];
    let k = kernel[0] * kernel[1] * input.shape.channels();
    let m = matvec(
        random_weights(rng, wdt, mh, k),
        wdt,
        None,
        Activation::Identity,
    );
    let act = random_activation(rng, mh, m.acc_range(in_dt), identity);
    let pad_value = rng.value(in_dt);
    conv(
        name, input, m.weights, wdt, kernel, stride, padding, pad_value, act,
    )
}

/// Checks every kernel against the reference, on the output and on the trace.
fn check_against_reference(net: &Network, frames: &[Vec<i64>]) -> Result<(), TestCaseError> {
    for kernel in Kernel::available() {
        let g = GoldenModel::with_kernel(net, kernel).unwrap();
        for frame in frames {
            let (trace, out) = reference(net, frame);
            prop_assert_eq!(&g.infer_trace(frame), &trace, "kernel {} trace", kernel);
            prop_assert_eq!(&g.infer(frame), &out, "kernel {} output", kernel);
        }
        // The batch path gives the same.
        let dims = g.input_shape().dims();
        let mut shape = vec![frames.len()];
        shape.extend(dims);
        let flat: Vec<i64> = frames.concat();
        let batch = ArrayD::from_shape_vec(IxDyn(&shape), flat).unwrap();
        // On all cores, and on one thread (whole groups of frames share weight passes).
        for threads in [usize::MAX, 1] {
            let y = g.run_batch_threads(batch.view(), threads).unwrap();
            for (i, frame) in frames.iter().enumerate() {
                let want = reference(net, frame).1;
                let got: Vec<i64> = y.index_axis(ndarray::Axis(0), i).iter().copied().collect();
                prop_assert_eq!(
                    got,
                    want,
                    "kernel {} batch frame {} threads {}",
                    kernel,
                    i,
                    threads
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    /// One dense layer: every input datatype × weight datatype, fan-in across word boundaries.
    #[test]
    fn dense_matches_reference(
        k in prop_oneof![Just(1usize), Just(64), 1usize..200],
        mh in prop_oneof![Just(1usize), 1usize..80],
        in_ix in 0..IN_TYPES.len(),
        seed in any::<u64>(),
    ) {
        let mut rng = Rng(seed | 1);
        let input = tt(Shape::Flat(k), IN_TYPES[in_ix]);
        let l = random_dense(&mut rng, "fc", input, mh, true);
        let net = network(input, vec![l], None);
        let frames: Vec<Vec<i64>> = (0..6).map(|_| rng.values(IN_TYPES[in_ix], k)).collect();
        check_against_reference(&net, &frames)?;
    }

    /// One conv layer: odd sizes, strides, padding with a random pad value, several channels.
    #[test]
    fn conv_matches_reference(
        (h, w) in (1usize..7, 1usize..7),
        c in prop_oneof![Just(1usize), Just(64), 1usize..80],
        (kh, kw) in (1usize..4, 1usize..4),
        (sh, sw) in (1usize..3, 1usize..3),
        (ph, pw) in (0usize..2, 0usize..2),
        mh in 1usize..40,
        in_ix in 0..IN_TYPES.len(),
        seed in any::<u64>(),
    ) {
        prop_assume!(h + 2 * ph >= kh && w + 2 * pw >= kw);
        let mut rng = Rng(seed | 1);
        let input = tt(Shape::Image { h, w, c }, IN_TYPES[in_ix]);
        let l = random_conv(&mut rng, "conv", input, mh, [kh, kw], [sh, sw], [ph, pw], true);
        let net = network(input, vec![l], None);
        let frames: Vec<Vec<i64>> = (0..2).map(|_| rng.values(IN_TYPES[in_ix], h * w * c)).collect();
        check_against_reference(&net, &frames)?;
    }

    /// Small whole networks: conv → (pool) → dense → dense (→ head), so that every format change
    /// between layers (packed bits, bit planes, values) is crossed.
    #[test]
    fn networks_match_reference(
        (h, w, c) in (2usize..7, 2usize..7, 1usize..70),
        c1 in 1usize..70,
        with_pool in any::<bool>(),
        (m1, m2) in (1usize..100, 1usize..20),
        head in 0usize..4,
        in_ix in 0..IN_TYPES.len(),
        seed in any::<u64>(),
    ) {
        let mut rng = Rng(seed | 1);
        let input = tt(Shape::Image { h, w, c }, IN_TYPES[in_ix]);
        let mut layers = vec![random_conv(&mut rng, "conv", input, c1, [2, 2], [1, 1], [1, 1], false)];
        if with_pool {
            let prev = layers.last().unwrap().output;
            layers.push(pool("pool", prev, [2, 2], [2, 2]));
        }
        let prev = layers.last().unwrap().output;
        layers.push(random_dense(&mut rng, "fc0", prev, m1, false));
        let prev = layers.last().unwrap().output;
        layers.push(random_dense(&mut rng, "fc1", prev, m2, true));
        let head = (head > 0).then(|| head.min(m2));
        let net = network(input, layers, head);
        let frames: Vec<Vec<i64>> = (0..5).map(|_| rng.values(IN_TYPES[in_ix], h * w * c)).collect();
        check_against_reference(&net, &frames)?;
    }

    #[test]
    fn top_k_matches_a_stable_sort(values in prop::collection::vec(-3i64..3, 1..40), k in 1usize..40) {
        let k = k.min(values.len());
        let mut idx: Vec<usize> = (0..values.len()).collect();
        idx.sort_by(|&a, &b| values[b].cmp(&values[a]));
        prop_assert_eq!(top_k(&values, k), idx[..k].to_vec());
    }
}
