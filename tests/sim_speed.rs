//! Speed of the cycle simulator against Verilator -O3 on the same designs and the same input
//! words, in one run (`scripts/bench-sim` wraps the ignored test `bench_sim`).
//!
//! The designs are the four kinds of network the simulator must be fast on: LFC-W1A1 (XNOR
//! MLP), an LFC-shaped W2A2 MLP (multi-bit thresholds, bit-plane dot products), CNV-W1A1 (the
//! long conv pipeline: window generators, pools, width converters) and a W4A4 conv net (wide
//! MAC lanes). For each, the cycle simulator and the Verilated generated top run the same
//! frames back to back, `BENCH_SIM_REPS` times, so that both see the same machine load; the
//! runs must agree word for word and cycle for cycle (so a fast but wrong simulator cannot pass
//! for a fast one), and the cycle simulator's outputs must equal the golden model's. Verilator
//! build times are excluded from the speeds and printed apart.
//!
//! The figures go to stderr as `bench-sim:` lines (see `scripts/bench-sim` for the table); no
//! speed is asserted (the machine's load decides it).

mod common;

use bnn_gen::codegen;
use bnn_gen::cyclesim::{CycleSim, RunConfig, Stalls, Words};
use bnn_gen::datatype::DataType;
use bnn_gen::golden::GoldenModel;
use bnn_gen::ir::{Network, Shape};
use bnn_gen::passes;
use bnn_gen::synth::{self, ActSpec, ConvSpec, DenseSpec, LayerSpec, NetSpec, PoolSpec};
use common::*;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::time::Instant;

fn lowered(mut net: Network) -> Network {
    passes::lower(&mut net).expect("lowering");
    net
}

fn dense(out: usize, w: DataType, act: ActSpec, pe: usize, simd: usize) -> LayerSpec {
    LayerSpec::Dense(DenseSpec {
        out_features: out,
        weight_dtype: w,
        activation: act,
        pe,
        simd,
    })
}

fn conv(out: usize, w: DataType, act: ActSpec, pe: usize, simd: usize) -> LayerSpec {
    LayerSpec::Conv(ConvSpec {
        out_channels: out,
        kernel: [3, 3],
        stride: [1, 1],
        padding: [0, 0],
        pad_value: None,
        weight_dtype: w,
        activation: act,
        pe,
        simd,
    })
}

/// LFC's topology and folding with 2-bit signed weights and 2-bit unsigned activations (the
/// "LFC with 2-bit activations" of issue 13) on a 2-bit input.
fn mlp_w2a2() -> Network {
    let (w, a) = (DataType::Int(2), DataType::UInt(2));
    let act = || ActSpec::thresholds(a);
    synth::network(
        &NetSpec {
            name: "mlp_w2a2".into(),
            input_shape: Shape::Flat(784),
            input_dtype: a,
            layers: vec![
                dense(1024, w, act(), 32, 64),
                dense(1024, w, act(), 64, 32),
                dense(1024, w, act(), 32, 64),
                dense(10, w, ActSpec::None, 10, 8),
            ],
            head: Some(1),
        },
        0x2A2,
    )
}

/// A CNV-like W4A4 conv net on a 16×16×3 uint8 image: 16 →conv 14 →conv 12 →pool 6 →conv 4
/// →conv 2, dense 64, dense 10; 4-bit signed weights, 4-bit unsigned activations (15
/// thresholds per channel), folded so that conv1 (10,368 cycles per frame) is the bottleneck.
fn cnn_w4a4() -> Network {
    let (w, a) = (DataType::Int(4), DataType::UInt(4));
    let act = || ActSpec::thresholds(a);
    synth::network(
        &NetSpec {
            name: "cnn_w4a4".into(),
            input_shape: Shape::Image { h: 16, w: 16, c: 3 },
            input_dtype: DataType::UInt(8),
            layers: vec![
                conv(32, w, act(), 8, 3),
                conv(32, w, act(), 8, 16),
                LayerSpec::MaxPool(PoolSpec {
                    kernel: [2, 2],
                    stride: [2, 2],
                }),
                conv(64, w, act(), 8, 16),
                conv(64, w, act(), 4, 32),
                dense(64, w, act(), 4, 32),
                dense(10, w, ActSpec::None, 2, 16),
            ],
            head: Some(1),
        },
        0x4A4,
    )
}

/// (name, network, default frames). The frame counts give each design about 1 M cycles.
fn designs() -> Vec<(&'static str, fn() -> Network, usize)> {
    vec![
        ("lfc-w1a1", || synth::example("lfc").unwrap().0, 2000),
        ("mlp-w2a2", mlp_w2a2, 2000),
        ("cnv-w1a1", || synth::example("cnv").unwrap().0, 40),
        ("cnn-w4a4", cnn_w4a4, 100),
    ]
}

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Builds the generated top with Verilator -O3 (the flags of `verify`'s speed runs) into
/// `dir/obj`, unless a build of the same sources is there already. Returns the executable and
/// the build time (`None` when reused).
fn verilate(
    design: &codegen::Design,
    dir: &Path,
    ib: usize,
    ob: usize,
) -> (std::path::PathBuf, Option<f64>) {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for f in &design.files {
        f.path.hash(&mut h);
        f.contents.hash(&mut h);
    }
    std::fs::read(root().join("sim").join("axis_tb.cpp"))
        .unwrap()
        .hash(&mut h);
    let stamp = format!("{:016x}", h.finish());
    let obj = dir.join("obj");
    let exe = obj.join("Vtop");
    let stamp_file = dir.join("stamp");
    if exe.exists() && std::fs::read_to_string(&stamp_file).ok().as_deref() == Some(&stamp) {
        return (exe, None);
    }
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    codegen::write(design, dir, codegen::BuildOptions::default()).unwrap();
    let srcs: Vec<String> = design
        .files
        .iter()
        .filter(|f| f.path.starts_with("rtl/") && f.path.ends_with(".v"))
        .map(|f| dir.join(&f.path).to_string_lossy().into_owned())
        .collect();
    let mut cmd = std::process::Command::new("verilator");
    cmd.args([
        "--cc",
        "--exe",
        "--build",
        "-O3",
        "--prefix",
        "Vtop",
        "-j",
        "2",
        "--top-module",
        &design.top,
    ])
    .arg("-Mdir")
    .arg(&obj)
    .args(["-MAKEFLAGS", "OPT_FAST=-O2 OPT_SLOW=-O1 OPT_GLOBAL=-O2"])
    .args(["-CFLAGS", &format!("-DIN_BITS={ib}")])
    .args(["-CFLAGS", &format!("-DOUT_BITS={ob}")])
    .args(&srcs)
    .arg(root().join("sim").join("axis_tb.cpp"));
    let t = Instant::now();
    let (status, log) = run_cmd(&mut cmd).unwrap();
    assert!(status.success(), "{}", tail(&log, 40));
    let dt = t.elapsed().as_secs_f64();
    std::fs::write(&stamp_file, stamp).unwrap();
    (exe, Some(dt))
}

/// One design: golden check, then `reps` back-to-back timed runs of the cycle simulator and of
/// Verilator, each pair compared word for word and cycle for cycle.
fn bench_one(name: &str, net: Network, frames: usize, reps: usize, stall: f64, verilator: bool) {
    let net = lowered(net);
    let design = codegen::generate(&net).unwrap();
    let mut sim = CycleSim::new(&design.hw).unwrap();
    let batch = synth::frames_for(&net, frames, 3);
    let len = net.input.shape.len();
    let data = batch.as_slice().unwrap();
    let (ib, ob) = (
        sim.input_format().tdata_bits,
        sim.output_format().tdata_bits,
    );
    let mut words = Words::new(ib);
    for f in 0..frames {
        sim.pack_frame_into(&data[f * len..(f + 1) * len], &mut words)
            .unwrap();
    }
    let wo = sim.output_format().words_per_frame;
    let expect = frames * wo;
    let st = Stalls::both(stall, 7);
    let cfg = RunConfig {
        stalls: st,
        timeout: sim.default_timeout(frames, &st),
        extra: 0,
    };

    // the cycle simulator's outputs are the golden model's
    let golden = GoldenModel::new(&net).unwrap();
    let first = sim.run_words(&words, expect, &cfg);
    assert!(!first.timed_out, "{name}: the cycle simulator timed out");
    for f in 0..frames.min(100) {
        assert_eq!(
            sim.unpack_frame(&first.outputs, f * wo),
            golden.infer(&data[f * len..(f + 1) * len]),
            "{name}: frame {f}, cycle simulator against the golden model"
        );
    }
    let cycles = first.cycles;

    let exe = if verilator {
        require("verilator");
        let dir = target_dir().join("bench-sim").join(name);
        let (exe, build) = verilate(&design, &dir, ib, ob);
        match build {
            Some(s) => eprintln!("bench-sim: {name} verilator-build {s:.1} s"),
            None => eprintln!("bench-sim: {name} verilator-build cached"),
        }
        Some((exe, dir))
    } else {
        None
    };

    for rep in 0..reps {
        let t = Instant::now();
        let run = sim.run_words(&words, expect, &cfg);
        let dt_c = t.elapsed().as_secs_f64();
        assert_eq!(
            run, first,
            "{name}: the cycle simulator is not deterministic"
        );
        let Some((exe, dir)) = &exe else {
            eprintln!(
                "bench-sim: {name} rep {rep} frames {frames} cycles {cycles} cyclesim {dt_c:.4} s {:.3} Mc/s",
                cycles as f64 / dt_c / 1e6
            );
            continue;
        };
        let t = Instant::now();
        let tb = run_tb(exe, dir, dir, "bench", &words, expect, &cfg).unwrap();
        let dt_v = t.elapsed().as_secs_f64();
        // cycle-exact: same words at the same cycles, same input cycles, same length
        assert_eq!(
            tb.code,
            expected_code(&run),
            "{name}: harness exit code\n{}",
            tail(&tb.log, 10)
        );
        let mine = run.out_lines();
        if let Some(i) =
            (0..mine.len().max(tb.out_lines.len())).find(|&i| mine.get(i) != tb.out_lines.get(i))
        {
            panic!(
                "{name}: output word {i}: Verilator {:?}, cycle simulator {:?}",
                tb.out_lines.get(i),
                mine.get(i)
            );
        }
        assert_eq!(
            tb.in_cycles, run.in_cycles,
            "{name}: input handshake cycles"
        );
        assert_eq!(tb.cycles, run.cycles, "{name}: cycles");
        eprintln!(
            "bench-sim: {name} rep {rep} frames {frames} cycles {cycles} cyclesim {dt_c:.4} s {:.3} Mc/s verilator {dt_v:.4} s {:.3} Mc/s ratio {:.1}",
            cycles as f64 / dt_c / 1e6,
            cycles as f64 / dt_v / 1e6,
            dt_v / dt_c
        );
    }
}

/// `BENCH_SIM_DESIGNS` (comma-separated names, default all), `BENCH_SIM_FRAMES` (scales every
/// design's default frame count: a factor), `BENCH_SIM_REPS` (default 3), `BENCH_SIM_STALL`
/// (default 0), `BENCH_SIM_VERILATOR=0` to time the cycle simulator alone.
#[test]
#[ignore]
fn bench_sim() {
    let only = std::env::var("BENCH_SIM_DESIGNS").unwrap_or_default();
    let scale: f64 = env_or("BENCH_SIM_FRAMES", 1.0);
    let reps: usize = env_or("BENCH_SIM_REPS", 3);
    let stall: f64 = env_or("BENCH_SIM_STALL", 0.0);
    let verilator = std::env::var("BENCH_SIM_VERILATOR").map_or(true, |v| v != "0");
    for (name, make, frames) in designs() {
        if !only.is_empty() && !only.split(',').any(|n| n == name) {
            continue;
        }
        let frames = ((frames as f64 * scale).round() as usize).max(2);
        bench_one(name, make(), frames, reps, stall, verilator);
    }
}
