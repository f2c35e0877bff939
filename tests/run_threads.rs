//! `bnn-gen run` on all cores, and its progress bars:
//!
//! - the cycle engine's batches (`cyclesim::batch`, each batch from an idle pipeline, on a pool
//!   of threads) give the same outputs as one continuous stream and as the golden model;
//! - the command writes the same bytes on 1, 2 and 3 threads, for both engines;
//! - with standard output and error piped (not a terminal), `run` and `verify` print no progress
//!   bar, however long they take (only their usual lines); on a pseudo-terminal (`script`, with
//!   the bar's delay set to 0 so that the test does not depend on the machine's speed) they do.
//!
//! No timed assertions: the runs that would show a bar on a terminal print their wall time.

mod common;

use bnn_gen::cyclesim::{self, CycleSim, Stalls};
use bnn_gen::golden::GoldenModel;
use bnn_gen::{frontend, passes};
use common::{require_tool, root, target_dir};
use ndarray::{ArrayD, Axis};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

fn work_dir(name: &str) -> PathBuf {
    let d = target_dir().join("run-threads-tests").join(name);
    fs::create_dir_all(&d).unwrap();
    d
}

fn example(name: &str) -> PathBuf {
    root().join("examples").join(name)
}

fn bnn_gen(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_bnn-gen"))
        .args(args)
        .output()
        .expect("run bnn-gen");
    assert!(
        out.status.success(),
        "bnn-gen {args:?}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Asserts that neither stream holds anything a progress bar draws: carriage returns, escape
/// sequences or the bar's "frames," text.
fn assert_no_bar(what: &str, out: &Output) {
    for (name, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.contains('\r') && !text.contains('\x1b') && !text.contains(" frames, "),
            "{what}: {name} has progress-bar output:\n{text:?}"
        );
    }
}

#[test]
fn cycle_batches_equal_one_stream_and_golden() {
    let mut net = frontend::load(&example("digits-cnn").join("net.toml")).unwrap();
    passes::lower(&mut net).unwrap();
    let frames = frontend::npy::read_int(&example("digits-cnn").join("test_x.npy")).unwrap();
    let n = frames.shape()[0];
    let golden = GoldenModel::new(&net)
        .unwrap()
        .run_batch(frames.view())
        .unwrap();
    let mut sim = CycleSim::from_network(&net).unwrap();
    let stream = sim.run_frames(frames.view(), Stalls::NONE, None).unwrap();
    for (f, row) in golden.axis_iter(Axis(0)).enumerate() {
        assert_eq!(
            stream.outputs[f],
            row.iter().copied().collect::<Vec<_>>(),
            "one stream, frame {f}"
        );
    }
    // 360 frames: 6 batches of up to 64; the last batch is short.
    assert_eq!(cyclesim::batch::batch_size(n, 1), 64);
    for threads in [1, 2, 3] {
        let counted = std::sync::atomic::AtomicUsize::new(0);
        let run = cyclesim::batch::run_batches(&sim, frames.view(), threads, &|k| {
            counted.fetch_add(k, std::sync::atomic::Ordering::Relaxed);
        })
        .unwrap();
        assert_eq!(run.batches, n.div_ceil(64));
        assert_eq!(counted.into_inner(), n, "every frame reported once");
        assert_eq!(run.outputs, stream.outputs, "{threads} thread(s)");
        // Every batch reaches the same steady state as the one stream.
        for cpf in &run.cycles_per_frame {
            assert_eq!(Some(*cpf), stream.cycles_per_frame);
        }
    }
}

#[test]
fn run_writes_the_same_bytes_on_any_number_of_threads() {
    let dir = work_dir("bytes");
    for (engine, ex) in [("golden", "digits-mlp"), ("cycle", "digits-cnn")] {
        let net = example(ex).join("net.toml");
        let input = example(ex).join("test_x.npy");
        let mut outputs = Vec::new();
        for threads in ["1", "2", "3"] {
            let out = dir.join(format!("{engine}-{threads}.npy"));
            bnn_gen(&[
                "run",
                net.to_str().unwrap(),
                "--input",
                input.to_str().unwrap(),
                "--engine",
                engine,
                "--threads",
                threads,
                "--output",
                out.to_str().unwrap(),
            ]);
            outputs.push(fs::read(&out).unwrap());
        }
        assert!(outputs[0].len() > 128, "{engine}: an npy with data");
        assert_eq!(outputs[0], outputs[1], "{engine}: 1 vs 2 threads");
        assert_eq!(outputs[0], outputs[2], "{engine}: 1 vs 3 threads");
    }
}

/// `frames` repeated `times` times along the frame axis, written as npy into `dir`.
fn repeated(frames: &Path, times: usize, dir: &Path) -> PathBuf {
    let x = frontend::npy::read_int(frames).unwrap();
    let views: Vec<_> = (0..times).map(|_| x.view()).collect();
    let big: ArrayD<i64> = ndarray::concatenate(Axis(0), &views).unwrap();
    let path = dir.join(format!("x{times}.npy"));
    ndarray_npy::write_npy(&path, &big).unwrap();
    path
}

#[test]
fn no_progress_bar_when_not_on_a_terminal() {
    let dir = work_dir("no-bar");
    // `run`, cycle engine on one thread: 3,600 digits-cnn frames (4.1 M simulated cycles, about
    // 2 s of CPU at opt-level 2).
    let input = repeated(&example("digits-cnn").join("test_x.npy"), 10, &dir);
    let start = Instant::now();
    let out = bnn_gen(&[
        "run",
        example("digits-cnn").join("net.toml").to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--engine",
        "cycle",
        "--threads",
        "1",
    ]);
    eprintln!("run --engine cycle: {:.1} s", start.elapsed().as_secs_f64());
    assert_no_bar("run --engine cycle", &out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.lines().all(|l| l.starts_with("cycle: ")),
        "only the engine's own lines:\n{stderr}"
    );

    // `verify` under Icarus (slow enough on any machine): 150 tiny frames, stalled and not.
    require_tool("iverilog", "tests/run_threads.rs", "iverilog");
    let start = Instant::now();
    let out = bnn_gen(&[
        "verify",
        example("tiny").join("net.toml").to_str().unwrap(),
        "--sim",
        "icarus",
        "--frames",
        "150",
        "--stall",
        "0.3",
        "-o",
        dir.join("verify-tiny").to_str().unwrap(),
    ]);
    eprintln!(
        "verify --sim icarus: {:.1} s",
        start.elapsed().as_secs_f64()
    );
    assert_no_bar("verify", &out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("PASS"));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn progress_bar_on_a_terminal() {
    require_tool("script", "tests/run_threads.rs", "util-linux");
    let dir = work_dir("bar");
    let input = repeated(&example("digits-cnn").join("test_x.npy"), 2, &dir);
    let command = format!(
        "{} run {} --input {} --engine cycle --threads 1",
        env!("CARGO_BIN_EXE_bnn-gen"),
        example("digits-cnn").join("net.toml").display(),
        input.display()
    );
    // `script` runs the command on a pseudo-terminal and copies what it draws to stdout.
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("BNN_GEN_PROGRESS_DELAY_MS", "0")
        .env("TERM", "xterm")
        .output()
        .expect("run script");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("/720 frames"),
        "a bar with the frame count:\n{text:?}"
    );
}
