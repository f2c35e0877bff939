//! Cycle-simulator speed on the LFC example (`synth::example("lfc")`, lowered: 784-1024-1024-1024-10
//! W1A1 with an argmax head), in simulated cycles per second.
//!
//! `cargo bench --bench cyclesim` runs 50 frames without stalls and with stall probability 0.3 on
//! both streams (criterion reports the throughput as "elements" = simulated cycles), then prints a
//! summary in M cycles/s. Under `cargo test --all-targets` criterion runs each benchmark once and
//! the summary is skipped.
//!
//! The input words are packed once outside the timed loop; each iteration is one
//! `CycleSim::run_words` from reset over all the frames.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bnn_gen::cyclesim::{CycleSim, RunConfig, Stalls, Words};
use bnn_gen::{passes, synth};
use criterion::{Criterion, Throughput};

const FRAMES: usize = 50;
const STALLS: [(&str, f64); 2] = [("no-stall", 0.0), ("stall-0.3", 0.3)];

struct Setup {
    sim: CycleSim,
    words: Words,
    expect: usize,
}

fn setup() -> Setup {
    let (mut net, _) = synth::example("lfc").expect("the lfc example");
    passes::lower(&mut net).expect("lfc lowers");
    let mut sim = CycleSim::from_network(&net).expect("lfc simulates");
    let batch = synth::frames_for(&net, FRAMES, 3);
    let len = net.input.shape.len();
    let data = batch.as_slice().expect("standard layout");
    let mut words = Words::new(sim.input_format().tdata_bits);
    for f in 0..FRAMES {
        sim.pack_frame_into(&data[f * len..(f + 1) * len], &mut words)
            .expect("a valid frame");
    }
    let expect = FRAMES * sim.output_format().words_per_frame;
    // One warm run: every frame comes out.
    let cfg = config(&sim, 0.0);
    let r = sim.run_words(&words, expect, &cfg);
    assert!(
        !r.timed_out && r.outputs.len() == expect,
        "lfc run completes"
    );
    Setup { sim, words, expect }
}

fn config(sim: &CycleSim, p: f64) -> RunConfig {
    let stalls = Stalls::both(p, 7);
    RunConfig {
        stalls,
        timeout: sim.default_timeout(FRAMES, &stalls),
        extra: 0,
    }
}

fn main() {
    let mut s = setup();
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let mut g = c.benchmark_group(format!("cyclesim/lfc/{FRAMES}-frames"));
    for (name, p) in STALLS {
        let cfg = config(&s.sim, p);
        let cycles = s.sim.run_words(&s.words, s.expect, &cfg).cycles;
        g.throughput(Throughput::Elements(cycles));
        g.bench_function(name, |b| {
            b.iter(|| black_box(s.sim.run_words(black_box(&s.words), s.expect, &cfg).cycles))
        });
    }
    g.finish();
    c.final_summary();

    // Summary (cargo bench only): best of a few timed runs.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    println!("\ncycle simulator, LFC, {FRAMES} frames:");
    for (name, p) in STALLS {
        let cfg = config(&s.sim, p);
        let mut best = f64::INFINITY;
        let mut cycles = 0;
        for _ in 0..5 {
            let t = Instant::now();
            let r = s.sim.run_words(&s.words, s.expect, &cfg);
            best = best.min(t.elapsed().as_secs_f64());
            cycles = r.cycles;
        }
        println!(
            "  {name:>10}: {cycles} cycles ({:.1} cycles/frame) in {:.1} ms = {:.2} M simulated cycles/s",
            cycles as f64 / FRAMES as f64,
            best * 1e3,
            cycles as f64 / best / 1e6
        );
    }
}
