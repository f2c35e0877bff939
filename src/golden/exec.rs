//! Running the stages on one frame (or a group of frames).
//!
//! Everything here is `#[inline(always)]` down to the block kernel, and instantiated once per
//! kernel tier inside a `#[target_feature]` function ([`run`]), so every loop is compiled for the
//! instructions the tier was checked to have.

use super::kernels::{
    copy_bits, pack_planes, plane_bit, planes_of, popcount, read_bits, unpack_planes, BlockKernel,
    Isa, Kernel, Scalar, SCALAR_ROWS,
};
use super::plan::{BlockThresholds, Fmt, MacMatVec, PackedMatVec, Pool, Stage, StageOp};
use crate::datatype::DataType;

/// A tensor between two stages, in one of the two [`Fmt`]s.
#[derive(Default)]
pub(crate) struct Bufs {
    pub vals: Vec<i64>,
    pub words: Vec<u64>,
}

/// Per-thread scratch memory, reused across frames and models.
#[derive(Default)]
pub(crate) struct Workspace {
    /// The current stage's input; after [`run`], the network's output values.
    pub cur: Bufs,
    next: Bufs,
    tmp: Bufs,
    win: Vec<u64>,
    rows: Vec<u64>,
    winv: Vec<i32>,
}

/// What the frame looks like going in.
pub(crate) struct FrameIn {
    pub dtype: DataType,
    pub pixels: usize,
    pub c: usize,
}

/// Frames that go through a dense layer together in batch mode, each weight block loaded once for
/// all of them (AVX-512 tier; the other tiers run them one by one).
pub(crate) const GROUP: usize = 4;

/// Runs `stages` on `frame` (already validated): on return `ws.cur.vals` holds the last stage's
/// output values (the frame itself when there are no stages). With `trace`, every stage's output
/// values are pushed onto it.
pub(crate) fn run(
    isa: Isa,
    stages: &[Stage],
    input: &FrameIn,
    frame: &[i64],
    ws: &mut Workspace,
    trace: Option<&mut Vec<Vec<i64>>>,
) {
    match isa.kernel() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: an `Isa` exists only for kernels the CPU was checked to support.
        Kernel::Avx512 => unsafe { run_avx512(stages, input, frame, ws, trace) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Kernel::Popcnt => unsafe { run_popcnt(stages, input, frame, ws, trace) },
        _ => run_body::<SCALAR_ROWS, Scalar, 1>(stages, input, frame, ws, trace),
    }
}

/// [`run`] for [`GROUP`] frames: on return `wss[f].cur.vals` holds frame `f`'s output values.
pub(crate) fn run_group(
    isa: Isa,
    stages: &[Stage],
    input: &FrameIn,
    frames: [&[i64]; GROUP],
    wss: &mut [Workspace; GROUP],
) {
    match isa.kernel() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: an `Isa` exists only for kernels the CPU was checked to support.
        Kernel::Avx512 => unsafe { run_group_avx512(stages, input, frames, wss) },
        _ => {
            for (frame, ws) in frames.into_iter().zip(wss.iter_mut()) {
                run(isa, stages, input, frame, ws, None);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn run_popcnt(
    stages: &[Stage],
    input: &FrameIn,
    frame: &[i64],
    ws: &mut Workspace,
    trace: Option<&mut Vec<Vec<i64>>>,
) {
    run_body::<SCALAR_ROWS, Scalar, 1>(stages, input, frame, ws, trace)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vpopcntdq,avx2,popcnt")]
unsafe fn run_avx512(
    stages: &[Stage],
    input: &FrameIn,
    frame: &[i64],
    ws: &mut Workspace,
    trace: Option<&mut Vec<Vec<i64>>>,
) {
    use super::kernels::{Avx512, AVX512_ROWS};
    run_body::<AVX512_ROWS, Avx512, GROUP>(stages, input, frame, ws, trace)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vpopcntdq,avx2,popcnt")]
unsafe fn run_group_avx512(
    stages: &[Stage],
    input: &FrameIn,
    frames: [&[i64]; GROUP],
    wss: &mut [Workspace; GROUP],
) {
    use super::kernels::{Avx512, AVX512_ROWS};
    run_group_body::<AVX512_ROWS, Avx512, GROUP>(stages, input, frames, wss)
}

/// Whether every value of `frame` is a value of `dt`.
pub(crate) fn frame_ok(isa: Isa, dt: DataType, frame: &[i64]) -> bool {
    match isa.kernel() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: an `Isa` exists only for kernels the CPU was checked to support.
        Kernel::Avx512 => unsafe { frame_ok_avx512(dt, frame) },
        _ => frame_ok_body(dt, frame),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2")]
unsafe fn frame_ok_avx512(dt: DataType, frame: &[i64]) -> bool {
    frame_ok_body(dt, frame)
}

/// One min/max pass (it vectorizes); bipolar checks |v| = 1.
#[inline(always)]
fn frame_ok_body(dt: DataType, frame: &[i64]) -> bool {
    let min_max = |f: fn(i64) -> i64| {
        frame.iter().fold((i64::MAX, i64::MIN), |(lo, hi), &v| {
            (lo.min(f(v)), hi.max(f(v)))
        })
    };
    let ((lo, hi), (min, max)) = match dt {
        DataType::Bipolar => ((1, 1), min_max(i64::wrapping_abs)),
        _ => ((dt.min(), dt.max()), min_max(|v| v)),
    };
    frame.is_empty() || (min >= lo && max <= hi)
}

/// Puts the frame into `ws.cur` in the first stage's input format.
#[inline(always)]
fn load_frame(stages: &[Stage], input: &FrameIn, frame: &[i64], ws: &mut Workspace) {
    match stages.first().map_or(Fmt::Values, |s| s.in_fmt) {
        Fmt::Values => {
            ws.cur.vals.clear();
            ws.cur.vals.extend_from_slice(frame);
        }
        Fmt::Planes(dt) => {
            debug_assert_eq!(dt, input.dtype);
            pack_planes(frame, input.pixels, input.c, dt, &mut ws.cur.words);
        }
    }
}

/// One stage on one frame: `ws.cur` → `ws.next`. Conv layers compute `F` output pixels per pass
/// over the weights.
#[inline(always)]
fn run_stage<const R: usize, K: BlockKernel<R>, const F: usize>(st: &Stage, ws: &mut Workspace) {
    let out = &mut ws.next;
    match &st.op {
        StageOp::Packed(p) => {
            run_packed::<R, K, F>(p, &ws.cur.words, st.out_fmt, out, &mut ws.win, &mut ws.rows)
        }
        StageOp::Mac(m) => run_mac(m, &ws.cur.vals, st.out_fmt, out, &mut ws.winv),
        StageOp::Depthwise(m) => super::depthwise::run(m, &ws.cur.vals, st.out_fmt, out),
        StageOp::Pool(p) => run_pool(p, st.in_fmt, st.out_fmt, &ws.cur, out, &mut ws.tmp),
        StageOp::GlobalSum(g) => {
            super::gap::run_global_sum(g, st.out_fmt, &ws.cur, out, &mut ws.tmp)
        }
    }
}

#[inline(always)]
fn run_body<const R: usize, K: BlockKernel<R>, const F: usize>(
    stages: &[Stage],
    input: &FrameIn,
    frame: &[i64],
    ws: &mut Workspace,
    mut trace: Option<&mut Vec<Vec<i64>>>,
) {
    load_frame(stages, input, frame, ws);
    for st in stages {
        run_stage::<R, K, F>(st, ws);
        if let Some(t) = trace.as_deref_mut() {
            t.push(values_of(st, &ws.next));
        }
        std::mem::swap(&mut ws.cur, &mut ws.next);
    }
}

#[inline(always)]
fn run_group_body<const R: usize, K: BlockKernel<R>, const F: usize>(
    stages: &[Stage],
    input: &FrameIn,
    frames: [&[i64]; F],
    wss: &mut [Workspace; F],
) {
    for (frame, ws) in frames.into_iter().zip(wss.iter_mut()) {
        load_frame(stages, input, frame, ws);
    }
    for st in stages {
        match &st.op {
            // A dense layer on a flat input: all frames in one pass over the weights.
            StageOp::Packed(p) if p.direct => {
                let mut xs: [&[u64]; F] = [&[]; F];
                let mut outs: [Option<&mut Bufs>; F] = [const { None }; F];
                for (f, ws) in wss.iter_mut().enumerate() {
                    xs[f] = &ws.cur.words;
                    outs[f] = Some(&mut ws.next);
                }
                let outs = outs.map(|o| o.expect("every frame"));
                run_packed_frames::<R, K, F>(p, xs, st.out_fmt, outs);
            }
            _ => {
                for ws in wss.iter_mut() {
                    run_stage::<R, K, F>(st, ws);
                }
            }
        }
        for ws in wss.iter_mut() {
            std::mem::swap(&mut ws.cur, &mut ws.next);
        }
    }
}

/// A stage's output as values, whatever its format.
fn values_of(st: &Stage, b: &Bufs) -> Vec<i64> {
    match st.out_fmt {
        Fmt::Values => b.vals.clone(),
        Fmt::Planes(dt) => {
            let mut v = Vec::new();
            unpack_planes(&b.words, st.out_pixels, st.out_c, dt, &mut v);
            v
        }
    }
}

/// Sizes and zeroes `out` for `pixels × c` elements in `fmt`.
pub(super) fn prepare(fmt: Fmt, pixels: usize, c: usize, out: &mut Bufs) {
    match fmt {
        Fmt::Values => {
            out.vals.clear();
            out.vals.resize(pixels * c, 0);
        }
        Fmt::Planes(dt) => {
            out.words.clear();
            out.words.resize(pixels * planes_of(dt) * c.div_ceil(64), 0);
        }
    }
}

/// Writes value `v` of channel `ch` of pixel `p` (a tensor of `c` channels).
#[inline(always)]
pub(super) fn write_value(fmt: Fmt, out: &mut Bufs, p: usize, ch: usize, c: usize, v: i64) {
    match fmt {
        Fmt::Values => out.vals[p * c + ch] = v,
        Fmt::Planes(dt) => {
            let planes = planes_of(dt);
            let cw = c.div_ceil(64);
            for a in 0..planes {
                out.words[(p * planes + a) * cw + ch / 64] |= plane_bit(dt, v, a) << (ch % 64);
            }
        }
    }
}

/// Gathers the im2col window of output pixel (oy, ox) into `win` (`[plane][nwk]` words): kernel
/// positions in (ky, kx) order with channels innermost, padding positions from the pad pixel.
/// For channel counts that are whole words; see [`gather_from_rows`] for the others.
#[inline(always)]
fn gather_words(st: &PackedMatVec, input: &[u64], oy: usize, ox: usize, win: &mut [u64]) {
    let g = &st.win;
    let (planes, nwk, cw) = (st.in_planes, st.nwk, st.cw_in);
    debug_assert!(g.in_c.is_multiple_of(64) && win.len() == planes * nwk);
    // Every kernel position is `cw` words of the window: no shifting, every word written.
    for ky in 0..g.kh {
        for kx in 0..g.kw {
            let at = (ky * g.kw + kx) * cw;
            let src = match g.source(oy, ox, ky, kx) {
                Some(pix) => &input[pix * planes * cw..][..planes * cw],
                None => &st.pad[..planes * cw],
            };
            for a in 0..planes {
                let dst = &mut win[a * nwk + at..][..cw];
                for (d, &s) in dst.iter_mut().zip(&src[a * cw..][..cw]) {
                    *d = s;
                }
            }
        }
    }
}

/// The input image with its padding border as one bit string per (row, plane): layout
/// `[padded row][plane][rw words]`, pixel `x` of a padded row at bits `x·C ..`. Returns `rw`.
/// A window row is then one contiguous run of `kw·C` bits.
#[inline(always)]
fn build_rows(st: &PackedMatVec, input: &[u64], rows: &mut Vec<u64>) -> usize {
    let g = &st.win;
    let (planes, cw, c) = (st.in_planes, st.cw_in, g.in_c);
    let (hp, wp) = (g.in_h + 2 * g.ph, g.in_w + 2 * g.pw);
    let rw = (wp * c).div_ceil(64);
    rows.clear();
    rows.resize(hp * planes * rw, 0);
    for yp in 0..hp {
        for xp in 0..wp {
            let inside = (g.ph..g.ph + g.in_h).contains(&yp) && (g.pw..g.pw + g.in_w).contains(&xp);
            let src = if inside {
                let pix = (yp - g.ph) * g.in_w + (xp - g.pw);
                &input[pix * planes * cw..][..planes * cw]
            } else {
                &st.pad[..planes * cw]
            };
            for a in 0..planes {
                copy_bits(
                    &mut rows[(yp * planes + a) * rw..][..rw],
                    xp * c,
                    &src[a * cw..],
                    0,
                    c,
                );
            }
        }
    }
    rw
}

/// [`gather_words`] for any channel count, from the rows of [`build_rows`].
#[inline(always)]
fn gather_from_rows(
    st: &PackedMatVec,
    rows: &[u64],
    rw: usize,
    oy: usize,
    ox: usize,
    win: &mut [u64],
) {
    let g = &st.win;
    let (planes, nwk, c) = (st.in_planes, st.nwk, g.in_c);
    let seg = g.kw * c;
    if nwk == 1 {
        // The whole window plane is one word (K ≤ 64, e.g. a 3×3 kernel on 3 channels).
        for (a, w) in win.iter_mut().enumerate() {
            let mut v = 0u64;
            for ky in 0..g.kh {
                let yp = oy * g.sh + ky;
                let row = &rows[(yp * planes + a) * rw..][..rw];
                v |= read_bits(row, ox * g.sw * c, seg) << (ky * seg);
            }
            *w = v;
        }
        return;
    }
    win.fill(0);
    for ky in 0..g.kh {
        let yp = oy * g.sh + ky;
        for a in 0..planes {
            let row = &rows[(yp * planes + a) * rw..][..rw];
            copy_bits(
                &mut win[a * nwk..][..nwk],
                ky * seg,
                row,
                ox * g.sw * c,
                seg,
            );
        }
    }
}

/// Threshold counts of one row block: `#{s : acc ≥ teff[s]}`, or `steps −` that for `≤` rows.
#[inline(always)]
fn threshold_counts<const R: usize>(t: &BlockThresholds, b: usize, acc: &[i32; R]) -> [i32; R] {
    let mut cnt = [0i32; R];
    let te = &t.teff[b * t.steps * R..][..t.steps * R];
    let (te, _) = te.as_chunks::<R>();
    for ts in te {
        for j in 0..R {
            cnt[j] += i32::from(acc[j] >= ts[j]);
        }
    }
    let le: &[i32; R] = t.le[b * R..][..R].try_into().expect("R lanes");
    let steps = t.steps as i32;
    for j in 0..R {
        cnt[j] = if le[j] != 0 { steps - cnt[j] } else { cnt[j] };
    }
    cnt
}

/// `base` of [`PackedMatVec`] for one window.
#[inline(always)]
fn window_base(st: &PackedMatVec, x: &[u64]) -> i32 {
    match &st.base {
        Some((c, ow)) => {
            let nwk = st.nwk;
            let s: i32 = (0..st.in_planes)
                .map(|a| c[a] * popcount(&x[a * nwk..][..nwk]) as i32)
                .sum();
            ow * s
        }
        None => 0,
    }
}

/// Whether a packed layer's outputs are one bit each, equal to the count of its single
/// threshold: the binarized case, where the kernel's compare mask is the output word.
fn one_bit_output(st: &PackedMatVec, out_fmt: Fmt) -> bool {
    matches!(out_fmt, Fmt::Planes(dt) if planes_of(dt) == 1)
        && st
            .act
            .as_ref()
            .is_some_and(|t| t.steps == 1 && t.enc == [0, 1])
}

/// Writes the outputs of row block `b` of pixel `p` from its accumulators.
#[inline(always)]
fn emit_block<const R: usize, K: BlockKernel<R>>(
    st: &PackedMatVec,
    b: usize,
    p: usize,
    acc: K::Acc,
    one_bit: bool,
    out_fmt: Fmt,
    out: &mut Bufs,
) {
    let mh = st.mh;
    let ch0 = b * R;
    let valid = (mh - ch0).min(R);
    let Some(t) = &st.act else {
        // Raw accumulators (always Values: they have no declared datatype).
        // SAFETY: `K` belongs to the tier the caller was compiled for.
        let acc = unsafe { K::to_array(acc) };
        let dst = &mut out.vals[p * mh + ch0..][..valid];
        for (d, &a) in dst.iter_mut().zip(&acc) {
            *d = i64::from(a);
        }
        return;
    };
    if one_bit {
        let te: &[i32; R] = t.teff[b * R..][..R].try_into().expect("R lanes");
        // SAFETY: as above.
        let mut m = unsafe { K::ge_mask(acc, te, t.flip[b]) };
        if valid < 64 {
            m &= (1u64 << valid) - 1;
        }
        out.words[p * mh.div_ceil(64) + ch0 / 64] |= m << (ch0 % 64);
    } else {
        // SAFETY: as above.
        let cnt = threshold_counts::<R>(t, b, &unsafe { K::to_array(acc) });
        for (j, &n) in cnt[..valid].iter().enumerate() {
            write_value(out_fmt, out, p, ch0 + j, mh, t.value[n as usize]);
        }
    }
}

/// The accumulators of row block `b` for `F` windows.
#[inline(always)]
fn block_accs<const R: usize, K: BlockKernel<R>, const F: usize>(
    st: &PackedMatVec,
    b: usize,
    xs: [&[u64]; F],
    base: [i32; F],
) -> [K::Acc; F] {
    let nwk = st.nwk;
    let (wb, _) = st.weights.as_slice().as_chunks::<R>();
    let wblk = &wb[b * nwk..][..nwk];
    let rc: &[i32; R] = st.row_const[b * R..][..R].try_into().expect("R lanes");
    // SAFETY: `K` belongs to the tier the caller was compiled for.
    unsafe {
        if st.xor {
            K::acc_frames::<true, F>(xs, &st.coef, wblk, rc, base)
        } else {
            K::acc_frames::<false, F>(xs, &st.coef, wblk, rc, base)
        }
    }
}

/// A packed layer on one frame; conv layers take `F` output pixels per pass over the weights.
#[inline(always)]
fn run_packed<const R: usize, K: BlockKernel<R>, const F: usize>(
    st: &PackedMatVec,
    input: &[u64],
    out_fmt: Fmt,
    out: &mut Bufs,
    win: &mut Vec<u64>,
    rows: &mut Vec<u64>,
) {
    assert_eq!(st.r, R, "weights packed for another kernel");
    let g = st.win;
    prepare(out_fmt, g.out_pixels(), st.mh, out);
    let one_bit = one_bit_output(st, out_fmt);
    if st.direct {
        let base = window_base(st, input);
        for b in 0..st.nblocks {
            let [acc] = block_accs::<R, K, 1>(st, b, [input], [base]);
            emit_block::<R, K>(st, b, 0, acc, one_bit, out_fmt, out);
        }
        return;
    }
    let wlen = st.in_planes * st.nwk;
    win.clear();
    win.resize(F * wlen, 0);
    let words = g.in_c.is_multiple_of(64);
    let rw = if words {
        0
    } else {
        build_rows(st, input, rows)
    };
    let gather = |q: usize, w: &mut [u64]| {
        if words {
            gather_words(st, input, q / g.out_w, q % g.out_w, w)
        } else {
            gather_from_rows(st, rows, rw, q / g.out_w, q % g.out_w, w)
        }
    };
    let pixels = g.out_pixels();
    let mut p = 0;
    while p + F <= pixels {
        let mut base = [0i32; F];
        for (f, w) in win.chunks_exact_mut(wlen).enumerate() {
            gather(p + f, w);
            base[f] = window_base(st, w);
        }
        let mut xs: [&[u64]; F] = [&[]; F];
        for (x, w) in xs.iter_mut().zip(win.chunks_exact(wlen)) {
            *x = w;
        }
        for b in 0..st.nblocks {
            let accs = block_accs::<R, K, F>(st, b, xs, base);
            for (f, &acc) in accs.iter().enumerate() {
                emit_block::<R, K>(st, b, p + f, acc, one_bit, out_fmt, out);
            }
        }
        p += F;
    }
    for q in p..pixels {
        let w = &mut win[..wlen];
        gather(q, w);
        let base = window_base(st, w);
        for b in 0..st.nblocks {
            let [acc] = block_accs::<R, K, 1>(st, b, [&*w], [base]);
            emit_block::<R, K>(st, b, q, acc, one_bit, out_fmt, out);
        }
    }
}

/// [`run_packed`] of a single-pixel layer (`direct`) for `F` frames at once.
#[inline(always)]
fn run_packed_frames<const R: usize, K: BlockKernel<R>, const F: usize>(
    st: &PackedMatVec,
    xs: [&[u64]; F],
    out_fmt: Fmt,
    outs: [&mut Bufs; F],
) {
    assert_eq!(st.r, R, "weights packed for another kernel");
    assert!(st.direct);
    let mut base = [0i32; F];
    for f in 0..F {
        prepare(out_fmt, 1, st.mh, outs[f]);
        base[f] = window_base(st, xs[f]);
    }
    let one_bit = one_bit_output(st, out_fmt);
    for b in 0..st.nblocks {
        let accs = block_accs::<R, K, F>(st, b, xs, base);
        for f in 0..F {
            emit_block::<R, K>(st, b, 0, accs[f], one_bit, out_fmt, outs[f]);
        }
    }
}

#[inline(always)]
fn run_mac(st: &MacMatVec, input: &[i64], out_fmt: Fmt, out: &mut Bufs, winv: &mut Vec<i32>) {
    let g = st.win;
    let (k, c, mh) = (g.k(), g.in_c, st.mh);
    prepare(out_fmt, g.out_pixels(), mh, out);
    for oy in 0..g.out_h {
        for ox in 0..g.out_w {
            let p = oy * g.out_w + ox;
            winv.clear();
            winv.resize(k, 0);
            for ky in 0..g.kh {
                for kx in 0..g.kw {
                    let dst = &mut winv[(ky * g.kw + kx) * c..][..c];
                    match g.source(oy, ox, ky, kx) {
                        Some(pix) => {
                            for (d, &v) in dst.iter_mut().zip(&input[pix * c..][..c]) {
                                *d = v as i32;
                            }
                        }
                        None => dst.fill(st.pad as i32),
                    }
                }
            }
            for r in 0..mh {
                let wr = &st.weights[r * k..][..k];
                let acc: i64 = if st.wide {
                    wr.iter()
                        .zip(winv.iter())
                        .map(|(&w, &x)| i64::from(w) * i64::from(x))
                        .sum()
                } else {
                    i64::from(
                        wr.iter()
                            .zip(winv.iter())
                            .map(|(&w, &x)| w * x)
                            .sum::<i32>(),
                    )
                };
                let v = match &st.act {
                    None => acc,
                    Some(t) => {
                        let row = &t.t[r * t.steps..][..t.steps];
                        let n = if t.le[r] {
                            row.iter().filter(|&&th| acc <= th).count()
                        } else {
                            row.iter().filter(|&&th| acc >= th).count()
                        };
                        t.value[n]
                    }
                };
                write_value(out_fmt, out, p, r, mh, v);
            }
        }
    }
}

#[inline(always)]
fn run_pool(st: &Pool, in_fmt: Fmt, out_fmt: Fmt, inp: &Bufs, out: &mut Bufs, tmp: &mut Bufs) {
    let g = st.win;
    let c = g.in_c;
    let pixels = g.out_pixels();
    match in_fmt {
        Fmt::Planes(dt) => {
            // One plane (bipolar or binary): the max is the OR of the encodings.
            debug_assert_eq!(planes_of(dt), 1);
            let cw = c.div_ceil(64);
            let dst = if out_fmt == in_fmt {
                &mut out.words
            } else {
                &mut tmp.words
            };
            dst.clear();
            dst.resize(pixels * cw, 0);
            for oy in 0..g.out_h {
                for ox in 0..g.out_w {
                    let d = &mut dst[(oy * g.out_w + ox) * cw..][..cw];
                    for ky in 0..g.kh {
                        for kx in 0..g.kw {
                            let pix = g.source(oy, ox, ky, kx).expect("pool windows fit");
                            for (d, &s) in d.iter_mut().zip(&inp.words[pix * cw..][..cw]) {
                                *d |= s;
                            }
                        }
                    }
                }
            }
            if out_fmt != in_fmt {
                debug_assert_eq!(out_fmt, Fmt::Values);
                unpack_planes(&tmp.words, pixels, c, dt, &mut out.vals);
            }
        }
        Fmt::Values => {
            let dst = if out_fmt == Fmt::Values {
                &mut out.vals
            } else {
                &mut tmp.vals
            };
            dst.clear();
            dst.resize(pixels * c, i64::MIN);
            for oy in 0..g.out_h {
                for ox in 0..g.out_w {
                    let d = &mut dst[(oy * g.out_w + ox) * c..][..c];
                    for ky in 0..g.kh {
                        for kx in 0..g.kw {
                            let pix = g.source(oy, ox, ky, kx).expect("pool windows fit");
                            for (d, &s) in d.iter_mut().zip(&inp.vals[pix * c..][..c]) {
                                *d = (*d).max(s);
                            }
                        }
                    }
                }
            }
            if let Fmt::Planes(dt) = out_fmt {
                pack_planes(&tmp.vals, pixels, c, dt, &mut out.words);
            }
        }
    }
}
