//! `bnn-gen verify` end to end: every example (dense and conv) is generated, simulated at the RTL
//! with random back-pressure and compared word for word with the golden model and cycle for cycle
//! with the cycle simulator; without stalls the steady-state cycles per frame must be exactly the
//! ideal (the slowest layer's cycles per frame). Also: the Icarus testbench, the command line, and
//! a corrupted ROM that must be caught and named.
//!
//! Required tools: verilator (5.x) and iverilog; a missing tool fails the test with a hint (never a
//! skip). Designs go to `<target>/verify-tests/<name>/` and are kept, so a rerun with unchanged RTL
//! reuses the Verilator build; the Verilator runtime is compiled once per test process.

mod common;

use bnn_gen::ir::Network;
use bnn_gen::verify::{self, Bench, FailureKind, Model, Simulator, VerifyOptions, VerifyReport};
use bnn_gen::{frontend, passes};
use common::{require_tool, root, target_dir};
use ndarray::ArrayD;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `<target>/verify-tests/<name>` (kept between runs: bnn-gen owns it and rebuilds only what
/// changed).
fn work_dir(name: &str) -> PathBuf {
    target_dir().join("verify-tests").join(name)
}

/// Panics (test failure, never a skip) when `tool` cannot be run.
fn require(tool: &str) {
    require_tool(tool, "tests/verify.rs", "verilator iverilog");
}

fn load(path: &Path) -> Network {
    let mut net = frontend::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    passes::lower(&mut net).expect("the example lowers");
    net
}

fn example(name: &str) -> Network {
    load(&root().join("examples").join(name).join("net.toml"))
}

fn npy(example: &str, file: &str) -> ArrayD<i64> {
    frontend::npy::read_int(&root().join("examples").join(example).join(file)).expect(file)
}

fn options(name: &str, stall: f64) -> VerifyOptions {
    require("verilator");
    VerifyOptions {
        stall,
        dir: Some(work_dir(name)),
        verilator_runtime: common::verilator_runtime(),
        ..VerifyOptions::default()
    }
}

/// Asserts the report passed, was three-way, and measured exactly the ideal II without stalls.
fn assert_pass_at_ideal(report: &VerifyReport) {
    eprintln!("{report}");
    if let Some(f) = &report.failure {
        panic!("{}: verification failed: {f}", report.network);
    }
    assert!(
        report.runs.iter().all(|r| r.three_way),
        "{}: the cycle simulator was not compared",
        report.network
    );
    assert_eq!(
        report.runs.len(),
        2,
        "{}: a stalled and a stall-free run",
        report.network
    );
    assert_eq!(report.outputs.len(), report.frames);
    let t = report
        .timing
        .as_ref()
        .expect("the stall-free run measured the timing");
    let ideal = report.ideal_ii;
    let max_layer = report.layers.iter().map(|l| l.cycles).max().unwrap();
    assert_eq!(ideal, max_layer);
    assert_eq!(
        t.cycles_per_frame,
        Some(ideal as f64),
        "{}: steady-state cycles per frame vs the ideal (slowest layer)",
        report.network
    );
    assert_eq!(
        (t.interval_min, t.interval_max),
        (Some(ideal), Some(ideal)),
        "{}: every steady-state frame interval is the ideal",
        report.network
    );
}

/// A dense pipeline's measured latency (frame 0, idle pipeline) equals `report.json`'s estimate
/// up to the harness's 2 cycles.
fn assert_latency_estimate(report: &VerifyReport) {
    let t = report.timing.as_ref().unwrap();
    assert!(
        t.latency.abs_diff(report.latency_estimate) <= 2,
        "{}: latency {} cycles, estimate {}",
        report.network,
        t.latency,
        report.latency_estimate
    );
}

#[test]
fn tiny_with_stalls_and_the_command_line() {
    let net = example("tiny");
    let opts = VerifyOptions {
        frames: Some(120),
        ..options("tiny", 0.2)
    };
    let report = verify::run(&net, &opts).unwrap();
    assert_pass_at_ideal(&report);
    assert_latency_estimate(&report);

    // The command line, on the same directory (the Verilator build is reused).
    let out = Command::new(env!("CARGO_BIN_EXE_bnn-gen"))
        .arg("verify")
        .arg(root().join("examples/tiny/net.toml"))
        .args(["--frames", "40", "--stall", "0.3", "--seed", "9", "-o"])
        .arg(work_dir("tiny"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("PASS"), "{stdout}");
    assert!(stdout.contains("12.0 cycles/frame"), "{stdout}");

    // A directory bnn-gen did not write is refused.
    let foreign = work_dir("foreign");
    fs::create_dir_all(&foreign).unwrap();
    fs::write(foreign.join("precious.txt"), "keep me").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_bnn-gen"))
        .arg("verify")
        .arg(root().join("examples/tiny/net.toml"))
        .arg("-o")
        .arg(&foreign)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not written by bnn-gen"));
    assert_eq!(
        fs::read_to_string(foreign.join("precious.txt")).unwrap(),
        "keep me"
    );
}

#[test]
fn w2a2_with_stalls() {
    let report = verify::run(&example("w2a2"), &options("w2a2", 0.2)).unwrap();
    assert_pass_at_ideal(&report);
    assert_latency_estimate(&report);
}

/// Weights as logic (`weight_storage = "logic"`) in the W2A2 example's first and last layers,
/// half of the first layer's weight rows zeroed (whole all-zero words, the `case` default) and
/// every other weight of the last: three-way with stalls, at the ideal, and the same cycles as
/// the ROM design (the constant tables read in two cycles, like `bnn_rom`).
#[test]
fn weights_as_logic_with_stalls() {
    use bnn_gen::ir::{Op, WeightStorage};
    let mut net = example("w2a2");
    net.name = "w2a2-logic".into();
    let last = net.layers.len() - 1;
    for (i, layer) in net.layers.iter_mut().enumerate() {
        let Op::MatVec(mv) = &mut layer.op else {
            continue;
        };
        if i == 0 || i == last {
            mv.folding.weight_storage = WeightStorage::Logic;
            let cols = mv.cols();
            for (k, w) in mv.weights.iter_mut().enumerate() {
                let (r, c) = (k / cols, k % cols);
                if (i == 0 && r % 2 == 1) || (i == last && c % 2 == 0) {
                    *w = 0;
                }
            }
        }
    }
    let report = verify::run(&net, &options("w2a2-logic", 0.2)).unwrap();
    assert_pass_at_ideal(&report);
    assert_latency_estimate(&report);
    let rom = verify::run(
        &example("w2a2"),
        &VerifyOptions {
            frames: Some(4),
            ..options("w2a2", 0.0)
        },
    )
    .unwrap();
    assert_eq!(
        report.timing.as_ref().map(|t| t.latency),
        rom.timing.as_ref().map(|t| t.latency),
        "weights as logic keep the ROM design's latency"
    );
}

/// Dead-channel removal end to end: 8 of the W2A2 example's 64 first-layer channels made
/// constant (every threshold at the bottom of the accumulator range). `bnn-gen check` reports
/// them removed (and `--no-prune` keeps them); the pruned network runs three-way with stalls at
/// the ideal and its outputs equal the unpruned golden model's on every frame.
#[test]
fn pruned_network_three_way_and_the_command_line() {
    use bnn_gen::golden::GoldenModel;
    use bnn_gen::ir::{Activation, Compare, Op};
    let mut net = example("w2a2");
    net.name = "w2a2-pruned".into();
    let input = net.layers[0].input.dtype.as_data().unwrap();
    let Op::MatVec(mv) = &mut net.layers[0].op else {
        unreachable!("fc0 is dense")
    };
    let (lo, _) = mv.acc_range(input);
    let Activation::Thresholds(t) = &mut mv.activation else {
        unreachable!("fc0 has thresholds")
    };
    for c in 8..16 {
        t.values.row_mut(c).fill(lo);
        t.compare[c] = Compare::Ge;
    }

    let dir = work_dir("w2a2-pruned-net");
    let _ = fs::remove_dir_all(&dir);
    frontend::export::write_network(&net, &dir).unwrap();
    let check = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_bnn-gen"))
            .arg("check")
            .arg(dir.join("net.toml"))
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let text = check(&[]);
    assert!(
        text.contains("fc0: 8 of 64 channels removed (channels 8, 9, 10, 11, 12, 13, 14, 15)"),
        "{text}"
    );
    assert!(check(&["--no-prune"]).contains("dead-channel removal: off (--no-prune)"));

    let frames = bnn_gen::synth::frames_for(&net, 40, 14);
    let want = GoldenModel::new(&net)
        .unwrap()
        .run_batch(frames.view())
        .unwrap();
    let mut pruned = net.clone();
    let removed = passes::prune::prune(&mut pruned).unwrap();
    assert_eq!(removed.removed(), 8, "{}", removed.summary());
    let report = verify::run(
        &pruned,
        &VerifyOptions {
            input: Some(frames),
            ..options("w2a2-pruned", 0.2)
        },
    )
    .unwrap();
    assert_pass_at_ideal(&report);
    for (f, got) in report.outputs.iter().enumerate() {
        let want: Vec<i64> = want
            .index_axis(ndarray::Axis(0), f)
            .iter()
            .copied()
            .collect();
        assert_eq!(got, &want, "frame {f}: pruned hardware vs unpruned golden");
    }
}

/// A weight ROM that the generator tiles (18432 words of 2 bits: two banks, 16384 × 1 twice and
/// 2048 × 9, behind `bnn_rom`'s 2:1 bank multiplexer): three-way with stalls, at the ideal.
/// (CNV's conv4, conv5, fc0 and fc1 are tiled too: `cnv_three_way_with_stalls`.)
#[test]
fn tiled_weight_rom_with_stalls() {
    use bnn_gen::datatype::DataType;
    use bnn_gen::synth::{self, ActSpec, DenseSpec, MlpSpec};
    let dense = |out_features, activation, pe, simd| DenseSpec {
        out_features,
        weight_dtype: DataType::Bipolar,
        activation,
        pe,
        simd,
    };
    let mut net = synth::mlp(
        &MlpSpec {
            name: "deep-rom".into(),
            in_features: 1024,
            input_dtype: DataType::Bipolar,
            layers: vec![
                dense(36, ActSpec::SIGN, 1, 2),
                dense(10, ActSpec::None, 2, 4),
            ],
            head: None,
        },
        0xDEE9,
    );
    passes::lower(&mut net).unwrap();
    let hw = passes::pad::pad(&net).unwrap();
    let tiling = hw.layers[0].mvtu().unwrap().weight_mem.tiling;
    assert_eq!(
        tiling.map(|t| (t.banks, t.tiles)),
        Some((2, 3)),
        "{tiling:?}"
    );
    let opts = VerifyOptions {
        frames: Some(8),
        ..options("deep-rom", 0.2)
    };
    assert_pass_at_ideal(&verify::run(&net, &opts).unwrap());
}

/// A trained example on its whole test set: three-way pass at the ideal, and the hardware's
/// prediction equals the float model's (`float_pred.npy`) on every image.
fn every_test_image(name: &str) -> VerifyReport {
    let net = example(name);
    let x = npy(name, "test_x.npy");
    let opts = VerifyOptions {
        input: Some(x),
        ..options(name, 0.2)
    };
    let report = verify::run(&net, &opts).unwrap();
    assert_pass_at_ideal(&report);
    assert_eq!(report.frames, 360);
    let float_pred = npy(name, "float_pred.npy");
    let labels = npy(name, "test_y.npy");
    assert_eq!(float_pred.len(), 360);
    for (i, (hw, want)) in report.outputs.iter().zip(float_pred.iter()).enumerate() {
        assert_eq!(
            hw[0], *want,
            "image {i}: the hardware's prediction differs from the float model"
        );
    }
    let correct = report
        .outputs
        .iter()
        .zip(labels.iter())
        .filter(|(p, l)| p[0] == **l)
        .count();
    eprintln!(
        "{name}: hardware accuracy {:.2} % ({correct}/360), identical to the float model on every image",
        100.0 * correct as f64 / 360.0
    );
    report
}

#[test]
fn digits_mlp_every_test_image() {
    assert_latency_estimate(&every_test_image("digits-mlp"));
}

#[test]
fn digits_cnn_every_test_image() {
    every_test_image("digits-cnn");
}

/// A BNN-PYNQ-sized example: from `examples/<name>` when `scripts/gen-examples` has written its
/// `.npy` files (`probe` is one of them), else generated into a temporary directory.
fn generated_example(name: &str, probe: &str) -> Network {
    let dir = root().join("examples").join(name);
    if dir.join(probe).is_file() {
        return load(&dir.join("net.toml"));
    }
    let tmp = tempfile::tempdir().unwrap();
    bnn_gen::synth::write_example(name, tmp.path()).unwrap();
    load(&tmp.path().join("net.toml"))
}

/// BNN-PYNQ's CNV-W1A1 topology and folding (uint8 32x32x3 input, random weights): three-way
/// with stalls on 20 frames (`BNN_CNV_FRAMES=N` for a longer run), at exactly the ideal
/// 32,768 cycles per frame (fc0 and fc1, 512 x 64, are the slowest layers).
#[test]
fn cnv_three_way_with_stalls() {
    let net = generated_example("cnv", "conv0_w.npy");
    let frames = std::env::var("BNN_CNV_FRAMES")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(20);
    let opts = VerifyOptions {
        frames: Some(frames),
        ..options("cnv", 0.2)
    };
    let report = verify::run(&net, &opts).unwrap();
    assert_pass_at_ideal(&report);
    assert_eq!(report.ideal_ii, 32768);
    assert_eq!(report.frames, frames);
}

#[test]
fn lfc_200_frames() {
    let net = generated_example("lfc", "fc0_w.npy");
    let opts = VerifyOptions {
        frames: Some(200),
        ..options("lfc", 0.2)
    };
    let report = verify::run(&net, &opts).unwrap();
    assert_pass_at_ideal(&report);
    // BNN-PYNQ's LFC-W1A1 folding: 512 cycles per frame.
    assert_eq!(report.ideal_ii, 512);
    assert_latency_estimate(&report);
}

#[test]
fn icarus_runs_tiny() {
    require("iverilog");
    let net = example("tiny");
    let opts = VerifyOptions {
        frames: Some(40),
        stall: 0.2,
        simulator: Simulator::Icarus,
        dir: Some(work_dir("tiny-icarus")),
        ..VerifyOptions::default()
    };
    let report = verify::run(&net, &opts).unwrap();
    assert_eq!(report.simulator, Simulator::Icarus);
    assert_pass_at_ideal(&report);
}

/// Inverts every weight bit of PE 0 of the last layer (classes 0 and 5 of tiny): the RTL now
/// computes the wrong scores, and verify must say which frame and word first differ.
#[test]
fn corrupted_rom_is_caught_and_named() {
    let net = example("tiny");
    let opts = VerifyOptions {
        frames: Some(60),
        ..options("tiny-corrupt", 0.1)
    };
    let frames = verify::input_frames(&net, &opts).unwrap();
    let bench = Bench::new(&net, &opts).unwrap();
    // Intact, it passes.
    assert!(bench.verify(frames.view(), &opts).unwrap().passed());

    let mem = bench.dir().join("mem/fc1_w000.mem");
    let text = fs::read_to_string(&mem).unwrap();
    let flipped: String = text
        .lines()
        .map(|l| {
            let width = 6; // SIMD 6 bipolar weights per word
            let v = u64::from_str_radix(l, 16).unwrap() ^ ((1 << width) - 1);
            format!("{v:0w$x}\n", w = l.len())
        })
        .collect();
    assert_ne!(flipped, text);
    fs::write(&mem, flipped).unwrap();

    let report = bench.verify(frames.view(), &opts).unwrap();
    eprintln!("{report}");
    let f = report.failure.clone().expect("the corrupted ROM is caught");
    assert_eq!(f.kind, FailureKind::WrongOutput);
    assert_eq!(f.model, Model::Rtl(Simulator::Verilator));
    let (frame, word) = (f.frame.expect("a frame"), f.word.expect("a word"));
    assert_eq!(word, 0, "tiny has one output word per frame");
    assert!(
        f.message
            .contains(&format!("frame {frame}, output word {word}")),
        "{}",
        f.message
    );
    // The cycle simulator reads the design's weights, not the file: it agrees with golden.
    assert!(f.message.contains("agrees with golden"), "{}", f.message);
    assert!(report.to_string().contains("FAIL"));
    // The first frame the corruption changes, found independently: the first frame whose golden
    // class is 0 or 5 or whose scores of classes 0/5 negated change the argmax.
    let golden = bnn_gen::golden::GoldenModel::new(&net).unwrap();
    let len = frames.shape()[1];
    let flat = frames.as_slice().unwrap();
    let first = (0..frames.shape()[0])
        .find(|&i| {
            let mut scores = golden
                .infer_trace(&flat[i * len..(i + 1) * len])
                .pop()
                .unwrap();
            let want = bnn_gen::golden::top_k(&scores, 1)[0];
            // PE 0 holds rows 0 and 5; inverting every weight bit negates those dot products.
            scores[0] = -scores[0];
            scores[5] = -scores[5];
            bnn_gen::golden::top_k(&scores, 1)[0] != want
        })
        .expect("the corruption changes some frame");
    assert_eq!(frame, first, "{}", f.message);
}

/// Random dense networks from `synth::random_mlp_spec`: one without a head whose last layer's
/// folding does not divide (raw accumulators out, don't-care padding slots in the last output
/// word) and one with a top-k head, k ≥ 2 (several index words per frame).
#[test]
fn random_networks_raw_output_and_top_k() {
    let limits = bnn_gen::synth::RandomLimits {
        max_layers: 3,
        max_features: 40,
        max_bits: 4,
        ..bnn_gen::synth::RandomLimits::default()
    };
    let spec = |seed: u64| bnn_gen::synth::random_mlp_spec(seed, &limits);
    let raw = (1..500u64)
        .find(|&s| {
            let sp = spec(s);
            let last = sp.layers.last().unwrap();
            sp.head.is_none() && last.out_features % last.pe != 0
        })
        .expect("a seed without a head and with a padded last layer");
    let topk = (1..500u64)
        .find(|&s| spec(s).head.is_some_and(|k| k >= 2))
        .expect("a seed with k >= 2");
    for (seed, name) in [(raw, "random-raw"), (topk, "random-topk")] {
        let mut net = bnn_gen::synth::mlp(&spec(seed), seed);
        net.name = format!("{name}-{seed}");
        passes::lower(&mut net).unwrap();
        let opts = VerifyOptions {
            frames: Some(60),
            ..options(name, 0.25)
        };
        let report = verify::run(&net, &opts).unwrap();
        assert_pass_at_ideal_or_port_bound(&report);
    }
}

/// As [`assert_pass_at_ideal`], for networks whose input or output port (words per frame) may be
/// slower than the slowest layer.
fn assert_pass_at_ideal_or_port_bound(report: &VerifyReport) {
    eprintln!("{report}");
    if let Some(f) = &report.failure {
        panic!("{}: verification failed: {f}", report.network);
    }
    let t = report.timing.as_ref().unwrap();
    let bound = report
        .ideal_ii
        .max(report.in_words_per_frame as u64)
        .max(report.out_words_per_frame as u64);
    assert_eq!(t.cycles_per_frame, Some(bound as f64), "{}", report.network);
}
