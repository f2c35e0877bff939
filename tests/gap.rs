//! Global average pooling (`kind = "globalavgpool"`) end to end:
//!
//! 1. the folded division is exact: on random nets (odd H·W, γ of both signs and exactly 0,
//!    thresholds at the extremes) the golden model equals a float model that divides the sums by
//!    H·W and evaluates the next layer's batch-norm in f64;
//! 2. the cycle simulator equals the golden model, with and without random stalls, and runs at
//!    the ideal rate (GAP first, in the middle and last; padded bipolar channel slots);
//! 3. three-way in Verilator (golden == cycle simulator == RTL, cycle counts included) with
//!    stalls, on the four small designs (8–12 s of Verilator build each);
//! 4. the front end: a loaded `globalavgpool` layer and its errors.
//!
//! (3) requires verilator.

mod common;

use bnn_gen::cyclesim::{CycleSim, Stalls};
use bnn_gen::datatype::DataType;
use bnn_gen::golden::GoldenModel;
use bnn_gen::ir::{Activation, GlobalAvgPool, Network, Op, Quantizer, Shape};
use bnn_gen::synth::{self, ActSpec, ConvSpec, DenseSpec, LayerSpec, NetSpec, PoolSpec, Rng};
use bnn_gen::verify::{self, VerifyOptions, VerifyReport};
use bnn_gen::{frontend, passes};
use common::{require_tool, target_dir};

fn conv(out: usize, act: ActSpec, pe: usize, simd: usize, pad_value: Option<i64>) -> LayerSpec {
    LayerSpec::Conv(ConvSpec {
        out_channels: out,
        kernel: [3, 3],
        stride: [1, 1],
        padding: [1, 1],
        pad_value,
        weight_dtype: DataType::Bipolar,
        activation: act,
        pe,
        simd,
    })
}

fn dense(out: usize, wdt: DataType, act: ActSpec, pe: usize, simd: usize) -> LayerSpec {
    LayerSpec::Dense(DenseSpec {
        out_features: out,
        weight_dtype: wdt,
        activation: act,
        pe,
        simd,
    })
}

fn uniform(bits: u8, signed: bool) -> ActSpec {
    ActSpec::BatchNorm {
        quantizer: Quantizer::Uniform {
            bits,
            signed,
            scale: 0.5,
        },
        alpha: true,
        bias: true,
    }
}

/// The nets of the tests: odd image sizes (3×5, 5×3, 1×7), GAP after a conv, after a max-pool,
/// first (on the host's pixels) and last; channel counts the PE does not divide (padded slots,
/// which for bipolar data carry −1 and must be masked).
fn gap_nets() -> Vec<Network> {
    let image = |h, w, c| Shape::Image { h, w, c };
    let specs = vec![
        // conv (bipolar, 5 channels of PE 3, slots padded) → GAP → dense BN → dense none
        NetSpec {
            name: "gap-mid".into(),
            input_shape: image(3, 5, 2),
            input_dtype: DataType::Bipolar,
            layers: vec![
                conv(5, ActSpec::SIGN, 3, 2, Some(1)),
                LayerSpec::GlobalAvgPool,
                // bipolar weights have no 0: a padded slot must carry the sum 0, not −15
                dense(4, DataType::Bipolar, uniform(2, true), 2, 5),
                dense(3, DataType::Ternary, ActSpec::None, 3, 2),
            ],
            head: None,
        },
        // conv (uint2 activations) → GAP last: the sums are the output
        NetSpec {
            name: "gap-last".into(),
            input_shape: image(5, 3, 3),
            input_dtype: DataType::UInt(2),
            layers: vec![
                conv(3, uniform(2, false), 2, 3, None),
                LayerSpec::GlobalAvgPool,
            ],
            head: None,
        },
        // GAP first, on the host's pixels; explicit thresholds after it; argmax head
        NetSpec {
            name: "gap-first".into(),
            input_shape: image(1, 7, 3),
            input_dtype: DataType::Int(3),
            layers: vec![
                LayerSpec::GlobalAvgPool,
                dense(
                    5,
                    DataType::Int(3),
                    ActSpec::Thresholds {
                        out_dtype: DataType::UInt(2),
                        falling: true,
                    },
                    5,
                    1,
                ),
                dense(3, DataType::Bipolar, ActSpec::None, 1, 5),
            ],
            head: Some(1),
        },
        // conv → max-pool → GAP (3×1 pixels) → dense sign → dense none
        NetSpec {
            name: "gap-pool".into(),
            input_shape: image(6, 3, 2),
            input_dtype: DataType::BINARY,
            layers: vec![
                conv(4, uniform(3, true), 4, 1, None),
                LayerSpec::MaxPool(PoolSpec {
                    kernel: [2, 3],
                    stride: [2, 3],
                }),
                LayerSpec::GlobalAvgPool,
                dense(6, DataType::Bipolar, ActSpec::SIGN, 3, 2),
                dense(2, DataType::Bipolar, ActSpec::None, 2, 3),
            ],
            head: None,
        },
    ];
    specs
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let mut net = synth::network(&s, 100 + i as u64);
            passes::lower(&mut net).unwrap();
            net
        })
        .collect()
}

#[test]
fn cycle_simulator_equals_golden_under_stalls_at_the_ideal_rate() {
    for net in gap_nets() {
        let golden = GoldenModel::new(&net).unwrap();
        let mut sim = CycleSim::from_network(&net).unwrap();
        let frames = 24;
        let batch = synth::frames_for(&net, frames, 5);
        let len = net.input.shape.len();
        let data = batch.as_slice().unwrap();
        let expected: Vec<Vec<i64>> = (0..frames)
            .map(|f| golden.infer(&data[f * len..(f + 1) * len]))
            .collect();
        // the bit-level model of the hardware IR agrees too
        for (f, want) in expected.iter().enumerate() {
            assert_eq!(
                &sim.hw().model(&data[f * len..(f + 1) * len]),
                want,
                "{} frame {f}: HwNetwork::model",
                net.name
            );
        }
        for st in [Stalls::NONE, Stalls::both(0.3, 7), Stalls::both(0.6, 8)] {
            let run = sim.run_frames(batch.view(), st, None).unwrap();
            for (f, (got, want)) in run.outputs.iter().zip(&expected).enumerate() {
                assert_eq!(got, want, "{} {st:?} frame {f}", net.name);
            }
            if st == Stalls::NONE {
                let hw = sim.hw();
                let bound = hw
                    .ideal_ii()
                    .max(sim.input_format().words_per_frame)
                    .max(hw.output_stream().words_per_frame) as f64;
                let cpf = run.cycles_per_frame.unwrap();
                assert_eq!(cpf, bound, "{}: cycles per frame", net.name);
            }
        }
    }
}

/// The float model of a dense layer with batch-norm after a global pool: the average is the sum
/// over H·W divided by H·W, the dot product with the average is `Σ w·sum / (H·W)` (evaluated as
/// the exact integer over H·W, rounded once to f64), then batch-norm and the quantizer in f64.
fn float_dense_after_gap(
    w: &ndarray::Array2<i32>,
    bn: &bnn_gen::ir::BatchNorm,
    sums: &[i64],
    pixels: usize,
) -> Vec<i64> {
    (0..w.nrows())
        .map(|c| {
            let dot: i64 = w
                .row(c)
                .iter()
                .zip(sums)
                .map(|(&a, &s)| i64::from(a) * s)
                .sum();
            let avg_dot = dot as f64 / pixels as f64;
            let alpha = bn.alpha.as_ref().map_or(1.0, |a| a[c]);
            let bias = bn.bias.as_ref().map_or(0.0, |b| b[c]);
            let x = alpha * avg_dot + bias;
            let y = (x - bn.mean[c]) / (bn.var[c] + bn.eps).sqrt() * bn.gamma[c] + bn.beta[c];
            bn.quantizer.quantize(y)
        })
        .collect()
}

/// Property: over random nets `input → GAP → dense(batch-norm)` (random odd-sized images, every
/// input datatype, random batch-norm with γ < 0, γ = 0 and constant channels, α and bias, and
/// sign boundaries planted exactly on an average a frame reaches) the
/// integer pipeline (thresholds on the *sum*'s accumulator) gives exactly the float model's
/// output on the true average, on every frame, including frames with all-minimum and
/// all-maximum inputs (the accumulator's extremes).
#[test]
fn folded_thresholds_equal_the_float_model_on_the_true_average() {
    let mut checked = 0usize;
    for seed in 0..120u64 {
        let mut rng = Rng::new(seed);
        let in_dt = rng.pick(&[
            DataType::Bipolar,
            DataType::BINARY,
            DataType::UInt(2),
            DataType::Int(2),
            DataType::Int(3),
        ]);
        // odd, non-power-of-two pixel counts whose sums fit 8 bits
        let (h, w) = rng.pick(&[(3, 5), (5, 3), (1, 7), (3, 3), (7, 1), (5, 5)]);
        let g = GlobalAvgPool { h, w };
        if g.sum_dtype(in_dt).bits() > GlobalAvgPool::MAX_SUM_BITS {
            continue;
        }
        let c = rng.range_usize(1, 6);
        let out = rng.range_usize(1, 6);
        let quantizer = rng.pick(&[
            Quantizer::Sign,
            Quantizer::Uniform {
                bits: 2,
                signed: true,
                scale: 0.25,
            },
            Quantizer::Uniform {
                bits: 3,
                signed: false,
                scale: 0.5,
            },
        ]);
        let spec = NetSpec {
            name: "prop".into(),
            input_shape: Shape::Image { h, w, c },
            input_dtype: in_dt,
            layers: vec![
                LayerSpec::GlobalAvgPool,
                dense(
                    out,
                    rng.pick(&[DataType::Bipolar, DataType::Ternary, DataType::Int(3)]),
                    ActSpec::BatchNorm {
                        quantizer,
                        alpha: rng.chance(0.5),
                        bias: rng.chance(0.5),
                    },
                    1,
                    1,
                ),
            ],
            head: None,
        };
        let mut float_net = synth::network(&spec, seed);
        let n = h * w * c;
        let mut frames: Vec<Vec<i64>> = vec![vec![in_dt.min(); n], vec![in_dt.max(); n]];
        let batch = synth::frames_for(&float_net, 40, seed);
        frames.extend(batch.as_slice().unwrap().chunks(n).map(<[i64]>::to_vec));
        let sums_of = |x: &[i64]| -> Vec<i64> {
            (0..c)
                .map(|ch| (0..h * w).map(|p| x[p * c + ch]).sum())
                .collect()
        };
        let Op::MatVec(mv) = &mut float_net.layers[1].op else {
            unreachable!()
        };
        let weights = mv.weights.clone();
        let Activation::BatchNorm(bn) = &mut mv.activation else {
            unreachable!()
        };
        if bn.quantizer == Quantizer::Sign {
            // Plant exact ties: on even channels the sign's boundary is an average that a frame
            // reaches exactly (y = 0 at mean = dot/(H·W), which must give +1, as sign(0) does).
            let sums = sums_of(&frames[2 + seed as usize % 40]);
            for r in (0..out).step_by(2) {
                let dot: i64 = (weights.row(r).iter())
                    .zip(&sums)
                    .map(|(&a, &s)| i64::from(a) * s)
                    .sum();
                bn.mean[r] = dot as f64 / (h * w) as f64;
                bn.beta[r] = 0.0;
                bn.alpha.iter_mut().for_each(|a| a[r] = 1.0);
                bn.bias.iter_mut().for_each(|b| b[r] = 0.0);
            }
        }
        let bn = bn.clone();
        let bn = &bn;
        let mut net = float_net.clone();
        passes::lower(&mut net).unwrap();
        let golden = GoldenModel::new(&net).unwrap();
        for x in &frames {
            let sums = sums_of(x);
            let want = float_dense_after_gap(&weights, bn, &sums, h * w);
            assert_eq!(
                golden.infer(x),
                want,
                "seed {seed}: {in_dt} {h}x{w}x{c}, {bn:?}"
            );
            checked += 1;
        }
    }
    assert!(checked > 3000, "{checked} frames");
}

// ---------------------------------------------------------------------------------------------
// three-way
// ---------------------------------------------------------------------------------------------

fn assert_pass_at_port_bound(report: &VerifyReport) {
    eprintln!("{report}");
    if let Some(f) = &report.failure {
        panic!("{}: verification failed: {f}", report.network);
    }
    assert!(report.runs.iter().all(|r| r.three_way), "three-way");
    assert!(report.runs.iter().any(|r| r.stall > 0.0), "a stalled run");
    let t = report.timing.as_ref().unwrap();
    let bound = report
        .ideal_ii
        .max(report.in_words_per_frame as u64)
        .max(report.out_words_per_frame as u64);
    assert_eq!(t.cycles_per_frame, Some(bound as f64), "{}", report.network);
}

/// Golden == cycle simulator == Verilator (outputs word for word, cycle counts) with 30 %
/// stalls, on GAP in the middle (bipolar, padded slots masked), last, first (the host's pixels,
/// an argmax head) and after a max-pool.
#[test]
fn three_way_with_stalls() {
    require_tool("verilator", "tests/gap.rs", "verilator");
    let runtime = common::verilator_runtime();
    for net in gap_nets() {
        let opts = VerifyOptions {
            stall: 0.3,
            frames: Some(40),
            dir: Some(target_dir().join("gap-tests").join(&net.name)),
            verilator_runtime: runtime.clone(),
            ..VerifyOptions::default()
        };
        let report = verify::run(&net, &opts).unwrap();
        assert_pass_at_port_bound(&report);
    }
}

// ---------------------------------------------------------------------------------------------
// front end
// ---------------------------------------------------------------------------------------------

fn load_toml(layers: &str, input: &str) -> bnn_gen::Result<Network> {
    let dir = tempfile::tempdir().unwrap();
    let w = ndarray::Array2::<i64>::from_shape_fn(
        (2, 3),
        |(r, c)| if (r + c) % 2 == 0 { 1 } else { -1 },
    );
    ndarray_npy::write_npy(dir.path().join("w.npy"), &w).unwrap();
    let text = format!("name = \"g\"\n[input]\n{input}\n{layers}");
    std::fs::write(dir.path().join("net.toml"), text).unwrap();
    frontend::load(&dir.path().join("net.toml"))
}

const DENSE: &str = "[[layer]]\nkind = \"dense\"\nout_features = 2\nweights = \"w.npy\"\n\
                     weight_dtype = \"bipolar\"\npe = 1\nsimd = 3\nactivation = { kind = \"none\" }\n";

#[test]
fn front_end_loads_globalavgpool_and_explains_errors() {
    let gap = "[[layer]]\nkind = \"globalavgpool\"\nname = \"gap\"\n";
    let net = load_toml(
        &format!("{gap}{DENSE}"),
        "shape = [3, 5, 3]\ndtype = \"uint2\"",
    )
    .unwrap();
    assert_eq!(net.layers[0].output.shape, Shape::Flat(3));
    // 15 pixels of 0..3: the sum 0..45 travels as uint6
    assert_eq!(
        net.layers[0].output.dtype,
        bnn_gen::ir::ValueType::Data(DataType::UInt(6))
    );
    assert_eq!(net.output_divisor(), 15, "raw accumulators after the pool");
    let table = bnn_gen::report::check_table(&net);
    assert!(
        table.contains(
            "global pool: gap: sums over 15 pixels (uint6); the division by 15 is folded nowhere"
        ),
        "{table}"
    );

    let flat = load_toml(&format!("{gap}{DENSE}"), "shape = [3]\ndtype = \"uint2\"")
        .unwrap_err()
        .to_string();
    assert!(
        flat.contains("needs an image input") && flat.contains("help:"),
        "{flat}"
    );
    let wide = load_toml(
        &format!("{gap}{DENSE}"),
        "shape = [9, 9, 3]\ndtype = \"uint4\"",
    )
    .unwrap_err()
    .to_string();
    assert!(
        wide.contains("needs 11 bits") && wide.contains("help:"),
        "{wide}"
    );
    let typo = load_toml(
        "[[layer]]\nkind = \"globalavgpool\"\nkernel = 3\n",
        "shape = [3, 5, 3]\ndtype = \"uint2\"",
    )
    .unwrap_err()
    .to_string();
    assert!(typo.contains("kernel"), "{typo}");
}

/// A global pool as the last layer: the integer outputs are the sums, and `run` divides the
/// `[output]` scale by H·W, so the float output is the float model's, `scale · mean + bias`.
#[test]
fn run_divides_the_output_scale_of_a_final_global_pool() {
    let dir = tempfile::tempdir().unwrap();
    let text = "name = \"g\"\n[input]\nshape = [3, 5, 2]\ndtype = \"uint2\"\n\
                [[layer]]\nkind = \"globalavgpool\"\n\
                [output]\nscale = [0.5, -2.0]\nbias = [0.25]\n";
    std::fs::write(dir.path().join("net.toml"), text).unwrap();
    let mut rng = Rng::new(9);
    let x = ndarray::Array4::<i64>::from_shape_fn((4, 3, 5, 2), |_| rng.range(0, 3));
    ndarray_npy::write_npy(dir.path().join("x.npy"), &x).unwrap();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_bnn-gen"))
        .arg("run")
        .arg(dir.path().join("net.toml"))
        .arg("--input")
        .arg(dir.path().join("x.npy"))
        .arg("--output")
        .arg(dir.path().join("y.npy"))
        .status()
        .unwrap();
    assert!(status.success());
    let y: ndarray::ArrayD<f32> = ndarray_npy::read_npy(dir.path().join("y.npy")).unwrap();
    assert_eq!(y.shape(), &[4, 2]);
    for n in 0..4 {
        for c in 0..2 {
            let mean = (0..15).map(|p| x[[n, p / 5, p % 5, c]]).sum::<i64>() as f64 / 15.0;
            let want = [0.5, -2.0][c] * mean + 0.25;
            assert!(
                (f64::from(y[[n, c]]) - want).abs() < 1e-6,
                "frame {n} channel {c}: {} vs {want}",
                y[[n, c]]
            );
        }
    }
}

/// The auto-folding's cost model counts a global pool (one word per cycle, no memories, a few
/// adders) and agrees with the hardware IR on its cycles.
#[test]
fn the_fold_cost_model_counts_a_global_pool() {
    for net in gap_nets() {
        let problem = bnn_gen::fold::model::Problem::new(&net).unwrap();
        let cost = problem.evaluate(&problem.current()).unwrap();
        let hw = bnn_gen::passes::pad::pad(&net).unwrap();
        for (i, l) in hw.layers.iter().enumerate() {
            assert_eq!(cost.layers[i].cycles, l.cycles(), "{} {}", net.name, l.name);
            if matches!(l.kind, bnn_gen::hwir::HwKind::Gap(_)) {
                let c = &cost.layers[i];
                assert!(c.luts > 0 && c.ffs > 0 && c.bram18 == 0, "{c:?}");
            }
        }
        assert_eq!(cost.cycles, hw.ideal_ii(), "{}", net.name);
    }
}
