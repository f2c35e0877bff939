//! Turning a lowered [`Network`] into executable stages: checks every shape and value the kernels
//! rely on, picks each layer's arithmetic path and the format of the data between layers, and
//! packs the weights and thresholds.

use super::kernels::{plane_bit, planes_of, AlignedWords, Isa};
use crate::datatype::DataType;
use crate::ir::{self, Activation, Compare, Layer, Network, Op, Shape, TensorType, ValueType};
use crate::{Error, Result};

/// How a tensor is held between two stages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fmt {
    /// One `i64` per element, NHWC.
    Values,
    /// The bit planes of the datatype's encoding: `[pixel][plane][⌈C/64⌉ words]`, padding bits 0.
    Planes(DataType),
}

/// A sliding-window sweep over an NHWC image. Dense layers are the window that covers the whole
/// input (so the window is the NHWC flatten, in order).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    pub in_h: usize,
    pub in_w: usize,
    pub in_c: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub ph: usize,
    pub pw: usize,
    pub out_h: usize,
    pub out_w: usize,
}

impl Window {
    /// The input pixel under kernel position (ky, kx) of output pixel (oy, ox), `None` in padding.
    #[inline(always)]
    pub fn source(&self, oy: usize, ox: usize, ky: usize, kx: usize) -> Option<usize> {
        let iy = (oy * self.sh + ky).checked_sub(self.ph)?;
        let ix = (ox * self.sw + kx).checked_sub(self.pw)?;
        (iy < self.in_h && ix < self.in_w).then(|| iy * self.in_w + ix)
    }

    pub fn out_pixels(&self) -> usize {
        self.out_h * self.out_w
    }

    /// Fan-in of one window.
    pub fn k(&self) -> usize {
        self.kh * self.kw * self.in_c
    }
}

/// Threshold activation of a packed layer, laid out per row block for vector compares.
pub(crate) struct BlockThresholds {
    pub steps: usize,
    /// `[block][step][R]`: a row's output counts the steps with `acc ≥ teff`.
    pub teff: Vec<i32>,
    /// `[block][R]`: 1 where the channel compares `≤` (count = steps − #{acc ≥ teff}).
    pub le: Vec<i32>,
    /// `[block]`: the same as a bit mask (bit j = row j compares `≤`).
    pub flip: Vec<u64>,
    /// Output value for each count `0..=steps`, and its encoding.
    pub value: Vec<i64>,
    pub enc: Vec<u64>,
}

/// A dense/conv layer computed with popcounts: 1-bit weights (bipolar or binary) and any input
/// datatype, split into bit planes. With plane coefficients `c_a` and input offset `ox`
/// (`x = Σ c_a·X_a + ox`) and weights `w = d·W + ow`:
///
/// `acc = row_const + base + Σ_a coef_a · popcount(X_a OP W)`
///
/// - bipolar × bipolar (OP = XOR): `acc = K − 2·popcount(X ^ W)`: coef `[-2]`, row_const `K`.
/// - otherwise (OP = AND): coef_a = `d·c_a`, base = `ow·Σ_a c_a·popcount(X_a)` per window,
///   row_const = `ox·(d·popcount(W_row) + ow·K)`.
pub(crate) struct PackedMatVec {
    pub win: Window,
    pub in_dtype: DataType,
    pub in_planes: usize,
    /// Words per input pixel plane.
    pub cw_in: usize,
    /// Words per window plane: ⌈K/64⌉.
    pub nwk: usize,
    /// The padding pixel's planes, `[plane][cw_in]`.
    pub pad: Vec<u64>,
    /// The window is the whole single-pixel input: no gather needed.
    pub direct: bool,
    pub mh: usize,
    pub r: usize,
    pub nblocks: usize,
    /// `[block][word][R]`, 64-byte aligned.
    pub weights: AlignedWords,
    pub xor: bool,
    pub coef: Vec<i32>,
    /// `(c_a, ow)` when the per-window base term is needed.
    pub base: Option<(Vec<i32>, i32)>,
    /// `[block·R]`.
    pub row_const: Vec<i32>,
    /// `None`: raw accumulators.
    pub act: Option<BlockThresholds>,
}

/// Row-wise threshold activation (generic path).
pub(crate) struct RowThresholds {
    pub steps: usize,
    /// `[row][step]`, clamped into the accumulator range ±1.
    pub t: Vec<i64>,
    pub le: Vec<bool>,
    pub value: Vec<i64>,
}

/// A dense/conv layer computed with plain multiply-accumulate (multi-bit weights, or accumulators
/// too wide for the popcount paths).
pub(crate) struct MacMatVec {
    pub win: Window,
    pub mh: usize,
    pub pad: i64,
    /// `[row][K]`.
    pub weights: Vec<i32>,
    /// Accumulate in i64 (the accumulator range does not fit in i32).
    pub wide: bool,
    pub act: Option<RowThresholds>,
}

pub(crate) struct Pool {
    pub win: Window,
}

pub(crate) enum StageOp {
    Packed(PackedMatVec),
    Mac(MacMatVec),
    /// A depthwise convolution (`golden::depthwise`): `weights` `[C][KH·KW]`, `mh = C`.
    Depthwise(MacMatVec),
    Pool(Pool),
    GlobalSum(super::gap::GlobalSum),
}

pub(crate) struct Stage {
    pub op: StageOp,
    pub in_fmt: Fmt,
    pub out_fmt: Fmt,
    pub out_pixels: usize,
    pub out_c: usize,
}

pub(super) fn hw(s: Shape) -> (usize, usize, usize) {
    match s {
        Shape::Flat(c) => (1, 1, c),
        Shape::Image { h, w, c } => (h, w, c),
    }
}

pub(super) fn loc(i: usize, l: &Layer) -> String {
    format!("layer {i} (\"{}\")", l.name)
}

/// Input plane coefficients `c_a` and offset `ox`: `x = Σ c_a·X_a + ox`.
fn plane_coefs(dt: DataType) -> (Vec<i32>, i32) {
    match dt {
        DataType::Bipolar => (vec![2], -1),
        DataType::UInt(n) => ((0..n).map(|a| 1i32 << a).collect(), 0),
        DataType::Int(_) | DataType::Ternary => {
            let n = dt.bits();
            let mut c: Vec<i32> = (0..n).map(|a| 1i32 << a).collect();
            c[n as usize - 1] = -(1i32 << (n - 1));
            (c, 0)
        }
    }
}

/// Builds the stages of `net` for kernel tier `isa`.
pub(crate) fn plan(net: &Network, isa: Isa) -> Result<Vec<Stage>> {
    if net.input.dtype.as_data().is_none() {
        return Err(Error::invalid(
            "network input",
            "the input must have a declared datatype, not raw accumulators",
        ));
    }
    let mut prev: TensorType = net.input;
    let mut ops = Vec::with_capacity(net.layers.len());
    for (i, layer) in net.layers.iter().enumerate() {
        if layer.input != prev {
            return Err(Error::invalid(
                loc(i, layer),
                format!(
                    "input type {} {} does not match the previous output {} {}",
                    layer.input.shape, layer.input.dtype, prev.shape, prev.dtype
                ),
            ));
        }
        let op = match &layer.op {
            Op::MatVec(m) => plan_matvec(i, layer, m, isa)?,
            Op::Depthwise(m) => super::depthwise::plan(i, layer, m)?,
            Op::MaxPool(p) => plan_pool(i, layer, p)?,
            Op::GlobalAvgPool(g) => {
                StageOp::GlobalSum(super::gap::plan_global_sum(&loc(i, layer), layer, g)?)
            }
        };
        ops.push(op);
        prev = layer.output;
    }
    if let Some(head) = net.head {
        let n = prev.shape.len();
        if head.k == 0 || head.k > n {
            return Err(Error::invalid(
                "head",
                format!(
                    "top-k needs 1 <= k <= {n} (the outputs of the last layer), found k = {}",
                    head.k
                ),
            ));
        }
    }

    // Formats: each stage takes what its arithmetic wants; each producer writes that.
    let in_fmts: Vec<Fmt> = ops
        .iter()
        .zip(&net.layers)
        .map(|(op, l)| match op {
            StageOp::Packed(p) => Fmt::Planes(p.in_dtype),
            StageOp::Mac(_) | StageOp::Depthwise(_) | StageOp::GlobalSum(_) => Fmt::Values,
            StageOp::Pool(_) => match l.input.dtype {
                ValueType::Data(d @ (DataType::Bipolar | DataType::UInt(1))) => Fmt::Planes(d),
                _ => Fmt::Values,
            },
        })
        .collect();
    Ok(ops
        .into_iter()
        .zip(&net.layers)
        .enumerate()
        .map(|(i, (op, l))| Stage {
            op,
            in_fmt: in_fmts[i],
            out_fmt: in_fmts.get(i + 1).copied().unwrap_or(Fmt::Values),
            out_pixels: l.output.shape.pixels(),
            out_c: l.output.shape.channels(),
        })
        .collect())
}

fn plan_pool(i: usize, layer: &Layer, p: &ir::MaxPool) -> Result<StageOp> {
    let Shape::Image { h, w, c } = layer.input.shape else {
        return Err(Error::invalid(
            loc(i, layer),
            "max-pool needs an image input [H, W, C]",
        ));
    };
    let (oh, ow) = match (
        ir::window_out(h, p.kernel[0], p.stride[0], 0),
        ir::window_out(w, p.kernel[1], p.stride[1], 0),
    ) {
        (Some(a), Some(b)) => (a, b),
        _ => {
            return Err(Error::invalid(
                loc(i, layer),
                format!(
                    "max-pool window {:?} stride {:?} does not fit the {h}x{w} input",
                    p.kernel, p.stride
                ),
            ))
        }
    };
    let want = Shape::Image { h: oh, w: ow, c };
    if layer.output.shape != want || layer.output.dtype != layer.input.dtype {
        return Err(Error::invalid(
            loc(i, layer),
            format!(
                "max-pool output should be {want} {}, found {} {}",
                layer.input.dtype, layer.output.shape, layer.output.dtype
            ),
        ));
    }
    Ok(StageOp::Pool(Pool {
        win: Window {
            in_h: h,
            in_w: w,
            in_c: c,
            kh: p.kernel[0],
            kw: p.kernel[1],
            sh: p.stride[0],
            sw: p.stride[1],
            ph: 0,
            pw: 0,
            out_h: oh,
            out_w: ow,
        },
    }))
}

fn plan_matvec(i: usize, layer: &Layer, m: &ir::MatVec, isa: Isa) -> Result<StageOp> {
    let at = loc(i, layer);
    let in_dt = layer.input.dtype.as_data().ok_or_else(|| {
        Error::Unsupported(format!(
            "{at}: its input is raw accumulators ({}); a dense/conv layer needs a declared input \
             datatype",
            layer.input.dtype
        ))
    })?;
    if let Activation::BatchNorm(_) = m.activation {
        return Err(Error::Unsupported(format!(
            "{at}: the golden model runs lowered networks only, and this layer still has a float \
             batch-norm activation; run `passes::lower` on the network first"
        )));
    }
    let (h, w, c) = hw(layer.input.shape);
    let win = match m.conv {
        None => Window {
            in_h: h,
            in_w: w,
            in_c: c,
            kh: h,
            kw: w,
            sh: 1,
            sw: 1,
            ph: 0,
            pw: 0,
            out_h: 1,
            out_w: 1,
        },
        Some(g) => {
            if !matches!(layer.input.shape, Shape::Image { .. }) {
                return Err(Error::invalid(
                    &at,
                    "a convolution needs an image input [H, W, C]",
                ));
            }
            let (oh, ow) = match (
                ir::window_out(h, g.kernel[0], g.stride[0], g.padding[0]),
                ir::window_out(w, g.kernel[1], g.stride[1], g.padding[1]),
            ) {
                (Some(a), Some(b)) => (a, b),
                _ => {
                    return Err(Error::invalid(
                        &at,
                        format!(
                            "kernel {:?} stride {:?} padding {:?} does not fit the {h}x{w} input",
                            g.kernel, g.stride, g.padding
                        ),
                    ))
                }
            };
            if (g.padding[0] > 0 || g.padding[1] > 0) && !in_dt.contains(g.pad_value) {
                return Err(Error::invalid(
                    &at,
                    format!(
                        "pad_value {} is not a value of the input datatype {in_dt}",
                        g.pad_value
                    ),
                ));
            }
            Window {
                in_h: h,
                in_w: w,
                in_c: c,
                kh: g.kernel[0],
                kw: g.kernel[1],
                sh: g.stride[0],
                sw: g.stride[1],
                ph: g.padding[0],
                pw: g.padding[1],
                out_h: oh,
                out_w: ow,
            }
        }
    };
    let k = win.k();
    let mh = m.rows();
    if m.cols() != k {
        return Err(Error::invalid(
            &at,
            format!(
                "weights have {} columns, the layer's fan-in is {k}",
                m.cols()
            ),
        ));
    }
    let want_shape = match m.conv {
        None => Shape::Flat(mh),
        Some(_) => Shape::Image {
            h: win.out_h,
            w: win.out_w,
            c: mh,
        },
    };
    check_output_and_weights(&at, layer, want_shape, m)?;
    let wdt = m.weight_dtype;
    let (lo, hi) = m.acc_range(in_dt);
    let thresholds = match &m.activation {
        Activation::Thresholds(t) => Some(check_thresholds(&at, t, mh, layer.output.dtype)?),
        Activation::Identity => None,
        Activation::BatchNorm(_) => unreachable!("rejected above"),
    };
    // The popcount paths keep accumulators, their partial sums and thresholds in i32.
    const NARROW: i64 = 1 << 28;
    let narrow = lo.abs().max(hi.abs()).max(k as i64) < NARROW;
    let one_bit_weights = matches!(wdt, DataType::Bipolar | DataType::UInt(1));
    if one_bit_weights && narrow {
        Ok(StageOp::Packed(pack_matvec(
            win,
            m,
            in_dt,
            isa,
            thresholds,
            (lo, hi),
        )))
    } else {
        let wide = lo < i64::from(i32::MIN) + 2 || hi > i64::from(i32::MAX) - 2;
        let act = thresholds.map(|t| {
            let (tv, le) = t.per_row(mh, lo, hi);
            RowThresholds {
                steps: t.steps,
                t: tv,
                le,
                value: t.value,
            }
        });
        Ok(StageOp::Mac(MacMatVec {
            win,
            mh,
            pad: m.conv.map_or(0, |g| g.pad_value),
            weights: m.weights.iter().copied().collect(),
            wide,
            act,
        }))
    }
}

/// Checked thresholds with their count → value table.
pub(super) struct CheckedThresholds<'a> {
    t: &'a ir::Thresholds,
    pub(super) steps: usize,
    out: DataType,
    pub(super) value: Vec<i64>,
}

impl CheckedThresholds<'_> {
    /// `[row][step]` clamped into `[lo − 1, hi + 1]` (a threshold outside the reachable range is
    /// "always" or "never" either way), and the per-row `≤` flags.
    pub(super) fn per_row(&self, mh: usize, lo: i64, hi: i64) -> (Vec<i64>, Vec<bool>) {
        let mut t = Vec::with_capacity(mh * self.steps);
        let mut le = Vec::with_capacity(mh);
        for r in 0..mh {
            let row = self
                .t
                .values
                .row(if self.t.values.nrows() == 1 { 0 } else { r });
            t.extend(row.iter().map(|&v| v.clamp(lo - 1, hi + 1)));
            let cmp = self.t.compare[if self.t.compare.len() == 1 { 0 } else { r }];
            le.push(cmp == Compare::Le);
        }
        (t, le)
    }
}

/// The checks every matrix-vector layer (dense, conv, depthwise) shares: its output has shape
/// `want`, and every weight is a value of the weight datatype.
pub(super) fn check_output_and_weights(
    at: &str,
    layer: &Layer,
    want: Shape,
    m: &ir::MatVec,
) -> Result<()> {
    if layer.output.shape != want {
        return Err(Error::invalid(
            at,
            format!(
                "output shape should be {want}, found {}",
                layer.output.shape
            ),
        ));
    }
    let wdt = m.weight_dtype;
    if let Some(((r, col), v)) = m
        .weights
        .indexed_iter()
        .find(|(_, &v)| !wdt.contains(i64::from(v)))
    {
        return Err(Error::invalid(
            at,
            format!("weight [{r}, {col}] = {v} is not a value of the weight datatype {wdt}"),
        ));
    }
    Ok(())
}

pub(super) fn check_thresholds<'a>(
    at: &str,
    t: &'a ir::Thresholds,
    mh: usize,
    out: ValueType,
) -> Result<CheckedThresholds<'a>> {
    let rows = t.values.nrows();
    if rows != mh && rows != 1 {
        return Err(Error::invalid(
            at,
            format!("thresholds have {rows} rows, expected {mh} (one per output channel) or 1"),
        ));
    }
    let nc = t.compare.len();
    if nc != mh && nc != 1 {
        return Err(Error::invalid(
            at,
            format!("thresholds have {nc} compare directions, expected {mh} or 1"),
        ));
    }
    if out != ValueType::Data(t.out_dtype) {
        return Err(Error::invalid(
            at,
            format!(
                "threshold output datatype {} differs from the layer's output type {out}",
                t.out_dtype
            ),
        ));
    }
    let steps = t.steps();
    let value: Vec<i64> = (0..=steps as i64).map(|c| t.value_of_count(c)).collect();
    if let Some((c, v)) = value
        .iter()
        .enumerate()
        .find(|(_, &v)| !t.out_dtype.contains(v))
    {
        return Err(Error::invalid(
            at,
            format!(
                "with {steps} thresholds and out_bias {}, count {c} gives {v}, which is not a {}",
                t.out_bias, t.out_dtype
            ),
        ));
    }
    Ok(CheckedThresholds {
        t,
        steps,
        out: t.out_dtype,
        value,
    })
}

fn pack_matvec(
    win: Window,
    m: &ir::MatVec,
    in_dt: DataType,
    isa: Isa,
    thresholds: Option<CheckedThresholds>,
    (lo, hi): (i64, i64),
) -> PackedMatVec {
    let k = win.k();
    let mh = m.rows();
    let r = isa.block_rows();
    let nblocks = mh.div_ceil(r);
    let nwk = k.div_ceil(64);
    let in_planes = planes_of(in_dt);
    let cw_in = win.in_c.div_ceil(64);
    let wdt = m.weight_dtype;

    let mut weights = AlignedWords::zeroed(nblocks * nwk * r);
    let words = weights.as_mut_slice();
    let mut ones = vec![0i64; nblocks * r];
    for ((row, col), &v) in m.weights.indexed_iter() {
        let bit = plane_bit(wdt, i64::from(v), 0);
        let (b, j) = (row / r, row % r);
        words[(b * nwk + col / 64) * r + j] |= bit << (col % 64);
        ones[row] += bit as i64;
    }

    let xor = in_dt == DataType::Bipolar && wdt == DataType::Bipolar;
    let (c, ox) = plane_coefs(in_dt);
    let (d, ow) = if wdt == DataType::Bipolar {
        (2, -1)
    } else {
        (1, 0)
    };
    let (coef, base, row_const) = if xor {
        (vec![-2], None, vec![k as i32; nblocks * r])
    } else {
        let coef = c.iter().map(|&ca| d * ca).collect();
        let base = (ow != 0).then(|| (c.clone(), ow));
        let rc = ones
            .iter()
            .map(|&n| (i64::from(ox) * (i64::from(d) * n + i64::from(ow) * k as i64)) as i32)
            .collect();
        (coef, base, rc)
    };

    let mut pad = vec![0u64; in_planes * cw_in];
    let pad_value = m.conv.map_or(0, |g| g.pad_value);
    if win.ph > 0 || win.pw > 0 {
        for a in 0..in_planes {
            if plane_bit(in_dt, pad_value, a) == 1 {
                for ch in 0..win.in_c {
                    pad[a * cw_in + ch / 64] |= 1 << (ch % 64);
                }
            }
        }
    }

    let act = thresholds.map(|t| {
        let (tv, le) = t.per_row(mh, lo, hi);
        let steps = t.steps;
        let mut teff = vec![i32::MAX; nblocks * steps * r];
        let mut lev = vec![0i32; nblocks * r];
        let mut flip = vec![0u64; nblocks];
        for row in 0..mh {
            let (b, j) = (row / r, row % r);
            lev[row] = i32::from(le[row]);
            flip[b] |= u64::from(le[row]) << j;
            for s in 0..steps {
                // acc ≤ T  ⇔  ¬(acc ≥ T + 1).
                let v = tv[row * steps + s] + i64::from(le[row]);
                teff[(b * steps + s) * r + j] = v as i32;
            }
        }
        BlockThresholds {
            steps,
            teff,
            le: lev,
            flip,
            enc: t.value.iter().map(|&v| t.out.encode(v)).collect(),
            value: t.value,
        }
    });

    PackedMatVec {
        win,
        in_dtype: in_dt,
        in_planes,
        cw_in,
        nwk,
        pad,
        direct: win.in_h * win.in_w == 1
            && win.kh == 1
            && win.kw == 1
            && win.ph == 0
            && win.pw == 0,
        mh,
        r,
        nblocks,
        weights,
        xor,
        coef,
        base,
        row_const,
        act,
    }
}
