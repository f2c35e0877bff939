//! `net.toml` + `.npy` → [`Network`]: decoding, validation and shape/type inference.
//!
//! Every check here turns a bad input into an [`Error`] whose location names the file, the layer
//! and the field. The IR that comes out is consistent: shapes chain, values fit their datatypes,
//! weights are in the IR's column order.

use super::npy;
use super::schema::*;
use crate::datatype::DataType;
use crate::error::{Error, Result};
use crate::ir::*;
use ndarray::{Array2, ArrayD, Axis, Dimension, Ix2, Ix4};
use std::path::{Path, PathBuf};

/// Largest channel/feature count or image side accepted: larger is a typo, not a network.
const MAX_DIM: i64 = 1 << 16;
/// Largest kernel side, stride or padding.
const MAX_WINDOW: i64 = 64;
/// Largest weight matrix (MH·MW), to fail early rather than exhaust memory.
const MAX_WEIGHTS: usize = 1 << 28;

/// Loads and validates `path` (a `net.toml`); `.npy` paths in it are relative to its directory.
pub fn load(path: &Path) -> Result<Network> {
    load_with_io(path).map(|(net, _)| net)
}

/// [`load`], plus the float input quantizer and output affine of an imported model
/// (`[input.quantizer]` and `[output]`; empty for a hand-written network).
pub fn load_with_io(path: &Path) -> Result<(Network, super::float_io::FloatIo)> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut file: NetFile = toml::from_str(&text).map_err(|e| Error::Parse {
        path: path.to_path_buf(),
        message: e.to_string().trim_end().to_string(),
    })?;
    let ctx = Ctx {
        toml: path.to_path_buf(),
        dir: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
    };
    let (quantizer, output) = (file.input.quantizer.take(), file.output.take());
    let net = ctx.network(file)?;
    let io = super::float_io::from_toml(path, quantizer, output, &net)?;
    Ok((net, io))
}

/// Where we are: for error locations and relative paths.
struct Ctx {
    toml: PathBuf,
    dir: PathBuf,
}

/// One layer's place in the file, for error messages: `net.toml: layer 2 ("fc1")`.
struct At<'a> {
    ctx: &'a Ctx,
    index: usize,
    name: String,
    /// Where the layer's input comes from: `the output of layer 0 ("fc0")` or `the network input`.
    source: String,
}

impl At<'_> {
    fn here(&self) -> String {
        format!(
            "{}: layer {} (\"{}\")",
            self.ctx.toml.display(),
            self.index,
            self.name
        )
    }

    fn field(&self, field: &str) -> String {
        format!("{}, field `{field}`", self.here())
    }

    /// An npy file named by `field`: the location names the layer, the field and the file.
    fn file(&self, field: &str, rel: &str) -> (PathBuf, String) {
        let path = self.ctx.dir.join(rel);
        let loc = format!("{} ({})", self.field(field), path.display());
        (path, loc)
    }

    fn err(&self, field: &str, message: impl Into<String>) -> Error {
        Error::invalid(self.field(field), message)
    }

    /// Decodes a table of this layer into `T`: the layer itself (`prefix` ""), its activation
    /// ("activation.") or its quantizer ("activation.quantizer."). The error names the field.
    fn decode<T: serde::de::DeserializeOwned>(
        &self,
        prefix: &str,
        table: toml::Table,
    ) -> Result<T> {
        toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| {
                // The message of a wrong type does not name the field; the error's key path (shown
                // by its Display as a last line "in `a.b`") does. Unknown and missing fields are
                // named in the message.
                let text = e.to_string();
                let (message, keys) = match text.trim_end().rsplit_once("\nin `") {
                    Some((m, k)) => (m.to_string(), Some(k.trim_end_matches('`').to_string())),
                    None => (text.trim_end().to_string(), None),
                };
                let message = message
                    .replace("expected i64", "expected an integer")
                    .replace("expected f64", "expected a number");
                let named = |start: &str| {
                    message
                        .strip_prefix(start)
                        .and_then(|rest| rest.split('`').next())
                        .map(str::to_string)
                };
                match keys
                    .or_else(|| named("unknown field `"))
                    .or_else(|| named("missing field `"))
                {
                    Some(field) => self.err(&format!("{prefix}{field}"), message),
                    None if prefix.is_empty() => Error::invalid(self.here(), message),
                    None => self.err(prefix.trim_end_matches('.'), message),
                }
            })
    }

    /// Removes the `kind` from a table and checks that it is one of `kinds`.
    fn take_kind(&self, prefix: &str, table: &mut toml::Table, kinds: &[&str]) -> Result<String> {
        let field = format!("{prefix}kind");
        let expected = one_of(kinds);
        match table.remove("kind") {
            Some(toml::Value::String(k)) if kinds.contains(&k.as_str()) => Ok(k),
            Some(toml::Value::String(k)) => {
                Err(self.err(&field, format!("unknown kind \"{k}\": expected {expected}")))
            }
            Some(other) => Err(self.err(
                &field,
                format!("expected a string ({expected}), found {}", other.type_str()),
            )),
            None => Err(self.err(&field, format!("missing: expected {expected}"))),
        }
    }

    /// Removes the sub-table `key` (`activation`, `quantizer`) from a table.
    fn take_table(&self, prefix: &str, table: &mut toml::Table, key: &str) -> Result<toml::Table> {
        let field = format!("{prefix}{key}");
        match table.remove(key) {
            Some(toml::Value::Table(t)) => Ok(t),
            Some(other) => Err(self.err(
                &field,
                format!("expected a table, found {}", other.type_str()),
            )),
            None => Err(self.err(
                &field,
                format!(
                    "missing: {}",
                    match key {
                        "activation" =>
                            "every dense and conv2d layer needs a [layer.activation] table \
                                 (kind = \"batchnorm\", \"thresholds\" or \"none\")",
                        _ =>
                            "batch-norm needs a quantizer: { kind = \"sign\" } or \
                      { kind = \"uniform\", bits = n, signed = false, scale = s }",
                    }
                ),
            )),
        }
    }
}

/// `"a", "b" or "c"`.
fn one_of(kinds: &[&str]) -> String {
    let quoted: Vec<String> = kinds.iter().map(|k| format!("\"{k}\"")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => quoted.join(""),
    }
}

/// Re-labels an npy reading error with the layer and field that named the file.
fn in_field(loc: &str) -> impl Fn(Error) -> Error + '_ {
    move |e| match e {
        Error::Invalid { message, .. } => Error::invalid(loc, message),
        Error::Io { source, .. } => Error::invalid(loc, format!("cannot read the file: {source}")),
        other => other,
    }
}

impl Ctx {
    fn top(&self, field: &str) -> String {
        format!("{}, field `{field}`", self.toml.display())
    }

    fn network(&self, file: NetFile) -> Result<Network> {
        check_identifier(&file.name, true).map_err(|m| Error::invalid(self.top("name"), m))?;
        let input = self.input(&file.input)?;
        if file.layers.is_empty() {
            return Err(Error::invalid(
                self.top("layer"),
                "the network has no layers: add at least one [[layer]] table",
            ));
        }

        let mut layers: Vec<Layer> = Vec::with_capacity(file.layers.len());
        let mut current = input;
        for (index, table) in file.layers.into_iter().enumerate() {
            let layer = self.layer(index, table, current, &layers)?;
            current = layer.output;
            layers.push(layer);
        }

        let head = match file.head {
            None => None,
            Some(spec) => Some(self.head(spec, current)?),
        };
        Ok(Network {
            name: file.name,
            input,
            layers,
            head,
        })
    }

    fn input(&self, spec: &InputSpec) -> Result<TensorType> {
        let dtype =
            parse_dtype(&spec.dtype).map_err(|m| Error::invalid(self.top("input.dtype"), m))?;
        if dtype == DataType::Ternary {
            return Err(Error::invalid(
                self.top("input.dtype"),
                "ternary is a weight datatype; inputs are bipolar, binary, uintN or intN",
            ));
        }
        let loc = self.top("input.shape");
        let dims = spec
            .shape
            .iter()
            .map(|&d| positive(d, MAX_DIM).map_err(|m| Error::invalid(&loc, m)))
            .collect::<Result<Vec<_>>>()?;
        let shape = match dims[..] {
            [c] => Shape::Flat(c),
            [h, w, c] => Shape::Image { h, w, c },
            _ => {
                return Err(Error::invalid(
                    loc,
                    format!(
                        "expected [C] for a vector or [H, W, C] for an image (NHWC), found {} dimensions",
                        dims.len()
                    ),
                ))
            }
        };
        Ok(TensorType {
            shape,
            dtype: ValueType::Data(dtype),
        })
    }

    fn layer(
        &self,
        index: usize,
        table: toml::Table,
        input: TensorType,
        done: &[Layer],
    ) -> Result<Layer> {
        let kind = table
            .get("kind")
            .and_then(|k| k.as_str())
            .map(str::to_string);
        let declared_name = table
            .get("name")
            .and_then(|n| n.as_str())
            .map(str::to_string);
        let default_name = format!("{}{index}", kind.as_deref().unwrap_or("layer"));
        let at = At {
            ctx: self,
            index,
            name: declared_name.clone().unwrap_or(default_name),
            source: match done.last() {
                Some(prev) => format!("the output of layer {} (\"{}\")", index - 1, prev.name),
                None => "the network input".to_string(),
            },
        };
        let mut table = table;
        let kind = at.take_kind(
            "",
            &mut table,
            &["dense", "conv2d", "maxpool", "globalavgpool"],
        )?;

        if let Some(name) = &declared_name {
            check_identifier(name, false).map_err(|m| at.err("name", m))?;
        }
        if done.iter().any(|l| l.name == at.name) {
            return Err(at.err(
                "name",
                format!("another layer is already named \"{}\"", at.name),
            ));
        }

        let (op, output) = match kind.as_str() {
            "dense" => {
                let activation = at.take_table("", &mut table, "activation")?;
                self.dense(&at, at.decode("", table)?, activation, input)?
            }
            "conv2d" => {
                let activation = at.take_table("", &mut table, "activation")?;
                self.conv(&at, at.decode("", table)?, activation, input)?
            }
            "maxpool" => self.maxpool(&at, at.decode("", table)?, input)?,
            _ => self.global_avg_pool(&at, at.decode("", table)?, input)?,
        };
        Ok(Layer {
            name: at.name,
            input,
            output,
            op,
        })
    }

    fn dense(
        &self,
        at: &At,
        d: DenseSpec,
        activation: toml::Table,
        input: TensorType,
    ) -> Result<(Op, TensorType)> {
        let in_dtype = matvec_input(at, input)?;
        let mh = positive(d.out_features, MAX_DIM).map_err(|m| at.err("out_features", m))?;
        let mw = input.shape.len();
        let weight_dtype = weight_dtype(at, &d.weight_dtype)?;

        let (path, loc) = at.file("weights", &d.weights);
        let raw = npy::read_int(&path).map_err(in_field(&loc))?;
        let layout = d.weight_layout.as_deref().unwrap_or("oi");
        let expected = match layout {
            "oi" => [mh, mw],
            "io" => [mw, mh],
            other => {
                return Err(at.err(
                    "weight_layout",
                    format!("unknown layout \"{other}\": expected \"oi\" ([out, in], PyTorch) or \"io\" ([in, out], Keras)"),
                ))
            }
        };
        let names = if layout == "oi" {
            "[out_features, in_features]"
        } else {
            "[in_features, out_features]"
        };
        let w = shaped::<Ix2>(
            raw,
            &expected,
            &loc,
            &format!(
                "[{}, {}] = {names} (weight_layout \"{layout}\"; in_features = {mw}{}, the size of {})",
                expected[0],
                expected[1],
                match input.shape {
                    Shape::Flat(_) => String::new(),
                    image => format!(" = {image}"),
                },
                at.source
            ),
        )?;
        let mut w = if layout == "io" { w.reversed_axes() } else { w };
        check_values(w.view().into_dyn(), weight_dtype, &loc)?;

        // A framework that flattened an NCHW tensor (PyTorch) numbers the dense inputs c·H·W + h·W + w;
        // our stream is NHWC, numbered (h·W + w)·C + c. Permute the columns once, here.
        match (input.shape, d.input_order.as_deref()) {
            (Shape::Image { h, w: iw, c }, order) if h * iw > 1 => match order {
                Some("hwc") => {}
                Some("chw") => w = chw_to_hwc_columns(&w, h, iw, c),
                Some(other) => {
                    return Err(at.err(
                        "input_order",
                        format!("unknown order \"{other}\": expected \"chw\" (PyTorch flatten) or \"hwc\" (Keras/NHWC)"),
                    ))
                }
                None => {
                    return Err(at.err(
                        "input_order",
                        format!(
                            "required: the input is a {} image, so say how your framework flattened it: \
                             \"chw\" (PyTorch) or \"hwc\" (Keras/NHWC)",
                            input.shape
                        ),
                    ))
                }
            },
            (_, Some("chw" | "hwc") | None) => {}
            (_, Some(other)) => {
                return Err(at.err("input_order", format!("unknown order \"{other}\": expected \"chw\" or \"hwc\"")))
            }
        }

        let mut folding = folding(at, d.pe, d.simd, mh, mw)?;
        folding.ram_style = ram_style(at, "ram_style", d.ram_style.as_deref())?;
        folding.weight_storage =
            weight_storage(at, d.weight_storage.as_deref(), folding.ram_style)?;
        folding.threshold_ram_style =
            ram_style(at, "threshold_ram_style", d.threshold_ram_style.as_deref())?;
        folding.fifo_depth = depth(at, "fifo_depth", d.fifo_depth, 2)?;
        let mut mv = MatVec {
            conv: None,
            weights: w.mapv(|v| v as i32),
            weight_dtype,
            activation: Activation::Identity,
            folding,
        };
        mv.activation = self.activation(at, activation, &mv)?;
        no_threshold_style_without_thresholds(at, &mv)?;
        let output = TensorType {
            shape: Shape::Flat(mh),
            dtype: activation_output(&mv, in_dtype),
        };
        Ok((Op::MatVec(mv), output))
    }

    fn conv(
        &self,
        at: &At,
        c: ConvSpec,
        activation: toml::Table,
        input: TensorType,
    ) -> Result<(Op, TensorType)> {
        let in_dtype = matvec_input(at, input)?;
        let Shape::Image { h, w: iw, c: ifm } = input.shape else {
            return Err(Error::invalid(
                at.here(),
                format!(
                    "conv2d needs an image input [H, W, C], but its input is a flat vector of {}",
                    input.shape
                ),
            ));
        };
        let ofm = positive(c.out_channels, MAX_DIM).map_err(|m| at.err("out_channels", m))?;
        let depthwise = match c.groups {
            None | Some(1) => false,
            Some(g) if g == ifm as i64 && ofm == ifm => true,
            Some(g) if g == ifm as i64 => {
                return Err(at.err(
                    "out_channels",
                    format!(
                        "{ofm} with groups = {g}: a depthwise layer has a depth multiplier of 1, \
                         out_channels = in_channels = {ifm}\nhelp: set out_channels = {ifm}, \
                         and follow with a 1x1 conv2d to change the channel count"
                    ),
                ))
            }
            Some(g) => {
                return Err(at.err(
                    "groups",
                    format!(
                        "{g}: only 1 (a full convolution) and {ifm} (depthwise: one channel per \
                         group, the in_channels of {}) are supported\nhelp: set groups = 1 or \
                         groups = {ifm}",
                        at.source
                    ),
                ))
            }
        };
        let kernel = pair(&c.kernel, 1, MAX_WINDOW).map_err(|m| at.err("kernel", m))?;
        let stride = match &c.stride {
            Some(s) => pair(s, 1, MAX_WINDOW).map_err(|m| at.err("stride", m))?,
            None => [1, 1],
        };
        let padding = match &c.padding {
            Some(p) => pair(p, 0, MAX_WINDOW).map_err(|m| at.err("padding", m))?,
            None => [0, 0],
        };
        for axis in 0..2 {
            if padding[axis] >= kernel[axis] {
                return Err(at.err(
                    "padding",
                    format!("padding {padding:?} must be smaller than the kernel {kernel:?}: a window would see only padding"),
                ));
            }
        }
        let pad_value = match (c.pad_value, in_dtype) {
            (Some(v), dt) if !dt.contains(v) => {
                let hint = if dt == DataType::Bipolar {
                    " (a bipolar tensor has no 0: use +1, as Larq's pad_values=1.0, or -1)"
                } else {
                    ""
                };
                return Err(at.err(
                    "pad_value",
                    format!("{v} is not a value of the input datatype {dt}{hint}"),
                ));
            }
            (Some(v), _) => v,
            (None, DataType::Bipolar) if padding != [0, 0] => return Err(at.err(
                "pad_value",
                "required: the input is bipolar and padding > 0, and a bipolar tensor has no 0; \
                     say pad_value = 1 or -1 (FINN's zero pad in bit encoding silently means -1)",
            )),
            (None, dt) => {
                if dt.contains(0) {
                    0
                } else {
                    dt.min()
                }
            }
        };

        let out = [
            window_out(h, kernel[0], stride[0], padding[0]),
            window_out(iw, kernel[1], stride[1], padding[1]),
        ];
        let [Some(oh), Some(ow)] = out else {
            return Err(at.err(
                "kernel",
                format!(
                    "a {kernel:?} kernel with padding {padding:?} does not fit the {} input",
                    input.shape
                ),
            ));
        };

        let weight_dtype = weight_dtype(at, &c.weight_dtype)?;
        let (path, loc) = at.file("weights", &c.weights);
        let raw = npy::read_int(&path).map_err(in_field(&loc))?;
        let layout = c.weight_layout.as_deref().unwrap_or("oihw");
        let [kh, kw] = kernel;
        // A grouped weight tensor's "i" axis is in_channels / groups: 1 for depthwise.
        let wi = if depthwise { 1 } else { ifm };
        let expected = match layout {
            "oihw" => [ofm, wi, kh, kw],
            "hwio" => [kh, kw, wi, ofm],
            other => {
                return Err(at.err(
                    "weight_layout",
                    format!("unknown layout \"{other}\": expected \"oihw\" (PyTorch) or \"hwio\" (Keras/Larq)"),
                ))
            }
        };
        let names = match (layout == "oihw", depthwise) {
            (true, false) => "[out_channels, in_channels, kh, kw]",
            (false, false) => "[kh, kw, in_channels, out_channels]",
            (true, true) => "[channels, 1, kh, kw]",
            (false, true) => "[kh, kw, 1, channels]",
        };
        let w4 = shaped::<Ix4>(
            raw,
            &expected,
            &loc,
            &format!(
                "{expected:?} = {names} (weight_layout \"{layout}\"; in_channels = {ifm}, the channels of {})",
                at.source
            ),
        )?;
        check_values(w4.view().into_dyn(), weight_dtype, &loc)?;
        // To (OFM, kh, kw, IFM): FINN's order, the order the sliding window emits.
        let ohwi = if layout == "oihw" {
            w4.permuted_axes([0, 2, 3, 1])
        } else {
            w4.permuted_axes([3, 0, 1, 2])
        };
        if depthwise {
            return self.depthwise(
                at,
                c,
                ohwi,
                weight_dtype,
                activation,
                input,
                [oh, ow],
                pad_value,
            );
        }
        let mw = kh * kw * ifm;
        if ofm.saturating_mul(mw) > MAX_WEIGHTS {
            return Err(at.err(
                "weights",
                format!("{ofm}x{mw} weights are more than this tool handles"),
            ));
        }
        let weights = Array2::from_shape_vec((ofm, mw), ohwi.iter().map(|&v| v as i32).collect())
            .expect("OFM x (kh·kw·IFM) elements");

        let mut folding = folding(at, c.pe, c.simd, ofm, mw)?;
        folding.ram_style = ram_style(at, "ram_style", c.ram_style.as_deref())?;
        folding.weight_storage =
            weight_storage(at, c.weight_storage.as_deref(), folding.ram_style)?;
        folding.threshold_ram_style =
            ram_style(at, "threshold_ram_style", c.threshold_ram_style.as_deref())?;
        folding.buffer_depth = depth(at, "buffer_depth", c.buffer_depth, 1)?;
        if folding.simd > ifm {
            return Err(at.err(
                "simd",
                format!(
                    "{} is larger than the {ifm} input channels: the sliding window streams SIMD channels \
                     of one pixel per word, so 1 <= simd <= {ifm}",
                    folding.simd
                ),
            ));
        }
        let mut mv = MatVec {
            conv: Some(ConvGeometry {
                kernel,
                stride,
                padding,
                pad_value,
            }),
            weights,
            weight_dtype,
            activation: Activation::Identity,
            folding,
        };
        mv.activation = self.activation(at, activation, &mv)?;
        no_threshold_style_without_thresholds(at, &mv)?;
        let output = TensorType {
            shape: Shape::Image {
                h: oh,
                w: ow,
                c: ofm,
            },
            dtype: activation_output(&mv, in_dtype),
        };
        Ok((Op::MatVec(mv), output))
    }

    /// The rest of [`Self::conv`] for `groups = in_channels`: weights `(C, kh, kw, 1)` (FINN's
    /// order with one input channel per group) become the `[C, kh·kw]` matrix of
    /// [`Op::Depthwise`]; PE folds the channels, SIMD the kernel positions.
    #[allow(clippy::too_many_arguments)]
    fn depthwise(
        &self,
        at: &At,
        c: ConvSpec,
        ohwi: ndarray::Array4<i64>,
        weight_dtype: DataType,
        activation: toml::Table,
        input: TensorType,
        [oh, ow]: [usize; 2],
        pad_value: i64,
    ) -> Result<(Op, TensorType)> {
        let in_dtype = matvec_input(at, input)?;
        let (ch, kh, kw) = (ohwi.shape()[0], ohwi.shape()[1], ohwi.shape()[2]);
        let weights =
            Array2::from_shape_vec((ch, kh * kw), ohwi.iter().map(|&v| v as i32).collect())
                .expect("C x (kh·kw) elements");
        let mut folding = folding(at, c.pe, c.simd, ch, kh * kw)?;
        folding.ram_style = ram_style(at, "ram_style", c.ram_style.as_deref())?;
        folding.weight_storage =
            weight_storage(at, c.weight_storage.as_deref(), folding.ram_style)?;
        folding.threshold_ram_style =
            ram_style(at, "threshold_ram_style", c.threshold_ram_style.as_deref())?;
        folding.buffer_depth = depth(at, "buffer_depth", c.buffer_depth, 1)?;
        let mut mv = MatVec {
            conv: Some(ConvGeometry {
                kernel: [kh, kw],
                stride: match &c.stride {
                    Some(s) => pair(s, 1, MAX_WINDOW).map_err(|m| at.err("stride", m))?,
                    None => [1, 1],
                },
                padding: match &c.padding {
                    Some(p) => pair(p, 0, MAX_WINDOW).map_err(|m| at.err("padding", m))?,
                    None => [0, 0],
                },
                pad_value,
            }),
            weights,
            weight_dtype,
            activation: Activation::Identity,
            folding,
        };
        mv.activation = self.activation(at, activation, &mv)?;
        no_threshold_style_without_thresholds(at, &mv)?;
        let output = TensorType {
            shape: Shape::Image {
                h: oh,
                w: ow,
                c: ch,
            },
            dtype: activation_output(&mv, in_dtype),
        };
        Ok((Op::Depthwise(mv), output))
    }

    fn maxpool(&self, at: &At, p: PoolSpec, input: TensorType) -> Result<(Op, TensorType)> {
        let Shape::Image { h, w, c } = input.shape else {
            return Err(Error::invalid(
                at.here(),
                format!(
                    "maxpool needs an image input [H, W, C], but its input is a flat vector of {}",
                    input.shape
                ),
            ));
        };
        let kernel = pair(&p.kernel, 1, MAX_WINDOW).map_err(|m| at.err("kernel", m))?;
        let stride = match &p.stride {
            Some(s) => pair(s, 1, MAX_WINDOW).map_err(|m| at.err("stride", m))?,
            None => kernel,
        };
        let (Some(oh), Some(ow)) = (
            window_out(h, kernel[0], stride[0], 0),
            window_out(w, kernel[1], stride[1], 0),
        ) else {
            return Err(at.err(
                "kernel",
                format!("a {kernel:?} window does not fit the {} input", input.shape),
            ));
        };
        let output = TensorType {
            shape: Shape::Image { h: oh, w: ow, c },
            dtype: input.dtype,
        };
        let buffer_depth = depth(at, "buffer_depth", p.buffer_depth, 1)?;
        Ok((
            Op::MaxPool(MaxPool {
                kernel,
                stride,
                buffer_depth,
            }),
            output,
        ))
    }

    /// `kind = "globalavgpool"`: an image in, `Flat(C)` sums out (the division by H·W is folded
    /// into the next layer by `passes::thresholds`).
    fn global_avg_pool(
        &self,
        at: &At,
        _spec: GlobalAvgPoolSpec,
        input: TensorType,
    ) -> Result<(Op, TensorType)> {
        let Shape::Image { h, w, c } = input.shape else {
            return Err(Error::invalid(
                at.here(),
                format!(
                    "globalavgpool needs an image input [H, W, C], but its input ({}) is a flat \
                     vector of {}\nhelp: put the global pool after the last conv2d or maxpool \
                     layer, before any dense layer",
                    at.source, input.shape
                ),
            ));
        };
        let in_dtype = input.dtype.as_data().ok_or_else(|| {
            Error::invalid(
                at.here(),
                format!(
                    "its input is raw accumulators ({}) of a layer with activation kind = \
                     \"none\"\nhelp: give the layer before the pool an activation \
                     (batchnorm or thresholds)",
                    input.dtype
                ),
            )
        })?;
        let g = GlobalAvgPool { h, w };
        let sum = g.sum_dtype(in_dtype);
        if sum.bits() > GlobalAvgPool::MAX_SUM_BITS {
            let (lo, hi) = g.sum_range(in_dtype);
            return Err(Error::invalid(
                at.here(),
                format!(
                    "the sum over {h}x{w} pixels of {in_dtype} values ({lo} .. {hi}) needs {} \
                     bits; the next layer's input lanes take at most {}\nhelp: pool to a \
                     smaller image first (maxpool), or narrow the activation before the pool",
                    sum.bits(),
                    GlobalAvgPool::MAX_SUM_BITS
                ),
            ));
        }
        let output = TensorType {
            shape: Shape::Flat(c),
            dtype: ValueType::Data(sum),
        };
        Ok((Op::GlobalAvgPool(g), output))
    }

    fn activation(&self, at: &At, mut table: toml::Table, mv: &MatVec) -> Result<Activation> {
        let channels = mv.rows();
        let kind = at.take_kind(
            "activation.",
            &mut table,
            &["batchnorm", "thresholds", "none"],
        )?;
        match kind.as_str() {
            "none" => {
                let KindOnly {} = at.decode("activation.", table)?;
                Ok(Activation::Identity)
            }
            "batchnorm" => {
                let quantizer = at.take_table("activation.", &mut table, "quantizer")?;
                let bn: BatchNormSpec = at.decode("activation.", table)?;
                let quantizer = quantizer_spec(at, quantizer)?;
                let per_channel = |field: &str, rel: &str| -> Result<Vec<f64>> {
                    let (path, loc) = at.file(&format!("activation.{field}"), rel);
                    let a = npy::read_float(&path).map_err(in_field(&loc))?;
                    if a.shape() != [channels] {
                        return Err(Error::invalid(
                            loc,
                            format!(
                                "expected shape [{channels}] (one per output channel), found {:?}",
                                a.shape()
                            ),
                        ));
                    }
                    Ok(a.iter().copied().collect())
                };
                let gamma = per_channel("gamma", &bn.gamma)?;
                let beta = per_channel("beta", &bn.beta)?;
                let mean = per_channel("mean", &bn.mean)?;
                let var = per_channel("var", &bn.var)?;
                let alpha = bn
                    .alpha
                    .as_deref()
                    .map(|p| per_channel("alpha", p))
                    .transpose()?;
                let bias = bn
                    .bias
                    .as_deref()
                    .map(|p| per_channel("bias", p))
                    .transpose()?;
                if let Some((c, v)) = var.iter().enumerate().find(|(_, v)| **v < 0.0) {
                    let (_, loc) = at.file("activation.var", &bn.var);
                    return Err(Error::invalid(
                        loc,
                        format!("variance {v} of channel {c} is negative: a variance is >= 0"),
                    ));
                }
                if !(bn.eps.is_finite() && bn.eps > 0.0) {
                    return Err(at.err(
                        "activation.eps",
                        format!("{} must be a positive number", bn.eps),
                    ));
                }
                let quantizer = match quantizer {
                    None => Quantizer::Sign,
                    Some(UniformSpec {
                        bits,
                        signed,
                        scale,
                    }) => {
                        let lo = if signed { 2 } else { 1 };
                        if !(lo..=8).contains(&bits) {
                            return Err(at.err(
                                "activation.quantizer.bits",
                                format!(
                                    "{bits} is out of range: {lo}..8 for {} quantizer",
                                    if signed { "a signed" } else { "an unsigned" }
                                ),
                            ));
                        }
                        if !(scale.is_finite() && scale > 0.0) {
                            return Err(at.err(
                                "activation.quantizer.scale",
                                format!("{scale} must be a positive number"),
                            ));
                        }
                        Quantizer::Uniform {
                            bits: bits as u8,
                            signed,
                            scale,
                        }
                    }
                };
                Ok(Activation::BatchNorm(BatchNorm {
                    gamma,
                    beta,
                    mean,
                    var,
                    eps: bn.eps,
                    alpha,
                    bias,
                    quantizer,
                }))
            }
            _ => {
                let t: ThresholdsSpec = at.decode("activation.", table)?;
                let out_dtype =
                    parse_dtype(&t.out_dtype).map_err(|m| at.err("activation.out_dtype", m))?;
                if out_dtype == DataType::Ternary {
                    return Err(at.err(
                        "activation.out_dtype",
                        "ternary is a weight datatype; use int2 for a 3-level output",
                    ));
                }
                let steps = (1usize << out_dtype.bits()) - 1;
                let out_bias = match (out_dtype, t.out_bias) {
                    (DataType::Bipolar, None | Some(-1)) => -1,
                    (DataType::Bipolar, Some(b)) => {
                        return Err(at.err(
                            "activation.out_bias",
                            format!("{b}: a bipolar output is -1 below the threshold and +1 at or above it; omit out_bias (or say -1)"),
                        ))
                    }
                    (dt, bias) => {
                        let b = bias.unwrap_or(0);
                        // Saturating: out_bias may be anything up to i64::MAX.
                        let last = b.saturating_add(steps as i64);
                        if !(dt.contains(b) && dt.contains(last)) {
                            return Err(at.err(
                                "activation.out_bias",
                                format!(
                                    "{b}: the outputs out_bias + 0 .. out_bias + {steps} = {b} .. {last} must all be {dt} values ({} .. {})",
                                    dt.min(),
                                    dt.max()
                                ),
                            ));
                        }
                        b
                    }
                };
                let (path, loc) = at.file("activation.thresholds", &t.thresholds);
                let raw = npy::read_int(&path).map_err(in_field(&loc))?;
                let shape = raw.shape().to_vec();
                let ok_rows = shape.len() == 2 && (shape[0] == channels || shape[0] == 1);
                if !ok_rows || shape[1] != steps {
                    return Err(Error::invalid(
                        loc,
                        format!(
                            "expected shape [{channels}, {steps}] (or [1, {steps}] for all channels): out_dtype {out_dtype} has {} bits, so 2^{} - 1 = {steps} thresholds per channel; found {shape:?}",
                            out_dtype.bits(),
                            out_dtype.bits()
                        ),
                    ));
                }
                let raw = raw.into_dimensionality::<Ix2>().expect("checked 2-D");
                let values = if shape[0] == 1 {
                    raw.broadcast((channels, steps))
                        .expect("1 row broadcasts")
                        .to_owned()
                } else {
                    raw
                };
                Ok(Activation::Thresholds(Thresholds {
                    values,
                    compare: vec![Compare::Ge; channels],
                    out_bias,
                    out_dtype,
                }))
            }
        }
    }

    fn head(&self, spec: HeadSpec, body: TensorType) -> Result<TopK> {
        let classes = body.shape.len();
        let k = match (spec.kind.as_str(), spec.k) {
            ("argmax", None) => 1,
            ("argmax", Some(k)) => {
                return Err(Error::invalid(
                    self.top("head.k"),
                    format!("k = {k} with kind = \"argmax\": argmax is top-1; for k best classes say kind = \"topk\""),
                ))
            }
            ("topk", None) => {
                return Err(Error::invalid(
                    self.top("head.k"),
                    "missing: kind = \"topk\" needs k, the number of best classes to output",
                ))
            }
            ("topk", Some(k)) => {
                if !(1..=classes as i64).contains(&k) {
                    return Err(Error::invalid(
                        self.top("head.k"),
                        format!(
                            "{k} is out of range: 1 <= k <= {classes} (the last layer's outputs)"
                        ),
                    ));
                }
                k as usize
            }
            (other, _) => {
                return Err(Error::invalid(
                    self.top("head.kind"),
                    format!("unknown kind \"{other}\": expected \"argmax\" or \"topk\""),
                ))
            }
        };
        if body.shape.pixels() != 1 {
            return Err(Error::invalid(
                self.top("head"),
                format!("a top-k head needs a vector of class scores, but the last layer outputs a {} image", body.shape),
            ));
        }
        Ok(TopK { k })
    }
}

/// Decodes `activation.quantizer`: `None` for sign, the parameters for uniform.
fn quantizer_spec(at: &At, mut table: toml::Table) -> Result<Option<UniformSpec>> {
    let prefix = "activation.quantizer.";
    match at
        .take_kind(prefix, &mut table, &["sign", "uniform"])?
        .as_str()
    {
        "sign" => {
            let KindOnly {} = at.decode(prefix, table)?;
            Ok(None)
        }
        _ => at.decode(prefix, table).map(Some),
    }
}

/// The input datatype of a dense/conv layer: it must be a declared datatype, not raw accumulators.
fn matvec_input(at: &At, input: TensorType) -> Result<DataType> {
    input.dtype.as_data().ok_or_else(|| {
        Error::invalid(
            at.here(),
            format!(
                "its input is raw accumulators ({}) of a layer with activation kind = \"none\"; only the \
                 last dense/conv layer may have no activation",
                input.dtype
            ),
        )
    })
}

fn weight_dtype(at: &At, s: &str) -> Result<DataType> {
    parse_dtype(s).map_err(|m| at.err("weight_dtype", m))
}

fn parse_dtype(s: &str) -> Result<DataType, String> {
    s.parse()
}

/// The output type of a matvec layer with its (still float or integer) activation.
fn activation_output(mv: &MatVec, in_dtype: DataType) -> ValueType {
    match &mv.activation {
        Activation::BatchNorm(bn) => ValueType::Data(bn.quantizer.out_dtype()),
        Activation::Thresholds(t) => ValueType::Data(t.out_dtype),
        Activation::Identity => {
            let (lo, hi) = mv.acc_range(in_dtype);
            ValueType::Accumulator { lo, hi }
        }
    }
}

fn folding(at: &At, pe: i64, simd: i64, mh: usize, mw: usize) -> Result<Folding> {
    let check = |field: &str, v: i64, dim: usize, what: &str| -> Result<usize> {
        if v < 1 || v > dim as i64 {
            Err(at.err(
                field,
                format!("{v} is out of range: 1 <= {field} <= {dim} ({what})"),
            ))
        } else {
            Ok(v as usize)
        }
    };
    Ok(Folding::new(
        check("pe", pe, mh, "the output channels")?,
        check("simd", simd, mw, "the inputs per output")?,
    ))
}

/// Largest `fifo_depth` / `buffer_depth` (words): `bnn_swg` needs DEPTH < 2^28, and no layer
/// of this tool's sizes needs more than a few frames.
const MAX_DEPTH: i64 = 1 << 24;

/// `fifo_depth` / `buffer_depth`: absent is the analytic rule; at least `min` words (the
/// hardware's own minimum: 2 for `bnn_fifo`, 1 for `bnn_swg`). Whether the layer has such a
/// buffer, and whether the depth lets the window generator progress, `passes::pad` checks (it
/// knows the folding of the neighbours).
fn depth(at: &At, field: &str, value: Option<i64>, min: i64) -> Result<Option<usize>> {
    match value {
        None => Ok(None),
        Some(v) if (min..=MAX_DEPTH).contains(&v) => Ok(Some(v as usize)),
        Some(v) => Err(at.err(
            field,
            format!(
                "{v} words: expected {min} to {MAX_DEPTH}\nhelp: remove {field} to get the \
                 analytic depth, or let `bnn-gen fold --size-fifos` choose it"
            ),
        )),
    }
}

/// `ram_style` / `threshold_ram_style`: absent is `"auto"` (the size rule).
fn ram_style(at: &At, field: &str, value: Option<&str>) -> Result<RamStyle> {
    match value {
        None => Ok(RamStyle::Auto),
        Some(s) => RamStyle::parse(s).ok_or_else(|| {
            at.err(
                field,
                format!(
                    "unknown memory style \"{s}\"\nhelp: {field} is one of {}: \"auto\" \
                     applies the size rule of docs/hardware.md, the others force block RAM, LUTs \
                     or logic",
                    one_of(&RamStyle::NAMES)
                ),
            )
        }),
    }
}

/// `weight_storage`: absent is `"rom"`. `"logic"` has no ROM for `ram_style` to style.
fn weight_storage(at: &At, value: Option<&str>, style: RamStyle) -> Result<WeightStorage> {
    let storage = match value {
        None => WeightStorage::Rom,
        Some(s) => WeightStorage::parse(s).ok_or_else(|| {
            at.err(
                "weight_storage",
                format!(
                    "unknown weight storage \"{s}\"\nhelp: weight_storage is one of {}: \"rom\" \
                     keeps the weights in ROMs (styled by ram_style), \"logic\" writes them into \
                     the RTL as constants",
                    one_of(&WeightStorage::NAMES)
                ),
            )
        })?,
    };
    if storage == WeightStorage::Logic && style != RamStyle::Auto {
        return Err(at.err(
            "ram_style",
            format!(
                "ram_style = \"{}\" styles a weight ROM, but weight_storage = \"logic\" has none \
                 (the weights are constants in the RTL)\nhelp: remove ram_style, or use \
                 weight_storage = \"rom\" with ram_style = \"logic\" for a ROM in LUTs",
                style.name()
            ),
        ));
    }
    Ok(storage)
}

/// A layer without thresholds (activation `none`) has no threshold memory to place.
fn no_threshold_style_without_thresholds(at: &At, mv: &MatVec) -> Result<()> {
    if mv.activation == Activation::Identity && mv.folding.threshold_ram_style != RamStyle::Auto {
        return Err(at.err(
            "threshold_ram_style",
            "the layer has no thresholds (activation kind = \"none\"), so there is no \
             threshold memory\nhelp: remove threshold_ram_style, or use ram_style for the \
             weight memory",
        ));
    }
    Ok(())
}

fn positive(v: i64, max: i64) -> Result<usize, String> {
    if v < 1 {
        Err(format!("{v} must be at least 1"))
    } else if v > max {
        Err(format!("{v} is larger than the maximum {max}"))
    } else {
        Ok(v as usize)
    }
}

fn pair(p: &Pair, min: i64, max: i64) -> Result<[usize; 2], String> {
    let (a, b) = match p {
        Pair::One(v) => (*v, *v),
        Pair::Two(v) if v.len() == 2 => (v[0], v[1]),
        Pair::Two(v) => {
            return Err(format!(
                "expected a number or [vertical, horizontal], found {} numbers",
                v.len()
            ))
        }
    };
    for v in [a, b] {
        if v < min || v > max {
            return Err(format!("{v} is out of range {min}..{max}"));
        }
    }
    Ok([a as usize, b as usize])
}

/// Converts a dynamic array to `D` with the expected shape, or an error naming both shapes.
fn shaped<D: ndarray::Dimension>(
    a: ArrayD<i64>,
    expected: &[usize],
    loc: &str,
    what: &str,
) -> Result<ndarray::Array<i64, D>> {
    if a.shape() != expected {
        return Err(Error::invalid(
            loc,
            format!("expected shape {what}, found {:?}", a.shape()),
        ));
    }
    Ok(a.into_dimensionality::<D>().expect("shape checked"))
}

/// Every value must be one of the datatype's; the first one that is not is reported with its index.
fn check_values(a: ndarray::ArrayViewD<i64>, dtype: DataType, loc: &str) -> Result<()> {
    if let Some((idx, v)) = a.indexed_iter().find(|(_, v)| !dtype.contains(**v)) {
        let expected = if dtype == DataType::Bipolar {
            "-1 or +1".to_string()
        } else {
            format!("{} .. {}", dtype.min(), dtype.max())
        };
        return Err(Error::invalid(
            loc,
            format!(
                "value {v} at index {:?} is not a {dtype} value (expected {expected})",
                idx.slice()
            ),
        ));
    }
    Ok(())
}

/// Columns numbered c·H·W + y·W + x (PyTorch flatten of NCHW) → (y·W + x)·C + c (NHWC stream).
fn chw_to_hwc_columns(w: &Array2<i64>, h: usize, iw: usize, c: usize) -> Array2<i64> {
    let mut out = Array2::zeros(w.raw_dim());
    for (row_in, mut row_out) in w.axis_iter(Axis(0)).zip(out.axis_iter_mut(Axis(0))) {
        for ch in 0..c {
            for y in 0..h {
                for x in 0..iw {
                    row_out[(y * iw + x) * c + ch] = row_in[ch * h * iw + y * iw + x];
                }
            }
        }
    }
    out
}

/// Names become Verilog identifiers and file names.
fn check_identifier(name: &str, allow_dash: bool) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (allow_dash && c == '-'));
    if first_ok && rest_ok && name.len() <= 64 {
        Ok(())
    } else {
        Err(format!(
            "\"{name}\" is not a valid name: it must start with a letter or _, and contain only letters, digits, _{} (at most 64 characters)",
            if allow_dash { " and -" } else { "" }
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chw_permutation_moves_columns() {
        // 1 output, 2x1 image with 2 channels: PyTorch column order (c, y) = c*2 + y.
        let w = ndarray::array![[10, 11, 20, 21]]; // c0y0 c0y1 c1y0 c1y1
        let p = chw_to_hwc_columns(&w, 2, 1, 2);
        assert_eq!(p, ndarray::array![[10, 20, 11, 21]]); // y0c0 y0c1 y1c0 y1c1
    }

    /// A one-layer network (bipolar [2] → dense 1) with `activation` as its activation table and
    /// `head` appended, loaded from a temporary directory.
    fn load_one(activation: &str, head: &str) -> Result<Network> {
        let dir = tempfile::tempdir().unwrap();
        ndarray_npy::write_npy(dir.path().join("w.npy"), &ndarray::array![[1i64, -1]]).unwrap();
        ndarray_npy::write_npy(dir.path().join("t.npy"), &ndarray::array![[0i64, 1, 2]]).unwrap();
        let text = format!(
            "name = \"n\"\n[input]\nshape = [2]\ndtype = \"bipolar\"\n\
             [[layer]]\nkind = \"dense\"\nout_features = 1\nweights = \"w.npy\"\n\
             weight_dtype = \"bipolar\"\npe = 1\nsimd = 2\nactivation = {activation}\n{head}"
        );
        std::fs::write(dir.path().join("net.toml"), text).unwrap();
        load(&dir.path().join("net.toml"))
    }

    #[test]
    fn out_bias_near_i64_max_is_an_error_not_an_overflow() {
        let act = "{ kind = \"thresholds\", thresholds = \"t.npy\", out_dtype = \"uint2\", \
                   out_bias = 9223372036854775807 }";
        let msg = load_one(act, "").unwrap_err().to_string();
        assert!(msg.contains("field `activation.out_bias`"), "{msg}");
        assert!(load_one(&act.replace("9223372036854775807", "0"), "").is_ok());
    }

    #[test]
    fn unknown_keys_of_kinds_without_fields_are_errors() {
        // Serde's internally tagged enums silently accepted these (unit variants ignore keys).
        let sign =
            "{ kind = \"batchnorm\", gamma = \"g.npy\", beta = \"g.npy\", mean = \"g.npy\", \
                    var = \"g.npy\", eps = 1.0, quantizer = { kind = \"sign\", bits = 1 } }";
        let msg = load_one(sign, "").unwrap_err().to_string();
        assert!(msg.contains("field `activation.quantizer.bits`"), "{msg}");
        let msg = load_one("{ kind = \"none\", scale = 2 }", "")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("field `activation.scale`"), "{msg}");
        let head = "[head]\nkind = \"argmax\"\nk = 1\n";
        let msg = load_one("{ kind = \"none\" }", head)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("field `head.k`"), "{msg}");
        assert!(load_one("{ kind = \"none\" }", "[head]\nkind = \"argmax\"\n").is_ok());
    }

    #[test]
    fn a_wrong_type_names_its_field() {
        let act = "{ kind = \"thresholds\", thresholds = 3, out_dtype = \"uint2\" }";
        let msg = load_one(act, "").unwrap_err().to_string();
        assert!(
            msg.contains("field `activation.thresholds`") && msg.contains("expected a string"),
            "{msg}"
        );
    }

    #[test]
    fn identifiers() {
        assert!(check_identifier("fc_0", false).is_ok());
        assert!(check_identifier("tfc-w1a1", true).is_ok());
        assert!(check_identifier("tfc-w1a1", false).is_err());
        assert!(check_identifier("0fc", false).is_err());
        assert!(check_identifier("", false).is_err());
    }
}
