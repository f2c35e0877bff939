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

/// An MVTU test case: random weights, input vectors and accumulator-domain thresholds, the ROM
/// images the generator would write for them (`T' = T + dir`, `docs/mvtu-spec.md` section 5)
/// and the expected output words.
struct MvtuCase {
    params: MvtuParams,
    /// `DEPTHWISE` (`bnn_vvau`): input vectors of MW × MH elements, PE·SIMD lanes per word.
    depthwise: bool,
    wrom: Vec<Vec<Vec<u64>>>,
    trom: Vec<Vec<Vec<u64>>>,
    inputs: Words,
    /// One output word per (vector, neuron fold), in stream order.
    expected: Words,
}

/// (WTYPE, WBITS, ITYPE, IBITS) of one datapath mode each: XNOR, OFFSET with bipolar weights,
/// OFFSET with bipolar inputs, SEL, MAC.
const MODE_TYPES: [(u32, u32, u32, u32); 5] = [
    (0, 1, 0, 1),
    (0, 1, 1, 3),
    (2, 3, 0, 1),
    (1, 1, 2, 4),
    (2, 4, 1, 2),
];

fn decode(raw: u64, ty: u32, bits: u32) -> i64 {
    match ty {
        0 => 2 * (raw & 1) as i64 - 1,
        1 => raw as i64,
        _ => bits::sext(raw, bits),
    }
}

/// A random case of `vectors` input vectors. `nsteps` thresholds per channel (0: no activation,
/// then OBITS = ACC_BITS), random directions; `types` from [`MODE_TYPES`].
fn mvtu_case(
    shape: (usize, usize, usize, usize),
    types: (u32, u32, u32, u32),
    nsteps: usize,
    vectors: usize,
    seed: u64,
) -> MvtuCase {
    unit_case(shape, types, nsteps, vectors, seed, false)
}

/// [`mvtu_case`], or with `depthwise` a `bnn_vvau` (`DEPTHWISE = 1`) case: MW kernel positions,
/// MH channels; each input vector holds MW elements per channel, sent as NF·SF words (`nf`
/// outer) whose lane `l·PE + p` is kernel position `sf·SIMD + l` of channel `nf·PE + p`
/// (`hw/bnn_vvau.v`). The expected words follow the modules' FUNCTION sections.
fn unit_case(
    (mw, mh, pe, simd): (usize, usize, usize, usize),
    (wtype, wbits, itype, ibits): (u32, u32, u32, u32),
    nsteps: usize,
    vectors: usize,
    seed: u64,
    depthwise: bool,
) -> MvtuCase {
    let mut rng = Rng::new(seed);
    let xnor = wtype == 0 && itype == 0;
    let acc_bits = 20;
    let obits = if nsteps == 0 { acc_bits } else { 4 };
    let tbits = 16;
    let params = MvtuParams {
        mw,
        mh,
        pe,
        simd,
        wbits,
        ibits,
        wtype,
        itype,
        acc_bits,
        nsteps,
        obits,
        tbits,
        out_bias: if nsteps == 0 { 0 } else { -3 },
        xnor_fanin: mw,
    };
    let (nf, sf) = (params.nf(), params.sf());
    let raw = |rng: &mut Rng, n: u32| rng.next_u64() & bits::ones(n as usize);
    let w: Vec<Vec<u64>> = (0..mh)
        .map(|_| (0..mw).map(|_| raw(&mut rng, wbits)).collect())
        .collect();
    // per vector: one row of MW inputs (dense) or one per channel (depthwise)
    let rows = if depthwise { mh } else { 1 };
    let xs: Vec<Vec<Vec<u64>>> = (0..vectors)
        .map(|_| {
            (0..rows)
                .map(|_| (0..mw).map(|_| raw(&mut rng, ibits)).collect())
                .collect()
        })
        .collect();
    // the accumulator of the hardware: popcount of equal bits (XNOR) or the dot product, of
    // channel r's weights with the vector (dense) or with channel r's own inputs (depthwise)
    let acc = |r: usize, x: &[Vec<u64>]| -> i64 {
        let x = &x[if depthwise { r } else { 0 }];
        (0..mw)
            .map(|k| {
                if xnor {
                    i64::from(w[r][k] == x[k])
                } else {
                    decode(w[r][k], wtype, wbits) * decode(x[k], itype, ibits)
                }
            })
            .sum()
    };
    // thresholds T near the reached accumulators, and the direction (true: count acc <= T)
    let thr: Vec<Vec<i64>> = (0..mh)
        .map(|r| {
            (0..nsteps)
                .map(|_| {
                    let x = &xs[rng.below(vectors as u64) as usize];
                    acc(r, x) + rng.range(-1, 1)
                })
                .collect()
        })
        .collect();
    let dir: Vec<bool> = (0..mh).map(|_| rng.below(2) == 1).collect();
    let wrom = (0..pe)
        .map(|p| {
            (0..nf * sf)
                .map(|addr| {
                    let (n, s) = (addr / sf, addr % sf);
                    let mut word = vec![0u64; limbs(params.wrom_bits())];
                    for l in 0..simd {
                        let v = w[n * pe + p][s * simd + l];
                        bits::set(&mut word, l * wbits as usize, wbits as usize, v);
                    }
                    word
                })
                .collect()
        })
        .collect();
    let trom = (0..pe)
        .map(|p| {
            (0..nf)
                .map(|n| {
                    let r = n * pe + p;
                    let tb = tbits as usize;
                    let mut word = vec![0u64; limbs(params.trom_bits())];
                    for (j, &t) in thr[r].iter().enumerate() {
                        bits::set(&mut word, j * tb, tb, (t + i64::from(dir[r])) as u64);
                    }
                    bits::set(&mut word, nsteps * tb, 1, u64::from(dir[r]));
                    word
                })
                .collect()
        })
        .collect();
    let in_bits = if depthwise {
        params.depthwise_in_bits()
    } else {
        params.in_bits()
    };
    let mut inputs = Words::new(in_bits);
    let mut expected = Words::new(params.out_bits());
    let ib = ibits as usize;
    for x in &xs {
        if depthwise {
            for n in 0..nf {
                for s in 0..sf {
                    let mut word = vec![0u64; limbs(in_bits)];
                    for l in 0..simd {
                        for p in 0..pe {
                            let v = x[n * pe + p][s * simd + l];
                            bits::set(&mut word, (l * pe + p) * ib, ib, v);
                        }
                    }
                    inputs.push(&word);
                }
            }
        } else {
            for s in 0..sf {
                let mut word = vec![0u64; limbs(in_bits)];
                for l in 0..simd {
                    bits::set(&mut word, l * ib, ib, x[0][s * simd + l]);
                }
                inputs.push(&word);
            }
        }
        for n in 0..nf {
            let mut word = vec![0u64; limbs(params.out_bits())];
            for p in 0..pe {
                let r = n * pe + p;
                let a = acc(r, x);
                let v = if nsteps == 0 {
                    if xnor {
                        2 * a - mw as i64
                    } else {
                        a
                    }
                } else {
                    let count = thr[r]
                        .iter()
                        .filter(|&&t| if dir[r] { a <= t } else { a >= t })
                        .count() as i64;
                    count + params.out_bias
                };
                let ob = obits as usize;
                bits::set(&mut word, p * ob, ob, v as u64);
            }
            expected.push(&word);
        }
    }
    MvtuCase {
        params,
        depthwise,
        wrom,
        trom,
        inputs,
        expected,
    }
}

/// The case's model: `bnn_mvtu`, or `bnn_vvau` (`DEPTHWISE = 1`) for a depthwise case.
fn unit_model(c: &MvtuCase) -> Mvtu {
    if c.depthwise {
        Mvtu::new_depthwise(&c.params, &c.wrom, &c.trom).unwrap()
    } else {
        Mvtu::new(&c.params, &c.wrom, &c.trom).unwrap()
    }
}

fn mvtu_pipeline(c: &MvtuCase) -> Pipeline {
    let m = unit_model(c);
    let in_bits = m.in_bits();
    Pipeline::single(Block::Mvtu(Box::new(m)), in_bits, c.params.out_bits())
}

fn the_mvtu(p: &Pipeline) -> &Mvtu {
    match &p.blocks()[0] {
        Block::Mvtu(m) => m,
        _ => unreachable!(),
    }
}

/// The derived constants follow the spec's formulas (section 3).
#[test]
fn mvtu_stage_counts_latency_and_queue() {
    let params = |simd: usize, sf: usize, types: (u32, u32, u32, u32)| MvtuParams {
        mw: simd * sf,
        mh: 2,
        pe: 1,
        simd,
        wbits: types.1,
        ibits: types.3,
        wtype: types.0,
        itype: types.2,
        acc_bits: 20,
        nsteps: 1,
        obits: 1,
        tbits: 20,
        out_bias: 0,
        xnor_fanin: simd * sf,
    };
    let modes = [
        MvtuMode::Xnor,
        MvtuMode::Offset,
        MvtuMode::Offset,
        MvtuMode::Sel,
        MvtuMode::Mac,
    ];
    for (types, mode) in MODE_TYPES.into_iter().zip(modes) {
        assert_eq!(params(4, 1, types).mode(), mode, "{types:?}");
    }
    // both operands unsigned 1-bit, and uint1 against a bipolar operand
    assert_eq!(params(4, 1, (1, 1, 1, 1)).mode(), MvtuMode::Sel);
    assert_eq!(params(4, 1, (0, 1, 1, 1)).mode(), MvtuMode::Offset);
    assert_eq!(params(4, 1, (2, 1, 2, 2)).mode(), MvtuMode::Mac);
    // TS = max(1, clog2(SIMD))
    for (simd, ts) in [
        (1, 1),
        (2, 1),
        (3, 2),
        (4, 2),
        (5, 3),
        (64, 6),
        (65, 7),
        (256, 8),
    ] {
        assert_eq!(
            params(simd, 1, MODE_TYPES[0]).tree_stages(),
            ts,
            "SIMD {simd}"
        );
    }
    // LAT = 4 + PROD + TS + FIN, Q = floor((LAT + 1) / SF) + 2
    for (simd, sf, types, lat, q) in [
        (64, 1, MODE_TYPES[0], 10, 13),
        (4, 4, MODE_TYPES[0], 6, 3),
        (3, 9, MODE_TYPES[1], 7, 2),
        (5, 3, MODE_TYPES[4], 8, 5),
        (8, 2, MODE_TYPES[3], 7, 6),
        (1, 6, MODE_TYPES[2], 6, 3),
    ] {
        let p = params(simd, sf, types);
        assert_eq!(p.latency(), lat, "{p:?}");
        assert_eq!(p.queue_depth(), q, "{p:?}");
    }
}

/// Without stalls (spec section 3): input word `(v, sf)` at cycle `v·NF·SF + sf` (`bnn_vvau`,
/// which reads the stream at every beat: word `(v, nf, sf)` at `(v·NF + nf)·SF + sf`), output
/// word `(v, nf)` at `v·NF·SF + nf·SF + SF − 1 + LAT + 1`, the issue stage never waits for a
/// credit, and the words are the accumulator-domain thresholds' results (the ROM's `T'` decoded).
#[test]
fn mvtu_and_vvau_timing_without_stalls() {
    let shapes = [
        (16, 8, 2, 4),
        (6, 3, 1, 1),
        (12, 6, 6, 12),
        (32, 4, 4, 8),
        (4, 8, 2, 4),
        (27, 8, 4, 3),
        (10, 6, 3, 5),
        (64, 2, 1, 64),
        (40, 5, 5, 2),
    ];
    for (i, &shape) in shapes.iter().enumerate() {
        for (m, &types) in MODE_TYPES.iter().enumerate() {
            for (nsteps, depthwise) in [(0, false), (3, false), (0, true), (3, true)] {
                let seed = (i * 100 + m * 10 + nsteps) as u64;
                let c = unit_case(shape, types, nsteps, 5, seed, depthwise);
                let (nf, sf) = (c.params.nf(), c.params.sf());
                let lat = c.params.latency();
                let what =
                    format!("{shape:?} {types:?} NSTEPS {nsteps} (LAT {lat}) dw {depthwise}");
                let mut p = mvtu_pipeline(&c);
                let r = p.run(
                    &c.inputs,
                    c.expected.len(),
                    &RunConfig::new(Stalls::NONE, 10_000),
                );
                assert!(!r.timed_out, "{what}");
                assert_eq!(r.outputs, c.expected, "{what}");
                assert_eq!(r.in_cycles.len(), c.inputs.len(), "{what}");
                for (i, &cy) in r.in_cycles.iter().enumerate() {
                    let at = if depthwise {
                        i
                    } else {
                        let (v, s) = (i / sf, i % sf);
                        v * nf * sf + s
                    };
                    assert_eq!(cy as usize, at, "{what}: input {i}");
                }
                for (i, &cy) in r.out_cycles.iter().enumerate() {
                    let (v, n) = (i / nf, i % nf);
                    let issue = v * nf * sf + n * sf + sf - 1;
                    assert_eq!(cy as usize, issue + lat + 1, "{what}: output {i}");
                }
                assert_eq!(r.cycles, *r.out_cycles.last().unwrap() + 1);
                assert_eq!(r.mvtus[0].stall_cycles, 0, "{what}");
                assert_eq!(r.mvtus[0].beats as usize, 5 * nf * sf, "{what}");
                assert!(the_mvtu(&p).idle(), "{what}");
            }
        }
    }
}

/// SF = 1 and a long pipeline (LAT up to 13): with a ready consumer one beat and one output word
/// per cycle, i.e. exactly NF·SF cycles per vector; `Q` credits cover the round trip.
#[test]
fn mvtu_full_rate_with_sf1_and_long_latency() {
    for (shape, types) in [
        ((64, 4, 4, 64), MODE_TYPES[0]),
        ((256, 2, 1, 256), MODE_TYPES[4]),
        ((200, 3, 3, 200), MODE_TYPES[1]),
        ((130, 1, 1, 130), MODE_TYPES[2]),
    ] {
        let c = mvtu_case(shape, types, 2, 40, 7);
        let (nf, lat) = (c.params.nf(), c.params.latency());
        assert_eq!(c.params.sf(), 1);
        assert!(lat >= 10);
        let mut p = mvtu_pipeline(&c);
        let r = p.run(
            &c.inputs,
            c.expected.len(),
            &RunConfig::new(Stalls::NONE, 10_000),
        );
        assert_eq!(r.outputs, c.expected, "{shape:?}");
        for (i, &cy) in r.out_cycles.iter().enumerate() {
            assert_eq!(cy as usize, i + lat + 1, "{shape:?} output {i}");
        }
        for (i, &cy) in r.in_cycles.iter().enumerate() {
            assert_eq!(cy as usize, i * nf, "{shape:?} input {i}");
        }
        assert_eq!(r.mvtus[0].stall_cycles, 0, "{shape:?}");
    }
}

/// Under random back-pressure the words are unchanged, `credits + queued + in flight = Q` at
/// every cycle (so never more than Q words queue up), and an idle consumer stops the issue
/// stage exactly when Q words are reserved; for `bnn_mvtu` and `bnn_vvau` alike.
#[test]
fn mvtu_and_vvau_credits_under_backpressure() {
    for (i, (shape, types, depthwise)) in [
        ((16, 8, 2, 4), MODE_TYPES[0], false),
        ((27, 8, 4, 3), MODE_TYPES[1], false),
        ((64, 4, 4, 64), MODE_TYPES[4], false),
        ((10, 6, 3, 5), MODE_TYPES[3], false),
        ((6, 3, 1, 1), MODE_TYPES[2], false),
        ((9, 6, 2, 1), MODE_TYPES[0], true),
        ((9, 8, 4, 3), MODE_TYPES[1], true),
        ((4, 6, 3, 4), MODE_TYPES[4], true),
        ((10, 4, 1, 5), MODE_TYPES[3], true),
        ((6, 3, 3, 2), MODE_TYPES[2], true),
    ]
    .into_iter()
    .enumerate()
    {
        let c = unit_case(shape, types, 3, 30, 40 + i as u64, depthwise);
        let q = c.params.queue_depth();
        let (nf, sf) = (c.params.nf(), c.params.sf());
        let mut m = unit_model(&c);
        // random tvalid / tready, driven by hand to check the invariant after every edge
        let mut rng = Rng::new(i as u64);
        let (mut next_in, mut got) = (0, Words::new(c.params.out_bits()));
        let mut max_queued = 0;
        for _cycle in 0..20_000 {
            let in_valid = next_in < c.inputs.len() && rng.below(10) < 7;
            let out_ready = rng.below(10) < 4;
            let push = (in_valid && m.s_ready()).then(|| c.inputs.get(next_in));
            let pop = m.m_valid() && out_ready;
            if pop {
                got.push(m.m_data());
            }
            next_in += usize::from(push.is_some());
            m.tick(push, pop);
            assert_eq!(m.credits() + m.queued() + m.in_flight(), q, "{shape:?}");
            max_queued = max_queued.max(m.queued());
            if got.len() == c.expected.len() {
                break;
            }
        }
        assert_eq!(got, c.expected, "{shape:?}");
        assert!(max_queued <= q);
        assert!(m.idle());

        // the consumer never takes a word: Q folds are issued and pushed, then the issue stage
        // waits at the next fold's last beat
        let mut p = mvtu_pipeline(&c);
        let never = Stalls {
            seed: 3,
            p_in: 0.0,
            p_out: 1.0,
        };
        let r = p.run(&c.inputs, 1, &RunConfig::new(never, 400));
        assert!(r.timed_out && r.outputs.is_empty());
        let m = the_mvtu(&p);
        assert_eq!(
            (m.queued(), m.credits(), m.in_flight()),
            (q, 0, 0),
            "{shape:?}"
        );
        // a dense MVTU reads the stream in each vector's first fold, a VVAU at every beat
        let read = if depthwise {
            q * sf + sf - 1
        } else {
            let reading_folds = (0..q).filter(|k| k % nf == 0).count();
            let partial = if q.is_multiple_of(nf) { sf - 1 } else { 0 };
            reading_folds * sf + partial
        };
        assert_eq!(r.in_cycles.len(), read, "{shape:?} Q {q} dw {depthwise}");
        assert_eq!(r.mvtus[0].beats as usize, q * sf + sf - 1, "{shape:?}");
    }
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
    // period max(NW, K) = 3, first word at NW + 1 + clog2(ELEMS) = 3 + 1 + 2
    for (i, &c) in r.out_cycles.iter().enumerate() {
        assert_eq!(c, 6 + (i / 3) as u64 * 3 + (i % 3) as u64);
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

/// Falling thresholds (`acc ≤ T`, stored as `T' = T + 1`) through the generator's ROM images, in
/// XNOR, OFFSET and MAC layers, against the golden model.
#[test]
fn falling_thresholds_through_the_rom_encoding() {
    use crate::datatype::DataType;
    use crate::golden::GoldenModel;
    use crate::hwir::HwActivation;
    use crate::synth::{ActSpec, DenseSpec, MlpSpec};
    let falling = |out_dtype| ActSpec::Thresholds {
        out_dtype,
        falling: true,
    };
    let spec = MlpSpec {
        name: "falling".into(),
        in_features: 24,
        input_dtype: DataType::Bipolar,
        layers: vec![
            // XNOR
            DenseSpec {
                out_features: 20,
                weight_dtype: DataType::Bipolar,
                activation: falling(DataType::UInt(2)),
                pe: 4,
                simd: 6,
            },
            // OFFSET (bipolar weights, uint2 inputs)
            DenseSpec {
                out_features: 16,
                weight_dtype: DataType::Bipolar,
                activation: falling(DataType::Int(2)),
                pe: 4,
                simd: 5,
            },
            // MAC (int2 × int2)
            DenseSpec {
                out_features: 12,
                weight_dtype: DataType::Int(2),
                activation: falling(DataType::UInt(3)),
                pe: 3,
                simd: 4,
            },
        ],
        head: None,
    };
    let mut net = synth::mlp(&spec, 3);
    crate::passes::lower(&mut net).unwrap();
    let hw = pad::pad(&net).unwrap();
    for l in &hw.layers {
        let m = l.mvtu().unwrap();
        let HwActivation::Thresholds(t) = &m.activation else {
            panic!("{}: no thresholds", l.name)
        };
        assert!(t.le.iter().any(|&le| le), "{}: no falling channel", l.name);
    }
    let golden = GoldenModel::new(&net).unwrap();
    let mut sim = CycleSim::new(&hw).unwrap();
    let frames = synth::frames_for(&net, 50, 4);
    let run = sim
        .run_frames(frames.view(), Stalls::both(0.2, 5), None)
        .unwrap();
    let len = net.input.shape.len();
    let data = frames.as_slice().unwrap();
    for (f, got) in run.outputs.iter().enumerate() {
        assert_eq!(
            got,
            &golden.infer(&data[f * len..(f + 1) * len]),
            "frame {f}"
        );
    }
}

/// Skipping the ticks of idle blocks (`idle_edge`) changes nothing: random conv nets (window
/// generators, pools, width converters, FIFOs, heads) and dense nets give the same words, the
/// same handshake cycles, the same FIFO occupancies and the same MVTU statistics with and
/// without it, with and without random stalls.
#[test]
fn skipping_idle_blocks_changes_nothing() {
    let limits = synth::RandomLimits {
        max_layers: 4,
        max_features: 40,
        max_image: 9,
        max_bits: 4,
        ..synth::RandomLimits::default()
    };
    for seed in 0..24u64 {
        let spec = if seed % 3 == 0 {
            synth::random_mlp_spec(seed, &limits).to_net_spec()
        } else {
            synth::random_cnn_spec(seed, &limits)
        };
        let mut net = synth::network(&spec, seed);
        crate::passes::lower(&mut net).unwrap();
        let hw = pad::pad(&net).unwrap();
        let mut sim = CycleSim::new(&hw).unwrap();
        let frames = synth::frames_for(&net, 4, seed);
        let mut words = Words::new(sim.input_format().tdata_bits);
        let len = net.input.shape.len();
        let data = frames.as_slice().unwrap();
        for f in 0..4 {
            sim.pack_frame_into(&data[f * len..(f + 1) * len], &mut words)
                .unwrap();
        }
        let expect = 4 * sim.output_format().words_per_frame;
        for st in [Stalls::NONE, Stalls::both(0.4, seed as u32 + 1)] {
            let cfg = RunConfig::new(st, sim.default_timeout(4, &st));
            let p = sim.pipeline_mut();
            p.set_skip_idle(true);
            let fast = p.run(&words, expect, &cfg);
            p.set_skip_idle(false);
            let every = p.run(&words, expect, &cfg);
            p.set_skip_idle(true);
            assert!(
                !every.timed_out && every.outputs.len() == expect,
                "seed {seed}"
            );
            assert_eq!(fast, every, "seed {seed} {st:?}: {spec:?}");
        }
    }
}
