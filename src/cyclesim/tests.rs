//! Unit tests of the cycle models against the timing documented in the headers of `hw/*.v`
//! (the Verilator comparisons are in `tests/cyclesim_modules.rs`, whole networks in
//! `tests/cyclesim_net.rs`).

use super::*;
use crate::synth::{self, Rng};

fn words(bits: usize, vals: impl IntoIterator<Item = u64>) -> Words {
    let mut w = Words::new(bits);
    vals.into_iter().for_each(|v| w.push_u64(v));
    w
}

/// A W1A1 MVTU with random weights and one threshold per channel.
fn mvtu(mw: usize, mh: usize, pe: usize, simd: usize, seed: u64) -> Mvtu {
    let p = MvtuParams {
        mw,
        mh,
        pe,
        simd,
        wbits: 1,
        ibits: 1,
        wtype: 0,
        itype: 0,
        acc_bits: 8,
        nsteps: 1,
        obits: 1,
        tbits: 8,
        out_bias: 0,
        xnor_fanin: mw,
    };
    let mut rng = Rng::new(seed);
    let (nf, sf) = (p.nf(), p.sf());
    let wrom: Vec<Vec<Vec<u64>>> = (0..pe)
        .map(|_| {
            (0..nf * sf)
                .map(|_| vec![rng.next_u64() & bits::ones(simd)])
                .collect()
        })
        .collect();
    let trom: Vec<Vec<Vec<u64>>> = (0..pe)
        .map(|_| (0..nf).map(|_| vec![rng.below(mw as u64 + 1)]).collect())
        .collect();
    Mvtu::new(&p, &wrom, &trom).unwrap()
}

#[test]
fn mvtu_timing_without_stalls() {
    // documented: input word (v, sf) at v*NF*SF + sf, output (v, nf) at v*NF*SF + nf*SF + SF + 3
    for &(mw, mh, pe, simd) in &[
        (16, 8, 2, 4),
        (6, 3, 1, 1),
        (12, 6, 6, 12),
        (32, 4, 4, 8),
        (4, 8, 2, 4),
    ] {
        let m = mvtu(mw, mh, pe, simd, 5);
        let (nf, sf) = (mh / pe, mw / simd);
        let mut p = Pipeline::single(Block::Mvtu(Box::new(m)), simd, pe);
        let vectors = 5;
        let inputs = words(simd, (0..vectors * sf).map(|i| i as u64 & bits::ones(simd)));
        let r = p.run(&inputs, vectors * nf, &RunConfig::new(Stalls::NONE, 10_000));
        assert!(!r.timed_out);
        for (i, &c) in r.in_cycles.iter().enumerate() {
            let (v, s) = (i / sf, i % sf);
            assert_eq!(c as usize, v * nf * sf + s, "{mw}x{mh} input {i}");
        }
        for (i, &c) in r.out_cycles.iter().enumerate() {
            let (v, n) = (i / nf, i % nf);
            assert_eq!(
                c as usize,
                v * nf * sf + n * sf + sf + 3,
                "{mw}x{mh} output {i}"
            );
        }
        assert_eq!(r.cycles, *r.out_cycles.last().unwrap() + 1);
    }
}

#[test]
fn mvtu_values_and_backpressure() {
    // with the output never ready, exactly 2 words queue up and the input stops
    let (mw, mh, pe, simd) = (16, 8, 2, 4);
    let m = mvtu(mw, mh, pe, simd, 9);
    let mut p = Pipeline::single(Block::Mvtu(Box::new(m)), simd, pe);
    let inputs = words(simd, (0..40).map(|i| (i * 7) as u64 & 15));
    let r = p.run(
        &inputs,
        1,
        &RunConfig::new(
            Stalls {
                seed: 3,
                p_in: 0.0,
                p_out: 1.0,
            },
            200,
        ),
    );
    assert!(r.timed_out);
    assert!(r.outputs.is_empty());
    // words accepted: the first vector (4) and the next ones until the queue (2) and the
    // pipeline (3 beats in B..D) are full
    assert!(r.in_cycles.len() < 40);
    assert!(r.mvtus[0].stall_cycles > 100);
}

#[test]
fn fifo_latency_and_capacity() {
    for depth in [2, 3, 5] {
        let f = Fifo::new(8, depth).unwrap();
        let mut p = Pipeline::single(Block::Fifo(f), 8, 8);
        let inputs = words(8, 0..50);
        let r = p.run(&inputs, 50, &RunConfig::new(Stalls::NONE, 1000));
        for i in 0..50 {
            assert_eq!(r.in_cycles[i], i as u64);
            assert_eq!(r.out_cycles[i], i as u64 + 1);
            assert_eq!(r.outputs.get(i)[0], i as u64);
        }
        let r = p.run(
            &inputs,
            1,
            &RunConfig::new(
                Stalls {
                    seed: 5,
                    p_in: 0.0,
                    p_out: 1.0,
                },
                60,
            ),
        );
        assert_eq!(r.in_cycles.len(), depth);
        assert_eq!(r.fifos[0].max_occupancy, depth);
    }
}

#[test]
fn dwc_preserves_the_bit_stream() {
    for &(ib, ob) in &[
        (8, 32),
        (32, 8),
        (48, 32),
        (24, 64),
        (70, 14),
        (12, 80),
        (3, 5),
        (4, 6),
        (130, 65),
    ] {
        let g = {
            let (mut a, mut b) = (ib, ob);
            while b != 0 {
                (a, b) = (b, a % b);
            }
            a
        };
        let lcm = ib / g * ob;
        let total = lcm * 6;
        let mut rng = Rng::new((ib * 1000 + ob) as u64);
        let stream: Vec<u64> = (0..total).map(|_| rng.next_u64() & 1).collect();
        let chunk = |w: usize| {
            let mut out = Words::new(w);
            for c in stream.chunks(w) {
                let mut word = vec![0u64; limbs(w)];
                for (i, &b) in c.iter().enumerate() {
                    bits::set(&mut word, i, 1, b);
                }
                out.push(&word);
            }
            out
        };
        let (inputs, expected) = (chunk(ib), chunk(ob));
        for st in [
            Stalls::NONE,
            Stalls::both(0.3, 7),
            Stalls {
                seed: 9,
                p_in: 0.0,
                p_out: 0.6,
            },
        ] {
            let d = Dwc::new(ib, ob).unwrap();
            let mut p = Pipeline::single(Block::Dwc(d), ib, ob);
            let r = p.run(&inputs, expected.len(), &RunConfig::new(st, 100_000));
            assert!(!r.timed_out, "{ib}->{ob}");
            assert_eq!(r.outputs, expected, "{ib}->{ob} {st:?}");
            if st == Stalls::NONE && ib <= ob {
                assert!(
                    r.in_cycles.iter().enumerate().all(|(i, &c)| c == i as u64),
                    "{ib}->{ob}"
                );
            }
            if st == Stalls::NONE && ib >= ob {
                assert!(
                    r.out_cycles
                        .iter()
                        .enumerate()
                        .all(|(i, &c)| c == i as u64 + 1),
                    "{ib}->{ob}"
                );
            }
        }
    }
}

#[test]
fn topk_order_and_timing() {
    let p = TopkParams {
        n: 10,
        elems: 4,
        elem_bits: 4,
        signed: false,
        k: 3,
        idx_bits: 8,
    };
    let t = TopK::new(&p).unwrap();
    let mut pl = Pipeline::single(Block::TopK(t), 16, 8);
    // values 0..9 as [3, 7, 7, 1, 0, 9, 2, 9, 5, 5] (+ 2 unused lanes)
    let vals = [3u64, 7, 7, 1, 0, 9, 2, 9, 5, 5, 15, 15];
    let mut inputs = Words::new(16);
    for _ in 0..4 {
        for w in vals.chunks(4) {
            inputs.push_u64(w.iter().enumerate().map(|(i, &v)| v << (4 * i)).sum());
        }
    }
    let r = pl.run(&inputs, 12, &RunConfig::new(Stalls::NONE, 1000));
    let got: Vec<u64> = r.outputs.iter().map(|w| w[0]).collect();
    assert_eq!(&got[..3], &[5, 7, 1]);
    // period max(NW, K) = 3, first word at NW
    for (i, &c) in r.out_cycles.iter().enumerate() {
        assert_eq!(c, 3 + (i / 3) as u64 * 3 + (i % 3) as u64);
    }
}

#[test]
fn stall_pattern_counts() {
    // the gap/ready decisions follow the harness: with p = 0.3 roughly 30 % of the cycles
    let mut g = StallGen::new(&Stalls::both(0.3, 7));
    let (mut gaps, mut drops) = (0, 0);
    for _ in 0..100_000 {
        let (gap, ready) = g.step();
        gaps += usize::from(gap);
        drops += usize::from(!ready);
    }
    assert!((29_000..31_000).contains(&gaps), "{gaps}");
    assert!((29_000..31_000).contains(&drops), "{drops}");
}

#[test]
fn networks_match_the_pad_pass_bit_model() {
    let limits = synth::RandomLimits {
        max_layers: 3,
        max_features: 40,
        max_bits: 4,
        ..synth::RandomLimits::default()
    };
    for seed in 0..40 {
        let spec = synth::random_mlp_spec(seed, &limits);
        let mut net = synth::mlp(&spec, seed);
        crate::passes::lower(&mut net).unwrap();
        let hw = pad::pad(&net).unwrap();
        let mut sim = CycleSim::new(&hw).unwrap();
        let frames = synth::frames_for(&net, 6, seed);
        let st = if seed % 2 == 0 {
            Stalls::NONE
        } else {
            Stalls::both(0.3, seed as u32)
        };
        let run = sim.run_frames(frames.view(), st, None).unwrap();
        let len = net.input.shape.len();
        let data = frames.as_slice().unwrap();
        for f in 0..6 {
            assert_eq!(
                run.outputs[f],
                hw.model(&data[f * len..(f + 1) * len]),
                "seed {seed} frame {f}: {spec:?}"
            );
        }
    }
}
