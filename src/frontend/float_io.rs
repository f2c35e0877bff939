//! The float side of an imported network: how `run` turns the model's own float input into the
//! integer input of the IR (the input quantizer), and the IR's integer output into the model's
//! float output (the output affine). Recorded in `net.toml` as `[input.quantizer]` and `[output]`
//! (see `docs/net-format.md` and `docs/import.md`); absent in hand-written networks.
//!
//! The input quantizer is evaluated in **f32**, operation by operation, exactly as the ONNX graph
//! (and qonnx's `execute_onnx`) evaluates it on float32 tensors, so the integers are bit-exact. The
//! output affine is evaluated in f64 and written as f32.

use crate::datatype::DataType;
use crate::error::{Error, Result};
use ndarray::{ArrayD, Axis, IxDyn};

/// Both halves; either may be absent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FloatIo {
    pub input: Option<InputQuantizer>,
    pub output: Option<OutputAffine>,
}

/// One elementwise step on the float input, applied in f32 before the quantizer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Step {
    /// `x · v`
    Mul(f32),
    /// `x / v`
    Div(f32),
    /// `x + v`
    Add(f32),
    /// `x − v`
    Sub(f32),
}

impl Step {
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Step::Mul(v) => x * v,
            Step::Div(v) => x / v,
            Step::Add(v) => x + v,
            Step::Sub(v) => x - v,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Step::Mul(_) => "mul",
            Step::Div(_) => "div",
            Step::Add(_) => "add",
            Step::Sub(_) => "sub",
        }
    }

    pub fn value(self) -> f32 {
        match self {
            Step::Mul(v) | Step::Div(v) | Step::Add(v) | Step::Sub(v) => v,
        }
    }

    pub fn from_name(op: &str, v: f32) -> Option<Step> {
        Some(match op {
            "mul" => Step::Mul(v),
            "div" => Step::Div(v),
            "add" => Step::Add(v),
            "sub" => Step::Sub(v),
            _ => return None,
        })
    }
}

/// Rounding of a uniform quantizer (QONNX `rounding_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    /// Half to even (`ROUND`, numpy's `round`, PyTorch's `torch.round`).
    HalfEven,
    Floor,
    Ceil,
    /// `ROUND_TO_ZERO`: truncation.
    TowardZero,
}

impl Rounding {
    pub fn from_qonnx(mode: &str) -> Option<Rounding> {
        Some(match mode.to_ascii_uppercase().as_str() {
            "ROUND" => Rounding::HalfEven,
            "FLOOR" => Rounding::Floor,
            "CEIL" => Rounding::Ceil,
            "ROUND_TO_ZERO" => Rounding::TowardZero,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Rounding::HalfEven => "round",
            Rounding::Floor => "floor",
            Rounding::Ceil => "ceil",
            Rounding::TowardZero => "round_to_zero",
        }
    }

    pub fn from_name(s: &str) -> Option<Rounding> {
        Rounding::from_qonnx(s)
    }

    pub fn apply_f64(self, x: f64) -> f64 {
        match self {
            Rounding::HalfEven => x.round_ties_even(),
            Rounding::Floor => x.floor(),
            Rounding::Ceil => x.ceil(),
            Rounding::TowardZero => x.trunc(),
        }
    }
}

/// The quantizer at the end of the input steps.
#[derive(Clone, Debug, PartialEq)]
pub enum InputQuant {
    /// QONNX `BipolarQuant`: +1 when x ≥ 0, else −1.
    Bipolar,
    /// QONNX `Quant`: `q = rounding(clamp(x / scale + zero_point, lo, hi))`; the IR input is `q`.
    Uniform {
        scale: f32,
        zero_point: f32,
        lo: i64,
        hi: i64,
        rounding: Rounding,
    },
    /// FINN `MultiThreshold` with one row of thresholds for every element: `q = base + #{i : x ≥
    /// T[i]}` (`bipolar`: `2·count − 1`), compared in f32.
    Thresholds {
        thresholds: Vec<f32>,
        base: i64,
        bipolar: bool,
    },
}

/// QONNX `BipolarQuant`'s integer: +1 for a value ≥ 0, else −1.
pub fn bipolar(nonnegative: bool) -> i64 {
    if nonnegative {
        1
    } else {
        -1
    }
}

/// QONNX `Quant`'s integer for the scaled value `v = x / scale + zero_point`: clamped to
/// `lo..=hi`, then rounded (the same result as rounding first, as the bounds are integers). NaN
/// goes to `lo`.
pub fn clamp_round(v: f64, lo: i64, hi: i64, rounding: Rounding) -> i64 {
    let v = if v.is_nan() {
        lo as f64
    } else {
        v.clamp(lo as f64, hi as f64)
    };
    rounding.apply_f64(v) as i64
}

/// FINN `MultiThreshold`'s integer for `count` thresholds met: `base + count`, or `2·count − 1`
/// for its bipolar form.
pub fn threshold_level(count: usize, base: i64, bipolar: bool) -> i64 {
    if bipolar {
        2 * count as i64 - 1
    } else {
        base + count as i64
    }
}

impl InputQuant {
    /// The integer for one (already stepped) float value, in f32 as the graph computes it.
    pub fn quantize(&self, x: f32) -> i64 {
        match *self {
            InputQuant::Bipolar => bipolar(x >= 0.0),
            InputQuant::Uniform {
                scale,
                zero_point,
                lo,
                hi,
                rounding,
            } => clamp_round((x / scale + zero_point) as f64, lo, hi, rounding),
            InputQuant::Thresholds {
                ref thresholds,
                base,
                bipolar,
            } => threshold_level(
                thresholds.iter().filter(|&&t| x >= t).count(),
                base,
                bipolar,
            ),
        }
    }
}

/// Float input → the IR's integer input.
#[derive(Clone, Debug, PartialEq)]
pub struct InputQuantizer {
    /// The float tensor of one frame as the model takes it (its dims without the batch). Flattened
    /// in C order onto a flat IR input; with `chw`, an ONNX `[C, H, W]` image onto the IR's
    /// `[H, W, C]` (NCHW → NHWC).
    pub source_shape: Vec<usize>,
    /// The source is `[C, H, W]` and the IR input is the image `[H, W, C]`.
    pub chw: bool,
    /// Elementwise steps, in order, in f32.
    pub steps: Vec<Step>,
    pub quant: InputQuant,
    /// The IR input datatype (the quantizer's integers must be values of it).
    pub dtype: DataType,
}

impl InputQuantizer {
    /// Quantizes a batch `[N, *source_shape]` of floats into `[N, input_len]` integers.
    pub fn apply(&self, frames: &ArrayD<f64>, input_dims: &[usize]) -> Result<ArrayD<i64>> {
        let ok = frames.ndim() == self.source_shape.len() + 1
            && frames.shape()[1..] == self.source_shape[..];
        if !ok {
            return Err(Error::invalid(
                "input batch",
                format!(
                    "expected the model's float input of shape [N, {}], found {:?}",
                    dims_text(&self.source_shape),
                    frames.shape()
                ),
            ));
        }
        let n = frames.shape()[0];
        let mut shape = vec![n];
        shape.extend_from_slice(input_dims);
        // NCHW → NHWC: a permuted view iterates in the IR's order.
        let view = if self.chw && frames.ndim() == 4 {
            frames.view().permuted_axes(IxDyn(&[0, 2, 3, 1]))
        } else {
            frames.view()
        };
        let values: Vec<i64> = view
            .iter()
            .map(|&x| {
                let x = self.steps.iter().fold(x as f32, |x, s| s.apply(x));
                self.quant.quantize(x)
            })
            .collect();
        ArrayD::from_shape_vec(IxDyn(&shape), values).map_err(|e| {
            Error::invalid(
                "input batch",
                format!("the float input does not fit the network input {input_dims:?}: {e}"),
            )
        })
    }
}

/// The IR's integer output → the model's float output: `y[c] = scale[c] · v[c] + bias[c]` in f64.
/// `scale` and `bias` have one value per output channel, or one for all.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputAffine {
    pub scale: Vec<f64>,
    pub bias: Vec<f64>,
}

impl OutputAffine {
    /// Applies the affine along the last axis of `[N, ..., C]`.
    pub fn apply(&self, out: &ArrayD<i64>) -> ArrayD<f32> {
        let mut y = out.mapv(|v| v as f64);
        let last = Axis(y.ndim().saturating_sub(1));
        for mut lane in y.lanes_mut(last) {
            for (c, v) in lane.iter_mut().enumerate() {
                let s = self.scale[if self.scale.len() == 1 { 0 } else { c }];
                let b = self.bias[if self.bias.len() == 1 { 0 } else { c }];
                *v = s * *v + b;
            }
        }
        y.mapv(|v| v as f32)
    }

    /// The affine for integer outputs `divisor` times the float model's (a global average pool
    /// whose division went nowhere else, [`crate::ir::Network::output_divisor`]): scale / divisor.
    pub fn divided(&self, divisor: usize) -> OutputAffine {
        OutputAffine {
            scale: self.scale.iter().map(|s| s / divisor as f64).collect(),
            bias: self.bias.clone(),
        }
    }

    /// `Some(message)` when the lengths do not fit `channels`.
    pub fn check(&self, channels: usize) -> Option<String> {
        for (name, v) in [("scale", &self.scale), ("bias", &self.bias)] {
            if v.len() != 1 && v.len() != channels {
                return Some(format!(
                    "{name} has {} values; expected 1 or one per output channel ({channels})",
                    v.len()
                ));
            }
            if let Some(bad) = v.iter().find(|x| !x.is_finite()) {
                return Some(format!("{name} has a non-finite value {bad}"));
            }
        }
        None
    }
}

fn dims_text(d: &[usize]) -> String {
    d.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `net.toml` text of `io`: an `[input.quantizer]` table and an `[output]` table, to append to
/// a file that has an `[input]` table.
pub fn to_toml(io: &FloatIo) -> String {
    let mut s = String::new();
    if let Some(q) = &io.input {
        s.push_str("\n# How `run` turns the model's float input into the integers above (f32, in order).\n");
        s.push_str("[input.quantizer]\n");
        s.push_str(&format!(
            "source_shape = [{}]\n",
            dims_text(&q.source_shape)
        ));
        if q.chw {
            s.push_str("source_layout = \"chw\"  # NCHW frames, transposed to the NHWC input\n");
        }
        let steps: Vec<String> = q
            .steps
            .iter()
            .map(|st| {
                format!(
                    "{{ op = \"{}\", value = {:?} }}",
                    st.name(),
                    st.value() as f64
                )
            })
            .collect();
        s.push_str(&format!("steps = [{}]\n", steps.join(", ")));
        match &q.quant {
            InputQuant::Bipolar => s.push_str("kind = \"bipolar\"\n"),
            InputQuant::Thresholds {
                thresholds,
                base,
                bipolar,
            } => {
                s.push_str("kind = \"thresholds\"    # q = base + #{i : x >= thresholds[i]}\n");
                let t: Vec<String> = thresholds
                    .iter()
                    .map(|&v| format!("{:?}", v as f64))
                    .collect();
                s.push_str(&format!("thresholds = [{}]\n", t.join(", ")));
                if *bipolar {
                    s.push_str("bipolar = true      # q = 2 * count - 1\n");
                } else {
                    s.push_str(&format!("base = {base}\n"));
                }
            }
            InputQuant::Uniform {
                scale,
                zero_point,
                lo,
                hi,
                rounding,
            } => {
                s.push_str("kind = \"uniform\"\n");
                s.push_str(&format!("scale = {:?}\n", *scale as f64));
                s.push_str(&format!("zero_point = {:?}\n", *zero_point as f64));
                s.push_str(&format!("min = {lo}\nmax = {hi}\n"));
                s.push_str(&format!("rounding = \"{}\"\n", rounding.name()));
            }
        }
    }
    if let Some(o) = &io.output {
        let list = |v: &[f64]| {
            v.iter()
                .map(|x| format!("{x:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        s.push_str("\n# The model's float output: y[c] = scale[c] * out[c] + bias[c] (f64, written as f32).\n");
        s.push_str("[output]\n");
        s.push_str(&format!("scale = [{}]\n", list(&o.scale)));
        s.push_str(&format!("bias = [{}]\n", list(&o.bias)));
    }
    s
}

/// `[input.quantizer]` as written by [`to_toml`].
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct InputQuantizerSpec {
    source_shape: Vec<i64>,
    /// `"flat"` (default: C order onto a flat input) or `"chw"` (`[C, H, W]` onto `[H, W, C]`).
    source_layout: Option<String>,
    #[serde(default)]
    steps: Vec<StepSpec>,
    kind: String,
    scale: Option<f64>,
    zero_point: Option<f64>,
    min: Option<i64>,
    max: Option<i64>,
    rounding: Option<String>,
    thresholds: Option<Vec<f64>>,
    base: Option<i64>,
    bipolar: Option<bool>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StepSpec {
    op: String,
    value: f64,
}

/// `[output]`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct OutputSpec {
    scale: Vec<f64>,
    bias: Vec<f64>,
}

/// Decodes and checks the `[input.quantizer]` and `[output]` tables of `path` against `net`.
pub fn from_toml(
    path: &std::path::Path,
    quantizer: Option<toml::Table>,
    output: Option<toml::Table>,
    net: &crate::ir::Network,
) -> Result<FloatIo> {
    let loc = |field: &str| format!("{}, field `{field}`", path.display());
    fn decode<T: serde::de::DeserializeOwned>(t: toml::Table, location: String) -> Result<T> {
        toml::Value::Table(t)
            .try_into()
            .map_err(|e: toml::de::Error| {
                Error::invalid(location, e.to_string().trim_end().to_string())
            })
    }
    let mut io = FloatIo::default();
    if let Some(t) = quantizer {
        let spec: InputQuantizerSpec = decode(t, loc("input.quantizer"))?;
        let dtype = net
            .input
            .dtype
            .as_data()
            .ok_or_else(|| Error::invalid(loc("input.dtype"), "not a datatype"))?;
        let chw = match spec.source_layout.as_deref() {
            None | Some("flat") => false,
            Some("chw") => true,
            Some(other) => {
                return Err(Error::invalid(
                    loc("input.quantizer.source_layout"),
                    format!("unknown layout \"{other}\": expected \"flat\" or \"chw\""),
                ))
            }
        };
        let mut source_shape = Vec::new();
        for &d in &spec.source_shape {
            if !(1..=1 << 16).contains(&d) {
                return Err(Error::invalid(
                    loc("input.quantizer.source_shape"),
                    format!("dimension {d} is out of range"),
                ));
            }
            source_shape.push(d as usize);
        }
        let image = net.input.shape.pixels() != 1;
        if image || chw {
            let ok = match (net.input.shape, &source_shape[..]) {
                (crate::ir::Shape::Image { h, w, c }, &[sc, sh, sw]) => {
                    chw && (sc, sh, sw) == (c, h, w)
                }
                _ => false,
            };
            if !ok {
                return Err(Error::invalid(
                    loc("input.quantizer.source_layout"),
                    format!(
                        "an image input [H, W, C] = {:?} takes source_layout = \"chw\" and source_shape = [C, H, W]",
                        net.input.shape.dims()
                    ),
                ));
            }
        }
        if source_shape.iter().product::<usize>() != net.input.shape.len() {
            return Err(Error::invalid(
                loc("input.quantizer.source_shape"),
                format!(
                    "{source_shape:?} has {} elements; the input has {}",
                    source_shape.iter().product::<usize>(),
                    net.input.shape.len()
                ),
            ));
        }
        let mut steps = Vec::new();
        for st in &spec.steps {
            let step = Step::from_name(&st.op, st.value as f32).ok_or_else(|| {
                Error::invalid(
                    loc("input.quantizer.steps"),
                    format!(
                        "unknown op \"{}\": expected \"mul\", \"div\", \"add\" or \"sub\"",
                        st.op
                    ),
                )
            })?;
            steps.push(step);
        }
        let quant = match spec.kind.as_str() {
            "bipolar" => {
                // int2 holds ±1 too: an imported bipolar input that a conv pads with 0.
                if !(dtype == DataType::Bipolar || dtype == DataType::Int(2)) {
                    return Err(Error::invalid(
                        loc("input.quantizer.kind"),
                        format!("\"bipolar\" needs input.dtype = \"bipolar\" (or \"int2\"), found {dtype}"),
                    ));
                }
                InputQuant::Bipolar
            }
            "uniform" => {
                let (Some(scale), Some(lo), Some(hi)) = (spec.scale, spec.min, spec.max) else {
                    return Err(Error::invalid(
                        loc("input.quantizer"),
                        "kind = \"uniform\" needs scale, min and max",
                    ));
                };
                if !(scale.is_finite() && scale > 0.0) {
                    return Err(Error::invalid(loc("input.quantizer.scale"), "must be > 0"));
                }
                if !(dtype.contains(lo) && dtype.contains(hi) && lo < hi) {
                    return Err(Error::invalid(
                        loc("input.quantizer"),
                        format!("min {lo} and max {hi} must be values of input.dtype {dtype}, min < max"),
                    ));
                }
                let mode = spec.rounding.as_deref().unwrap_or("round");
                let rounding = Rounding::from_name(mode).ok_or_else(|| {
                    Error::invalid(
                        loc("input.quantizer.rounding"),
                        format!("unknown rounding \"{mode}\": expected \"round\", \"floor\", \"ceil\" or \"round_to_zero\""),
                    )
                })?;
                InputQuant::Uniform {
                    scale: scale as f32,
                    zero_point: spec.zero_point.unwrap_or(0.0) as f32,
                    lo,
                    hi,
                    rounding,
                }
            }
            "thresholds" => {
                let Some(t) = spec.thresholds.filter(|t| !t.is_empty() && t.len() < 256) else {
                    return Err(Error::invalid(
                        loc("input.quantizer.thresholds"),
                        "kind = \"thresholds\" needs 1 to 255 thresholds",
                    ));
                };
                let bipolar = spec.bipolar.unwrap_or(false);
                let base = spec.base.unwrap_or(0);
                let (lo, hi) = if bipolar {
                    (-1, 1)
                } else {
                    (base, base.saturating_add(t.len() as i64))
                };
                if !(dtype.contains(lo) && dtype.contains(hi)) || (bipolar && t.len() != 1) {
                    return Err(Error::invalid(
                        loc("input.quantizer"),
                        format!("the outputs {lo}..={hi} of {} thresholds must be values of input.dtype {dtype} (bipolar: one threshold)", t.len()),
                    ));
                }
                InputQuant::Thresholds {
                    thresholds: t.iter().map(|&v| v as f32).collect(),
                    base,
                    bipolar,
                }
            }
            other => {
                return Err(Error::invalid(
                    loc("input.quantizer.kind"),
                    format!(
                    "unknown kind \"{other}\": expected \"bipolar\", \"uniform\" or \"thresholds\""
                ),
                ))
            }
        };
        io.input = Some(InputQuantizer {
            source_shape,
            chw,
            steps,
            quant,
            dtype,
        });
    }
    if let Some(t) = output {
        let spec: OutputSpec = decode(t, loc("output"))?;
        let o = OutputAffine {
            scale: spec.scale,
            bias: spec.bias,
        };
        if net.head.is_some() {
            return Err(Error::invalid(
                loc("output"),
                "[output] and [head] exclude each other",
            ));
        }
        let out = net.body_output().shape;
        if out.pixels() != 1 {
            return Err(Error::invalid(
                loc("output"),
                "an output affine needs a flat output",
            ));
        }
        if let Some(m) = o.check(out.channels()) {
            return Err(Error::invalid(loc("output"), m));
        }
        io.output = Some(o);
    }
    Ok(io)
}

/// Loads a network from `net.toml` or, for a path ending in `.onnx`, imports the model in memory
/// (default folding, see `docs/import.md`).
pub fn load_any(path: &std::path::Path) -> Result<(crate::ir::Network, FloatIo)> {
    let is_onnx = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("onnx"));
    if is_onnx {
        super::onnx::import(path)
    } else {
        super::load_with_io(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bipolar_input_of_two_x_minus_one() {
        let q = InputQuantizer {
            source_shape: vec![1, 2, 2],
            chw: false,
            steps: vec![Step::Mul(2.0), Step::Sub(1.0)],
            quant: InputQuant::Bipolar,
            dtype: DataType::Bipolar,
        };
        let x = ArrayD::from_shape_vec(IxDyn(&[1, 1, 2, 2]), vec![0.0, 0.5, 0.49, 1.0]).unwrap();
        let y = q.apply(&x, &[4]).unwrap();
        assert_eq!(y.into_raw_vec_and_offset().0, vec![-1, 1, -1, 1]);
        let bad = ndarray::array![[0.0, 0.5]].into_dyn();
        assert!(q.apply(&bad, &[4]).is_err());
    }

    #[test]
    fn chw_source_is_transposed_to_hwc() {
        let q = InputQuantizer {
            source_shape: vec![2, 1, 2],
            chw: true,
            steps: vec![],
            quant: InputQuant::Uniform {
                scale: 1.0,
                zero_point: 0.0,
                lo: 0,
                hi: 15,
                rounding: Rounding::HalfEven,
            },
            dtype: DataType::UInt(4),
        };
        // x[c, h, w]: c0 = [1, 2], c1 = [3, 4] -> [h, w, c] = [[1, 3], [2, 4]]
        let x = ArrayD::from_shape_vec(IxDyn(&[1, 2, 1, 2]), vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        let y = q.apply(&x, &[1, 2, 2]).unwrap();
        assert_eq!(y.into_raw_vec_and_offset().0, vec![1, 3, 2, 4]);
    }

    #[test]
    fn uniform_input_clamps_then_rounds_half_even() {
        let u = InputQuant::Uniform {
            scale: 0.5,
            zero_point: 0.0,
            lo: 0,
            hi: 3,
            rounding: Rounding::HalfEven,
        };
        assert_eq!(u.quantize(0.25), 0);
        assert_eq!(u.quantize(0.75), 2);
        assert_eq!(u.quantize(100.0), 3);
        assert_eq!(u.quantize(-1.0), 0);
        assert_eq!(u.quantize(f32::NAN), 0);
    }

    #[test]
    fn output_affine_per_channel() {
        let o = OutputAffine {
            scale: vec![0.5, 2.0],
            bias: vec![1.0],
        };
        let y = o.apply(&ndarray::array![[2, 3]].into_dyn());
        assert_eq!(y.into_raw_vec_and_offset().0, vec![2.0, 7.0]);
        assert!(o.check(2).is_none());
        assert!(o.check(3).is_some());
    }
}
