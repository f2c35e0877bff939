//! QONNX graph → IR [`Network`] + [`FloatIo`], by symbolic evaluation of the nodes in order.
//!
//! Every tensor of the graph gets a [`Val`]: a constant, the graph's float input (with the
//! elementwise steps applied to it so far), a quantized activation (`scale · q + offset` for
//! integers q of a datatype), or a layer's accumulators followed by a per-channel chain of float
//! ops. Quantizers are where the work happens:
//! - on a constant (weights): the integers are computed in f32 exactly as qonnx does;
//! - on the float input: the input quantizer, recorded for `run` (evaluated in f32 there);
//! - on accumulators: the function acc ↦ quantizer(chain(scale_in·scale_w[c]·acc + ...)) is
//!   monotone per channel, so its integer thresholds are found by binary search on its f64
//!   evaluation, as `passes::thresholds` does for batch-norm. Exact for that reference on every
//!   reachable accumulator.
//!
//! The graph output is either the last layer's accumulators with an affine chain (recorded as the
//! output affine) or a quantized activation (output affine = its scale and offset).

use super::graph::{value_dims, Model, Node};
use crate::datatype::DataType;
use crate::error::{Error, Result};
use crate::frontend::float_io::{
    FloatIo, InputQuant, InputQuantizer, OutputAffine, Rounding, Step,
};
use crate::ir::*;
use crate::passes::thresholds::{first_true, last_true};
use ndarray::{Array2, ArrayD, Axis, IxDyn};
use std::collections::HashMap;

/// The value of a graph tensor.
#[derive(Clone, Debug)]
enum Val {
    /// A constant (initializer, Constant node, or folded), ONNX dims.
    Const(ArrayD<f64>),
    /// Quantized constant: value = `scale · q` elementwise (`scale` has q's shape).
    QConst {
        q: ArrayD<i64>,
        scale: ArrayD<f64>,
        dtype: DataType,
    },
    /// The graph's float input after `steps`; `dims` are the per-frame dims.
    Float { dims: Vec<usize>, steps: Vec<Step> },
    /// Quantized activation of `producer` (None = the input quantizer): value = scale·q + offset.
    Quant {
        dims: Vec<usize>,
        dtype: DataType,
        scale: f64,
        offset: f64,
        producer: Option<usize>,
    },
    /// The accumulators of layer `layer`, then `chain` per channel.
    Acc {
        channels: usize,
        layer: usize,
        chain: Vec<ChainOp>,
    },
}

impl Val {
    fn kind(&self) -> &'static str {
        match self {
            Val::Const(_) | Val::QConst { .. } => "a constant",
            Val::Float { .. } => "the float graph input",
            Val::Quant { .. } => "a quantized activation",
            Val::Acc { .. } => "the float output of a MatMul/Gemm (not yet quantized)",
        }
    }
}

/// One per-channel float op after a layer's accumulators (vectors of length C or 1).
#[derive(Clone, Debug)]
enum ChainOp {
    Mul(Vec<f64>),
    Div(Vec<f64>),
    Add(Vec<f64>),
    Sub(Vec<f64>),
    /// `v − x`
    SubFrom(Vec<f64>),
    Relu,
}

fn at(v: &[f64], c: usize) -> f64 {
    v[if v.len() == 1 { 0 } else { c }]
}

fn sign(v: f64) -> i32 {
    if v > 0.0 {
        1
    } else if v < 0.0 {
        -1
    } else {
        0
    }
}

impl ChainOp {
    fn eval(&self, c: usize, x: f64) -> f64 {
        match self {
            ChainOp::Mul(v) => x * at(v, c),
            ChainOp::Div(v) => x / at(v, c),
            ChainOp::Add(v) => x + at(v, c),
            ChainOp::Sub(v) => x - at(v, c),
            ChainOp::SubFrom(v) => at(v, c) - x,
            ChainOp::Relu => x.max(0.0),
        }
    }

    /// +1 rising, −1 falling, 0 constant (Relu is nondecreasing: +1).
    fn slope(&self, c: usize) -> i32 {
        match self {
            ChainOp::Mul(v) | ChainOp::Div(v) => sign(at(v, c)),
            ChainOp::SubFrom(_) => -1,
            _ => 1,
        }
    }
}

/// The quantizer of a layer's activation: the integer q for a float value y of channel c.
#[derive(Clone, Debug)]
enum ActQuant {
    Bipolar,
    Uniform {
        scale: f64,
        zero_point: f64,
        lo: i64,
        hi: i64,
        rounding: Rounding,
    },
    /// FINN MultiThreshold: q = count + `base` (`bipolar`: 2·count − 1).
    Multi {
        thresholds: Array2<f64>,
        base: i64,
        bipolar: bool,
    },
}

impl ActQuant {
    fn apply(&self, c: usize, y: f64) -> i64 {
        match self {
            ActQuant::Bipolar => {
                if y >= 0.0 {
                    1
                } else {
                    -1
                }
            }
            ActQuant::Uniform {
                scale,
                zero_point,
                lo,
                hi,
                rounding,
            } => {
                let v = y / scale + zero_point;
                let v = if v.is_nan() {
                    *lo as f64
                } else {
                    v.clamp(*lo as f64, *hi as f64)
                };
                rounding.apply_f64(v) as i64
            }
            ActQuant::Multi {
                thresholds,
                base,
                bipolar,
            } => {
                let row = thresholds.row(if thresholds.nrows() == 1 { 0 } else { c });
                let count = row.iter().filter(|&&t| y >= t).count() as i64;
                if *bipolar {
                    2 * count - 1
                } else {
                    base + count
                }
            }
        }
    }
}

/// A layer being built.
struct Pending {
    /// `[MH, MW]`
    weights: Array2<i32>,
    weight_dtype: DataType,
    /// Whether the weight dtype is symmetric enough to negate any row (bipolar, ternary, narrow).
    in_dtype: DataType,
    activation: Option<Activation>,
    out_dtype: Option<DataType>,
}

struct Lowerer<'a> {
    model: &'a Model,
    vals: HashMap<String, Val>,
    uses: HashMap<String, usize>,
    layers: Vec<Pending>,
    input: Option<InputQuantizer>,
    input_dims: Vec<usize>,
}

/// Lowers a decoded model.
pub fn lower(model: &Model, name: &str) -> Result<(Network, FloatIo)> {
    let file = model.file.as_str();
    let graph = &model.graph;
    let mut vals: HashMap<String, Val> = HashMap::new();
    for (k, v) in &model.initializers {
        vals.insert(k.clone(), Val::Const(v.clone()));
    }
    // The float input: the one graph input that is not an initializer (raw Brevitas exports also
    // list every parameter as an input).
    let inputs: Vec<_> = graph
        .input
        .iter()
        .filter(|i| !model.initializers.contains_key(i.name()))
        .collect();
    let [input] = inputs[..] else {
        return Err(Error::invalid(
            file,
            format!(
                "expected one graph input (besides initializers), found {}: {:?}",
                inputs.len(),
                inputs.iter().map(|i| i.name()).collect::<Vec<_>>()
            ),
        ));
    };
    let dims = value_dims(input).ok_or_else(|| {
        Error::invalid(
            format!("{file}: graph input \"{}\"", input.name()),
            "no tensor shape: the input's shape must be known",
        )
    })?;
    let per_frame: Option<Vec<usize>> = dims.iter().skip(1).copied().collect();
    let per_frame = match (dims.first(), per_frame) {
        (Some(Some(1) | None), Some(d)) if !d.is_empty() => d,
        _ => {
            return Err(Error::invalid(
                format!("{file}: graph input \"{}\"", input.name()),
                format!(
                "expected a batch dimension (1 or symbolic) then fixed dimensions, found {dims:?}"
            ),
            ))
        }
    };
    vals.insert(
        input.name().to_string(),
        Val::Float {
            dims: per_frame.clone(),
            steps: Vec::new(),
        },
    );
    let mut uses: HashMap<String, usize> = HashMap::new();
    for n in &graph.node {
        for i in n.input.iter().filter(|i| !i.is_empty()) {
            *uses.entry(i.clone()).or_default() += 1;
        }
    }
    for o in &graph.output {
        *uses.entry(o.name().to_string()).or_default() += 1;
    }
    let mut l = Lowerer {
        model,
        vals,
        uses,
        layers: Vec::new(),
        input: None,
        input_dims: per_frame,
    };
    for (index, proto) in graph.node.iter().enumerate() {
        let node = Node { index, proto, file };
        l.node(&node)?;
    }
    l.finish(name)
}

impl Lowerer<'_> {
    fn get(&self, node: &Node, i: usize) -> Result<&Val> {
        let name = node
            .proto
            .input
            .get(i)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| node.err(format!("input {i} is missing")))?;
        self.vals.get(name).ok_or_else(|| {
            node.err(format!(
                "input \"{name}\" is neither an initializer, the graph input, nor the output of an earlier node\nhelp: the file may have lost an initializer, or its nodes are not in topological order"
            ))
        })
    }

    fn konst(&self, node: &Node, i: usize, what: &str) -> Result<ArrayD<f64>> {
        match self.get(node, i)? {
            Val::Const(a) => Ok(a.clone()),
            Val::QConst { q, scale, .. } => Ok(q.mapv(|v| v as f64) * scale),
            other => Err(node.err(format!(
                "{what} (input {i}) must be a constant (an initializer), found {}",
                other.kind()
            ))),
        }
    }

    fn scalar(&self, node: &Node, i: usize, what: &str) -> Result<f64> {
        let a = self.konst(node, i, what)?;
        if a.len() != 1 {
            return Err(node.err(format!(
                "{what} must be a single value (per tensor), found shape {:?}",
                a.shape()
            )));
        }
        Ok(a.iter().next().copied().expect("one value"))
    }

    fn set(&mut self, node: &Node, v: Val) -> Result<()> {
        let out = node
            .proto
            .output
            .first()
            .ok_or_else(|| node.err("the node has no output"))?;
        self.vals.insert(out.clone(), v);
        Ok(())
    }

    /// An activation value must not branch: bnn-gen builds a linear pipeline.
    fn single_use(&self, node: &Node, i: usize) -> Result<()> {
        let name = &node.proto.input[i];
        let n = self.uses.get(name).copied().unwrap_or(0);
        if n > 1 {
            return Err(node.err(format!(
                "tensor \"{name}\" is used by {n} nodes: branches and residual connections are not supported (bnn-gen builds a linear pipeline)"
            )));
        }
        Ok(())
    }

    fn node(&mut self, node: &Node) -> Result<()> {
        let domain = node.proto.domain();
        let known_domain = matches!(
            domain,
            "" | "ai.onnx" | "qonnx.custom_op.general" | "finn.custom_op.general" | "onnx.brevitas"
        );
        if !known_domain {
            return Err(node.err(format!("op domain \"{domain}\" is not supported")));
        }
        match node.op() {
            "Identity" | "Dropout" => {
                let v = self.get(node, 0)?.clone();
                self.set(node, v)
            }
            "Constant" => {
                let v = node.constant_value()?;
                self.set(node, Val::Const(v))
            }
            "Quant" => self.quant(node),
            "BipolarQuant" => self.bipolar_quant(node),
            "MultiThreshold" => self.multithreshold(node),
            "MatMul" => self.matmul(node, false, 1.0, None),
            "Gemm" => {
                if node.int("transA", 0)? != 0 {
                    return Err(node.err("transA = 1 is not supported"));
                }
                let alpha = node.float("alpha", 1.0)? as f64;
                let beta = node.float("beta", 1.0)? as f64;
                let bias = if node.proto.input.get(2).is_some_and(|s| !s.is_empty()) {
                    Some(self.konst(node, 2, "the bias C")?.mapv(|v| v * beta))
                } else {
                    None
                };
                self.matmul(node, node.int("transB", 0)? != 0, alpha, bias)
            }
            "Mul" | "Div" | "Add" | "Sub" => self.elementwise(node),
            "BatchNormalization" => self.batchnorm(node),
            "Relu" => self.relu(node),
            "Reshape" | "Flatten" => self.reshape(node),
            "Transpose" => self.transpose(node),
            "Conv" | "MaxPool" => Err(node.err(
                "convolution and pooling are not imported yet (this importer handles dense networks: MatMul/Gemm); see issue 11\nhelp: write the conv layers by hand in net.toml (docs/net-format.md)",
            )),
            "Trunc" => Err(node.err(
                "Trunc is not supported yet (it appears after average pooling, which bnn-gen has no hardware for)",
            )),
            "AveragePool" | "GlobalAveragePool" => Err(node.err(
                "average pooling is not supported: bnn-gen has max-pool only",
            )),
            other => Err(node.err(format!(
                "op {other} is not supported\nhelp: supported: Quant, BipolarQuant, MultiThreshold, MatMul, Gemm, BatchNormalization, Mul, Div, Add, Sub, Relu (before a quantizer), Reshape, Flatten, Transpose (of weights), Identity, Dropout, Constant (docs/import.md)"
            ))),
        }
    }

    fn quant(&mut self, node: &Node) -> Result<()> {
        let scale = self.konst(node, 1, "the scale")?;
        let zp = self.scalar(node, 2, "the zero point")?;
        let bits = self.scalar(node, 3, "the bit width")?;
        let signed = node.int("signed", 1)? != 0;
        let narrow = node.int("narrow", 0)? != 0;
        let mode = node.string("rounding_mode", "ROUND")?;
        let rounding = Rounding::from_qonnx(&mode).ok_or_else(|| {
            node.err(format!(
                "rounding_mode \"{mode}\" is not supported (ROUND, FLOOR, CEIL, ROUND_TO_ZERO are)"
            ))
        })?;
        if bits.fract() != 0.0 || !(1.0..=8.0).contains(&bits) {
            return Err(node.err(format!(
                "bit width {bits} is not supported: bnn-gen datatypes have 1 to 8 bits"
            )));
        }
        let bits = bits as u32;
        let (lo, hi) = int_range(signed, narrow, bits);
        if lo >= hi {
            return Err(node.err(format!(
                "a {bits}-bit {}{} quantizer has fewer than two levels",
                if narrow { "narrow " } else { "" },
                if signed { "signed" } else { "unsigned" }
            )));
        }
        if zp.fract() != 0.0 {
            return Err(node.err(format!("zero point {zp} is not an integer: not supported")));
        }
        if scale.iter().any(|&s| !(s.is_finite() && s > 0.0)) {
            return Err(node.err("every scale must be a positive finite number"));
        }
        let x = self.get(node, 0)?.clone();
        let v = match x {
            Val::Const(w) => {
                let s = scale.broadcast(w.raw_dim()).ok_or_else(|| {
                    node.err(format!(
                        "the scale's shape {:?} does not broadcast to the tensor's {:?}",
                        scale.shape(),
                        w.shape()
                    ))
                })?;
                // As qonnx evaluates it, in f32: clamp(x / scale + zp), round, minus zp.
                let (zp32, lo32, hi32) = (zp as f32, lo as f32, hi as f32);
                let mut q = ArrayD::<i64>::zeros(w.raw_dim());
                for ((q, &x), &s) in q.iter_mut().zip(w.iter()).zip(s.iter()) {
                    let y = (x as f32) / (s as f32) + zp32;
                    let y = if y.is_nan() {
                        lo32
                    } else {
                        y.clamp(lo32, hi32)
                    };
                    *q = rounding.apply_f64(y as f64) as i64 - zp as i64;
                }
                let (wlo, whi) = (lo - zp as i64, hi - zp as i64);
                let dtype = weight_dtype(wlo, whi).ok_or_else(|| {
                    node.err(format!(
                        "weights in {wlo}..={whi} (zero point {zp}) fit no bnn-gen weight datatype"
                    ))
                })?;
                Val::QConst {
                    q,
                    scale: s.mapv(|v| v as f32 as f64),
                    dtype,
                }
            }
            Val::Float { dims, steps } => {
                if scale.len() != 1 {
                    return Err(node.err("the input quantizer must have one scale (per tensor)"));
                }
                let s = scale.iter().next().copied().expect("one");
                let dtype = act_dtype(lo, hi).ok_or_else(|| {
                    node.err(format!("inputs in {lo}..={hi} fit no bnn-gen datatype"))
                })?;
                self.set_input(
                    node,
                    steps,
                    InputQuant::Uniform {
                        scale: s as f32,
                        zero_point: zp as f32,
                        lo,
                        hi,
                        rounding,
                    },
                    dtype,
                )?;
                Val::Quant {
                    dims,
                    dtype,
                    scale: s as f32 as f64,
                    offset: -(s as f32 as f64) * zp,
                    producer: None,
                }
            }
            Val::Acc {
                channels,
                layer,
                chain,
            } => {
                self.single_use(node, 0)?;
                if scale.len() != 1 {
                    return Err(node.err(
                        "a per-channel activation scale is not supported (the next layer's accumulator would mix scales)\nhelp: use a per-tensor activation quantizer",
                    ));
                }
                let s = scale.iter().next().copied().expect("one") as f32 as f64;
                let dtype = act_dtype(lo, hi).ok_or_else(|| {
                    node.err(format!(
                        "activations in {lo}..={hi} fit no bnn-gen datatype"
                    ))
                })?;
                let q = ActQuant::Uniform {
                    scale: s,
                    zero_point: zp,
                    lo,
                    hi,
                    rounding,
                };
                self.activate(node, layer, &chain, &q, dtype)?;
                Val::Quant {
                    dims: vec![channels],
                    dtype,
                    scale: s,
                    offset: -s * zp,
                    producer: Some(layer),
                }
            }
            Val::Quant { .. } | Val::QConst { .. } => {
                return Err(node.err("a quantizer on an already quantized tensor is not supported"))
            }
        };
        self.set(node, v)
    }

    fn bipolar_quant(&mut self, node: &Node) -> Result<()> {
        let scale = self.konst(node, 1, "the scale")?;
        if scale.iter().any(|&s| !(s.is_finite() && s > 0.0)) {
            return Err(node.err("every scale must be a positive finite number"));
        }
        let x = self.get(node, 0)?.clone();
        let v = match x {
            Val::Const(w) => {
                let s = scale.broadcast(w.raw_dim()).ok_or_else(|| {
                    node.err(format!(
                        "the scale's shape {:?} does not broadcast to the tensor's {:?}",
                        scale.shape(),
                        w.shape()
                    ))
                })?;
                Val::QConst {
                    q: w.mapv(|x| if x as f32 >= 0.0 { 1 } else { -1 }),
                    scale: s.mapv(|v| v as f32 as f64),
                    dtype: DataType::Bipolar,
                }
            }
            Val::Float { dims, steps } => {
                let s = self.scalar(node, 1, "the input quantizer's scale")? as f32 as f64;
                self.set_input(node, steps, InputQuant::Bipolar, DataType::Bipolar)?;
                Val::Quant {
                    dims,
                    dtype: DataType::Bipolar,
                    scale: s,
                    offset: 0.0,
                    producer: None,
                }
            }
            Val::Acc {
                channels,
                layer,
                chain,
            } => {
                self.single_use(node, 0)?;
                let s = self.scalar(node, 1, "the activation scale")? as f32 as f64;
                self.activate(node, layer, &chain, &ActQuant::Bipolar, DataType::Bipolar)?;
                Val::Quant {
                    dims: vec![channels],
                    dtype: DataType::Bipolar,
                    scale: s,
                    offset: 0.0,
                    producer: Some(layer),
                }
            }
            Val::Quant { .. } | Val::QConst { .. } => {
                return Err(node.err("a quantizer on an already quantized tensor is not supported"))
            }
        };
        self.set(node, v)
    }

    fn multithreshold(&mut self, node: &Node) -> Result<()> {
        let t = self.konst(node, 1, "the thresholds")?;
        let out_scale = node.float("out_scale", 1.0)? as f64;
        let out_bias = node.float("out_bias", 0.0)? as f64;
        let Val::Acc {
            channels,
            layer,
            chain,
        } = self.get(node, 0)?.clone()
        else {
            return Err(node.err(format!(
                "MultiThreshold is supported on the output of a MatMul/Gemm, found {}",
                self.get(node, 0)?.kind()
            )));
        };
        self.single_use(node, 0)?;
        let t = t
            .into_dimensionality::<ndarray::Ix2>()
            .map_err(|_| node.err("thresholds must be a 2-D tensor [channels or 1, steps]"))?;
        if t.nrows() != 1 && t.nrows() != channels {
            return Err(node.err(format!(
                "thresholds have {} rows; expected 1 or {channels} (the channels)",
                t.nrows()
            )));
        }
        let steps = t.ncols() as i64;
        if steps < 1 || steps > 255 {
            return Err(node.err(format!("{steps} threshold steps: 1 to 255 are supported")));
        }
        let (q, dtype, scale, offset) = if steps == 1 && out_scale == 2.0 && out_bias == -1.0 {
            (
                ActQuant::Multi {
                    thresholds: t,
                    base: 0,
                    bipolar: true,
                },
                DataType::Bipolar,
                1.0,
                0.0,
            )
        } else {
            if !(out_scale.is_finite() && out_scale > 0.0) {
                return Err(node.err("out_scale must be positive"));
            }
            let b = out_bias / out_scale;
            let (base, offset) = if b.fract() == 0.0 && b.abs() < 256.0 {
                (b as i64, 0.0)
            } else {
                (0, out_bias)
            };
            let dtype = act_dtype(base, base + steps).ok_or_else(|| {
                node.err(format!(
                    "outputs {base}..={} fit no bnn-gen datatype",
                    base + steps
                ))
            })?;
            (
                ActQuant::Multi {
                    thresholds: t,
                    base,
                    bipolar: false,
                },
                dtype,
                out_scale,
                offset,
            )
        };
        self.activate(node, layer, &chain, &q, dtype)?;
        self.set(
            node,
            Val::Quant {
                dims: vec![channels],
                dtype,
                scale,
                offset,
                producer: Some(layer),
            },
        )
    }

    fn set_input(
        &mut self,
        node: &Node,
        steps: Vec<Step>,
        quant: InputQuant,
        dtype: DataType,
    ) -> Result<()> {
        if self.input.is_some() {
            return Err(node.err("a second quantizer on the graph input is not supported"));
        }
        self.single_use(node, 0)?;
        self.input = Some(InputQuantizer {
            source_shape: self.input_dims.clone(),
            steps,
            quant,
            dtype,
        });
        Ok(())
    }

    /// Sets layer `layer`'s activation to thresholds reproducing `q ∘ chain` per channel.
    fn activate(
        &mut self,
        node: &Node,
        layer: usize,
        chain: &[ChainOp],
        q: &ActQuant,
        dtype: DataType,
    ) -> Result<()> {
        let p = &mut self.layers[layer];
        if p.activation.is_some() {
            return Err(node.err("the layer already has an activation"));
        }
        let mv_range = acc_range(&p.weights, p.weight_dtype, p.in_dtype);
        let (lo, hi) = mv_range;
        let levels: Vec<i64> = match dtype {
            DataType::Bipolar => vec![-1, 1],
            _ => (dtype.min()..=dtype.max()).collect(),
        };
        let channels = p.weights.nrows();
        let mut values = Array2::<i64>::zeros((channels, levels.len() - 1));
        let mut compare = Vec::with_capacity(channels);
        for c in 0..channels {
            let slope: i32 = chain.iter().map(|op| op.slope(c)).product();
            let f = |acc: i64| q.apply(c, chain.iter().fold(acc as f64, |x, op| op.eval(c, x)));
            let row_negatable = p
                .weights
                .row(c)
                .iter()
                .all(|&w| p.weight_dtype.contains(-(w as i64)));
            let falling = slope < 0 && !row_negatable;
            if slope < 0 && row_negatable {
                // acc' = −acc on the negated row: f(−acc') rises with acc'.
                p.weights.row_mut(c).mapv_inplace(|w| -w);
            }
            let negated = slope < 0 && row_negatable;
            let g = |a: i64| if negated { f(-a) } else { f(a) };
            compare.push(if falling { Compare::Le } else { Compare::Ge });
            let mut row: Vec<i64> = levels[1..]
                .iter()
                .map(|&level| {
                    if falling {
                        last_true(lo, hi, |a| g(a) >= level).unwrap_or(lo - 1)
                    } else {
                        first_true(lo, hi, |a| g(a) >= level).unwrap_or(hi + 1)
                    }
                })
                .collect();
            row.sort_unstable();
            values
                .row_mut(c)
                .iter_mut()
                .zip(row)
                .for_each(|(v, r)| *v = r);
        }
        p.activation = Some(Activation::Thresholds(Thresholds {
            values,
            compare,
            out_bias: levels[0],
            out_dtype: dtype,
        }));
        p.out_dtype = Some(dtype);
        Ok(())
    }

    fn matmul(
        &mut self,
        node: &Node,
        trans_b: bool,
        alpha: f64,
        bias: Option<ArrayD<f64>>,
    ) -> Result<()> {
        let a = self.get(node, 0)?.clone();
        let kind = a.kind();
        let Val::Quant {
            dims,
            dtype: in_dtype,
            scale: in_scale,
            offset: in_offset,
            producer,
        } = a
        else {
            return Err(node.err(format!(
                "the data input must be a quantized activation, found {kind}\nhelp: put a Quant, BipolarQuant or MultiThreshold before every MatMul/Gemm (float activations have no integer hardware)"
            )));
        };
        self.single_use(node, 0)?;
        let expected = self.layers.len().checked_sub(1);
        if producer != expected {
            return Err(node.err("the layers do not form a single chain"));
        }
        if let Some(prev) = self.layers.last() {
            if prev.activation.is_none() {
                return Err(node.err("the previous layer's output is not quantized"));
            }
        }
        let [k] = dims[..] else {
            return Err(node.err(format!(
                "the data input has per-frame shape {dims:?}; a dense layer needs a flat vector\nhelp: Flatten or Reshape to [1, -1] before it"
            )));
        };
        // Weights: [K, C] integers and scales.
        let (q, scale, wdtype) = match self.get(node, 1)?.clone() {
            Val::QConst { q, scale, dtype } => (q, scale, dtype),
            Val::Const(w) => {
                if w.iter().any(|&v| v.fract() != 0.0 || v.abs() > 128.0) {
                    return Err(node.err(
                        "float weights that are not quantized: put a Quant or BipolarQuant on them (or make them integers, as FINN's streamlining does)",
                    ));
                }
                let q = w.mapv(|v| v as i64);
                let (lo, hi) = (
                    q.iter().copied().min().unwrap_or(0),
                    q.iter().copied().max().unwrap_or(0),
                );
                let dtype = if q.iter().all(|&v| v == 1 || v == -1) {
                    DataType::Bipolar
                } else {
                    weight_dtype(lo, hi).ok_or_else(|| node.err("integer weights out of range"))?
                };
                let scale = ArrayD::from_elem(q.raw_dim(), 1.0);
                (q, scale, dtype)
            }
            other => {
                return Err(node.err(format!(
                    "the weights (input 1) must be a constant, found {}",
                    other.kind()
                )))
            }
        };
        if q.ndim() != 2 {
            return Err(node.err(format!(
                "weights of shape {:?}: expected a matrix",
                q.shape()
            )));
        }
        // Rows = outputs (the IR's [MH, MW]).
        let (q, scale) = if trans_b {
            (q, scale)
        } else {
            (q.reversed_axes(), scale.reversed_axes())
        };
        let (mh, mw) = (q.shape()[0], q.shape()[1]);
        if mw != k {
            return Err(node.err(format!(
                "shape mismatch: the weights take {mw} inputs, the data has {k}"
            )));
        }
        let mut s_w = Vec::with_capacity(mh);
        for c in 0..mh {
            let row = scale.index_axis(Axis(0), c);
            let s0 = row.iter().next().copied().unwrap_or(1.0);
            if row.iter().any(|&s| s != s0) {
                return Err(node.err(format!(
                    "the weight scale varies along the inputs of output {c}: only per-tensor or per-output-channel weight scales fold into integer thresholds"
                )));
            }
            s_w.push(s0);
        }
        let weights: Array2<i32> = q
            .mapv(|v| v as i32)
            .as_standard_layout()
            .into_owned()
            .into_dimensionality()
            .expect("2-D weights");
        // value[c] = Σ_k (s_in·q_k + o)·s_w[c]·W[c,k] = s_in·s_w[c]·acc[c] + o·s_w[c]·Σ_k W[c,k].
        let mut chain = vec![ChainOp::Mul(
            s_w.iter().map(|&s| in_scale * s * alpha).collect(),
        )];
        if in_offset != 0.0 {
            let add: Vec<f64> = (0..mh)
                .map(|c| {
                    let sum: i64 = weights.row(c).iter().map(|&w| w as i64).sum();
                    in_offset * s_w[c] * alpha * sum as f64
                })
                .collect();
            chain.push(ChainOp::Add(add));
        }
        if let Some(b) = bias {
            chain.push(ChainOp::Add(self.per_channel(node, &b, mh)?));
        }
        self.layers.push(Pending {
            weights,
            weight_dtype: wdtype,
            in_dtype: in_dtype,
            activation: None,
            out_dtype: None,
        });
        let layer = self.layers.len() - 1;
        self.set(
            node,
            Val::Acc {
                channels: mh,
                layer,
                chain,
            },
        )
    }

    /// A constant as a per-channel vector for `[N, C]` data: shape [], [1], [C], [1, C], [1, 1].
    fn per_channel(&self, node: &Node, a: &ArrayD<f64>, c: usize) -> Result<Vec<f64>> {
        let sh = a.shape();
        let (last, rest) = match sh.split_last() {
            None => (1, &[][..]),
            Some((l, r)) => (*l, r),
        };
        if rest.iter().all(|&d| d == 1) && (last == 1 || last == c) && rest.len() <= 1 {
            Ok(a.iter().copied().collect())
        } else {
            Err(node.err(format!(
                "a constant of shape {sh:?} is not per-tensor or per-channel for {c} channels"
            )))
        }
    }

    fn elementwise(&mut self, node: &Node) -> Result<()> {
        let op = node.op();
        let (a, b) = (self.get(node, 0)?.clone(), self.get(node, 1)?.clone());
        let is_const = |v: &Val| matches!(v, Val::Const(_) | Val::QConst { .. });
        if is_const(&a) && is_const(&b) {
            let (x, y) = (self.konst(node, 0, "a")?, self.konst(node, 1, "b")?);
            if broadcast_shape(x.shape(), y.shape()).is_none() {
                return Err(node.err(format!(
                    "shape mismatch: {:?} and {:?} do not broadcast",
                    x.shape(),
                    y.shape()
                )));
            }
            let r = match op {
                "Mul" => &x * &y,
                "Div" => &x / &y,
                "Add" => &x + &y,
                _ => &x - &y,
            };
            return self.set(node, Val::Const(r));
        }
        let (data, konst, data_first) = if is_const(&b) {
            (a, self.konst(node, 1, "the constant operand")?, true)
        } else if is_const(&a) {
            (b, self.konst(node, 0, "the constant operand")?, false)
        } else {
            return Err(node.err(format!(
                "{op} of two computed tensors is not supported (residual/elementwise layers have no hardware here); one operand must be a constant"
            )));
        };
        self.single_use(node, if data_first { 0 } else { 1 })?;
        if op == "Div" && !data_first {
            return Err(node.err("Div of a constant by a tensor is not affine: not supported"));
        }
        let v = match data {
            Val::Acc {
                channels,
                layer,
                mut chain,
            } => {
                let v = self.per_channel(node, &konst, channels)?;
                chain.push(match (op, data_first) {
                    ("Mul", _) => ChainOp::Mul(v),
                    ("Div", _) => ChainOp::Div(v),
                    ("Add", _) => ChainOp::Add(v),
                    ("Sub", true) => ChainOp::Sub(v),
                    _ => ChainOp::SubFrom(v),
                });
                Val::Acc {
                    channels,
                    layer,
                    chain,
                }
            }
            Val::Float { dims, mut steps } => {
                if konst.len() != 1 {
                    return Err(node.err(format!(
                        "{op} on the float input with a constant of shape {:?}: only a single value (per tensor) is supported before the input quantizer",
                        konst.shape()
                    )));
                }
                let c = konst.iter().next().copied().expect("one") as f32;
                match (op, data_first) {
                    ("Mul", _) => steps.push(Step::Mul(c)),
                    ("Div", _) => steps.push(Step::Div(c)),
                    ("Add", _) => steps.push(Step::Add(c)),
                    ("Sub", true) => steps.push(Step::Sub(c)),
                    _ => {
                        steps.push(Step::Mul(-1.0));
                        steps.push(Step::Add(c));
                    }
                }
                Val::Float { dims, steps }
            }
            Val::Quant {
                dims,
                dtype,
                scale,
                offset,
                producer,
            } => {
                if konst.len() != 1 {
                    return Err(node.err(format!(
                        "{op} on a quantized activation with a constant of shape {:?}: only a single value (per tensor) folds into the next layer",
                        konst.shape()
                    )));
                }
                let c = konst.iter().next().copied().expect("one");
                let (scale, offset) = match (op, data_first) {
                    ("Mul", _) => (scale * c, offset * c),
                    ("Div", _) => (scale / c, offset / c),
                    ("Add", _) => (scale, offset + c),
                    ("Sub", true) => (scale, offset - c),
                    _ => (-scale, c - offset),
                };
                Val::Quant {
                    dims,
                    dtype,
                    scale,
                    offset,
                    producer,
                }
            }
            Val::Const(_) | Val::QConst { .. } => unreachable!("handled above"),
        };
        self.set(node, v)
    }

    fn batchnorm(&mut self, node: &Node) -> Result<()> {
        let Val::Acc {
            channels,
            layer,
            mut chain,
        } = self.get(node, 0)?.clone()
        else {
            return Err(node.err(format!(
                "BatchNormalization is supported after a MatMul/Gemm, found {}",
                self.get(node, 0)?.kind()
            )));
        };
        self.single_use(node, 0)?;
        let eps = node.float("epsilon", 1e-5)? as f64;
        let mut p = Vec::new();
        for (i, what) in [(1, "scale"), (2, "bias"), (3, "mean"), (4, "var")] {
            let a = self.konst(node, i, what)?;
            if a.len() != channels {
                return Err(node.err(format!(
                    "{what} has {} values; expected {channels} (the channels)",
                    a.len()
                )));
            }
            p.push(a.iter().copied().collect::<Vec<f64>>());
        }
        let denom: Vec<f64> = p[3].iter().map(|v| (v + eps).sqrt()).collect();
        if denom.iter().any(|d| !(d.is_finite() && *d > 0.0)) {
            return Err(node.err("var + epsilon must be positive"));
        }
        chain.push(ChainOp::Sub(p[2].clone()));
        chain.push(ChainOp::Div(denom));
        chain.push(ChainOp::Mul(p[0].clone()));
        chain.push(ChainOp::Add(p[1].clone()));
        self.set(
            node,
            Val::Acc {
                channels,
                layer,
                chain,
            },
        )
    }

    fn relu(&mut self, node: &Node) -> Result<()> {
        let v = match self.get(node, 0)?.clone() {
            Val::Acc {
                channels,
                layer,
                mut chain,
            } => {
                chain.push(ChainOp::Relu);
                Val::Acc {
                    channels,
                    layer,
                    chain,
                }
            }
            q @ Val::Quant { .. } => {
                let Val::Quant {
                    dtype,
                    scale,
                    offset,
                    ..
                } = &q
                else {
                    unreachable!()
                };
                let lo =
                    (scale * dtype.min() as f64 + offset).min(scale * dtype.max() as f64 + offset);
                if lo < 0.0 {
                    return Err(node.err(
                        "Relu on a quantized activation with negative values is not supported",
                    ));
                }
                q
            }
            Val::Const(a) => Val::Const(a.mapv(|v| v.max(0.0))),
            other => {
                return Err(node.err(format!(
                    "Relu on {} is not supported (only before a quantizer)",
                    other.kind()
                )))
            }
        };
        self.single_use(node, 0)?;
        self.set(node, v)
    }

    fn reshape(&mut self, node: &Node) -> Result<()> {
        let data = self.get(node, 0)?.clone();
        if node.op() == "Flatten" {
            let axis = node.int("axis", 1)?;
            return match data {
                Val::Const(a) => {
                    let a = a.as_standard_layout().into_owned();
                    let shape = a.shape().to_vec();
                    let axis = usize::try_from(axis)
                        .ok()
                        .filter(|&x| x <= shape.len())
                        .ok_or_else(|| node.err(format!("axis {axis} is out of range")))?;
                    let r: usize = shape[..axis].iter().product();
                    let c: usize = shape[axis..].iter().product();
                    let a = a
                        .into_shape_with_order(IxDyn(&[r, c]))
                        .map_err(|e| node.err(e.to_string()))?;
                    self.set(node, Val::Const(a))
                }
                _ if axis == 1 => {
                    let v = flatten_frame(data);
                    self.set(node, v)
                }
                _ => Err(node.err(format!(
                    "Flatten with axis {axis} on activations: only axis = 1 (keep the batch) is supported"
                ))),
            };
        }
        let target = self.konst(node, 1, "the target shape")?;
        let target: Vec<i64> = target.iter().map(|&v| v as i64).collect();
        match data {
            Val::Const(a) => {
                let shape = resolve_shape(a.shape(), &target).map_err(|m| node.err(m))?;
                let a = a
                    .as_standard_layout()
                    .into_owned()
                    .into_shape_with_order(IxDyn(&shape))
                    .map_err(|e| node.err(e.to_string()))?;
                self.set(node, Val::Const(a))
            }
            Val::QConst { .. } => Err(node.err("Reshape of quantized weights is not supported")),
            act => {
                let dims = frame_dims(&act);
                let mut full = vec![1usize];
                full.extend(&dims);
                let shape = resolve_shape(&full, &target).map_err(|m| node.err(m))?;
                if shape.first() != Some(&1) {
                    return Err(node.err(format!(
                        "Reshape to {target:?} moves data across the batch dimension"
                    )));
                }
                let new_dims = shape[1..].to_vec();
                if matches!(act, Val::Acc { .. }) && new_dims.len() != 1 {
                    return Err(node.err(
                        "Reshape of a layer's output to more than one dimension is not supported",
                    ));
                }
                self.set(node, with_dims(act, new_dims))
            }
        }
    }

    fn transpose(&mut self, node: &Node) -> Result<()> {
        let perm = node.ints("perm")?;
        let data = self.get(node, 0)?.clone();
        let permute = |a: ArrayD<f64>| -> Result<ArrayD<f64>> {
            let p: Vec<usize> = match &perm {
                Some(p) => p.iter().map(|&x| x as usize).collect(),
                None => (0..a.ndim()).rev().collect(),
            };
            let mut sorted = p.clone();
            sorted.sort_unstable();
            if sorted != (0..a.ndim()).collect::<Vec<_>>() {
                return Err(node.err(format!("perm {p:?} is not a permutation of the axes")));
            }
            Ok(a.permuted_axes(IxDyn(&p)).as_standard_layout().into_owned())
        };
        let v = match data {
            Val::Const(a) => Val::Const(permute(a)?),
            Val::QConst { q, scale, dtype } => {
                let qf = permute(q.mapv(|v| v as f64))?;
                Val::QConst {
                    q: qf.mapv(|v| v as i64),
                    scale: permute(scale)?,
                    dtype,
                }
            }
            act => {
                let n = frame_dims(&act).len() + 1;
                let identity = match &perm {
                    Some(p) => p.iter().enumerate().all(|(i, &x)| x as usize == i),
                    None => n == 1,
                };
                if !identity {
                    return Err(
                        node.err("Transpose of activations is not supported (only of weights)")
                    );
                }
                act
            }
        };
        self.set(node, v)
    }

    fn finish(self, name: &str) -> Result<(Network, FloatIo)> {
        let file = &self.model.file;
        let outputs = &self.model.graph.output;
        let [out] = &outputs[..] else {
            return Err(Error::invalid(
                file.as_str(),
                format!("expected one graph output, found {}", outputs.len()),
            ));
        };
        let where_out = || format!("{file}: graph output \"{}\"", out.name());
        let val = self
            .vals
            .get(out.name())
            .ok_or_else(|| Error::invalid(where_out(), "no node computes the graph output"))?;
        let input = self.input.clone().ok_or_else(|| {
            Error::invalid(
                file.as_str(),
                "the graph input is never quantized: the first layer needs a Quant or BipolarQuant on the input",
            )
        })?;
        let mut layers = self.layers;
        let (affine, last_identity) = match val {
            Val::Acc { layer, chain, .. } => {
                if *layer + 1 != layers.len() {
                    return Err(Error::invalid(where_out(), "not the last layer's output"));
                }
                let channels = layers[*layer].weights.nrows();
                let mut a = vec![1.0; channels];
                let mut b = vec![0.0; channels];
                for op in chain {
                    for c in 0..channels {
                        match op {
                            ChainOp::Mul(v) => {
                                a[c] *= at(v, c);
                                b[c] *= at(v, c);
                            }
                            ChainOp::Div(v) => {
                                a[c] /= at(v, c);
                                b[c] /= at(v, c);
                            }
                            ChainOp::Add(v) => b[c] += at(v, c),
                            ChainOp::Sub(v) => b[c] -= at(v, c),
                            ChainOp::SubFrom(v) => {
                                a[c] = -a[c];
                                b[c] = at(v, c) - b[c];
                            }
                            ChainOp::Relu => {
                                return Err(Error::invalid(
                                    where_out(),
                                    "a Relu on the unquantized output is not supported (the output must be an affine function of the last accumulators)",
                                ))
                            }
                        }
                    }
                }
                (OutputAffine { scale: a, bias: b }, true)
            }
            Val::Quant {
                scale,
                offset,
                producer,
                ..
            } => {
                if producer.map_or(0, |p| p + 1) != layers.len() || layers.is_empty() {
                    return Err(Error::invalid(where_out(), "not the last layer's output"));
                }
                (
                    OutputAffine {
                        scale: vec![*scale],
                        bias: vec![*offset],
                    },
                    false,
                )
            }
            other => {
                return Err(Error::invalid(
                    where_out(),
                    format!("the output is {}; expected a layer's output", other.kind()),
                ))
            }
        };
        if layers.is_empty() {
            return Err(Error::invalid(
                file.as_str(),
                "the graph has no MatMul/Gemm layer",
            ));
        }
        if last_identity {
            let last = layers.last_mut().expect("one layer");
            last.activation = Some(Activation::Identity);
        }
        let input_len: usize = input.source_shape.iter().product();
        let in_type = TensorType {
            shape: Shape::Flat(input_len),
            dtype: ValueType::Data(input.dtype),
        };
        let mut net_layers = Vec::with_capacity(layers.len());
        let mut current = in_type;
        let count = layers.len();
        for (i, p) in layers.into_iter().enumerate() {
            let activation = p.activation.ok_or_else(|| {
                Error::invalid(
                    file.as_str(),
                    format!("layer {i} (MatMul/Gemm {i}) is followed by no quantizer"),
                )
            })?;
            if i + 1 < count && matches!(activation, Activation::Identity) {
                return Err(Error::invalid(
                    file.as_str(),
                    format!("layer {i} has no quantizer"),
                ));
            }
            let (mh, mw) = p.weights.dim();
            let folding = folding(
                largest_divisor_at_most(mh, 16),
                largest_divisor_at_most(mw, 32),
            );
            let mv = MatVec {
                conv: None,
                weights: p.weights,
                weight_dtype: p.weight_dtype,
                activation,
                folding,
            };
            let out_dtype = match (&mv.activation, p.out_dtype) {
                (Activation::Identity, _) | (_, None) => {
                    let (lo, hi) = mv.acc_range(p.in_dtype);
                    ValueType::Accumulator { lo, hi }
                }
                (_, Some(d)) => ValueType::Data(d),
            };
            let output = TensorType {
                shape: Shape::Flat(mh),
                dtype: out_dtype,
            };
            net_layers.push(Layer {
                name: format!("fc{i}"),
                input: current,
                output,
                op: Op::MatVec(mv),
            });
            current = output;
        }
        if let Some(m) = affine.check(current.shape.channels()) {
            return Err(Error::invalid(where_out(), m));
        }
        let net = Network {
            name: name.to_string(),
            input: in_type,
            layers: net_layers,
            head: None,
        };
        Ok((
            net,
            FloatIo {
                input: Some(input),
                output: Some(affine),
            },
        ))
    }
}

fn frame_dims(v: &Val) -> Vec<usize> {
    match v {
        Val::Float { dims, .. } | Val::Quant { dims, .. } => dims.clone(),
        Val::Acc { channels, .. } => vec![*channels],
        Val::Const(a) => a.shape().to_vec(),
        Val::QConst { q, .. } => q.shape().to_vec(),
    }
}

fn with_dims(v: Val, new: Vec<usize>) -> Val {
    match v {
        Val::Float { steps, .. } => Val::Float { dims: new, steps },
        Val::Quant {
            dtype,
            scale,
            offset,
            producer,
            ..
        } => Val::Quant {
            dims: new,
            dtype,
            scale,
            offset,
            producer,
        },
        other => other,
    }
}

fn flatten_frame(v: Val) -> Val {
    let n: usize = frame_dims(&v).iter().product();
    with_dims(v, vec![n])
}

/// The numpy broadcast of two shapes, or `None` when they do not broadcast.
fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let dim = |s: &[usize], i: usize| {
        if i + s.len() >= n {
            s[i + s.len() - n]
        } else {
            1
        }
    };
    (0..n)
        .map(|i| match (dim(a, i), dim(b, i)) {
            (x, y) if x == y => Some(x),
            (1, y) => Some(y),
            (x, 1) => Some(x),
            _ => None,
        })
        .collect()
}

/// ONNX Reshape's target with 0 (copy) and −1 (infer) resolved against `from`.
fn resolve_shape(from: &[usize], target: &[i64]) -> Result<Vec<usize>, String> {
    let total: usize = from.iter().product();
    let mut out = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &t) in target.iter().enumerate() {
        match t {
            0 => out.push(
                *from
                    .get(i)
                    .ok_or("0 in the target shape past the input's dims")?,
            ),
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            t if t > 0 => out.push(t as usize),
            _ => return Err(format!("invalid target shape {target:?}")),
        }
    }
    let known: usize = out.iter().product();
    if let Some(i) = infer {
        if known == 0 || total % known != 0 {
            return Err(format!("cannot reshape {from:?} to {target:?}"));
        }
        out[i] = total / known;
    }
    if out.iter().product::<usize>() != total {
        return Err(format!(
            "shape mismatch: cannot reshape {from:?} ({total} elements) to {target:?}"
        ));
    }
    Ok(out)
}

/// QONNX's integer range of a quantizer.
fn int_range(signed: bool, narrow: bool, bits: u32) -> (i64, i64) {
    if signed {
        let lo = -(1i64 << (bits - 1)) + i64::from(narrow);
        (lo, (1i64 << (bits - 1)) - 1)
    } else {
        (0, (1i64 << bits) - 1 - i64::from(narrow))
    }
}

/// The smallest activation datatype holding `lo..=hi` (bipolar is never chosen here).
fn act_dtype(lo: i64, hi: i64) -> Option<DataType> {
    if lo >= 0 {
        (1..=8u8).map(DataType::UInt).find(|d| d.max() >= hi)
    } else {
        (2..=8u8)
            .map(DataType::Int)
            .find(|d| d.min() <= lo && d.max() >= hi)
    }
}

/// The smallest weight datatype holding `lo..=hi` (ternary for −1..=1).
fn weight_dtype(lo: i64, hi: i64) -> Option<DataType> {
    if lo >= -1 && hi <= 1 && lo < 0 {
        Some(DataType::Ternary)
    } else {
        act_dtype(lo, hi)
    }
}

fn acc_range(w: &Array2<i32>, wdt: DataType, idt: DataType) -> (i64, i64) {
    let mv = MatVec {
        conv: None,
        weights: Array2::zeros((0, w.ncols())),
        weight_dtype: wdt,
        activation: Activation::Identity,
        folding: folding(1, 1),
    };
    mv.acc_range(idt)
}

/// A folding of `pe` × `simd` with the default memory styles.
fn folding(pe: usize, simd: usize) -> Folding {
    Folding::new(pe, simd)
}

fn largest_divisor_at_most(n: usize, max: usize) -> usize {
    (1..=max.min(n)).rev().find(|d| n % d == 0).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_dtypes() {
        assert_eq!(int_range(true, true, 2), (-1, 1));
        assert_eq!(int_range(true, false, 2), (-2, 1));
        assert_eq!(int_range(false, false, 8), (0, 255));
        assert_eq!(int_range(false, true, 2), (0, 2));
        assert_eq!(weight_dtype(-1, 1), Some(DataType::Ternary));
        assert_eq!(act_dtype(-1, 1), Some(DataType::Int(2)));
        assert_eq!(act_dtype(0, 255), Some(DataType::UInt(8)));
        assert_eq!(act_dtype(0, 256), None);
    }

    #[test]
    fn reshape_targets() {
        assert_eq!(
            resolve_shape(&[1, 1, 28, 28], &[1, -1]).unwrap(),
            vec![1, 784]
        );
        assert_eq!(resolve_shape(&[1, 64], &[0, -1]).unwrap(), vec![1, 64]);
        assert!(resolve_shape(&[1, 64], &[1, 65]).is_err());
        assert!(resolve_shape(&[1, 64], &[-1, -1]).is_err());
    }

    #[test]
    fn chain_slopes_and_folding() {
        let chain = [
            ChainOp::Mul(vec![0.5, -2.0]),
            ChainOp::Add(vec![1.0]),
            ChainOp::Relu,
        ];
        let slope = |c| chain.iter().map(|o: &ChainOp| o.slope(c)).product::<i32>();
        assert_eq!((slope(0), slope(1)), (1, -1));
        assert_eq!(chain.iter().fold(-4.0, |x, o| o.eval(0, x)), 0.0);
        assert_eq!(largest_divisor_at_most(784, 32), 28);
        assert_eq!(largest_divisor_at_most(10, 16), 10);
        assert_eq!(first_true(-5, 5, |a| a >= 2), Some(2));
        assert_eq!(last_true(-5, 5, |a| a <= -3), Some(-3));
    }
}
