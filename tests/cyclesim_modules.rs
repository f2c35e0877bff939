//! The cycle models of `src/cyclesim/` against Verilator, module by module.
//!
//! Every `hw/` module is Verilator-built once per parameter set with the AXI-Stream harness
//! `sim/axis_tb.cpp` (the MVTU inside `tests/hw/mvtu_tb_top.v`, with its ROMs), then run with
//! several stall settings (none, 0.3 on both sides with two seeds, output-only 0.6, input-only
//! 0.5); the cycle model of the same module gets the same input words and the same stall seed
//! and must produce the same output words at the same handshake cycles, accept every input word
//! at the same cycle, and run the same number of cycles (`tests/common/mod.rs::compare`).
//!
//! Requires verilator (a missing tool fails the test with an installation hint).

mod common;

use bnn_gen::cyclesim::{
    to_hex, Block, Dwc, Fifo, Mvtu, MvtuParams, Pipeline, Pool, PoolParams, RunConfig, Swg,
    SwgParams, TopK, TopkParams, Words,
};
use bnn_gen::passes::window::Window;
use common::*;

// ===========================================================================
// MVTU
// ===========================================================================

fn setb(w: &mut [u64], off: usize, n: usize, v: u64) {
    for i in 0..n {
        let b = (v >> i) & 1;
        let (l, s) = ((off + i) / 64, (off + i) % 64);
        w[l] = (w[l] & !(1u64 << s)) | (b << s);
    }
}

struct MvtuCase {
    params: MvtuParams,
    inputs: Words,
    expect: usize,
    wrom: Vec<Vec<Vec<u64>>>,
    trom: Vec<Vec<Vec<u64>>>,
    /// The output words the accumulator-domain thresholds give (the function of the MVTU).
    outputs: Words,
}

/// Random weights, inputs and thresholds near the reached accumulators (`mvtu_stimulus`, as in
/// `tests/hw_modules.rs`), as ROM images and input words. The threshold words hold `T' = T + 1`
/// for `acc <= T` channels (`docs/mvtu-spec.md`, section 5), as the generator writes them.
fn mvtu_case(c: &MvtuCfg, seed: u32) -> MvtuCase {
    let (nf, sf) = (c.nf(), c.sf());
    let MvtuStim {
        acc_bits,
        tbits,
        obits,
        w,
        xs,
        accs,
        thr,
        dir,
    } = mvtu_stimulus(c, seed);
    let mut inputs = Words::new(c.simd * c.ibits);
    for x in &xs {
        for s in 0..sf {
            let mut word = vec![0u64; (c.simd * c.ibits).div_ceil(64)];
            for l in 0..c.simd {
                setb(&mut word, l * c.ibits, c.ibits, x[s * c.simd + l]);
            }
            inputs.push(&word);
        }
    }
    let tw = c.nsteps * tbits + 1;
    let mut wrom = Vec::new();
    let mut trom = Vec::new();
    for p in 0..c.pe {
        let mut wl = Vec::new();
        for n in 0..nf {
            for s in 0..sf {
                let mut word = vec![0u64; (c.simd * c.wbits).div_ceil(64)];
                for l in 0..c.simd {
                    setb(
                        &mut word,
                        l * c.wbits,
                        c.wbits,
                        w[n * c.pe + p][s * c.simd + l],
                    );
                }
                wl.push(word);
            }
        }
        wrom.push(wl);
        let mut tl = Vec::new();
        for n in 0..nf {
            let r = n * c.pe + p;
            let mut word = vec![0u64; tw.div_ceil(64)];
            // one `acc >= T'` comparator per threshold: T' = T + dir (TBITS = ACC_BITS + 1
            // holds it: the thresholds lie in [acc_lo - 1, acc_hi + 1])
            for (i, &t) in thr[r].iter().enumerate() {
                setb(
                    &mut word,
                    i * tbits,
                    tbits,
                    mask(t + i64::from(dir[r]), tbits),
                );
            }
            setb(&mut word, c.nsteps * tbits, 1, dir[r] as u64);
            tl.push(word);
        }
        trom.push(tl);
    }
    let params = MvtuParams {
        mw: c.mw,
        mh: c.mh,
        pe: c.pe,
        simd: c.simd,
        wbits: c.wbits as u32,
        ibits: c.ibits as u32,
        wtype: c.wtype,
        itype: c.itype,
        acc_bits: acc_bits as u32,
        nsteps: c.nsteps,
        obits: obits as u32,
        tbits: tbits as u32,
        out_bias: c.out_bias,
        xnor_fanin: c.fanin,
    };
    let mut outputs = Words::new(c.pe * obits);
    for acc in &accs {
        for n in 0..nf {
            let mut word = vec![0u64; (c.pe * obits).div_ceil(64)];
            for p in 0..c.pe {
                let (r, a) = (n * c.pe + p, acc[n * c.pe + p]);
                let v = if c.nsteps == 0 {
                    if c.xnor() {
                        2 * a - c.fanin as i64
                    } else {
                        a
                    }
                } else {
                    let hits = thr[r]
                        .iter()
                        .filter(|&&t| if dir[r] { a <= t } else { a >= t })
                        .count();
                    hits as i64 + c.out_bias
                };
                setb(&mut word, p * obits, obits, mask(v, obits));
            }
            outputs.push(&word);
        }
    }
    MvtuCase {
        params,
        inputs,
        expect: c.vectors * nf,
        wrom,
        trom,
        outputs,
    }
}

fn mvtu_configs() -> Vec<MvtuCfg> {
    let base = MvtuCfg {
        name: "",
        mw: 16,
        mh: 8,
        pe: 2,
        simd: 4,
        wbits: 1,
        ibits: 1,
        wtype: 0,
        itype: 0,
        nsteps: 1,
        obits: 1,
        out_bias: 0,
        fanin: 16,
        dirs: false,
        vectors: 24,
    };
    vec![
        // W1A1 XNOR-popcount with thresholds
        MvtuCfg {
            name: "w1a1_thr",
            ..base.clone()
        },
        // W1A1 without activation (2P - K), padded fan-in K = 17 of MW = 20
        MvtuCfg {
            name: "w1a1_noact_pad",
            mw: 20,
            mh: 4,
            pe: 2,
            simd: 4,
            nsteps: 0,
            fanin: 17,
            ..base.clone()
        },
        // W2A2: signed 2-bit weights, unsigned 2-bit inputs, 3 thresholds, both directions
        MvtuCfg {
            name: "w2a2_dir",
            pe: 4,
            simd: 2,
            wbits: 2,
            ibits: 2,
            wtype: 2,
            itype: 1,
            nsteps: 3,
            obits: 2,
            dirs: true,
            ..base.clone()
        },
        // bipolar weights x uint8 inputs (first-layer style), SF = 9
        MvtuCfg {
            name: "bip_x_u8_thr",
            mw: 27,
            mh: 8,
            pe: 4,
            simd: 3,
            ibits: 8,
            itype: 1,
            ..base.clone()
        },
        // bipolar x uint8 without activation, NF = SF = 1, 72-bit input and 84-bit output words
        MvtuCfg {
            name: "bip_x_u8_noact_wide",
            mw: 18,
            mh: 6,
            pe: 6,
            simd: 9,
            ibits: 8,
            itype: 1,
            nsteps: 0,
            ..base.clone()
        },
        // PE = 1, SIMD = 1
        MvtuCfg {
            name: "w1a1_pe1_simd1",
            mw: 6,
            mh: 3,
            pe: 1,
            simd: 1,
            fanin: 6,
            ..base.clone()
        },
        // non-power-of-two folding PE = 3, SIMD = 5, W4A4 (signed x unsigned), 15 thresholds
        MvtuCfg {
            name: "w4a4_pe3_simd5",
            mw: 15,
            mh: 9,
            pe: 3,
            simd: 5,
            wbits: 4,
            ibits: 4,
            wtype: 2,
            itype: 1,
            nsteps: 15,
            obits: 4,
            dirs: true,
            ..base.clone()
        },
        // W4A4 signed x signed, int4 output (bias -8), NF = 1 with SF = 2
        MvtuCfg {
            name: "w4a4_signed_out_nf1",
            mw: 8,
            mh: 2,
            pe: 2,
            simd: 4,
            wbits: 4,
            ibits: 4,
            wtype: 2,
            itype: 2,
            nsteps: 15,
            obits: 4,
            out_bias: -8,
            ..base
        },
    ]
}

fn mvtu_job(c: MvtuCfg) -> Result<(), String> {
    let dir = work_dir("mvtu", c.name);
    let case = mvtu_case(&c, 0xC0FFEE ^ (c.name.len() as u32 * 7919));
    let p = &case.params;
    for (i, w) in case.wrom.iter().enumerate() {
        write_mem(&dir.join(format!("w{i:03}.mem")), w, p.wrom_bits());
    }
    if p.nsteps > 0 {
        for (i, t) in case.trom.iter().enumerate() {
            write_mem(&dir.join(format!("t{i:03}.mem")), t, p.trom_bits());
        }
    }
    let params = vec![
        param("MW", p.mw),
        param("MH", p.mh),
        param("PE", p.pe),
        param("SIMD", p.simd),
        param("WBITS", p.wbits),
        param("IBITS", p.ibits),
        param("WTYPE", p.wtype),
        param("ITYPE", p.itype),
        param("ACC_BITS", p.acc_bits),
        param("NSTEPS", p.nsteps),
        param("OBITS", p.obits),
        param("TBITS", p.tbits),
        param("OUT_BIAS", p.out_bias),
        param("XNOR_FANIN", p.xnor_fanin),
        param("MEM_DIR", format!("\"{}\"", dir.display())),
    ];
    let mut srcs = vec![root()
        .join("tests/hw/mvtu_tb_top.v")
        .to_string_lossy()
        .into_owned()];
    for f in [
        "bnn_mvtu.v",
        "bnn_dot.v",
        "bnn_addtree.v",
        "bnn_thresh.v",
        "bnn_resize.v",
        "bnn_rom.v",
    ] {
        srcs.push(hw(f));
    }
    let exe = build(
        &dir,
        "mvtu_tb_top",
        &srcs,
        &params,
        p.in_bits(),
        p.out_bits(),
    )?;
    let m = Mvtu::new(p, &case.wrom, &case.trom)?;
    let mut sim = Pipeline::single(Block::Mvtu(Box::new(m)), p.in_bits(), p.out_bits());
    let timeout = (case.inputs.len() as u64 * p.nf() as u64 + 100) * 20;
    for s in STALLS {
        let cfg = RunConfig {
            stalls: stalls(s),
            timeout,
            extra: 24,
        };
        let r = compare(
            c.name,
            &exe,
            &dir,
            &dir,
            &mut sim,
            &case.inputs,
            case.expect,
            &cfg,
            case.expect,
        )?;
        if r.outputs != case.outputs {
            return Err(format!(
                "{}: the output words differ from the thresholds' function",
                c.name
            ));
        }
    }
    // back-pressure: the consumer never takes a word (the queue and pipeline fill, then freeze)
    let cfg = RunConfig {
        stalls: stalls((3, 0.0, 1.0)),
        timeout: 200,
        extra: 0,
    };
    compare(
        c.name,
        &exe,
        &dir,
        &dir,
        &mut sim,
        &case.inputs,
        case.expect,
        &cfg,
        0,
    )?;
    Ok(())
}

#[test]
fn mvtu_matches_verilator() {
    require("verilator");
    let jobs: Vec<(String, Job)> = mvtu_configs()
        .into_iter()
        .map(|c| (c.name.to_string(), Box::new(move || mvtu_job(c)) as Job))
        .collect();
    run_jobs("bnn_mvtu vs cycle model", jobs);
}

// ===========================================================================
// FIFO
// ===========================================================================

fn random_words(rng: &mut Rng, bits: usize, n: usize) -> Words {
    let mut w = Words::new(bits);
    for _ in 0..n {
        w.push(&rng.word(bits));
    }
    w
}

fn fifo_job(width: usize, depth: usize) -> Result<(), String> {
    let name = format!("fifo_w{width}_d{depth}");
    let dir = work_dir("fifo", &name);
    let exe = build(
        &dir,
        "bnn_fifo",
        &[hw("bnn_fifo.v")],
        &[param("WIDTH", width), param("DEPTH", depth)],
        width,
        width,
    )?;
    let mut rng = Rng::new(width as u32 * 31 + depth as u32);
    let words = random_words(&mut rng, width, 300);
    let mut sim = Pipeline::single(Block::Fifo(Fifo::new(width, depth)?), width, width);
    for s in STALLS {
        let cfg = RunConfig {
            stalls: stalls(s),
            timeout: 100_000,
            extra: 16,
        };
        let r = compare(
            &name,
            &exe,
            &dir,
            &dir,
            &mut sim,
            &words,
            words.len(),
            &cfg,
            words.len(),
        )?;
        if r.outputs != words {
            return Err(format!("{name}: the FIFO changed the data"));
        }
    }
    // capacity: the consumer never takes a word, exactly DEPTH are accepted, then a timeout
    let cfg = RunConfig {
        stalls: stalls((5, 0.0, 1.0)),
        timeout: depth as u64 + 40,
        extra: 0,
    };
    let r = compare(&name, &exe, &dir, &dir, &mut sim, &words, 1, &cfg, 0)?;
    if r.in_cycles.len() != depth || r.fifos[0].max_occupancy != depth {
        return Err(format!(
            "{name}: capacity {} / occupancy {}",
            r.in_cycles.len(),
            r.fifos[0].max_occupancy
        ));
    }
    Ok(())
}

#[test]
fn fifo_matches_verilator() {
    require("verilator");
    let jobs: Vec<(String, Job)> = [(8usize, 2usize), (70, 5)]
        .into_iter()
        .map(|(w, d)| {
            (
                format!("fifo w{w} d{d}"),
                Box::new(move || fifo_job(w, d)) as Job,
            )
        })
        .collect();
    run_jobs("bnn_fifo vs cycle model", jobs);
}

// ===========================================================================
// data-width converter
// ===========================================================================

fn dwc_job(ib: usize, ob: usize) -> Result<(), String> {
    let name = format!("dwc_{ib}_to_{ob}");
    let dir = work_dir("dwc", &name);
    let exe = build(
        &dir,
        "bnn_dwc",
        &[hw("bnn_dwc.v")],
        &[param("IN_BITS", ib), param("OUT_BITS", ob)],
        ib,
        ob,
    )?;
    let g = {
        let (mut a, mut b) = (ib, ob);
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    };
    let lcm = ib / g * ob;
    let total = (60 * ib.max(ob)).div_ceil(lcm).max(2) * lcm;
    let mut rng = Rng::new((ib * 1000 + ob) as u32);
    let stream: Vec<u64> = (0..total).map(|_| rng.bits(1)).collect();
    let chunk = |w: usize| {
        let mut out = Words::new(w);
        for c in stream.chunks(w) {
            let mut word = vec![0u64; w.div_ceil(64)];
            for (i, &b) in c.iter().enumerate() {
                setb(&mut word, i, 1, b);
            }
            out.push(&word);
        }
        out
    };
    let (inputs, expected) = (chunk(ib), chunk(ob));
    // equal widths: bnn_dwc is wires, the model a pipeline without blocks
    let mut sim = Pipeline::new(ib, ob);
    if ib != ob {
        sim.push("dut", Block::Dwc(Dwc::new(ib, ob)?));
    }
    for s in STALLS {
        let cfg = RunConfig {
            stalls: stalls(s),
            timeout: 100_000,
            extra: 16,
        };
        let r = compare(
            &name,
            &exe,
            &dir,
            &dir,
            &mut sim,
            &inputs,
            expected.len(),
            &cfg,
            expected.len(),
        )?;
        if r.outputs != expected {
            return Err(format!("{name}: the converter changed the bit stream"));
        }
    }
    Ok(())
}

#[test]
fn dwc_matches_verilator() {
    require("verilator");
    // up (K = 4), down (K = 4), general (48 -> 32, 3 -> 5), pass-through
    let jobs: Vec<(String, Job)> = [
        (8usize, 32usize),
        (32, 8),
        (48, 32),
        (3, 5),
        (130, 26),
        (16, 16),
    ]
    .into_iter()
    .map(|(i, o)| {
        (
            format!("dwc {i}->{o}"),
            Box::new(move || dwc_job(i, o)) as Job,
        )
    })
    .collect();
    run_jobs("bnn_dwc vs cycle model", jobs);
}

// ===========================================================================
// top-k
// ===========================================================================

fn topk_job(p: TopkParams) -> Result<(), String> {
    let name = format!(
        "topk_n{}_e{}_b{}_{}_k{}",
        p.n,
        p.elems,
        p.elem_bits,
        if p.signed { "s" } else { "u" },
        p.k
    );
    let dir = work_dir("topk", &name);
    let ebits = p.elem_bits as usize;
    let exe = build(
        &dir,
        "bnn_topk",
        &[hw("bnn_topk.v"), hw("bnn_topk_merge.v"), hw("bnn_resize.v")],
        &[
            param("N", p.n),
            param("ELEMS", p.elems),
            param("ELEM_BITS", p.elem_bits),
            param("SIGNED", p.signed as u32),
            param("K", p.k),
            param("IDX_BITS", p.idx_bits),
        ],
        p.elems * ebits,
        p.idx_bits,
    )?;
    let nw = p.n.div_ceil(p.elems);
    let nv = 40;
    let mut rng = Rng::new((p.n * 100 + p.elems * 10 + p.k) as u32);
    let mut inputs = Words::new(p.elems * ebits);
    for v in 0..nv {
        // narrow value ranges give many ties
        let spread: u64 = if v % 3 == 0 { 2 } else { 1 << ebits };
        for _ in 0..nw {
            let mut word = vec![0u64; (p.elems * ebits).div_ceil(64)];
            for e in 0..p.elems {
                setb(&mut word, e * ebits, ebits, rng.below(spread));
            }
            inputs.push(&word);
        }
    }
    let expect = nv * p.k;
    let mut sim = Pipeline::single(Block::TopK(TopK::new(&p)?), p.elems * ebits, p.idx_bits);
    for s in STALLS {
        let cfg = RunConfig {
            stalls: stalls(s),
            timeout: 100_000,
            extra: 16,
        };
        compare(
            &name, &exe, &dir, &dir, &mut sim, &inputs, expect, &cfg, expect,
        )?;
    }
    Ok(())
}

#[test]
fn topk_matches_verilator() {
    require("verilator");
    let cfgs = [
        TopkParams {
            n: 10,
            elems: 1,
            elem_bits: 8,
            signed: true,
            k: 1,
            idx_bits: 8,
        },
        TopkParams {
            n: 10,
            elems: 4,
            elem_bits: 4,
            signed: false,
            k: 3,
            idx_bits: 8,
        },
        TopkParams {
            n: 7,
            elems: 8,
            elem_bits: 5,
            signed: true,
            k: 7,
            idx_bits: 3,
        },
        TopkParams {
            n: 10,
            elems: 10,
            elem_bits: 16,
            signed: true,
            k: 1,
            idx_bits: 8,
        },
        TopkParams {
            n: 11,
            elems: 3,
            elem_bits: 4,
            signed: true,
            k: 4,
            idx_bits: 5,
        },
    ];
    let jobs: Vec<(String, Job)> = cfgs
        .into_iter()
        .map(|p| (format!("topk {p:?}"), Box::new(move || topk_job(p)) as Job))
        .collect();
    run_jobs("bnn_topk vs cycle model", jobs);
}

// ===========================================================================
// sliding-window generator
// ===========================================================================

/// One `bnn_swg` configuration: geometry, word width, frames, extra buffer words over
/// `Window::depth()`.
struct SwgCfg {
    name: &'static str,
    window: Window,
    wbits: usize,
    frames: usize,
    extra_depth: usize,
}

#[allow(clippy::too_many_arguments)]
fn swg_cfg(
    name: &'static str,
    (ih, iw, cw): (usize, usize, usize),
    (kh, kw): (usize, usize),
    (sh, sw): (usize, usize),
    (ph, pw): (usize, usize),
    wbits: usize,
    frames: usize,
    extra_depth: usize,
) -> SwgCfg {
    SwgCfg {
        name,
        window: Window {
            ih,
            iw,
            cw,
            kh,
            kw,
            sh,
            sw,
            ph,
            pw,
        },
        wbits,
        frames,
        extra_depth,
    }
}

fn swg_job(c: SwgCfg) -> Result<(), String> {
    let w = c.window;
    let dir = work_dir("swg", c.name);
    let mut rng = Rng::new(0x5A6 ^ (c.name.len() as u32 * 7919) ^ c.wbits as u32);
    let pad = rng.word(w.cw * c.wbits);
    let p = SwgParams {
        window: w,
        wbits: c.wbits,
        depth: w.depth() + c.extra_depth,
        pad: pad.clone(),
        depthwise: false,
    };
    let exe = build(
        &dir,
        "bnn_swg",
        &[hw("bnn_swg.v")],
        &[
            param("IH", w.ih),
            param("IW", w.iw),
            param("CW", w.cw),
            param("WBITS", c.wbits),
            param("KH", w.kh),
            param("KW", w.kw),
            param("SH", w.sh),
            param("SW", w.sw),
            param("PH", w.ph),
            param("PW", w.pw),
            param("DEPTH", p.depth),
            param(
                "PAD",
                format!("{}'h{}", w.cw * c.wbits, to_hex(&pad, w.cw * c.wbits)),
            ),
        ],
        c.wbits,
        c.wbits,
    )?;
    let inputs = random_words(&mut rng, c.wbits, c.frames * w.frame_words());
    let expect = c.frames * w.out_words();
    let mut sim = Pipeline::single(Block::Swg(Box::new(Swg::new(&p)?)), c.wbits, c.wbits);
    let timeout = (inputs.len() + expect) as u64 * 20 + 1000;
    for s in STALLS {
        let cfg = RunConfig {
            stalls: stalls(s),
            timeout,
            extra: 16,
        };
        compare(
            c.name, &exe, &dir, &dir, &mut sim, &inputs, expect, &cfg, expect,
        )?;
    }
    // back-pressure: the consumer never takes a word
    let cfg = RunConfig {
        stalls: stalls((3, 0.0, 1.0)),
        timeout: p.depth as u64 + 60,
        extra: 0,
    };
    compare(c.name, &exe, &dir, &dir, &mut sim, &inputs, expect, &cfg, 0)?;
    Ok(())
}

#[test]
fn swg_matches_verilog() {
    require("verilator");
    let cfgs = vec![
        // 3x3 stride 1 pad 1 (conv), CW 2, 3 frames
        swg_cfg("k3s1p1_cw2", (5, 7, 2), (3, 3), (1, 1), (1, 1), 8, 3, 0),
        // 2x2 stride 2 (pooling), no padding, binary words
        swg_cfg("k2s2_pool", (6, 6, 1), (2, 2), (2, 2), (0, 0), 1, 4, 0),
        // non-square kernel and stride, PH != PW, unused last row, a deeper buffer than needed
        swg_cfg(
            "k3x2_s2x1_p1x0",
            (7, 5, 3),
            (3, 2),
            (2, 1),
            (1, 0),
            12,
            2,
            3,
        ),
        // 1xN image
        swg_cfg("row_1x9", (1, 9, 1), (1, 3), (1, 2), (0, 1), 4, 4, 0),
        // stride > kernel: skipped rows and columns, with left/right padding
        swg_cfg("k1x2_s3_p0x1", (8, 6, 2), (1, 2), (3, 3), (0, 1), 5, 3, 0),
        // 5x5 pad 2, 70-bit words (two limbs)
        swg_cfg("k5p2_wide", (4, 4, 1), (5, 5), (1, 1), (2, 2), 70, 2, 0),
        // stride 3x2 with padding 2x1
        swg_cfg("k3s3x2_p2x1", (9, 9, 2), (3, 3), (3, 2), (2, 1), 3, 2, 0),
        // whole windows in padding (PH >= KH), 1-pixel-wide image
        swg_cfg("padrows_iw1", (6, 1, 2), (2, 1), (3, 2), (2, 0), 6, 3, 0),
    ];
    let jobs: Vec<(String, Job)> = cfgs
        .into_iter()
        .map(|c| (c.name.to_string(), Box::new(move || swg_job(c)) as Job))
        .collect();
    run_jobs("bnn_swg vs cycle model", jobs);
}

// ===========================================================================
// max pool
// ===========================================================================

fn pool_job(p: PoolParams, pixels: usize) -> Result<(), String> {
    let name = format!(
        "pool_cw{}_l{}_e{}_{}_kk{}",
        p.cw,
        p.lanes,
        p.ebits,
        if p.signed { "s" } else { "u" },
        p.kk
    );
    let dir = work_dir("pool", &name);
    let bits = p.bits();
    let exe = build(
        &dir,
        "bnn_pool",
        &[hw("bnn_pool.v")],
        &[
            param("CW", p.cw),
            param("LANES", p.lanes),
            param("EBITS", p.ebits),
            param("SIGNED", p.signed as u32),
            param("KK", p.kk),
        ],
        bits,
        bits,
    )?;
    let mut rng = Rng::new((p.cw * 1000 + p.lanes * 100 + p.ebits * 10 + p.kk) as u32);
    let mut inputs = Words::new(bits);
    for _ in 0..pixels * p.kk * p.cw {
        // few distinct values half of the time: ties, -1 / 0 / 1
        let mut word = vec![0u64; bits.div_ceil(64)];
        for l in 0..p.lanes {
            let v = if rng.below(2) == 0 {
                rng.below(3).wrapping_sub(1)
            } else {
                rng.bits(p.ebits)
            };
            setb(&mut word, l * p.ebits, p.ebits, v);
        }
        inputs.push(&word);
    }
    let expect = pixels * p.cw;
    let mut sim = Pipeline::single(Block::Pool(Pool::new(&p)?), bits, bits);
    for s in STALLS {
        let cfg = RunConfig {
            stalls: stalls(s),
            timeout: 100_000,
            extra: 16,
        };
        compare(
            &name, &exe, &dir, &dir, &mut sim, &inputs, expect, &cfg, expect,
        )?;
    }
    let cfg = RunConfig {
        stalls: stalls((3, 0.0, 1.0)),
        timeout: 100,
        extra: 0,
    };
    compare(&name, &exe, &dir, &dir, &mut sim, &inputs, expect, &cfg, 0)?;
    Ok(())
}

#[test]
fn pool_matches_verilog() {
    require("verilator");
    let pp = |cw, lanes, ebits, signed, kk| PoolParams {
        cw,
        lanes,
        ebits,
        signed,
        kk,
    };
    let cfgs = [
        // binary 2x2 max pool (OR), 2 words per pixel
        (pp(2, 4, 1, false, 4), 40),
        // 1-bit signed (AND), 3x3
        (pp(1, 8, 1, true, 9), 30),
        // signed 3-bit, odd sizes, CW 3, KK 6
        (pp(3, 5, 3, true, 6), 20),
        // KK = 1: a pass-through with the queue
        (pp(2, 2, 8, false, 1), 60),
        // 99-bit words (two limbs), unsigned 33-bit lanes
        (pp(1, 3, 33, false, 2), 50),
    ];
    let jobs: Vec<(String, Job)> = cfgs
        .into_iter()
        .map(|(p, n)| {
            (
                format!("pool {p:?}"),
                Box::new(move || pool_job(p, n)) as Job,
            )
        })
        .collect();
    run_jobs("bnn_pool vs cycle model", jobs);
}
