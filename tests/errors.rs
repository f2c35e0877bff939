//! Every bad input gives a clear error, never a panic.
//!
//! Each test writes a small valid network into a temporary directory, breaks exactly one thing, runs
//! the real binary (`bnn-gen check`, or `bnn-gen run` for input frames) and checks that it exits with
//! status 1 (not 101, a panic), that stderr starts with `error: `, and that the message names what a
//! user needs to fix it: the file, the layer, the field, what was expected and what was found.
//!
//! At the end, a property test feeds random mutations of valid `net.toml` texts and random bytes as
//! `.npy` files to `frontend::load` + `passes::lower` and checks that they never panic.

use ndarray::{Array1, Array2, ArrayD, Dimension, IxDyn};
use ndarray_npy::{write_npy, WritableElement};
use std::path::{Path, PathBuf};
use std::process::Command;

// ---------------------------------------------------------------------------------------------
// Fixtures: two small valid networks, and ways to break them.
// ---------------------------------------------------------------------------------------------

/// A 3-layer MLP: bipolar input [8]; fc0 (bipolar weights, batch-norm + sign), fc1 (bipolar weights,
/// explicit uint2 thresholds), fc2 (int2 weights, raw accumulators); a top-2 head.
const MLP: &str = r#"name = "tiny-mlp"

[input]
shape = [8]
dtype = "bipolar"

[[layer]]
kind = "dense"
name = "fc0"
out_features = 6
weights = "fc0_w.npy"
weight_dtype = "bipolar"
pe = 3
simd = 4

[layer.activation]
kind = "batchnorm"
gamma = "fc0_gamma.npy"
beta = "fc0_beta.npy"
mean = "fc0_mean.npy"
var = "fc0_var.npy"
eps = 1e-5
quantizer = { kind = "sign" }

[[layer]]
kind = "dense"
name = "fc1"
out_features = 4
weights = "fc1_w.npy"
weight_dtype = "bipolar"
pe = 2
simd = 6

[layer.activation]
kind = "thresholds"
thresholds = "fc1_thr.npy"
out_dtype = "uint2"

[[layer]]
kind = "dense"
name = "fc2"
out_features = 3
weights = "fc2_w.npy"
weight_dtype = "int2"
pe = 1
simd = 2

[layer.activation]
kind = "none"

[head]
kind = "topk"
k = 2
"#;

/// A small CNN: bipolar image [6, 6, 2]; conv0 (3x3, padding 1 with +1, batch-norm + uint2
/// quantizer), pool0 (2x2 max-pool), fc (ternary weights, PyTorch flatten order); an argmax head.
const CNN: &str = r#"name = "tiny-cnn"

[input]
shape = [6, 6, 2]
dtype = "bipolar"

[[layer]]
kind = "conv2d"
name = "conv0"
out_channels = 4
kernel = 3
padding = 1
pad_value = 1
weights = "conv0_w.npy"
weight_dtype = "bipolar"
pe = 2
simd = 2

[layer.activation]
kind = "batchnorm"
gamma = "conv0_gamma.npy"
beta = "conv0_beta.npy"
mean = "conv0_mean.npy"
var = "conv0_var.npy"
eps = 1e-5
quantizer = { kind = "uniform", bits = 2, signed = false, scale = 0.5 }

[[layer]]
kind = "maxpool"
name = "pool0"
kernel = 2

[[layer]]
kind = "dense"
name = "fc"
out_features = 3
input_order = "chw"
weights = "fc_w.npy"
weight_dtype = "ternary"
pe = 3
simd = 6

[layer.activation]
kind = "none"

[head]
kind = "argmax"
"#;

fn bipolar(i: usize) -> i8 {
    if (i * 7 + 3) % 5 < 2 {
        -1
    } else {
        1
    }
}

/// A deterministic mix of an index, so that rows and columns differ.
fn mix(ix: &[usize]) -> usize {
    ix.iter().enumerate().map(|(k, &v)| v * (k + 2)).sum()
}

fn bipolar_f32(shape: &[usize]) -> ArrayD<f32> {
    ArrayD::from_shape_fn(IxDyn(shape), |ix| f32::from(bipolar(mix(ix.slice()))))
}

fn bipolar_i8(shape: &[usize]) -> ArrayD<i8> {
    ArrayD::from_shape_fn(IxDyn(shape), |ix| bipolar(mix(ix.slice())))
}

/// The batch-norm arrays of `layer` with `c` channels: float32, as PyTorch saves them.
fn batchnorm_files(dir: &Path, layer: &str, c: usize) {
    let ramp = |a: f32, b: f32| Array1::from_shape_fn(c, |i| a + b * i as f32);
    write_npy(dir.join(format!("{layer}_gamma.npy")), &ramp(1.0, 0.25)).unwrap();
    write_npy(dir.join(format!("{layer}_beta.npy")), &ramp(-0.5, 0.2)).unwrap();
    write_npy(dir.join(format!("{layer}_mean.npy")), &ramp(0.5, -0.3)).unwrap();
    write_npy(dir.join(format!("{layer}_var.npy")), &ramp(2.0, 0.5)).unwrap();
}

/// A valid network in a temporary directory, to be broken by one edit and then checked.
struct Net {
    dir: tempfile::TempDir,
    toml: String,
}

impl Net {
    fn mlp() -> Net {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write_npy(d.join("fc0_w.npy"), &bipolar_f32(&[6, 8])).unwrap();
        batchnorm_files(d, "fc0", 6);
        write_npy(d.join("fc1_w.npy"), &bipolar_i8(&[4, 6])).unwrap();
        let thr = Array2::from_shape_fn((4, 3), |(c, i)| -4 + 3 * i as i64 + c as i64);
        write_npy(d.join("fc1_thr.npy"), &thr).unwrap();
        let w2 = Array2::from_shape_fn((3, 4), |(o, i)| ((o + 2 * i) % 4) as i64 - 2);
        write_npy(d.join("fc2_w.npy"), &w2).unwrap();
        Net {
            dir,
            toml: MLP.to_string(),
        }
    }

    fn cnn() -> Net {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write_npy(d.join("conv0_w.npy"), &bipolar_f32(&[4, 2, 3, 3])).unwrap();
        batchnorm_files(d, "conv0", 4);
        let w = Array2::from_shape_fn((3, 36), |(o, i)| ((o + i) % 3) as i8 - 1);
        write_npy(d.join("fc_w.npy"), &w).unwrap();
        Net {
            dir,
            toml: CNN.to_string(),
        }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("net.toml")
    }

    /// Replaces the one occurrence of `from` in the TOML text.
    fn replace(mut self, from: &str, to: &str) -> Net {
        assert_eq!(
            self.toml.matches(from).count(),
            1,
            "fixture edit: {from:?} must occur exactly once"
        );
        self.toml = self.toml.replacen(from, to, 1);
        self
    }

    fn toml(mut self, text: &str) -> Net {
        self.toml = text.to_string();
        self
    }

    fn npy<A: WritableElement, D: ndarray::Dimension>(
        self,
        name: &str,
        a: ndarray::Array<A, D>,
    ) -> Net {
        write_npy(self.dir.path().join(name), &a).unwrap();
        self
    }

    fn bytes(self, name: &str, bytes: &[u8]) -> Net {
        std::fs::write(self.dir.path().join(name), bytes).unwrap();
        self
    }

    fn remove(self, name: &str) -> Net {
        std::fs::remove_file(self.dir.path().join(name)).unwrap();
        self
    }

    fn write(&self) {
        std::fs::write(self.path(), &self.toml).unwrap();
    }

    /// `bnn-gen check`; must fail cleanly. Returns stderr.
    fn check_err(&self) -> String {
        self.write();
        failure(
            Command::new(env!("CARGO_BIN_EXE_bnn-gen"))
                .arg("check")
                .arg(self.path()),
        )
    }

    /// `bnn-gen run --input <frames>`; must fail cleanly. Returns stderr.
    fn run_err(&self, frames: &str) -> String {
        self.write();
        failure(
            Command::new(env!("CARGO_BIN_EXE_bnn-gen"))
                .arg("run")
                .arg(self.path())
                .arg("--input")
                .arg(self.dir.path().join(frames)),
        )
    }
}

/// Runs `cmd`, asserts a clean failure (exit status 1, `error: ...` on stderr), returns stderr.
fn failure(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run bnn-gen");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected exit status 1 (an error; 101 is a panic), got {:?}\nstderr:\n{stderr}",
        out.status
    );
    assert!(
        stderr.starts_with("error: "),
        "stderr must start with `error: `:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    // Shown with `cargo test --test errors -- --nocapture`, to read every message at once.
    println!("{stderr}");
    stderr
}

#[track_caller]
fn assert_mentions(stderr: &str, needles: &[&str]) {
    for n in needles {
        assert!(
            stderr.contains(n),
            "the error does not mention {n:?}:\n{stderr}"
        );
    }
}

/// An .npy file with any header, for dtypes `write_npy` cannot write and for broken headers.
fn npy_raw(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

const FC0: &str = r#"layer 0 ("fc0")"#;
const FC1: &str = r#"layer 1 ("fc1")"#;
const FC2: &str = r#"layer 2 ("fc2")"#;
const CONV0: &str = r#"layer 0 ("conv0")"#;
const FC: &str = r#"layer 2 ("fc")"#;

// ---------------------------------------------------------------------------------------------
// The fixtures themselves are valid (otherwise every test below would pass for the wrong reason).
// ---------------------------------------------------------------------------------------------

#[test]
fn fixtures_are_valid() {
    for net in [Net::mlp(), Net::cnn()] {
        net.write();
        let out = Command::new(env!("CARGO_BIN_EXE_bnn-gen"))
            .arg("check")
            .arg(net.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}\n{}",
            net.toml,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Files.
// ---------------------------------------------------------------------------------------------

#[test]
fn missing_net_toml() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.toml");
    let err = failure(
        Command::new(env!("CARGO_BIN_EXE_bnn-gen"))
            .arg("check")
            .arg(&path),
    );
    assert_mentions(&err, &["nope.toml", "No such file"]);
}

#[test]
fn missing_npy_file() {
    let err = Net::mlp().remove("fc1_w.npy").check_err();
    assert_mentions(
        &err,
        &[
            "net.toml",
            FC1,
            "field `weights`",
            "fc1_w.npy",
            "No such file",
        ],
    );
}

#[test]
fn missing_batchnorm_file() {
    let err = Net::mlp().remove("fc0_var.npy").check_err();
    assert_mentions(
        &err,
        &[FC0, "field `activation.var`", "fc0_var.npy", "No such file"],
    );
}

// ---------------------------------------------------------------------------------------------
// TOML syntax and schema.
// ---------------------------------------------------------------------------------------------

#[test]
fn malformed_toml_has_line_info() {
    let line = MLP[..MLP.find("out_features = 4").unwrap()].lines().count() + 1;
    let err = Net::mlp()
        .replace("out_features = 4\n", "out_features = = 4\n")
        .check_err();
    assert_mentions(
        &err,
        &["net.toml", &format!("line {line}"), "out_features = = 4"],
    );
}

#[test]
fn unknown_key_top_level() {
    let err = Net::mlp()
        .replace(
            "name = \"tiny-mlp\"\n",
            "name = \"tiny-mlp\"\ncolour = \"red\"\n",
        )
        .check_err();
    assert_mentions(
        &err,
        &["net.toml", "line 2", "unknown field `colour`", "`name`"],
    );
}

#[test]
fn unknown_key_in_input() {
    let err = Net::mlp()
        .replace(
            "shape = [8]\ndtype = \"bipolar\"\n",
            "shape = [8]\ndtype = \"bipolar\"\nlayout = \"nhwc\"\n",
        )
        .check_err();
    assert_mentions(
        &err,
        &["net.toml", "unknown field `layout`", "`shape`", "`dtype`"],
    );
}

#[test]
fn unknown_key_in_layer() {
    let err = Net::mlp()
        .replace("pe = 2\n", "pe = 2\npee = 2\n")
        .check_err();
    assert_mentions(
        &err,
        &[
            "net.toml",
            FC1,
            "field `pee`",
            "unknown field `pee`",
            "`pe`",
        ],
    );
}

#[test]
fn unknown_key_in_activation() {
    let err = Net::mlp()
        .replace("eps = 1e-5\n", "eps = 1e-5\nepsilon = 1e-3\n")
        .check_err();
    assert_mentions(
        &err,
        &[
            "net.toml",
            FC0,
            "field `activation.epsilon`",
            "unknown field `epsilon`",
            "`eps`",
        ],
    );
}

#[test]
fn unknown_key_in_quantizer() {
    let err = Net::cnn()
        .replace("scale = 0.5 }", "scale = 0.5, zero_point = 0 }")
        .check_err();
    assert_mentions(
        &err,
        &[
            "net.toml",
            CONV0,
            "field `activation.quantizer.zero_point`",
            "unknown field `zero_point`",
            "`scale`",
        ],
    );
}

#[test]
fn unknown_key_in_sign_quantizer() {
    let err = Net::mlp()
        .replace("{ kind = \"sign\" }", "{ kind = \"sign\", bits = 1 }")
        .check_err();
    assert_mentions(
        &err,
        &[
            "net.toml",
            FC0,
            "field `activation.quantizer.bits`",
            "unknown field `bits`",
            "there are no fields",
        ],
    );
}

#[test]
fn unknown_key_in_head() {
    let err = Net::cnn()
        .replace("kind = \"argmax\"\n", "kind = \"argmax\"\nk = 3\n")
        .check_err();
    assert_mentions(
        &err,
        &["net.toml", "field `head.k`", "k = 3", "argmax", "topk"],
    );
}

#[test]
fn wrong_value_type_names_the_field() {
    let err = Net::mlp().replace("pe = 2\n", "pe = \"two\"\n").check_err();
    assert_mentions(
        &err,
        &[
            "net.toml",
            FC1,
            "field `pe`",
            "invalid type: string \"two\", expected an integer",
        ],
    );
}

#[test]
fn unknown_ram_style() {
    let err = Net::mlp()
        .replace(
            "pe = 3\nsimd = 4\n",
            "pe = 3\nsimd = 4\nram_style = \"bram\"\n",
        )
        .check_err();
    assert_mentions(
        &err,
        &[
            "net.toml",
            FC0,
            "field `ram_style`",
            "unknown memory style \"bram\"",
            "help: ram_style is one of \"auto\", \"block\", \"distributed\" or \"logic\"",
        ],
    );
}

#[test]
fn unknown_weight_storage() {
    let err = Net::mlp()
        .replace(
            "pe = 3\nsimd = 4\n",
            "pe = 3\nsimd = 4\nweight_storage = \"lut\"\n",
        )
        .check_err();
    assert_mentions(
        &err,
        &[
            "net.toml",
            FC0,
            "field `weight_storage`",
            "unknown weight storage \"lut\"",
            "help: weight_storage is one of \"rom\" or \"logic\"",
        ],
    );
}

/// `ram_style` styles a weight ROM; with the weights as logic there is none.
#[test]
fn ram_style_with_weights_as_logic() {
    let err = Net::mlp()
        .replace(
            "pe = 3\nsimd = 4\n",
            "pe = 3\nsimd = 4\nweight_storage = \"logic\"\nram_style = \"block\"\n",
        )
        .check_err();
    assert_mentions(
        &err,
        &[
            "net.toml",
            FC0,
            "field `ram_style`",
            "weight_storage = \"logic\" has none",
            "help: remove ram_style",
        ],
    );
}

#[test]
fn unknown_threshold_ram_style_of_a_conv_layer() {
    let err = Net::cnn()
        .replace(
            "pe = 2\nsimd = 2\n",
            "pe = 2\nsimd = 2\nthreshold_ram_style = \"lutram\"\n",
        )
        .check_err();
    assert_mentions(
        &err,
        &[
            CONV0,
            "field `threshold_ram_style`",
            "unknown memory style \"lutram\"",
            "help: threshold_ram_style is one of \"auto\", \"block\", \"distributed\" or \"logic\"",
        ],
    );
}

#[test]
fn ram_style_of_the_wrong_type() {
    let err = Net::mlp()
        .replace("pe = 3\nsimd = 4\n", "pe = 3\nsimd = 4\nram_style = 1\n")
        .check_err();
    assert_mentions(&err, &[FC0, "field `ram_style`", "expected a string"]);
}

#[test]
fn threshold_ram_style_without_thresholds() {
    let err = Net::mlp()
        .replace(
            "pe = 1\nsimd = 2\n",
            "pe = 1\nsimd = 2\nthreshold_ram_style = \"block\"\n",
        )
        .check_err();
    assert_mentions(
        &err,
        &[
            FC2,
            "field `threshold_ram_style`",
            "no thresholds",
            "help: remove threshold_ram_style",
        ],
    );
}

#[test]
fn every_ram_style_is_accepted() {
    for style in ["auto", "block", "distributed", "logic"] {
        let net = Net::mlp().replace(
            "pe = 3\nsimd = 4\n",
            &format!(
                "pe = 3\nsimd = 4\nram_style = \"{style}\"\nthreshold_ram_style = \"{style}\"\n"
            ),
        );
        net.write();
        let out = Command::new(env!("CARGO_BIN_EXE_bnn-gen"))
            .arg("check")
            .arg(net.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{style}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn kernel_of_the_wrong_form() {
    let err = Net::cnn()
        .replace("kernel = 3\n", "kernel = \"3x3\"\n")
        .check_err();
    assert_mentions(
        &err,
        &[
            "net.toml",
            CONV0,
            "field `kernel`",
            "\"3x3\"",
            "a number k or a list [vertical, horizontal]",
        ],
    );
    let err = Net::cnn()
        .replace("kernel = 3\n", "kernel = [3, 3, 3]\n")
        .check_err();
    assert_mentions(&err, &[CONV0, "field `kernel`", "found 3 numbers"]);
}

#[test]
fn layer_without_kind() {
    let err = Net::mlp()
        .replace("kind = \"dense\"\nname = \"fc1\"", "name = \"fc1\"")
        .check_err();
    assert_mentions(
        &err,
        &[
            "net.toml",
            FC1,
            "field `kind`",
            "\"dense\", \"conv2d\", \"maxpool\" or \"globalavgpool\"",
        ],
    );
}

#[test]
fn unknown_layer_kind() {
    let err = Net::mlp()
        .replace(
            "kind = \"dense\"\nname = \"fc1\"",
            "kind = \"fully_connected\"\nname = \"fc1\"",
        )
        .check_err();
    assert_mentions(
        &err,
        &[
            FC1,
            "field `kind`",
            "unknown kind \"fully_connected\"",
            "\"dense\", \"conv2d\", \"maxpool\" or \"globalavgpool\"",
        ],
    );
}

#[test]
fn unknown_activation_kind() {
    let err = Net::mlp()
        .replace("kind = \"thresholds\"\n", "kind = \"relu\"\n")
        .check_err();
    assert_mentions(
        &err,
        &[
            FC1,
            "field `activation.kind`",
            "unknown kind \"relu\"",
            "\"batchnorm\", \"thresholds\" or \"none\"",
        ],
    );
}

#[test]
fn missing_required_field() {
    let err = Net::mlp().replace("out_features = 4\n", "").check_err();
    assert_mentions(
        &err,
        &[FC1, "field `out_features`", "missing field `out_features`"],
    );
}

#[test]
fn empty_network() {
    let err = Net::mlp()
        .toml("name = \"empty\"\n\n[input]\nshape = [8]\ndtype = \"bipolar\"\n")
        .check_err();
    assert_mentions(&err, &["net.toml", "field `layer`", "no layers"]);
}

#[test]
fn duplicate_layer_names() {
    let err = Net::mlp()
        .replace("name = \"fc1\"", "name = \"fc0\"")
        .check_err();
    assert_mentions(
        &err,
        &[
            r#"layer 1 ("fc0")"#,
            "field `name`",
            "already named \"fc0\"",
        ],
    );
}

#[test]
fn invalid_layer_name() {
    let err = Net::mlp()
        .replace("name = \"fc1\"", "name = \"fc 1\"")
        .check_err();
    assert_mentions(
        &err,
        &[
            "layer 1 (\"fc 1\")",
            "field `name`",
            "not a valid name",
            "letter",
        ],
    );
}

#[test]
fn invalid_network_name() {
    let err = Net::mlp()
        .replace("name = \"tiny-mlp\"", "name = \"tiny mlp\"")
        .check_err();
    assert_mentions(
        &err,
        &[
            "net.toml",
            "field `name`",
            "\"tiny mlp\" is not a valid name",
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Datatypes.
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_datatype() {
    let err = Net::mlp()
        .replace("weight_dtype = \"int2\"", "weight_dtype = \"int4b\"")
        .check_err();
    assert_mentions(
        &err,
        &[
            FC2,
            "field `weight_dtype`",
            "\"int4b\"",
            "bipolar",
            "int2..int8",
        ],
    );
}

#[test]
fn int1_datatype() {
    let err = Net::mlp()
        .replace(
            "shape = [8]\ndtype = \"bipolar\"",
            "shape = [8]\ndtype = \"int1\"",
        )
        .check_err();
    assert_mentions(
        &err,
        &["net.toml", "field `input.dtype`", "\"int1\"", "int2..int8"],
    );
}

#[test]
fn ternary_input() {
    let err = Net::mlp()
        .replace(
            "shape = [8]\ndtype = \"bipolar\"",
            "shape = [8]\ndtype = \"ternary\"",
        )
        .check_err();
    assert_mentions(
        &err,
        &["field `input.dtype`", "ternary is a weight datatype"],
    );
}

// ---------------------------------------------------------------------------------------------
// npy shapes, dtypes and values.
// ---------------------------------------------------------------------------------------------

#[test]
fn dense_weights_of_the_wrong_shape() {
    let err = Net::mlp()
        .npy("fc0_w.npy", bipolar_f32(&[6, 7]))
        .check_err();
    assert_mentions(
        &err,
        &[
            FC0,
            "field `weights`",
            "fc0_w.npy",
            "expected shape [6, 8]",
            "found [6, 7]",
        ],
    );
}

#[test]
fn dense_weights_in_the_wrong_layout() {
    // [in, out] given where [out, in] is declared (the default "oi").
    let err = Net::mlp()
        .npy("fc0_w.npy", bipolar_f32(&[8, 6]))
        .check_err();
    assert_mentions(
        &err,
        &[
            FC0,
            "fc0_w.npy",
            "expected shape [6, 8]",
            "found [8, 6]",
            "weight_layout",
        ],
    );
}

#[test]
fn in_features_disagree_with_the_previous_layer() {
    // fc0 has 6 outputs; fc1's weights say 5 inputs.
    let err = Net::mlp().npy("fc1_w.npy", bipolar_i8(&[4, 5])).check_err();
    assert_mentions(
        &err,
        &[
            FC1,
            "fc1_w.npy",
            "expected shape [4, 6] = [out_features, in_features]",
            "found [4, 5]",
            "in_features = 6, the size of the output of layer 0 (\"fc0\")",
        ],
    );
}

#[test]
fn conv_weights_of_the_wrong_shape() {
    let err = Net::cnn()
        .npy("conv0_w.npy", bipolar_f32(&[4, 3, 3, 3]))
        .check_err();
    assert_mentions(
        &err,
        &[
            CONV0,
            "field `weights`",
            "conv0_w.npy",
            "expected shape [4, 2, 3, 3] = [out_channels, in_channels, kh, kw]",
            "found [4, 3, 3, 3]",
            "the channels of the network input",
        ],
    );
}

#[test]
fn batchnorm_array_of_the_wrong_length() {
    let err = Net::mlp()
        .npy("fc0_gamma.npy", Array1::<f32>::ones(5))
        .check_err();
    assert_mentions(
        &err,
        &[
            FC0,
            "field `activation.gamma`",
            "fc0_gamma.npy",
            "expected shape [6]",
            "found [5]",
        ],
    );
}

#[test]
fn thresholds_with_the_wrong_count_for_the_bits() {
    // uint2 needs 2^2 - 1 = 3 thresholds per channel.
    let err = Net::mlp()
        .npy("fc1_thr.npy", Array2::<i64>::zeros((4, 1)))
        .check_err();
    assert_mentions(
        &err,
        &[
            FC1,
            "field `activation.thresholds`",
            "fc1_thr.npy",
            "expected shape [4, 3]",
            "found [4, 1]",
            "uint2 has 2 bits",
            "2^2 - 1 = 3",
        ],
    );
}

#[test]
fn complex_npy_dtype() {
    let bytes = npy_raw("<c16", "(6, 8)", &[0u8; 6 * 8 * 16]);
    let err = Net::mlp().bytes("fc0_w.npy", &bytes).check_err();
    assert_mentions(
        &err,
        &[
            FC0,
            "field `weights`",
            "fc0_w.npy",
            "unsupported npy dtype",
            "<c16",
            "integer, bool, float32 or float64",
        ],
    );
}

#[test]
fn text_file_named_npy() {
    let err = Net::mlp().bytes("fc1_thr.npy", b"-1, 0, 1\n").check_err();
    assert_mentions(
        &err,
        &[
            FC1,
            "field `activation.thresholds`",
            "fc1_thr.npy",
            "not a readable .npy file",
        ],
    );
}

#[test]
fn npy_header_claiming_a_huge_array() {
    // A header that claims 10^12 elements on a file of a few bytes: an error, not an allocation of
    // a terabyte (which would abort the process, not even panic).
    let bytes = npy_raw("|i1", "(1000000, 1000000)", &[1u8; 16]);
    let err = Net::mlp().bytes("fc0_w.npy", &bytes).check_err();
    assert_mentions(&err, &[FC0, "fc0_w.npy", "[1000000, 1000000]", "16 bytes"]);
}

#[test]
fn float_weights_with_a_fraction() {
    let mut w = bipolar_f32(&[6, 8]);
    w[[2, 3]] = 0.5;
    let err = Net::mlp().npy("fc0_w.npy", w).check_err();
    assert_mentions(
        &err,
        &[
            FC0,
            "fc0_w.npy",
            "value 0.5 at index [2, 3]",
            "not an integer",
        ],
    );
}

#[test]
fn zero_in_bipolar_weights() {
    let mut w = bipolar_i8(&[4, 6]);
    w[[1, 2]] = 0;
    let err = Net::mlp().npy("fc1_w.npy", w).check_err();
    assert_mentions(
        &err,
        &[
            FC1,
            "fc1_w.npy",
            "value 0 at index [1, 2]",
            "not a bipolar value",
            "-1 or +1",
        ],
    );
}

#[test]
fn value_300_in_uint8_weights() {
    let mut w = Array2::<u16>::from_elem((3, 4), 7);
    w[[2, 1]] = 300;
    let err = Net::mlp()
        .replace("weight_dtype = \"int2\"", "weight_dtype = \"uint8\"")
        .npy("fc2_w.npy", w)
        .check_err();
    assert_mentions(
        &err,
        &[
            FC2,
            "fc2_w.npy",
            "value 300 at index [2, 1]",
            "not a uint8 value",
            "0 .. 255",
        ],
    );
}

#[test]
fn two_in_ternary_weights() {
    let mut w = Array2::<i8>::zeros((3, 36));
    w[[0, 35]] = 2;
    let err = Net::cnn().npy("fc_w.npy", w).check_err();
    assert_mentions(
        &err,
        &[
            FC,
            "fc_w.npy",
            "value 2 at index [0, 35]",
            "not a ternary value",
            "-1 .. 1",
        ],
    );
}

#[test]
fn nan_in_batchnorm() {
    let mut beta = Array1::<f32>::zeros(4);
    beta[3] = f32::NAN;
    let err = Net::cnn().npy("conv0_beta.npy", beta).check_err();
    assert_mentions(
        &err,
        &[
            CONV0,
            "field `activation.beta`",
            "conv0_beta.npy",
            "NaN",
            "index [3]",
            "not finite",
        ],
    );
}

#[test]
fn negative_variance() {
    let var = Array1::from(vec![1.0f64, 2.0, -0.25, 1.0, 1.0, 1.0]);
    let err = Net::mlp().npy("fc0_var.npy", var).check_err();
    assert_mentions(
        &err,
        &[
            FC0,
            "field `activation.var`",
            "fc0_var.npy",
            "-0.25",
            "channel 2",
            "negative",
        ],
    );
}

#[test]
fn eps_not_positive() {
    for eps in ["0.0", "-1e-5", "nan"] {
        let err = Net::mlp()
            .replace("eps = 1e-5", &format!("eps = {eps}"))
            .check_err();
        assert_mentions(
            &err,
            &[FC0, "field `activation.eps`", "must be a positive number"],
        );
    }
}

#[test]
fn quantizer_bits_and_scale_out_of_range() {
    let err = Net::cnn().replace("bits = 2", "bits = 9").check_err();
    assert_mentions(
        &err,
        &[CONV0, "field `activation.quantizer.bits`", "9", "1..8"],
    );
    let err = Net::cnn()
        .replace("signed = false", "signed = true")
        .replace("bits = 2", "bits = 1")
        .check_err();
    assert_mentions(
        &err,
        &[
            CONV0,
            "field `activation.quantizer.bits`",
            "1",
            "2..8",
            "signed",
        ],
    );
    let err = Net::cnn().replace("scale = 0.5", "scale = 0.0").check_err();
    assert_mentions(
        &err,
        &[CONV0, "field `activation.quantizer.scale`", "positive"],
    );
}

// ---------------------------------------------------------------------------------------------
// Dimensions and folding.
// ---------------------------------------------------------------------------------------------

#[test]
fn zero_dimension() {
    let err = Net::mlp().replace("shape = [8]", "shape = [0]").check_err();
    assert_mentions(
        &err,
        &["net.toml", "field `input.shape`", "0 must be at least 1"],
    );
    let err = Net::mlp()
        .replace("out_features = 4\n", "out_features = 0\n")
        .check_err();
    assert_mentions(&err, &[FC1, "field `out_features`", "0 must be at least 1"]);
}

#[test]
fn input_shape_of_the_wrong_rank() {
    let err = Net::mlp()
        .replace("shape = [8]", "shape = [2, 4]")
        .check_err();
    assert_mentions(
        &err,
        &["field `input.shape`", "[H, W, C]", "found 2 dimensions"],
    );
}

#[test]
fn absurd_dimension() {
    let err = Net::mlp()
        .replace("out_features = 4\n", "out_features = 1000000000\n")
        .check_err();
    assert_mentions(
        &err,
        &[FC1, "field `out_features`", "1000000000", "maximum 65536"],
    );
    let err = Net::mlp()
        .replace("shape = [8]", "shape = [99999999999]")
        .check_err();
    assert_mentions(&err, &["field `input.shape`", "99999999999", "maximum"]);
}

#[test]
fn pe_zero_and_pe_above_mh() {
    let err = Net::mlp().replace("pe = 3\n", "pe = 0\n").check_err();
    assert_mentions(
        &err,
        &[FC0, "field `pe`", "0 is out of range", "1 <= pe <= 6"],
    );
    let err = Net::mlp().replace("pe = 3\n", "pe = 7\n").check_err();
    assert_mentions(
        &err,
        &[FC0, "field `pe`", "7 is out of range", "1 <= pe <= 6"],
    );
}

#[test]
fn simd_zero_and_simd_above_mw() {
    let err = Net::mlp().replace("simd = 4\n", "simd = 0\n").check_err();
    assert_mentions(
        &err,
        &[FC0, "field `simd`", "0 is out of range", "1 <= simd <= 8"],
    );
    let err = Net::mlp().replace("simd = 4\n", "simd = 9\n").check_err();
    assert_mentions(
        &err,
        &[FC0, "field `simd`", "9 is out of range", "1 <= simd <= 8"],
    );
}

#[test]
fn conv_simd_above_input_channels() {
    let err = Net::cnn().replace("simd = 2\n", "simd = 3\n").check_err();
    assert_mentions(
        &err,
        &[
            CONV0,
            "field `simd`",
            "3 is larger than the 2 input channels",
            "1 <= simd <= 2",
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Convolution geometry and padding.
// ---------------------------------------------------------------------------------------------

#[test]
fn bipolar_padding_without_pad_value() {
    let err = Net::cnn().replace("pad_value = 1\n", "").check_err();
    assert_mentions(
        &err,
        &[CONV0, "field `pad_value`", "required", "bipolar", "1 or -1"],
    );
}

#[test]
fn pad_value_zero_on_bipolar() {
    let err = Net::cnn()
        .replace("pad_value = 1\n", "pad_value = 0\n")
        .check_err();
    assert_mentions(
        &err,
        &[
            CONV0,
            "field `pad_value`",
            "0 is not a value of the input datatype bipolar",
        ],
    );
}

#[test]
fn conv_on_a_flat_input() {
    let err = Net::cnn()
        .replace("shape = [6, 6, 2]", "shape = [72]")
        .check_err();
    assert_mentions(
        &err,
        &[
            CONV0,
            "conv2d needs an image input [H, W, C]",
            "flat vector of 72",
        ],
    );
}

#[test]
fn maxpool_on_a_flat_input() {
    let err = Net::cnn()
        .replace(
            "kind = \"conv2d\"\nname = \"conv0\"",
            "kind = \"dense\"\nname = \"conv0\"",
        )
        .replace(
            "out_channels = 4\nkernel = 3\npadding = 1\npad_value = 1\n",
            "out_features = 4\ninput_order = \"hwc\"\n",
        )
        .npy("conv0_w.npy", bipolar_f32(&[4, 72]))
        .replace("simd = 2\n", "simd = 8\n")
        .check_err();
    assert_mentions(
        &err,
        &[
            "layer 1 (\"pool0\")",
            "maxpool needs an image input",
            "flat vector of 4",
        ],
    );
}

#[test]
fn kernel_larger_than_the_padded_image() {
    let err = Net::cnn()
        .replace("kernel = 3\npadding = 1", "kernel = 9\npadding = 1")
        .check_err();
    assert_mentions(
        &err,
        &[CONV0, "field `kernel`", "[9, 9]", "padding [1, 1]", "6x6x2"],
    );
}

#[test]
fn padding_not_smaller_than_the_kernel() {
    let err = Net::cnn()
        .replace("padding = 1\n", "padding = 3\n")
        .check_err();
    assert_mentions(&err, &[CONV0, "field `padding`", "smaller than the kernel"]);
}

#[test]
fn dense_after_an_image_without_input_order() {
    let err = Net::cnn()
        .replace("input_order = \"chw\"\n", "")
        .check_err();
    assert_mentions(
        &err,
        &[
            FC,
            "field `input_order`",
            "required",
            "3x3x4 image",
            "\"chw\"",
            "\"hwc\"",
        ],
    );
}

#[test]
fn unknown_weight_layout() {
    let err = Net::cnn()
        .replace(
            "weights = \"conv0_w.npy\"\n",
            "weights = \"conv0_w.npy\"\nweight_layout = \"nchw\"\n",
        )
        .check_err();
    assert_mentions(
        &err,
        &[
            CONV0,
            "field `weight_layout`",
            "\"nchw\"",
            "\"oihw\"",
            "\"hwio\"",
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Activations and the head.
// ---------------------------------------------------------------------------------------------

#[test]
fn out_bias_does_not_fit_out_dtype() {
    let err = Net::mlp()
        .replace(
            "out_dtype = \"uint2\"\n",
            "out_dtype = \"uint2\"\nout_bias = 2\n",
        )
        .check_err();
    assert_mentions(
        &err,
        &[
            FC1,
            "field `activation.out_bias`",
            "2 .. 5",
            "uint2",
            "0 .. 3",
        ],
    );
}

#[test]
fn out_bias_at_the_end_of_i64() {
    // The range out_bias .. out_bias + 3 must not overflow while the message is being written.
    let err = Net::mlp()
        .replace(
            "out_dtype = \"uint2\"\n",
            "out_dtype = \"uint2\"\nout_bias = 9223372036854775807\n",
        )
        .check_err();
    assert_mentions(
        &err,
        &[
            FC1,
            "field `activation.out_bias`",
            "9223372036854775807",
            "uint2",
        ],
    );
}

#[test]
fn bipolar_out_bias_other_than_minus_one() {
    let err = Net::mlp()
        .replace(
            "out_dtype = \"uint2\"\n",
            "out_dtype = \"bipolar\"\nout_bias = 0\n",
        )
        .npy("fc1_thr.npy", Array2::<i64>::zeros((4, 1)))
        .check_err();
    assert_mentions(&err, &[FC1, "field `activation.out_bias`", "omit out_bias"]);
}

#[test]
fn dense_fed_by_a_layer_with_activation_none() {
    let err = Net::mlp()
        .replace(
            "kind = \"thresholds\"\nthresholds = \"fc1_thr.npy\"\nout_dtype = \"uint2\"\n",
            "kind = \"none\"\n",
        )
        .check_err();
    assert_mentions(&err, &[FC2, "raw accumulators", "kind = \"none\""]);
}

#[test]
fn head_k_zero_and_above_classes() {
    let err = Net::mlp().replace("k = 2\n", "k = 0\n").check_err();
    assert_mentions(
        &err,
        &[
            "net.toml",
            "field `head.k`",
            "0 is out of range",
            "1 <= k <= 3",
        ],
    );
    let err = Net::mlp().replace("k = 2\n", "k = 4\n").check_err();
    assert_mentions(
        &err,
        &[
            "net.toml",
            "field `head.k`",
            "4 is out of range",
            "1 <= k <= 3",
        ],
    );
}

#[test]
fn head_of_unknown_kind_or_without_k() {
    let err = Net::mlp()
        .replace("kind = \"topk\"\n", "kind = \"top2\"\n")
        .check_err();
    assert_mentions(
        &err,
        &[
            "net.toml",
            "field `head.kind`",
            "unknown kind \"top2\"",
            "\"argmax\" or \"topk\"",
        ],
    );
    let err = Net::mlp().replace("k = 2\n", "").check_err();
    assert_mentions(&err, &["net.toml", "field `head.k`", "missing", "topk"]);
}

#[test]
fn dense_without_activation() {
    let err = Net::mlp()
        .replace("\n[layer.activation]\nkind = \"none\"\n", "\n")
        .check_err();
    assert_mentions(
        &err,
        &[FC2, "field `activation`", "missing", "[layer.activation]"],
    );
    let err = Net::mlp()
        .replace("quantizer = { kind = \"sign\" }\n", "")
        .check_err();
    assert_mentions(
        &err,
        &[FC0, "field `activation.quantizer`", "missing", "\"sign\""],
    );
}

#[test]
fn head_on_an_image() {
    let text = CNN
        .split("[[layer]]\nkind = \"dense\"")
        .next()
        .unwrap()
        .to_string()
        + "[head]\nkind = \"argmax\"\n";
    let err = Net::cnn().toml(&text).check_err();
    assert_mentions(
        &err,
        &["field `head`", "vector of class scores", "3x3x4 image"],
    );
}

// ---------------------------------------------------------------------------------------------
// `bnn-gen run`: the input frames.
// ---------------------------------------------------------------------------------------------

#[test]
fn run_with_frames_of_the_wrong_shape() {
    let net = Net::mlp().npy("x.npy", Array2::<i8>::ones((2, 7)));
    let err = net.run_err("x.npy");
    assert_mentions(&err, &["x.npy", "[N, 8]", "[2, 7]"]);
}

#[test]
fn run_with_values_outside_the_input_datatype() {
    let mut x = Array2::<i8>::ones((2, 8));
    x[[1, 5]] = 0;
    let net = Net::mlp().npy("x.npy", x);
    let err = net.run_err("x.npy");
    assert_mentions(
        &err,
        &["x.npy", "frame 1", "[5]", "value 0", "not a bipolar value"],
    );
}

#[test]
fn run_with_a_missing_input_file() {
    let err = Net::mlp().run_err("nope.npy");
    assert_mentions(&err, &["nope.npy", "No such file"]);
}

// ---------------------------------------------------------------------------------------------
// Robustness: random damage never panics.
// ---------------------------------------------------------------------------------------------

mod robustness {
    use super::*;
    use bnn_gen::{frontend, passes};
    use proptest::prelude::*;
    use proptest::test_runner::FileFailurePersistence;

    #[derive(Debug, Clone)]
    enum Mutation {
        DeleteLine(usize),
        DuplicateLine(usize),
        /// Replace the n-th number in the text.
        Number(usize, String),
        Truncate(usize),
        /// Overwrite the n-th npy file with these bytes.
        Npy(usize, Vec<u8>),
        /// Keep the npy header (magic, version, length, dict) and replace the rest.
        NpyTail(usize, Vec<u8>),
        /// Overwrite the n-th npy file with a valid npy of random shape and values.
        NpyShape(usize, Vec<usize>, i64),
        /// Set one element of the n-th npy file to a random float (written back as float64).
        NpyValue(usize, usize, f64),
    }

    fn replacement() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<i64>().prop_map(|v| v.to_string()),
            (-3i64..70).prop_map(|v| v.to_string()),
            any::<f64>().prop_map(|v| format!("{v:?}")),
            prop_oneof![
                Just("inf"),
                Just("-inf"),
                Just("nan"),
                Just("1e308"),
                Just("-0.0")
            ]
            .prop_map(str::to_string),
            "[a-z0-9_ .-]{0,8}".prop_map(|s| format!("\"{s}\"")),
            Just("[]".to_string()),
            Just("[1, 2, 3]".to_string()),
        ]
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            any::<usize>().prop_map(Mutation::DeleteLine),
            any::<usize>().prop_map(Mutation::DuplicateLine),
            (any::<usize>(), replacement()).prop_map(|(n, s)| Mutation::Number(n, s)),
            any::<usize>().prop_map(Mutation::Truncate),
            (
                any::<usize>(),
                proptest::collection::vec(any::<u8>(), 0..200)
            )
                .prop_map(|(n, b)| Mutation::Npy(n, b)),
            (
                any::<usize>(),
                proptest::collection::vec(any::<u8>(), 0..64)
            )
                .prop_map(|(n, b)| Mutation::NpyTail(n, b)),
            (
                any::<usize>(),
                proptest::collection::vec(0usize..10, 0..4),
                -3i64..300
            )
                .prop_map(|(n, s, v)| Mutation::NpyShape(n, s, v)),
            (
                any::<usize>(),
                any::<usize>(),
                prop_oneof![
                    any::<f64>(),
                    (-3i32..4).prop_map(f64::from),
                    Just(0.5),
                    Just(1e300),
                    Just(-1e300),
                    Just(1e-300),
                    Just(f64::INFINITY),
                    Just(f64::NAN),
                ]
            )
                .prop_map(|(n, i, v)| Mutation::NpyValue(n, i, v)),
        ]
    }

    /// Byte ranges of the numbers (optionally signed, with fraction/exponent) in `text`.
    fn numbers(text: &str) -> Vec<(usize, usize)> {
        let b = text.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            let starts = b[i].is_ascii_digit()
                || (b[i] == b'-' && b.get(i + 1).is_some_and(u8::is_ascii_digit));
            // Digits inside a name ("fc0_w.npy", "uint2") are not numbers.
            let inside_word = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
            if starts && !inside_word {
                let start = i;
                i += 1;
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric()
                        || b[i] == b'.'
                        || b[i] == b'-'
                        || b[i] == b'+')
                {
                    i += 1;
                }
                out.push((start, i));
            } else {
                i += 1;
            }
        }
        out
    }

    fn npy_files(dir: &Path) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "npy"))
            .collect();
        files.sort();
        files
    }

    fn apply(net: &Net, m: &Mutation) -> String {
        let text = net.toml.clone();
        let lines: Vec<&str> = text.lines().collect();
        let files = npy_files(net.dir.path());
        match m {
            Mutation::DeleteLine(_) | Mutation::DuplicateLine(_) if lines.is_empty() => text,
            Mutation::DeleteLine(n) => {
                let mut l = lines.clone();
                l.remove(n % lines.len());
                l.join("\n")
            }
            Mutation::DuplicateLine(n) => {
                let mut l = lines.clone();
                let i = n % lines.len();
                l.insert(i, lines[i]);
                l.join("\n")
            }
            Mutation::Number(n, s) => {
                let nums = numbers(&text);
                if nums.is_empty() {
                    return text;
                }
                let (a, b) = nums[n % nums.len()];
                format!("{}{s}{}", &text[..a], &text[b..])
            }
            Mutation::Truncate(n) => {
                let mut cut = n % (text.len() + 1);
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                text[..cut].to_string()
            }
            Mutation::Npy(n, bytes) => {
                std::fs::write(&files[n % files.len()], bytes).unwrap();
                text
            }
            Mutation::NpyTail(n, bytes) => {
                let path = &files[n % files.len()];
                let mut old = std::fs::read(path).unwrap();
                if old.len() < 10 {
                    return text; // already replaced by a few random bytes
                }
                let header_end = 10 + u16::from_le_bytes([old[8], old[9]]) as usize;
                old.truncate(header_end.min(old.len()));
                old.extend(bytes);
                std::fs::write(path, old).unwrap();
                text
            }
            Mutation::NpyShape(n, shape, v) => {
                let a = ArrayD::from_elem(IxDyn(shape), *v);
                write_npy(&files[n % files.len()], &a).unwrap();
                text
            }
            Mutation::NpyValue(n, i, v) => {
                let path = &files[n % files.len()];
                // The file may already be damaged by an earlier mutation; then leave it.
                if let Ok(mut a) = frontend::npy::read_float(path) {
                    let at = i % a.len().max(1);
                    if let Some(x) = a.iter_mut().nth(at) {
                        *x = *v;
                    }
                    write_npy(path, &a).unwrap();
                }
                text
            }
        }
    }

    fn load_and_lower(path: &Path) -> bool {
        let result = std::panic::catch_unwind(|| {
            if let Ok(mut net) = frontend::load(path) {
                let _ = passes::lower(&mut net);
            }
        });
        result.is_ok()
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 500,
            failure_persistence: Some(Box::new(FileFailurePersistence::Direct("proptest-regressions/errors.txt"))),
            ..ProptestConfig::default()
        })]

        /// Up to three random mutations of a valid network: `load` + `lower` return, never panic.
        #[test]
        fn damaged_networks_never_panic(cnn in any::<bool>(), ms in proptest::collection::vec(mutation(), 1..4)) {
            let mut net = if cnn { Net::cnn() } else { Net::mlp() };
            for m in &ms {
                net.toml = apply(&net, m);
            }
            net.write();
            prop_assert!(load_and_lower(&net.path()), "panicked on {ms:?}\n{}", net.toml);
        }
    }
}

/// The ONNX reader on damaged models: random byte flips, truncations and insertions in the
/// committed QONNX models never panic the importer (they import or give an error).
mod onnx_robustness {
    use bnn_gen::{frontend, golden, passes};
    use proptest::prelude::*;
    use proptest::test_runner::FileFailurePersistence;
    use std::path::Path;

    fn model(name: &str) -> Vec<u8> {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/models")
            .join(name);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[derive(Debug, Clone)]
    enum Damage {
        /// Set the byte at (position mod length).
        Set(usize, u8),
        Truncate(usize),
        Insert(usize, Vec<u8>),
    }

    fn damage() -> impl Strategy<Value = Damage> {
        prop_oneof![
            4 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Damage::Set(i, b)),
            1 => any::<usize>().prop_map(Damage::Truncate),
            1 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8))
                .prop_map(|(i, v)| Damage::Insert(i, v)),
        ]
    }

    fn apply(bytes: &mut Vec<u8>, d: &Damage) {
        if bytes.is_empty() {
            return;
        }
        match d {
            Damage::Set(i, b) => {
                let n = bytes.len();
                bytes[i % n] = *b;
            }
            Damage::Truncate(i) => {
                let n = bytes.len();
                bytes.truncate(i % n);
            }
            Damage::Insert(i, v) => {
                let at = i % bytes.len();
                bytes.splice(at..at, v.iter().copied());
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 300,
            failure_persistence: Some(Box::new(FileFailurePersistence::Direct("proptest-regressions/errors-onnx.txt"))),
            ..ProptestConfig::default()
        })]

        #[test]
        fn damaged_onnx_never_panics(which in 0usize..3, ds in proptest::collection::vec(damage(), 1..4)) {
            let name = ["handmade/mixed.onnx", "tfc-w1a1/clean.onnx", "tfc-w2a2/raw.onnx"][which];
            let mut bytes = model(name);
            for d in &ds {
                apply(&mut bytes, d);
            }
            let result = std::panic::catch_unwind(|| {
                if let Ok((mut net, _io)) = frontend::onnx::import_bytes(&bytes, "damaged.onnx", "damaged") {
                    if passes::lower(&mut net).is_ok() {
                        let _ = golden::GoldenModel::new(&net);
                    }
                }
            });
            prop_assert!(result.is_ok(), "panicked on {name} with {ds:?}");
        }
    }
}
