//! FIFO and window-buffer sizing with the cycle simulator (`bnn-gen fold --size-fifos`,
//! `docs/folding.md`, "FIFO sizing").
//!
//! The analytic rules of `passes::pad` size every buffer for the worst case: a FIFO in front of
//! a dense layer with NF > 1 holds one whole consumer frame (SF words), and a window
//! generator's buffer is [`crate::passes::window::Window::depth_for`] the consumer's NF (one
//! window of lookahead, more where the writer cannot keep up). Whether a design needs all of
//! it depends on how its producers burst, which the cycle simulator knows exactly. Sizing
//! measures it:
//!
//! 1. **Reference runs.** The design with the analytic depths runs `frames` frames under each
//!    stall pattern: no stalls, and `seeds` seeds of random input gaps with probability
//!    `stall` (the harness's `--stall-in`, `sim/README.md`), the output never stalled. Each
//!    buffer's largest occupancy is recorded. A depth of `occupancy + 1` replays every reference
//!    run cycle for cycle: a FIFO refuses a word only when its memory holds DEPTH − 1 words and
//!    a window buffer when it holds DEPTH, and neither ever happened (a unit test checks the
//!    replay). That is the **proven** depth, from one run per pattern.
//! 2. **Search** (`search`, `--size-search`; minutes on CNV, seconds on the small nets). One
//!    buffer after the other (pipeline order), bisection between its floor (2 words for a
//!    FIFO, [`crate::passes::window::Window::min_depth`] for a window buffer, below which the
//!    generator deadlocks) and its proven depth, the others at their current depths, probing
//!    one below the proven depth first: a depth passes when, under every pattern, the
//!    steady-state cycles per frame (the spacing of the last output words over the second half
//!    of the frames, as `verify` measures it) are no more than the reference's: the ideal
//!    without stalls, the analytic design's own figure under input gaps. The last depth that
//!    passed is the buffer's proven depth; every configuration the search keeps was run.
//! 3. **Margin.** The chosen depth is `⌈1.25 · proven⌉` (at least the floor), and never more
//!    than the analytic depth ([`MARGIN_PERCENT`]): stall patterns the runs did not see may fill
//!    a buffer further.
//! 4. **Confirmation.** The chosen depths run twice as many frames under `seeds` fresh seeds
//!    and without stalls; each pattern must give the ideal spacing or, where the input gaps slow
//!    the analytic design itself, no more than its spacing under the same pattern. If any
//!    pattern is slower, every buffer keeps its analytic depth and the report says so.

use crate::cyclesim::{Block, CycleSim, Fifo, Pipeline, RunConfig, RunResult, Stalls, Swg, Words};
use crate::error::{Error, Result};
use crate::ir::{Network, Op};
use std::fmt::Write;
use std::time::Instant;

/// The margin on the proven depth, in percent (module docs, step 3). On CNV and LFC a buffer's
/// largest occupancy moves by at most a few percent between stall seeds and the unstalled run
/// (the report's `occ. range`, `docs/folding.md`); a quarter more covers that several times
/// over, costs little on the shallow buffers (a FIFO of 2 becomes 3), and, as a ratio, scales
/// with the deep window buffers whose bursts are a row of the image long.
pub const MARGIN_PERCENT: usize = 25;

/// How to size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SizingOptions {
    /// Probability of an input gap per cycle in the stalled patterns.
    pub stall: f64,
    /// Stall seeds for the search (the confirmation uses as many fresh ones).
    pub seeds: usize,
    /// Frames per search run (`None`: enough to fill the pipeline twice over, at least 8).
    pub frames: Option<usize>,
    /// Threads to run the patterns on.
    pub threads: usize,
    /// Bisect below the occupancy bound (step 2 of the module docs).
    pub search: bool,
}

impl Default for SizingOptions {
    fn default() -> Self {
        SizingOptions {
            stall: 0.2,
            seeds: 3,
            frames: None,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            search: false,
        }
    }
}

impl SizingOptions {
    /// The option errors (`--size-stall`, `--size-seeds`, `--size-frames`), before any work.
    pub fn check(&self) -> Result<()> {
        if !(self.stall.is_finite() && (0.0..1.0).contains(&self.stall)) {
            return Err(Error::invalid(
                "--size-stall",
                format!(
                    "expected a probability in [0, 1), found {}\nhelp: 0.2 is what the verify \
                     tests use",
                    self.stall
                ),
            ));
        }
        if self.seeds == 0 || self.seeds > 64 {
            return Err(Error::invalid(
                "--size-seeds",
                format!("expected 1 to 64 stall seeds, found {}", self.seeds),
            ));
        }
        if matches!(self.frames, Some(f) if !(4..=100_000).contains(&f)) {
            return Err(Error::invalid(
                "--size-frames",
                format!(
                    "expected 4 to 100000 frames, found {}\nhelp: leave it out for enough frames \
                     to fill the pipeline twice",
                    self.frames.unwrap_or(0)
                ),
            ));
        }
        Ok(())
    }
}

/// What a buffer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BufferKind {
    /// The `bnn_fifo` in front of a dense layer (`net.toml` `fifo_depth`).
    Fifo,
    /// The window generator's buffer of a conv or max-pool layer (`buffer_depth`).
    Window,
}

/// One sized buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BufferSize {
    /// The instance in the generated top (`link<i>_fifo`, `l<i>_swg`).
    pub block: String,
    /// The layer whose `net.toml` table holds the depth (the FIFO's consumer).
    pub layer: usize,
    pub kind: BufferKind,
    pub word_bits: usize,
    /// The analytic depth (`passes::pad`).
    pub rule: usize,
    /// The hardware's floor: 2 for a FIFO, the window's span for a window buffer.
    pub floor: usize,
    /// Largest occupancy in the reference runs (analytic depths), the smallest and largest over
    /// the patterns.
    pub occupancy: usize,
    pub occupancy_low: usize,
    /// The smallest depth proven to keep the cycles per frame: `occupancy + 1`, or what the
    /// search found below it.
    pub minimum: usize,
    /// The depth written to `net.toml`.
    pub chosen: usize,
}

impl BufferSize {
    pub fn field(&self) -> &'static str {
        match self.kind {
            BufferKind::Fifo => "fifo_depth",
            BufferKind::Window => "buffer_depth",
        }
    }

    /// Bits saved against the analytic depth.
    pub fn saved_bits(&self) -> usize {
        (self.rule - self.chosen) * self.word_bits
    }
}

/// The result of a sizing run.
#[derive(Clone, Debug)]
pub struct Sizing {
    pub buffers: Vec<BufferSize>,
    pub ideal: usize,
    pub options: SizingOptions,
    /// Frames per search run and per confirmation run.
    pub frames: usize,
    pub confirm_frames: usize,
    /// Steady-state cycles per frame of the analytic design under each search pattern (the
    /// first without stalls).
    pub reference: Vec<f64>,
    /// Whether the chosen depths passed the confirmation (else `chosen == rule` everywhere).
    pub confirmed: bool,
    /// Simulator runs and wall time.
    pub runs: usize,
    pub seconds: f64,
}

/// A stall pattern: no stalls, or input gaps with the given seed; the output never stalls.
fn patterns(stall: f64, seeds: std::ops::Range<u32>) -> Vec<Stalls> {
    std::iter::once(Stalls::NONE)
        .chain(seeds.map(|s| Stalls {
            seed: s,
            p_in: stall,
            p_out: 0.0,
        }))
        .collect()
}

/// The steady-state span: cycles between the last output word of frame h = ⌊(n−1)/2⌋ and that
/// of frame n − 1 (`verify`'s cycles per frame times n − 1 − h); `None` after a timeout.
fn span(r: &RunResult, frames: usize, wo: usize) -> Option<u64> {
    if r.timed_out || r.out_cycles.len() < frames * wo {
        return None;
    }
    let last = |f: usize| r.out_cycles[(f + 1) * wo - 1];
    let h = (frames - 1) / 2;
    Some(last(frames - 1) - last(h))
}

/// The simulator of one design and the frames it runs.
struct Bench {
    base: Pipeline,
    /// Pipeline index of each buffer.
    index: Vec<usize>,
    inputs: Words,
    frames: usize,
    wo: usize,
    threads: usize,
}

impl Bench {
    /// `base` with buffer `k` at depth `depths[k]`.
    fn pipeline(&self, depths: &[usize]) -> Result<Pipeline> {
        let mut p = Pipeline::new(self.base.in_bits(), self.base.out_bits());
        for (j, (b, name)) in self.base.blocks().iter().zip(self.base.names()).enumerate() {
            let block = match self.index.iter().position(|&x| x == j) {
                None => b.clone(),
                Some(k) => resized(b, depths[k])?,
            };
            p.push(name.clone(), block);
        }
        Ok(p)
    }

    /// Runs `p` under every pattern (on up to `threads` threads), each with its timeout.
    fn run_all(
        &self,
        p: &Pipeline,
        pats: &[Stalls],
        timeouts: &[u64],
    ) -> Vec<(RunResult, Pipeline)> {
        let expect = self.frames * self.wo;
        let run = |i: usize| {
            let mut q = p.clone();
            let r = q.run(&self.inputs, expect, &RunConfig::new(pats[i], timeouts[i]));
            (r, q)
        };
        let threads = self.threads.clamp(1, pats.len().max(1));
        if threads == 1 {
            return (0..pats.len()).map(run).collect();
        }
        let mut out: Vec<Option<(RunResult, Pipeline)>> = (0..pats.len()).map(|_| None).collect();
        std::thread::scope(|s| {
            let chunks: Vec<Vec<usize>> = (0..threads)
                .map(|t| (t..pats.len()).step_by(threads).collect())
                .collect();
            let handles: Vec<_> = chunks
                .into_iter()
                .map(|idx| {
                    let run = &run;
                    s.spawn(move || idx.into_iter().map(|i| (i, run(i))).collect::<Vec<_>>())
                })
                .collect();
            for h in handles {
                for (i, r) in h.join().expect("a sizing thread panicked") {
                    out[i] = Some(r);
                }
            }
        });
        out.into_iter()
            .map(|r| r.expect("every pattern ran"))
            .collect()
    }
}

/// A FIFO or window generator like `b`, at `depth`.
fn resized(b: &Block, depth: usize) -> Result<Block> {
    let err = |m: String| Error::Unsupported(format!("cycle simulator: {m}"));
    Ok(match b {
        Block::Fifo(f) => Block::Fifo(Fifo::new(f.width(), depth).map_err(err)?),
        Block::Swg(s) => {
            let mut p = s.params().clone();
            p.depth = depth;
            Block::Swg(Box::new(Swg::new(&p).map_err(err)?))
        }
        other => other.clone(),
    })
}

/// Largest occupancy of the buffer at pipeline index `j` in the last run of `p`.
fn occupancy(p: &Pipeline, j: usize) -> usize {
    match &p.blocks()[j] {
        Block::Fifo(f) => f.max_occupancy,
        Block::Swg(s) => s.max_occupancy,
        _ => 0,
    }
}

/// Sizes the FIFOs and window buffers of `net` (lowered; its folding as given, every depth
/// from the analytic rule: [`super::apply`] or a net.toml without `fifo_depth` /
/// `buffer_depth`). See the module docs. `progress` is called with (runs done, buffers done,
/// buffers).
pub fn size(
    net: &Network,
    opts: &SizingOptions,
    progress: &dyn Fn(usize, usize, usize),
) -> Result<Sizing> {
    let start = Instant::now();
    opts.check()?;
    let mut net = net.clone();
    for layer in &mut net.layers {
        match &mut layer.op {
            Op::MatVec(mv) | Op::Depthwise(mv) => {
                mv.folding.fifo_depth = None;
                mv.folding.buffer_depth = None;
            }
            Op::MaxPool(p) => p.buffer_depth = None,
            Op::GlobalAvgPool(_) => {}
        }
    }
    let hw = crate::passes::pad::pad(&net)?;
    let sim = CycleSim::new(&hw)?;
    let ideal = hw.ideal_ii().max(1);
    let (latency, _) = crate::codegen::report::latency(&hw);
    let fill = (latency as usize).div_ceil(ideal);
    let frames = opts.frames.unwrap_or((2 * fill + 8).max(8));
    let confirm_frames = 2 * frames;

    // The buffers, in pipeline order.
    let names = sim.pipeline().names();
    let at = |name: &str| {
        names
            .iter()
            .position(|n| n == name)
            .expect("a block of the design")
    };
    let mut buffers = Vec::new();
    let mut index = Vec::new();
    for (i, l) in hw.layers.iter().enumerate() {
        if i > 0 {
            let link = &hw.links[i - 1];
            if let Some(d) = link.fifo_depth {
                let block = format!("link{}_fifo", i - 1);
                index.push(at(&block));
                buffers.push(BufferSize {
                    block,
                    layer: i,
                    kind: BufferKind::Fifo,
                    word_bits: link.out_bits,
                    rule: d,
                    floor: 2,
                    occupancy: 0,
                    occupancy_low: usize::MAX,
                    minimum: d,
                    chosen: d,
                });
            }
        }
        if let Some(w) = &l.window {
            let block = format!("l{i}_swg");
            index.push(at(&block));
            buffers.push(BufferSize {
                block,
                layer: i,
                kind: BufferKind::Window,
                word_bits: w.word_bits(),
                rule: w.depth,
                floor: w.geom.min_depth(),
                occupancy: 0,
                occupancy_low: usize::MAX,
                minimum: w.depth,
                chosen: w.depth,
            });
        }
    }

    let inputs_for = |n: usize| -> Result<Words> {
        let data = crate::synth::frames_for(&net, n, 1);
        let flat: Vec<i64> = data.iter().copied().collect();
        let len = sim.input_format().elements;
        let mut w = Words::with_capacity(
            sim.input_format().tdata_bits,
            n * sim.input_format().words_per_frame,
        );
        for f in 0..n {
            sim.pack_frame_into(&flat[f * len..(f + 1) * len], &mut w)?;
        }
        Ok(w)
    };
    let wo = sim.output_format().words_per_frame;
    let mut bench = Bench {
        base: sim.pipeline().clone(),
        index,
        inputs: inputs_for(frames)?,
        frames,
        wo,
        threads: opts.threads,
    };
    let mut runs = 0usize;
    let nb = buffers.len();

    // 1. Reference runs: the analytic depths.
    let pats = patterns(opts.stall, 1..1 + opts.seeds as u32);
    let generous: Vec<u64> = pats
        .iter()
        .map(|st| sim.default_timeout(frames, st))
        .collect();
    let rule: Vec<usize> = buffers.iter().map(|b| b.rule).collect();
    let reference = bench.run_all(&bench.pipeline(&rule)?, &pats, &generous);
    runs += pats.len();
    let mut ref_spans = Vec::new();
    let mut timeouts = Vec::new();
    for (r, p) in &reference {
        let s = span(r, frames, wo).ok_or_else(|| {
            Error::Unsupported(format!(
                "--size-fifos: the design with its analytic depths did not finish {frames} \
                 frames in the cycle simulator ({} cycles)",
                r.cycles
            ))
        })?;
        ref_spans.push(s);
        // A candidate slower than a quarter more than the reference fails anyway.
        timeouts.push(r.cycles + r.cycles / 4 + 1000);
        for (k, b) in buffers.iter_mut().enumerate() {
            let o = occupancy(p, bench.index[k]);
            b.occupancy = b.occupancy.max(o);
            b.occupancy_low = b.occupancy_low.min(o);
        }
    }
    let passes = |bench: &Bench, depths: &[usize], runs: &mut usize| -> Result<bool> {
        let p = bench.pipeline(depths)?;
        // The unstalled pattern first: it fails most candidates alone.
        let first = bench.run_all(&p, &pats[..1], &timeouts[..1]);
        *runs += 1;
        if span(&first[0].0, bench.frames, bench.wo).is_none_or(|s| s > ref_spans[0]) {
            return Ok(false);
        }
        let rest = bench.run_all(&p, &pats[1..], &timeouts[1..]);
        *runs += rest.len();
        Ok(rest
            .iter()
            .zip(&ref_spans[1..])
            .all(|((r, _), &s)| span(r, bench.frames, bench.wo).is_some_and(|x| x <= s)))
    };

    // 1. The proven depths: occupancy + 1 replays every reference run.
    let mut cur: Vec<usize> = buffers
        .iter()
        .map(|b| (b.occupancy + 1).clamp(b.floor, b.rule))
        .collect();
    progress(runs, 0, nb);

    // 2. Search, buffer by buffer: one below the proven depth first (where the occupancy is
    // tight, that one run settles it), then bisection.
    for k in 0..nb {
        if !opts.search {
            break;
        }
        let (mut lo, mut hi) = (buffers[k].floor, cur[k]);
        let mut first = true;
        while lo < hi {
            let mid = if first { hi - 1 } else { lo + (hi - lo) / 2 };
            first = false;
            let mut trial = cur.clone();
            trial[k] = mid;
            if passes(&bench, &trial, &mut runs)? {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        cur[k] = hi;
        progress(runs, k + 1, nb);
    }
    for (b, &c) in buffers.iter_mut().zip(&cur) {
        b.minimum = c;
    }

    // 3. Margin, 4. confirmation on fresh seeds and twice the frames.
    for b in &mut buffers {
        let with_margin = (b.minimum * (100 + MARGIN_PERCENT)).div_ceil(100);
        b.chosen = with_margin.max(b.floor).min(b.rule);
    }
    let chosen: Vec<usize> = buffers.iter().map(|b| b.chosen).collect();
    let mut confirmed = true;
    if chosen != rule {
        bench.inputs = inputs_for(confirm_frames)?;
        bench.frames = confirm_frames;
        let seeds = 1 + opts.seeds as u32;
        let cpats = patterns(opts.stall, seeds..seeds + opts.seeds as u32);
        let ctime: Vec<u64> = cpats
            .iter()
            .map(|st| sim.default_timeout(confirm_frames, st))
            .collect();
        let ideal_span = (ideal * (confirm_frames - 1 - (confirm_frames - 1) / 2)) as u64;
        let got = bench.run_all(&bench.pipeline(&chosen)?, &cpats, &ctime);
        runs += cpats.len();
        // The ideal passes outright; anything slower is compared with the analytic design
        // under the same pattern.
        let slow: Vec<usize> = (0..cpats.len())
            .filter(|&i| span(&got[i].0, confirm_frames, wo).is_none_or(|s| s > ideal_span))
            .collect();
        if !slow.is_empty() {
            let pats: Vec<Stalls> = slow.iter().map(|&i| cpats[i]).collect();
            let times: Vec<u64> = slow.iter().map(|&i| ctime[i]).collect();
            let refs = bench.run_all(&bench.pipeline(&rule)?, &pats, &times);
            runs += pats.len();
            confirmed = slow.iter().zip(&refs).all(|(&i, (r, _))| {
                match (
                    span(r, confirm_frames, wo),
                    span(&got[i].0, confirm_frames, wo),
                ) {
                    (Some(x), Some(y)) => y <= x,
                    _ => false,
                }
            });
        }
        if !confirmed {
            for b in &mut buffers {
                b.chosen = b.rule;
            }
        }
    }
    let n1 = (frames - 1 - (frames - 1) / 2) as f64;
    Ok(Sizing {
        buffers,
        ideal,
        options: *opts,
        frames,
        confirm_frames,
        reference: ref_spans.iter().map(|&s| s as f64 / n1).collect(),
        confirmed,
        runs,
        seconds: start.elapsed().as_secs_f64(),
    })
}

impl Sizing {
    pub fn rule_bits(&self) -> usize {
        self.buffers.iter().map(|b| b.rule * b.word_bits).sum()
    }

    pub fn chosen_bits(&self) -> usize {
        self.buffers.iter().map(|b| b.chosen * b.word_bits).sum()
    }

    /// Sets the chosen depths in `net` (the network the sizing ran on).
    pub fn apply(&self, net: &mut Network) {
        for b in &self.buffers {
            let d = (b.chosen != b.rule).then_some(b.chosen);
            match (&mut net.layers[b.layer].op, b.kind) {
                (Op::MatVec(mv) | Op::Depthwise(mv), BufferKind::Fifo) => mv.folding.fifo_depth = d,
                (Op::MatVec(mv) | Op::Depthwise(mv), BufferKind::Window) => {
                    mv.folding.buffer_depth = d
                }
                (Op::MaxPool(p), BufferKind::Window) => p.buffer_depth = d,
                (Op::MaxPool(_), BufferKind::Fifo) => {}
                (Op::GlobalAvgPool(_), _) => {}
            }
        }
    }

    /// The comment `fold -o` puts above a sized depth in `net.toml`.
    pub fn comment(&self, b: &BufferSize) -> String {
        format!(
            "bnn-gen fold --size-fifos: {} words of {} bits; the analytic rule gives {}, the cycle \
             simulator proves {} ({}) + {MARGIN_PERCENT} % margin",
            b.chosen,
            b.word_bits,
            b.rule,
            b.minimum,
            self.how()
        )
    }

    /// How the proven depths were found.
    fn how(&self) -> &'static str {
        if self.options.search {
            "bisection"
        } else {
            "largest occupancy + 1"
        }
    }

    /// The report section `bnn-gen fold --size-fifos` prints.
    pub fn table(&self, net: &Network) -> String {
        let mut rows: Vec<Vec<String>> = vec![[
            "buffer",
            "layer",
            "field",
            "bits/word",
            "rule",
            "occ. range",
            "proven",
            "chosen",
            "rule bits",
            "chosen bits",
            "saved",
        ]
        .map(String::from)
        .to_vec()];
        for b in &self.buffers {
            rows.push(vec![
                b.block.clone(),
                net.layers[b.layer].name.clone(),
                b.field().to_string(),
                b.word_bits.to_string(),
                b.rule.to_string(),
                format!("{}..{}", b.occupancy_low, b.occupancy),
                b.minimum.to_string(),
                b.chosen.to_string(),
                (b.rule * b.word_bits).to_string(),
                (b.chosen * b.word_bits).to_string(),
                b.saved_bits().to_string(),
            ]);
        }
        let widths: Vec<usize> = (0..rows[0].len())
            .map(|k| rows.iter().map(|r| r[k].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::from("FIFO and window-buffer sizing (cycle simulator):\n");
        if self.buffers.is_empty() {
            out.push_str("no FIFOs or window buffers in this design\n");
            return out;
        }
        for r in &rows {
            let line: Vec<String> = r
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            let _ = writeln!(out, "{}", line.join("  ").trim_end());
        }
        let (rb, cb) = (self.rule_bits(), self.chosen_bits());
        let _ = writeln!(
            out,
            "total: {cb} of {rb} bits ({} bits saved, {:.1} %)",
            rb - cb,
            100.0 * (rb - cb) as f64 / rb.max(1) as f64
        );
        let o = &self.options;
        let _ = writeln!(
            out,
            "criterion: steady-state cycles per frame no more than the analytic design's ({} \
             without stalls, ideal {}; {} with input gaps p = {}, seeds 1..{}), output never \
             stalled, over {} frames; proven = {}; chosen = proven + {MARGIN_PERCENT} % margin, \
             capped at the rule; {}",
            fmt_cpf(self.reference[0]),
            self.ideal,
            self.reference[1..]
                .iter()
                .map(|&c| fmt_cpf(c))
                .collect::<Vec<_>>()
                .join("/"),
            o.stall,
            o.seeds,
            self.frames,
            if o.search {
                "the smallest depth the bisection passed (the replay bound above it)"
            } else {
                "largest occupancy + 1, which replays those runs cycle for cycle \
                 (--size-search bisects below it)"
            },
            if self.buffers.iter().all(|b| b.chosen == b.rule) && self.confirmed {
                "every buffer keeps its analytic depth (nothing smaller to confirm)".to_string()
            } else if self.confirmed {
                format!(
                    "confirmed on {} frames with seeds {}..{}",
                    self.confirm_frames,
                    o.seeds + 1,
                    2 * o.seeds
                )
            } else {
                format!(
                    "NOT confirmed on {} frames with seeds {}..{}: the analytic depths are kept",
                    self.confirm_frames,
                    o.seeds + 1,
                    2 * o.seeds
                )
            }
        );
        let _ = writeln!(
            out,
            "{} cycle-simulator runs in {:.2} s",
            self.runs, self.seconds
        );
        out
    }
}

fn fmt_cpf(c: f64) -> String {
    if c.fract() == 0.0 {
        format!("{c:.0}")
    } else {
        format!("{c:.1}")
    }
}

#[cfg(test)]
mod tests {
    use crate::cyclesim::{Block, Pipeline, RunConfig, Stalls, Swg, SwgParams, Words};
    use crate::passes::window::Window;

    /// `Window::min_depth` is the deadlock bound of the window generator: at that depth a
    /// lone generator (input always valid, output always ready) streams two frames; one word
    /// less and it stops (random geometries: strides above the kernel, padding, several words
    /// per pixel).
    #[test]
    fn min_depth_is_the_deadlock_bound() {
        let mut seed = 11u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut deadlocks = 0;
        for _ in 0..150 {
            let (ih, iw) = (1 + next(6), 1 + next(6));
            let (kh, kw) = (1 + next(ih.min(3)), 1 + next(iw.min(3)));
            let w = Window {
                ih,
                iw,
                cw: 1 + next(2),
                kh,
                kw,
                sh: 1 + next(3),
                sw: 1 + next(3),
                ph: next(kh),
                pw: next(kw),
            };
            let runs = |depth: usize| {
                let p = SwgParams {
                    window: w,
                    wbits: 4,
                    depth,
                    pad: vec![0],
                    depthwise: false,
                };
                let mut pipe = Pipeline::single(Block::Swg(Box::new(Swg::new(&p).unwrap())), 4, 4);
                let mut input = Words::new(4);
                for i in 0..2 * w.frame_words() {
                    input.push_u64(i as u64 & 15);
                }
                let expect = 2 * w.out_words();
                let cfg = RunConfig::new(Stalls::NONE, (20 * (expect + input.len()) + 100) as u64);
                !pipe.run(&input, expect, &cfg).timed_out
            };
            let d = w.min_depth();
            assert!(runs(d), "{w:?} at min_depth {d}");
            if d > 1 {
                assert!(!runs(d - 1), "{w:?} at {}", d - 1);
                deadlocks += 1;
            }
        }
        assert!(deadlocks > 50, "{deadlocks}");
    }
}
