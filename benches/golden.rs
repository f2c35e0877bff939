//! Golden-model throughput on an LFC-shaped W1A1 network (784-1024-1024-1024-10, binary input,
//! bipolar weights, sign-like thresholds, argmax head), against the popcount peak of the same
//! kernel on this machine.
//!
//! `cargo bench --bench golden` runs the criterion benchmarks, then prints a summary: frames/s on
//! one thread and on all cores, and achieved binary MACs/s ÷ peak popcount MACs/s (64 MACs per
//! 64-bit popcount), measured in the same run.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bnn_gen::datatype::DataType;
use bnn_gen::golden::{xor_popcount_peak, AlignedWords, GoldenModel, Kernel};
use bnn_gen::ir::{
    Activation, Compare, Folding, Layer, MatVec, Network, Op, Shape, TensorType, Thresholds, TopK,
    ValueType,
};
use criterion::{Criterion, Throughput};
use ndarray::{Array2, ArrayD, IxDyn};

const SEED: u64 = 0x5EED_1FC0_2024_0001;
const TOPOLOGY: [usize; 5] = [784, 1024, 1024, 1024, 10];
const BATCH: usize = 2048;

/// xorshift64: a fixed, dependency-free stream.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bipolar(&mut self) -> i32 {
        if self.next() & 1 == 1 {
            1
        } else {
            -1
        }
    }

    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
}

/// The LFC-W1A1 shape with random weights and thresholds.
fn lfc(rng: &mut Rng) -> Network {
    let input = TensorType {
        shape: Shape::Flat(TOPOLOGY[0]),
        dtype: ValueType::Data(DataType::BINARY),
    };
    let mut layers = Vec::new();
    let mut prev = input;
    for (i, pair) in TOPOLOGY.windows(2).enumerate() {
        let (mw, mh) = (pair[0], pair[1]);
        let weights = Array2::from_shape_fn((mh, mw), |_| rng.bipolar());
        let last = i + 2 == TOPOLOGY.len();
        let (activation, dtype) = if last {
            (
                Activation::Identity,
                ValueType::Accumulator {
                    lo: -(mw as i64),
                    hi: mw as i64,
                },
            )
        } else {
            // Sign-like: one threshold per channel near zero (the accumulators are sums of ±1).
            let values = Array2::from_shape_fn((mh, 1), |_| rng.range(-8, 8));
            let t = Thresholds {
                values,
                compare: vec![Compare::Ge; mh],
                out_bias: -1,
                out_dtype: DataType::Bipolar,
            };
            (
                Activation::Thresholds(t),
                ValueType::Data(DataType::Bipolar),
            )
        };
        let output = TensorType {
            shape: Shape::Flat(mh),
            dtype,
        };
        layers.push(Layer {
            name: format!("fc{i}"),
            input: prev,
            output,
            op: Op::MatVec(MatVec {
                conv: None,
                weights,
                weight_dtype: DataType::Bipolar,
                activation,
                folding: Folding::new(1, 1),
            }),
        });
        prev = output;
    }
    Network {
        name: "lfc-w1a1-random".into(),
        input,
        layers,
        head: Some(TopK { k: 1 }),
    }
}

/// Binary MACs of one frame (true fan-in × fan-out, no padding).
fn macs_per_frame() -> f64 {
    TOPOLOGY.windows(2).map(|p| (p[0] * p[1]) as f64).sum()
}

fn frames(rng: &mut Rng, n: usize) -> ArrayD<i64> {
    ArrayD::from_shape_fn(IxDyn(&[n, TOPOLOGY[0]]), |_| (rng.next() >> 7 & 1) as i64)
}

/// Peak buffers: `x` of `words` words and `y` (64-byte aligned) with the kernel's block rows per
/// `x` word.
fn peak_buffers(rng: &mut Rng, kernel: Kernel, words: usize) -> (Vec<u64>, AlignedWords) {
    let rows = kernel.block_rows().expect("available kernel");
    let x = (0..words).map(|_| rng.next()).collect();
    let y = (0..words * rows).map(|_| rng.next()).collect();
    (x, y)
}

/// Nanoseconds this thread has been on a CPU (Linux), to measure through the noise of a shared
/// machine: a rate per CPU-second does not drop when other processes take the core.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// A rate measured both ways: per wall-clock second and per second on the CPU (single-threaded
/// work only).
#[derive(Clone, Copy)]
struct Rate {
    wall: f64,
    cpu: Option<f64>,
}

/// Best-of-`reps` rate of `f` (`units` per call), each repetition about 300 ms (the CPU clock of
/// /proc ticks coarsely, so repetitions must be long).
fn rate(units: f64, reps: usize, mut f: impl FnMut()) -> Rate {
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < Duration::from_millis(300) {
        f();
        calls += 1;
    }
    let mut best = Rate {
        wall: 0.0,
        cpu: None,
    };
    for _ in 0..reps {
        let (t, c) = (Instant::now(), thread_cpu_ns());
        for _ in 0..calls {
            f();
        }
        let wall = units * calls as f64 / t.elapsed().as_secs_f64();
        let cpu = c
            .zip(thread_cpu_ns())
            .map(|(a, b)| units * calls as f64 / ((b - a) as f64 * 1e-9));
        best.wall = best.wall.max(wall);
        best.cpu = match (best.cpu, cpu) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
    best
}

fn criterion_benches(c: &mut Criterion, net: &Network, batch: &ArrayD<i64>) {
    let model = GoldenModel::new(net).expect("lowered network");
    let kernel = model.kernel();
    let frame: Vec<i64> = batch
        .index_axis(ndarray::Axis(0), 0)
        .iter()
        .copied()
        .collect();

    let mut g = c.benchmark_group(format!("golden/lfc-w1a1/{kernel}"));
    g.throughput(Throughput::Elements(1));
    g.bench_function("infer (1 frame)", |b| {
        b.iter(|| model.infer(black_box(&frame)))
    });
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(20);
    g.bench_function(format!("run_batch ({BATCH} frames, 1 thread)"), |b| {
        b.iter(|| model.run_batch_threads(black_box(batch.view()), 1).unwrap())
    });
    g.bench_function(format!("run_batch ({BATCH} frames, all cores)"), |b| {
        b.iter(|| model.run_batch(black_box(batch.view())).unwrap())
    });
    g.finish();

    let mut rng = Rng(SEED ^ 0xBEEF);
    let mut g = c.benchmark_group(format!("golden/popcount-peak/{kernel}"));
    for words in PEAK_WORDS {
        let (x, y) = peak_buffers(&mut rng, kernel, words);
        g.throughput(Throughput::Elements(y.as_slice().len() as u64));
        g.bench_function(
            format!("xor+popcount, {} KiB", y.as_slice().len() * 8 / 1024),
            |b| b.iter(|| xor_popcount_peak(kernel, black_box(&x), black_box(y.as_slice()))),
        );
    }
    g.finish();
}

/// `x` words of the peak buffers: L1-resident (16 KiB of `y` for 32 rows) and L2-resident
/// (256 KiB, about the LFC weights' 370 KiB).
const PEAK_WORDS: [usize; 2] = [64, 1024];

fn summary(net: &Network, batch: &ArrayD<i64>) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let macs = macs_per_frame();
    let n = batch.shape()[0] as f64;
    let frame: Vec<i64> = batch
        .index_axis(ndarray::Axis(0), 0)
        .iter()
        .copied()
        .collect();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!();
    println!(
        "== golden model on LFC-W1A1 shape {TOPOLOGY:?}: {macs:.0} binary MACs/frame; {threads} cores; load average {} ==",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    println!("   rates are best of 5 x 300 ms; \"cpu\" = per second on the CPU (immune to other processes), \"wall\" = per elapsed second");
    let fmt = |r: Option<f64>| r.map_or("-".to_string(), |v| format!("{v:.0}"));
    for kernel in Kernel::available() {
        let model = GoldenModel::with_kernel(net, kernel).expect("lowered network");
        let single = rate(1.0, 5, || {
            black_box(model.infer(black_box(&frame)));
        });
        let one = rate(n, 5, || {
            black_box(model.run_batch_threads(black_box(batch.view()), 1).unwrap());
        });
        let all = rate(n, 5, || {
            black_box(model.run_batch(black_box(batch.view())).unwrap());
        });
        let mut rng = Rng(SEED ^ 0xBEEF);
        let peaks: Vec<Rate> = PEAK_WORDS
            .into_iter()
            .map(|words| {
                let (x, y) = peak_buffers(&mut rng, kernel, words);
                rate(y.as_slice().len() as f64 * 64.0, 5, || {
                    black_box(xor_popcount_peak(
                        kernel,
                        black_box(&x),
                        black_box(y.as_slice()),
                    ));
                })
            })
            .collect();
        let peak_wall = peaks.iter().map(|p| p.wall).fold(0.0, f64::max);
        let peak_cpu = peaks.iter().filter_map(|p| p.cpu).reduce(f64::max);
        println!(
            "-- kernel {kernel} ({} weight rows per block)",
            kernel.block_rows().unwrap_or(0)
        );
        println!(
            "   peak xor+popcount, 1 thread: L1 {} / L2 {} GMAC/s cpu, best {:.0} GMAC/s wall",
            fmt(peaks[0].cpu.map(|v| v / 1e9)),
            fmt(peaks[1].cpu.map(|v| v / 1e9)),
            peak_wall / 1e9
        );
        let line = |what: &str, r: Rate| {
            let ratio = |a: f64, p: f64| format!("{:.0}%", 100.0 * a * macs / p);
            println!(
                "   {what:<28} {:>9} frames/s cpu {:>9} frames/s wall   {:>6} GMAC/s cpu   ratio to peak: {} cpu, {} wall",
                fmt(r.cpu),
                fmt(Some(r.wall)),
                fmt(r.cpu.map(|v| v * macs / 1e9)),
                r.cpu.zip(peak_cpu).map_or("-".into(), |(a, p)| ratio(a, p)),
                ratio(r.wall, peak_wall),
            );
        };
        line("infer, 1 frame at a time", single);
        line(&format!("run_batch {BATCH}, 1 thread"), one);
        println!(
            "   {:<28} {:>9.0} frames/s wall ({:.0} GMAC/s; {:.0}% of {threads} x peak wall)",
            format!("run_batch {BATCH}, {threads} threads"),
            all.wall,
            all.wall * macs / 1e9,
            100.0 * all.wall * macs / (peak_wall * threads as f64)
        );
    }
    println!("(ratio = achieved binary MACs/s ÷ peak MACs/s of the same kernel's xor+popcount loop over one buffer on one thread, 64 MACs per u64 popcount, peak = the better of the L1- and L2-resident buffers)");
}

fn main() {
    let mut rng = Rng(SEED);
    let net = lfc(&mut rng);
    let batch = frames(&mut rng, BATCH);

    // Sanity: the batch path agrees with single-frame inference.
    let model = GoldenModel::new(&net).expect("lowered network");
    let y = model.run_batch(batch.view()).expect("valid batch");
    for i in [0, BATCH / 2, BATCH - 1] {
        let frame: Vec<i64> = batch
            .index_axis(ndarray::Axis(0), i)
            .iter()
            .copied()
            .collect();
        assert_eq!(model.infer(&frame), vec![y[[i, 0]]]);
    }

    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    criterion_benches(&mut c, &net, &batch);
    c.final_summary();
    // The timed summary only under `cargo bench` (which passes --bench): `cargo test` runs each
    // criterion benchmark once as a test, and the summary's timing loops would only cost CI time.
    if std::env::args().any(|a| a == "--bench") {
        summary(&net, &batch);
    }
}
