//! QONNX graph → IR [`Network`] + [`FloatIo`], by symbolic evaluation of the nodes in order.
//!
//! Every tensor of the graph gets a [`Val`]: a constant, the graph's float input (with the
//! elementwise steps applied to it so far), a quantized activation (`scale · q + offset` for
//! integers q of a datatype), or a layer's accumulators followed by a per-channel chain of float
//! ops. Quantizers are where the work happens:
//! - on a constant (weights): the integers are computed in f32 exactly as qonnx does;
//! - on the float input: the input quantizer, recorded for `run` (evaluated in f32 there);
//! - on accumulators: the function acc ↦ quantizer(chain(scale_in·scale_w[c]·acc + ...)) is
//!   monotone per channel, so its integer thresholds are found by binary search on the graph's own
//!   float32 evaluation of it (see [`super::chain`]). Exact for that reference on every reachable
//!   accumulator.
//!
//! The graph output is either the last layer's accumulators with an affine chain (recorded as the
//! output affine) or a quantized activation (output affine = its scale and offset).

use super::chain::{threshold_row, ActQuant, Chain, ChainOp};
use super::graph::{value_dims, Model, Node};
use crate::datatype::DataType;
use crate::error::{Error, Result};
use crate::frontend::float_io::{
    FloatIo, InputQuant, InputQuantizer, OutputAffine, Rounding, Step,
};
use crate::ir::*;
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
    /// Quantized activation of stage `producer` (None = the input quantizer): value = scale·q +
    /// offset. `dims` are ONNX's per-frame dims; `layout` says how the IR orders the elements.
    Quant {
        dims: Vec<usize>,
        dtype: DataType,
        scale: f64,
        offset: f64,
        producer: Option<usize>,
        layout: Layout,
    },
    /// The accumulators of stage `layer` (`channels`, and `[H, W]` for a conv), then `chain` per
    /// channel.
    Acc {
        channels: usize,
        spatial: Option<[usize; 2]>,
        layer: usize,
        chain: Chain,
    },
}

/// How the IR orders the elements of a quantized activation with ONNX dims `dims`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// In ONNX's C order (flat vectors).
    Natural,
    /// `dims = [C, H, W]` (NCHW); the IR holds the image as `[H, W, C]` (NHWC).
    Image,
    /// A flat vector that ONNX flattened from `[c, h, w]` (C-major) and the IR from `[h, w, c]`:
    /// the next dense layer's weight columns are permuted.
    FlatChw { c: usize, h: usize, w: usize },
}

impl Val {
    fn kind(&self) -> &'static str {
        match self {
            Val::Const(_) | Val::QConst { .. } => "a constant",
            Val::Float { .. } => "the float graph input",
            Val::Quant { .. } => "a quantized activation",
            Val::Acc { .. } => "the float output of a MatMul/Gemm/Conv (not yet quantized)",
        }
    }
}

/// A dense or conv layer being built.
struct Pending {
    /// `[MH, MW]`, conv columns in (kh, kw, IFM) order.
    weights: Array2<i32>,
    weight_dtype: DataType,
    in_dtype: DataType,
    activation: Option<Activation>,
    out_dtype: Option<DataType>,
    conv: Option<ConvGeometry>,
    /// A depthwise conv (`group` = channels): `weights` is `[C, kh·kw]`, row c the kernel of
    /// channel c alone ([`Op::Depthwise`]).
    depthwise: bool,
    /// The IR shapes of its input and output.
    in_shape: Shape,
    out_shape: Shape,
}

/// One IR layer being built, in graph order.
enum Stage {
    Mv(Pending),
    Pool {
        pool: MaxPool,
        in_shape: Shape,
        out_shape: Shape,
    },
    /// `GlobalAveragePool`: the per-channel integer sum over the image (its value carries the
    /// scale `s/(H·W)`, so the division is in the scale, not in the integers).
    GlobalPool {
        pool: GlobalAvgPool,
        channels: usize,
    },
}

impl Stage {
    fn in_shape(&self) -> Shape {
        match self {
            Stage::Mv(p) => p.in_shape,
            Stage::Pool { in_shape, .. } => *in_shape,
            Stage::GlobalPool { pool, channels } => Shape::Image {
                h: pool.h,
                w: pool.w,
                c: *channels,
            },
        }
    }
}

/// One activation's float rule (for the float32-versus-f64 margin test): stage `layer` maps its
/// accumulator `acc` (`−acc` on the rows in `negated`) to `quant(chain(acc))`.
#[derive(Clone, Debug)]
#[cfg_attr(not(test), allow(dead_code))]
struct Decision {
    layer: usize,
    chain: Chain,
    quant: ActQuant,
    negated: Vec<bool>,
    levels: Vec<i64>,
}

struct Lowerer<'a> {
    model: &'a Model,
    decisions: Vec<Decision>,
    vals: HashMap<String, Val>,
    uses: HashMap<String, usize>,
    layers: Vec<Stage>,
    input: Option<InputQuantizer>,
    input_dims: Vec<usize>,
}

/// Lowers a decoded model.
pub fn lower(model: &Model, name: &str) -> Result<(Network, FloatIo)> {
    lower_with_decisions(model, name).map(|(net, io, _)| (net, io))
}

/// [`lower`], also returning every activation's float rule.
fn lower_with_decisions(model: &Model, name: &str) -> Result<(Network, FloatIo, Vec<Decision>)> {
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
        decisions: Vec::new(),
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
    let decisions = std::mem::take(&mut l.decisions);
    let (net, io) = l.finish(name)?;
    Ok((net, io, decisions))
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
            "Log" | "Exp" | "Ceil" | "Floor" | "Sqrt" | "Neg" | "Abs" => self.unary_constant(node),
            "BatchNormalization" => self.batchnorm(node),
            "Relu" => self.relu(node),
            "Reshape" | "Flatten" => self.reshape(node),
            "Transpose" => self.transpose(node),
            "Conv" => self.conv(node),
            "MaxPool" => self.maxpool(node),
            "Trunc" => self.trunc(node),
            "GlobalAveragePool" => self.global_avg_pool(node),
            "AveragePool" => Err(node.err(
                "AveragePool (over windows) is not supported: bnn-gen has max-pool and global average pooling\nhelp: pool the whole image (GlobalAveragePool, or AdaptiveAvgPool2d(1) in PyTorch), or use MaxPool",
            )),
            other => Err(node.err(format!(
                "op {other} is not supported\nhelp: supported: Quant, BipolarQuant, Trunc, MultiThreshold, MatMul, Gemm, Conv, MaxPool, BatchNormalization, Mul, Div, Add, Sub, GlobalAveragePool, Log/Exp/Ceil/Floor/Sqrt/Neg/Abs (on constants), Relu (before a quantizer), Reshape, Flatten, Transpose (of weights), Identity, Dropout, Constant (docs/import.md)"
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
        positive_scales(node, &scale)?;
        let x = self.get(node, 0)?.clone();
        let v = match x {
            Val::Const(w) => {
                let s = broadcast_scale(node, &scale, &w)?;
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
                    *q = (rounding.apply_f64(y as f64) as i64).saturating_sub(zp as i64);
                }
                // A zero point past the i64 range (1e30 saturates) would overflow `lo - zp` (found
                // by fuzzing: fuzz/corpus/onnx/crash-143e8c865a4aa5a568040309df9e6cc68cd055ae).
                let (Some(wlo), Some(whi)) = (lo.checked_sub(zp as i64), hi.checked_sub(zp as i64))
                else {
                    return Err(node.err(format!(
                        "zero point {zp} is out of range for a {bits}-bit quantizer: not supported"
                    )));
                };
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
                input_activation(dims, dtype, s as f32 as f64, -(s as f32 as f64) * zp)
            }
            Val::Acc {
                channels,
                spatial,
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
                activation(channels, spatial, dtype, s, -s * zp, layer)
            }
            Val::Quant { .. } | Val::QConst { .. } => {
                return Err(node.err("a quantizer on an already quantized tensor is not supported"))
            }
        };
        self.set(node, v)
    }

    fn bipolar_quant(&mut self, node: &Node) -> Result<()> {
        let scale = self.konst(node, 1, "the scale")?;
        positive_scales(node, &scale)?;
        let x = self.get(node, 0)?.clone();
        let v = match x {
            Val::Const(w) => {
                let s = broadcast_scale(node, &scale, &w)?;
                Val::QConst {
                    q: w.mapv(|x| if x as f32 >= 0.0 { 1 } else { -1 }),
                    scale: s.mapv(|v| v as f32 as f64),
                    dtype: DataType::Bipolar,
                }
            }
            Val::Float { dims, steps } => {
                let s = self.scalar(node, 1, "the input quantizer's scale")? as f32 as f64;
                self.set_input(node, steps, InputQuant::Bipolar, DataType::Bipolar)?;
                input_activation(dims, DataType::Bipolar, s, 0.0)
            }
            Val::Acc {
                channels,
                spatial,
                layer,
                chain,
            } => {
                self.single_use(node, 0)?;
                let s = self.scalar(node, 1, "the activation scale")? as f32 as f64;
                self.activate(node, layer, &chain, &ActQuant::Bipolar, DataType::Bipolar)?;
                activation(channels, spatial, DataType::Bipolar, s, 0.0, layer)
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
        let t = t
            .into_dimensionality::<ndarray::Ix2>()
            .map_err(|_| node.err("thresholds must be a 2-D tensor [channels or 1, steps]"))?;
        let steps = t.ncols() as i64;
        if !(1..=255).contains(&steps) {
            return Err(node.err(format!("{steps} threshold steps: 1 to 255 are supported")));
        }
        // value = out_scale·count + out_bias = scale·q + offset with q = base + count.
        let bipolar = steps == 1 && out_scale == 2.0 && out_bias == -1.0;
        let (base, dtype, scale, offset) = if bipolar {
            (0, DataType::Bipolar, 1.0, 0.0)
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
            (base, dtype, out_scale, offset)
        };
        match self.get(node, 0)?.clone() {
            Val::Acc {
                channels,
                spatial,
                layer,
                chain,
            } => {
                self.single_use(node, 0)?;
                if t.nrows() != 1 && t.nrows() != channels {
                    return Err(node.err(format!(
                        "thresholds have {} rows; expected 1 or {channels} (the channels)",
                        t.nrows()
                    )));
                }
                let q = ActQuant::Multi {
                    thresholds: t,
                    base,
                    bipolar,
                };
                self.activate(node, layer, &chain, &q, dtype)?;
                self.set(
                    node,
                    activation(channels, spatial, dtype, scale, offset, layer),
                )
            }
            // The input quantizer as thresholds on the float input, compared in f32.
            Val::Float { dims, steps } => {
                if t.nrows() != 1 {
                    return Err(node.err(format!(
                        "per-channel thresholds ({} rows) on the graph input are not supported: the input quantizer applies one rule to every element\nhelp: use one row of thresholds, or a Quant node",
                        t.nrows()
                    )));
                }
                let quant = InputQuant::Thresholds {
                    thresholds: t.iter().map(|&v| v as f32).collect(),
                    base,
                    bipolar,
                };
                self.set_input(node, steps, quant, dtype)?;
                let v = input_activation(dims, dtype, scale, offset);
                self.set(node, v)
            }
            other => Err(node.err(format!(
                "MultiThreshold is supported on the graph input or on the output of a MatMul/Gemm/Conv, found {}",
                other.kind()
            ))),
        }
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
            chw: false, // set in `finish` when the first layer takes an image
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
        chain: &Chain,
        q: &ActQuant,
        dtype: DataType,
    ) -> Result<()> {
        if layer > 0 && matches!(self.layers[layer - 1], Stage::GlobalPool { .. }) {
            // The IR holds a quantized layer's thresholds after a global pool on the average's
            // dot product (net.toml's convention, scaled by H·W in `passes::thresholds`); the
            // exact thresholds found here are on the sum's and need not be multiples of H·W.
            return Err(node.err(
                "a quantized activation on the layer right after GlobalAveragePool is not supported: only the classifier (whose float output is the graph's) may follow the pool\nhelp: end the network with the dense classifier after the pool, as MobileNet does",
            ));
        }
        let p = self.pending(layer);
        if p.activation.is_some() {
            return Err(node.err("the layer already has an activation"));
        }
        let range = acc_range(&p.weights, p.weight_dtype, p.in_dtype);
        let levels: Vec<i64> = match dtype {
            DataType::Bipolar => vec![-1, 1],
            _ => (dtype.min()..=dtype.max()).collect(),
        };
        let channels = p.weights.nrows();
        let mut values = Array2::<i64>::zeros((channels, levels.len() - 1));
        let mut compare = Vec::with_capacity(channels);
        let mut negated_rows = Vec::with_capacity(channels);
        for c in 0..channels {
            let slope = chain.slope(c);
            let row_negatable = p
                .weights
                .row(c)
                .iter()
                .all(|&w| p.weight_dtype.contains(-(w as i64)));
            // A falling channel rises in acc' = −acc when its weight row can be negated.
            let negated = slope < 0 && row_negatable;
            if negated {
                p.weights.row_mut(c).mapv_inplace(|w| -w);
            }
            let cmp = if slope < 0 && !negated {
                Compare::Le
            } else {
                Compare::Ge
            };
            negated_rows.push(negated);
            compare.push(cmp);
            // The graph's own float32 sequence, searched over the whole accumulator range.
            let row = threshold_row(|a| chain.level(q, c, a), range, &levels, negated, cmp);
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
        self.decisions.push(Decision {
            layer,
            chain: chain.clone(),
            quant: q.clone(),
            negated: negated_rows,
            levels,
        });
        Ok(())
    }

    /// The stage at index `i` as a dense/conv layer.
    fn pending(&mut self, i: usize) -> &mut Pending {
        match &mut self.layers[i] {
            Stage::Mv(p) => p,
            Stage::Pool { .. } | Stage::GlobalPool { .. } => {
                unreachable!("activations belong to dense/conv layers")
            }
        }
    }

    /// The data input of a layer or pool: a quantized activation that continues the chain.
    fn chained_input(&self, node: &Node) -> Result<QuantIn> {
        let a = self.get(node, 0)?.clone();
        let kind = a.kind();
        let Val::Quant {
            dims,
            dtype,
            scale,
            offset,
            producer,
            layout,
        } = a
        else {
            return Err(node.err(format!(
                "the data input must be a quantized activation, found {kind}\nhelp: put a Quant, BipolarQuant or MultiThreshold before every MatMul/Gemm/Conv/MaxPool (float activations have no integer hardware)"
            )));
        };
        self.single_use(node, 0)?;
        if producer != self.layers.len().checked_sub(1) {
            return Err(node.err("the layers do not form a single chain"));
        }
        if let Some(Stage::Mv(prev)) = self.layers.last() {
            if prev.activation.is_none() {
                return Err(node.err("the previous layer's output is not quantized"));
            }
        }
        Ok(QuantIn {
            dims,
            dtype,
            scale,
            offset,
            producer,
            layout,
        })
    }

    /// The weights (input 1) as integers, their scales (same shape) and datatype.
    fn weights(&self, node: &Node) -> Result<(ArrayD<i64>, ArrayD<f64>, DataType)> {
        match self.get(node, 1)?.clone() {
            Val::QConst { q, scale, dtype } => Ok((q, scale, dtype)),
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
                Ok((q, scale, dtype))
            }
            other => Err(node.err(format!(
                "the weights (input 1) must be a constant, found {}",
                other.kind()
            ))),
        }
    }

    /// Pushes a dense/conv layer with integer `weights` `[MH, MW]` (rows = outputs), per-row
    /// weight scales `scale` (rows of `[MH, ...]`), and sets the node's output to its accumulators.
    #[allow(clippy::too_many_arguments)]
    fn push_layer(
        &mut self,
        node: &Node,
        input: &QuantIn,
        weights: Array2<i32>,
        scale: ArrayD<f64>,
        weight_dtype: DataType,
        alpha: f64,
        bias: Option<ArrayD<f64>>,
        conv: Option<ConvGeometry>,
        in_shape: Shape,
        out_shape: Shape,
    ) -> Result<()> {
        let mh = weights.nrows();
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
        // value[c] = Σ_k (s_in·q_k + o)·s_w[c]·W[c,k] = s_in·s_w[c]·acc[c] + o·s_w[c]·Σ_k W[c,k]
        // (for a conv also at padded positions: their integer is the one of float 0).
        let dot_scale: Vec<f64> = s_w.iter().map(|&s| input.scale * s * alpha).collect();
        let dot_offset: Vec<f64> = (0..mh)
            .map(|c| {
                let sum: i64 = weights.row(c).iter().map(|&w| w as i64).sum();
                input.offset * s_w[c] * alpha * sum as f64
            })
            .collect();
        let mut chain = Chain {
            dot_scale,
            dot_offset,
            ops: Vec::new(),
        };
        let spatial = match out_shape {
            Shape::Image { h, w, .. } => Some([h, w]),
            Shape::Flat(_) => None,
        };
        if let Some(b) = bias {
            chain
                .ops
                .push(ChainOp::Add(self.per_channel(node, &b, mh, spatial)?));
        }
        self.layers.push(Stage::Mv(Pending {
            weights,
            weight_dtype,
            in_dtype: input.dtype,
            activation: None,
            out_dtype: None,
            conv,
            depthwise: false,
            in_shape,
            out_shape,
        }));
        let layer = self.layers.len() - 1;
        self.set(
            node,
            Val::Acc {
                channels: mh,
                spatial,
                layer,
                chain,
            },
        )
    }

    fn matmul(
        &mut self,
        node: &Node,
        trans_b: bool,
        alpha: f64,
        bias: Option<ArrayD<f64>>,
    ) -> Result<()> {
        let input = self.chained_input(node)?;
        let [k] = input.dims[..] else {
            return Err(node.err(format!(
                "the data input has per-frame shape {:?}; a dense layer needs a flat vector\nhelp: Flatten or Reshape to [1, -1] before it",
                input.dims
            )));
        };
        let (q, scale, wdtype) = self.weights(node)?;
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
        let mut weights: Array2<i32> = q
            .mapv(|v| v as i32)
            .as_standard_layout()
            .into_owned()
            .into_dimensionality()
            .expect("2-D weights");
        // ONNX flattened a [C, H, W] activation C-major; the IR streams it as [H, W, C]: IR column
        // (y·W + x)·C + ch takes ONNX column ch·H·W + y·W + x.
        let in_shape = match input.layout {
            Layout::FlatChw { c, h, w } => {
                let onnx = weights.clone();
                for (j, mut col) in weights.columns_mut().into_iter().enumerate() {
                    let (pixel, ch) = (j / c, j % c);
                    col.assign(&onnx.column(ch * h * w + pixel));
                }
                Shape::Image { h, w, c }
            }
            _ => Shape::Flat(k),
        };
        self.push_layer(
            node,
            &input,
            weights,
            scale,
            wdtype,
            alpha,
            bias,
            None,
            in_shape,
            Shape::Flat(mh),
        )
    }

    /// The image `[C, H, W]` of a conv's or pool's input.
    fn image_input(&self, node: &Node, input: &QuantIn) -> Result<[usize; 3]> {
        match (input.layout, &input.dims[..]) {
            (Layout::Image, &[c, h, w]) => Ok([c, h, w]),
            _ => Err(node.err(format!(
                "the data input has per-frame shape {:?}; {} needs an image [C, H, W] (NCHW with batch)",
                input.dims,
                node.op()
            ))),
        }
    }

    fn conv(&mut self, node: &Node) -> Result<()> {
        let input = self.chained_input(node)?;
        let [ifm, ih, iw] = self.image_input(node, &input)?;
        let group = node.int("group", 1)?;
        // Depthwise: one group per input channel, one output channel per group.
        let depthwise = group != 1;
        if depthwise && group != ifm as i64 {
            return Err(node.err(format!(
                "grouped convolution with group = {group} on {ifm} channels is not supported: only dense (group = 1) and depthwise (group = in_channels = {ifm}) convolutions are"
            )));
        }
        let geometry = window_attributes(node)?;
        let (q, scale, wdtype) = self.weights(node)?;
        let [ofm, wc, kh, kw] = q.shape()[..] else {
            return Err(node.err(format!(
                "weights of shape {:?}: expected [out_channels, in_channels / group, kh, kw]",
                q.shape()
            )));
        };
        if depthwise && (wc != 1 || ofm != ifm) {
            return Err(node.err(format!(
                "a depthwise convolution (group = {group}) with weights of shape {:?}: expected [{ifm}, 1, kh, kw] (a depth multiplier of 1)",
                q.shape()
            )));
        }
        if !depthwise && wc != ifm {
            return Err(node.err(format!(
                "shape mismatch: the weights take {wc} input channels, the data has {ifm}"
            )));
        }
        if geometry.kernel.is_some_and(|k| k != [kh, kw]) {
            return Err(node.err(format!(
                "kernel_shape {:?} does not match the weights' {kh}x{kw}",
                geometry.kernel
            )));
        }
        let kernel = [kh, kw];
        let (stride, padding) = (geometry.stride, geometry.padding);
        let (Some(oh), Some(ow)) = (
            window_out(ih, kh, stride[0], padding[0]),
            window_out(iw, kw, stride[1], padding[1]),
        ) else {
            return Err(node.err(format!(
                "a {kh}x{kw} kernel with padding {padding:?} does not fit the {ih}x{iw} input"
            )));
        };
        if padding[0] >= kh || padding[1] >= kw {
            return Err(node.err(format!(
                "padding {padding:?} is not smaller than the kernel {kernel:?}: bnn-gen's sliding window needs every window to see data"
            )));
        }
        let mut input = input;
        let pad_value = if padding == [0, 0] {
            // Unused; a value of the datatype, as net.toml's default.
            if input.dtype.contains(0) {
                0
            } else {
                input.dtype.min()
            }
        } else {
            self.zero_pad_value(node, &mut input)?
        };
        // [OFM, IFM, kh, kw] → [OFM, (kh, kw, IFM)]: the order the sliding window emits. A
        // depthwise [C, 1, kh, kw] becomes [C, (kh, kw)] the same way.
        let q = q.permuted_axes(IxDyn(&[0, 2, 3, 1]));
        let mw = kh * kw * wc;
        let weights = Array2::from_shape_vec((ofm, mw), q.iter().map(|&v| v as i32).collect())
            .expect("OFM x (kh·kw·IFM) elements");
        let scale = scale
            .as_standard_layout()
            .into_owned()
            .into_shape_with_order(IxDyn(&[ofm, mw]))
            .map_err(|e| node.err(e.to_string()))?;
        let bias = if node.proto.input.get(2).is_some_and(|s| !s.is_empty()) {
            let b = self.konst(node, 2, "the bias")?;
            if b.len() != ofm {
                return Err(node.err(format!(
                    "the bias has {} values; expected {ofm} (the output channels)",
                    b.len()
                )));
            }
            Some(
                b.into_shape_with_order(IxDyn(&[ofm]))
                    .map_err(|e| node.err(e.to_string()))?,
            )
        } else {
            None
        };
        let geometry = ConvGeometry {
            kernel,
            stride,
            padding,
            pad_value,
        };
        self.push_layer(
            node,
            &input,
            weights,
            scale,
            wdtype,
            1.0,
            bias.map(|b| {
                b.into_shape_with_order(IxDyn(&[1, ofm, 1, 1]))
                    .expect("ofm values")
            }),
            Some(geometry),
            Shape::Image {
                h: ih,
                w: iw,
                c: ifm,
            },
            Shape::Image {
                h: oh,
                w: ow,
                c: ofm,
            },
        )?;
        let layer = self.layers.len() - 1;
        self.pending(layer).depthwise = depthwise;
        Ok(())
    }

    /// ONNX `GlobalAveragePool` on a quantized image `[C, H, W]` with value `s·q + o`: the mean
    /// is `(s/(H·W))·Σq + o`, so the IR's integer sum Σq ([`Op::GlobalAvgPool`]) with the scale
    /// `s/(H·W)` is the graph's value; nothing is divided in the integers. (Brevitas'
    /// `TruncAdaptiveAvgPool2d` follows it with a `Trunc` of exactly that scale, which restates
    /// the sum's integers: [`Self::trunc`].)
    fn global_avg_pool(&mut self, node: &Node) -> Result<()> {
        if let Val::Acc { .. } = self.get(node, 0)? {
            return Err(node.err(
                "GlobalAveragePool on a layer's float output, before its quantizer, is not supported\nhelp: pool after the activation quantizer (conv → BN → act → quant → pool, as Brevitas' MobileNets do)",
            ));
        }
        let input = self.chained_input(node)?;
        let [c, h, w] = self.image_input(node, &input)?;
        let pool = GlobalAvgPool { h, w };
        let sum = pool.sum_dtype(input.dtype);
        if sum.bits() > GlobalAvgPool::MAX_SUM_BITS {
            let (lo, hi) = pool.sum_range(input.dtype);
            return Err(node.err(format!(
                "the sum over {h}x{w} pixels of {} values ({lo} .. {hi}) needs {} bits; the next layer's input lanes take at most {}\nhelp: pool to a smaller image first (MaxPool), or quantize the activation before the pool to fewer bits",
                input.dtype,
                sum.bits(),
                GlobalAvgPool::MAX_SUM_BITS
            )));
        }
        self.layers.push(Stage::GlobalPool { pool, channels: c });
        let v = Val::Quant {
            dims: vec![c, 1, 1],
            dtype: sum,
            scale: input.scale / pool.pixels() as f64,
            offset: input.offset,
            producer: Some(self.layers.len() - 1),
            // [C, 1, 1] is the flat vector of the C sums, in ONNX's order and the IR's alike.
            layout: Layout::Natural,
        };
        self.set(node, v)
    }

    /// The integer that stands for the float 0 a Conv pads with: `−offset / scale`. A bipolar
    /// tensor has no 0, so its producer is widened to int2 outputs (still only ±1) and the pad
    /// value is 0: exactly what the float graph computes.
    fn zero_pad_value(&mut self, node: &Node, input: &mut QuantIn) -> Result<i64> {
        let z = -input.offset / input.scale;
        let zi = z.round();
        if (z - zi).abs() > 1e-6 * z.abs().max(1.0) {
            return Err(node.err(format!(
                "the conv pads its input with float 0, which is no integer of the quantized input (value = {}·q + {}): not representable",
                input.scale, input.offset
            )));
        }
        let zi = zi as i64;
        if input.dtype.contains(zi) {
            return Ok(zi);
        }
        if input.dtype != DataType::Bipolar || zi != 0 {
            return Err(node.err(format!(
                "the conv pads with float 0, which is the integer {zi}, outside the input datatype {}",
                input.dtype
            )));
        }
        self.widen_bipolar(node, input.producer)?;
        input.dtype = DataType::Int(2);
        Ok(0)
    }

    /// Makes the bipolar output of stage `producer` (through max-pools; None = the input
    /// quantizer) an int2 output with the same ±1 values, so that a conv can pad it with 0.
    fn widen_bipolar(&mut self, node: &Node, producer: Option<usize>) -> Result<()> {
        let mut at = producer;
        while let Some(i) = at {
            match &mut self.layers[i] {
                Stage::Pool { .. } => at = i.checked_sub(1),
                Stage::GlobalPool { .. } => {
                    return Err(node.err("a global pool's sums cannot be padded as ±1"))
                }
                Stage::Mv(p) => {
                    let (lo, hi) = acc_range(&p.weights, p.weight_dtype, p.in_dtype);
                    let Some(Activation::Thresholds(t)) = &mut p.activation else {
                        return Err(node.err("the padded input's producer has no thresholds"));
                    };
                    // count ∈ {1, 3} → −2 + count ∈ {−1, +1}: one threshold always met, then the
                    // bipolar threshold twice.
                    let channels = t.values.nrows();
                    let mut values = Array2::<i64>::zeros((channels, 3));
                    for c in 0..channels {
                        let th = t.values[[c, 0]];
                        let row = match t.compare[c] {
                            Compare::Ge => [lo, th, th],
                            Compare::Le => [th, th, hi],
                        };
                        values.row_mut(c).assign(&ndarray::arr1(&row));
                    }
                    t.values = values;
                    t.out_bias = -2;
                    t.out_dtype = DataType::Int(2);
                    p.out_dtype = Some(DataType::Int(2));
                    return Ok(());
                }
            }
        }
        let q = self.input.as_mut().expect("the input was quantized");
        q.dtype = DataType::Int(2);
        Ok(())
    }

    /// QONNX `Trunc`: v1 (x, scale, zeropt, in_bits, out_bits) and v2 (x, scale, zeropt, in_bits,
    /// out_scale, out_bits; `signed`/`narrow` clamp), as qonnx's `trunc_v1`/`trunc_v2` compute it.
    /// Supported when its scale and zero point restate the input's own quantizer, so that
    /// `round(x / scale + zeropt)` is the input's integer q: then it is q' = rounding(q / 2^k)
    /// (clamped in v2), the identity for k = 0, else a shift that is folded into the producing
    /// layer's thresholds.
    fn trunc(&mut self, node: &Node) -> Result<()> {
        let Val::Quant {
            dims,
            dtype,
            scale: s_in,
            offset,
            producer,
            layout,
        } = self.get(node, 0)?.clone()
        else {
            return Err(node.err(format!(
                "Trunc is supported on a quantized activation, found {}",
                self.get(node, 0)?.kind()
            )));
        };
        self.single_use(node, 0)?;
        let s = self.scalar(node, 1, "the scale")? as f32 as f64;
        let zp = self.scalar(node, 2, "the zero point")?;
        self.scalar(node, 3, "the input bit width")?;
        let v2 = node.proto.input.len() >= 6;
        let (out_scale, out_bits) = if v2 {
            (
                self.scalar(node, 4, "the output scale")? as f32 as f64,
                self.scalar(node, 5, "the output bit width")?,
            )
        } else {
            (s, self.scalar(node, 4, "the output bit width")?)
        };
        let mode = node.string("rounding_mode", "FLOOR")?;
        let rounding = Rounding::from_qonnx(&mode).ok_or_else(|| {
            node.err(format!(
                "rounding_mode \"{mode}\" is not supported (ROUND, FLOOR, CEIL, ROUND_TO_ZERO are)"
            ))
        })?;
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1e-30);
        if !(s > 0.0 && zp.fract() == 0.0 && close(s_in, s) && close(offset, -s * zp)) {
            return Err(node.err(format!(
                "Trunc's scale {s} and zero point {zp} do not restate its input's quantizer (value = {s_in}·q + {offset}): only a Trunc of the input's own integers is supported"
            )));
        }
        let shift = if v2 {
            (out_scale / s).log2().round()
        } else {
            let in_bits = self.scalar(node, 3, "the input bit width")?;
            in_bits - out_bits
        };
        if !(0.0..=16.0).contains(&shift) || shift.fract() != 0.0 {
            return Err(node.err(format!(
                "a truncation by {shift} bits is not supported (0 to 16 bits, dropping low bits)"
            )));
        }
        let div = (1u32 << shift as u32) as f64;
        let (clo, chi) = if v2 {
            if out_bits.fract() != 0.0 || !(1.0..=8.0).contains(&out_bits) {
                return Err(node.err(format!("output bit width {out_bits}: 1 to 8 are supported")));
            }
            let (lo, hi) = int_range(
                node.int("signed", 1)? != 0,
                node.int("narrow", 0)? != 0,
                out_bits as u32,
            );
            (lo as f64, hi as f64)
        } else {
            (f64::NEG_INFINITY, f64::INFINITY)
        };
        let g = move |q: i64| rounding.apply_f64((q as f64 / div).clamp(clo, chi)) as i64;
        let (new_scale, new_offset) = if v2 {
            (out_scale, -out_scale * zp / div)
        } else {
            (s, -s * zp)
        };
        let levels: Vec<i64> = match dtype {
            DataType::Bipolar => vec![-1, 1],
            d => (d.min()..=d.max()).collect(),
        };
        let new_dtype = if levels.iter().all(|&q| g(q) == q) {
            dtype
        } else {
            let (lo, hi) = (g(levels[0]), g(*levels.last().expect("levels")));
            let new = act_dtype(lo, hi).ok_or_else(|| {
                node.err(format!(
                    "the truncated values {lo}..={hi} fit no bnn-gen datatype"
                ))
            })?;
            self.remap_levels(node, producer, &g, new)?;
            new
        };
        self.set(
            node,
            Val::Quant {
                dims,
                dtype: new_dtype,
                scale: new_scale,
                offset: new_offset,
                producer,
                layout,
            },
        )
    }

    /// Composes the monotone map `g` on the integer outputs of stage `producer` (through
    /// max-pools, which commute with it) into that layer's thresholds, with outputs `new`.
    fn remap_levels(
        &mut self,
        node: &Node,
        producer: Option<usize>,
        g: &dyn Fn(i64) -> i64,
        new: DataType,
    ) -> Result<()> {
        let mut at = producer;
        while let Some(i) = at {
            let p = match &mut self.layers[i] {
                Stage::Mv(p) => p,
                // A max-pool commutes with a monotone map; a sum does not.
                Stage::Pool { .. } => {
                    at = i.checked_sub(1);
                    continue;
                }
                Stage::GlobalPool { .. } => {
                    return Err(node.err(
                        "a Trunc that changes a global pool's sums (a shift, or a clamp below their range) is not supported: the sums are exact integers in bnn-gen\nhelp: give the Trunc after the pool the pool's own scale and enough output bits (Brevitas' TruncAdaptiveAvgPool2d with trunc_bits covering the sum)",
                    ))
                }
            };
            let (lo, hi) = acc_range(&p.weights, p.weight_dtype, p.in_dtype);
            let Some(Activation::Thresholds(t)) = &mut p.activation else {
                break;
            };
            let steps = t.steps();
            let levels: Vec<i64> = (new.min() + 1..=new.max()).collect();
            let mut values = Array2::<i64>::zeros((t.channels(), levels.len()));
            for c in 0..t.channels() {
                for (j, &level) in levels.iter().enumerate() {
                    // The fewest thresholds met that give a truncated value >= level.
                    let k = (0..=steps).find(|&k| g(t.value_of_count(k as i64)) >= level);
                    values[[c, j]] = match (t.compare[c], k) {
                        (Compare::Ge, Some(0)) => lo,
                        (Compare::Ge, Some(k)) => t.values[[c, k - 1]],
                        (Compare::Ge, None) => hi + 1,
                        (Compare::Le, Some(0)) => hi,
                        (Compare::Le, Some(k)) => t.values[[c, steps - k]],
                        (Compare::Le, None) => lo - 1,
                    };
                }
            }
            t.values = values;
            t.out_bias = new.min();
            t.out_dtype = new;
            p.out_dtype = Some(new);
            return Ok(());
        }
        Err(node.err(
            "a Trunc that changes the integers is supported after a layer's quantizer only (not on the graph input)",
        ))
    }

    fn maxpool(&mut self, node: &Node) -> Result<()> {
        if let Val::Acc { .. } = self.get(node, 0)? {
            return Err(node.err(
                "MaxPool on a layer's float output, before its quantizer, is not supported\nhelp: pool after the activation quantizer (conv → BN → act → pool, as CNV does); the result is the same when the activation rises with its input",
            ));
        }
        if node.proto.output.len() > 1 {
            return Err(node.err("the Indices output of MaxPool is not supported"));
        }
        let input = self.chained_input(node)?;
        let [c, ih, iw] = self.image_input(node, &input)?;
        if !(input.scale > 0.0) {
            return Err(node.err(
                "MaxPool on an activation with a negative scale: the max of the integers is not the max of the values",
            ));
        }
        let geometry = window_attributes(node)?;
        let kernel = geometry
            .kernel
            .ok_or_else(|| node.err("kernel_shape is required"))?;
        if geometry.padding != [0, 0] {
            return Err(node.err(format!(
                "pads {:?}: bnn-gen's max-pool has no padding",
                geometry.padding
            )));
        }
        let stride = geometry.stride;
        let (Some(oh), Some(ow)) = (
            window_out(ih, kernel[0], stride[0], 0),
            window_out(iw, kernel[1], stride[1], 0),
        ) else {
            return Err(node.err(format!(
                "a {kernel:?} window does not fit the {ih}x{iw} input"
            )));
        };
        if node.int("ceil_mode", 0)? != 0
            && ((ih - kernel[0]) % stride[0] != 0 || (iw - kernel[1]) % stride[1] != 0)
        {
            return Err(node.err(
                "ceil_mode = 1 adds a partial window that bnn-gen's max-pool does not compute\nhelp: export with ceil_mode=False",
            ));
        }
        self.layers.push(Stage::Pool {
            pool: MaxPool {
                kernel,
                stride,
                buffer_depth: None,
            },
            in_shape: Shape::Image { h: ih, w: iw, c },
            out_shape: Shape::Image { h: oh, w: ow, c },
        });
        let v = Val::Quant {
            dims: vec![c, oh, ow],
            dtype: input.dtype,
            scale: input.scale,
            offset: input.offset,
            producer: Some(self.layers.len() - 1),
            layout: Layout::Image,
        };
        self.set(node, v)
    }

    /// A constant as a per-channel vector for `[N, C]` data (`spatial` None) or `[N, C, H, W]`
    /// data: broadcast (numpy rules) it may vary along the channel axis only, e.g. [], [1], [C],
    /// [1, C] for dense; [C, 1, 1], [1, C, 1, 1] for conv.
    fn per_channel(
        &self,
        node: &Node,
        a: &ArrayD<f64>,
        c: usize,
        spatial: Option<[usize; 2]>,
    ) -> Result<Vec<f64>> {
        let sh = a.shape();
        let rank = if spatial.is_some() { 4 } else { 2 };
        // Axis i of `a` is axis rank − len + i of the data; the channel axis is 1.
        let ok = sh.len() <= rank
            && sh.iter().enumerate().all(|(i, &d)| {
                let axis = rank - sh.len() + i;
                d == 1 || (axis == 1 && d == c)
            });
        if ok {
            Ok(a.iter().copied().collect())
        } else {
            Err(node.err(format!(
                "a constant of shape {sh:?} is not per-tensor or per-channel for {c} channels"
            )))
        }
    }

    /// A unary op on a constant, evaluated in float32 as the graph computes it. Brevitas' raw
    /// exports compute a `Trunc`'s bit widths this way (`ceil(log(16) / log(2))` after a
    /// `TruncAdaptiveAvgPool2d`); on activations these ops have no integer hardware.
    fn unary_constant(&mut self, node: &Node) -> Result<()> {
        let op = node.op();
        let x = match self.get(node, 0)? {
            Val::Const(_) | Val::QConst { .. } => self.konst(node, 0, "the operand")?,
            other => {
                return Err(node.err(format!(
                "{op} is supported on constants only (it computes no integer hardware), found {}",
                other.kind()
            )))
            }
        };
        let f: fn(f32) -> f32 = match op {
            "Log" => f32::ln,
            "Exp" => f32::exp,
            "Ceil" => f32::ceil,
            "Floor" => f32::floor,
            "Sqrt" => f32::sqrt,
            "Neg" => |v| -v,
            _ => f32::abs,
        };
        self.set(node, Val::Const(x.mapv(|v| f64::from(f(v as f32)))))
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
            // In float32, as the graph computes constant subexpressions.
            let (x, y) = (x.mapv(|v| v as f32), y.mapv(|v| v as f32));
            let r = match op {
                "Mul" => &x * &y,
                "Div" => &x / &y,
                "Add" => &x + &y,
                _ => &x - &y,
            };
            return self.set(node, Val::Const(r.mapv(f64::from)));
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
                spatial,
                layer,
                mut chain,
            } => {
                let v = self.per_channel(node, &konst, channels, spatial)?;
                chain.ops.push(match (op, data_first) {
                    ("Mul", _) => ChainOp::Mul(v),
                    ("Div", _) => ChainOp::Div(v),
                    ("Add", _) => ChainOp::Add(v),
                    ("Sub", true) => ChainOp::Sub(v),
                    _ => ChainOp::SubFrom(v),
                });
                Val::Acc {
                    channels,
                    spatial,
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
                layout,
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
                    layout,
                }
            }
            Val::Const(_) | Val::QConst { .. } => unreachable!("handled above"),
        };
        self.set(node, v)
    }

    fn batchnorm(&mut self, node: &Node) -> Result<()> {
        let Val::Acc {
            channels,
            spatial,
            layer,
            mut chain,
        } = self.get(node, 0)?.clone()
        else {
            return Err(node.err(format!(
                "BatchNormalization is supported after a MatMul/Gemm/Conv, found {}",
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
        // Positive in f64 and in float32, where the graph computes it.
        let positive = |v: &f64| {
            let d = (v + eps).sqrt();
            let d32 = (*v as f32 + eps as f32).sqrt();
            d.is_finite() && d > 0.0 && d32.is_finite() && d32 > 0.0
        };
        if !p[3].iter().all(positive) {
            return Err(node.err("var + epsilon must be positive"));
        }
        let [gamma, beta, mean, var] = <[Vec<f64>; 4]>::try_from(p).expect("four parameters");
        chain.ops.push(ChainOp::BatchNorm {
            gamma,
            beta,
            mean,
            var,
            eps,
        });
        self.set(
            node,
            Val::Acc {
                channels,
                spatial,
                layer,
                chain,
            },
        )
    }

    fn relu(&mut self, node: &Node) -> Result<()> {
        let v = match self.get(node, 0)?.clone() {
            Val::Acc {
                channels,
                spatial,
                layer,
                mut chain,
            } => {
                chain.ops.push(ChainOp::Relu);
                Val::Acc {
                    channels,
                    spatial,
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
                    let v = flatten_frame(data).map_err(|m| node.err(m))?;
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
                let v = with_dims(act, new_dims).map_err(|m| node.err(m))?;
                self.set(node, v)
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
        let mut input = self.input.clone().ok_or_else(|| {
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
                let Stage::Mv(p) = &layers[*layer] else {
                    unreachable!("accumulators come from layers")
                };
                let channels = p.weights.nrows();
                let mut a = chain.dot_scale.clone();
                let mut b = chain.dot_offset.clone();
                for op in &chain.ops {
                    for c in 0..channels {
                        let Some((ac, bc)) = op.compose(c, a[c], b[c]) else {
                            return Err(Error::invalid(
                                where_out(),
                                "a Relu on the unquantized output is not supported (the output must be an affine function of the last accumulators)",
                            ));
                        };
                        (a[c], b[c]) = (ac, bc);
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
        if !layers.iter().any(|s| matches!(s, Stage::Mv(_))) {
            return Err(Error::invalid(
                file.as_str(),
                "the graph has no MatMul/Gemm/Conv layer",
            ));
        }
        if last_identity {
            if let Some(Stage::Mv(last)) = layers.last_mut() {
                last.activation = Some(Activation::Identity);
            }
        }
        // The first layer takes an image: the float input [C, H, W] is transposed to [H, W, C].
        let in_shape = layers[0].in_shape();
        input.chw = matches!(in_shape, Shape::Image { .. });
        let in_type = TensorType {
            shape: in_shape,
            dtype: ValueType::Data(input.dtype),
        };
        let mut net_layers = Vec::with_capacity(layers.len());
        let mut current = in_type;
        let count = layers.len();
        let (mut dense, mut convs, mut pools, mut depthwise, mut gaps) = (0, 0, 0, 0, 0);
        for (i, stage) in layers.into_iter().enumerate() {
            let p = match stage {
                Stage::Mv(p) => p,
                pool_stage => {
                    let (name, op, output) = match pool_stage {
                        Stage::GlobalPool { pool, channels } => {
                            let ValueType::Data(in_dtype) = current.dtype else {
                                unreachable!("a global pool's input is a quantized activation")
                            };
                            gaps += 1;
                            let sums = TensorType {
                                shape: Shape::Flat(channels),
                                dtype: ValueType::Data(pool.sum_dtype(in_dtype)),
                            };
                            (format!("gap{}", gaps - 1), Op::GlobalAvgPool(pool), sums)
                        }
                        Stage::Pool {
                            pool, out_shape, ..
                        } => {
                            pools += 1;
                            let pooled = TensorType {
                                shape: out_shape,
                                dtype: current.dtype,
                            };
                            (format!("pool{}", pools - 1), Op::MaxPool(pool), pooled)
                        }
                        Stage::Mv(_) => unreachable!("matched above"),
                    };
                    net_layers.push(Layer {
                        name,
                        input: current,
                        output,
                        op,
                    });
                    current = output;
                    continue;
                }
            };
            let activation = p.activation.ok_or_else(|| {
                Error::invalid(
                    file.as_str(),
                    format!("layer {i} (a MatMul/Gemm/Conv) is followed by no quantizer"),
                )
            })?;
            if i + 1 < count && matches!(activation, Activation::Identity) {
                return Err(Error::invalid(
                    file.as_str(),
                    format!("layer {i} has no quantizer"),
                ));
            }
            let (mh, mw) = p.weights.dim();
            // Conv: SIMD lanes carry channels of one pixel, so SIMD divides the input channels.
            // Depthwise: the hardware takes one kernel position per beat (SIMD 1).
            let simd = match p.conv {
                _ if p.depthwise => 1,
                Some(_) => largest_divisor_at_most(p.in_shape.channels(), 32),
                None => largest_divisor_at_most(mw, 32),
            };
            let mv = MatVec {
                conv: p.conv,
                weights: p.weights,
                weight_dtype: p.weight_dtype,
                activation,
                folding: folding(largest_divisor_at_most(mh, 16), simd),
            };
            let out_dtype = match (&mv.activation, p.out_dtype) {
                (Activation::Identity, _) | (_, None) => {
                    let (lo, hi) = mv.acc_range(p.in_dtype);
                    ValueType::Accumulator { lo, hi }
                }
                (_, Some(d)) => ValueType::Data(d),
            };
            let output = TensorType {
                shape: p.out_shape,
                dtype: out_dtype,
            };
            let (name, op) = if p.depthwise {
                depthwise += 1;
                (format!("dw{}", depthwise - 1), Op::Depthwise(mv))
            } else if mv.conv.is_some() {
                convs += 1;
                (format!("conv{}", convs - 1), Op::MatVec(mv))
            } else {
                dense += 1;
                (format!("fc{}", dense - 1), Op::MatVec(mv))
            };
            net_layers.push(Layer {
                name,
                input: current,
                output,
                op,
            });
            current = output;
        }
        if current.shape.pixels() != 1 {
            return Err(Error::invalid(
                where_out(),
                format!(
                    "the output is an image {}; expected a flat vector (end with a dense layer)",
                    current.shape
                ),
            ));
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
        // The affine above is the graph's, on the integer sums of a final global pool (their
        // scale carries the 1/(H·W)). The IR's output affine is on the average
        // (`Network::output_divisor`, which `run` divides it by), so it is stated H·W times.
        let divisor = net.output_divisor() as f64;
        let affine = OutputAffine {
            scale: affine.scale.iter().map(|s| s * divisor).collect(),
            bias: affine.bias,
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

/// A quantizer's scales must be positive and finite.
fn positive_scales(node: &Node, scale: &ArrayD<f64>) -> Result<()> {
    if scale.iter().any(|&s| !(s.is_finite() && s > 0.0)) {
        return Err(node.err("every scale must be a positive finite number"));
    }
    Ok(())
}

/// A weight quantizer's scale broadcast to the weights' shape.
fn broadcast_scale(node: &Node, scale: &ArrayD<f64>, w: &ArrayD<f64>) -> Result<ArrayD<f64>> {
    scale
        .broadcast(w.raw_dim())
        .map(|s| s.to_owned())
        .ok_or_else(|| {
            node.err(format!(
                "the scale's shape {:?} does not broadcast to the tensor's {:?}",
                scale.shape(),
                w.shape()
            ))
        })
}

/// A quantized activation as a layer's or pool's input (the fields of [`Val::Quant`]).
struct QuantIn {
    dims: Vec<usize>,
    dtype: DataType,
    scale: f64,
    offset: f64,
    producer: Option<usize>,
    layout: Layout,
}

/// The quantized output of stage `layer`: flat, or an NCHW image for a conv.
fn activation(
    channels: usize,
    spatial: Option<[usize; 2]>,
    dtype: DataType,
    scale: f64,
    offset: f64,
    layer: usize,
) -> Val {
    let (dims, layout) = match spatial {
        Some([h, w]) => (vec![channels, h, w], Layout::Image),
        None => (vec![channels], Layout::Natural),
    };
    Val::Quant {
        dims,
        dtype,
        scale,
        offset,
        producer: Some(layer),
        layout,
    }
}

/// The quantized graph input (value = scale·q + offset).
fn input_activation(dims: Vec<usize>, dtype: DataType, scale: f64, offset: f64) -> Val {
    Val::Quant {
        layout: input_layout(&dims),
        dims,
        dtype,
        scale,
        offset,
        producer: None,
    }
}

/// The quantized graph input: an image when it is `[C, H, W]` (a conv or pool may take it; a
/// Flatten makes it a flat vector in C order again).
fn input_layout(dims: &[usize]) -> Layout {
    if dims.len() == 3 {
        Layout::Image
    } else {
        Layout::Natural
    }
}

/// Kernel (when given), strides and symmetric pads of a Conv or MaxPool.
struct WindowAttrs {
    kernel: Option<[usize; 2]>,
    stride: [usize; 2],
    padding: [usize; 2],
}

/// Reads `kernel_shape`, `strides`, `pads`, `dilations` and `auto_pad` (2-D windows only).
fn window_attributes(node: &Node) -> Result<WindowAttrs> {
    let pair = |name: &str, v: Option<Vec<i64>>, min: i64| -> Result<Option<[usize; 2]>> {
        match v.as_deref() {
            None => Ok(None),
            Some(&[a, b]) if a >= min && b >= min && a <= 1 << 16 && b <= 1 << 16 => {
                Ok(Some([a as usize, b as usize]))
            }
            Some(other) => Err(node.err(format!(
                "{name} {other:?}: expected two values >= {min} (2-D windows only)"
            ))),
        }
    };
    let kernel = pair("kernel_shape", node.ints("kernel_shape")?, 1)?;
    let stride = pair("strides", node.ints("strides")?, 1)?.unwrap_or([1, 1]);
    if let Some(d) = pair("dilations", node.ints("dilations")?, 1)? {
        if d != [1, 1] {
            return Err(node.err(format!(
                "dilations {d:?} are not supported (bnn-gen's windows are dense)"
            )));
        }
    }
    let auto_pad = node.string("auto_pad", "NOTSET")?;
    if !matches!(auto_pad.as_str(), "NOTSET" | "VALID" | "") {
        return Err(node.err(format!(
            "auto_pad \"{auto_pad}\" is not supported\nhelp: export with explicit pads (PyTorch does)"
        )));
    }
    let padding = match node.ints("pads")?.as_deref() {
        None => [0, 0],
        Some(&[t, l, b, r]) if t == b && l == r && t >= 0 && l >= 0 && t <= 1 << 16 && l <= 1 << 16 => {
            [t as usize, l as usize]
        }
        Some(p) => {
            return Err(node.err(format!(
                "pads {p:?} [top, left, bottom, right]: only the same padding on both sides of each axis is supported"
            )))
        }
    };
    Ok(WindowAttrs {
        kernel,
        stride,
        padding,
    })
}

fn frame_dims(v: &Val) -> Vec<usize> {
    match v {
        Val::Float { dims, .. } | Val::Quant { dims, .. } => dims.clone(),
        Val::Acc {
            channels,
            spatial: Some([h, w]),
            ..
        } => vec![*channels, *h, *w],
        Val::Acc { channels, .. } => vec![*channels],
        Val::Const(a) => a.shape().to_vec(),
        Val::QConst { q, .. } => q.shape().to_vec(),
    }
}

/// `v` with the per-frame dims `new` (the same elements in ONNX's C order). Flattening an image
/// activation keeps the IR's NHWC order and records ONNX's, for the next dense layer.
fn with_dims(v: Val, new: Vec<usize>) -> Result<Val, String> {
    match v {
        Val::Float { steps, .. } => Ok(Val::Float { dims: new, steps }),
        Val::Quant {
            dims,
            dtype,
            scale,
            offset,
            producer,
            layout,
        } => {
            let layout = match (layout, &dims[..], &new[..]) {
                _ if new == dims => layout,
                (Layout::Natural, _, _) => Layout::Natural,
                // The graph input: the input quantizer flattens it in C order.
                (Layout::Image, _, [_]) if producer.is_none() => Layout::Natural,
                (Layout::Image, &[c, h, w], [_]) => Layout::FlatChw { c, h, w },
                (Layout::FlatChw { c, h, w }, _, _) if new == [c, h, w] => Layout::Image,
                _ => {
                    return Err(format!(
                        "reshaping the image activation {dims:?} to {new:?} is not supported (only flattening it)"
                    ))
                }
            };
            Ok(Val::Quant {
                dims: new,
                dtype,
                scale,
                offset,
                producer,
                layout,
            })
        }
        Val::Acc { .. } if frame_dims(&v) != new => Err(format!(
            "reshaping a layer's float output {:?} to {new:?} before its quantizer is not supported\nhelp: quantize first, then flatten",
            frame_dims(&v)
        )),
        other => Ok(other),
    }
}

fn flatten_frame(v: Val) -> Result<Val, String> {
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
        if known == 0 || !total.is_multiple_of(known) {
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
    (1..=max.min(n))
        .rev()
        .find(|d| n.is_multiple_of(*d))
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// float32 versus exact arithmetic (docs/import.md): on the committed Brevitas models and their
    /// 256 test frames, every quantizer's pre-activation, as the real accumulator value a* where
    /// the exact rule `quant(chain(a))` steps, is at least MIN_MARGIN accumulator units away from
    /// every accumulator a frame reaches. The thresholds follow the graph's float32 op sequence
    /// (`chain.rs`); what that sequence cannot model is the graph's own float32 summation order in
    /// MatMul/Conv, whose error is far below this margin (see the docs).
    #[test]
    fn float32_decisions_keep_a_margin_on_committed_models() {
        const MIN_MARGIN: f64 = 1e-4;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/models");
        let x: ndarray::ArrayD<f32> = ndarray_npy::read_npy(root.join("mnist256_x.npy")).unwrap();
        let x = x.mapv(|v| v as f64);
        for name in ["tfc-w1a1", "tfc-w2a2", "cnv-w1a1"] {
            for form in ["raw", "clean"] {
                let path = root.join(name).join(format!("{form}.onnx"));
                let bytes = std::fs::read(&path).unwrap();
                let model = super::super::graph::decode(&bytes, "m.onnx").unwrap();
                let (net, io, decisions) = lower_with_decisions(&model, "m").unwrap();
                let q = io.input.as_ref().unwrap();
                let frames = q.apply(&x, &net.input.shape.dims()).unwrap();
                let (mut worst, mut at) = (f64::INFINITY, String::new());
                for d in &decisions {
                    let margin = decision_margin(&net, d, &frames);
                    if margin.0 < worst {
                        worst = margin.0;
                        at = format!("layer {} channel {}", d.layer, margin.1);
                    }
                }
                eprintln!(
                    "{name} {form}: {} quantizers, minimum distance of a reached accumulator from a decision boundary: {worst:.4} accumulator units ({at})",
                    decisions.len()
                );
                assert!(worst >= MIN_MARGIN, "{name} {form}: margin {worst} at {at}");
            }
        }
    }

    /// The smallest |acc − a*| over the frames' accumulators of `d`'s layer and the boundaries a*
    /// of its rule, and the channel where it occurs.
    fn decision_margin(net: &Network, d: &Decision, frames: &ndarray::ArrayD<i64>) -> (f64, usize) {
        let mut sub = net.clone();
        sub.layers.truncate(d.layer + 1);
        sub.head = None;
        let last = sub.layers.last_mut().unwrap();
        let Op::MatVec(mv) = &mut last.op else {
            panic!("a decision belongs to a dense/conv layer")
        };
        mv.activation = Activation::Identity;
        let in_dtype = last.input.dtype.as_data().unwrap();
        let (lo, hi) = mv.acc_range(in_dtype);
        last.output.dtype = ValueType::Accumulator { lo, hi };
        let golden = crate::golden::GoldenModel::new(&sub).unwrap();
        let acc = golden.run_batch(frames.view()).unwrap();
        let channels = d.negated.len();
        // The real boundaries a* of each channel, by bisection on the f64 rule.
        let bounds: Vec<Vec<f64>> = (0..channels)
            .map(|c| {
                let f = |a: f64| d.quant.apply_f64(c, d.chain.eval_f64(c, a));
                let (a0, a1) = (lo as f64 - 1.0, hi as f64 + 1.0);
                d.levels[1..]
                    .iter()
                    .filter_map(|&level| {
                        let (mut x0, mut x1) = (a0, a1);
                        let rising = f(x1) >= level;
                        if (f(x0) >= level) == rising {
                            return None; // no step to this level in range
                        }
                        for _ in 0..80 {
                            let m = 0.5 * (x0 + x1);
                            if (f(m) >= level) == rising {
                                x1 = m;
                            } else {
                                x0 = m;
                            }
                        }
                        Some(0.5 * (x0 + x1))
                    })
                    .collect()
            })
            .collect();
        let mut worst = (f64::INFINITY, 0);
        for (i, &a) in acc.iter().enumerate() {
            let c = i % channels;
            let a = if d.negated[c] { -a } else { a } as f64;
            for &b in &bounds[c] {
                if (a - b).abs() < worst.0 {
                    worst = ((a - b).abs(), c);
                }
            }
        }
        worst
    }

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
        let chain = Chain {
            dot_scale: vec![0.5, -2.0],
            dot_offset: vec![0.0, 0.0],
            ops: vec![ChainOp::Add(vec![1.0]), ChainOp::Relu],
        };
        assert_eq!((chain.slope(0), chain.slope(1)), (1, -1));
        assert_eq!(chain.eval_f64(0, -4.0), 0.0);
        assert_eq!(chain.eval_f32(1, -4), 9.0);
        assert_eq!(largest_divisor_at_most(784, 32), 28);
        assert_eq!(largest_divisor_at_most(10, 16), 10);
    }
}
