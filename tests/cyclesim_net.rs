//! Whole networks through the cycle simulator (`bnn_gen::cyclesim::CycleSim`):
//!
//! 1. its decoded outputs equal the golden model's on random frames, for the `tiny` and `w2a2`
//!    examples and random dense networks (all datatypes, non-dividing folding, heads), without
//!    and with random stalls;
//! 2. it is cycle-exact against Verilator running the *generated* top (`codegen::generate`) of
//!    `tiny` (general width converter, FIFO, top-k) and `w2a2` (up-sizer, FIFOs, multi-bit
//!    thresholds): same output words at the same cycles, same input cycles, same cycle count.
//!
//! Requires verilator for (2).

mod common;

use bnn_gen::codegen;
use bnn_gen::cyclesim::{CycleSim, RunConfig, Stalls};
use bnn_gen::golden::GoldenModel;
use bnn_gen::ir::Network;
use bnn_gen::{passes, synth};
use common::*;

fn example(name: &str) -> Network {
    let (mut net, _) = synth::example(name).expect("a known example");
    passes::lower(&mut net).expect("lowering");
    net
}

/// `exact_latency`: frame 0's latency must equal the generator's estimate (dense networks
/// without back-pressure inside a frame; `codegen::report::latency`).
fn check_against_golden(what: &str, net: &Network, frames: usize, seed: u64, exact_latency: bool) {
    let golden = GoldenModel::new(net).unwrap();
    let mut sim = CycleSim::from_network(net).unwrap();
    let batch = synth::frames_for(net, frames, seed);
    let len = net.input.shape.len();
    let data = batch.as_slice().unwrap();
    let expected: Vec<Vec<i64>> = (0..frames)
        .map(|f| golden.infer(&data[f * len..(f + 1) * len]))
        .collect();
    for st in [
        Stalls::NONE,
        Stalls::both(0.3, 7),
        Stalls {
            seed: 99,
            p_in: 0.2,
            p_out: 0.5,
        },
    ] {
        let run = sim.run_frames(batch.view(), st, None).unwrap();
        for (f, (got, want)) in run.outputs.iter().zip(&expected).enumerate() {
            assert_eq!(got, want, "{what} {st:?} frame {f}");
        }
        assert_eq!(
            run.run.in_cycles.len(),
            frames * sim.input_format().words_per_frame
        );
        if st == Stalls::NONE {
            // without stalls the slowest layer sets the pace
            let ii = sim.hw().ideal_ii() as f64;
            let cpf = run.cycles_per_frame.unwrap();
            assert!(
                cpf >= ii && cpf <= ii + 1.0,
                "{what}: {cpf} cycles per frame, ideal {ii}"
            );
            let (estimate, formula) = codegen::report::latency(sim.hw());
            eprintln!(
                "{what}: latency {} cycles (generator estimate {estimate} = {formula}), {cpf} cycles/frame",
                run.latency[0]
            );
            if exact_latency {
                assert_eq!(run.latency[0], estimate, "{what}: latency ({formula})");
            }
        }
    }
}

#[test]
fn examples_equal_golden() {
    for name in ["tiny", "w2a2"] {
        check_against_golden(name, &example(name), 40, 11, true);
    }
}

#[test]
fn random_networks_equal_golden() {
    let limits = synth::RandomLimits {
        max_layers: 4,
        max_features: 48,
        max_bits: 4,
        ..synth::RandomLimits::default()
    };
    for seed in 0..30 {
        let spec = synth::random_mlp_spec(seed, &limits);
        let mut net = synth::mlp(&spec, seed);
        passes::lower(&mut net).unwrap();
        let what = format!("random seed {seed} ({spec:?})");
        check_against_golden(&what, &net, 12, seed, false);
    }
}

fn generated_top_job(name: &'static str, frames: usize) -> Result<(), String> {
    let net = example(name);
    let design = codegen::generate(&net).map_err(|e| e.to_string())?;
    let dir = work_dir("net", name);
    codegen::write(&design, &dir, codegen::BuildOptions::default()).map_err(|e| e.to_string())?;
    let mut sim = CycleSim::new(&design.hw).map_err(|e| e.to_string())?;
    let (ib, ob) = (
        sim.input_format().tdata_bits,
        sim.output_format().tdata_bits,
    );
    let srcs: Vec<String> = design
        .files
        .iter()
        .filter(|f| f.path.starts_with("rtl/") && f.path.ends_with(".v"))
        .map(|f| dir.join(&f.path).to_string_lossy().into_owned())
        .collect();
    let exe = build(&dir, &design.top, &srcs, &[], ib, ob)?;
    let batch = synth::frames_for(&net, frames, 5);
    let len = net.input.shape.len();
    let data = batch.as_slice().unwrap();
    let mut words = bnn_gen::cyclesim::Words::new(ib);
    for f in 0..frames {
        sim.pack_frame_into(&data[f * len..(f + 1) * len], &mut words)
            .map_err(|e| e.to_string())?;
    }
    let expect = frames * sim.output_format().words_per_frame;
    let golden = GoldenModel::new(&net).map_err(|e| e.to_string())?;
    for s in [
        (1, 0.0, 0.0),
        (7, 0.3, 0.3),
        (99, 0.3, 0.3),
        (2024, 0.0, 0.6),
    ] {
        let st = stalls(s);
        let cfg = RunConfig {
            stalls: st,
            timeout: sim.default_timeout(frames, &st),
            extra: 32,
        };
        let r = compare(
            name,
            &exe,
            &dir,
            &dir,
            sim.pipeline_mut(),
            &words,
            expect,
            &cfg,
            expect,
        )?;
        // and the words decode to the golden outputs
        let wo = sim.output_format().words_per_frame;
        for f in 0..frames {
            let got = sim.unpack_frame(&r.outputs, f * wo);
            let want = golden.infer(&data[f * len..(f + 1) * len]);
            if got != want {
                return Err(format!("{name} {st:?} frame {f}: {got:?}, golden {want:?}"));
            }
        }
    }
    Ok(())
}

#[test]
fn generated_tops_match_verilator() {
    require("verilator");
    let jobs: Vec<(String, Job)> = [("tiny", 30usize), ("w2a2", 30)]
        .into_iter()
        .map(|(n, f)| {
            (
                n.to_string(),
                Box::new(move || generated_top_job(n, f)) as Job,
            )
        })
        .collect();
    run_jobs("generated top vs cycle model", jobs);
}
