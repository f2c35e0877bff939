//! Global average pooling in the golden model: the per-channel integer sum over all pixels.
//!
//! The sum is all the network carries; the division by H·W lives in the next layer's
//! thresholds (`passes::thresholds`) or in the float output affine. This is its own small
//! kernel, written from the definition (no code shared with `cyclesim::gap` or `hw/bnn_gap.v`).

use super::exec::Bufs;
use super::kernels::pack_planes;
use super::plan::Fmt;
use crate::ir::{GlobalAvgPool, Layer, Shape, ValueType};
use crate::{Error, Result};

/// One global-sum stage: `pixels` pixels of `c` channels in, `c` sums out.
pub(crate) struct GlobalSum {
    pub pixels: usize,
    pub c: usize,
}

/// Checks the layer's types against the definition and builds its stage.
pub(crate) fn plan_global_sum(at: &str, layer: &Layer, g: &GlobalAvgPool) -> Result<GlobalSum> {
    let (Shape::Image { h, w, c }, ValueType::Data(in_dt)) = (layer.input.shape, layer.input.dtype)
    else {
        return Err(Error::invalid(
            at,
            "a global average pool needs an image input [H, W, C] of a declared datatype",
        ));
    };
    let want = (Shape::Flat(c), ValueType::Data(g.sum_dtype(in_dt)));
    if (h, w) != (g.h, g.w) || (layer.output.shape, layer.output.dtype) != want {
        return Err(Error::invalid(
            at,
            format!(
                "a global average pool over {}x{} should map {h}x{w}x{c} {in_dt} to {} {}, found {} {}",
                g.h, g.w, want.0, want.1, layer.output.shape, layer.output.dtype
            ),
        ));
    }
    Ok(GlobalSum { pixels: h * w, c })
}

/// `out[c] = Σ_p inp[p·C + c]`, written in `out_fmt` (the input is always [`Fmt::Values`]).
pub(crate) fn run_global_sum(
    st: &GlobalSum,
    out_fmt: Fmt,
    inp: &Bufs,
    out: &mut Bufs,
    tmp: &mut Bufs,
) {
    let dst = match out_fmt {
        Fmt::Values => &mut out.vals,
        Fmt::Planes(_) => &mut tmp.vals,
    };
    dst.clear();
    dst.resize(st.c, 0);
    for pixel in inp.vals[..st.pixels * st.c].chunks_exact(st.c) {
        for (s, &v) in dst.iter_mut().zip(pixel) {
            *s += v;
        }
    }
    if let Fmt::Planes(dt) = out_fmt {
        pack_planes(&tmp.vals, 1, st.c, dt, &mut out.words);
    }
}
