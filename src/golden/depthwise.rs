//! Depthwise convolution in the golden model ([`Op::Depthwise`](crate::ir::Op::Depthwise)):
//! output channel `c` of pixel `(oy, ox)` is `Σ_{ky,kx} W[c][ky·KW + kx] · x[iy][ix][c]` over
//! the window (positions outside the image hold the layer's `pad_value`), then the channel's
//! thresholds. Plain i64 multiply-accumulate on true values: written from the IR's definition,
//! sharing nothing with the cycle simulator's VVAU or `hw/bnn_vvau.v`.

use super::exec::{prepare, write_value, Bufs};
use super::plan::{
    check_output_and_weights, check_thresholds, hw, loc, Fmt, MacMatVec, RowThresholds, StageOp,
    Window,
};
use crate::ir::{self, Activation, Layer, Shape};
use crate::{Error, Result};

/// Checks depthwise layer `i` and plans it as a [`MacMatVec`] whose `weights` are `[C][KH·KW]`
/// and whose window's `in_c` is the channel count (the channels are independent).
pub(super) fn plan(i: usize, layer: &Layer, m: &ir::MatVec) -> Result<StageOp> {
    let at = loc(i, layer);
    let in_dt = layer.input.dtype.as_data().ok_or_else(|| {
        Error::Unsupported(format!(
            "{at}: its input is raw accumulators ({}); a depthwise layer needs a declared input \
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
    let (Shape::Image { .. }, Some(g)) = (layer.input.shape, m.conv) else {
        return Err(Error::invalid(
            &at,
            "a depthwise convolution needs an image input [H, W, C] and a window geometry",
        ));
    };
    let (h, w, c) = hw(layer.input.shape);
    let (Some(oh), Some(ow)) = (
        ir::window_out(h, g.kernel[0], g.stride[0], g.padding[0]),
        ir::window_out(w, g.kernel[1], g.stride[1], g.padding[1]),
    ) else {
        return Err(Error::invalid(
            &at,
            format!(
                "kernel {:?} stride {:?} padding {:?} does not fit the {h}x{w} input",
                g.kernel, g.stride, g.padding
            ),
        ));
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
    let kk = g.kernel[0] * g.kernel[1];
    if m.rows() != c || m.cols() != kk {
        return Err(Error::invalid(
            &at,
            format!(
                "depthwise weights are [{}, {}], expected [{c}, {kk}] (channels, kernel positions)",
                m.rows(),
                m.cols()
            ),
        ));
    }
    check_output_and_weights(&at, layer, Shape::Image { h: oh, w: ow, c }, m)?;
    let (lo, hi) = m.acc_range(in_dt);
    let act = match &m.activation {
        Activation::Thresholds(t) => {
            let t = check_thresholds(&at, t, c, layer.output.dtype)?;
            let (tv, le) = t.per_row(c, lo, hi);
            Some(RowThresholds {
                steps: t.steps,
                t: tv,
                le,
                value: t.value,
            })
        }
        Activation::Identity => None,
        Activation::BatchNorm(_) => unreachable!("rejected above"),
    };
    Ok(StageOp::Depthwise(MacMatVec {
        win: Window {
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
        },
        mh: c,
        pad: g.pad_value,
        weights: m.weights.iter().copied().collect(),
        wide: true,
        act,
    }))
}

/// Runs a planned depthwise layer on one frame of values (NHWC) into `out`.
pub(super) fn run(st: &MacMatVec, input: &[i64], out_fmt: Fmt, out: &mut Bufs) {
    let g = st.win;
    let (c, kk) = (g.in_c, g.kh * g.kw);
    prepare(out_fmt, g.out_pixels(), c, out);
    for oy in 0..g.out_h {
        for ox in 0..g.out_w {
            let p = oy * g.out_w + ox;
            for ch in 0..c {
                let wr = &st.weights[ch * kk..][..kk];
                let mut acc = 0i64;
                for ky in 0..g.kh {
                    for kx in 0..g.kw {
                        let x = match g.source(oy, ox, ky, kx) {
                            Some(pix) => input[pix * c + ch],
                            None => st.pad,
                        };
                        acc += i64::from(wr[ky * g.kw + kx]) * x;
                    }
                }
                let v = match &st.act {
                    None => acc,
                    Some(t) => {
                        let row = &t.t[ch * t.steps..][..t.steps];
                        let n = if t.le[ch] {
                            row.iter().filter(|&&th| acc <= th).count()
                        } else {
                            row.iter().filter(|&&th| acc >= th).count()
                        };
                        t.value[n]
                    }
                };
                write_value(out_fmt, out, p, ch, c, v);
            }
        }
    }
}
