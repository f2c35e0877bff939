//! `bnn-gen fold` and `bnn-gen explore` (issue 12): every folding `fold` chooses is valid, meets
//! its target, and runs in the cycle simulator at exactly the cycles per frame it predicts; the
//! folded net.toml loads and checks; bad requests give clear errors; explore's files are
//! well-formed; bnn-gen is never more expensive than the SetFolding baseline by the same model.
//! `--size-fifos`: the sized depths keep the cycles per frame, one word less does not, and the
//! sized design verifies cycle-exactly in Verilator.

mod common;

use bnn_gen::cyclesim::{CycleSim, Stalls};
use bnn_gen::fold::fifos::{self, BufferKind, BufferSize, Sizing, SizingOptions};
use bnn_gen::fold::{self, Device, Problem, Request, Target};
use bnn_gen::ir::Network;
use bnn_gen::ir::Op;
use bnn_gen::{frontend, passes, synth};
use proptest::prelude::*;
use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn lowered(mut net: Network) -> Network {
    passes::lower(&mut net).expect("lowers");
    net
}

/// An example: from examples/NAME/net.toml when its arrays are there, else built in memory.
fn example(name: &str) -> Network {
    let path = root().join("examples").join(name).join("net.toml");
    match frontend::load(&path) {
        Ok(net) => lowered(net),
        Err(_) => lowered(synth::example(name).expect("a known example").0),
    }
}

fn xc7() -> Device {
    Device::by_name("xc7z020").unwrap()
}

/// The fewest and the most cycles per frame any folding of `net` has.
fn extremes(net: &Network) -> (usize, usize) {
    let problem = Problem::new(net).unwrap();
    let s = fold::search::Searcher::new(&problem, xc7());
    let fast = problem.evaluate(&s.unfolded()).unwrap().cycles;
    let slow = problem.evaluate(&problem.folded()).unwrap().cycles;
    (fast, slow)
}

/// What `build` makes of `net` (lowered, not pruned) with `design`'s folding: the folding set
/// on every layer, then the dead-channel removal (`build`'s default), then `pad`. It must be the
/// network the design priced.
fn as_built(name: &str, net: &Network, design: &fold::Design) -> Network {
    let mut built = net.clone();
    fold::apply(&mut built, &design.folds);
    passes::prune::prune(&mut built).unwrap();
    assert_eq!(
        built, design.net,
        "{name}: build prunes the folded net to another network than the one fold priced"
    );
    built
}

/// Folds `net` for `target` and checks the design: it meets the target, the network `build`
/// makes of it (pruned at the chosen folding) is the one priced and `pad` builds it with the
/// predicted ideal cycles and per-layer cycles, and (with `frames`) the cycle simulator runs it
/// at exactly that many cycles per frame.
fn check_fold(name: &str, net: &Network, target: usize, frames: usize) -> fold::Design {
    let req = Request {
        target: Some(Target::Cycles(target as u64)),
        ..Request::default()
    };
    let design = fold::fold(net, &req).unwrap_or_else(|e| panic!("{name} @ {target}: {e}"));
    assert!(
        design.cost.cycles <= target,
        "{name}: {} cycles for a target of {target}",
        design.cost.cycles
    );
    let folded = as_built(name, net, &design);
    let hw = passes::pad::pad(&folded).unwrap_or_else(|e| panic!("{name} @ {target}: {e}"));
    assert_eq!(hw.ideal_ii(), design.cost.cycles, "{name} @ {target}");
    for (l, c) in hw.layers.iter().zip(&design.cost.layers) {
        assert_eq!(l.cycles(), c.cycles, "{name} @ {target}: {}", l.name);
    }
    if frames > 0 {
        let mut sim = CycleSim::new(&hw).unwrap();
        let batch = synth::frames_for(&folded, frames, 5);
        let run = sim.run_frames(batch.view(), Stalls::NONE, None).unwrap();
        let cpf = run.cycles_per_frame.expect("several frames");
        assert_eq!(
            cpf, design.cost.cycles as f64,
            "{name} @ {target}: simulated {cpf} cycles/frame, predicted {}",
            design.cost.cycles
        );
        eprintln!(
            "{name}: target {target}: {} cycles/frame predicted and simulated, est. {} LUT, {} BRAM18",
            design.cost.cycles, design.cost.totals.luts, design.cost.totals.bram18
        );
    }
    design
}

/// Three targets spread between the extremes, geometrically, capped at `max` cycles (the cycle
/// simulator's time grows with the cycles).
fn targets(net: &Network, max: usize) -> Vec<usize> {
    let (fast, slow) = extremes(net);
    let slow = slow.min(max.max(fast));
    let mut t: Vec<usize> = [0.0, 0.5, 1.0]
        .iter()
        .map(|k| (fast as f64 * (slow as f64 / fast as f64).powf(*k)) as usize)
        .map(|t| t.max(fast))
        .collect();
    t.dedup();
    t
}

#[test]
fn fold_examples_run_at_their_predicted_cycles() {
    for name in ["tiny", "w2a2", "digits-mlp", "cnv-small", "digits-cnn"] {
        let net = example(name);
        for t in targets(&net, 20_000) {
            check_fold(name, &net, t, 4);
        }
    }
}

/// LFC and CNV: folded for several targets and built by `pad` with the predicted cycles; one
/// target each through the cycle simulator (CNV's frames are slow to simulate).
#[test]
fn fold_lfc_and_cnv() {
    let lfc = example("lfc");
    for t in [16_384, 50_000, 131_072] {
        check_fold("lfc", &lfc, t, 0);
    }
    check_fold("lfc", &lfc, 4_000, 3);
    let cnv = example("cnv");
    for t in [451_584, 2_000_000] {
        check_fold("cnv", &cnv, t, 0);
    }
    check_fold("cnv", &cnv, 60_000, 3);
}

/// bnn-gen's design is never more expensive than SetFolding's by the same cost model, and it
/// meets targets SetFolding's divisors overshoot.
#[test]
fn never_worse_than_setfolding() {
    for (name, targets) in [
        ("lfc", vec![16_384usize, 25_000, 100_000, 400_000]),
        ("cnv", vec![451_584usize, 1_000_000, 5_000_000]),
        ("cnv-small", vec![]),
    ] {
        let net = example(name);
        let targets = match targets.is_empty() {
            true => self::targets(&net, usize::MAX),
            false => targets,
        };
        for t in targets {
            let c = fold::compare(&net, t, xc7(), true).unwrap();
            let (_, ours) = c.bnn_gen.expect("feasible");
            let (_, base) = c.baseline.expect("a baseline");
            assert!(ours.cycles <= t);
            if base.cycles <= t {
                assert!(
                    ours.area(&xc7()) <= base.area(&xc7()) + 1e-9,
                    "{name} @ {t}: bnn-gen {:?} vs SetFolding {:?}",
                    ours.totals,
                    base.totals
                );
            }
        }
    }
}

/// The MobileNet-style net of `tests/models/mobilenet-digits` (a conv, two depthwise-separable
/// blocks, a global average pool, a dense classifier), imported as `build NET.onnx` takes it
/// (its folding balanced by the auto-folding, `frontend::onnx::balance`).
fn mobilenet() -> Network {
    let path = root().join("tests/models/mobilenet-digits/clean.onnx");
    let (net, _io) = frontend::onnx::import(&path).expect("the MobileNet-style model imports");
    lowered(net)
}

/// `scripts/bench-qor`'s hand folding of the MobileNet-style net (MOBILENET_FOLDING; conv0 and
/// dw0 keep the importer's PE 16): every layer at most conv0's 576 cycles per frame.
const MOBILENET_FOLDING: [(&str, usize, usize); 6] = [
    ("conv1", 4, 16),
    ("dw1", 8, 1),
    ("conv2", 4, 8),
    ("dw2", 8, 1),
    ("conv3", 6, 8),
    ("fc0", 1, 2),
];

/// The importer's per-layer rule before balancing (docs/import.md): PE the largest divisor of
/// the outputs up to 16, SIMD the largest of the fan-in (a conv's input channels) up to 32, SIMD
/// 1 on depthwise layers.
fn unbalanced(net: &Network) -> Network {
    let largest = |n: usize, cap: usize| {
        (1..=cap.min(n))
            .rev()
            .find(|d| n.is_multiple_of(*d))
            .unwrap()
    };
    let mut out = net.clone();
    for layer in &mut out.layers {
        let (depthwise, channels) = (
            matches!(layer.op, Op::Depthwise(_)),
            layer.input.shape.channels(),
        );
        let Some(mv) = layer.op.matvec_mut() else {
            continue;
        };
        mv.folding.pe = largest(mv.rows(), 16);
        mv.folding.simd = match mv.conv {
            _ if depthwise => 1,
            Some(_) => largest(channels, 32),
            None => largest(mv.cols(), 32),
        };
    }
    out
}

/// `fold` handles depthwise (VVAU) and global-pool layers: on the MobileNet-style net for 576
/// cycles per frame (the fastest conv0 and dw0 allow), the design costs no more by the model
/// than the hand folding, is the network `build` makes, and runs in the cycle simulator at
/// exactly its predicted cycles per frame; it is far cheaper than the importer's per-layer rule,
/// and the importer now writes it (it balances its default with the same search).
#[test]
fn fold_mobilenet_for_576_cycles() {
    let net = mobilenet();
    let (fast, _) = extremes(&net);
    assert_eq!(
        fast, 576,
        "conv0 and dw0 at PE 16: 64 pixels x 9 kernel positions"
    );
    let design = check_fold("mobilenet", &net, 576, 4);
    assert_eq!(design.cost.cycles, 576);
    let mut hand = net.clone();
    for layer in &mut hand.layers {
        if let Some(&(_, pe, simd)) = MOBILENET_FOLDING.iter().find(|(n, ..)| *n == layer.name) {
            let mv = layer.op.matvec_mut().expect("a folded layer");
            (mv.folding.pe, mv.folding.simd) = (pe, simd);
        }
    }
    let hand = fold::keep(&hand, true).unwrap();
    let default = fold::keep(&unbalanced(&net), true).unwrap();
    let imported = fold::keep(&net, true).unwrap();
    assert_eq!(
        imported.cost, design.cost,
        "the importer balances to fold's design"
    );
    assert_eq!(hand.cost.cycles, 576);
    assert_eq!(default.cost.cycles, 576);
    eprintln!(
        "mobilenet @ 576: fold {} LUT6 {} RAMB18 (area {:.4}), hand {} / {} ({:.4}), importer's \
         per-layer rule {} / {} ({:.4})",
        design.cost.totals.luts,
        design.cost.totals.bram18,
        design.cost.area(&xc7()),
        hand.cost.totals.luts,
        hand.cost.totals.bram18,
        hand.cost.area(&xc7()),
        default.cost.totals.luts,
        default.cost.totals.bram18,
        default.cost.area(&xc7()),
    );
    assert!(
        design.cost.area(&xc7()) <= hand.cost.area(&xc7()) + 1e-9,
        "fold {:?} vs hand {:?}",
        design.cost.totals,
        hand.cost.totals
    );
    assert!(design.cost.totals.luts * 2 < default.cost.totals.luts);
    // Slower targets fold the depthwise layers too (PE below 16), still at the predicted cycles.
    for t in [2_000, 10_000] {
        let d = check_fold("mobilenet", &net, t, 2);
        assert!(d.cost.totals.luts < design.cost.totals.luts);
    }
}

fn bnn_gen() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bnn-gen"))
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().expect("bnn-gen runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The CLI writes a folded net.toml in another directory that loads (the .npy paths
/// rewritten), carries the folding and its reasons, and checks.
#[test]
fn cli_writes_a_folded_net_toml() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sub/net-fast.toml");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let src = root().join("examples/digits-cnn/net.toml");
    let (code, stdout, stderr) = run(bnn_gen()
        .arg("fold")
        .arg(&src)
        .args(["--device", "xc7z020", "-o"])
        .arg(&out));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("<- bottleneck"), "{stdout}");
    assert!(stdout.contains("% of xc7z020"), "{stdout}");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("# bnn-gen fold: PE "), "{text}");
    assert!(text.contains("../"), "npy paths rebased: {text}");
    let net = lowered(frontend::load(&out).expect("the folded net.toml loads"));
    let orig = example("digits-cnn");
    let (fast, _) = extremes(&orig);
    let ii = passes::pad::pad(&net).unwrap().ideal_ii();
    assert!(ii >= fast);
    let (code, check, stderr) = run(bnn_gen().arg("check").arg(&out));
    assert_eq!(code, 0, "{stderr}");
    assert!(check.contains(&ii.to_string()), "{check}");
    // the fastest design that fits: nothing faster fits by the same model
    let (code, _, stderr) = run(bnn_gen()
        .arg("fold")
        .arg(&src)
        .args([
            "--target-cycles",
            &(ii.saturating_sub(1)).max(1).to_string(),
        ])
        .args(["--device", "xc7z020"]));
    if ii > fast {
        assert_eq!(code, 1, "a faster design should not fit: {stderr}");
    }
}

/// `fold --estimate` prices the net's own folding as `build` does: the same whole-design LUTs
/// (MVTUs, window generators, pools, links, head) as `report.json`'s totals of the build (both
/// after the dead-channel removal), and no less block RAM (the model counts every ROM bit, the
/// build only varying ones).
#[test]
fn estimate_equals_the_build_report() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["digits-cnn", "digits-mlp", "cnv-small"] {
        let src = root().join(format!("examples/{name}/net.toml"));
        let (code, stdout, stderr) = run(bnn_gen().arg("fold").arg(&src).arg("--estimate"));
        assert_eq!(code, 0, "{name}: {stderr}");
        assert!(stdout.contains("\nlinks "), "{name}: {stdout}");
        let summary = stdout.lines().last().unwrap();
        let word_before = |unit: &str| -> u64 {
            let w: Vec<&str> = summary.split_whitespace().collect();
            let i = w.iter().position(|x| *x == unit).unwrap();
            w[i - 1].parse().unwrap()
        };
        let (luts, bram) = (word_before("LUT6"), word_before("RAMB18"));
        let out = dir.path().join(name);
        let (code, _, stderr) = run(bnn_gen().arg("build").arg(&src).arg("-o").arg(&out));
        assert_eq!(code, 0, "{name}: {stderr}");
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap())
                .unwrap();
        let totals = &report["totals"];
        assert_eq!(
            Some(luts),
            totals["estimated_luts"].as_u64(),
            "{name}: {summary}"
        );
        assert!(
            bram >= totals["estimated_bram18"].as_u64().unwrap(),
            "{name}: {summary}"
        );
        let links: u64 = report["links"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["estimated_luts"].as_u64().unwrap())
            .sum();
        assert!(
            links > 0,
            "{name}: every example has a FIFO or a width converter"
        );
    }
}

/// The whole-design estimate in `fold`'s summary line: (LUT6, RAMB18).
fn summary_estimate(stdout: &str) -> (u64, u64) {
    let summary = stdout.lines().last().unwrap();
    let w: Vec<&str> = summary.split_whitespace().collect();
    let before = |unit: &str| -> u64 {
        let i = w.iter().position(|x| *x == unit).unwrap();
        w[i - 1].parse().unwrap()
    };
    (before("LUT6"), before("RAMB18"))
}

/// `build -o out` (with `extra` arguments): its report.json.
fn build_report(net: &std::path::Path, out: &std::path::Path, extra: &[&str]) -> serde_json::Value {
    let (code, _, stderr) = run(bnn_gen()
        .arg("build")
        .arg(net)
        .args(extra)
        .arg("-o")
        .arg(out));
    assert_eq!(code, 0, "{}: {stderr}", net.display());
    serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap()
}

/// A copy of digits-mlp with `dead` of fc0's channels made constant (batch-norm γ = 0: the sign
/// of β whatever the input), as L1-norm filter pruning leaves them. (fc1's would stay: fc2 has
/// no activation to absorb their contribution.)
fn digits_mlp_with_dead_channels(dir: &std::path::Path, dead: usize) -> PathBuf {
    let src = root().join("examples/digits-mlp");
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
    }
    for layer in ["fc0"] {
        let path = dir.join(format!("{layer}_gamma.npy"));
        let mut g: ndarray::Array1<f32> = ndarray_npy::read_npy(&path).unwrap();
        // every third channel from 1 on: spread over the PE lanes
        for c in (1..g.len()).step_by(3).take(dead) {
            g[c] = 0.0;
        }
        ndarray_npy::write_npy(&path, &g).unwrap();
    }
    dir.join("net.toml")
}

/// On a net with dead channels the estimate is of the design `build` makes (after the
/// dead-channel removal, at the folding it is given): `fold --estimate` equals `build`'s
/// report.json on every layer's LUTs and in total (and `--no-prune` equals `build --no-prune`);
/// and a design `fold` chooses and writes builds with the cycles, per-layer LUTs and total LUTs
/// `fold` predicted, and no more block RAM.
#[test]
fn estimate_equals_the_build_report_after_pruning() {
    let dir = tempfile::tempdir().unwrap();
    let net = digits_mlp_with_dead_channels(dir.path(), 70);
    let per_layer = |report: &serde_json::Value| -> Vec<u64> {
        report["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                ["mvtu", "window", "pool", "global_pool"]
                    .iter()
                    .filter_map(|b| l[*b]["estimated_luts"].as_u64())
                    .sum()
            })
            .collect()
    };
    for prune in [true, false] {
        let flag: &[&str] = if prune { &[] } else { &["--no-prune"] };
        let (code, stdout, stderr) =
            run(bnn_gen().arg("fold").arg(&net).arg("--estimate").args(flag));
        assert_eq!(code, 0, "{stderr}");
        let (luts, bram) = summary_estimate(&stdout);
        let report = build_report(&net, &dir.path().join(format!("own-{prune}")), flag);
        let totals = &report["totals"];
        assert_eq!(
            Some(luts),
            totals["estimated_luts"].as_u64(),
            "prune {prune}: {stdout}"
        );
        assert!(
            bram >= totals["estimated_bram18"].as_u64().unwrap(),
            "{stdout}"
        );
        // At the net's own folding (fc0 PE 16, fc1 SIMD 64) build removes 64 of the 70.
        assert_eq!(
            stdout.contains("channel(s) removed (fc0 64 of 256)"),
            prune,
            "{stdout}"
        );
    }
    // A chosen design: 70 channels go at its folding, and build agrees with fold.
    let folded = dir.path().join("net-folded.toml");
    let (code, stdout, stderr) = run(bnn_gen()
        .arg("fold")
        .arg(&net)
        .args(["--target-cycles", "40", "-o"])
        .arg(&folded));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("channel(s) removed (fc0 70 of 256)"),
        "{stdout}"
    );
    let (luts, bram) = summary_estimate(&stdout);
    let report = build_report(&folded, &dir.path().join("folded"), &[]);
    assert_eq!(
        Some(luts),
        report["totals"]["estimated_luts"].as_u64(),
        "{stdout}"
    );
    assert!(bram >= report["totals"]["estimated_bram18"].as_u64().unwrap());
    let cycles: Vec<u64> = stdout
        .lines()
        .filter(|l| l.starts_with("fc"))
        .map(|l| l.split_whitespace().nth(5).unwrap().parse().unwrap())
        .collect();
    let lut_rows: Vec<u64> = stdout
        .lines()
        .filter(|l| l.starts_with("fc"))
        .map(|l| l.split_whitespace().nth(6).unwrap().parse().unwrap())
        .collect();
    let built: Vec<u64> = report["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["cycles_per_frame"].as_u64().unwrap())
        .collect();
    assert_eq!(cycles, built, "{stdout}");
    assert_eq!(lut_rows, per_layer(&report), "{stdout}");
}

/// Infeasible targets and bad options: exit status 1 (or clap's 2), `error: `, and what to do.
#[test]
fn clear_errors() {
    let small = root().join("examples/cnv-small/net.toml");
    let cases: Vec<(Vec<&str>, i32, Vec<&str>)> = vec![
        (
            vec!["--target-cycles", "1"],
            1,
            vec!["fully unfolded", "help: ask for --target-cycles"],
        ),
        (
            vec!["--target-fps", "1e7", "--clock-mhz", "100"],
            1,
            vec!["fully unfolded", "frames/s at 100 MHz", "help:"],
        ),
        (
            vec!["--target-fps", "1e9", "--clock-mhz", "100"],
            1,
            vec!["less than one cycle per frame", "help:"],
        ),
        (
            vec!["--target-fps", "0", "--clock-mhz", "100"],
            1,
            vec!["--target-fps", "positive"],
        ),
        (
            vec!["--target-cycles", "0"],
            1,
            vec!["--target-cycles", "positive"],
        ),
        (
            vec!["--device", "xc7z020", "--max-util", "150"],
            1,
            vec!["--max-util", "(0, 100]"],
        ),
        (vec!["--target-fps", "100"], 2, vec!["--clock-mhz"]),
        (vec![], 2, vec!["--target-fps", "--device"]),
        (vec!["--device", "virtex"], 2, vec!["xc7z020"]),
        (
            vec![
                "--target-cycles",
                "10",
                "--target-fps",
                "5",
                "--clock-mhz",
                "1",
            ],
            2,
            vec!["cannot be used with"],
        ),
    ];
    for (args, want, needles) in cases {
        let (code, _, stderr) = run(bnn_gen().arg("fold").arg(&small).args(&args));
        assert_eq!(code, want, "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        for n in needles {
            assert!(stderr.contains(n), "{args:?}: {n:?} not in {stderr}");
        }
    }
    // A device too small even fully folded (CNV on the iCE40).
    let cnv = example("cnv");
    let err = fold::fold(
        &cnv,
        &Request {
            device: Device::by_name("ice40-up5k"),
            ..Request::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("does not fit ice40-up5k"), "{err}");
    assert!(err.contains("even fully folded"), "{err}");
    assert!(err.contains("\nhelp: choose a larger device"), "{err}");
    // A target the device cannot hold, and the fastest design that fits it.
    let small = example("cnv-small");
    let (fast, _) = extremes(&small);
    let err = fold::fold(
        &small,
        &Request {
            target: Some(Target::Cycles(fast as u64)),
            device: Device::by_name("ice40-up5k"),
            ..Request::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("more than 80 % of ice40-up5k"), "{err}");
    assert!(
        err.contains("help: the fastest design that fits needs"),
        "{err}"
    );
}

/// `explore` writes a consistent CSV, JSON and SVG, and a net.toml per point that loads.
#[test]
fn explore_writes_well_formed_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x");
    let (code, _, stderr) = run(bnn_gen()
        .arg("explore")
        .arg(root().join("examples/cnv-small/net.toml"))
        .args(["--targets", "12", "-o"])
        .arg(&out));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "no progress bar off a terminal: {stderr}"
    );
    let csv = std::fs::read_to_string(out.join("pareto.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[..3], ["point", "cycles_per_frame", "fps"]);
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(rows.len() >= 2, "{csv}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("pareto.json")).unwrap()).unwrap();
    let points = json["points"].as_array().unwrap();
    assert_eq!(points.len(), rows.len());
    let mut last = 0;
    for (row, p) in rows.iter().zip(points) {
        assert_eq!(row.len(), header.len(), "{row:?}");
        let cycles: u64 = row[1].parse().unwrap();
        assert_eq!(p["cycles_per_frame"].as_u64(), Some(cycles));
        assert_eq!(p["est_luts"].as_u64(), Some(row[3].parse().unwrap()));
        assert!(cycles > last, "sorted by cycles, no duplicates");
        last = cycles;
        // As `build` makes it: after the dead-channel removal (cnv-small has constant channels).
        let toml = out.join(p["net_toml"].as_str().unwrap());
        let mut net = lowered(frontend::load(&toml).unwrap());
        passes::prune::prune(&mut net).unwrap();
        let hw = passes::pad::pad(&net).unwrap();
        assert_eq!(hw.ideal_ii() as u64, cycles, "{}", toml.display());
        let est: u64 = p["est_luts"].as_u64().unwrap();
        let modules: Vec<String> = hw.layers.iter().map(|l| l.name.clone()).collect();
        let report = bnn_gen::codegen::report::build_report(&hw, "top", &modules);
        assert_eq!(report.totals.estimated_luts, est, "{}", toml.display());
    }
    // Pareto: faster points cost more LUT or more BRAM.
    for w in points.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        assert!(
            a["est_luts"].as_u64() > b["est_luts"].as_u64()
                || a["est_bram18"].as_u64() > b["est_bram18"].as_u64()
        );
    }
    let svg = std::fs::read_to_string(out.join("pareto.svg")).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(100)]);
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("device limit"));
    assert_eq!(svg.matches("<svg").count(), 1);
}

/// The published BNN-PYNQ point appears in LFC's plot.
#[test]
fn explore_marks_bnn_pynq_on_lfc() {
    let lfc = example("lfc");
    let opts = fold::explore::Options {
        clock_mhz: 100.0,
        device: xc7(),
        targets: 6,
        prune: true,
    };
    let points = fold::explore::explore(&lfc, &opts, &|_, _| {}).unwrap();
    assert!(points.len() >= 3);
    let dir = tempfile::tempdir().unwrap();
    fold::explore::write(dir.path(), &lfc, &points, &opts, None).unwrap();
    let svg = std::fs::read_to_string(dir.path().join("pareto.svg")).unwrap();
    assert!(svg.contains("BNN-PYNQ LFC-W1A1"));
}

fn random_net(seed: u64) -> Option<Network> {
    let limits = synth::RandomLimits::default();
    let net = if seed.is_multiple_of(2) {
        synth::mlp(&synth::random_mlp_spec(seed, &limits), seed)
    } else {
        synth::cnn(&synth::random_cnn_spec(seed, &limits), seed)
    };
    let net = lowered(net);
    Problem::new(&net).ok()?;
    Some(net)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// On random nets and targets, every folding fold emits is valid (pad builds it), meets
    /// its target with the cycles it predicts, and is not more expensive than SetFolding's.
    #[test]
    fn random_nets_fold_validly(seed in 0u64..10_000, where_ in 0.0f64..1.0) {
        let Some(net) = random_net(seed) else { return Ok(()); };
        let (fast, slow) = extremes(&net);
        let target = (fast as f64 * (slow as f64 / fast as f64).powf(where_)) as usize;
        let target = target.clamp(fast, slow);
        let design = check_fold(&format!("seed {seed}"), &net, target, 0);
        let c = fold::compare(&net, target, xc7(), true).unwrap();
        if let Some((_, base)) = c.baseline.filter(|(_, b)| b.cycles <= target) {
            prop_assert!(design.cost.area(&xc7()) <= base.area(&xc7()) + 1e-9);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// FIFO and window-buffer sizing (`fold --size-fifos`)
// ---------------------------------------------------------------------------------------------

/// `net` with every sized buffer at `depth(buffer)` (`None`: the analytic rule).
fn with_depths(net: &Network, s: &Sizing, depth: impl Fn(&BufferSize) -> Option<usize>) -> Network {
    let mut n = net.clone();
    for b in &s.buffers {
        let d = depth(b);
        match (&mut n.layers[b.layer].op, b.kind) {
            (Op::MatVec(mv) | Op::Depthwise(mv), BufferKind::Fifo) => mv.folding.fifo_depth = d,
            (Op::MatVec(mv) | Op::Depthwise(mv), BufferKind::Window) => mv.folding.buffer_depth = d,
            (Op::MaxPool(p), BufferKind::Window) => p.buffer_depth = d,
            (Op::MaxPool(_), BufferKind::Fifo) => unreachable!("a FIFO feeds a dense layer"),
            (Op::GlobalAvgPool(_), _) => unreachable!("a global pool has no buffer"),
        }
    }
    n
}

/// The sizing's stall patterns, written out here: none, then input gaps with seeds 1..=seeds and
/// the output never stalled.
fn sizing_patterns(o: &SizingOptions) -> Vec<Stalls> {
    std::iter::once(Stalls::NONE)
        .chain((1..=o.seeds as u32).map(|seed| Stalls {
            seed,
            p_in: o.stall,
            p_out: 0.0,
        }))
        .collect()
}

/// Steady-state cycles per frame of `net` in the cycle simulator under `stalls` (infinite when
/// it does not finish: a deadlocked window generator).
fn cpf(net: &Network, frames: usize, stalls: Stalls) -> f64 {
    let hw = passes::pad::pad(net).expect("pads");
    let mut sim = CycleSim::new(&hw).unwrap();
    let batch = synth::frames_for(net, frames, 1);
    match sim.run_frames(batch.view(), stalls, None) {
        Ok(r) => r.cycles_per_frame.expect("several frames"),
        Err(_) => f64::INFINITY,
    }
}

/// On the small examples, with the bisection: every buffer's proven depth keeps the analytic
/// design's cycles per frame under every sizing pattern (the ideal without stalls), one word
/// less (where the floor allows) is slower under some pattern, and the chosen depths (margin
/// included) run at the ideal. Without the bisection, largest occupancy + 1 replays the
/// analytic design's runs cycle for cycle.
#[test]
fn size_fifos_small_examples() {
    let mut below_checked = 0;
    for name in ["tiny", "digits-mlp", "digits-cnn"] {
        let net = example(name);
        let opts = SizingOptions {
            search: true,
            ..SizingOptions::default()
        };
        let s = fifos::size(&net, &opts, &|_, _, _| {}).unwrap_or_else(|e| panic!("{name}: {e}"));
        eprint!("{name}:\n{}", s.table(&net));
        assert!(s.confirmed, "{name}");
        let ideal = passes::pad::pad(&net).unwrap().ideal_ii() as f64;
        let pats = sizing_patterns(&opts);
        let reference: Vec<f64> = pats.iter().map(|&p| cpf(&net, s.frames, p)).collect();
        assert_eq!(
            reference[0], ideal,
            "{name}: the analytic design runs at the ideal"
        );
        for b in &s.buffers {
            assert!(
                b.floor <= b.minimum && b.minimum <= b.chosen && b.chosen <= b.rule,
                "{name}: {b:?}"
            );
        }
        let proven = with_depths(&net, &s, |b| Some(b.minimum));
        for (p, &r) in pats.iter().zip(&reference) {
            let c = cpf(&proven, s.frames, *p);
            assert!(c <= r, "{name} at the proven depths, {p:?}: {c} > {r}");
        }
        let chosen = with_depths(&net, &s, |b| Some(b.chosen));
        assert_eq!(
            cpf(&chosen, 2 * s.frames, Stalls::NONE),
            ideal,
            "{name} chosen"
        );
        for k in 0..s.buffers.len() {
            let b = &s.buffers[k];
            if b.minimum == b.floor {
                continue;
            }
            let less = with_depths(&net, &s, |x| {
                Some(if x.block == b.block {
                    b.minimum - 1
                } else {
                    x.minimum
                })
            });
            let slower = pats
                .iter()
                .zip(&reference)
                .any(|(p, &r)| cpf(&less, s.frames, *p) > r);
            assert!(
                slower,
                "{name}: {} at {} keeps the cycles per frame",
                b.block,
                b.minimum - 1
            );
            below_checked += 1;
        }

        // Without the bisection: occupancy + 1 replays every reference run exactly.
        let fast = fifos::size(&net, &SizingOptions::default(), &|_, _, _| {}).unwrap();
        let replay = with_depths(&net, &fast, |b| Some(b.minimum));
        for p in &pats {
            let runs: Vec<Vec<u64>> = [&net, &replay]
                .iter()
                .map(|n| {
                    let hw = passes::pad::pad(n).unwrap();
                    let mut sim = CycleSim::new(&hw).unwrap();
                    let batch = synth::frames_for(n, fast.frames, 1);
                    let r = sim.run_frames(batch.view(), *p, None).unwrap().run;
                    [r.in_cycles, r.out_cycles].concat()
                })
                .collect();
            assert_eq!(runs[0], runs[1], "{name}: occupancy + 1 replays {p:?}");
        }
    }
    assert!(
        below_checked >= 2,
        "{below_checked} buffers checked one word below"
    );
}

/// `fold --size-fifos -o` writes the depths with their comment, the file loads and pads with
/// them, and the build's report.json counts the bits saved; the sized design verifies in
/// Verilator three ways, cycle-exactly, under back-pressure, at the ideal cycles per frame.
#[test]
fn sized_fifos_verify_cycle_exact() {
    common::require_tool("verilator", "tests/fold.rs", "verilator");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sized.toml");
    let src = root().join("examples/digits-cnn/net.toml");
    let (code, stdout, stderr) = run(bnn_gen()
        .arg("fold")
        .arg(&src)
        .arg("--size-fifos")
        .arg("-o")
        .arg(&out));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("FIFO and window-buffer sizing"), "{stdout}");
    assert!(stdout.contains("bits saved"), "{stdout}");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("# bnn-gen fold --size-fifos: "), "{text}");
    let net = lowered(frontend::load(&out).expect("the sized net.toml loads"));
    let hw = passes::pad::pad(&net).unwrap();
    let sized: Vec<(usize, usize)> = hw
        .layers
        .iter()
        .filter_map(|l| l.window.as_ref().map(|w| (w.depth, w.rule_depth)))
        .chain(
            hw.links
                .iter()
                .filter_map(|k| k.fifo_depth.zip(k.rule_fifo_depth)),
        )
        .collect();
    assert!(
        sized.iter().any(|&(d, r)| d < r),
        "something is smaller: {sized:?}"
    );
    assert!(sized.iter().all(|&(d, r)| d <= r), "{sized:?}");

    let vdir = common::target_dir()
        .join("fold-tests")
        .join("sized-digits-cnn");
    let _ = std::fs::remove_dir_all(&vdir);
    let opts = bnn_gen::verify::VerifyOptions {
        frames: Some(24),
        stall: 0.2,
        dir: Some(vdir.clone()),
        ..Default::default()
    };
    let report = bnn_gen::verify::run(&net, &opts).unwrap();
    eprintln!("{report}");
    assert!(report.failure.is_none(), "{report}");
    assert!(report.runs.iter().all(|r| r.three_way), "{report}");
    let t = report.timing.as_ref().expect("a stall-free run");
    assert_eq!(t.cycles_per_frame, Some(report.ideal_ii as f64), "{report}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(vdir.join("report.json")).unwrap()).unwrap();
    let saved = json["buffer_sizing"]["saved_bits"]
        .as_i64()
        .expect("buffer_sizing in report.json");
    let want: i64 = sized.iter().map(|&(d, r)| r as i64 - d as i64).sum::<i64>();
    assert!(saved > 0 && want > 0, "{saved} {want}");
}

/// Bad depths in net.toml and bad sizing options: clear errors with what to do.
#[test]
fn sizing_errors() {
    let dir = tempfile::tempdir().unwrap();
    // A copy of an example in another directory, its .npy paths rebased by fold -o.
    let copy = |name: &str| {
        let out = dir.path().join(format!("{name}.toml"));
        let src = root().join("examples").join(name).join("net.toml");
        let (code, _, stderr) = run(bnn_gen()
            .arg("fold")
            .arg(&src)
            .arg("--size-fifos")
            .args(["--size-frames", "8", "-o"])
            .arg(&out));
        assert_eq!(code, 0, "{stderr}");
        std::fs::read_to_string(&out).unwrap()
    };
    let with = |name: &str, text: String, layer: &str, key_value: &str| {
        let at = format!("name = \"{layer}\"");
        let i = text.find(&at).unwrap_or_else(|| panic!("{at} in {text}"));
        let patched = format!("{}{at}\n{key_value}{}", &text[..i], &text[i + at.len()..]);
        let path = dir.path().join(format!("{name}-bad.toml"));
        std::fs::write(&path, patched).unwrap();
        path
    };
    let mlp = copy("digits-mlp");
    let cnn = copy("digits-cnn");
    let cases = [
        (
            with(
                "a",
                mlp.replace("fifo_depth", "x_fifo_depth_unused"),
                "fc2",
                "fifo_depth = 1",
            ),
            vec!["fifo_depth", "expected 2 to"],
        ),
        (
            with("b", mlp.clone(), "fc0", "fifo_depth = 8"),
            vec!["fifo_depth", "first layer", "help: remove fifo_depth"],
        ),
        (
            with(
                "c",
                cnn.replace("buffer_depth", "x_buffer_depth_unused"),
                "conv0",
                "buffer_depth = 2",
            ),
            vec!["buffer_depth", "deadlock", "help: use at least"],
        ),
        (
            with("d", cnn.clone(), "conv1", "fifo_depth = 8"),
            vec!["fifo_depth"],
        ),
    ];
    for (path, needles) in cases {
        let text = std::fs::read_to_string(&path).unwrap();
        // A renamed key is an unknown key: strip those lines so each case has one error.
        let clean: String = text
            .lines()
            .filter(|l| !l.contains("_unused"))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&path, clean).unwrap();
        let (code, _, stderr) = run(bnn_gen()
            .arg("build")
            .arg(&path)
            .args(["--target", "verilog", "-o"])
            .arg(dir.path().join("build")));
        assert_eq!(code, 1, "{}: {stderr}", path.display());
        for n in needles {
            assert!(stderr.contains(n), "{n:?} not in {stderr}");
        }
    }
    // A depth below the window's span, through the library: pad names the bound.
    let mut net = example("digits-cnn");
    if let Op::MatVec(mv) = &mut net.layers[1].op {
        mv.folding.buffer_depth = Some(3);
    }
    let err = passes::pad::pad(&net).unwrap_err().to_string();
    assert!(
        err.contains("conv1") && err.contains("would deadlock"),
        "{err}"
    );

    let small = root().join("examples/tiny/net.toml");
    let cli: Vec<(Vec<&str>, i32, Vec<&str>)> = vec![
        (
            vec!["--size-fifos", "--size-stall", "1.5"],
            1,
            vec!["--size-stall", "[0, 1)"],
        ),
        (
            vec!["--size-fifos", "--size-seeds", "0"],
            1,
            vec!["--size-seeds", "1 to 64"],
        ),
        (
            vec!["--size-fifos", "--size-frames", "2"],
            1,
            vec!["--size-frames", "help:"],
        ),
        (
            vec!["--target-cycles", "12", "--size-stall", "0.1"],
            2,
            vec!["--size-fifos"],
        ),
    ];
    for (args, want, needles) in cli {
        let (code, _, stderr) = run(bnn_gen().arg("fold").arg(&small).args(&args));
        assert_eq!(code, want, "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        for n in needles {
            assert!(stderr.contains(n), "{args:?}: {n:?} not in {stderr}");
        }
    }
}
