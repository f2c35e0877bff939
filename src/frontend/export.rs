//! Writes an [`ir::Network`](crate::ir::Network) as `net.toml` plus `.npy` files, exactly in the
//! format of `docs/net-format.md`, so that `frontend::load` reads back the same network.
//!
//! What is written:
//! - weights in the framework layouts, converted back from the IR's stream order: PyTorch
//!   (`oi`, `oihw`, and `input_order = "chw"` for a dense layer on an image) by default, Keras/Larq
//!   (`io`, `hwio`, `input_order = "hwc"`) on request; stored as int8 (uint8 for `uint8` weights), or
//!   as float32 on request;
//! - batch-norm parameters as float64 (float32 on request, when every value is exactly an f32);
//! - [`Activation::Thresholds`] as form (b) (`thresholds` int64 `[C, 2^n − 1]` exactly as in the IR,
//!   `out_dtype`, `out_bias`); a channel compared with `acc ≤ T` ([`Compare::Le`]) has no form-(b)
//!   equivalent and is refused with [`Error::Unsupported`];
//! - [`Activation::Identity`] as `none`;
//! - `pad_value` of a conv layer when it is padded or the value is not the loader's default.
//!
//! The output is byte-deterministic: the same network and options give the same bytes.
//! Files are named `<layer>_w.npy`, `<layer>_gamma.npy`, … `<layer>_thr.npy`.

use std::path::Path;

use ndarray::{Array, Array1, Array2, Array4, Dimension};
use ndarray_npy::{WritableElement, WriteNpyExt};

use crate::datatype::DataType;
use crate::error::{Error, Result};
use crate::ir::{
    Activation, BatchNorm, Compare, Layer, MatVec, Network, Op, Quantizer, RamStyle, Shape,
    Thresholds, ValueType, WeightStorage,
};

/// Which framework's weight layouts to write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WeightLayout {
    /// PyTorch/Brevitas: dense `oi` `[out, in]`, conv `oihw`, a dense layer on an image flattened
    /// as `chw`.
    #[default]
    PyTorch,
    /// Keras/Larq: dense `io` `[in, out]`, conv `hwio`, a dense layer on an image flattened as `hwc`.
    Keras,
}

/// How [`write_network_with`] stores the arrays. The default: PyTorch layouts, integer weights,
/// float64 batch-norm parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportOptions {
    /// Store weights as float32 (every weight is exactly representable) instead of int8/uint8.
    pub float_weights: bool,
    /// Store batch-norm parameters as float32 instead of float64. Every value must then be exactly
    /// an f32, else the export fails with [`Error::Unsupported`].
    pub float32_params: bool,
    pub layout: WeightLayout,
}

/// Writes `net` into `dir` (created if missing) as `net.toml` and `.npy` files, with the default
/// [`ExportOptions`].
pub fn write_network(net: &Network, dir: &Path) -> Result<()> {
    write_network_with(net, dir, &ExportOptions::default())
}

/// Writes `net` into `dir` (created if missing) as `net.toml` and `.npy` files. Other files in `dir`
/// are left alone. Nothing is written when the network cannot be exported.
pub fn write_network_with(net: &Network, dir: &Path, options: &ExportOptions) -> Result<()> {
    let files = to_files(net, options)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    for (name, bytes) in &files {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
}

/// The files [`write_network_with`] writes, in memory: `(file name, bytes)`, `net.toml` last.
pub fn to_files(net: &Network, options: &ExportOptions) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = Exporter {
        options: *options,
        toml: String::new(),
        files: Vec::new(),
    };
    out.network(net)?;
    let toml = std::mem::take(&mut out.toml);
    out.files.push(("net.toml".to_string(), toml.into_bytes()));
    Ok(out.files)
}

struct Exporter {
    options: ExportOptions,
    toml: String,
    files: Vec<(String, Vec<u8>)>,
}

/// Valid for `name` in `net.toml`: `[A-Za-z_][A-Za-z0-9_-]*`.
fn is_net_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Valid as a layer name that prefixes file names.
fn is_file_stem(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A TOML float literal that parses back to exactly `x` (`x` finite).
fn toml_float(x: f64) -> String {
    debug_assert!(x.is_finite());
    // Debug prints the shortest representation that round-trips, always with a '.' or an exponent
    // ("1.0", "0.1", "1e-5"), all valid TOML floats.
    format!("{x:?}")
}

/// `k` when both equal, else `[a, b]`.
fn pair(v: [usize; 2]) -> String {
    if v[0] == v[1] {
        v[0].to_string()
    } else {
        format!("[{}, {}]", v[0], v[1])
    }
}

fn npy_bytes<A: WritableElement, D: Dimension>(array: &Array<A, D>) -> Vec<u8> {
    let mut bytes = Vec::new();
    array
        .write_npy(&mut bytes)
        .expect("writing an .npy into memory cannot fail");
    bytes
}

impl Exporter {
    fn line(&mut self, s: impl AsRef<str>) {
        self.toml.push_str(s.as_ref());
        self.toml.push('\n');
    }

    fn file(&mut self, name: String, bytes: Vec<u8>) -> String {
        self.files.push((name.clone(), bytes));
        name
    }

    fn network(&mut self, net: &Network) -> Result<()> {
        if !is_net_name(&net.name) {
            return Err(Error::invalid(
                "network name",
                format!("\"{}\" must match [A-Za-z_][A-Za-z0-9_-]*", net.name),
            ));
        }
        let ValueType::Data(in_dt) = net.input.dtype else {
            return Err(Error::Unsupported(
                "a network input of raw accumulators has no net.toml form".into(),
            ));
        };
        let mut names = std::collections::BTreeSet::new();
        for layer in &net.layers {
            if !is_file_stem(&layer.name) {
                return Err(Error::invalid(
                    format!("layer \"{}\"", layer.name),
                    "a layer name must be non-empty and use only A-Z a-z 0-9 _ - (it names files)",
                ));
            }
            if !names.insert(layer.name.as_str()) {
                return Err(Error::invalid(
                    format!("layer \"{}\"", layer.name),
                    "two layers have this name (their files would collide)",
                ));
            }
        }
        self.line("# Written by bnn-gen. Format: docs/net-format.md.");
        self.line(format!("name = \"{}\"", net.name));
        self.line("");
        self.line("[input]");
        let dims: Vec<String> = net
            .input
            .shape
            .dims()
            .iter()
            .map(|d| d.to_string())
            .collect();
        self.line(format!("shape = [{}]", dims.join(", ")));
        self.line(format!("dtype = \"{in_dt}\""));
        for layer in &net.layers {
            self.line("");
            self.line("[[layer]]");
            match &layer.op {
                Op::MatVec(m) => self.matvec(layer, m, false)?,
                Op::Depthwise(m) => self.matvec(layer, m, true)?,
                Op::MaxPool(p) => {
                    self.line("kind = \"maxpool\"");
                    self.line(format!("name = \"{}\"", layer.name));
                    self.line(format!("kernel = {}", pair(p.kernel)));
                    self.line(format!("stride = {}", pair(p.stride)));
                    if let Some(d) = p.buffer_depth {
                        self.line(format!("buffer_depth = {d}"));
                    }
                }
                // Explicit thresholds after the pool are written as held: net.toml's are on the
                // average's dot product, which an unlowered network holds; a lowered one holds
                // them × H·W (passes::thresholds) and must not be exported.
                Op::GlobalAvgPool(_) => {
                    self.line("kind = \"globalavgpool\"");
                    self.line(format!("name = \"{}\"", layer.name));
                }
            }
        }
        if let Some(head) = net.head {
            self.line("");
            self.line("[head]");
            if head.k == 1 {
                self.line("kind = \"argmax\"");
            } else {
                self.line("kind = \"topk\"");
                self.line(format!("k = {}", head.k));
            }
        }
        Ok(())
    }

    /// A dense, conv or (`depthwise`) depthwise conv layer.
    fn matvec(&mut self, layer: &Layer, m: &MatVec, depthwise: bool) -> Result<()> {
        let name = &layer.name;
        let ValueType::Data(in_dt) = layer.input.dtype else {
            return Err(Error::Unsupported(format!(
                "layer \"{name}\": its input is raw accumulators (a layer with activation none \
                 before it); net.toml cannot express that"
            )));
        };
        let layout = self.options.layout;
        let weights_file = format!("{name}_w.npy");
        match m.conv {
            None => {
                let (rows, cols) = (m.rows(), m.cols());
                if cols != layer.input.shape.len() || layer.output.shape != Shape::Flat(rows) {
                    return Err(Error::invalid(
                        format!("layer \"{name}\""),
                        format!(
                            "dense weights [{rows}, {cols}] do not match input [{}] and output [{}]",
                            layer.input.shape, layer.output.shape
                        ),
                    ));
                }
                // The IR's columns are in stream order (HWC for an image); PyTorch flattens CHW.
                let (pixels, channels) = (layer.input.shape.pixels(), layer.input.shape.channels());
                let column = |j: usize| -> usize {
                    match layout {
                        WeightLayout::Keras => j,
                        // Framework column j = c·HW + p holds the IR's column p·C + c.
                        WeightLayout::PyTorch => (j % pixels) * channels + j / pixels,
                    }
                };
                let oi = Array2::from_shape_fn((rows, cols), |(o, j)| m.weights[[o, column(j)]]);
                let (array, layout_name) = match layout {
                    WeightLayout::PyTorch => (oi, "oi"),
                    WeightLayout::Keras => {
                        (oi.reversed_axes().as_standard_layout().into_owned(), "io")
                    }
                };
                let bytes = self.weight_bytes(array.into_dyn(), m.weight_dtype);
                let file = self.file(weights_file, bytes);
                self.line("kind = \"dense\"");
                self.line(format!("name = \"{name}\""));
                self.line(format!("out_features = {rows}"));
                self.line(format!("weights = \"{file}\""));
                self.line(format!("weight_layout = \"{layout_name}\""));
                self.line(format!("weight_dtype = \"{}\"", m.weight_dtype));
                if pixels > 1 {
                    let order = match layout {
                        WeightLayout::PyTorch => "chw",
                        WeightLayout::Keras => "hwc",
                    };
                    self.line(format!("input_order = \"{order}\""));
                }
            }
            Some(g) => {
                let [kh, kw] = g.kernel;
                let oc = m.rows();
                // A depthwise kernel sees one input channel (net.toml `groups = in_channels`,
                // weights [C, 1, kh, kw]); its IR row is (ky, kx), the dense one's (ky, kx, c).
                let ic = if depthwise {
                    1
                } else {
                    layer.input.shape.channels()
                };
                if !matches!(layer.input.shape, Shape::Image { .. })
                    || m.cols() != kh * kw * ic
                    || (depthwise && layer.input.shape.channels() != oc)
                {
                    return Err(Error::invalid(
                        format!("layer \"{name}\""),
                        format!(
                            "conv weights [{oc}, {}] do not match a {kh}x{kw} kernel on input [{}]",
                            m.cols(),
                            layer.input.shape
                        ),
                    ));
                }
                let w =
                    |o: usize, c: usize, y: usize, x: usize| m.weights[[o, (y * kw + x) * ic + c]];
                let (array, layout_name) = match layout {
                    WeightLayout::PyTorch => (
                        Array4::from_shape_fn((oc, ic, kh, kw), |(o, c, y, x)| w(o, c, y, x)),
                        "oihw",
                    ),
                    WeightLayout::Keras => (
                        Array4::from_shape_fn((kh, kw, ic, oc), |(y, x, c, o)| w(o, c, y, x)),
                        "hwio",
                    ),
                };
                let bytes = self.weight_bytes(array.into_dyn(), m.weight_dtype);
                let file = self.file(weights_file, bytes);
                self.line("kind = \"conv2d\"");
                self.line(format!("name = \"{name}\""));
                self.line(format!("out_channels = {oc}"));
                if depthwise {
                    self.line(format!("groups = {oc}"));
                }
                self.line(format!("kernel = {}", pair(g.kernel)));
                self.line(format!("stride = {}", pair(g.stride)));
                if g.padding != [0, 0] {
                    self.line(format!("padding = {}", pair(g.padding)));
                }
                // The loader's default: 0, or the minimum of a datatype without 0 (bipolar: −1,
                // allowed only unpadded). Written when padded or when different, so that it reads
                // back as it was.
                let default_pad = if in_dt.contains(0) { 0 } else { in_dt.min() };
                if g.padding != [0, 0] || g.pad_value != default_pad {
                    self.line(format!("pad_value = {}", g.pad_value));
                }
                self.line(format!("weights = \"{file}\""));
                self.line(format!("weight_layout = \"{layout_name}\""));
                self.line(format!("weight_dtype = \"{}\"", m.weight_dtype));
            }
        }
        self.line(format!("pe = {}", m.folding.pe));
        self.line(format!("simd = {}", m.folding.simd));
        if m.folding.weight_storage != WeightStorage::Rom {
            self.line(format!(
                "weight_storage = \"{}\"",
                m.folding.weight_storage.name()
            ));
        }
        if m.folding.ram_style != RamStyle::Auto {
            self.line(format!("ram_style = \"{}\"", m.folding.ram_style.name()));
        }
        if m.folding.threshold_ram_style != RamStyle::Auto {
            self.line(format!(
                "threshold_ram_style = \"{}\"",
                m.folding.threshold_ram_style.name()
            ));
        }
        if let Some(d) = m.folding.fifo_depth {
            self.line(format!("fifo_depth = {d}"));
        }
        if let Some(d) = m.folding.buffer_depth {
            self.line(format!("buffer_depth = {d}"));
        }
        self.line("");
        self.line("[layer.activation]");
        match &m.activation {
            Activation::Identity => self.line("kind = \"none\""),
            Activation::BatchNorm(bn) => self.batchnorm(name, bn, m.rows())?,
            Activation::Thresholds(t) => self.thresholds(name, t, m.rows())?,
        }
        Ok(())
    }

    fn weight_bytes(&self, array: ndarray::ArrayD<i32>, dtype: DataType) -> Vec<u8> {
        if self.options.float_weights {
            // |w| ≤ 255: exact in f32.
            npy_bytes(&array.mapv(|v| v as f32))
        } else if dtype.min() >= i64::from(i8::MIN) && dtype.max() <= i64::from(i8::MAX) {
            npy_bytes(&array.mapv(|v| v as i8))
        } else {
            // uint8 weights, 0..=255.
            npy_bytes(&array.mapv(|v| v as u8))
        }
    }

    fn param(
        &mut self,
        layer: &str,
        field: &str,
        values: &[f64],
        channels: usize,
    ) -> Result<String> {
        let location = format!("layer \"{layer}\" batch-norm {field}");
        if values.len() != channels {
            return Err(Error::invalid(
                location,
                format!("{} values for {channels} channels", values.len()),
            ));
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(Error::invalid(
                location,
                format!("value {} at {i} is not finite", values[i]),
            ));
        }
        let bytes = if self.options.float32_params {
            if let Some(i) = values.iter().position(|&v| v as f32 as f64 != v) {
                return Err(Error::Unsupported(format!(
                    "{location}: value {:?} at {i} is not exactly a float32; export as float64",
                    values[i]
                )));
            }
            npy_bytes(&Array1::from_iter(values.iter().map(|&v| v as f32)))
        } else {
            npy_bytes(&Array1::from_vec(values.to_vec()))
        };
        let file = format!("{layer}_{field}.npy");
        Ok(self.file(file, bytes))
    }

    fn batchnorm(&mut self, name: &str, bn: &BatchNorm, channels: usize) -> Result<()> {
        if !(bn.eps.is_finite() && bn.eps > 0.0) {
            return Err(Error::invalid(
                format!("layer \"{name}\" batch-norm eps"),
                format!("{} must be finite and > 0", bn.eps),
            ));
        }
        let gamma = self.param(name, "gamma", &bn.gamma, channels)?;
        let beta = self.param(name, "beta", &bn.beta, channels)?;
        let mean = self.param(name, "mean", &bn.mean, channels)?;
        let var = self.param(name, "var", &bn.var, channels)?;
        let alpha = bn
            .alpha
            .as_ref()
            .map(|a| self.param(name, "alpha", a, channels))
            .transpose()?;
        let bias = bn
            .bias
            .as_ref()
            .map(|b| self.param(name, "bias", b, channels))
            .transpose()?;
        self.line("kind = \"batchnorm\"");
        self.line(format!("gamma = \"{gamma}\""));
        self.line(format!("beta = \"{beta}\""));
        self.line(format!("mean = \"{mean}\""));
        self.line(format!("var = \"{var}\""));
        self.line(format!("eps = {}", toml_float(bn.eps)));
        if let Some(alpha) = alpha {
            self.line(format!("alpha = \"{alpha}\""));
        }
        if let Some(bias) = bias {
            self.line(format!("bias = \"{bias}\""));
        }
        let quantizer = match bn.quantizer {
            Quantizer::Sign => "{ kind = \"sign\" }".to_string(),
            Quantizer::Uniform {
                bits,
                signed,
                scale,
            } => {
                if !(scale.is_finite() && scale > 0.0) {
                    return Err(Error::invalid(
                        format!("layer \"{name}\" quantizer scale"),
                        format!("{scale} must be finite and > 0"),
                    ));
                }
                format!(
                    "{{ kind = \"uniform\", bits = {bits}, signed = {signed}, scale = {} }}",
                    toml_float(scale)
                )
            }
        };
        self.line(format!("quantizer = {quantizer}"));
        Ok(())
    }

    fn thresholds(&mut self, name: &str, t: &Thresholds, channels: usize) -> Result<()> {
        if let Some(c) = t.compare.iter().position(|&c| c == Compare::Le) {
            return Err(Error::Unsupported(format!(
                "layer \"{name}\": channel {c} compares acc <= T, which net.toml's thresholds \
                 (form b, always acc >= T) cannot express; export the batch-norm form instead"
            )));
        }
        let steps = (1usize << t.out_dtype.bits()) - 1;
        if t.channels() != channels || t.steps() != steps || t.compare.len() != channels {
            return Err(Error::invalid(
                format!("layer \"{name}\" thresholds"),
                format!(
                    "shape [{}, {}] (compare: {}), expected [{channels}, {steps}] for {}",
                    t.channels(),
                    t.steps(),
                    t.compare.len(),
                    t.out_dtype
                ),
            ));
        }
        let values = t.values.as_standard_layout().into_owned();
        let file = self.file(format!("{name}_thr.npy"), npy_bytes(&values));
        self.line("kind = \"thresholds\"");
        self.line(format!("thresholds = \"{file}\""));
        self.line(format!("out_dtype = \"{}\"", t.out_dtype));
        if t.out_dtype != DataType::Bipolar {
            self.line(format!("out_bias = {}", t.out_bias));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Folding, TensorType};
    use crate::synth::{self, RandomLimits, EXAMPLES};

    fn small_examples() -> impl Iterator<Item = &'static str> {
        EXAMPLES
            .into_iter()
            .filter(|n| !matches!(*n, "lfc" | "cnv"))
    }

    #[test]
    fn output_is_byte_deterministic() {
        for name in small_examples() {
            let (a, opts) = synth::example(name).unwrap();
            let (b, _) = synth::example(name).unwrap();
            assert_eq!(
                to_files(&a, &opts).unwrap(),
                to_files(&b, &opts).unwrap(),
                "{name}"
            );
        }
        let (net, opts) = synth::example("tiny").unwrap();
        let d1 = tempfile::tempdir().unwrap();
        let d2 = tempfile::tempdir().unwrap();
        write_network_with(&net, d1.path(), &opts).unwrap();
        write_network_with(&net, d2.path(), &opts).unwrap();
        let list = |d: &Path| {
            let mut v: Vec<_> = std::fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            v.sort();
            v
        };
        assert_eq!(list(d1.path()), list(d2.path()));
        for f in list(d1.path()) {
            assert_eq!(
                std::fs::read(d1.path().join(&f)).unwrap(),
                std::fs::read(d2.path().join(&f)).unwrap(),
                "{f}"
            );
        }
    }

    #[test]
    fn committed_examples_are_up_to_date() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        for name in small_examples() {
            let (net, opts) = synth::example(name).unwrap();
            for (file, bytes) in to_files(&net, &opts).unwrap() {
                let path = root.join(name).join(&file);
                let on_disk = std::fs::read(&path).unwrap_or_else(|e| {
                    panic!("{}: {e}; run scripts/gen-examples", path.display())
                });
                assert!(
                    on_disk == bytes,
                    "{} differs from the generator's output; run scripts/gen-examples {name}",
                    path.display()
                );
            }
        }
    }

    #[test]
    fn tiny_toml_text() {
        let (net, opts) = synth::example("tiny").unwrap();
        let files = to_files(&net, &opts).unwrap();
        let (last, toml) = files.last().unwrap();
        assert_eq!(last, "net.toml");
        let toml = String::from_utf8(toml.clone()).unwrap();
        let expected = r#"# Written by bnn-gen. Format: docs/net-format.md.
name = "tiny"

[input]
shape = [20]
dtype = "binary"

[[layer]]
kind = "dense"
name = "fc0"
out_features = 12
weights = "fc0_w.npy"
weight_layout = "oi"
weight_dtype = "bipolar"
pe = 4
simd = 5

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
out_features = 10
weights = "fc1_w.npy"
weight_layout = "oi"
weight_dtype = "bipolar"
pe = 5
simd = 6

[layer.activation]
kind = "none"

[head]
kind = "argmax"
"#;
        assert_eq!(toml, expected);
        // Parses as TOML.
        let _: toml::Value = toml::from_str(&toml).unwrap();
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "fc0_w.npy",
                "fc0_gamma.npy",
                "fc0_beta.npy",
                "fc0_mean.npy",
                "fc0_var.npy",
                "fc1_w.npy",
                "net.toml"
            ]
        );
        // float32 weights: '<f4' in the header.
        let w = &files[0].1;
        assert!(String::from_utf8_lossy(&w[..128]).contains("'<f4'"));
    }

    /// Reads a little-endian i8 / f32 / f64 / i64 npy written by ndarray-npy (header then data).
    fn npy_payload(bytes: &[u8]) -> (&str, &[u8]) {
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
        (header, &bytes[10 + header_len..])
    }

    #[test]
    fn conv_and_dense_weights_are_in_framework_layouts() {
        // 2x2x2 image, conv 2x1 kernel → 1x2x3, dense on the 1x2x3 image.
        let net = Network {
            name: "t".into(),
            input: TensorType {
                shape: Shape::Image { h: 2, w: 2, c: 2 },
                dtype: ValueType::Data(DataType::Int(8)),
            },
            layers: vec![
                Layer {
                    name: "c".into(),
                    input: TensorType {
                        shape: Shape::Image { h: 2, w: 2, c: 2 },
                        dtype: ValueType::Data(DataType::Int(8)),
                    },
                    output: TensorType {
                        shape: Shape::Image { h: 1, w: 2, c: 3 },
                        dtype: ValueType::Data(DataType::Int(8)),
                    },
                    op: Op::MatVec(MatVec {
                        conv: Some(crate::ir::ConvGeometry {
                            kernel: [2, 1],
                            stride: [1, 1],
                            padding: [0, 0],
                            pad_value: 0,
                        }),
                        // column (ky·1 + kx)·2 + ic; value = 100·o + 10·ky + ic
                        weights: Array2::from_shape_fn((3, 4), |(o, j)| {
                            (100 * o + 10 * (j / 2) + j % 2) as i32 - 128
                        }),
                        weight_dtype: DataType::Int(8),
                        activation: Activation::Thresholds(Thresholds {
                            values: Array2::from_shape_fn((3, 255), |(_, i)| i as i64 - 127),
                            compare: vec![Compare::Ge; 3],
                            out_bias: -128,
                            out_dtype: DataType::Int(8),
                        }),
                        folding: Folding::new(1, 1),
                    }),
                },
                Layer {
                    name: "d".into(),
                    input: TensorType {
                        shape: Shape::Image { h: 1, w: 2, c: 3 },
                        dtype: ValueType::Data(DataType::Int(8)),
                    },
                    output: TensorType {
                        shape: Shape::Flat(2),
                        dtype: ValueType::Accumulator { lo: -1, hi: 1 },
                    },
                    op: Op::MatVec(MatVec {
                        conv: None,
                        // IR column p·3 + c; value = 50·o + 10·c + p
                        weights: Array2::from_shape_fn((2, 6), |(o, j)| {
                            (50 * o + 10 * (j % 3) + j / 3) as i32
                        }),
                        weight_dtype: DataType::Int(8),
                        activation: Activation::Identity,
                        folding: Folding::new(1, 1),
                    }),
                },
            ],
            head: None,
        };
        for layout in [WeightLayout::PyTorch, WeightLayout::Keras] {
            let opts = ExportOptions {
                layout,
                ..ExportOptions::default()
            };
            let files = to_files(&net, &opts).unwrap();
            let get = |n: &str| files.iter().find(|(f, _)| f == n).unwrap().1.clone();
            let cw = get("c_w.npy");
            let (h, data) = npy_payload(&cw);
            let data: Vec<i32> = data.iter().map(|&b| i32::from(b as i8)).collect();
            let dw = get("d_w.npy");
            let (dh, ddata) = npy_payload(&dw);
            let ddata: Vec<i32> = ddata.iter().map(|&b| i32::from(b as i8)).collect();
            let toml = String::from_utf8(get("net.toml")).unwrap();
            match layout {
                WeightLayout::PyTorch => {
                    assert!(h.contains("'shape': (3, 2, 2, 1)"), "{h}");
                    // [o, c, ky, kx] in C order.
                    let want: Vec<i32> = (0..3)
                        .flat_map(|o| {
                            (0..2).flat_map(move |c| {
                                (0..2).map(move |ky| 100 * o + 10 * ky + c - 128)
                            })
                        })
                        .collect();
                    assert_eq!(data, want);
                    assert!(dh.contains("'shape': (2, 6)"), "{dh}");
                    // chw: column c·2 + p.
                    let want: Vec<i32> = (0..2)
                        .flat_map(|o| {
                            (0..3).flat_map(move |c| (0..2).map(move |p| 50 * o + 10 * c + p))
                        })
                        .collect();
                    assert_eq!(ddata, want);
                    assert!(toml.contains("weight_layout = \"oihw\""));
                    assert!(toml.contains("input_order = \"chw\""));
                }
                WeightLayout::Keras => {
                    assert!(h.contains("'shape': (2, 1, 2, 3)"), "{h}");
                    let want: Vec<i32> = (0..2)
                        .flat_map(|ky| {
                            (0..2)
                                .flat_map(move |c| (0..3).map(move |o| 100 * o + 10 * ky + c - 128))
                        })
                        .collect();
                    assert_eq!(data, want);
                    assert!(dh.contains("'shape': (6, 2)"), "{dh}");
                    let want: Vec<i32> = (0..6)
                        .flat_map(|j| (0..2).map(move |o| 50 * o + 10 * (j % 3) + j / 3))
                        .collect();
                    assert_eq!(ddata, want);
                    assert!(toml.contains("weight_layout = \"hwio\""));
                    assert!(toml.contains("input_order = \"hwc\""));
                    assert!(toml.contains("kernel = [2, 1]"));
                }
            }
            assert!(toml.contains("out_bias = -128"));
        }
    }

    #[test]
    fn le_thresholds_are_unsupported() {
        let (mut net, opts) = synth::example("w2a2").unwrap();
        let Op::MatVec(m) = &mut net.layers[0].op else {
            panic!()
        };
        let Activation::Thresholds(t) = &mut m.activation else {
            panic!()
        };
        t.compare[3] = Compare::Le;
        let dir = tempfile::tempdir().unwrap();
        let err = write_network_with(&net, &dir.path().join("out"), &opts).unwrap_err();
        assert!(matches!(err, Error::Unsupported(_)), "{err}");
        assert!(err.to_string().contains("acc <= T"), "{err}");
        assert!(!dir.path().join("out").exists(), "nothing written on error");
    }

    #[test]
    fn float32_params_must_be_exact() {
        let (mut net, mut opts) = synth::example("tiny").unwrap();
        opts.float32_params = true;
        let Op::MatVec(m) = &mut net.layers[0].op else {
            panic!()
        };
        let Activation::BatchNorm(bn) = &mut m.activation else {
            panic!()
        };
        bn.beta[0] = 0.1;
        assert!(matches!(to_files(&net, &opts), Err(Error::Unsupported(_))));
        opts.float32_params = false;
        assert!(to_files(&net, &opts).is_ok());
    }

    fn round_trip(net: &Network, opts: &ExportOptions) {
        let dir = tempfile::tempdir().unwrap();
        write_network_with(net, dir.path(), opts).unwrap();
        let back = crate::frontend::load(&dir.path().join("net.toml"))
            .unwrap_or_else(|e| panic!("{}: {e}", net.name));
        if let Some(diff) = first_difference(&back, net) {
            panic!("{} {opts:?}: loaded != exported: {diff}", net.name);
        }
    }

    /// A short description of where two networks differ, or `None` when they are equal.
    fn first_difference(got: &Network, want: &Network) -> Option<String> {
        if got == want {
            return None;
        }
        if (&got.name, got.input, got.head) != (&want.name, want.input, want.head) {
            return Some(format!(
                "name/input/head {:?} vs {:?}",
                (&got.name, got.input, got.head),
                (&want.name, want.input, want.head)
            ));
        }
        if got.layers.len() != want.layers.len() {
            return Some(format!(
                "{} vs {} layers",
                got.layers.len(),
                want.layers.len()
            ));
        }
        for (g, w) in got.layers.iter().zip(&want.layers) {
            let at = format!("layer {}", w.name);
            if (&g.name, g.input, g.output) != (&w.name, w.input, w.output) {
                return Some(format!(
                    "{at}: name/types {:?} vs {:?}",
                    (&g.name, g.input, g.output),
                    (&w.name, w.input, w.output)
                ));
            }
            match (&g.op, &w.op) {
                (Op::MatVec(a), Op::MatVec(b)) => {
                    if a.conv != b.conv {
                        return Some(format!("{at}: conv {:?} vs {:?}", a.conv, b.conv));
                    }
                    if a.weights != b.weights {
                        return Some(format!("{at}: weights differ"));
                    }
                    if (a.weight_dtype, a.folding) != (b.weight_dtype, b.folding) {
                        return Some(format!(
                            "{at}: {:?} vs {:?}",
                            (a.weight_dtype, a.folding),
                            (b.weight_dtype, b.folding)
                        ));
                    }
                    match (&a.activation, &b.activation) {
                        (Activation::Thresholds(x), Activation::Thresholds(y)) if x != y => {
                            for c in 0..y.channels().min(x.channels()) {
                                if x.values.row(c) != y.values.row(c) {
                                    return Some(format!(
                                        "{at}: threshold row {c}: {} vs {}",
                                        x.values.row(c),
                                        y.values.row(c)
                                    ));
                                }
                            }
                            return Some(format!(
                                "{at}: thresholds {:?} vs {:?}",
                                (x.values.dim(), &x.compare, x.out_bias, x.out_dtype),
                                (y.values.dim(), &y.compare, y.out_bias, y.out_dtype)
                            ));
                        }
                        (x, y) if x != y => {
                            return Some(format!("{at}: activation {x:?} vs {y:?}"));
                        }
                        _ => {}
                    }
                }
                (a, b) if a != b => return Some(format!("{at}: {a:?} vs {b:?}")),
                _ => {}
            }
        }
        Some("differs (unlocated)".into())
    }

    #[test]
    fn examples_round_trip_through_the_loader() {
        for name in small_examples() {
            let (net, opts) = synth::example(name).unwrap();
            round_trip(&net, &opts);
            round_trip(&net, &ExportOptions::default());
        }
    }

    #[test]
    fn random_networks_round_trip_through_the_loader() {
        let limits = RandomLimits::default();
        for seed in 0..60 {
            let opts = ExportOptions {
                float_weights: seed % 3 == 0,
                float32_params: seed % 2 == 0,
                layout: if seed % 4 < 2 {
                    WeightLayout::PyTorch
                } else {
                    WeightLayout::Keras
                },
            };
            round_trip(
                &synth::mlp(&synth::random_mlp_spec(seed, &limits), seed),
                &opts,
            );
            let mut cnn = synth::cnn(&synth::random_cnn_spec(seed, &limits), seed);
            if seed % 2 == 1 {
                // A pad value that is not the default, on an unpadded layer: must read back too.
                for layer in &mut cnn.layers {
                    let max = layer.input.dtype.max();
                    if let Op::MatVec(MatVec { conv: Some(g), .. }) = &mut layer.op {
                        g.pad_value = max;
                    }
                }
            }
            round_trip(&cnn, &opts);
        }
    }
}
