//! QONNX import (issue 11), on the committed models of `tests/models/` (made by
//! `scripts/export_brevitas.py`; CI never runs that script):
//! - each Brevitas model (TFC-W1A1, TFC-W2A2, the conv net CNV-W1A1), raw export and
//!   `qonnx.util.cleanup` form: `import` succeeds, `run` on the `.onnx` equals qonnx `execute_onnx`
//!   within 1e-4 on every frame and class, the imported net.toml gives the same outputs, the cycle
//!   simulator equals the golden model, and the accuracy `run --labels` prints equals the
//!   reference's;
//! - TFC-W2A2, CNV-W1A1 and the MobileNet-style net: `verify MODEL.onnx --input X.npy` (golden
//!   == cycle simulator == Verilator) on 20 of the frames with 20 % stalls (TFC-W1A1's dense
//!   XNOR layers are the datapath every example verifies in tests/verify.rs);
//! - a hand-built graph with per-channel scales, Gemm transB=1, MultiThreshold, BatchNormalization
//!   with a negative γ and an activation zero point of 1, against its qonnx reference;
//! - a hand-built graph with accumulators planted a few float32 ulps from rounding boundaries
//!   (float32 exactness of the threshold search), against its qonnx reference;
//! - the MobileNet-style digits nets (issue 14: depthwise `Conv` with `group = C`,
//!   `GlobalAveragePool` + `Trunc`), raw and clean, and the magnitude-pruned variant: as the
//!   Brevitas models above, on the digits frames; `verify` three-way with 20 % stalls;
//! - every refused construct and malformed file: exit status 1, `error: ` naming the file and node.

mod common;

use ndarray::{ArrayD, Axis};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TOLERANCE: f32 = 1e-4;

fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/models")
}

fn bnn_gen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bnn-gen"))
        .args(args)
        .output()
        .expect("bnn-gen runs")
}

fn ok(args: &[&str]) -> String {
    let out = bnn_gen(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bnn-gen {args:?} failed:\n{stderr}");
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Runs a command that must fail cleanly; returns its stderr.
fn fails(args: &[&str]) -> String {
    let out = bnn_gen(args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        out.status.code(),
        Some(1),
        "bnn-gen {args:?} must exit 1 (not panic):\n{stderr}"
    );
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

fn read_f32(p: &Path) -> ArrayD<f32> {
    ndarray_npy::read_npy(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn read_i64(p: &Path) -> ArrayD<i64> {
    ndarray_npy::read_npy(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn argmax_accuracy(y: &ArrayD<f32>, labels: &ArrayD<i64>) -> usize {
    y.axis_iter(Axis(0))
        .zip(labels.iter())
        .filter(|(row, &l)| {
            let mut best = 0;
            for (i, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = i;
                }
            }
            best as i64 == l
        })
        .count()
}

fn max_abs_diff(a: &ArrayD<f32>, b: &ArrayD<f32>) -> f32 {
    assert_eq!(a.shape(), b.shape());
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Frames whose argmax differs between `y` and `reference`; panics unless each is a tie in the
/// reference (bnn-gen's class scores within the tolerance of the reference's best).
fn differing_predictions(y: &ArrayD<f32>, reference: &ArrayD<f32>) -> usize {
    let argmax = |row: &ndarray::ArrayViewD<f32>| {
        let mut best = 0;
        for (i, &v) in row.iter().enumerate() {
            if v > row[[best]] {
                best = i;
            }
        }
        best
    };
    let mut n = 0;
    for (i, (a, r)) in y
        .axis_iter(Axis(0))
        .zip(reference.axis_iter(Axis(0)))
        .enumerate()
    {
        let (pa, pr) = (argmax(&a), argmax(&r));
        if pa != pr {
            assert!(
                (r[[pa]] - r[[pr]]).abs() <= TOLERANCE,
                "frame {i}: bnn-gen predicts {pa}, qonnx {pr}, not a tie: {r:?}"
            );
            n += 1;
        }
    }
    n
}

/// `accuracy: 87.50 % (224/256)` → 224.
fn printed_correct(stdout: &str) -> usize {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("accuracy: "))
        .unwrap_or_else(|| panic!("no accuracy line in {stdout}"));
    let inner = line.rsplit_once('(').expect("(k/n)").1;
    inner.split('/').next().unwrap().parse().expect("a count")
}

/// The test frames and labels of a committed model: `digits256_*` for the MobileNet-style nets
/// (trained on scikit-learn's digits), `mnist256_*` for the others.
fn dataset(name: &str) -> &'static str {
    if name.starts_with("mobilenet") {
        "digits256"
    } else {
        "mnist256"
    }
}

/// Import, run (golden and cycle) and compare one committed model form with its qonnx reference.
fn check_model(name: &str, form: &str) {
    let dir = models().join(name);
    let model = dir.join(format!("{form}.onnx"));
    let reference = read_f32(&dir.join(format!("ref_{form}.npy")));
    let x = models().join(format!("{}_x.npy", dataset(name)));
    let labels_path = models().join(format!("{}_y.npy", dataset(name)));
    let labels = read_i64(&labels_path);
    let tmp = tempfile::tempdir().unwrap();
    let m = model.to_str().unwrap();

    // import writes a net.toml that reads back
    let net_dir = tmp.path().join("net");
    ok(&["import", m, "-o", net_dir.to_str().unwrap()]);
    let net_toml = net_dir.join("net.toml");
    ok(&["check", net_toml.to_str().unwrap()]);

    // run on the .onnx: float logits equal to qonnx within 1e-4 on every frame and class
    let y_path = tmp.path().join("y.npy");
    let stdout = ok(&[
        "run",
        m,
        "--input",
        x.to_str().unwrap(),
        "--output",
        y_path.to_str().unwrap(),
        "--labels",
        labels_path.to_str().unwrap(),
    ]);
    let y = read_f32(&y_path);
    let diff = max_abs_diff(&y, &reference);
    let expected = argmax_accuracy(&reference, &labels);
    eprintln!(
        "{name} {form}: max |bnn-gen - qonnx| = {diff:e} over {} frames; accuracy qonnx {expected}/{n}, bnn-gen {}/{n}",
        y.shape()[0],
        printed_correct(&stdout),
        n = labels.len()
    );
    assert!(diff <= TOLERANCE, "{name} {form}: max difference {diff}");
    // The accuracies are equal, except where the reference has a tie: binarized logits are often
    // exactly equal, and float32 rounding in the graph (summation order) breaks the tie at random
    // where bnn-gen's exact integers keep it (and argmax takes the lower index). Every frame where
    // the predictions differ must be such a tie (both classes within the tolerance).
    let ties = differing_predictions(&y, &reference);
    eprintln!(
        "{name} {form}: {} frame(s) predicted differently, all ties in the reference",
        ties
    );
    assert!(
        printed_correct(&stdout).abs_diff(expected) <= ties,
        "{name} {form}: accuracy"
    );

    // the imported net.toml gives the same outputs
    let y2_path = tmp.path().join("y2.npy");
    ok(&[
        "run",
        net_toml.to_str().unwrap(),
        "--input",
        x.to_str().unwrap(),
        "--output",
        y2_path.to_str().unwrap(),
    ]);
    assert_eq!(read_f32(&y2_path), y, "{name} {form}: net.toml vs .onnx");

    // the cycle simulator on the same (quantized) input equals the golden model
    let yc_path = tmp.path().join("yc.npy");
    ok(&[
        "run",
        m,
        "--engine",
        "cycle",
        "--input",
        x.to_str().unwrap(),
        "--output",
        yc_path.to_str().unwrap(),
    ]);
    assert_eq!(read_f32(&yc_path), y, "{name} {form}: cycle vs golden");
}

#[test]
fn tfc_w1a1_raw() {
    check_model("tfc-w1a1", "raw");
}

#[test]
fn tfc_w1a1_clean() {
    check_model("tfc-w1a1", "clean");
}

#[test]
fn tfc_w2a2_raw() {
    check_model("tfc-w2a2", "raw");
}

#[test]
fn tfc_w2a2_clean() {
    check_model("tfc-w2a2", "clean");
}

#[test]
fn cnv_w1a1_raw() {
    check_model("cnv-w1a1", "raw");
}

#[test]
fn cnv_w1a1_clean() {
    check_model("cnv-w1a1", "clean");
}

#[test]
fn mobilenet_digits_raw() {
    check_model("mobilenet-digits", "raw");
}

#[test]
fn mobilenet_digits_clean() {
    check_model("mobilenet-digits", "clean");
}

#[test]
fn mobilenet_digits_pruned_clean() {
    check_model("mobilenet-digits-pruned", "clean");
}

/// The net.toml that `import` writes for `model` (a path below tests/models).
fn imported_net_toml(model: &str) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let model = models().join(model);
    ok(&[
        "import",
        model.to_str().unwrap(),
        "-o",
        tmp.path().to_str().unwrap(),
    ]);
    std::fs::read_to_string(tmp.path().join("net.toml")).unwrap()
}

/// The MobileNet-style net's imported net.toml: depthwise layers as `conv2d` with `groups`,
/// the global pool as `globalavgpool`, SIMD 1 on the depthwise layers, and the output scale
/// stated on the average (H·W = 16 times the sums' scale, which `run` divides back).
#[test]
fn mobilenet_digits_net_toml_conventions() {
    let toml = imported_net_toml("mobilenet-digits/clean.onnx");
    let net: toml::Table = toml.parse().unwrap();
    let layers = net["layer"].as_array().unwrap();
    let kinds: Vec<(&str, Option<i64>)> = layers
        .iter()
        .map(|l| {
            (
                l["kind"].as_str().unwrap(),
                l.get("groups").and_then(|g| g.as_integer()),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("conv2d", None),
            ("conv2d", Some(16)),
            ("conv2d", None),
            ("conv2d", Some(32)),
            ("conv2d", None),
            ("conv2d", Some(32)),
            ("conv2d", None),
            ("globalavgpool", None),
            ("dense", None),
        ],
        "{toml}"
    );
    for l in layers.iter().filter(|l| l.get("groups").is_some()) {
        assert_eq!(l["simd"].as_integer(), Some(1), "{toml}");
    }
    // The graph's classifier scale is s_sum·s_w with s_sum = s/16; net.toml states s·s_w.
    let scale = net["output"]["scale"].as_array().unwrap()[0]
        .as_float()
        .unwrap();
    assert!((0.04..0.08).contains(&scale), "{scale}");
}

/// The conv model's imported net.toml: NCHW input transposed to NHWC, Brevitas' zero padding of
/// a bipolar tensor reproduced with an int2 (±1) activation and pad value 0, the flatten into the
/// first dense layer permuted to NHWC order.
#[test]
fn cnv_w1a1_net_toml_conventions() {
    let toml = imported_net_toml("cnv-w1a1/clean.onnx");
    assert!(toml.contains("shape = [28, 28, 1]"), "{toml}");
    assert!(toml.contains("source_layout = \"chw\""), "{toml}");
    assert!(toml.contains("kind = \"conv2d\""), "{toml}");
    assert!(toml.contains("kind = \"maxpool\""), "{toml}");
    assert!(toml.contains("pad_value = 0"), "{toml}");
    assert!(toml.contains("out_dtype = \"int2\""), "{toml}");
}

/// Golden model == cycle simulator == Verilator on the model's own float frames (the first 20,
/// quantized by the imported input quantizer), with 20 % stalls on both streams.
fn verify_model(name: &str) {
    common::require_tool("verilator", "tests/import.rs", "verilator");
    let tmp = tempfile::tempdir().unwrap();
    let x: ArrayD<f32> = read_f32(&models().join(format!("{}_x.npy", dataset(name))));
    let x20 = x
        .slice_axis(Axis(0), ndarray::Slice::from(0..20))
        .to_owned();
    let xp = tmp.path().join("x20.npy");
    ndarray_npy::write_npy(&xp, &x20).unwrap();
    let out = common::target_dir()
        .join("verify-tests")
        .join(format!("import-{name}"));
    let model = models().join(name).join("clean.onnx");
    let stdout = ok(&[
        "verify",
        model.to_str().unwrap(),
        "--input",
        xp.to_str().unwrap(),
        "--stall",
        "0.2",
        "-o",
        out.to_str().unwrap(),
    ]);
    eprintln!("{name}: {stdout}");
    assert!(stdout.contains("PASS"), "{stdout}");
    assert!(stdout.contains("20 given frame(s), stall 0.2"), "{stdout}");
}

#[test]
fn verify_tfc_w2a2() {
    verify_model("tfc-w2a2");
}

#[test]
fn verify_cnv_w1a1() {
    verify_model("cnv-w1a1");
}

/// Depthwise (VVAU), 1×1 (window bypass) and global-pool layers of a trained net, three-way.
#[test]
fn verify_mobilenet_digits() {
    verify_model("mobilenet-digits");
}

/// A hand-built graph against its qonnx reference: `run` on the .onnx within 1e-4, and the
/// cycle simulator on the imported net.toml equal to it.
fn check_handmade(model: &str, x: &str, reference: &str) {
    let dir = models().join("handmade");
    let tmp = tempfile::tempdir().unwrap();
    let y_path = tmp.path().join("y.npy");
    let m = dir.join(model);
    let x = dir.join(x);
    ok(&[
        "run",
        m.to_str().unwrap(),
        "--input",
        x.to_str().unwrap(),
        "--output",
        y_path.to_str().unwrap(),
    ]);
    let diff = max_abs_diff(&read_f32(&y_path), &read_f32(&dir.join(reference)));
    eprintln!("handmade {model}: max |bnn-gen - qonnx| = {diff:e}");
    assert!(diff <= TOLERANCE, "{model}: max difference {diff}");
    let net = tmp.path().join("net");
    ok(&["import", m.to_str().unwrap(), "-o", net.to_str().unwrap()]);
    let yc = tmp.path().join("yc.npy");
    ok(&[
        "run",
        net.join("net.toml").to_str().unwrap(),
        "--engine",
        "cycle",
        "--input",
        x.to_str().unwrap(),
        "--output",
        yc.to_str().unwrap(),
    ]);
    assert_eq!(read_f32(&yc), read_f32(&y_path), "{model}: cycle vs golden");
}

/// Per-channel weight scales ([out, 1] and [1, out]), Gemm transB=1 with bias, MultiThreshold,
/// Mul on a quantized activation, BatchNormalization with a negative γ, a Quant with zero point 1,
/// a bias Add on the output.
#[test]
fn handmade_mixed_graph_matches_qonnx() {
    check_handmade("mixed.onnx", "x.npy", "ref.npy");
}

/// Conv with stride 2, padding 1 of a uint4 tensor, a per-channel weight scale and bias; a
/// per-channel Mul [1, C, 1, 1], Relu, a uint3 Quant, a Trunc shift (3 -> 2 bits), a max-pool with
/// stride 1, the C-major flatten of 3 channels into a Gemm.
#[test]
fn handmade_conv_graph_matches_qonnx() {
    check_handmade("conv.onnx", "conv_x.npy", "conv_ref.npy");
}

/// A MultiThreshold on the graph input (the input quantizer as one row of thresholds).
#[test]
fn handmade_multithreshold_input_matches_qonnx() {
    check_handmade("mt_input.onnx", "mt_input_x.npy", "mt_input_ref.npy");
}

/// float32 exactness (issue 14): beta planted so that accumulators the frames reach land within a
/// few float32 ulps of a rounding boundary of the activation quantizer, where the graph's float32
/// BatchNormalization and the exact f64 formula round to different levels (rising and falling
/// channels, float32 above and below f64). The import must take the graph's side on every frame.
#[test]
fn handmade_float32_boundary_matches_qonnx() {
    check_handmade("boundary.onnx", "boundary_x.npy", "boundary_ref.npy");
}

/// Each refused construct: exit 1, the file and the node named, and why.
#[test]
fn refused_constructs_name_file_node_and_reason() {
    let dir = models().join("handmade");
    let cases = [
        (
            "err_op",
            "node 3 \"sigmoid\" (Sigmoid)",
            "op Sigmoid is not supported",
        ),
        (
            "err_float",
            "\"mm_float\" (MatMul)",
            "must be a quantized activation",
        ),
        ("err_residual", "\"residual\" (Add)", "two computed tensors"),
        (
            "err_perchannel_act",
            "\"qact\" (Quant)",
            "per-channel activation scale",
        ),
        (
            "err_zeropoint",
            "\"qin\" (Quant)",
            "zero point 0.5 is not an integer",
        ),
        ("err_shape", "\"mm_shape\" (MatMul)", "shape mismatch"),
        ("err_missing", "\"qw\" (Quant)", "neither an initializer"),
        (
            "err_conv",
            "\"conv0\" (Conv)",
            "grouped convolution with group = 2 on 4 channels",
        ),
        (
            "err_avgpool",
            "\"avgpool\" (AveragePool)",
            "help: pool the whole image",
        ),
        (
            "err_gap_act",
            "\"qact\" (Quant)",
            "right after GlobalAveragePool",
        ),
        ("err_pool_pad", "\"pool_pad\" (MaxPool)", "has no padding"),
        ("err_trunc", "\"trunc_odd\" (Trunc)", "do not restate"),
        (
            "err_mt_input",
            "\"mt_in\" (MultiThreshold)",
            "per-channel thresholds",
        ),
        ("err_opset", "", "opset 1 is not supported"),
    ];
    for (file, node, why) in cases {
        let path = dir.join(format!("{file}.onnx"));
        let stderr = fails(&["check", path.to_str().unwrap()]);
        assert!(
            stderr.contains(&format!("{}", path.display())),
            "{file}: {stderr}"
        );
        assert!(stderr.contains(node), "{file}: {stderr}");
        assert!(stderr.contains(why), "{file}: {stderr}");
    }
}

#[test]
fn malformed_files_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let good = std::fs::read(models().join("tfc-w1a1/clean.onnx")).unwrap();
    // truncated protobuf
    let cut = tmp.path().join("cut.onnx");
    std::fs::write(&cut, &good[..good.len() / 2]).unwrap();
    let e = fails(&["check", cut.to_str().unwrap()]);
    assert!(
        e.contains("cut.onnx") && e.contains("not a readable ONNX model"),
        "{e}"
    );
    // empty and not-ONNX files
    let empty = tmp.path().join("empty.onnx");
    std::fs::write(&empty, b"").unwrap();
    let e = fails(&["check", empty.to_str().unwrap()]);
    assert!(e.contains("empty.onnx"), "{e}");
    let text = tmp.path().join("text.onnx");
    std::fs::write(&text, b"name = \"not onnx\"\n").unwrap();
    fails(&["run", text.to_str().unwrap(), "--input", "x.npy"]);
    // a missing file
    let e = fails(&["check", tmp.path().join("none.onnx").to_str().unwrap()]);
    assert!(e.contains("none.onnx"), "{e}");
    // float input of the wrong shape names the input file
    let x = tmp.path().join("x.npy");
    ndarray_npy::write_npy(&x, &ndarray::Array2::<f32>::zeros((2, 5))).unwrap();
    let e = fails(&[
        "run",
        models().join("tfc-w1a1/clean.onnx").to_str().unwrap(),
        "--input",
        x.to_str().unwrap(),
    ]);
    assert!(
        e.contains("x.npy") && e.contains("float input of shape"),
        "{e}"
    );
}
