//! The trained digits examples: the golden model, running the compiler's own batch-norm folding on
//! the exported float parameters, must give exactly the float model's prediction on every test
//! image, and exactly its integer logits.

use bnn_gen::golden::GoldenModel;
use bnn_gen::ir::Network;
use bnn_gen::{frontend, passes};
use ndarray::{ArrayD, Axis};
use std::path::Path;

fn example(name: &str) -> (Network, ArrayD<i64>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name);
    let mut net = frontend::load(&dir.join("net.toml")).expect("the example loads");
    passes::lower(&mut net).expect("the example lowers");
    let x = frontend::npy::read_int(&dir.join("test_x.npy")).expect("test inputs");
    (net, x)
}

fn expected(name: &str, file: &str) -> ArrayD<i64> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
        .join(file);
    frontend::npy::read_int(&path).expect(file)
}

/// Golden predictions and last-layer logits per image.
fn golden(net: &Network, x: &ArrayD<i64>) -> (Vec<i64>, Vec<Vec<i64>>) {
    let model = GoldenModel::new(net).expect("golden model");
    let mut preds = Vec::new();
    let mut logits = Vec::new();
    for frame in x.axis_iter(Axis(0)) {
        let flat: Vec<i64> = frame.iter().copied().collect();
        let trace = model.infer_trace(&flat);
        logits.push(trace.last().expect("layers").clone());
        preds.push(model.infer(&flat)[0]);
    }
    (preds, logits)
}

fn check(name: &str) {
    let (net, x) = example(name);
    let (preds, logits) = golden(&net, &x);
    let float_pred = expected(name, "float_pred.npy");
    let float_logits = expected(name, "float_logits.npy");
    let labels = expected(name, "test_y.npy");
    let n = preds.len();
    assert_eq!(n, float_pred.len());
    for i in 0..n {
        let row: Vec<i64> = float_logits
            .index_axis(Axis(0), i)
            .iter()
            .copied()
            .collect();
        assert_eq!(
            logits[i], row,
            "{name}: image {i}: logits differ from the float model"
        );
        assert_eq!(
            preds[i], float_pred[i],
            "{name}: image {i}: prediction differs from the float model"
        );
    }
    let correct = preds
        .iter()
        .zip(labels.iter())
        .filter(|(p, l)| p == l)
        .count();
    println!("{name}: golden accuracy {:.2} % ({correct}/{n}), identical to the float model on every image", 100.0 * correct as f64 / n as f64);
}

#[test]
fn digits_mlp_golden_equals_float_model_on_every_image() {
    check("digits-mlp");
}

#[test]
fn digits_cnn_golden_equals_float_model_on_every_image() {
    check("digits-cnn");
}

/// `bnn-gen run --engine cycle` (the cycle-accurate simulator of the generated hardware) writes the
/// same predictions as `--engine golden` on the whole digits-mlp test set.
#[test]
fn digits_mlp_cycle_engine_equals_golden_engine() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/digits-mlp");
    let out = tempfile::tempdir().expect("tempdir");
    let run = |engine: &str| {
        let path = out.path().join(format!("{engine}.npy"));
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_bnn-gen"))
            .args(["run", "--engine", engine, "--input"])
            .arg(dir.join("test_x.npy"))
            .arg("--output")
            .arg(&path)
            .arg(dir.join("net.toml"))
            .output()
            .expect("bnn-gen runs");
        assert!(
            status.status.success(),
            "{}",
            String::from_utf8_lossy(&status.stderr)
        );
        (
            frontend::npy::read_int(&path).expect("output"),
            String::from_utf8_lossy(&status.stderr).into_owned(),
        )
    };
    let (golden, _) = run("golden");
    let (cycle, log) = run("cycle");
    assert_eq!(golden, cycle);
    assert_eq!(cycle.shape(), [360, 1]);
    assert_eq!(
        cycle.index_axis(Axis(1), 0),
        expected("digits-mlp", "float_pred.npy")
    );
    assert!(
        log.contains("steady state 64.00 cycles/frame (ideal 64, the slowest layer)"),
        "{log}"
    );
}
