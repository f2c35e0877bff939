//! Many frames on all cores: the frames are cut into batches, and each batch streams through its
//! own copy of the simulator from an idle pipeline, on a pool of threads.
//!
//! The generated hardware keeps no state from one frame to the next (every block returns to the
//! same state after a frame; `verify` checks that every frame's words equal the golden model's
//! however the frames are streamed), so a frame's output words do not depend on which batch it is
//! in, and the outputs are the same for any number of threads. What does depend on the batching
//! is the timing: each batch starts with an empty pipeline, so the cycles simulated add a pipeline
//! fill per batch, and latency and FIFO occupancy are those of batch-long streams.

use super::{CycleSim, FifoStat, FrameRun, Stalls};
use crate::error::{Error, Result};
use ndarray::{ArrayViewD, Axis, Slice};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// No batch is shorter than this (unless the input is): the steady state is reached within a
/// few frames on every example, and a pipeline fill per batch (CNV: about 4 frames' worth of
/// cycles) costs at most a few percent.
pub const MIN_BATCH: usize = 64;

/// Batches per thread: enough for the threads to even out and for a progress bar to move.
const BATCHES_PER_THREAD: usize = 8;

/// The frames of each batch for `n` frames on `threads` threads: one batch when there are fewer
/// than 2·[`MIN_BATCH`] frames, else about [`BATCHES_PER_THREAD`] batches per thread of at least
/// [`MIN_BATCH`] frames. Independent of nothing but `n` and `threads`.
pub fn batch_size(n: usize, threads: usize) -> usize {
    if n < 2 * MIN_BATCH {
        return n.max(1);
    }
    n.div_ceil(threads.max(1) * BATCHES_PER_THREAD)
        .max(MIN_BATCH)
}

/// The result of [`run_batches`].
#[derive(Clone, Debug)]
pub struct BatchRun {
    /// Per frame, in input order: the decoded output (class indices with a head, else the true
    /// output channels).
    pub outputs: Vec<Vec<i64>>,
    /// Per frame: last output handshake − first input handshake, within its batch.
    pub latency: Vec<u64>,
    /// Steady-state cycles per frame of each batch of at least two frames.
    pub cycles_per_frame: Vec<f64>,
    /// Cycles simulated, summed over the batches.
    pub cycles: u64,
    /// Per FIFO, the largest occupancy over the batches.
    pub fifos: Vec<FifoStat>,
    /// The number of batches and the frames per batch (the last may be shorter).
    pub batches: usize,
    pub batch_frames: usize,
    /// Threads used.
    pub threads: usize,
}

/// Streams `frames` (`[N, *input dims]`) through `sim`'s design without stalls, in batches of
/// [`batch_size`] on at most `threads` threads, calling `frames_done(k)` as batches finish.
/// The outputs do not depend on `threads` (module docs).
pub fn run_batches(
    sim: &CycleSim,
    frames: ArrayViewD<i64>,
    threads: usize,
    frames_done: &(dyn Fn(usize) + Sync),
) -> Result<BatchRun> {
    let n = frames.shape().first().copied().unwrap_or(0);
    let per = batch_size(n, threads);
    let batches = n.div_ceil(per).max(1);
    let threads = threads.clamp(1, batches);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<FrameRun>>>> =
        Mutex::new((0..batches).map(|_| None).collect());
    let worker = |sim: &mut CycleSim| loop {
        let b = next.fetch_add(1, Ordering::Relaxed);
        if b >= batches {
            break;
        }
        let first = b * per;
        let last = (first + per).min(n);
        let part = frames.slice_axis(Axis(0), Slice::from(first..last));
        let r = sim
            .run_frames(part, Stalls::NONE, None)
            .map_err(|e| match e {
                Error::Invalid { location, message } => Error::invalid(
                    format!("batch of frames {first}..{last}: {location}"),
                    message,
                ),
                other => other,
            });
        frames_done(last - first);
        results.lock().expect("no worker panicked")[b] = Some(r);
    };
    if threads == 1 {
        worker(&mut sim.clone());
    } else {
        std::thread::scope(|s| {
            for _ in 0..threads {
                let mut own = sim.clone();
                s.spawn(move || worker(&mut own));
            }
        });
    }
    let mut run = BatchRun {
        outputs: Vec::with_capacity(n),
        latency: Vec::with_capacity(n),
        cycles_per_frame: Vec::new(),
        cycles: 0,
        fifos: Vec::new(),
        batches,
        batch_frames: per,
        threads,
    };
    for r in results.into_inner().expect("no worker panicked") {
        let r = r.expect("every batch ran")?;
        run.outputs.extend(r.outputs);
        run.latency.extend(r.latency);
        run.cycles_per_frame.extend(r.cycles_per_frame);
        run.cycles += r.run.cycles;
        if run.fifos.is_empty() {
            run.fifos = r.run.fifos;
        } else {
            for (all, this) in run.fifos.iter_mut().zip(&r.run.fifos) {
                all.max_occupancy = all.max_occupancy.max(this.max_occupancy);
            }
        }
    }
    Ok(run)
}
