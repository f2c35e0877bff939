//! The golden model: integer inference over the lowered IR, the reference the cycle simulator and
//! the generated Verilog are checked against.
//!
//! # Semantics
//!
//! All arithmetic is on true integers (bipolar is −1/+1), exactly as [`crate::ir`] defines it:
//!
//! - **dense / conv2d**: the integer dot product of each weight row `[MH, MW]` with the input. A
//!   conv layer sees the im2col window of each output pixel: kernel positions in (ky, kx) order,
//!   channels innermost (column `(ky·KW + kx)·IFM + ic`), positions outside the image hold the
//!   layer's `pad_value`. Output is NHWC. A dense layer after an image takes the NHWC flatten.
//! - **activation**: [`ir::Thresholds`](crate::ir::Thresholds) per channel (`Ge`: count the
//!   thresholds with `acc ≥ T`, `Le`: with `acc ≤ T`; output `value_of_count(count)`), or
//!   `Identity` (the raw accumulators). A float batch-norm is refused: run `passes::lower` first.
//! - **maxpool**: the maximum per channel over each window (no padding).
//! - **globalavgpool**: the integer *sum* per channel over all H·W pixels (the division is in the
//!   next layer's thresholds, see `passes::thresholds`).
//! - **head** (top-k): the k largest outputs of the last layer as indices, best first, ties to
//!   the lower index.
//!
//! # Speed
//!
//! The arithmetic is chosen per layer, and every path gives identical numbers (checked against a
//! per-element reference by the property tests):
//!
//! - bipolar × bipolar: XNOR-popcount on packed 64-bit words, `dot = K − 2·popcount(x ^ w)`;
//! - any input × 1-bit weights (bipolar or binary): the input is split into bit planes, each
//!   plane met with AND-popcount: `Σ_b 2^b·(2·popcount(plane_b & w) − popcount(plane_b))` for
//!   binary/uint inputs and bipolar weights (the sign plane of a signed input weighs −2^(n−1));
//! - multi-bit weights: a plain i32 multiply-accumulate (i64 when the accumulator range needs it).
//!
//! Activations between popcount layers stay packed: a threshold layer writes its output bits
//! directly (with one threshold per channel, the vector compare mask *is* the output word). The
//! popcount kernels process a block of weight rows per pass (8 in general registers with the
//! `popcnt` instruction, 32 with AVX-512 VPOPCNTDQ), selected at run time from what the CPU
//! supports ([`Kernel`]). With AVX-512, each weight block is also met by 4 windows at once: 4
//! output pixels of a conv layer, or 4 frames of a batch in a dense layer, which quarters the
//! weight traffic. [`GoldenModel::run_batch`] spreads frames over all cores.
//!
//! On one core of the development machine (AMD Zen 5, AVX-512), an LFC-shaped W1A1 network
//! (784-1024-1024-1024-10) runs at about 340 k frames/s one frame at a time and 530–600 k frames/s
//! in batches, 1.0–1.8 binary TMAC/s; `cargo bench --bench golden` measures it.

mod depthwise;
mod exec;
mod gap;
mod kernels;
mod plan;
#[cfg(test)]
mod tests;

use std::cell::RefCell;

use ndarray::{ArrayD, ArrayViewD, IxDyn};

use crate::datatype::DataType;
use crate::ir::{Network, Shape};
use crate::{Error, Result};
use exec::{FrameIn, Workspace};
use kernels::Isa;
use plan::Stage;

pub use kernels::Kernel;
#[doc(hidden)]
pub use kernels::{xor_popcount_peak, AlignedWords};

/// A lowered network prepared for fast integer inference (weights packed, paths chosen).
pub struct GoldenModel {
    name: String,
    input_shape: Shape,
    input_dtype: DataType,
    layer_names: Vec<String>,
    stages: Vec<Stage>,
    head: Option<usize>,
    body_dims: Vec<usize>,
    isa: Isa,
}

impl std::fmt::Debug for GoldenModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoldenModel")
            .field("name", &self.name)
            .field(
                "input",
                &format_args!("{} {}", self.input_shape, self.input_dtype),
            )
            .field("layers", &self.layer_names)
            .field("head_k", &self.head)
            .field("kernel", &self.isa.kernel())
            .finish()
    }
}

thread_local! {
    /// Scratch memory of this thread: one workspace per frame of a batch group.
    static WORKSPACE: RefCell<[Workspace; exec::GROUP]> = RefCell::new(Default::default());
}

impl GoldenModel {
    /// Prepares `net`, which must be lowered (no batch-norm activations), with the fastest kernel
    /// this CPU supports. Checks every shape, weight and threshold the computation relies on.
    pub fn new(net: &Network) -> Result<Self> {
        Self::with_kernel(net, Kernel::Auto)
    }

    /// As [`GoldenModel::new`], with a chosen popcount kernel (for tests and benchmarks; every
    /// kernel gives the same results). Fails if this CPU cannot run it.
    pub fn with_kernel(net: &Network, kernel: Kernel) -> Result<Self> {
        let isa = Isa::resolve(kernel)?;
        let input_dtype = net.input.dtype.as_data().ok_or_else(|| {
            Error::invalid("network input", "the input must have a declared datatype")
        })?;
        let stages = plan::plan(net, isa)?;
        Ok(GoldenModel {
            name: net.name.clone(),
            input_shape: net.input.shape,
            input_dtype,
            layer_names: net.layers.iter().map(|l| l.name.clone()).collect(),
            stages,
            head: net.head.map(|h| h.k),
            body_dims: net.body_output().shape.dims(),
            isa,
        })
    }

    /// The kernel in use (never [`Kernel::Auto`]).
    pub fn kernel(&self) -> Kernel {
        self.isa.kernel()
    }

    /// The shape of one input frame.
    pub fn input_shape(&self) -> Shape {
        self.input_shape
    }

    /// The datatype every input value must belong to.
    pub fn input_dtype(&self) -> DataType {
        self.input_dtype
    }

    /// The dimensions of one frame's output, without N: `[k]` with a head, else the last layer's
    /// output dimensions.
    pub fn output_dims(&self) -> Vec<usize> {
        match self.head {
            Some(k) => vec![k],
            None => self.body_dims.clone(),
        }
    }

    /// Runs one frame: NHWC-flattened values of the input datatype (bipolar as ±1). Returns, with
    /// a head, the k best class indices (best first, ties to the lower index); without one, the
    /// last layer's values, NHWC-flattened.
    ///
    /// # Panics
    /// If the frame has the wrong length or a value outside the input datatype (the message names
    /// the element); [`GoldenModel::run_batch`] returns these as errors instead.
    pub fn infer(&self, frame: &[i64]) -> Vec<i64> {
        if let Err(e) = self.check_frame(None, frame) {
            panic!("GoldenModel::infer: {e}");
        }
        WORKSPACE.with(|ws| {
            let ws = &mut ws.borrow_mut()[0];
            self.run_checked(frame, ws, None);
            self.finish(&ws.cur.vals)
        })
    }

    /// Every layer's output values for one frame (NHWC-flattened, one vector per layer in order),
    /// for finding the first layer where another model diverges. The head's result is what
    /// [`GoldenModel::infer`] returns.
    ///
    /// # Panics
    /// As [`GoldenModel::infer`].
    pub fn infer_trace(&self, frame: &[i64]) -> Vec<Vec<i64>> {
        if let Err(e) = self.check_frame(None, frame) {
            panic!("GoldenModel::infer_trace: {e}");
        }
        let mut trace = Vec::with_capacity(self.stages.len());
        WORKSPACE.with(|ws| self.run_checked(frame, &mut ws.borrow_mut()[0], Some(&mut trace)));
        trace
    }

    /// The names of the layers, in the order of [`GoldenModel::infer_trace`].
    pub fn layer_names(&self) -> &[String] {
        &self.layer_names
    }

    /// Runs a batch `[N, *input shape]` on all cores. Returns `[N, k]` class indices with a head,
    /// else `[N, *output dims]`. Checks the shape and every value against the input datatype; an
    /// error names the first bad frame and element.
    pub fn run_batch(&self, input: ArrayViewD<i64>) -> Result<ArrayD<i64>> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        self.run_batch_threads(input, threads)
    }

    /// [`GoldenModel::run_batch`] on at most `threads` threads (1: on the calling thread).
    pub fn run_batch_threads(&self, input: ArrayViewD<i64>, threads: usize) -> Result<ArrayD<i64>> {
        self.run_batch_progress(input, threads, &|_| {})
    }

    /// [`GoldenModel::run_batch_threads`], calling `frames_done(k)` from the worker threads
    /// whenever k more frames are finished (for a progress bar). The results do not depend on
    /// `threads`: every frame is computed alone.
    pub fn run_batch_progress(
        &self,
        input: ArrayViewD<i64>,
        threads: usize,
        frames_done: &(dyn Fn(usize) + Sync),
    ) -> Result<ArrayD<i64>> {
        let dims = self.input_shape.dims();
        if input.ndim() != dims.len() + 1 || input.shape()[1..] != dims[..] {
            return Err(Error::invalid(
                "input batch",
                format!(
                    "expected shape [N, {}] for input {} {}, found {:?}",
                    dims.iter()
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    self.input_shape,
                    self.input_dtype,
                    input.shape()
                ),
            ));
        }
        let n = input.shape()[0];
        let frame_len = self.input_shape.len();
        let out_dims = self.output_dims();
        let out_len: usize = out_dims.iter().product();
        let input = input.as_standard_layout();
        let data = input.as_slice().expect("standard layout is contiguous");
        let mut out = vec![0i64; n * out_len];
        let frame = |f: usize| &data[f * frame_len..(f + 1) * frame_len];
        // Frames `first..first + count` into `outs`, their slice of `out`.
        let run_chunk = |first: usize, count: usize, outs: &mut [i64]| -> Result<()> {
            WORKSPACE.with(|wss| {
                let wss = &mut *wss.borrow_mut();
                let input = self.frame_in();
                let mut i = 0;
                while i < count {
                    if count - i >= exec::GROUP {
                        let frames: [&[i64]; exec::GROUP] =
                            std::array::from_fn(|g| frame(first + i + g));
                        for (g, f) in frames.iter().enumerate() {
                            self.check_frame(Some(first + i + g), f)?;
                        }
                        exec::run_group(self.isa, &self.stages, &input, frames, wss);
                        for (g, ws) in wss.iter().enumerate() {
                            self.finish_into(
                                &ws.cur.vals,
                                &mut outs[(i + g) * out_len..][..out_len],
                            );
                        }
                        i += exec::GROUP;
                        frames_done(exec::GROUP);
                    } else {
                        self.check_frame(Some(first + i), frame(first + i))?;
                        exec::run(
                            self.isa,
                            &self.stages,
                            &input,
                            frame(first + i),
                            &mut wss[0],
                            None,
                        );
                        self.finish_into(&wss[0].cur.vals, &mut outs[i * out_len..][..out_len]);
                        i += 1;
                        frames_done(1);
                    }
                }
                Ok(())
            })
        };
        let threads = threads.clamp(1, n.max(1));
        if threads == 1 || out_len == 0 {
            run_chunk(0, n, &mut out)?;
        } else {
            let per = n.div_ceil(threads);
            let results: Vec<Result<()>> = std::thread::scope(|s| {
                let handles: Vec<_> = out
                    .chunks_mut(per * out_len)
                    .enumerate()
                    .map(|(t, outs)| {
                        let count = outs.len() / out_len;
                        s.spawn(move || run_chunk(t * per, count, outs))
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                    .collect()
            });
            // Chunks are in frame order and each stops at its first bad frame: the first error
            // is the first bad frame overall.
            results.into_iter().collect::<Result<Vec<()>>>()?;
        }
        let mut shape = vec![n];
        shape.extend(out_dims);
        Ok(ArrayD::from_shape_vec(IxDyn(&shape), out).expect("output size matches its shape"))
    }

    fn frame_in(&self) -> FrameIn {
        FrameIn {
            dtype: self.input_dtype,
            pixels: self.input_shape.pixels(),
            c: self.input_shape.channels(),
        }
    }

    fn run_checked(&self, frame: &[i64], ws: &mut Workspace, trace: Option<&mut Vec<Vec<i64>>>) {
        exec::run(self.isa, &self.stages, &self.frame_in(), frame, ws, trace);
    }

    /// The frame's result from the last layer's values: top-k indices or the values themselves.
    fn finish(&self, values: &[i64]) -> Vec<i64> {
        let mut out = vec![0; self.head.unwrap_or(values.len())];
        self.finish_into(values, &mut out);
        out
    }

    fn finish_into(&self, values: &[i64], out: &mut [i64]) {
        match self.head {
            Some(_) => top_k_into(values, out),
            None => out.copy_from_slice(values),
        }
    }

    /// Checks a frame's length and values; `frame_index` names it in the error.
    fn check_frame(&self, frame_index: Option<usize>, frame: &[i64]) -> Result<()> {
        let what = || match frame_index {
            Some(i) => format!("input frame {i}"),
            None => "input frame".to_string(),
        };
        let len = self.input_shape.len();
        if frame.len() != len {
            return Err(Error::invalid(
                what(),
                format!(
                    "has {} values, expected {len} ({} {})",
                    frame.len(),
                    self.input_shape,
                    self.input_dtype
                ),
            ));
        }
        let dt = self.input_dtype;
        let (lo, hi) = (dt.min(), dt.max());
        // A branch-free pass first (it vectorizes); the search for the culprit only on failure.
        if exec::frame_ok(self.isa, dt, frame) {
            return Ok(());
        }
        let (i, &v) = frame
            .iter()
            .enumerate()
            .find(|(_, &v)| !dt.contains(v))
            .expect("a bad value");
        let dims = self.input_shape.dims();
        let mut idx = vec![0; dims.len()];
        let mut rest = i;
        for (d, &size) in idx.iter_mut().zip(&dims).rev() {
            *d = rest % size;
            rest /= size;
        }
        let expected = match dt {
            DataType::Bipolar => "-1 or +1".to_string(),
            _ => format!("{lo}..={hi}"),
        };
        Err(Error::invalid(
            format!("{}, element {idx:?} (flat index {i})", what()),
            format!("value {v} is not a {dt} value (expected {expected})"),
        ))
    }
}

/// The indices of the `k` largest values, best first; on equal values the lower index first
/// (a later value must be strictly greater to overtake, as FINN's LabelSelect).
pub fn top_k(values: &[i64], k: usize) -> Vec<usize> {
    let mut out = vec![0i64; k.min(values.len())];
    top_k_into(values, &mut out);
    out.into_iter().map(|i| i as usize).collect()
}

/// [`top_k`] with `k = out.len()` (at most `values.len()`), written into `out`.
fn top_k_into(values: &[i64], out: &mut [i64]) {
    let k = out.len();
    debug_assert!(k <= values.len());
    if k == 1 {
        let mut best = 0;
        for (i, &v) in values.iter().enumerate() {
            if v > values[best] {
                best = i;
            }
        }
        out[0] = best as i64;
        return;
    }
    // Insertion into the kept list `out[..len]`, best first.
    let mut len = 0;
    for (i, &v) in values.iter().enumerate() {
        if len == k && v <= values[out[k - 1] as usize] {
            continue;
        }
        // After every kept index whose value is >= v (those are all lower indices).
        let pos = out[..len].partition_point(|&b| values[b as usize] >= v);
        let end = len.min(k - 1);
        out.copy_within(pos..end, pos + 1);
        out[pos] = i as i64;
        len = (len + 1).min(k);
    }
}
